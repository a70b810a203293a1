"""What every command shares: settings from ``--config`` and the environment, a migrated
store, output as text or ``--json``, and errors as one clear line (never a traceback)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from authgate.config.secret import redact_url
from authgate.errors import AuthgateError, ConfigError, StoreError

T = TypeVar("T")


@dataclass
class CliState:
    config_file: Path | None


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)


def load(
    ctx: click.Context,
    overrides: Mapping[str, object] | None = None,
    *,
    require_public_url: bool = False,
) -> Any:
    from authgate.config import load_settings

    state: CliState = ctx.find_object(CliState) or CliState(None)
    try:
        return load_settings(
            os.environ, state.config_file, overrides, require_public_url=require_public_url
        )
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"authgate: bad setting: {problem}", err=True)
        sys.exit(2)


def run_store(ctx: click.Context, action: Callable[[Any], Awaitable[T]]) -> T:
    """Open (and migrate) the store, run ``action(store)``, close it; errors in one line."""
    settings = load(ctx)

    async def main() -> T:
        from authgate.storage.migrate import upgrade
        from authgate.storage.revision import open_store

        store = open_store(settings)
        try:
            try:
                await upgrade(store.engine)
            except (OSError, SQLAlchemyError) as exc:
                raise StoreError(f"cannot open the store {store.safe_url}: {_line(exc)}") from exc
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except AuthgateError as exc:
        click.echo(f"authgate: {exc}", err=True)
        sys.exit(1)
    except (OSError, SQLAlchemyError) as exc:
        click.echo(
            f"authgate: the store {redact_url(settings.database_url)} failed: {_line(exc)}",
            err=True,
        )
        sys.exit(1)


def _line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop the command with one clear line (exit 2: bad input; 1: the work failed)."""
    click.echo(f"authgate: {message}", err=True)
    sys.exit(code)


def emit(as_json: bool, data: Any, text: str | Callable[[], str]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(text() if callable(text) else text)


def table(rows: list[list[str]], headers: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def read_password(password_stdin: bool, prompt: str = "Password") -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        click.echo("authgate: the password must have at least 8 characters", err=True)
        sys.exit(2)
    return password
