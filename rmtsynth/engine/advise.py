"""The advisor's fits run on the engine's executors (the local process pool or Dask), with a progress bar."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from rmtsynth.data.advice import Advice, advise
from rmtsynth.data.advice.grid import DEFAULT_DRAWS
from rmtsynth.engine.sweep import SweepOptions
from rmtsynth.engine.tasks import run_on_executor


def executor_map(options: SweepOptions) -> Callable[[Callable[[Any, Any], Any], Sequence[Any], Any], list[Any]]:
    """A ``map_tasks`` for :func:`rmtsynth.data.advice.advise` on the executor ``options`` names."""

    def run(fn: Callable[[Any, Any], Any], tasks: Sequence[Any], context: Any) -> list[Any]:
        return run_on_executor(fn, list(tasks), options, context=context, desc="fitting",
                               describe=lambda i: f"fit {i + 1} of {len(tasks)}")

    return run


def advise_on_executor(real_features: Any, real_labels: Any, synthetic_features: Any, synthetic_labels: Any, *,
                       scores: Any = None, thresholds: Any = None, m_values: Any = None, learner: Any = "ridge",
                       seed: int = 0, draws: int = DEFAULT_DRAWS, extrapolate: bool = False,
                       n_values: Any = None, verifiers: Any = None, pool_label_noise: Any = None,
                       options: SweepOptions | None = None) -> Advice:
    """:func:`rmtsynth.data.advice.advise` with its fits on an executor (one local process by default)."""
    options = options or SweepOptions(workers=1, progress=False)
    return advise(real_features, real_labels, synthetic_features, synthetic_labels, scores=scores,
                  thresholds=thresholds, m_values=m_values, learner=learner, seed=seed, draws=draws,
                  map_tasks=executor_map(options), extrapolate=extrapolate, n_values=n_values,
                  verifiers=verifiers, pool_label_noise=pool_label_noise)
