"""``authgate serve`` as an operator starts it: a fresh data dir, several workers, a data dir
mounted read-only with its keys given (a Kubernetes Secret) or imported from an older
version's files, and no public URL at all. The signing keys live in the store: a fresh start
writes no key file.

Every test runs the real CLI in a subprocess and asks the running server over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .servers import Authgate, free_port, python_env

OUTPOST = "/outpost.goauthentik.io"
FIRST_START_FILES = {"authgate.db", "authgate.db-wal", "authgate.db-shm", "revision"}
KEY_FILES = ("secret.key", "jwt.key")  # where versions before shared keys kept them


class ManyWorkers(Authgate):
    """``authgate serve --workers N`` (the fixture's server with one worker per default)."""

    def __init__(self, workdir: Path, workers: int) -> None:
        super().__init__(workdir)
        self.workers = workers

    def command(self) -> list[str]:
        return [*super().command(), "--workers", str(self.workers)]

    def worker_pids(self) -> list[int]:
        """The live child processes of the server (granian's workers)."""
        assert self.proc is not None
        children: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            children += [int(pid) for pid in (task / "children").read_text().split()]
        return children


def kid_of_key_file(path: Path) -> str:
    """RFC 7638 thumbprint of the EC key in ``path``, computed here from the key's numbers."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    numbers = key.public_key().public_numbers()

    def b64(number: int) -> str:
        return urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode()

    members = f'{{"crv":"P-256","kty":"EC","x":"{b64(numbers.x)}","y":"{b64(numbers.y)}"}}'
    return urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


def _owner_of_connection(client_port: int, server_port: int, pids: list[int]) -> int | None:
    """The process that holds the server side of the loopback connection from ``client_port``."""
    inode = ""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        if (local_port, remote_port) == (server_port, client_port):
            inode = fields[9]
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def ping_over_a_new_connection(server: ManyWorkers) -> int | None:
    """One ping on a fresh connection: the pid of the worker that answered it with pong."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        request = f"GET {OUTPOST}/ping HTTP/1.1\r\nHost: auth.test\r\n\r\n"
        conn.sendall(request.encode())
        answer = b""
        while b"pong" not in answer:
            chunk = conn.recv(4096)
            assert chunk, f"the connection closed after {answer!r}"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        return _owner_of_connection(conn.getsockname()[1], server.port, server.worker_pids())


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[ManyWorkers]:
    """A fresh data dir (not even created yet) and ``authgate serve --workers 2``."""
    with ManyWorkers(tmp_path / "authgate", workers=2) as server:
        yield server


def test_two_workers_start_on_a_fresh_data_dir(two_workers: ManyWorkers) -> None:
    workers = two_workers.worker_pids()
    assert len(workers) == 2, two_workers.log.read_text()
    answered: set[int | None] = set()
    for _ in range(64):  # connections are spread over the workers' sockets by the kernel
        answered.add(ping_over_a_new_connection(two_workers))
        if answered == set(workers):
            break
    assert answered == set(workers), f"answered: {answered}, workers: {workers}"
    assert two_workers.proc is not None and two_workers.proc.poll() is None
    assert two_workers.worker_pids() == workers  # nobody died and was replaced
    log = two_workers.log.read_text()
    assert "Traceback" not in log and "Unexpected exit" not in log


def stored_keys(server: Authgate) -> list[dict[str, str]]:
    """``authgate keys list --json``: what the store holds (never the material)."""
    listed: list[dict[str, str]] = json.loads(server.cli("keys", "list", "--json").stdout)
    return listed


def store_kid(server: Authgate) -> str:
    return next(
        k["kid"] for k in stored_keys(server) if k["kind"] == "jwt" and k["state"] == "signing"
    )


def test_the_keys_are_in_the_store_before_any_worker_starts(tmp_path: Path) -> None:
    """Workers only read the keys: serve put them in the store before granian spawned one."""
    server = ManyWorkers(tmp_path / "authgate", workers=2)
    kinds_when_spawning: list[list[str]] = []
    stop = threading.Event()

    def watch_log() -> None:
        while not stop.is_set() and not kinds_when_spawning:
            if server.log.exists() and "Spawning worker" in server.log.read_text():
                with sqlite3.connect(server.data_dir / "authgate.db") as db:
                    rows = db.execute("SELECT kind FROM signing_keys ORDER BY kind").fetchall()
                kinds_when_spawning.append([kind for (kind,) in rows])
            stop.wait(0.005)

    watcher = threading.Thread(target=watch_log)
    watcher.start()
    try:
        with server:
            pass
    finally:
        stop.set()
        watcher.join()
    assert kinds_when_spawning == [["hmac", "jwt"]]


def test_a_fresh_start_makes_one_key_set_and_writes_no_key_file(two_workers: ManyWorkers) -> None:
    data = two_workers.data_dir
    names = {p.name for p in data.iterdir()}
    assert names <= FIRST_START_FILES, names
    assert not set(KEY_FILES) & names
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert sorted((k["kind"], k["state"]) for k in stored_keys(two_workers)) == [
        ("hmac", "signing"),
        ("jwt", "signing"),
    ]
    log = two_workers.log.read_text()
    assert log.count("created user 'admin'") == 1
    assert "imported" not in log  # nothing to import on a fresh start
    users = json.loads(two_workers.cli("user", "list", "--json").stdout)
    assert [u["username"] for u in users] == ["admin"]


def test_every_worker_serves_the_one_jwt_key(two_workers: ManyWorkers) -> None:
    expected = store_kid(two_workers)
    seen = set()
    for _ in range(16):
        with httpx.Client(trust_env=False, timeout=10) as client:  # a new connection each
            jwks = client.get(f"{two_workers.url}/.well-known/jwks.json").json()
        seen.add(json.dumps(jwks, sort_keys=True))
        assert [key["kid"] for key in jwks["keys"]] == [expected]
        jwt.PyJWKSet.from_dict(jwks)  # a set PyJWT accepts
    assert len(seen) == 1


def test_a_second_start_keeps_the_keys(tmp_path: Path) -> None:
    with ManyWorkers(tmp_path / "authgate", workers=2) as first:
        keys = stored_keys(first)
    first_log = len(first.log.read_text())
    with ManyWorkers(tmp_path / "authgate", workers=2) as second:
        assert stored_keys(second) == keys
        second_log = second.log.read_text()[first_log:]
    assert "serving on" in second_log and "created user" not in second_log


# --------------------------------------------------------------------------------------------
# a data dir mounted read-only, its keys given as a Kubernetes Secret (symlinks into ..data)
# --------------------------------------------------------------------------------------------


def _secret_volume(path: Path, files: dict[str, bytes]) -> None:
    """The layout kubelet makes for a Secret: ``name -> ..data/name``, ``..data -> ..<stamp>``."""
    stamped = path / "..2026_01_01_00_00_00.000000001"
    stamped.mkdir(parents=True)
    for name, content in files.items():
        (stamped / name).write_bytes(content)
        (stamped / name).chmod(0o644)  # the Secret's defaultMode
    (path / "..data").symlink_to(stamped.name)
    for name in files:
        (path / name).symlink_to(f"..data/{name}")


def _read_only_serve(data: Path) -> list[str]:
    """``authgate serve`` in a mount namespace of its own where ``data`` is read-only."""
    serve = " ".join([sys.executable, "-m", "authgate", "serve", "--workers", "2"])
    script = f"mount --bind {data} {data} && mount -o remount,bind,ro {data} && exec {serve}"
    return ["unshare", "--map-root-user", "--mount", "sh", "-c", script]


def _can_mount_read_only(tmp_path: Path) -> bool:
    probe = tmp_path / "mount-probe"
    probe.mkdir()
    script = f"mount --bind {probe} {probe} && mount -o remount,bind,ro {probe}"
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


class ReadOnlyData(Authgate):
    def command(self) -> list[str]:
        return _read_only_serve(self.data_dir)


@pytest.fixture
def secret_volume(tmp_path: Path) -> Path:
    if not _can_mount_read_only(tmp_path):
        pytest.skip("needs unshare and bind mounts (a user + mount namespace) on this machine")
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    data = tmp_path / "authgate" / "data"
    _secret_volume(data, {"secret.key": b"a-secret-from-kubernetes\n", "jwt.key": pem})
    return data


def _given(volume: Path) -> dict[str, str]:
    """The overrides pointing into the Secret, the database elsewhere."""
    return {
        "AUTHGATE_SECRET_KEY_FILE": str(volume / "secret.key"),
        "AUTHGATE_JWT_KEY_FILE": str(volume / "jwt.key"),
        "AUTHGATE_DATABASE_URL": f"sqlite:///{volume.parent.parent / 'elsewhere.db'}",
    }


def test_a_read_only_data_dir_with_its_keys_given_serves(
    tmp_path: Path, secret_volume: Path
) -> None:
    before = sorted(p.name for p in secret_volume.iterdir())
    with ReadOnlyData(tmp_path / "authgate", extra_env=_given(secret_volume)) as server:
        with httpx.Client(trust_env=False, timeout=10) as client:
            jwks = client.get(f"{server.url}/.well-known/jwks.json").json()
        assert [k["kid"] for k in jwks["keys"]] == [kid_of_key_file(secret_volume / "jwt.key")]
        assert "imported" not in server.log.read_text()  # given, not imported
    assert sorted(p.name for p in secret_volume.iterdir()) == before


def test_a_read_only_data_dir_needs_no_key_files_at_all(tmp_path: Path) -> None:
    if not _can_mount_read_only(tmp_path):
        pytest.skip("needs unshare and bind mounts (a user + mount namespace) on this machine")
    data = tmp_path / "authgate" / "data"
    data.mkdir(parents=True)
    database = {"AUTHGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.db'}"}
    with ReadOnlyData(tmp_path / "authgate", extra_env=database) as server:
        with httpx.Client(trust_env=False, timeout=10) as client:
            jwks = client.get(f"{server.url}/.well-known/jwks.json").json()
        assert [k["kid"] for k in jwks["keys"]] == [store_kid(server)]
    assert list(data.iterdir()) == []


def test_an_older_versions_key_files_are_imported_into_the_store(
    tmp_path: Path, secret_volume: Path
) -> None:
    """A data dir of a version before shared keys, read-only: its keys become the store's."""
    database = {"AUTHGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.db'}"}
    with ReadOnlyData(tmp_path / "authgate", extra_env=database) as server:
        with httpx.Client(trust_env=False, timeout=10) as client:
            jwks = client.get(f"{server.url}/.well-known/jwks.json").json()
        expected = kid_of_key_file(secret_volume / "jwt.key")
        assert [k["kid"] for k in jwks["keys"]] == [expected]
        assert store_kid(server) == expected
        log = server.log.read_text()
    assert log.count("imported") == 1 and "a-secret-from-kubernetes" not in log


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"not a key\n", "it does not hold a PEM private key without a password"),
        (None, "No such file or directory"),
    ],
)
def test_an_unusable_jwt_key_file_is_one_clear_line(
    tmp_path: Path, secret_volume: Path, content: bytes | None, problem: str
) -> None:
    key_file = secret_volume / "..data" / "jwt.key"
    if content is None:
        key_file.unlink()
    else:
        key_file.write_bytes(content)
    env = python_env(
        {
            "AUTHGATE_DATA_DIR": str(secret_volume),
            "AUTHGATE_PUBLIC_URL": "https://auth.example.com",
            "AUTHGATE_PORT": str(free_port()),
            **_given(secret_volume),
        }
    )
    done = run_cli(_read_only_serve(secret_volume), env, tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"authgate: JWT key file {secret_volume / 'jwt.key'}: {problem}"
    ]


