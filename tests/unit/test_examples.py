"""The Kubernetes example in examples/ is valid for the API server it claims to target."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
from ruamel.yaml import YAML

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kubernetes" / "authgate.yaml"


def test_kubernetes_example_validates() -> None:
    documents = [d for d in YAML(typ="safe").load_all(EXAMPLE.read_text()) if d]
    kinds = [d["kind"] for d in documents]
    assert kinds == ["Namespace", "PersistentVolumeClaim", "Deployment", "Service", "Ingress"]
    for document in documents:
        kubernetes_validate.validate(document, "1.33", strict=True)


def test_service_answers_on_port_80_like_authentik() -> None:
    documents = [d for d in YAML(typ="safe").load_all(EXAMPLE.read_text()) if d]
    service = next(d for d in documents if d["kind"] == "Service")
    assert service["metadata"]["name"] == "authgate"
    assert 80 in [p["port"] for p in service["spec"]["ports"]]


def test_the_deployment_gives_serve_its_public_url() -> None:
    """serve refuses to start without AUTHGATE_PUBLIC_URL; the portal Ingress serves that host."""
    documents = [d for d in YAML(typ="safe").load_all(EXAMPLE.read_text()) if d]
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    ingress = next(d for d in documents if d["kind"] == "Ingress")
    assert env["AUTHGATE_PUBLIC_URL"] == f"https://{ingress['spec']['rules'][0]['host']}"
