"""Key files made on first start: once, whole, private, and never replaced."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from authgate.config.keyfile import read_or_create
from authgate.config.secret import read_or_create_key_file
from authgate.forward.tokens import load_or_create_key


def test_a_missing_file_is_made_private_in_a_private_dir(tmp_path: Path) -> None:
    path = tmp_path / "new" / "data" / "key"
    old_umask = os.umask(0)  # even a careless umask makes no readable key
    try:
        assert read_or_create(path, lambda: b"k1") == b"k1"
    finally:
        os.umask(old_umask)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert read_or_create(path, lambda: b"k2") == b"k1"


def test_the_key_appears_only_whole(tmp_path: Path) -> None:
    path = tmp_path / "key"

    def make() -> bytes:
        assert not path.exists()  # while the key is made and written, no reader finds a file
        return b"whole key"

    assert read_or_create(path, make) == b"whole key"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]  # no temporary file left


def test_the_process_that_comes_second_uses_the_first_key(tmp_path: Path) -> None:
    path = tmp_path / "key"

    def make_while_another_process_wins() -> bytes:
        path.write_bytes(b"the winner's key")
        return b"our key"

    assert read_or_create(path, make_while_another_process_wins) == b"the winner's key"
    assert path.read_bytes() == b"the winner's key"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]


def test_an_existing_file_is_only_read(tmp_path: Path) -> None:
    """Also through the symlinks of a Kubernetes Secret volume, whatever its mode."""
    (tmp_path / "..2026").mkdir()
    (tmp_path / "..2026" / "key").write_bytes(b"given")
    (tmp_path / "..2026" / "key").chmod(0o644)
    (tmp_path / "..data").symlink_to("..2026")
    (tmp_path / "key").symlink_to("..data/key")

    def make() -> bytes:
        raise AssertionError("must not make a key when one is given")

    assert read_or_create(tmp_path / "key", make) == b"given"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["..2026", "..data", "key"]


def test_a_directory_in_the_way_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    (tmp_path / "key").mkdir()
    with pytest.raises(IsADirectoryError):
        read_or_create(tmp_path / "key", lambda: b"k")


# --------------------------------------------------------------------------------------------
# processes that start at the same moment (``serve --workers N``, replicas on one volume)
# --------------------------------------------------------------------------------------------


def _secret(path: Path) -> str:
    return read_or_create_key_file(path)[0].reveal()


def _jwt(path: Path) -> str:
    return str(load_or_create_key(path).private_numbers().private_value)


def _contend(what: str, path: Path, start: Barrier, results: Any) -> None:
    start.wait()
    try:
        results.put(("ok", {"secret": _secret, "jwt": _jwt}[what](path)))
    except Exception as exc:  # reported to the test, which shows it
        results.put(("error", repr(exc)))


def _race(what: str, path: Path, contenders: int) -> list[tuple[str, str]]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(contenders)
    results = context.Queue()
    processes = [
        context.Process(target=_contend, args=(what, path, start, results))
        for _ in range(contenders)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return outcomes


@pytest.fixture
def rounds(tmp_path: Path) -> Iterator[list[Path]]:
    yield [tmp_path / f"round{i}" / "key" for i in range(3)]


@pytest.mark.parametrize("what", ["secret", "jwt"])
def test_processes_starting_together_share_one_key(what: str, rounds: list[Path]) -> None:
    for path in rounds:
        outcomes = _race(what, path, contenders=6)
        assert [kind for kind, _ in outcomes] == ["ok"] * 6, outcomes
        assert len({value for _, value in outcomes}) == 1
        assert [p.name for p in path.parent.iterdir()] == ["key"]
