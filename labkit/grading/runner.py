"""Inside the sandbox: start the submission's kernel, then judge its notebook (checker.py).

    python -m labkit.grading.runner < job.json > report.json

job: {"notebook": <nbformat dict>, "cell_timeout": seconds,
      "checks": {index: {"visible": source, "full": source with hidden tests}}}
report: {"cells": {index: {"status": "ok"|"error"|"timeout", "error": "Name: message"}},
         "checks": {index: {"passed": bool, "feedback": str, "case": the visible case failed}},
         "kernel_died_at": index or null}

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
    run_sync(manager.start_kernel)(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    for name in OPTIONAL_FORMATS:
        sys.modules.setdefault(name, None)
    from .checker import run  # while the kernel boots

    try:
        report = run(job, manager)
    finally:
        run_sync(manager.shutdown_kernel)(now=True)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
