"""``authgate explain --issuers``: the external JWT issuers this configuration trusts, their
claim rules in the order they are tried, and whether each rule's service account exists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from authgate.cli.command import emit, load, run_store

if TYPE_CHECKING:
    from authgate.storage.store import Store


def show_issuers(ctx: click.Context, as_json: bool) -> None:
    settings = load(ctx)
    users = sorted({rule.user for each in settings.issuers for rule in each.rules})

    async def states(store: Store) -> dict[str, str]:
        found = {name: await store.find_user(name) for name in users}
        return {
            name: "missing" if user is None else "disabled" if user.disabled else "ok"
            for name, user in found.items()
        }

    state = run_store(ctx, states) if users else {}
    data = [
        {
            "issuer": each.issuer,
            "jwks": each.jwks_source,
            "audience": each.audience,
            "algorithms": list(each.algorithms),
            "leeway": each.leeway,
            "rules": [
                {"user": rule.user, "claims": dict(rule.claims), "account": state[rule.user]}
                for rule in each.rules
            ],
        }
        for each in settings.issuers
    ]
    emit(as_json, data, lambda: _text(data))


def _text(data: list[dict[str, Any]]) -> str:
    if not data:
        return "no external issuers configured (issuers: in the config file, AUTHGATE_ISSUERS)"
    lines: list[str] = []
    for each in data:
        lines += [
            f"issuer {each['issuer']}",
            f"  keys: {each['jwks']}",
            f"  audience: {each['audience']}",
            f"  algorithms: {', '.join(each['algorithms'])}; leeway {each['leeway']}s",
            "  rules (first match wins; no match: refused):",
        ]
        for i, rule in enumerate(each["rules"], 1):
            claims = ", ".join(f"{k}={v}" for k, v in rule["claims"].items())
            note = "" if rule["account"] == "ok" else f"  [service account {rule['account']}]"
            lines.append(f"    {i}. {rule['user']} when {claims}{note}")
    return "\n".join(lines)
