"""nginx configuration files: a small parser, and nginx's own location rules applied.

The parser knows directives, blocks, quotes and comments, enough to read what people write
for ``auth_request`` (it does not follow ``include``). Locations are chosen as nginx chooses
them: an exact ``=`` match, else the longest prefix if it is ``^~``, else the first regular
expression that matches, else the longest prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from authgate.doctor.findings import Where
from authgate.doctor.routes import (
    APP_PROBE,
    OUTPOST,
    OUTPOST_PROBE,
    ForwardAuth,
    HostSetup,
    Route,
    group_by_host,
    path_regex,
)


class SyntaxProblem(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Directive:
    name: str
    args: tuple[str, ...]
    line: int
    block: tuple[Directive, ...] | None = None

    def all(self, name: str) -> list[Directive]:
        return [d for d in self.block or () if d.name == name]

    def first(self, name: str) -> Directive | None:
        found = self.all(name)
        return found[0] if found else None


Token = tuple[str, int, bool]  # text, line, quoted


def _quoted(text: str, i: int, line: int) -> tuple[str, int, int]:
    quote, start_line, out = text[i], line, []
    i += 1
    while i < len(text) and text[i] != quote:
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        line += text[i] == "\n"
        out.append(text[i])
        i += 1
    if i >= len(text):
        raise SyntaxProblem(start_line, "a quoted string is not closed")
    return "".join(out), i + 1, line


def tokens(text: str) -> Iterator[Token]:
    i, line, n = 0, 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in "{};":
            yield ch, line, False
            i += 1
        elif ch in "\"'":
            start_line = line
            value, i, line = _quoted(text, i, line)
            yield value, start_line, True
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in "{};\"'":
                if text.startswith("${", i):
                    i = text.find("}", i) + 1 or n
                    continue
                i += 1
            yield text[start:i], line, False


def parse(text: str) -> tuple[Directive, ...]:
    """The directives of a file; raises SyntaxProblem with nginx's kind of message."""
    levels: list[list[Directive]] = [[]]
    heads: list[list[Token]] = []
    pending: list[Token] = []
    for piece, line, quoted in tokens(text):
        if quoted or piece not in "{};":
            pending.append((piece, line, quoted))
        elif piece == ";":
            if not pending:
                raise SyntaxProblem(line, 'unexpected ";"')
            levels[-1].append(
                Directive(pending[0][0], tuple(t for t, _, _ in pending[1:]), pending[0][1])
            )
            pending = []
        elif piece == "{":
            if not pending:
                raise SyntaxProblem(line, 'unexpected "{"')
            heads.append(pending)
            levels.append([])
            pending = []
        else:
            if pending:
                raise SyntaxProblem(pending[0][1], f'"{pending[0][0]}" is not terminated by ";"')
            if not heads:
                raise SyntaxProblem(line, 'unexpected "}"')
            head, children = heads.pop(), levels.pop()
            args = tuple(t for t, _, _ in head[1:])
            levels[-1].append(Directive(head[0][0], args, head[0][1], tuple(children)))
    if pending:
        raise SyntaxProblem(pending[0][1], 'unexpected end of file, expecting ";" or "}"')
    if heads:
        raise SyntaxProblem(heads[-1][0][1], 'unexpected end of file, expecting "}"')
    return tuple(levels[0])


def walk(directives: tuple[Directive, ...], name: str) -> Iterator[Directive]:
    """Every directive called ``name``, at any depth (not below a match)."""
    for d in directives:
        if d.name == name:
            yield d
        elif d.block:
            yield from walk(d.block, name)


# -- locations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    directive: Directive
    modifier: str  # "=", "^~", "~", "~*" or "" (prefix)
    path: str

    @property
    def internal(self) -> bool:
        return self.directive.first("internal") is not None

    @property
    def is_regex(self) -> bool:
        return self.modifier in ("~", "~*")

    def matches(self, path: str) -> bool:
        if self.modifier == "=":
            return path == self.path
        if self.is_regex:
            flags = re.IGNORECASE if self.modifier == "~*" else 0
            try:
                return re.search(self.path, path, flags) is not None
            except re.error:
                return False
        return path.startswith(self.path)

    @property
    def label(self) -> str:
        return f"location {self.modifier} {self.path}".replace("  ", " ")

    def skip_regex(self) -> str:
        if self.is_regex:
            body = self.path if self.path.startswith("^") else ".*" + self.path
            return ("(?i)" if self.modifier == "~*" else "") + body
        return path_regex(self.path, "exact" if self.modifier == "=" else "string")


def locations(server: Directive) -> list[Location]:
    found: list[Location] = []
    for d in server.all("location"):
        if len(d.args) == 2:
            found.append(Location(d, d.args[0], d.args[1]))
        elif len(d.args) == 1 and not d.args[0].startswith("@"):
            arg = d.args[0]
            modifier = "=" if arg.startswith("=") and len(arg) > 1 else ""
            found.append(Location(d, modifier, arg[len(modifier) :]))
    return found


def select(candidates: list[Location], path: str) -> Location | None:
    """The location nginx picks for ``path``."""
    for loc in candidates:
        if loc.modifier == "=" and loc.path == path:
            return loc
    prefixes = [c for c in candidates if c.modifier in ("", "^~") and c.matches(path)]
    longest = max(prefixes, key=lambda c: len(c.path), default=None)
    if longest is not None and longest.modifier == "^~":
        return longest
    return next((c for c in candidates if c.is_regex and c.matches(path)), longest)


# -- from a file to routes -----------------------------------------------------------------------


def _inherited(chain: list[Directive], name: str) -> list[Directive]:
    """Array-like directives (``proxy_set_header``): the innermost level that has any wins."""
    for level in reversed(chain):
        found = level.all(name)
        if found:
            return found
    return []


