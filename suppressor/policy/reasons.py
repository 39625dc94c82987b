"""The registry of reason codes: for each, the verdict it leads to, whether it stops or delays a
send, what it means, and the sentence a marketer reads (with the number that decided it).

One entry per code, here and nowhere else: the decision sentences, the what-if counts
(``blocking``) and the README's table come from it, and a test fails when ``lua/decide.lua``
fires a code this registry lacks, or the registry lists one nothing fires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from suppressor.policy.document import format_duration

Sentence = Callable[[dict[str, Any], "str | None"], str]


@dataclass(frozen=True)
class Code:
    """One reason code."""

    code: str
    verdict: str  # what it leads to, as the README's table says it
    blocks: bool  # it stops or delays a send (what-ifs count these per verdict)
    meaning: str
    sentence: Sentence


REGISTRY: dict[str, Code] = {}


def reason(code: str, verdict: str, blocks: bool, meaning: str) -> Callable[[Sentence], Sentence]:
    """Register a code with the function that writes its sentence."""

    def register(sentence: Sentence) -> Sentence:
        REGISTRY[code] = Code(code, verdict, blocks, meaning, sentence)
        return sentence

    return register


def text(r: dict[str, Any], model_version: str | None) -> str:
    """The sentence for one reason returned by the decide script."""
    entry = REGISTRY.get(r["code"])
    return entry.sentence(r, model_version) if entry else r["code"]


def blocking() -> frozenset[str]:
    """Codes that stop or delay a send (the others explain one)."""
    return frozenset(c.code for c in REGISTRY.values() if c.blocks)


def table() -> str:
    """The README's table of reason codes, in Markdown."""
    rows = ["| code | verdict | meaning |", "|---|---|---|"]
    rows += [f"| `{c.code}` | {c.verdict} | {c.meaning} |" for c in REGISTRY.values()]
    return "\n".join(rows)


def _p(x: float) -> str:
    return f"{x:.3f}" if x >= 0.001 else f"{x:.2g}"


