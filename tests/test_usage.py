"""labkit.llm.usage: the price of a call, and the ledger that sums calls per agent and model."""
import pytest

import labkit
from labkit.llm.chat import ledger
from labkit.llm.scripted import ScriptedModel
from labkit.llm.usage import PRICES, Ledger, Usage, cost, price_of


def test_a_million_prompt_tokens_of_gpt_4o_mini_cost_15_cents():
    assert cost("gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)


def test_completion_tokens_cost_the_output_price():
    assert cost("gpt-4o-mini", 0, 1_000_000) == pytest.approx(0.60)


def test_prompt_and_completion_costs_add_up():
    # 2000 * 0.15 / 1e6 + 500 * 0.60 / 1e6 = 0.0003 + 0.0003
    assert cost("gpt-4o-mini", 2000, 500) == pytest.approx(0.0006)


def test_a_model_missing_from_the_price_table_costs_nothing():
    assert cost("my-own-model", 1_000_000, 1_000_000) == 0.0


def three_calls() -> Ledger:
    """A planner calls two models, a critic calls one."""
    ledger = Ledger()
    ledger.add(Usage(notebook="nb", agent="planner", model="gpt-4o-mini", prompt_tokens=100,
                     completion_tokens=20, latency_s=0.5, cost_usd=0.001))
    ledger.add(Usage(notebook="nb", agent="critic", model="gpt-4o-mini", prompt_tokens=50,
                     completion_tokens=10, latency_s=0.25, cost_usd=0.002))
    ledger.add(Usage(notebook="nb", agent="planner", model="SmolLM2-135M-Instruct",
                     prompt_tokens=30, completion_tokens=5, latency_s=1.0, cost_usd=0.0))
    return ledger


def test_ledger_counts_the_calls_added():
    assert len(three_calls()) == 3


def test_totals_sum_every_call():
    totals = three_calls().totals()

    assert totals["calls"] == 3
    assert totals["prompt_tokens"] == 180
    assert totals["completion_tokens"] == 35
    assert totals["latency_s"] == pytest.approx(1.75)
    assert totals["cost_usd"] == pytest.approx(0.003)


def test_summary_by_agent_sums_each_agents_calls():
    table = three_calls().summary("agent")

    assert list(table.index) == ["planner", "critic"]
    assert table.loc["planner", "calls"] == 2
    assert table.loc["planner", "prompt_tokens"] == 130
    assert table.loc["planner", "total_tokens"] == 155
    assert table.loc["planner", "latency_s"] == pytest.approx(1.5)
    assert table.loc["critic", "calls"] == 1
    assert table.loc["critic", "total_tokens"] == 60
    assert table.loc["critic", "cost_usd"] == pytest.approx(0.002)


def test_summary_by_model_sums_each_models_calls():
    table = three_calls().summary("model")

    assert table.loc["gpt-4o-mini", "calls"] == 2
    assert table.loc["gpt-4o-mini", "total_tokens"] == 180
    assert table.loc["gpt-4o-mini", "cost_usd"] == pytest.approx(0.003)
    assert table.loc["SmolLM2-135M-Instruct", "calls"] == 1
    assert table.loc["SmolLM2-135M-Instruct", "total_tokens"] == 35


def test_summary_by_an_unknown_column_raises_value_error():
    with pytest.raises(ValueError, match="agent"):
        three_calls().summary("bogus")


def test_frame_has_one_row_per_call_with_total_tokens():
    frame = three_calls().frame()

    assert len(frame) == 3
    assert "total_tokens" in frame.columns
    assert list(frame["total_tokens"]) == [120, 60, 35]


def test_clear_empties_the_ledger():
    ledger = three_calls()

    ledger.clear()

    assert len(ledger) == 0
    assert ledger.totals()["calls"] == 0


@pytest.mark.parametrize("answered, priced_as", [
    ("gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),   # the longest family that names it
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
])
def test_a_dated_model_name_takes_its_familys_price(answered, priced_as):
    assert price_of(answered) == PRICES[priced_as]


@pytest.mark.parametrize("unknown", ["llama3.2", "gpt-4o2", "my-gpt-4o"])
def test_a_model_not_in_the_price_table_costs_nothing(unknown):
    assert price_of(unknown) == (0.0, 0.0)
    assert cost(unknown, 1_000, 1_000) == 0.0


def test_a_call_priced_as_a_hosted_model_costs_its_price_and_names_the_model_that_answered(
        unit_session):
    ledger.clear()
    with labkit.override(client=ScriptedModel(["one two"], model="SmolLM2-135M-Instruct")):
        reply = labkit.chat("a b c d", priced_as="gpt-4o")
    record = ledger.records[-1]
    assert (record.model, record.priced_as) == ("SmolLM2-135M-Instruct", "gpt-4o")
    assert record.cost_usd > 0
    assert record.cost_usd == pytest.approx(
        cost("gpt-4o", reply.usage.prompt_tokens, reply.usage.completion_tokens))
    assert list(ledger.summary(by="priced_as").index) == ["gpt-4o"]


def test_a_price_for_a_model_the_price_table_lacks_is_refused(unit_session):
    with pytest.raises(ValueError, match="priced_as='gpt-9'.*Priced models: .*gpt-4o-mini"):
        labkit.chat("a b", priced_as="gpt-9")
