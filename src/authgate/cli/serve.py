"""``authgate serve`` and ``authgate migrate``."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from authgate.cli.command import emit, fail, json_option, load, run_store
from authgate.errors import ConflictError
from authgate.forward.model import AppView
from authgate.storage.store import Store

if TYPE_CHECKING:
    from authgate.config import Settings
from authgate.config.secret import redact_url


@click.command()
@click.option("--host", help="Listen address (default 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (default 9000).")
@click.option("--workers", type=int, help="Worker processes (default 1).")
@click.option("--server", type=click.Choice(["granian", "uvicorn"]), help="ASGI server.")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, workers: int | None, server: str | None
) -> None:
    """Run authgate: the forward-auth endpoints, the flow and the login portal."""
    overrides = {"host": host, "port": port, "workers": workers, "server": server}
    settings = load(ctx, overrides, require_public_url=True)
    port_problem = port_in_use(settings.host, settings.port)
    if port_problem:
        fail(f"cannot listen on {settings.host}:{settings.port}: {port_problem}", 1)
    set_up_first_start(ctx, settings)
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"AUTHGATE_{key.upper()}"] = str(value)
    if ctx.obj.config_file is not None:
        os.environ["AUTHGATE_CONFIG"] = str(ctx.obj.config_file)
    if any(net.prefixlen == 0 for net in settings.trusted_proxies):
        click.echo(
            "authgate: WARNING: AUTHGATE_TRUSTED_PROXIES trusts every address: any client can "
            "choose the host and address authgate judges",
            err=True,
        )
    click.echo(
        f"authgate: serving on http://{settings.host}:{settings.port} "
        f"(portal {settings.public_url}, store {redact_url(settings.database_url)})",
        err=True,
    )
    with metrics_dir():
        run_server(settings)


@contextlib.contextmanager
def metrics_dir() -> Iterator[str]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for this start's workers, removed when it ends: the
    workers' metrics add up in one scrape, and nothing of a previous run is counted."""
    path = tempfile.mkdtemp(prefix="authgate-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def set_up_first_start(ctx: click.Context, settings: Settings) -> None:
    """Make, once and before any worker starts, everything a first start makes: the migrated
    store, its signing keys (or the import of an older data dir's key files) and the first
    admin. An override key file that cannot be used stops the start here, in one line.
    Workers only read."""

    async def first_start(store: Store) -> None:
        from authgate.web.keys import ensure_keys, load_keys

        await ensure_keys(
            settings, store, say=lambda line: click.echo(f"authgate: {line}", err=True)
        )
        await load_keys(settings, store)
        await create_first_admin(store)

    run_store(ctx, first_start)


async def create_first_admin(store: Store) -> None:
    from authgate.accounts.passwords import generate_password, hash_password_async

    report_conflicts(await store.load_apps())
    if await store.count_users() != 0:
        return
    password = generate_password()
    try:
        await store.add_user(
            "admin",
            name="Administrator",
            groups=["admins"],
            password_hash=await hash_password_async(password),
        )
    except ConflictError:  # another instance on the same store made it at the same moment
        return
    click.echo(
        "authgate: first start: created user 'admin' (group 'admins') with password:\n"
        f"\n    {password}\n\n"
        "  It is shown only this once. Change it with: authgate user set-password admin",
        err=True,
    )


def run_server(settings: Settings) -> None:
    target = "authgate.server:app_from_environment"
    if settings.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            target,
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level="warning",
            access_log=False,
        )
        return
    from granian import Granian
    from granian.constants import Interfaces

    try:
        Granian(
            target,
            factory=True,
            address=settings.host,
            port=settings.port,
            interface=Interfaces.ASGI,
            workers=settings.workers,
            log_access=False,
            # authgate serves no WebSocket: a check that carries the client's Upgrade (Caddy's
            # forward_auth) is then handed over as the plain GET it is
            websockets=False,
        ).serve()
    except OSError as exc:
        fail(f"cannot listen on {settings.host}:{settings.port}: {exc}", 1)


def port_in_use(host: str, port: int) -> str:
    """Why the address cannot be bound, or "" when it can. granian itself binds with
    SO_REUSEPORT and would silently share a port with another running server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR, as servers set it: connections in TIME_WAIT from a server that just
        # stopped do not count, a socket still listening there does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is in use (is authgate already running?)"
            return exc.strerror or str(exc)
    return ""


def report_conflicts(apps: list[AppView]) -> None:
    """Hosts or cookie domains that more than one app claims (a store written before the
    rule of one app per host): refused while they last, said once at start."""
    from authgate.forward.apps import find_conflicts

    for conflict in find_conflicts(apps):
        click.echo(
            f"authgate: ERROR: {conflict.reason}; requests for it are refused. Fix: {conflict.fix}",
            err=True,
        )


@click.command()
@json_option
@click.pass_context
def migrate(ctx: click.Context, as_json: bool) -> None:
    """Apply database migrations (serve does this on start too)."""

    async def action(store: Store) -> str:
        from authgate.storage.migrate import current

        return await current(store.engine) or "none"

    revision = run_store(ctx, action)
    emit(as_json, {"revision": revision}, f"store is at revision {revision}")
