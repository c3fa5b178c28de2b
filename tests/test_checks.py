"""Each exercise check passes the reference solution and fails wrong ones with feedback that
names the case and the fix."""
import ast
import asyncio
import collections
import hashlib
import json
import re

import pytest

import labkit
from labkit.checks import (CheckFailed, check_budget_award, check_cost_on, check_dedupe,
                           check_gather_until, check_pick_aggregation, check_pick_design, check_pull_all,
                           check_severity_filter, check_stage_validator, check_stop_reason,
                           check_triage_validator, check_useful_tests)
from labkit.checks import check_first_valid, check_is_retriable, check_resume
from labkit.checks import check_cache_key, check_cheapest_valid, check_per_item

SEVERITIES = ("low", "medium", "high", "critical")

SCHEMA_ENUMS = {"severity": ["low", "medium", "high", "critical"],
                "component": ["auth", "payments", "search", "ui"]}


def reference_check_triage(answer):
    problems = [f"{field}: missing" for field in ("severity", "component", "summary")
                if field not in answer]
    for field, allowed in SCHEMA_ENUMS.items():
        if field in answer and answer[field] not in allowed:
            problems.append(f"{field}: not allowed")
    summary = answer.get("summary", "")
    if not isinstance(summary, str) or len(summary) > 80:
        problems.append("summary: too long or not text")
    return problems


def test_triage_check_passes_the_reference(capsys):
    check_triage_validator(reference_check_triage)
    assert "all 4 cases right" in capsys.readouterr().out


def test_triage_check_runs_extra_cases():
    hidden = [({"severity": "low", "component": "kitchen", "summary": "s"}, "component")]
    check_triage_validator(reference_check_triage, extra_cases=hidden)
    with pytest.raises(CheckFailed, match="a hidden case failed.*names its field") as failed:
        check_triage_validator(lambda answer: [], extra_cases=hidden)
    assert "kitchen" not in str(failed.value)


@pytest.mark.parametrize("wrong, feedback", [
    (lambda answer: [], "'summary' field is wrong"),                    # accepts everything
    (lambda answer: ["bad"], "should return \\[\\]"),                    # rejects everything
    (lambda answer: None, "return a list"),                             # forgets to return
    (lambda answer: [] if len(answer) == 3 else ["summary"], "severity"),  # checks presence only
])
def test_triage_check_fails_wrong_answers_with_actionable_feedback(wrong, feedback):
    with pytest.raises(CheckFailed, match=feedback):
        check_triage_validator(wrong)


def reference_cost_on(ledger, model):
    return sum(labkit.llm.usage.cost(model, u.prompt_tokens, u.completion_tokens)
               for u in ledger.records)


def test_cost_check_passes_the_reference(capsys):
    check_cost_on(reference_cost_on, extra_cases=[([], "gpt-4o")])
    assert "all 1 cases right" in capsys.readouterr().out  # extra cases: those alone


@pytest.mark.parametrize("wrong", [
    lambda ledger, model: 0.0,                                                   # no pricing
    lambda ledger, model: sum(labkit.llm.usage.cost(model, u.prompt_tokens, 0)      # forgets output
                              for u in ledger.records),
    lambda ledger, model: sum(u.cost_usd for u in ledger.records),              # prices as recorded
    lambda ledger, model: "0.15",                                               # text, not a number
])
def test_cost_check_fails_wrong_answers_with_actionable_feedback(wrong):
    with pytest.raises(CheckFailed, match="labkit.llm.usage.cost"):
        check_cost_on(wrong)


# Notebook 01 ---------------------------------------------------------------------------------

ORDER = ["low", "medium", "high", "critical"]


def reference_severity_at_least(level):
    def accept(message):
        severity = message.content.get("severity") if isinstance(message.content, dict) else None
        return severity in ORDER and ORDER.index(severity) >= ORDER.index(level)
    return accept


