"""Bug intake: three agents turn a user's bug report into a filed ticket (notebook 03, and
bench/faults.py). The triager rates the severity (checked against the bugtracker's rules where they know), the router
names the component (a table says which team owns it), the writer gives the ticket a title; then
the ticket is filed in SQLite: the pipeline's one side effect.

`run_task` runs one report through the pipeline with the recovery layers asked for:
    retry      retries with backoff and jitter, under a run-wide budget (patterns.recovery)
    verify     an answer counts once two asks agree (a fault changes one answer, not two)
    breaker    a circuit breaker in front of the model
    fallback   a stricter prompt, then the bugtracker's own rules, then escalation
    checkpoint every step's output in SQLite; the ticket commits with the last one
Without a layer, what it would have caught ends the task: "failed".

To record what runs under faults need, ask `ask_every_variant(report)` for each report (live,
a faulted run would wait out every backoff and timeout for real).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from labkit import Agent
from labkit.patterns.checkpoint import RunStore
from labkit.patterns.escalation import DeadLetters, EscalationQueue
from labkit.patterns.recovery import (Backoff, CircuitBreaker, Exhausted, Invalid, RetryBudget,
                                      fallback, retry)

from bugtracker.triage import classify

SEVERITIES = ("low", "medium", "high", "critical")
OWNERS = {"auth": "team-identity", "search": "team-discovery", "reports": "team-insights",
          "storage": "team-platform", "ui": "team-web"}
WHERE = {"auth": "when I sign in", "search": "when I search for a bug",
         "reports": "when I export the weekly report", "storage": "when I save a bug",
         "ui": "on the settings page"}
# Two ways to say each severity: the bugtracker's rules know the words of the first, not the second.
WHAT = {"critical": ("all my saved data is corrupted", "every bug I filed yesterday has vanished"),
        "high": ("the app crashes with a traceback", "the page goes blank and nothing works"),
        "medium": ("it is slow and takes a minute", "the results come back in the wrong order"),
        "low": ("there is a typo in the label", "the icons are misaligned")}
# 40 reports, two for each component and severity; the truth is how they were written.
_WRITTEN = [(c, s, w) for w in (0, 1) for c in OWNERS for s in reversed(SEVERITIES)]
REPORTS = {f"BUG-{i + 1}": f"{WHAT[s][w][0].upper()}{WHAT[s][w][1:]} {WHERE[c]}."
           for i, (c, s, w) in enumerate(_WRITTEN)}
TRUTH = {f"BUG-{i + 1}": (s, c) for i, (c, s, w) in enumerate(_WRITTEN)}
KEYWORDS = {"auth": ("sign in",), "search": ("search",), "reports": ("report",),
            "storage": ("save",), "ui": ("settings",)}

RUBRIC = ("Severity: critical = data lost; high = the app crashes; medium = slow or wrong but "
          "usable; low = cosmetic (wording, colours, layout).")
triager = Agent("triager", "rate severity", "You triage bug reports. " + RUBRIC)
router = Agent("router", "name the component",
               "You route bug reports to the component they are about: "
               + ", ".join(f"{c} ({WHERE[c]})" for c in OWNERS) + ".")
writer = Agent("writer", "title tickets", "You write short, plain ticket titles for bug reports.")
AGENTS = {"triage": triager, "route": router, "write": writer}
STEPS = tuple(AGENTS)


# At each agent's door: what it accepts, and what it must give back ------------------------

class Report(BaseModel):
    id: str = Field(pattern=r"^BUG-\d+$")
    text: str = Field(min_length=10, max_length=600)

    @field_validator("text")
    @classmethod
    def printable(cls, text: str) -> str:
        if not text.isprintable():
            raise ValueError("the report holds control characters: send plain text")
        return text


class Triage(BaseModel):
    severity: Literal[SEVERITIES]


class Route(BaseModel):
    component: Literal[tuple(OWNERS)]


class Title(BaseModel):
    title: str = Field(min_length=5, max_length=60)


ANSWERS = {"triage": Triage, "route": Route, "write": Title}
SCHEMAS = {step: model.model_json_schema() | {"title": step} for step, model in ANSWERS.items()}
MAX_TOKENS = {"triage": 30, "route": 30, "write": 40}
CALL_TIMEOUT_S = 30.0  # the SDK's own default is 600 s


def prompt(step: str, report: str, stricter: bool = False, feedback: str | None = None) -> str:
    asked = {"triage": "Rate its severity.",
             "route": "Which component is it about?",
             "write": "Write a title for the ticket, at most 8 words."}[step]
    text = f"Bug report: {report}\n{asked}"
    if stricter:  # the fallback's other prompt: the answer's form spelled out, with no
        # example value, which a model copies
        text += f"\nAnswer with one JSON object only, with the key {KEYS[step]!r}."
    if feedback:
        text += f"\nYour last answer was rejected: {feedback}. Answer again."
    return text


KEYS = {"triage": "severity", "route": "component", "write": "title"}


class Malformed(Invalid):
    """No JSON at all: under a JSON schema, the line garbled it, not the model."""


def check(step: str, text: str, report: str) -> dict:
    """The answer as data, if its schema and its meaning hold; Invalid, saying why, if not."""
    try:
        answer = ANSWERS[step].model_validate_json(text).model_dump()
    except ValidationError as error:
        problem = error.errors()[0]
        if problem["type"] == "json_invalid":  # pydantic's message says where: ours, what
            raise Malformed("the answer is not valid JSON") from None
        raise Invalid(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None
    known = rule(step, report) if step == "triage" else None
    if known is not None and answer != known:  # a claim checked against a tool
        raise Invalid(f"the bugtracker's rules rate this report {known['severity']}")
    return answer


def rule(step: str, report: str) -> dict | None:
    """The bugtracker's own rules, where they know: no model, no fault. None where they don't."""
    if step == "triage":
        severity, labels = classify(report)
        return {"severity": severity} if labels else None
    if step == "route":
        found = [c for c, words in KEYWORDS.items() if any(w in report.lower() for w in words)]
        return {"component": found[0]} if found else None
    return None  # no rule writes a title


# Running a task through the layers ---------------------------------------------------------

@dataclass
class Layers:
    retry: bool = True
    verify: bool = True
    breaker: bool = True
    fallback: bool = True
    attempts: int = 4
    seed: int = 0


@dataclass
class Run:
    """What one run of many tasks shares: its layers, budget, breaker and stores."""

    layers: Layers
    path: str  # the SQLite file for checkpoints, tickets, escalations and dead letters
    budget: RetryBudget = field(default_factory=lambda: RetryBudget(ratio=1.0, minimum=20))
    breaker: CircuitBreaker = field(
        default_factory=lambda: CircuitBreaker("model", failures=8, reset_after=20))

    def __post_init__(self):
        self.store = RunStore(self.path)
        self.store.db.execute("CREATE TABLE IF NOT EXISTS tickets (task TEXT PRIMARY KEY, "
                              "title TEXT, severity TEXT, team TEXT)")
        self.escalations = EscalationQueue(self.path)
        self.dead = DeadLetters(self.path)
        self.backoff = Backoff(base=1.0, cap=20.0, seed=self.layers.seed)


async def ask(run: Run, step: str, report: str, stricter: bool = False) -> dict:
    """One agent's checked answer, through the layers the run has."""
    layers = run.layers

    async def once(last_error):
        # A valid answer that breaks a rule is the model's own error: say which rule. Prose
        # or a cut-off body, under a JSON schema, came from the line: ask again as it was.
        feedback = None
        if isinstance(last_error, Invalid) and not isinstance(last_error, Malformed):
            feedback = str(last_error)
        reply = await _call(run, step, prompt(step, report, stricter, feedback))
        return check(step, reply.text, report)

    async def answer():
        if not layers.retry:
            return await once(None)
        return await retry(once, attempts=layers.attempts, backoff=run.backoff,
                           budget=run.budget, name=AGENTS[step].name)

    if not layers.verify:
        return await answer()
    seen = []
    for _ in range(4):  # two asks that agree; a fault changes one answer, not two
        got = await answer()
        if got in seen:
            return got
        seen.append(got)
    raise Invalid(f"no two of {len(seen)} answers agreed")


