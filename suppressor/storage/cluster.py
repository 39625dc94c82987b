"""redis-py's Redis Cluster clients, made to report a cluster that does not answer as a plain client does.

Every handler here (degraded verdicts, 503s, the store monitor) knows a store that does not answer as
redis.ConnectionError. redis-py 8.1's cluster clients say it otherwise: RedisClusterException (not a
RedisError) when no node answers to map the slots, and, in the asyncio client, AttributeError
(RuntimeError on uvloop) from a write on a connection that another request disconnected when a node
failed (redis-py #3546, #4287: 500s when a cluster died under load). These subclasses say
redis.ConnectionError for both, at the calls through which every command goes: the sync client's
commands and pipelines, the asyncio client's slot mapping (``initialize``) and its connections' writes.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import redis
import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import RedisClusterException, SlotNotCoveredError


def unreachable(exc: RedisClusterException) -> bool:
    """True when redis-py could not map the slots (the exception was raised while it handled a node's
    failure, or no node serves a slot); False for a call it refuses before sending anything (no key)."""
    return isinstance(exc, SlotNotCoveredError) or isinstance(exc.__cause__ or exc.__context__, redis.RedisError)


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Re-raise a cluster that could not be mapped (``unreachable``) as redis.ConnectionError."""
    try:
        yield
    except RedisClusterException as exc:
        if not unreachable(exc):
            raise
        raise redis.ConnectionError(str(exc)) from exc


class Cluster(redis.cluster.RedisCluster):
    """The sync cluster client: its commands and pipelines report an unmapped cluster as ConnectionError."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """redis-py's, with ``reported``."""
        with reported():
            return super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Pipeline:
        """redis-py's pipeline, built with the arguments its own ``pipeline`` gives (a test compares them)."""
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        return Pipeline(
            nodes_manager=self.nodes_manager,
            commands_parser=self.commands_parser,
            startup_nodes=self.nodes_manager.startup_nodes,  # type: ignore[arg-type]  # redis-py passes this dict
            result_callbacks=self.result_callbacks,
            cluster_response_callbacks=self.cluster_response_callbacks,
            read_from_replicas=self.read_from_replicas,
            load_balancing_strategy=self.load_balancing_strategy,
            reinitialize_steps=self.reinitialize_steps,
            retry=self.retry,
            lock=self._lock,
            transaction=transaction,
            event_dispatcher=self._event_dispatcher,
        )


class Pipeline(redis.cluster.ClusterPipeline):
    """A sync cluster pipeline whose commands (WATCH runs at once) and execution use ``reported``."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """redis-py's, with ``reported``."""
        with reported():
            return super().execute_command(*args, **kwargs)

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """redis-py's, with ``reported``."""
        with reported():
            return super().execute(raise_on_error)


class AsyncCluster(redis.asyncio.cluster.RedisCluster):
    """The asyncio cluster client: mapping the slots (every command and pipeline maps them through
    ``initialize`` when they are unknown) raises ConnectionError where redis-py raises
    RedisClusterException, and its connections' writes are ``checked_writes``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # redis-py picks the connection class itself (plain or TLS); the nodes it finds later take it
        # from connection_kwargs, the startup nodes were made with it already
        kwargs = self.connection_kwargs
        kwargs["connection_class"] = checked_writes(kwargs["connection_class"])
        made: list[Any] = [*self.startup_nodes, *self.nodes_manager.startup_nodes.values()]
        for node in made:
            node.connection_class = checked_writes(node.connection_class)

    async def initialize(self, *args: Any, **kwargs: Any) -> redis.asyncio.cluster.RedisCluster:
        """redis-py's, a failure to map the slots raised as ConnectionError."""
        try:
            return await super().initialize(*args, **kwargs)
        except RedisClusterException as exc:
            raise redis.ConnectionError(str(exc)) from exc


@functools.cache
def checked_writes(base: Any) -> Any:
    """``base`` (a plain or TLS asyncio connection class) whose writes report a closed connection as
    redis.ConnectionError."""
    if getattr(base, "checks_writes", False):
        return base

    class Checked(base):
        checks_writes = True

        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            try:
                await super().send_packed_command(command, check_health)
            except (AttributeError, TypeError, RuntimeError) as exc:  # RuntimeError: uvloop's "handler is closed"
                await self.disconnect(nowait=True)
                raise redis.ConnectionError(f"the connection closed while writing ({exc})") from exc

    Checked.__name__ = f"Checked{base.__name__}"
    return Checked
