"""Escalations a person answers later, dead letters, and the approval panel: none ever waits."""
import pytest

from labkit.llm.model_loop import run_on_cells_loop
from labkit.patterns.escalation import (APPROVE, HOLD, REJECT, DeadLetters, Escalation,
                                        EscalationQueue, approval_panel)


@pytest.fixture
def queue(tmp_path):
    return EscalationQueue(tmp_path / "run.sqlite")


def test_an_escalation_waits_for_a_person_and_the_policy_decides_meanwhile(queue):
    ticket = queue.escalate("BUG-7", "no valid triage after 3 tiers", proposal={"severity": "high"})

    assert queue.decide(ticket) == HOLD  # at once: no one has answered
    assert queue.decide(ticket, policy=APPROVE) == APPROVE
    assert queue.all(pending=True) == [Escalation(ticket, "BUG-7", "no valid triage after 3 tiers",
                                                  {"severity": "high"}, None, None)]


def test_a_persons_answer_wins_over_any_policy(queue):
    ticket = queue.escalate("BUG-7", "the rules disagree with the model")
    queue.answer(ticket, REJECT, by="ana")

    assert [queue.decide(ticket, policy) for policy in (HOLD, APPROVE, REJECT)] == [REJECT] * 3
    assert queue.all(pending=True) == []
    assert queue.all()[0].decided_by == "ana"


def test_an_escalation_is_answered_once(queue):
    ticket = queue.escalate("BUG-7", "unsure")
    queue.answer(ticket, APPROVE, by="ana")

    with pytest.raises(ValueError, match="answered already"):
        queue.answer(ticket, REJECT, by="ben")
    with pytest.raises(ValueError, match="No open escalation #99"):
        queue.answer(99, APPROVE, by="ana")
    assert queue.decide(ticket) == APPROVE


def test_a_decision_or_policy_that_does_not_exist_names_the_choices(queue):
    ticket = queue.escalate("BUG-7", "unsure")

    with pytest.raises(ValueError, match="'approve' or 'reject'"):
        queue.answer(ticket, HOLD, by="ana")  # holding is what no answer does
    with pytest.raises(ValueError, match="the policies are hold, approve, reject"):
        queue.decide(ticket, policy="ask later")
    with pytest.raises(ValueError, match="No escalation #99"):
        queue.decide(99)


def test_escalations_and_answers_outlive_the_kernel(tmp_path):
    first = EscalationQueue(tmp_path / "run.sqlite")
    answered, waiting = first.escalate("BUG-1", "unsure"), first.escalate("BUG-2", "unsure")
    first.answer(answered, APPROVE, by="ana")
    first.db.close()

    again = EscalationQueue(tmp_path / "run.sqlite")
    assert (again.decide(answered), again.decide(waiting)) == (APPROVE, HOLD)
    assert [item.task for item in again.all(pending=True)] == ["BUG-2"]


def test_a_run_escalates_from_its_thread_and_a_person_answers_from_another(queue):
    """A notebook's cells that await run in labkit's model-time thread; a click, in the kernel's."""
    async def escalate():
        return queue.escalate("BUG-7", "unsure")

    ticket = run_on_cells_loop(escalate())
    queue.answer(ticket, APPROVE, by="ana")
    assert queue.decide(ticket) == APPROVE


def test_a_dead_letter_keeps_its_reason_and_its_input(tmp_path):
    letters = DeadLetters(tmp_path / "run.sqlite")
    letters.add("task-3", "intake", "invalid report: too short", {"id": "BUG-x", "text": "?"})

    again = DeadLetters(tmp_path / "run.sqlite")
    assert again.all() == [{"task": "task-3", "step": "intake",
                            "reason": "invalid report: too short",
                            "payload": {"id": "BUG-x", "text": "?"}}]


def rows(panel):
    """Each open escalation's widgets: (its label, Approve, Reject, its status)."""
    return [row.children for row in panel.children]


def test_a_click_in_the_panel_answers_the_queue(queue):
    first, second = queue.escalate("BUG-1", "unsure"), queue.escalate("BUG-2", "no quote")
    panel = approval_panel(queue, by="ana")
    [(label, approve, _, status), (_, _, reject, other_status)] = rows(panel)
    assert label.value == "#1 BUG-1: unsure" and status.value == "waiting"

    approve.click()
    reject.click()

    assert (queue.decide(first), queue.decide(second)) == (APPROVE, REJECT)
    assert (status.value, other_status.value) == ("approved by ana", "rejected by ana")
    assert [item.decided_by for item in queue.all()] == ["ana", "ana"]


def test_a_panel_with_nothing_open_says_so(queue):
    queue.answer(queue.escalate("BUG-1", "unsure"), APPROVE, by="ana")

    [label] = approval_panel(queue).children
    assert label.value == "No open escalations."
