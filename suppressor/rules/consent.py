"""Consent: an opted-out channel (or one needing an opt-in the customer has not given) is rerouted
to a consented one or suppressed; so is a message on a topic the customer unsubscribed from."""

from suppressor.rules import Code, Rule


def _sentence(r, _mv):
    if "topic" in r:
        return f"the customer unsubscribed from {r['topic']}"
    why = "the customer opted out of" if r["state"] == "opted_out" else "no explicit opt-in for"
    tail = (
        f"; rerouted to {r['to']}"
        if "to" in r
        else "; reroute not allowed by the caller"
        if r.get("reroute") == "not_allowed"
        else "; no other channel with consent to reroute to"
    )
    return f"{why} {r['channel']}{tail}"


RULE = Rule(
    name="consent",
    order=10,
    section="require_opt_in",
    # require_opt_in is read by the script's head too (where a reroute may go: `allowed`, `reachable`)
    params=lambda p: {
        "require_opt_in": p.require_opt_in,
        "transactional": {
            "honor_consent": p.transactional.honor_consent,
            "count_toward_caps": p.transactional.count_toward_caps,
        },
    },
    codes=(
        Code(
            "consent",
            "reroute / suppress",
            True,
            "the channel is opted out (or needs an opt-in the customer has "
            "not given), or the customer unsubscribed from one of the message's topics",
            _sentence,
        ),
    ),
)
