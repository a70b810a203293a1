"""The configs ``authgate manifests`` writes for nginx, Traefik (file provider) and Caddy,
proven by the real proxies: the file passes the proxy's own check, the proxy loads it and
routes, and a person logs in through it and reaches the app with their identity.

A deployment registers one app in a fresh authgate, generates the config with the CLI (the
app comes from the store), adds only the test's readiness probe, and starts the proxy.
An app registered with ``--strip-cookie`` gets a config that replaces the upstream's
``Cookie`` with the one in authgate's answer (the browser's cookies without authgate's).
The tests that log in only read (each with a fresh client), so they share one deployment
per proxy and per app flavour for this module (``plain``, ``stripping``).
"""

from __future__ import annotations

import contextlib
import io
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from ruamel.yaml import YAML

from .conftest import OUTPOST, browse, login, login_form, make_client, origin
from .proxyconf import PROBE_HOST
from .servers import Authgate, Caddy, Echo, Nginx, Process, Traefik, free_port

pytestmark = pytest.mark.e2e

HOST = "gen.test"
ALICE = ("alice", "correct horse battery staple")
KINDS = ["nginx", "traefik-file", "caddy"]


def generate(authgate: Authgate, target: str, port: int, echo: Echo) -> str:
    args = ["--backend", f"127.0.0.1:{echo.port}", "--auth-service", authgate.url]
    if target in ("nginx", "caddy"):
        args += ["--listen", f"127.0.0.1:{port}"]
    return authgate.cli("manifests", "gen", "--target", target, *args).stdout


def nginx_probe(port: int, echo: Echo) -> str:
    return f"""
server {{
    listen 127.0.0.1:{port};
    server_name {PROBE_HOST};
    location / {{ proxy_pass http://127.0.0.1:{echo.port}; }}
}}
"""


def traefik_with_probe(generated: str, echo: Echo) -> str:
    yaml = YAML(typ="safe")
    data = yaml.load(generated)
    data["http"]["routers"]["probe"] = {"rule": f"Host(`{PROBE_HOST}`)", "service": "probe"}
    data["http"]["services"]["probe"] = {
        "loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{echo.port}"}]}
    }
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def caddyfile(generated: str, port: int, echo: Echo) -> str:
    return f"""{{
	admin off
	auto_https off
	persist_config off
}}

http://{PROBE_HOST}:{port} {{
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:{echo.port}
}}

{generated}"""


def proxy_for(kind: str, generated: str, workdir: Path, port: int, echo: Echo) -> Process:
    if kind == "nginx":
        return Nginx(generated + nginx_probe(port, echo), workdir, port)
    if kind == "traefik-file":
        return Traefik(traefik_with_probe(generated, echo), workdir, port)
    return Caddy(caddyfile(generated, port, echo), workdir, port)


@contextlib.contextmanager
def deployment(
    kind: str, tmp_path: Path, echo: Echo, authgate: Authgate, *app_flags: str
) -> Iterator[int]:
    """authgate with user alice and app ``gen`` (``app add`` flags ``app_flags``) behind
    proxy ``kind``; yields the port."""
    port = free_port()
    authgate.cli("group", "add", "staff")
    authgate.cli(
        "user",
        "add",
        ALICE[0],
        "--email",
        "alice@example.test",
        "--name",
        "Alice",
        "--group",
        "staff",
        "--password-stdin",
        input=ALICE[1],
    )
    url = f"http://{HOST}:{port}"
    authgate.cli("app", "add", "gen", "--url", url, "--group", "staff", *app_flags)
    generated = generate(authgate, kind, port, echo)
    with proxy_for(kind, generated, tmp_path / kind, port, echo):
        authgate.wait_for_app(f"{HOST}:{port}")
        yield port


@dataclass
class Generated:
    """A running deployment from a generated config: the proxy's port and its authgate."""

    port: int
    authgate: Authgate


def shared(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    echo: Echo,
    *app_flags: str,
) -> Iterator[Generated]:
    kind: str = request.param
    workdir = tmp_path_factory.mktemp(f"generated-{kind}")
    with (
        Authgate(workdir / "authgate") as authgate,
        deployment(kind, workdir, echo, authgate, *app_flags) as port,
    ):
        yield Generated(port, authgate)


@pytest.fixture(scope="module", params=KINDS)
def plain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, echo: Echo
) -> Iterator[Generated]:
    """App ``gen`` as ``app add`` makes it, behind each proxy in turn, for this module."""
    yield from shared(request, tmp_path_factory, echo)


