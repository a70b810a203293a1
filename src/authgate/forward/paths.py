"""Canonical request paths: the path the upstream acts on, as rules must judge it.

A path that means one thing to one app and another thing to the next is refused, not
guessed (docs/proxies.md, "Paths that mean two things"):

* a control byte (``%00``-``%1F``, ``%7F``) after percent-decoding, once or more: apps
  truncate or split at it, so ``/admin%00`` is ``/admin`` to the app;
* an escaped escape of ``/``, ``\\`` or ``.`` (``%252F``, ``%255C``, ``%252e``): an app that
  decodes twice sees another separator or dot segment than one that decodes once; and of any
  letter, digit or ``-_~`` (``/%2561dmin``): ``/admin`` to an app that decodes twice;
* an encoded ``/`` or ``\\`` (``%2F``, ``%5C``, or a raw ``\\``) whose reading as a separator
  changes what dot-segment removal yields (``/admin%2F..``, ``/public%2F..%2Fadmin``);
* a segment that is ``.`` or ``..`` only once its ``;params`` (or an encoded ``;``) are
  dropped (``/public/..;/admin``): apps differ on whether they drop them first.
"""

from __future__ import annotations

import re

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = re.compile(r"%([0-9A-Fa-f]{2})")
_RAW_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_ESCAPED_CONTROL = re.compile(r"%(?:[01][0-9A-Fa-f]|7[Ff])")
_ESCAPED_SEPARATOR_OR_DOT = re.compile(r"%(?:2[EeFf]|5[Cc])")
# an escape of a letter, digit, '-', '_' or '~': a name to an app that decodes once more
_ESCAPED_NAME_CHAR = re.compile(r"%(?:3[0-9]|[46][1-9A-Fa-f]|[57][0-9Aa]|2[Dd]|5[Ff]|7[Ee])")
_ENCODED_SEPARATOR = re.compile(r"%(?:2[Ff]|5[Cc])|\\")
_DOTS = (".", "..")
#: How many percent-decodings are looked through for control bytes and hidden separators.
DECODINGS = 3
MAX_PATH = 8192


class UnjudgeablePath(ValueError):
    """The path cannot be judged; the message says why, for the log line and the 400 body."""


def split_uri(uri: str) -> tuple[str, str]:
    """(path, query) of a request URI; a fragment (never sent by browsers) is dropped."""
    path, _, query = uri.partition("?")
    path = path.partition("#")[0]
    return path or "/", query.partition("#")[0]


def canonical_path(raw: str) -> str | None:
    """The canonical path (see ``judge_path``), or None when it cannot be judged."""
    try:
        return judge_path(raw)
    except UnjudgeablePath:
        return None


def judge_path(raw: str) -> str:
    """Dot segments resolved, ``//`` merged, unreserved escapes (and encoded slashes)
    decoded once, backslashes read as slashes, ``;params`` dropped.

    Raises UnjudgeablePath when the path is not absolute, too long, holds a control byte
    (raw or percent-encoded) or a ``%`` that starts no escape, or means two things.
    """
    if not raw.startswith("/"):
        raise UnjudgeablePath("the path is not absolute")
    if len(raw) > MAX_PATH:
        raise UnjudgeablePath("the path is longer than 8 KiB")
    if _RAW_CONTROL_OR_SPACE.search(raw):
        raise UnjudgeablePath("the path holds a space or a control byte")
    if "%" in raw:
        _refuse_hidden_bytes(raw)
    decoded = _HEX.sub(_decode_unreserved_and_separators, raw).replace("\\", "/")
    segments = _resolve(decoded.split("/"))
    if _ENCODED_SEPARATOR.search(raw) and _flatten(_opaque_reading(raw)) != segments:
        raise UnjudgeablePath(
            "an encoded '/' or '\\' changes what the dot segments resolve to: "
            "apps that decode it and apps that do not would serve different paths"
        )
    trailing = "/" if decoded.endswith(("/", "/.", "/..")) and segments else ""
    return "/" + "/".join(segments) + trailing


def _refuse_hidden_bytes(raw: str) -> None:
    """Control bytes behind up to ``DECODINGS`` decodings; separators or dots behind two."""
    if raw.count("%") != len(_HEX.findall(raw)):
        raise UnjudgeablePath("a '%' in the path starts no escape")
    layer = raw
    for depth in range(DECODINGS):
        if _ESCAPED_CONTROL.search(layer):
            raise UnjudgeablePath("the path holds a control byte once percent-decoded")
        if depth and _ESCAPED_SEPARATOR_OR_DOT.search(layer):
            raise UnjudgeablePath(
                "the path holds a doubly encoded '/', '\\' or '.': "
                "apps that decode twice would serve another path"
            )
        if depth and _ESCAPED_NAME_CHAR.search(layer):
            raise UnjudgeablePath(
                "the path holds a doubly encoded letter, digit or '-_~': "
                "apps that decode twice would serve another path"
            )
        if "%" not in layer:
            return
        layer = _HEX.sub(_decode_any, layer)


def _resolve(parts: list[str]) -> list[str]:
    """Dot-segment removal over already split segments, ``;params`` and empty ones dropped."""
    segments: list[str] = []
    for part in parts:
        name = part.partition(";")[0]
        if name in ("", "."):
            _refuse_dot_with_params(part, name)
            continue
        if name == "..":
            _refuse_dot_with_params(part, name)
            if segments:
                segments.pop()
            continue
        if "%" in name:
            _refuse_dot_with_params(name, name)
        segments.append(name)
    return segments


def _refuse_dot_with_params(part: str, name: str) -> None:
    """``..;x`` (and ``..%3Bx``) is ``..`` to an app that drops params and a name to others."""
    bare = _HEX.sub(_decode_any, part).partition(";")[0] if "%" in part else name
    if bare in _DOTS and part != bare:
        raise UnjudgeablePath("a dot segment carries ';params': apps differ on dropping them")


def _opaque_reading(raw: str) -> list[str]:
    """The segments an app sees that splits only at real slashes, then resolves dots."""
    return _resolve(_HEX.sub(_decode_unreserved, raw).split("/"))


def _flatten(segments: list[str]) -> list[str]:
    """Opaque segments with their encoded separators read as slashes (empty pieces dropped)."""
    pieces: list[str] = []
    for segment in segments:
        pieces += [p for p in _ENCODED_SEPARATOR.sub("/", segment).split("/") if p]
    return pieces


def _decode_any(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def _decode_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _decode_unreserved_and_separators(match: re.Match[str]) -> str:
    """Unreserved characters, and ``/`` and ``\\`` too: an app that decodes ``%2F`` before
    routing must not see ``/admin%2Fx`` as anything but ``/admin/x``."""
    char = chr(int(match.group(1), 16))
    if char in _UNRESERVED:
        return char
    if char in "/\\":
        return "/"
    return "%" + match.group(1).upper()
