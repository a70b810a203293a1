"""The verifier of authgate's own tokens and app passwords, over a fake loader: what it
remembers, when it asks the store again, and what each refusal says."""

from __future__ import annotations

from dataclasses import replace

import pytest

from authgate.forward.api_secrets import APP_PASSWORD, TOKEN, new_secret
from authgate.forward.credentials import Basic, Bearer, Refused, Verified
from authgate.forward.issued import IssuedCredentials, IssuedRecord, identity_of
from tests.unit.forward.helpers import app as make_app


class Loader:
    def __init__(self) -> None:
        self.records: dict[str, IssuedRecord] = {}
        self.asked: list[str] = []
        self.down = False

    async def __call__(self, lookup: str) -> IssuedRecord | None:
        self.asked.append(lookup)
        if self.down:
            raise OSError("store down")
        return self.records.get(lookup)

    def add(self, made: str, **changes: object) -> str:
        text, secret = new_secret(made)
        user = (1, "uid-1", "ann", "ann@x.test", "Ann")
        record = IssuedRecord(
            kind=made,
            secret_hash=secret.hash,
            apps=frozenset(),
            expires_at=None,
            revoked=False,
            disabled=False,
            identity=identity_of(secret.lookup, made, user, ("ops",), None),
        )
        self.records[secret.lookup] = replace(record, **changes)  # type: ignore[arg-type]
        return text


APP = make_app()


async def test_a_good_token_is_its_user_and_is_remembered() -> None:
    loader = Loader()
    token = loader.add(TOKEN)
    verifier = IssuedCredentials(loader, clock=lambda: 1000.0)
    first = await verifier.verify(Bearer(token), APP, "10.0.0.1")
    second = await verifier.verify(Bearer(token), APP, "10.0.0.2")
    assert isinstance(first, Verified) and isinstance(second, Verified)
    assert first.identity is second.identity  # caches per identity object keep working
    assert first.identity.amr == ("token",) and first.identity.session_id.startswith("token:")
    assert len(loader.asked) == 1
    assert verifier.take_used() == {token.split("_")[1]: (1000.0, "10.0.0.2")}
    assert verifier.take_used() == {}
    verifier.clear()  # the revision moved: ask the store again
    await verifier.verify(Bearer(token), APP, "10.0.0.1")
    assert len(loader.asked) == 2


async def test_not_ours_is_none_and_unknown_is_remembered_too() -> None:
    loader = Loader()
    verifier = IssuedCredentials(loader)
    assert await verifier.verify(Bearer("eyJhbGciOi.x.y"), APP, "") is None
    assert await verifier.verify(Basic("ann", "hunter2"), APP, "") is None
    unknown, _ = new_secret(TOKEN)
    for _ in range(3):
        assert await verifier.verify(Bearer(unknown), APP, "") == Refused("unknown token")
    assert len(loader.asked) == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"revoked": True}, "token revoked"),
        ({"disabled": True}, "the token's user is disabled"),
        ({"expires_at": 999.0}, "token expired"),
        ({"apps": frozenset({"other"})}, f"token not valid for app {APP.slug}"),
        ({"secret_hash": "0" * 64}, "unknown token"),
        ({"kind": APP_PASSWORD}, "unknown token"),
    ],
)
async def test_refusals(changes: dict[str, object], reason: str) -> None:
    loader = Loader()
    token = loader.add(TOKEN, **changes)
    verifier = IssuedCredentials(loader, clock=lambda: 1000.0)
    assert await verifier.verify(Bearer(token), APP, "") == Refused(reason)
    assert verifier.take_used() == {}


async def test_app_passwords_go_in_basic_with_their_owners_name() -> None:
    loader = Loader()
    password = loader.add(APP_PASSWORD)
    verifier = IssuedCredentials(loader)
    assert isinstance(await verifier.verify(Basic("ann", password), APP, ""), Verified)
    assert await verifier.verify(Basic("bob", password), APP, "") == Refused("unknown app password")
    refused = await verifier.verify(Bearer(password), APP, "")
    assert isinstance(refused, Refused)


async def test_a_store_that_is_down_is_no_allow() -> None:
    loader = Loader()
    token = loader.add(TOKEN)
    loader.down = True
    with pytest.raises(OSError):
        await IssuedCredentials(loader).verify(Bearer(token), APP, "")
