"""Key files made once: however many processes start at the same moment, they all end up with
the one key that reached the disk first, and none of them ever reads half a key.

A new key is written to a private temporary file (mode 0600) next to its final name, flushed,
and then hard-linked to that name. ``link`` never replaces an existing file: it either puts the
whole key in place or fails because another process was first, and then that key is read.
A file that already exists (also a read-only Kubernetes Secret) is only ever read.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The bytes in ``path``; when it does not exist yet, ``make()`` is put there first."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(make())
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes()