# --------------------------------------------------------------------------------------------
# no public URL
# --------------------------------------------------------------------------------------------


def run_cli(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command that must stop by itself; if it serves instead, stop it and fail."""
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        stdout, stderr = proc.communicate()
        pytest.fail(f"{command} kept running instead of stopping:\n{stderr}")
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def serve_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = python_env({"AUTHGATE_DATA_DIR": str(tmp_path / "data"), "AUTHGATE_PORT": str(port)})
    env.pop("AUTHGATE_PUBLIC_URL", None)
    return {**env, **extra}


SERVE = [sys.executable, "-m", "authgate", "serve"]


def test_serve_refuses_to_start_without_a_public_url(tmp_path: Path) -> None:
    port = free_port()
    done = run_cli(SERVE, serve_env(tmp_path, port), tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "AUTHGATE_PUBLIC_URL" in lines[0] and "public_url" in lines[0]
    assert "AUTHGATE_PUBLIC_URL=https://auth.example.com" in lines[0]
    assert not (tmp_path / "data").exists()  # refused before making anything


def test_a_missing_public_url_is_named_with_every_other_problem(tmp_path: Path) -> None:
    env = serve_env(tmp_path, free_port(), AUTHGATE_SESSION_LIFETIME="forever")
    done = run_cli([*SERVE, "--workers", "2"], env, tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert any("AUTHGATE_SESSION_LIFETIME" in line for line in lines)
    assert any("AUTHGATE_PUBLIC_URL" in line for line in lines)


def test_a_public_url_in_the_config_file_is_enough(tmp_path: Path) -> None:
    config = tmp_path / "authgate.yaml"
    config.write_text("public_url: http://auth.test\n")
    port = free_port()
    with ConfiguredAuthgate(tmp_path / "authgate", config, port=port) as server:
        assert "portal http://auth.test" in server.log.read_text()


class ConfiguredAuthgate(Authgate):
    def __init__(self, workdir: Path, config: Path, port: int) -> None:
        super().__init__(workdir, port=port)
        self.config = config

    def env(self) -> dict[str, str]:
        env = super().env()
        del env["AUTHGATE_PUBLIC_URL"]
        return env

    def command(self) -> list[str]:
        return [sys.executable, "-m", "authgate", "--config", str(self.config), "serve"]


def test_commands_that_do_not_serve_need_no_public_url(tmp_path: Path) -> None:
    env = serve_env(tmp_path, free_port())
    add = [sys.executable, "-m", "authgate", "user", "add", "alice", "--password-stdin"]
    done = subprocess.run(
        add, env=env, cwd=tmp_path, input="long password\n", text=True, capture_output=True
    )
    assert done.returncode == 0, done.stderr
