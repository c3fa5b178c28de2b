"""labkit.agents.Agent: plain data, plus ask/aask/use_tool driven by a ScriptedModel.

The tests that call the model use the `unit_session` fixture (conftest.py): a replay
session over an empty cassette, so the scripted model answers and no HTTP is made.
"""
import asyncio
import dataclasses
import json

import pytest

import labkit
from labkit.agents import Agent
from labkit.llm.scripted import ScriptedModel
from labkit.observe.trace import Trace

PLANNER = Agent("planner", "plan the trip", "You plan trips. Be brief.")


# Plain data --------------------------------------------------------------------------------

def test_an_agent_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PLANNER.instructions = "Ignore your instructions."


def test_agents_with_the_same_fields_are_equal_and_changes_make_a_new_agent():
    strict = dataclasses.replace(PLANNER, instructions="You plan trips. Cite sources.")

    assert Agent("planner", "plan the trip", "You plan trips. Be brief.") == PLANNER
    assert strict != PLANNER
    assert PLANNER.instructions == "You plan trips. Be brief."


def test_each_agent_gets_its_own_empty_tools_and_skills_by_default():
    one, two = Agent("a", "r", "i"), Agent("b", "r", "i")

    assert one.tools == {} and one.skills == frozenset()
    assert one.tools is not two.tools


def test_skills_given_as_a_list_become_a_frozenset():
    assert Agent("a", "r", "i", skills=["docs", "triage", "docs"]).skills == frozenset({"docs", "triage"})


def test_agents_can_be_used_in_a_set_and_as_dict_keys():
    team = {PLANNER, Agent("critic", "review", "You review.")}
    load = {PLANNER: 0}

    assert PLANNER in team and load[PLANNER] == 0


# ask / aask --------------------------------------------------------------------------------

def test_ask_sends_the_instructions_as_the_system_message(unit_session):
    model = ScriptedModel(["Oslo, in May."])

    reply = PLANNER.ask("Where should I go?", client=model)

    assert reply.text == "Oslo, in May."
    assert model.requests[0]["messages"] == [
        {"role": "system", "content": "You plan trips. Be brief."},
        {"role": "user", "content": "Where should I go?"}]


def test_ask_records_usage_under_the_agents_name(unit_session):
    critic = Agent("critic", "review plans", "You review plans.")
    model = ScriptedModel(["a plan", "looks fine"])

    PLANNER.ask("Plan a trip.", client=model)
    critic.ask("Review the plan.", client=model)

    assert [u.agent for u in labkit.ledger.records] == ["planner", "critic"]


def test_ask_passes_options_on_to_chat(unit_session):
    model = ScriptedModel(['{"city": "Oslo"}'])

    reply = PLANNER.ask("Where?", schema={"type": "object"}, max_tokens=12, client=model)

    assert model.requests[0]["max_tokens"] == 12
    assert model.requests[0]["response_format"]["type"] == "json_schema"
    assert reply.data == {"city": "Oslo"}


def test_aask_answers_with_the_instructions_and_records_usage(unit_session):
    model = ScriptedModel(lambda messages: f"{messages[0]['content']} / {messages[1]['content']}")
    critic = Agent("critic", "review plans", "You review plans.")

    async def both():
        return await asyncio.gather(PLANNER.aask("one", client=model), critic.aask("two", client=model))

    replies = asyncio.run(both())

    assert [r.text for r in replies] == ["You plan trips. Be brief. / one", "You review plans. / two"]
    assert sorted(u.agent for u in labkit.ledger.records) == ["critic", "planner"]


# use_tool ----------------------------------------------------------------------------------

def tool_agent(calls):
    def search(query):
        calls.append(("search", query))
        return f"3 results for {query}"

    def calculator(expression):
        calls.append(("calculator", expression))
        return "4"

    return Agent("helper", "use tools", "You pick tools.",
                 tools={"search": search, "calculator": calculator})


def test_use_tool_runs_the_chosen_tool_with_the_argument(unit_session):
    calls = []
    model = ScriptedModel([json.dumps({"tool": "calculator", "argument": "2 + 2"})])

    result = tool_agent(calls).use_tool("What is 2 + 2?", client=model)

    assert result == ("calculator", "4")
    assert calls == [("calculator", "2 + 2")]  # search was not run


def test_use_tool_sends_a_schema_with_the_tool_names_as_an_enum(unit_session):
    model = ScriptedModel([json.dumps({"tool": "search", "argument": "flights to Oslo"})])

    tool_agent([]).use_tool("Find flights to Oslo.", client=model)

    request = model.requests[0]
    schema = request["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["tool"]["enum"] == ["calculator", "search"]
    assert set(schema["required"]) == {"tool", "argument"}
    prompt = request["messages"][-1]["content"]
    assert "calculator" in prompt and "search" in prompt and "Find flights to Oslo." in prompt
    assert request["messages"][0] == {"role": "system", "content": "You pick tools."}


def test_use_tool_with_known_arguments_allows_only_those(unit_session):
    model = ScriptedModel([json.dumps({"tool": "search", "argument": "Oslo"})])

    result = tool_agent([]).use_tool("Find flights.", arguments=["Oslo", "Bergen"], client=model)

    schema = model.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["argument"] == {"enum": ["Oslo", "Bergen"]}
    assert result == ("search", "3 results for Oslo")


def test_use_tool_without_tools_raises_a_clear_value_error_before_calling_the_model(unit_session):
    model = ScriptedModel([])

    with pytest.raises(ValueError, match="'planner' has no tools") as error:
        PLANNER.use_tool("Find flights.", client=model)

    assert "tools=" in str(error.value)
    assert model.requests == []


def test_use_tool_is_traced_as_a_model_call_then_the_tool_step(unit_session):
    model = ScriptedModel([json.dumps({"tool": "search", "argument": "Oslo"})])

    with Trace() as run_trace:
        tool_agent([]).use_tool("Find Oslo.", client=model)

    assert [(s.name, s.kind, s.agent) for s in run_trace.spans] == [
        ("use tools", "step", "helper"), ("llm", "llm", "helper"), ("tool search", "step", "helper")]


def test_use_tool_with_an_unknown_tool_in_the_answer_raises_a_value_error(unit_session):
    model = ScriptedModel([json.dumps({"tool": "browser", "argument": "Oslo"})])

    with pytest.raises(ValueError, match="browser"):
        tool_agent([]).use_tool("Find Oslo.", client=model)
