"""Send every model call in a block of code to another client or model.

    with labkit.override(client=ScriptedModel(["..."])):
        triager.ask("...")           # answered by the scripted model: no HTTP, no cassette

    with labkit.override(model="gpt-4o"):
        labkit.chat("...")           # the request names gpt-4o

    with labkit.override(faults=Faults(rate=0.3, seed=7)):
        labkit.chat("...")           # may meet a 429, a timeout, a cut-off body... (patterns/faults)

A client is anything shaped like an openai client (`client.chat.completions`): a
ScriptedModel, a fault injector, a grader's probe. Overrides nest (the innermost block wins,
setting by setting), reach the asyncio tasks started inside the block, and are undone when
the block ends, by an error too. A call's own `client=` or `model=` wins over any override.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """Where the calls of the enclosing override blocks go; None: the session's own."""

    client: object | None = None
    model: str | None = None
    faults: object | None = None  # a fault plan the session's HTTP transports send through


_route: ContextVar[Route] = ContextVar("labkit_route", default=Route())


def active_route() -> Route:
    return _route.get()


@contextmanager
def override(*, client=None, model: str | None = None, faults=None):
    """Every labkit.chat and achat inside the block goes to `client`, naming `model`, and
    every HTTP request of the session's clients passes through the fault plan `faults`."""
    if client is None and model is None and faults is None:
        raise ValueError("override() needs client= (an OpenAI-compatible client, e.g. a "
                         "ScriptedModel), model= (a model name), faults= (a fault plan, "
                         "labkit.patterns.faults.Faults), or some of them.")
    outer = _route.get()
    token = _route.set(Route(client=client if client is not None else outer.client,
                             model=model if model is not None else outer.model,
                             faults=faults if faults is not None else outer.faults))
    try:
        yield
    finally:
        _route.reset(token)
