"""labkit.override: a block of code whose model calls go to another client or model."""
import asyncio

import pytest

import labkit
from labkit import Agent
from labkit.llm.scripted import ScriptedModel
from labkit.observe.trace import Trace


def test_calls_in_the_block_go_to_the_override_client(unit_session):
    scripted = ScriptedModel(["from the script"])

    with labkit.override(client=scripted):
        reply = labkit.chat("Hello?")

    assert reply.text == "from the script"
    assert scripted.requests[0]["messages"][-1]["content"] == "Hello?"


def test_an_agents_calls_are_overridden_without_passing_a_client(unit_session):
    scripted = ScriptedModel(['{"severity": "low"}'])
    triager = Agent("triager", "triage", "You triage bugs.")

    with labkit.override(client=scripted):
        answer = triager.ask("Bug: typo on the home page.", schema={"type": "object"})

    assert answer.data == {"severity": "low"}
    assert scripted.requests[0]["messages"][0] == {"role": "system", "content": "You triage bugs."}


def test_the_innermost_override_wins_setting_by_setting(unit_session):
    outer, inner = ScriptedModel(["outer"] * 3), ScriptedModel(["inner"])

    with labkit.override(client=outer, model="gpt-4o"):
        with labkit.override(model="gpt-4o-mini"):
            first = labkit.chat("1")          # outer's client, inner's model
        with labkit.override(client=inner):
            second = labkit.chat("2")         # inner's client, outer's model
        third = labkit.chat("3")              # back to the outer block

    assert (first.text, second.text, third.text) == ("outer", "inner", "outer")
    assert [r["model"] for r in outer.requests] == ["gpt-4o-mini", "gpt-4o"]
    assert inner.requests[0]["model"] == "gpt-4o"


def test_a_calls_own_client_wins_over_the_override(unit_session):
    overridden, own = ScriptedModel(["override"]), ScriptedModel(["own"])

    with labkit.override(client=overridden):
        reply = labkit.chat("?", client=own)

    assert reply.text == "own" and overridden.requests == []


def test_tasks_started_inside_the_block_are_overridden_and_others_are_not(unit_session):
    scripted = ScriptedModel(lambda messages: "scripted")
    plain = ScriptedModel(lambda messages: "plain")

    async def ask(text):
        await asyncio.sleep(0)  # the task runs after the block that started it has gone on
        return (await labkit.achat(text)).text

    async def main():
        with labkit.override(client=scripted):
            inside = [asyncio.create_task(ask(f"in {n}")) for n in range(3)]
        with labkit.override(client=plain):
            outside = asyncio.create_task(ask("out"))
        return await asyncio.gather(*inside), await outside

    inside, outside = asyncio.run(main())

    assert inside == ["scripted"] * 3 and outside == "plain"


def test_the_override_is_undone_when_the_block_raises(unit_session):
    scripted = ScriptedModel(["ok"])

    with pytest.raises(RuntimeError, match="boom"):
        with labkit.override(client=scripted, model="gpt-4o"):
            raise RuntimeError("boom")

    # The session's own replay answers again: its empty cassette has no recording for this.
    with pytest.raises(labkit.ReplayMissError):
        labkit.chat("after the block")


def test_override_with_nothing_to_override_says_what_it_takes():
    with pytest.raises(ValueError, match="client=.*model="):
        with labkit.override():
            pass


# Agents are versioned: metadata in traces and the ledger, never part of a request ----------

def test_an_agents_version_is_in_its_spans_and_usage_but_not_its_request(unit_session):
    scripted = ScriptedModel(["one", "two"])
    old = Agent("writer", "write", "You write.", version="1")
    new = Agent("writer", "write", "You write.", version="2")

    with Trace() as run, labkit.override(client=scripted):
        old.ask("Draft it.")
        new.ask("Draft it.")

    assert [u.agent_version for u in labkit.ledger.records] == ["1", "2"]
    assert [s.attrs["agent_version"] for s in run.spans if s.kind == "llm"] == ["1", "2"]
    assert scripted.requests[0] == scripted.requests[1]  # the same bytes: the same recording


def test_a_plain_call_has_no_agent_version(unit_session):
    labkit.chat("?", client=ScriptedModel(["ok"]))

    assert labkit.ledger.records[0].agent_version == ""
