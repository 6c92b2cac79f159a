"""The Python API: everything the command line does, as documented calls.

>>> import rmtsynth
>>> out = rmtsynth.predict(n=200, m=[0, 200, 800], p=400, mu_norm=1.5, label_noise=0.2,
...                        verifier="oracle", gamma=0.1)
>>> out["accuracy"].shape
(3,)

Parameters take the names of the configs' ``params`` (``rmtsynth schema`` lists them), and any of
them may be a numpy array: they are broadcast together and every output has the broadcast shape.
Nothing here writes a file unless asked (``sweep(..., out=DIR)``), changes ``os.environ`` or
selects a matplotlib backend.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from rmtsynth.core.learners import DEFAULT_LEARNER, get_learner
from rmtsynth.core.verifiers.rates import eps_star, keep_rate, label_signal
from rmtsynth.core.verifiers import Verifier
from rmtsynth.data.prediction import measure_heldout, predict_heldout
from rmtsynth.engine.loops import plan_loop, predict_loop, simulate_loop
from rmtsynth.engine.points import theory_for_points
from rmtsynth.engine.sweep import SweepOptions, mean_and_se, run_simulations
from rmtsynth.data.advice.grid import DEFAULT_DRAWS
from rmtsynth.data.table import Table
from rmtsynth.data.validation import check_bool, check_integer
from rmtsynth.errors import ConfigError, ParameterError, ParameterTypeError, RmtsynthError
from rmtsynth.io.output import json_ready  # noqa: F401  (the CLI prints through it)
from rmtsynth.config.resolve import (ResolvedPoint, broadcast_columns, broadcast_grid, resolve_columns, resolve_each,
                                     verifier_columns, with_verifier)
from rmtsynth.config.schema import ALIASES, PARAMS, unknown_key

__all__ = [
    "advise", "predict", "simulate", "sweep", "plan", "Table", "predict_loop", "simulate_loop", "plan_loop",
    "predict_heldout", "measure_heldout",
]

# The keys of ``rmtsynth theory --json`` (and of :func:`predict`), in order.
PREDICT_KEYS = (
    "n", "m", "p", "mu_norm", "label_noise", "gamma", "covariance",
    "accuracy", "mean", "second_moment", "variance", "risk", "delta_real", "delta_synth", "delta_gen",
    "alpha", "lambda", "eps_star", "verifier_precision", "verifier_recall", "rho", "phi",
)


def _verifier_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``verifier=`` may be a :class:`~rmtsynth.core.verifiers.Verifier` object: a feature-blind one is
    its (rho, phi); one that looks at the rows joins each point's mix after resolution (:func:`_resolved`)."""
    params = dict(params)
    if isinstance(params.get("verifier"), Verifier):
        verifier = params.pop("verifier")
        if verifier.feature_aware:
            params["verifier"] = verifier
        else:
            params["rho"], params["phi"] = verifier.label_rates()
    return params


def _verifier_object(params: Mapping[str, Any]) -> tuple[dict[str, Any], Verifier | None]:
    """The parameters without a verifier object that looks at the rows, and that object (or None)."""
    params = _verifier_params(params)
    verifier = params.pop("verifier") if isinstance(params.get("verifier"), Verifier) else None
    return params, verifier


