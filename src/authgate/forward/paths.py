"""Canonical request paths: the path the upstream acts on, as rules must judge it."""

from __future__ import annotations

import re

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = re.compile(r"%([0-9A-Fa-f]{2})")
MAX_PATH = 8192


def split_uri(uri: str) -> tuple[str, str]:
    """(path, query) of a request URI; a fragment (never sent by browsers) is dropped."""
    path, _, query = uri.partition("?")
    path = path.partition("#")[0]
    return path or "/", query.partition("#")[0]


def canonical_path(raw: str) -> str | None:
    """Dot segments resolved, ``//`` merged, unreserved escapes (and encoded slashes)
    decoded once, backslashes read as slashes, ``;params`` dropped.

    None when the path cannot be judged: not absolute, too long, a control byte, or a
    percent sign that does not start a valid escape.
    """
    if not raw.startswith("/") or len(raw) > MAX_PATH:
        return None
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in raw):
        return None
    if raw.count("%") != len(_HEX.findall(raw)):
        return None
    decoded = _HEX.sub(_decode_unreserved, raw).replace("\\", "/")
    segments: list[str] = []
    for segment in decoded.split("/"):
        name = segment.partition(";")[0]
        if name in ("", "."):
            continue
        if name == "..":
            if segments:
                segments.pop()
            continue
        segments.append(name)
    trailing = "/" if decoded.endswith(("/", "/.", "/..")) and segments else ""
    return "/" + "/".join(segments) + trailing


def _decode_unreserved(match: re.Match[str]) -> str:
    """Unreserved characters, and ``/`` and ``\\`` too: an app that decodes ``%2F`` before
    routing must not see ``/public%2F..%2Fadmin`` as anything but ``/admin``."""
    char = chr(int(match.group(1), 16))
    if char in _UNRESERVED:
        return char
    if char in "/\\":
        return "/"
    return "%" + match.group(1).upper()
