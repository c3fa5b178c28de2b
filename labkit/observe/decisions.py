"""Decision logs: one record per choice an agent makes, saying why.

    log = DecisionLog()
    log.record("router", inputs={"alert": "A3"}, options=["search", "platform"],
               choice="platform", reason="db-1 is a database")
    log.frame().query("agent == 'router' and choice != 'platform'")

A trace says what ran, when and for how long; a decision log says what an agent saw, what it
could have done, and what it did. Each record names the step span it was made in, so the two
can be joined. Records are plain JSON (`to_jsonl`, `read_jsonl`), one per line.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

from . import trace

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Decision:
    agent: str  # who chose
    inputs: dict  # what it saw
    options: list  # what it could have chosen
    choice: str  # what it chose: one of the options
    reason: str  # why, in a few words
    span: int | None = None  # the step span it was made in (None: no trace was open)
    at: float = 0.0  # model seconds since the trace opened


FIELDS = [f.name for f in fields(Decision)]


class DecisionLog:
    """The decisions of one run, in the order they were made."""

    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def record(self, agent: str, *, inputs: dict, options: list, choice: str,
               reason: str) -> Decision:
        decision = _checked(agent=agent, inputs=inputs, options=list(options), choice=choice,
                            reason=reason)
        run, current = trace.active_trace(), trace.current_span()
        decision = Decision(**decision, span=current.id if current else None,
                            at=round(run.now(), 6) if run else 0.0)
        self.decisions.append(decision)
        return decision

    def frame(self) -> pd.DataFrame:
        """One row per decision; each input is a column of its own (`inputs.alert`, ...)."""
        import pandas as pd

        rows = [{k: v for k, v in asdict(d).items() if k != "inputs"}
                | {f"inputs.{k}": v for k, v in d.inputs.items()} for d in self.decisions]
        return pd.DataFrame(rows, columns=None if rows else FIELDS)

    def to_jsonl(self) -> str:
        return "".join(json.dumps(asdict(d), sort_keys=True) + "\n" for d in self.decisions)

    @classmethod
    def read_jsonl(cls, text: str) -> DecisionLog:
        """A log back from `to_jsonl`; a record that breaks the schema is named by its line."""
        log = cls()
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                missing = [name for name in FIELDS if name not in record]
                if missing:
                    raise ValueError(f"it has no {', '.join(missing)}")
                extra = sorted(set(record) - set(FIELDS))
                if extra:
                    raise ValueError(f"it has fields a decision does not: {', '.join(extra)}")
                checked = _checked(**{k: record[k] for k in
                                      ("agent", "inputs", "options", "choice", "reason")})
            except (json.JSONDecodeError, ValueError) as error:
                raise ValueError(f"Decision log line {number} is not a decision: {error}. "
                                 f"Each line holds {', '.join(FIELDS)}.") from None
            log.decisions.append(Decision(**checked, span=record["span"], at=record["at"]))
        return log

    def __len__(self) -> int:
        return len(self.decisions)


def _checked(*, agent, inputs, options, choice, reason) -> dict:
    if not isinstance(agent, str) or not agent:
        raise ValueError(f"agent={agent!r}: name the agent that chose")
    if not isinstance(inputs, dict):
        raise ValueError(f"inputs={inputs!r}: give what the agent saw as a dict")
    if not options:
        raise ValueError("options=[]: a decision chooses between at least one option")
    if choice not in options:
        raise ValueError(f"choice={choice!r} is not one of the options {options!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"reason={reason!r}: say why, in a few words")
    return {"agent": agent, "inputs": inputs, "options": list(options), "choice": choice,
            "reason": reason}
