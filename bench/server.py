"""Helpers the benchmarks share: start `suppressor serve` on a free port and wait until it is ready."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, seconds: float = 30.0, path: str = "/readyz") -> None:
    """Block until GET ``path`` answers 200."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not become ready")


def start(data_dir: Path) -> tuple[subprocess.Popen, int]:
    """`suppressor serve` on the embedded Redis in ``data_dir``; returns the process and its port."""
    port = free_port()
    env = dict(os.environ, SUPPRESSOR_DATA_DIR=str(data_dir), SUPPRESSOR_LOG_LEVEL="warning")
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "suppressor.api.cli", "serve", "--port", str(port)], env=env)
    wait_ready(port)
    return proc, port
