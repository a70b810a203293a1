"""External token issuers (``issuers`` in the config file, ``AUTHGATE_ISSUERS`` as YAML or
JSON text): whose JWTs a machine may present as ``Authorization: Bearer``, and which
authgate user (a service account) each token stands for.

One issuer::

    issuer: https://token.actions.githubusercontent.com   # the exact ``iss``
    jwks_url: https://token.actions.githubusercontent.com/.well-known/jwks
    audience: https://auth.example.com                    # required
    algorithms: [RS256]                                   # default RS256, ES256
    leeway: 30s                                           # clock skew allowed
    rules:                                                # first match wins
      - user: ci-deploy
        claims: {repository: org/repo, ref: refs/heads/main}   # globs allowed

Every problem of every issuer is reported at once (one ValueError, ``; ``-joined).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: public-key algorithms an issuer may use; never ``none``, never an HMAC one (``HS*``): a
#: shared secret cannot be published in a JWKS, and accepting HS* next to a public key is the
#: classic key-confusion hole
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_ALGORITHMS = ("RS256", "ES256")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_LEEWAY = 30
MAX_LEEWAY = 300


@dataclass(frozen=True)
class ClaimRule:
    """``user`` when every claim named matches its glob (``fnmatch``, case-sensitive)."""

    user: str
    claims: tuple[tuple[str, str], ...]

    def matches(self, payload: Mapping[str, Any]) -> bool:
        for name, pattern in self.claims:
            value = payload.get(name)
            if not isinstance(value, str | int | bool):
                return False  # absent, a list, an object: never a match
            text = json.dumps(value) if isinstance(value, bool) else str(value)
            if not fnmatch.fnmatchcase(text, pattern):
                return False
        return True


@dataclass(frozen=True)
class IssuerConfig:
    issuer: str
    audience: str
    rules: tuple[ClaimRule, ...]
    jwks_url: str = ""
    jwks_file: Path | None = None
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    leeway: int = DEFAULT_LEEWAY

    @property
    def jwks_source(self) -> str:
        return self.jwks_url or str(self.jwks_file)

    def user_for(self, payload: Mapping[str, Any]) -> str | None:
        """The service account of the first rule the claims match; None: no rule does."""
        return next((rule.user for rule in self.rules if rule.matches(payload)), None)


def parse_issuers(value: object) -> tuple[IssuerConfig, ...]:
    """The issuers from a YAML list (config file) or YAML/JSON text (environment)."""
    if isinstance(value, str):
        value = _load_text(value)
    if value is None or value == "":
        return ()
    if not isinstance(value, list):
        raise ValueError("expected a list of issuers")
    problems: list[str] = []
    issuers = [_issuer(item, f"issuers[{i}]", problems) for i, item in enumerate(value)]
    seen: set[str] = set()
    for each in issuers:
        if each is not None and each.issuer in seen:
            problems.append(f"issuer {each.issuer} is configured twice")
        if each is not None:
            seen.add(each.issuer)
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(each for each in issuers if each is not None)


def _load_text(text: str) -> object:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    if not text.strip():
        return None
    try:
        return YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise ValueError("not valid YAML or JSON") from exc


def _issuer(data: object, where: str, problems: list[str]) -> IssuerConfig | None:
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a mapping with issuer, jwks_url, audience, rules")
        return None
    known = {"issuer", "jwks_url", "jwks_file", "audience", "algorithms", "leeway", "rules"}
    before = len(problems)
    problems += [f"{where}.{key}: unknown setting" for key in data if key not in known]
    issuer = _text(data.get("issuer"))
    if not issuer:
        problems.append(f"{where}.issuer: required (the exact iss of its tokens)")
    audience = _text(data.get("audience"))
    if not audience:
        problems.append(f"{where}.audience: required (the aud its tokens carry for authgate)")
    jwks_url, jwks_file = _text(data.get("jwks_url")), _text(data.get("jwks_file"))
    if bool(jwks_url) == bool(jwks_file):
        problems.append(f"{where}: set exactly one of jwks_url and jwks_file")
    elif jwks_url and not _web_url(jwks_url):
        problems.append(
            f"{where}.jwks_url: expected an https:// URL (http:// only on this machine: "
            "keys fetched in the clear could be swapped on the way)"
        )
    algorithms = _algorithms(data.get("algorithms"), f"{where}.algorithms", problems)
    leeway = _leeway(data.get("leeway"), f"{where}.leeway", problems)
    rules = _rules(data.get("rules"), f"{where}.rules", problems)
    if len(problems) > before:
        return None
    return IssuerConfig(
        issuer=issuer,
        audience=audience,
        rules=rules,
        jwks_url=jwks_url,
        jwks_file=Path(jwks_file) if jwks_file else None,
        algorithms=algorithms,
        leeway=leeway,
    )


def _web_url(text: str) -> bool:
    """https, or http to this machine's loopback (a sidecar, a test)."""
    parts = urlsplit(text)
    if parts.scheme == "http":
        return parts.hostname in LOOPBACK_HOSTS
    return parts.scheme == "https" and bool(parts.hostname)


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _algorithms(value: object, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_ALGORITHMS
    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    names = tuple(str(item).strip() for item in items)
    wrong = [name for name in names if name not in PUBLIC_KEY_ALGORITHMS]
    if wrong or not names:
        problems.append(
            f"{where}: {', '.join(wrong) or '(none)'} not allowed; choose from "
            + ", ".join(sorted(PUBLIC_KEY_ALGORITHMS))
            + " (never none, never HS*)"
        )
    return names


def _leeway(value: object, where: str, problems: list[str]) -> int:
    if value is None:
        return DEFAULT_LEEWAY
    from authgate.config.loader import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return DEFAULT_LEEWAY
    if seconds > MAX_LEEWAY:
        problems.append(f"{where}: at most {MAX_LEEWAY}s")
    return seconds


def _rules(value: object, where: str, problems: list[str]) -> tuple[ClaimRule, ...]:
    if not isinstance(value, list) or not value:
        problems.append(f"{where}: required, a list of {{user, claims}} (first match wins)")
        return ()
    rules: list[ClaimRule] = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(item, dict) or set(item) - {"user", "claims"}:
            problems.append(f"{here}: expected a mapping with user and claims")
            continue
        user, claims = _text(item.get("user")), item.get("claims")
        if not user:
            problems.append(f"{here}.user: required (an authgate user, the service account)")
        if not isinstance(claims, dict) or not claims:
            problems.append(f"{here}.claims: required, e.g. {{repository: org/repo}}")
            continue
        empty = [str(k) for k, v in claims.items() if v is None or isinstance(v, list | dict)]
        if empty:
            problems.append(f"{here}.claims: {', '.join(empty)}: expected a value or a glob")
            continue
        pairs = tuple((str(k), _claim_pattern(v)) for k, v in claims.items())
        rules.append(ClaimRule(user, pairs))
    return tuple(rules)


def _claim_pattern(value: object) -> str:
    if isinstance(value, bool):
        return json.dumps(value)
    return str(value)
