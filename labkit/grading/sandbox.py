"""Run an untrusted command in a sandbox: its own namespaces, limits, and a wall clock.

Isolation comes from bubblewrap (Debian: `apt-get install bubblewrap`):
- no network at all: a new network namespace has only its own loopback, so even services
  on the grader's 127.0.0.1 are out of reach;
- its own process tree (pid namespace): when the sandbox ends, everything in it ends;
- a filesystem of read-only system folders, Python, the venv, labkit and the cassettes,
  plus one private writable folder; nothing else of the host (no other submission, no
  instructor notebook) exists inside;
- rlimits on memory, file size and processes, and, when run as root with cgroups, a pids
  and memory cgroup (the kernel never applies RLIMIT_NPROC to root).
Without bubblewrap there is no sandbox: `require_bubblewrap()` says how to get one.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..config import REPO_ROOT

CGROUP_ROOT = Path("/sys/fs/cgroup")


class SandboxUnavailable(RuntimeError):
    """This machine cannot sandbox a submission; the message says what to install."""


@dataclass(frozen=True)
class Limits:
    wall_s: float = 180.0      # the whole notebook
    cell_s: float = 30.0       # one cell, enforced by the runner
    memory_mb: int = 3072      # address space per process, and the cgroup's memory
    processes: int = 64
    file_mb: int = 64


@dataclass
class Outcome:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool


def require_bubblewrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "Grading runs every submission in a bubblewrap sandbox, and `bwrap` is not "
            "installed. Install it (Debian/Ubuntu: sudo apt-get install bubblewrap) and run "
            "the grader again."
        )
    return path


def _read_only_paths() -> list[Path]:
    """What a notebook needs to run, and nothing more of the host."""
    paths = [Path(p) for p in ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache",
                               "/etc/fonts", "/etc/localtime")]
    paths += [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent]
    paths += [REPO_ROOT / "labkit", REPO_ROOT / "cassettes"]
    return [p for p in dict.fromkeys(paths) if p.exists()]


def bwrap_command(workdir: Path, command: list[str], env: dict[str, str]) -> list[str]:
    args = [require_bubblewrap(), "--unshare-all", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--clearenv",
            # Mounts apply in order: the empty /tmp first, so that a venv or repo that lives
            # under /tmp (a CI clone) is bound on top of it, not hidden by it.
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _read_only_paths():
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(workdir), "/home/student", "--chdir", "/home/student"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    return args + ["--", *command]


class _Cgroups:
    """A pids and memory cgroup per sandbox, when this process may make them (root)."""

    def __init__(self, limits: Limits) -> None:
        self.dirs: list[Path] = []
        self.limits_processes = False
        name = f"labkit-grade-{uuid.uuid4().hex[:8]}"
        v2 = (CGROUP_ROOT / "cgroup.controllers").exists()
        settings = ({"pids": ("pids.max", limits.processes), "memory": ("memory.max", limits.memory_mb << 20)}
                    if v2 else
                    {"pids": ("pids.max", limits.processes),
                     "memory": ("memory.limit_in_bytes", limits.memory_mb << 20)})
        for controller, (setting, value) in settings.items():
            folder = (CGROUP_ROOT / name) if v2 else (CGROUP_ROOT / controller / name)
            try:
                folder.mkdir()
                (folder / setting).write_text(str(value))
            except OSError:
                continue  # not root, or no such controller: the rlimits still hold
            self.dirs.append(folder)
            self.limits_processes |= controller == "pids"
            if v2:
                break  # one v2 folder holds both settings

    def join(self) -> None:
        for folder in self.dirs:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        for folder in self.dirs:
            for pid in (folder / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                folder.rmdir()
            except OSError:
                pass  # still emptying: the kernel removes nothing we could wait for here


def _tasks_of_this_user() -> int:
    """RLIMIT_NPROC counts every thread the user runs, sandboxed or not."""
    uid = os.getuid()
    return sum(1 for task in Path("/proc").glob("[0-9]*/task/*")
               if task.exists() and task.stat().st_uid == uid)


def run(command: list[str], workdir: Path, stdin: str, limits: Limits,
        env: dict[str, str]) -> Outcome:
    """Run `command` sandboxed in `workdir`, feed it `stdin`, stop it after limits.wall_s."""
    cgroups = _Cgroups(limits)
    if os.geteuid() == 0 and not cgroups.limits_processes:
        cgroups.remove()
        raise SandboxUnavailable(
            "Running as root, only a pids cgroup can limit a submission's processes (the kernel "
            f"ignores RLIMIT_NPROC for root), and none could be made under {CGROUP_ROOT}. Run the "
            "grader as an ordinary user, or on a machine whose cgroups root may write."
        )

    processes = limits.processes + (0 if os.geteuid() == 0 else _tasks_of_this_user())

    def limit_this_process() -> None:  # runs in the child, before bwrap starts
        cgroups.join()
        memory = limits.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb << 20, limits.file_mb << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    process = subprocess.Popen(bwrap_command(workdir, command, env), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=limit_this_process, start_new_session=True)
    try:
        stdout, stderr = process.communicate(stdin, timeout=limits.wall_s)
        return Outcome(process.returncode, stdout, stderr, timed_out=False)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # bwrap's pid namespace takes the rest with it
        stdout, stderr = process.communicate()
        return Outcome(None, stdout, stderr, timed_out=True)
    finally:
        cgroups.remove()