def _dur(ms: float) -> str:
    return format_duration(int(ms // 1000))


def _ago(days: float) -> str:
    if days < 1 / 24:
        return f"{days * 1440:.0f} min ago"
    return f"{days * 24:.0f} h ago" if days < 2 else f"{days:.0f} days ago"


def _terms(r: dict[str, Any]) -> str:
    """An earlier offer's terms, as 'apr 2.9, term 60'."""
    return ", ".join(f"{k} {v}" for k, v in sorted(r.get("prev_terms", {}).items())) or "other terms"


def _cap(r: dict[str, Any], whom: str = "") -> str:
    """A full cap with the count that filled it: '3 of 3 sales sends on email in 7d'."""
    kind = f"{r['kind']} " if r.get("kind") else ""
    what = f"{r['offer']} " if r.get("offer") else ""
    where = "on any channel" if r["channel"] == "any" else f"on {r['channel']}"
    return f"{r['count']} of {r['max']} {what}{kind}sends {where}{whom} in {_dur(r['window_ms'])}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# in the order the rules run ------------------------------------------------------------------

@reason("consent", "reroute / suppress", True, "the channel is opted out (or needs an opt-in the customer has not "
        "given), or the customer unsubscribed from one of the message's topics")
def _consent(r, _mv):
    if "topic" in r:
        return f"the customer unsubscribed from {r['topic']}"
    why = "the customer opted out of" if r["state"] == "opted_out" else "no explicit opt-in for"
    tail = (f"; rerouted to {r['to']}" if "to" in r else
            "; reroute not allowed by the caller" if r.get("reroute") == "not_allowed" else
            "; no other channel with consent to reroute to")
    return f"{why} {r['channel']}{tail}"


@reason("transactional", "send", False, "transactional messages skip relevance, caps, balance, fatigue, offers and "
        "time rules")
def _transactional(r, _mv):
    return "transactional message: exempt from relevance, caps, balance and time rules"


@reason("holdout", "send", False, "a holdout customer: sent whatever the other rules say (consent aside), to "
        "measure what suppression gains")
def _holdout(r, _mv):
    return f"holdout customer ({r['fraction']:.0%} of customers): sent whatever the relevance, to measure lift"


@reason("kind_not_allowed", "suppress", True, "the policy (or the customer's lead stage) does not send this kind "
        "of message (`allowed_kinds`)")
def _kind_not_allowed(r, _mv):
    who = f"to {r['stage']} leads" if r.get("stage") else "at all"
    return f"the policy sends no {r['kind']} messages {who}"


@reason("lifecycle", "suppress", True, "a sales ask within the post-purchase quiet period, or while a service order "
        "is open")
def _lifecycle(r, _mv):
    if r["gate"] == "post_purchase":
        return f"purchased {_ago(r['days'])}: no sales asks within {r['quiet_days']:.0f} days of a purchase"
    return "a service order is open: no sales asks until it closes"


@reason("channel_preference", "reroute", False, "the customer's stated preferred channel, or a consented channel "
        "that scores higher by the policy margin")
def _channel_preference(r, _mv):
    if r.get("stated"):
        return f"the customer prefers {r['to']}: rerouted from {r['from']}"
    return f"{r['to']} scores {_p(r['score'])} vs {_p(r['was'])} on {r['from']} (margin {r['margin']:.2f}): rerouted"


@reason("no_model", "(note)", False, "no model yet: rules only")
def _no_model(r, _mv):
    return "no trained model yet: relevance not checked, rules only"


@reason("unknown_message", "(note)", False, "the model knows none of the message's features: relevance not checked")
def _unknown_message(r, mv):
    return f"model {mv} knows none of this message's topics, channel or kind: relevance not checked"


@reason("new_customer", "(note)", False, "the customer has no behavior yet: scored from attributes")
def _new_customer(r, mv):
    return f"no behavior for this customer in model {mv}: scored from attributes and population"


def _relevance(op: str) -> Sentence:
    def sentence(r, _mv):
        stage = f" (lead stage {r['stage']})" if r.get("stage") else ""
        return f"score {_p(r['score'])} {op} threshold {_p(r['threshold'])}{stage} on {r['channel']}"
    return sentence


reason("irrelevant", "suppress", True, "calibrated score below the relevance threshold (per lead stage if "
       "configured)")(_relevance("<"))
reason("relevant", "(note)", False, "the score cleared the threshold")(_relevance(">="))


@reason("service_due", "send", False, "a service message to a customer whose vehicle is due for service within "
        "`lifecycle.service_due_within`: relevant whatever the score")
def _service_due(r, _mv):
    when = f"overdue by {-r['days']:.0f} days" if r["days"] < 0 else f"due in {r['days']:.0f} days"
    return (f"vehicle service {when}: relevant whatever the score ({_p(r['score'])} < threshold "
            f"{_p(r['threshold'])} on {r['channel']})")


@reason("trade_in_age", "send", False, "a trade-in offer (`lifecycle.trade_in_topics`) to the owner of a vehicle at "
        "least `lifecycle.trade_in_age_years` old: relevant whatever the score")
def _trade_in_age(r, _mv):
    years = int(round(r["years"]))
    article = "an" if str(years).startswith("8") or years in (11, 18) else "a"
    return (f"owns {article} {years}-year-old vehicle and this is a trade-in offer ({r['topic']}): relevant "
            f"whatever the score ({_p(r['score'])} < threshold {_p(r['threshold'])} on {r['channel']})")


@reason("offer_conflict", "suppress", True, "a different offer for the same key is active on any channel (or, in "
        "`better_only` mode, one that is not strictly better), or the same offer again")
def _offer_conflict(r, _mv):
    if r["dup"]:
        return f"the same {r['key']} offer went out on {r['prev_channel']} {_ago(r['days'])}"
    rule = "only a strictly better offer may follow" if r["mode"] == "better_only" else "conflicting offers are suppressed"
    return f"a {r['key']} offer ({_terms(r)}) went out on {r['prev_channel']} {_ago(r['days'])}; {rule}"


@reason("household", "suppress", True, "the customer's household: another member holds this offer on other terms "
        "or got this piece on a shared channel, a household cap is full, or a member just bought")
def _household(r, _mv):
    rule = r["rule"]
    if rule == "logged":
        return "the household's rules refused it when it was decided (what-ifs keep the household's word)"
    if rule == "purchase":
        return (f"another member of the household bought {_ago(r['days'])}; no sales asks to the household for "
                f"{r['quiet_days']:.0f} days")
    if rule == "duplicate":
        return f"the {r['key']} offer already went to this household by {r['channel']} {_ago(r['days'])}"
    if rule == "offer_conflict":
        return (f"another member of the household holds a {r['key']} offer ({_terms(r)}, sent on "
                f"{r['prev_channel']} {_ago(r['days'])}); one face to the household")
    return _cap(r, " to this household")


@reason("frequency_cap", "suppress", True, "a cap is full (every full cap is listed; the most restrictive wins)")
def _frequency_cap(r, _mv):
    return _cap(r)


@reason("sales_balance", "suppress + `substitute`", True, "too many sales asks relative to value content; the "
        "best-scoring value content from the catalog is offered instead")
def _sales_balance(r, _mv):
    if "share" in r:
        return (f"sales share {r['share']:.2f} > {r['max']:.2f} over {_dur(r['window_ms'])} "
                f"({r['sales']} of {r['total']} sends would be sales)")
    return f"{r['between']} value messages since the last sales ask; the policy asks for {r['need']}"


@reason("fatigue", "defer", True, "a streak of unanswered messages on the channel: one send per cool-down until the "
        "customer engages")
def _fatigue(r, _mv):
    return (f"{r['streak']} unanswered {r['channel']} messages in a row (threshold {r['need']}): "
            f"one send per {_dur(r['cool_ms'])} until the customer engages")


@reason("cooldown", "defer", True, "too soon after the previous send (`min_gap`)")
def _cooldown(r, _mv):
    return f"last send {_dur(r['ago_ms'])} ago; the policy wants {_dur(r['gap_ms'])} between sends"


@reason("quiet_hours", "defer", True, "quiet hours in the customer's time zone; `not_before` is when they end")
def _quiet_hours(r, _mv):
    return f"{_hhmm(r['local_min'])} local time is within quiet hours {_hhmm(r['start'])}-{_hhmm(r['end'])}"


@reason("degraded", "failure mode", True, "the store did not answer within the deadline (answered by the service, "
        "not the script)")
def _degraded(r, _mv):
    return r["detail"]


if __name__ == "__main__":
    print(table())
