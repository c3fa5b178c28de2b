"""Cassettes stay in step with what uses them: every recording is asked for by its notebook
or benchmark (pydantic-ai's "fully replayed" rule). A repeated identical request is fine; a
recording nothing asks for any more belongs to a prompt that changed, and is re-recorded away.
"""
import subprocess
import sys

import nbformat
import pytest

from labkit.course import BENCH, RECORDED_BENCHES, find_notebooks, run_notebook


@pytest.mark.parametrize("notebook", find_notebooks([]), ids=lambda path: path.stem)
def test_a_notebook_asks_for_every_recording_of_its_cassette(notebook):
    result = run_notebook(notebook, show_progress=False)

    assert result.ok, result.error
    assert result.unplayed == [], result.line()


def test_a_notebook_that_lost_a_cell_is_told_which_recordings_it_left(tmp_path):
    notebook = nbformat.read(find_notebooks(["00_setup"])[0], as_version=4)
    # The cell that replays the same three calls again, waiting for real: three recordings left.
    notebook.cells = [cell for cell in notebook.cells if "lab.replay_speed(1)" not in cell.source]
    shortened = tmp_path / "00_setup.ipynb"
    nbformat.write(notebook, shortened)

    result = run_notebook(shortened, show_progress=False)

    assert result.ok, result.error
    assert len(result.unplayed) == 3
    assert all("Write a one-line title for this bug report" in left for left in result.unplayed)
    assert "make cassettes NOTEBOOKS=00_setup" in result.line()


@pytest.mark.parametrize("bench", RECORDED_BENCHES)
def test_a_benchmark_asks_for_every_recording_of_its_cassette(bench):
    run = subprocess.run([sys.executable, str(BENCH / f"{bench}.py"), "--check"],
                         capture_output=True, text=True, timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr
