"""The planted failures of examples/oncall_failures.py, each run and then blamed by every
method in labkit.observe.attribution (notebook 07 and bench/attribution.py)."""
from __future__ import annotations

from dataclasses import dataclass

from labkit import Agent
from labkit.observe import attribution

import oncall
from oncall_failures import PLANTED, Planted

JUDGE = Agent("judge", "blame a step", (
    "You debug runs of agents. Given the numbered steps of a failed run and what went wrong, "
    "name the step that caused the failure. Answer in JSON."))
METHODS = ("first error", "trace diff", "rules", "judge")


@dataclass(frozen=True)
class Attributed:
    planted: Planted
    shift: oncall.Shift
    blames: dict  # method -> Blame

    @property
    def truth(self) -> tuple[str, int]:
        return self.planted.plant.agent, self.shift.planted_step


def attribute(planted: Planted, good: oncall.Shift, *, judge: Agent = JUDGE) -> Attributed:
    """Run one planted failure and blame it with each method; the good run is the reference."""
    shift = oncall.Shift(plant=planted.plant).run()
    if shift.outcome() == good.outcome():
        raise ValueError(f"{planted.id} changed nothing in the shift's outcome: it is no failure.")
    new_findings = [f for f in shift.findings if f not in good.findings]
    blames = {"first error": attribution.first_error(shift.trace),
              "trace diff": attribution.by_diff(shift.trace, good.trace),
              "rules": attribution.by_rules(shift.trace, good.trace, shift.log, good.log),
              "judge": attribution.by_judge(shift.trace, new_findings, judge=judge)}
    return Attributed(planted, shift, blames)


def attribute_all(*, judge: Agent = JUDGE) -> tuple[oncall.Shift, list[Attributed]]:
    good = oncall.Shift().run()
    return good, [attribute(planted, good, judge=judge) for planted in PLANTED]


def scores(attributed: list[Attributed]) -> dict:
    return attribution.score([(a.planted.failure_class, blame, *a.truth)
                              for a in attributed for blame in a.blames.values()])
