"""Channel: the customer's stated preferred channel, or a consented one that scores higher by the
policy's margin, when the caller allows a reroute."""

from suppressor.rules import Code, Rule, score


def _sentence(r, _mv):
    if r.get("stated"):
        return f"the customer prefers {r['to']}: rerouted from {r['from']}"
    return (
        f"{r['to']} scores {score(r['score'])} vs {score(r['was'])} on {r['from']} (margin {r['margin']:.2f}): rerouted"
    )


RULE = Rule(
    name="channel",
    order=60,
    section="channels",
    params=lambda p: {"channels": {"learned_reroute": p.channels.learned_reroute, "margin": p.channels.margin}},
    lazy=("channels",),
    codes=(
        Code(
            "channel_preference",
            "reroute",
            False,
            "the customer's stated preferred channel, or a consented channel that scores higher by the policy margin",
            _sentence,
        ),
    ),
)
