"""A notebook checks that the installed labkit is the one it was written for."""
import pytest

import labkit
from labkit import LabkitVersionError


def test_setup_refuses_a_notebook_written_for_another_minor_version():
    major, minor, _ = labkit.__version__.split(".")
    other = f"{major}.{int(minor) + 1}.0"

    with pytest.raises(LabkitVersionError) as error:
        labkit.setup("unit", other)

    assert other in str(error.value)
    assert labkit.__version__ in str(error.value)
    assert "make lab" in str(error.value)


def test_setup_accepts_another_patch_version(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_CASSETTE_DIR", str(tmp_path))
    major, minor, _ = labkit.__version__.split(".")

    session = labkit.setup("unit", f"{major}.{minor}.99")

    assert session.notebook == "unit"


def test_chat_before_setup_says_to_run_labkit_setup():
    with pytest.raises(RuntimeError, match=r"labkit\.setup"):
        labkit.chat("hello")
