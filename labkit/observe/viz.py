"""Pictures of a run, drawn locally with matplotlib from its Trace.

sequence_diagram: who sent what to whom, in order (one row per message).
agent_graph:      who talked to whom, and how often (line width = messages).
timeline:         when each agent was busy (a Gantt chart of its spans).
waterfall:        a trace view: every step and model call under its parent, failures in red.
"""
from __future__ import annotations

import math
from collections import Counter

import matplotlib.pyplot as plt

from .trace import Trace


def _agents_in_order(trace: Trace) -> list[str]:
    """Agents in the order they first appear, senders and recipients alike."""
    names: list[str] = []
    for span in trace.spans:
        for name in (span.agent, span.attrs.get("recipient")):
            if name and name not in names:
                names.append(name)
    return names


def sequence_diagram(trace: Trace, *, title: str = "Messages", limit: int = 40):
    """Lifelines for the agents, an arrow per message, top to bottom in the order sent."""
    if limit < 1:
        raise ValueError(f"limit={limit}: draw at least 1 message.")
    messages = trace.messages()[:limit]
    if not messages:
        raise ValueError("This trace has no messages: run the agents inside `with Trace() as run:`.")
    agents = [a for a in _agents_in_order(trace)
              if any(a in (m.agent, m.attrs["recipient"]) for m in messages)]
    x = {name: i for i, name in enumerate(agents)}
    fig, ax = plt.subplots(figsize=(1.8 * len(agents) + 1, 0.45 * len(messages) + 1.2))
    for name, i in x.items():
        ax.plot([i, i], [0.5, len(messages) + 0.5], color="0.75", linewidth=1, zorder=0)
        ax.text(i, 0.1, name, ha="center", va="bottom", fontsize=9, fontweight="bold")
    for row, message in enumerate(messages, start=1):
        start, end = x[message.agent], x[message.attrs["recipient"]]
        if start == end:  # a message to itself: a small loop mark
            ax.plot([start, start + 0.25, start + 0.25, start],
                    [row - 0.15, row - 0.15, row + 0.15, row + 0.15], color="tab:blue", linewidth=1)
        else:
            ax.annotate("", xy=(end, row), xytext=(start, row),
                        arrowprops={"arrowstyle": "->", "color": "tab:blue"})
        label = message.name + (f" [{message.attrs['topic']}]" if "topic" in message.attrs else "")
        ax.text((start + end) / 2, row - 0.12, label, ha="center", va="bottom", fontsize=7)
    ax.set_ylim(len(messages) + 0.7, -0.2)
    ax.set_xlim(-0.7, len(agents) - 0.3)
    ax.axis("off")
    ax.set_title(title + (f" (first {limit} of {len(trace.messages())})"
                          if len(trace.messages()) > limit else ""))
    fig.tight_layout()
    return fig


def agent_graph(trace: Trace, *, title: str = "Who talked to whom"):
    """Agents on a circle; an arrow from sender to recipient, as wide as their message count."""
    counts = Counter((m.agent, m.attrs["recipient"]) for m in trace.messages())
    if not counts:
        raise ValueError("This trace has no messages: run the agents inside `with Trace() as run:`.")
    agents = [a for a in _agents_in_order(trace) if any(a in pair for pair in counts)]
    angle = {name: math.pi / 2 - 2 * math.pi * i / len(agents) for i, name in enumerate(agents)}
    where = {name: (math.cos(a), math.sin(a)) for name, a in angle.items()}
    side = max(5.5, 0.45 * len(agents) + 3)
    fig, ax = plt.subplots(figsize=(side, side))
    widest = max(counts.values())
    for (sender, recipient), count in sorted(counts.items()):
        if sender == recipient:
            continue
        ax.annotate("", xy=where[recipient], xytext=where[sender],
                    arrowprops={"arrowstyle": "-|>", "color": "tab:blue", "shrinkA": 22,
                                "shrinkB": 22, "linewidth": 0.8 + 3.2 * count / widest,
                                "connectionstyle": "arc3,rad=0.12"})
        (x1, y1), (x2, y2) = where[sender], where[recipient]
        # The count sits beside its arrow's middle, on the sender's side of the bend.
        ax.text((x1 + x2) / 2 + 0.08 * (y2 - y1), (y1 + y2) / 2 - 0.08 * (x2 - x1), str(count),
                fontsize=8, ha="center", va="center", color="tab:blue",
                bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"})
    for name, (x, y) in where.items():
        ax.text(x, y, name, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.4"})
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def timeline(trace: Trace, *, kind: str = "llm", title: str = "When each agent was busy"):
    """A Gantt chart: one row per agent, a bar per span of `kind` (model calls by default)."""
    spans = [s for s in trace.spans if s.kind == kind]
    if not spans:
        raise ValueError(f"This trace has no {kind!r} spans to draw.")
    agents = list(dict.fromkeys(s.agent for s in spans))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(agents) + 1.3))
    for span in spans:
        ax.barh(agents.index(span.agent), max(span.duration, 0.005), left=span.start,
                height=0.6, color="tab:blue", edgecolor="white")
    ax.set_yticks(range(len(agents)), agents)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the run started")
    ax.set_title(title)
    ax.grid(axis="x", color="0.9")
    fig.tight_layout()
    return fig


def waterfall(trace: Trace, *, title: str = "Trace", limit: int = 60):
    """A trace view: one row per step and model call, indented under its parent, a bar from
    its start to its end, coloured by agent. A step that raised is red and marked ✗."""
    if limit < 1:
        raise ValueError(f"limit={limit}: draw at least 1 span.")
    spans = [s for s in trace.spans if s.kind in ("step", "llm")][:limit]
    if not spans:
        raise ValueError("This trace has no steps: run the agents inside `with Trace() as run:`.")
    depth, by_id = {}, {s.id: s for s in trace.spans}
    for span in spans:
        depth[span.id] = depth.get(span.parent, -1) + 1 if span.parent in by_id else 0
    agents = list(dict.fromkeys(s.agent for s in spans))
    colour = {agent: plt.cm.tab10(i % 10) for i, agent in enumerate(agents)}
    end = max(s.end for s in spans) or 1.0
    fig, ax = plt.subplots(figsize=(10, 0.26 * len(spans) + 1.2))
    for row, span in enumerate(spans):
        failed = bool(span.error)
        ax.barh(row, max(span.duration, end / 400), left=span.start, height=0.7,
                color="tab:red" if failed else colour[span.agent], edgecolor="white")
        label = "  " * depth[span.id] + ("✗ " if failed else "") + (
            "model call" if span.kind == "llm" else span.name)
        ax.text(-end / 100, row, label, ha="right", va="center", fontsize=7,
                color="tab:red" if failed else "black")
    ax.set_yticks([])
    ax.set_ylim(len(spans) - 0.4, -0.6)
    ax.set_xlim(0, end * 1.02)
    ax.set_xlabel("model seconds since the run started")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colour[a]) for a in agents]
              + [plt.Rectangle((0, 0), 1, 1, color="tab:red")], labels=agents + ["raised"],
              fontsize=7, loc="lower right")
    shown = "" if len(spans) == len([s for s in trace.spans if s.kind in ("step", "llm")]) \
        else f" (first {limit} spans)"
    ax.set_title(title + shown)
    ax.grid(axis="x", color="0.92")
    fig.tight_layout()
    return fig
