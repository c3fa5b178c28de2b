"""Faults, injected for real at the HTTP transport, under every backend, replay included.

    plan = Faults(rate=0.3, seed=7)                 # 30% of requests meet a fault
    with labkit.override(faults=plan):
        await triager.aask(...)                     # the SDK sees a real 429, timeout, bad body...
    plan.counts()                                   # what was injected, by kind

The plan sits between the openai SDK and the session's transport, so the SDK's own error
handling runs: a 429 becomes `openai.RateLimitError` with its `Retry-After` header, a dropped
connection `openai.APIConnectionError`, a request nobody answers `openai.APITimeoutError` after
the client's timeout (in model time: free on a replay). Faults that spoil an answer (a body cut
off, prose instead of JSON, a valid but wrong answer) let the request through first: its tokens
are spent, and wasted.

Whether a request meets a fault, and which, is drawn from the seed, the request's body and how
many times that body was sent before: the same seed gives the same faults, whatever order
concurrent requests go out in. Each fault is a span of kind "fault" in the open trace.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass

import httpx2

from ..llm.clock import clock
from ..observe import trace


@dataclass(frozen=True)
class Kind:
    """A kind of fault: what happens, its class, and the MAST failure mode it resembles."""

    name: str
    fault_class: str  # "transient", "rate limit", "malformed output", "wrong answer", "crash"
    mast: str  # the mode of Cemri et al. (2025), "Why do multi-agent LLM systems fail?", or ""
    what: str


KINDS = {kind.name: kind for kind in [
    Kind("rate_limit", "rate limit", "", "429 Too Many Requests, with a Retry-After header"),
    Kind("server_error", "transient", "", "500 or 503 from the server"),
    Kind("timeout", "transient", "", "no answer until the client's timeout"),
    Kind("disconnect", "crash", "", "the connection drops after the model answered"),
    Kind("truncated", "malformed output", "FM-1.1 disobey task specification",
         "the response body is cut off half-way"),
    Kind("not_json", "malformed output", "FM-1.1 disobey task specification",
         "the answer is prose, not the JSON its schema asks for"),
    Kind("wrong", "wrong answer", "FM-3.2 no or incomplete verification",
         "a valid answer to the schema, but another one than the model gave"),
]}
SPOILERS = {"disconnect", "truncated", "not_json", "wrong"}  # the request goes through first


@dataclass(frozen=True)
class Injected:
    kind: str
    fault_class: str
    mast: str
    agent: str
    at: float  # model seconds, on the clock the request ran on


class Faults:
    """A fault plan: each request meets a fault with probability `rate`, of a kind drawn
    evenly from `kinds`. `retry_after` is the seconds a 429 asks the client to wait."""

    def __init__(self, rate: float, kinds=tuple(KINDS), seed: int = 0,
                 retry_after: float = 2.0) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Faults(rate={rate!r}): the rate is a fraction of requests, from "
                             "0 to 1 (0.3 for 30%).")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown or not kinds:
            raise ValueError(f"Faults(kinds={kinds!r}): unknown kind {', '.join(map(repr, unknown))}"
                             f". The kinds are: {', '.join(KINDS)}." if unknown else
                             f"Faults(kinds=[]): name at least one kind of {', '.join(KINDS)}.")
        if retry_after < 0:
            raise ValueError(f"Faults(retry_after={retry_after}): seconds cannot be negative.")
        self.rate, self.kinds, self.seed, self.retry_after = float(rate), kinds, seed, retry_after
        self.injected: list[Injected] = []
        self.requests = 0
        self._sent = Counter()  # how many times each body was sent
        self._wrong = Counter()  # how many wrong answers each body was given

    def counts(self) -> Counter:
        """How many faults of each kind were injected."""
        return Counter(fault.kind for fault in self.injected)

    # Deciding -------------------------------------------------------------------------

    def draw(self, request: httpx2.Request) -> Kind | None:
        """The fault this request meets, or None. Depends only on the seed, the body, and
        how many times the same body was sent before."""
        body = request.content
        occurrence = self._sent[body]
        self._sent[body] += 1
        self.requests += 1
        digest = hashlib.sha256(f"{self.seed}|{occurrence}|".encode() + body).digest()
        chance = random.Random(digest)
        if chance.random() >= self.rate:
            return None
        kind = KINDS[chance.choice(self.kinds)]
        at = clock().now()
        span = trace.mark(f"fault {kind.name}", kind="fault", fault_class=kind.fault_class,
                          mast=kind.mast)
        self.injected.append(Injected(kind.name, kind.fault_class, kind.mast,
                                      span.agent if span else "", at))
        return kind

    # Sending through the plan (the session's transports call these) -----------------------

    def send(self, request: httpx2.Request, forward) -> httpx2.Response:
        kind = self.draw(request)
        if kind is None:
            return forward(request)
        if kind.name == "timeout":
            seconds = _read_timeout(request)
            if not clock().advance_if_virtual(seconds):
                time.sleep(seconds)
            raise httpx2.ReadTimeout("no answer (an injected fault)", request=request)
        if kind.name not in SPOILERS:
            return self._instead(kind, request)
        response = forward(request)
        response.read()
        return self._spoil(kind, request, response)

    async def asend(self, request: httpx2.Request, forward) -> httpx2.Response:
        kind = self.draw(request)
        if kind is None:
            return await forward(request)
        if kind.name == "timeout":
            await asyncio.sleep(_read_timeout(request))  # model time on labkit's loop
            raise httpx2.ReadTimeout("no answer (an injected fault)", request=request)
        if kind.name not in SPOILERS:
            return self._instead(kind, request)
        response = await forward(request)
        await response.aread()
        return self._spoil(kind, request, response)

    # What the client receives ----------------------------------------------------------

    def _instead(self, kind: Kind, request: httpx2.Request) -> httpx2.Response:
        """An error response in place of the model's: a 429 or a 500/503."""
        if kind.name == "rate_limit":
            return _error(request, 429, "rate_limit_exceeded", "Rate limit reached (an injected "
                          "fault).", {"retry-after": f"{self.retry_after:g}"})
        status = 503 if self._sent[request.content] % 2 else 500
        return _error(request, status, "server_error", "The server had an error (an injected fault).")

    def _spoil(self, kind: Kind, request: httpx2.Request, response: httpx2.Response):
        if kind.name == "disconnect":
            raise httpx2.RemoteProtocolError("Server disconnected without sending a response "
                                             "(an injected fault)", request=request)
        if response.status_code != 200:
            return response  # nothing to spoil: the server's own error stands
        body = response.content
        if kind.name == "truncated":
            return _respond(response, request, body[:len(body) // 2])
        completion = json.loads(body)
        message = completion["choices"][0]["message"]
        if kind.name == "not_json":
            message["content"] = "Sure! Here is my answer: " + (message.get("content") or "")[:20]
        else:
            message["content"] = self._wrong_answer(request, message.get("content") or "")
        return _respond(response, request, json.dumps(completion).encode())

    def _wrong_answer(self, request: httpx2.Request, content: str) -> str:
        """The answer with one field changed to another value its schema allows. The same
        question gets each other value in turn before any comes again: a model wrong at random
        seldom repeats itself (one wrong the same way every time is the model's own error)."""
        try:
            answer = json.loads(content)
            schema = json.loads(request.content)["response_format"]["json_schema"]["schema"]
        except (ValueError, KeyError, TypeError):
            return content  # no schema, or not JSON: nothing valid to change it into
        if not isinstance(answer, dict):
            return content
        turn = self._wrong[request.content]
        self._wrong[request.content] += 1
        for name, spec in schema.get("properties", {}).items():
            if name in answer:
                answer[name] = _another(answer[name], spec, turn)
                return json.dumps(answer)
        return content


def _another(value, spec: dict, turn: int):
    """A value of `spec` other than `value`, the `turn`-th one."""
    if "enum" in spec and len(spec["enum"]) > 1:
        others = [option for option in spec["enum"] if option != value]
        return others[turn % len(others)]
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1 + turn
    text = str(value)
    limit = spec.get("maxLength", len(text) + 10)
    return (text[:max(limit - 4, 0)] + f" ({turn + 1})")[:limit] if limit else text


def _read_timeout(request: httpx2.Request) -> float:
    timeout = request.extensions.get("timeout", {}).get("read")
    return 600.0 if timeout is None else float(timeout)  # the openai SDK's default


def _error(request, status: int, code: str, text: str, headers=None) -> httpx2.Response:
    body = {"error": {"message": text, "type": code, "code": code}}
    return httpx2.Response(status, json=body, headers=headers or {}, request=request)


def _respond(original: httpx2.Response, request, body: bytes) -> httpx2.Response:
    """`original` with another body; its length and encoding headers go, the rest stay."""
    headers = {name: value for name, value in original.headers.items()
               if name.lower() not in {"content-length", "content-encoding", "transfer-encoding"}}
    return httpx2.Response(original.status_code, headers=headers, content=body, request=request)
