"""`suppressor serve --workers N`: N processes on one port and one store keep caps exact, see a
policy or model change within the refresh interval, and count at /metrics as one."""

import asyncio
import re
import time

import httpx
import pytest

from suppressor.model import exported as models
from suppressor.tenants import apikeys
from tests.factories import auth, tiny_model
from tests.faults import serve

REFRESH = 1.0


def burst(url: str, key: str, bodies: list[dict]) -> list[dict]:
    """Every body at once, each on a connection of its own (so the kernel spreads them over the workers)."""

    async def go():
        async def one(body):
            async with httpx.AsyncClient(base_url=url, headers=auth(key), timeout=30) as c:
                r = await c.post("/v1/decisions", json=body)
                assert r.status_code == 200, r.text
                return r.json()

        return await asyncio.gather(*(one(b) for b in bodies))

    return asyncio.run(go())


def workers_seen(answers: list[dict]) -> int:
    """Processes that answered: a decision id starts with its process's random prefix."""
    return len({re.match(r"d_([0-9a-f]{12})", d["decision_id"]).group(1) for d in answers})


def spread(url: str, key: str, cid: str, tag: str, n: int = 20) -> list[dict]:
    """Bursts of ``n`` new messages to ``cid`` until at least two workers have answered (the kernel hands
    connections to whichever worker accepts first: one burst may all land on one)."""
    answers: list[dict] = []
    for round_ in range(10):
        answers += burst(
            url,
            key,
            [
                {
                    "customer_id": cid,
                    "message": {
                        "message_id": f"{tag}-{round_}-{i}",
                        "channel": "email",
                        "kind": "value",
                        "topics": ["x"],
                    },
                }
                for i in range(n)
            ],
        )
        if workers_seen(answers) >= 2:
            return answers
    raise AssertionError("one worker answered every request")


@pytest.mark.parametrize("workers", [2, 4])
def test_n_workers_keep_caps_exact_see_changes_within_the_refresh_and_count_as_one(settings, store, workers):
    key = apikeys.create_key(store, "acme")
    with serve(settings, "--workers", str(workers), SUPPRESSOR_MODEL_REFRESH_SECONDS=str(REFRESH)) as url:
        with httpx.Client(base_url=url, headers=auth(key), timeout=10) as c:
            assert c.put("/v1/policy", json={"caps": [{"channel": "any", "max": 3, "window": "1d"}]}).status_code == 200
            assert c.put("/v1/customers/c-1", json={"consent": {"email": True}}).status_code == 200
        time.sleep(REFRESH + 0.5)  # every worker has read the new policy

        answers = spread(url, key, "c-1", "cap", 60)
        assert [d["action"] for d in answers].count("send") == 3
        given = len(answers)

        with httpx.Client(base_url=url, headers=auth(key), timeout=10) as c:
            version = c.put("/v1/policy", json={"caps": []}).json()["version"]
        models.save(store, "acme", tiny_model("v1"))
        models.activate(store, "acme", "v1")
        time.sleep(REFRESH + 0.5)
        answers = spread(url, key, "c-2", "after")
        given += len(answers)
        assert {d["policy_version"] for d in answers} == {version}
        assert {d["model_version"] for d in answers} == {"v1"}

        text = httpx.get(f"{url}/metrics", timeout=10).text  # loopback: no ops token needed
        counted = sum(float(m) for m in re.findall(r'^suppressor_decisions_total\{action="\w+"\} (\S+)$', text, re.M))
        assert counted == given  # every burst, whichever worker answered it and whichever answers the scrape
