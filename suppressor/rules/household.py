"""Household: one audience for its members' caps and offers. Live, lua/household.lua rules on the
household's slot after the member's own verdict (Policy.household_params); a what-if replays the
word the household gave when the decision was logged."""

from suppressor.rules import Code, Rule, ago, cap, terms
from suppressor.rules.caps import kept


def _sentence(r, _mv):
    rule = r["rule"]
    if rule == "logged":
        return "the household's rules refused it when it was decided (what-ifs keep the household's word)"
    if rule == "purchase":
        return (
            f"another member of the household bought {ago(r['days'])}; no sales asks to the household for "
            f"{r['quiet_days']:.0f} days"
        )
    if rule == "duplicate":
        return f"the {r['key']} offer already went to this household by {r['channel']} {ago(r['days'])}"
    if rule == "offer_conflict":
        return (
            f"another member of the household holds a {r['key']} offer ({terms(r)}, sent on "
            f"{r['prev_channel']} {ago(r['days'])}); one face to the household"
        )
    if rule == "reserved":
        return kept(r, " to this household")
    return cap(r, " to this household")


RULE = Rule(
    name="household",
    order=30,
    section="household",
    codes=(
        Code(
            "household",
            "suppress",
            True,
            "the customer's household: another member holds this offer on other "
            "terms or got this piece on a shared channel, a household cap is full (or its last slots are "
            "reserved for higher priorities), or a member just bought",
            _sentence,
        ),
    ),
)
