"""The local model: SmolLM2-135M-Instruct served by llama.cpp (xllamacpp) on 127.0.0.1.

The first two tests start the real model (about a second) and stop it again.
"""
import socket
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import labkit
import labkit.llm.local_model as local_model
from labkit.llm import session
from labkit.llm.local_model import LocalModelError, LocalServer

PROMPT = "Name one HTTP method."


@pytest.fixture
def local_backend(monkeypatch, tmp_path):
    """Record from the local model into tmp_path; the server is stopped after the test,
    even when it fails."""
    monkeypatch.setenv("LABKIT_BACKEND", "local")
    monkeypatch.setenv("LABKIT_RECORD", "1")
    monkeypatch.setenv("LABKIT_CASSETTE_DIR", str(tmp_path))
    yield
    local_model.stop_shared_server()


def test_stopping_the_local_server_frees_its_port(local_backend):
    session = labkit.setup("local", labkit.__version__)
    port = urllib.parse.urlsplit(session.clients.base_url).port
    labkit.chat(PROMPT, max_tokens=20)
    session.close()

    local_model.stop_shared_server()

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_local_recording_replays_the_same_answer(local_backend, monkeypatch):
    labkit.setup("local", labkit.__version__)
    live = labkit.chat(PROMPT, max_tokens=20)
    session.active_session().close()  # saves the recording
    local_model.stop_shared_server()
    monkeypatch.setenv("LABKIT_BACKEND", "replay")
    monkeypatch.delenv("LABKIT_RECORD")
    labkit.setup("local", labkit.__version__)

    replayed = labkit.chat(PROMPT, max_tokens=20)

    assert live.text != ""
    assert replayed.text == live.text
    assert replayed.usage.model == "SmolLM2-135M-Instruct"


def test_model_file_is_the_gguf_inside_the_installed_package():
    assert local_model.model_file().suffix == ".gguf"


def test_model_file_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(local_model.importlib.util, "find_spec", lambda name: None)

    with pytest.raises(LocalModelError, match="--install"):
        local_model.model_file()


def test_base_url_before_start_says_to_start_the_server():
    with pytest.raises(LocalModelError, match="start()"):
        LocalServer().base_url


def test_start_on_a_busy_port_raises_local_model_error():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy_port = holder.getsockname()[1]

        with pytest.raises(LocalModelError, match="busy"):
            LocalServer(port=busy_port).start()


class AlwaysLoading(BaseHTTPRequestHandler):
    """A server that never becomes healthy: /health answers 503, as llama.cpp does while loading."""

    def do_GET(self):
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Healthy(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(request):
    """A throw-away server on 127.0.0.1 with the handler class given as the fixture param."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("http_server", [AlwaysLoading], indirect=True)
def test_a_server_that_stays_unhealthy_raises_after_the_timeout(http_server):
    with pytest.raises(LocalModelError) as error:
        local_model.wait_until_healthy(http_server, timeout_s=1.0)

    assert "did not become healthy" in str(error.value)
    assert "HTTP 503" in str(error.value)


@pytest.mark.parametrize("http_server", [Healthy], indirect=True)
def test_a_healthy_server_passes_the_health_check(http_server):
    local_model.wait_until_healthy(http_server, timeout_s=1.0)


@pytest.mark.parametrize("http_server", [Healthy], indirect=True)
def test_health_check_goes_straight_to_127_0_0_1_even_behind_a_proxy(http_server, monkeypatch):
    # A learner behind a company proxy has http_proxy set; the model on their own machine
    # must still be reached directly. Nothing listens on port 1: a proxied request fails.
    for variable in ["no_proxy", "NO_PROXY"]:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    # urllib.request.urlopen() reads the proxy settings once and keeps them: make it read
    # them again now (monkeypatch puts the old opener back after the test).
    monkeypatch.setattr(urllib.request, "_opener", None)

    local_model.wait_until_healthy(http_server, timeout_s=1.0)
