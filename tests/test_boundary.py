"""The boundary a check's questions cross: plain data of exact types, both ways."""
import json
import math

import pytest

from labkit.checks._boundary import (MAX_ANSWER_BYTES, Answerer, Unsupported, decode, dumps,
                                     encode)
from labkit.grading.checker import hidden_tests, unbound_names
from labkit.llm.usage import Ledger, Usage
from labkit.patterns.aggregate import Finding
from labkit.patterns.messaging import Message
from labkit.patterns.routing import Bid


@pytest.mark.parametrize("value", [
    None, True, 0, -3, 2.5, "text", [], [1, [2, "x"]], {"a": 1, "b": [None]}, (1, "two"),
    ({"style": "done"}, ["tests"]),
    Finding("a.py", 3, "style", "long line", "style", end=9),
    Bid("ana", 1.5, 0.75),
    Message("intake", "bug.reported", {"severity": "high"}, id=7),
])
def test_plain_data_and_labkits_dataclasses_cross_unchanged(value):
    assert decode(encode(value)) == value
    assert type(decode(encode(value))) is type(value)


def test_a_ledger_crosses_as_its_records():
    ledger = Ledger()
    ledger.add(Usage("nb", "agent", "gpt-4o", 10, 20, 0.5, 0.0))

    assert decode(encode(ledger)).records == ledger.records


class Subclass(str):
    pass


@pytest.mark.parametrize("value, named", [
    (Subclass("x"), "Subclass"), (object(), "object"), ({1: "int key"}, "dict"),
    ({"a", "b"}, "set"), (b"bytes", "bytes"),
])
def test_anything_else_arrives_as_unsupported_naming_its_type(value, named):
    arrived = decode(encode(value))

    assert isinstance(arrived, Unsupported) and arrived.type_name == named


def test_unsupported_equals_nothing_but_itself():
    odd = Unsupported("Anything")

    assert odd != Unsupported("Anything") and odd == odd and odd not in [None, "", 0]


@pytest.mark.parametrize("data", [{"__labkit__": "Finding", "fields": {"nope": 1}},
                                  {"__labkit__": "os.system", "fields": {}},
                                  {"unknown": "marker"}, {"a": 1, "b": 2, "c": 3}])
def test_data_that_is_not_the_format_decodes_to_unsupported(data):
    assert isinstance(decode(data), Unsupported)


def test_an_answer_over_the_bound_is_refused_and_so_is_nan():
    answerer = Answerer({"big": lambda: "x" * MAX_ANSWER_BYTES, "nan": lambda: math.nan},
                        finish=None)

    for name in ("big", "nan"):
        reply = answerer.serve(dumps({"call": {"name": name}, "args": []}))
        assert '"refused"' in reply


def test_a_returned_function_stays_behind_and_is_called_by_handle():
    answerer = Answerer({"adder": lambda n: (lambda m: n + m)}, finish=None)

    handle = decode(eval_reply(answerer, {"name": "adder"}, [2]))
    assert eval_reply(answerer, {"handle": handle.number}, [3]) == 5


def eval_reply(answerer, target, args):
    return json.loads(answerer.serve(dumps({"call": target, "args": encode(args)})))["value"]


def test_a_check_cells_unbound_names_are_the_learners_functions():
    source = ("from labkit.checks import check_dedupe\n"
              "def helper(x):\n    return x\n"
              "cases = [1]\n"
              "check_dedupe(dedupe, extra_cases=[helper(c) for c in cases])\n")

    assert unbound_names(source) == ["dedupe"]


def test_the_second_round_runs_a_check_cells_imports_and_hidden_tests_only():
    full = ("from labkit.checks import check_dedupe\n\ncheck_dedupe(dedupe)\n"
            "### BEGIN HIDDEN TESTS\ncheck_dedupe(dedupe, extra_cases=[([], [])])\n"
            "### END HIDDEN TESTS\n")
    visible = "from labkit.checks import check_dedupe\n\ncheck_dedupe(dedupe)\n"

    assert hidden_tests(full, visible) == ("from labkit.checks import check_dedupe\n\n"
                                           "check_dedupe(dedupe, extra_cases=[([], [])])\n")
