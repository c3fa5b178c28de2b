"""A notebook's session: its settings, where its calls go, and its cassette.

    lab = labkit.setup("01_multi_agent_systems", version="0.2")

There is one active session per process; running the setup cell again replaces it.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from vcr.cassette import Cassette

from .._version import __version__, check_version
from ..observe.figures import deterministic_figures
from . import cassettes, config
from .clients import Clients, base_url_for
from .clock import session_clock
from .model_loop import run_cells_on_model_time


@dataclass
class Session:
    notebook: str
    config: config.Config
    clients: Clients
    model: str  # what a request names unless the call or an override says otherwise
    model_backend: str  # the backend whose answers this session sees, live or recorded
    cassette: Cassette | None = None
    cassette_context: object = field(default=None, repr=False)

    @contextmanager
    def replay_speed(self, speed: float):
        """A block whose replayed answers take `speed` times their recorded latency.

        0 counts each latency on the virtual clock (model time) and answers at once; 1 waits
        as long as the model really took, so the wall clock shows what model time computes.
        Live backends take the time they take.
        """
        if not 0 <= speed <= 100:
            raise ValueError(f"replay_speed({speed!r}): use a number from 0 (model time, no "
                             "wait) to 100; 1 waits the recorded latency.")
        before = self.clients.speed
        # A waiting replay only shows a learner the wall clock; a grader never looks at it.
        self._use_speed(0 if self.config.grading else speed)
        try:
            yield
        finally:
            self._use_speed(before)

    def _use_speed(self, speed: float) -> None:
        self.clients.speed = speed
        # Model time is counted, not waited for, in a replay that does not wait, and while
        # recording: a live answer takes its real time, a backoff or a timeout none, so a
        # recording's schedule is the replay's (and recording a 30 s backoff takes no 30 s).
        session_clock.virtual = self.config.record or (self.config.backend == "replay" and speed == 0)

    def unplayed(self) -> list[str]:
        """Recordings of this notebook's cassette that no call has asked for (replay only)."""
        if self.cassette is None or self.config.record:
            return []
        return cassettes.unplayed(self.cassette)

    @property
    def grading(self) -> bool:
        """Run by the grader: a course cell that cannot run in its sandbox (a nested sandbox,
        a cluster) checks this, and says why it is skipped; no check depends on such a cell."""
        return self.config.grading

    def close(self) -> None:
        """Close the cassette (a recording is saved now) and end the session."""
        global _active
        if self.cassette_context is not None:
            cassettes.close_cassette(self.cassette_context)
            self.cassette_context = None
        if _active is self:
            _active = None
            session_clock.virtual = False  # no session, no replay: model time is the wall clock

    def describe(self) -> str:
        """One line: which labkit, notebook, backend and model, and where answers come from."""
        if self.cassette is None:
            source = f"live, not recorded ({self.clients.base_url or 'the OpenAI API'})"
        else:
            path = Path(self.cassette.path)
            if path.is_relative_to(config.REPO_ROOT):
                path = path.relative_to(config.REPO_ROOT)
            source = (f"recording to {path}" if self.config.record
                      else f"replaying {len(self.cassette)} recorded calls from {path}")
        return (f"labkit {__version__} | notebook {self.notebook} | backend {self.config.backend} "
                f"| model {self.model} | {source}")


_active: Session | None = None


def setup(notebook: str, version: str) -> Session:
    """Start a notebook: check labkit's version, open its cassette, print where answers come from."""
    global _active
    check_version(version)
    end_session()  # a notebook re-running its setup cell
    settings = config.load()
    # The local server starts before the cassette opens, so its health checks are not recorded.
    clients = Clients(settings, base_url_for(settings))
    session = Session(notebook, settings, clients, model=settings.model,
                      model_backend=settings.backend)
    session.cassette, session.cassette_context = cassettes.open_cassette(settings, notebook, __version__)
    if session.cassette is not None and not settings.record:
        recorded = cassettes.provenance(session.cassette) or {}
        session.model = recorded.get("model", session.model)
        session.model_backend = recorded.get("backend", "local")
    session._use_speed(settings.replay_speed)
    session_clock.restart(session_clock.virtual)
    run_cells_on_model_time()
    _active = session
    deterministic_figures(grading=settings.grading)
    print(session.describe())
    return session


def active_session() -> Session:
    """The session labkit.setup started; an error that says how to start one if there is none."""
    if _active is None:
        raise RuntimeError(
            "No labkit session: run the notebook's first code cell, "
            "labkit.setup(<notebook name>, <version>), before calling a model."
        )
    return _active


def end_session() -> None:
    """Close the active session, if there is one: its cassette is saved and released."""
    if _active is not None:
        _active.close()
