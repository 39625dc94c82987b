"""Offers: one face to the customer across channels. A different offer for the same key while one
stands (or, in `better_only` mode, one that is not strictly better), or the same offer again, is
suppressed; a send records its offer (the script's tail) for the offer window or its expiry."""

from suppressor.rules import Code, Rule, ago, terms


def _sentence(r, _mv):
    if r["dup"]:
        return f"the same {r['key']} offer went out on {r['prev_channel']} {ago(r['days'])}"
    rule = (
        "only a strictly better offer may follow" if r["mode"] == "better_only" else "conflicting offers are suppressed"
    )
    return f"a {r['key']} offer ({terms(r)}) went out on {r['prev_channel']} {ago(r['days'])}; {rule}"


RULE = Rule(
    name="offers",
    order=80,
    section="offers",
    params=lambda p: {
        "offers": {
            "enabled": p.offers.enabled,
            "conflict": p.offers.conflict,
            "window_ms": p.offers.window * 1000,
            "better": p.offers.better,
        }
    },
    lazy=("offers",),
    codes=(
        Code(
            "offer_conflict",
            "suppress",
            True,
            "a different offer for the same key is active on any channel (or, "
            "in `better_only` mode, one that is not strictly better), or the same offer again",
            _sentence,
        ),
    ),
)
