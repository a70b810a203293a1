"""Traefik: router rules evaluated as Traefik does, from IngressRoutes and the file provider.

A request goes to the matching router with the highest priority; a router without an explicit
``priority`` has the length of its rule. So seed 003's outpost route, whose rule is longer,
wins over the protected route on the same host without any priority set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from authgate.doctor.findings import Where
from authgate.doctor.kube import Inventory, KObject, dig, items, line_of, mapping, text
from authgate.doctor.routes import (
    APP_PROBE,
    OUTPOST_PROBE,
    ForwardAuth,
    HostSetup,
    Route,
    group_by_host,
    path_regex,
)

_TOKEN = re.compile(r"\s*(&&|\|\||!|\(|\)|,|`[^`]*`|\"(?:[^\"\\]|\\.)*\"|'[^']*'|[A-Za-z]+)")
Tree = tuple[Any, ...]


class RouterRule:
    """A router rule (``Host(`a`) && PathPrefix(`/b`)``) that can say whether it matches."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._tokens = self._lex(source)
        self._pos = 0
        self.tree = self._or()
        if self._pos != len(self._tokens):
            raise ValueError(f"unexpected {self._tokens[self._pos]!r} in rule {source!r}")

    @staticmethod
    def _lex(source: str) -> list[str]:
        tokens, pos = [], 0
        while pos < len(source.rstrip()):
            match = _TOKEN.match(source, pos)
            if match is None:
                raise ValueError(f"cannot read rule {source!r} at {source[pos : pos + 20]!r}")
            tokens.append(match.group(1))
            pos = match.end()
        return tokens

    def _peek(self) -> str | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"rule {self.source!r}: expected {expected or 'more'}")
        self._pos += 1
        return token

    def _or(self) -> Tree:
        tree = self._and()
        while self._peek() == "||":
            self._take()
            tree = ("or", tree, self._and())
        return tree

    def _and(self) -> Tree:
        tree = self._unary()
        while self._peek() == "&&":
            self._take()
            tree = ("and", tree, self._unary())
        return tree

    def _unary(self) -> Tree:
        piece = self._take()
        if piece == "!":
            return ("not", self._unary())
        if piece == "(":
            tree = self._or()
            self._take(")")
            return tree
        if not piece.isalpha():
            raise ValueError(f"rule {self.source!r}: unexpected {piece!r}")
        self._take("(")
        args: list[str] = []
        while self._peek() != ")":
            args.append(self._take()[1:-1])
            if self._peek() == ",":
                self._take()
        self._take(")")
        return ("call", piece, tuple(args))

    def matches(self, host: str, path: str) -> bool:
        return _evaluate(self.tree, host.lower(), path)

    def hosts(self) -> list[str]:
        return [a.lower() for name, args in _calls(self.tree) if name in HOSTS for a in args]

    def paths(self) -> list[tuple[str, str]]:
        return [(name, a) for name, args in _calls(self.tree) if name in PATHS for a in args]


HOSTS = ("Host", "HostHeader")
PATHS = ("Path", "PathPrefix")


def _calls(tree: Tree) -> Iterator[tuple[str, tuple[str, ...]]]:
    if tree[0] == "call":
        yield tree[1], tree[2]
    elif tree[0] != "not":
        for sub in tree[1:]:
            yield from _calls(sub)


def _v2_pattern(value: str) -> str:
    """Traefik v2's ``{name:regex}`` placeholders as one regular expression."""
    out, pos = "", 0
    for m in re.finditer(r"\{([^}:]+)(?::([^}]*))?\}", value):
        out += re.escape(value[pos : m.start()]) + f"(?:{m.group(2) or '[^/.]+'})"
        pos = m.end()
    return out + re.escape(value[pos:])


def _call(name: str, args: tuple[str, ...], host: str, path: str) -> bool:
    try:
        if name in HOSTS:
            return host in (a.lower() for a in args)
        if name == "HostRegexp":
            pats = [a if "{" not in a else _v2_pattern(a) for a in args]
            return any(re.fullmatch(p, host, re.IGNORECASE) for p in pats)
        if name == "Path":
            return any(re.fullmatch(_v2_pattern(a), path) for a in args)
        if name == "PathPrefix":
            return any(re.match(_v2_pattern(a), path) for a in args)
        if name == "PathRegexp":
            return any(re.search(a, path) for a in args)
    except re.error:
        return True
    return True  # Method, Header, Query, ClientIP…: not decided by host and path


def _evaluate(tree: Tree, host: str, path: str) -> bool:
    kind = tree[0]
    if kind == "and":
        return _evaluate(tree[1], host, path) and _evaluate(tree[2], host, path)
    if kind == "or":
        return _evaluate(tree[1], host, path) or _evaluate(tree[2], host, path)
    if kind == "not":
        return not _evaluate(tree[1], host, path)
    return _call(tree[1], tree[2], host, path)


# -- middlewares --------------------------------------------------------------------------------


def _forward_auth(spec: Mapping[str, Any], label: str, where: Where) -> ForwardAuth:
    headers = spec.get("authResponseHeaders")
    return ForwardAuth(
        proxy="traefik",
        label=label,
        address=text(spec.get("address")),
        where=where,
        copied=tuple(text(h) for h in items(headers)),
        copied_label="authResponseHeaders",
    )


def guessed_auth(ref: str, where: Where) -> ForwardAuth | None:
    """A middleware defined elsewhere whose name says it is the forward auth."""
    if "auth" not in ref.lower():
        return None
    return ForwardAuth("traefik", f"Middleware {ref} (not among the given files)", "", where)