def test_severity_filter_check_passes_the_reference(capsys):
    check_severity_filter(reference_severity_at_least, extra_cases=[("medium", "Low", False)])
    assert "all 1 cases right" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, feedback", [
    (lambda level: lambda m: True, "should be skipped"),                                # no filter
    (lambda level: lambda m: m.content["severity"] == level, "critical.*should be delivered"),  # exact
    (lambda level: lambda m: ORDER.index(m.content["severity"]) >= ORDER.index(level),
     "raised KeyError"),                                                                # crashes
    (lambda level: ORDER.index(level), "return a function"),                            # not a filter
])
def test_severity_filter_check_fails_wrong_answers_with_actionable_feedback(wrong, feedback):
    with pytest.raises(CheckFailed, match=feedback):
        check_severity_filter(wrong)


def reference_choose_within_budget(bids, budget):
    affordable = [bid for bid in bids if bid.cost <= budget]
    return min(affordable, key=lambda b: (-b.confidence, b.cost, b.agent)) if affordable else None


def test_budget_award_check_passes_the_reference(capsys):
    check_budget_award(reference_choose_within_budget)
    assert "all 6 cases right" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, feedback", [
    (lambda bids, budget: max(bids, key=lambda b: b.confidence, default=None), "you chose 'ana'"),
    (lambda bids, budget: next((b for b in bids if b.cost < budget), None), "you chose"),
    (lambda bids, budget: max((b for b in bids if b.cost <= budget),            # order-dependent tie
                              key=lambda b: b.confidence, default=None), "order bids arrive"),
    (lambda bids, budget: "ana", "return the winning Bid"),
])
def test_budget_award_check_fails_wrong_answers_with_actionable_feedback(wrong, feedback):
    with pytest.raises(CheckFailed, match=feedback):
        check_budget_award(wrong)


def reference_stop_reason(history, max_rounds):
    if not history:
        return None
    last, approved = history[-1]
    if approved:
        return "approved"
    if any(draft == last for draft, _ in history[:-1]):
        return "repeated draft"
    return "round limit" if len(history) >= max_rounds else None


def test_stop_reason_check_passes_the_reference(capsys):
    check_stop_reason(reference_stop_reason)
    assert "all 7 cases right" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, feedback", [
    (lambda history, max_rounds: None, "expected 'approved'"),                    # never stops
    (lambda history, max_rounds: "round limit" if len(history) >= max_rounds else None,
     "expected 'approved'"),                                                      # rounds only
    (lambda history, max_rounds: reference_stop_reason(history, max_rounds)      # misses cycles
     if reference_stop_reason(history, max_rounds) != "repeated draft" else None,
     "going round in circles"),
    (lambda history, max_rounds: None if not history else                        # wrong order
     "round limit" if len(history) >= max_rounds else reference_stop_reason(history, max_rounds),
     "Check in this order"),
])
def test_stop_reason_check_fails_wrong_answers_with_actionable_feedback(wrong, feedback):
    with pytest.raises(CheckFailed, match=feedback):
        check_stop_reason(wrong)


# Notebook 02 ---------------------------------------------------------------------------------

def reference_dedupe(findings):
    kept = []
    for f in findings:
        if not any(k.file == f.file and k.category == f.category and abs(k.line - f.line) <= 2
                   for k in kept):
            kept.append(f)
    return kept


def test_dedupe_check_passes_the_reference(capsys):
    check_dedupe(reference_dedupe)
    assert "all 5 cases right" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, feedback", [
    (lambda findings: findings, "expected"),                                       # keeps all
    (lambda findings: list({(f.file, f.line, f.category): f for f in findings}.values()),
     "at most 2 away"),                                                            # exact lines
    (lambda findings: list({(f.file, f.category): f for f in findings}.values()),
     "expected"),                                                                  # any distance
    (lambda findings: [(f.file, f.line) for f in findings], "return a list of the Finding"),
])
def test_dedupe_check_fails_wrong_answers_with_actionable_feedback(wrong, feedback):
    with pytest.raises(CheckFailed, match=feedback):
        check_dedupe(wrong)


