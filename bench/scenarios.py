"""What is measured: the load wrk puts on, the hosts and account of the run, and each
scenario (a URL, its headers, and what the one request sent before measuring must give)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tests.e2e.proxyconf import OUTPOST, PROBE_HOST
from tests.e2e.servers import free_port

NGINX_APP = "app-nginx.test"  # protected by nginx (ingress-nginx shape)
NGINX_KEEPALIVE_APP = "app-nginx-ka.test"  # the same shape, keepalive to authgate: (d)
TRAEFIK_APP = "app-traefik.test"  # protected by Traefik forwardAuth
PLAIN_HOST = "plain.test"  # nginx -> echo, the protected location's shape without auth
CACHE_APP = "app-cache.test"  # protected by the generated nginx config with --auth-cache 1s
USER, PASSWORD, GROUP = "bench", "bench password that is long enough", "staff"
PATH = "/bench/page?q=1"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@dataclass(frozen=True)
class Load:
    threads: int = 2
    connections: int = 32
    duration_s: int = 10
    warmup_s: int = 2
    timeout_s: int = 5
    settle_limit_s: float = 15.0  # the longest wait for idle servers before a scenario


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
    login_clients: int = 0  # (f): clients logging in continuously while it is measured
    login_url: str | None = None  # where they log in
    script: str | None = None  # a wrk Lua script that makes every request (the scale run)
    auth_role: str = "authgate"  # the authgate that answers (the scale run has its own)


@dataclass
class Ports:
    auth: int = field(default_factory=free_port)
    nginx: int = field(default_factory=free_port)
    traefik: int = field(default_factory=free_port)
    floor: int = field(default_factory=free_port)  # bench.floor_app under granian
    second_nginx: int = field(default_factory=free_port)  # (c)'s target listener
    scale_sqlite: int = field(default_factory=free_port)  # authgate on the seeded SQLite
    scale_postgres: int = field(default_factory=free_port)  # authgate on the seeded PostgreSQL


VALID = Check(200, user=USER)
BROWSER = {"Accept": BROWSER_ACCEPT}


def scenarios(ports: Ports, cookies: dict[str, str], server: str) -> list[Scenario]:
    """Every scenario for authgate under ``server``; ``cookies`` maps app host -> Cookie.

    The direct ones and ``nginx_valid_cookie`` run under every server; the rest only under
    granian (the default)."""
    keepalive, new_connection = _direct(ports, cookies, server)
    nginx_valid = _nginx_valid_cookie(ports, cookies, server)
    if server != "granian":
        return [keepalive, new_connection, nginx_valid]
    return [
        _nginx_baseline(ports, server),
        nginx_valid,
        _nginx_valid_cookie_keepalive(ports, cookies, server),
        _nginx_valid_cookie_keepalive_logins(ports, cookies, server),
        _nginx_anonymous(ports, server),
        _nginx_auth_cache(ports, cookies, server),
        _traefik_baseline(ports, server),
        _traefik_valid_cookie(ports, cookies, server),
        keepalive,
        new_connection,
    ]


def _direct(ports: Ports, cookies: dict[str, str], server: str) -> tuple[Scenario, Scenario]:
    """wrk straight at authgate's ``auth/nginx``: on kept-alive connections, then on a new
    connection per check."""
    url = f"http://127.0.0.1:{ports.auth}{OUTPOST}/auth/nginx"
    headers = {
        "X-Original-URL": f"http://{NGINX_APP}:{ports.nginx}{PATH}",
        "X-Original-Method": "GET",
        "Cookie": cookies.get(NGINX_APP, ""),
    }
    keepalive = Scenario(
        "direct_keepalive",
        server,
        "direct",
        "wrk -> authgate auth/nginx, valid cookie, keep-alive: the raw check rate",
        url,
        headers,
        VALID,
        NGINX_APP,
    )
    new_connection = Scenario(
        "direct_new_connection",
        server,
        "direct",
        "wrk -> authgate auth/nginx, valid cookie, Connection: close (a new TCP "
        "connection per check, as ingress-nginx's auth subrequest does by default)",
        url,
        {**headers, "Connection": "close"},
        VALID,
        NGINX_APP,
    )
    return keepalive, new_connection


def _nginx_url(ports: Ports) -> str:
    return f"http://127.0.0.1:{ports.nginx}{PATH}"


def _traefik_url(ports: Ports) -> str:
    return f"http://127.0.0.1:{ports.traefik}{PATH}"


def _nginx_valid_cookie(ports: Ports, cookies: dict[str, str], server: str) -> Scenario:
    return Scenario(
        "nginx_valid_cookie",
        server,
        "nginx",
        "wrk -> nginx (ingress-nginx shape) -auth_request-> authgate auth/nginx -> 200; "
        "nginx -> echo",
        _nginx_url(ports),
        {"Host": f"{NGINX_APP}:{ports.nginx}", "Cookie": cookies.get(NGINX_APP, ""), **BROWSER},
        VALID,
        NGINX_APP,
    )


def _nginx_valid_cookie_keepalive(ports: Ports, cookies: dict[str, str], server: str) -> Scenario:
    return Scenario(
        "nginx_valid_cookie_keepalive",
        server,
        "nginx",
        "(d) as nginx_valid_cookie (d'), but nginx keeps its connections to authgate alive "
        '(an upstream with keepalive, Connection "" on the auth subrequest)',
        _nginx_url(ports),
        {
            "Host": f"{NGINX_KEEPALIVE_APP}:{ports.nginx}",
            "Cookie": cookies.get(NGINX_KEEPALIVE_APP, ""),
            **BROWSER,
        },
        VALID,
        NGINX_KEEPALIVE_APP,
    )


LOGIN_CLIENTS = 20


def _nginx_valid_cookie_keepalive_logins(
    ports: Ports, cookies: dict[str, str], server: str
) -> Scenario:
    """(f): (d) while clients log in through the portal continuously (argon2id each)."""
    d = _nginx_valid_cookie_keepalive(ports, cookies, server)
    return replace(
        d,
        name="nginx_valid_cookie_keepalive_logins",
        description=f"(f) {d.description}; meanwhile {LOGIN_CLIENTS} clients log in through "
        "the portal continuously (a password check with argon2id each)",
        login_clients=LOGIN_CLIENTS,
        login_url=f"http://{NGINX_APP}:{ports.nginx}/",
    )


def _nginx_baseline(ports: Ports, server: str) -> Scenario:
    return Scenario(
        "nginx_baseline_no_auth",
        server,
        "nginx",
        "wrk -> nginx -> echo, the protected location's shape without auth_request: "
        "the cost of the proxy and the upstream alone",
        _nginx_url(ports),
        {"Host": f"{PLAIN_HOST}:{ports.nginx}", **BROWSER},
        Check(200),
    )


def _nginx_anonymous(ports: Ports, server: str) -> Scenario:
    return Scenario(
        "nginx_anonymous",
        server,
        "nginx",
        "wrk -> nginx -auth_request-> authgate -> 401 -> nginx's auth-signin 302 "
        "(no cookie: every request is a login challenge)",
        _nginx_url(ports),
        {"Host": f"{NGINX_APP}:{ports.nginx}", **BROWSER},
        Check(302, location_has=f"{OUTPOST}/start?rd="),
    )


def _nginx_auth_cache(ports: Ports, cookies: dict[str, str], server: str) -> Scenario:
    """(d_cache): one cookie and one URL, so after the first check nearly every request is
    answered from nginx's cache (one check per second reaches authgate)."""
    return Scenario(
        "nginx_auth_cache",
        server,
        "nginx",
        "wrk -> nginx (authgate manifests --target nginx --auth-cache 1s) -auth_request-> "
        "nginx's cache (authgate once a second) -> 200; nginx -> echo",
        _nginx_url(ports),
        {"Host": f"{CACHE_APP}:{ports.nginx}", "Cookie": cookies.get(CACHE_APP, ""), **BROWSER},
        VALID,
        CACHE_APP,
    )


def _traefik_baseline(ports: Ports, server: str) -> Scenario:
    return Scenario(
        "traefik_baseline_no_auth",
        server,
        "traefik",
        "wrk -> Traefik -> echo, a router without the forwardAuth middleware",
        _traefik_url(ports),
        {"Host": f"{PROBE_HOST}:{ports.traefik}", **BROWSER},
        Check(200),
    )


def _traefik_valid_cookie(ports: Ports, cookies: dict[str, str], server: str) -> Scenario:
    return Scenario(
        "traefik_valid_cookie",
        server,
        "traefik",
        "wrk -> Traefik -forwardAuth-> authgate auth/traefik -> 200; Traefik -> echo",
        _traefik_url(ports),
        {
            "Host": f"{TRAEFIK_APP}:{ports.traefik}",
            "Cookie": cookies.get(TRAEFIK_APP, ""),
            **BROWSER,
        },
        VALID,
        TRAEFIK_APP,
    )