def crd_auth(
    inv: Inventory, namespace: str, name: str, seen: frozenset[str] = frozenset()
) -> ForwardAuth | None:
    obj = inv.find("Middleware", namespace, name)
    if obj is None or obj.ref in seen:
        return None
    spec = obj.spec
    if isinstance(spec.get("forwardAuth"), Mapping):
        return _forward_auth(
            mapping(spec["forwardAuth"]),
            f"Middleware {obj.ref.split('/', 1)[1]}",
            obj.at("spec", "forwardAuth"),
        )
    for ref in items(dig(spec, "chain", "middlewares")):
        found = crd_auth(
            inv,
            text(mapping(ref).get("namespace")) or obj.namespace,
            text(mapping(ref).get("name")),
            seen | {obj.ref},
        )
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Router:
    route: Route
    rule: RouterRule
    priority: int


def _open_path(rule: RouterRule) -> str | None:
    paths = rule.paths()
    if not paths:
        return None
    parts = [path_regex(p, "exact" if kind == "Path" else "string")[1:] for kind, p in paths]
    return "^" + parts[0] if len(parts) == 1 else "^(?:" + "|".join(parts) + ")"


def _routes(rule: RouterRule, priority: int, **fields: Any) -> Iterator[Router]:
    for host in dict.fromkeys(rule.hosts()):
        outpost = rule.matches(host, OUTPOST_PROBE) and not rule.matches(host, APP_PROBE)
        paths = [p for _, p in rule.paths()]
        route = Route(
            proxy="traefik",
            host=host,
            outpost=outpost,
            open_path=_open_path(rule),
            path=paths[0] if paths else "",
            **fields,
        )
        yield Router(route, rule, priority)


def _priority(value: object, rule: RouterRule) -> int:
    try:
        return int(str(value)) if value not in (None, "", 0) else len(rule.source)
    except ValueError:
        return len(rule.source)


def ingressroute_routers(inv: Inventory, obj: KObject) -> Iterator[Router]:
    spec = obj.spec
    tls = bool(spec.get("tls")) or "websecure" in [text(e) for e in items(spec.get("entryPoints"))]
    for number, entry in enumerate(items(spec.get("routes")), 1):
        route_spec = mapping(entry)
        try:
            rule = RouterRule(text(route_spec.get("match")))
        except ValueError:
            continue
        where = Where(obj.file, line_of(entry) or obj.where.line)
        auth = None
        for ref in items(route_spec.get("middlewares")):
            name, ns = text(mapping(ref).get("name")), text(mapping(ref).get("namespace"))
            known = "@" not in name and inv.find("Middleware", ns or obj.namespace, name)
            auth = auth or (
                crd_auth(inv, ns or obj.namespace, name)
                if known
                else guessed_auth(f"{ns}/{name}" if ns else name, where)
            )
        services = ", ".join(
            text(mapping(s).get("name")) for s in items(route_spec.get("services"))
        )
        yield from _routes(
            rule,
            _priority(route_spec.get("priority"), rule),
            label=f"{obj.ref} route {number}",
            where=where,
            name=obj.name,
            auth=auth,
            tls=tls,
            backend=services,
        )


def file_routers(doc: Mapping[str, Any], file: str) -> Iterator[Router]:
    http = mapping(doc.get("http"))
    middlewares = mapping(http.get("middlewares"))
    for name, body in mapping(http.get("routers")).items():
        router = mapping(body)
        try:
            rule = RouterRule(text(router.get("rule")))
        except ValueError:
            continue
        where = Where(file, line_of(body) or line_of(http.get("routers"), name))
        auth = None
        for ref in (text(m) for m in items(router.get("middlewares"))):
            mw_name, _, provider = ref.partition("@")
            known = provider in ("", "file") and mw_name in middlewares
            auth = auth or (
                _file_auth(middlewares, ref, file) if known else guessed_auth(ref, where)
            )
        entry_points = [text(e) for e in items(router.get("entryPoints"))]
        yield from _routes(
            rule,
            _priority(router.get("priority"), rule),
            label=f"router {name}",
            where=where,
            name=str(name),
            auth=auth,
            tls="tls" in router or "websecure" in entry_points,
            backend=text(router.get("service")),
        )


def _file_auth(
    middlewares: Mapping[str, Any], ref: str, file: str, depth: int = 0
) -> ForwardAuth | None:
    name, _, provider = ref.partition("@")
    body = mapping(middlewares.get(name)) if provider in ("", "file") else {}
    if isinstance(body.get("forwardAuth"), Mapping):
        where = Where(file, line_of(body) or line_of(middlewares, name))
        return _forward_auth(mapping(body["forwardAuth"]), f"middleware {name}", where)
    for inner in items(dig(body, "chain", "middlewares")):
        if depth < 8:
            found = _file_auth(middlewares, text(inner), file, depth + 1)
            if found is not None:
                return found
    return None


def setups(routers: list[Router]) -> list[HostSetup]:
    def serving(host: str, _routes: list[Route], path: str) -> Route | None:
        matching = [r for r in routers if r.route.host == host and r.rule.matches(host, path)]
        best = max(matching, key=lambda r: r.priority, default=None)
        return best.route if best else None

    return group_by_host("traefik", [r.route for r in routers], serving)


def all_routers(inv: Inventory, file_docs: list[tuple[Mapping[str, Any], str]]) -> list[Router]:
    found = [r for obj in inv.of("IngressRoute") for r in ingressroute_routers(inv, obj)]
    found += [r for doc, file in file_docs for r in file_routers(doc, file)]
    return found
