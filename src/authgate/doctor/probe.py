"""``authgate doctor --url``: walk a live setup from outside, hop by hop like a browser, and
name the hop that fails with the causes seed 000's troubleshooting table lists.

    app URL ──302──> <app>/outpost…/start ──302──> portal /flow/authorize ──> login form
      (with --user/--password-stdin:) ──POST──> <app>/outpost…/callback ──302──> app URL ──200
Needs no credentials: without them it stops, satisfied, at the login form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from authgate.doctor.browser import Browser, password_form
from authgate.doctor.findings import Finding, error, info, warning
from authgate.doctor.routes import OUTPOST

if TYPE_CHECKING:
    import httpx

MAX_HOPS = 20
VISITS = {"app": 3, "start": 2, "callback": 2, "portal": 8}  # more than this: going round
REDIRECTS = {301, 302, 303, 307, 308}
NOT_REGISTERED = "No application for"


@dataclass
class Next:
    url: httpx.URL
    method: str = "GET"
    data: dict[str, str] | None = None


@dataclass
class Walk:
    target: httpx.URL
    user: str | None
    password: str | None
    portal: str | None = None  # the portal's origin, learned from the redirect of /start
    logged_in: bool = False  # a callback has set the app cookie
    submitted: bool = False
    current: httpx.URL | None = None  # the URL asked for (by name, also when --resolve applies)
    refused: list[str] = field(default_factory=list)  # cookies a browser would refuse, and why
    visits: dict[str, int] = field(default_factory=dict)


def origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}".lower()


def stage_of(walk: Walk, url: httpx.URL) -> str:
    if url.path.startswith(OUTPOST + "/start"):
        return "start"
    if url.path.startswith(OUTPOST + "/callback"):
        return "callback"
    if walk.portal and origin(url) == walk.portal:
        return "portal"
    return "app"


def _slug(host: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", host.split(".")[0].lower()).strip("-") or "app"


def _add_command(url: httpx.URL) -> str:
    return f"authgate app add {_slug(url.host)} --url {origin(url)}"


def _asked(walk: Walk) -> httpx.URL:
    assert walk.current is not None
    return walk.current


def _location(walk: Walk, response: httpx.Response) -> httpx.URL | None:
    import httpx

    value = response.headers.get("location")
    if response.status_code not in REDIRECTS or not value:
        return None
    try:
        return _asked(walk).join(value)
    except httpx.InvalidURL:
        return None


# -- what each answer means, per stage ------------------------------------------------------------

Verdict = Next | Finding
Judge = Callable[[Walk, "httpx.Response", str], Verdict]


def _server_error(response: httpx.Response, step: str, before_login: bool) -> Finding:
    status = response.status_code
    if status == 500:
        return error(
            "live-auth-unreachable",
            step,
            "500 from the proxy: ingress-nginx and nginx answer 500 when the auth service is "
            "unreachable or answers something other than 2xx/401/403",
            "check the auth-url (forwardAuth address) service name and port, and that authgate "
            f"answers {OUTPOST}/ping from the proxy; the controller's log names the error",
        )
    also = " (or, before any login, the auth service)" if before_login else ""
    return error(
        "live-backend-unreachable",
        step,
        f"{status} from the proxy: the app's backend is unreachable{also}",
        "check that the Service's Endpoints/EndpointSlice exist with the right port name, and "
        "that the backend IP answers from the cluster",
    )


def judge_app(walk: Walk, response: httpx.Response, step: str) -> Verdict:
    status, location = response.status_code, _location(walk, response)
    if location is not None:
        if walk.logged_in and location.path.startswith(OUTPOST + "/start"):
            return error(
                "live-cookie-not-returned",
                step,
                "after a complete login the app sends the browser to log in again: the app "
                "cookie does not come back (its Domain or Secure flag does not fit this URL)",
                "register the app with the URL people open (https:// only when served over "
                "https); for domain mode, a --cookie-domain that covers this host",
            )
        if location.host != _asked(walk).host and stage_of(walk, location) == "app":
            return warning(
                "live-unexpected-redirect",
                step,
                f"the app sends the browser to {_short(location)}, not to its own "
                f"{OUTPOST}/start: this is not authgate's (or authentik's) forward auth",
                "check which auth the route for this host uses",
            )
        return Next(location)
    if status == 200:
        if walk.logged_in:
            return info("live-ok", step, f"signed in as {walk.user} and reached the app (200)")
        return warning(
            "live-not-protected",
            step,
            "the app answered 200 without a login: this URL is not behind forward auth (or a "
            "skip path or bypass rule lets it through)",
            "check that the route for this path carries the forward-auth middleware/annotations",
        )
    if status == 401:
        return error(
            "live-no-login-redirect",
            step,
            "401 without a redirect to the login: ingress-nginx has no auth-signin (plain "
            "nginx: no error_page 401), or the auth URL is auth/nginx behind Traefik or Caddy",
            "set auth-signin to https://HOST/outpost.goauthentik.io/start?rd=$scheme://$http_host"
            "$request_uri, and use the auth endpoint of your proxy",
        )
    if status == 403:
        return error(
            "live-denied",
            step,
            "403: refused — a deny rule of the app, or the signed-in user is not allowed",
            "authgate explain --user USER --url URL shows the rule that decided",
        )
    if status == 404:
        return _not_found(walk, response, step, "the proxy has no route for this host and path")
    if status >= 500:
        return _server_error(response, step, before_login=not walk.logged_in)
    return warning("live-unexpected", step, f"unexpected answer {status}", "")


def _not_found(walk: Walk, response: httpx.Response, step: str, otherwise: str) -> Finding:
    url = _asked(walk)
    if NOT_REGISTERED in response.text:
        return error(
            "live-app-not-registered",
            step,
            f"authgate does not know {url.host}: 'No application for {url.host}' (404)",
            f"{_add_command(url)}   (if it is registered, the proxy sends another host: check "
            "X-Forwarded-Host, for ingress-nginx the auth-proxy-set-headers ConfigMap)",
        )
    return error(
        "live-outpost-not-found",
        step,
        f"'Not Found': {otherwise} — the request did not reach authgate",
        f"route {OUTPOST}/ on this host to authgate without forward auth (seed 000's outpost "
        "Ingress, seed 003's route 2); with authentik, verify the ConfigMap's X-Forwarded-Host",
    )


def judge_start(walk: Walk, response: httpx.Response, step: str) -> Verdict:
    status, location = response.status_code, _location(walk, response)
    if location is not None and location.path.startswith(OUTPOST + "/start"):
        return _loop(step)
    if location is not None:
        if location.path.endswith("/flow/authorize"):
            walk.portal = origin(location)
            if walk.refused:
                return _refused_cookie(walk, step)
        return Next(location)
    if status == 404:
        return _not_found(walk, response, step, f"nothing sends {OUTPOST}/start to authgate")
    if status in (401, 403):
        return error(
            "live-outpost-behind-auth",
            step,
            f"{status} on {OUTPOST}/start: the outpost path passes the forward-auth check, so the "
            "login can never start (a browser goes round in a redirect loop)",
            f"give {OUTPOST}/ its own route without the middleware (`authgate doctor FILE` shows "
            "which route)",
        )
    if status >= 500:
        return error(
            "live-outpost-unreachable",
            step,
            f"{status} on {OUTPOST}/start: the outpost route cannot reach authgate",
            "check the outpost route's Service (ExternalName/endpoints) and port",
        )
    return error(
        "live-outpost-not-authgate",
        step,
        f"{OUTPOST}/start answered {status} instead of sending the browser to the portal: it does "
        "not reach authgate",
        f"route {OUTPOST}/ on this host to authgate",
    )


def _loop(step: str) -> Finding:
    return error(
        "live-redirect-loop",
        step,
        f"{OUTPOST}/start sends the browser to {OUTPOST}/start again: the outpost route is "
        "behind the forward-auth middleware (browsers show 'too many redirects')",
        f"give {OUTPOST}/ its own route without the middleware (`authgate doctor FILE` shows "
        "which route)",
    )


def _refused_cookie(walk: Walk, step: str) -> Finding:
    return error(
        "live-cookie-refused",
        step,
        f"a browser refuses the cookie set here ({'; '.join(walk.refused)}), so the callback "
        "cannot match the sign-in — a login loop",
        "register the app with the URL people open: authgate app add SLUG --url "
        f"{origin(walk.target)} (https:// only when the app is served over https)",
    )


def judge_portal(walk: Walk, response: httpx.Response, step: str) -> Verdict:
    status, location = response.status_code, _location(walk, response)
    if location is not None:
        return Next(location)
    form = (
        password_form(response.text) if "html" in response.headers.get("content-type", "") else None
    )
    if form is not None and not walk.submitted:
        if walk.user is None or walk.password is None:
            return info(
                "live-login-form",
                step,
                "reached the login form: everything up to the login works (give --user and "
                "--password-stdin to go on through it)",
            )
        walk.submitted = True
        fields = {**form.fields, "username": walk.user, "password": walk.password}
        return Next(_asked(walk).join(form.action or ""), "POST", fields)
    if form is not None or status in (401, 429):
        return error(
            "live-login-refused",
            step,
            f"the portal refused the login of {walk.user} ({status})",
            "check the user name and password (authgate user set-password NAME)",
        )
    if status == 403:
        return error(
            "live-denied",
            step,
            f"{walk.user} signed in but may not use this app (the portal shows the deny page)",
            "bind the user or a group of theirs to the app, or see authgate explain --user "
            "USER --url URL",
        )
    return error(
        "live-portal-error",
        step,
        f"the portal answered {status}",
        "check AUTHGATE_PUBLIC_URL and authgate's log",
    )


def judge_callback(walk: Walk, response: httpx.Response, step: str) -> Verdict:
    status, location = response.status_code, _location(walk, response)
    if location is not None and location.path.startswith(OUTPOST + "/start"):
        return _loop(step)
    if location is not None:
        if walk.refused:
            return _refused_cookie(walk, step)
        walk.logged_in = True
        return Next(location)
    if status == 400 and "cookie missing" in response.text:
        return error(
            "live-cookie-not-returned",
            step,
            "the callback did not get the sign-in cookie back from the browser: it was set "
            "with Secure over http, or for another host",
            "register the app with the URL people open (http:// or https:// as served)",
        )
    if status == 404:
        return _not_found(walk, response, step, f"nothing sends {OUTPOST}/callback to authgate")
    return error(
        "live-callback-refused",
        step,
        f"the callback answered {status}: {_page_text(response)}",
        "open the app again; if it repeats, check the clocks and that every authgate instance "
        "uses the same database (or the same AUTHGATE_SECRET_KEY_FILE, if one is set)",
    )


def _page_text(response: httpx.Response) -> str:
    text = re.sub(r"<[^>]+>", " ", response.text)
    return re.sub(r"\s+", " ", text).strip()[:200]


JUDGES: dict[str, Judge] = {
    "app": judge_app,
    "start": judge_start,
    "portal": judge_portal,
    "callback": judge_callback,
}


def run(
    url: str,
    *,
    resolve: dict[str, str] | None = None,
    user: str | None = None,
    password: str | None = None,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> list[Finding]:
    """Every hop as an info finding, then the verdict on the last one."""
    import httpx

    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return [error("live-bad-url", url, f"not a usable URL: {exc}", "give an http(s) URL")]
    if target.scheme not in ("http", "https") or not target.host:
        return [
            error(
                "live-bad-url", url, "not an absolute http(s) URL", "e.g. https://app.example.com/"
            )
        ]
    browser = Browser(resolve or {}, timeout, transport)
    walk = Walk(target, user, password, refused=browser.jar.refused)
    try:
        return _walk(browser, walk)
    finally:
        browser.close()


def _walk(browser: Browser, walk: Walk) -> list[Finding]:
    import httpx

    steps: list[Finding] = []
    hop = Next(walk.target)
    for number in range(1, MAX_HOPS + 1):
        stage = stage_of(walk, hop.url)
        step = f"step {number} ({stage}): {hop.method} {_short(hop.url)}"
        walk.visits[stage] = walk.visits.get(stage, 0) + 1
        if walk.visits[stage] > VISITS[stage]:
            return [*steps, _loop(step)]
        walk.current = hop.url
        try:
            response = browser.request(hop.method, hop.url, hop.data)
        except httpx.HTTPError as exc:
            return [*steps, _unreachable(step, stage, hop.url, exc)]
        where = _short(response.headers.get("location", ""))
        steps.append(
            info("live-step", step, f"{response.status_code}" + (f" -> {where}" if where else ""))
        )
        verdict = JUDGES[stage](walk, response, step)
        if isinstance(verdict, Finding):
            return [*steps, verdict]
        hop = verdict
    return [*steps, _loop(f"after {MAX_HOPS} hops")]


def _short(url: object, limit: int = 120) -> str:
    """A URL for a step line: the sign-in state and codes are long and say nothing to a person."""
    return text if len(text := str(url)) <= limit else text[: limit - 1] + "…"


def _unreachable(step: str, stage: str, url: httpx.URL, exc: Exception) -> Finding:
    portal = "the portal (AUTHGATE_PUBLIC_URL) is not reachable from here"
    what = portal if stage == "portal" else f"cannot reach {url.host}"
    return error(
        "live-unreachable",
        step,
        f"{what}: {type(exc).__name__}: {exc}",
        "check DNS (or --resolve HOST:IP), the port, and that the proxy listens there; for the "
        "portal, AUTHGATE_PUBLIC_URL must be the address browsers use",
    )
