"""examples/bugtracker/KNOWN_FLAWS.json, which the notebooks score agents against, is right."""
import json

import pytest

from labkit.llm.config import REPO_ROOT
from labkit.patterns.aggregate import CATEGORY_WEIGHT

CODEBASE = REPO_ROOT / "examples" / "bugtracker"
FLAWS = json.loads((CODEBASE / "KNOWN_FLAWS.json").read_text())


@pytest.mark.parametrize("flaw", FLAWS, ids=[flaw["id"] for flaw in FLAWS])
def test_each_flaw_points_at_the_line_that_has_it(flaw):
    lines = (CODEBASE / flaw["file"]).read_text().splitlines()

    assert flaw["category"] in CATEGORY_WEIGHT
    if flaw["line"] == 1:  # about the whole module
        assert "snippet" not in flaw
    else:
        assert flaw["snippet"] in lines[flaw["line"] - 1], (
            f"{flaw['file']}:{flaw['line']} is {lines[flaw['line'] - 1].strip()!r}; "
            f"update the line of {flaw['id']!r} in KNOWN_FLAWS.json")


def test_flaw_ids_are_unique():
    assert len({flaw["id"] for flaw in FLAWS}) == len(FLAWS)
