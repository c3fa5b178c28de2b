"""labkit.chat() and achat() driven by a ScriptedModel: no server, no HTTP, no cassette.

The tests that call chat() use the `unit_session` fixture (conftest.py): chat() needs a
session, and a replay session over an empty cassette is the cheapest one.
"""
import asyncio

import pytest

import labkit
from labkit.llm import session
from labkit.llm.scripted import ScriptedModel


def test_chat_returns_the_scripted_answers_in_order(unit_session):
    model = ScriptedModel(["first", "second"])

    assert labkit.chat("one", client=model).text == "first"
    assert labkit.chat("two", client=model).text == "second"


def test_chat_sends_the_prompt_as_a_user_message(unit_session):
    model = ScriptedModel(["ok"])

    labkit.chat("Plan a trip.", client=model)

    assert model.requests[0]["messages"] == [{"role": "user", "content": "Plan a trip."}]


def test_chat_puts_the_system_prompt_first(unit_session):
    model = ScriptedModel(["ok"])

    labkit.chat("Plan a trip.", system="You are a planner.", client=model)

    assert model.requests[0]["messages"] == [
        {"role": "system", "content": "You are a planner."},
        {"role": "user", "content": "Plan a trip."},
    ]


def test_chat_asks_for_a_reproducible_answer(unit_session):
    model = ScriptedModel(["ok"])

    labkit.chat("Plan a trip.", client=model)

    assert model.requests[0]["temperature"] == 0
    # A fixed seed. Changing it changes every request body: all cassettes must be re-recorded.
    assert model.requests[0]["seed"] == 1234


def test_chat_passes_max_tokens_on(unit_session):
    model = ScriptedModel(["ok"])

    labkit.chat("Plan a trip.", max_tokens=17, client=model)

    assert model.requests[0]["max_tokens"] == 17


def test_each_call_adds_one_usage_with_its_agent_to_the_ledger(unit_session):
    model = ScriptedModel(["a plan", "looks fine to me"])

    labkit.chat("Plan a trip.", agent="planner", client=model)
    labkit.chat("Check the plan.", agent="critic", client=model)

    assert [u.agent for u in labkit.ledger.records] == ["planner", "critic"]
    assert [u.notebook for u in labkit.ledger.records] == ["unit", "unit"]


def test_usage_counts_words_as_tokens(unit_session):
    model = ScriptedModel(["a short plan"])

    reply = labkit.chat("Plan a trip.", client=model)

    assert reply.usage.prompt_tokens == 3
    assert reply.usage.completion_tokens == 3


def test_achat_answers_and_records_usage(unit_session):
    model = ScriptedModel(["async answer"])

    reply = asyncio.run(labkit.achat("Plan a trip.", agent="planner", client=model))

    assert reply.text == "async answer"
    assert [u.agent for u in labkit.ledger.records] == ["planner"]


def test_several_achats_gathered_each_get_an_answer(unit_session):
    model = ScriptedModel(lambda messages: messages[-1]["content"].upper())

    async def ask_three():
        return await asyncio.gather(*(labkit.achat(p, client=model) for p in ["a", "b", "c"]))

    replies = asyncio.run(ask_three())

    assert [r.text for r in replies] == ["A", "B", "C"]
    assert len(labkit.ledger) == 3


def test_schema_is_sent_as_response_format(unit_session):
    model = ScriptedModel(['{"city": "Oslo"}'])
    schema = {"title": "trip", "type": "object", "properties": {"city": {"type": "string"}}}

    labkit.chat("Where to?", schema=schema, client=model)

    response_format = model.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"] == {"name": "trip", "schema": schema}


def test_schema_reply_data_is_the_parsed_json(unit_session):
    model = ScriptedModel(['{"city": "Oslo", "days": 3}'])
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}

    reply = labkit.chat("Where to?", schema=schema, client=model)

    assert reply.data == {"city": "Oslo", "days": 3}


def a_reply(text, finish_reason):
    usage = labkit.Usage(notebook="unit", agent="assistant", model="scripted", prompt_tokens=1,
                         completion_tokens=1, latency_s=0.0, cost_usd=0.0)
    return labkit.Reply(text=text, usage=usage, finish_reason=finish_reason)


