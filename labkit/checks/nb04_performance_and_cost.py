"""Checks for notebook 04, latency and cost."""
from __future__ import annotations

import copy

from ._core import LearnerError, answer_to, ask_fully, cases, fail, passed, probe, type_name

SEVERITIES = ("low", "medium", "high", "critical")

# Exercise 04.1: a cache key ---------------------------------------------------------------

BASE = {"model": "SmolLM2-135M-Instruct",
        "messages": [{"role": "system", "content": "You triage bug reports."},
                     {"role": "user", "content": "The app crashes when I sign in."}],
        "temperature": 0.0, "seed": 1234, "max_tokens": 30,
        "response_format": {"type": "json_schema", "json_schema": {"name": "triage", "schema": {
            "type": "object", "properties": {"severity": {"enum": list(SEVERITIES)}}}}}}


def changed(change) -> dict:
    request = copy.deepcopy(BASE)
    change(request)
    return request


def reordered(value):
    """The same value with every dict's keys in reverse order."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    return [reordered(item) for item in value] if isinstance(value, list) else value


# (what differs, request a, request b, same key?)
KEY_CASES = [
    ("nothing: the same request, its keys in another order", BASE, reordered(BASE), True),
    ("the model", BASE, changed(lambda r: r.update(model="gpt-4o")), False),
    ("the user's message", BASE,
     changed(lambda r: r["messages"][1].update(content="The app crashes when I search.")), False),
    ("the system prompt", BASE,
     changed(lambda r: r["messages"][0].update(content="You are terse.")), False),
    ("a message's role", BASE, changed(lambda r: r["messages"][1].update(role="assistant")), False),
    ("the order of the messages", BASE, changed(lambda r: r["messages"].reverse()), False),
    ("the schema (response_format)", BASE, changed(lambda r: r.pop("response_format")), False),
    ("the schema's allowed answers", BASE, changed(lambda r: r["response_format"]["json_schema"][
        "schema"]["properties"]["severity"]["enum"].pop()), False),
    ("the temperature", BASE, changed(lambda r: r.update(temperature=0.7)), False),
    ("the seed", BASE, changed(lambda r: r.update(seed=7)), False),
    ("max_tokens", BASE, changed(lambda r: r.update(max_tokens=5)), False),
]
KEY_RULE = ("two requests share a key (a str) exactly when they would get the same answer: the "
            "order of a dict's keys does not matter; the model, every message's role and "
            "content and their order, response_format, temperature, seed and max_tokens do")
WHY = {"the schema (response_format)": "a request asking for JSON would get the prose cached "
                                       "for one that did not",
       "max_tokens": "an answer cut off at 5 tokens would be served to a request allowed 30",
       "the temperature": "a sampled answer would be served as the deterministic one"}


def check_cache_key(cache_key, extra_cases: list = ()) -> None:
    """cache_key(request) -> str."""
    all_cases = cases([case[1:] + (case[0],) for case in KEY_CASES],
                      [tuple(case) + ("",) for case in extra_cases], rule=KEY_RULE)
    for case in all_cases:
        first, second, same, what = case.inputs
        keys = [answer_to(case, KEY_RULE, cache_key, request) for request in (first, second)]
        for key in keys:
            if type(key) is not str:
                fail(case, KEY_RULE, f"cache_key returned {key!r} (a {type_name(key)}): return a "
                                     "str, which any cache can store.")
        if same and keys[0] != keys[1]:
            fail(case, KEY_RULE, f"Two requests that differ in {what} got different keys: the "
                                 "same request must hit the cache (sort the keys, e.g. "
                                 "json.dumps(request, sort_keys=True)).")
        if not same and keys[0] == keys[1]:
            why = WHY.get(what, "one request would be served the other's answer")
            fail(case, KEY_RULE, f"Two requests that differ in {what} got the same key "
                                 f"{keys[0][:40]!r}: {why}.")
    passed("cache_key", len(all_cases))


# Exercise 04.2: the cheapest valid tier ---------------------------------------------------

# tiers as (name, usd, what it does: "fails", or its answer); the tier that should answer
CHEAPEST_CASES = [
    ([("few-shot", 0.004, {"severity": "high"}), ("short prompt", 0.0004, {"severity": "low"}),
      ("rule", 0.0, None)], "short prompt"),
    ([("short prompt", 0.0004, "fails"), ("few-shot", 0.004, {"severity": "medium"})], "few-shot"),
    ([("short prompt", 0.0004, {"severity": "urgent"}), ("few-shot", 0.004, {"rating": "high"}),
      ("person", 0.5, {"severity": "critical"})], "person"),
    ([("rule", 0.0, {"severity": "critical"}), ("few-shot", 0.004, {"severity": "low"})], "rule"),
    ([("short prompt", 0.0004, "fails"), ("few-shot", 0.004, "fails")], None),
]
CHEAPEST_RULE = ("try the tiers cheapest first, stop at the first valid answer (a dict whose "
                 "only key is 'severity', one of low, medium, high, critical), and return "
                 "{'tier', 'answer', 'usd'}: usd adds the price of every tier started; tier and "
                 "answer are None when no tier is valid")


def check_cheapest_valid(cheapest_valid, extra_cases: list = ()) -> None:
    """cheapest_valid(tiers) -> {"tier", "answer", "usd"}; tiers are (name, usd, async step)."""
    all_cases = cases(CHEAPEST_CASES, extra_cases, rule=CHEAPEST_RULE)
    for case in all_cases:
        spec, expected_tier = case.inputs
        tiers = [(name, usd, probe(name, 0.5, fails=does == "fails",
                                   answer=None if does == "fails" else does))
                 for name, usd, does in spec]
        said = [(name, usd) for name, usd, _ in spec]
        try:
            got, _, happened = ask_fully(cheapest_valid, tiers)
        except LearnerError as error:
            fail(case, CHEAPEST_RULE, f"cheapest_valid(tiers {said}) raised {error}.", error)
        price = {name: usd for name, usd, _ in spec}
        ceiling = price[expected_tier] if expected_tier else max(price.values())
        should_start = {name for name, usd in price.items() if usd <= ceiling}
        started = {name for name, events in happened.items() if "started" in events}
        if started != should_start:
            fail(case, CHEAPEST_RULE, f"With tiers {said}, cheapest_valid started "
                                      f"{sorted(started)}; expected {sorted(should_start)}: the "
                                      "cheapest first, up to the first valid answer.")
        twice = [name for name, events in happened.items() if events.count("started") > 1]
        if twice:
            fail(case, CHEAPEST_RULE, f"cheapest_valid started {twice} twice: each tier once.")
        answer = dict((name, does) for name, _, does in spec).get(expected_tier)
        usd = sum(price[name] for name in should_start)
        if type(got) is not dict or set(got) != {"tier", "answer", "usd"}:
            fail(case, CHEAPEST_RULE, f"cheapest_valid returned {got!r}: return a dict with the "
                                      "keys 'tier', 'answer' and 'usd'.")
        paid = got["usd"]
        if got["tier"] != expected_tier or got["answer"] != (answer if expected_tier else None) \
                or type(paid) not in (int, float) or abs(paid - usd) > 1e-9:
            fail(case, CHEAPEST_RULE, f"With tiers {said}, cheapest_valid returned {got!r}; "
                                      f"expected tier {expected_tier!r}, usd {usd:g} (every "
                                      "tier started is paid for, the failed ones too).")
    passed("cheapest_valid", len(all_cases))


# Exercise 04.3: per-item results from a batch ---------------------------------------------

IDS = ["BUG-1", "BUG-2", "BUG-3"]
# (the ids asked, the batched answer)
PER_ITEM_CASES = [
    (IDS, {"answers": [{"id": "BUG-1", "severity": "high"}, {"id": "BUG-2", "severity": "low"},
                       {"id": "BUG-3", "severity": "medium"}]}),
    (IDS, {"answers": [{"id": "BUG-3", "severity": "low"}, {"id": "BUG-1", "severity": "high"}]}),
    (IDS, {"answers": [{"id": "BUG-1", "severity": "high"}, {"id": "BUG-1", "severity": "low"},
                       {"id": "BUG-2", "severity": "urgent"}, {"id": "BUG-9", "severity": "low"},
                       "BUG-3: low"]}),
    (IDS, {"tickets": []}),
    (IDS, {"answers": "none"}),
    (IDS, "not JSON at all"),
]
PER_ITEM_RULE = ("return a dict of exactly the ids asked, in their order: an id answered "
                 "exactly once with a severity of low, medium, high or critical gets it; every "
                 "other asked id gets None; ids not asked for are ignored")


def expected_items(ids, answer) -> dict:
    items = answer.get("answers") if isinstance(answer, dict) else None
    items = [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
    given = [item.get("id") for item in items]
    once = {item.get("id"): item.get("severity") for item in items if given.count(item.get("id")) == 1}
    return {bug: once[bug] if once.get(bug) in SEVERITIES else None for bug in ids}


def check_per_item(per_item, extra_cases: list = ()) -> None:
    """per_item(ids, answer) -> {id: severity or None}."""
    all_cases = cases(PER_ITEM_CASES, extra_cases, rule=PER_ITEM_RULE)
    for case in all_cases:
        ids, answer = case.inputs
        got = answer_to(case, PER_ITEM_RULE, per_item, list(ids), copy.deepcopy(answer))
        expected = expected_items(ids, answer)
        if got != expected or (type(got) is dict and list(got) != list(ids)):
            fail(case, PER_ITEM_RULE, f"per_item({ids!r}, {answer!r}) returned {got!r}; expected "
                                      f"{expected!r} (None where an id is missing, repeated, or "
                                      "its severity is not one of the four).")
    passed("per_item", len(all_cases))
