"""An explicit model of how apps read a request path, for the fuzz test's oracle.

It is written from RFC 3986 and the list of readings in docs/proxies.md ("Paths that mean
two things"), never from authgate's code: the query is cut off, then each app picks one way
for each of the choices below, splits at ``/``, drops empty segments and resolves ``.`` and
``..``. Each reading is then taken as the skip path judges a path (``judged``): an escaped
or back slash is a slash, ``;params`` and empty segments do not count, and a ``.`` or ``..``
left over means that reading resolved dots elsewhere than the others. A path is open only
when every reading lies under the skip path; one reading outside it is enough to make an
allow a bypass.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_SEPARATOR = re.compile(r"%2[Ff]|%5[Cc]|\\")

Step = Callable[[str], str]


def _decode(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def _decode_unreserved(match: re.Match[str]) -> str:
    char = _decode(match)
    return char if char in _UNRESERVED else match.group(0)


def _decode_but_separators(match: re.Match[str]) -> str:
    return match.group(0) if _SEPARATOR.fullmatch(match.group(0)) else _decode(match)


def decode_unreserved(path: str) -> str:
    """RFC 3986 6.2.2.2: an escaped unreserved character is that character."""
    return _ESCAPE.sub(_decode_unreserved, path)


def decode_all(path: str) -> str:
    """An app that decodes every escape before it routes (separators: see ``readings``)."""
    return _ESCAPE.sub(_decode_but_separators, path)


def truncate_at_control(path: str) -> str:
    """An app written in C: the path ends at the first NUL, CR, LF or other control byte."""
    found = _CONTROL.search(path)
    return path[: found.start()] if found else path


def drop_control(path: str) -> str:
    """A URL parser that strips tabs, newlines and spaces (WHATWG does, for tabs and LF)."""
    return _CONTROL.sub("", path)


def keep(path: str) -> str:
    return path


def every_separator(path: str) -> str:
    """An app that takes ``%2F``, ``%5C`` and a raw back slash for ``/``."""
    return _SEPARATOR.sub("/", path)


#: How an app decodes: once, unreserved characters only (RFC 3986); once, everything; twice.
DECODINGS: tuple[tuple[Step, ...], ...] = (
    (decode_unreserved,),
    (decode_all,),
    (decode_all, decode_all),
)
CONTROLS: tuple[Step, ...] = (keep, drop_control, truncate_at_control)
#: Separators: only a raw ``/`` (the others stay inside their segment), or every spelling.
SEPARATORS: tuple[Step, ...] = (keep, every_separator)


def read(path: str, decoding: tuple[Step, ...], separators: Step, control: Step) -> str:
    """``path`` decoded as one app decodes it, its separators taken after every round."""
    path = separators(path)
    for decode in decoding:
        path = separators(decode(path))
    return control(path)


def resolve(path: str, drop_params: bool) -> str:
    """Split at ``/``, drop empty segments (and ``;params`` if asked), remove dot segments."""
    segments: list[str] = []
    for part in path.split("/"):
        name = part.partition(";")[0] if drop_params else part
        if name in ("", "."):
            continue
        if name == "..":
            if segments:
                segments.pop()
            continue
        segments.append(name)
    return "/" + "/".join(segments)


def readings(uri: str) -> Iterator[str]:
    """Every path an app may act on for ``uri`` (an origin-form request target)."""
    path = uri.partition("?")[0].partition("#")[0]
    for decoding, separators, control in itertools.product(DECODINGS, SEPARATORS, CONTROLS):
        read_path = read(path, decoding, separators, control)
        for drop_params in (False, True):
            yield resolve(read_path, drop_params)


def judged(reading: str) -> str | None:
    """``reading`` with every spelling of a separator as ``/``, params and empty segments
    dropped; None when a ``..`` is left (the readings disagree on what it resolves to). A
    ``.`` left over names the directory it is in, whatever resolves it: it is dropped."""
    names = [s.partition(";")[0] for s in _SEPARATOR.sub("/", reading).split("/")]
    if ".." in names:
        return None
    return "/" + "/".join(name for name in names if name and name != ".")


def may_be_open(uri: str, prefix: str) -> bool:
    """True when every app reads ``uri`` as a path under ``prefix`` (a plain string prefix,
    as the skip path ``^/public`` matches); a target that is not origin-form never is."""
    if not uri.startswith("/"):
        return False
    return all((j := judged(r)) is not None and j.startswith(prefix) for r in readings(uri))
