"""Exercise checks: run a learner's code on cases and say what to fix when it is wrong.

Each check calls the learner's function (behaviour, never source text), prints a line
when all is right, and raises CheckFailed with feedback a learner can act on otherwise.
The graded cells of a notebook call these. Hidden tests, in the instructor's notebook only,
call them again with `extra_cases` that no student has seen.
"""
from __future__ import annotations

import asyncio
import itertools
import math

from . import aggregate, bus, coordination, patterns, usage


class CheckFailed(AssertionError):
    """The learner's code gave a wrong answer; the message says which case and why."""


def _passed(name: str, cases: int) -> None:
    print(f"✓ {name}: all {cases} cases right")


# Exercise 00.1: validate a triage answer ----------------------------------------------

TRIAGE_FIELDS = ("severity", "component", "summary")
VALID_TRIAGE = {"severity": "high", "component": "auth", "summary": "Logged out after reset"}


# (answer, the field whose problem must be named, or None when the answer is valid)
TRIAGE_CASES = [
    (VALID_TRIAGE, None),
    ({"severity": "high", "component": "auth"}, "summary"),
    ({**VALID_TRIAGE, "severity": "urgent"}, "severity"),
    ({**VALID_TRIAGE, "summary": "x" * 81}, "summary"),
]


def check_triage_validator(check_triage, extra_cases: list = ()) -> None:
    """check_triage(answer) must return [] for a valid answer, else problems naming the field."""
    cases = TRIAGE_CASES + list(extra_cases)
    for answer, field in cases:
        problems = check_triage(dict(answer))
        if not isinstance(problems, list):
            raise CheckFailed(f"check_triage({answer!r}) returned {problems!r}: return a list "
                              "of problems (strings), [] when the answer is valid.")
        if field is None and problems:
            raise CheckFailed(f"check_triage({answer!r}) returned {problems!r}, but this answer "
                              "is valid: it should return [].")
        if field is not None and not any(field in str(p) for p in problems):
            raise CheckFailed(f"check_triage({answer!r}) returned {problems!r}: the {field!r} "
                              f"field is wrong here, and a problem should name it.")
    _passed("check_triage", len(cases))


# Exercise 00.2: what would these calls cost on another model? ---------------------------

def _ledger(calls: list[tuple[int, int]]) -> usage.Ledger:
    ledger = usage.Ledger()
    for prompt, completion in calls:
        ledger.add(usage.Usage("check", "agent", "SmolLM2-135M-Instruct", prompt, completion, 0.1, 0.0))
    return ledger


# (calls as (prompt_tokens, completion_tokens), model)
COST_CASES = [
    ([(1_000_000, 0)], "gpt-4o-mini"),
    ([(1000, 2000), (300, 50)], "gpt-4o"),
]


def check_cost_on(cost_on, extra_cases: list = ()) -> None:
    """cost_on(ledger, model) must price every call of the ledger at that model's PRICES."""
    cases = [(_ledger(calls), model) for calls, model in COST_CASES + list(extra_cases)]
    for ledger, model in cases:
        expected = sum(usage.cost(model, u.prompt_tokens, u.completion_tokens)
                       for u in ledger.records)
        got = cost_on(ledger, model)
        if not isinstance(got, (int, float)) or not math.isclose(got, expected, abs_tol=1e-12):
            calls = [(u.prompt_tokens, u.completion_tokens) for u in ledger.records]
            raise CheckFailed(
                f"cost_on(<ledger with calls {calls} as (prompt, completion) tokens>, {model!r}) "
                f"returned {got!r}; expected {expected!r}. Price each call with "
                "labkit.usage.cost(model, prompt_tokens, completion_tokens) and add them up."
            )
    _passed("cost_on", len(cases))


# Exercise 01.1: a subscription that only takes urgent bugs -------------------------------

SEVERITIES = ("low", "medium", "high", "critical")


