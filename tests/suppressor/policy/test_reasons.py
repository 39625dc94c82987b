"""The reason registry is the one contract between the rules and everything that explains them."""

import re
from importlib import resources
from pathlib import Path

from suppressor.policy import reasons

# the scripts that give verdicts: every rule's and the household's
SCRIPTS = "".join(resources.files("suppressor.lua").joinpath(f"{n}.lua").read_text() for n in ("decide", "household"))


def test_the_script_fires_exactly_the_codes_the_registry_lists():
    fired = set(re.findall(r"code = '([a-z_]+)'", SCRIPTS)) | set(re.findall(r"r\.code = '([a-z_]+)'", SCRIPTS))
    served = {"degraded"}  # answered by the service when the script cannot run
    assert fired | served == set(reasons.REGISTRY), (
        f"in the script, not the registry: {sorted(fired - set(reasons.REGISTRY))}; "
        f"in the registry, fired by nothing: {sorted(set(reasons.REGISTRY) - fired - served)}")


def test_every_code_has_a_sentence_and_the_policy_reference_shows_the_registry():
    page = (Path(__file__).resolve().parents[3] / "docs" / "policy.md").read_text()
    assert reasons.table() in page, \
        "docs/policy.md's reason table is out of date: python -m suppressor.policy.reasons prints it"
    assert reasons.text({"code": "cooldown", "gap_ms": 43_200_000, "ago_ms": 7_200_000}, None) == \
        "last send 2h ago; the policy wants 12h between sends"
    assert reasons.blocking() >= {"frequency_cap", "irrelevant", "quiet_hours"}
    assert not reasons.blocking() & {"relevant", "holdout", "channel_preference"}
