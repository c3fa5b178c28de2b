"""A notebook's session: checks the labkit version, opens its cassette, makes its clients."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import openai
from vcr.cassette import Cassette

from . import __version__, cassettes, config

REPLAY_BASE_URL = "http://127.0.0.1:9/v1"  # the discard port: a request that escaped replay goes nowhere


class LabkitVersionError(RuntimeError):
    """The notebook was written for another labkit than the one installed."""


@dataclass
class Session:
    notebook: str
    config: config.Config
    cassette: Cassette | None = None
    cassette_context: object = field(default=None, repr=False)
    model: str = config.LOCAL_MODEL
    model_backend: str = "local"  # the backend whose answers this session sees (live or recorded)
    base_url: str | None = field(default=None, repr=False)

    @cached_property
    def transports(self) -> tuple[cassettes.PacedTransport, cassettes.AsyncPacedTransport]:
        return (cassettes.PacedTransport(speed=self.config.replay_speed),
                cassettes.AsyncPacedTransport(speed=self.config.replay_speed))

    @cached_property
    def client(self) -> openai.OpenAI:
        return openai.OpenAI(http_client=openai.DefaultHttpxClient(transport=self.transports[0]),
                             **self._client_options())

    @cached_property
    def async_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            http_client=openai.DefaultAsyncHttpxClient(transport=self.transports[1]),
            **self._client_options())

    @contextmanager
    def replay_speed(self, speed: float):
        """Inside the block, replayed answers take `speed` times their recorded latency.

        1 replays the time the model really took, so timing lessons show real effects
        offline; 0 answers at once. Live backends take the time they take.
        """
        if not 0 <= speed <= 100:
            raise ValueError(f"replay_speed({speed!r}): use a number from 0 (instant) to 100; "
                             "1 replays the recorded latency.")
        before = [transport.speed for transport in self.transports]
        for transport in self.transports:
            transport.speed = speed
        try:
            yield
        finally:
            for transport, speed_before in zip(self.transports, before):
                transport.speed = speed_before

    def _client_options(self) -> dict:
        return {
            "base_url": self.base_url,
            "api_key": self.config.api_key or "no-key-needed",
            # Retries only help a remote service; locally and in replay they would hide the error.
            "max_retries": 2 if self.config.backend == "openai" else 0,
        }

    def close(self) -> None:
        """Close the cassette (a recording is saved now) and end the session."""
        global _current
        if self.cassette_context is not None:
            cassettes.close_cassette(self.cassette_context)
            self.cassette_context = None
        if _current is self:
            _current = None

    def describe(self) -> str:
        """One line: which labkit, notebook, backend and model, and where answers come from."""
        if self.cassette is None:
            source = f"live, not recorded ({self.base_url or 'the OpenAI API'})"
        else:
            path = Path(self.cassette.path)
            if path.is_relative_to(config.REPO_ROOT):
                path = path.relative_to(config.REPO_ROOT)
            source = (f"recording to {path}" if self.config.record
                      else f"replaying {len(self.cassette)} recorded calls from {path}")
        return (f"labkit {__version__} | notebook {self.notebook} | backend {self.config.backend} "
                f"| model {self.model} | {source}")


_current: Session | None = None


def check_version(wanted: str) -> None:
    """The installed labkit must match the notebook's major.minor version."""
    installed = __version__.split(".")[:2]
    if wanted.split(".")[:2] != installed:
        raise LabkitVersionError(
            f"This notebook was written for labkit {wanted}, but the kernel has labkit "
            f"{__version__}. From the course folder run `make lab` (it installs the matching "
            "labkit), then restart the kernel."
        )


def setup(notebook: str, version: str) -> Session:
    """Start a notebook: check labkit's version, open its cassette, print where answers come from."""
    global _current
    check_version(version)
    if _current is not None:
        _current.close()  # a notebook re-running its setup cell
    settings = config.load()
    session = Session(notebook, settings, model=settings.model, model_backend=settings.backend)
    if settings.backend == "local":
        from . import local  # loads llama.cpp only for the local backend

        # Started before the cassette opens, so its health checks are not recorded.
        session.base_url = local.shared_server(settings.local_port).base_url
    elif settings.backend == "openai":
        session.base_url = settings.base_url
    else:
        session.base_url = REPLAY_BASE_URL
    session.cassette, session.cassette_context = cassettes.open_cassette(settings, notebook, __version__)
    if session.cassette is not None and not settings.record:
        recorded = cassettes.provenance(session.cassette) or {}
        session.model = recorded.get("model", session.model)
        session.model_backend = recorded.get("backend", "local")
    _current = session
    _deterministic_figures()
    print(session.describe())
    return session


def current() -> Session:
    if _current is None:
        raise RuntimeError(
            "No labkit session: run the notebook's first code cell, "
            "labkit.setup(<notebook name>, <version>), before calling a model."
        )
    return _current


def _deterministic_figures() -> None:
    """SVG figures with no date and a fixed hash salt, so re-running a notebook changes nothing."""
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "labkit"
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("svg", metadata={"Date": None})