def _proxy_target(loc: Directive) -> str:
    target = loc.first("proxy_pass")
    if target is None or not target.args:
        ret = loc.first("return")
        return "return " + " ".join(ret.args) if ret else ""
    value = target.args[0]
    for assign in loc.all("set"):
        if len(assign.args) == 2 and assign.args[0] == value:
            return assign.args[1]
    return value


def _upstream_url(loc: Location, uri: str) -> str:
    """Where nginx sends ``uri``: a proxy_pass with a path replaces the location's prefix."""
    target = _proxy_target(loc.directive)
    match = re.match(r"^([a-z]+://[^/]+)(/.*)?$", target)
    if match is None or loc.is_regex:
        return target
    if match.group(2) is None:
        return target + uri
    return target + uri[len(loc.path) :] if loc.modifier != "=" else target


def _keepalive(
    chain: list[Directive], auth_loc: Directive, upstreams: dict[str, Directive]
) -> bool:
    host = re.sub(r"^[a-z]+://", "", _proxy_target(auth_loc)).split("/")[0]
    upstream = upstreams.get(host)
    if upstream is None or upstream.first("keepalive") is None:
        return False
    version = _inherited([*chain, auth_loc], "proxy_http_version")
    connection_cleared = any(
        d.args[:1] == ("Connection",) and d.args[1:] in ((), ("",))
        for d in _inherited([*chain, auth_loc], "proxy_set_header")
    )
    return bool(version) and version[-1].args == ("1.1",) and connection_cleared


def _unreadable_guard(chain: list[Directive], auth_loc: Directive) -> bool:
    """A 400 of the auth server is intercepted (``proxy_intercept_errors on`` and an
    ``error_page`` for 400) in the auth location."""
    intercept = _inherited([*chain, auth_loc], "proxy_intercept_errors")
    pages = _inherited([*chain, auth_loc], "error_page")
    return (
        bool(intercept)
        and intercept[-1].args == ("on",)
        and any("400" in page.args[:-1] for page in pages)
    )


class _Server:
    def __init__(self, file: str, chain: list[Directive], upstreams: dict[str, Directive]) -> None:
        self.file, self.chain, self.upstreams = file, chain, upstreams
        self.server = chain[-1]
        self.locations = locations(self.server)

    def auth(self, loc: Location, host: str) -> ForwardAuth | None:
        found = _inherited([*self.chain, loc.directive], "auth_request")
        if not found or not found[-1].args or found[-1].args[0] == "off":
            return None
        uri = found[-1].args[0]
        auth_loc = select(self.locations, uri)
        headers = _inherited([*self.chain, loc.directive], "proxy_set_header")
        return ForwardAuth(
            proxy="nginx",
            label=f"auth_request {uri} (server {host})",
            address=_upstream_url(auth_loc, uri) if auth_loc else uri,
            where=Where(self.file, found[-1].line),
            copied=tuple(d.args[0] for d in headers if d.args),
            copied_label="proxy_set_header",
            keepalive=_keepalive(self.chain, auth_loc.directive, self.upstreams)
            if auth_loc
            else None,
            unreadable_guard=_unreadable_guard(self.chain, auth_loc.directive)
            if auth_loc
            else None,
        )

    def routes(self, host: str) -> Iterator[Route]:
        tls = any(
            "ssl" in d.args or any(a == "443" or a.endswith(":443") for a in d.args)
            for d in self.server.all("listen")
        )
        for loc in self.locations:
            if loc.internal:
                continue
            is_outpost = (loc.path.startswith(OUTPOST) and not loc.is_regex) or (
                loc.matches(OUTPOST_PROBE) and not loc.matches(APP_PROBE)
            )
            whole = loc.modifier == "" and loc.path == "/"
            yield Route(
                proxy="nginx",
                label=f"server {host} {loc.label}",
                where=Where(self.file, loc.directive.line),
                host=host,
                name=host.split(".")[0],
                auth=self.auth(loc, host),
                tls=tls,
                backend=_proxy_target(loc.directive),
                outpost=is_outpost,
                open_path=None if whole else loc.skip_regex(),
                path="" if loc.is_regex else loc.path,
            )


def setups(file: str, directives: tuple[Directive, ...]) -> list[HostSetup]:
    upstreams = {u.args[0]: u for u in walk(directives, "upstream") if u.args}
    found: list[Route] = []
    servers: dict[str, _Server] = {}
    for chain in _server_chains(directives):
        server = _Server(file, chain, upstreams)
        names = [n for d in server.server.all("server_name") for n in d.args]
        names = [n.lower() for n in names if n and n not in ("_", '""') and not n.startswith("~")]
        for name in names or ["_"]:  # "_": the default server, whatever host it is asked for
            servers[name] = server
            found.extend(server.routes(name))

    def serving(host: str, routes: list[Route], path: str) -> Route | None:
        loc = select(servers[host].locations, path)
        if loc is None or loc.internal:
            return None
        return next((r for r in routes if r.where.line == loc.directive.line), None)

    return group_by_host("nginx", found, serving)


def _server_chains(
    directives: tuple[Directive, ...], parents: tuple[Directive, ...] = ()
) -> Iterator[list[Directive]]:
    """Each ``server`` block with the blocks around it (for inherited directives)."""
    for d in directives:
        if d.name == "server" and d.block is not None:
            yield [*parents, d]
        elif d.name in ("http", "stream") and d.block is not None:
            yield from _server_chains(d.block, (*parents, d))


def includes(directives: tuple[Directive, ...]) -> list[Directive]:
    return list(walk(directives, "include"))
