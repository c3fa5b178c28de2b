"""Model replicas: real HTTP servers on 127.0.0.1 that a load balancer spreads requests over.

    with Replica("fast") as fast, Replica("slow", slowdown=3) as slow:
        reply = await agent.aask(prompt, client=fast.client)

Each replica is a small OpenAI-compatible server in this process, in front of a model:
- live (LABKIT_BACKEND=local): a llama.cpp server of its own, so two replicas are two models;
  under LABKIT_BACKEND=openai, the session's endpoint;
- replay: the notebook's cassette. The replica answers what was recorded and reports the
  recorded latency in its reply (x-labkit-latency-s); the client waits it on model time.
While recording, what a replica asks its model is what the cassette keeps; what a client asks
the replica is not recorded (cassettes.UNRECORDED_ADDRESSES), so replay uses the same servers.
A replica with slowdown=3 reports three times its model's latency, and live it takes that long.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import openai

from . import cassettes, transports
from .clock import session_clock
from .local_model import LocalServer, _direct
from .session import active_session

UPSTREAM_TIMEOUT = {"connect": 5.0, "read": 120.0, "write": 30.0, "pool": 30.0}


class ReplicaError(RuntimeError):
    """A replica cannot serve: not started, stopped, or not answering; the message says which."""


class Replica:
    """One model replica: `start()` (or `with`), then send requests with `.client`; `stop()`."""

    def __init__(self, name: str, *, slowdown: float = 1.0) -> None:
        if not slowdown >= 1:
            raise ValueError(f"slowdown={slowdown!r}: a replica can be slower than its model "
                             "(a number above 1), not faster. Use 1 for a normal replica.")
        self.name = name
        self.slowdown = float(slowdown)
        self.url: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._model: LocalServer | None = None
        self._client: openai.AsyncOpenAI | None = None
        self.connections = 0  # TCP connections clients opened to it: fewer than requests, reused
        self.requests = 0

    def start(self) -> "Replica":
        if self._server is not None:
            return self
        session = active_session()
        if session.config.backend == "local":
            self._model = LocalServer().start()
        upstream = self._model.base_url if self._model else session.clients.base_url
        self._upstream = (upstream or "https://api.openai.com/v1").rstrip("/")
        self._api_key = session.config.api_key
        self._live = session.config.live
        self._send = httpx2.HTTPTransport()  # one pool: connections to the model are reused
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.replica = self
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        cassettes.UNRECORDED_ADDRESSES.add(f"{host}:{port}")
        threading.Thread(target=self._server.serve_forever, name=f"replica {self.name}",
                         daemon=True).start()
        self._client = openai.AsyncOpenAI(
            base_url=f"{self.url}/v1", api_key="no-key-needed", max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(transport=transports.AsyncPacedTransport(
                speed=session.clients.speed, inner=transports.ThreadedTransport())))
        return self

    @property
    def client(self) -> openai.AsyncOpenAI:
        """An async openai client of this replica, for labkit's achat(client=...)."""
        if self._client is None:
            raise ReplicaError(f"Replica {self.name!r} is not running: start() it first "
                               "(or use it in a `with` block).")
        return self._client

    def check(self, timeout_s: float = 2.0) -> None:
        """Raise ReplicaError unless the replica answers its /health now."""
        url = self.url or "(never started)"
        try:
            with _direct.open(f"{url}/health", timeout=timeout_s) as answer:
                if answer.status == 200:
                    return
        except (OSError, ValueError, urllib.error.URLError) as error:
            raise ReplicaError(f"Replica {self.name!r} at {url} does not answer ({error}). "
                               "Start it, or take it out of the balancer.") from None
        raise ReplicaError(f"Replica {self.name!r} at {url} is not healthy.")

    def stop(self) -> None:
        """Stop serving and free the port (and the replica's own model, if it has one)."""
        if self._server is None:
            return
        cassettes.UNRECORDED_ADDRESSES.discard(self.url.removeprefix("http://"))
        self._server.shutdown()
        self._server.server_close()
        self._send.close()
        if self._model is not None:
            self._model.stop()
        self._server = self._model = self._client = None

    def __enter__(self) -> "Replica":
        return self.start()

    def __exit__(self, *_) -> None:
        self.stop()

    def answer(self, path: str, body: bytes) -> tuple[int, dict, bytes]:
        """What the server replies to a POST: its model's answer, with the latency it reports."""
        headers = {"content-type": "application/json"}
        if self._api_key:  # only on the way to a hosted model; never recorded (a whitelist)
            headers["authorization"] = f"Bearer {self._api_key}"
        request = httpx2.Request("POST", self._upstream + path.removeprefix("/v1"),
                                 headers=headers, content=body,
                                 extensions={"timeout": UPSTREAM_TIMEOUT})
        try:
            response, latency = cassettes.send_timed(self._send, request)
            content = response.read()
        except (cassettes.ReplayMissError, httpx2.HTTPError) as error:
            message = {"error": {"message": f"Replica {self.name!r}: {error}"}}
            return 502, headers, json.dumps(message).encode()
        if self._live and not session_clock.virtual:  # a real clock: really take longer
            time.sleep(latency * (self.slowdown - 1))
        reported = {"content-type": response.headers.get("content-type", "application/json"),
                    cassettes.LATENCY_HEADER: f"{latency * self.slowdown:.3f}"}
        return response.status_code, reported, content


class _Handler(BaseHTTPRequestHandler):
    """The replica's HTTP face: GET /health, POST /v1/... (chat completions)."""

    protocol_version = "HTTP/1.1"  # keep-alive: a client reuses its connection

    def setup(self) -> None:
        super().setup()
        self.server.replica.connections += 1  # one handler per connection, not per request

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, {"content-type": "application/json"}, b'{"status": "ok"}')
        else:
            self._reply(404, {"content-type": "application/json"}, b'{"error": "not found"}')

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.replica.requests += 1
        self._reply(*self.server.replica.answer(self.path, body))

    def _reply(self, status: int, headers: dict, content: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *_) -> None:
        pass  # one line per request would fill the notebook's output
