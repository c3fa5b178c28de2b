"""Figure settings that make a saved notebook the same on every run."""
from __future__ import annotations


def deterministic_figures(grading: bool = False) -> None:
    """SVG figures with no date and a fixed hash salt, so re-running a notebook changes nothing.

    grading: no figure is drawn at all (a grader never looks at one, and drawing is seconds).
    """
    import matplotlib

    if grading:
        import warnings

        matplotlib.use("agg")  # plt.show() draws nothing
        warnings.filterwarnings("ignore", "FigureCanvasAgg is non-interactive")
        return

    matplotlib.rcParams["svg.hashsalt"] = "labkit"
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("svg", metadata={"Date": None})
