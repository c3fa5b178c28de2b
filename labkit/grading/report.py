"""The instructor's report of a grading run: per check, how the class scored, and the visible
case most often failed. A picture and a table, in one self-contained HTML file.

    write_report(rows, submissions / "report.html")
"""
from __future__ import annotations

import html
import io
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a file, not a window: graders run headless
import matplotlib.pyplot as plt  # noqa: E402


def summarise(rows) -> list[dict]:
    """One entry per (notebook, check): the points' distribution and the commonest failed case."""
    checks: dict[tuple[str, str], list] = {}
    for row in rows:
        checks.setdefault((row.notebook, row.check), []).append(row)
    summary = []
    for (notebook, check), graded in checks.items():
        failed = Counter(row.failed_case for row in graded if row.failed_case)
        case, times = failed.most_common(1)[0] if failed else ("", 0)
        summary.append({
            "notebook": notebook, "check": check, "max_points": graded[0].max_points,
            "students": len(graded), "points": Counter(row.points for row in graded),
            "mean": sum(row.points for row in graded) / len(graded),
            "commonest_failed_case": case, "failed_it": times,
        })
    return summary


def picture(summary: list[dict]) -> str:
    """An SVG: a row of bars per check, students by points scored."""
    fig, axes = plt.subplots(len(summary), 1, figsize=(7, 1.5 * len(summary) + 0.6), squeeze=False)
    for ax, entry in zip(axes[:, 0], summary):
        values = sorted(set(entry["points"]) | {0, entry["max_points"]})
        ax.bar([f"{v:g}" for v in values], [entry["points"].get(v, 0) for v in values],
               color=["tab:red" if v == 0 else "tab:green" if v == entry["max_points"] else "tab:orange"
                      for v in values])
        ax.set_ylabel("students")
        ax.set_title(f"{entry['notebook']} · {entry['check']} (points out of "
                     f"{entry['max_points']:g})", fontsize=9)
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    plt.close(fig)
    return out.getvalue()


def write_report(rows, path: Path) -> list[dict]:
    """Write the report; return its summary (the table's rows)."""
    summary = summarise(rows)
    if not summary:
        path.write_text("<p>Nothing was graded.</p>\n")
        return summary
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(value))}</td>" for value in (
            entry["notebook"], entry["check"], entry["students"], f"{entry['mean']:.2f} / "
            f"{entry['max_points']:g}", ", ".join(f"{p:g}: {n}" for p, n in sorted(entry["points"].items())),
            entry["commonest_failed_case"] or "-", entry["failed_it"] or "")) + "</tr>\n"
        for entry in summary)
    path.write_text(
        "<!doctype html>\n<meta charset='utf-8'><title>Grading report</title>\n"
        "<h1>Grading report</h1>\n" + picture(summary) +
        "\n<table border='1' cellpadding='4'>\n<tr><th>notebook</th><th>check</th><th>students"
        "</th><th>mean</th><th>points: students</th><th>visible case failed most</th>"
        "<th>by</th></tr>\n" + cells + "</table>\n"
        "<p>Hidden cases are never named here: their failures count in the points only.</p>\n")
    return summary
