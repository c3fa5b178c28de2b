"""A dashboard of a load run in a notebook: outcomes, latency per agent, tokens per model.

    dashboard = Dashboard(metrics, every=5)
    ...                     # the load run records into `metrics`
    dashboard.finish()      # the final state, as a plain SVG output

Live (someone has the notebook open), it redraws in an Output widget every `every` requests.
Headless (nbval, `make course`, the grader) nothing is redrawn: a saved notebook would keep
every frame. Either way finish() shows the final figure once, as a plain SVG output, since an
Output widget in a saved notebook shows nothing without its widget state.
"""
from __future__ import annotations

import io
import os
import threading

import matplotlib
from matplotlib.figure import Figure

from ..llm import config
from .metrics import Metrics, percentile

OUTCOME_COLOURS = {"ok": "tab:green", "invalid": "tab:orange"}  # errors of any kind are red


def someone_watching() -> bool:
    """Whether a person may be watching this kernel's output, so live redraws are worth it.

    A Jupyter server (JupyterLab, Notebook) starts a notebook's kernel with JPY_SESSION_NAME
    set; nbclient, behind nbval, `make course` and the grader, starts kernels without one. A
    frontend this rule misses gets the final figure only; pass live=True for redraws.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    return (kernel is not None and bool(os.environ.get("JPY_SESSION_NAME"))
            and not config.load().grading)


def draw(metrics: Metrics) -> Figure:
    """Three panels: requests by outcome, latency p50/p95 per agent, tokens per model.

    A Figure of its own, not pyplot's: the inline backend does not show it again at the end
    of the cell, and no wall-clock time is on it, so the same data draw the same figure.
    """
    figure = Figure(figsize=(11, 3.2), layout="constrained")
    by_outcome, by_agent, by_model = figure.subplots(1, 3)

    outcomes = metrics.outcomes()
    by_outcome.bar(list(outcomes), list(outcomes.values()),
                   color=[OUTCOME_COLOURS.get(outcome, "tab:red") for outcome in outcomes])
    by_outcome.set_title(f"Requests by outcome ({sum(outcomes.values())})")

    agents = list(dict.fromkeys(agent for agent, _ in metrics.pairs()))
    for shift, p in ((-0.2, 50), (0.2, 95)):
        # An agent whose calls all failed has no latency: an empty bar.
        values = [percentile(metrics.latencies(agent=agent), p) or 0.0 for agent in agents]
        by_agent.bar([i + shift for i in range(len(agents))], values, width=0.4, label=f"p{p}")
    by_agent.set_xticks(range(len(agents)), agents)
    by_agent.set_ylabel("model seconds")
    by_agent.set_title("Latency per agent")
    by_agent.legend(fontsize=8)

    tokens: dict[str, list[int]] = {}
    for row in metrics.summary():
        prompt, completion = tokens.setdefault(row["model"], [0, 0])
        tokens[row["model"]] = [prompt + row["prompt_tokens"],
                                completion + row["completion_tokens"]]
    prompt = [pair[0] for pair in tokens.values()]
    by_model.bar(list(tokens), prompt, label="prompt")
    by_model.bar(list(tokens), [pair[1] for pair in tokens.values()], bottom=prompt,
                 label="completion")
    by_model.set_title("Tokens per model")
    by_model.legend(fontsize=8)
    for axes in (by_outcome, by_agent, by_model):
        axes.tick_params(axis="x", labelsize=8)
    return figure


def svg_of(figure: Figure) -> str:
    """The figure as SVG text with no date and a fixed hash salt: the same on every run."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "labkit"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def caption(metrics: Metrics) -> str:
    """One line of what the figure shows (its text/plain, and all a script prints)."""
    outcomes = metrics.outcomes()
    pairs = metrics.pairs()
    counts = ", ".join(f"{count} {outcome}" for outcome, count in outcomes.items())
    agents = ", ".join(dict.fromkeys(agent for agent, _ in pairs)) or "none"
    models = ", ".join(dict.fromkeys(model for _, model in pairs)) or "none"
    return (f"Dashboard: {sum(outcomes.values())} requests ({counts}); agents: {agents}; "
            f"models: {models}")


class Dashboard:
    """Shows `metrics` while a load run goes; finish() shows the final state once."""

    def __init__(self, metrics: Metrics, every: int = 5, *, live: bool | None = None) -> None:
        if every < 1:
            raise ValueError(f"Dashboard(every={every!r}): redraw every 1 request or more.")
        self.metrics, self.every = metrics, every
        self.live = someone_watching() if live is None else live
        self.redraws = 0  # live redraws so far
        self.figure: Figure | None = None  # the final figure, once finish() drew it
        self._recorded = 0
        self._lock = threading.Lock()  # requests may be recorded from several threads
        if self.live:
            import ipywidgets  # only when someone watches

            self.output = ipywidgets.Output()
            _display(self.output)
            metrics.watch(self._on_record)

    def _on_record(self) -> None:
        with self._lock:
            self._recorded += 1
            if self._recorded % self.every == 0:
                # Replaced in one message, from any thread: no `with output:` (it routes by
                # the running cell, and a load run's requests may come from another thread).
                self.output.outputs = (_svg_output(self.metrics),)
                self.redraws += 1

    def finish(self) -> None:
        """Stop redrawing and show the final state once, as a plain SVG output.

        A grader draws no figure (LABKIT_GRADING=1): no one looks at it.
        """
        self.metrics.unwatch(self._on_record)
        if self.live:
            self.output.outputs = ()  # the output below replaces the live frame
        if config.load().grading:
            return
        self.figure = draw(self.metrics)
        _display({"image/svg+xml": svg_of(self.figure), "text/plain": caption(self.metrics)})


def _svg_output(metrics: Metrics) -> dict:
    """A display_data output for an Output widget's `outputs`."""
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/svg+xml": svg_of(draw(metrics)), "text/plain": caption(metrics)}}


def _display(shown) -> None:
    """Display a widget or a mime bundle in IPython; a script gets the caption printed."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        if isinstance(shown, dict):
            print(shown["text/plain"])
        return
    display(shown, raw=isinstance(shown, dict))
