"""Caddyfiles: a small parser, and Caddy's own handler order applied to a request path.

Caddy sorts the directives of a site (and of each ``handle``) by a fixed order, so a
``forward_auth`` at site level runs before every ``handle`` and ``reverse_proxy``, the outpost
one included; only inside ``route`` do directives run as written. ``handle`` blocks on one
level are mutually exclusive. ``import`` and snippets are not followed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass

from authgate.doctor.findings import Where
from authgate.doctor.nginx import SyntaxProblem
from authgate.doctor.routes import (
    OUTPOST,
    OUTPOST_PROBE,
    ForwardAuth,
    HostSetup,
    Route,
    group_by_host,
)

# Caddy's default directive order (v2.8 and later), as far as routing is concerned.
ORDER = (
    "tracing",
    "map",
    "vars",
    "fs",
    "root",
    "log_append",
    "log_skip",
    "skip_log",
    "log_name",
    "header",
    "copy_response_headers",
    "request_body",
    "redir",
    "method",
    "rewrite",
    "uri",
    "try_files",
    "basic_auth",
    "basicauth",
    "forward_auth",
    "request_header",
    "encode",
    "push",
    "intercept",
    "templates",
    "invoke",
    "handle",
    "handle_path",
    "route",
    "abort",
    "error",
    "copy_response",
    "respond",
    "metrics",
    "reverse_proxy",
    "php_fastcgi",
    "file_server",
    "acme_server",
)
TERMINAL = {"abort", "error", "respond", "reverse_proxy", "php_fastcgi", "file_server", "redir"}


@dataclass(frozen=True)
class Node:
    name: str
    args: tuple[str, ...]
    line: int
    block: tuple[Node, ...] | None = None


def _lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """Tokens line by line; quotes ("…", `…`) keep spaces, ``#`` at a token start ends a line."""
    line_no, i, n = 1, 0, len(text)
    tokens: list[str] = []
    while i < n:
        ch = text[i]
        if ch == "\n":
            if tokens:
                yield line_no, tokens
            tokens, line_no, i = [], line_no + 1, i + 1
        elif ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in '"`':
            end = i + 1
            while end < n and text[end] != ch:
                end += 2 if text[end] == "\\" and ch == '"' else 1
            if end >= n:
                raise SyntaxProblem(line_no, "a quoted string is not closed")
            tokens.append(text[i + 1 : end].replace('\\"', '"'))
            line_no += text.count("\n", i, end)
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace():
                i += 1
            tokens.append(text[start:i])
    if tokens:
        yield line_no, tokens


def parse(text: str) -> tuple[Node, ...]:
    levels: list[list[Node]] = [[]]
    heads: list[tuple[int, list[str]]] = []
    carry: list[str] = []
    for line, tokens in _lines(text):
        tokens = carry + tokens
        if tokens[-1].endswith(",") and not heads:  # site addresses go on over the line
            carry = tokens
            continue
        carry = []
        if tokens == ["}"]:
            if not heads:
                raise SyntaxProblem(line, "unexpected '}'")
            (head_line, head), children = heads.pop(), levels.pop()
            name, args = (head[0], tuple(head[1:])) if head else ("", ())
            levels[-1].append(Node(name, args, head_line, tuple(children)))
        elif tokens[-1] == "{":
            heads.append((line, tokens[:-1]))
            levels.append([])
        else:
            levels[-1].append(Node(tokens[0], tuple(tokens[1:]), line))
    if heads:
        raise SyntaxProblem(heads[-1][0], "a block is not closed with '}'")
    return tuple(levels[0])


# -- matchers ------------------------------------------------------------------------------------


def _path_matches(pattern: str, path: str) -> bool:
    return pattern == "*" or fnmatch.fnmatchcase(path.lower(), pattern.lower())


def _split_matcher(node: Node) -> tuple[str | None, tuple[str, ...]]:
    if node.args and (node.args[0].startswith(("/", "@")) or node.args[0] == "*"):
        return node.args[0], node.args[1:]
    return None, node.args


class Site:
    def __init__(self, node: Node, file: str, auto_https: bool) -> None:
        self.node, self.file = node, file
        self.addresses = [a for arg in (node.name, *node.args) for a in arg.split(",") if a]
        self.matchers: dict[str, list[Node]] = {}
        for child in node.block or ():
            if child.name.startswith("@"):
                conditions = list(child.block or ()) if child.block is not None else []
                if child.args:
                    conditions.append(Node(child.args[0], child.args[1:], child.line))
                self.matchers[child.name] = conditions
        self.has_tls_directive = any(c.name == "tls" for c in node.block or ())
        self.auto_https = auto_https

    def hosts(self) -> Iterator[tuple[str, bool]]:
        for address in self.addresses:
            scheme, _, rest = address.rpartition("://")
            hostport = rest.split("/")[0]
            host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
            if not host or host.startswith("["):
                continue
            tls = scheme == "https" or (
                scheme != "http" and port != "80" and (self.auto_https or self.has_tls_directive)
            )
            yield host.lower(), tls

    def matches(self, matcher: str | None, path: str) -> bool:
        if matcher is None:
            return True
        if not matcher.startswith("@"):
            return _path_matches(matcher, path)
        return all(self._condition(c, path) for c in self.matchers.get(matcher, []))

    def _condition(self, cond: Node, path: str) -> bool:
        if cond.name == "not":
            inner = list(cond.block or ())
            if not inner and cond.args:
                inner = [Node(cond.args[0], cond.args[1:], cond.line)]
            return not all(self._condition(c, path) for c in inner if c.name)
        if cond.name == "path":
            return any(_path_matches(p, path) for p in cond.args)
        if cond.name == "path_regexp" and cond.args:
            try:
                return re.search(cond.args[-1], path) is not None
            except re.error:
                return True
        return True  # host, method, header, expression…: not decided by the path

    def paths_in_matchers(self) -> set[str]:
        found = {m for n in _all(self.node.block or ()) for m in n.args[:1] if m.startswith("/")}
        for conds in self.matchers.values():
            found |= {p for c in conds if c.name == "path" for p in c.args}
        return found