def reference_validate_stage(stage, output):
    if stage == "requirements" and not output.get("requirements"):
        return "no requirements"
    if stage == "design" and not str(output.get("function", "")).isidentifier():
        return "not a name"
    if stage == "code":
        try:
            tree = ast.parse(output.get("code", ""))
        except SyntaxError:
            return "does not parse"
        if not any(isinstance(node, ast.FunctionDef) for node in ast.walk(tree)):
            return "no function"
    return None


def test_stage_validator_check_passes_the_reference(capsys):
    check_stage_validator(reference_validate_stage)
    assert "all 8 cases right" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, feedback", [
    (lambda stage, output: None, "this output is invalid"),                      # lets all pass
    (lambda stage, output: "bad", "this output is valid"),                       # rejects all
    (lambda stage, output: compile(output["code"], "c", "exec") and None if stage == "code"
     else reference_validate_stage(stage, output), "raised SyntaxError"),        # crashes
    (lambda stage, output: False if stage == "design" and " " in output["function"]
     else reference_validate_stage(stage, output), "return a short text"),       # not a text
])
def test_stage_validator_check_fails_wrong_answers_with_actionable_feedback(wrong, feedback):
    with pytest.raises(CheckFailed, match=feedback):
        check_stage_validator(wrong)


async def reference_gather_until(steps, deadline):
    tasks = {name: asyncio.create_task(step()) for name, step in steps.items()}
    await asyncio.wait(tasks.values(), timeout=deadline)
    results, missing = {}, []
    for name, task in tasks.items():
        if not task.done():
            task.cancel()
            missing.append(name)
        elif task.exception() is not None:
            missing.append(name)
        else:
            results[name] = task.result()
    return results, sorted(missing)


def test_gather_until_check_passes_the_reference(capsys):
    check_gather_until(reference_gather_until)
    assert "gather_until" in capsys.readouterr().out


async def waits_for_everything(steps, deadline):
    values = await asyncio.gather(*(step() for step in steps.values()), return_exceptions=True)
    return dict(zip(steps, values)), []


async def waits_for_ever(steps, deadline):
    await asyncio.Event().wait()


async def forgets_to_cancel(steps, deadline):
    tasks = {name: asyncio.create_task(step()) for name, step in steps.items()}
    await asyncio.wait(tasks.values(), timeout=deadline)
    done = {n: t for n, t in tasks.items() if t.done() and t.exception() is None}
    return {n: t.result() for n, t in done.items()}, sorted(set(tasks) - set(done))


async def counts_failures_as_results(steps, deadline):
    tasks = {name: asyncio.create_task(step()) for name, step in steps.items()}
    done, late = await asyncio.wait(tasks.values(), timeout=deadline)
    for task in late:
        task.cancel()
    return ({n: t.exception() or t.result() for n, t in tasks.items() if t in done},
            sorted(n for n, t in tasks.items() if t in late))


@pytest.mark.parametrize("wrong, feedback", [
    (waits_for_everything, "took 5.00 s for a 0.5 s deadline"),
    (waits_for_ever, "raised TimeoutError: it had not returned after 60 s"),
    (forgets_to_cancel, "cancel the steps"),
    (counts_failures_as_results, "without an error"),
])
def test_gather_until_check_fails_wrong_answers_with_actionable_feedback(wrong, feedback):
    with pytest.raises(CheckFailed, match=feedback):
        check_gather_until(wrong)


# A design choice with a measurable answer (01 and 02) ---------------------------------------

def reference_pick_design(options, min_quality):
    good = [o for o in options if o["quality"] >= min_quality]
    return min(good, key=lambda o: (o["tokens"], -o["quality"], o["name"]))["name"] if good else None


def reference_pick_aggregation(strategies, budget):
    fits = [s for s in strategies if s["tokens"] <= budget]
    return min(fits, key=lambda s: (-s["f1"], s["tokens"], s["name"]))["name"] if fits else None


