"""The policy's rules, one unit each: ``rules/<name>.py`` and its ``rules/<name>.lua`` fragment.

A unit declares everything about its rule in one place: the policy section it is tuned by, the
parameters its Lua reads (``P.<name>``, under the policy's own names; a duration ``x`` arrives as
``x_ms``, a time of day ``hh:mm`` as ``x_min``), which of them the live script decodes only when the
rule first reads them, its reason codes with their sentences and whether they block a send, and
its place in the order. The decide script (its rule table and lazy list), the policy's script
parameters and the docs' reason table are all built from this registry, so adding a rule touches
its unit, its policy section and its cases (tests/suppressor/rules/), nothing kept in step by hand.

The fragment defines ``local function rule_<name>()``, run in ``order`` inside lua/decide.lua where
it reads the verdict under way (``D``) and may add reasons (``fire``), suppress (``stop``) or defer
(``defer_to``); returning ``'exempt'`` skips every later rule.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from suppressor.domain import format_duration

if TYPE_CHECKING:
    from suppressor.policy.document import Policy

Sentence = Callable[[dict[str, Any], "str | None"], str]


@dataclass(frozen=True)
class Code:
    """One reason code: the verdict it leads to, whether it stops or delays a send, its meaning and
    the sentence a marketer reads (with the number that decided it)."""

    code: str
    verdict: str  # what it leads to, as the docs' table says it
    blocks: bool  # it stops or delays a send (what-ifs count these per verdict)
    meaning: str
    sentence: Sentence


def _none(_policy: Policy) -> dict[str, Any]:
    return {}


def _no_windows(_policy: Policy) -> list[int]:
    return []


@dataclass(frozen=True)
class Rule:
    """One rule of the policy (see the package docstring)."""

    name: str  # rule_<name> in <name>.lua
    order: int  # rules run by ascending order (multiples of 10 leave room between)
    section: str | None  # the Policy field that tunes it (None: no knob of its own)
    codes: tuple[Code, ...] = ()
    params: Callable[[Policy], dict[str, Any]] = _none  # its top-level ``P.<name>`` entries
    lazy: tuple[str, ...] = ()  # of those, the groups the live script decodes only when first read
    windows: Callable[[Policy], list[int]] = _no_windows  # seconds of the sends ledger it reads back
    in_script: bool = True  # False: its codes are given by the service, not the decide script

    def lua(self) -> str:
        """The rule's Lua fragment."""
        return resources.files(__name__).joinpath(f"{self.name}.lua").read_text()


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule unit in this package, in the order they run."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        rule = getattr(importlib.import_module(f"{__name__}.{info.name}"), "RULE", None)
        if isinstance(rule, Rule):
            found.append(rule)
    return tuple(sorted(found, key=lambda r: (r.order, r.name)))


def script_rules() -> tuple[Rule, ...]:
    """The rules the decide script runs."""
    return tuple(r for r in all_rules() if r.in_script)


# the head's own lazily decoded groups: per lead stage, the parameters its override changes; the
# model's send-time prior (168 numbers, read only by the send_time rule)
HEAD_LAZY = ("by_stage", "send_hours")


def lazy() -> tuple[str, ...]:
    """The parameter groups the live script decodes only when a rule first reads them, in argument order."""
    return tuple(g for r in script_rules() for g in r.lazy) + HEAD_LAZY


def params(policy: Policy) -> dict[str, Any]:
    """Every rule's parameters of ``policy``, as the decide script reads them (``P.<name>``)."""
    out: dict[str, Any] = {}
    for rule in script_rules():
        mine = rule.params(policy)
        clash = out.keys() & mine.keys()
        assert not clash, f"rule {rule.name} sets {sorted(clash)}, set by an earlier rule"
        out.update(mine)
    return out


def ledger_window(policy: Policy) -> int:
    """The longest stretch of the sends ledger any rule reads back (seconds; a day at least)."""
    return max([86_400, *(w for r in script_rules() for w in r.windows(policy))])


