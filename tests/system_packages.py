"""Tests that need a system package ask for it here.

When it is missing they are skipped (on CI they fail: `make test` installs it there), and
the summary at the end of the run (tests/conftest.py) names each skipped group and the one
command that brings it.
"""
import os
from pathlib import Path

import pytest

MISSING = "needs the system package"


def skip_unless_installed(package: str, program: str, tests: str) -> None:
    """Skip the calling test unless `program` (from Debian's `package`) is installed."""
    if Path(program).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{program} is missing: `make test` should have installed {package}.",
                    pytrace=False)
    pytest.skip(f"{MISSING} {package} ({tests})")


def summary(skipped_reports) -> list[str]:
    """Lines naming each skipped group and the command that brings its package."""
    groups: dict[str, int] = {}
    for report in skipped_reports:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        if MISSING in reason:
            key = reason.split(MISSING, 1)[1].strip()
            groups[key] = groups.get(key, 0) + 1
    lines = [f"{count:4d} skipped, {key}: sudo apt-get install {key.split()[0]}"
             for key, count in sorted(groups.items())]
    return lines + ["(As root, `make test` installs them itself.)"] if lines else []
