"""Settings from the environment, validated once, with errors that name the fix."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .local_model import MODEL_NAME as LOCAL_MODEL

BACKENDS = ("replay", "local", "openai")
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
REPO_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A setting is missing or invalid; the message says what to set."""


@dataclass(frozen=True)
class Config:
    backend: str = "replay"
    model: str = LOCAL_MODEL
    base_url: str | None = None
    api_key: str | None = None
    replay_speed: float = 0.0
    record: bool = False
    local_port: int = 0
    cassette_dir: Path = REPO_ROOT / "cassettes"
    grading: bool = False  # run by the grader: nothing waits for real (LABKIT_GRADING=1)

    @property
    def live(self) -> bool:
        return self.backend != "replay"


def load(env: dict[str, str] | None = None) -> Config:
    """Read LABKIT_* settings (and OPENAI_API_KEY) from `env`, default os.environ."""
    env = os.environ if env is None else env
    backend = env.get("LABKIT_BACKEND", "replay").strip().lower() or "replay"
    if backend not in BACKENDS:
        raise ConfigError(
            f"LABKIT_BACKEND={backend!r} is not a backend. Set it to one of "
            f"{', '.join(BACKENDS)} (or unset it to replay the recorded cassettes)."
        )

    api_key = env.get("OPENAI_API_KEY") or None
    if backend == "openai" and not api_key:
        raise ConfigError(
            "LABKIT_BACKEND=openai needs OPENAI_API_KEY. Set it to your key "
            "(for Ollama, vLLM or LM Studio any non-empty value works, e.g. "
            "OPENAI_API_KEY=local), or use LABKIT_BACKEND=local for the model on this machine."
        )

    speed_text = env.get("LABKIT_REPLAY_SPEED", "0")
    try:
        replay_speed = float(speed_text)
    except ValueError:
        replay_speed = -1.0
    if not 0 <= replay_speed <= 100:
        raise ConfigError(
            f"LABKIT_REPLAY_SPEED={speed_text!r} is not a number from 0 to 100. "
            "Use 0 to replay instantly or 1 to wait as long as the recorded model took."
        )

    record = env.get("LABKIT_RECORD", "0").strip().lower() not in ("", "0", "false", "no", "off")
    if record and backend == "replay":
        raise ConfigError(
            "LABKIT_RECORD=1 records from a live model, but LABKIT_BACKEND is replay. "
            "Set LABKIT_BACKEND=local (or openai), or run `make cassettes`."
        )

    port_text = env.get("LABKIT_LOCAL_PORT", "0")
    if not (port_text.isascii() and port_text.isdigit() and int(port_text) <= 65535):
        raise ConfigError(
            f"LABKIT_LOCAL_PORT={port_text!r} is not a port number. Unset it to let the "
            "local model take a free port, or give a number from 1 to 65535."
        )

    default_model = OPENAI_DEFAULT_MODEL if backend == "openai" else LOCAL_MODEL
    return Config(
        backend=backend,
        model=env.get("LABKIT_MODEL") or default_model,
        base_url=env.get("LABKIT_BASE_URL") or None,
        api_key=api_key,
        replay_speed=replay_speed,
        record=record,
        local_port=int(port_text),
        grading=env.get("LABKIT_GRADING", "0").strip() == "1",
        cassette_dir=Path(env.get("LABKIT_CASSETTE_DIR") or REPO_ROOT / "cassettes"),
    )
