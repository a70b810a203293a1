"""What the doctor reads: every kind of input, and every kind of bad input as a clear finding."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from authgate.doctor.findings import Severity

from .doctor_helpers import SEED000, SEED003, check, errors, ids, only, write

ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


def test_stdin_is_read_with_dash() -> None:
    found = check(["-"], stdin=SEED000.read_text())
    assert errors(found) == []
    assert only(found, "nginx-set-cookie-forwarded").where.file == "<stdin>"  # type: ignore[union-attr]


def test_a_directory_is_read_recursively() -> None:
    found = check([SEED003])
    assert {f.where.file for f in found if f.id == "traefik-containo-us"} == {  # type: ignore[union-attr]
        str(p) for p in SEED003.rglob("*.yaml") if "middleware" in p.name or "ingress" in p.name
    }


def test_list_kind_from_kubectl_get(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    docs = [d for d in YAML(typ="safe").load_all(SEED000.read_text()) if d]
    listing = {"apiVersion": "v1", "kind": "List", "items": docs}
    path = tmp_path / "list.json"
    import json

    path.write_text(json.dumps(listing))
    found = check([path])
    assert errors(found) == []
    assert "nginx-set-cookie-forwarded" in ids(found)


def test_typed_list_items_take_the_kind_from_the_list(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "svc.yaml",
        "apiVersion: v1\nkind: ServiceList\nitems:\n"
        "  - apiVersion: v1\n    metadata: {name: bad, namespace: x}\n"
        "    spec: {type: ExternalName, externalName: 10.1.2.3}\n",
    )
    assert only(check([path]), "externalname-ip").object == "Service/x/bad"


def test_helm_template_output(tmp_path: Path) -> None:
    docs = SEED000.read_text().split("\n---\n")
    rendered = "---\n# Source: wiki/templates/empty.yaml\n" + "".join(
        f"---\n# Source: wiki/templates/part{i}.yaml\n{doc}\n" for i, doc in enumerate(docs)
    )
    found = check([write(tmp_path, "rendered.yaml", rendered)])
    assert errors(found) == []
    assert "nginx-set-cookie-forwarded" in ids(found)


def test_helm_install_dry_run_output(tmp_path: Path) -> None:
    text = (
        "NAME: wiki\nLAST DEPLOYED: Mon Jan  1 00:00:00 2026\nSTATUS: pending-install\n"
        "HOOKS:\nMANIFEST:\n" + SEED000.read_text() + "\nNOTES:\nOpen http://wiki.bogocat.com\n"
    )
    found = check([write(tmp_path, "helm.txt", text)])
    assert errors(found) == []
    assert "nginx-set-cookie-forwarded" in ids(found)


def test_not_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: [x\n")
    finding = only(check([path]), "input-not-yaml")
    assert finding.severity is ERR and finding.where is not None and finding.where.line


def test_unrendered_helm_template_gets_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "tpl.yaml", "metadata:\n  name: {{ .Values.name }}\n  x: {{ a }\n")
    finding = only(check([path]), "input-not-yaml")
    assert "helm template" in finding.problem


def test_yaml_that_is_not_kubernetes(tmp_path: Path) -> None:
    path = write(tmp_path, "values.yaml", "replicaCount: 2\nimage: {repository: x}\n")
    finding = only(check([path]), "input-not-kubernetes")
    assert finding.severity is ERR and "apiVersion" in finding.problem


def test_a_yaml_list_is_not_kubernetes(tmp_path: Path) -> None:
    assert only(check([write(tmp_path, "l.yaml", "- a\n- b\n")]), "input-not-kubernetes")


def test_unknown_kinds_are_named_in_one_info_line(tmp_path: Path) -> None:
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\n---\n"
        "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: c}\n"
    )
    finding = only(check([write(tmp_path, "apps.yaml", text)]), "input-kinds-skipped")
    assert finding.severity is INFO
    assert "Deployment (2)" in finding.problem and "Gizmo" in finding.problem


def test_object_without_a_name(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "apiVersion: v1\nkind: Service\nmetadata: {namespace: a}\n")
    assert only(check([path]), "input-not-kubernetes").severity is ERR


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    finding = only(check([write(tmp_path, "empty.yaml", text)]), "input-empty")
    assert finding.severity is WARN


def test_missing_path(tmp_path: Path) -> None:
    finding = only(check([tmp_path / "nope.yaml"]), "input-unreadable")
    assert finding.severity is ERR and "No such file" in finding.problem


def test_path_through_a_file(tmp_path: Path) -> None:
    write(tmp_path, "file.yaml", "a: 1\n")
    finding = only(check([tmp_path / "file.yaml" / "x.yaml"]), "input-unreadable")
    assert finding.severity is ERR and "Not a directory" in finding.problem


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.yaml", "a: 1\n")
    path.chmod(0)
    assert only(check([path]), "input-unreadable").severity is ERR


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "blob.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01" * 10)
    assert "not a text file" in only(check([path]), "input-unreadable").problem


def test_directory_without_configs(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "# hello\n")
    assert only(check([tmp_path]), "input-empty").severity is ERR


def test_text_of_no_known_format(tmp_path: Path) -> None:
    path = write(tmp_path, "notes", "just some words\nand more words\n")
    assert only(check([path]), "input-unknown-format").severity is ERR


def test_nginx_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "site.conf", "server {\n  listen 80;\n  location / {\n    return 200\n  }\n"
    )
    finding = only(check([path]), "input-syntax")
    assert finding.severity is ERR and finding.where is not None and finding.where.line == 4


def test_caddyfile_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "Caddyfile", "app.test {\n  reverse_proxy localhost:1\n")
    assert only(check([path]), "input-syntax").severity is ERR


def test_nginx_include_is_reported_not_followed(tmp_path: Path) -> None:
    path = write(tmp_path, "n.conf", "http {\n  include /etc/nginx/conf.d/*.conf;\n}\n")
    assert only(check([path]), "input-include").severity is INFO


def test_formats_are_told_apart_by_content(tmp_path: Path) -> None:
    from authgate.doctor.sources import kind_of

    assert kind_of("-", "apiVersion: v1\nkind: Service\n") == "yaml"
    assert kind_of("-", "http:\n  routers: {}\n") == "yaml"
    assert kind_of("-", "server {\n  listen 80;\n}\n") == "nginx"
    assert kind_of("-", "app.test {\n  reverse_proxy x:1\n}\n") == "caddy"
    assert kind_of("site", "words") is None
