"""The module's two resilience sketches (examples/module_sketches.py) run, and have the gaps
notebook 03 shows: each test pins one down."""
import json
import sys
from types import SimpleNamespace

import httpx2
import openai
import pytest

import labkit
from labkit.llm.config import REPO_ROOT
from labkit.llm.scripted import ScriptedModel

sys.path[:0] = [str(REPO_ROOT / "examples"), str(REPO_ROOT / "examples" / "bugtracker")]
import module_sketches as sketches  # noqa: E402

RIGHT = '{"severity": "critical"}'  # BUG-1 is "All my saved data is corrupted...": the rules say critical
WRONG = '{"severity": "low"}'


def rate_limited() -> openai.RateLimitError:
    response = httpx2.Response(429, request=httpx2.Request("POST", "http://model.invalid"))
    return openai.RateLimitError("slow down", response=response, body=None)


class Failing:
    """A client whose calls raise the given errors in turn, then answer RIGHT."""

    def __init__(self, *errors):
        self.errors, self.calls = list(errors), 0
        self.chat = SimpleNamespace(completions=SimpleNamespace(
            with_raw_response=SimpleNamespace(create=self._create)))
        self._answers = ScriptedModel(lambda messages: RIGHT)

    def _create(self, **request):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self._answers._create_raw(**request)


def timed(coroutine):
    """(the result, model seconds it took)."""
    async def run():
        import asyncio
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await coroutine
        return result, loop.time() - started
    return labkit.run(run())


def test_a_failed_validation_is_retried_at_once_with_the_same_question(unit_session):
    model = ScriptedModel([WRONG, WRONG, WRONG])
    with labkit.override(client=model):
        result, seconds = timed(sketches.ResilientAgent().execute_with_retry("BUG-1"))

    assert result == "fallback"
    assert seconds == 0  # no backoff between the tries
    prompts = [json.dumps(r["messages"]) for r in model.requests]
    assert len(prompts) == 3 and len(set(prompts)) == 1  # nothing told to the model


def test_the_backoff_has_no_jitter_no_cap_and_sleeps_after_the_last_try(unit_session):
    with labkit.override(client=Failing(*(rate_limited() for _ in range(5)))):
        result, seconds = timed(sketches.ResilientAgent().execute_with_retry("BUG-1", max_retries=5))

    assert result == "fallback"
    assert seconds == 1 + 2 + 4 + 8 + 16  # the same for every client, doubling without a cap


def test_an_error_neither_retriable_nor_fatal_escapes(unit_session):
    cut_off = json.JSONDecodeError("Unterminated string", '{"sev', 5)
    with labkit.override(client=Failing(cut_off)), pytest.raises(json.JSONDecodeError):
        timed(sketches.ResilientAgent().execute_with_retry("BUG-1"))


def test_a_retriable_error_then_success_returns_the_answer(unit_session):
    with labkit.override(client=Failing(rate_limited())):
        result, seconds = timed(sketches.ResilientAgent().execute_with_retry("BUG-1"))

    assert result == RIGHT and seconds == 1


def test_the_first_sketch_falls_back_on_an_invalid_answer_without_a_retry(unit_session):
    model = ScriptedModel([WRONG])
    with labkit.override(client=model):
        assert timed(sketches.resilient_agent_execution("BUG-1"))[0] == "fallback"
    assert len(model.requests) == 1


def test_the_first_sketch_never_validates_what_a_retry_returns(unit_session):
    client = Failing(rate_limited())
    client._answers = ScriptedModel(lambda messages: WRONG)
    with labkit.override(client=client):
        result, _ = timed(sketches.resilient_agent_execution("BUG-1"))

    assert result == WRONG  # the rules say critical; the retried answer went out unchecked
    assert sketches.errors[-1].startswith("RetriableError")
