"""Looking at a batch of answers: how they spread, and whether they collapsed into one.

    counts = look(severities, "triage severities", order=SEVERITIES)

A small model often gives the same answer to every question; a batch's average hides it,
its distribution does not. `look` counts the answers, draws them as bars (call
`plt.show()` after it) and prints a sentence that names a collapse when there is one.
"""
from __future__ import annotations

from collections import Counter
from typing import Hashable, Iterable

import matplotlib.pyplot as plt

COLLAPSE_SHARE = 0.9  # one answer this share of a batch (or more) is a collapse
FEWEST = 3  # below this many answers, no share says much


def verdict(counts: Counter, what: str) -> str:
    """One sentence on a batch's spread: it names a collapse, or the most common answer."""
    total = sum(counts.values())
    if not total:
        return f"No {what} to look at."
    value, times = counts.most_common(1)[0]
    if total >= FEWEST and times == total:
        return f"Collapsed: all {total} {what} are {value!r}."
    if total >= FEWEST and times / total >= COLLAPSE_SHARE:
        return f"Collapsed: {times} of {total} {what} ({times / total:.0%}) are {value!r}."
    return (f"{len(counts)} different {what} among {total}; the most common, {value!r}, is "
            f"{times} of {total} ({times / total:.0%}).")


def look(values: Iterable[Hashable], what: str, *, order: Iterable[Hashable] = ()) -> Counter:
    """Count a batch's answers, draw them as bars and print the verdict.

    `order` lists the answers that could have been given, so that those never given show
    as empty bars: a severity no report got is part of the picture.
    """
    counts = Counter(values)
    shown = list(dict.fromkeys([*order, *sorted(counts, key=str)]))
    _, ax = plt.subplots(figsize=(6, 0.4 * len(shown) + 1))
    ax.barh([str(value) for value in shown], [counts[value] for value in shown], color="tab:blue")
    ax.invert_yaxis()  # the first of `order` on top
    ax.set_xlabel("answers")
    ax.set_title(f"{what}: {sum(counts.values())} answers")
    print(verdict(counts, what))
    return counts
