"""Forward-auth load benchmark through real proxies: ``make bench``.

Starts, on 127.0.0.1 only, the echo app (the protected upstream), authgate, nginx in the
ingress-nginx shape of seed 000 and Traefik with seed 003's forwardAuth middleware (the
configurations come from ``tests/e2e/proxyconf.py``), logs in once through the real flow with
httpx, then drives each scenario with ``wrk`` (a short warm-up, then a bounded measured run).

Prints one JSON document to stdout and writes it to ``bench/results/<timestamp>.json``.
Progress goes to stderr. Every server is stopped at the end, also on Ctrl-C, SIGTERM or a
failure; a scenario that fails is reported with its error and the run goes on.

See ``bench/README.md`` for what each number means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the e2e helpers start the real servers

from tests.e2e.proxyconf import (  # noqa: E402
    OUTPOST,
    PROBE_HOST,
    UPSTREAM_HEADERS,
    ingress_nginx_conf,
    traefik_dynamic,
)
from tests.e2e.servers import (  # noqa: E402
    BIN,
    NGINX,
    Authgate,
    Echo,
    Nginx,
    Process,
    Traefik,
    free_port,
)

WRK = shutil.which("wrk") or "/usr/bin/wrk"
PY_SPY = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
NGINX_APP = "app-nginx.test"  # protected by nginx (ingress-nginx shape)
TRAEFIK_APP = "app-traefik.test"  # protected by Traefik forwardAuth
PLAIN_HOST = "plain.test"  # nginx -> echo, the protected location's shape without auth
USER, PASSWORD, GROUP = "bench", "bench password that is long enough", "staff"
PATH = "/bench/page?q=1"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# load settings and scenarios
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    threads: int = 2
    connections: int = 32
    duration_s: int = 10
    warmup_s: int = 2
    timeout_s: int = 5


@dataclass(frozen=True)
class Check:
    """What one request of the scenario must give before it is measured."""

    status: int
    user: str | None = None  # the identity the echo app (or authgate's 200) must carry
    location_has: str | None = None  # for a redirect: a part of its Location


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # the ASGI server authgate runs under: granian | uvicorn
    via: str  # nginx | traefik | direct
    description: str
    url: str
    headers: dict[str, str]
    check: Check
    cookie_of: str | None = None  # the app host whose session cookie the requests carry


@dataclass
class Ports:
    auth: int = field(default_factory=free_port)
    nginx: int = field(default_factory=free_port)
    traefik: int = field(default_factory=free_port)


def scenarios(ports: Ports, cookies: dict[str, str], server: str) -> list[Scenario]:
    """Every scenario for authgate under ``server``; ``cookies`` maps app host -> Cookie."""
    nginx = f"http://127.0.0.1:{ports.nginx}{PATH}"
    traefik = f"http://127.0.0.1:{ports.traefik}{PATH}"
    direct = f"http://127.0.0.1:{ports.auth}{OUTPOST}/auth/nginx"
    nginx_host = f"{NGINX_APP}:{ports.nginx}"
    traefik_host = f"{TRAEFIK_APP}:{ports.traefik}"
    browser = {"Accept": BROWSER_ACCEPT}
    direct_headers = {
        "X-Original-URL": f"http://{nginx_host}{PATH}",
        "X-Original-Method": "GET",
        "Cookie": cookies.get(NGINX_APP, ""),
    }
    valid = Check(200, user=USER)
    both: list[Scenario] = [
        Scenario(
            "direct_keepalive",
            server,
            "direct",
            "wrk -> authgate auth/nginx, valid cookie, keep-alive: the raw check rate",
            direct,
            direct_headers,
            valid,
            NGINX_APP,
        ),
        Scenario(
            "direct_new_connection",
            server,
            "direct",
            "wrk -> authgate auth/nginx, valid cookie, Connection: close (a new TCP "
            "connection per check, as ingress-nginx's auth subrequest does by default)",
            direct,
            {**direct_headers, "Connection": "close"},
            valid,
            NGINX_APP,
        ),
        Scenario(
            "nginx_valid_cookie",
            server,
            "nginx",
            "wrk -> nginx (ingress-nginx shape) -auth_request-> authgate auth/nginx -> 200; "
            "nginx -> echo",
            nginx,
            {"Host": nginx_host, "Cookie": cookies.get(NGINX_APP, ""), **browser},
            valid,
            NGINX_APP,
        ),
    ]
    if server != "granian":
        return both
    return [
        Scenario(
            "nginx_baseline_no_auth",
            server,
            "nginx",
            "wrk -> nginx -> echo, the protected location's shape without auth_request: "
            "the cost of the proxy and the upstream alone",
            nginx,
            {"Host": f"{PLAIN_HOST}:{ports.nginx}", **browser},
            Check(200),
        ),
        both[2],
        Scenario(
            "nginx_anonymous",
            server,
            "nginx",
            "wrk -> nginx -auth_request-> authgate -> 401 -> nginx's auth-signin 302 "
            "(no cookie: every request is a login challenge)",
            nginx,
            {"Host": nginx_host, **browser},
            Check(302, location_has=f"{OUTPOST}/start?rd="),
        ),
        Scenario(
            "traefik_baseline_no_auth",
            server,
            "traefik",
            "wrk -> Traefik -> echo, a router without the forwardAuth middleware",
            traefik,
            {"Host": f"{PROBE_HOST}:{ports.traefik}", **browser},
            Check(200),
        ),
        Scenario(
            "traefik_valid_cookie",
            server,
            "traefik",
            "wrk -> Traefik -forwardAuth-> authgate auth/traefik -> 200; Traefik -> echo",
            traefik,
            {"Host": traefik_host, "Cookie": cookies.get(TRAEFIK_APP, ""), **browser},
            valid,
            TRAEFIK_APP,
        ),
        both[0],
        both[1],
    ]


# --------------------------------------------------------------------------------------------
# wrk: run and parse its --latency output
# --------------------------------------------------------------------------------------------

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


class WrkError(RuntimeError):
    pass


def to_ms(text: str) -> float:
    """wrk's ``850.00us`` / ``1.23ms`` / ``1.02s`` / ``1.00m`` as milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if match is None:
        raise WrkError(f"not a wrk duration: {text!r}")
    return round(float(match.group(1)) * _TIME_UNITS_MS[match.group(2)], 4)


