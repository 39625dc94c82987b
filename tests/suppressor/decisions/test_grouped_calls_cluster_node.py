"""A plain redis:// URL naming a one-node Redis Cluster that did not answer when the store was made (a
service started before its Redis): until the store has seen what the server is, a script call names one
customer's slot (a call across slots would be refused: CROSSSLOT)."""

from __future__ import annotations

import redis

from suppressor.customers import profiles
from suppressor.decisions.decide import Decider
from suppressor.domain import CustomerIn
from suppressor.policy import document as policies
from suppressor.settings import Settings
from suppressor.storage.store import Store
from suppressor.tenants.state import TenantStateCache
from tests import cluster
from tests.factories import NOW, codes, quiet_policy, req
from tests.faults import RedisServer, redis_server_or_skip


def test_a_one_node_cluster_first_seen_down_still_decides_a_batch(tmp_path):
    redis_server_or_skip()
    server = RedisServer(
        tmp_path / "node", config=("--cluster-enabled", "yes", "--cluster-config-file", str(tmp_path / "nodes.conf"))
    )
    # a cluster node also listens on its port + 10000 (the bus): a port whose bus is free, below 55536
    [server.port] = cluster.free_ports(1)
    server.url = f"redis://127.0.0.1:{server.port}/0"
    st = Store(Settings(redis_url=server.url, data_dir=tmp_path / "data", model_refresh_seconds=0.0))
    try:
        assert not st.cluster  # it did not answer: taken for a plain Redis
        server.start()
        admin = redis.Redis.from_url(server.url)
        admin.execute_command("CLUSTER", "ADDSLOTS", *range(16384))
        while admin.cluster("info")["cluster_state"] != "ok":
            pass
        policies.put(st, "acme", quiet_policy(), "test")
        for cid in ("ann", "bob"):
            profiles.put(st, "acme", cid, CustomerIn(consent={"email": True}), None)
        decider = Decider(st, TenantStateCache(st, 0.0), None)
        got = decider.decide("acme", [req("ann", kind="value"), req("bob", kind="value")], now=NOW)
        assert [(d.action.value, codes(d)) for d in got] == [("send", ["no_model"])] * 2
    finally:
        st.close()
        server.close()
