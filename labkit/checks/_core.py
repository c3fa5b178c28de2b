"""What every check shares: the failure it raises, the line it prints, and how it runs async code.

A check calls the learner's function on cases (behaviour, never source text). Its signature
is always `check_<name>(learner_function, extra_cases=())`: the graded cell calls it with the
visible cases, the hidden tests call it again with extra ones. A check is an ordinary
function, even when the learner's function is async: it runs the coroutine to the end itself.
"""
from __future__ import annotations

import concurrent.futures
from typing import Any, Coroutine

from ..llm import model_loop
from ..llm.clock import ModelClock


class CheckFailed(AssertionError):
    """The learner's code gave a wrong answer; the message says which case and why."""


def passed(name: str, cases: int) -> None:
    print(f"✓ {name}: all {cases} cases right")


def run_async(coroutine: Coroutine) -> Any:
    """Run a coroutine to its end from ordinary code, even where an event loop is running
    already (a notebook's kernel): in a thread of its own, on a model-time loop with a virtual
    clock of its own, so a case's sleeps and deadlines take no wall time and time the same
    on every run."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(model_loop.run, coroutine, clock=ModelClock(virtual=True)).result()
