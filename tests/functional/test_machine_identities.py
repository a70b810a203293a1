"""External issuers wired into a running server: the verifier maps a CI token to a real
authgate user (with its groups), forgets that when the user changes, and the server's
background task loads the issuer's JWKS (here from a file)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from authgate.config import load_settings
from authgate.forward.credentials import Bearer, Refused, Verified
from authgate.web.runtime import Runtime
from tests.functional.conftest import PUBLIC

ISS = "https://gitlab.example.com"


async def test_a_ci_token_is_the_service_account_until_it_is_disabled(
    tmp_path: Path, template_db: tuple[Path, str]
) -> None:
    shutil.copy(template_db[0], tmp_path / "authgate.db")
    key = ec.generate_private_key(ec.SECP256R1())
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**public, "kid": "k1"}]}))
    issuers = [
        {
            "issuer": ISS,
            "jwks_file": str(tmp_path / "jwks.json"),
            "audience": PUBLIC,
            "rules": [{"user": "ci-deploy", "claims": {"project_path": "ops/*"}}],
        }
    ]
    settings = load_settings(
        {
            "AUTHGATE_DATA_DIR": str(tmp_path),
            "AUTHGATE_PUBLIC_URL": PUBLIC,
            "AUTHGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'authgate.db'}",
            "AUTHGATE_ISSUERS": json.dumps(issuers),
        }
    )
    runtime = Runtime(settings)
    try:
        await runtime.store.add_user("ci-deploy", groups=["deployers"])
        await runtime.store.add_app("app1", url="http://app1.test", groups=["deployers"])
        await runtime.reload()
        keys = asyncio.create_task(runtime.issuer_keys.run())  # what the lifespan starts
        for _ in range(50):
            if runtime.issuer_keys.by_issuer[ISS].kids:
                break
            await asyncio.sleep(0.02)
        now = int(time.time())
        claims = {
            "iss": ISS,
            "aud": PUBLIC,
            "sub": "project_path:ops/site",
            "iat": now,
            "exp": now + 600,
            "project_path": "ops/site",
        }
        token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})
        app = runtime.index.lookup("app1.test")
        assert app is not None
        answer = await runtime.issuers.verify(Bearer(token), app, "10.0.0.5")
        assert isinstance(answer, Verified)
        assert answer.identity.username == "ci-deploy"
        assert answer.identity.groups == ("deployers",)
        await runtime.store.set_disabled("ci-deploy", True)
        await runtime.reload()  # what the change feed triggers on every worker
        refused = await runtime.issuers.verify(Bearer(token), app, "10.0.0.5")
        assert refused == Refused("service account unavailable")
        keys.cancel()
    finally:
        await runtime.close()
