"""Household: the household's word is given by lua/household.lua on the household's own slot."""

from suppressor.rules import household
from tests.suppressor.rules.contract import Case, RuleContract


class TestHousehold(RuleContract):
    rule = household.RULE
    cases = [Case("a customer in no household", "send", None)]
    unplanted = {"household": "tests/suppressor/decisions/test_households.py plants members, caps and offers"}