def parse_wrk(output: str) -> dict[str, Any]:
    """The numbers of one ``wrk --latency`` run."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", output, re.M)
    if rate is None or total is None:
        raise WrkError(f"wrk gave no result:\n{output[-2000:]}")
    latency: dict[str, float | None] = dict.fromkeys(
        ("avg", "stdev", "max", "p50", "p75", "p90", "p99")
    )
    stats = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M)
    if stats is not None:
        for key, value in zip(("avg", "stdev", "max"), stats.groups(), strict=True):
            latency[key] = to_ms(value)
    for pct, value in re.findall(r"^\s*(50|75|90|99)%\s+(\S+)\s*$", output, re.M):
        latency[f"p{pct}"] = to_ms(value)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    if sockets is not None:
        socket_errors = dict(zip(socket_errors, map(int, sockets.groups()), strict=True))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    non_2xx_3xx = int(bad.group(1)) if bad else 0
    requests = int(total.group(1))
    return {
        "requests_per_s": float(rate.group(1)),
        "requests": requests,
        "duration_s": to_ms(total.group(2)) / 1000.0,
        "read": total.group(3),
        "latency_ms": latency,
        "non_2xx_3xx": non_2xx_3xx,
        "socket_errors": socket_errors,
        "errors_total": non_2xx_3xx + sum(socket_errors.values()),
        "error_rate": round((non_2xx_3xx + sum(socket_errors.values())) / max(requests, 1), 6),
    }


def wrk_command(load: Load, scenario: Scenario, seconds: int) -> list[str]:
    command = [
        WRK,
        f"--threads={load.threads}",
        f"--connections={load.connections}",
        f"--duration={seconds}s",
        f"--timeout={load.timeout_s}s",
        "--latency",
    ]
    for name, value in scenario.headers.items():
        command += ["--header", f"{name}: {value}"]
    return [*command, scenario.url]


def run_wrk(load: Load, scenario: Scenario, seconds: int) -> tuple[str, float]:
    """wrk's output and the CPU seconds wrk itself used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        wrk_command(load, scenario, seconds),
        capture_output=True,
        text=True,
        timeout=seconds + load.timeout_s + 30,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        raise WrkError(f"wrk exited with {result.returncode}: {result.stderr or result.stdout}")
    return result.stdout, cpu


