"""Fixtures shared by the unit tests (the environment is set in the root conftest.py)."""
import pytest

import labkit
import labkit.session


@pytest.fixture(autouse=True)
def no_session_left_behind():
    """After each test: close the test's session (its cassette stops intercepting HTTP),
    forget it, and empty the usage ledger, so the next test starts clean."""
    yield
    if labkit.session._current is not None:
        labkit.session._current.close()
        labkit.session._current = None
    labkit.ledger.clear()


@pytest.fixture
def unit_session(monkeypatch, tmp_path):
    """A replay session named "unit" over an empty cassette in tmp_path.

    Enough for chat() with a ScriptedModel: the scripted model answers, no HTTP is made.
    """
    monkeypatch.setenv("LABKIT_CASSETTE_DIR", str(tmp_path))
    return labkit.setup("unit", labkit.__version__)
