"""labkit.observe.metrics and .dashboard: a load run's metrics, their endpoint, their picture.

The run below is known by heart: the planner's 20 answers took 0.1 s, 0.2 s ... 2.0 s, so
its exact p50 is 1.0 s and its p95 1.9 s (nearest rank); its last answer failed validation,
and four more requests got no answer (3 refused as busy, 1 timed out).
"""
import gc
import socket

import prometheus_client
import pytest

from labkit.llm.usage import Usage
from labkit.observe.dashboard import Dashboard, caption, draw, someone_watching, svg_of
from labkit.observe.metrics import Metrics, ScrapeError, percentile, scrape


def usage(agent, model, latency_s, prompt_tokens=100, completion_tokens=10, cost_usd=0.001):
    return Usage(notebook="nb", agent=agent, model=model, prompt_tokens=prompt_tokens,
                 completion_tokens=completion_tokens, latency_s=latency_s, cost_usd=cost_usd)


def load_run() -> Metrics:
    metrics = Metrics()
    for tenth in range(1, 21):
        metrics.record(usage("planner", "m1", tenth / 10), ok=tenth != 20)
    for kind in ("busy", "busy", "busy", "timeout"):
        metrics.record_error("planner", "m1", kind)
    metrics.record(usage("critic", "m2", 0.5, prompt_tokens=40, completion_tokens=5, cost_usd=0))
    metrics.record(usage("critic", "m2", 3.0, prompt_tokens=60, completion_tokens=15, cost_usd=0))
    return metrics


def key(name, **labels):
    return (name, frozenset(labels.items()))


def refuses_connections(url) -> bool:
    port = int(url.split(":")[2].split("/")[0])
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


# -- summary ---------------------------------------------------------------------------------

def test_percentile_is_the_nearest_rank():
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 95) == 4.0
    assert percentile([], 50) is None


def test_summary_has_one_row_per_agent_and_model_in_the_order_first_seen():
    assert [(row["agent"], row["model"]) for row in load_run().summary()] == [
        ("planner", "m1"), ("critic", "m2")]


def test_summary_gives_exact_percentiles_tokens_cost_and_rates():
    planner, critic = load_run().summary()
    assert planner["requests"] == 24
    assert planner["latency_p50_s"] == 1.0
    assert planner["latency_p95_s"] == 1.9
    assert (planner["prompt_tokens"], planner["completion_tokens"]) == (2000, 200)
    assert planner["cost_usd"] == pytest.approx(0.02)
    assert planner["error_rate"] == pytest.approx(4 / 24)  # busy and timeout: no answer
    assert planner["success_rate"] == pytest.approx(19 / 24)  # the invalid answer is neither
    assert (critic["latency_p50_s"], critic["latency_p95_s"]) == (0.5, 3.0)
    assert (critic["error_rate"], critic["success_rate"]) == (0.0, 1.0)


def test_an_agent_whose_calls_all_failed_has_no_latency():
    metrics = Metrics()
    metrics.record_error("a", "m", "error")
    [row] = metrics.summary()
    assert row["latency_p50_s"] is None and row["error_rate"] == 1.0


def test_outcomes_are_counted_over_all_agents():
    assert dict(load_run().outcomes()) == {"ok": 21, "invalid": 1, "busy": 3, "timeout": 1}


def test_an_error_cannot_be_recorded_as_an_answer():
    with pytest.raises(ValueError, match=r"record\(usage, ok=False\)"):
        Metrics().record_error("a", "m", "invalid")


def test_frame_is_the_summary_as_a_table():
    table = load_run().frame()
    assert table.loc[("planner", "m1"), "requests"] == 24


# -- the endpoint ----------------------------------------------------------------------------

def test_a_scrape_reads_back_what_was_recorded():
    with load_run() as metrics:
        samples = scrape(metrics.serve())
    planner = {"agent": "planner", "model": "m1"}
    assert samples[key("labkit_requests_total", **planner, outcome="ok")] == 19
    assert samples[key("labkit_requests_total", **planner, outcome="invalid")] == 1
    assert samples[key("labkit_requests_total", **planner, outcome="busy")] == 3
    assert samples[key("labkit_requests_total", **planner, outcome="timeout")] == 1
    assert samples[key("labkit_tokens_total", **planner, kind="prompt")] == 2000
    assert samples[key("labkit_tokens_total", **planner, kind="completion")] == 200
    assert samples[key("labkit_cost_usd_total", **planner)] == pytest.approx(0.02)
    # Only answered calls have a latency: 20, summing 0.1 + 0.2 + ... + 2.0 = 21 s.
    assert samples[key("labkit_latency_seconds_count", **planner)] == 20
    assert samples[key("labkit_latency_seconds_sum", **planner)] == pytest.approx(21.0)
    assert samples[key("labkit_latency_seconds_bucket", **planner, le="1.0")] == 10
    assert samples[key("labkit_latency_seconds_bucket", **planner, le="+Inf")] == 20
    critic = {"agent": "critic", "model": "m2"}
    assert samples[key("labkit_latency_seconds_bucket", **critic, le="0.5")] == 1


