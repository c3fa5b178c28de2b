"""labkit.patterns.routing: routing tasks to agents, and contract-net awards."""
import itertools

import pytest

from labkit.agents import Agent
from labkit.patterns.routing import Bid, Task, award, by_skill, least_loaded, round_robin


def agent(name, *skills):
    return Agent(name, f"{name}'s role", f"You are {name}.", skills=frozenset(skills))


def tasks(*specs):
    """Tasks from (skill, size) pairs, with ids t1, t2, ..."""
    return [Task(f"t{n}", f"task {n}", skill, size) for n, (skill, size) in enumerate(specs, start=1)]


# Routing -----------------------------------------------------------------------------------

def test_round_robin_takes_turns_whatever_the_task():
    team = [agent("ann"), agent("bob")]
    work = tasks(("docs", 5), ("triage", 1), ("docs", 1), ("triage", 9), ("docs", 1))

    assert round_robin(work, team) == {"t1": "ann", "t2": "bob", "t3": "ann", "t4": "bob", "t5": "ann"}


def test_least_loaded_counts_task_sizes_and_ties_go_to_the_first_listed():
    team = [agent("ann"), agent("bob"), agent("cat")]
    work = tasks(("any", 5), ("any", 1), ("any", 1), ("any", 1), ("any", 2))

    routes = least_loaded(work, team)

    # t1: all at 0, ann is listed first. t2: bob and cat at 0, bob first. t3: cat.
    # t4: bob 1, cat 1 -> bob. t5: ann 5, bob 2, cat 1 -> cat.
    assert routes == {"t1": "ann", "t2": "bob", "t3": "cat", "t4": "bob", "t5": "cat"}


def test_least_loaded_keeps_a_big_task_from_piling_up_on_one_agent():
    team = [agent("ann"), agent("bob")]
    work = tasks(("any", 10), ("any", 1), ("any", 1), ("any", 1))

    routes = least_loaded(work, team)

    assert routes == {"t1": "ann", "t2": "bob", "t3": "bob", "t4": "bob"}


def test_by_skill_gives_none_when_no_agent_has_the_skill():
    team = [agent("ann", "docs"), agent("bob", "triage")]
    work = tasks(("translation", 1), ("docs", 1))

    assert by_skill(work, team) == {"t1": None, "t2": "ann"}


def test_by_skill_balances_load_among_the_able_agents_only():
    team = [agent("ann", "triage"), agent("bob", "docs"), agent("cat", "triage", "docs")]
    work = tasks(("triage", 1), ("triage", 1), ("triage", 1), ("triage", 1), ("docs", 1))

    routes = by_skill(work, team)

    assert routes == {"t1": "ann", "t2": "cat", "t3": "ann", "t4": "cat", "t5": "bob"}


def test_by_skill_counts_sizes_across_skills():
    team = [agent("ann", "triage", "docs"), agent("bob", "triage")]
    work = tasks(("docs", 3), ("triage", 1), ("triage", 1))

    # ann is busy with a docs task of size 3, so bob takes both triage tasks.
    assert by_skill(work, team) == {"t1": "ann", "t2": "bob", "t3": "bob"}


def test_agent_skills_given_as_a_set_or_list_work_for_routing():
    team = [Agent("ann", "r", "i", skills={"docs"}), Agent("bob", "r", "i", skills=["triage"])]

    assert by_skill(tasks(("triage", 1), ("docs", 1)), team) == {"t1": "bob", "t2": "ann"}


def test_routing_with_no_agents_raises_a_value_error_that_says_so():
    for route in (round_robin, least_loaded):
        with pytest.raises(ValueError, match="agent"):
            route(tasks(("docs", 1)), [])


# Contract net: award -----------------------------------------------------------------------

def test_award_picks_the_best_confidence_per_cost():
    bids = [Bid("ann", cost=2.0, confidence=0.8),   # 0.4 per unit
            Bid("bob", cost=1.0, confidence=0.6),   # 0.6 per unit: best
            Bid("cat", cost=4.0, confidence=0.99)]  # 0.2475 per unit

    assert award(bids).agent == "bob"


def test_award_ignores_bids_below_min_confidence():
    cheap_but_unsure = Bid("ann", cost=0.1, confidence=0.3)
    sure = Bid("bob", cost=1.0, confidence=0.9)

    assert award([cheap_but_unsure, sure]) == sure
    assert award([cheap_but_unsure, sure], min_confidence=0.2) == cheap_but_unsure
    assert award([cheap_but_unsure, sure], min_confidence=0.95) is None


def test_a_bid_exactly_at_min_confidence_is_eligible():
    assert award([Bid("ann", 1.0, 0.5)], min_confidence=0.5) == Bid("ann", 1.0, 0.5)


def test_award_gives_none_when_there_are_no_bids():
    assert award([]) is None
    assert award(iter([])) is None


def test_equal_value_goes_to_the_lower_cost_then_to_the_first_name():
    pricier = Bid("ann", cost=2.0, confidence=0.8)  # value 0.4
    cheaper = Bid("zed", cost=1.0, confidence=0.4)  # value 0.4, lower cost
    twin_b = Bid("bob", cost=1.0, confidence=0.4)   # same as zed, name sorts first

    assert award([pricier, cheaper], min_confidence=0.0) == cheaper
    assert award([pricier, cheaper, twin_b], min_confidence=0.0) == twin_b


def test_award_does_not_depend_on_the_order_bids_arrive_in():
    bids = [Bid("ann", 2.0, 0.8),   # value 0.4
            Bid("zed", 1.0, 0.4),   # value 0.4, cheaper than ann
            Bid("bob", 1.0, 0.4),   # the same as zed: "bob" sorts first
            Bid("cat", 0.5, 0.16),  # value 0.32
            Bid("dan", 0.1, 0.1)]   # value 1.0, but below min_confidence

    winners = {award(order, min_confidence=0.15) for order in itertools.permutations(bids)}

    assert winners == {Bid("bob", 1.0, 0.4)}


def test_award_accepts_a_generator_of_bids():
    bids = (Bid(name, cost, 0.9) for name, cost in [("ann", 3.0), ("bob", 1.0)])

    assert award(bids).agent == "bob"


def test_a_free_bid_beats_any_paid_bid_of_enough_confidence():
    assert award([Bid("ann", 0.01, 1.0), Bid("bob", 0.0, 0.6)]).agent == "bob"


def test_equal_value_written_in_decimals_still_goes_to_the_lower_cost():
    assert award([Bid("ann", cost=0.3, confidence=0.9), Bid("bob", cost=0.2, confidence=0.6)]).agent == "bob"
    assert award([Bid("ann", cost=0.3, confidence=0.9), Bid("bob", cost=0.1, confidence=0.3)],
                 min_confidence=0.0).agent == "bob"
