"""Checks for notebook 01, multi-agent systems: a bus filter, a budget award, a stop rule,
the cheapest design good enough, a work queue that runs each task once."""
from __future__ import annotations

import itertools

from ..patterns import messaging, routing
from ._choice import check_choice
from ._core import (LearnerError, Remote, answer_to, ask, ask_fully, cases, fail, passed, probe,
                    type_name)

# Exercise 01.1: a subscription that only takes urgent bugs -------------------------------

SEVERITIES = ("low", "medium", "high", "critical")


def _bug(severity) -> messaging.Message:
    content = {"title": "A bug"} if severity is None else {"title": "A bug", "severity": severity}
    return messaging.Message("intake", "bug.reported", content, id=1)


# (level, the message content's severity (None: no severity field), should it be delivered?)
FILTER_CASES = [
    ("high", "critical", True), ("high", "high", True), ("high", "medium", False),
    ("high", "low", False), ("low", "low", True), ("medium", "critical", True),
    ("high", None, False), ("high", "urgent", False),
]
FILTER_RULE = ("severity_at_least(level) returns a filter that delivers (True) a message at "
               "least that severe and skips (False) any other, never raising")


def check_severity_filter(severity_at_least, extra_cases: list = ()) -> None:
    """severity_at_least(level) must make an `accept` filter passing messages at least that severe."""
    all_cases = cases(FILTER_CASES, extra_cases, rule=FILTER_RULE)
    for case in all_cases:
        level, severity, delivered = case.inputs
        rule = ("a message at least as severe as the level is delivered, any other skipped; "
                "one with no severity, or an unknown one, is skipped without raising")
        accept = answer_to(case, "severity_at_least(level) returns a filter function",
                           severity_at_least, level)
        if not isinstance(accept, Remote):
            fail(case, "severity_at_least(level) returns a filter function",
                 f"severity_at_least({level!r}) returned {accept!r}: return a function that "
                 "takes a Message and returns True or False.")
        message = _bug(severity)
        # The filter at work on a real subscription, as the bus uses it.
        subscription = messaging.Subscription("bug.*", print, "learner",
                                              accept=lambda m: ask(accept, m))
        try:
            wanted = subscription.wants(message)
        except LearnerError as error:
            fail(case, rule, f"The filter from severity_at_least({level!r}) raised {error} on a "
                 f"message with content {message.content!r}. A message with no severity, or "
                 "one it does not know, should be skipped (False), not crash.", error)
        said = ask(accept, message)
        if type(said) is not bool:
            fail(case, "the filter returns True or False",
                 f"The filter from severity_at_least({level!r}) returned {said!r} (a "
                 f"{type_name(said)}) for content {message.content!r}: return True or False.")
        if wanted != delivered:
            fail(case, rule,
                 f"With severity_at_least({level!r}), a message with content {message.content!r} "
                 f"was {'delivered' if wanted else 'skipped'}; it should be "
                 f"{'delivered' if delivered else 'skipped'}. Severities, least to most: "
                 f"{', '.join(SEVERITIES)}.")
    passed("severity_at_least", len(all_cases))


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
BUDGET_RULE = ("the most confident bid within the budget wins; ties go to the lower cost, then "
               "to the name that sorts first, whatever order the bids come in; None if none fits")


def check_budget_award(choose_within_budget, extra_cases: list = ()) -> None:
    """choose_within_budget(bids, budget): the most confident bid within budget; ties go to the
    lower cost, then to the name that sorts first; None when no bid fits."""
    all_cases = cases(BUDGET_CASES, extra_cases, rule=BUDGET_RULE)
    for case in all_cases:
        bids, budget, winner = case.inputs
        offers = [routing.Bid(*bid) for bid in bids]
        for order in itertools.permutations(offers):
            got = answer_to(case, BUDGET_RULE, choose_within_budget, list(order), budget)
            if got is not None and type(got) is not routing.Bid:
                fail(case, "the answer is the winning Bid itself, or None",
                     f"choose_within_budget returned {got!r} (a {type_name(got)}): return the "
                     "winning Bid itself (or None when no bid fits the budget).")
            name = got.agent if got is not None else None
            if name != winner or (got is not None and got not in offers):
                shown = [(b.agent, b.cost, b.confidence) for b in order]
                fail(case, BUDGET_RULE,
                     f"Bids {shown} as (agent, cost, confidence) with budget {budget}: you chose "
                     f"{name!r}, the winner is {winner!r}. Keep only bids that cost at most the "
                     "budget; take the most confident; on a tie the lower cost, then the name that "
                     "sorts first (so the order bids arrive in never matters); None if none fit.")
    passed("choose_within_budget", len(all_cases))


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
WHY = {None: "the loop should go on: return None",
       "approved": "the last draft was approved",
       "repeated draft": "the last draft repeats an earlier one, so the peers are going round "
                         "in circles",
       "round limit": "max_rounds rounds have been played"}
STOP_RULE = ("the reason is 'approved', else 'repeated draft', else 'round limit', else None, "
             "checked in that order")
RULES = {None: "a loop with no reason to stop yet gets None",
         "approved": "a loop whose last draft was approved gets 'approved'",
         "repeated draft": "a loop whose last draft repeats an earlier one gets 'repeated draft', "
                           "unless it was approved",
         "round limit": "a loop that has played max_rounds rounds gets 'round limit', unless "
                        "an earlier rule applies"}


