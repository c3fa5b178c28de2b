"""labkit: the helper package behind the Module 8 notebooks, "Advanced AI Agent Patterns".

The names below are the public surface; the subpackages hold the rest:
llm/ (models, cassettes, usage), observe/ (traces, pictures), patterns/ (arranging and
protecting agents), checks/ (exercise checks), grading/ (what instructors run).
"""
from ._version import LabkitVersionError, __version__
from .agents import Agent
from .llm.cassettes import ReplayMissError
from .llm.chat import Reply, achat, chat, ledger
from .llm.config import ConfigError
from .llm.model_loop import run
from .llm.override import override
from .llm.session import setup
from .llm.usage import Ledger, Usage

__all__ = ["setup", "chat", "achat", "run", "override", "ledger", "Agent", "Reply", "Usage", "Ledger",
           "ConfigError", "ReplayMissError", "LabkitVersionError", "__version__"]
