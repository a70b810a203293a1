"""The public keys of the configured external issuers (``issuers``), fetched off the hot path.

Each issuer's JWKS comes from its ``jwks_url`` (httpx) or ``jwks_file``. ``run`` refreshes
every set in the background; a check that meets an unknown ``kid`` asks for one refresh
(shared by every check waiting for it, at most one per ``min_interval`` per issuer, so a
flood of made-up kids cannot hammer the issuer). A failed fetch keeps the keys already held
(stale while error) for up to ``stale_limit``; an issuer whose keys were never fetched, or
are older than that, has no keys: its tokens are refused, never let through.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from jwt import PyJWK, PyJWKError, PyJWKSet, PyJWKSetError

from authgate.config.issuers import IssuerConfig

log = logging.getLogger("authgate.issuers")

Fetch = Callable[[IssuerConfig], Awaitable[dict[str, Any]]]
MAX_JWKS_BYTES = 512 * 1024
FETCH_TIMEOUT = 5.0
PUBLIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})


class JwksUnavailable(Exception):
    """The issuer's JWKS could not be read; ``str()`` says why, safe to log."""


async def fetch_jwks(config: IssuerConfig) -> dict[str, Any]:
    """The issuer's JWKS document: GET ``jwks_url`` (no redirects, bounded size and time) or
    read ``jwks_file``."""
    if config.jwks_file is not None:
        path = config.jwks_file
        try:
            text = await asyncio.to_thread(path.read_text)
        except OSError as exc:
            raise JwksUnavailable(f"{path}: {exc.strerror or exc}") from exc
        return _document(text, str(path))
    url = config.jwks_url
    try:
        async with (
            httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise JwksUnavailable(f"{url}: HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksUnavailable(f"{url}: larger than {MAX_JWKS_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise JwksUnavailable(f"{url}: {type(exc).__name__}") from exc
    return _document(body.decode("utf-8", "replace"), url)


def _document(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise JwksUnavailable(f"{source}: not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksUnavailable(f"{source}: not a JWKS (no keys list)")
    return data


def signing_keys(document: dict[str, Any], algorithms: Sequence[str]) -> dict[str, PyJWK]:
    """kid -> key for the public signing keys in ``document`` whose algorithm the issuer
    allows. Secret (``oct``) keys, encryption keys and keys of other algorithms are left
    out: a token can only ever be checked with a public key of an allowed algorithm."""
    usable = [
        jwk
        for jwk in document["keys"]
        if isinstance(jwk, dict)
        and jwk.get("kty") in PUBLIC_KEY_TYPES
        and jwk.get("use", "sig") == "sig"
    ]
    try:
        keys = PyJWKSet(usable).keys if usable else []
    except (PyJWKSetError, PyJWKError):
        keys = []
    return {str(key.key_id or ""): key for key in keys if key.algorithm_name in algorithms}


class IssuerKeys:
    """The keys of one issuer, by ``kid``."""

    def __init__(
        self,
        config: IssuerConfig,
        fetch: Fetch = fetch_jwks,
        *,
        min_interval: float = 30.0,
        stale_limit: float = 86400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._fetch = fetch
        self._min_interval = min_interval
        self._stale_limit = stale_limit
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self.fetched_at: float | None = None  # when the keys held were fetched
        self.asked_at: float | None = None  # the last refresh a check asked for
        self.error = ""  # why the last fetch failed ("" after a success)
        self._running: asyncio.Task[bool] | None = None

    @property
    def kids(self) -> list[str]:
        return list(self._keys)

    def find(self, kid: str | None) -> PyJWK | None:
        """The key a token names; a token without ``kid`` only when the set has one key.
        Nothing once the keys are older than ``stale_limit``."""
        if self.fetched_at is None or self._clock() - self.fetched_at > self._stale_limit:
            return None
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the set again; concurrent callers share one fetch. True when the keys
        changed. A check's refresh (not ``force``) happens at most once per
        ``min_interval``, counted between checks' refreshes only: the background's own
        fetches never delay the one a new ``kid`` asks for."""
        if self._running is not None and not self._running.done():
            return await asyncio.shield(self._running)
        if not force:
            now = self._clock()
            if self.asked_at is not None and now - self.asked_at < self._min_interval:
                return False
            self.asked_at = now
        self._running = asyncio.ensure_future(self._load())
        return await asyncio.shield(self._running)

    async def _load(self) -> bool:
        try:
            document = await self._fetch(self.config)
        except JwksUnavailable as exc:
            self.error = str(exc)
        except Exception as exc:  # fail closed: a broken fetch keeps what was there
            self.error = f"{type(exc).__name__}"
        else:
            keys = signing_keys(document, self.config.algorithms)
            if keys:
                changed = set(keys) != set(self._keys)
                self._keys, self.fetched_at, self.error = keys, self._clock(), ""
                if changed:
                    kids = ", ".join(keys) or "(no kid)"
                    log.info("issuer %s: signing keys %s", self.config.issuer, kids)
                return changed
            self.error = "the JWKS holds no usable signing key of an allowed algorithm"
        log.warning("issuer %s: keys not refreshed: %s", self.config.issuer, self.error)
        return False


class JwksKeys:
    """Every configured issuer's keys; ``run`` keeps them fresh in the background."""

    def __init__(
        self,
        issuers: Sequence[IssuerConfig],
        fetch: Fetch = fetch_jwks,
        *,
        every: float = 300.0,
        min_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every = every
        self.by_issuer = {
            config.issuer: IssuerKeys(config, fetch, min_interval=min_interval, clock=clock)
            for config in issuers
        }
        self.on_change: Callable[[], None] = lambda: None

    async def refresh_all(self, *, force: bool = False) -> None:
        results = await asyncio.gather(
            *(keys.refresh(force=force) for keys in self.by_issuer.values())
        )
        if any(results):
            self.on_change()

    async def run(self) -> None:
        """Refresh every set now and then every ``every`` seconds; sooner (after
        ``min_interval``) while a set has no keys. Runs until cancelled."""
        while True:
            with contextlib.suppress(Exception):
                await self.refresh_all(force=True)
            missing = any(keys.fetched_at is None for keys in self.by_issuer.values())
            await asyncio.sleep(min(self.every, 30.0) if missing else self.every)