# --------------------------------------------------------------------------------------------
# CPU time per server (all processes of its group) and what servers logged meanwhile
# --------------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every live process in process group ``pgid``."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine spent busy (all cores) and, of that, in softirq (where
    the kernel moves loopback packets), from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, first[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICK, softirq / _TICK


class Servers:
    """The running servers by role; CPU and log offsets read around a measured run."""

    def __init__(self) -> None:
        self.by_role: dict[str, Process] = {}

    def cpu(self) -> dict[str, float]:
        return {
            role: group_cpu_seconds(proc.proc.pid)
            for role, proc in self.by_role.items()
            if proc.proc is not None
        }

    def settle(
        self, quiet_cpu_s: float = 0.03, window_s: float = 0.5, limit_s: float = 15.0
    ) -> float:
        """Wait until our servers are idle (the last scenario's after-work, such as authgate
        writing its audit queue, must not count in the next); the seconds waited."""
        started = time.monotonic()
        before = self.cpu()
        while time.monotonic() - started < limit_s:
            time.sleep(window_s)
            after = self.cpu()
            if all(after[r] - before.get(r, 0.0) < quiet_cpu_s for r in after):
                break
            before = after
        return round(time.monotonic() - started, 1)

    def log_sizes(self) -> dict[str, int]:
        return {role: _size(log_file(proc)) for role, proc in self.by_role.items()}

    def new_log_lines(self, since: dict[str, int]) -> dict[str, dict[str, Any]]:
        """Warnings and errors each server logged after ``since`` (count and the first few)."""
        found: dict[str, dict[str, Any]] = {}
        for role, proc in self.by_role.items():
            path = log_file(proc)
            if not path.exists():
                continue
            with path.open("rb") as f:
                f.seek(since.get(role, 0))
                text = f.read(4_000_000).decode(errors="replace")
            text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # Traefik colours its log
            lines = [ln for ln in text.splitlines() if _is_problem(role, ln)]
            if lines:
                found[role] = {"lines": len(lines), "first": [ln[:300] for ln in lines[:5]]}
        return found


def log_file(proc: Process) -> Path:
    """nginx writes its problems to error.log; the others to their captured output."""
    return proc.workdir / "error.log" if isinstance(proc, Nginx) else proc.log


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _is_problem(role: str, line: str) -> bool:
    if role == "nginx":
        return any(f"[{lvl}]" in line for lvl in ("warn", "error", "crit", "alert", "emerg"))
    return bool(line.strip())  # authgate, echo and Traefik log only warnings and worse here


# --------------------------------------------------------------------------------------------
# logging in once through the real flow (like tests/e2e/conftest.py's login helper)
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def test_names_on_loopback() -> Iterator[None]:
    """``*.test`` resolves to 127.0.0.1 inside this process while the block runs."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        is_test = isinstance(name, str) and name.rstrip(".").lower().endswith(".test")
        return real("127.0.0.1" if is_test else host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


class _LoginForm(HTMLParser):
    """The form with a password field: its action, method and the fields to send back."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action = ""
        self.method = "GET"
        self.fields: dict[str, str] = {}
        self.has_password = False
        self._done = False
        self._current: tuple[str, str, dict[str, str], bool] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self._done:
            return
        if tag == "form":
            self._current = (a.get("action", ""), a.get("method", "get").upper(), {}, False)
        elif self._current is not None and tag == "input" and a.get("name"):
            action, method, fields, has_password = self._current
            kind = a.get("type", "text").lower()
            if kind == "password":
                has_password = True
            if kind not in ("checkbox", "radio", "submit", "file", "image", "password"):
                fields.setdefault(a["name"], a.get("value", ""))
            self._current = (action, method, fields, has_password)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._current is not None and not self._done:
            self.action, self.method, self.fields, self.has_password = self._current
            self._done = self.has_password
            self._current = None


def log_in(client: httpx.Client, url: str) -> str:
    """Open ``url`` through its proxy, sign in on the portal; the Cookie header for its host."""
    first = client.get(url, follow_redirects=True)
    form = _LoginForm()
    form.feed(first.text)
    if not form.has_password:
        raise RuntimeError(
            f"no login form at {first.url} ({first.status_code}): {first.text[:500]}"
        )
    target = first.url.join(form.action) if form.action else first.url
    fields = {**form.fields, "username": USER, "password": PASSWORD}
    after = client.request(form.method, target, data=fields, follow_redirects=True)
    seen = _echo_user(after)
    if after.status_code != 200 or seen != USER:
        raise RuntimeError(
            f"login did not end at the app as {USER!r}: {after.status_code} {after.url} "
            f"(user {seen!r})\n{after.text[:500]}"
        )
    return cookie_for(client, url)


def cookie_for(client: httpx.Client, url: str) -> str:
    """The Cookie header the client's jar sends to ``url``."""
    cookie = str(client.build_request("GET", url).headers.get("cookie", ""))
    if not cookie:
        raise RuntimeError(f"no cookie kept for {url} after the login")
    return cookie


def _echo_user(response: httpx.Response) -> str | None:
    """The identity the echo app received (its JSON), or authgate's own header on a 200."""
    if response.headers.get("content-type", "").startswith("application/json"):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return str(response.json()["headers"].get("x-authentik-username", "")) or None
    return response.headers.get("x-authentik-username") or None


def check(scenario: Scenario) -> dict[str, Any]:
    """One request exactly as wrk sends it; raises when it does not give what is expected."""
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        response = client.get(scenario.url, headers=scenario.headers)
    seen: dict[str, Any] = {"status": response.status_code}
    expected = scenario.check
    problems = []
    if response.status_code != expected.status:
        problems.append(f"status {response.status_code}, expected {expected.status}")
    if response.status_code == 200:
        seen["user"] = _echo_user(response)
        if seen["user"] != expected.user:
            problems.append(f"identity {seen['user']!r}, expected {expected.user!r}")
    if expected.location_has is not None:
        seen["location"] = response.headers.get("location", "")
        if expected.location_has not in seen["location"]:
            problems.append(f"Location {seen['location']!r} lacks {expected.location_has!r}")
    if problems:
        raise RuntimeError(f"check request failed: {'; '.join(problems)}: {response.text[:300]}")
    return seen


# --------------------------------------------------------------------------------------------
# py-spy (optional): where authgate spends its time in a scenario
# --------------------------------------------------------------------------------------------


def profile_run(
    load: Load, scenario: Scenario, authgate: Authgate, out: Path, seconds: int
) -> dict[str, Any]:
    """An extra wrk run with py-spy attached (the measured run stays unprofiled)."""
    if PY_SPY is None:
        raise RuntimeError("py-spy is not installed (.venv/bin/pip install py-spy)")
    assert authgate.proc is not None
    raw = out.with_suffix(".collapsed.txt")
    spy = subprocess.Popen(
        [
            *(PY_SPY, "record", "--pid", str(authgate.proc.pid), "--subprocesses"),
            *("--gil", "--rate", "250", "--duration", str(seconds + 1), "--format", "raw"),
            *("--output", str(raw)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)  # py-spy attaches
        output, _ = run_wrk(load, scenario, seconds)
        _, err = spy.communicate(timeout=seconds + 30)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait()
    if not raw.exists():
        raise RuntimeError(f"py-spy wrote nothing: {err[-1000:]}")
    summary = summarize_profile(raw.read_text())
    summary["collapsed_stacks"] = str(raw.relative_to(REPO) if raw.is_relative_to(REPO) else raw)
    summary["requests_per_s_while_profiled"] = parse_wrk(output)["requests_per_s"]
    return summary


HOT_PATH_FRAME = "ForwardAuthEndpoint.__call__"  # the raw ASGI callable of auth/*


def summarize_profile(collapsed: str, top: int = 15) -> dict[str, Any]:
    """Where the GIL-holding thread was, as shares of all samples.

    ``self``: the innermost function; ``total``: anywhere on the stack (authgate's own code
    only, so the server's frames above it do not fill the list); ``hot_path``: how the time
    inside the auth/* callable splits between the functions it calls.
    """
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    hot: Counter[str] = Counter()
    samples = in_hot_path = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short_frame(f) for f in stack.split(";") if not f.startswith("process ")]
        samples += count
        own[frames[-1] if frames else "(native)"] += count
        for frame in set(frames):
            if "(authgate/" in frame:
                total[frame] += count
        at = next((i for i, f in enumerate(frames) if f.startswith(HOT_PATH_FRAME)), None)
        if at is not None:
            in_hot_path += count
            hot[frames[at + 1] if at + 1 < len(frames) else f"{HOT_PATH_FRAME} itself"] += count

    def share(counter: Counter[str], of: int) -> list[dict[str, Any]]:
        return [
            {"function": name, "share": round(n / max(of, 1), 4)}
            for name, n in counter.most_common(top)
        ]

    return {
        "samples": samples,
        "hot_path_share": round(in_hot_path / max(samples, 1), 4),
        "self": share(own, samples),
        "total": share(total, samples),
        "hot_path": share(hot, in_hot_path),
    }


def _short_frame(frame: str) -> str:
    """``func (/long/path/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``."""
    match = re.fullmatch(r"(.*) \((.*?):\d+\)", frame.strip())
    if match is None:
        return frame.strip()
    name, path = match.groups()
    path = re.sub(r"^.*?(site-packages/|/src/|/lib/python3\.\d+/)", "", path)
    return f"{name} ({path})"


# --------------------------------------------------------------------------------------------
# one scenario
# --------------------------------------------------------------------------------------------


@dataclass
class Context:
    load: Load
    servers: Servers
    authgate: Authgate
    profile: set[str]
    stamp: str


def measure(ctx: Context, scenario: Scenario) -> dict[str, Any]:
    """Check, warm up, measure; every failure ends up in ``error``."""
    report: dict[str, Any] = {
        "name": scenario.name,
        "server": scenario.server,
        "via": scenario.via,
        "description": scenario.description,
        "url": scenario.url,
        "host": scenario.headers.get("Host", ""),
        "connection_close": scenario.headers.get("Connection") == "close",
        "error": None,
    }
    log(f"{scenario.server:8} {scenario.name}")
    try:
        report["settle_s"] = ctx.servers.settle()
        report["check"] = check(scenario)
        if ctx.load.warmup_s > 0:
            run_wrk(ctx.load, scenario, ctx.load.warmup_s)
        loadavg_before = os.getloadavg()[0]
        cpu_before, logs_before = ctx.servers.cpu(), ctx.servers.log_sizes()
        busy_before = machine_busy_seconds()
        output, wrk_cpu = run_wrk(ctx.load, scenario, ctx.load.duration_s)
        busy_after = machine_busy_seconds()
        busy, softirq = (a - b for a, b in zip(busy_after, busy_before, strict=True))
        cpu_after = ctx.servers.cpu()
        report.update(parse_wrk(output))
        requests = max(int(report["requests"]), 1)
        cpu = {r: cpu_after[r] - cpu_before.get(r, 0.0) for r in cpu_after}
        cpu["wrk"] = wrk_cpu
        # other sessions' work on the same machine: the noise in these numbers
        report["machine_busy_cores"] = round(busy / max(report["duration_s"], 0.001), 2)
        report["cpu_s_softirq"] = round(softirq, 3)
        report["cpu_s_not_ours"] = round(max(busy - softirq - sum(cpu.values()), 0.0), 3)
        report["other_load_cores"] = round(report["cpu_s_not_ours"] / report["duration_s"], 2)
        report["cpu_s"] = {r: round(s, 3) for r, s in cpu.items() if s > 0}
        report["cpu_us_per_request"] = {
            r: round(s * 1e6 / requests, 1) for r, s in cpu.items() if s > 0
        }
        report["loadavg_1m_before"] = round(loadavg_before, 2)
        report["server_log_problems"] = ctx.servers.new_log_lines(logs_before)
        report["wrk_output"] = output.strip().splitlines()
        if scenario.name in ctx.profile or f"{scenario.server}:{scenario.name}" in ctx.profile:
            out = RESULTS / f"{ctx.stamp}-{scenario.server}-{scenario.name}"
            log(f"         {scenario.name}: profiling authgate with py-spy")
            try:
                report["profile"] = profile_run(
                    ctx.load, scenario, ctx.authgate, out, ctx.load.duration_s
                )
            except Exception as exc:  # the measured numbers above still stand
                report["profile"] = {"error": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc(limit=6).splitlines()
        log(f"         {scenario.name} FAILED: {report['error'][:300]}")
    else:
        lat = report["latency_ms"]
        log(
            f"         {report['requests_per_s']:9.0f} req/s  p50 {lat['p50']} ms  "
            f"p99 {lat['p99']} ms  errors {report['errors_total']}"
        )
    return report


def failed(scenario: Scenario, error: str) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "server": scenario.server,
        "via": scenario.via,
        "description": scenario.description,
        "error": error,
    }


# --------------------------------------------------------------------------------------------
# the whole run
# --------------------------------------------------------------------------------------------


def nginx_conf(ports: Ports, echo_port: int) -> str:
    """Seed 000 in the ingress-nginx shape, plus ``plain.test``: the same location, no auth."""
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
    return seed + plain


def authgate_env(server: str) -> dict[str, str]:
    return {"AUTHGATE_LOG_LEVEL": "warning", "AUTHGATE_SERVER": server, "AUTHGATE_WORKERS": "1"}


def set_up_accounts(authgate: Authgate, ports: Ports) -> None:
    authgate.cli("group", "add", GROUP)
    authgate.cli("user", "add", USER, "--group", GROUP, "--password-stdin", input=PASSWORD)
    for slug, host, port in (
        ("nginxapp", NGINX_APP, ports.nginx),
        ("traefikapp", TRAEFIK_APP, ports.traefik),
    ):
        authgate.cli("app", "add", slug, "--url", f"http://{host}:{port}", "--group", GROUP)
        authgate.wait_for_app(f"{host}:{port}")


def log_in_everywhere(ports: Ports) -> tuple[dict[str, str], dict[str, str]]:
    """One portal login (through nginx), then SSO into the Traefik app: a Cookie per app
    host, and the error for each app whose login failed (its scenarios report it)."""
    cookies: dict[str, str] = {}
    errors: dict[str, str] = {}
    apps = ((NGINX_APP, ports.nginx), (TRAEFIK_APP, ports.traefik))
    with (
        test_names_on_loopback(),
        httpx.Client(trust_env=False, timeout=15.0, headers={"Accept": BROWSER_ACCEPT}) as c,
    ):
        for host, port in apps:
            try:
                cookies[host] = log_in_sso(c, f"http://{host}:{port}/")
            except Exception as exc:
                errors[host] = f"login at {host}:{port} failed: {type(exc).__name__}: {exc}"
                log(errors[host][:300])
    return cookies, errors


def log_in_sso(client: httpx.Client, url: str) -> str:
    """Sign in at ``url``; with a portal session already there, no password is asked."""
    response = client.get(url, follow_redirects=True)
    if _echo_user(response) == USER:
        return cookie_for(client, url)
    return log_in(client, url)


def run(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Echo and the proxies for the whole run; authgate once per ASGI server, same data."""
    load = Load(args.threads, args.connections, args.duration, args.warmup)
    result["load"] = asdict(load)
    only = re.compile(args.only) if args.only else None
    ports = Ports()
    servers = Servers()
    reports: list[dict[str, Any]] = result["scenarios"]
    cookies: dict[str, str] = {}
    login_errors: dict[str, str] = {}

    def selected(server: str) -> list[Scenario]:
        chosen = scenarios(ports, cookies, server)
        return [s for s in chosen if only is None or only.search(f"{server}:{s.name}")]

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
        servers.by_role["echo"] = echo
        prepared = False
        for server in args.servers:
            if not selected(server):
                continue
            with contextlib.ExitStack() as phase:
                try:
                    log(f"starting authgate under {server} on port {ports.auth}")
                    authgate = phase.enter_context(
                        Authgate(workdir / "authgate", authgate_env(server), ports.auth)
                    )
                    servers.by_role["authgate"] = authgate
                    phase.callback(servers.by_role.pop, "authgate", None)
                    if not prepared:
                        prepared = True
                        set_up_accounts(authgate, ports)
                        start_proxies(stack, servers, workdir, ports, echo.port)
                        found, problems = log_in_everywhere(ports)
                        cookies.update(found)
                        login_errors.update(problems)
                        result["login"] = {"user": USER, "apps": sorted(found), "errors": problems}
                except Exception as exc:
                    error = f"set-up under {server} failed: {type(exc).__name__}: {exc}"
                    log(error[:500])
                    reports.extend(failed(s, error[:4000]) for s in selected(server))
                    continue
                ctx = Context(load, servers, authgate, set(args.profile), result["stamp"])
                for scenario in selected(server):
                    if scenario.via != "direct" and scenario.via not in servers.by_role:
                        reports.append(failed(scenario, f"{scenario.via} did not start"))
                        continue
                    if scenario.cookie_of and scenario.cookie_of not in cookies:
                        why = login_errors.get(scenario.cookie_of, "no login")
                        reports.append(failed(scenario, f"no session cookie: {why}"))
                        continue
                    reports.append(measure(ctx, scenario))


def start_proxies(
    stack: contextlib.ExitStack, servers: Servers, workdir: Path, ports: Ports, echo_port: int
) -> None:
    """nginx and Traefik for the whole run; one that fails is left out, not fatal."""
    builders: dict[str, Callable[[], Process]] = {
        "nginx": lambda: Nginx(nginx_conf(ports, echo_port), workdir / "nginx", ports.nginx),
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


def summary(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per scenario: the numbers to compare first."""
    rows = []
    for r in reports:
        lat = r.get("latency_ms") or {}
        rows.append(
            {
                "scenario": f"{r['server']}:{r['name']}",
                "requests_per_s": r.get("requests_per_s"),
                "p50_ms": lat.get("p50"),
                "p90_ms": lat.get("p90"),
                "p99_ms": lat.get("p99"),
                "errors": r.get("errors_total"),
                "authgate_cpu_us_per_request": (r.get("cpu_us_per_request") or {}).get("authgate"),
                "other_load_cores": r.get("other_load_cores"),
                "error": r.get("error"),
            }
        )
    return rows


def noise(reports: Sequence[dict[str, Any]], cores: int) -> dict[str, Any]:
    """How much of the machine other work took while we measured (other sessions, cron)."""
    other = [r["other_load_cores"] for r in reports if r.get("other_load_cores") is not None]
    if not other:
        return {}
    worst = max(other)
    out: dict[str, Any] = {"other_load_cores_max": worst, "other_load_cores_mean": None}
    out["other_load_cores_mean"] = round(sum(other) / len(other), 2)
    if worst > 0.1 * cores:
        out["warning"] = (
            f"other processes used up to {worst} of {cores} cores while measuring: "
            "the numbers are lower and noisier than on an idle machine; compare ratios from "
            "the same run, or run again when the machine is idle"
        )
        log(out["warning"])
    return out


def summary_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    head = (
        f"{'scenario':38} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'errs':>5} "
        f"{'ag us':>6} {'other':>5}"
    )
    lines = [head]
    for row in rows:
        if row["error"]:
            lines.append(f"{row['scenario']:38} FAILED: {str(row['error'])[:80]}")
            continue
        cells = [
            _cell(row["requests_per_s"], 8, 0),
            *(_cell(row[k], 7, 2) for k in ("p50_ms", "p90_ms", "p99_ms")),
            _cell(row["errors"], 5, 0),
            _cell(row["authgate_cpu_us_per_request"], 6, 0),
            _cell(row["other_load_cores"], 5, 2),
        ]
        lines.append(f"{row['scenario']:38} {' '.join(cells)}")
    return lines


def _cell(value: float | None, width: int, digits: int) -> str:
    return f"{value:{width}.{digits}f}" if isinstance(value, int | float) else "-".rjust(width)


def derived(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Ratios between scenarios: what the auth step costs, granian against uvicorn."""
    rate = {
        f"{r['server']}:{r['name']}": r["requests_per_s"]
        for r in reports
        if not r.get("error") and r.get("requests_per_s")
    }

    def ratio(a: str, b: str) -> float | None:
        return round(rate[a] / rate[b], 3) if a in rate and b in rate else None

    out: dict[str, Any] = {
        "nginx_with_auth_vs_without": ratio(
            "granian:nginx_valid_cookie", "granian:nginx_baseline_no_auth"
        ),
        "traefik_with_auth_vs_without": ratio(
            "granian:traefik_valid_cookie", "granian:traefik_baseline_no_auth"
        ),
        "nginx_anonymous_vs_valid": ratio("granian:nginx_anonymous", "granian:nginx_valid_cookie"),
        "granian_vs_uvicorn": {
            name: ratio(f"granian:{name}", f"uvicorn:{name}")
            for name in ("direct_keepalive", "direct_new_connection", "nginx_valid_cookie")
        },
    }
    per_request = {
        f"{r['server']}:{r['name']}": r["cpu_us_per_request"].get("authgate")
        for r in reports
        if not r.get("error") and "authgate" in r.get("cpu_us_per_request", {})
    }
    out["authgate_cpu_us_per_request"] = per_request
    return out


# --------------------------------------------------------------------------------------------
# machine and versions
# --------------------------------------------------------------------------------------------


def _first_line(command: Sequence[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout + done.stderr).strip()
    return text.splitlines()[0] if text else None


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_total_mb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        meminfo = Path("/proc/meminfo").read_text().splitlines()[0]
        mem_total_mb = int(meminfo.split()[1]) // 1024
    traefik = _first_line([str(BIN / "traefik"), "version"])
    traefik_version = None
    if traefik is not None:
        traefik_version = _traefik_version(str(BIN / "traefik"))
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"])
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "memory_mb": mem_total_mb,
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            "python": platform.python_version(),
            "authgate": _dist_version("authgate"),
            "authgate_commit": commit,
            "authgate_src_modified": bool(dirty),
            "granian": _dist_version("granian"),
            "uvicorn": _dist_version("uvicorn"),
            "uvloop": _dist_version("uvloop"),
            "httptools": _dist_version("httptools"),
            "starlette": _dist_version("starlette"),
            "nginx": _strip_prefix(_first_line([NGINX, "-v"]), "nginx version: "),
            "traefik": traefik_version,
            "wrk": _first_line([WRK, "-v"]),
        },
    }


def _traefik_version(binary: str) -> str | None:
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        done = subprocess.run(
            [binary, "version"], capture_output=True, text=True, timeout=20, check=False
        )
        match = re.search(r"^Version:\s*(\S+)", done.stdout, re.M)
        return match.group(1) if match else None
    return None


def _strip_prefix(text: str | None, prefix: str) -> str | None:
    return text[len(prefix) :] if text is not None and text.startswith(prefix) else text


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--threads", type=int, default=Load.threads, help="wrk threads")
    parser.add_argument("--connections", type=int, default=Load.connections, help="wrk conns")
    parser.add_argument("--duration", type=int, default=Load.duration_s, help="seconds measured")
    parser.add_argument("--warmup", type=int, default=Load.warmup_s, help="seconds of warm-up")
    parser.add_argument(
        "--servers",
        nargs="+",
        default=["granian", "uvicorn"],
        choices=["granian", "uvicorn"],
        help="ASGI servers to run authgate under, in this order",
    )
    parser.add_argument("--only", help="regex on 'server:scenario', e.g. 'direct|nginx_valid'")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="SCENARIO",
        help="after measuring SCENARIO (or server:SCENARIO), run it again under py-spy",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep servers' logs")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    return parser.parse_args(argv)


class Interrupted(BaseException):
    """SIGTERM/SIGHUP: unwind like Ctrl-C so every server is stopped."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    now = dt.datetime.now(dt.UTC)
    result: dict[str, Any] = {
        "benchmark": "authgate forward-auth through real proxies",
        "stamp": now.strftime("%Y%m%dT%H%M%SZ"),
        "started_at": now.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "authgate_settings": {"log_level": "warning", "workers": 1},
        "scenarios": [],
    }
    if not Path(WRK).exists():
        result["error"] = f"wrk not found at {WRK} (apt-get install wrk)"
    status = 0
    started = time.monotonic()
    try:
        if "error" not in result:
            RESULTS.mkdir(parents=True, exist_ok=True)
            run(args, result)
    except (KeyboardInterrupt, Interrupted) as exc:
        result["interrupted"] = type(exc).__name__ if not str(exc) else str(exc)
        log("interrupted: every server stopped; writing what was measured")
        status = 130
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc().splitlines()
        log(f"run failed: {result['error']}")
        status = 1
    result["summary"] = summary(result["scenarios"])
    result["noise"] = noise(result["scenarios"], result["machine"].get("cores") or 1)
    result["derived"] = derived(result["scenarios"])
    for line in summary_table(result["summary"]):
        log(line)
    result["wall_time_s"] = round(time.monotonic() - started, 1)
    if any(s.get("error") for s in result["scenarios"]) and status == 0:
        status = 2
    text = json.dumps(result, indent=2)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{result['stamp']}.json"
        path.write_text(text + "\n")
        log(f"written to {path.relative_to(REPO)}")
    print(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
