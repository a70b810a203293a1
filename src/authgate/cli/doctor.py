"""``authgate doctor``: what in a proxy setup breaks forward auth, and how to fix it."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import TYPE_CHECKING

import click

from authgate.cli.command import CliState
from authgate.forward.model import AppView

if TYPE_CHECKING:
    from authgate.doctor.findings import Finding


def known_apps(ctx: click.Context) -> tuple[list[AppView] | None, str]:
    """authgate's apps when its settings and store are reachable; never creates either."""
    from authgate.config import load_settings
    from authgate.doctor.registered import registered_apps
    from authgate.errors import ConfigError

    state: CliState = ctx.find_object(CliState) or CliState(None)
    try:
        settings = load_settings(os.environ, state.config_file)
    except ConfigError as exc:
        return None, f"the settings are not usable ({exc.problems[0]})"
    return registered_apps(settings.database_url)


def parse_resolve(values: tuple[str, ...]) -> dict[str, str]:
    """``HOST:IP`` (or curl's ``HOST:PORT:IP``) pairs."""
    import ipaddress

    found: dict[str, str] = {}
    for value in values:
        host, _, rest = value.partition(":")
        port, sep, tail = rest.partition(":")
        address = (tail if sep and port.isdigit() else rest).strip("[]")
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise click.BadParameter(
                f"{value!r}: expected HOST:IP", param_hint="--resolve"
            ) from None
        found[host.lower()] = address
    return found


@click.command()
@click.argument("paths", nargs=-1, metavar="[FILE|DIR|-]...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--url", help="Probe this protected URL from outside, step by step like a browser.")
@click.option("--resolve", multiple=True, metavar="HOST:IP", help="Reach HOST at IP (repeat).")
@click.option("--user", help="With --url: go on through the login form as this user.")
@click.option("--password-stdin", is_flag=True, help="With --user: read the password from stdin.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
@click.option("--store", "store_only", is_flag=True, help="Check authgate's own apps only.")
@click.pass_context
def doctor(
    ctx: click.Context,
    paths: tuple[str, ...],
    fmt: str,
    as_json: bool,
    url: str | None,
    resolve: tuple[str, ...],
    user: str | None,
    password_stdin: bool,
    timeout: float,
    store_only: bool,
) -> None:
    """Find what breaks forward auth: in Kubernetes manifests (Ingress, IngressRoute, Helm
    output), Traefik file-provider YAML, nginx configs or Caddyfiles given as FILE, DIR or -
    (stdin); or live, from outside, with --url; or only authgate's own apps with --store
    (two apps for one host). Exits 1 when it finds an error."""
    from authgate.doctor.findings import as_json as json_text
    from authgate.doctor.findings import as_text, has_errors

    if not paths and not url and not store_only:
        raise click.UsageError(
            "give manifests or configs (FILE, DIR or - for stdin), --url URL, or --store"
        )
    if password_stdin and "-" in paths:
        raise click.UsageError("--password-stdin and - (manifests on stdin) cannot share stdin")
    if bool(user) != password_stdin:
        raise click.UsageError("--user and --password-stdin go together")
    if user and not url:
        raise click.UsageError("--user is for the live check: give --url too")
    findings = _static(ctx, paths) if paths or store_only else []
    if url:
        findings += _live(url, parse_resolve(resolve), user, password_stdin, timeout)
    click.echo(json_text(findings) if as_json or fmt == "json" else as_text(findings))
    sys.exit(1 if has_errors(findings) else 0)


def _static(ctx: click.Context, paths: tuple[str, ...]) -> list[Finding]:
    from authgate.doctor import registry, sources
    from authgate.doctor.survey import Survey

    inputs = sources.read(paths, sys.stdin)
    apps, note = known_apps(ctx)
    if not paths:
        return _store_only(apps, note)
    return registry.run(Survey(inputs, apps, note))


def _store_only(apps: list[AppView] | None, note: str) -> list[Finding]:
    """``--store`` alone: the store's own problems, or why it could not be read."""
    from authgate.doctor import checks_routes, registry
    from authgate.doctor.findings import error, info
    from authgate.doctor.sources import Inputs
    from authgate.doctor.survey import Survey

    if apps is None:
        return [error("store-unreadable", "authgate store", note, "check --config / AUTHGATE_*")]
    found = registry.run(Survey(Inputs(), apps, note), (checks_routes.app_conflicts,))
    return found or [info("store-ok", "authgate store", f"{len(apps)} app(s), one per host")]


def _live(
    url: str, resolve: dict[str, str], user: str | None, password_stdin: bool, timeout: float
) -> list[Finding]:
    if importlib.util.find_spec("httpx") is None:  # the one library only the probe needs
        click.echo("authgate: doctor --url needs httpx (pip install httpx)", err=True)
        sys.exit(2)
    from authgate.doctor import probe

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    return probe.run(url, resolve=resolve, user=user, password=password, timeout=timeout)
