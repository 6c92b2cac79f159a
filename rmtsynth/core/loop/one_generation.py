"""The one-generation formula fed the exact generator of each generation (THEORY 14.8; wrong from k = 1 on).

Kept only to draw it against the loop's true theory.
"""

from __future__ import annotations

import numpy as np

from rmtsynth.core.loop.gram import gram_reduction
from rmtsynth.core.loop.recursion import generator_recursion
from rmtsynth.core.loop.spec import LoopSpec, loop_setting
from rmtsynth.core.model import Mix, ModelSpec
from rmtsynth.core.theory import Spectrum, evaluate


def one_generation_loop(**setting) -> dict:
    """:func:`one_generation_theory` from plain numbers (the keywords of :func:`rmtsynth.core.loop.loop_setting`)."""
    return one_generation_theory(*loop_setting(**setting))


def one_generation_theory(mix: Mix, model: ModelSpec, loop: LoopSpec) -> dict:
    """The one-generation theory at each generation, fed the exact (beta_{k-1}, tau_{k-1}) (noisy labels).

    Under replace this is rmtsynth's one-generation formula (:func:`rmtsynth.core.theory.evaluate`)
    with mu_beta = beta_{k-1} mu + tau_{k-1} u, u independent of the real rows. Under accumulate every
    block's spurious part is taken independent of the real rows and of the other blocks (GR with
    independent blocks). THEORY 14.8 shows it is off by O(1) from generation 1 on.
    """
    n, m, p, mu_norm, gamma = mix.n, mix.m, model.p, model.mu_norm, mix.gamma
    label_noise, rho, phi, regime = mix.label_noise, mix.rho, mix.phi, loop.regime
    K = int(loop.generations)
    recursion = generator_recursion(n, m, p, label_noise, rho, phi, generations=K, regime=regime)
    if regime == "accumulate":
        out = gram_reduction(n, m, p, mu_norm, label_noise, rho, phi, gamma, generations=K, regime=regime,
                             independent_blocks=True)
        return {"accuracy": out["accuracy"], "beta": recursion["beta"], "tau2": recursion["tau2"]}
    accuracy = np.empty(K + 1)
    accuracy[0] = evaluate(Spectrum.isotropic(int(p), mu_norm), n, 0.0, label_noise, rho, phi, gamma).accuracy
    for k in range(1, K + 1):
        spectrum = Spectrum.isotropic(int(p), mu_norm, alignment=float(recursion["beta"][k - 1]),
                                      shift=float(np.sqrt(recursion["tau2"][k - 1])))
        accuracy[k] = evaluate(spectrum, n, m, label_noise, rho, phi, gamma).accuracy
    return {"accuracy": accuracy, "beta": recursion["beta"], "tau2": recursion["tau2"]}