async def _call(run: Run, step: str, text: str):
    async def call():
        async with asyncio.timeout(CALL_TIMEOUT_S):  # a call nobody answers ends here
            return await AGENTS[step].aask(text, schema=SCHEMAS[step], max_tokens=MAX_TOKENS[step])
    return await (run.breaker.call(call) if run.layers.breaker else call())


async def decide(run: Run, step: str, report: str) -> tuple[str, dict]:
    """(the tier that answered, its answer): the model, then (with fallback) a stricter
    prompt, then the rules. Raises Exhausted when none gives an answer."""
    if not run.layers.fallback:
        return "model", await ask(run, step, report)
    options = [("model", lambda: ask(run, step, report)),
               ("stricter prompt", lambda: ask(run, step, report, stricter=True))]
    if rule(step, report) is not None:
        options.append(("rule", lambda: _at_once(rule(step, report))))
    used = await fallback(options)
    return used.tier, used.value


async def _at_once(value):
    return value


async def run_task(run: Run, task: str, report_id: str) -> dict:
    """One report through the three agents: {"status": ..., "output": ..., "tiers": ...}.
    Status: "completed", "escalated" (a person must decide), "dead letter" (bad input),
    or "failed" (an error no layer caught)."""
    text = REPORTS.get(report_id, report_id)
    try:
        report = Report(id=report_id, text=text)
    except ValidationError as error:
        run.dead.add(task, "intake", f"invalid report: {error.errors()[0]['msg']}", text)
        return {"status": "dead letter", "output": None, "tiers": {}}
    tiers, output = {}, {}
    for step in STEPS:
        async def decided(step=step):
            tier, answer = await decide(run, step, report.text)
            tiers[step] = tier
            return answer
        try:
            effect = _file(task, output) if step == "write" else None
            output[step] = await run.store.step(task, step, decided, effect)
        except (Exhausted, Invalid) as error:
            run.escalations.escalate(task, f"{step}: {error}"[:300], proposal=output)
            return {"status": "escalated", "output": output, "tiers": tiers}
        except Exception as error:
            return {"status": "failed", "output": output, "tiers": tiers,
                    "error": f"{type(error).__name__}: {error}"[:200]}
    return {"status": "completed", "output": output, "tiers": tiers}


