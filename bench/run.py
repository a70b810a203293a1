"""The whole run: echo and the proxies once, authgate once per ASGI server on the same port
and data (the session cookies stay valid), and each selected scenario measured under it."""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.proxyconf import UPSTREAM_HEADERS, ingress_nginx_conf, traefik_dynamic
from tests.e2e.servers import Authgate, Echo, Nginx, Process, Traefik

from bench.floor import FloorApp, floor_nginx_conf, floor_scenarios, ingress_shaped_server
from bench.login import log_in_everywhere
from bench.measure import Context, failed, measure
from bench.progress import log
from bench.report import combine
from bench.scale import BACKENDS, ScaleStore, role_of, scale_nginx_conf, scale_scenario
from bench.scale_rows import Sizes
from bench.scenarios import (
    CACHE_APP,
    GROUP,
    NGINX_APP,
    NGINX_KEEPALIVE_APP,
    PASSWORD,
    PLAIN_HOST,
    TRAEFIK_APP,
    USER,
    Load,
    Ports,
    Scenario,
    scenarios,
)
from bench.servers import Servers


def run(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Echo and the proxies for the whole run; authgate once per ASGI server, same data."""
    load = Load(args.threads, args.connections, args.duration, args.warmup)
    if args.smoke:
        load = Load(args.threads, args.connections, 1, 0, settle_limit_s=2.0)
    result["load"] = {**asdict(load), "rounds": 1 if args.smoke else args.rounds}
    only = re.compile(args.only) if args.only else None
    state = _Run(args, result, load, only)
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="authgate-bench-"))
        result["workdir"] = str(workdir)
        stack.push(
            lambda kind, exc, tb: _remove_workdir(
                workdir, args.keep_workdir or isinstance(exc, Exception), result
            )
        )
        log(f"servers' logs and data in {workdir}")
        echo = stack.enter_context(Echo(workdir / "echo"))
        state.servers.by_role["echo"] = echo
        if state.floor_selected():
            floor = stack.enter_context(FloorApp(workdir / "floor", state.ports.floor))
            state.servers.by_role["floor"] = floor
        for server in args.servers:
            if state.selected(server):
                _run_under(state, server, stack, workdir, echo.port)


@dataclass
class _Run:
    """What the scenarios of every server share: ports, running servers, sessions, reports."""

    args: argparse.Namespace
    result: dict[str, Any]
    load: Load
    only: re.Pattern[str] | None
    ports: Ports = field(default_factory=Ports)
    servers: Servers = field(default_factory=Servers)
    cookies: dict[str, str] = field(default_factory=dict)
    login_errors: dict[str, str] = field(default_factory=dict)
    prepared: bool = False
    scale: dict[str, ScaleStore] = field(default_factory=dict)  # by backend, once seeded
    scale_errors: dict[str, str] = field(default_factory=dict)

    @property
    def rounds(self) -> int:
        return 1 if self.args.smoke else max(int(self.args.rounds), 1)

    @property
    def reports(self) -> list[dict[str, Any]]:
        reports: list[dict[str, Any]] = self.result["scenarios"]
        return reports

    def floor_selected(self) -> bool:
        return "granian" in self.args.servers and any(
            s.name.startswith("floor_") for s in self.selected("granian")
        )

    def scale_scenario(self, backend: str) -> Scenario:
        store = self.scale.get(backend)
        if store is not None and store.seeded is not None and store.seeded.pairs:
            return store.scenario()
        return scale_scenario(backend, self.ports, "", "", "", None)  # reported as failed

    def selected(self, server: str) -> list[Scenario]:
        chosen = scenarios(self.ports, self.cookies, server)
        if server == "granian":
            chosen += floor_scenarios(self.ports, server)
            chosen += [self.scale_scenario(backend) for backend in BACKENDS]
        return [s for s in chosen if self.only is None or self.only.search(f"{server}:{s.name}")]


def _run_under(
    state: _Run, server: str, stack: contextlib.ExitStack, workdir: Path, echo_port: int
) -> None:
    """authgate under ``server`` (set up the first time), its scenarios, authgate stopped.
    A set-up that fails fails this server's scenarios; the run goes on."""
    with contextlib.ExitStack() as phase:
        try:
            authgate = _start_authgate(state, server, phase, workdir)
            if not state.prepared:
                state.prepared = True
                _prepare(state, authgate, stack, workdir, echo_port)
        except Exception as exc:
            error = f"set-up under {server} failed: {type(exc).__name__}: {exc}"
            log(error[:500])
            state.reports.extend(failed(s, error[:4000]) for s in state.selected(server))
            return
        if server == "granian":
            _start_scale_stores(state, server, phase, workdir)
        profile = set(state.args.profile)
        ctx = Context(state.load, state.servers, authgate, profile, state.result["stamp"])
        chosen = state.selected(server)
        rounds: dict[str, list[dict[str, Any]]] = {s.name: [] for s in chosen}
        for number in range(state.rounds):
            if state.rounds > 1:
                log(f"round {number + 1} of {state.rounds} under {server}")
            for scenario in chosen:
                rounds[scenario.name].append(_measure_or_skip(state, ctx, scenario))
        state.reports.extend(combine(rounds[s.name]) for s in chosen)


def _start_scale_stores(
    state: _Run, server: str, phase: contextlib.ExitStack, workdir: Path
) -> None:
    """The scale run's stores, seeded, each with its authgate, for this server's rounds;
    one that fails is reported in its scenario, the run goes on."""
    sizes = Sizes(state.args.scale_sessions, state.args.scale_apps)
    state.result["scale"] = {}
    for backend in BACKENDS:
        if not any(s.name == f"scale_{backend}" for s in state.selected(server)):
            continue
        store = ScaleStore(backend, sizes, state.args.scale_pairs, workdir, state.ports)
        state.scale[backend] = store
        state.result["scale"][backend] = store.report
        try:
            authgate = phase.enter_context(store.running(authgate_env(server)))
        except Exception as exc:
            error = f"scale run on {backend} failed: {type(exc).__name__}: {exc}"
            log(error[:500])
            state.scale_errors[backend] = error[:4000]
            store.report["error"] = error[:4000]
            continue
        state.servers.by_role[role_of(backend)] = authgate
        phase.callback(state.servers.by_role.pop, role_of(backend), None)


def _start_authgate(
    state: _Run, server: str, phase: contextlib.ExitStack, workdir: Path
) -> Authgate:
    log(f"starting authgate under {server} on port {state.ports.auth}")
    authgate = phase.enter_context(
        Authgate(workdir / "authgate", authgate_env(server), state.ports.auth)
    )
    state.servers.by_role["authgate"] = authgate
    phase.callback(state.servers.by_role.pop, "authgate", None)
    return authgate


def _prepare(
    state: _Run, authgate: Authgate, stack: contextlib.ExitStack, workdir: Path, echo_port: int
) -> None:
    """Once, under the first server: the accounts, the proxies, a session per app."""
    set_up_accounts(authgate, state.ports)
    cached = cached_nginx_conf(authgate, state.ports, echo_port)
    start_proxies(stack, state.servers, workdir, state.ports, echo_port, cached)
    found, problems = log_in_everywhere(state.ports)
    state.cookies.update(found)
    state.login_errors.update(problems)
    state.result["login"] = {"user": USER, "apps": sorted(found), "errors": problems}


def _measure_or_skip(state: _Run, ctx: Context, scenario: Scenario) -> dict[str, Any]:
    """A scenario whose proxy did not start or whose login failed is reported, not run."""
    if scenario.via != "direct" and scenario.via not in state.servers.by_role:
        return failed(scenario, f"{scenario.via} did not start")
    if scenario.auth_role not in state.servers.by_role:
        backend = scenario.name.removeprefix("scale_")
        return failed(scenario, state.scale_errors.get(backend, f"{scenario.auth_role} missing"))
    if scenario.cookie_of and scenario.cookie_of not in state.cookies:
        why = state.login_errors.get(scenario.cookie_of, "no login")
        return failed(scenario, f"no session cookie: {why}")
    return measure(ctx, scenario)


def nginx_conf(ports: Ports, echo_port: int, cached: str = "") -> str:
    """Seed 000 in the ingress-nginx shape, plus ``plain.test``: the same location, no auth;
    plus ``cached``, the generated config with ``--auth-cache`` for ``app-cache.test``."""
    seed = ingress_nginx_conf(ports.nginx, ports.auth, [(NGINX_APP, echo_port)])
    plain = f"""
    # bench baseline: the protected location's proxy settings without auth_request
    server {{
        listen 127.0.0.1:{ports.nginx};
        server_name {PLAIN_HOST};
        location / {{
{UPSTREAM_HEADERS}
            proxy_set_header Host $http_host;
            proxy_pass http://127.0.0.1:{echo_port};
        }}
    }}
"""
    keepalive = keepalive_app_server(ports, echo_port)
    floor = floor_nginx_conf(ports.nginx, ports.second_nginx, ports.floor, echo_port)
    scale = scale_nginx_conf(ports, echo_port)
    return seed + plain + keepalive + floor + cached + scale


def keepalive_app_server(ports: Ports, echo_port: int) -> str:
    """(d): the seed's server for ``NGINX_KEEPALIVE_APP`` with its auth subrequest sent over
    an upstream that keeps connections to authgate alive."""
    server = ingress_shaped_server(
        ports.nginx, NGINX_KEEPALIVE_APP, echo_port, "bench_authgate_keepalive", keepalive=True
    )
    return f"""
    # bench (d): keepalive from nginx to authgate
    upstream bench_authgate_keepalive {{
        server 127.0.0.1:{ports.auth};
        keepalive 64;
    }}
{server}"""


def cached_nginx_conf(authgate: Authgate, ports: Ports, echo_port: int) -> str:
    """``authgate manifests --target nginx --auth-cache 1s`` for app ``cacheapp``, its cache
    directory inside nginx's prefix."""
    text = authgate.cli(
        "manifests",
        "cacheapp",
        "--target",
        "nginx",
        "--backend",
        f"127.0.0.1:{echo_port}",
        "--auth-service",
        authgate.url,
        "--listen",
        f"127.0.0.1:{ports.nginx}",
        "--auth-cache",
        "1s",
    ).stdout
    return text.replace("proxy_cache_path /var/cache/nginx/", "proxy_cache_path ")


def authgate_env(server: str) -> dict[str, str]:
    return {"AUTHGATE_LOG_LEVEL": "warning", "AUTHGATE_SERVER": server, "AUTHGATE_WORKERS": "1"}


def set_up_accounts(authgate: Authgate, ports: Ports) -> None:
    authgate.cli("group", "add", GROUP)
    authgate.cli("user", "add", USER, "--group", GROUP, "--password-stdin", input=PASSWORD)
    for slug, host, port in (
        ("nginxapp", NGINX_APP, ports.nginx),
        ("traefikapp", TRAEFIK_APP, ports.traefik),
        ("nginxkaapp", NGINX_KEEPALIVE_APP, ports.nginx),
        ("cacheapp", CACHE_APP, ports.nginx),
    ):
        authgate.cli("app", "add", slug, "--url", f"http://{host}:{port}", "--group", GROUP)
        authgate.wait_for_app(f"{host}:{port}")


def start_proxies(
    stack: contextlib.ExitStack,
    servers: Servers,
    workdir: Path,
    ports: Ports,
    echo_port: int,
    cached: str = "",
) -> None:
    """nginx and Traefik for the whole run; one that fails is left out, not fatal."""
    builders: dict[str, Callable[[], Process]] = {
        "nginx": lambda: Nginx(
            nginx_conf(ports, echo_port, cached), workdir / "nginx", ports.nginx
        ),
        "traefik": lambda: Traefik(
            traefik_dynamic(ports.auth, [(TRAEFIK_APP, echo_port)]),
            workdir / "traefik",
            ports.traefik,
        ),
    }
    for role, build in builders.items():
        try:
            servers.by_role[role] = stack.enter_context(build())
        except Exception as exc:
            log(f"{role} did not start: {exc}")


def _remove_workdir(workdir: Path, keep: bool, result: dict[str, Any]) -> bool:
    """Logs stay when asked for or when something failed (the report names the place).
    Returns False: an exception that ends the run goes on to the caller."""
    if keep or any(s.get("error") for s in result["scenarios"]):
        log(f"kept {workdir}")
        return False
    shutil.rmtree(workdir, ignore_errors=True)
    result["workdir"] = None
    return False
