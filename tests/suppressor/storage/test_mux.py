"""The hot path's shared connection: concurrent callers each get their own replies, whatever
gives up early, and it survives a server that restarts, hangs, or wants a password."""

import asyncio
import random

import pytest
import redis

from suppressor.storage.mux import Multiplexer
from suppressor.storage.store import aclose_clients, arun
from tests.faults import RedisServer, redis_server_or_skip


def test_concurrent_callers_share_one_connection_and_each_gets_its_own_replies(store):
    if store.cluster:
        pytest.skip("on Redis Cluster the hot path is redis-py's cluster client (a connection per node)")
    hot, bulk = store.async_clients()
    rng = random.Random(3)

    async def one(i: int):
        cmds = [("ECHO", f"{i}-{j}") for j in range(rng.randint(1, 5))] + [("CLIENT", "ID")]
        if i % 3 == 0:  # a third give up at once or a little later: their replies must go nowhere
            try:
                return await asyncio.wait_for(arun(store, hot, cmds, 5), rng.choice([0, 0.0005, 0.002]))
            except TimeoutError:
                return None
        return cmds, await arun(store, hot, cmds, 5)

    async def run():
        try:
            got = await asyncio.gather(*(one(i) for i in range(600)))
            after = await arun(store, hot, [("ECHO", "last"), ("CLIENT", "ID")], 5)
            return got, after
        finally:
            await aclose_clients(hot, bulk)

    got, after = asyncio.run(run())
    answered = [g for g in got if g is not None and len(g) == 2 and isinstance(g[0], list)]
    assert len(answered) >= 400
    ids = set()
    for cmds, replies in answered:
        assert [r.decode() for r in replies[:-1]] == [c[1] for c in cmds[:-1]]
        ids.add(replies[-1])
    assert after[0] == b"last" and ids == {after[1]}  # one connection served them all


def test_a_restarted_server_is_connected_to_again(tmp_path):
    redis_server_or_skip()
    server = RedisServer(tmp_path / "redis").start()
    mux = Multiplexer.for_url(server.url, None, stuck_after=5)

    async def run():
        assert await mux.call([("SET", "k", "1")]) == [b"OK"]
        server.kill()
        with pytest.raises(redis.ConnectionError):
            await mux.call([("GET", "k")])
        server.start()  # same port, the append-only file kept what was acknowledged
        try:
            return await mux.call([("GET", "k")])
        finally:
            mux.close()

    try:
        assert asyncio.run(run()) == [b"1"]
    finally:
        mux.close()
        server.close()


def test_a_hung_server_fails_its_callers_then_the_connection_is_replaced(tmp_path):
    redis_server_or_skip()
    server = RedisServer(tmp_path / "redis").start()
    mux = Multiplexer.for_url(server.url, None, stuck_after=0.3)

    async def run():
        await mux.call([("PING",)])
        server.pause()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(mux.call([("INCR", "n")]), 0.1)
        await asyncio.sleep(0.4)
        later = asyncio.ensure_future(mux.call([("INCR", "n")]))  # the stuck connection goes; a new one waits
        await asyncio.sleep(0.1)
        server.resume()
        try:
            return await asyncio.wait_for(later, 5), await mux.call([("GET", "n")])
        finally:
            mux.close()

    try:
        assert asyncio.run(run()) == ([2], [b"2"])  # the given-up INCR still ran once, in order
    finally:
        mux.close()
        server.close()


def test_the_password_and_database_come_from_the_url(tmp_path):
    redis_server_or_skip()
    server = RedisServer(tmp_path / "redis", password="s3cret").start()
    url = server.url.removesuffix("/0") + "/3"
    good, bad = Multiplexer.for_url(url, None, 5), Multiplexer.for_url(url.replace("s3cret", "wrong"), None, 5)

    async def run():
        await good.call([("SET", "where", "db3")])
        with pytest.raises(redis.AuthenticationError):
            await bad.call([("PING",)])
        good.close()

    try:
        asyncio.run(run())
        assert redis.Redis(port=server.port, password="s3cret", db=3).get("where") == b"db3"
        assert redis.Redis(port=server.port, password="s3cret", db=0).get("where") is None
    finally:
        good.close()
        bad.close()
        server.close()


def test_tls_urls_keep_redis_py_s_own_connections():
    assert Multiplexer.for_url("rediss://h:6380/0", None, 5) is None


def test_urls_are_read_as_redis_py_reads_them():
    m = Multiplexer.for_url("redis://u:p%40ss@example:6390/4", None, 5)
    assert (m.host, m.port, m.handshake) == ("example", 6390, [("AUTH", "u", "p@ss"), ("SELECT", 4)])
    assert Multiplexer.for_url("redis://example?db=2", None, 5).handshake == [("SELECT", 2)]
    assert Multiplexer.for_url("unix:///run/redis.sock?db=5", None, 5).path == "/run/redis.sock"
    assert Multiplexer.for_url(None, "/tmp/embedded.sock", 5).path == "/tmp/embedded.sock"
