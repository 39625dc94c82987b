"""Reason codes and the marketer-facing sentence for each, with the number that decided it."""

from __future__ import annotations

from typing import Any

from .policy import format_duration

CODES = {
    "consent": "the channel or topic lacks consent (opted out, unsubscribed, or no opt-in where one is required)",
    "holdout": "a holdout customer: sent whatever the relevance, to measure what suppression gains",
    "transactional": "transactional: exempt from relevance, caps, balance and time rules",
    "lifecycle": "no sales asks after a purchase or while a service order is open",
    "channel_preference": "rerouted to the channel the customer prefers or answers",
    "no_model": "no trained model yet: rules only",
    "unknown_message": "the model knows none of the message's features: relevance not checked",
    "new_customer": "no behavior for this customer in the model: scored from attributes",
    "irrelevant": "calibrated score below the relevance threshold",
    "relevant": "calibrated score at or above the relevance threshold",
    "offer_conflict": "a different or duplicate offer for the same key is active",
    "frequency_cap": "a frequency cap is full",
    "sales_balance": "too many sales asks relative to value content",
    "fatigue": "a streak of unanswered messages rests the channel",
    "cooldown": "too soon after the previous send",
    "quiet_hours": "quiet hours in the customer's time zone",
    "degraded": "the store did not answer within the deadline: the failure mode applied",
}


def _p(x: float) -> str:
    return f"{x:.3f}" if x >= 0.001 else f"{x:.2g}"


def _dur(ms: float) -> str:
    return format_duration(int(ms // 1000))


def _ago(days: float) -> str:
    return f"{days * 24:.0f} h ago" if days < 2 else f"{days:.0f} days ago"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def text(r: dict[str, Any], model_version: str | None) -> str:
    """The sentence for one reason returned by the decide script."""
    code = r["code"]
    if code == "consent":
        if "topic" in r:
            return f"the customer unsubscribed from {r['topic']}"
        why = "the customer opted out of" if r["state"] == "opted_out" else "no explicit opt-in for"
        tail = (f"; rerouted to {r['to']}" if "to" in r else
                "; reroute not allowed by the caller" if r.get("reroute") == "not_allowed" else
                "; no other channel with consent to reroute to")
        return f"{why} {r['channel']}{tail}"
    if code in ("irrelevant", "relevant"):
        op = "<" if code == "irrelevant" else ">="
        stage = f" (lead stage {r['stage']})" if r.get("stage") else ""
        return f"score {_p(r['score'])} {op} threshold {_p(r['threshold'])}{stage} on {r['channel']}"
    if code == "channel_preference":
        if r.get("stated"):
            return f"the customer prefers {r['to']}: rerouted from {r['from']}"
        return (f"{r['to']} scores {_p(r['score'])} vs {_p(r['was'])} on {r['from']} "
                f"(margin {r['margin']:.2f}): rerouted")
    if code == "lifecycle":
        if r["gate"] == "post_purchase":
            return (f"purchased {_ago(r['days'])}: no sales asks within "
                    f"{r['quiet_days']:.0f} days of a purchase")
        return "a service order is open: no sales asks until it closes"
    if code == "offer_conflict":
        if r["dup"]:
            return f"the same {r['key']} offer went out on {r['prev_channel']} {_ago(r['days'])}"
        terms = ", ".join(f"{k} {v}" for k, v in sorted(r.get("prev_terms", {}).items())) or "other terms"
        rule = "only a strictly better offer may follow" if r["mode"] == "better_only" else "conflicting offers are suppressed"
        return f"a {r['key']} offer ({terms}) went out on {r['prev_channel']} {_ago(r['days'])}; {rule}"
    if code == "frequency_cap":
        kind = f"{r['kind']} " if r.get("kind") else ""
        where = "on any channel" if r["channel"] == "any" else f"on {r['channel']}"
        return f"{r['count']} of {r['max']} {kind}sends {where} in {_dur(r['window_ms'])}"
    if code == "sales_balance":
        if "share" in r:
            return (f"sales share {r['share']:.2f} > {r['max']:.2f} over {_dur(r['window_ms'])} "
                    f"({r['sales']} of {r['total']} sends would be sales)")
        return f"{r['between']} value messages since the last sales ask; the policy asks for {r['need']}"
    if code == "fatigue":
        return (f"{r['streak']} unanswered {r['channel']} messages in a row (threshold {r['need']}): "
                f"one send per {_dur(r['cool_ms'])} until the customer engages")
    if code == "cooldown":
        return f"last send {_dur(r['ago_ms'])} ago; the policy wants {_dur(r['gap_ms'])} between sends"
    if code == "quiet_hours":
        return (f"{_hhmm(r['local_min'])} local time is within quiet hours "
                f"{_hhmm(r['start'])}-{_hhmm(r['end'])}")
    if code == "holdout":
        return f"holdout customer ({r['fraction']:.0%} of customers): sent whatever the relevance, to measure lift"
    if code == "no_model":
        return "no trained model yet: relevance not checked, rules only"
    if code == "unknown_message":
        return f"model {model_version} knows none of this message's topics, channel or kind: relevance not checked"
    if code == "new_customer":
        return f"no behavior for this customer in model {model_version}: scored from attributes and population"
    if code == "transactional":
        return "transactional message: exempt from relevance, caps, balance and time rules"
    if code == "degraded":
        return r["detail"]
    return code