def _bug(severity) -> bus.Message:
    content = {"title": "A bug"} if severity is None else {"title": "A bug", "severity": severity}
    return bus.Message("intake", "bug.reported", content)


# (level, the message content's severity (None: no severity field), should it be delivered?)
FILTER_CASES = [
    ("high", "critical", True), ("high", "high", True), ("high", "medium", False),
    ("high", "low", False), ("low", "low", True), ("medium", "critical", True),
    ("high", None, False), ("high", "urgent", False),
]


def check_severity_filter(severity_at_least, extra_cases: list = ()) -> None:
    """severity_at_least(level) must make an `accept` filter passing messages at least that severe."""
    cases = FILTER_CASES + list(extra_cases)
    for level, severity, delivered in cases:
        accept = severity_at_least(level)
        if not callable(accept):
            raise CheckFailed(f"severity_at_least({level!r}) returned {accept!r}: return a function "
                              "that takes a Message and returns True or False.")
        subscription = bus.Subscription("bug.*", print, "learner", accept=accept)
        message = _bug(severity)
        try:
            wanted = subscription.wants(message)
        except Exception as error:
            raise CheckFailed(
                f"The filter from severity_at_least({level!r}) raised {type(error).__name__}: "
                f"{error} on a message with content {message.content!r}. A message with no "
                "severity, or one it does not know, should be skipped (False), not crash.") from None
        if wanted != delivered:
            raise CheckFailed(
                f"With severity_at_least({level!r}), a message with content {message.content!r} "
                f"was {'delivered' if wanted else 'skipped'}; it should be "
                f"{'delivered' if delivered else 'skipped'}. Severities, least to most: "
                f"{', '.join(SEVERITIES)}.")
    _passed("severity_at_least", len(cases))


# Exercise 01.2: award a contract within a budget -----------------------------------------

# (bids as (agent, cost, confidence), budget, the winning agent or None)
BUDGET_CASES = [
    ([("ana", 3.0, 0.9), ("bo", 1.0, 0.6), ("cy", 2.0, 0.8)], 2.5, "cy"),
    ([("ana", 3.0, 0.9), ("bo", 1.0, 0.6)], 3.0, "ana"),
    ([("ana", 2.0, 0.7), ("bo", 1.0, 0.7)], 5.0, "bo"),
    ([("cy", 1.0, 0.7), ("bo", 1.0, 0.7)], 5.0, "bo"),
    ([("ana", 9.0, 0.9)], 2.0, None),
    ([], 2.0, None),
]


def check_budget_award(choose_within_budget, extra_cases: list = ()) -> None:
    """choose_within_budget(bids, budget): the most confident bid within budget; ties go to the
    lower cost, then to the name that sorts first; None when no bid fits."""
    cases = BUDGET_CASES + list(extra_cases)
    for bids, budget, winner in cases:
        offers = [coordination.Bid(*bid) for bid in bids]
        for order in itertools.permutations(offers):
            got = choose_within_budget(list(order), budget)
            name = got.agent if isinstance(got, coordination.Bid) else got
            if got is not None and not isinstance(got, coordination.Bid):
                raise CheckFailed(f"choose_within_budget returned {got!r}: return the winning Bid "
                                  "itself (or None when no bid fits the budget).")
            if name != winner:
                shown = [(b.agent, b.cost, b.confidence) for b in order]
                raise CheckFailed(
                    f"Bids {shown} as (agent, cost, confidence) with budget {budget}: you chose "
                    f"{name!r}, the winner is {winner!r}. Keep only bids that cost at most the "
                    "budget; take the most confident; on a tie the lower cost, then the name that "
                    "sorts first (so the order bids arrive in never matters); None if none fit.")
    _passed("choose_within_budget", len(cases))


# Exercise 01.3: when should two reviewing peers stop? -----------------------------------

