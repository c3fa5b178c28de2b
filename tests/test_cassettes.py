"""Cassettes: recorded through labkit as a notebook records, then replayed with no server.

A tiny OpenAI-compatible server on 127.0.0.1 plays the live model. It answers every chat
with "echo: <the last user message>" and sends the headers a real provider sends, secrets
included, so the tests can check that none of them reach the cassette file.
"""
import asyncio
import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
import yaml

import labkit
from labkit.llm import session
from labkit.llm import cassettes

API_KEY = "sk-test-secret-key-000"
COOKIE = "cookie-secret-123"
ORGANIZATION = "org-secret-456"
PROJECT = "proj-secret-789"
REQUEST_ID = "req-secret-abc"


class FakeOpenAI(BaseHTTPRequestHandler):
    """POST /v1/chat/completions, answered like an OpenAI-compatible server would."""

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests_seen.append(request)
        time.sleep(self.server.delay_s)
        answer = "echo: " + request["messages"][-1]["content"]
        body = json.dumps({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
            "model": request["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer}}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", f"session={COOKIE}")
        self.send_header("openai-organization", ORGANIZATION)
        self.send_header("openai-project", PROJECT)
        self.send_header("x-request-id", REQUEST_ID)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def fake_server(request):
    """The fake model server, with an answer delay in seconds given by the fixture param
    (0 unless a test says otherwise with indirect parametrize)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    server.delay_s = getattr(request, "param", 0.0)
    server.requests_seen = []
    server.base_url = f"http://127.0.0.1:{server.server_port}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    stop(server)
    thread.join()


def stop(server):
    """Stop answering and close the port: from now on a request to it is refused.
    Stopping a stopped server does nothing."""
    server.shutdown()
    server.server_close()


def use_recording_backend(monkeypatch, base_url, cassette_dir):
    """The settings `make cassettes` uses for an OpenAI-compatible endpoint."""
    monkeypatch.setenv("LABKIT_BACKEND", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("LABKIT_BASE_URL", base_url)
    monkeypatch.setenv("LABKIT_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("LABKIT_RECORD", "1")
    monkeypatch.setenv("LABKIT_CASSETTE_DIR", str(cassette_dir))


def use_replay_backend(monkeypatch, speed="0"):
    """A learner's settings: replay, no key, no server."""
    monkeypatch.setenv("LABKIT_BACKEND", "replay")
    monkeypatch.setenv("LABKIT_REPLAY_SPEED", speed)
    for variable in ["OPENAI_API_KEY", "LABKIT_BASE_URL", "LABKIT_MODEL", "LABKIT_RECORD"]:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def recording(monkeypatch, tmp_path, fake_server):
    """Record one call, "What is a message bus?", into notebook "rec"'s cassette; return the reply.

    Closing the session saves the cassette, as the end of a `make cassettes` run does.
    """
    use_recording_backend(monkeypatch, fake_server.base_url, tmp_path)
    labkit.setup("rec", labkit.__version__)
    reply = labkit.chat("What is a message bus?")
    session.active_session().close()
    return reply


@pytest.fixture
def cassette_text(recording, tmp_path):
    return (tmp_path / "rec" / "calls.yaml").read_text()


# Recording

def test_recording_calls_the_live_server_once(recording, fake_server):
    assert recording.text == "echo: What is a message bus?"
    assert len(fake_server.requests_seen) == 1


def test_recording_is_saved_when_the_session_closes(recording, tmp_path):
    saved = yaml.safe_load((tmp_path / "rec" / "calls.yaml").read_text())

    assert len(saved["interactions"]) == 1


@pytest.mark.parametrize("secret", [API_KEY, "Bearer", COOKIE, ORGANIZATION, PROJECT, REQUEST_ID])
def test_cassette_leaves_out_secret(cassette_text, secret):
    assert secret not in cassette_text


def test_cassette_does_not_say_where_the_server_was(cassette_text, fake_server):
    assert "127.0.0.1" not in cassette_text
    assert f":{fake_server.server_port}" not in cassette_text


def test_cassette_records_uris_under_model_invalid(cassette_text):
    request = yaml.safe_load(cassette_text)["interactions"][0]["request"]

    assert request["uri"] == "http://model.invalid/v1/chat/completions"


def test_cassette_keeps_content_type_and_latency_response_headers(cassette_text):
    response = yaml.safe_load(cassette_text)["interactions"][0]["response"]

    assert set(response["headers"]) == {"content-type", "x-labkit-latency-s"}


def test_cassette_carries_its_provenance(cassette_text):
    provenance = yaml.safe_load(cassette_text)["metadata"]["provenance"]

    assert provenance == {
        "backend": "openai",
        "model": "gpt-4o-mini",
        "labkit": labkit.__version__,
        "date": datetime.date.today().isoformat(),
    }


# Replay

def test_replay_gives_the_recorded_answer_with_the_server_gone(recording, fake_server, monkeypatch):
    stop(fake_server)
    use_replay_backend(monkeypatch)
    labkit.setup("rec", labkit.__version__)

    reply = labkit.chat("What is a message bus?")

    assert reply.text == "echo: What is a message bus?"
    assert reply.usage.model == "gpt-4o-mini"
    assert len(fake_server.requests_seen) == 1  # still only the recording's request


def test_async_replay_gives_the_recorded_answer(recording, fake_server, monkeypatch):
    stop(fake_server)
    use_replay_backend(monkeypatch)
    labkit.setup("rec", labkit.__version__)

    reply = asyncio.run(labkit.achat("What is a message bus?"))

    assert reply.text == "echo: What is a message bus?"


def test_replay_session_takes_model_and_backend_from_provenance(recording, monkeypatch):
    use_replay_backend(monkeypatch)

    session = labkit.setup("rec", labkit.__version__)

    assert session.model == "gpt-4o-mini"
    assert session.model_backend == "openai"


def test_replay_matches_whatever_the_host(recording, fake_server, monkeypatch):
    stop(fake_server)
    use_replay_backend(monkeypatch)
    labkit.setup("rec", labkit.__version__)
    # Nothing listens on port 1: only the cassette can answer this client.
    elsewhere = openai.OpenAI(base_url="http://localhost:1/v1", api_key="unused", max_retries=0)

    reply = labkit.chat("What is a message bus?", client=elsewhere)

    assert reply.text == "echo: What is a message bus?"


def test_unrecorded_prompt_raises_replay_miss_error(recording, fake_server, monkeypatch):
    stop(fake_server)
    use_replay_backend(monkeypatch)
    labkit.setup("rec", labkit.__version__)

    with pytest.raises(labkit.ReplayMissError):
        labkit.chat("What is a blackboard?")


def test_replay_miss_names_the_notebook_the_cassette_and_the_ways_on(recording, tmp_path,
                                                                      monkeypatch):
    use_replay_backend(monkeypatch)
    labkit.setup("rec", labkit.__version__)

    with pytest.raises(labkit.ReplayMissError) as error:
        labkit.chat("What is a blackboard?")

    message = str(error.value)
    assert "notebook rec" in message
    assert str(tmp_path / "rec" / "calls.yaml") in message
    assert "LABKIT_BACKEND=local" in message
    assert "make cassettes" in message


def test_a_changed_parameter_is_a_replay_miss_too(recording, monkeypatch):
    use_replay_backend(monkeypatch)
    labkit.setup("rec", labkit.__version__)

    with pytest.raises(labkit.ReplayMissError):
        labkit.chat("What is a message bus?", max_tokens=50)


# Replay speed: the one place where the tests measure time.

@pytest.mark.parametrize("fake_server", [1.0], indirect=True)
def test_recording_stores_how_long_the_model_took(cassette_text):
    response = yaml.safe_load(cassette_text)["interactions"][0]["response"]

    assert float(response["headers"]["x-labkit-latency-s"][0]) >= 1.0


@pytest.mark.parametrize("fake_server", [1.0], indirect=True)
def test_replay_speed_one_waits_as_long_as_the_recording(recording, monkeypatch):
    use_replay_backend(monkeypatch, speed="1")
    labkit.setup("rec", labkit.__version__)

    started = time.perf_counter()
    reply = labkit.chat("What is a message bus?")
    waited = time.perf_counter() - started

    assert reply.usage.latency_s >= 1.0  # the recorded latency, from the cassette
    assert waited >= reply.usage.latency_s


@pytest.mark.parametrize("fake_server", [1.0], indirect=True)
def test_replay_speed_zero_answers_at_once(recording, monkeypatch):
    use_replay_backend(monkeypatch, speed="0")
    labkit.setup("rec", labkit.__version__)

    started = time.perf_counter()
    reply = labkit.chat("What is a message bus?")
    waited = time.perf_counter() - started

    assert reply.usage.latency_s >= 1.0
    assert waited < reply.usage.latency_s


def test_identical_requests_replay_in_recorded_order_then_repeat(monkeypatch, tmp_path,
                                                                  fake_server):
    """The same question asked twice keeps each recording's latency (once fast, once slow);
    a third ask, as when a learner re-runs a cell, replays a recording again."""
    use_recording_backend(monkeypatch, fake_server.base_url, tmp_path)
    labkit.setup("rec", labkit.__version__)
    for delay_s in (0.0, 0.4):
        fake_server.delay_s = delay_s
        labkit.chat("Same question")
    session.active_session().close()
    use_replay_backend(monkeypatch)
    labkit.setup("rec", labkit.__version__)

    fast, slow, again = (labkit.chat("Same question").usage.latency_s for _ in range(3))

    assert fast < 0.4 <= slow
    assert again == fast


@pytest.mark.parametrize("fake_server", [0.5], indirect=True)
def test_replay_speed_can_be_changed_for_a_block(recording, monkeypatch):
    use_replay_backend(monkeypatch, speed="0")
    lab = labkit.setup("rec", labkit.__version__)

    with lab.replay_speed(1):
        started = time.perf_counter()
        labkit.chat("What is a message bus?")
        paced = time.perf_counter() - started
    started = time.perf_counter()
    labkit.chat("What is a message bus?")
    after = time.perf_counter() - started

    assert paced >= 0.5 > after


def test_replay_speed_out_of_range_says_what_works(unit_session):
    with pytest.raises(ValueError, match="from 0"):
        with unit_session.replay_speed(-1):
            pass


# The scrubbing hooks on their own

def test_request_scrub_keeps_content_type_and_drops_everything_else():
    from vcr.request import Request

    request = Request("POST", "http://127.0.0.1:8000/v1/chat/completions?api-version=1", b"{}",
                      {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}",
                       "api-key": API_KEY, "OpenAI-Organization": ORGANIZATION})

    scrubbed = cassettes._scrub_request(request)

    assert dict(scrubbed.headers) == {"Content-Type": "application/json"}
    assert scrubbed.uri == "http://model.invalid/v1/chat/completions?api-version=1"


def test_request_scrub_leaves_the_live_request_alone():
    from vcr.request import Request

    request = Request("POST", "http://127.0.0.1:8000/v1/chat/completions", b"{}",
                      {"Authorization": f"Bearer {API_KEY}"})

    cassettes._scrub_request(request)

    assert request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_response_scrub_keeps_content_type_and_latency_only():
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": ["application/json"], "x-labkit-latency-s": ["0.250"],
                    "Set-Cookie": [f"session={COOKIE}"], "openai-organization": [ORGANIZATION],
                    "openai-project": [PROJECT], "x-request-id": [REQUEST_ID]},
        "body": {"string": b"{}"},
    }

    scrubbed = cassettes._stamp_and_scrub_response(response)

    assert scrubbed["headers"] == {"Content-Type": ["application/json"],
                                   "x-labkit-latency-s": ["0.250"]}
