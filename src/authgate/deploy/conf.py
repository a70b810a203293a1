"""A small typed model of block-structured config files, rendered as nginx or Caddyfile.

Both are directives with arguments, some holding a block of further directives. Building
them as objects keeps quoting in one place: an argument is quoted only when it must be,
and a value that cannot be written safely (a line break, a quote) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from authgate.deploy.spec import SpecError

_BARE_NGINX = re.compile(r"^[^\s;{}\"'\\#]+$")
_BARE_CADDY = re.compile(r"^[^\s{}\"'`\\#]+$")


@dataclass(frozen=True)
class Directive:
    name: str
    args: tuple[str, ...] = ()
    block: tuple[Item, ...] | None = None
    comment: str = ""  # lines written above the directive


@dataclass(frozen=True)
class Blank:
    """An empty line between groups of directives."""


@dataclass(frozen=True)
class Comment:
    text: str


Item = Directive | Blank | Comment


class Verbatim(str):
    """An argument written exactly as given, quotes and all (one line, printable): for a
    literal the generator wrote itself, such as a JSON body in single quotes."""

    __slots__ = ()


def _arg(value: str | int) -> str:
    return value if isinstance(value, str) else str(value)


def d(name: str, *args: str | int, comment: str = "") -> Directive:
    return Directive(name, tuple(_arg(a) for a in args), None, comment)


def block(name: str, *args: str | int, body: list[Item], comment: str = "") -> Directive:
    return Directive(name, tuple(_arg(a) for a in args), tuple(body), comment)


@dataclass(frozen=True)
class Dialect:
    indent: str
    terminator: str
    bare: re.Pattern[str] = field(repr=False)

    def quote(self, arg: str) -> str:
        if isinstance(arg, Verbatim) and arg.isprintable():
            return str(arg)
        if any(ch in arg for ch in '\r\n"\\') or not arg.isprintable():
            raise SpecError(f"{arg!r} cannot be written into a config file")
        return arg if self.bare.match(arg) else f'"{arg}"'


NGINX = Dialect(indent="    ", terminator=";", bare=_BARE_NGINX)
CADDY = Dialect(indent="\t", terminator="", bare=_BARE_CADDY)


def render(items: list[Item], dialect: Dialect) -> str:
    lines: list[str] = []
    _render(items, dialect, 0, lines)
    return "\n".join(lines) + "\n"


def _render(
    items: list[Item] | tuple[Item, ...], dialect: Dialect, depth: int, out: list[str]
) -> None:
    pad = dialect.indent * depth
    for item in items:
        if isinstance(item, Blank):
            out.append("")
        elif isinstance(item, Comment):
            out.extend(f"{pad}# {line}".rstrip() for line in item.text.splitlines())
        else:
            out.extend(f"{pad}# {line}".rstrip() for line in item.comment.splitlines())
            head = " ".join([item.name, *(dialect.quote(a) for a in item.args)])
            if item.block is None:
                out.append(f"{pad}{head}{dialect.terminator}")
            else:
                out.append(f"{pad}{head} {{")
                _render(item.block, dialect, depth + 1, out)
                out.append(f"{pad}}}")
