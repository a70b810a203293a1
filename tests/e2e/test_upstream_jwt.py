"""The upstream verifies the ``X-authentik-jwt`` it receives, behind real nginx (seed 000's
shape) and real Traefik (seed 003's), against authgate's ``/.well-known/jwks.json`` with
PyJWT's ``PyJWKClient`` -- what an app that checks the JWT itself does.

After ``authgate keys rotate`` the next token is signed by the new key, and a token signed
before the rotation still verifies against the published JWKS until it expires (the old key
is published at least that long).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from .conftest import browse, build_proxy, login, make_client
from .servers import Authgate, free_port

pytestmark = pytest.mark.e2e

APP = "jwt1.test"
ALICE = ("alice", "correct horse battery staple")
PROPAGATION = 1.5  # every worker obeys a change within a second; slack for a busy machine


class VerifyingUpstream:
    """An app that trusts only a valid JWT: every request is answered with what its
    ``X-authentik-jwt`` proved (``verified``, the claims) or why it did not."""

    def __init__(self, jwks_url: str, audience: str, issuer: str) -> None:
        # An unknown kid refetches the JWKS at once: authgate signs with a new key from the
        # next token after a rotation (PyJWKClient's default waits 30 s between such
        # refetches, and would refuse the new key's tokens until then; README says so).
        self.keys = jwt.PyJWKClient(jwks_url, cache_keys=True, cooldown_duration=0)
        self.audience, self.issuer = audience, issuer
        self.tokens: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(outer.judge(self.headers.get("X-authentik-jwt", ""))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def verify(self, token: str) -> dict[str, Any]:
        key = self.keys.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=["ES256"], audience=self.audience, issuer=self.issuer
        )
        return claims

    def judge(self, token: str) -> dict[str, Any]:
        if not token:
            return {"verified": False, "error": "no token"}
        self.tokens.append(token)
        try:
            return {"verified": True, "claims": self.verify(token)}
        except jwt.PyJWTError as exc:
            return {"verified": False, "error": f"{type(exc).__name__}: {exc}"}


@pytest.fixture
def upstream(authgate: Authgate) -> Iterator[VerifyingUpstream]:
    app = VerifyingUpstream(
        f"{authgate.url}/.well-known/jwks.json", audience="jwt1", issuer=authgate.public_url
    )
    thread = threading.Thread(target=app.server.serve_forever, daemon=True)
    thread.start()
    yield app
    app.server.shutdown()
    app.server.server_close()
    thread.join()


def published_kids(authgate: Authgate) -> list[str]:
    with httpx.Client(trust_env=False, timeout=10) as client:
        answer = client.get(f"{authgate.url}/.well-known/jwks.json")
    return [key["kid"] for key in answer.json()["keys"]]


@pytest.mark.parametrize("kind", ["nginx", "traefik"])
def test_the_upstream_verifies_its_jwt_also_across_a_key_rotation(
    kind: str, tmp_path: Path, authgate: Authgate, upstream: VerifyingUpstream
) -> None:
    port = free_port()
    authgate.cli("user", "add", ALICE[0], "--password-stdin", input=ALICE[1])
    authgate.cli("app", "add", "jwt1", "--url", f"http://{APP}:{port}")
    proxy = build_proxy(kind, tmp_path / kind, port, authgate.port, [(APP, upstream.port)])
    with proxy, make_client() as browser:
        authgate.wait_for_app(f"{APP}:{port}")
        url = f"http://{APP}:{port}/page"
        allowed = {f"{APP}:{port}", f"auth.test:{authgate.port}"}
        first = browse(browser, url, allowed=allowed)
        seen = login(browser, first.final, *ALICE, allowed=allowed).final.json()
        assert seen["verified"], seen
        claims = seen["claims"]
        assert (claims["preferred_username"], claims["aud"]) == ("alice", "jwt1")
        assert claims["amr"] == ["pwd"]  # signed in with a password (RFC 8176)
        before = upstream.tokens[-1]
        old_kid = jwt.get_unverified_header(before)["kid"]

        rotated = json.loads(authgate.cli("keys", "rotate", "--json").stdout)
        new_kid = next(r["kid"] for r in rotated if r["kind"] == "jwt" and r["state"] == "signing")
        deadline = time.monotonic() + PROPAGATION
        while published_kids(authgate) != [new_kid, old_kid] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert published_kids(authgate) == [new_kid, old_kid]

        again = browse(browser, url, allowed=allowed).final.json()  # the same session
        assert again["verified"], again
        assert jwt.get_unverified_header(upstream.tokens[-1])["kid"] == new_kid
        # the token made before the rotation: still verified by the app, from the JWKS
        assert upstream.verify(before)["preferred_username"] == "alice"
        listed = json.loads(authgate.cli("keys", "list", "--json").stdout)
        old = next(r for r in listed if r["kind"] == "jwt" and r["kid"] == old_kid)
        until = datetime.fromisoformat(old["verify_until"]).timestamp()
        assert until >= jwt.decode(before, options={"verify_signature": False})["exp"]
