"""Where a session's calls go: the backend's address, and the openai clients that reach it."""
from __future__ import annotations

from functools import cached_property

import openai

from . import transports
from .config import Config

REPLAY_BASE_URL = "http://127.0.0.1:9/v1"  # the discard port: a request that escaped replay goes nowhere


def base_url_for(config: Config) -> str | None:
    """The backend's address; for the local backend, its server is started (once per process).

    None means the OpenAI API itself, the SDK's default.
    """
    if config.backend == "local":
        from . import local_model  # loads llama.cpp only for the local backend

        return local_model.shared_server(config.local_port).base_url
    if config.backend == "openai":
        return config.base_url
    return REPLAY_BASE_URL


class Clients:
    """A sync and an async openai client over transports that time live answers for the
    recording, and give replayed ones their recorded latency (transports.PacedTransport)."""

    def __init__(self, config: Config, base_url: str | None) -> None:
        self.config = config
        self.base_url = base_url
        self.transports = (transports.PacedTransport(speed=config.replay_speed),
                           transports.AsyncPacedTransport(speed=config.replay_speed))

    @cached_property
    def sync(self) -> openai.OpenAI:
        return openai.OpenAI(http_client=openai.DefaultHttpxClient(transport=self.transports[0]),
                             **self._options())

    @cached_property
    def async_(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            http_client=openai.DefaultAsyncHttpxClient(transport=self.transports[1]),
            **self._options())

    def _options(self) -> dict:
        return {
            "base_url": self.base_url,
            "api_key": self.config.api_key or "no-key-needed",
            # Retries only help a remote service; locally and in replay they would hide the error.
            "max_retries": 2 if self.config.backend == "openai" else 0,
        }

    @property
    def speed(self) -> float:
        """Replayed answers wait `speed` times their recorded latency (off a virtual clock)."""
        return self.transports[0].speed

    @speed.setter
    def speed(self, speed: float) -> None:
        for transport in self.transports:
            transport.speed = speed
