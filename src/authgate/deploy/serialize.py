"""Dataclasses -> comment-annotated YAML (ruamel.yaml), the one serialiser of ``deploy/``.

Rules: a field that is ``None`` or an empty list is left out; every other value is written,
so an empty dataclass becomes ``{}``. Keys are the field names in camelCase, unless a
field's metadata names the key (``field(metadata=key("clusterIP"))``). A field named
``notes`` (a mapping of output key -> text) is not written: its texts become end-of-line
comments on those keys.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

Notes = Mapping[str, str]


def key(name: str) -> dict[str, str]:
    """Field metadata naming the YAML key, for keys camelCase cannot spell."""
    return {"key": name}


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def to_node(value: Any) -> Any:
    """A dataclass, mapping, sequence or scalar as ruamel's commented containers."""
    if is_dataclass(value) and not isinstance(value, type):
        return _dataclass_node(value)
    if isinstance(value, Mapping):
        node = CommentedMap()
        for k, v in value.items():
            node[k] = to_node(v)
        return node
    if isinstance(value, Sequence) and not isinstance(value, str):
        return CommentedSeq([to_node(v) for v in value])
    return value


def _dataclass_node(value: Any) -> CommentedMap:
    node = CommentedMap()
    notes: Notes = {}
    for f in fields(value):
        item = getattr(value, f.name)
        if f.name == "notes":
            notes = item or {}
            continue
        if item is None or (isinstance(item, list | tuple) and not item):
            continue
        node[f.metadata.get("key") or camel(f.name)] = to_node(item)
    for k, text in notes.items():
        if k in node:
            node.yaml_add_eol_comment(text, k)
    return node


@dataclass(frozen=True)
class Document:
    """One YAML document: an object and the comment lines written above it."""

    body: Any
    comment: str = ""


def _yaml() -> YAML:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold a long annotation value
    yaml.explicit_start = True
    return yaml


def dump_documents(documents: Sequence[Document]) -> str:
    """Every document after ``---``, each with its comment lines on top."""
    nodes = []
    for doc in documents:
        node = to_node(doc.body)
        if doc.comment:
            node.yaml_set_start_comment(doc.comment)
        nodes.append(node)
    out = io.StringIO()
    _yaml().dump_all(nodes, out)
    return out.getvalue()


def dump_mapping(body: Any, comment: str = "") -> str:
    """One document without ``---`` (a Traefik dynamic file, a state file)."""
    node = to_node(body)
    if comment:
        node.yaml_set_start_comment(comment)
    yaml = _yaml()
    yaml.explicit_start = False
    out = io.StringIO()
    yaml.dump(node, out)
    return out.getvalue()
