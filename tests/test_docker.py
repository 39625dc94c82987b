"""The Dockerfile builds and serves. Docker Hub is out of reach here, so the base image is made the
way an offline shop makes one: Debian bookworm from its mirror with debootstrap (Python 3.11, venv,
pip), given this machine's CA bundle and pip's use of it (a TLS-inspecting network), then
`docker import`ed. The image is built with BASE set to it, a container started on its embedded
store, and a key made inside it answers a decision over HTTP from outside.

Runs where a Docker engine answers; `.ci/run` starts one and sets SUPPRESSOR_REQUIRE_DOCKER=1, so
there a missing engine fails instead of skipping. It does not depend on the store, so it runs in
the embedded pass only."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
BASE = "suppressor-base:bookworm"
MIRROR = "http://deb.debian.org/debian"


def sh(*cmd: str, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def engine() -> bool:
    return bool(shutil.which("docker")) and sh("docker", "info", timeout=30).returncode == 0


@pytest.fixture(scope="module")
def base_image(tmp_path_factory) -> str:
    if os.environ.get("REDIS_URL"):
        pytest.skip("store-independent: runs in the embedded pass")
    if not engine():
        if os.environ.get("SUPPRESSOR_REQUIRE_DOCKER"):
            pytest.fail("no Docker engine answers `docker info` (apt-get install docker.io; dockerd)")
        pytest.skip("no Docker engine here")
    if sh("docker", "image", "inspect", BASE, timeout=30).returncode == 0:
        return BASE
    if not shutil.which("debootstrap"):
        pytest.fail("debootstrap is needed to make a base image without Docker Hub (apt-get install debootstrap)")
    rootfs = tmp_path_factory.mktemp("rootfs")
    made = sh(
        "debootstrap",
        "--variant=minbase",
        "--include=python3,python3-pip,python3-venv,ca-certificates",
        "bookworm",
        str(rootfs),
        MIRROR,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/ca-certificates.crt")
    (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(
        ["docker", "import", "-", BASE], stdin=tar.stdout, capture_output=True, text=True, timeout=600
    )
    tar.wait()
    assert imported.returncode == 0, imported.stderr
    shutil.rmtree(rootfs, ignore_errors=True)
    return BASE


def test_the_image_builds_on_a_debian_base_and_serves_decisions(base_image):
    tag = f"suppressor:test-{os.getpid()}"
    built = sh("docker", "build", "--build-arg", f"BASE={base_image}", "-t", tag, str(ROOT), timeout=1800)
    assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
    started = sh("docker", "run", "-d", "-p", "127.0.0.1::8080", tag, timeout=60)
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        port = sh("docker", "port", container, "8080/tcp", timeout=30).stdout.split(":")[-1].strip()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, sh("docker", "logs", container).stderr[-3000:]
            time.sleep(0.5)
        made = sh("docker", "exec", container, "suppressor", "keys", "create", "--tenant", "acme", timeout=60)
        assert made.returncode == 0, made.stderr
        h = {"Authorization": f"Bearer {made.stdout.strip()}"}
        assert httpx.put(f"{url}/v1/customers/c-1", headers=h, json={"consent": {"email": True}}).status_code == 200
        d = httpx.post(
            f"{url}/v1/decisions",
            headers=h,
            json={
                "customer_id": "c-1",
                "message": {"message_id": "m-1", "channel": "email", "kind": "value", "topics": ["content:clinic"]},
            },
        ).json()
        assert d["action"] == "send" and d["customer_id"] == "c-1"
        health = sh("docker", "inspect", "--format", "{{json .Config.Healthcheck}}", container, timeout=30)
        assert "healthz" in health.stdout  # the image declares its health check
    finally:
        sh("docker", "rm", "-f", container, timeout=60)
        sh("docker", "rmi", "-f", tag, timeout=120)
