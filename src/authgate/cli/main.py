"""``authgate`` — the command group. Subcommands are imported only when used."""

from __future__ import annotations

from pathlib import Path

import click

from authgate import __version__
from authgate.cli.command import CliState

SUBCOMMANDS = {
    "serve": ("authgate.cli.serve", "serve"),
    "migrate": ("authgate.cli.serve", "migrate"),
    "user": ("authgate.cli.users", "user"),
    "group": ("authgate.cli.groups", "group"),
    "app": ("authgate.cli.apps", "app"),
    "session": ("authgate.cli.sessions", "session"),
    "explain": ("authgate.cli.explain", "explain"),
    "audit": ("authgate.cli.audit", "audit"),
    "manifests": ("authgate.cli.manifests", "manifests"),
    "apply": ("authgate.cli.statefile", "apply"),
    "export": ("authgate.cli.statefile", "export"),
    "doctor": ("authgate.cli.doctor", "doctor"),
    "import": ("authgate.cli.imports", "import_"),
    "keys": ("authgate.cli.keys", "keys"),
    "token": ("authgate.cli.tokens", "token"),
    "app-password": ("authgate.cli.tokens", "app_password"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        import importlib

        module, attr = SUBCOMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


@click.group(cls=LazyGroup)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="AUTHGATE_CONFIG",
    help="YAML settings file (AUTHGATE_* variables override it).",
)
@click.version_option(__version__, prog_name="authgate")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None) -> None:
    """authgate: one login in front of every app behind your reverse proxy."""
    ctx.obj = CliState(config_file)


def main() -> None:
    cli(prog_name="authgate")
