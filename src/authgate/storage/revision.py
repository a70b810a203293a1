"""The revision file: how servers on this machine learn at once that the store changed.

Every change a running check must see bumps the store's revision row; a Store opened with
``open_store`` also writes that value to ``settings.revision_file``, which every server on
the machine stats once per check (``RevisionFile.stamp``), and announces it on the change
feed (``storage.changes``) to servers elsewhere, which also poll the row.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from authgate.config import Settings
from authgate.storage.changes import ChangeFeed, change_feed
from authgate.storage.store import Store

Stamp = tuple[int, int]


def write_revision_file(path: Path, value: int) -> None:
    """Tell servers on this machine that the store changed (they stat this file per check)."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{value}\n")
        os.replace(tmp, path)


class RevisionFile:
    """The file's identity and age: a changed stamp means the store may have changed."""

    __slots__ = ("_path",)

    def __init__(self, path: Path) -> None:
        self._path = str(path)

    def stamp(self) -> Stamp:
        try:
            st = os.stat(self._path)
        except OSError:
            return (0, 0)
        return (st.st_ino, st.st_mtime_ns)


def open_store(settings: Settings, feed: ChangeFeed | None = None) -> Store:
    """The store of ``settings``, announcing its changes through the revision file and the
    change feed: the one way the server and the CLI open it. Closing the store closes the
    feed. A SQLite file's directory (the data dir) is made private when it does not exist
    yet."""
    _, sep, path = settings.database_url.partition(":///")
    if settings.database_url.startswith("sqlite") and sep and path and not path.startswith(":"):
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    feed = feed or feed_of(settings)
    store = Store(
        settings.database_url,
        on_change=lambda value: write_revision_file(settings.revision_file, value),
        announce=feed.announce,
    )
    store.on_close(feed.close)
    return store


def feed_of(settings: Settings) -> ChangeFeed:
    return change_feed(
        settings.database_url, settings.redis_url, settings.redis_prefix, settings.change_feed
    )
