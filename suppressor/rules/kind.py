"""Kind: the policy (or the customer's lead stage) sends only the kinds it allows."""

from suppressor.rules import Code, Rule


def _sentence(r, _mv):
    who = f"to {r['stage']} leads" if r.get("stage") else "at all"
    return f"the policy sends no {r['kind']} messages {who}"


RULE = Rule(
    name="kind",
    order=40,
    section="allowed_kinds",
    params=lambda p: {"allowed_kinds": p.allowed_kinds},
    codes=(
        Code(
            "kind_not_allowed",
            "suppress",
            True,
            "the policy (or the customer's lead stage) does not send this kind of message (`allowed_kinds`)",
            _sentence,
        ),
    ),
)
