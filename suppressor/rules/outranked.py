"""Outranked: decisions:choose picked other candidates for this customer; the service (not a script
rule) hands the reason to the losers' decisions, which suppress a send they would otherwise get."""

from suppressor.rules import Code, Rule, score


def _rank(part: dict) -> str:
    """A candidate's rank as the choice weighed it: priority x the objective's measure (``by``)."""
    by, measure = part.get("ranked_by", "score"), part["score"]
    said = {"score": f"score {score(measure)}", "uplift": f"uplift {measure * 100:+.1f} points"}.get(
        by, f"value {measure:.2f}"
    )
    return f"priority {part['priority']} x {said} = {part['value']:.3g}"


def _sentence(r, _mv) -> str:
    if r.get("rule") == "logged":
        return "another candidate was chosen when it was decided (what-ifs keep the choice)"
    if r.get("rule") == "pick":
        return (
            f"not picked: the pick of {r['pick']} went to other candidates of this choice first (this "
            f"message: {_rank(r)})"
        )
    by, best = r["by"], r["best"]
    mine, theirs = _rank(r), _rank(best)
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
            "priority x the objective's measure (score, uplift or value) ranked higher (the winners are named)",
            _sentence,
        ),
    ),
)
