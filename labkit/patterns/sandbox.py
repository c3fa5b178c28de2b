"""Run an untrusted command in a sandbox: its own namespaces, limits, and a wall clock.

Isolation comes from bubblewrap (Debian: `apt-get install bubblewrap`):
- no network at all: a new network namespace has only its own loopback, so even services
  on the grader's 127.0.0.1 are out of reach;
- its own process tree (pid namespace): when the sandbox ends, everything in it ends;
- a filesystem of read-only system folders, Python, the venv, labkit, the cassettes and the
  example code the notebooks analyse, plus one private writable folder; nothing else of the host (no other submission, no
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
import tempfile
import time
import uuid
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ..llm.config import REPO_ROOT

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


# The most a notebook may ask for (its metadata: "labkit": {"grading": {"processes": 128}});
# an instructor raises it with `make grade CEILING="processes=256 memory_mb=8192"`.
CEILING = Limits(wall_s=900.0, cell_s=300.0, memory_mb=8192, processes=256, file_mb=256)


def limits_for(notebook: str, declared: dict, default: Limits, ceiling: Limits) -> Limits:
    """The limits a notebook is graded with: what its metadata declares its course cells need,
    never less than `default`, never more than `ceiling` (and the instructor hears of a cap)."""
    wanted = parse_limits([f"{name}={value}" for name, value in declared.items()], default)
    granted = {}
    for field in fields(Limits):
        asked, floor, most = (getattr(limits, field.name) for limits in (wanted, default, ceiling))
        granted[field.name] = min(max(asked, floor), most)
        if asked > most:
            print(f"  warning: {notebook} asks for {field.name}={asked:g}; the ceiling is "
                  f"{most:g} (raise it: make grade CEILING=\"{field.name}={asked:g}\")",
                  file=sys.stderr)
    return Limits(**granted)


def parse_limits(settings: list[str], base: Limits) -> Limits:
    """`base` with settings like "processes=128" applied; a clear error for a wrong one."""
    known = {field.name: field.type for field in fields(Limits)}
    changed = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        if name not in known:
            raise ValueError(f"{setting!r}: no such limit. The limits are {', '.join(known)}.")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{setting!r}: {name} needs a number, e.g. {name}=128.") from None
        if number <= 0:
            raise ValueError(f"{setting!r}: a limit must be above 0.")
        changed[name] = int(number) if known[name] in ("int", int) else number
    return replace(base, **changed)


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
            "The sandbox (grading, and notebook 06's agent-written code) is bubblewrap, and "
            "`bwrap` is not installed. Install it (Debian/Ubuntu: sudo apt-get install "
            "bubblewrap; Fedora: sudo dnf install bubblewrap) and run again. macOS and Windows "
            "have no bubblewrap: use a Linux machine or WSL 2."
        )
    return path


def _read_only_paths() -> list[Path]:
    """What a notebook needs to run, and nothing more of the host."""
    paths = [Path(p) for p in ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache",
                               "/etc/fonts", "/etc/localtime")]
    paths += [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent]
    paths += [REPO_ROOT / "labkit", REPO_ROOT / "cassettes", REPO_ROOT / "examples"]
    return [p for p in dict.fromkeys(paths) if p.exists()]


def bwrap_command(workdir: Path, command: list[str], env: dict[str, str]) -> list[str]:
    args = [require_bubblewrap(), "--unshare-all", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--clearenv",
            # Mounts apply in order: the empty /tmp first, so that a venv or repo that lives
            # under /tmp (a CI clone) is bound on top of it, not hidden by it.
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _read_only_paths():
        args += ["--ro-bind", str(path), str(path)]
    # The command starts outside the student's folder: none of their files can shadow a module
    # it imports (its notebook's kernel is started in /home/student).
    args += ["--bind", str(workdir), "/home/student", "--chdir", "/tmp"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    return args + ["--", *command]


class _Cgroups:
    """A pids and a memory cgroup for one sandbox, when this process may make them (root).

    They are made inside this process's own cgroups, so whatever limits already hold for the
    grader (a container's memory, say) hold for the sandbox too. cgroup v1 has a folder per
    controller; v2 has one folder for both.
    """

    def __init__(self, limits: Limits) -> None:
        name = f"labkit-grade-{uuid.uuid4().hex[:8]}"
        v2 = (CGROUP_ROOT / "cgroup.controllers").exists()
        wanted = {"pids": ("pids.max", limits.processes),
                  "memory": ("memory.max" if v2 else "memory.limit_in_bytes", limits.memory_mb << 20)}
        self.dirs: list[Path] = []
        self.limits_processes = False
        for controller, (setting, value) in wanted.items():
            folder = _own_cgroup(controller, v2) / name
            try:
                folder.mkdir(exist_ok=True)
                (folder / setting).write_text(str(value))
            except OSError:
                continue  # not root, or no such controller: the rlimits still hold
            if folder not in self.dirs:
                self.dirs.append(folder)
            self.limits_processes |= controller == "pids"

    def join(self) -> None:
        for folder in self.dirs:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        """Kill what is left inside, wait until it has gone, then remove the folders."""
        deadline = time.monotonic() + 10
        for folder in self.dirs:
            while (pids := (folder / "cgroup.procs").read_text().split()) and time.monotonic() < deadline:
                for pid in pids:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.05)
            try:
                folder.rmdir()
            except OSError as error:
                print(f"  warning: could not remove {folder}: {error}", file=sys.stderr)


def _own_cgroup(controller: str, v2: bool) -> Path:
    """The folder of this process's cgroup for `controller`, from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (v2 and controllers == "") or (not v2 and controller in controllers.split(",")):
            return CGROUP_ROOT / ("" if v2 else controller) / path.lstrip("/")
    return CGROUP_ROOT / ("" if v2 else controller)


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

    # Output goes to files, not pipes: whatever the sandbox writes is bounded by its file-size
    # limit, not by this process's memory, and only the start of it is read back.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(bwrap_command(workdir, command, env), stdin=subprocess.PIPE,
                                   stdout=out, stderr=err, preexec_fn=limit_this_process,
                                   start_new_session=True)
        timed_out = False
        try:
            process.communicate(stdin.encode(), timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # bwrap's pid namespace takes the rest
            process.wait()
            timed_out = True
        finally:
            cgroups.remove()
        return Outcome(None if timed_out else process.returncode, _head(out, READ_STDOUT),
                       _head(err, READ_STDERR), timed_out)


READ_STDOUT, READ_STDERR = 8 << 20, 64 << 10  # bytes read back of what the sandbox wrote


def _head(file, size: int) -> str:
    file.seek(0)
    return file.read(size).decode("utf-8", "replace")


# Code an agent wrote gets far less than a notebook: a few seconds, little memory, few processes.
AGENT_CODE = Limits(wall_s=10.0, cell_s=10.0, memory_mb=512, processes=16, file_mb=8)


def run_python(code: str, limits: Limits = AGENT_CODE) -> Outcome:
    """Run `code` (an agent wrote it: untrusted) in the sandbox: no network, a folder of its
    own as the only writable place it shares with the host, and `limits`."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "main.py").write_text(code)
        outcome = run([sys.executable, "-I", "/home/student/main.py"], Path(folder), "", limits,
                      env={"HOME": "/home/student", "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
    if outcome.returncode and outcome.stderr.startswith("bwrap:"):  # bwrap itself failed
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot make a sandbox here ({outcome.stderr.strip()}). "
            "Inside a container or another sandbox it needs user namespaces: run on the host, "
            "or allow them (sysctl kernel.unprivileged_userns_clone=1).")
    return outcome
