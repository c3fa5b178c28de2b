"""labkit.observe.viz: the pictures of a run, drawn from a small hand-made Trace.

An arrow is a matplotlib Annotation (ax.annotate with an empty text); labels are plain
Text objects. Both live in ax.texts, so the tests count them by type.
"""
import matplotlib

matplotlib.use("Agg")  # draw off-screen: no display needed

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from labkit.observe import trace, viz  # noqa: E402
from labkit.observe.trace import Trace, span  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def arrows(ax):
    return [t for t in ax.texts if isinstance(t, Annotation)]


def labels(ax):
    return [t.get_text() for t in ax.texts if not isinstance(t, Annotation)]


def small_run():
    """manager asks researcher and writer; both answer; writer notes something to itself."""
    with Trace() as run:
        with span("plan", agent="manager"):
            with span("llm", agent="manager", kind="llm"):
                pass
            trace.message("manager", "researcher", "request", topic="task.research")
            trace.message("manager", "writer", "request")
        with span("research", agent="researcher"):
            with span("llm", agent="researcher", kind="llm"):
                pass
            trace.message("researcher", "manager", "reply")
        with span("write", agent="writer"):
            trace.message("writer", "writer", "note")
            trace.message("writer", "manager", "reply")
    return run


def many_messages(count):
    with Trace() as run:
        for number in range(count):
            trace.message("a" if number % 2 == 0 else "b", "b" if number % 2 == 0 else "a",
                          f"m{number}")
    return run


def no_messages():
    with Trace() as run:
        with span("plan", agent="manager"):
            pass
    return run


# sequence_diagram --------------------------------------------------------------------------

def test_sequence_diagram_draws_one_arrow_per_message_between_two_agents():
    fig = viz.sequence_diagram(small_run())

    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(arrows(ax)) == 4  # 5 messages, one of them from writer to itself (no arrow)
    text = labels(ax)
    assert [name for name in ["manager", "researcher", "writer"] if name in text] == [
        "manager", "researcher", "writer"]
    assert "request [task.research]" in text  # a published message shows its topic
    assert text.count("reply") == 2 and "note" in text


def test_sequence_diagram_arrows_go_from_sender_to_recipient_top_to_bottom():
    fig = viz.sequence_diagram(small_run())

    ax = fig.axes[0]
    lanes = {t.get_text(): t.get_position()[0] for t in ax.texts
             if t.get_text() in ("manager", "researcher", "writer")}
    drawn = [(a.xyann[0], a.xy[0], a.xy[1]) for a in arrows(ax)]  # (from x, to x, row)
    assert drawn == [
        (lanes["manager"], lanes["researcher"], 1),
        (lanes["manager"], lanes["writer"], 2),
        (lanes["researcher"], lanes["manager"], 3),
        (lanes["writer"], lanes["manager"], 5)]


def test_sequence_diagram_respects_limit_and_says_so_in_the_title():
    fig = viz.sequence_diagram(many_messages(10), limit=4)

    ax = fig.axes[0]
    assert len(arrows(ax)) == 4
    assert [label for label in labels(ax) if label.startswith("m")] == ["m0", "m1", "m2", "m3"]
    assert "first 4 of 10" in ax.get_title()


def test_sequence_diagram_title_has_no_note_when_everything_fits():
    fig = viz.sequence_diagram(many_messages(3), title="Run 1")

    assert fig.axes[0].get_title() == "Run 1"


def test_sequence_diagram_of_a_trace_without_messages_raises_a_clear_value_error():
    with pytest.raises(ValueError, match="no messages"):
        viz.sequence_diagram(no_messages())
    with pytest.raises(ValueError, match="no messages"):
        viz.sequence_diagram(Trace())


# agent_graph -------------------------------------------------------------------------------

def test_agent_graph_draws_one_arrow_per_pair_with_its_message_count():
    run = small_run()
    with run:
        trace.message("manager", "researcher", "request")  # a second manager -> researcher

    fig = viz.agent_graph(run)

    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    # Pairs: manager->researcher (2), manager->writer, researcher->manager, writer->manager;
    # writer->writer is not drawn.
    assert len(arrows(ax)) == 4
    counts = sorted(label for label in labels(ax) if label.isdigit())
    assert counts == ["1", "1", "1", "2"]
    assert {"manager", "researcher", "writer"} <= set(labels(ax))


def test_agent_graph_makes_the_busiest_pair_the_widest_arrow():
    with Trace() as run:
        for _ in range(4):
            trace.message("a", "b", "inform")
        trace.message("b", "a", "reply")

    ax = viz.agent_graph(run).axes[0]

    widths = sorted(a.arrow_patch.get_linewidth() for a in arrows(ax))
    assert len(widths) == 2 and widths[0] < widths[1]


def test_agent_graph_of_a_trace_without_messages_raises_a_clear_value_error():
    with pytest.raises(ValueError, match="no messages"):
        viz.agent_graph(no_messages())


# timeline ----------------------------------------------------------------------------------

def test_timeline_draws_one_bar_per_model_call_and_one_row_per_agent():
    fig = viz.timeline(small_run())

    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.patches) == 2  # two "llm" spans
    assert [t.get_text() for t in ax.get_yticklabels()] == ["manager", "researcher"]


def test_timeline_can_draw_another_kind_of_span():
    ax = viz.timeline(small_run(), kind="step").axes[0]

    assert len(ax.patches) == 3  # plan, research, write
    assert [t.get_text() for t in ax.get_yticklabels()] == ["manager", "researcher", "writer"]


def test_timeline_bars_start_when_their_spans_start():
    run = small_run()
    calls = [s for s in run.spans if s.kind == "llm"]

    ax = viz.timeline(run).axes[0]

    assert [bar.get_x() for bar in ax.patches] == [c.start for c in calls]


def test_timeline_without_spans_of_that_kind_raises_a_clear_value_error():
    with pytest.raises(ValueError, match="no 'llm' spans"):
        viz.timeline(no_messages())
    with pytest.raises(ValueError, match="no 'tool' spans"):
        viz.timeline(small_run(), kind="tool")
