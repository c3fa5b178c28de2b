"""labkit.llm.budget: token budgets per run and per agent that hold across nested delegation."""
import asyncio

import pytest

import labkit
from labkit import Agent
from labkit.llm.budget import BudgetSpent, TokenBudget, spend_from
from labkit.llm.scripted import ScriptedModel

ANSWER = "one two three"  # the scripted model counts words as tokens


def test_each_call_spends_its_tokens_from_the_open_budget(unit_session):
    run = TokenBudget(1000, "run")
    with labkit.override(client=ScriptedModel([ANSWER] * 2)), spend_from(run):
        first = labkit.chat("a b")
        second = labkit.chat("c d e")
    assert run.spent == first.usage.total_tokens + second.usage.total_tokens
    assert run.remaining == 1000 - run.spent


def test_a_call_outside_the_block_spends_nothing(unit_session):
    run = TokenBudget(1000)
    with labkit.override(client=ScriptedModel([ANSWER] * 2)):
        with spend_from(run):
            labkit.chat("inside")
        spent = run.spent
        labkit.chat("outside")
    assert run.spent == spent > 0


def test_a_nested_agent_spends_from_its_own_budget_and_every_one_around_it(unit_session):
    run, lead_budget = TokenBudget(1000, "run"), TokenBudget(500, "lead")
    helper = Agent("helper", "help", "You help.")

    async def lead():
        with spend_from(lead_budget):  # the lead delegates: its helper spends from both
            return await asyncio.gather(helper.aask("part one"), helper.aask("part two"))

    with labkit.override(client=ScriptedModel([ANSWER] * 3)), spend_from(run):
        parts = labkit.run(lead())
        alone = labkit.chat("the run's own call")
    delegated = sum(part.usage.total_tokens for part in parts)
    assert lead_budget.spent == delegated
    assert run.spent == delegated + alone.usage.total_tokens


def test_a_spent_budget_refuses_the_next_call_before_it_is_sent(unit_session):
    scripted = ScriptedModel([ANSWER] * 3)
    small = TokenBudget(5, "reviewer")
    with labkit.override(client=scripted), spend_from(small):
        labkit.chat("a b c")  # 3 + 3 tokens: over the budget, which is known only now
        with pytest.raises(BudgetSpent, match="'reviewer' budget of 5 tokens is spent"):
            labkit.chat("one more")
    assert len(scripted.requests) == 1


def test_an_inner_budget_cannot_outspend_the_outer_one(unit_session):
    outer, inner = TokenBudget(4, "run"), TokenBudget(1000, "agent")
    with labkit.override(client=ScriptedModel([ANSWER] * 2)), spend_from(outer), spend_from(inner):
        labkit.chat("a b")
        with pytest.raises(BudgetSpent, match="'run' budget"):
            labkit.chat("c")


@pytest.mark.parametrize("tokens", [0, -100, 2.5, True, "1000"])
def test_a_budget_that_is_not_a_positive_whole_number_is_refused(tokens):
    with pytest.raises(ValueError, match="whole number of tokens above 0"):
        TokenBudget(tokens)


def test_spending_from_something_that_is_not_a_budget_is_refused():
    with pytest.raises(TypeError, match="TokenBudget"):
        with spend_from(1000):
            pass
