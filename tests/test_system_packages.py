"""`make test` on a machine without chromium or bubblewrap: their tests are skipped, and the
summary names each skipped group and the command that brings it."""
from types import SimpleNamespace

import pytest

from system_packages import skip_unless_installed, summary


def skipped(reason):
    """A skipped test's report, as pytest makes it: longrepr is (file, line, reason)."""
    return SimpleNamespace(longrepr=("test_x.py", 1, f"Skipped: {reason}"))


def test_a_missing_package_skips_the_test_and_says_which(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skip:
        skip_unless_installed("bubblewrap", "/no/such/bwrap", "the grading tests")
    assert "bubblewrap (the grading tests)" in str(skip.value)


def test_on_ci_a_missing_package_fails_instead(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make test"):
        skip_unless_installed("chromium", "/no/such/chromium", "the browser test")


def test_an_installed_package_lets_the_test_run(tmp_path):
    program = tmp_path / "bwrap"
    program.write_text("")
    skip_unless_installed("bubblewrap", str(program), "the grading tests")


def test_summary_counts_each_group_and_names_its_command(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    reports = []
    for package, tests in [("bubblewrap", "the grading tests")] * 3 + [("chromium", "the browser test")]:
        with pytest.raises(pytest.skip.Exception) as skip:
            skip_unless_installed(package, "/no/such/program", tests)
        reports.append(skipped(skip.value.msg))
    reports.append(skipped("some other reason"))

    lines = summary(reports)

    assert lines[0] == "   3 skipped, bubblewrap (the grading tests): sudo apt-get install bubblewrap"
    assert lines[1] == "   1 skipped, chromium (the browser test): sudo apt-get install chromium"
    assert "make test" in lines[2]


def test_summary_is_empty_when_nothing_was_skipped_for_a_package():
    assert summary([skipped("some other reason")]) == []