@pytest.fixture(scope="module", params=KINDS)
def stripping(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, echo: Echo
) -> Iterator[Generated]:
    """App ``gen`` with ``--strip-cookie``, behind each proxy in turn, for this module."""
    yield from shared(request, tmp_path_factory, echo, "--strip-cookie")


def test_nginx_t_accepts_the_generated_block(
    tmp_path: Path, echo: Echo, authgate: Authgate
) -> None:
    port = free_port()
    authgate.cli("app", "add", "gen", "--url", f"http://{HOST}:{port}")
    generated = generate(authgate, "nginx", port, echo)
    result = Nginx(generated + nginx_probe(port, echo), tmp_path, port).test_config()
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


def test_caddy_validate_accepts_the_generated_site(
    tmp_path: Path, echo: Echo, authgate: Authgate
) -> None:
    port = free_port()
    authgate.cli("app", "add", "gen", "--url", f"http://{HOST}:{port}")
    generated = generate(authgate, "caddy", port, echo)
    assert Caddy(caddyfile(generated, port, echo), tmp_path, port).validate().returncode == 0


def test_login_through_the_generated_config(plain: Generated) -> None:
    port, authgate = plain.port, plain.authgate
    with make_client() as client:
        url = f"http://{HOST}:{port}/x?a=1&b=%26"
        allowed = {f"{HOST}:{port}", f"auth.test:{authgate.port}"}
        first = browse(client, url, allowed=allowed)
        assert login_form(first.final) is not None, first.describe()
        assert origin(first.final.request.url) == f"auth.test:{authgate.port}", first.describe()

        after = login(client, first.final, *ALICE, allowed=allowed)

        assert after.left_for is None, after.describe()
        assert str(after.final.request.url) == url, after.describe()
        seen = after.final.json()
        assert (seen["path"], seen["query"]) == ("/x", "a=1&b=%26")
        headers = seen["headers"]
        for name in ("x-authentik-username", "remote-user", "x-auth-request-user"):
            assert headers[name] == "alice", name
        assert headers["x-authentik-groups"] == "staff"
        assert headers["x-authentik-email"] == "alice@example.test"
        assert headers["x-authentik-meta-app"] == "gen"

        again = client.get(f"http://{HOST}:{port}/y")
        assert again.status_code == 200 and again.json()["headers"]["remote-user"] == "alice"


def test_a_forged_identity_header_never_reaches_the_app(plain: Generated) -> None:
    port = plain.port
    with make_client() as client:
        response = client.get(f"http://{HOST}:{port}/", headers={"X-authentik-username": "admin"})
        assert response.status_code != 200 or '"path"' not in response.text, response.text
        anonymous = httpx.get(
            f"http://{HOST}:{port}/", headers={"Remote-User": "admin"}, trust_env=False
        )
        assert '"remote-user": "admin"' not in anonymous.text


def sign_in(client: httpx.Client, port: int, authgate: Authgate) -> None:
    allowed = {f"{HOST}:{port}", f"auth.test:{authgate.port}"}
    first = browse(client, f"http://{HOST}:{port}/", allowed=allowed)
    after = login(client, first.final, *ALICE, allowed=allowed)
    assert after.left_for is None and after.final.status_code == 200, after.describe()


def cookie_names(header: str) -> list[str]:
    return [part.strip().partition("=")[0] for part in header.split(";") if part.strip()]


def test_strip_cookie_app_gets_its_cookies_but_never_authgates(stripping: Generated) -> None:
    port = stripping.port
    with make_client() as client:
        sign_in(client, port, stripping.authgate)
        own = [c.name for c in client.cookies.jar if c.domain == HOST]
        assert own and all(n.removeprefix("__Host-").startswith("authgate_") for n in own)
        client.cookies.set("theme", "dark", domain=HOST)

        response = client.get(f"http://{HOST}:{port}/y")

        assert response.status_code == 200, response.text
        seen = response.json()["headers"]
        assert seen["x-authentik-username"] == "alice"  # allowed: authgate read its cookie
        assert seen["remote-user"] == "alice" and seen["x-authentik-groups"] == "staff"
        assert seen.get("cookie") == "theme=dark", seen

        # only authgate's cookie left: the upstream gets no Cookie (or an empty one), never
        # the browser's
        client.cookies.delete("theme", domain=HOST)
        alone = client.get(f"http://{HOST}:{port}/z")
        assert alone.status_code == 200, alone.text
        assert alone.json()["headers"].get("cookie", "") == "", alone.text
        assert alone.json()["headers"]["x-authentik-username"] == "alice"


