"""The registry: the script, the order, the lazy groups and the docs come from the rule units."""

import re
from pathlib import Path

from suppressor import rules
from suppressor.storage.store import script_source


def test_the_script_runs_every_rule_unit_in_order_and_decodes_their_lazy_groups():
    src = script_source("decide")
    table = re.search(r"^local RULES = \{(.*)\}$", src, re.M).group(1)
    assert [n.strip() for n in table.split(",")] == [f"rule_{r.name}" for r in rules.script_rules()]
    lazy = re.search(r"^local LAZY = \{(.*)\}$", src, re.M).group(1)
    assert tuple(re.findall(r"'([a-z_]+)'", lazy)) == rules.lazy()
    orders = [r.order for r in rules.all_rules()]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)


def test_every_code_fired_anywhere_is_declared_once_by_a_unit():
    scripts = script_source("decide") + script_source("household")
    fired = set(re.findall(r"code = '([a-z_]+)'", scripts)) | set(re.findall(r"r\.code = '([a-z_]+)'", scripts))
    served = {c.code for r in rules.all_rules() if not r.in_script for c in r.codes}
    assert fired | served == set(rules.registry())


def test_the_policy_reference_shows_the_registry():
    page = (Path(__file__).resolve().parents[3] / "docs" / "policy.md").read_text()
    assert rules.table() in page, (
        "docs/policy.md's reason table is out of date: python scripts/docs_tables.py writes it"
    )
    assert rules.reference() in page, (
        "docs/policy.md's rule table is out of date: python scripts/docs_tables.py writes it"
    )
    assert (
        rules.text({"code": "cooldown", "gap_ms": 43_200_000, "ago_ms": 7_200_000}, None)
        == "last send 2h ago; the policy wants 12h between sends"
    )
    assert rules.blocking() >= {"frequency_cap", "irrelevant", "quiet_hours"}
    assert not rules.blocking() & {"relevant", "holdout", "channel_preference"}
