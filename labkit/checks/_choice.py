"""A design choice with a measurable answer: the learner's rule picks one option from a
table of measured ones (names, a score, a cost), and the table decides whether it is right."""
from __future__ import annotations

from ._core import answer_to, cases, fail, passed, type_name


def check_choice(choose, visible: list, extra_cases, *, score: str, name: str, rule: str,
                 explain: str) -> None:
    """Each case is (options as (name, score, tokens), the limit, the expected name or None).

    The options go to the learner as dicts {"name", <score>, "tokens"}, in the given order and
    reversed: a choice must not hang on the order of a table's rows.
    """
    all_cases = cases(visible, extra_cases, rule=rule)
    for case in all_cases:
        options, limit, expected = case.inputs
        rows = [{"name": option, score: value, "tokens": tokens} for option, value, tokens in options]
        for order in (rows, rows[::-1]):
            got = answer_to(case, rule, choose, [dict(row) for row in order], limit)
            if got is not None and type(got) is not str:
                fail(case, "the answer is an option's name (a str), or None",
                     f"{name} returned {got!r} (a {type_name(got)}): return the chosen "
                     "option's name, or None when none qualifies.")
            if got != expected:
                fail(case, rule, f"{name}({order!r}, {limit!r}) returned {got!r}; the choice "
                                 f"is {expected!r}. {explain}")
    passed(name, len(all_cases))
