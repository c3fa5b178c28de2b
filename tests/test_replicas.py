"""Model replicas: real HTTP servers on 127.0.0.1 that answer with their model's latency (times
their slowdown), pass through the cassette unrecorded, and say clearly when they are gone."""
import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import openai
import pytest
import yaml

import labkit
from labkit.llm import cassettes
from labkit.llm.clock import now
from labkit.llm.replicas import Replica, ReplicaError


def completion(text: str) -> dict:
    return {"id": "canned", "object": "chat.completion", "created": 0, "model": "canned",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


class CannedModel(httpx2.BaseTransport):
    """A replica's model: answers at once, stamped with the latency its prompt names."""

    def handle_request(self, request):
        prompt = json.loads(request.content)["messages"][-1]["content"]
        return httpx2.Response(200, json=completion(f"answered {prompt}"),
                               headers={cassettes.LATENCY_HEADER: prompt.split("took ")[1]})


def canned(replica: Replica) -> Replica:
    replica.start()
    replica._send = CannedModel()  # where the replica asks its model
    return replica


def test_a_replica_answers_with_its_models_latency_times_its_slowdown(unit_session):
    async def main():
        with canned(Replica("fast")) as fast, canned(Replica("slow", slowdown=3)) as slow:
            started = now()
            replies = await asyncio.gather(
                labkit.achat("took 1.5", client=fast.client),
                labkit.achat("took 1.5", client=slow.client))
            return replies, now() - started

    (quick, late), elapsed = labkit.run(main())
    assert quick.text == late.text == "answered took 1.5"
    assert (quick.usage.latency_s, late.usage.latency_s) == (1.5, 4.5)
    assert elapsed == pytest.approx(4.5)  # model time: the two overlapped, no wall-clock wait


def test_a_replica_reuses_its_clients_connection(unit_session):
    async def main(replica):
        for _ in range(10):
            await labkit.achat("took 0.1", client=replica.client)

    with canned(Replica("one")) as replica:
        labkit.run(main(replica))
        assert (replica.requests, replica.connections) == (10, 1)


class FakeModelServer(ThreadingHTTPServer):
    """An OpenAI-compatible endpoint over real HTTP, as a hosted model would be."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                self.server.authorizations.append(self.headers.get("authorization"))
                body = json.dumps(completion("from the model")).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.authorizations = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


def test_a_recording_keeps_what_a_replica_asked_its_model_and_replays_it(monkeypatch, tmp_path):
    model = FakeModelServer()
    monkeypatch.setenv("LABKIT_CASSETTE_DIR", str(tmp_path))
    monkeypatch.setenv("LABKIT_BACKEND", "openai")
    monkeypatch.setenv("LABKIT_BASE_URL", model.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-do-not-store")
    monkeypatch.setenv("LABKIT_RECORD", "1")
    lab = labkit.setup("replicas", labkit.__version__)
    with Replica("r") as replica:
        recorded = labkit.run(labkit.achat("hello", client=replica.client))
    lab.close()
    model.shutdown()
    model.server_close()
    assert model.authorizations == ["Bearer sk-test-do-not-store"]  # the model needs the key
    saved = (tmp_path / "replicas" / "calls.yaml").read_text()
    assert "sk-test-do-not-store" not in saved
    uris = [entry["request"]["uri"] for entry in yaml.safe_load(saved)["interactions"]]
    assert uris == ["http://model.invalid/v1/chat/completions"]  # the model's, not the replica's

    for name in ("LABKIT_BACKEND", "LABKIT_BASE_URL", "OPENAI_API_KEY", "LABKIT_RECORD"):
        monkeypatch.delenv(name)
    lab = labkit.setup("replicas", labkit.__version__)  # a replay: the model server is gone
    with Replica("r") as replica:
        replayed = labkit.run(labkit.achat("hello", client=replica.client))
    assert replayed.text == recorded.text == "from the model"
    assert lab.unplayed() == []


def test_a_replica_that_is_not_running_is_named(unit_session):
    replica = Replica("gone")
    with pytest.raises(ReplicaError, match="'gone' is not running: start"):
        replica.client
    replica.start()
    replica.stop()
    with pytest.raises(ReplicaError, match="Replica 'gone' at http://127.0.0.1:[0-9]+ does not answer"):
        replica.check()


def test_a_replica_cannot_be_faster_than_its_model():
    with pytest.raises(ValueError, match="slowdown=0.5: a replica can be slower"):
        Replica("r", slowdown=0.5)


def test_a_replica_says_which_recording_is_missing(unit_session):
    async def main(replica):
        return await labkit.achat("never recorded", client=replica.client)

    with Replica("r") as replica:  # its model is the empty cassette
        with pytest.raises(openai.APIStatusError, match="Replica 'r': No recording for this request"):
            labkit.run(main(replica))
