"""deploy/: the Grafana dashboard asks only for metrics the service exports, the compose file wires
the API to its Redis on the port the image exposes, and the image's base is a build argument."""

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
    client.post("/v1/decisions", headers=h, json={"customer_id": "c", "dry_run": True, "message": {**msg, "message_id": "d"}})
    client.post("/v1/events", headers=h, json={"events": [{"event_id": "e", "customer_id": "c", "type": "opened",
                                                           "ts": "2026-11-20T10:00:00Z"}]})
    client.post("/v1/events", headers=h, json={"events": [{"event_id": "e", "customer_id": "c", "type": "?",
                                                           "ts": "2026-11-20T10:00:00Z"}]})
    client.post("/v1/hooks/braze/no-such-hook", json={"events": []})
    hook = registry.create(client.app.state.services.store, "acme", "braze")
    client.post(f"/v1/hooks/braze/{hook.id}", headers={"Authorization": "Bearer wrong"}, json={"events": []})
    text = client.get("/metrics").text
    return {re.split(r"[{ ]", line, 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


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
