"""Checks for notebook 02, collaboration patterns: de-duplication, a stage validator, a deadline,
the best aggregation within a budget, which generated tests caught a bug."""
from __future__ import annotations

from ..patterns import aggregate, collaboration
from ._choice import check_choice
from ._core import (CheckFailed, LearnerError, answer_to, ask, ask_fully, cases, fail, passed, probe,
                    run_async, type_name)

# Exercise 02.1: merge duplicate findings -----------------------------------------------

# (findings as (file, line, category, agent), the (file, line, category) kept, in order)
DEDUPE_CASES = [
    ([("store.py", 68, "security", "sec"), ("store.py", 69, "security", "style")],
     [("store.py", 68, "security")]),
    ([("store.py", 68, "security", "a"), ("store.py", 68, "style", "a")],
     [("store.py", 68, "security"), ("store.py", 68, "style")]),
    ([("store.py", 10, "style", "a"), ("search.py", 10, "style", "a")],
     [("store.py", 10, "style"), ("search.py", 10, "style")]),
    ([("report.py", 31, "performance", "a"), ("report.py", 40, "performance", "a"),
      ("report.py", 29, "performance", "b")],
     [("report.py", 31, "performance"), ("report.py", 40, "performance")]),
    ([], []),
]
DEDUPE_RULE = ("a finding is kept unless an earlier kept one has the same file and category "
               "and a line at most 2 away; the kept ones stay in the order they came")


def _finding(file, line, category, agent) -> aggregate.Finding:
    return aggregate.Finding(file, line, category, f"problem at {file}:{line}", agent)


def check_dedupe(dedupe, extra_cases: list = ()) -> None:
    """dedupe(findings) keeps each finding unless an earlier kept one is the same issue: same
    file, same category, lines at most 2 apart."""
    all_cases = cases(DEDUPE_CASES, extra_cases, rule=DEDUPE_RULE)
    for case in all_cases:
        given, kept = case.inputs
        findings = [_finding(*spec) for spec in given]
        got = answer_to(case, DEDUPE_RULE, dedupe, findings)
        if type(got) is not list or any(type(f) is not aggregate.Finding for f in got):
            fail(case, "the answer is a list of the Finding objects kept",
                 f"dedupe returned {got!r} (a {type_name(got)}): return a list of the Finding "
                 "objects kept.")
        places = [(f.file, f.line, f.category) for f in got]
        if places != [tuple(place) for place in kept] or any(f not in findings for f in got):
            fail(case, DEDUPE_RULE,
                 f"dedupe of findings at {[spec[:3] for spec in given]} (file, line, category) "
                 f"kept {places}; expected {kept}. Keep a finding unless an earlier KEPT finding "
                 "has the same file and category and a line at most 2 away; keep the order "
                 "they came in.")
    passed("dedupe", len(all_cases))


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
STAGE_RULE = ("a valid output gets None and an invalid one a short problem (a str), never "
              "an exception; sequential stops at the first stage the validator rejects")


