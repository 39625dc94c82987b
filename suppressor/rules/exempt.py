"""Exempt: transactional messages and holdout customers skip every later rule (consent aside)."""

from suppressor.rules import Code, Rule

RULE = Rule(
    name="exempt",
    order=20,
    section="holdout_fraction",
    params=lambda p: {"holdout_fraction": p.holdout_fraction},
    codes=(
        Code(
            "transactional",
            "send",
            False,
            "transactional messages skip relevance, caps, balance, fatigue, offers and time rules",
            lambda r, _mv: "transactional message: exempt from relevance, caps, balance and time rules",
        ),
        Code(
            "holdout",
            "send",
            False,
            "a holdout customer: sent whatever the other rules say (consent aside), to measure what suppression gains",
            lambda r, _mv: (
                f"holdout customer ({r['fraction']:.0%} of customers): sent whatever the relevance, to measure lift"
            ),
        ),
    ),
)
