"""The theory of a self-consuming loop from the user's parameters, broadcast over them (THEORY.md 14)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rmtsynth.config.loop_config import loop_method, resolve_loop_grid, split_loop_keywords
from rmtsynth.config.resolve import ResolvedPoint
from rmtsynth.core.loop import LoopSpec, LoopTheory, theory_of_loop

# The per-generation arrays of a prediction, in the order they are returned.
_THEORY_KEYS = ("accuracy", "beta", "tau2", "flip_rate", "margin", "status")


def _stack(theories: list[LoopTheory], shape: tuple[int, ...], K: int) -> dict[str, Any]:
    """One setting's theories stacked into arrays of shape ``shape + (K + 1,)``."""
    result: dict[str, Any] = {}
    for key in _THEORY_KEYS:
        result[key] = np.stack([getattr(t, key) for t in theories]).reshape(shape + (K + 1,))
    result["accuracy_real_only"] = np.asarray([float(t.accuracy[0]) for t in theories]).reshape(shape)
    result["generation"] = np.arange(K + 1)
    result["method"] = theories[-1].method
    return result


def predict_loop(*, method: str | None = None, **params: Any) -> dict[str, Any]:
    """The theory of a self-consuming loop at generations k = 0..K (THEORY.md section 14).

    Parameters
    ----------
    method : {None, "GR", "FGR", "one-generation"}
        None picks the exact variant. ``"one-generation"`` is the one-generation formula fed the
        exact generator of each generation, which does not apply to a loop (status ``"wrong"``);
        it exists for comparison.
    **params
        The loop's own settings: ``generations`` (K, the last generation; generation 0 is ridge on
        the real rows alone), ``regime`` ("replace", the default, or "accumulate": the training set
        of generation k is the real rows plus the kept rows of generation k, or of generations
        1..k), ``labels`` ("noisy", the default: the generator's label flipped with probability
        ``label_noise``; or "pseudo": the previous classifier's prediction, then give the verifier
        as ``rho``/``phi`` or by name, and no label noise), ``generator_covariance`` ("identity",
        the default, or "estimated": the pooled within-class covariance of the previous training
        set, which has a theory at generations 0 and 1 only with noisy labels; later generations are
        ``nan`` with status ``"conditional"``). Then the setting, config parameter names: ``n``,
        ``m`` (rows generated per generation; or ``m_over_n``), ``p`` (or ``p_over_n``),
        ``mu_norm``, ``label_noise``, ``rho``/``phi`` or ``verifier_precision``/``verifier_recall``
        or ``verifier``, ``gamma``. Each may be an array; they are broadcast together.

    Returns
    -------
    dict
        ``accuracy``, ``beta`` (the generator's alignment b_k), ``tau2`` (its spurious squared
        size), ``flip_rate`` and ``margin`` (pseudo-labels: the predicted fraction of wrong labels
        and the previous classifier's margin on the generator; nan otherwise), ``status`` (per
        generation: "exact", "approximate", "conditional", "simulation-only" or "wrong"), each
        of shape ``broadcast shape + (K + 1,)``; ``accuracy_real_only`` (broadcast shape);
        ``generation`` (0..K) and ``method`` (str), the variant used.

    Raises
    ------
    rmtsynth.errors.ConfigError
        A parameter the loop does not take or out of range, an impossible verifier, or a method
        that does not exist for this combination (one sentence naming the key).
    """
    loop, params = split_loop_keywords(params)
    method = loop_method(loop, method)
    shape, points = resolve_loop_grid(params, loop)
    cache: dict[ResolvedPoint, LoopTheory] = {}
    for point in points:
        if point not in cache:
            cache[point] = theory_of_loop(point.mix, point.model, loop, method)
    return _stack([cache[point] for point in points], shape, loop.generations)
