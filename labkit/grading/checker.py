"""The checker, inside the sandbox: run a notebook's cells on its kernel, judge its checks here.

This process is the checker. The kernel runs the notebook's other cells, the learner's code
among them; a graded cell never reaches it. The checker runs the check cell's code itself,
with each name the cell uses but does not define (the learner's function) bound to a Remote:
a call sends the kernel only that case's inputs, and the answer comes back as plain data. So a
verdict is decided here, by the instructor's code, whatever the submission did to its kernel.

Hidden cases stay hidden: first every check runs with its visible cases only, in notebook
order, with full feedback; only then, once nothing more is said to the learner in detail, the
hidden tests run, and a failure there names only its rule (the kernel has seen its inputs, so
nothing it said may be carried out in the feedback).
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import queue
import time
from typing import Callable

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from ..checks._boundary import MAX_ANSWER_BYTES
from ..checks._core import CheckFailed, LearnerError, Remote, hidden_feedback

PR_SET_DUMPABLE = 4
# What the kernel runs for one question: its half of the boundary, nothing of the check.
ASK = "__labkit_answer = __import__('labkit.checks._boundary', fromlist=['_']).serve_in_kernel({!r})"


HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")  # nbgrader's markers


class KernelGone(RuntimeError):
    """The kernel died or stopped answering: no further question can be asked."""


class KernelLink:
    """Asks the kernel questions on a client of its own; reads only the reply's data."""

    def __init__(self, manager, timeout: float) -> None:
        self.manager, self.timeout = manager, timeout
        self.client = manager.blocking_client()
        self.client.start_channels()
        self.gone: str | None = None  # why no question can be asked any more

    def ask(self, question: str) -> str:
        if self.gone is None and not self._alive():
            self.gone = "the kernel died"
        if self.gone is not None:
            raise KernelGone(self.gone)
        msg_id = self.client.execute(ASK.format(question), silent=True, store_history=False,
                                     user_expressions={"answer": "__labkit_answer"},
                                     allow_stdin=False)
        reply = self._reply_to(msg_id)
        content = reply["content"]
        if content.get("status") != "ok":
            raise LearnerError(str(content.get("ename", "an error"))[:60],
                               str(content.get("evalue", ""))[:300])
        answer = content.get("user_expressions", {}).get("answer", {})
        text = answer.get("data", {}).get("text/plain", "") if answer.get("status") == "ok" else ""
        if len(text) > 2 * MAX_ANSWER_BYTES:
            raise LearnerError("an answer too large to check", "")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            value = None
        if type(value) is not str:
            raise LearnerError("an unreadable answer", "")
        return value

    def _reply_to(self, msg_id: str) -> dict:
        """The reply to `msg_id`, within the timeout (replies to anything else are skipped);
        past it, the kernel is interrupted once, and given 10 s more to say it stopped."""
        deadline = time.monotonic() + self.timeout
        interrupted = False
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise queue.Empty
                reply = self.client.get_shell_msg(timeout=left)
            except queue.Empty:
                if not self._alive():
                    self.gone = "the kernel died"
                elif interrupted:
                    self.gone = "the kernel did not stop after an interrupt"
                if self.gone is not None:
                    raise KernelGone(self.gone) from None
                run_sync(self.manager.interrupt_kernel)()  # an endless loop: stop it, say so
                interrupted, deadline = True, time.monotonic() + 10
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                if interrupted:
                    raise LearnerError("a call that never returned",
                                       f"stopped after {self.timeout:g} s")
                return reply

    def _alive(self) -> bool:
        return run_sync(self.manager.is_alive)()

    def close(self) -> None:
        self.client.stop_channels()


def unbound_names(source: str) -> list[str]:
    """Names a cell uses but neither defines nor imports: the learner's, found in the kernel."""
    tree = ast.parse(source)
    used, bound = set(), set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return sorted(used - bound)


def hidden_tests(full: str, visible: str) -> str:
    """What the second round runs of a check cell: its imports, then its hidden tests (its
    visible cases passed in the first)."""
    imports = [ast.unparse(node) for node in ast.parse(visible).body
               if isinstance(node, (ast.Import, ast.ImportFrom))]
    hidden = full.split(HIDDEN_TESTS[0], 1)[1].split(HIDDEN_TESTS[1], 1)[0]
    return "\n".join(imports) + "\n" + hidden


def judge(source: str, link: KernelLink, hidden: bool) -> dict:
    """Run a check cell here, its learner's names asked through `link`: the verdict."""
    namespace = {name: Remote(link, {"name": name}, name) for name in unbound_names(source)}
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # this process's stdout is the report
            exec(compile(source, "<check>", "exec"), namespace)
    except CheckFailed as failed:
        if hidden:
            return {"passed": False, "feedback": hidden_feedback(failed.rule, failed.raised)}
        return {"passed": False, "feedback": str(failed), "case": failed.case}
    except KernelGone as gone:
        return {"passed": False, "feedback": f"not run: {gone} (your code stopped its own "
                                             "process, or used more memory than allowed)"}
    except LearnerError as error:  # the check let it through: say it, in the check's stead
        said = error.common_type if hidden else str(error)
        return {"passed": False, "feedback": f"your code gave {said}"}
    except Exception as error:  # the check itself could not run: the instructor must hear
        said = "" if hidden else f" ({type(error).__name__})"
        return {"passed": False, "feedback": f"the check could not run{said}",
                "check_error": f"{type(error).__name__}: {error}"[:300]}
    return {"passed": True, "feedback": "passed"}


def _error_of(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
    return None


def run(job: dict, manager, emit: Callable[[dict], None]) -> None:
    """Run the job's notebook on the kernel `manager` has started and judge its checks here,
    emitting each cell's outcome and each verdict as soon as it is known: what was decided
    before a hang or a crash still counts."""
    notebook = nbformat.from_dict(job["notebook"])
    checks = {int(index): sources for index, sources in job["checks"].items()}
    for index in checks:  # the kernel never sees a check, hidden tests least of all
        notebook.cells[index].source = ""
    # coalesce_streams: one print can arrive as several stream messages. A cell that will not
    # stop even when interrupted runs into the notebook's wall clock; what was emitted stands.
    client = NotebookClient(notebook, km=manager, timeout=job["cell_timeout"],
                            interrupt_on_timeout=True, allow_errors=True, record_timing=False,
                            coalesce_streams=True)
    passed_first_round = []
    with client.setup_kernel():
        link = KernelLink(client.km, job["cell_timeout"])
        try:
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                if index in checks:
                    verdict = judge(checks[index]["visible"], link, hidden=False)
                    emit({"check": index, **verdict})
                    if verdict["passed"]:
                        passed_first_round.append(index)
                    continue
                try:
                    client.execute_cell(cell, index)
                except DeadKernelError:
                    emit({"kernel_died_at": index})
                    break
                error = _error_of(cell)
                status = "ok" if error is None else (
                    "timeout" if error.startswith("KeyboardInterrupt") else "error")
                emit({"cell": index, "status": status, "error": error})
            for index in passed_first_round:  # only now, the hidden tests
                sources = checks[index]
                if sources["full"] != sources["visible"]:
                    hidden = hidden_tests(sources["full"], sources["visible"])
                    emit({"check": index, **judge(hidden, link, hidden=True)})
        finally:
            link.close()
