"""The labelled workload of notebook 04 and bench/cost.py: give each of the 40 bug reports of
examples/intake.py its severity and its component. The labels are intake.TRUTH, fixed in notebook
03 before any optimising here, and every design is scored against them (`score`).

From the baseline to the optimised, each step one change:
    few_shot(bug)       one call, the long few-shot prompt, both answers    priced as gpt-4o
    short(bug)          one call, short instructions, no examples           priced as gpt-4o-mini
    batch(bugs)         several reports in one request (an array schema)    priced as gpt-4o-mini
    tiered(bugs)        the bugtracker's rules first; the short prompt, batched, for what they
                        do not know; the few-shot prompt for an answer that fails validation
Under LABKIT_BACKEND=openai each tier asks the hosted model it is priced as; otherwise every
tier is the one local model, and the ledger says so (`model`), beside `priced_as`.
"""
from __future__ import annotations

from collections import Counter

from labkit import Agent
from labkit.llm.session import active_session

from intake import OWNERS, REPORTS, RUBRIC, SEVERITIES, TRUTH, WHERE, rule

BUGS = list(REPORTS)
COMPONENTS = ", ".join(f"{c} ({WHERE[c]})" for c in OWNERS)
# Written for this prompt, not taken from the workload: examples from the test set would leak.
EXAMPLES = [
    ("Every attachment I uploaded is gone after I log in.", "critical", "auth"),
    ("The search page throws an error and closes.", "high", "search"),
    ("Exporting the monthly report takes ages.", "medium", "reports"),
    ("Saving a bug shows the wrong date format.", "low", "storage"),
    ("The settings page colours are hard to read.", "low", "ui"),
    ("The app freezes and crashes when I save a bug.", "high", "storage"),
]
FEW_SHOT = Agent("generalist", "triage and route bug reports", (
    "You triage bug reports for a bug tracker. For each report, rate its severity and name the "
    f"component it is about. {RUBRIC} Components: {COMPONENTS}.\nExamples:\n"
    + "\n".join(f'Report: {text}\nAnswer: {{"severity": "{s}", "component": "{c}"}}'
                for text, s, c in EXAMPLES)))
SHORT = Agent("triager", "triage and route bug reports",
              "Rate the bug's severity and name its component.", version="2")

TICKET = {"title": "ticket", "type": "object", "required": ["severity", "component"],
          "properties": {"severity": {"enum": list(SEVERITIES)},
                         "component": {"enum": list(OWNERS)}}}
SEVERITY = {"title": "severity", "type": "object", "required": ["severity"],
            "properties": {"severity": {"enum": list(SEVERITIES)}}}
PRICED_AS = {"short prompt": "gpt-4o-mini", "few-shot": "gpt-4o"}  # the tiers' hosted models


def tier_model(tier: str) -> str | None:
    """The model a tier asks: its hosted model on the openai backend, else the session's."""
    return PRICED_AS[tier] if active_session().config.backend == "openai" else None


def ask_options(tier: str) -> dict:
    """What a call of `tier` passes to Agent.aask: the model it asks, and its price."""
    if tier not in PRICED_AS:
        raise ValueError(f"There is no tier {tier!r}. The model tiers: {', '.join(PRICED_AS)} "
                         "(the rules are a tier of their own, with no model).")
    return {"model": tier_model(tier), "priced_as": PRICED_AS[tier]}


async def ask(agent: Agent, prompt: str, cache=None, **options):
    """agent.aask, through `cache` (patterns.cache.ExactCache) if one is given."""
    if cache is None:
        return await agent.aask(prompt, **options)
    return await cache.aask(agent, prompt, **options)


async def few_shot(bug: str, cache=None) -> dict:
    reply = await ask(FEW_SHOT, f"Report: {REPORTS[bug]}\nAnswer:", cache, schema=TICKET,
                      max_tokens=30, **ask_options("few-shot"))
    return reply.data


async def short(bug: str, cache=None) -> dict:
    reply = await ask(SHORT, REPORTS[bug], cache, schema=TICKET, max_tokens=30,
                      **ask_options("short prompt"))
    return reply.data


def batch_schema(ids: list[str], fields: dict) -> dict:
    item = {"type": "object", "required": ["id", *fields],
            "properties": {"id": {"enum": ids}} | fields}
    return {"title": "tickets", "type": "object", "required": ["answers"],
            "properties": {"answers": {"type": "array", "items": item,
                                       "minItems": len(ids), "maxItems": len(ids)}}}


async def batch(bugs: list[str], fields: dict | None = None, cache=None) -> dict:
    """One request for several reports: the parsed answer, {"answers": [{"id": ...}, ...]}."""
    fields = fields or TICKET["properties"]
    listed = "\n".join(f"{bug}: {REPORTS[bug]}" for bug in bugs)
    reply = await ask(SHORT, f"One answer per report, by its id.\n{listed}", cache,
                      schema=batch_schema(bugs, fields),
                      max_tokens=20 + (15 + 15 * len(fields)) * len(bugs),  # pretty-printed JSON
                      **ask_options("short prompt"))
    try:
        return reply.data
    except ValueError:  # cut off or not JSON: every item of it fails validation
        return {}


def per_item(ids: list[str], answer, field: str = "severity", allowed=SEVERITIES) -> dict:
    """Each id's value in a batched answer, or None where the answer fails validation for it:
    missing, given twice, or not one of `allowed` (notebook 04's exercise 2)."""
    items = answer.get("answers") if isinstance(answer, dict) else None
    items = [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
    times = Counter(item.get("id") for item in items)
    found = {item.get("id"): item.get(field) for item in items}
    return {bug: found[bug] if times[bug] == 1 and found[bug] in allowed else None for bug in ids}


async def tiered(bugs: list[str], size: int = 5, cache=None) -> tuple[dict, Counter]:
    """(each report's answer, how many answers each tier gave). The rules answer what they
    know for free; what they do not goes to the short prompt, `size` reports per request; an
    answer that fails validation there is asked of the few-shot prompt, for its report alone.
    One request at a time, as the other designs, so their model times compare."""
    answers = {bug: {"severity": None, "component": None} for bug in bugs}
    tiers = Counter()
    for bug in bugs:
        for step, field in (("triage", "severity"), ("route", "component")):
            known = rule(step, REPORTS[bug])
            if known is not None:
                answers[bug][field] = known[field]
                tiers[f"rule: {field}"] += 1
    for field in ("severity", "component"):
        left = [bug for bug in bugs if answers[bug][field] is None]
        allowed = TICKET["properties"][field]["enum"]
        for group in [left[i:i + size] for i in range(0, len(left), size)]:
            reply = await batch(group, {field: TICKET["properties"][field]}, cache)
            for bug, value in per_item(group, reply, field, allowed).items():
                if value is None:  # failed validation: the dearer tier, for this report alone
                    value = (await few_shot(bug, cache))[field]
                    tiers[f"few-shot: {field}"] += 1
                else:
                    tiers[f"short prompt: {field}"] += 1
                answers[bug][field] = value
    return answers, tiers


def score(answers: dict) -> dict:
    """Right answers against the labels: per field, and both at once (a task's success)."""
    right = {field: sum(answers[bug].get(field) == TRUTH[bug][i] for bug in answers)
             for i, field in enumerate(("severity", "component"))}
    both = sum(answers[bug].get("severity") == TRUTH[bug][0]
               and answers[bug].get("component") == TRUTH[bug][1] for bug in answers)
    return right | {"both": both}
