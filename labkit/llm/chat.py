"""chat() and achat(): one model call through the openai SDK, recorded in the usage ledger."""
from __future__ import annotations

import inspect
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from openai.types.chat import ChatCompletion

from ..observe import trace
from . import budget, cassettes, usage
from .override import active_route
from .session import Session, active_session

SEED = 1234  # with temperature 0, the same request gets the same answer
ledger = usage.Ledger()


@dataclass(frozen=True)
class Reply:
    """A model's answer: its text, the parsed JSON when a schema was given, and its usage."""

    text: str
    usage: usage.Usage
    finish_reason: str
    tool_calls: list = field(default_factory=list)
    completion: ChatCompletion | None = field(default=None, repr=False)
    cached: bool = False  # from a cache (patterns/cache): no model was asked, nothing spent

    @property
    def data(self):
        """The answer parsed as JSON, or a ValueError that says why it is not JSON."""
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as error:
            hint = (" The model ran out of max_tokens before it finished: raise max_tokens."
                    if self.finish_reason == "length" else "")
            raise ValueError(f"The model's answer is not valid JSON ({error}).{hint} "
                             f"Answer: {self.text[:200]!r}") from None


@dataclass(frozen=True)
class _Call:
    """One call: its request, the client that will answer it, who asked, in which session."""

    request: dict
    client: object
    agent: str
    agent_version: str
    session: Session
    priced_as: str = ""

    def send(self):
        """The client's raw response (awaitable, from an async client)."""
        return self.client.chat.completions.with_raw_response.create(**self.request)


def request_for(messages, *, model: str | None = None, system: str | None = None,
                schema: dict | None = None, tools: list | None = None, max_tokens: int = 200,
                temperature: float = 0.0) -> dict:
    """The request chat() would send: everything that decides the answer (a cache's key)."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if system:
        messages = [{"role": "system", "content": system}, *messages]
    request = {"model": model or active_route().model or active_session().model,
               "messages": messages, "temperature": temperature, "seed": SEED,
               "max_tokens": max_tokens}
    if schema is not None:
        request["response_format"] = {"type": "json_schema", "json_schema": {
            "name": schema.get("title", "answer"), "schema": schema}}
    if tools:
        request["tools"] = tools
    return request


def _prepare(messages, agent, agent_version, model, system, schema, tools, max_tokens,
             temperature, client, priced_as, *, asynchronous: bool) -> _Call:
    session = active_session()
    route = active_route()
    client = client if client is not None else route.client
    if priced_as:
        usage.check_priced_as(priced_as)
    if tools and client is None and session.model_backend == "local":
        raise ValueError(
            "The local model cannot make native tool calls: its chat template has none, "
            "and llama.cpp would silently ignore tools=. Ask for the choice as JSON "
            "instead, e.g. schema={'type': 'object', 'properties': {'tool': {'enum': [...]}, "
            "'arguments': {...}}}."
        )
    budget.check_open()  # a spent budget refuses the call before it costs anything
    request = request_for(messages, model=model, system=system, schema=schema, tools=tools,
                          max_tokens=max_tokens, temperature=temperature)
    if client is None:
        client = session.clients.async_ if asynchronous else session.clients.sync
    return _Call(request, client, agent, agent_version, session, priced_as or "")


@contextmanager
def _answering(call: _Call):
    """Trace the call; yield the function that turns its raw response into a recorded Reply."""
    attrs = {"agent_version": call.agent_version} if call.agent_version else {}
    with trace.span("llm", agent=call.agent, kind="llm", **attrs) as span:
        started = time.perf_counter()
        yield lambda raw: _reply(raw, call, started, span)


def _reply(raw, call: _Call, started: float, span) -> Reply:
    completion: ChatCompletion = raw.parse()
    # Replayed answers report the latency the model had when recorded; live ones, as measured.
    latency = float(raw.headers.get(cassettes.LATENCY_HEADER) or time.perf_counter() - started)
    tokens = completion.usage
    prompt, completed = (tokens.prompt_tokens, tokens.completion_tokens) if tokens else (0, 0)
    answered_by = completion.model or call.request["model"]  # what answered, not what was asked
    record = usage.Usage(
        notebook=call.session.notebook, agent=call.agent, model=answered_by,
        prompt_tokens=prompt, completion_tokens=completed, latency_s=round(latency, 3),
        cost_usd=usage.cost(call.priced_as or answered_by, prompt, completed),
        agent_version=call.agent_version, priced_as=call.priced_as,
    )
    ledger.add(record)
    budget.charge(record.total_tokens)
    if span is not None:
        span.attrs.update(model=answered_by, tokens=record.total_tokens, prompt_tokens=prompt,
                          completion_tokens=completed, model_latency_s=record.latency_s)
    choice = completion.choices[0]
    return Reply(text=choice.message.content or "", usage=record,
                 finish_reason=choice.finish_reason or "",
                 tool_calls=list(choice.message.tool_calls or []), completion=completion)


def chat(messages, *, agent: str = "assistant", agent_version: str = "", model: str | None = None,
         system: str | None = None, schema: dict | None = None, tools: list | None = None,
         max_tokens: int = 200, temperature: float = 0.0, client=None,
         priced_as: str | None = None) -> Reply:
    """Ask the model once. `messages` is a prompt or a list of chat messages.

    model: the model to ask (default: the session's, or an enclosing labkit.override's).
    schema: a JSON schema the answer must follow (read it from `reply.data`).
    client: another OpenAI-compatible client for this call, e.g. a ScriptedModel.
    priced_as: the hosted model (in usage.PRICES) this call's tier stands for: its cost is
        that model's price, and the ledger still names the model that answered.
    Inside labkit.llm.budget.spend_from(...), the call spends from the open budgets.
    """
    call = _prepare(messages, agent, agent_version, model, system, schema, tools, max_tokens,
                    temperature, client, priced_as, asynchronous=False)
    with _answering(call) as recorded:
        return recorded(call.send())


async def achat(messages, *, agent: str = "assistant", agent_version: str = "",
                model: str | None = None, system: str | None = None, schema: dict | None = None,
                tools: list | None = None, max_tokens: int = 200, temperature: float = 0.0,
                client=None, priced_as: str | None = None) -> Reply:
    """chat() for asyncio: await several at once with asyncio.gather."""
    call = _prepare(messages, agent, agent_version, model, system, schema, tools, max_tokens,
                    temperature, client, priced_as, asynchronous=True)
    with _answering(call) as recorded:
        raw = call.send()
        # The SDK's async client answers with an awaitable; a scripted model answers at once.
        return recorded(await raw if inspect.isawaitable(raw) else raw)
