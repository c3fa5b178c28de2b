"""labkit.patterns.sandbox.run_python: code an agent wrote, run with no network, no writes to
the host outside its own folder, and limits on time and memory (notebook 06)."""
from dataclasses import replace

import pytest

from labkit.llm.config import REPO_ROOT
from labkit.patterns import sandbox
from system_packages import skip_unless_installed

QUICK = replace(sandbox.AGENT_CODE, wall_s=2.0)


@pytest.fixture
def bubblewrap():
    skip_unless_installed("bubblewrap", "/usr/bin/bwrap", "the sandbox tests")


def test_code_runs_and_may_write_only_in_its_own_folder(bubblewrap):
    outcome = sandbox.run_python("open('/home/student/out.txt', 'w').write('ok')\n"
                                 "print(open('/home/student/out.txt').read())", QUICK)
    assert (outcome.returncode, outcome.stdout) == (0, "ok\n")
    target = REPO_ROOT / "labkit" / "planted.py"
    outcome = sandbox.run_python(f"open({str(target)!r}, 'w').write('x')", QUICK)
    assert "Read-only file system" in outcome.stderr and not target.exists()


def test_code_reaches_no_network_not_even_the_hosts_loopback(bubblewrap):
    import socket

    with socket.socket() as server:  # a service on the host's 127.0.0.1
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        outcome = sandbox.run_python(
            f"import socket; socket.create_connection(('127.0.0.1', {port}), 1)", QUICK)
    assert outcome.returncode == 1 and "ConnectionRefusedError" in outcome.stderr


def test_time_and_memory_are_limited(bubblewrap):
    assert sandbox.run_python("while True: pass", QUICK).timed_out
    outcome = sandbox.run_python("block = bytearray(2 * 1024**3)", QUICK)
    assert outcome.returncode == 1 and "MemoryError" in outcome.stderr


def test_without_bubblewrap_the_error_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.run_python("print(1)", QUICK)


def test_a_bubblewrap_that_cannot_start_is_named_not_taken_for_the_codes_failure(monkeypatch):
    failed = sandbox.Outcome(1, "", "bwrap: No permissions to creating new namespace\n", False)
    monkeypatch.setattr(sandbox, "run", lambda *args, **kwargs: failed)
    with pytest.raises(sandbox.SandboxUnavailable, match="cannot make a sandbox here"):
        sandbox.run_python("print(1)", QUICK)
