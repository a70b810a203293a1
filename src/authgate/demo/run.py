"""``make run``: authgate + a demo app (whoami) behind a real Caddy, on one machine.

Opens http://whoami.localhost:8080 behind the login at http://auth.localhost:8080.
Browsers resolve ``*.localhost`` to this machine by themselves; nothing is written to
/etc/hosts. Ctrl-C stops everything this started.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HEADERS = (
    "X-Authentik-Username X-Authentik-Groups X-Authentik-Email X-Authentik-Name "
    "X-Authentik-Uid Remote-User Remote-Groups Remote-Email Remote-Name"
)


def caddyfile(port: int, auth_port: int, app_port: int) -> str:
    return f"""{{
    admin off
    auto_https off
    default_bind 127.0.0.1
    log {{
        level ERROR
    }}
}}

http://auth.localhost:{port} {{
    reverse_proxy 127.0.0.1:{auth_port}
}}

http://whoami.localhost:{port} {{
    handle /outpost.goauthentik.io/* {{
        reverse_proxy 127.0.0.1:{auth_port}
    }}
    handle {{
        forward_auth 127.0.0.1:{auth_port} {{
            uri /outpost.goauthentik.io/auth/caddy
            copy_headers {HEADERS}
        }}
        reverse_proxy 127.0.0.1:{app_port}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int, what: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"demo: {what} stopped (exit {proc.returncode}); see the lines above")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"demo: {what} did not start on port {port}")


def main() -> None:
    port = int(os.environ.get("AUTHGATE_DEMO_PORT", "8080"))
    auth_port = int(os.environ.get("AUTHGATE_PORT", "9000"))
    data = Path(os.environ.get("AUTHGATE_DATA_DIR", "data")).resolve()
    env = {
        **os.environ,
        "AUTHGATE_DATA_DIR": str(data),
        "AUTHGATE_PORT": str(auth_port),
        "AUTHGATE_PUBLIC_URL": f"http://auth.localhost:{port}",
    }
    authgate = [sys.executable, "-m", "authgate"]
    caddy = shutil.which("caddy", path=str(Path(sys.executable).parent)) or "caddy"
    procs: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        app_port = free_port()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "authgate.demo.whoami", "--port", str(app_port)]
            )
        )
        procs.append(subprocess.Popen([*authgate, "serve"], env=env))
        wait_for(auth_port, "authgate", procs[-1])
        password_file = data / "demo-password"
        if not password_file.exists():
            password = secrets.token_urlsafe(12)
            subprocess.run(
                [
                    *authgate,
                    "user",
                    "add",
                    "demo",
                    "--name",
                    "Demo User",
                    "--group",
                    "demo",
                    "--email",
                    "demo@example.com",
                    "--password-stdin",
                ],
                input=f"{password}\n".encode(),
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        known = subprocess.run(
            [*authgate, "app", "list", "--json"], env=env, check=True, capture_output=True
        ).stdout
        if b'"whoami"' not in known:
            subprocess.run(
                [
                    *authgate,
                    "app",
                    "add",
                    "whoami",
                    "--url",
                    f"http://whoami.localhost:{port}",
                    "--name",
                    "whoami demo",
                ],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        config = data / "Caddyfile"
        config.write_text(caddyfile(port, auth_port, app_port))
        procs.append(
            subprocess.Popen([caddy, "run", "--config", str(config), "--adapter", "caddyfile"])
        )
        wait_for(port, "caddy", procs[-1])
        password = password_file.read_text().strip()
        print(
            f"\n  authgate demo is running.\n\n"
            f"  Open   http://whoami.localhost:{port}/   (a demo app showing the headers it got)\n"
            f"  Log in as  demo / {password}\n"
            f"  Portal http://auth.localhost:{port}/    Sign out: "
            f"http://whoami.localhost:{port}/outpost.goauthentik.io/sign_out\n\n"
            f"  Data in {data}. Press Ctrl-C to stop.\n",
            flush=True,
        )
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        print("demo: a process stopped; shutting down", file=sys.stderr)
    finally:
        stop()


if __name__ == "__main__":
    main()
