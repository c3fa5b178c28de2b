"""Looking at a batch of answers: the counts, the picture and the sentence naming a collapse."""
from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from labkit.observe.answers import look, verdict  # noqa: E402


def test_every_answer_the_same_is_named_a_collapse():
    assert verdict(Counter(["critical"] * 13), "triages") == "Collapsed: all 13 triages are 'critical'."


def test_nearly_every_answer_the_same_is_a_collapse_too():
    sentence = verdict(Counter(["tests"] * 47 + ["style"]), "categories")

    assert sentence == "Collapsed: 47 of 48 categories (98%) are 'tests'."


def test_a_spread_batch_names_its_most_common_answer():
    sentence = verdict(Counter(["high", "high", "low", "medium"]), "severities")

    assert sentence == "3 different severities among 4; the most common, 'high', is 2 of 4 (50%)."


def test_too_few_answers_are_never_called_a_collapse():
    assert not verdict(Counter(["x", "x"]), "answers").startswith("Collapsed")
    assert verdict(Counter(), "answers") == "No answers to look at."


def test_look_draws_the_answers_never_given_as_empty_bars(capsys):
    counts = look(["high", "high", "critical"], "severities", order=["low", "high", "critical"])

    bars = plt.gca().patches
    assert counts == Counter({"high": 2, "critical": 1})
    assert [label.get_text() for label in plt.gca().get_yticklabels()] == ["low", "high", "critical"]
    assert [bar.get_width() for bar in bars] == [0, 2, 1]
    assert "most common, 'high'" in capsys.readouterr().out
    plt.close("all")