# (history as [(draft, approved)], max_rounds, the expected reason)
STOP_CASES = [
    ([("v1", False)], 3, None),
    ([("v1", False), ("v2", True)], 3, "approved"),
    ([("v1", False), ("v2", False), ("v1", False)], 5, "repeated draft"),
    ([("v1", False), ("v2", False), ("v3", False)], 3, "round limit"),
    ([("v1", False), ("v2", False), ("v3", True)], 3, "approved"),
    ([("v1", False), ("v1", False)], 2, "repeated draft"),
    ([], 3, None),
]


def check_stop_reason(stop_reason, extra_cases: list = ()) -> None:
    """stop_reason(history, max_rounds) names why a critique loop must stop, or returns None."""
    cases = STOP_CASES + list(extra_cases)
    for history, max_rounds, expected in cases:
        got = stop_reason(list(history), max_rounds)
        if got != expected:
            why = {None: "the loop should go on: return None",
                   "approved": "the last draft was approved",
                   "repeated draft": "the last draft repeats an earlier one, so the peers are "
                                     "going round in circles",
                   "round limit": "max_rounds rounds have been played"}[expected]
            raise CheckFailed(
                f"stop_reason({history!r}, max_rounds={max_rounds}) returned {got!r}, expected "
                f"{expected!r}: {why}. Check in this order: approved, repeated draft, round limit.")
    _passed("stop_reason", len(cases))


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
    _passed("dedupe", len(cases))


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


async def check_stage_validator(validate_stage, extra_cases: list = ()) -> None:
    """validate_stage(stage, output) returns None for a valid output, else a problem (text);
    and with it, labkit.patterns.sequential stops at the first invalid stage.
    Await this check: `await check_stage_validator(...)`."""
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

    chain = await patterns.sequential(
        [stage("requirements", {"requirements": ["Lower-case"]}),
         stage("design", {"function": "normalise title", "steps": []}),
         stage("code", {"code": "def f(): pass"})], "a user story", validate=validate_stage)
    if calls != ["requirements", "design"] or chain.outcomes[-1].status != "invalid":
        raise CheckFailed(f"With your validator, the chain ran {calls} and ended "
                          f"{chain.outcomes[-1].status!r}; it should stop after 'design', whose "
                          "function name is not an identifier.")
    _passed("validate_stage", len(cases) + 1)


# Exercise 02.3: a fan-out with a deadline -----------------------------------------------

async def check_gather_until(gather_until) -> None:
    """await gather_until(steps, deadline) -> (results of the steps done in time, sorted names of
    the others), cancelling the late ones. Await this check: `await check_gather_until(...)`."""
    cancelled = []

    def sleeper(name, seconds, fail=False):
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

    steps = {"style": sleeper("style", 0.01), "security": sleeper("security", 0.05),
             "tests": sleeper("tests", 5.0), "docs": sleeper("docs", 0.02, fail=True)}
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        got = await asyncio.wait_for(gather_until(steps, 0.5), timeout=4.0)
    except asyncio.TimeoutError:
        raise CheckFailed("gather_until(steps, deadline=0.5) was still running after 4 s: it must "
                          "return at the deadline, not wait for the slow step.") from None
    waited = loop.time() - started
    await asyncio.sleep(0)  # let cancellations land
    if not (isinstance(got, tuple) and len(got) == 2):
        raise CheckFailed(f"gather_until returned {got!r}: return (results, missing).")
    results, missing = got
    expected = {"style": "style done", "security": "security done"}
    if results != expected:
        raise CheckFailed(f"results were {results!r}; expected {expected!r}: only the steps that "
                          "finished in time, and without an error.")
    if list(missing) != ["docs", "tests"]:
        raise CheckFailed(f"missing was {missing!r}; expected ['docs', 'tests']: the step that "
                          "raised and the one still running at the deadline, sorted.")
    if "tests" not in cancelled:
        raise CheckFailed("The slow step was left running after the deadline: cancel the steps "
                          "that did not finish (task.cancel()).")
    if waited > 3.0:
        raise CheckFailed(f"gather_until took {waited:.1f} s with a 0.5 s deadline.")
    _passed("gather_until", 1)
