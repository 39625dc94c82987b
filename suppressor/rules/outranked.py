"""Outranked: decisions:choose picked other candidates for this customer; the service (not a script
rule) hands the reason to the losers' decisions, which suppress a send they would otherwise get."""

from suppressor.rules import Code, Rule, score


def _rank(priority: int, chance: float, value: float) -> str:
    return f"priority {priority} x score {score(chance)} = {value:.3g}"


def _sentence(r, _mv) -> str:
    if r.get("rule") == "logged":
        return "another candidate was chosen when it was decided (what-ifs keep the choice)"
    if r.get("rule") == "pick":
        return (
            f"not picked: the pick of {r['pick']} went to other candidates of this choice first (this "
            f"message: {_rank(r['priority'], r['score'], r['value'])})"
        )
    by, best = r["by"], r["best"]
    mine = _rank(r["priority"], r["score"], r["value"])
    theirs = _rank(best["priority"], best["score"], best["value"])
    if len(by) == 1:
        return f"outranked by {by[0]} ({theirs}; this message: {mine})"
    return f"outranked by {', '.join(by)}, the {len(by)} picked (the lowest of them: {theirs}; this message: {mine})"


RULE = Rule(
    name="outranked",
    order=1010,
    section=None,
    in_script=False,
    codes=(
        Code(
            "outranked",
            "suppress",
            True,
            "decisions:choose picked other candidates for this customer: their "
            "priority x score ranked higher (the winners are named)",
            _sentence,
        ),
    ),
)
