"""Kubernetes objects as read from YAML, with the line each one (and each key) came from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from authgate.doctor.findings import Where

NGINX_PREFIX = "nginx.ingress.kubernetes.io/"


def mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def items(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def text(value: object) -> str:
    return "" if value is None or isinstance(value, Mapping | list) else str(value).strip()


def dig(value: object, *keys: str) -> Any:
    """``value[k1][k2]…``, or None as soon as a step is missing or not a mapping."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def line_of(node: object, key: str | None = None) -> int | None:
    """1-based line of ``node`` (or of its ``key``), when the YAML loader recorded it."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        return int(lc.key(key)[0]) + 1 if key is not None else int(lc.line) + 1
    except (KeyError, TypeError, AttributeError, IndexError):
        return None


@dataclass(frozen=True)
class KObject:
    kind: str
    api_version: str
    namespace: str  # "" when the manifest leaves it to kubectl's current namespace
    name: str
    body: Mapping[str, Any]
    file: str

    @property
    def ref(self) -> str:
        middle = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{middle}{self.name}"

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def where(self) -> Where:
        return Where(self.file, line_of(self.body))

    def at(self, *keys: str) -> Where:
        """The place of a nested key, falling back to the object's own place."""
        node: object = self.body
        line = line_of(node)
        for key in keys:
            found = line_of(node, key)
            line = found or line
            node = mapping(node).get(key)
        return Where(self.file, line)

    @property
    def spec(self) -> Mapping[str, Any]:
        return mapping(self.body.get("spec"))

    @property
    def annotations(self) -> Mapping[str, Any]:
        return mapping(dig(self.body, "metadata", "annotations"))

    def annotation(self, short: str) -> str | None:
        """An ingress-nginx annotation by its short name (``auth-url``), None when absent."""
        value = self.annotations.get(NGINX_PREFIX + short)
        return None if value is None else text(value)


def from_document(doc: Mapping[str, Any], file: str) -> Iterator[KObject]:
    """The object(s) of one YAML document; ``List`` kinds are opened up."""
    kind = text(doc.get("kind"))
    if kind.endswith("List") and isinstance(doc.get("items"), list):
        for item in items(doc.get("items")):
            item_map = mapping(item)
            if item_map:
                if not item_map.get("kind") and kind != "List":
                    item_map = {**item_map, "kind": kind[: -len("List")]}
                yield from from_document(item_map, file)
        return
    meta = mapping(doc.get("metadata"))
    yield KObject(
        kind=kind,
        api_version=text(doc.get("apiVersion")),
        namespace=text(meta.get("namespace")),
        name=text(meta.get("name")),
        body=doc,
        file=file,
    )


class Inventory:
    """Every object given, findable by kind, namespace and name."""

    def __init__(self, objects: Iterable[KObject]) -> None:
        self.objects = list(objects)

    def of(self, *kinds: str) -> list[KObject]:
        return [o for o in self.objects if o.kind in kinds]

    def find(self, kind: str, namespace: str, name: str) -> KObject | None:
        for o in self.objects:
            if o.kind == kind and o.name == name and same_namespace(o.namespace, namespace):
                return o
        return None

    def has_kind(self, kind: str) -> bool:
        return any(o.kind == kind for o in self.objects)


def same_namespace(a: str, b: str) -> bool:
    """Namespaces compare with "" (unset) and ``default`` as one."""
    return (a or "default") == (b or "default")
