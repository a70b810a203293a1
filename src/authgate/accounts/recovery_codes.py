"""Recovery codes: ten single-use codes a person writes down when they enrol a second factor,
the way back in when the phone or the security key is lost.

A code is 12 random base32 characters (60 bits), shown in three groups of four
(``ABCD-EFGH-JKLM``); case, spaces and dashes do not matter when it is typed.

Only a hash is stored: SHA-256 over the user's ``uid`` and the code. A slow hash (argon2)
is not needed and would hurt: the codes are random, not chosen by people, so there is no
dictionary to try; finding one of 2^60 values for one user (the uid salts each user apart)
costs an offline attacker years of GPU time, and the same database already holds the TOTP
secrets the codes stand in for. A fast hash also lets every one of a user's ten codes be
compared on each try without ten argon2 runs (a denial-of-service lever). The comparison
itself is constant-time (``hmac.compare_digest``); the store marks a code used in one
atomic statement, so it works once across every worker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence

from authgate.storage.store import Store, UserInfo

COUNT = 10
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # base32 (RFC 4648)
LENGTH = 12
GROUP = 4


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def normalized(typed: str) -> str:
    """The code as stored: upper case, without spaces and dashes."""
    return "".join(ch for ch in typed[:64].upper() if ch not in " -\t")


def code_hash(uid: str, typed: str) -> str:
    return hashlib.sha256(f"authgate-recovery:{uid}:{normalized(typed)}".encode()).hexdigest()


async def issue_recovery_codes(store: Store, user: UserInfo) -> list[str]:
    """A new set of ``COUNT`` codes for ``user``; the old set stops working. The codes are
    returned to be shown once: only their hashes are kept."""
    codes = [new_code() for _ in range(COUNT)]
    await store.replace_recovery_codes(user.id, [code_hash(user.uid, c) for c in codes])
    await store.audit("recovery_codes_issued", actor=user.username, subject=user.username)
    return codes


async def first_recovery_codes(store: Store, user: UserInfo) -> list[str]:
    """Codes for a user who just enrolled a factor and has none left unused; [] when they
    still hold a set (it stays valid, and was shown before)."""
    if (await store.enrolled_factors(user.id)).recovery_codes:
        return []
    return await issue_recovery_codes(store, user)


async def use_recovery_code(store: Store, user: UserInfo, typed: str, ip: str = "") -> bool:
    """True when ``typed`` is one of the user's unused codes; it is used up. Audited, with
    how many are left."""
    if len(normalized(typed)) != LENGTH:
        return False
    wanted = code_hash(user.uid, typed)
    found = _matching(await store.unused_recovery_codes(user.id), wanted)
    if found is None or not await store.use_recovery_code(found):
        return False
    left = (await store.enrolled_factors(user.id)).recovery_codes
    await store.audit(
        "recovery_code_used",
        actor=user.username,
        subject=user.username,
        ip=ip,
        detail=json.dumps({"left": left}),
    )
    return True


def _matching(stored: Sequence[tuple[int, str]], wanted: str) -> int | None:
    """The id of the stored hash equal to ``wanted``, every one compared in constant time."""
    found = None
    for code_id, hashed in stored:
        if hmac.compare_digest(hashed, wanted):
            found = code_id
    return found
