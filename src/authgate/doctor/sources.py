"""Read what the doctor (and ``import``) are given: files, directories or ``-`` (stdin).

YAML is Kubernetes manifests (several documents, Helm output, ``List`` kinds) or a Traefik
file-provider config; other files are nginx configs or Caddyfiles, told apart by name and then
by content. Anything unusable becomes a finding that names the file, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from authgate.doctor import caddy, nginx
from authgate.doctor.findings import Finding, Where, error, info, warning
from authgate.doctor.kube import KObject, from_document, line_of, text

YAML_SUFFIXES = (".yaml", ".yml", ".json")
NGINX_SUFFIXES = (".conf", ".nginx")
CADDY_SUFFIXES = (".caddyfile", ".caddy")
ROUTING_KINDS = {
    "Ingress", "Service", "Endpoints", "EndpointSlice", "ConfigMap", "IngressRoute",
    "Middleware", "TraefikService", "IngressClass", "Namespace", "Secret",
}  # fmt: skip


@dataclass
class Inputs:
    objects: list[KObject] = field(default_factory=list)
    traefik_files: list[tuple[Mapping[str, Any], str]] = field(default_factory=list)
    nginx_files: list[tuple[str, tuple[nginx.Directive, ...]]] = field(default_factory=list)
    caddy_files: list[tuple[str, tuple[caddy.Node, ...]]] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def read(paths: Iterable[str], stdin: TextIO) -> Inputs:
    inputs = Inputs()
    for raw in paths:
        if raw == "-":
            _read_text(inputs, "<stdin>", stdin.read())
            continue
        path = Path(raw)
        if path.is_dir():
            files = [p for p in sorted(path.rglob("*")) if _wanted(p, path)]
            if not files:
                inputs.problems.append(
                    error(
                        "input-empty",
                        raw,
                        "no YAML, nginx or Caddy files in this directory",
                        "give the files with the manifests or proxy configuration",
                        Where(raw),
                    )
                )
            for file in files:
                _read_file(inputs, file)
        else:
            _read_file(inputs, path)
    return inputs


def _wanted(path: Path, root: Path) -> bool:
    if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
        return False
    name = path.name.lower()
    return name.endswith(YAML_SUFFIXES + NGINX_SUFFIXES + CADDY_SUFFIXES) or name.startswith(
        "caddyfile"
    )


def _read_file(inputs: Inputs, path: Path) -> None:
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        inputs.problems.append(
            error(
                "input-unreadable",
                str(path),
                "this is not a text file",
                "give YAML manifests, an nginx config or a Caddyfile",
                Where(str(path)),
            )
        )
        return
    except OSError as exc:
        inputs.problems.append(
            error(
                "input-unreadable",
                str(path),
                f"cannot read it: {exc.strerror or exc}",
                "check the path and its permissions",
                Where(str(path)),
            )
        )
        return
    _read_text(inputs, str(path), content)


def kind_of(name: str, content: str) -> str | None:
    lower = Path(name).name.lower()
    if lower.endswith(YAML_SUFFIXES):
        return "yaml"
    if lower.endswith(NGINX_SUFFIXES):
        return "nginx"
    if lower.startswith("caddyfile") or lower.endswith(CADDY_SUFFIXES):
        return "caddy"
    if re.search(r"^\s*(apiVersion|kind|http|items)\s*:", content, re.MULTILINE):
        return "yaml"
    if re.search(r";\s*(#.*)?$", content, re.MULTILINE) and re.search(
        r"^\s*(server|http|location|upstream|events)\b[^;]*\{", content, re.MULTILINE
    ):
        return "nginx"
    if re.search(r"^\S[^{}\n]*\{\s*$", content, re.MULTILINE):
        return "caddy"
    if content.lstrip().startswith(("{", "[", "---")) or re.search(
        r"^[\w.-]+\s*:(\s|$)", content, re.MULTILINE
    ):
        return "yaml"
    return None


def _read_text(inputs: Inputs, name: str, content: str) -> None:
    inputs.files.append(name)
    if not re.sub(r"(?m)^\s*(#.*)?$", "", content).strip(" \n-"):
        inputs.problems.append(
            warning(
                "input-empty",
                name,
                "the input is empty: nothing was checked",
                "give the manifests or proxy configuration",
                Where(name),
            )
        )
        return
    kind = kind_of(name, content)
    if kind == "yaml":
        _read_yaml(inputs, name, content)
    elif kind in ("nginx", "caddy"):
        _read_config(inputs, name, content, kind)
    else:
        inputs.problems.append(
            error(
                "input-unknown-format",
                name,
                "neither Kubernetes YAML, a Traefik file-provider config, nginx nor a Caddyfile",
                "name the file *.yaml, *.conf or Caddyfile if it is one of these",
                Where(name),
            )
        )


def _read_config(inputs: Inputs, name: str, content: str, kind: str) -> None:
    try:
        if kind == "nginx":
            directives = nginx.parse(content)
            inputs.nginx_files.append((name, directives))
            for inc in nginx.includes(directives):
                inputs.problems.append(
                    info(
                        "input-include",
                        name,
                        f"include {' '.join(inc.args)} is not followed",
                        "give the included files too",
                        Where(name, inc.line),
                    )
                )
        else:
            inputs.caddy_files.append((name, caddy.parse(content)))
    except nginx.SyntaxProblem as exc:
        label = "nginx config" if kind == "nginx" else "Caddyfile"
        inputs.problems.append(
            error(
                "input-syntax",
                name,
                f"not a valid {label}: {exc}",
                f"fix the syntax ({'nginx -t' if kind == 'nginx' else 'caddy validate'} shows it)",
                Where(name, exc.line),
            )
        )


def helm_manifest(content: str) -> str:
    """The manifests of ``helm install --dry-run`` output (between MANIFEST: and NOTES:)."""
    match = re.search(r"^MANIFEST:\s*$(.*?)(^NOTES:\s*$|\Z)", content, re.MULTILINE | re.DOTALL)
    return match.group(1) if match else content


def _read_yaml(inputs: Inputs, name: str, content: str) -> None:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        docs = list(YAML(typ="rt").load_all(helm_manifest(content)))
    except (YAMLError, ValueError, TypeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        hint = " (an unrendered Helm template? run helm template first)" if "{{" in content else ""
        inputs.problems.append(
            error(
                "input-not-yaml",
                name,
                f"not valid YAML: {_first_line(exc)}{hint}",
                "fix the YAML; kubectl apply --dry-run=client -f FILE shows the same",
                Where(name, line),
            )
        )
        return
    skipped: dict[str, int] = {}
    for doc in docs:
        _add_document(inputs, name, doc, skipped)
    if skipped:
        kinds = ", ".join(f"{k} ({n})" if n > 1 else k for k, n in sorted(skipped.items()))
        inputs.problems.append(
            info(
                "input-kinds-skipped",
                name,
                f"not involved in routing, not checked: {kinds}",
                where=Where(name),
            )
        )


def _add_document(inputs: Inputs, name: str, doc: object, skipped: dict[str, int]) -> None:
    if doc is None:
        return
    where = Where(name, line_of(doc))
    if not isinstance(doc, Mapping):
        inputs.problems.append(
            error(
                "input-not-kubernetes",
                name,
                "a YAML document that is not a mapping",
                "give Kubernetes objects (apiVersion, kind, metadata)",
                where,
            )
        )
        return
    if "http" in doc and "kind" not in doc:
        inputs.traefik_files.append((doc, name))
        return
    if not text(doc.get("apiVersion")) or not text(doc.get("kind")):
        inputs.problems.append(
            error(
                "input-not-kubernetes",
                name,
                "a YAML document without apiVersion and kind: not a Kubernetes object",
                "give Kubernetes manifests or a Traefik file-provider config (http: routers:)",
                where,
            )
        )
        return
    for obj in from_document(doc, name):
        if obj.kind not in ROUTING_KINDS:
            skipped[obj.kind] = skipped.get(obj.kind, 0) + 1
        elif not obj.name:
            inputs.problems.append(
                error(
                    "input-not-kubernetes",
                    name,
                    f"a {obj.kind} without metadata.name",
                    "give every object a name",
                    obj.where,
                )
            )
        else:
            inputs.objects.append(obj)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines[:2])[:200] if lines else type(exc).__name__
