"""Fixtures shared by the unit tests (the environment is set in the root conftest.py)."""
import pytest

import labkit
from labkit.llm.session import end_session
from system_packages import summary


@pytest.fixture(autouse=True)
def no_session_left_behind():
    """After each test: close the test's session (its cassette stops intercepting HTTP),
    forget it, and empty the usage ledger, so the next test starts clean."""
    yield
    end_session()
    labkit.ledger.clear()


@pytest.fixture
def unit_session(monkeypatch, tmp_path):
    """A replay session named "unit" over an empty cassette in tmp_path.

    Enough for chat() with a ScriptedModel: the scripted model answers, no HTTP is made.
    """
    monkeypatch.setenv("LABKIT_CASSETTE_DIR", str(tmp_path))
    return labkit.setup("unit", labkit.__version__)


def pytest_terminal_summary(terminalreporter):
    lines = summary(terminalreporter.stats.get("skipped", []))
    if lines:
        terminalreporter.section("skipped: system packages missing")
        for line in lines:
            terminalreporter.line(line)


@pytest.fixture
def redacting_log():
    """A logger whose one handler redacts what it writes (leaks.RedactingFilter), and the
    text it has written so far."""
    import io
    import logging

    from labkit.patterns.leaks import RedactingFilter

    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger(f"redacting-{id(written)}")
    log.addHandler(handler)
    log.propagate = False
    yield log, written
    log.removeHandler(handler)
