"""The Kubernetes example in examples/ is valid for the API server it claims to target, and
runs authgate as the chart does: several replicas on PostgreSQL, nothing on a volume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
from ruamel.yaml import YAML

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kubernetes" / "authgate.yaml"


def documents() -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe").load_all(EXAMPLE.read_text()) if d]


def one(kind: str) -> dict[str, Any]:
    (found,) = [d for d in documents() if d["kind"] == kind]
    return found


def container() -> dict[str, Any]:
    (only,) = one("Deployment")["spec"]["template"]["spec"]["containers"]
    return only


def test_kubernetes_example_validates() -> None:
    kinds = [d["kind"] for d in documents()]
    assert kinds == [
        "Namespace",
        "Secret",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "Ingress",
    ]
    for document in documents():
        kubernetes_validate.validate(document, "1.34", strict=True)


def test_service_answers_on_port_80_like_authentik() -> None:
    service = one("Service")
    assert service["metadata"]["name"] == "authgate"
    assert 80 in [p["port"] for p in service["spec"]["ports"]]


def test_the_deployment_gives_serve_its_public_url() -> None:
    """serve refuses to start without AUTHGATE_PUBLIC_URL; the portal Ingress serves that host."""
    env = {e["name"]: e.get("value") for e in container()["env"]}
    ingress = one("Ingress")
    assert env["AUTHGATE_PUBLIC_URL"] == f"https://{ingress['spec']['rules'][0]['host']}"


def test_two_replicas_share_postgresql_from_a_secret_and_keep_nothing_on_a_claim() -> None:
    deployment = one("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    (database,) = [e for e in container()["env"] if e["name"] == "AUTHGATE_DATABASE_URL"]
    ref = database["valueFrom"]["secretKeyRef"]
    secret = one("Secret")
    assert ref["name"] == secret["metadata"]["name"]
    assert secret["stringData"][ref["key"]].startswith("postgresql://")
    assert "PersistentVolumeClaim" not in [d["kind"] for d in documents()]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert all(set(v) == {"name", "emptyDir"} for v in volumes)


def test_probes_ask_the_health_endpoints_on_the_listening_port() -> None:
    main = container()
    env = {e["name"]: e.get("value") for e in main["env"]}
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert main["readinessProbe"]["httpGet"]["path"] == "/-/health/ready"
    assert main["livenessProbe"]["httpGet"]["path"] == "/-/health/live"
    for probe in ("readinessProbe", "livenessProbe"):
        assert ports[main[probe]["httpGet"]["port"]] == int(env["AUTHGATE_PORT"])


def test_a_disruption_budget_keeps_one_replica_through_a_drain() -> None:
    budget = one("PodDisruptionBudget")
    labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_readiness_keeps_a_pod_in_the_service_through_the_degraded_grace() -> None:
    """A dead database fails every replica's readiness at once: no pod may leave the Service
    before the default 5-minute grace for known sessions is over."""
    ready = container()["readinessProbe"]
    assert ready["periodSeconds"] * ready["failureThreshold"] >= 300
