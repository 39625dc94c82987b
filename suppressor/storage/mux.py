"""One Redis connection that every concurrent decision of an event loop shares.

Redis answers a connection's commands in the order they were written, so concurrent callers
need not each take a pooled connection: each writes its commands as it comes and waits for its
own replies, which are matched by position. A pool checkout, a per-call read loop and a write
per call (redis-py's path) cost 56-64 µs of the event loop's time per call here; this ~12 µs
(bench/mux.py). A caller that gives up (its deadline) leaves its place in the queue: its
replies are read and dropped when they come, so no connection is ever left with replies unread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import Any

import hiredis
import redis
from redis._parsers.base import BaseParser
from redis.connection import parse_url

_MORE = object()  # hiredis: the replies so far are incomplete


class _Waiting:
    __slots__ = ("future", "n", "replies", "since")

    def __init__(self, future: asyncio.Future, n: int):
        self.future, self.n, self.replies, self.since = future, n, [], time.monotonic()


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        # error replies become redis-py's exception classes (NoScriptError, ...), as its parser gives them
        self.reader = hiredis.Reader(replyError=BaseParser.parse_error, notEnoughData=_MORE)
        self.waiting: collections.deque[_Waiting] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while waiting:
            reply = self.reader.gets()
            if reply is _MORE:
                return
            head = waiting[0]
            head.replies.append(reply)
            if len(head.replies) == head.n:
                waiting.popleft()
                if not head.future.done():  # a caller past its deadline is gone: its replies are dropped
                    head.future.set_result(head.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        error = redis.ConnectionError(f"connection to the store lost: {exc or 'closed by the server'}")
        while self.waiting:
            head = self.waiting.popleft()
            if not head.future.done():
                head.future.set_exception(error)


class Multiplexer:
    """Commands of many concurrent callers on one connection (see the module docstring); it connects
    on first use and again after the connection is lost. Not for Redis Cluster or TLS (``for_url``)."""

    def __init__(
        self,
        *,
        path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 6379,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        stuck_after: float = 5.0,
    ):
        self.path, self.host, self.port = path, host, port
        self.handshake: list[tuple] = []
        if password:
            self.handshake.append(("AUTH", username, password) if username else ("AUTH", password))
        if db:
            self.handshake.append(("SELECT", db))
        self.stuck_after = stuck_after  # seconds an answer may be outstanding before the connection is replaced
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Future | None = None

    @classmethod
    def for_url(cls, url: str | None, socket_path: str | None, stuck_after: float) -> Multiplexer | None:
        """A multiplexer for a plain redis:// or unix:// URL, or the embedded server's socket; None for TLS."""
        if not url:
            return cls(path=socket_path, stuck_after=stuck_after)
        opts = parse_url(url)  # redis-py's own reading of the URL (credentials unquoted, ?db= wins)
        if "connection_class" in opts and "path" not in opts:
            return None  # TLS
        return cls(
            path=opts.get("path"),
            host=opts.get("host") or "127.0.0.1",
            port=opts.get("port") or 6379,
            db=opts.get("db") or 0,
            username=opts.get("username"),
            password=opts.get("password"),
            stuck_after=stuck_after,
        )

    async def _connected(self) -> _Protocol:
        proto = self._proto
        if proto is not None and not proto.lost:
            if not (proto.waiting and time.monotonic() - proto.waiting[0].since > self.stuck_after):
                return proto
            proto.transport.close()  # an answer this late will not come: its callers fail, the next connect
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        try:
            if self.path:
                _, proto = await loop.create_unix_connection(_Protocol, self.path)
            else:
                _, proto = await loop.create_connection(_Protocol, self.host, self.port)
        except OSError as exc:
            raise redis.ConnectionError(f"cannot connect to the store: {exc}") from exc
        if self.handshake:
            for reply in await self._send(proto, self.handshake):
                if isinstance(reply, Exception):
                    proto.transport.close()
                    raise reply
        self._proto = proto
        return proto

    @staticmethod
    def _send(proto: _Protocol, commands: list[tuple]) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        proto.waiting.append(_Waiting(future, len(commands)))
        proto.transport.write(b"".join([hiredis.pack_command(c) for c in commands]))
        return future

    async def call(self, commands: list[tuple]) -> list[Any]:
        """Each command's reply in order, a command's error (``redis.ResponseError``) in its place;
        ``redis.ConnectionError`` when the connection fails before all of them came."""
        proto = await self._connected()
        return await self._send(proto, commands)

    def close(self) -> None:
        """Close the connection (callers still waiting fail)."""
        if self._proto is not None and self._proto.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is closed already: so is the socket
                self._proto.transport.close()
        self._proto = None
