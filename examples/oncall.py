"""An on-call shift: five agents turn monitoring alerts into pages, tickets and log lines
(notebook 07 and bench/attribution.py). It is the system the notebook debugs.

    intake     new host: the alert goes to the triager; a host with an open incident: the
               alert is attached to that incident (no model)
    triager    rates the severity: low, high or critical (model)
    router     names the team that owns it (model)
    responder  opens the incident: a page for critical, a ticket for high, a log line for low
    reviewer   after the shift, checks every alert against the service catalogue and the
               monitoring's own severity (no model)

Agents pass messages through a `Mailbox`; each turn is a step span linked to the message it
handles, and each choice is a record in the decision log. A turn that raises is kept in the
trace and the shift goes on, as a real one would: the reviewer finds what it left undone.

`Shift` runs one turn at a time (iterate it to step through a replay); `Plant` is a failure put
into one turn on purpose (examples/oncall_failures.py lists the planted ones).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import openai
from pydantic import BaseModel, ValidationError

import labkit
from labkit import Agent
from labkit.observe import trace
from labkit.observe.decisions import DecisionLog
from labkit.patterns.faults import Faults

SEVERITIES = ("low", "high", "critical")
TEAMS = ("payments", "search", "identity", "platform")
ACTION = {"critical": "page", "high": "ticket", "low": "log"}


@dataclass(frozen=True)
class Alert:
    id: str
    host: str
    text: str


ALERTS = [
    Alert("A1", "checkout-1", "Checkout API error rate at 35% for 5 minutes; customers cannot pay."),
    Alert("A2", "search-2", "Search latency p95 is 2.1 s, above the 1.5 s objective."),
    Alert("A3", "db-1", "Disk on db-1 is 91% full and growing 1% an hour."),
    Alert("A4", "checkout-1", "Checkout API error rate still at 30%; payment retries pile up."),
    Alert("A5", "cdn-3", "One CDN edge node serves stale images for 2% of requests."),
    Alert("A6", "search-2", "The nightly search index build finished 20 minutes late."),
    Alert("A7", "db-1", "Replication lag on db-1 is 45 s."),
    Alert("A8", "auth-4", "The sign-in service returns 503 to every user."),
]
# What the reviewer checks against: who owns each host, and the monitoring's own severity.
CATALOGUE = {"checkout-1": "payments", "search-2": "search", "db-1": "platform",
             "cdn-3": "platform", "auth-4": "identity"}
SEVERITY = {"A1": "critical", "A2": "high", "A3": "high", "A4": "critical", "A5": "low",
            "A6": "low", "A7": "high", "A8": "critical"}


# The messages between agents: each receiver validates what it is handed (its contract).
class AlertMessage(BaseModel):
    alert: str
    host: str
    text: str


class Triaged(AlertMessage):
    severity: Literal["low", "high", "critical"]


class Routed(Triaged):
    team: Literal["payments", "search", "identity", "platform"]


class Attach(BaseModel):
    alert: str
    incident: str


CONTRACTS = {"alert": AlertMessage, "triaged": Triaged, "routed": Routed, "attach": Attach}

TRIAGER = Agent("triager", "rate severity", (
    "You rate monitoring alerts. low: nobody is affected yet. high: some users are affected, "
    "or soon will be. critical: users cannot use the product now. Answer in JSON."))
ROUTER = Agent("router", "name the owner", (
    "You name the team that owns an alert. payments: checkout and payments. search: search "
    "and indexing. identity: sign-in and accounts. platform: databases, disks and the CDN. "
    "Answer in JSON."))
SEVERITY_SCHEMA = {"title": "severity", "type": "object", "required": ["severity"],
                   "properties": {"severity": {"enum": list(SEVERITIES)}}}
TEAM_SCHEMA = {"title": "team", "type": "object", "required": ["team"],
               "properties": {"team": {"enum": list(TEAMS)}}}


@dataclass(frozen=True)
class Plant:
    """A failure put into one turn on purpose: `agent`'s turn on `alert` goes wrong by `how`.

    fault    03's fault injector on that turn's model call (`detail`: the kind, e.g. "timeout")
    wrong    the agent accepts a wrong answer (`detail`: the answer, e.g. "low")
    handoff  the message it sends breaks its contract (`detail`: the field left out)
    lost     the message it sends never arrives
    """

    agent: str
    alert: str
    how: Literal["fault", "wrong", "handoff", "lost"]
    detail: str = ""


@dataclass
class Mailbox:
    """One inbox per agent. Each message is a message span; its receiver's turn links to it."""

    plant: Plant | None = None
    inboxes: dict[str, deque] = field(default_factory=lambda: {
        name: deque() for name in ("triager", "router", "responder")})

    def send(self, sender: str, recipient: str, kind: str, content: dict, *, alert: str) -> None:
        if self._planted(sender, alert, "handoff"):
            content = {k: v for k, v in content.items() if k != self.plant.detail}
        sent = trace.message(sender, recipient, kind, alert=alert, fields=",".join(sorted(content)))
        if not self._planted(sender, alert, "lost"):
            self.inboxes[recipient].append((kind, content, sent))

    def _planted(self, agent: str, alert: str, how: str) -> bool:
        plant = self.plant
        return plant is not None and (plant.agent, plant.alert, plant.how) == (agent, alert, how)


