"""Recorded model calls: one cassette per notebook, strict replay, scrubbed, with provenance.

vcrpy intercepts the openai SDK's HTTP transport (httpx2). When recording, each response
is stored with its latency and with only the headers worth keeping; when replaying, a
request that was never recorded is an error, never a trip to the network.
"""
from __future__ import annotations

import atexit
import datetime
import functools
import json
import time
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import httpx2
import vcr
from vcr.cassette import Cassette
from vcr.record_mode import RecordMode
from vcr.request import Request
from vcr.errors import (CannotOverwriteExistingCassetteException, MissingMetadataError,
                        UnhandledHTTPRequestError)

from .config import Config

LATENCY_HEADER = "x-labkit-latency-s"
# Whitelists, not blacklists: an auth header, cookie or org id we never heard of is dropped too.
KEPT_REQUEST_HEADERS = {"content-type"}
KEPT_RESPONSE_HEADERS = {"content-type", LATENCY_HEADER}
MATCH_ON = ("method", "path", "query", "body")  # not host: a cassette replays under any base URL
# Recorded in place of the real host, which varies (a local port) or is private (an Azure name).
RECORDED_HOST = "http://model.invalid"

# Servers of this process that answer for themselves (llm/replicas.py), as "host:port": a
# request to one is neither recorded nor replayed; what the server asks its model is.
UNRECORDED_ADDRESSES: set[str] = set()
UNRECORDED_PATHS = {"/health", "/v1/traces"}  # a health check, a trace export: no model calls


def _unrecorded(request) -> bool:
    return (request.path in UNRECORDED_PATHS
            or f"{request.host}:{request.port}" in UNRECORDED_ADDRESSES)

_request_started: ContextVar[float] = ContextVar("labkit_request_started")


def _match_key(request) -> tuple:
    """What MATCH_ON compares, as one hashable value: a JSON body in a canonical form."""
    body = request.body or b""
    try:
        body = json.dumps(json.loads(body), sort_keys=True)
    except ValueError:
        pass  # not JSON: the bytes themselves
    return request.method, request.path, tuple(request.query), body


class InOrderCassette(Cassette):
    """Finds a request's recordings by lookup, and replays identical requests in the order
    they were recorded.

    vcrpy compares a request with every recording, parsing both bodies each time: a notebook
    with a hundred recordings spent most of a replayed call there. An index from the match
    key to the recordings makes it one lookup.

    A notebook may ask the same question several times (once one by one, once concurrently):
    each ask gets its own recording, with its own latency. Only when all of them have been
    played (a learner re-running a cell) does a recording play again.
    """

    def append(self, request, response):
        count = len(self.data)
        super().append(request, response)
        if len(self.data) > count:  # vcrpy's hooks may have dropped it
            index = self.__dict__.setdefault("_recordings_by_key", {})
            index.setdefault(_match_key(self.data[-1][0]), []).append(count)

    def can_play_response_for(self, request):
        # vcrpy scrubs (deep-copies) the request first; the match key needs no scrubbing.
        return (not _unrecorded(request) and request in self and self.record_mode != RecordMode.ALL
                and (self.rewound or self.allow_playback_repeats))

    def _responses(self, request):
        for position in self.__dict__.get("_recordings_by_key", {}).get(_match_key(request), ()):
            yield position, self.data[position][1]

    def play_response(self, request):
        self.allow_playback_repeats = False
        try:
            return super().play_response(request)
        except UnhandledHTTPRequestError:
            self.allow_playback_repeats = True
            return super().play_response(request)
        finally:
            self.allow_playback_repeats = True


class ReplayMissError(RuntimeError):
    """A request in replay mode that the notebook's cassette has no recording for."""


def cassette_path(config: Config, notebook: str) -> Path:
    return config.cassette_dir / notebook / "calls.yaml"


def _scrub_request(request) -> Request | None:
    """The request as it is stored: kept headers only, the recorded host. (A new Request, not
    a deep copy: vcrpy calls this for every lookup too.) None: not for the cassette."""
    if _unrecorded(request):
        return None
    headers = {name: value for name, value in request.headers.items()
               if name.lower() in KEPT_REQUEST_HEADERS}
    query = f"?{request.parsed_uri.query}" if request.parsed_uri.query else ""
    return Request(request.method, f"{RECORDED_HOST}{request.path}{query}", request.body, headers)


def _stamp_and_scrub_response(response: dict) -> dict:
    """Keep the whitelisted headers, and stamp a live response with the time it took.

    vcrpy also passes every loaded recording through this hook: those keep their stamp.
    """
    headers = {k: v for k, v in response["headers"].items() if k.lower() in KEPT_RESPONSE_HEADERS}
    started = _request_started.get(None)
    if LATENCY_HEADER not in headers and started is not None:
        headers[LATENCY_HEADER] = [f"{time.perf_counter() - started:.3f}"]
    return {**response, "headers": headers}


