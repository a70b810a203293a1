"""``authgate keys …``: list the signing keys in the store and rotate them (never the material)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from authgate.cli.command import emit, json_option, load, run_store, table

if TYPE_CHECKING:
    from authgate.config import Settings
    from authgate.storage.store import Store, StoredKey


@click.group()
def keys() -> None:
    """The keys that sign cookies and X-authentik-jwt, shared by every replica."""


def _row(key: StoredKey) -> dict[str, Any]:
    from authgate.forward.tokens import load_key, public_jwk

    kid = ""
    if key.kind == "jwt":
        kid = public_jwk(load_key(key.material.reveal().encode(), "the key"))["kid"]
    until = key.verify_until.isoformat(timespec="seconds") if key.verify_until else None
    return {
        "id": key.id,
        "kind": key.kind,
        "kid": kid,
        "created_at": key.created_at.isoformat(timespec="seconds"),
        "state": "signing" if key.signs else "verifying",
        "verify_until": until,
    }


def _text(rows: list[dict[str, Any]]) -> str:
    return table(
        [
            [
                str(r["id"]),
                r["kind"],
                r["kid"] or "-",
                r["created_at"],
                "signing" if r["verify_until"] is None else f"verifying until {r['verify_until']}",
            ]
            for r in rows
        ],
        ["id", "kind", "kid", "created", "state"],
    )


def _warn_overrides(settings: Settings) -> None:
    """The store's keys of a kind are not used while a setting overrides them: say so."""
    if settings.secret_keys:
        click.echo(
            "authgate: note: AUTHGATE_SECRET_KEY or AUTHGATE_SECRET_KEY_FILE is set here: "
            "servers with it sign cookies with that key, not the store's hmac keys; rotate it "
            "by putting a new key first in AUTHGATE_SECRET_KEY_FILE, the old one below it",
            err=True,
        )
    if settings.jwt_key_file is not None:
        click.echo(
            f"authgate: note: AUTHGATE_JWT_KEY_FILE is set here ({settings.jwt_key_file}): "
            "servers with it sign tokens with that key, not the store's jwt keys",
            err=True,
        )


@keys.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """The keys that sign now and those that still verify, newest first per kind."""
    settings = load(ctx)

    async def action(store: Store) -> list[dict[str, Any]]:
        return [_row(key) for key in await store.signing_keys()]

    rows = run_store(ctx, action)
    emit(as_json, rows, lambda: _text(rows))
    _warn_overrides(settings)


@keys.command("rotate")
@json_option
@click.pass_context
def rotate(ctx: click.Context, as_json: bool) -> None:
    """New keys sign from now on; the old ones verify until what they signed has expired."""
    settings = load(ctx)

    async def action(store: Store) -> list[dict[str, Any]]:
        from authgate.config.secret import new_secret_key
        from authgate.forward.tokens import new_key_pem
        from authgate.web.keys import ensure_keys, hmac_verifies_for, jwt_verifies_for

        await ensure_keys(
            settings, store, say=lambda line: click.echo(f"authgate: {line}", err=True)
        )
        await store.prune_keys()
        rotated = await store.rotate_keys(
            new_secret_key(),
            new_key_pem().decode(),
            hmac_verifies_for(settings),
            jwt_verifies_for(),
        )
        return [_row(key) for key in rotated]

    rows = run_store(ctx, action)
    signing = next(r for r in rows if r["kind"] == "jwt" and r["verify_until"] is None)
    emit(
        as_json,
        rows,
        lambda: (
            f"rotated: new keys sign from now on (JWT kid {signing['kid']}); the old ones "
            f"verify until what they signed has expired\n{_text(rows)}"
        ),
    )
    _warn_overrides(settings)
