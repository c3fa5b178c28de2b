"""Checks for notebook 01, multi-agent systems: a bus filter, a budget award, a stop rule."""
from __future__ import annotations

import itertools

from ..patterns import messaging, routing
from ._core import CheckFailed, passed


# Exercise 01.1: a subscription that only takes urgent bugs -------------------------------

SEVERITIES = ("low", "medium", "high", "critical")


def _bug(severity) -> messaging.Message:
    content = {"title": "A bug"} if severity is None else {"title": "A bug", "severity": severity}
    return messaging.Message("intake", "bug.reported", content)


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
        subscription = messaging.Subscription("bug.*", print, "learner", accept=accept)
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
    passed("severity_at_least", len(cases))


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
        offers = [routing.Bid(*bid) for bid in bids]
        for order in itertools.permutations(offers):
            got = choose_within_budget(list(order), budget)
            name = got.agent if isinstance(got, routing.Bid) else got
            if got is not None and not isinstance(got, routing.Bid):
                raise CheckFailed(f"choose_within_budget returned {got!r}: return the winning Bid "
                                  "itself (or None when no bid fits the budget).")
            if name != winner:
                shown = [(b.agent, b.cost, b.confidence) for b in order]
                raise CheckFailed(
                    f"Bids {shown} as (agent, cost, confidence) with budget {budget}: you chose "
                    f"{name!r}, the winner is {winner!r}. Keep only bids that cost at most the "
                    "budget; take the most confident; on a tie the lower cost, then the name that "
                    "sorts first (so the order bids arrive in never matters); None if none fit.")
    passed("choose_within_budget", len(cases))


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
    passed("stop_reason", len(cases))
