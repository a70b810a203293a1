"""A real ``authgate serve`` with ``AUTHGATE_ISSUERS`` set loads each issuer's JWKS in the
background on every worker, and a bad issuer setting stops the start with one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from .servers import Authgate

pytestmark = pytest.mark.e2e

ISS = "https://ci.example.test"


def issuers(jwks_file: Path, **overrides: object) -> str:
    issuer = {
        "issuer": ISS,
        "jwks_file": str(jwks_file),
        "audience": "https://auth.example.test",
        "rules": [{"user": "ci", "claims": {"sub": "repo:org/*"}}],
        **overrides,
    }
    return json.dumps([issuer])


def test_every_worker_loads_the_issuers_keys(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**public, "kid": "ci-1"}]}))
    env = {"AUTHGATE_ISSUERS": issuers(tmp_path / "jwks.json"), "AUTHGATE_WORKERS": "2"}
    with Authgate(tmp_path / "authgate", extra_env=env) as server:
        line = f"issuer {ISS}: signing keys ci-1"
        assert server.wait_for_log(line, timeout=15)
        deadline = time.monotonic() + 15
        while server.log.read_text().count(line) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # both workers, each on its own
        assert server.log.read_text().count(line) == 2
        assert "Traceback" not in server.log.read_text()


def test_a_bad_issuer_stops_the_start_with_one_line(tmp_path: Path) -> None:
    server = Authgate(tmp_path / "authgate")
    env = {**server.env(), "AUTHGATE_ISSUERS": issuers(tmp_path / "j", algorithms=["HS256"])}
    done = subprocess.run(
        [sys.executable, "-m", "authgate", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "issuers[0].algorithms: HS256 not allowed" in done.stderr
    assert "Traceback" not in done.stderr