def check_stage_validator(validate_stage, extra_cases: list = ()) -> None:
    """validate_stage(stage, output) returns None for a valid output, else a problem (text);
    and with it, labkit.patterns.collaboration.sequential stops at the first invalid stage."""
    all_cases = cases(STAGE_CASES, extra_cases, rule=STAGE_RULE)
    for case in all_cases:
        stage, output, valid = case.inputs
        rule = (f"a valid {stage!r} output gets None" if valid else
                f"an invalid {stage!r} output gets a problem: a short, non-empty str")
        try:
            problem = ask(validate_stage, stage, output)
        except LearnerError as error:
            fail(case, "the validator never raises: it returns a problem instead",
                 f"validate_stage({stage!r}, {output!r}) raised {error}. Return a problem (text) "
                 "for a bad output instead: the chain must report it, not crash.", error)
        if valid and problem is not None:
            fail(case, rule, f"validate_stage({stage!r}, {output!r}) returned {problem!r}, but "
                             "this output is valid: return None.")
        if not valid and not (type(problem) is str and problem):
            fail(case, rule, f"validate_stage({stage!r}, {output!r}) returned {problem!r}, but "
                             "this output is invalid: return a short text saying what is wrong.")

    if extra_cases:  # the chain below ran with the visible cases already
        passed("validate_stage", len(all_cases))
        return
    # The validator at work: the chain runs here, and asks the learner's function at each stage.
    calls = []

    def stage(name, output):
        async def run(given):
            calls.append(name)
            return output
        return name, run

    rule = "sequential stops at the first stage the validator rejects"
    try:
        chain = run_async(collaboration.sequential(
            [stage("requirements", {"requirements": ["Lower-case"]}),
             stage("design", {"function": "normalise title", "steps": []}),
             stage("code", {"code": "def f(): pass"})], "a user story",
            validate=lambda name, output: ask(validate_stage, name, output)))
    except LearnerError as error:
        raise CheckFailed(f"In a chain, your validator raised {error}.", rule=rule) from None
    if calls != ["requirements", "design"] or chain.outcomes[-1].status != "invalid":
        raise CheckFailed(f"With your validator, the chain ran {calls} and ended "
                          f"{chain.outcomes[-1].status!r}; it should stop after 'design', whose "
                          "function name is not an identifier.", rule=rule)
    passed("validate_stage", len(all_cases) + 1)


# Exercise 02.3: a fan-out with a deadline -----------------------------------------------

# (steps as {name: (seconds it takes, does it raise?)}, deadline in seconds)
GATHER_CASES = [
    ({"style": (0.01, False), "security": (0.05, False), "tests": (5.0, False),
      "docs": (0.02, True)}, 0.5),
]
GATHER_RULE = ("the steps finished in time and without an error are the results; the others "
               "are missing, sorted; the late ones are cancelled, and the call returns at the "
               "deadline")


def check_gather_until(gather_until, extra_cases: list = ()) -> None:
    """gather_until(steps, deadline) -> (results of the steps done in time, sorted names of
    the others), cancelling the late ones. Its steps are the check's own async functions."""
    all_cases = cases(GATHER_CASES, extra_cases, rule=GATHER_RULE)
    for case in all_cases:
        spec, deadline = case.inputs
        probes = [probe(name, seconds, fails) for name, (seconds, fails) in spec.items()]
        shown = {name: f"{seconds} s" + (", raises" if fails else "")
                 for name, (seconds, fails) in spec.items()}
        try:
            got, seconds, happened = ask_fully(gather_until, {p.name: p for p in probes}, deadline)
        except LearnerError as error:
            fail(case, GATHER_RULE, f"gather_until(steps {shown}, deadline={deadline}) raised "
                                    f"{error}.", error)
        if not (type(got) is tuple and len(got) == 2):
            fail(case, "the answer is a tuple (results, missing)",
                 f"gather_until returned {got!r} (a {type_name(got)}): return (results, missing).")
        if seconds > deadline + 0.5:
            fail(case, GATHER_RULE, f"With steps {shown}, gather_until took {seconds:.2f} s for "
                                    f"a {deadline} s deadline: return at the deadline, without "
                                    "waiting for the slow steps.")
        results, missing = got
        expected = {name: f"{name} done" for name, (took, fails) in spec.items()
                    if took < deadline and not fails}
        if results != expected:
            fail(case, GATHER_RULE, f"With steps {shown} and deadline {deadline}, results were "
                                    f"{results!r}; expected {expected!r}: only the steps that "
                                    "finished in time, and without an error.")
        late_or_failed = sorted(set(spec) - set(expected))
        if missing != late_or_failed:
            fail(case, GATHER_RULE, f"With steps {shown} and deadline {deadline}, missing was "
                                    f"{missing!r}; expected {late_or_failed}: the steps that "
                                    "raised or were still running at the deadline, sorted.")
        cancelled = sorted(name for name, events in happened.items() if "cancelled" in events)
        late = sorted(name for name, (took, _) in spec.items() if took >= deadline)
        if cancelled != late:
            fail(case, GATHER_RULE, f"With steps {shown} and deadline {deadline}, the steps "
                                    f"cancelled were {cancelled}; expected {late}: cancel the "
                                    "steps still running at the deadline (task.cancel()), and "
                                    "only those.")
    passed("gather_until", len(all_cases))


