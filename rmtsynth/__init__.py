"""rmtsynth: random-matrix theory of training on real plus verified synthetic data.

The Python API (:mod:`rmtsynth.api`) is available at the top level: ``rmtsynth.advise`` (should
your own synthetic rows be added, how many, at which score threshold, with which learner),
``rmtsynth.predict``,
``rmtsynth.simulate``, ``rmtsynth.sweep``, ``rmtsynth.plan``, and for self-consuming loops
``rmtsynth.predict_loop``, ``rmtsynth.simulate_loop`` and ``rmtsynth.plan_loop``, and for your own
data ``rmtsynth.predict_heldout`` and ``rmtsynth.measure_heldout``. They are imported on first use,
so ``import rmtsynth`` stays light and has no side effects.
"""

from rmtsynth._version import __version__

_API = (
    "advise", "predict", "simulate", "sweep", "plan", "Table", "predict_loop", "simulate_loop", "plan_loop",
    "predict_heldout", "measure_heldout",
)

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from rmtsynth import api

        return getattr(api, name)
    raise AttributeError(f"module 'rmtsynth' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
