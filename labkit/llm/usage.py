"""Usage records and the ledger that sums them per agent and per model."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from .local_model import MODEL_NAME as LOCAL_MODEL

if TYPE_CHECKING:
    import pandas as pd

# Example list prices in USD per million tokens (input, output), for the cost lessons.
# Check your provider's price page before trusting a bill to them.
PRICES: dict[str, tuple[float, float]] = {
    LOCAL_MODEL: (0.0, 0.0),  # runs on your own CPU
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}


def price_of(model: str) -> tuple[float, float]:
    """(input, output) USD per million tokens. A dated name, as a provider answers with
    (gpt-4o-mini-2024-07-18), takes its family's price; a model not in PRICES costs 0."""
    if model in PRICES:
        return PRICES[model]
    families = [name for name in PRICES if model.startswith(f"{name}-")]
    return PRICES[max(families, key=len)] if families else (0.0, 0.0)


def check_priced_as(model: str) -> None:
    """A tier priced as a model PRICES does not list would cost 0 without a word: refuse it."""
    if model not in PRICES:
        raise ValueError(f"priced_as={model!r}: no price for it in labkit.usage.PRICES. Priced "
                         f"models: {', '.join(PRICES)} (or add its price there).")


def cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD for one call of `model` at PRICES."""
    price_in, price_out = price_of(model)
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000


@dataclass(frozen=True)
class Usage:
    notebook: str
    agent: str
    model: str  # the model that answered, as its reply names it
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost_usd: float
    agent_version: str = ""  # the asking Agent's version; "" for a call made without one
    priced_as: str = ""  # the hosted model this call's tier stands for, if not the one that answered

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Ledger:
    """Every model call's Usage, in order; shown as a table, summed per agent or model."""

    def __init__(self) -> None:
        self.records: list[Usage] = []

    def add(self, usage: Usage) -> None:
        self.records.append(usage)

    def clear(self) -> None:
        self.records.clear()

    def __len__(self) -> int:
        return len(self.records)

    def frame(self) -> pd.DataFrame:
        """One row per call."""
        import pandas as pd  # only when a table is asked for: a grader never does

        columns = list(Usage.__dataclass_fields__)
        rows = [asdict(u) | {"total_tokens": u.total_tokens} for u in self.records]
        return pd.DataFrame(rows, columns=columns + ["total_tokens"])

    def summary(self, by: str = "agent") -> pd.DataFrame:
        """Calls, tokens, latency and cost summed per `by` (agent, model or notebook)."""
        if by not in ("agent", "model", "priced_as", "notebook"):
            raise ValueError(f"summary(by={by!r}): choose 'agent', 'model', 'priced_as' or "
                             "'notebook'.")
        sums = ["prompt_tokens", "completion_tokens", "total_tokens", "latency_s", "cost_usd"]
        frame = self.frame()
        grouped = frame.groupby(by, sort=False)
        table = grouped[sums].sum()
        table.insert(0, "calls", grouped.size())
        return table

    def totals(self) -> dict[str, float]:
        """Calls, tokens, latency and cost over the whole ledger."""
        return {
            "calls": len(self.records),
            "prompt_tokens": sum(u.prompt_tokens for u in self.records),
            "completion_tokens": sum(u.completion_tokens for u in self.records),
            "total_tokens": sum(u.total_tokens for u in self.records),
            "latency_s": sum(u.latency_s for u in self.records),
            "cost_usd": sum(u.cost_usd for u in self.records),
        }

    def _repr_html_(self) -> str:
        return self.frame()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.frame())
