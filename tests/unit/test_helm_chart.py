"""The Helm chart in deploy/helm/authgate, rendered by Helm's own engine (helm-python-sdk).

Every object of every value set must pass the Kubernetes API schema in strict mode (the
ServiceMonitor, a CRD without a built-in schema, is checked by shape); then the tests look
at what an operator notices: replicas, probes, the env the server reads, no volume claim,
a PodDisruptionBudget exactly when there is more than one replica, the refusals.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from authgate.config.loader import parse_duration

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "authgate"
KUBERNETES = "1.34"
PUBLIC = "https://auth.example.com"
POSTGRES = {"existingSecret": "authgate-db"}

Doc = dict[str, Any]


@pytest.fixture(scope="module", autouse=True)
def _quiet_helm() -> Iterator[None]:
    helm_python.disable_logging()  # lint's findings are returned; Go's log lines are noise
    yield


def render_all(values: dict[str, Any], name: str = "authgate") -> dict[str, str]:
    return helm_python.Chart.load(CHART).render(values, name=name, namespace="auth")


def render(values: dict[str, Any], name: str = "authgate") -> list[Doc]:
    """The objects the chart makes (NOTES.txt is text, not an object)."""
    docs: list[Doc] = []
    for path, text in sorted(render_all(values, name).items()):
        if path.endswith("NOTES.txt"):
            continue
        docs += [d for d in YAML(typ="safe").load_all(text) if d]
    return docs


def one(docs: list[Doc], kind: str) -> Doc:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def container(docs: list[Doc]) -> Doc:
    (only,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return only


def env(docs: list[Doc]) -> dict[str, Any]:
    """Name -> value, or the secretKeyRef for variables read from a Secret."""
    return {
        e["name"]: e.get("value", e.get("valueFrom", {}).get("secretKeyRef"))
        for e in container(docs)["env"]
    }


def check_service_monitor(monitor: Doc) -> None:
    """monitoring.coreos.com/v1 ServiceMonitor: the fields prometheus-operator reads."""
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(monitor["spec"]) <= {"selector", "namespaceSelector", "endpoints", "jobLabel"}
    assert monitor["spec"]["selector"]["matchLabels"]
    for endpoint in monitor["spec"]["endpoints"]:
        assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}
        assert isinstance(endpoint["port"], str)


def validate(docs: list[Doc]) -> None:
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            check_service_monitor(doc)
        else:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)


VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults on PostgreSQL": {"publicUrl": PUBLIC, "database": POSTGRES},
    "database URL as a value": {
        "publicUrl": PUBLIC,
        "database": {"url": "postgresql://authgate:pw@db.example/authgate"},
    },
    "Redis from a value": {
        "publicUrl": PUBLIC,
        "database": POSTGRES,
        "redis": {"url": "redis://redis.cache:6379/0", "prefix": "ag:"},
    },
    "existing Secrets everywhere": {
        "publicUrl": PUBLIC,
        "database": {"existingSecret": "db", "secretKey": "url"},
        "redis": {"existingSecret": "cache", "secretKey": "url"},
        "keys": {"existingSecret": "authgate-keys"},
    },
    "ServiceMonitor on": {
        "publicUrl": PUBLIC,
        "database": POSTGRES,
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "kps"}}},
    },
    "everything set": {
        "publicUrl": "https://sso.example.org:8443/",
        "replicaCount": 3,
        "workers": 2,
        "database": POSTGRES,
        "trustedProxies": ["10.42.0.0/16", "10.43.0.0/16"],
        "metrics": {"allow": ["10.42.0.0/16"]},
        "degradedGrace": "10m",
        "ingress": {"tls": [{"secretName": "sso-tls", "hosts": ["sso.example.org"]}]},
        "podAnnotations": {"example.org/team": "identity"},
        "extraEnv": [{"name": "AUTHGATE_IDLE_TIMEOUT", "value": "2h"}],
    },
    "1 replica on SQLite": {"publicUrl": PUBLIC, "replicaCount": 1},
    "1 replica on SQLite on a claim": {
        "publicUrl": PUBLIC,
        "replicaCount": 1,
        "persistence": {"existingClaim": "authgate-data"},
    },
}


@pytest.mark.parametrize("case", sorted(VALUE_SETS))
def test_every_object_passes_the_kubernetes_schema(case: str) -> None:
    docs = render(VALUE_SETS[case])
    assert {"Deployment", "Service"} <= {d["kind"] for d in docs}
    validate(docs)


def test_helm_lint_finds_no_error() -> None:
    report = helm_python.lint(CHART, {"publicUrl": PUBLIC, "database": POSTGRES}, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_defaults_run_two_replicas_on_postgresql_with_nothing_on_a_volume_claim() -> None:
    docs = render(VALUE_SETS["defaults on PostgreSQL"])
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert "PersistentVolumeClaim" not in {d["kind"] for d in docs}
    assert all("persistentVolumeClaim" not in v for v in pod["volumes"])
    data = next(m for m in container(docs)["volumeMounts"] if m["mountPath"] == "/data")
    assert next(v for v in pod["volumes"] if v["name"] == data["name"])["emptyDir"] == {}
    variables = env(docs)
    assert variables["AUTHGATE_DATABASE_URL"] == {"name": "authgate-db", "key": "database-url"}
    assert variables["AUTHGATE_PUBLIC_URL"] == PUBLIC
    assert variables["AUTHGATE_DATA_DIR"] == "/data"
    assert variables["AUTHGATE_LOG_FORMAT"] == "json"
    assert "AUTHGATE_REDIS_URL" not in variables


def test_probes_ask_the_health_endpoints_on_the_port_the_server_listens_on() -> None:
    docs = render(VALUE_SETS["defaults on PostgreSQL"])
    main = container(docs)
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    listen = int(env(docs)["AUTHGATE_PORT"])
    assert env(docs)["AUTHGATE_HOST"] == "0.0.0.0"
    for probe, path in (("readinessProbe", "/-/health/ready"), ("livenessProbe", "/-/health/live")):
        assert main[probe]["httpGet"]["path"] == path
        assert ports[main[probe]["httpGet"]["port"]] == listen


@pytest.mark.parametrize("grace", [None, "10m"])
def test_a_database_outage_keeps_pods_in_the_service_for_the_degraded_grace(
    grace: str | None,
) -> None:
    """Every replica sees the same dead database: were they all taken out of the Service
    before the grace ends, the ingress would find no endpoint and the grace reach nobody."""
    values = dict(VALUE_SETS["defaults on PostgreSQL"])
    if grace is not None:  # a longer grace needs the probe's patience raised with it
        values |= {"degradedGrace": grace, "probes": {"readiness": {"failureThreshold": 60}}}
    ready = container(render(values))["readinessProbe"]
    seconds = parse_duration(grace or "5m")
    assert ready["periodSeconds"] * ready["failureThreshold"] >= seconds


def test_the_container_runs_unprivileged_on_a_read_only_root() -> None:
    docs = render(VALUE_SETS["defaults on PostgreSQL"])
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    security = container(docs)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    writable = {m["mountPath"] for m in container(docs)["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/data", "/tmp"}


def test_the_service_reaches_the_pods_on_port_80_like_authentiks() -> None:
    docs = render(VALUE_SETS["defaults on PostgreSQL"])
    service = one(docs, "Service")
    pod = one(docs, "Deployment")["spec"]["template"]
    assert service["metadata"]["name"] == "authgate"
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    port_names = {p["name"] for p in container(docs)["ports"]}
    by_port = {p["port"]: p["targetPort"] for p in service["spec"]["ports"]}
    assert by_port[80] in port_names
    assert by_port[9000] in port_names


def test_the_portal_ingress_serves_the_public_host_without_forward_auth() -> None:
    docs = render(VALUE_SETS["everything set"])
    ingress = one(docs, "Ingress")
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["sso.example.org"]
    assert env(docs)["AUTHGATE_PUBLIC_URL"] == "https://sso.example.org:8443"
    annotations = ingress["metadata"].get("annotations") or {}
    assert not [a for a in annotations if "auth-url" in a]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = one(docs, "Service")
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_settings_reach_the_server_as_its_variables() -> None:
    variables = env(render(VALUE_SETS["everything set"]))
    assert variables["AUTHGATE_TRUSTED_PROXIES"] == "10.42.0.0/16,10.43.0.0/16"
    assert variables["AUTHGATE_METRICS_ALLOW"] == "10.42.0.0/16"
    assert variables["AUTHGATE_WORKERS"] == "2"
    assert variables["AUTHGATE_DEGRADED_GRACE"] == "10m"
    assert variables["AUTHGATE_IDLE_TIMEOUT"] == "2h"


def test_a_database_url_given_as_a_value_goes_into_a_secret_not_the_pod_spec() -> None:
    url = "postgresql://authgate:pw@db.example/authgate"
    docs = render(VALUE_SETS["database URL as a value"])
    secret = one(docs, "Secret")
    ref = env(docs)["AUTHGATE_DATABASE_URL"]
    assert ref["name"] == secret["metadata"]["name"]
    assert secret["stringData"][ref["key"]] == url
    assert url not in str(one(docs, "Deployment"))
    assert "Secret" not in {d["kind"] for d in render(VALUE_SETS["defaults on PostgreSQL"])}


def test_a_changed_url_restarts_the_pods() -> None:
    """The server reads the URL at start: a new value must roll the Deployment."""

    def annotations(url: str) -> dict[str, str]:
        values = {"publicUrl": PUBLIC, "database": {"url": url}}
        meta = one(render(values), "Deployment")["spec"]["template"]["metadata"]
        return dict(meta["annotations"])

    assert annotations("postgresql://a@db/one") != annotations("postgresql://a@db/two")


@pytest.mark.parametrize("case", ["Redis from a value", "existing Secrets everywhere"])
def test_redis_is_read_from_a_secret_when_configured(case: str) -> None:
    docs = render(VALUE_SETS[case])
    ref = env(docs)["AUTHGATE_REDIS_URL"]
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    if case == "Redis from a value":
        assert secrets[ref["name"]]["stringData"][ref["key"]] == "redis://redis.cache:6379/0"
        assert env(docs)["AUTHGATE_REDIS_PREFIX"] == "ag:"
    else:
        assert ref == {"name": "cache", "key": "url"}
        assert env(docs)["AUTHGATE_DATABASE_URL"] == {"name": "db", "key": "url"}


def test_key_overrides_are_files_from_the_named_secret() -> None:
    docs = render(VALUE_SETS["existing Secrets everywhere"])
    variables = env(docs)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (keys,) = [v for v in pod["volumes"] if "secret" in v]
    assert keys["secret"]["secretName"] == "authgate-keys"
    (mount,) = [m for m in container(docs)["volumeMounts"] if m["name"] == keys["name"]]
    assert mount["readOnly"] is True
    files = {f"{mount['mountPath']}/{item['path']}" for item in keys["secret"]["items"]}
    assert {variables["AUTHGATE_SECRET_KEY_FILE"], variables["AUTHGATE_JWT_KEY_FILE"]} == files
    assert "AUTHGATE_SECRET_KEY_FILE" not in env(render(VALUE_SETS["defaults on PostgreSQL"]))


@pytest.mark.parametrize(("replicas", "budget"), [(1, False), (2, True), (5, True)])
def test_a_disruption_budget_exists_exactly_when_there_are_several_replicas(
    replicas: int, budget: bool
) -> None:
    docs = render({"publicUrl": PUBLIC, "database": POSTGRES, "replicaCount": replicas})
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert bool(budgets) is budget
    if budget:
        labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
        assert budgets[0]["spec"]["minAvailable"] == 1
        assert budgets[0]["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_service_monitor_scrapes_metrics_through_the_service() -> None:
    docs = render(VALUE_SETS["ServiceMonitor on"])
    monitor = one(docs, "ServiceMonitor")
    service = one(docs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["auth"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/-/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert "ServiceMonitor" not in {d["kind"] for d in render(VALUE_SETS["defaults on PostgreSQL"])}


def test_one_replica_on_sqlite_is_allowed_and_warned_about() -> None:
    values = VALUE_SETS["1 replica on SQLite"]
    docs = render(values)
    assert one(docs, "Deployment")["spec"]["replicas"] == 1
    assert "AUTHGATE_DATABASE_URL" not in env(docs)
    notes = render_all(values)["authgate/templates/NOTES.txt"]
    assert "lost when the pod goes" in notes


@pytest.mark.parametrize(
    "database", [{}, {"url": "sqlite:////data/authgate.db"}], ids=["default", "sqlite-url"]
)
def test_several_replicas_on_sqlite_are_refused_with_the_reason(database: dict[str, str]) -> None:
    values = {"publicUrl": PUBLIC, "replicaCount": 3, "database": database}
    with pytest.raises(helm_python.HelmRenderError, match="cannot be shared between pods"):
        render(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"database": POSTGRES}, "publicUrl is required"),
        ({"publicUrl": "auth.example.com", "database": POSTGRES}, "publicUrl"),
        (
            {"publicUrl": PUBLIC, "database": {"url": "mysql://db/authgate"}},
            "must start with postgresql://",
        ),
        (
            {"publicUrl": PUBLIC, "database": {"existingSecret": "db", "url": "postgresql://x/y"}},
            "not both",
        ),
    ],
    ids=["no-public-url", "public-url-without-scheme", "mysql", "two-database-sources"],
)
def test_values_serve_would_refuse_are_refused_by_the_chart(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises((helm_python.HelmRenderError, helm_python.HelmValuesError), match=message):
        render(values)


def test_a_refused_database_url_does_not_print_its_password() -> None:
    values = {"publicUrl": PUBLIC, "database": {"url": "mysql://root:hunter2@db/authgate"}}
    with pytest.raises(helm_python.HelmRenderError) as refused:
        render(values)
    assert "hunter2" not in str(refused.value)


def test_a_misspelt_value_is_refused_not_ignored() -> None:
    """`replicas: 3` instead of `replicaCount` would otherwise silently run 2."""
    with pytest.raises(helm_python.HelmValuesError, match="replicas"):
        render({"publicUrl": PUBLIC, "database": POSTGRES, "replicas": 3})


def test_objects_are_named_after_the_release() -> None:
    docs = render(VALUE_SETS["defaults on PostgreSQL"], name="sso")
    names = {d["metadata"]["name"] for d in docs}
    assert "sso-authgate" in names
    assert all(name.startswith("sso-authgate") for name in names)


def test_the_example_manifest_runs_authgate_as_the_chart_does() -> None:
    """examples/kubernetes/authgate.yaml is for people without Helm: it must not drift."""
    example_path = CHART.parents[2] / "examples" / "kubernetes" / "authgate.yaml"
    example = [d for d in YAML(typ="safe").load_all(example_path.read_text()) if d]
    chart = render(VALUE_SETS["defaults on PostgreSQL"])
    ours, theirs = container(example), container(chart)
    for field in ("args", "ports", "securityContext", "volumeMounts"):
        assert _without_protocol(ours[field]) == _without_protocol(theirs[field]), field
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert ours[probe]["httpGet"] == theirs[probe]["httpGet"], probe
    pod = one(example, "Deployment")["spec"]["template"]["spec"]
    assert (
        pod["securityContext"]
        == one(chart, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    )
    assert set(env(example)) <= set(env(chart))
    assert {d["kind"] for d in chart} <= {d["kind"] for d in example}


def _without_protocol(value: Any) -> Any:
    if isinstance(value, list):
        return [
            {k: v for k, v in item.items() if k != "protocol"} if isinstance(item, dict) else item
            for item in value
        ]
    return value
