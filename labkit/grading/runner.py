"""Inside the sandbox: start the submission's kernel, then judge its notebook (checker.py).

    python -I -m labkit.grading.runner < job.json > report.jsonl

job: {"notebook": <nbformat dict>, "cell_timeout": seconds, "nonce": a secret,
      "checks": {index: {"visible": source, "full": source with hidden tests}}}
report: one JSON object a line, each carrying the job's nonce, written as it is decided:
    {"cell": index, "status": "ok"|"error"|"timeout", "error": "Name: message" or null}
    {"check": index, "passed": bool, "feedback": str, "case": the visible case failed}
    {"kernel_died_at": index}, and last {"done": true}

The nonce is how the grader knows a line is this process's: the kernel cannot read it (it
arrives on stdin before the kernel starts, and this process is not dumpable), so a line the
kernel writes to the sandbox's stdout is ignored. Run with -I, outside the student's folder:
no file of theirs can shadow a module this process imports.

The kernel starts first, and boots while this process imports the checker: on two cores that
overlap is most of a second of each submission.
"""
from __future__ import annotations

import ctypes
import json
import subprocess
import sys

from jupyter_core.utils import run_sync

from ..kernels import IPCKernelManager

PR_SET_DUMPABLE = 4
STUDENT = "/home/student"  # the sandbox's private copy of the student's folder
# nbformat's jsonschema loads every format checker whose library is installed, once per
# submission here: rfc3987_syntax compiles an IRI grammar (1.8 s), isoduration loads arrow's
# locales... A notebook's schema uses none of these formats; jsonschema skips what is absent.
OPTIONAL_FORMATS = ("rfc3987_syntax", "rfc3987", "isoduration", "fqdn", "idna", "jsonpointer",
                    "rfc3339_validator", "uri_template", "webcolors")


def main() -> None:
    # The job in this process's memory holds the hidden tests: the kernel, though it runs as
    # the same user, must not be able to read it through /proc.
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    job = json.load(sys.stdin)
    manager = IPCKernelManager(kernel_name="python3")
    # The kernel's own stdout and stderr go nowhere: only this process writes the report.
    run_sync(manager.start_kernel)(cwd=STUDENT, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for name in OPTIONAL_FORMATS:
        sys.modules.setdefault(name, None)
    from .checker import run  # while the kernel boots

    def emit(record: dict) -> None:
        print(json.dumps({"nonce": job["nonce"], **record}), flush=True)

    try:
        run(job, manager, emit)
        emit({"done": True})
    finally:
        run_sync(manager.shutdown_kernel)(now=True)


if __name__ == "__main__":
    main()
