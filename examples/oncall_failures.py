"""The planted failures of notebook 07 and bench/attribution.py, each with its known cause.

Written and committed before any attributor, so no attributor was fitted to them. Each is one
`Plant` in one turn of the shift in examples/oncall.py: the cause is that turn's agent and step.

Classes:
    fault    03's fault injector on the turn's model call: the turn itself fails
    wrong    the agent accepts a wrong answer; the damage shows later (a cascade)
    handoff  a message leaves out a field its receiver's contract needs
    lost     a message never arrives; nobody fails, an alert goes unhandled

A cascade is a failure whose first visible sign is not its cause: a wrong answer accepted by
the triager or the router is seen first in the responder's page or ticket, and reported by the
reviewer at the end of the shift. `wrong` plants are cascades; so are the wrong severities on a
host with later alerts, which spread into those alerts' incidents too.
"""
from __future__ import annotations

from dataclasses import dataclass

from oncall import Plant


@dataclass(frozen=True)
class Planted:
    id: str
    plant: Plant
    cascade: bool

    @property
    def failure_class(self) -> str:
        return self.plant.how


def _planted(number: int, agent: str, alert: str, how: str, detail: str = "") -> Planted:
    return Planted(f"F{number:02d}", Plant(agent, alert, how, detail), cascade=how == "wrong")


PLANTED = [
    # 03's faults on a model call: the turn raises where the fault is.
    _planted(1, "triager", "A1", "fault", "server_error"),
    _planted(2, "triager", "A5", "fault", "timeout"),
    _planted(3, "router", "A2", "fault", "not_json"),
    _planted(4, "router", "A8", "fault", "truncated"),
    _planted(5, "triager", "A3", "fault", "rate_limit"),
    _planted(6, "router", "A5", "fault", "disconnect"),
    # Wrong answers, accepted: seen first downstream, reported at the end.
    _planted(7, "triager", "A1", "wrong", "low"),
    _planted(8, "triager", "A3", "wrong", "low"),
    _planted(9, "triager", "A8", "wrong", "high"),
    _planted(10, "triager", "A2", "wrong", "low"),
    _planted(11, "router", "A1", "wrong", "search"),
    _planted(12, "router", "A3", "wrong", "identity"),
    _planted(13, "router", "A8", "wrong", "search"),
    _planted(14, "router", "A2", "wrong", "platform"),
    _planted(15, "router", "A5", "wrong", "identity"),
    # Broken handoffs: the receiver refuses the message.
    _planted(16, "intake", "A2", "handoff", "host"),
    _planted(17, "triager", "A8", "handoff", "severity"),
    _planted(18, "router", "A3", "handoff", "team"),
    _planted(19, "intake", "A4", "handoff", "incident"),
    _planted(20, "triager", "A5", "handoff", "text"),
    # Lost messages: the next agent never hears of the alert.
    _planted(21, "intake", "A8", "lost"),
    _planted(22, "triager", "A3", "lost"),
    _planted(23, "router", "A1", "lost"),
    _planted(24, "intake", "A6", "lost"),
]