def test_invalid_json_raises_value_error_quoting_the_answer():
    reply = a_reply("Sure! Here is the JSON", finish_reason="stop")

    with pytest.raises(ValueError) as error:
        reply.data

    assert "not valid JSON" in str(error.value)
    assert "Sure! Here is the JSON" in str(error.value)
    assert "max_tokens" not in str(error.value)


def test_json_cut_off_by_the_token_limit_says_raise_max_tokens():
    reply = a_reply('{"city": "Os', finish_reason="length")

    with pytest.raises(ValueError, match="max_tokens"):
        reply.data


def test_running_out_of_scripted_answers_is_a_clear_assertion_error(unit_session):
    model = ScriptedModel(["only one"])
    labkit.chat("first", client=model)

    with pytest.raises(AssertionError, match="give it more answers"):
        labkit.chat("second", client=model)


def test_a_function_script_receives_the_messages(unit_session):
    seen = []

    def script(messages):
        seen.append(messages)
        return f"you said {messages[-1]['content']}"

    reply = labkit.chat("hello", system="Be brief.", client=ScriptedModel(script))

    assert reply.text == "you said hello"
    assert seen == [[{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "hello"}]]


def test_a_list_of_messages_is_sent_as_given(unit_session):
    model = ScriptedModel(["ok"])
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
               {"role": "user", "content": "plan a trip"}]

    labkit.chat(history, client=model)

    assert model.requests[0]["messages"] == history


TOOLS = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]


def test_tools_with_the_local_model_raise_value_error_suggesting_json(unit_session):
    session.active_session().model_backend = "local"

    # Raised before any request: the session's empty cassette would otherwise refuse it.
    with pytest.raises(ValueError, match="JSON"):
        labkit.chat("Find flights.", tools=TOOLS)


def test_tools_go_to_a_client_of_the_callers_own_whatever_the_session_backend(unit_session):
    session.active_session().model_backend = "local"
    model = ScriptedModel(["ok"])

    labkit.chat("Find flights.", tools=TOOLS, client=model)

    assert model.requests[0]["tools"] == TOOLS


def test_tools_are_passed_on_to_a_backend_that_supports_them(unit_session):
    session.active_session().model_backend = "openai"
    model = ScriptedModel(["ok"])

    labkit.chat("Find flights.", tools=TOOLS, client=model)

    assert model.requests[0]["tools"] == TOOLS



# The model travels with the request ------------------------------------------------------

def test_a_call_may_name_its_model_and_the_request_says_so(unit_session):
    model = ScriptedModel(["ok"])

    labkit.chat("Plan a trip.", model="gpt-4o", client=model)

    assert model.requests[0]["model"] == "gpt-4o"
    assert session.active_session().model == "SmolLM2-135M-Instruct"  # the session's is unchanged


def test_without_a_model_the_request_names_the_sessions(unit_session):
    model = ScriptedModel(["ok"])

    labkit.chat("Plan a trip.", client=model)

    assert model.requests[0]["model"] == session.active_session().model


def test_the_ledger_records_and_prices_the_model_that_answered(unit_session):
    # Providers answer with a dated name; it is priced as its family (gpt-4o, not gpt-4o-mini).
    answering = ScriptedModel(["x " * 9], model="gpt-4o-2024-08-06")

    reply = labkit.chat("a b c d e f g h i j", model="gpt-4o", client=answering)

    assert reply.usage.model == "gpt-4o-2024-08-06"
    assert reply.usage.cost_usd == pytest.approx((10 * 2.50 + 9 * 10.00) / 1_000_000)
    assert labkit.ledger.records == [reply.usage]


def test_two_calls_to_two_models_are_priced_apart(unit_session):
    labkit.chat("a b", client=ScriptedModel(["x"], model="gpt-4o-mini"))
    labkit.chat("a b", client=ScriptedModel(["x"], model="gpt-4o"))

    summary = labkit.ledger.summary("model")

    assert summary.loc["gpt-4o", "cost_usd"] > summary.loc["gpt-4o-mini", "cost_usd"] > 0
