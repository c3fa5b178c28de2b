"""labkit.patterns.collaboration: the sequential, parallel and hierarchical reference runners.

Every step is a plain async function that sleeps a little (no model, no network), and every
test runs with asyncio.run(...). Timing is checked by orders, counts and statuses, or with
generous margins ("well below the sum of the sleeps"), never by tight bounds.
"""
import asyncio
import time

import pytest

from labkit.observe import trace
from labkit.patterns.collaboration import Chain, Member, Outcome, hierarchical, parallel, sequential


def run(coroutine, timeout=5.0):
    """Run a test's coroutine; a hang (e.g. a deadlock) fails instead of blocking."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


class Concurrency:
    """Counts the steps running at once, and the most that ever ran together."""

    def __init__(self):
        self.running = 0
        self.most = 0

    async def hold(self, seconds):
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.running -= 1


# Sequential ----------------------------------------------------------------------------------

def test_stages_run_in_order_each_on_the_previous_output():
    calls = []

    def stage(name):
        async def step(given):
            calls.append((name, given))
            await asyncio.sleep(0.01)
            return f"{given}>{name}"
        return step

    chain = run(sequential([("spec", stage("spec")), ("code", stage("code")),
                            ("review", stage("review"))], "idea"))

    assert calls == [("spec", "idea"), ("code", "idea>spec"), ("review", "idea>spec>code")]
    assert [(o.name, o.status, o.value) for o in chain.outcomes] == [
        ("spec", "done", "idea>spec"), ("code", "done", "idea>spec>code"),
        ("review", "done", "idea>spec>code>review")]
    assert all(o.ok and o.error is None and o.seconds >= 0 for o in chain.outcomes)
    assert chain.stopped is None
    assert chain.output == "idea>spec>code>review"


def test_a_stage_that_raises_stops_the_chain_and_later_stages_are_not_called():
    calls = []

    async def spec(given):
        calls.append("spec")
        return "a spec"

    async def code(given):
        calls.append("code")
        raise ValueError("the spec is ambiguous")

    async def review(given):
        calls.append("review")
        return "reviewed"

    chain = run(sequential([("spec", spec), ("code", code), ("review", review)], "idea"))

    assert calls == ["spec", "code"]
    assert [o.name for o in chain.outcomes] == ["spec", "code"]
    failed = chain.outcomes[-1]
    assert failed.status == "failed" and not failed.ok
    assert failed.value is None
    assert "ValueError" in failed.error and "the spec is ambiguous" in failed.error
    assert "'code'" in chain.stopped and "failed" in chain.stopped
    assert "the spec is ambiguous" in chain.stopped
    with pytest.raises(RuntimeError, match="the spec is ambiguous"):
        chain.output


def test_an_invalid_output_marks_the_stage_invalid_and_stops_before_the_next_stage():
    calls, checked = [], []

    async def spec(given):
        calls.append("spec")
        return "too short"

    async def code(given):
        calls.append("code")
        return "code"

    def validate(name, output):
        checked.append((name, output))
        return "the spec has no acceptance criteria" if name == "spec" else None

    chain = run(sequential([("spec", spec), ("code", code)], "idea", validate=validate))

    assert calls == ["spec"]
    assert checked == [("spec", "too short")]
    assert len(chain.outcomes) == 1
    invalid = chain.outcomes[0]
    assert invalid.status == "invalid" and not invalid.ok
    assert invalid.error == "the spec has no acceptance criteria"
    assert "'spec'" in chain.stopped and "invalid" in chain.stopped
    with pytest.raises(RuntimeError, match="no acceptance criteria"):
        chain.output


def test_validate_sees_every_good_output_and_a_chain_that_passes_has_an_output():
    checked = []

    async def double(given):
        return given * 2

    def validate(name, output):
        checked.append((name, output))
        return None

    chain = run(sequential([("one", double), ("two", double)], 3, validate=validate))

    assert checked == [("one", 6), ("two", 12)]
    assert chain.stopped is None
    assert chain.output == 12


def test_validate_is_not_asked_about_a_stage_that_failed():
    checked = []

    async def boom(given):
        raise RuntimeError("boom")

    chain = run(sequential([("boom", boom)], None,
                           validate=lambda name, output: checked.append(name)))

    assert checked == []
    assert chain.outcomes[0].status == "failed"


def test_an_empty_stage_list_runs_nothing_and_does_not_stop():
    chain = run(sequential([], "idea"))

    assert isinstance(chain, Chain)
    assert chain.outcomes == []
    assert chain.stopped is None


def test_the_output_of_an_empty_chain_is_a_clear_error_not_an_index_error():
    chain = run(sequential([], "idea"))

    try:
        output = chain.output
    except RuntimeError:
        return  # a clear "the chain has no output" error is acceptable
    assert output == "idea"  # so is passing the input through, as an empty composition would


# Parallel ------------------------------------------------------------------------------------

def test_every_step_gets_the_same_input_and_results_keep_the_given_order():
    finished = []

    def step(name, seconds):
        async def work(given):
            await asyncio.sleep(seconds)
            finished.append(name)
            return (name, given)
        return work

    # the first step given is the last to finish
    results = run(parallel({"style": step("style", 0.15), "security": step("security", 0.08),
                            "tests": step("tests", 0.01)}, "the diff"))

    assert finished == ["tests", "security", "style"]
    assert list(results) == ["style", "security", "tests"]
    assert all(isinstance(o, Outcome) for o in results.values())
    assert {name: (o.status, o.value) for name, o in results.items()} == {
        "style": ("done", ("style", "the diff")),
        "security": ("done", ("security", "the diff")),
        "tests": ("done", ("tests", "the diff"))}
    assert [o.name for o in results.values()] == ["style", "security", "tests"]


def test_steps_really_overlap():
    events = []

    def step(name):
        async def work(given):
            events.append(("start", name))
            await asyncio.sleep(0.25)
            events.append(("end", name))
            return name
        return work

    names = ["a", "b", "c", "d"]
    started = time.perf_counter()
    results = run(parallel({name: step(name) for name in names}))
    elapsed = time.perf_counter() - started

    assert all(o.ok for o in results.values())
    kinds = [kind for kind, _ in events]
    assert kinds == ["start"] * 4 + ["end"] * 4  # every step started before any ended
    assert elapsed < 0.6 * (0.25 * len(names))  # well below the 1 s the sleeps sum to


@pytest.mark.parametrize("limit, most", [(1, 1), (2, 2), (None, 6)])
def test_limit_caps_how_many_steps_run_at_once(limit, most):
    gauge = Concurrency()

    async def work(given):
        await gauge.hold(0.03)
        return given

    results = run(parallel({f"s{i}": work for i in range(6)}, "x", limit=limit))

    assert gauge.most == most
    assert gauge.running == 0
    assert [o.status for o in results.values()] == ["done"] * 6


def test_at_the_deadline_running_steps_are_cancelled_and_finished_ones_keep_their_values():
    seen = {"cancelled": False, "cleaned up": False}

    async def quick(given):
        await asyncio.sleep(0.01)
        return "quick answer"

    async def slow(given):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen["cancelled"] = True
            raise
        finally:
            seen["cleaned up"] = True
        return "too late"

    started = time.perf_counter()
    results = run(parallel({"quick": quick, "slow": slow}, deadline=0.2))
    elapsed = time.perf_counter() - started

    assert seen == {"cancelled": True, "cleaned up": True}
    assert (results["quick"].status, results["quick"].value) == ("done", "quick answer")
    assert results["slow"].status == "timed out" and not results["slow"].ok
    assert results["slow"].value is None
    assert "0.2" in results["slow"].error  # the error names the deadline
    assert elapsed < 5  # it did not wait for the slow step's 10 s


def test_a_step_still_waiting_for_a_slot_at_the_deadline_times_out_without_starting():
    started = []

    async def slow(given):
        started.append("slow")
        await asyncio.sleep(10)

    async def queued(given):
        started.append("queued")
        return "never"

    results = run(parallel({"slow": slow, "queued": queued}, deadline=0.1, limit=1))

    assert started == ["slow"]
    assert [o.status for o in results.values()] == ["timed out", "timed out"]


def test_an_exception_in_one_branch_is_a_failed_outcome_and_the_others_are_intact():
    async def good(given):
        await asyncio.sleep(0.05)
        return given + 1

    async def bad(given):
        await asyncio.sleep(0.01)
        raise KeyError("no such file")

    results = run(parallel({"first": good, "broken": bad, "last": good}, 1))

    assert list(results) == ["first", "broken", "last"]
    assert results["broken"].status == "failed"
    assert "KeyError" in results["broken"].error and "no such file" in results["broken"].error
    assert (results["first"].status, results["first"].value) == ("done", 2)
    assert (results["last"].status, results["last"].value) == ("done", 2)


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_below_one_is_refused_before_any_step_runs(limit):
    called = []

    async def step(given):
        called.append(given)

    with pytest.raises(ValueError, match="limit"):
        run(parallel({"a": step}, "x", limit=limit))
    assert called == []


def test_no_steps_give_an_empty_result():
    assert run(parallel({})) == {}
    assert run(parallel({}, "x", deadline=0.1, limit=2)) == {}


def test_cancelling_the_caller_cancels_the_running_steps_and_leaves_no_task_behind():
    started, cleaned, step_tasks = [], [], []

    def step(name):
        async def work(given):
            started.append(name)
            step_tasks.append(asyncio.current_task())
            try:
                await asyncio.sleep(10)
            finally:
                cleaned.append(name)
        return work

    async def main():
        caller = asyncio.create_task(parallel({"a": step("a"), "b": step("b")}))
        while len(started) < 2:
            await asyncio.sleep(0.01)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        return [task.done() for task in step_tasks]

    done = run(main())

    assert sorted(cleaned) == ["a", "b"]
    assert done == [True, True]


# Hierarchical --------------------------------------------------------------------------------

WORKER_SLEEPS = {"w1": 0.09, "w2": 0.05, "w3": 0.01, "w4": 0.01, "w5": 0.05, "w6": 0.09}


def make_tree(calls, work_for=None):
    """manager -> lead_a [w1, w2, w3], lead_b [w4, w5, w6].

    Workers record (name, task) in calls and answer "<name>:<task>"; in lead_a the first worker
    is the slowest, so team order differs from finishing order. work_for may replace a worker.
    Leads and the manager record what they got and answer a summary of their team's Outcomes.
    """
    work_for = work_for or {}

    def worker(name):
        async def work(task):
            calls.append((name, task))
            await asyncio.sleep(WORKER_SLEEPS[name])
            return f"{name}:{task}"
        return Member(name, work_for.get(name, work))

    def consolidator(name, team):
        async def work(task, outcomes):
            calls.append((name, task, [o.name for o in outcomes]))
            return {"by": name, "team": [(o.name, o.status, o.value) for o in outcomes]}
        return Member(name, work, team)

    return consolidator("manager", [
        consolidator("lead_a", [worker("w1"), worker("w2"), worker("w3")]),
        consolidator("lead_b", [worker("w4"), worker("w5"), worker("w6")])])


def test_the_tree_passes_the_task_down_and_the_outcomes_up_in_team_order():
    calls = []

    top = run(hierarchical(make_tree(calls), "fix bug 7"))

    workers = sorted(c for c in calls if len(c) == 2)
    assert workers == [(f"w{i}", "fix bug 7") for i in range(1, 7)]
    leads = {c[0]: c for c in calls if len(c) == 3}
    assert leads["lead_a"] == ("lead_a", "fix bug 7", ["w1", "w2", "w3"])
    assert leads["lead_b"] == ("lead_b", "fix bug 7", ["w4", "w5", "w6"])
    assert leads["manager"] == ("manager", "fix bug 7", ["lead_a", "lead_b"])
    assert calls[-1][0] == "manager"  # the manager consolidates last

    assert isinstance(top, Outcome)
    assert (top.name, top.status) == ("manager", "done")
    assert top.value["by"] == "manager"
    (a_name, a_status, a_value), (b_name, b_status, b_value) = top.value["team"]
    assert (a_name, a_status, b_name, b_status) == ("lead_a", "done", "lead_b", "done")
    assert a_value == {"by": "lead_a", "team": [
        ("w1", "done", "w1:fix bug 7"), ("w2", "done", "w2:fix bug 7"),
        ("w3", "done", "w3:fix bug 7")]}
    assert b_value == {"by": "lead_b", "team": [
        ("w4", "done", "w4:fix bug 7"), ("w5", "done", "w5:fix bug 7"),
        ("w6", "done", "w6:fix bug 7")]}


def test_a_failing_worker_is_a_failed_outcome_in_its_leads_list_and_its_siblings_succeed():
    calls = []

    async def broken(task):
        await asyncio.sleep(0.01)
        raise OSError("disk full")

    top = run(hierarchical(make_tree(calls, {"w2": broken}), "build"))

    assert top.status == "done"
    lead_a, lead_b = top.value["team"]
    assert lead_a[1] == "done" and lead_b[1] == "done"
    team_a = lead_a[2]["team"]
    assert [(name, status) for name, status, _ in team_a] == [
        ("w1", "done"), ("w2", "failed"), ("w3", "done")]
    assert team_a[0][2] == "w1:build" and team_a[2][2] == "w3:build"
    assert [status for _, status, _ in lead_b[2]["team"]] == ["done"] * 3


def test_a_failing_worker_error_text_reaches_its_lead():
    got = {}

    async def broken(task):
        raise OSError("disk full")

    async def ok(task):
        return "fine"

    async def lead(task, outcomes):
        got.update({o.name: o for o in outcomes})
        return "consolidated"

    top = run(hierarchical(Member("lead", lead, [Member("ok", ok), Member("broken", broken)]),
                           "build"))

    assert (top.status, top.value) == ("done", "consolidated")
    assert got["ok"].ok and got["ok"].value == "fine"
    assert got["broken"].status == "failed"
    assert "OSError" in got["broken"].error and "disk full" in got["broken"].error


def slow_worker(seen):
    async def work(task):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen["cancelled"] = True
            raise
        return "too late"
    return work


def test_the_deadline_cuts_a_slow_worker_and_a_lead_at_the_top_still_consolidates():
    seen = {"cancelled": False}

    async def quick(task):
        await asyncio.sleep(0.01)
        return "quick"

    async def lead(task, outcomes):
        return [(o.name, o.status) for o in outcomes]

    top = run(hierarchical(Member("lead", lead, [Member("quick", quick),
                                                 Member("slow", slow_worker(seen))]),
                           "task", deadline=0.2))

    assert seen["cancelled"]
    assert (top.status, top.value) == ("done", [("quick", "done"), ("slow", "timed out")])


def test_the_deadline_cuts_a_slow_worker_and_its_lead_still_consolidates_under_a_manager():
    seen = {"cancelled": False}
    calls = []

    top = run(hierarchical(make_tree(calls, {"w1": slow_worker(seen)}), "task", deadline=0.3))

    assert seen["cancelled"]
    assert top.status == "done"
    lead_a, lead_b = top.value["team"]
    assert lead_b[1] == "done"
    assert lead_a[1] == "done", f"lead_a did not consolidate: {lead_a}"
    assert [(name, status) for name, status, _ in lead_a[2]["team"]] == [
        ("w1", "timed out"), ("w2", "done"), ("w3", "done")]


@pytest.mark.parametrize("limit", [1, 2])
def test_a_limit_over_the_whole_tree_caps_running_workers_and_does_not_deadlock(limit):
    gauge = Concurrency()
    calls = []

    def counted(name):
        async def work(task):
            await gauge.hold(0.02)
            return name
        return work

    tree = make_tree(calls, {f"w{i}": counted(f"w{i}") for i in range(1, 7)})

    top = run(asyncio.wait_for(hierarchical(tree, "task", limit=limit), timeout=4))

    assert gauge.most == limit
    assert top.status == "done"
    assert [lead[1] for lead in top.value["team"]] == ["done", "done"]
    assert [status for lead in top.value["team"] for _, status, _ in lead[2]["team"]] == [
        "done"] * 6


@pytest.mark.parametrize("limit", [0, -2])
def test_a_tree_limit_below_one_is_refused(limit):
    calls = []

    with pytest.raises(ValueError, match="limit"):
        run(hierarchical(make_tree(calls), "task", limit=limit))
    assert calls == []


def test_team_members_with_the_same_name_are_not_silently_dropped():
    ran = []

    def worker(label):
        async def work(task):
            ran.append(label)
            return label
        return work

    async def lead(task, outcomes):
        return [o.value for o in outcomes]

    tree = Member("lead", lead, [Member("reviewer", worker("first")),
                                 Member("reviewer", worker("second"))])
    try:
        top = run(hierarchical(tree, "task"))
    except ValueError:
        return  # refusing duplicate names is a fine fix too
    assert sorted(ran) == ["first", "second"]
    assert top.value == ["first", "second"]


# Tracing -------------------------------------------------------------------------------------

def test_parallel_traces_one_span_per_step_under_the_callers_span():
    async def step(given):
        await asyncio.sleep(0.01)
        return given

    async def main():
        with trace.span("review", agent="manager") as outer:
            await parallel({"style": step, "security": step, "tests": step}, "diff")
        return outer

    with trace.Trace() as run_trace:
        outer = run(main())

    steps = [s for s in run_trace.spans if s is not outer]
    assert sorted(s.name for s in steps) == ["security", "style", "tests"]
    assert all(s.agent == s.name and s.kind == "step" for s in steps)
    assert all(s.parent == outer.id for s in steps)


def test_hierarchical_traces_one_span_per_member_and_workers_under_their_lead():
    calls = []

    with trace.Trace() as run_trace:
        run(hierarchical(make_tree(calls), "task"))

    names = [s.name for s in run_trace.spans]
    assert sorted(names) == sorted(
        ["manager", "lead_a", "lead_b", "w1", "w2", "w3", "w4", "w5", "w6"])
    by_name = {s.name: s for s in run_trace.spans}
    assert by_name["manager"].parent is None
    for lead, workers in [("lead_a", ["w1", "w2", "w3"]), ("lead_b", ["w4", "w5", "w6"])]:
        assert by_name[lead].parent == by_name["manager"].id
        for worker in workers:
            assert by_name[worker].parent == by_name[lead].id, worker
    for s in run_trace.spans:  # each child lies within its parent's time
        if s.parent is not None:
            parent = next(p for p in run_trace.spans if p.id == s.parent)
            assert parent.start <= s.start <= s.end <= parent.end
