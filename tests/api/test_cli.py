"""The console script: keys, quickstart, and serving that never loads LightFM."""

import os
import subprocess
import sys

from suppressor.tenants.apikeys import KeyResolver
from tests.conftest import redis_url_for_tests


def env_for(settings):
    env = dict(os.environ, SUPPRESSOR_DATA_DIR=str(settings.data_dir))
    env.pop("REDIS_URL", None)
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    return env


def test_keys_create_prints_a_working_key(store, settings):
    out = subprocess.run(
        [sys.executable, "-m", "suppressor.api.cli", "keys", "create", "--tenant", "acme"],
        env=env_for(settings),
        capture_output=True,
        text=True,
        check=True,
    )
    key = out.stdout.strip()
    assert key.startswith("sk_acme_")
    assert KeyResolver(store).tenant_for(key) == "acme"


def test_keys_create_rejects_a_bad_tenant_name(settings):
    out = subprocess.run(
        [sys.executable, "-m", "suppressor.api.cli", "keys", "create", "--tenant", "Bad Name"],
        env=env_for(settings),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "--tenant" in out.stderr


def test_quickstart_runs_end_to_end_and_reports_recovery(tmp_path):
    env = dict(os.environ, SUPPRESSOR_DATA_DIR=str(tmp_path / "qs"))
    env.pop("REDIS_URL", None)
    url = redis_url_for_tests()
    if url:
        env["REDIS_URL"] = url
    out = subprocess.run(
        [sys.executable, "-m", "suppressor.api.cli", "quickstart", "--no-serve", "--customers", "400", "--weeks", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "AUC of the learned score" in out.stdout
    assert "activated v1" in out.stdout
    assert "learned best hour within ±1 h" in out.stdout
    # the governed arms against the holdout, what each message adds against the planted truth, send time
    assert "engagement " in out.stdout and "send-time " in out.stdout and "holdout " in out.stdout
    assert "measured by the control" in out.stdout and "by planted response" in out.stdout
    assert "send time: " in out.stdout
    assert any(word in out.stdout for word in ("SEND", "SUPPRESS", "REROUTE"))


def test_train_rejects_unknown_event_weights(settings):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "suppressor.api.cli",
            "train",
            "--tenant",
            "acme",
            "--event-weights",
            '{"teleported": 1}',
        ],
        env=env_for(settings),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "unknown event types ['teleported']" in out.stderr


def test_event_weights_change_the_labels():
    from suppressor.model.labels import LabelRules, label

    evs = [{"type": "opened", "ts": "2026-11-01T00:00:00Z"}]
    assert label(evs, LabelRules(), 0)[:2] == (1.0, 1.0)
    rules = LabelRules(weights={**LabelRules().weights, "opened": 0.25})
    assert label(evs, rules, 0)[1] == 0.25


def test_simulate_prints_the_comparison_and_the_sweep_writes_csv_and_png(store, settings, governed, tmp_path):
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "suppressor.api.cli", *a],
        env=env_for(settings),
        capture_output=True,
        text=True,
    )
    out = run("simulate", "--tenant", "acme", "--set", "relevance_threshold=0.15")
    assert out.returncode == 0, out.stderr
    assert "reproduces 100.0% of the logged verdicts" in out.stdout
    assert "suppressed by irrelevant" in out.stdout and "engagement kept" in out.stdout
    assert "95% intervals (customers resampled)" in out.stdout

    out = run(
        "simulate",
        "--tenant",
        "acme",
        "--sweep",
        "relevance_threshold",
        "--values",
        "0,0.05,0.2",
        "--out",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    rows = (tmp_path / "tradeoff-relevance_threshold.csv").read_text().splitlines()
    assert rows[0].startswith("value,current,sends,sends_pct") and len(rows) == 4
    assert rows[2].startswith("0.05,True,") and ",100.0," in rows[2]
    png = (tmp_path / "tradeoff-relevance_threshold.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert "<- current" in out.stdout and "keep 95% of engagement" in out.stdout

    out = run("simulate", "--tenant", "acme", "--set", "relevance_threshold=2")
    assert out.returncode == 2 and "relevance_threshold" in out.stderr
    for bad in ("0.1,lots", "0.1,1.5"):
        out = run("simulate", "--tenant", "acme", "--sweep", "relevance_threshold", "--values", bad)
        assert out.returncode == 2 and "--values" in out.stderr and "Traceback" not in out.stderr


def test_lift_prints_both_groups_with_intervals(store, settings, governed):
    out = subprocess.run(
        [sys.executable, "-m", "suppressor.api.cli", "lift", "--tenant", "acme"],
        env=env_for(settings),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "governed vs" in out.stdout and "unsubscribed" in out.stdout and "difference" in out.stdout


def test_keys_have_a_lifecycle_list_revoke_expire(store, settings):
    import time

    import httpx

    from suppressor.tenants import apikeys
    from tests.faults import serve

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "suppressor.api.cli", "keys", *args],
            env=env_for(settings),
            capture_output=True,
            text=True,
        )

    made = cli("create", "--tenant", "acme")
    key = made.stdout.strip()
    key_id = apikeys.key_id(key)
    assert f"id {key_id}" in made.stderr
    short = cli("create", "--tenant", "acme", "--expires", "7s").stdout.strip()
    assert cli("create", "--tenant", "acme", "--expires", "soon").returncode == 2
    with serve(settings) as url:
        for k in (key, short):
            assert httpx.get(f"{url}/v1/policy", headers={"Authorization": f"Bearer {k}"}).status_code == 200
        listed = cli("list", "--tenant", "acme").stdout
        assert key_id in listed and key not in listed and "sk_acme_" not in listed  # never the secret
        time.sleep(5.5)  # the usage writer runs every 5 s
        rows = {r["id"]: r for r in __import__("json").loads(cli("list", "--tenant", "acme", "--json").stdout)}
        assert rows[key_id]["last_used"] is not None and rows[apikeys.key_id(short)]["expired"] is True
        assert httpx.get(f"{url}/v1/policy", headers={"Authorization": f"Bearer {short}"}).status_code == 401
        assert cli("revoke", key_id).returncode == 0
        t0 = time.monotonic()
        while httpx.get(f"{url}/v1/policy", headers={"Authorization": f"Bearer {key}"}).status_code != 401:
            assert time.monotonic() - t0 < 1.5, "a revoked key still worked after a second"
            time.sleep(0.05)
    assert cli("revoke", key_id).returncode == 1
