"""The store's side of a decision: Redis's own time per decision (INFO commandstats, EVALSHA, over the
decisions made; a call makes up to 16), this tree's lua/decide.lua against another revision's, every
decision for a fresh message id (an id asked again is a replay: the standing verdict, not a decision).
The other revision's lua/decide.lua must be a function's body, run by lua/decide_many.lua (as this
tree's is).

    python bench/script_cost.py [--against 236ab75] [--rounds 5] [--calls 20000]

Runs alternate (the machine's cores are shared: the least of several runs is the figure to read).
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(script: str | None, calls: int) -> float:
    """Microseconds of Redis per decision on a fresh embedded store (``script``: another decide.lua's text)."""
    from suppressor.decisions.decide import Decider
    from suppressor.domain import DecisionRequest
    from suppressor.settings import Settings
    from suppressor.storage import store as stores
    from suppressor.tenants.state import TenantStateCache

    if script is not None:
        own = stores._lua
        stores._lua = lambda name: script if name == "decide" else own(name)
    with tempfile.TemporaryDirectory() as data:
        st = stores.Store(Settings(data_dir=Path(data), redis_url=None))
        decider = Decider(st, TenantStateCache(st, 0.0), None)
        ids = itertools.count()

        def batch(n: int) -> list[DecisionRequest]:
            return [
                DecisionRequest.model_validate(
                    {
                        "customer_id": f"c-{i % 2000}",
                        "message": {
                            "message_id": f"m-{next(ids)}",
                            "channel": "email",
                            "kind": ("value", "sales")[i % 2],
                            "topics": ["x"],
                            "campaign_id": "bench",
                        },
                    }
                )
                for i in range(n)
            ]

        for _ in range(calls // 1000):  # warm: ledgers and standing verdicts in place
            decider.decide("bench", batch(500))
        st.bulk.config_resetstat()
        for _ in range(calls // 500):
            decider.decide("bench", batch(500))
        stat = st.bulk.info("commandstats")["cmdstat_evalsha"]
        st.close()
    return float(stat["usec"]) / (calls // 500 * 500)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--against", default="HEAD")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=20_000)
    p.add_argument("--one", choices=("here", "there"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:  # one measurement in its own process (a fresh interpreter and store each time)
        script = None if args.one == "here" else sys.stdin.read()
        print(measure(script, args.calls))
        return
    theirs = subprocess.run(
        ["git", "show", f"{args.against}:suppressor/lua/decide.lua"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    got: dict[str, list[float]] = {"here": [], "there": []}
    for _ in range(args.rounds):
        for side in got:
            out = subprocess.run(
                [sys.executable, __file__, "--one", side, "--calls", str(args.calls)],
                check=True,
                input=theirs if side == "there" else "",
                capture_output=True,
                text=True,
            ).stdout
            got[side].append(float(out))
    for side, label in (("there", args.against), ("here", "this tree")):
        print(f"{label:>12}: least {min(got[side]):.1f} us per decision, runs {sorted(got[side])}")


if __name__ == "__main__":
    main()
