"""The floor: what the same proxy and machine give without authgate, measured in the same run.

- (h)  nginx ``auth_request`` -> the bare raw-ASGI cookie lookup (``bench.floor_app``) under
  granian, one worker like authgate, over an upstream with ``keepalive``;
- (h') the same with a new connection per check (no ``keepalive``, as the seed's upstream);
- (c)  nginx ``auth_request`` -> a second nginx listener returning 200 (kept alive): the
  one-hop limit;
- (b)  nginx ``auth_request`` -> an internal location returning 200: the mechanism's limit.

Every floor host proxies to the same echo app with the protected location's settings."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.e2e.proxyconf import UPSTREAM_HEADERS
from tests.e2e.servers import Process, answers, free_port, python_env

from bench import REPO
from bench.floor_app import FLOOR_COOKIE
from bench.scenarios import BROWSER, PATH, Check, Ports, Scenario

FLOOR_HOSTS = {
    "floor_h_keepalive": "floor-h.test",
    "floor_h_new_connection": "floor-hnc.test",
    "floor_c_second_nginx": "floor-c.test",
    "floor_b_internal": "floor-b.test",
}


class FloorApp(Process):
    """``bench.floor_app`` under granian, one worker (authgate's server and worker count)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__("floor", workdir)
        self.port = port or free_port()

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "granian", "--interface", "asgi"),
            *("--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"),
            "bench.floor_app:app",
        ]

    def env(self) -> dict[str, str]:
        env = python_env()
        env["PYTHONPATH"] = str(REPO) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return env

    def ready(self) -> bool:
        return answers(f"http://127.0.0.1:{self.port}/", status=401)


def floor_nginx_conf(nginx_port: int, c_port: int, floor_port: int, echo_port: int) -> str:
    """The floor hosts on the bench's nginx, and the second listener (c) answers on."""
    auth_targets = {
        "floor_h_keepalive": (
            'proxy_http_version 1.1;\n            proxy_set_header Connection "";\n'
            "            proxy_pass http://bench_floor_keepalive;"
        ),
        "floor_h_new_connection": f"proxy_pass http://127.0.0.1:{floor_port};",
        "floor_c_second_nginx": (
            'proxy_http_version 1.1;\n            proxy_set_header Connection "";\n'
            "            proxy_pass http://bench_second_nginx;"
        ),
        "floor_b_internal": "return 200;",
    }
    servers = [
        f"""
    upstream bench_floor_keepalive {{
        server 127.0.0.1:{floor_port};
        keepalive 64;
    }}
    upstream bench_second_nginx {{
        server 127.0.0.1:{c_port};
        keepalive 64;
    }}
    # (c)'s target: a second listener that answers every check with 200
    server {{
        listen 127.0.0.1:{c_port};
        location / {{
            return 200;
        }}
    }}
"""
    ]
    for name, host in FLOOR_HOSTS.items():
        servers.append(
            f"""
    server {{
        listen 127.0.0.1:{nginx_port};
        server_name {host};
        location = /_bench_auth {{
            internal;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            {auth_targets[name]}
        }}
        location / {{
            auth_request /_bench_auth;
{UPSTREAM_HEADERS}
            proxy_set_header Host $http_host;
            proxy_pass http://127.0.0.1:{echo_port};
        }}
    }}
"""
        )
    return "".join(servers)


def floor_scenarios(ports: Ports, server: str) -> list[Scenario]:
    """(h), (h'), (c), (b): wrk -> nginx -auth_request-> the floor -> 200; nginx -> echo."""
    what = {
        "floor_h_keepalive": "(h) the bare raw-ASGI cookie lookup under granian, keepalive",
        "floor_h_new_connection": "(h') the same, a new connection per check",
        "floor_c_second_nginx": "(c) a second nginx listener returning 200: one-hop limit",
        "floor_b_internal": "(b) an internal location returning 200: the mechanism's limit",
    }
    return [
        Scenario(
            name,
            server,
            "nginx",
            f"wrk -> nginx -auth_request-> {what[name]}; nginx -> echo",
            f"http://127.0.0.1:{ports.nginx}{PATH}",
            {"Host": f"{host}:{ports.nginx}", "Cookie": FLOOR_COOKIE.decode(), **BROWSER},
            Check(200),
        )
        for name, host in FLOOR_HOSTS.items()
    ]
