"""The floor: what the same proxy and machine give without authgate, measured in the same run.

- (h)  nginx ``auth_request`` -> the bare raw-ASGI cookie lookup (``bench.floor_app``) under
  granian, one worker like authgate, over an upstream with ``keepalive``;
- (h') the same with a new connection per check (no ``keepalive``, as the seed's upstream);
- (c)  nginx ``auth_request`` -> a second nginx listener returning 200 (kept alive): the
  one-hop limit;
- (b)  nginx ``auth_request`` -> an internal location returning 200: the mechanism's limit.

Every floor host is (d)'s host with another auth server: the seed's ingress-nginx server,
its auth subrequest and the identity headers it copies to the same echo app
(``ingress_shaped_server``)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.e2e.proxyconf import AUTH_SERVICE, ingress_nginx_conf
from tests.e2e.servers import Process, answers, free_port, python_env

from bench import REPO
from bench.floor_app import FLOOR_COOKIE, FLOOR_IDENTITY
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
            # authgate's server, worker count and WebSocket setting ("authgate serve")
            *(sys.executable, "-m", "granian", "--interface", "asgi", "--no-ws"),
            *("--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"),
            "bench.floor_app:app",
        ]

    def env(self) -> dict[str, str]:
        env = python_env()
        env["PYTHONPATH"] = str(REPO) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return env

    def ready(self) -> bool:
        return answers(f"http://127.0.0.1:{self.port}/", status=401)


def ingress_shaped_server(
    listen_port: int, host: str, echo_port: int, auth: str, keepalive: bool
) -> str:
    """Seed 000's server for ``host`` in the ingress-nginx shape (``tests.e2e.proxyconf``:
    the same auth subrequest headers, ``auth_request_set`` of the answer's identity headers,
    upstream headers), its auth subrequest sent to the upstream named ``auth`` instead of
    the seed's, with ``Connection ""`` when that upstream keeps connections alive; or, when
    ``auth`` is ``"return 200"``, answered inside nginx by an internal ``return 200``."""
    conf = ingress_nginx_conf(listen_port, 0, [(host, echo_port)])
    server = conf[conf.index(f"server_name {host};") :]
    server = f"    server {{\n        listen 127.0.0.1:{listen_port};\n        " + server
    if auth == "return 200":
        target = server.index("            set $target ")
        rest = server[server.index("\n        }", target) + 1 :]
        server = server[:target] + "            return 200;\n" + rest
    else:
        server = server.replace(f"http://{AUTH_SERVICE}", f"http://{auth}")
    if keepalive:
        server = server.replace(
            "proxy_http_version          1.1;",
            'proxy_http_version          1.1;\n            proxy_set_header Connection "";',
        )
    return server


def floor_nginx_conf(nginx_port: int, c_port: int, floor_port: int, echo_port: int) -> str:
    """The floor hosts on the bench's nginx, and the second listener (c) answers on.

    Each floor host is authgate's (d) host with only the auth server changed: the seed's
    ingress-nginx server, the same subrequest, the same identity headers copied to the same
    echo app. (h) and (c) answer with the identity headers the seed copies, with values as
    long as authgate's for the bench user, so nginx and the echo app do the same work for
    the floor as for authgate and the difference is the auth server alone."""
    identity = "\n".join(
        f"            add_header {name} {value};" for name, value in FLOOR_IDENTITY
    )
    servers = [
        f"""
    upstream bench_floor_keepalive {{
        server 127.0.0.1:{floor_port};
        keepalive 64;
    }}
    upstream bench_floor_new_connection {{
        server 127.0.0.1:{floor_port};
    }}
    upstream bench_second_nginx {{
        server 127.0.0.1:{c_port};
        keepalive 64;
    }}
    # (c)'s target: a second listener that answers every check with 200 and the identity
    server {{
        listen 127.0.0.1:{c_port};
        location / {{
{identity}
            return 200;
        }}
    }}
"""
    ]
    auth = {
        "floor_h_keepalive": ("bench_floor_keepalive", True),
        "floor_h_new_connection": ("bench_floor_new_connection", False),
        "floor_c_second_nginx": ("bench_second_nginx", True),
        "floor_b_internal": ("return 200", False),
    }
    for name, host in FLOOR_HOSTS.items():
        upstream, keepalive = auth[name]
        servers.append(ingress_shaped_server(nginx_port, host, echo_port, upstream, keepalive))
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
            # (b) answers inside nginx: no identity reaches the app
            Check(200, None if name == "floor_b_internal" else FLOOR_IDENTITY[0][1]),
        )
        for name, host in FLOOR_HOSTS.items()
    ]
