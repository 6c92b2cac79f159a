"""Theory of self-consuming loops: training over generations with verified synthetic data (THEORY.md 14).

Pure functions on arrays (numpy/scipy only, no randomness, no I/O), one module per job:

* :mod:`.spec`: a loop's setting in one form, ``(Mix, ModelSpec, LoopSpec)``: :class:`LoopSpec`
  (generations, regime, labels, generator covariance), :func:`loop_setting` (the three from plain
  numbers) and :func:`loop_problem` / :func:`check_loop`, the one check of the loop's domain;
* :mod:`.recursion`: :func:`generator_recursion` and :func:`replace_fixed_point`, the generator's
  alignment and spurious size (beta_k, tau_k^2) over generations, noisy labels (14.3);
* :mod:`.gram` (GR): :func:`gram_reduction`, the accuracy of every generation with the identity
  generator and noisy labels, vectorised over settings (14.4), and :func:`replace_step_accuracy`,
  :func:`real_only_accuracy`;
* :mod:`.functional` (FGR): :func:`functional_gram_reduction`, the same conditioned on the real
  rows' Wishart, needed for pseudo-labels (14.5, :mod:`.pseudo_labels`) and for the estimated
  generator at generation 1 (14.6); its vectors live in :mod:`.functional_space`;
* :mod:`.cde`: :func:`cde_prediction`, the conditional deterministic equivalent of one generation
  given the sampled history (14.6), for the estimated generator past generation 1;
* :mod:`.one_generation` and :mod:`.flips`: the one-generation formula fed the exact generator and
  pseudo-labels taken for independent flips, which 14.8 shows are wrong; kept for comparison;
* :mod:`.predict`: :func:`predict_loop` (and :func:`theory_of_loop` on :class:`~rmtsynth.core.model.Mix`,
  :class:`~rmtsynth.core.model.ModelSpec` and :class:`LoopSpec`), the entry point that picks the
  right variant and says how far it is exact;
* :mod:`.precision`: :func:`min_precision_for_loop` and :func:`first_drop_generation` (14.9).

Notation follows THEORY.md: M = ||mu||^2; per block, kept rows mbar = alpha m and label signal
t = lambda m; N_k the ridge normaliser (generated rows counted whether kept or not), N'_k the rows
of the refit.
"""

from rmtsynth.core.loop.cde import cde_prediction
from rmtsynth.core.loop.common import NoTheoryError
from rmtsynth.core.loop.flips import independent_flip_loop
from rmtsynth.core.loop.functional import functional_gram_reduction
from rmtsynth.core.loop.functional_space import QUADRATURE_NODES, marchenko_pastur_quadrature
from rmtsynth.core.loop.gram import gram_reduction, real_only_accuracy, replace_step_accuracy
from rmtsynth.core.loop.one_generation import one_generation_loop, one_generation_theory
from rmtsynth.core.loop.precision import first_drop_generation, loop_accuracy_at_precision, min_precision_for_loop
from rmtsynth.core.loop.predict import (
    APPROXIMATE, CONDITIONAL, EXACT, METHODS, SIMULATION_ONLY, WRONG, LoopTheory, method_problem, predict_loop,
    theory_of_loop,
)
from rmtsynth.core.loop.recursion import generator_recursion, replace_fixed_point
from rmtsynth.core.loop.spec import (
    GENERATOR_COVARIANCES, LABELS, MIN_REAL_ROWS, REGIMES, GeneratorCovariance, Labels, LoopSpec, Regime, check_loop,
    loop_problem, loop_setting,
)

__all__ = [
    "APPROXIMATE",
    "CONDITIONAL",
    "EXACT",
    "GENERATOR_COVARIANCES",
    "GeneratorCovariance",
    "LABELS",
    "Labels",
    "LoopSpec",
    "LoopTheory",
    "METHODS",
    "MIN_REAL_ROWS",
    "NoTheoryError",
    "QUADRATURE_NODES",
    "REGIMES",
    "Regime",
    "SIMULATION_ONLY",
    "WRONG",
    "cde_prediction",
    "check_loop",
    "first_drop_generation",
    "functional_gram_reduction",
    "generator_recursion",
    "gram_reduction",
    "independent_flip_loop",
    "loop_accuracy_at_precision",
    "loop_problem",
    "loop_setting",
    "marchenko_pastur_quadrature",
    "method_problem",
    "min_precision_for_loop",
    "one_generation_loop",
    "one_generation_theory",
    "predict_loop",
    "real_only_accuracy",
    "replace_fixed_point",
    "replace_step_accuracy",
    "theory_of_loop",
]
