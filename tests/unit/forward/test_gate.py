"""The gate: the I/O around ``decide`` — the app from the index, the identity from the app
cookie (signer, session cache, the store only on a miss), the token on an allow."""

from __future__ import annotations

from dataclasses import replace

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from authgate.config.secret import Secret
from authgate.forward.answers import allow
from authgate.forward.cookies import CookieSigner, app_cookie_name, expire_app_cookie
from authgate.forward.decision import Allow, Challenge, Deny, UnknownHost
from authgate.forward.gate import Gate
from authgate.forward.model import AppView, Identity, Rule
from authgate.forward.sessions import SessionCache, SessionRecord
from authgate.forward.tokens import TokenIssuer
from tests.unit.forward.helpers import PREFIX, app, request, user

WIKI = app(rules=(Rule("bypass", path_prefix="/public"), Rule("deny", path_prefix="/admin")))
OTHER = app("other", "other.test")
NOW_PLUS = 4_000_000_000.0


class Store:
    """The session store behind the cache: counts loads, can be down."""

    def __init__(self) -> None:
        self.records: dict[str, SessionRecord] = {}
        self.loads = 0
        self.down = False

    async def load(self, session_id: str) -> SessionRecord | None:
        self.loads += 1
        if self.down:
            raise ConnectionError("store down")
        return self.records.get(session_id)


@pytest.fixture
def store() -> Store:
    found = Store()
    found.records["app-s"] = SessionRecord(user(), "app", WIKI.id, NOW_PLUS, NOW_PLUS)
    found.records["portal-s"] = SessionRecord(user(), "portal", None, NOW_PLUS, NOW_PLUS)
    found.records["other-s"] = SessionRecord(user(), "app", 99, NOW_PLUS, NOW_PLUS)
    return found


SIGNER = CookieSigner([Secret("k" * 32)], "session")
ISSUER = TokenIssuer(ec.generate_private_key(ec.SECP256R1()), "http://auth.test")


def gate_for(store: Store, tokens: TokenIssuer | None = ISSUER) -> Gate:
    gate = Gate(SessionCache(store.load, 0), SIGNER, PREFIX, tokens)
    gate.load_apps([WIKI, OTHER])
    return gate


def cookie(session_id: str, target: AppView = WIKI) -> str:
    return f"theme=dark; {app_cookie_name(target)}={SIGNER.sign(session_id)}"


async def test_a_valid_cookie_is_allowed_with_identity_and_token(store: Store) -> None:
    decision = await gate_for(store).check(request("/", cookie=cookie("app-s")))
    assert isinstance(decision, Allow)
    assert decision.identity == user()
    claims = jwt.decode(
        decision.token, ISSUER._key.public_key(), algorithms=["ES256"], audience="wiki"
    )
    assert claims["preferred_username"] == "alice"


@pytest.mark.parametrize(
    ("amr", "claimed"),
    [
        ((), None),
        (("pwd",), ["pwd"]),
        (("pwd", "otp"), ["pwd", "otp", "mfa"]),
        (("pwd", "hwk"), ["pwd", "hwk", "mfa"]),
        (("hwk",), ["hwk", "mfa"]),  # a passkey proves two factors on its own
        (("pwd", "rec"), ["pwd", "rec", "mfa"]),
        # headless credentials (issue 14): a Basic password is RFC 8176 pwd; the others
        # have no RFC 8176 value and keep their names
        (("password",), ["pwd"]),
        (("token",), ["token"]),
        (("app_password",), ["app_password"]),
        (("jwt",), ["jwt"]),
    ],
)
def test_the_token_says_how_the_session_signed_in(
    amr: tuple[str, ...], claimed: list[str] | None
) -> None:
    identity = replace(user(), amr=amr, expires_at=NOW_PLUS)
    token, _ = ISSUER.issue(identity, WIKI)
    claims = jwt.decode(token, ISSUER._key.public_key(), algorithms=["ES256"], audience="wiki")
    assert claims.get("amr") == claimed


async def test_no_token_issuer_means_no_token(store: Store) -> None:
    decision = await gate_for(store, None).check(request("/", cookie=cookie("app-s")))
    assert isinstance(decision, Allow)
    assert decision.token == ""


async def test_the_second_check_is_answered_from_memory(store: Store) -> None:
    gate = gate_for(store)
    for _ in range(3):
        assert isinstance(await gate.check(request("/", cookie=cookie("app-s"))), Allow)
    assert store.loads == 1


async def test_no_cookie_is_a_login_without_asking_the_store(store: Store) -> None:
    decision = await gate_for(store).check(request("/", cookie="theme=dark"))
    assert isinstance(decision, Challenge)
    assert (decision.reason, decision.clear_cookie) == ("no session", "")
    assert store.loads == 0


@pytest.mark.parametrize(
    "sent",
    [
        f"{app_cookie_name(WIKI)}=app-s.forged",  # signature does not verify
        cookie("portal-s"),  # a portal session is no app session
        cookie("other-s"),  # a session of another app
        cookie("gone-s"),  # revoked or expired: the store has none
    ],
)
async def test_a_cookie_that_names_no_session_of_this_app_is_cleared(
    store: Store, sent: str
) -> None:
    decision = await gate_for(store).check(request("/", cookie=sent))
    assert isinstance(decision, Challenge)
    assert decision.reason == "cookie did not verify"
    assert decision.clear_cookie == expire_app_cookie(WIKI)


