"""labkit: the helper package behind the Module 8 notebooks, "Advanced AI Agent Patterns".

The names below are the public surface; the subpackages hold the rest:
llm/ (models, cassettes, usage), observe/ (traces, pictures), patterns/ (arranging and
protecting agents), checks/ (exercise checks), grading/ (what instructors run).

Each name is imported when it is first used (PEP 562): `import labkit.checks` in a grader's
checker must not pay for the openai SDK and pandas, a second or more of start-up each.
"""
from importlib import import_module

from ._version import LabkitVersionError, __version__

_WHERE = {  # public name -> the module that defines it
    "setup": "llm.session", "chat": "llm.chat", "achat": "llm.chat", "ledger": "llm.chat",
    "Reply": "llm.chat", "run": "llm.model_loop", "override": "llm.override",
    "Agent": "agents", "Usage": "llm.usage", "Ledger": "llm.usage",
    "ConfigError": "llm.config", "ReplayMissError": "llm.cassettes",
}

__all__ = [*_WHERE, "LabkitVersionError", "__version__"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'labkit' has no attribute {name!r}")
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # found once: later lookups are ordinary
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