def test_strip_cookie_cannot_be_dodged_by_the_client(stripping: Generated) -> None:
    """A cookie that only looks like authgate's is dropped too; a made-up Cookie of the
    client's own is replaced by authgate's answer; a second Cookie header is no way round."""
    port = stripping.port
    with make_client() as client:
        sign_in(client, port, stripping.authgate)
        session = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar if c.domain == HOST)
        url = f"http://{HOST}:{port}/w"
        for header in (
            f"{session}; authgate_other=x; __Host-authgate_gen=y; lang=fi",
            f"lang=fi; {session}",
        ):
            seen = httpx.get(url, headers={"Cookie": header}, trust_env=False)
            assert seen.status_code == 200, seen.text
            assert seen.json()["headers"].get("cookie") == "lang=fi", (header, seen.text)
        # two Cookie headers: refused or stripped, never authgate's cookie upstream
        twice = httpx.get(
            url, headers=[("Cookie", session), ("Cookie", "lang=fi")], trust_env=False
        )
        if twice.status_code == 200:
            assert "authgate_" not in twice.json()["headers"].get("cookie", ""), twice.text


def test_without_strip_cookie_the_app_gets_every_cookie_as_before(plain: Generated) -> None:
    with make_client() as client:
        port = plain.port
        sign_in(client, port, plain.authgate)
        client.cookies.set("theme", "dark", domain=HOST)
        seen = client.get(f"http://{HOST}:{port}/y").json()["headers"]
        assert set(cookie_names(seen["cookie"])) == {"authgate_gen", "theme"}, seen


#: header lines with a control byte a client can send (nginx refuses only NUL, CR and LF)
CONTROL_BYTES = [b"\x01", b"\x1b", b"\x7f"]
HOSTILE_HEADERS = [b"Authorization: Bearer a%sb", b"Cookie: a=b%sc", b"X-Random: a%sb"]
HOSTILE_HEADERS += [b"User-Agent: curl%s", b"Host: " + HOST.encode() + b"%s"]


def raw_get(port: int, *lines: bytes, path: bytes = b"/") -> tuple[int, bytes]:
    """GET ``path`` with the header ``lines`` byte for byte (an HTTP client would refuse
    them)."""
    head = [b"GET " + path + b" HTTP/1.1", *lines, b"Accept: text/html", b"Connection: close"]
    if not any(line.lower().startswith(b"host:") for line in lines):
        head.insert(1, b"Host: " + f"{HOST}:{port}".encode())
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def test_a_control_byte_in_a_header_is_a_400_never_a_500(plain: Generated) -> None:
    """nginx forwards such a header into the check; authgate's server refuses it before
    authgate runs, and the generated config tells the client 400 (not auth_request's 500).
    Traefik and Caddy refuse the request themselves."""
    problems = []
    for line in HOSTILE_HEADERS:
        for byte in CONTROL_BYTES:
            status, body = raw_get(plain.port, line % byte)
            if status != 400 or b'"path"' in body:
                problems.append(f"{line % byte!r}: {status} {body[:200]!r}")
    start = f"{OUTPOST}/start?rd=http://{HOST}:{plain.port}/".encode()
    status, body = raw_get(plain.port, b"Cookie: a=\x01", path=start)  # straight to authgate
    if status != 400:
        problems.append(f"start with a control byte: {status} {body[:200]!r}")
    assert not problems, "\n".join(problems)


def test_obs_text_in_a_header_still_reaches_the_app(plain: Generated) -> None:
    with make_client() as client:
        sign_in(client, plain.port, plain.authgate)
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar if c.domain == HOST)
    status, body = raw_get(plain.port, b"Cookie: " + cookie.encode(), b"X-Note: caf\xe9 \xff")
    assert status == 200 and b'"path"' in body, (status, body[:300])


def test_a_control_byte_is_a_400_with_uvicorn_too(tmp_path: Path, echo: Echo) -> None:
    """uvicorn (``AUTHGATE_SERVER=uvicorn``) refuses the header with 400 as granian does; the
    generated nginx config answers the client 400 for it as well."""
    with (
        Authgate(tmp_path / "authgate", {"AUTHGATE_SERVER": "uvicorn"}) as authgate,
        deployment("nginx", tmp_path, echo, authgate) as port,
    ):
        for byte in CONTROL_BYTES:
            status, body = raw_get(port, b"Authorization: Bearer a%sb" % byte)
            assert status == 400 and b"control byte" in body, (byte, status, body[:200])
        status, _ = raw_get(port, b"X-Note: caf\xe9")
        assert status == 302  # judged: not signed in, to the login