class Shift:
    """One shift over `alerts`, turn by turn. `for turn in shift:` steps through it; `run()`
    plays it to the end. The trace, decision log, incidents and findings are attributes."""

    def __init__(self, alerts=ALERTS, *, plant: Plant | None = None, seed: int = 0,
                 triager: Agent = TRIAGER, router: Agent = ROUTER) -> None:
        if plant is not None and plant.alert not in {a.id for a in alerts}:
            raise ValueError(f"Plant on alert {plant.alert!r}, which is not in this shift.")
        self.alerts, self.plant, self.seed = list(alerts), plant, seed
        self.agents = {"triager": triager, "router": router}
        self.trace, self.log, self.mail = trace.Trace(), DecisionLog(), Mailbox(plant)
        self.incidents: dict[str, dict] = {}  # incident id -> {host, team, severity, action, alerts}
        self.findings: list[str] = []
        self.turns: list[tuple[str, str]] = []  # (agent, alert) of each turn, in order
        self.planted_step: int | None = None  # the step the plant went into: the known cause

    def __iter__(self):
        for alert in self.alerts:
            yield self._turn("intake", alert, self._intake)
            for agent, handle in (("triager", self._triage), ("router", self._route),
                                  ("responder", self._respond)):
                if self.mail.inboxes[agent]:
                    yield self._turn(agent, alert, handle)
        yield self._turn("reviewer", None, lambda alert, links: self._review())

    def run(self) -> Shift:
        for _ in self:
            pass
        return self

    def _turn(self, agent: str, alert: Alert | None, handle) -> tuple[int, str, str]:
        step, alert_id = len(self.turns), alert.id if alert else ""
        self.turns.append((agent, alert_id))
        plant = self.plant
        if plant and (plant.agent, plant.alert) == (agent, alert_id):
            self.planted_step = step
        message = self.mail.inboxes[agent].popleft() if agent in self.mail.inboxes else None
        with self.trace:
            try:
                with trace.span(f"{agent} {alert_id}".strip(), agent=agent,
                                links=[message[2]] if message else ()):
                    handle(alert, message)
            except (ValidationError, ValueError, openai.OpenAIError):
                pass  # kept on the span; the reviewer finds what this turn left undone
        return step, agent, alert_id

    # The agents' turns -------------------------------------------------------------------

    def _intake(self, alert: Alert, message) -> None:
        open_incident = next((i for i, inc in self.incidents.items() if inc["host"] == alert.host),
                             None)
        options = ["new incident"] + ([f"attach to {open_incident}"] if open_incident else [])
        self.log.record("intake", inputs={"alert": alert.id, "host": alert.host},
                        options=options, choice=options[-1],
                        reason=f"{alert.host} has {open_incident or 'no'} open incident")
        if open_incident:
            self.mail.send("intake", "responder", "attach",
                           {"alert": alert.id, "incident": open_incident}, alert=alert.id)
        else:
            self.mail.send("intake", "triager", "alert",
                           {"alert": alert.id, "host": alert.host, "text": alert.text},
                           alert=alert.id)

    def _ask(self, name: str, prompt: str, schema: dict, key: str, alert: str) -> str:
        plant, agent = self.plant, self.agents[name]
        planted = plant if plant and (plant.agent, plant.alert) == (name, alert) else None
        if planted and planted.how == "fault":
            with labkit.override(faults=Faults(rate=1, kinds=[planted.detail], seed=self.seed)):
                return agent.ask(prompt, schema=schema, max_tokens=20).data[key]
        answer = agent.ask(prompt, schema=schema, max_tokens=20).data[key]
        return planted.detail if planted and planted.how == "wrong" else answer

    def _triage(self, alert: Alert, message) -> None:
        seen = AlertMessage.model_validate(message[1])
        severity = self._ask("triager", f"Alert on {seen.host}: {seen.text}\nHow severe is it?",
                             SEVERITY_SCHEMA, "severity", seen.alert)
        self.log.record("triager", inputs={"alert": seen.alert, "host": seen.host},
                        options=list(SEVERITIES), choice=severity, reason="the model's answer")
        self.mail.send("triager", "router", "triaged", seen.model_dump() | {"severity": severity},
                       alert=seen.alert)

    def _route(self, alert: Alert, message) -> None:
        seen = Triaged.model_validate(message[1])
        team = self._ask("router", f"Alert on {seen.host} ({seen.severity}): {seen.text}\n"
                         "Which team owns it?", TEAM_SCHEMA, "team", seen.alert)
        self.log.record("router", inputs={"alert": seen.alert, "host": seen.host,
                                          "severity": seen.severity},
                        options=list(TEAMS), choice=team, reason="the model's answer")
        self.mail.send("router", "responder", "routed", seen.model_dump() | {"team": team},
                       alert=seen.alert)

    def _respond(self, alert: Alert, message) -> None:
        kind, content, _ = message
        if kind == "attach":
            seen = Attach.model_validate(content)
            incident = self.incidents[seen.incident]
            incident["alerts"].append(seen.alert)
            self.log.record("responder", inputs={"alert": seen.alert, "incident": seen.incident},
                            options=["attach"], choice="attach", reason="intake found it open")
            return
        seen = Routed.model_validate(content)
        action = ACTION[seen.severity]
        self.log.record("responder", inputs={"alert": seen.alert, "severity": seen.severity,
                                             "team": seen.team},
                        options=sorted(ACTION.values()), choice=action,
                        reason=f"{seen.severity} means {action}")
        self.incidents[f"INC-{seen.alert}"] = {"host": seen.host, "team": seen.team,
                                               "severity": seen.severity, "action": action,
                                               "alerts": [seen.alert]}
        trace.message("responder", seen.team, action, alert=seen.alert)

    def _review(self) -> None:
        self.findings = review(self.alerts, self.incidents)
        if self.findings:
            raise ValueError(f"{len(self.findings)} findings: " + "; ".join(self.findings))

    def outcome(self) -> dict:
        """What the shift did, per alert: the incident's team and action, or nothing."""
        done = {a: (inc["team"], inc["action"]) for inc in self.incidents.values()
                for a in inc["alerts"]}
        return {alert.id: done.get(alert.id) for alert in self.alerts}


def review(alerts: list[Alert], incidents: dict[str, dict]) -> list[str]:
    """Every alert handled, by the team that owns its host, at least as urgently as it needs."""
    rank = {severity: i for i, severity in enumerate(SEVERITIES)}
    handled = {a: inc for inc in incidents.values() for a in inc["alerts"]}
    findings = []
    for alert in alerts:
        incident = handled.get(alert.id)
        if incident is None:
            findings.append(f"{alert.id} was never handled")
            continue
        if incident["team"] != CATALOGUE[alert.host]:
            findings.append(f"{alert.id} went to {incident['team']}, but "
                            f"{CATALOGUE[alert.host]} owns {alert.host}")
        if rank[incident["severity"]] < rank[SEVERITY[alert.id]]:
            findings.append(f"{alert.id} is {SEVERITY[alert.id]} but got a "
                            f"{incident['action']}")
    return findings
