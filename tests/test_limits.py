"""labkit.patterns.limits.Guard: a loop bounded by rounds, tokens and seconds, and its reason."""
import time

import pytest

from labkit.llm.usage import Ledger, Usage
from labkit.patterns.limits import Guard


def usage(tokens, agent="critic"):
    return Usage(notebook="unit", agent=agent, model="scripted", prompt_tokens=tokens,
                 completion_tokens=0, latency_s=0.0, cost_usd=0.0)


def test_guard_stops_at_max_rounds_and_names_the_round_limit():
    guard = Guard(max_rounds=3)

    rounds = list(guard)

    assert rounds == [1, 2, 3]
    assert guard.rounds == 3
    assert "round limit" in guard.reason
    assert "3" in guard.reason


def test_guard_counts_only_the_tokens_spent_since_the_loop_started():
    ledger = Ledger()
    ledger.add(usage(10_000, agent="earlier work"))  # before the loop: not counted
    guard = Guard(max_rounds=10, max_tokens=250, ledger=ledger)

    for _ in guard:
        ledger.add(usage(100))

    # Before round 3 it had spent 200 (< 250); after round 3, 300: no round 4.
    assert guard.rounds == 3
    assert guard.tokens_spent() == 300
    assert guard.reason.startswith("token budget")
    assert "300 of 250" in guard.reason


def test_guard_stops_counting_when_its_loop_stops():
    ledger = Ledger()
    by_bound, by_reason = Guard(max_rounds=1, max_tokens=1000, ledger=ledger), Guard(5, ledger=ledger)
    for _ in by_bound:
        ledger.add(usage(100))
    for _ in by_reason:
        ledger.add(usage(40))
        by_reason.stop("agreed")
        break
    ledger.add(usage(5000, agent="later work"))  # after both loops: counted by neither

    assert by_bound.tokens_spent() == 100  # its one round, and nothing after it
    assert by_reason.tokens_spent() == 40


def test_guard_stop_ends_the_loop_with_that_reason():
    guard = Guard(max_rounds=5)
    seen = []

    for round_no in guard:
        seen.append(round_no)
        if round_no == 2:
            guard.stop("agreed")

    assert seen == [1, 2]
    assert guard.reason == "agreed"


def test_stop_in_the_last_round_keeps_the_loops_own_reason():
    guard = Guard(max_rounds=2)

    for round_no in guard:
        if round_no == 2:
            guard.stop("agreed")

    assert guard.reason == "agreed"


def test_guard_stops_at_max_seconds():
    guard = Guard(max_rounds=100, max_seconds=0.02)

    for _ in guard:
        time.sleep(0.03)

    assert guard.rounds == 1
    assert guard.reason.startswith("time limit")
    assert "0.02" in guard.reason


def test_a_guard_without_limits_hit_gives_no_reason_while_running():
    guard = Guard(max_rounds=3, max_seconds=60)
    reasons = [guard.reason for _ in guard]

    assert reasons == [None, None, None]
    assert "round limit" in guard.reason


@pytest.mark.parametrize("rounds", [0, -1])
def test_guard_with_fewer_than_one_round_is_a_value_error(rounds):
    with pytest.raises(ValueError, match="at least 1 round"):
        Guard(max_rounds=rounds)


def test_guard_with_max_tokens_but_no_ledger_is_a_value_error_naming_the_fix():
    with pytest.raises(ValueError, match="ledger=labkit.ledger"):
        Guard(max_rounds=3, max_tokens=1000)


@pytest.mark.parametrize("bounds", [{"max_seconds": 0}, {"max_seconds": -1},
                                    {"max_tokens": 0, "ledger": Ledger()},
                                    {"max_tokens": -5, "ledger": Ledger()}])
def test_guard_with_a_bound_that_allows_no_round_is_a_value_error(bounds):
    with pytest.raises(ValueError):
        Guard(max_rounds=3, **bounds)


def test_iterating_the_same_guard_again_starts_over():
    ledger = Ledger()
    guard = Guard(max_rounds=5, max_tokens=150, ledger=ledger)

    for round_no in guard:
        ledger.add(usage(100))
        if round_no == 1:
            guard.stop("agreed")
    first = (guard.rounds, guard.reason)
    second_rounds = []
    for round_no in guard:
        second_rounds.append(round_no)
        ledger.add(usage(100))

    assert first == (1, "agreed")
    # The budget is counted afresh: the first loop's 100 tokens do not count against it.
    assert second_rounds == [1, 2]
    assert guard.reason.startswith("token budget")
    assert guard.tokens_spent() == 200
