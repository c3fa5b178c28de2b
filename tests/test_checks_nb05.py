"""Notebook 05's checks pass the reference solutions and fail wrong ones with feedback that
names the case and the fix (tests/test_checks.py holds the same for notebooks 00 to 04)."""
import re

import pytest

from labkit.checks import CheckFailed, check_admit, check_least_outstanding, check_token_bucket


def reference_send_times(arrivals, rate, burst):
    """The token bucket in its other, equivalent form (GCRA, as ATM networks and redis-cell
    write it): a theoretical arrival time that each request moves on by one interval."""
    interval, theoretical, sent = 1 / rate, 0.0, []
    for arrival in arrivals:
        time = max(arrival, sent[-1] if sent else 0.0, theoretical - (burst - 1) * interval)
        theoretical = max(theoretical, time) + interval
        sent.append(time)
    return sent


def reference_least_outstanding(in_flight, turn):
    fewest = min(in_flight.values())
    tied = [name for name, count in in_flight.items() if count == fewest]
    return tied[turn % len(tied)]


def reference_admit(in_system, capacity, severity):
    return in_system < (capacity if severity == "critical" else capacity - capacity // 4)


def test_the_checks_pass_the_references_on_visible_and_hidden_cases(capsys):
    check_token_bucket(reference_send_times)
    check_token_bucket(reference_send_times, extra_cases=[([0.0, 0.0, 0.0, 0.0], 10.0, 2)])
    check_least_outstanding(reference_least_outstanding)
    check_least_outstanding(reference_least_outstanding, extra_cases=[({"x": 3, "y": 3}, 4)])
    check_admit(reference_admit)
    check_admit(reference_admit, extra_cases=[(14, 16, "high"), (15, 16, "critical")])
    assert capsys.readouterr().out.count("✓") == 6


def spaced(arrivals, rate, burst):  # no burst at all: every request 1/rate after the last
    sent = []
    for arrival in arrivals:
        sent.append(max(arrival, sent[-1] + 1 / rate) if sent else arrival)
    return sent


def never_capped(arrivals, rate, burst):  # a quiet spell earns tokens beyond the bucket's size
    interval, theoretical, sent = 1 / rate, 0.0, []
    for arrival in arrivals:
        time = max(arrival, sent[-1] if sent else 0.0, theoretical - (burst - 1) * interval)
        theoretical += interval
        sent.append(time)
    return sent


@pytest.mark.parametrize("wrong, feedback", [
    (spaced, "send_times([0.0, 0.0, 0.0, 0.0, 0.0], 2.0, 3) returned [0.0, 0.5, 1.0, 1.5, 2.0]"),
    (never_capped, "Request 6 is the first that differs"),
    (lambda arrivals, rate, burst: list(arrivals), "it waits until a whole token is there"),
    (lambda arrivals, rate, burst: tuple(reference_send_times(arrivals, rate, burst)),
     "return a list of numbers"),
    (lambda arrivals, rate, burst: reference_send_times(arrivals, rate, burst)[:-1],
     "give one send time per arrival"),
])
def test_the_token_bucket_check_names_the_request_and_the_rule(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_token_bucket(wrong)


@pytest.mark.parametrize("wrong, feedback", [
    (lambda in_flight, turn: min(in_flight, key=in_flight.get),
     "'a', 'b' tie with 0: turn 1 takes number 1 of them"),
    (lambda in_flight, turn: list(in_flight)[turn % len(in_flight)],
     "least_outstanding({'a': 2, 'b': 1}, 0) returned 'a'; expected 'b'"),
    (lambda in_flight, turn: max(in_flight, key=in_flight.get), "has the fewest in flight"),
    (lambda in_flight, turn: list(in_flight).index(reference_least_outstanding(in_flight, turn)),
     "return a replica's name, a str"),
])
def test_the_balancer_check_names_the_replicas_in_flight(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_least_outstanding(wrong)


@pytest.mark.parametrize("wrong, feedback", [
    (lambda in_system, capacity, severity: in_system < capacity,
     "admit(6, 8, 'high') returned True; expected False: a high report has 6 places of 8"),
    (lambda in_system, capacity, severity: in_system <= capacity - capacity // 4,
     "returned True; expected False"),
    (lambda in_system, capacity, severity: int(reference_admit(in_system, capacity, severity)),
     "return True or False"),
])
def test_the_admit_check_names_the_places_left(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_admit(wrong)


def test_a_hidden_case_names_only_its_rule():
    with pytest.raises(CheckFailed) as failed:
        check_admit(lambda in_system, capacity, severity: in_system < capacity,
                    extra_cases=[(1234, 1240, "low")])
    assert "it tests this rule: admit while there is room" in str(failed.value)
    assert "1234" not in str(failed.value) and failed.value.case is None
