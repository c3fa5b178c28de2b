"""Checks for notebook 04, latency and cost."""
from __future__ import annotations

from ._core import LearnerError, answer_to, ask_fully, cases, fail, passed, probe, shown, type_name

SEVERITIES = ("low", "medium", "high", "critical")

# Exercise 04.1: a cache key ---------------------------------------------------------------

SYSTEM = {"role": "system", "content": "You triage bug reports."}
REPORT = {"role": "user", "content": "The app crashes when I sign in."}


def asks_json(allowed) -> dict:
    """A response_format asking for {"severity": one of `allowed`}."""
    return {"type": "json_schema", "json_schema": {"name": "triage", "schema": {
        "type": "object", "properties": {"severity": {"enum": list(allowed)}}}}}


BASE = {"model": "SmolLM2-135M-Instruct", "messages": [SYSTEM, REPORT], "temperature": 0.0,
        "seed": 1234, "max_tokens": 30, "response_format": asks_json(SEVERITIES)}


def but(**change) -> dict:
    """BASE with some fields changed; a field changed to None is left out."""
    return {key: value for key, value in (BASE | change).items() if value is not None}


def reordered(value):
    """The same value with every dict's keys in reverse order, at every level."""
    if type(value) is dict:
        return {key: reordered(value[key]) for key in reversed(list(value))}
    return [reordered(item) for item in value] if type(value) is list else value


# (what differs from BASE, the request with that change, what one key for both would serve)
CHANGES = [
    ("the model", but(model="gpt-4o"), "gpt-4o would be served the small model's answer"),
    ("the user's message", but(messages=[SYSTEM, REPORT | {"content": "It crashes on search."}]),
     "one bug report would get the triage of another"),
    ("the system prompt", but(messages=[SYSTEM | {"content": "Be terse."}, REPORT]),
     "an answer to other instructions would be served"),
    ("a message's role", but(messages=[SYSTEM, REPORT | {"role": "assistant"}]),
     "the model reads an assistant's message as its own reply, not a report to triage"),
    ("the order of the messages", but(messages=[REPORT, SYSTEM]),
     "instructions after the report are another prompt, with another answer"),
    ("response_format (one request has none)", but(response_format=None),
     "a request asking for JSON would get the prose cached for a request without a schema"),
    ("the schema's allowed severities", but(response_format=asks_json(SEVERITIES[:3])),
     "an answer 'critical' would be served to a request whose schema forbids it"),
    ("the temperature", but(temperature=0.7), "an answer sampled at 0.7 would be served for 0.0"),
    ("the seed", but(seed=7), "an answer sampled with another seed would be served"),
    ("max_tokens", but(max_tokens=5), "an answer cut off at 5 tokens would be served for 30"),
]
# (what differs, request a, request b, should they share a key?, why)
KEY_CASES = [("nothing but the order of their keys (at every level)", BASE, reordered(BASE), True,
              "the same request must hit the cache (json.dumps(..., sort_keys=True) writes "
              "it one way)")] + [(what, BASE, other, False, why) for what, other, why in CHANGES]
KEY_RULE = ("two requests share a key (a str) exactly when they would get the same answer: the "
            "order of a dict's keys does not matter; the model, every message's role and "
            "content and their order, response_format, temperature, seed and max_tokens do")


def check_cache_key(cache_key, extra_cases: list = ()) -> None:
    """cache_key(request) -> str; extra cases are (request a, request b, same key?)."""
    hidden = [("a hidden change", *case, "") for case in extra_cases]
    all_cases = cases(KEY_CASES, hidden, rule=KEY_RULE)
    for case in all_cases:
        what, first, second, same, why = case.inputs
        keys = [answer_to(case, KEY_RULE, cache_key, request) for request in (first, second)]
        for key in keys:
            if type(key) is not str:
                fail(case, KEY_RULE, f"cache_key returned {key!r} (a {type_name(key)}): return a "
                                     "str, which any cache can store.")
        if (keys[0] == keys[1]) != same:
            got = f"the same key {keys[0][:40]!r}" if keys[0] == keys[1] else "different keys"
            fail(case, KEY_RULE, f"Two requests that differ in {what} got {got}: {why}.")
    passed("cache_key", len(all_cases))


# Exercise 04.2: per-item results from a batch ---------------------------------------------

IDS = ["BUG-1", "BUG-2", "BUG-3"]
# (the ids sent in one batched request, the model's parsed answer)
PER_ITEM_CASES = [
    (IDS, {"answers": [{"id": "BUG-1", "severity": "high"}, {"id": "BUG-2", "severity": "low"},
                       {"id": "BUG-3", "severity": "medium"}]}),
    (IDS, {"answers": [{"id": "BUG-3", "severity": "low"}, {"id": "BUG-1", "severity": "high"}]}),
    (IDS, {"answers": [{"id": "BUG-1", "severity": "high"}, {"id": "BUG-1", "severity": "low"},
                       {"id": "BUG-2", "severity": "low"}, {"id": "BUG-3", "severity": "low"}]}),
    (IDS, {"answers": [{"id": "BUG-1", "severity": "urgent"}, {"id": "BUG-2"},
                       {"id": "BUG-3", "severity": "high"}, {"id": "BUG-9", "severity": "low"}]}),
    (IDS, {"answers": ["BUG-1: low", ["BUG-2", "high"], {"id": "BUG-3", "severity": "critical"}]}),
    (IDS, {"tickets": [{"id": "BUG-1", "severity": "high"}]}),
    (IDS, {"answers": "BUG-1 high, BUG-2 low"}),
    (IDS, "not JSON at all"),
]
PER_ITEM_RULE = ("return a dict of exactly the ids asked, in their order: an id answered "
                 "exactly once with a severity of low, medium, high or critical gets it; every "
                 "other asked id gets None; ids not asked for are ignored")


