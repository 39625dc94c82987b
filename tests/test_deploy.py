"""deploy/: the Grafana dashboard asks only for metrics the service exports, the compose file wires
the API to its Redis on the port the image exposes, the image's base is a build argument, and the
Kubernetes manifests are valid and hang together (probes, Service, autoscaler, a cluster's config)."""

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import yaml

from suppressor.hooks import registry
from tests.factories import auth

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def exported(client, key) -> set[str]:
    """Metric names in /metrics after a little of every kind of traffic."""
    h = auth(key)
    msg = {"message_id": "m", "channel": "email", "kind": "value", "topics": ["x"]}
    client.post("/v1/decisions", headers=h, json={"customer_id": "c", "message": msg})
    client.post("/v1/decisions", headers=h, json={"customer_id": "c", "message": msg})
    client.post(
        "/v1/decisions", headers=h, json={"customer_id": "c", "dry_run": True, "message": {**msg, "message_id": "d"}}
    )
    client.post(
        "/v1/events",
        headers=h,
        json={"events": [{"event_id": "e", "customer_id": "c", "type": "opened", "ts": "2026-11-20T10:00:00Z"}]},
    )
    client.post(
        "/v1/events",
        headers=h,
        json={"events": [{"event_id": "e", "customer_id": "c", "type": "?", "ts": "2026-11-20T10:00:00Z"}]},
    )
    client.post("/v1/hooks/braze/no-such-hook", json={"events": []})
    hook = registry.create(client.app.state.services.store, "acme", "braze")
    client.post(f"/v1/hooks/braze/{hook.id}", headers={"Authorization": "Bearer wrong"}, json={"events": []})
    text = client.get("/metrics").text
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_the_dashboard_queries_only_metrics_the_service_exports(client, key):
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    wanted = {m for e in exprs for m in re.findall(r"\bsuppressor_[a-z_]+", e)}
    assert len(wanted) >= 10
    assert wanted <= exported(client, key), wanted - exported(client, key)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and dash["uid"] == "suppressor"


def test_compose_wires_the_api_to_its_redis_on_the_exposed_port():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    api, services = compose["services"]["api"], compose["services"]
    redis_url = urlparse(api["environment"]["REDIS_URL"])
    assert redis_url.scheme == "redis" and redis_url.hostname in services
    assert api["depends_on"][redis_url.hostname]["condition"] == "service_healthy"
    exposed = re.search(r"^EXPOSE (\d+)$", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert api["ports"] == [f"{exposed}:{exposed}"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert api["build"]["context"] == ".." and (DEPLOY / api["build"]["context"] / "Dockerfile").exists()


def test_the_image_base_is_a_build_argument():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    froms = [line for line in lines if line.startswith("FROM ")]
    first_from = lines.index(froms[0])
    assert any(line.startswith("ARG BASE=") for line in lines[:first_from])
    assert all(line.split()[1] == "${BASE}" for line in froms)


def manifests() -> dict[tuple[str, str], dict]:
    """Every object in deploy/k8s by (kind, name)."""
    docs = [d for f in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_the_kubernetes_manifests_are_valid_against_the_kubernetes_schema():
    import kubernetes_validate

    objects = manifests()
    assert {kind for kind, _ in objects} == {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    for obj in objects.values():  # strict: a misspelt field is an error, not ignored
        kubernetes_validate.validate(obj, "1.30.0", strict=True)


def test_the_api_is_probed_served_and_scaled_and_both_deployments_use_a_cluster_config(monkeypatch):
    objects = manifests()
    api = objects["Deployment", "suppressor-api"]
    labels = api["spec"]["template"]["metadata"]["labels"]
    [c] = api["spec"]["template"]["spec"]["containers"]
    port = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert c["command"][c["command"].index("--port") + 1] == str(port["http"])
    probes = {name: c[name]["httpGet"] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert {name: (p["path"], p["port"]) for name, p in probes.items()} == {
        "startupProbe": ("/healthz", "http"),
        "livenessProbe": ("/healthz", "http"),
        "readinessProbe": ("/readyz", "http"),
    }
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]

    service = objects["Service", "suppressor-api"]
    assert service["spec"]["selector"].items() <= labels.items() and service["spec"]["ports"][0]["targetPort"] == "http"
    hpa = objects["HorizontalPodAutoscaler", "suppressor-api"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "suppressor-api"}
    assert hpa["metrics"][0]["resource"]["name"] == "cpu" and hpa["minReplicas"] >= 2
    assert objects["PodDisruptionBudget", "suppressor-api"]["spec"]["selector"]["matchLabels"].items() <= labels.items()

    [w] = objects["Deployment", "suppressor-worker"]["spec"]["template"]["spec"]["containers"]
    assert w["command"] == ["suppressor", "worker"] and w["resources"]["requests"]["memory"]
    for container in (c, w):
        assert {"configMapRef": {"name": "suppressor"}} in container["envFrom"]

    # the config is what the service reads: valid settings, a cluster store and a plain queue beside it
    from suppressor.settings import Settings

    for name, value in {
        **objects["ConfigMap", "suppressor"]["data"],
        **objects["Secret", "suppressor"]["stringData"],
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.redis_url.startswith("redis+cluster://") and settings.queue_url.startswith("redis://")
    assert settings.training_runner == "queue" and settings.ops_token
    assert settings.workers == int(c["resources"]["requests"]["cpu"])  # one uvicorn worker per requested core