# Exercise 02.4: the aggregation that scores best within a token budget ------------------

# (strategies as (name, F1, tokens), the token budget, the choice)
AGGREGATION_CASES = [
    ([("tool alone", 0.55, 0), ("union", 0.3, 5000), ("verifier", 0.6, 5000)], 6000, "verifier"),
    ([("tool alone", 0.55, 0), ("union", 0.3, 5000), ("verifier", 0.6, 5000)], 1000, "tool alone"),
    ([("tool alone", 0.55, 0), ("union", 0.3, 5000), ("verifier", 0.6, 5000)], 5000, "verifier"),
    ([("union", 0.3, 5000)], 100, None),
    ([("a", 0.5, 300), ("b", 0.5, 200)], 1000, "b"),
    ([("b", 0.5, 200), ("a", 0.5, 200)], 1000, "a"),
    ([], 1000, None),
]
AGGREGATION_RULE = ("the strategy with the highest F1 among those within the token budget "
                    "(tokens <= budget) wins; ties go to fewer tokens, then to the name that "
                    "sorts first; None when none fits the budget")


def check_pick_aggregation(pick_aggregation, extra_cases: list = ()) -> None:
    """pick_aggregation(strategies, budget): the name of the best-scoring strategy that fits."""
    check_choice(pick_aggregation, AGGREGATION_CASES, extra_cases, score="f1",
                 name="pick_aggregation", rule=AGGREGATION_RULE,
                 explain="Keep the strategies whose tokens are at most the budget; of those, take "
                         "the highest F1; on a tie the fewer tokens, then the name that sorts "
                         "first; None if none fits.")


# Exercise 02.5: which generated tests caught the bug ----------------------------------------

# (runs as (generator, outcome on the fixed code, outcome on the buggy code), the counts)
TESTS_CASES = [
    ([("a", "passed", "failed")], {"a": 1}),
    ([("a", "passed", "passed")], {"a": 0}),
    ([("a", "passed", "error")], {"a": 0}),
    ([("a", "failed", "failed")], {"a": 0}),
    ([("a", "error", "error"), ("b", "passed", "failed"), ("a", "passed", "failed")], {"a": 1, "b": 1}),
    ([("a", "passed", "timed out"), ("b", "timed out", "failed")], {"a": 0, "b": 0}),
    ([], {}),
]
TESTS_RULE = ("a test caught the bug when it passed on the fixed code and failed (not errored, "
              "not timed out) on the buggy code; every generator in the runs gets its count, "
              "0 included")


def check_useful_tests(useful_tests, extra_cases: list = ()) -> None:
    """useful_tests(runs) counts, per generator, the tests that caught the bug."""
    all_cases = cases([([{"generator": g, "fixed": f, "buggy": b} for g, f, b in runs], counts)
                       for runs, counts in TESTS_CASES], extra_cases, rule=TESTS_RULE)
    for case in all_cases:
        runs, counts = case.inputs
        got = answer_to(case, TESTS_RULE, useful_tests, [dict(run) for run in runs])
        if type(got) is not dict or any(type(n) is not int for n in got.values()):
            fail(case, "the answer is a dict {generator: count}",
                 f"useful_tests returned {got!r} (a {type_name(got)}): return a plain dict "
                 "mapping each generator to a number (an int).")
        if got != counts:
            fail(case, TESTS_RULE, f"useful_tests({runs!r}) returned {got!r}; expected {counts!r}. "
                                   "Count a test only if it passed on the fixed code and failed on "
                                   "the buggy one, and list every generator, 0 included.")
    passed("useful_tests", len(all_cases))
