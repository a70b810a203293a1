"""An app registered with ``--jwt-bearer``, end to end through each real proxy: the config
``authgate manifests`` writes from the store, a person signing in, and the app receiving
``Authorization: Bearer <X-authentik-jwt>`` that it verifies against authgate's JWKS, in
place of whatever ``Authorization`` the client sent. (tests/e2e/test_jwt_bearer_configs.py
proves the proxies' side with a stub; this one runs authgate itself.)"""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from .conftest import make_client
from .servers import Authgate, Echo
from .test_generated_configs import HOST, KINDS, deployment, sign_in

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("kind", KINDS)
def test_the_app_gets_a_bearer_jwt_it_verifies_never_the_clients_authorization(
    kind: str, tmp_path: Path, echo: Echo, authgate: Authgate
) -> None:
    with (
        deployment(kind, tmp_path, echo, authgate, "--jwt-bearer") as port,
        make_client() as client,
    ):
        sign_in(client, port, authgate)
        jwks = jwt.PyJWKClient(f"{authgate.url}/.well-known/jwks.json")
        url = f"http://{HOST}:{port}/api"
        for own in ({}, {"Authorization": "Negotiate c2VjcmV0"}):
            response = client.get(url, headers=own)
            assert response.status_code == 200, response.text
            seen = response.json()["headers"]
            token = seen["x-authentik-jwt"]
            assert seen.get("authorization") == f"Bearer {token}", (own, seen)
            claims = jwt.decode(
                token,
                jwks.get_signing_key_from_jwt(token),
                algorithms=["ES256"],
                audience="gen",
                issuer=authgate.public_url,
            )
            assert claims["preferred_username"] == "alice"
