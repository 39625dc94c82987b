"""Rewrite the generated tables of the docs from the code: the rules and the reason codes in
docs/policy.md (from the rule units' registry). Run after adding or changing a rule:

    python scripts/docs_tables.py          # rewrites the page
    python scripts/docs_tables.py --check  # exit 1 if the page is stale (the tests check it too)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from suppressor import rules

PAGE = Path(__file__).resolve().parents[1] / "docs" / "policy.md"
BLOCKS = {"rules": rules.reference, "reasons": rules.table}


def render(text: str) -> str:
    """The page with every generated block (between its two marker comments) written anew."""
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(\n<!-- /generated:{name} -->)", re.S)
        assert pattern.search(text), f"{PAGE.name} has no generated:{name} block"
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + m.group(2), text)
    return text


if __name__ == "__main__":
    old = PAGE.read_text()
    new = render(old)
    if "--check" in sys.argv:
        sys.exit(0 if new == old else f"{PAGE} is stale: run python scripts/docs_tables.py")
    PAGE.write_text(new)
    print(f"wrote {PAGE}")
