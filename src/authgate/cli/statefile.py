"""``authgate apply -f FILE`` and ``authgate export``: users, groups and apps as a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from authgate.cli.command import emit, fail, json_option, run_store


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}")


@click.command("apply")
@click.option("-f", "--file", "path", required=True, help="The state file (- for stdin).")
@click.option("--dry-run", is_flag=True, help="Print the changes; change nothing.")
@click.option("--prune", is_flag=True, help="Also delete users, groups and apps the file omits.")
@json_option
@click.pass_context
def apply(ctx: click.Context, path: str, dry_run: bool, prune: bool, as_json: bool) -> None:
    """Make users, groups and apps match a file (as written by authgate export)."""
    from authgate.errors import ConfigError
    from authgate.statefile.apply import carry_out, current_state
    from authgate.statefile.model import parse_state
    from authgate.statefile.plan import Change, plan
    from authgate.storage.store import Store

    try:
        desired = parse_state(_read(path))
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"authgate: {path}: {problem}", err=True)
        sys.exit(2)

    async def action(store: Store) -> list[Change]:
        current = await current_state(store)
        try:
            changes = plan(current, desired, prune=prune)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"authgate: {path}: {problem}", err=True)
            sys.exit(2)
        if not dry_run:
            await carry_out(store, current, changes)
        return changes

    changes = run_store(ctx, action)
    real = [c for c in changes if c.action != "keep"]
    if dry_run:
        summary = f"{len(real)} change(s) planned (dry run: nothing changed)"
    else:
        summary = f"applied {len(real)} change(s)" if real else "nothing to change"
    emit(
        as_json,
        {"dry_run": dry_run, "changes": [c.as_data() for c in changes]},
        "\n".join([*(c.describe() for c in changes), summary]),
    )


@click.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@json_option
@click.pass_context
def export(ctx: click.Context, output: Path | None, as_json: bool) -> None:
    """Write users, groups and apps in the format apply reads (never passwords)."""
    from authgate.deploy.serialize import dump_mapping
    from authgate.statefile.apply import current_state
    from authgate.statefile.model import state_data

    data: dict[str, Any] = state_data(run_store(ctx, current_state))
    if as_json:
        emit(True, data, "")
        return
    text = dump_mapping(data, "authgate state: apply with authgate apply -f FILE (no passwords)")
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", 1)
    click.echo(f"wrote {output}", err=True)