def test_choice_checks_pass_the_references(capsys):
    check_pick_design(reference_pick_design, extra_cases=[([("x", 0.5, 9)], 0.5, "x")])
    check_pick_aggregation(reference_pick_aggregation)

    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("check, wrong, feedback", [
    (check_pick_design, lambda options, bar: max(options, key=lambda o: o["quality"])["name"],
     "returned 'team'; the choice is 'generalist'"),
    (check_pick_design, lambda options, bar: next((o["name"] for o in options
                                                   if o["quality"] >= bar), None),
     "'tokens': 0}], 0.6) returned 'team'"),  # the first good enough: the reversed table shows it
    (check_pick_aggregation, lambda strategies, budget: max(strategies, key=lambda s: s["f1"])["name"],
     "returned 'verifier'; the choice is 'tool alone'"),
    (check_pick_aggregation, lambda strategies, budget: {"name": "union"},
     "return the chosen option's name"),
])
def test_choice_checks_fail_wrong_rules_with_the_table_and_the_choice(check, wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check(wrong)


# A work queue that runs each task once (01) -------------------------------------------------

async def reference_pull_all(deliveries, workers):
    queue, taken, results = asyncio.Queue(), set(), {}
    for delivery in deliveries:
        queue.put_nowait(delivery)

    async def worker():
        while not queue.empty():
            task, step = queue.get_nowait()
            if task not in taken:
                taken.add(task)
                results[task] = await step()

    await asyncio.gather(*(worker() for _ in range(workers)))
    return results


async def runs_duplicates(deliveries, workers):
    return {task: await step() for task, step in deliveries}


async def marks_when_done(deliveries, workers):
    queue, done, results = asyncio.Queue(), set(), {}
    for delivery in deliveries:
        queue.put_nowait(delivery)

    async def worker():
        while not queue.empty():
            task, step = queue.get_nowait()
            if task not in done:
                results[task] = await step()
                done.add(task)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return results


async def one_worker_whatever(deliveries, workers):
    return await reference_pull_all(deliveries, 1)


def test_pull_all_check_passes_the_reference(capsys):
    check_pull_all(reference_pull_all)
    check_pull_all(reference_pull_all, extra_cases=[([("x", 1.0), ("y", 1.0), ("x", 1.0)], 2, 1.0)])

    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("wrong, feedback", [
    (runs_duplicates, "ran more than once"),
    (marks_when_done, "when a worker takes them (not when they finish)"),
    (one_worker_whatever, "took 6.0 s of model time; 2 pulling worker(s) take 4.0 s"),
])
def test_pull_all_check_fails_wrong_workers_with_what_went_wrong(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_pull_all(wrong)


# Which generated tests caught the bug (02) -------------------------------------------------

def reference_useful_tests(runs):
    counts = {}
    for run in runs:
        counts[run["generator"]] = counts.get(run["generator"], 0) + (
            run["fixed"] == "passed" and run["buggy"] == "failed")
    return counts


def test_useful_tests_check_passes_the_reference(capsys):
    check_useful_tests(reference_useful_tests)
    check_useful_tests(reference_useful_tests, extra_cases=[
        ([{"generator": "g", "fixed": "passed", "buggy": "failed"}] * 2, {"g": 2})])

    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("wrong, feedback", [
    (lambda runs: {r["generator"]: sum(x["buggy"] != "passed" for x in runs if x["generator"] == r["generator"]
                                       and x["fixed"] == "passed") for r in runs}, "expected {'a': 0}"),
    (lambda runs: {r["generator"]: 1 for r in runs if r["fixed"] == "passed" and r["buggy"] == "failed"},
     "list every generator, 0 included"),
    (lambda runs: {r["generator"]: True for r in runs}, "a number (an int)"),
])
def test_useful_tests_check_names_what_a_wrong_count_missed(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_useful_tests(wrong)


# Recovery (03): a retry predicate, a fallback chain, a resume ------------------------------

def reference_is_retriable(status, body):
    code = (body.get("error") or {}).get("code")
    if status == 429:
        return code != "insufficient_quota"
    return status == 0 or status in (408, 409) or status >= 500


async def reference_first_valid(tiers):
    for name, step in tiers:
        try:
            answer = await step()
        except Exception:
            continue
        if type(answer) is dict and set(answer) == {"severity"} \
                and answer["severity"] in ("low", "medium", "high", "critical"):
            return {"tier": name, "answer": answer}
    return {"tier": None, "answer": None}


async def reference_resume(steps, saved):
    return {name: saved[name] if name in saved else await step() for name, step in steps}


def test_recovery_checks_pass_the_references(capsys):
    check_is_retriable(reference_is_retriable)
    check_first_valid(reference_first_valid)
    check_resume(reference_resume)
    assert capsys.readouterr().out.count("✓") == 3


@pytest.mark.parametrize("wrong, feedback", [
    (lambda status, body: status >= 500 or (status == 429 and "quota" not in str(body)),
     "is_retriable(0, {}) returned False; expected True"),
    (lambda status, body: status in (0, 408, 409, 429) or status >= 500, "no wait refills an exhausted quota"),
    (lambda status, body: "yes", "return True or False"),
])
def test_is_retriable_check_names_the_status_and_the_rule(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_is_retriable(wrong)


async def tries_every_tier(tiers):
    answers = []
    for name, step in tiers:
        try:
            answers.append((name, await step()))
        except Exception:
            pass
    valid = [(n, a) for n, a in answers if type(a) is dict and a.get("severity") in ("low", "high")]
    return {"tier": valid[0][0], "answer": valid[0][1]} if valid else {"tier": None, "answer": None}


async def trusts_the_first_answer(tiers):
    for name, step in tiers:
        try:
            return {"tier": name, "answer": await step()}
        except Exception:
            continue
    return {"tier": None, "answer": None}


@pytest.mark.parametrize("wrong, feedback", [
    (tries_every_tier, "also started ['person']"),
    (trusts_the_first_answer, "expected {'tier': 'rule'"),
])
def test_first_valid_check_names_the_tier_it_should_have_stopped_at(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_first_valid(wrong)


async def runs_everything_again(steps, saved):
    return {name: await step() for name, step in steps}


async def forgets_the_saved_outputs(steps, saved):
    return {name: await step() for name, step in steps if name not in saved}


@pytest.mark.parametrize("wrong, feedback", [
    (runs_everything_again, "started ['triage', 'route'] again"),
    (forgets_the_saved_outputs, "expected {'triage': 'high'"),
])
def test_resume_check_names_the_step_run_twice(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_resume(wrong)


# Notebook 04: a cache key, per-item results from a batch, the cheapest valid tier ----------

def reference_cache_key(request):
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def key_without(field):
    return lambda request: reference_cache_key({k: v for k, v in request.items() if k != field})


def test_cache_key_check_passes_the_reference_on_visible_and_hidden_cases(capsys):
    check_cache_key(reference_cache_key)
    check_cache_key(reference_cache_key, extra_cases=[
        ({"a": 1, "b": [{"c": 1, "d": 2}]}, {"b": [{"d": 2, "c": 1}], "a": 1}, True),
        ({"model": "a", "messages": [], "seed": 1}, {"model": "a", "messages": [], "seed": 2}, False),
    ])
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("wrong, feedback", [
    (lambda request: hashlib.sha256(json.dumps(request).encode()).hexdigest(),
     "differ in nothing but the order of their keys (at every level) got different keys"),
    (lambda request: str(sorted(request.items())), "differ in nothing but the order of their keys"),
    (key_without("response_format"), "a request asking for JSON would get the prose cached"),
    (key_without("max_tokens"), "an answer cut off at 5 tokens"),
    (key_without("seed"), "differ in the seed got the same key"),
    (lambda request: request["messages"][-1]["content"], "differ in the model got the same key"),
    (lambda request: json.dumps([request["model"], [m["content"] for m in request["messages"]],
                                 request.get("response_format"), request["temperature"],
                                 request["seed"], request["max_tokens"]], sort_keys=True),
     "differ in a message's role got the same key"),
    (lambda request: reference_cache_key(request | {"messages": sorted(
        request["messages"], key=lambda m: m["role"])}), "differ in the order of the messages"),
    (lambda request: hash(json.dumps(request, sort_keys=True)), "(a int): return a str"),
])
def test_cache_key_check_names_the_field_a_key_ignored(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_cache_key(wrong)


def test_cache_key_check_fails_a_hidden_case_on_its_rule_alone():
    with pytest.raises(CheckFailed) as failed:
        check_cache_key(key_without("seed"), extra_cases=[
            ({"model": "SECRET", "seed": 1}, {"model": "SECRET", "seed": 2}, False)])
    assert "it tests this rule: two requests share a key" in str(failed.value)
    assert "SECRET" not in str(failed.value) and failed.value.case is None


def reference_per_item(ids, answer):
    items = answer.get("answers") if isinstance(answer, dict) else None
    items = [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
    times = collections.Counter(item.get("id") for item in items)
    found = {item.get("id"): item.get("severity") for item in items}
    return {bug: found[bug] if times[bug] == 1 and found[bug] in SEVERITIES else None
            for bug in ids}


def test_per_item_check_passes_the_reference_on_visible_and_hidden_cases(capsys):
    check_per_item(reference_per_item)
    check_per_item(reference_per_item, extra_cases=[
        (["A", "B"], {"answers": [{"id": "B", "severity": "low"}, {"id": "A", "severity": "high"}]}),
        (["A"], {"answers": [{"id": "A", "severity": "low"}, {"id": "A", "severity": "low"}]}),
        (["A", "B"], []),
        (["A"], None),
    ])
    assert capsys.readouterr().out.count("✓") == 2


def takes_the_last_of_each(ids, answer):
    items = answer.get("answers") if isinstance(answer, dict) else None
    found = {item.get("id"): item.get("severity") for item in items
             if isinstance(item, dict)} if isinstance(items, list) else {}
    return {bug: found[bug] if found.get(bug) in SEVERITIES else None for bug in ids}


def trusts_any_severity(ids, answer):
    items = answer.get("answers") if isinstance(answer, dict) else None
    items = [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
    times = collections.Counter(item.get("id") for item in items)
    found = {item.get("id"): item.get("severity") for item in items}
    return {bug: found[bug] if times[bug] == 1 else None for bug in ids}


def assumes_a_dict(ids, answer):
    answer.keys()
    return reference_per_item(ids, answer)


def keeps_every_id_answered(ids, answer):
    found = reference_per_item(ids, answer)
    items = answer.get("answers") if isinstance(answer, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("id") not in ids:
            found[item.get("id")] = item.get("severity")
    return found


@pytest.mark.parametrize("wrong, feedback", [
    (takes_the_last_of_each, "expected {'BUG-1': None, 'BUG-2': 'low', 'BUG-3': 'low'}: BUG-1 "
                             "gets None: it is not answered exactly once"),
    (trusts_any_severity, "expected {'BUG-1': None, 'BUG-2': None, 'BUG-3': 'high'}: BUG-1 gets None"),
    (keeps_every_id_answered, "'BUG-9': 'low'}; expected {'BUG-1': None, 'BUG-2': None, "
                              "'BUG-3': 'high'}: leave out the ids not asked for"),
    (lambda ids, answer: {bug: item["severity"] for item in answer["answers"] for bug in ids
                          if item["id"] == bug},
     "expected {'BUG-1': 'high', 'BUG-2': None, 'BUG-3': 'low'}: BUG-2 gets None"),
    (lambda ids, answer: dict(reversed(reference_per_item(ids, answer).items())), "keep the ids' order"),
    (lambda ids, answer: list(reference_per_item(ids, answer).values()), "return a dict, not a list"),
    (lambda ids, answer: {bug: "high" for bug in ids}, "BUG-2 gets 'low': it is answered once"),
    (assumes_a_dict, "'not JSON at all') raised AttributeError: 'str' object has no attribute"),
])
def test_per_item_check_names_the_batch_the_id_and_the_rule(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_per_item(wrong)


def cheapest_first(tiers):
    return sorted(tiers, key=lambda tier: tier[1])


def is_valid(answer):
    return type(answer) is dict and set(answer) == {"severity"} and answer["severity"] in SEVERITIES


async def reference_cheapest_valid(tiers, order=cheapest_first, valid=is_valid):
    total = 0.0
    for name, usd, step in order(tiers):
        total += usd
        try:
            answer = await step()
        except Exception:
            continue
        if valid(answer):
            return {"tier": name, "answer": answer, "usd": total}
    return {"tier": None, "answer": None, "usd": total}


def test_cheapest_valid_check_passes_the_reference_on_visible_and_hidden_cases(capsys):
    check_cheapest_valid(reference_cheapest_valid)
    check_cheapest_valid(reference_cheapest_valid, extra_cases=[
        ([("dear", 0.01, {"severity": "low"}), ("cheap", 0.001, "fails")], "dear"),
        ([("free", 0.0, {"severity": "high"}), ("dear", 0.01, {"severity": "low"})], "free"),
    ])
    assert capsys.readouterr().out.count("✓") == 2


async def in_the_order_given(tiers):
    return await reference_cheapest_valid(tiers, order=list)


async def trusts_any_answer(tiers):
    return await reference_cheapest_valid(tiers, valid=lambda answer: answer is not None)


async def trusts_any_severity_given(tiers):
    return await reference_cheapest_valid(tiers, valid=lambda answer: answer.get("severity"))


async def pays_only_the_one_used(tiers):
    result = await reference_cheapest_valid(tiers)
    return result | {"usd": {name: usd for name, usd, _ in tiers}.get(result["tier"], 0.0)}


async def starts_them_all_at_once(tiers):
    tiers = cheapest_first(tiers)
    answers = await asyncio.gather(*(step() for _, _, step in tiers), return_exceptions=True)
    for (name, _, _), answer in zip(tiers, answers):
        if is_valid(answer):
            return {"tier": name, "answer": answer, "usd": sum(usd for _, usd, _ in tiers)}
    return {"tier": None, "answer": None, "usd": sum(usd for _, usd, _ in tiers)}


async def retries_a_failed_tier(tiers):
    async def twice(step):
        try:
            return await step()
        except Exception:
            return await step()

    return await reference_cheapest_valid([(n, usd, lambda s=s: twice(s)) for n, usd, s in tiers])


async def bills_in_a_string(tiers):
    result = await reference_cheapest_valid(tiers)
    return result | {"usd": f"{result['usd']:.4f}"}


@pytest.mark.parametrize("wrong, feedback", [
    (in_the_order_given, "started ['few-shot']; expected ['rule', 'short prompt']"),
    (trusts_any_answer, "started ['rule']; expected ['rule', 'short prompt']"),
    (trusts_any_severity_given, "started ['short prompt']; expected ['short prompt', 'few-shot', 'person']"),
    (starts_them_all_at_once, "started ['rule', 'short prompt', 'few-shot']; expected ['rule', 'short prompt']"),
    (retries_a_failed_tier, "started ['short prompt', 'short prompt', 'few-shot']"),
    (pays_only_the_one_used, "expected 0.0044: every tier started is paid for, the failed ones too"),
    (bills_in_a_string, "returned usd '0.0004'"),
])
def test_cheapest_valid_check_names_the_tiers_started_and_the_bill(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_cheapest_valid(wrong)


# Answers are plain data of exact types; hidden cases stay hidden ----------------------------

class Anything:
    """An answer that equals everything: a check written `if got != expected` passes it."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


class Says(str):
    """A str that compares equal to any other."""

    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


@pytest.mark.parametrize("check, wrong, says", [
    (check_stop_reason, lambda history, max_rounds: Anything(), "returned <a Anything> (a Anything)"),
    (check_stop_reason, lambda history, max_rounds: Says("approved"), "(a Says)"),
    (check_dedupe, lambda findings: type("Kept", (list,), {"__eq__": lambda s, o: True})(findings),
     "(a Kept)"),
    (check_triage_validator, lambda answer: [Says("severity component summary")],
     "a list of problems (strings)"),
])
def test_an_answer_that_is_not_plain_data_of_the_exact_type_is_wrong(check, wrong, says):
    with pytest.raises(CheckFailed, match=re.escape(says)):
        check(wrong)


def test_an_answer_too_large_to_send_is_a_bounded_error():
    with pytest.raises(CheckFailed, match="too large to check"):
        check_triage_validator(lambda answer: ["summary " * 100] * 1000)


HIDDEN = [([("draft-SECRET", False), ("draft-SECRET", True)], 9, "approved")]


def test_a_failed_hidden_case_names_its_rule_and_nothing_of_the_case():
    def wrong(history, max_rounds):
        return None if history[:1] == [("draft-SECRET", False)] else reference_stop_reason(history, max_rounds)

    with pytest.raises(CheckFailed) as failed:
        check_stop_reason(wrong, extra_cases=HIDDEN)

    assert str(failed.value) == ("a hidden case failed (your answer was wrong); it tests this "
                                 "rule: the reason is 'approved', else 'repeated draft', else "
                                 "'round limit', else None, checked in that order")


@pytest.mark.parametrize("raise_as, named", [(ValueError, "ValueError"),
                                             (type("SECRET", (Exception,), {}), "an exception"),
                                             (UnicodeError, "an exception")])
def test_a_hidden_case_that_raises_names_only_a_builtin_exception_type(raise_as, named):
    def leaky(history, max_rounds):
        if history[:1] == [("draft-SECRET", False)]:
            raise raise_as(f"I saw {history}")
        return reference_stop_reason(history, max_rounds)

    with pytest.raises(CheckFailed) as failed:
        check_stop_reason(leaky, extra_cases=HIDDEN)

    assert f"your code raised {named}" in str(failed.value)
    assert "SECRET" not in str(failed.value) and "I saw" not in str(failed.value)


def test_a_visible_case_keeps_its_full_feedback():
    with pytest.raises(CheckFailed, match=r"stop_reason\(\[\('v1', False\), \('v2', True\)\]"):
        check_stop_reason(lambda history, max_rounds: None)


@pytest.mark.parametrize("wrong", [
    lambda stage, output: None,                                   # accepts everything
    lambda stage, output: "bad",                                  # rejects everything
    lambda stage, output: 1 / 0 if stage == "review" else None,   # raises on one stage
])
def test_every_hidden_failure_of_a_check_reads_the_same(wrong):
    """Whatever the hidden case and whatever went wrong in it, its feedback is the check's
    rule: nothing of the case (its stage, its expected answer) reaches the learner."""
    hidden = [("review", {"approved": False}, True), ("design", {"function": "3rd"}, False)]
    said = set()
    for case in hidden:
        try:
            check_stage_validator(wrong, extra_cases=[case])
        except CheckFailed as failed:
            assert "review" not in str(failed) and "design" not in str(failed)
            said.add(str(failed).split("; it tests this rule: ")[1])
    assert len(said) == 1


def test_feedback_on_a_huge_answer_is_bounded():
    with pytest.raises(CheckFailed) as failed:
        check_stop_reason(lambda history, max_rounds: "x" * 100_000)
    assert len(str(failed.value)) <= 1000