def assemble(head: str) -> str:
    """A script holding lua/decide.lua with the lazy list and the rules put in: ``-- @rules`` (once) becomes
    the fragments in order and ``local RULES = {...}``, ``-- @lazy`` (at most once: where the parameters
    are decoded) ``local LAZY = {...}``."""
    groups = ", ".join(f"'{g}'" for g in lazy())
    rules = script_rules()
    body = "\n".join(f"-- rules/{r.name}.lua\n{r.lua().rstrip()}\n" for r in rules)
    table = "local RULES = { " + ", ".join(f"rule_{r.name}" for r in rules) + " }"
    assert len(re.findall(r"^-- @rules$", head, re.M)) == 1, "lua/decide.lua lost its -- @rules line"
    assert len(re.findall(r"^-- @lazy$", head, re.M)) <= 1, "-- @lazy more than once"
    head = re.sub(r"^-- @lazy$", lambda _: f"local LAZY = {{ {groups} }}", head, flags=re.M)
    return re.sub(r"^-- @rules$", lambda _: f"{body}\n{table}", head, flags=re.M)


@cache
def registry() -> dict[str, Code]:
    """Every reason code by name, in the order the rules run."""
    out: dict[str, Code] = {}
    for rule in all_rules():
        for c in rule.codes:
            assert c.code not in out, f"reason code {c.code} is declared twice"
            out[c.code] = c
    return out


def text(r: dict[str, Any], model_version: str | None) -> str:
    """The sentence for one reason returned by the decide script."""
    entry = registry().get(r["code"])
    return entry.sentence(r, model_version) if entry else r["code"]


def blocking() -> frozenset[str]:
    """Codes that stop or delay a send (the others explain one)."""
    return frozenset(c.code for c in registry().values() if c.blocks)


def table() -> str:
    """The docs' table of reason codes, in Markdown."""
    rows = ["| code | verdict | meaning |", "|---|---|---|"]
    rows += [f"| `{c.code}` | {c.verdict} | {c.meaning} |" for c in registry().values()]
    return "\n".join(rows)


def reference() -> str:
    """The docs' table of rules: the order they run in, the policy section of each, its codes."""
    rows = ["| order | rule | policy section | reason codes |", "|---|---|---|---|"]
    for r in all_rules():
        if r.in_script:
            codes = ", ".join(f"`{c.code}`" for c in r.codes) or "–"
            rows.append(f"| {r.order} | `{r.name}` | {f'`{r.section}`' if r.section else '–'} | {codes} |")
    return "\n".join(rows)


# sentence helpers the units share -----------------------------------------------------------------


def score(x: float) -> str:
    """A chance as the sentences print it."""
    return f"{x:.3f}" if x >= 0.001 else f"{x:.2g}"


def duration(ms: float) -> str:
    """Milliseconds in the largest exact unit ('7d', '12h')."""
    return format_duration(int(ms // 1000))


def ago(days: float) -> str:
    """How long ago, in words."""
    if days < 1 / 24:
        return f"{days * 1440:.0f} min ago"
    return f"{days * 24:.0f} h ago" if days < 2 else f"{days:.0f} days ago"


def terms(r: dict[str, Any]) -> str:
    """An earlier offer's terms, as 'apr 2.9, term 60'."""
    return ", ".join(f"{k} {v}" for k, v in sorted(r.get("prev_terms", {}).items())) or "other terms"


def cap(r: dict[str, Any], whom: str = "") -> str:
    """A full cap with the count that filled it: '3 of 3 sales sends on email in 7d'."""
    kind = f"{r['kind']} " if r.get("kind") else ""
    what = f"{r['offer']} " if r.get("offer") else ""
    where = "on any channel" if r["channel"] == "any" else f"on {r['channel']}"
    return f"{r['count']} of {r['max']} {what}{kind}sends {where}{whom} in {duration(r['window_ms'])}"


def hhmm(minutes: int) -> str:
    """Minutes of the day as 'hh:mm'."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def minutes(text: str) -> int:
    """'hh:mm' as minutes of the day."""
    return int(text[:2]) * 60 + int(text[3:])
