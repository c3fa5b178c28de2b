"""chat() and achat(): one model call through the openai SDK, recorded in the usage ledger."""
from __future__ import annotations

import inspect
import json
import time
from dataclasses import dataclass, field

from openai.types.chat import ChatCompletion

from . import cassettes, session, trace, usage

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


def _request(messages, system, schema, tools, max_tokens, temperature, current) -> dict:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if system:
        messages = [{"role": "system", "content": system}, *messages]
    request = {"model": current.model, "messages": messages, "temperature": temperature,
               "seed": SEED, "max_tokens": max_tokens}
    if schema is not None:
        request["response_format"] = {"type": "json_schema", "json_schema": {
            "name": schema.get("title", "answer"), "schema": schema}}
    if tools:
        if current.model_backend == "local":
            raise ValueError(
                "The local model cannot make native tool calls: its chat template has none, "
                "and llama.cpp would silently ignore tools=. Ask for the choice as JSON "
                "instead, e.g. schema={'type': 'object', 'properties': {'tool': {'enum': [...]}, "
                "'arguments': {...}}}."
            )
        request["tools"] = tools
    return request


def _reply(raw, agent: str, started: float, current) -> Reply:
    completion: ChatCompletion = raw.parse()
    # Replayed answers report the latency the model had when recorded; live ones, as measured.
    latency = float(raw.headers.get(cassettes.LATENCY_HEADER) or time.perf_counter() - started)
    tokens = completion.usage
    prompt, completed = (tokens.prompt_tokens, tokens.completion_tokens) if tokens else (0, 0)
    record = usage.Usage(
        notebook=current.notebook, agent=agent, model=current.model,
        prompt_tokens=prompt, completion_tokens=completed, latency_s=round(latency, 3),
        cost_usd=usage.cost(current.model, prompt, completed),
    )
    ledger.add(record)
    choice = completion.choices[0]
    return Reply(text=choice.message.content or "", usage=record,
                 finish_reason=choice.finish_reason or "",
                 tool_calls=list(choice.message.tool_calls or []), completion=completion)


def _traced(reply: Reply, span) -> Reply:
    if span is not None:
        span.attrs.update(tokens=reply.usage.total_tokens, model_latency_s=reply.usage.latency_s)
    return reply


def chat(messages, *, agent: str = "assistant", system: str | None = None,
         schema: dict | None = None, tools: list | None = None, max_tokens: int = 200,
         temperature: float = 0.0, client=None) -> Reply:
    """Ask the model once. `messages` is a prompt or a list of chat messages.

    schema: a JSON schema the answer must follow (read it from `reply.data`).
    client: another OpenAI-compatible client, e.g. labkit.testing.ScriptedModel.
    """
    current = session.current()
    request = _request(messages, system, schema, tools, max_tokens, temperature, current)
    with trace.span("llm", agent=agent, kind="llm") as span:
        started = time.perf_counter()
        raw = (client or current.client).chat.completions.with_raw_response.create(**request)
        return _traced(_reply(raw, agent, started, current), span)


async def achat(messages, *, agent: str = "assistant", system: str | None = None,
                schema: dict | None = None, tools: list | None = None, max_tokens: int = 200,
                temperature: float = 0.0, client=None) -> Reply:
    """chat() for asyncio: await several at once with asyncio.gather."""
    current = session.current()
    request = _request(messages, system, schema, tools, max_tokens, temperature, current)
    with trace.span("llm", agent=agent, kind="llm") as span:
        started = time.perf_counter()
        raw = (client or current.async_client).chat.completions.with_raw_response.create(**request)
        if inspect.isawaitable(raw):  # the SDK's async client; a scripted model answers at once
            raw = await raw
        return _traced(_reply(raw, agent, started, current), span)
