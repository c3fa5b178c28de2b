"""Caches for model answers: an exact one that survives a restart, and a similarity one whose
threshold must be chosen from a measurement of its false hits.

    cache = ExactCache("answers/")                    # a folder: diskcache keeps it on disk
    reply = await cache.aask(triager, prompt, schema=TRIAGE, max_tokens=30)
    reply.cached, cache.hits, cache.misses, cache.saved_s

The exact cache's key is the whole request the call would send (`chat.request_for`): model,
messages, schema, temperature, seed, max_tokens. Leave one out and two requests that get
different answers share a key: a hit returns the other request's answer.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import diskcache

from ..agents import Agent
from ..llm.chat import Reply, request_for
from ..llm.session import active_session
from ..llm.usage import Usage
from ..observe import trace

# The options of Agent.aask that go into the request, so into the key (priced_as does not).
ANSWERING = ("model", "schema", "tools", "max_tokens", "temperature")


def request_key(request: dict) -> str:
    """A key that two requests share only if they are the same: their canonical JSON, hashed."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ExactCache:
    """Answers kept on disk by request: the same request is answered once, across restarts."""

    def __init__(self, directory: str | Path) -> None:
        self.store = diskcache.Cache(str(directory))
        self.hits = self.misses = 0
        self.saved_s = 0.0  # model seconds the hits did not spend
        self.saved_tokens = 0

    async def aask(self, agent: Agent, prompt, **options) -> Reply:
        """`agent.aask(prompt, **options)`, unless the same request was answered before."""
        request = request_for(prompt, system=agent.instructions,
                              **{k: v for k, v in options.items() if k in ANSWERING})
        key = request_key(request)
        kept = self.store.get(key)
        if kept is None:
            self.misses += 1
            reply = await agent.aask(prompt, **options)
            self.store.set(key, {"text": reply.text, "finish_reason": reply.finish_reason,
                                 "model": reply.usage.model, "tokens": reply.usage.total_tokens,
                                 "latency_s": reply.usage.latency_s})
            return reply
        self.hits += 1
        self.saved_s += kept["latency_s"]
        self.saved_tokens += kept["tokens"]
        trace.mark("cache hit", kind="cache", agent=agent.name, tokens_saved=kept["tokens"])
        # No model answered: the reply names the one that did first, and the ledger gets nothing.
        spent = Usage(notebook=active_session().notebook, agent=agent.name, model=kept["model"],
                      prompt_tokens=0, completion_tokens=0, latency_s=0.0, cost_usd=0.0,
                      agent_version=agent.version)
        return Reply(kept["text"], spent, kept["finish_reason"], cached=True)

    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0

    def close(self) -> None:
        self.store.close()


# Similarity --------------------------------------------------------------------------------

def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def jaccard(a: str, b: str) -> float:
    """Lexical similarity: the share of words two texts have in common, 0 to 1."""
    first, second = words(a), words(b)
    return len(first & second) / len(first | second) if first | second else 1.0


class SimilarCache:
    """Answers kept by question text; a question at least `threshold` similar to a kept one gets
    its answer. In memory: what to keep on disk is the exact cache's job."""

    def __init__(self, threshold: float, similarity=jaccard) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"SimilarCache(threshold={threshold!r}): a similarity above 0 and at "
                             "most 1 (1: only the very same words). Choose it from the false-hit "
                             "rates you measured.")
        self.threshold, self.similarity = threshold, similarity
        self.kept: list[tuple[str, object]] = []
        self.hits = self.misses = 0

    def get(self, question: str):
        """(the kept question, its answer) for the most similar kept question at or above the
        threshold, or None."""
        scored = [(self.similarity(question, kept), kept, answer) for kept, answer in self.kept]
        best = max(scored, default=None, key=lambda row: row[0])
        if best is None or best[0] < self.threshold:
            self.misses += 1
            return None
        self.hits += 1
        return best[1], best[2]

    def put(self, question: str, answer) -> None:
        self.kept.append((question, answer))

