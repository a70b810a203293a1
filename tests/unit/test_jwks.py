"""External issuers' JWKS fetched over real HTTP (a small local server) or read from a file,
and the ``issuers`` setting: every problem reported at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from authgate.accounts.jwks import IssuerKeys, JwksKeys, fetch_jwks
from authgate.config import load_settings
from authgate.config.issuers import parse_issuers
from authgate.errors import ConfigError


class JwksServer:
    """Serves ``document`` at /jwks (status ``status``), counting requests."""

    def __init__(self) -> None:
        self.document: Any = {"keys": []}
        self.status = 200
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                body = json.dumps(outer.document).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    served = JwksServer()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()
    thread.join()


def public_jwk(kid: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**public, "kid": kid, "alg": "ES256", "use": "sig"}


def issuer(**source: str) -> Any:
    return parse_issuers(
        [
            {
                "issuer": "https://ci.example.com",
                "audience": "authgate",
                "rules": [{"user": "ci", "claims": {"sub": "*"}}],
                **source,
            }
        ]
    )[0]


async def test_keys_come_from_a_real_http_server_and_follow_its_rotation(
    jwks_server: JwksServer,
) -> None:
    first, second = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    jwks_server.document = {"keys": [public_jwk("one", first)]}
    keys = IssuerKeys(issuer(jwks_url=jwks_server.url), min_interval=0)
    assert keys.find("one") is None  # nothing before the first fetch
    assert await keys.refresh() is True
    assert keys.kids == ["one"] and jwks_server.requests == 1
    jwks_server.document = {"keys": [public_jwk("two", second)]}
    assert await keys.refresh() is True
    assert keys.find("two") is not None and keys.find("one") is None
    jwks_server.status = 500  # the issuer is down: what we hold stays
    assert await keys.refresh() is False
    assert keys.find("two") is not None and keys.error.endswith("HTTP 500")


async def test_a_background_fetch_does_not_delay_the_fetch_a_new_kid_asks_for(
    jwks_server: JwksServer,
) -> None:
    first, second = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    jwks_server.document = {"keys": [public_jwk("one", first)]}
    keys = IssuerKeys(issuer(jwks_url=jwks_server.url), min_interval=30)
    await keys.refresh(force=True)  # the background's fetch
    jwks_server.document = {"keys": [public_jwk("one", first), public_jwk("two", second)]}
    assert await keys.refresh() is True  # a check met kid "two" right after it
    assert keys.find("two") is not None
    assert await keys.refresh() is False and jwks_server.requests == 2  # then: rate-limited


async def test_secret_and_foreign_keys_in_a_jwks_are_ignored(jwks_server: JwksServer) -> None:
    good = ec.generate_private_key(ec.SECP256R1())
    jwks_server.document = {
        "keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
            {**public_jwk("enc", good), "use": "enc"},
            {**public_jwk("p384?", good), "alg": "ES384"},  # not an allowed algorithm
            "junk",
            public_jwk("good", good),
        ]
    }
    keys = IssuerKeys(issuer(jwks_url=jwks_server.url))
    await keys.refresh()
    assert keys.kids == ["good"]


async def test_fetch_refuses_what_is_not_a_jwks(jwks_server: JwksServer) -> None:
    from authgate.accounts.jwks import JwksUnavailable

    jwks_server.document = ["not", "a", "jwks"]
    with pytest.raises(JwksUnavailable, match="not a JWKS"):
        await fetch_jwks(issuer(jwks_url=jwks_server.url))
    with pytest.raises(JwksUnavailable):
        await fetch_jwks(issuer(jwks_url="http://127.0.0.1:9/jwks"))  # nobody listens
    jwks_server.document = {"keys": [{"kty": "EC", "pad": "x" * 600_000}]}
    with pytest.raises(JwksUnavailable, match="larger than"):
        await fetch_jwks(issuer(jwks_url=jwks_server.url))
    jwks_server.document, jwks_server.status = {"keys": []}, 302
    with pytest.raises(JwksUnavailable, match="HTTP 302"):  # redirects are not followed
        await fetch_jwks(issuer(jwks_url=jwks_server.url))


async def test_a_jwks_file_is_read_and_a_background_run_loads_every_issuer(
    tmp_path: Path,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk("f", key)]}))
    every = JwksKeys([issuer(jwks_file=str(path))])
    changed: list[bool] = []
    every.on_change = lambda: changed.append(True)
    await every.refresh_all(force=True)
    assert every.by_issuer["https://ci.example.com"].kids == ["f"] and changed == [True]


def test_issuers_come_from_the_config_file_and_the_environment(tmp_path: Path) -> None:
    text = (
        "issuers:\n"
        "  - issuer: https://token.actions.githubusercontent.com\n"
        "    jwks_url: https://token.actions.githubusercontent.com/.well-known/jwks\n"
        "    audience: https://auth.example.com\n"
        "    leeway: 1m\n"
        "    rules:\n"
        "      - user: ci-deploy\n"
        "        claims: {repository: org/app, ref: refs/heads/main}\n"
    )
    (tmp_path / "authgate.yaml").write_text(text)
    settings = load_settings({}, tmp_path / "authgate.yaml")
    (github,) = settings.issuers
    assert github.leeway == 60 and github.algorithms == ("RS256", "ES256")
    assert github.user_for({"repository": "org/app", "ref": "refs/heads/main"}) == "ci-deploy"
    assert github.user_for({"repository": "org/app", "ref": "refs/heads/dev"}) is None
    env = json.dumps(
        [
            {
                "issuer": "https://gitlab.example.com",
                "jwks_file": "/k.json",
                "audience": "authgate",
                "rules": [{"user": "gl", "claims": {"x": 1}}],
            }
        ]
    )
    assert load_settings({"AUTHGATE_ISSUERS": env}).issuers[0].jwks_file == Path("/k.json")


def test_every_problem_of_every_issuer_is_reported_at_once() -> None:
    bad = [
        {"issuer": "", "jwks_url": "ftp://x", "rules": [], "algorithms": ["HS256"]},
        {
            "issuer": "https://a",
            "jwks_url": "https://a/j",
            "jwks_file": "/j",
            "audience": "x",
            "rules": [{"user": "u", "claims": {}}],
            "colour": "blue",
        },
        {
            "issuer": "https://b",
            "jwks_url": "http://keys.example.com/j",
            "audience": "x",
            "rules": [{"user": "u", "claims": {"sub": "*", "ref": None}}],
        },
    ]
    with pytest.raises(ConfigError) as caught:
        load_settings({"AUTHGATE_ISSUERS": json.dumps(bad)})
    text = str(caught.value)
    for needle in (
        "issuers[0].issuer: required",
        "issuers[0].audience: required",
        "issuers[0].jwks_url: expected an https:// URL",
        "issuers[2].jwks_url: expected an https:// URL (http:// only on this machine",
        "issuers[2].rules[0].claims: ref: expected a value or a glob",
        "issuers[0].algorithms: HS256 not allowed",
        "issuers[0].rules: required",
        "issuers[1]: set exactly one of jwks_url and jwks_file",
        "issuers[1].colour: unknown setting",
        "issuers[1].rules[0].claims: required",
    ):
        assert needle in text
