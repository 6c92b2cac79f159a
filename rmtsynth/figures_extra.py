"""Figures that are not x-y curves of the theory: filled in by their own modules."""

from __future__ import annotations

from .errors import RmtsynthError


def _missing(kind: str):
    def run(*_args, **_kwargs):
        raise RmtsynthError(f"kind = {kind} is not available in this version.")

    return run


run_heatmap = plot_heatmap = _missing("heatmap")
from .figures_mp import plot_marchenko_pastur, run_marchenko_pastur  # noqa: E402,F401
run_generator_samples = plot_generator_samples = _missing("generator_samples")
run_real_data_figure = plot_real_data = _missing("real_data")