def open_cassette(config: Config, notebook: str, labkit_version: str):
    """Open the notebook's cassette until close_cassette() or the process ends.

    Returns (cassette, context), or (None, None) for a live backend that is not recording.
    Replay: strict, and every response stays replayable (re-running a cell works).
    Record (LABKIT_RECORD=1): start from an empty cassette, save it when closed.
    """
    if config.live and not config.record:
        return None, None
    path = cassette_path(config, notebook)
    if config.record:
        # From nothing: loading the old file would keep its provenance (vcrpy cannot replace it).
        path.unlink(missing_ok=True)
    recorder = vcr.VCR(
        record_mode="all" if config.record else "none",
        match_on=MATCH_ON,
        before_record_request=_scrub_request,
        before_record_response=_stamp_and_scrub_response,
        decode_compressed_response=True,
    )
    context = InOrderCassette.use_arg_getter(functools.partial(
        recorder.get_merged_config, path=str(path), allow_playback_repeats=True))
    cassette = context.__enter__()
    atexit.register(context.__exit__, None, None, None)  # a kernel that just stops still saves
    if config.record:
        cassette.get_metadata("provenance", {
            "backend": config.backend,
            "model": config.model,
            "labkit": labkit_version,
            "date": datetime.date.today().isoformat(),
        })
    return cassette, context


def close_cassette(context) -> None:
    """Stop intercepting requests, and save the cassette if this was a recording."""
    atexit.unregister(context.__exit__)
    context.__exit__(None, None, None)


def provenance(cassette: Cassette) -> dict | None:
    """Where a replayed cassette's recordings came from (None if it has no such record)."""
    try:
        return cassette.get_metadata("provenance", None)
    except MissingMetadataError:
        return None


def unplayed(cassette: Cassette) -> list[str]:
    """The recordings nothing has asked for since the cassette opened, each as "#N: the prompt".

    A notebook run from top to bottom asks for every recording it needs; what is left over
    belongs to a prompt that changed or a cell that went, and should be re-recorded away.
    """
    left = []
    for index, (request, _) in enumerate(cassette.data):
        if cassette.play_counts[index] == 0:
            try:
                prompt = json.loads(request.body)["messages"][-1]["content"]
            except (TypeError, ValueError, KeyError, IndexError):
                prompt = request.path
            left.append(f"#{index + 1}: {str(prompt)[:60]!r}")
    return left


def recorded_latency(response: httpx2.Response) -> float:
    """Seconds the model took for a replayed response; 0 for a live one."""
    return float(response.headers.get(LATENCY_HEADER, 0))


@contextmanager
def _explained_misses():
    try:
        yield
    except CannotOverwriteExistingCassetteException as miss:
        raise ReplayMissError(_miss_message(miss)) from None


def _miss_message(miss: CannotOverwriteExistingCassetteException) -> str:
    path = Path(miss.cassette.path)
    notebook = path.parent.name
    closest = ""
    if miss.similar_requests:
        _, _, failed = miss.similar_requests[0]
        closest = (" The closest recording differs in: "
                   + ", ".join(name for name, _ in failed) + ".")
    body = (miss.failed_request.body or b"")[:300].decode("utf-8", "replace")
    return (
        f"No recording for this request in notebook {notebook}'s cassette {path}.{closest}\n"
        f"Replay only knows the requests recorded for this notebook: a changed prompt or "
        f"parameter is a new request.\nRequest: {miss.failed_request.method} "
        f"{miss.failed_request.path} {body}\n"
        "Two ways on:\n"
        "  1. Call a live model: set LABKIT_BACKEND=local (the small model on this machine, "
        "no key) or LABKIT_BACKEND=openai, then restart the kernel.\n"
        f"  2. Re-record this notebook's cassette from a real model: make cassettes NOTEBOOKS={notebook}"
    )


def send_timed(inner: httpx2.BaseTransport, request: httpx2.Request) -> tuple[httpx2.Response, float]:
    """Send through `inner` (httpx's own transport, where vcrpy records and replays); with the
    model's latency: the recorded one for a replayed answer, the time it took for a live one."""
    _request_started.set(time.perf_counter())
    started = time.perf_counter()
    with _explained_misses():
        response = inner.handle_request(request)
    if LATENCY_HEADER in response.headers:
        return response, recorded_latency(response)
    return response, round(time.perf_counter() - started, 3)


async def asend_timed(inner: httpx2.AsyncBaseTransport, request: httpx2.Request) -> httpx2.Response:
    """send_timed for asyncio. A live answer's time is counted by the loop that waits for it."""
    _request_started.set(time.perf_counter())
    with _explained_misses():
        return await inner.handle_async_request(request)
