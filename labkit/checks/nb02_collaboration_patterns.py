"""Checks for notebook 02, collaboration patterns: de-duplication, a stage validator, a deadline."""
from __future__ import annotations

import asyncio

from ..patterns import aggregate, collaboration
from ._core import CheckFailed, passed, run_async


# Exercise 02.1: merge duplicate findings -----------------------------------------------

def _f(file, line, category, agent="a"):
    return aggregate.Finding(file, line, category, f"problem at {file}:{line}", agent)


# (findings, the (file, line, category) of the findings that must be kept, in order)
DEDUPE_CASES = [
    ([_f("store.py", 68, "security", "sec"), _f("store.py", 69, "security", "style")],
     [("store.py", 68, "security")]),
    ([_f("store.py", 68, "security"), _f("store.py", 68, "style")],
     [("store.py", 68, "security"), ("store.py", 68, "style")]),
    ([_f("store.py", 10, "style"), _f("search.py", 10, "style")],
     [("store.py", 10, "style"), ("search.py", 10, "style")]),
    ([_f("report.py", 31, "performance"), _f("report.py", 40, "performance"),
      _f("report.py", 29, "performance", "b")],
     [("report.py", 31, "performance"), ("report.py", 40, "performance")]),
    ([], []),
]


def check_dedupe(dedupe, extra_cases: list = ()) -> None:
    """dedupe(findings) keeps each finding unless an earlier kept one is the same issue: same
    file, same category, lines at most 2 apart."""
    cases = DEDUPE_CASES + list(extra_cases)
    for findings, kept in cases:
        got = dedupe(list(findings))
        if not isinstance(got, list) or not all(isinstance(f, aggregate.Finding) for f in got):
            raise CheckFailed(f"dedupe returned {got!r}: return a list of the Finding objects kept.")
        places = [(f.file, f.line, f.category) for f in got]
        if places != kept:
            given = [(f.file, f.line, f.category) for f in findings]
            raise CheckFailed(
                f"dedupe of findings at {given} (file, line, category) kept {places}; expected "
                f"{kept}. Keep a finding unless an earlier KEPT finding has the same file and "
                "category and a line at most 2 away; keep the order they came in.")
    passed("dedupe", len(cases))


# Exercise 02.2: a chain that stops on an invalid stage output -------------------------

# (stage, output, valid?)
STAGE_CASES = [
    ("requirements", {"requirements": ["Lower-case the title"]}, True),
    ("requirements", {"requirements": []}, False),
    ("design", {"function": "normalise_title", "steps": ["lower", "split", "join"]}, True),
    ("design", {"function": "normalise title", "steps": ["lower"]}, False),
    ("code", {"code": "def normalise_title(title):\n    return title.lower()\n"}, True),
    ("code", {"code": "def normalise_title(title)\n    return title.lower()\n"}, False),
    ("code", {"code": "normalise_title = str.lower\n"}, False),
]


def check_stage_validator(validate_stage, extra_cases: list = ()) -> None:
    """validate_stage(stage, output) returns None for a valid output, else a problem (text);
    and with it, labkit.patterns.collaboration.sequential stops at the first invalid stage."""
    cases = STAGE_CASES + list(extra_cases)
    for stage, output, valid in cases:
        try:
            problem = validate_stage(stage, output)
        except Exception as error:
            raise CheckFailed(f"validate_stage({stage!r}, {output!r}) raised "
                              f"{type(error).__name__}: {error}. Return a problem (text) for a bad "
                              "output instead: the chain must report it, not crash.") from None
        if valid and problem is not None:
            raise CheckFailed(f"validate_stage({stage!r}, {output!r}) returned {problem!r}, but "
                              "this output is valid: return None.")
        if not valid and not (isinstance(problem, str) and problem):
            raise CheckFailed(f"validate_stage({stage!r}, {output!r}) returned {problem!r}, but "
                              "this output is invalid: return a short text saying what is wrong.")

    calls = []

    def stage(name, output):
        async def run(given):
            calls.append(name)
            return output
        return name, run

    chain = run_async(collaboration.sequential(
        [stage("requirements", {"requirements": ["Lower-case"]}),
         stage("design", {"function": "normalise title", "steps": []}),
         stage("code", {"code": "def f(): pass"})], "a user story", validate=validate_stage))
    if calls != ["requirements", "design"] or chain.outcomes[-1].status != "invalid":
        raise CheckFailed(f"With your validator, the chain ran {calls} and ended "
                          f"{chain.outcomes[-1].status!r}; it should stop after 'design', whose "
                          "function name is not an identifier.")
    passed("validate_stage", len(cases) + 1)


# Exercise 02.3: a fan-out with a deadline -----------------------------------------------

# (steps as {name: (seconds it takes, does it raise?)}, deadline in seconds)
GATHER_CASES = [
    ({"style": (0.01, False), "security": (0.05, False), "tests": (5.0, False),
      "docs": (0.02, True)}, 0.5),
]


def check_gather_until(gather_until, extra_cases: list = ()) -> None:
    """await gather_until(steps, deadline) -> (results of the steps done in time, sorted names of
    the others), cancelling the late ones."""
    cases = GATHER_CASES + list(extra_cases)
    for spec, deadline in cases:
        run_async(_gather_case(gather_until, spec, deadline))
    passed("gather_until", len(cases))


async def _gather_case(gather_until, spec: dict, deadline: float) -> None:
    cancelled = []

    def sleeper(name, seconds, fail):
        async def step():
            try:
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:
                cancelled.append(name)
                raise
            if fail:
                raise RuntimeError(f"{name} broke")
            return f"{name} done"
        return step

    steps = {name: sleeper(name, seconds, fail) for name, (seconds, fail) in spec.items()}
    shown = {name: f"{seconds} s" + (", raises" if fail else "") for name, (seconds, fail) in spec.items()}
    bound = deadline + 3.5
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        got = await asyncio.wait_for(gather_until(steps, deadline), timeout=bound)
    except asyncio.TimeoutError:
        raise CheckFailed(f"gather_until(steps {shown}, deadline={deadline}) was still running "
                          f"after {bound:g} s: it must return at the deadline, not wait for the "
                          "slow step.") from None
    waited = loop.time() - started
    await asyncio.sleep(0)  # let cancellations land
    if not (isinstance(got, tuple) and len(got) == 2):
        raise CheckFailed(f"gather_until returned {got!r}: return (results, missing).")
    results, missing = got
    expected = {name: f"{name} done" for name, (seconds, fail) in spec.items()
                if seconds < deadline and not fail}
    if results != expected:
        raise CheckFailed(f"With steps {shown} and deadline {deadline}, results were "
                          f"{results!r}; expected {expected!r}: only the steps that finished in "
                          "time, and without an error.")
    late_or_failed = sorted(set(spec) - set(expected))
    if list(missing) != late_or_failed:
        raise CheckFailed(f"With steps {shown} and deadline {deadline}, missing was {missing!r}; "
                          f"expected {late_or_failed}: the steps that raised or were still running "
                          "at the deadline, sorted.")
    late = sorted(name for name, (seconds, _) in spec.items() if seconds >= deadline)
    if sorted(cancelled) != late:
        raise CheckFailed(f"With steps {shown} and deadline {deadline}, the steps cancelled were "
                          f"{sorted(cancelled)}; expected {late}: cancel the steps still running "
                          "at the deadline (task.cancel()), and only those.")
    if waited > deadline + 2.5:
        raise CheckFailed(f"gather_until took {waited:.1f} s with a {deadline} s deadline.")