def _file(task: str, output: dict):
    """The side effect: file the ticket, in the transaction that records the last step."""
    def effect(title: dict):
        def commit(db):
            db.execute("INSERT INTO tickets VALUES (?, ?, ?, ?)",
                       (task, title["title"], output["triage"]["severity"],
                        OWNERS[output["route"]["component"]]))
        return commit
    return effect


# What a recording needs -----------------------------------------------------------------

async def ask_every_variant(report: str) -> int:
    """Ask every prompt a run of this report can send, once each; how many that was.

    A recording asks these instead of running faulted runs live: live, every backoff and
    timeout would be waited for in full. A prompt is (step, stricter or not, feedback), and the
    feedback is a rejection: the one a fault can cause (for the triager, a rating the rules
    disagree with), then those of the model's own answers, followed until no new one appears.
    A run under any faults sends only prompts from this set.
    """
    asked = 0
    for step in STEPS:
        known = rule(step, report) if step == "triage" else None
        for stricter in (False, True):
            pending = [None]
            if known is not None:
                pending.append(f"the bugtracker's rules rate this report {known['severity']}")
            seen = set()
            while pending:
                feedback = pending.pop()
                if feedback in seen:
                    continue
                seen.add(feedback)
                reply = await AGENTS[step].aask(prompt(step, report, stricter, feedback),
                                                schema=SCHEMAS[step], max_tokens=MAX_TOKENS[step])
                asked += 1
                try:
                    check(step, reply.text, report)
                except Invalid as rejected:
                    if not isinstance(rejected, Malformed):  # not fed back (see ask)
                        pending.append(str(rejected))
    return asked
