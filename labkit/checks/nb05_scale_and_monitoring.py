"""Checks for notebook 05, scalability and monitoring."""
from __future__ import annotations

from ._core import answer_to, cases, fail, passed, shown, type_name

# Exercise 05.1: a token bucket ------------------------------------------------------------

# (arrival times, rate per second, burst); the answer is computed by the rule below
BUCKET_CASES = [
    ([0.0, 0.0, 0.0], 2.0, 1),                # no burst: one every 0.5 s
    ([0.0, 0.0, 0.0, 0.0, 0.0], 2.0, 3),      # three at once, then one every 0.5 s
    ([0.0, 5.0, 10.0], 1.0, 1),               # spread out: none waits
    ([0.0, 0.0, 0.0, 10.0, 10.0, 10.0, 10.0], 1.0, 3),  # the bucket refills, never above 3
    ([0.0, 0.1, 0.2, 0.3], 4.0, 2),           # arrivals between refills
    ([1.5, 1.5], 0.5, 1),                     # a slow rate: two seconds a token
]
BUCKET_RULE = ("the bucket holds at most `burst` tokens and is full at time 0; it gains `rate` "
               "tokens a second; each request, in arrival order, takes one token and goes out "
               "at the earliest time that is no earlier than its arrival or the request before "
               "it, when a whole token is there; return the send times as a list of numbers")


def bucket_times(arrivals: list, rate: float, burst: int) -> list[float]:
    """What send_times should return for these inputs (the rule above, step by step)."""
    tokens, at, sent = float(burst), 0.0, []
    for arrival in arrivals:
        time = max(arrival, sent[-1] if sent else 0.0)
        tokens, at = min(burst, tokens + (time - at) * rate), time
        if tokens < 1:
            time += (1 - tokens) / rate
            tokens, at = 1.0, time
        tokens -= 1
        sent.append(time)
    return sent


def check_token_bucket(send_times, extra_cases: list = ()) -> None:
    """send_times(arrivals, rate, burst) -> [send time of each request]."""
    all_cases = cases(BUCKET_CASES, extra_cases, rule=BUCKET_RULE)
    for case in all_cases:
        arrivals, rate, burst = case.inputs
        got = answer_to(case, BUCKET_RULE, send_times, arrivals, rate, burst)
        expected = bucket_times(arrivals, rate, burst)
        if type(got) is not list or not all(type(t) in (int, float) for t in got):
            fail(case, BUCKET_RULE, f"send_times{shown(case.inputs)} returned {got!r}: return a "
                                    "list of numbers, one send time per request.")
        if len(got) != len(expected) or any(abs(g - e) > 1e-6 for g, e in zip(got, expected)):
            first = next((i for i, (g, e) in enumerate(zip(got, expected)) if abs(g - e) > 1e-6),
                         min(len(got), len(expected)))
            fail(case, BUCKET_RULE, f"send_times{shown(case.inputs)} returned {got!r}; expected "
                                    f"{[round(t, 6) for t in expected]!r}. Request {first} is "
                                    "the first that differs: " + _why(case.inputs, got, expected, first))
    passed("send_times", len(all_cases))


def _why(inputs: tuple, got: list, expected: list, index: int) -> str:
    arrivals, rate, burst = inputs
    if len(got) != len(expected):
        return f"give one send time per arrival: {len(expected)}, not {len(got)}."
    if expected[index] == arrivals[index]:
        return "a token was there when it arrived: it goes at once."
    return (f"it waits until a whole token is there (one every {1 / rate:g} s, at most {burst} "
            "kept).")


# Exercise 05.2: least outstanding, ties in turn -------------------------------------------

# (requests in flight by replica, the request's number)
BALANCE_CASES = [
    ({"a": 2, "b": 1}, 0),
    ({"a": 0, "b": 3, "c": 1}, 7),
    ({"a": 0, "b": 0}, 0),
    ({"a": 0, "b": 0}, 1),
    ({"a": 1, "b": 1, "c": 4}, 5),
    ({"a": 2, "b": 5, "c": 2, "d": 2}, 4),
    ({"only": 9}, 3),
]
BALANCE_RULE = ("name the replica with the fewest requests in flight; when several share the "
                "fewest, take them in turn: the (turn mod how many tie)-th of them, in the "
                "replicas' order")


def tied_choice(in_flight: dict, turn: int) -> str:
    fewest = min(in_flight.values())
    tied = [name for name, count in in_flight.items() if count == fewest]
    return tied[turn % len(tied)]


def check_least_outstanding(least_outstanding, extra_cases: list = ()) -> None:
    """least_outstanding(in_flight, turn) -> the name of a replica."""
    all_cases = cases(BALANCE_CASES, extra_cases, rule=BALANCE_RULE)
    for case in all_cases:
        in_flight, turn = case.inputs
        got = answer_to(case, BALANCE_RULE, least_outstanding, dict(in_flight), turn)
        expected = tied_choice(in_flight, turn)
        if type(got) is not str:
            fail(case, BALANCE_RULE, f"least_outstanding{shown(case.inputs)} returned {got!r} (a "
                                     f"{type_name(got)}): return a replica's name, a str.")
        if got != expected:
            fewest = min(in_flight.values())
            tied = [name for name, count in in_flight.items() if count == fewest]
            why = (f"{expected!r} has the fewest in flight ({fewest})" if len(tied) == 1 else
                   f"{', '.join(map(repr, tied))} tie with {fewest}: turn {turn} takes number "
                   f"{turn % len(tied)} of them")
            fail(case, BALANCE_RULE, f"least_outstanding{shown(case.inputs)} returned {got!r}; "
                                     f"expected {expected!r}: {why}.")
    passed("least_outstanding", len(all_cases))


# Exercise 05.3: backpressure with a reserve -----------------------------------------------

# (requests in the service now, its capacity, the report's severity)
ADMIT_CASES = [
    (0, 8, "low"), (5, 8, "high"), (6, 8, "high"), (6, 8, "critical"), (7, 8, "critical"),
    (8, 8, "critical"), (9, 8, "critical"), (2, 3, "low"), (3, 3, "critical"), (0, 1, "medium"),
    (11, 12, "medium"), (8, 12, "low"), (9, 12, "low"), (11, 12, "critical"),
]
ADMIT_RULE = ("admit while there is room; capacity // 4 places are kept for critical reports: "
              "a report that is not critical gets in only while in_system < capacity - "
              "capacity // 4, a critical one while in_system < capacity; return a bool")


def admits(in_system: int, capacity: int, severity: str) -> bool:
    room = capacity if severity == "critical" else capacity - capacity // 4
    return in_system < room


def check_admit(admit, extra_cases: list = ()) -> None:
    """admit(in_system, capacity, severity) -> True to let the request in, False for busy."""
    all_cases = cases(ADMIT_CASES, extra_cases, rule=ADMIT_RULE)
    for case in all_cases:
        in_system, capacity, severity = case.inputs
        got = answer_to(case, ADMIT_RULE, admit, in_system, capacity, severity)
        expected = admits(in_system, capacity, severity)
        if type(got) is not bool:
            fail(case, ADMIT_RULE, f"admit{shown(case.inputs)} returned {got!r} (a "
                                   f"{type_name(got)}): return True or False.")
        if got != expected:
            room = capacity if severity == "critical" else capacity - capacity // 4
            fail(case, ADMIT_RULE, f"admit{shown(case.inputs)} returned {got!r}; expected "
                                   f"{expected!r}: a {severity} report has {room} places of "
                                   f"{capacity}, and {in_system} are taken.")
    passed("admit", len(all_cases))