def test_the_endpoint_listens_on_127_0_0_1_only():
    with Metrics() as metrics:
        assert metrics.serve().startswith("http://127.0.0.1:")


def test_serving_again_gives_the_same_url():
    with Metrics() as metrics:
        assert metrics.serve() == metrics.serve()


def test_a_closed_metrics_releases_its_port():
    metrics = Metrics()
    url = metrics.serve()
    metrics.close()
    assert refuses_connections(url)
    with pytest.raises(ScrapeError, match="closed or was never served"):
        scrape(url)


def test_a_dropped_metrics_stops_its_server():
    """A notebook cell run again drops the Metrics it made before: its server goes with it."""
    metrics = Metrics()
    url = metrics.serve()
    del metrics
    gc.collect()
    assert refuses_connections(url)


def test_a_scrape_of_an_unreachable_url_says_what_to_do():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ScrapeError, match=r"Nothing answered at .* Call metrics.serve\(\)"):
        scrape(f"http://127.0.0.1:{port}/metrics", timeout_s=2)


def test_a_scrape_wants_an_http_url():
    with pytest.raises(ValueError, match="http://"):
        scrape("127.0.0.1:9090")


def test_two_metrics_in_one_process_keep_their_own_counts():
    first, second = Metrics(), Metrics()  # the same names twice: no "Duplicated timeseries"
    first.record(usage("a", "m", 1.0))
    second.record(usage("a", "m", 1.0))
    second.record_error("a", "m", "busy")
    with first, second:
        one, two = scrape(first.serve()), scrape(second.serve())
    ok = key("labkit_requests_total", agent="a", model="m", outcome="ok")
    assert (one[ok], two[ok]) == (1, 1)
    assert key("labkit_requests_total", agent="a", model="m", outcome="busy") not in one
    assert prometheus_client.REGISTRY.get_sample_value(
        "labkit_requests_total", {"agent": "a", "model": "m", "outcome": "ok"}) is None


# -- the dashboard ---------------------------------------------------------------------------

def heights(axes):
    return [patch.get_height() for patch in axes.patches]


def test_headless_the_dashboard_redraws_nothing_until_finish(capsys):
    metrics = Metrics()
    dashboard = Dashboard(metrics, every=5, live=False)
    for tenth in range(1, 21):
        metrics.record(usage("planner", "m1", tenth / 10))
    assert (dashboard.redraws, dashboard.figure) == (0, None)
    assert capsys.readouterr().out == ""


def test_finish_draws_the_final_state_once():
    metrics = load_run()
    dashboard = Dashboard(metrics, every=5, live=False)
    dashboard.finish()
    by_outcome, by_agent, by_model = dashboard.figure.axes
    assert [label.get_text() for label in by_outcome.get_xticklabels()] == [
        "ok", "invalid", "busy", "timeout"]
    assert heights(by_outcome) == [21, 1, 3, 1]
    assert heights(by_agent) == [1.0, 0.5, 1.9, 3.0]  # p50 planner, critic; then p95
    assert heights(by_model) == [2000, 100, 200, 20]  # prompt m1, m2; then completion
    assert dashboard.redraws == 0


def test_outside_ipython_finish_prints_the_caption(capsys):
    Dashboard(load_run(), live=False).finish()
    assert capsys.readouterr().out == (
        "Dashboard: 26 requests (21 ok, 1 invalid, 3 busy, 1 timeout); agents: planner, "
        "critic; models: m1, m2\n")


def test_a_grader_gets_no_figure(monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_GRADING", "1")
    dashboard = Dashboard(load_run(), live=False)
    dashboard.finish()
    assert dashboard.figure is None and capsys.readouterr().out == ""


def test_the_same_data_draw_the_same_svg():
    first, second = svg_of(draw(load_run())), svg_of(draw(load_run()))
    assert first == second
    assert "<dc:date>" not in first


def test_an_empty_run_draws_empty_panels():
    metrics = Metrics()
    assert heights(draw(metrics).axes[0]) == [0, 0]  # ok and invalid, none yet
    assert caption(metrics).startswith("Dashboard: 0 requests")


def test_live_the_dashboard_redraws_every_few_requests_until_finish():
    metrics = Metrics()
    dashboard = Dashboard(metrics, every=5, live=True)
    for tenth in range(1, 13):
        metrics.record(usage("planner", "m1", tenth / 10))
    assert dashboard.redraws == 2  # after the 5th and the 10th
    [frame] = dashboard.output.outputs
    assert frame["data"]["image/svg+xml"].lstrip().startswith("<?xml")
    dashboard.finish()
    assert dashboard.output.outputs == ()  # the plain output replaces the live frame
    for tenth in range(5):
        metrics.record(usage("planner", "m1", 1.0))
    assert dashboard.redraws == 2


def test_no_one_watches_outside_a_kernel(monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/05.ipynb")
    assert someone_watching() is False
    assert Dashboard(Metrics()).live is False


def test_a_dashboard_redraws_at_least_every_request():
    with pytest.raises(ValueError, match="every=0"):
        Dashboard(Metrics(), every=0)
