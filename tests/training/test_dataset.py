"""Training pairs: the columnar build labels exactly as the reference rules in model/labels.py do."""

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from suppressor.model.labels import LabelRules, epoch, group_by_message, label
from suppressor.training.dataset import build

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TYPES = ["delivered", "opened", "clicked", "ignored", "unsubscribed", "complained", "purchased", "visited"]


def reference(events: list[list[dict]], rules: LabelRules) -> list[tuple]:
    """(customer, message key, its item's signature, label, weight, time) per pair, by labels.py one
    group at a time (an item is known by the signature of its first labeled pair)."""
    times = [epoch(e["ts"]) for evs in events for e in evs]
    now = max(times) if times else 0.0
    out, item_sig = [], {}
    for u, evs in enumerate(events):
        for key, (sig, its) in group_by_message(evs).items():
            lab = label(its, rules, now)
            if lab is not None:
                item_sig.setdefault(key, sig)
                out.append((u, key, item_sig[key], np.float32(lab[0]), np.float32(lab[1]), lab[2]))
    return out


def event(
    i: int, typ: str, minutes: int, mid: str | None, ch: str | None, kind: str | None, topics: list[str], micros: bool
) -> dict:
    at = T0 + timedelta(minutes=minutes, microseconds=137 if micros else 0)
    e = {"event_id": f"e{i}", "type": typ, "ts": at.isoformat().replace("+00:00", "Z"), "topics": topics}
    e.update({k: v for k, v in (("message_id", mid), ("channel", ch), ("kind", kind)) if v})
    return e


events_st = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(TYPES),
            st.integers(0, 400 * 1440),
            st.sampled_from([None, "m1", "m2", "m3"]),
            st.sampled_from([None, "email", "sms"]),
            st.sampled_from([None, "sales", "service"]),
            st.lists(st.sampled_from(["t:a", "t:b", "t:c"]), max_size=2, unique=True),
            st.booleans(),
        ),
        max_size=12,
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(raw=events_st)
def test_the_columnar_build_labels_every_pair_as_the_reference_rules_do(raw):
    events = [[event(i, *spec) for i, spec in enumerate(evs)] for evs in raw]
    rules = LabelRules()
    want = reference(events, rules)
    ds = build([f"c{u}" for u in range(len(events))], [{} for _ in events], events, rules)
    got = [
        (int(u), ds.item_keys[i], ds.item_sigs[i], y, w, t)
        for u, i, y, w, t in zip(ds.users, ds.items, ds.labels, ds.weights, ds.ts, strict=True)
    ]
    assert got == want
    assert ds.n_events == sum(len(evs) for evs in events)


def test_times_not_in_utc_text_are_read_all_the_same():
    evs = [
        [
            event(0, "delivered", 0, "m1", "email", "sales", [], False),
            {**event(1, "clicked", 90, "m1", "email", "sales", [], False), "ts": "2026-03-01T02:30:00+01:00"},
        ]
    ]
    ds = build(["c0"], [{}], evs)
    assert ds.labels.tolist() == [1.0] and ds.ts.tolist() == [epoch("2026-03-01T01:30:00Z")]