def check_stop_reason(stop_reason, extra_cases: list = ()) -> None:
    """stop_reason(history, max_rounds) names why a critique loop must stop, or returns None."""
    all_cases = cases(STOP_CASES, extra_cases, rule=STOP_RULE)
    for case in all_cases:
        history, max_rounds, expected = case.inputs
        rule = RULES[expected]
        got = answer_to(case, rule, stop_reason, [tuple(turn) for turn in history], max_rounds)
        if got is not None and type(got) is not str:
            fail(case, "the reason is a str, or None",
                 f"stop_reason({history!r}, max_rounds={max_rounds}) returned {got!r} (a "
                 f"{type_name(got)}): return one of 'approved', 'repeated draft', "
                 "'round limit', or None.")
        if got != expected:
            fail(case, rule,
                 f"stop_reason({history!r}, max_rounds={max_rounds}) returned {got!r}, expected "
                 f"{expected!r}: {WHY[expected]}. Check in this order: approved, repeated draft, "
                 "round limit.")
    passed("stop_reason", len(all_cases))


# Exercise 01.4: the cheapest design that is good enough ---------------------------------

# (options as (name, quality, tokens), the quality needed, the choice)
DESIGN_CASES = [
    ([("tool alone", 0.5, 0), ("generalist", 0.7, 900), ("team", 0.8, 1400)], 0.6, "generalist"),
    ([("tool alone", 0.5, 0), ("generalist", 0.7, 900), ("team", 0.8, 1400)], 0.8, "team"),
    ([("tool alone", 0.5, 0), ("generalist", 0.7, 900), ("team", 0.8, 1400)], 0.9, None),
    ([("tool alone", 0.5, 0), ("generalist", 0.7, 900), ("team", 0.8, 1400)], 0.0, "tool alone"),
    ([("team", 0.9, 500), ("generalist", 0.7, 500)], 0.6, "team"),
    ([("b", 0.7, 100), ("a", 0.7, 100)], 0.5, "a"),
    ([], 0.5, None),
]
DESIGN_RULE = ("the option with the fewest tokens among those whose quality reaches the bar "
               "(quality >= min_quality) wins; ties go to the higher quality, then to the name "
               "that sorts first; None when no option reaches the bar")


def check_pick_design(pick_design, extra_cases: list = ()) -> None:
    """pick_design(options, min_quality): the name of the cheapest option good enough."""
    check_choice(pick_design, DESIGN_CASES, extra_cases, score="quality", name="pick_design",
                 rule=DESIGN_RULE,
                 explain="Keep the options whose quality is at least min_quality; of those, take "
                         "the fewest tokens; on a tie the higher quality, then the name that "
                         "sorts first; None if none is good enough.")


# Exercise 01.5: pull from a work queue, and never run a task twice --------------------------

# (deliveries as [(task id, seconds it takes)] in the order the queue delivered them, an id
# delivered twice being one task; workers; the model seconds that many workers take)
PULL_CASES = [
    ([("a", 2.0), ("a", 2.0), ("b", 2.0), ("c", 2.0)], 2, 4.0),
    ([("a", 3.0), ("b", 1.0), ("c", 1.0), ("d", 1.0)], 2, 3.0),
    ([("a", 1.0), ("b", 1.0), ("c", 1.0)], 1, 3.0),
    ([("a", 1.0), ("b", 1.0), ("a", 1.0), ("a", 1.0)], 1, 2.0),
    ([("a", 1.0), ("b", 1.0)], 3, 1.0),
    ([], 2, 0.0),
]
PULL_RULE = ("every task runs exactly once, however often it is delivered, on at most `workers` "
             "workers that each take the next delivery as soon as they are free; the answer maps "
             "each task id to its result")


def check_pull_all(pull_all, extra_cases: list = ()) -> None:
    """pull_all(deliveries, workers) runs each delivered task once on `workers` pulling workers
    and returns {task id: result}. Its tasks are the check's own async steps."""
    all_cases = cases(PULL_CASES, extra_cases, rule=PULL_RULE)
    for case in all_cases:
        spec, workers, seconds = case.inputs
        steps = {task: probe(task, took) for task, took in spec}  # one step per task, however delivered
        deliveries = [(task, steps[task]) for task, _ in spec]
        shown = f"deliveries {[task for task, _ in spec]} taking {dict(spec)} s, workers={workers}"
        try:
            got, took, happened = ask_fully(pull_all, deliveries, workers)
        except LearnerError as error:
            fail(case, PULL_RULE, f"pull_all({shown}) raised {error}.", error)
        if type(got) is not dict:
            fail(case, "the answer is a dict {task id: result}",
                 f"pull_all returned {got!r} (a {type_name(got)}): return a dict mapping each "
                 "task id to what its step returned.")
        twice = sorted(task for task, events in happened.items() if events.count("started") > 1)
        if twice:
            fail(case, PULL_RULE, f"With {shown}, the task(s) {twice} ran more than once. Remember "
                                  "which ids were taken when a worker takes them (not when they "
                                  "finish), and skip a delivery whose id was taken already.")
        expected = {task: f"{task} done" for task in steps}
        if got != expected:
            fail(case, PULL_RULE, f"With {shown}, pull_all returned {got!r}; expected {expected!r}.")
        if abs(took - seconds) > 0.25:
            fail(case, PULL_RULE, f"With {shown}, the run took {took:.1f} s of model time; "
                                  f"{workers} pulling worker(s) take {seconds:.1f} s. Start exactly "
                                  f"{workers} workers, each taking the next delivery from one "
                                  "queue as soon as it is free, and run them at once.")
    passed("pull_all", len(all_cases))
