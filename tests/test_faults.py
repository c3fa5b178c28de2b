"""Faults: a fault plan injects real HTTP failures under the openai SDK, drawn from its seed."""
import asyncio
import json
import random
from collections import Counter

import httpx2
import openai
import pytest

import labkit
from labkit.llm import cassettes
from labkit.llm.clock import session_clock
from labkit.observe.trace import Trace
from labkit.patterns.faults import KINDS, Faults, Injected
from labkit.patterns.recovery import retry_after

SEVERITIES = ["low", "medium", "high", "critical"]
SCHEMA = {"type": "object", "required": ["severity", "quote"],
          "properties": {"severity": {"enum": SEVERITIES}, "quote": {"type": "string"}}}
ANSWER = {"severity": "high", "quote": "crash"}  # what the canned model always answers
REPORT = "Bug: the app crashes when I save."


class CannedModel(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """A chat completions endpoint: ANSWER as JSON when a schema is asked for, else "fine",
    taking the seconds its prompt names ("took 2.5"), 0.5 by default."""

    def __init__(self):
        self.requests = 0  # how many reached the model

    def handle_request(self, request):
        self.requests += 1
        body = json.loads(request.content)
        prompt = body["messages"][-1]["content"]
        content = json.dumps(ANSWER) if "response_format" in body else "fine"
        completion = {"id": "canned", "object": "chat.completion", "created": 0, "model": "canned",
                      "choices": [{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": content}}],
                      "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
        latency = prompt.split("took ")[1] if "took " in prompt else "0.5"
        return httpx2.Response(200, json=completion, headers={cassettes.LATENCY_HEADER: latency})

    async def handle_async_request(self, request):
        return self.handle_request(request)


@pytest.fixture
def canned(unit_session):
    """The canned model under the session's own transports, where the fault plan sits above."""
    model = CannedModel()
    for transport in unit_session.clients.transports:
        transport.inner = model
    return model


def only(kind, **options):
    """A plan that gives every request a fault of one kind."""
    return Faults(rate=1, kinds=[kind], **options)


def ask(plan, **options):
    with labkit.override(faults=plan):
        return labkit.chat(REPORT, schema=SCHEMA, **options)


def aask(plan, **options):
    async def asked():
        with labkit.override(faults=plan):
            return await labkit.achat(REPORT, schema=SCHEMA, **options)
    return labkit.run(asked())


def requests(count):
    return [httpx2.Request("POST", "http://model.invalid/v1/chat/completions",
                           content=json.dumps({"report": i}).encode()) for i in range(count)]


def drawn(plan, sent):
    return [kind.name if kind else None for kind in map(plan.draw, sent)]


# Which requests meet a fault -----------------------------------------------------------

def test_the_rate_is_the_share_of_requests_that_meet_a_fault():
    plan = Faults(rate=0.3, seed=1)
    kinds = drawn(plan, requests(1000))

    faults = [kind for kind in kinds if kind is not None]
    assert 250 <= len(faults) <= 350
    assert set(faults) == set(KINDS)  # drawn from every kind
    assert plan.requests == 1000 and len(plan.injected) == len(faults)


def test_the_same_seed_draws_the_same_faults_and_another_seed_others():
    first, again, other = (drawn(Faults(rate=0.3, seed=seed), requests(200)) for seed in (7, 7, 8))

    assert first == again
    assert first != other


def test_a_body_meets_the_same_faults_whatever_order_the_requests_go_out_in():
    sent = requests(30) * 3  # each body three times: its 1st, 2nd, 3rd sending each draw anew
    shuffled = random.Random(1).sample(sent, len(sent))

    def by_body(order):
        plan, faults = Faults(rate=0.5, seed=3), {}
        for request, kind in zip(order, drawn(plan, order)):
            faults.setdefault(request.content, []).append(kind)
        return faults

    faults = by_body(sent)
    assert faults == by_body(shuffled)
    assert 10 < sum(kind is not None for kinds in faults.values() for kind in kinds) < 80


def test_concurrent_calls_meet_the_same_faults_in_either_order(canned):
    prompts = [f"Bug {i}: the app crashes. took {i % 4 + 1}" for i in range(16)]

    def outcomes(order):
        async def one(prompt):
            try:
                return (await labkit.achat(prompt, schema=SCHEMA)).text
            except Exception as error:
                return type(error).__name__

        async def all_at_once():
            with labkit.override(faults=Faults(rate=0.5, seed=5)):
                return await asyncio.gather(*map(one, order))
        return dict(zip(order, labkit.run(all_at_once())))

    forward = outcomes(prompts)
    assert forward == outcomes(prompts[::-1])
    assert len(set(forward.values())) >= 3  # some answers, some errors of several kinds


# What the SDK sees, kind by kind ----------------------------------------------------------

@pytest.mark.parametrize("call", [ask, aask])
@pytest.mark.parametrize("kind, error", [
    ("rate_limit", openai.RateLimitError),
    ("server_error", openai.InternalServerError),
    ("timeout", openai.APITimeoutError),
    ("disconnect", openai.APIConnectionError),
    ("truncated", json.JSONDecodeError),
])
def test_each_failing_kind_reaches_the_caller_as_the_sdks_error(canned, call, kind, error):
    with pytest.raises(error) as raised:
        call(only(kind))

    assert raised.type is error  # not a subclass: a timeout is not a mere disconnect
    # A 429, a 500 or a timeout never reached the model; a spoiled answer had it answer first.
    assert canned.requests == (1 if kind in ("disconnect", "truncated") else 0)


@pytest.mark.parametrize("call", [ask, aask])
def test_a_rate_limit_says_when_to_come_back(canned, call):
    with pytest.raises(openai.RateLimitError) as raised:
        call(only("rate_limit", retry_after=1.5))

    assert raised.value.status_code == 429
    assert raised.value.response.headers["retry-after"] == "1.5"
    assert retry_after(raised.value) == 1.5


@pytest.mark.parametrize("call", [ask, aask])
def test_a_server_error_is_a_500_or_a_503(canned, call):
    plan = only("server_error")
    statuses = set()
    for _ in range(2):
        with pytest.raises(openai.InternalServerError) as raised:
            call(plan)
        statuses.add(raised.value.status_code)

    assert statuses == {500, 503}


def test_a_timeout_takes_the_clients_timeout_in_model_time(canned, unit_session):
    impatient = unit_session.clients.sync.with_options(timeout=7.5)

    before = session_clock.now()
    with pytest.raises(openai.APITimeoutError):
        ask(only("timeout"), client=impatient)
    assert session_clock.now() - before == 7.5

    before = session_clock.now()
    with pytest.raises(openai.APITimeoutError):
        ask(only("timeout"))  # the SDK's default timeout: 10 minutes, free on model time
    assert session_clock.now() - before == 600.0


def test_an_async_timeout_takes_the_clients_timeout_in_model_time(canned, unit_session):
    impatient = unit_session.clients.async_.with_options(timeout=7.5)

    async def timed():
        loop = asyncio.get_running_loop()
        started = loop.time()
        with labkit.override(faults=only("timeout")), pytest.raises(openai.APITimeoutError):
            await labkit.achat(REPORT, client=impatient)
        return loop.time() - started

    assert labkit.run(timed()) == 7.5


@pytest.mark.parametrize("call", [ask, aask])
def test_not_json_answers_in_prose(canned, call):
    reply = call(only("not_json"))

    assert reply.text.startswith("Sure! Here is my answer:")
    with pytest.raises(ValueError, match="not valid JSON"):
        reply.data
    assert reply.usage.total_tokens == 15  # the tokens were spent all the same


@pytest.mark.parametrize("call", [ask, aask])
def test_a_wrong_answer_is_valid_but_another_one(canned, call):
    answer = call(only("wrong")).data

    assert answer != ANSWER
    assert set(answer) == set(ANSWER) and answer["severity"] in SEVERITIES


def test_the_same_request_is_never_wrong_the_same_way_twice(canned):
    plan = only("wrong")
    severities = [ask(plan).data["severity"] for _ in range(2)] + [aask(plan).data["severity"]]

    assert sorted(severities) == ["critical", "low", "medium"]  # each of the other three


# Where faults are seen, and where not --------------------------------------------------------

def test_each_fault_is_a_span_of_the_trace_inside_the_call_that_met_it(canned):
    plan = Faults(rate=1, kinds=["wrong"])
    with Trace() as run, labkit.override(faults=plan):
        labkit.chat(REPORT, schema=SCHEMA, agent="triager")

    llm, fault = run.spans
    assert (fault.kind, fault.name, fault.agent, fault.parent) == (
        "fault", "fault wrong", "triager", llm.id)
    assert fault.attrs == {"fault_class": "wrong answer",
                           "mast": "FM-3.2 no or incomplete verification"}
    assert plan.injected == [Injected("wrong", "wrong answer",
                                      "FM-3.2 no or incomplete verification", "triager", 0.0)]
    assert plan.counts() == Counter({"wrong": 1})


def test_async_faults_are_traced_with_their_class(canned):
    async def traced():
        with Trace() as run, labkit.override(faults=only("server_error")):
            with pytest.raises(openai.InternalServerError):
                await labkit.achat(REPORT, agent="router")
        return run

    [fault] = [span for span in labkit.run(traced()).spans if span.kind == "fault"]
    assert (fault.agent, fault.attrs) == ("router", {"fault_class": "transient", "mast": ""})


def test_no_fault_outside_the_override_block(canned):
    plan = only("server_error")
    with labkit.override(faults=plan), pytest.raises(openai.InternalServerError):
        labkit.chat(REPORT)

    assert labkit.chat(REPORT, schema=SCHEMA).data == ANSWER
    assert labkit.run(labkit.achat(REPORT)).text == "fine"
    assert plan.requests == 1 and len(plan.injected) == 1


# Plans that make no sense ---------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    ({"rate": -0.1}, r"rate=-0.1.*from 0 to 1"),
    ({"rate": 1.5}, r"rate=1.5.*from 0 to 1"),
    ({"rate": True}, r"rate=True.*from 0 to 1"),
    ({"rate": "30%"}, r"from 0 to 1"),
    ({"rate": 0.3, "kinds": []}, r"at least one kind of rate_limit"),
    ({"rate": 0.3, "retry_after": -1}, r"retry_after=-1.*negative"),
])
def test_a_plan_that_makes_no_sense_is_refused(options, message):
    with pytest.raises(ValueError, match=message):
        Faults(**options)


def test_an_unknown_kind_is_named_with_the_kinds_there_are():
    with pytest.raises(ValueError, match="unknown kind 'gremlins'") as raised:
        Faults(rate=0.3, kinds=["timeout", "gremlins"])

    assert all(kind in str(raised.value) for kind in KINDS)
