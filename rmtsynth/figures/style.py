"""What every figure shares: the style, the colours, a new figure and the atomic save.

Figures are built with matplotlib's object API (:class:`matplotlib.figure.Figure`), so drawing
never selects a backend or touches pyplot's global state: a notebook that computes and draws a
sweep keeps its own backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from rmtsynth.io.atomic import atomic_path

STYLE = {
    "font.size": 10.5,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
    "text.usetex": False,
}

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def style():
    """A context in which figures are built and saved with the project's style."""
    return matplotlib.rc_context(STYLE)


def new_figure(**kwargs: Any) -> Figure:
    """A figure detached from pyplot (call inside :func:`style`)."""
    return Figure(**kwargs)


def colormap(name: str):
    """A registered colour map by name."""
    return matplotlib.colormaps[name]


def save_figure(fig: Figure, pdf_path: Path, png_path: Path) -> None:
    """Write PDF and PNG through temporary files; no creation date, so reruns give the same PDF."""
    with style():
        with atomic_path(pdf_path) as tmp:
            fig.savefig(tmp, format="pdf", metadata={"CreationDate": None, "ModDate": None})
        with atomic_path(png_path) as tmp:
            fig.savefig(tmp, format="png", dpi=150, metadata={"Software": None})
