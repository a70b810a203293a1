"""The pure parts of login throttling: one canonical user name, lock lengths, address keys,
device tokens, and the Redis setting."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer

from authgate.accounts.devices import MAX_USERS, DeviceTokens
from authgate.accounts.throttle import Limit, address_key
from authgate.config import load_settings
from authgate.config.secret import Secret
from authgate.errors import ConfigError
from authgate.storage.store.names import canonical_username


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("erin", "erin"),
        (" erin", "erin"),
        ("erin\t", "erin"),
        ("erin\n", "erin"),
        ("\r\n erin \u00a0", "erin"),
        ("ｅｒｉｎ", "erin"),  # fullwidth letters: NFKC
        ("Erin", "Erin"),  # case is part of the name, as the store keeps it
        ("er in", None),
        ("erin\nbob", None),
        ("erin\x00", None),
        ("", None),
        ("   ", None),
        ("e" * 151, None),
        (" " * 2000 + "erin", None),  # only the first 1024 characters are read
    ],
)
def test_one_canonical_user_name(typed: str, canonical: str | None) -> None:
    assert canonical_username(typed) == canonical


def test_lock_lengths() -> None:
    flat = Limit(threshold=3, window=60, lock=900)
    assert [flat.lock_for(n) for n in (1, 2, 3, 4)] == [0, 0, 900, 900]
    growing = Limit(threshold=3, window=60, lock=1, growth=2, cap=5)
    assert [growing.lock_for(n) for n in (2, 3, 4, 5, 6, 10_000)] == [0, 1, 2, 4, 5, 5]


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # same subscriber, same counter
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not an address", "not an address"),
        ("", "unknown"),
    ],
)
def test_address_keys(ip: str, key: str) -> None:
    assert address_key(ip) == key


def test_device_tokens_name_users_of_this_browser_newest_first() -> None:
    tokens = DeviceTokens((Secret("k" * 32),))
    first = tokens.read(tokens.issue({}, "uid-a"))
    assert list(first) == ["uid-a"]
    both = tokens.read(tokens.issue(first, "uid-b"))
    assert list(both) == ["uid-b", "uid-a"] and both["uid-a"] == first["uid-a"]
    again = tokens.read(tokens.issue(both, "uid-a"))
    assert list(again) == ["uid-a", "uid-b"] and again["uid-a"] != first["uid-a"]  # fresh nonce
    many: dict[str, str] = {}
    for n in range(MAX_USERS + 3):
        many = tokens.read(tokens.issue(many, f"uid-{n}"))
    assert len(many) == MAX_USERS and "uid-0" not in many


def test_bad_device_tokens_are_no_device() -> None:
    key = Secret("k" * 32)
    tokens = DeviceTokens((key,))
    good = tokens.issue({}, "uid-a")
    other_salt = URLSafeTimedSerializer(key.reveal(), salt="authgate.csrf")
    # the signature's first character carries six of its bits (the last may carry padding)
    at = good.rindex(".") + 1
    tampered = good[:at] + ("B" if good[at] == "A" else "A") + good[at + 1 :]
    for bad in [
        None,
        "",
        tampered,
        DeviceTokens((Secret("other" * 8),)).issue({}, "uid-a"),  # another server's key
        other_salt.dumps([["uid-a", "n"]]),  # a value signed for another purpose
        tokens._serializer.dumps({"uid-a": "n"}),
        tokens._serializer.dumps([["uid-a", 5], ["uid-b"], "x", ["", "n"]]),
        "a" * 5000,
    ]:
        assert tokens.read(bad) == {}, bad
    assert DeviceTokens((key,), lifetime=-1).read(good) == {}  # expired


def test_a_rotated_key_still_reads_old_device_tokens() -> None:
    old = Secret("o" * 32)
    token = DeviceTokens((old,)).issue({}, "uid-a")
    assert list(DeviceTokens((Secret("n" * 32), old)).read(token)) == ["uid-a"]


def test_redis_url_setting(tmp_path: object) -> None:
    base = {"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_SECRET_KEY": "s" * 32}
    assert load_settings(base).redis_url == ""
    url = "redis://:pw@127.0.0.1:6379/0"
    settings = load_settings(base | {"AUTHGATE_REDIS_URL": url})
    assert settings.redis_url == url and "pw" not in repr(settings)
    with pytest.raises(ConfigError) as caught:
        load_settings(base | {"AUTHGATE_REDIS_URL": "http://:hunter2@cache:6379"})
    message = str(caught.value)
    assert "AUTHGATE_REDIS_URL" in message and "redis://" in message
    assert "hunter2" not in message