async def test_a_cookie_sent_twice_is_no_session(store: Store) -> None:
    twice = f"{cookie('app-s')}; {app_cookie_name(WIKI)}={SIGNER.sign('app-s')}"
    decision = await gate_for(store).check(request("/", cookie=twice))
    assert isinstance(decision, Challenge)
    assert decision.reason == "no session"


async def test_bypass_and_deny_before_login_never_touch_the_store(store: Store) -> None:
    store.down = True
    gate = gate_for(store)
    bypass = await gate.check(request("/public/x", cookie=cookie("app-s")))
    assert isinstance(bypass, Allow)
    assert (bypass.identity, bypass.token) == (None, "")
    denied = await gate.check(request("/admin", cookie=cookie("app-s")))
    assert isinstance(denied, Deny)
    assert store.loads == 0


async def test_a_store_that_is_down_fails_the_check_never_allows(store: Store) -> None:
    store.down = True
    with pytest.raises(ConnectionError):
        await gate_for(store).check(request("/", cookie=cookie("app-s")))


async def test_apps_are_found_by_the_index_the_gate_was_given(store: Store) -> None:
    gate = gate_for(store)
    assert isinstance(await gate.check(request("/", host="new.test")), UnknownHost)
    conflicts = gate.load_apps([WIKI, app("new", "new.test"), app("dup", "new.test")]).conflicts
    assert [c.slugs for c in conflicts] == [("new", "dup")]
    assert gate.index.lookup("wiki.test") == WIKI
    gate.load_apps([app("new", "new.test")])
    assert isinstance(await gate.check(request("/", host="new.test")), Challenge)
    assert isinstance(await gate.check(request("/")), UnknownHost)


async def test_the_trace_names_the_request_the_app_and_the_session(store: Store) -> None:
    trace: list[str] = []
    await gate_for(store).check(request("/", ip="10.0.0.1", cookie=cookie("app-s")), trace)
    assert trace == [
        "request: GET wiki.test/ from 10.0.0.1",
        "app: wiki (host wiki.test)",
        "rule 1 (bypass path /public*) does not match",
        "rule 2 (deny path /admin*) does not match",
        "session: user alice, groups -",
        "bindings: none (any signed-in user)",
        "rule 1 (bypass path /public*) does not match",
        "rule 2 (deny path /admin*) does not match",
    ]


async def test_the_token_is_kept_while_the_identity_is_the_same(store: Store) -> None:
    gate = gate_for(store)
    first = await gate.check(request("/", cookie=cookie("app-s")))
    again = await gate.check(request("/", cookie=cookie("app-s")))
    assert isinstance(first, Allow) and isinstance(again, Allow)
    assert again.token == first.token


class CountingIssuer(TokenIssuer):
    def __init__(self) -> None:
        super().__init__(ec.generate_private_key(ec.SECP256R1()), "http://auth.test")
        self.signed = 0

    def issue(
        self, identity: Identity, app: AppView, now: float | None = None
    ) -> tuple[str, float]:
        self.signed += 1
        return super().issue(identity, app, now)


async def test_a_cache_hit_never_signs(store: Store) -> None:
    """The hot path signs once per (session, app); every later check reuses that token."""
    counting = CountingIssuer()
    gate = gate_for(store, counting)
    tokens = set()
    for _ in range(50):
        decision = await gate.check(request("/", cookie=cookie("app-s")))
        assert isinstance(decision, Allow)
        tokens.add(decision.token)
    assert counting.signed == 1 and len(tokens) == 1
    store.records["app-s"] = SessionRecord(user(), "app", WIKI.id, NOW_PLUS, NOW_PLUS)
    gate.sessions.clear()  # a reload: the session comes back as a new identity
    for _ in range(5):
        assert isinstance(await gate.check(request("/", cookie=cookie("app-s"))), Allow)
    assert counting.signed == 2  # signed again once, then reused


async def test_a_reload_with_new_groups_gives_a_new_token_and_new_headers(store: Store) -> None:
    """A user's groups change: the store reloads, the session comes back as a new identity,
    and neither the token nor the upstream headers may still carry the old groups."""
    gate = gate_for(store)
    before = await gate.check(request("/", cookie=cookie("app-s")))
    store.records["app-s"] = SessionRecord(
        user("alice", "staff", "ops"), "app", WIKI.id, NOW_PLUS, NOW_PLUS
    )
    gate.sessions.clear()  # what a reload of the store does
    after = await gate.check(request("/", cookie=cookie("app-s")))
    assert isinstance(before, Allow) and isinstance(after, Allow)
    claims = jwt.decode(
        after.token, ISSUER._key.public_key(), algorithms=["ES256"], audience="wiki"
    )
    assert claims["groups"] == ["staff", "ops"]
    headers = dict(allow(after).headers)
    assert headers[b"x-authentik-groups"] == b"staff|ops"
