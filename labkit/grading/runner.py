"""Inside the sandbox: execute one assembled notebook cell by cell, report each cell's outcome.

    python -m labkit.grading.runner < job.json > report.json

job: {"notebook": <nbformat dict>, "cell_timeout": seconds, "guarded": [cell indices]}
report: {"cells": {index: {"status": "ok"|"error"|"timeout", "error": "Name: message"}},
         "replaced": {index: [names]}, "kernel_died_at": index or null}

Before each guarded (graded) cell, a guard re-imports the checks from the installed files, so
a graded cell runs the instructor's code, and names any check function a solution replaced.
"""
from __future__ import annotations

import ctypes
import json
import subprocess
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from ..course import IPCKernelManager

PR_SET_DUMPABLE = 4

GUARD = '''
def __labkit_grading_guard():
    import importlib, json, sys
    # The checks and the modules they build their cases from, dependencies first.
    names = ("labkit.llm.usage", "labkit.patterns.messaging", "labkit.patterns.routing",
             "labkit.patterns.aggregate", "labkit.patterns.collaboration", "labkit.checks._core",
             "labkit.checks.nb00_setup", "labkit.checks.nb01_multi_agent_systems",
             "labkit.checks.nb02_collaboration_patterns", "labkit.checks")
    stale = {name: sys.modules.pop(name, None) for name in names}
    for name in names:  # genuine copies, from the installed files
        importlib.import_module(name)
    replaced = []
    for name, old in stale.items():
        fresh = sys.modules[name]
        for attribute, genuine in vars(fresh).items():
            code = getattr(genuine, "__code__", None)
            if old is None or code is None or not genuine.__module__.startswith("labkit."):
                continue  # not one of labkit's functions
            current = getattr(getattr(old, attribute, None), "__code__", None)
            if current is None or (current.co_code, current.co_filename) != (code.co_code, code.co_filename):
                replaced.append(f"{name}.{attribute}")
    print(json.dumps(replaced))
__labkit_grading_guard()
del __labkit_grading_guard
'''


def _error_of(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
    return None


def _replaced_by(guard_cell) -> list[str]:
    printed = [o["text"] for o in guard_cell.outputs if o.get("name") == "stdout"]
    try:
        return json.loads(printed[0])
    except (IndexError, ValueError):
        return ["the grader's guard (builtins were changed)"]


def run(job: dict) -> dict:
    notebook = nbformat.from_dict(job["notebook"])
    guarded = set(job.get("guarded", []))
    # coalesce_streams: one print can arrive as several stream messages; the guard's is read whole.
    client = NotebookClient(notebook, kernel_name="python3", timeout=job["cell_timeout"],
                            kernel_manager_class=IPCKernelManager, interrupt_on_timeout=True, allow_errors=True, record_timing=False,
                            coalesce_streams=True)
    report: dict = {"cells": {}, "replaced": {}, "kernel_died_at": None}
    # The kernel's own stdout and stderr go nowhere: only this process writes the report.
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    with client.setup_kernel(**quiet):
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            try:
                if index in guarded:
                    guard = nbformat.v4.new_code_cell(GUARD)
                    client.execute_cell(guard, index)
                    report["replaced"][index] = _replaced_by(guard)
                client.execute_cell(cell, index)
            except DeadKernelError:
                report["kernel_died_at"] = index
                break
            error = _error_of(cell)
            status = "ok" if error is None else (
                "timeout" if error.startswith("KeyboardInterrupt") else "error")
            report["cells"][index] = {"status": status, "error": error}
    return report


def main() -> None:
    # The notebook in this process's memory holds the hidden tests: the kernel, though it
    # runs as the same user, must not be able to read it through /proc.
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    job = json.load(sys.stdin)
    json.dump(run(job), sys.stdout)


if __name__ == "__main__":
    main()
