"""Every Kubernetes object ``authgate manifests`` writes is valid: built-in kinds against
Kubernetes' own OpenAPI schemas (kubernetes-validate, strict), custom resources against the
hand-written schemas in ``manifest_schemas.py``."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from .manifest_cases import CASES
from .manifest_schemas import SCHEMAS

KUBERNETES_VERSION = "1.33"
BUILT_IN = {"ConfigMap", "Service", "EndpointSlice", "Endpoints", "Ingress"}
YAML_CASES = sorted(n for n in CASES if n.endswith(".yaml") and not n.startswith("traefik-file"))


def objects(name: str) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe").load_all(CASES[name]()) if d]


def check(doc: dict[str, Any]) -> None:
    kind = doc["kind"]
    if kind in BUILT_IN:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    else:
        assert kind in SCHEMAS, f"no schema for {kind}"
        jsonschema.validate(doc, SCHEMAS[kind], cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("name", YAML_CASES)
def test_every_object_is_valid(name: str) -> None:
    docs = objects(name)
    assert docs
    for doc in docs:
        check(doc)


def test_all_kinds_are_covered() -> None:
    kinds = {d["kind"] for n in YAML_CASES for d in objects(n)}
    assert kinds == BUILT_IN | set(SCHEMAS)


def _first(kind: str) -> dict[str, Any]:
    for name in YAML_CASES:
        for doc in objects(name):
            if doc["kind"] == kind:
                return copy.deepcopy(doc)
    raise AssertionError(kind)


BREAKAGES = [
    ("IngressRoute", lambda d: d["spec"]["routes"][0].update(kind="Rules")),
    ("IngressRoute", lambda d: d["spec"]["routes"][0].pop("match")),
    ("IngressRoute", lambda d: d["spec"]["tls"].update(certresolver="x")),
    ("Middleware", lambda d: d["spec"]["forwardAuth"].update(trustForwardHeader="yes")),
    ("Middleware", lambda d: d["spec"]["forwardAuth"].pop("address")),
    ("HTTPRoute", lambda d: d["spec"]["rules"][0]["matches"][0]["path"].update(type="Prefix")),
    ("HTTPRoute", lambda d: d["spec"]["rules"][0]["backendRefs"][0].update(port=0)),
    ("HTTPRoute", lambda d: d["spec"]["rules"][0].update(filters=[{"type": "ExtensionRef"}])),
    ("ReferenceGrant", lambda d: d["spec"].update(to=[])),
    ("SecurityPolicy", lambda d: d["spec"]["targetRefs"][0].update(kind="Service")),
    ("SecurityPolicy", lambda d: d["spec"]["extAuth"]["http"].pop("backendRefs")),
    ("SecurityPolicy", lambda d: d["spec"]["extAuth"].update(grpc={})),
    ("Service", lambda d: d["spec"]["ports"][0].update(port="http")),
    ("EndpointSlice", lambda d: d.pop("addressType")),
    ("Ingress", lambda d: d["spec"].update(ingressClass="nginx")),
]


@pytest.mark.parametrize(("kind", "breaks"), BREAKAGES)
def test_the_checks_catch_a_broken_object(kind: str, breaks: Any) -> None:
    doc = _first(kind)
    breaks(doc)
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        check(doc)