def _all(nodes: tuple[Node, ...]) -> Iterator[Node]:
    for n in nodes:
        yield n
        if n.block is not None and not n.name.startswith("@"):
            yield from _all(n.block)


# -- the handler chain for one path ----------------------------------------------------------------


def _sort_key(site: Site, node: Node) -> tuple[int, int, int]:
    matcher, _ = _split_matcher(node)
    order = ORDER.index(node.name) if node.name in ORDER else len(ORDER)
    specific = -len(matcher) if matcher and matcher.startswith("/") else 0
    return order, 0 if matcher else 1, specific


def run(
    site: Site, nodes: tuple[Node, ...], path: str, literal: bool
) -> tuple[Node | None, Node | None]:
    """(the forward_auth that checks ``path``, the handler that answers it) in Caddy's order."""
    ordered = list(nodes) if literal else sorted(nodes, key=lambda n: _sort_key(site, n))
    auth: Node | None = None
    handled = False
    for node in ordered:
        matcher, _ = _split_matcher(node)
        if node.name.startswith("@") or not site.matches(matcher, path):
            continue
        if node.name == "forward_auth":
            auth = auth or node
        elif node.name in ("handle", "handle_path", "route") and node.block is not None:
            if node.name != "route" and handled:
                continue
            handled = handled or node.name != "route"
            inner_auth, handler = run(site, node.block, path, literal=node.name == "route")
            auth = auth or inner_auth
            if handler is not None:
                return auth, handler
        elif node.name in TERMINAL:
            return auth, node
    return auth, None


def _forward_auth(site: Site, node: Node) -> ForwardAuth:
    _, upstreams = _split_matcher(node)
    uri, copied = "", []
    for sub in node.block or ():
        if sub.name == "uri" and sub.args:
            uri = sub.args[0]
        elif sub.name == "copy_headers":
            names = [*sub.args, *(n.name for n in sub.block or ())]
            copied += [n.split(">")[-1] for n in names]
    return ForwardAuth(
        proxy="caddy",
        label=f"forward_auth in site {site.addresses[0]}",
        address=f"{' '.join(upstreams)}{uri}",
        where=Where(site.file, node.line),
        copied=tuple(copied),
        copied_label="copy_headers",
    )


def _sample(pattern: str) -> str:
    return pattern.replace("*", "x") if pattern != "*" else "/"


def setups(file: str, nodes: tuple[Node, ...]) -> list[HostSetup]:
    auto_https = True
    found: list[Route] = []
    outpost_routes: dict[str, Route | None] = {}
    for node in nodes:
        if node.name == "" and node.block is not None:
            auto_https = not any(
                c.name == "auto_https" and c.args[:1] == ("off",) for c in node.block
            )
            continue
        if node.block is None or node.name.startswith(("(", "&(")):
            continue
        site = Site(node, file, auto_https)
        for host, tls in site.hosts():
            routes, outpost = _site_routes(site, host, tls)
            found += routes
            outpost_routes[host] = outpost
    return group_by_host("caddy", found, lambda host, _routes, _path: outpost_routes.get(host))


def _site_routes(site: Site, host: str, tls: bool) -> tuple[list[Route], Route | None]:
    block = site.node.block or ()
    _, app_handler = run(site, block, "/", literal=False)
    _, outpost_handler = run(site, block, OUTPOST_PROBE, literal=False)
    probes: list[tuple[str, str | None]] = [("/", None), (OUTPOST_PROBE, OUTPOST + "/*")]
    probes += [(_sample(p), p) for p in sorted(site.paths_in_matchers())]
    routes: dict[int, Route] = {}
    for path, pattern in probes:
        auth, handler = run(site, block, path, literal=False)
        key = -1 if handler is app_handler else handler.line if handler else 0
        if handler is None or key in routes:
            continue
        routes[key] = Route(
            proxy="caddy",
            label=f"site {site.addresses[0]} {handler.name} {' '.join(handler.args)}".strip(),
            where=Where(site.file, handler.line),
            host=host,
            name=host.split(".")[0],
            auth=_forward_auth(site, auth) if auth else None,
            tls=tls,
            backend=" ".join(_split_matcher(handler)[1]),
            outpost=handler is outpost_handler and handler is not app_handler,
            open_path=None if pattern is None else _pattern_regex(pattern),
            path="" if pattern is None else _sample(pattern),
        )
    outpost_key = -1 if outpost_handler is app_handler else getattr(outpost_handler, "line", 0)
    return list(routes.values()), routes.get(outpost_key)


def _pattern_regex(pattern: str) -> str:
    return "^" + ".*".join(re.escape(part) for part in pattern.split("*"))
