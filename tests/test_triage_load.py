"""Notebook 05's service under load (examples/triage_load.py): its limits hold on every
window, backpressure refuses at once with a reason, and a run's report counts what happened."""
import json
import sys

import httpx2

import labkit
from labkit.llm import cassettes
from labkit.llm.config import REPO_ROOT
from labkit.llm.replicas import Replica
from labkit.patterns.balancing import Balancer

sys.path[:0] = [str(REPO_ROOT / "examples"), str(REPO_ROOT / "examples" / "bugtracker")]
import triage_costs as tc  # noqa: E402  (found on the path above)
import triage_load as tl  # noqa: E402

BUGS = (tc.BUGS * 2)[:30]


class TicketModel(httpx2.BaseTransport):
    """Answers every report with a valid ticket after 0.8 s of model time, 100 tokens spent."""

    def handle_request(self, request):
        json.loads(request.content)
        answer = {"id": "t", "object": "chat.completion", "created": 0, "model": "canned",
                  "choices": [{"index": 0, "finish_reason": "stop", "message": {
                      "role": "assistant", "content": '{"severity": "low", "component": "ui"}'}}],
                  "usage": {"prompt_tokens": 90, "completion_tokens": 10, "total_tokens": 100}}
        return httpx2.Response(200, json=answer, headers={cassettes.LATENCY_HEADER: "0.8"})


def serve(**settings):
    """The service over one replica of TicketModel: (what each request met, the service)."""
    arrivals = settings.pop("arrivals_per_s", None)

    async def main():
        with Replica("r") as replica:
            replica._send = TicketModel()
            service = tl.Service(Balancer([replica]), **settings)
            return await service.load(BUGS, arrivals_per_s=arrivals), service
    return labkit.run(main())


def test_the_baseline_sends_everything_at_once(unit_session):
    served, _ = serve()
    assert [s.status for s in served] == ["ok"] * 30
    assert tl.most_in_window([s.sent for s in served]) == 30


def test_no_window_holds_more_than_the_limits(unit_session):
    # Requests that waited together for the token window still leave one by one at the rate.
    served, _ = serve(per_second=2, tokens_per_minute=1_000)
    sent = [s.sent for s in served]
    assert tl.most_in_window(sent) <= 2
    assert tl.most_tokens_in_window(served) <= 1_000
    assert [s.status for s in served] == ["ok"] * 30
    assert max(sent) - min(sent) > 120  # 30 x 100 tokens at 1,000 a minute: three windows


def test_an_overloaded_service_answers_busy_at_once_and_holds_no_more_than_its_capacity(unit_session):
    served, service = serve(per_second=2, capacity=4, arrivals_per_s=10)
    refused = [s for s in served if s.status == "busy"]
    assert refused and all(s.done == s.arrived and "the service is full" in s.message
                           for s in refused)
    assert {s.status for s in served} == {"ok", "busy"}
    assert service.most_in_system == 4


def test_a_reserve_at_the_door_keeps_places_for_critical_reports(unit_session):
    critical = set(BUGS[::3])
    served, _ = serve(per_second=2, capacity=4, arrivals_per_s=10,
                      admit=lambda in_system, capacity, severity: in_system < (
                          capacity if severity == "critical" else capacity - 2),
                      priority=lambda bug: "critical" if bug in critical else "low")
    refused = [s.bug in critical for s in served if s.status == "busy"]
    sent = [s.bug in critical for s in served]
    share = {kind: refused.count(kind) / sent.count(kind) for kind in (True, False)}
    assert share[False] > 0.5 and share[True] < share[False] / 2  # critical: refused far less


def test_a_report_counts_throughput_refusals_and_the_busiest_window():
    served = [tl.Served("a", "ok", {}, 0.0, 0.0, 1.0), tl.Served("b", "ok", {}, 0.0, 0.5, 2.0),
              tl.Served("c", "busy", None, 0.0, None, 0.0, message="full"),
              tl.Served("d", "error", None, 0.0, 1.0, 4.0)]
    row = tl.report(served, rate=1)
    assert row == {"requests": 4, "ok": 2, "busy": 1, "lost": 1, "model s": 4.0,
                   "throughput req/s": 0.5, "p95 s": 2.0, "most in 1 s": 2, "x limit": 0.5}
