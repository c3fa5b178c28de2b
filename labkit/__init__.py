"""labkit: the helper package behind the Module 8 notebooks, "Advanced AI Agent Patterns"."""
__version__ = "0.1.0"

from .config import ConfigError  # noqa: E402
from .cassettes import ReplayMissError  # noqa: E402
from .llm import Reply, achat, chat, ledger  # noqa: E402
from .session import LabkitVersionError, setup  # noqa: E402
from .usage import Ledger, Usage  # noqa: E402

__all__ = ["setup", "chat", "achat", "ledger", "Reply", "Usage", "Ledger",
           "ConfigError", "ReplayMissError", "LabkitVersionError", "__version__"]
