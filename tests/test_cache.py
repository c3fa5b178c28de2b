"""labkit.patterns.cache: an exact cache on disk, keyed on the whole request; a similarity cache."""
import pytest

import labkit
from labkit import Agent
from labkit.llm.chat import ledger
from labkit.llm.scripted import ScriptedModel
from labkit.patterns.cache import ExactCache, SimilarCache, jaccard, request_key

TRIAGER = Agent("triager", "triage", "You triage bug reports.")
SCHEMA = {"title": "triage", "type": "object", "properties": {"severity": {"enum": ["low", "high"]}}}


def ask(cache, prompt, **options):
    return labkit.run(cache.aask(TRIAGER, prompt, **options))


def test_the_same_request_is_answered_once_and_then_from_the_cache(unit_session, tmp_path):
    scripted, cache = ScriptedModel(['{"severity": "high"}']), ExactCache(tmp_path)
    ledger.clear()
    with labkit.override(client=scripted):
        first = ask(cache, "It crashes.", schema=SCHEMA, max_tokens=30)
        again = ask(cache, "It crashes.", schema=SCHEMA, max_tokens=30)
    assert again.text == first.text and (first.cached, again.cached) == (False, True)
    assert len(scripted.requests) == 1 and len(ledger) == 1  # a hit is no model call
    assert (cache.hits, cache.misses, cache.hit_rate()) == (1, 1, 0.5)
    assert cache.saved_tokens == first.usage.total_tokens
    assert again.usage.total_tokens == 0 and again.usage.model == first.usage.model


@pytest.mark.parametrize("other", [
    {"schema": None},                       # no schema: the model may answer in prose
    {"max_tokens": 5},                      # a shorter limit can cut the answer off
    {"temperature": 0.7},
    {"model": "gpt-4o-mini"},
    {"prompt": "It crashes!"},
])
def test_a_request_that_differs_in_anything_that_changes_the_answer_misses(unit_session, tmp_path,
                                                                          other):
    base = {"prompt": "It crashes.", "schema": SCHEMA, "max_tokens": 30}
    changed = base | other
    cache = ExactCache(tmp_path)
    with labkit.override(client=ScriptedModel(['{"severity": "high"}', "It is bad."])):
        ask(cache, base.pop("prompt"), **base)
        ask(cache, changed.pop("prompt"), **changed)
    assert (cache.hits, cache.misses) == (0, 2)


def test_the_cache_survives_a_restart(unit_session, tmp_path):
    with labkit.override(client=ScriptedModel(['{"severity": "low"}'])):
        before = ExactCache(tmp_path / "answers")
        ask(before, "A typo.", schema=SCHEMA)
        before.close()
    after = ExactCache(tmp_path / "answers")  # a new process would open the same folder
    with labkit.override(client=ScriptedModel([])):  # any model call would fail the test
        reply = ask(after, "A typo.", schema=SCHEMA)
    assert reply.cached and reply.text == '{"severity": "low"}'


def test_the_key_ignores_the_order_of_a_requests_keys():
    one = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 1}
    other = {"seed": 1, "messages": [{"content": "hi", "role": "user"}], "model": "m"}
    assert request_key(one) == request_key(other)
    assert request_key(one) != request_key(one | {"seed": 2})


def test_jaccard_is_the_share_of_words_in_common():
    assert jaccard("It crashes when I sign in", "it crashes when I search") == pytest.approx(4 / 7)
    assert jaccard("same words", "Words same") == 1.0
    assert jaccard("", "") == 1.0


def test_a_similar_question_gets_the_kept_answer_at_or_above_the_threshold_only():
    cache = SimilarCache(threshold=0.5)
    cache.put("the app crashes when I sign in", "high")
    assert cache.get("the app crashes when I sign in!") == ("the app crashes when I sign in", "high")
    assert cache.get("there is a typo in the label") is None
    assert (cache.hits, cache.misses) == (1, 1)


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5])
def test_a_threshold_outside_0_to_1_is_refused(threshold):
    with pytest.raises(ValueError, match="above 0 and at most 1"):
        SimilarCache(threshold)
