"""An app with ``jwt_bearer`` gets the ``X-authentik-jwt`` also as ``Authorization: Bearer``
(for apps that verify a JWT there): authgate's answer carries it, and every generated proxy
config copies it into the upstream request in place of the client's own."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from authgate.deploy import spec as s
from authgate.deploy.targets import TARGETS, render_middleware
from authgate.forward.answers import allow
from authgate.forward.decision import Allow
from authgate.forward.headers import IDENTITY_HEADERS
from tests.unit.forward.helpers import app, user
from tests.unit.manifest_cases import COMFY_OFFNET, WIKI_LAN, stripping
from tests.unit.test_manifests import STRIP_CASES, _copied, by_kind


def bearer(spec: s.Spec) -> s.Spec:
    return s.Spec(**{**spec.__dict__, "jwt_bearer": True})


def test_the_answer_carries_the_jwt_as_bearer_only_for_such_apps() -> None:
    plain, verifying = app(), app(jwt_bearer=True)
    assert b"authorization" not in dict(allow(Allow(plain, user(), "ok", "T.O.K")).headers)
    headers = dict(allow(Allow(verifying, user(), "ok", "T.O.K")).headers)
    assert headers[b"authorization"] == b"Bearer T.O.K"
    assert headers[b"x-authentik-jwt"] == b"T.O.K"
    # a bypass has no identity and no token: no Authorization, so the proxy (which copies
    # it) drops whatever the client sent
    assert b"authorization" not in dict(allow(Allow(verifying, None, "bypass", "")).headers)


def test_a_token_with_control_bytes_cannot_split_the_answer() -> None:
    headers = dict(allow(Allow(app(jwt_bearer=True), user(), "ok", "a\r\nX-Evil: 1")).headers)
    assert headers[b"authorization"] == b"Bearer aX-Evil: 1"


@pytest.mark.parametrize(("target", "spec"), STRIP_CASES)
def test_every_target_copies_authorization_for_such_apps(target: str, spec: s.Spec) -> None:
    if target == "nginx":
        text = TARGETS["nginx"].render(bearer(spec))
        assert "auth_request_set $authgate_wiki_authorization $upstream_http_authorization;" in text
        assert text.count("proxy_set_header Authorization $authgate_wiki_authorization;") == 1
        return
    assert _copied(target, bearer(spec)) == [*IDENTITY_HEADERS, "Authorization"]
    assert _copied(target, bearer(stripping(spec))) == [
        *IDENTITY_HEADERS,
        "Authorization",
        "Cookie",
    ]


@pytest.mark.parametrize(("target", "spec"), STRIP_CASES)
def test_without_the_option_authorization_is_still_copied(target: str, spec: s.Spec) -> None:
    """Every app copies Authorization from the answer: authgate's own credentials stop at
    the proxy, an app's own value comes back in the answer."""
    if target == "nginx":
        assert "proxy_set_header Authorization" in TARGETS[target].render(spec)
    else:
        assert "Authorization" in _copied(target, spec)


def test_traefik_uses_a_shared_middleware_of_its_own_for_such_apps() -> None:
    """Traefik first removes every listed header from the request: Authorization in the
    shared middleware would take every other app's Authorization away."""
    (route,) = by_kind(TARGETS["traefik"].render(bearer(COMFY_OFFNET)))["IngressRoute"]
    first = route["spec"]["routes"][0]  # type: ignore[index]
    assert first["middlewares"] == [{"name": "authgate-jwt-bearer", "namespace": "authgate"}]
    both = bearer(stripping(COMFY_OFFNET))
    (route,) = by_kind(TARGETS["traefik"].render(both))["IngressRoute"]
    assert route["spec"]["routes"][0]["middlewares"][0]["name"] == (  # type: ignore[index]
        "authgate-strip-cookie-jwt-bearer"
    )
    shared = render_middleware(bearer(COMFY_OFFNET), legacy=False)
    (middleware,) = [d for d in YAML(typ="safe").load_all(shared) if d]
    assert middleware["metadata"]["name"] == "authgate-jwt-bearer"
    assert middleware["spec"]["forwardAuth"]["authResponseHeaders"][-1] == "Authorization"


def test_for_nginx_the_option_adds_only_the_authorization_lines() -> None:
    plain = TARGETS["nginx"].render(WIKI_LAN).splitlines()
    with_bearer = TARGETS["nginx"].render(bearer(WIKI_LAN)).splitlines()
    added = [line.strip() for line in with_bearer if line not in plain]
    assert all("authorization" in line.lower() for line in added if line), added
