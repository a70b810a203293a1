"""The configs generated for an app with ``jwt_bearer``, proven by the real proxies: the app
receives the ``Authorization`` of authgate's answer (``Bearer <X-authentik-jwt>``) and never
the client's own, also when the answer carries none.

The check is answered by a stub standing in for authgate's answer (what authgate sends for
such an app is unit-tested in tests/unit/test_jwt_bearer.py): this test is about what each
proxy does with it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from authgate.deploy import spec as s
from authgate.deploy.targets import TARGETS
from authgate.forward.headers import IDENTITY_HEADERS

from .servers import Echo, free_port
from .test_generated_configs import proxy_for

pytestmark = pytest.mark.e2e

HOST = "bearer.test"
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


class StubAuth:
    """Answers every check 200 with the identity headers and, while ``bearer`` is set,
    ``Authorization: Bearer <JWT>`` (an allow for a jwt_bearer app; without: a bypass)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.bearer = True
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                for name in IDENTITY_HEADERS:
                    self.send_header(name, "alice" if name.endswith("username") else "")
                if outer.bearer:
                    self.send_header("Authorization", f"Bearer {JWT}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]


@pytest.fixture(scope="module")
def stub() -> Iterator[StubAuth]:
    auth = StubAuth()
    thread = threading.Thread(target=auth.server.serve_forever, daemon=True)
    thread.start()
    yield auth
    auth.server.shutdown()
    auth.server.server_close()
    thread.join()


def generated(kind: str, port: int, auth_port: int, echo: Echo) -> str:
    spec = s.Spec(
        app=s.parse_app("bearer", f"http://{HOST}:{port}"),
        auth=s.parse_auth_service(f"http://127.0.0.1:{auth_port}"),
        backend=s.parse_backend(f"127.0.0.1:{echo.port}", ip_only=False),
        listen=s.parse_listen(f"127.0.0.1:{port}") if kind in ("nginx", "caddy") else None,
        jwt_bearer=True,
    )
    return TARGETS[kind].render(spec)


@pytest.mark.parametrize("kind", ["nginx", "traefik-file", "caddy"])
def test_the_app_gets_the_answers_authorization_never_the_clients(
    kind: str, tmp_path: Path, echo: Echo, stub: StubAuth
) -> None:
    port = free_port()
    config = generated(kind, port, stub.port, echo)
    with (
        proxy_for(kind, config, tmp_path / kind, port, echo),
        httpx.Client(trust_env=False, timeout=10) as client,
    ):
        url = f"http://127.0.0.1:{port}/api"
        own = {"Host": f"{HOST}:{port}", "Authorization": "Basic YWxpY2U6c2VjcmV0"}
        stub.bearer = True
        seen = client.get(url, headers=own).json()["headers"]
        assert seen["authorization"] == f"Bearer {JWT}"
        assert seen["x-authentik-username"] == "alice"
        stub.bearer = False  # an answer without Authorization: the client's is still dropped
        try:
            seen = client.get(url, headers=own).json()["headers"]
        finally:
            stub.bearer = True
        assert "authorization" not in seen, seen
