"""Allows given again: the answer to a request the proxy asks about again, byte for byte.

A page's assets, a polling script, every request of a busy client: the proxy asks about
the same request over and over, with the same headers (but for a request id). When such a
request was allowed, the check keeps the answer it sent, under a key made of everything
the request consists of (``request_key``), and answers the next identical request with it
without parsing and judging it again, as long as nothing that answer was made of changed:

- the apps and keys it was judged by (a reload of the store makes new ones);
- its session, asked of the session cache every time (``SessionCache.held``): revoked,
  expired, idle, signed out, or the store down, and the request is judged afresh;
- its ``X-authentik-jwt``, until the gate would renew it.

Only allows are kept; a refusal is judged every time (and audited). A request that carries
an ``Authorization`` header is never kept (credentials have their own checks), nor one
whose headers are too long to be worth the memory.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from authgate.forward.answers import Answer, prepared
from authgate.forward.decision import Allow
from authgate.forward.gate import Gate
from authgate.forward.model import Identity

# Headers that differ on every request of one client and that no judgement reads: a key
# without them still holds everything the decision depends on. Any other header is part of
# the key, so a header authgate does not know can only cost a judgement, never change one.
PER_REQUEST = frozenset(
    {
        b"x-request-id",  # ingress-nginx's $req_id, new for every request
        b"traceparent",
        b"tracestate",
        b"x-b3-traceid",
        b"x-b3-spanid",
        b"x-b3-parentspanid",
        b"x-b3-sampled",
        b"b3",
        b"x-amzn-trace-id",
        b"x-cloud-trace-context",
        b"uber-trace-id",
        b"sentry-trace",
        b"content-length",
    }
)
# What is kept is bounded: at most LIMIT requests of at most KEY_LIMIT bytes of header values
# each (~40 MB per worker at the very worst, ~1 KB a request in practice). A request with
# more (a browser with many big cookies) is judged every time; when full, the oldest
# quarter is forgotten.
KEY_LIMIT = 4096
LIMIT = 10_000
NAMES_LIMIT = 1_000  # distinct header names shared by the kept keys (``_shared_names``)

Key = tuple[object, ...]
Start = dict[str, object]  # an answer's complete ``http.response.start`` message (no body)
# the start message, session id ("" without one), its identity, apps index, cookie signer,
# fresh until
Kept = tuple[Start, str, Identity | None, object, object, float]


def request_key(
    dialect: str,
    method: str,
    raw_path: bytes,
    query: bytes,
    peer: str,
    headers: Sequence[tuple[bytes, bytes]],
) -> Key | None:
    """Everything a check request consists of but its per-request ids, flat (each header's
    name, then its value); None when it is too long to keep or carries a credential."""
    key: list[object] = [dialect, method, raw_path, query, peer]
    size = len(raw_path) + len(query)
    for name, value in headers:
        if name in PER_REQUEST:
            continue
        if name == b"authorization":
            return None
        size += len(value)
        key += (name, value)
    if size > KEY_LIMIT:
        return None
    return tuple(key)


class RecentAllows:
    """Allowed requests and the answers sent for them, while those answers hold."""

    def __init__(self, gate: Gate, limit: int = LIMIT) -> None:
        self.gate = gate
        self.limit = limit
        self._kept: dict[Key, Kept] = {}
        self._names: dict[object, object] = {}

    def answer(self, key: Key, now: float) -> Start | None:
        """The answer kept for ``key`` (its start message: a kept answer has no body) when
        everything it was made of still holds."""
        kept = self._kept.get(key)
        if kept is None:
            return None
        answer, session_id, identity, index, signer, fresh_until = kept
        gate = self.gate
        if index is gate.index and signer is gate.signer and now < fresh_until:
            if not session_id:
                return answer
            record = gate.sessions.held(session_id, now)
            if record is not None and record.identity is identity:
                return answer
        del self._kept[key]
        return None

    def keep(self, key: Key, allow: Allow, answer: Answer) -> None:
        """Remember the answer sent for an allowed request."""
        if answer.page is not None or answer.body:
            return
        start = answer.start or prepared(answer.status, answer.headers).start
        if start is None:
            return
        identity = allow.identity
        session_id = identity.session_id if identity is not None else ""
        fresh_until = self.gate.fresh_until(allow)
        if fresh_until <= time.time():
            return
        if len(self._kept) >= self.limit:
            self._forget_oldest(self.limit // 4)
        gate = self.gate
        kept = (start, session_id, identity, gate.index, gate.signer, fresh_until)
        self._kept[self._shared_names(key)] = kept

    def _shared_names(self, key: Key) -> Key:
        """``key`` as it is kept: its header names (the 6th, 8th, ... item) replaced by one
        object per name for every kept key, so that ten thousand keys do not hold ten
        thousand copies of ``b"cookie"``."""
        names = self._names
        if len(names) >= NAMES_LIMIT:
            names.clear()
        flat = list(key)
        for i in range(5, len(flat), 2):
            flat[i] = names.setdefault(flat[i], flat[i])
        return tuple(flat)

    def _forget_oldest(self, count: int) -> None:
        for key in list(self._kept)[:count]:
            del self._kept[key]

    def __len__(self) -> int:
        return len(self._kept)