def _named(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters under their canonical names; an unknown name is an error."""
    named = {}
    for raw_name, value in _verifier_object(params)[0].items():
        name = ALIASES.get(raw_name, raw_name)
        if name not in PARAMS:
            raise unknown_key(raw_name, "", list(PARAMS))
        named[name] = value
    return named


def _grid(params: Mapping[str, Any]) -> tuple[tuple[int, ...], list[dict[str, Any]]]:
    """Broadcast the parameters and return the shape and one checked mapping per grid element."""
    shape, grid = broadcast_grid(_named(params))
    return shape, [{name: _checked_param(name, value) for name, value in point.items()} for point in grid]


def _resolved(params: Mapping[str, Any], seed: int, learner: str) -> tuple[tuple[int, ...], list[ResolvedPoint]]:
    """The broadcast shape and the resolved points, each shared parameter checked and resolved once."""
    shape, shared, varying = broadcast_columns(_named(params))
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if size == 0:  # nothing to check or resolve, as on the point-by-point path
        return shape, []
    try:
        shared = {name: _checked_param(name, value) for name, value in shared.items()}
        varying = {name: [_checked_param(name, v) for v in column] for name, column in varying.items()}
    except RmtsynthError:
        _grid(params)  # raises the first bad point's error, in the order of the points
        raise
    chosen = None if learner == DEFAULT_LEARNER else learner
    points = resolve_columns(shared, varying, size, Path.cwd(), "params", seed=seed, learner=chosen)
    verifier = _verifier_object(params)[1]
    return shape, points if verifier is None else [with_verifier(pt, verifier, seed, "verifier") for pt in points]


def _checked_param(name: str, value: Any) -> Any:
    """One parameter checked by the schema; a bad value is a TypeError or ValueError naming it."""
    try:
        return PARAMS[name].check(value, name)
    except ConfigError as exc:
        wrong_type = isinstance(value, (str, bytes, bool, type(None))) and PARAMS[name].kind in ("int", "float", "numbers")
        raise (ParameterTypeError if wrong_type else ParameterError)(str(exc)) from None


def _checked_seed(seed: Any) -> int:
    return check_integer(seed, "seed", low=0)


def _learner_name(learner: Any) -> str:
    return get_learner(learner).name


def _broadcast_learner(learner: Any, params: dict[str, Any]) -> str:
    """A sequence of learners joins the broadcast grid like any parameter; one name applies to every point."""
    if isinstance(learner, (list, tuple, np.ndarray)):
        params["learner"] = learner
        return DEFAULT_LEARNER
    return _learner_name(learner)


def _resolve_all(grid: list[dict[str, Any]], seed: int, learner: str = DEFAULT_LEARNER) -> list[ResolvedPoint]:
    """Every point resolved on its own: the reference for :func:`_resolved`."""
    return resolve_each(grid, Path.cwd(), "params", seed=seed, learner=None if learner == DEFAULT_LEARNER else learner)


def predict(*, seed: int = 0, convention: str = "exact", learner: str = DEFAULT_LEARNER,
            **params: Any) -> dict[str, np.ndarray]:
    """The theory's test accuracy and moments on a broadcast grid of parameters.

    Parameters
    ----------
    seed : int
        Root seed; it matters only where the model has random geometry (a diagonal or file
        covariance: the directions of mu and of the generator's shift).
    convention : {"exact", "reference"}
        ``reference`` is the seed paper's convention, for comparison only.
    learner : str
        The classifier trained on the mix (:data:`rmtsynth.core.learners.LEARNERS`; ridge by default).
    **params
        Config parameter names (``n``, ``m`` or ``m_over_n`` or ``synthetic_proportion``, ``p`` or
        ``p_over_n``, ``mu_norm``, ``label_noise``, ``rho``/``phi`` or
        ``verifier_precision``/``verifier_recall`` or ``verifier`` (a name or a
        :class:`~rmtsynth.core.verifiers.Verifier`), ``gamma``,
        ``generator_alignment``, ``generator_shift``, ``covariance`` and its keys), each a value
        or an array; they are broadcast together.

    Returns
    -------
    dict of numpy arrays
        The keys of ``rmtsynth theory --json`` (:data:`PREDICT_KEYS`), each of the broadcast shape.

    Raises
    ------
    rmtsynth.errors.RmtsynthError
        A parameter out of range, an impossible verifier, or a fixed point that cannot converge
        (one sentence naming the parameter).
    """
    if convention not in ("exact", "reference"):
        raise ParameterError(f"convention = {convention!r} is not allowed; it must be exact or reference.")
    learner = _broadcast_learner(learner, params)
    seed = _checked_seed(seed)
    shape, points = _resolved(params, seed, learner)
    out = predict_points(points, seed=seed, convention=convention)
    return {key: value.reshape(shape) for key, value in out.items()}


def predict_points(points: list[ResolvedPoint], *, seed: int = 0, convention: str = "exact") -> dict[str, np.ndarray]:
    """:func:`predict` on resolved points (one array element per point)."""
    theory = theory_for_points(points, seed=seed, convention=convention)
    rho = np.array([pt.rho for pt in points])
    phi = np.array([pt.phi for pt in points])
    eps = np.array([pt.label_noise for pt in points])
    columns: dict[str, Any] = {
        "n": [pt.n for pt in points],
        "m": [pt.m for pt in points],
        "p": [pt.p for pt in points],
        "mu_norm": [pt.mu_norm for pt in points],
        "label_noise": eps,
        "gamma": [pt.gamma for pt in points],
        "covariance": np.array([pt.covariance for pt in points], dtype=object),
        **{k: theory[k] for k in ("accuracy", "mean", "second_moment", "variance", "risk", "delta_real", "delta_synth")},
        "delta_gen": np.where([pt.covariance == "estimated" for pt in points], theory["delta_gen"], np.nan),
        "alpha": keep_rate(eps, rho, phi),
        "lambda": label_signal(eps, rho, phi),
        "eps_star": eps_star(rho, phi),
        "verifier_precision": [pt.verifier_precision for pt in points],
        "verifier_recall": [pt.verifier_recall for pt in points],
        "rho": rho,
        "phi": phi,
    }
    return {key: np.asarray(columns[key]) for key in PREDICT_KEYS} | _feature_outputs(points, columns)


# With a verifier that looks at the features, the outputs beside the accuracy (THEORY.md 15).
FEATURE_KEYS_OUT = ("kept_correct_share", "kept_wrong_share", "verifier_precision", "verifier_recall")


def _feature_outputs(points: list[ResolvedPoint], columns: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """The kept shares (of the m rows) and the effective precision and recall, when a verifier looks at the rows.

    With ``columns`` (predict's), alpha and lambda become the kept rows' f_+ + f_- and f_+ - f_-,
    and eps* is each verifier's transition (nan where it is no constant).
    """
    names = tuple(verifier_columns(points))
    if not names:
        return {}
    records = [pt.verifier_record(names) for pt in points]
    kept = {k: np.array([r.get(k) for r in records], dtype=float) for k in FEATURE_KEYS_OUT[:2]}
    out = {**kept, "verifier_precision": np.array([pt.verifier_precision for pt in points]),
           "verifier_recall": np.array([pt.verifier_recall for pt in points])}
    if columns is not None:
        out["alpha"] = kept["kept_correct_share"] + kept["kept_wrong_share"]
        out["lambda"] = kept["kept_correct_share"] - kept["kept_wrong_share"]
        out["eps_star"] = np.array([pt.verifier.transition() for pt in points], dtype=float)
    return out


def simulate(
    *, seeds: int = 100, seed: int = 0, sampler: str = "exact", workers: int = 1, progress: bool = False,
    learner: str = DEFAULT_LEARNER, **params: Any
) -> dict[str, np.ndarray]:
    """Monte-Carlo test accuracy on a broadcast grid of parameters (the same names as :func:`predict`).

    Each replicate draws the training set's sufficient statistics exactly (``sampler="exact"``,
    THEORY.md section 9.5) or the data matrices (``"naive"``), fits the ridge and records the
    exact conditional accuracy ``Phi(w^T mu / ||w||)``. Seeds descend from ``seed`` and the
    point's parameters, so a point's result does not depend on the rest of the grid.

    Returns
    -------
    dict of numpy arrays
        ``accuracy_mean``, ``accuracy_se`` (standard error over seeds) and ``seeds``.
    """
    if sampler not in ("exact", "naive"):
        raise ParameterError(f"sampler = {sampler!r} is not allowed; it must be exact or naive.")
    seeds = check_integer(seeds, "seeds", low=1, high=100_000)
    seed = _checked_seed(seed)
    learner = _learner_name(learner)
    if sampler == "exact" and not get_learner(learner).quadratic:
        raise ParameterError(f"sampler = 'exact' fits on sufficient statistics, which need a quadratic loss; "
                             f"learner = {learner!r} needs sampler = 'naive'.")
    shape, points = _resolved(params, seed, learner)
    out = simulate_points(points, seeds=seeds, seed=seed, sampler=sampler, workers=workers, progress=progress)
    return {key: value.reshape(shape) for key, value in out.items()}


def simulate_points(
    points: list[ResolvedPoint], *, seeds: int, seed: int = 0, sampler: str = "exact", workers: int = 1, progress: bool = False
) -> dict[str, np.ndarray]:
    """:func:`simulate` on resolved points (one array element per point)."""
    results, _ = run_simulations(
        [(pt.generator, pt) for pt in points],
        root_seed=int(seed),
        replicates=int(seeds),
        sampler=sampler,
        test_size=None,
        options=SweepOptions(workers=workers, cache_dir=None, progress=progress),
    )
    mean = np.empty(len(points))
    se = np.empty(len(points))
    count = np.empty(len(points), dtype=int)
    for i, res in enumerate(results):
        mean[i], se[i] = mean_and_se(res["accuracy"])
        count[i] = len(res["accuracy"])
    return {"accuracy_mean": mean, "accuracy_se": se, "seeds": count} | _feature_outputs(points)


def load(config: str | Path | Mapping[str, Any], *, quick: bool = False, overrides: Iterable[str] = ()):
    """A checked :class:`~rmtsynth.config.figure_config.FigureConfig` from a YAML path or a mapping."""
    import copy

    import yaml

    from rmtsynth.config.figure_config import apply_overrides, load_config, parse_config

    if isinstance(config, Mapping):
        data = apply_overrides(copy.deepcopy(dict(config)), list(overrides))
        return parse_config(
            data, name_default=str(data.get("name", "figure")), base_dir=Path.cwd(),
            source=yaml.safe_dump(dict(config), sort_keys=False), overrides=list(overrides), quick=quick,
        )
    return load_config(config, list(overrides), quick=quick)


def sweep(
    config: str | Path | Mapping[str, Any],
    *,
    quick: bool = False,
    simulate: bool = True,
    workers: int = 1,
    seeds: int | None = None,
    cache_dir: str | Path | None = None,
    out: str | Path | None = None,
    overrides: Iterable[str] = (),
    progress: bool = False,
) -> Table:
    """Run one figure config (a YAML path or a mapping): theory, simulation, and the table.

    Files are written only when ``out`` is given (PDF, PNG, CSV and the manifest, each
    atomically). ``cache_dir`` keeps computed simulation points between calls (no cache when
    ``None``).
    """
    from rmtsynth.io.atomic import check_dir
    from rmtsynth.runner import check_config, check_out_dir, compute, write_outputs

    cfg = load(config, quick=quick, overrides=overrides)
    check_config(cfg)
    out_dir = _api_dir(out, "out", check_out_dir)
    options = SweepOptions(
        workers=workers,
        cache_dir=_api_dir(cache_dir, "cache_dir", lambda path: check_dir(path, "The cache directory")),
        simulate=simulate,
        seeds=seeds,
        progress=progress,
    )
    t0 = time.perf_counter()
    result = compute(cfg, options)
    files = []
    if out_dir is not None:
        config_path = None if isinstance(config, Mapping) else Path(config)
        files = write_outputs(result, out_dir, options, config_path, time.perf_counter() - t0)
    return Table(columns=list(result.columns), rows=list(result.rows), info=dict(result.info), files=files)


def _api_dir(value: Any, name: str, check: Any) -> Path | None:
    """A directory argument checked; a path that cannot be one is a ValueError naming the argument."""
    if value is None:
        return None
    if not isinstance(value, (str, Path)):
        raise ParameterTypeError(f"{name} = {value!r} must be a path (str or pathlib.Path), not {type(value).__name__}.")
    try:
        return check(Path(value))
    except RmtsynthError as exc:
        raise ParameterError(f"{name}: {exc}") from None


def advise(real_features: Any, real_labels: Any, synthetic_features: Any, synthetic_labels: Any, *,
           scores: Any = None, thresholds: Any = None, m_values: Any = None, learner: Any = "ridge",
           seed: int = 0, draws: int = DEFAULT_DRAWS, extrapolate: bool = False, n_values: Any = None,
           verifiers: Any = None, pool_label_noise: float | None = None, workers: int = 1,
           executor: str = "local", scheduler: str | None = None, progress: bool = False):
    """Should your synthetic rows be added to your real rows, how many, at which score threshold, with which learner?

    Predicts the held-out accuracy, on new real rows, of ``make_pipeline(StandardScaler(), learner)``
    fitted on the real rows plus the synthetic rows whose score is at least the threshold out of m
    rows drawn at random from the pool, from the user's rows alone: each real row is held out of a
    fit on the others and the kept rows (exact for ridge, approximate leave-one-out for logistic
    regression and ``LinearSVC``, 10-fold cross-fitting for any other estimator).

    Parameters
    ----------
    real_features, synthetic_features : array-like or DataFrame (rows x features)
        The same features in the same order (DataFrame columns are matched by name).
    real_labels, synthetic_labels : array-like
        Any two label values (numbers or strings); the pool's labels are the ones its generator gave.
    scores : array-like, optional
        One score per synthetic row, higher meaning keep (a reward model, a classifier's
        confidence in the given label); a row is kept when ``score >= threshold``.
    thresholds : sequence of float, optional
        Score thresholds to compare (``-inf`` keeps all); by default keep-all and the scores'
        20, 40, 60 and 80 % quantiles.
    m_values : sequence of int, optional
        Rows drawn from the pool before the verifier (at most the pool's rows); by default 1/8, 1/4,
        1/2, 3/4 and all of the pool. m = 0, the real rows alone, is always in the table.
    learner : str, scikit-learn classifier, or a list of them
        ``"ridge"`` (``RidgeClassifier()``), ``"logistic"`` (``LogisticRegression()``),
        ``"square_hinge"`` (``LinearSVC()``), ``"hinge"``, or an estimator object such as
        ``RidgeClassifier(alpha=10)``; a list compares them.
    seed : int
        Seeds the draws of the pool (and the folds of a cross-fitted estimator).
    draws : int
        Random draws of m rows from the pool averaged at each m < pool size.
    extrapolate : bool
        Allow m beyond the pool's rows: those rows are the measured value at the largest m of the
        pool moved by the random-matrix theory (learners whose plug-in supports it: ridge,
        logistic, square hinge), marked ``extrapolation`` and never recommended.
    n_values : sequence of int, optional
        Other numbers of real rows to answer for ("what if I had 1 000 labelled rows?"): every
        measured row moved from the user's n to each n by the theory, in rows with that ``n``,
        marked ``extrapolation``.
    verifiers : sequence of {"precision": float, "recall": float} or (precision, recall), optional
        Verifiers not yet built, by their target precision (share of kept rows rightly labelled)
        and recall (share of rightly labelled rows kept): the keep-all row at each m moved by the
        theory to the rows such a verifier keeps, in rows whose ``verifier`` names it (their
        ``threshold`` is NaN), marked ``extrapolation``. Needs keep-all (``-inf``) among the
        thresholds.
    pool_label_noise : float, optional
        The pool's share of wrong labels, if known (from an audit); it sets how many rows a
        hypothetical verifier keeps. By default the theory's effective label noise of the keep-all
        rows stands for it.
    workers, executor, scheduler, progress
        Where the fits run (``executor="dask"`` with a ``scheduler`` address for a cluster) and
        whether a progress bar is shown.

    Returns
    -------
    rmtsynth.data.advice.Advice
        ``.table`` (columns learner, method, n, verifier, threshold, m, kept, predicted_accuracy,
        accuracy_se, gain, gain_se, smoothed_accuracy, extrapolation, note; ``.table.to_pandas()``), ``.recommendation`` (a mapping
        with the verdict ``add``, ``do not add`` or ``cannot tell``), ``.notes`` and
        ``.pipeline()``, the fitted scikit-learn pipeline at the recommendation.

    Raises
    ------
    rmtsynth.errors.RmtsynthError
        One sentence naming the argument (a ``ValueError`` or ``TypeError`` subclass).

    Examples
    --------
    >>> import numpy as np, rmtsynth
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["cat", "dog"], 20); X = rng.normal(size=(40, 5)) + (y == "dog")[:, None]
    >>> pool_y = np.repeat(["cat", "dog"], 50); pool = rng.normal(size=(100, 5)) + (pool_y == "dog")[:, None]
    >>> advice = rmtsynth.advise(X, y, pool, pool_y, m_values=[50, 100])
    >>> advice.recommendation["verdict"] in ("add", "do not add", "cannot tell")
    True
    """
    from rmtsynth.engine.advise import advise_on_executor
    from rmtsynth.engine.executors import check_executor

    check_executor(executor, scheduler)
    options = SweepOptions(workers=check_integer(workers, "workers", low=1), progress=bool(progress),
                           executor=executor, scheduler=scheduler)
    return advise_on_executor(real_features, real_labels, synthetic_features, synthetic_labels, scores=scores,
                              thresholds=thresholds, m_values=m_values, learner=learner, seed=seed, draws=draws,
                              extrapolate=extrapolate, n_values=n_values, verifiers=verifiers,
                              pool_label_noise=pool_label_noise, options=options)


def plan(config: str | Path, overrides: Iterable[str] = (), diagnostics: bool = False) -> dict[str, Any]:
    """The planner's answer for a plan config: the mapping ``rmtsynth plan --json`` prints.

    ``overrides`` are ``key=value`` strings as ``rmtsynth plan --set`` takes them (a bare key is a
    param: ``gamma=0.5``). A config with a ``loop:`` section asks about a self-consuming loop
    (:func:`plan_loop`). With ``data:``, the answers come from one estimator; ``diagnostics=True``
    adds, under ``diagnostics`` and labelled, the theory on the fitted Gaussian and a second
    estimator for comparison (``rmtsynth plan --diagnostics``).
    """
    from rmtsynth.engine.loops import load_loop_plan
    from rmtsynth.engine.planner import run_plan
    from rmtsynth.config.plan_config import load_plan, read_plan_file

    overrides = list(overrides)
    _, data = read_plan_file(config, overrides)
    if isinstance(data, dict) and "loop" in data:
        return load_loop_plan(config, overrides)
    return run_plan(load_plan(config, overrides), diagnostics=check_bool(diagnostics, "diagnostics"))