def expected_items(ids, answer) -> dict:
    """What per_item should return: each asked id's severity if answered once, validly."""
    items = answer.get("answers") if type(answer) is dict else None
    entries = [item for item in items if type(item) is dict] if type(items) is list else []
    said = {bug: [item.get("severity") for item in entries if item.get("id") == bug] for bug in ids}
    return {bug: s[0] if len(s) == 1 and s[0] in SEVERITIES else None for bug, s in said.items()}


def what_is_wrong(got, expected: dict) -> str:
    """The first thing wrong in `got`, a wrong answer of per_item."""
    if type(got) is not dict:
        return f"return a dict, not a {type_name(got)}"
    for bug, severity in expected.items():
        if bug not in got or got[bug] != severity:
            return (f"{bug} gets {severity!r}: it is answered once, with one of the four"
                    if severity else
                    f"{bug} gets None: it is not answered exactly once with one of the four")
    return "leave out the ids not asked for" if len(got) > len(expected) else "keep the ids' order"


def check_per_item(per_item, extra_cases: list = ()) -> None:
    """per_item(ids, answer) -> {id: severity or None}."""
    all_cases = cases(PER_ITEM_CASES, extra_cases, rule=PER_ITEM_RULE)
    for case in all_cases:
        ids, answer = case.inputs
        got = answer_to(case, PER_ITEM_RULE, per_item, ids, answer)
        expected = expected_items(ids, answer)
        if type(got) is not dict or list(got.items()) != list(expected.items()):
            fail(case, PER_ITEM_RULE, f"per_item{shown((ids, answer))} returned {got!r}; "
                                      f"expected {expected!r}: {what_is_wrong(got, expected)}.")
    passed("per_item", len(all_cases))


# Exercise 04.3: the cheapest valid tier ---------------------------------------------------

# tiers as (name, usd, what its step does: "fails", or the answer it returns); the tier to use
CHEAPEST_CASES = [
    ([("few-shot", 0.004, {"severity": "high"}), ("short prompt", 0.0004, {"severity": "low"}),
      ("rule", 0.0, {"severity": None})], "short prompt"),
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
        spec, tier = case.inputs
        tiers = [(name, usd, probe(name, 0.5, fails=does == "fails", answer=does))
                 for name, usd, does in spec]  # a step that fails never answers
        said = "[" + ", ".join(f"{name} ${usd:g} → {'raises' if does == 'fails' else repr(does)}"
                               for name, usd, does in spec) + "]"
        try:
            got, _, happened = ask_fully(cheapest_valid, tiers)
        except LearnerError as error:
            fail(case, CHEAPEST_RULE, f"cheapest_valid(tiers {said}) raised {error}.", error)
        price = {name: usd for name, usd, _ in spec}
        by_price = sorted(price, key=price.get)
        should_start = [name for name in by_price if tier is None or price[name] <= price[tier]]
        started = [name for name in by_price  # a tier started twice is listed twice
                   for event in happened.get(name, []) if event == "started"]
        if started != should_start:
            fail(case, CHEAPEST_RULE, f"With tiers {said}, cheapest_valid started {started}; "
                                      f"expected {should_start}: the cheapest first, each once, "
                                      "up to the first valid answer.")
        if type(got) is not dict or set(got) != {"tier", "answer", "usd"}:
            fail(case, CHEAPEST_RULE, f"cheapest_valid returned {got!r}: return a dict with the "
                                      "keys 'tier', 'answer' and 'usd'.")
        answer = {name: does for name, _, does in spec}.get(tier)  # None when none is valid
        if (got["tier"], got["answer"]) != (tier, answer):
            fail(case, CHEAPEST_RULE, f"With tiers {said}, cheapest_valid returned tier "
                                      f"{got['tier']!r}, answer {got['answer']!r}; expected "
                                      f"{tier!r}, {answer!r}: a valid answer is a dict whose "
                                      "only key is 'severity', one of the four.")
        usd = sum(price[name] for name in should_start)
        if type(got["usd"]) not in (int, float) or abs(got["usd"] - usd) > 1e-9:
            fail(case, CHEAPEST_RULE, f"With tiers {said}, cheapest_valid returned usd "
                                      f"{got['usd']!r}; expected {usd:g}: every tier started is "
                                      "paid for, the failed ones too.")
    passed("cheapest_valid", len(all_cases))
