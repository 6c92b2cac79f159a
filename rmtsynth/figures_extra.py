"""Figures that are not x-y curves of the theory: filled in by their own modules."""

from __future__ import annotations

from .errors import RmtsynthError


def _missing(kind: str):
    def run(*_args, **_kwargs):
        raise RmtsynthError(f"kind = {kind} is not available in this version.")

    return run


from .figures_heatmap import plot_heatmap, run_heatmap  # noqa: E402,F401
from .figures_mp import plot_marchenko_pastur, run_marchenko_pastur  # noqa: E402,F401
from .figures_real import (  # noqa: E402,F401
    plot_generator_samples,
    plot_real_data,
    run_generator_samples,
    run_real_data_figure,
)
