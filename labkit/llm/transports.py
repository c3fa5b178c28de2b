"""The HTTP transports under the session's openai clients: each answer takes its model's time.

A replayed answer takes its recorded latency: counted on a virtual clock (model time), else
waited for, times `speed`. A live answer is timed for the recording. Both wrap the transport
that really sends (`inner`, httpx's own by default): vcrpy records and replays at that one,
and a test can put a canned server there. Fault plans (labkit.override(faults=...)) act here,
under every backend.
"""
from __future__ import annotations

import asyncio
import time

import httpx2

from . import cassettes
from .clock import clock
from .override import active_route


class PacedTransport(httpx2.BaseTransport):
    """For the sync client: a blocking call holds up everything after it, by its latency."""

    def __init__(self, speed: float = 0.0, inner: httpx2.BaseTransport | None = None) -> None:
        self.speed = speed
        self.inner = inner or httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        faults = active_route().faults
        return self._paced(request) if faults is None else faults.send(request, self._paced)

    def _paced(self, request: httpx2.Request) -> httpx2.Response:
        response, latency = cassettes.send_timed(self.inner, request)
        model_clock = clock()
        if model_clock.virtual:
            model_clock.advance(latency)
        elif cassettes.LATENCY_HEADER in response.headers:  # replayed: wait as it was, times speed
            time.sleep(latency * self.speed)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncPacedTransport(httpx2.AsyncBaseTransport):
    """The asyncio twin of PacedTransport: waiting for one reply never blocks the others."""

    def __init__(self, speed: float = 0.0,
                 inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self.speed = speed
        self.inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        faults = active_route().faults
        if faults is None:
            return await self._paced(request)
        return await faults.asend(request, self._paced)

    async def _paced(self, request: httpx2.Request) -> httpx2.Response:
        response = await cassettes.asend_timed(self.inner, request)
        latency = cassettes.recorded_latency(response)
        on_model_time = getattr(asyncio.get_running_loop(), "model_clock", None)
        if on_model_time is not None and on_model_time.virtual:
            await asyncio.sleep(latency)  # takes no wall time: the loop jumps its clock
        else:
            await asyncio.sleep(latency * self.speed)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class ThreadedTransport(httpx2.AsyncBaseTransport):
    """An async transport that sends with a sync one, in a worker thread.

    For servers of this process (llm/replicas.py): the model-time loop does not count work in
    a thread as model time, so a replica's real HTTP round trip on 127.0.0.1 adds nothing to a
    replay's figures, and only the latency the replica reports does (AsyncPacedTransport).
    """

    def __init__(self, inner: httpx2.BaseTransport | None = None) -> None:
        self.inner = inner or httpx2.HTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = b"".join([part async for part in request.stream])
        sync_request = httpx2.Request(request.method, request.url, headers=request.headers,
                                      content=body, extensions=request.extensions)

        def send() -> httpx2.Response:
            response = self.inner.handle_request(sync_request)
            content = response.read()
            response.close()  # the connection goes back to the pool, for the next request
            return httpx2.Response(response.status_code, headers=response.headers, content=content)

        return await asyncio.to_thread(send)

    async def aclose(self) -> None:
        self.inner.close()
