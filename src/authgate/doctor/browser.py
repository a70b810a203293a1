"""A browser, as far as the live probe needs one: cookies kept per host the way browsers keep
them (and refused the way browsers refuse them), nothing followed by itself, ``--resolve``.

httpx's own cookie jar accepts a ``Secure`` cookie over plain http and never says why it
drops one; here every refusal is recorded, because a refused cookie is a login loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@dataclass
class Cookie:
    name: str
    value: str
    domain: str
    host_only: bool
    secure: bool
    path: str
    expires: float | None


class Jar:
    """Cookies per host, with the refusals a browser makes (and why)."""

    def __init__(self) -> None:
        self.cookies: dict[tuple[str, str, str], Cookie] = {}
        self.refused: list[str] = []

    def store(self, scheme: str, host: str, header: str) -> None:
        name, _, value = header.split(";", 1)[0].strip().partition("=")
        attrs = _attributes(header)
        secure = "secure" in attrs
        domain = attrs.get("domain", "").lstrip(".").lower()
        if secure and scheme != "https":
            self.refused.append(f"{name} is Secure but came over http: the browser drops it")
            return
        if domain and host != domain and not host.endswith("." + domain):
            self.refused.append(f"{name} has Domain={domain}, which does not cover {host}")
            return
        if name.startswith("__Host-") and (not secure or domain or attrs.get("path") != "/"):
            self.refused.append(
                f"{name} breaks the __Host- prefix rules (Secure, Path=/, no Domain)"
            )
            return
        expires = _expiry(attrs)
        key = (domain or host, attrs.get("path", "/"), name)
        if expires is not None and expires <= time.time():
            self.cookies.pop(key, None)
            return
        self.cookies[key] = Cookie(
            name, value, domain or host, not domain, secure, attrs.get("path", "/"), expires
        )

    def header(self, scheme: str, host: str, path: str) -> str:
        now = time.time()
        sent = [
            f"{c.name}={c.value}"
            for c in self.cookies.values()
            if (host == c.domain or (not c.host_only and host.endswith("." + c.domain)))
            and (scheme == "https" or not c.secure)
            and path.startswith(c.path)
            and (c.expires is None or c.expires > now)
        ]
        return "; ".join(sent)

    def has_cookie_for(self, host: str) -> bool:
        return any(host == c.domain or host.endswith("." + c.domain) for c in self.cookies.values())


def _attributes(header: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        attrs[key.lower()] = value.strip()
    return attrs


def _expiry(attrs: dict[str, str]) -> float | None:
    if "max-age" in attrs:
        try:
            return time.time() + int(attrs["max-age"])
        except ValueError:
            return None
    if "expires" in attrs:
        from email.utils import parsedate_to_datetime

        try:
            return parsedate_to_datetime(attrs["expires"]).timestamp()
        except (TypeError, ValueError):
            return None
    return None


class Browser:
    """One tab: ``request`` sends the jar's cookies, stores the answer's, follows nothing."""

    def __init__(
        self, resolve: dict[str, str], timeout: float, transport: httpx.BaseTransport | None = None
    ) -> None:
        import httpx

        self.resolve = {k.lower(): v for k, v in resolve.items()}
        self.jar = Jar()
        self.client = httpx.Client(
            transport=transport, follow_redirects=False, trust_env=False, timeout=timeout
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self, method: str, url: httpx.URL, data: dict[str, str] | None = None
    ) -> httpx.Response:
        headers = {
            "Accept": BROWSER_ACCEPT,
            "Sec-Fetch-Mode": "navigate",
            "User-Agent": "authgate-doctor (like a browser)",
        }
        cookie = self.jar.header(url.scheme, url.host, url.path)
        if cookie:
            headers["Cookie"] = cookie
        target, extensions = url, {}
        ip = self.resolve.get(url.host.lower())
        if ip is not None:
            headers["Host"] = url.netloc.decode("ascii")
            target = url.copy_with(host=ip)
            if url.scheme == "https":
                extensions["sni_hostname"] = url.host
        response = self.client.request(
            method, target, headers=headers, data=data, extensions=extensions
        )
        for line in response.headers.get_list("set-cookie"):
            self.jar.store(url.scheme, url.host.lower(), line)
        return response


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str]
    names: set[str]


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").upper(), {}, set())
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "button") and a.get("name"):
            kind = a.get("type", "submit" if tag == "button" else "text").lower()
            self._form.names.add(a["name"])
            if kind in ("submit", "checkbox", "radio", "file", "image"):
                return
            self._form.fields.setdefault(a["name"], a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def password_form(html: str) -> Form | None:
    reader = _FormReader()
    reader.feed(html)
    return next((f for f in reader.forms if "password" in f.names), None)
