"""Self-consuming loops from the user's parameters: theory, simulation and the loop planner.

A loop retrains the classifier over generations k = 0..K: generation 0 is ridge on the n real
rows, and every later generation adds m rows drawn from a Gaussian generator refitted on the
previous generation's training set, labelled (noisily or by the previous classifier) and pruned
by a verifier (THEORY.md section 14). This module takes the configs' parameter names, checks them
with the schema, and calls the theory (:mod:`rmtsynth.core.generations`) and the whole-loop
simulation (:mod:`rmtsynth.sim.loop`):

* :func:`predict_loop` and :func:`simulate_loop`: arrays over generations, broadcast over the
  parameters like :func:`rmtsynth.predict`;
* :func:`run_loop_simulations`: the simulation of many settings through the point cache and the
  executors (replicates split into tasks; the same numbers whatever the number of workers);
* :func:`plan_loop`, :func:`load_loop_plan` and :func:`format_loop_plan`: the smallest verifier
  precision for which the loop does not end below real data alone, and when it first drops.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from rmtsynth.core import generations as loop_theory
from rmtsynth.core.verifier import min_precision
from rmtsynth.engine.cache import PointCache, content_key
from rmtsynth.errors import ConfigError
from rmtsynth.sim.seeding import point_seed, stable_key
from rmtsynth.spec.schema import ALIASES, MAX_GENERATIONS, PARAMS, PLAN_SECTIONS, Param, unknown_key
from rmtsynth.io.output import json_ready
from rmtsynth.spec.resolve import broadcast_grid, resolve_point

# The point parameters a loop takes; the generator is refitted every generation, so the
# one-generation model's generator keys (alignment, shift, covariance, ...) have no meaning here.
LOOP_PARAMS = (
    "n", "m", "m_over_n", "synthetic_proportion", "p", "p_over_n", "p_over_m", "mu_norm", "label_noise",
    "verifier", "rho", "phi", "verifier_precision", "verifier_recall", "gamma",
)
MIN_REAL_ROWS = 3
# Bump when a replicate's numbers change for the same inputs, so stale cache entries are not read.
_CACHE_TAG = "loop/1"
# Rough single-core seconds of one replicate (sizes tasks for a cluster; changes no result).
_SECONDS_PER_FLOP = 2e-10

KEYWORDS: dict[str, Param] = {
    p.name: p
    for p in [
        Param("generations", "int", "K, the last generation", 0, MAX_GENERATIONS),
        Param("regime", "choice", "the training set of generation k", choices=("replace", "accumulate")),
        Param("labels", "choice", "the generated rows' labels", choices=("noisy", "pseudo")),
        Param("generator_covariance", "choice", "the generator's noise covariance", choices=("identity", "estimated")),
        Param("method", "choice", "the theory to use (default: the best one)", choices=("GR", "FGR", "one-generation")),
        Param("seeds", "int", "independent replicates of the loop", 1, 100_000),
        Param("seed", "int", "root seed", 0, 2**63 - 1),
    ]
}


@dataclass(frozen=True)
class LoopPoint:
    """One loop setting in the model's quantities (what the theory and the simulation take)."""

    n: int
    m: int
    p: int
    mu_norm: float
    label_noise: float
    rho: float
    phi: float
    gamma: float
    verifier_precision: float
    verifier_recall: float

    def model_args(self) -> dict[str, Any]:
        """The keyword arguments of :func:`rmtsynth.core.generations.predict_loop`."""
        return {k: getattr(self, k) for k in ("n", "m", "p", "mu_norm", "label_noise", "rho", "phi", "gamma")}


def _keyword(name: str, value: Any) -> Any:
    return KEYWORDS[name].check(value, name)


def resolve_loop_point(params: Mapping[str, Any], where: str = "params", *, labels: str = "noisy") -> LoopPoint:
    """Check one setting's parameters (config names, single values) and resolve them.

    ``where`` starts every message (``params``, ``series 'weak'``).

    Raises ConfigError (one sentence naming the key) for a parameter the loop does not take, a
    value out of range, an impossible verifier, or sizes the loop cannot run with.
    """
    checked: dict[str, Any] = {}
    for raw_name, value in params.items():
        name = ALIASES.get(raw_name, raw_name)
        if name not in PARAMS:
            raise unknown_key(str(raw_name), f"{where}.", list(LOOP_PARAMS))
        if name not in LOOP_PARAMS:
            raise ConfigError(
                f"{where}: {raw_name} is not used by a loop, whose generator is refitted on the previous training set "
                f"every generation; the parameters are {', '.join(LOOP_PARAMS)}."
            )
        checked[name] = PARAMS[name].check(value, f"{where}.{raw_name}")
    if checked.get("label_noise") == "auto":
        raise ConfigError(f"{where}: label_noise = auto is not used by a loop; give a number, or use labels: pseudo.")
    if labels == "pseudo":
        for key in ("verifier_precision", "verifier_recall"):
            if key in checked:
                raise ConfigError(
                    f"{where}: {key} needs a fixed label noise, but pseudo-labels are wrong at a rate that changes "
                    "every generation; give the verifier as rho and phi, or by name."
                )
        if checked.get("label_noise", 0.0) != 0.0:
            raise ConfigError(
                f"{where}: label_noise is not used with pseudo-labels (the previous classifier labels the rows); remove it."
            )
    point = resolve_point(checked, Path.cwd(), where)
    if point.n < MIN_REAL_ROWS:
        raise ConfigError(f"{where}: n = {point.n} is too small; a loop needs n >= {MIN_REAL_ROWS} real rows.")
    return LoopPoint(
        n=point.n, m=point.m, p=point.p, mu_norm=point.mu_norm, label_noise=point.label_noise, rho=point.rho,
        phi=point.phi, gamma=point.gamma, verifier_precision=point.verifier_precision,
        verifier_recall=point.verifier_recall,
    )


def _resolve_grid(params: Mapping[str, Any], labels: str) -> tuple[tuple[int, ...], list[LoopPoint]]:
    shape, grid = broadcast_grid(dict(params))
    cache: dict[str, LoopPoint] = {}
    points = []
    for values in grid:
        key = repr(sorted(values.items()))
        if key not in cache:
            cache[key] = resolve_loop_point(values, "params", labels=labels)
        points.append(cache[key])
    return shape, points


def _no_theory(exc: Exception, method: str | None, labels: str, covariance: str) -> ConfigError:
    named = f"method = {method}" if method else "the theory"
    return ConfigError(f"{named} does not exist for labels = {labels} with generator_covariance = {covariance}: {exc}.")


def theory_of_point(point: LoopPoint, *, generations: int, regime: str, labels: str, generator_covariance: str,
                    method: str | None = None) -> dict[str, Any]:
    """:func:`rmtsynth.core.generations.predict_loop` for one resolved setting, with ConfigError sentences."""
    try:
        return loop_theory.predict_loop(**point.model_args(), generations=generations, regime=regime, labels=labels,
                                        generator_covariance=generator_covariance, method=method)
    except loop_theory.NoTheoryError as exc:
        raise _no_theory(exc, method, labels, generator_covariance) from None


def predict_loop(
    *,
    generations: int,
    regime: str = "replace",
    labels: str = "noisy",
    generator_covariance: str = "identity",
    method: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    """The theory of a self-consuming loop at generations k = 0..K (THEORY.md section 14).

    Parameters
    ----------
    generations : int
        K, the last generation (generation 0 is ridge on the real rows alone).
    regime : {"replace", "accumulate"}
        The training set of generation k: the real rows plus the kept rows of generation k, or of
        generations 1..k.
    labels : {"noisy", "pseudo"}
        The generated rows' labels: the generator's label flipped with probability
        ``label_noise``, or the previous classifier's prediction (then give the verifier as
        ``rho``/``phi`` or by name, and no label noise).
    generator_covariance : {"identity", "estimated"}
        The generator's noise covariance: I, or the pooled within-class covariance of the previous
        training set. The estimated generator has a theory at generations 0 and 1 only (noisy
        labels); later generations are ``nan`` with status ``"conditional"``.
    method : {None, "GR", "FGR", "one-generation"}
        None picks the exact variant. ``"one-generation"`` is the one-generation formula fed the
        exact generator of each generation, which does not apply to a loop (status ``"wrong"``);
        it exists for comparison.
    **params
        Config parameter names: ``n``, ``m`` (rows generated per generation; or ``m_over_n``),
        ``p`` (or ``p_over_n``), ``mu_norm``, ``label_noise``, ``rho``/``phi`` or
        ``verifier_precision``/``verifier_recall`` or ``verifier``, ``gamma``. Each may be an
        array; they are broadcast together.

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
    K = _keyword("generations", generations)
    regime = _keyword("regime", regime)
    labels = _keyword("labels", labels)
    generator_covariance = _keyword("generator_covariance", generator_covariance)
    if method is not None:
        method = _keyword("method", method)
    shape, points = _resolve_grid(params, labels)
    keys = ("accuracy", "beta", "tau2", "flip_rate", "margin", "status")
    out: dict[str, list[Any]] = {k: [] for k in keys}
    real_only = []
    used = None
    cache: dict[LoopPoint, dict[str, Any]] = {}
    for point in points:
        if point not in cache:
            cache[point] = theory_of_point(point, generations=K, regime=regime, labels=labels,
                                           generator_covariance=generator_covariance, method=method)
        res = cache[point]
        used = res["method"]
        for k in keys:
            out[k].append(res[k])
        real_only.append(float(res["accuracy"][0]))
    result: dict[str, Any] = {}
    for k in keys:
        stacked = np.stack(out[k])
        result[k] = stacked.reshape(shape + (K + 1,))
    result["accuracy_real_only"] = np.asarray(real_only).reshape(shape)
    result["generation"] = np.arange(K + 1)
    result["method"] = used
    return result


# ----------------------------------------------------------------------------- simulation


def simulation_params(point: LoopPoint, *, regime: str, labels: str, generator_covariance: str) -> dict[str, Any]:
    """The mapping :func:`rmtsynth.sim.loop.simulate_loop` derives a setting's seed from."""
    return {
        "n": int(point.n), "m": int(point.m), "p": int(point.p), "mu_norm": float(point.mu_norm),
        "label_noise": float(point.label_noise), "rho": float(point.rho), "phi": float(point.phi),
        "gamma": float(point.gamma), "regime": regime, "labels": labels,
        "generator_covariance": generator_covariance, "simulation": "loop",
    }


@dataclass(frozen=True)
class LoopRequest:
    """One setting to simulate over generations 0..K."""

    point: LoopPoint
    regime: str
    labels: str
    generator_covariance: str
    generations: int

    def params(self) -> dict[str, Any]:
        return simulation_params(self.point, regime=self.regime, labels=self.labels,
                                 generator_covariance=self.generator_covariance)

    def describe(self) -> str:
        pt = self.point
        return (f"the {self.regime} loop with {self.labels} labels and the {self.generator_covariance} generator "
                f"(n = {pt.n}, m = {pt.m}, p = {pt.p}, label_noise = {pt.label_noise:g}, rho = {pt.rho:g}, "
                f"phi = {pt.phi:g}, gamma = {pt.gamma:g}, K = {self.generations})")


# Per-replicate arrays kept in the cache; flip rate and margin are undefined at k = 0.
_RECORDED = ("accuracy", "beta", "tau2", "flip_rate", "margin")


def loop_task(task: tuple) -> dict[str, np.ndarray]:
    """Replicates [start, stop) of one loop setting (runs in a worker process).

    Replicate i is the same draw as replicate i of :func:`rmtsynth.sim.loop.simulate_loop` with
    the same parameters and root seed, whatever task it falls in.
    """
    from rmtsynth.sim.loop import loop_replicates

    params, generations, root_seed, start, stop = task
    model = {k: v for k, v in params.items() if k != "simulation"}
    reps = loop_replicates(model, root_seed=root_seed, key=stable_key(params), generations=int(generations),
                           start=start, stop=stop)
    out = {}
    for key in _RECORDED:
        values = np.stack([r[key] for r in reps])
        if key in ("flip_rate", "margin"):
            # The cache keeps finite arrays only: the undefined k = 0 entries travel as 0.
            values[:, 0] = 0.0
        out[key] = values
    return out


def _cache_key(request: LoopRequest, root_seed: int) -> str:
    return content_key(_CACHE_TAG, {"params": request.params(),
                                    "generations": request.generations, "seed": int(root_seed)})


def _replicate_seconds(request: LoopRequest) -> float:
    pt = request.point
    per_generation = 2.0 * (pt.m + pt.n) * pt.p * pt.p + pt.p**3 / 3.0
    if request.generator_covariance == "estimated":
        per_generation += 4.0 * pt.p**3
    return 1e-3 + _SECONDS_PER_FLOP * per_generation * (request.generations + 1)


def run_loop_simulations(
    requests: list[LoopRequest],
    *,
    root_seed: int,
    replicates: int,
    options: Any,
    labels: list[str] | None = None,
) -> tuple[list[dict[str, np.ndarray]], dict[str, int]]:
    """Per-replicate arrays (replicates x (K + 1)) for each request, through the point cache.

    Missing replicates run on ``options``' executor, split into tasks so that every worker has
    work; a setting's numbers do not depend on the split, the number of workers or the executor.
    ``options`` is a :class:`rmtsynth.engine.sweep.SweepOptions`.
    """
    from rmtsynth.engine.executors import executor_for, replicate_batches

    cache = PointCache(options.cache_dir)
    keys = [_cache_key(r, root_seed) for r in requests]
    unique: dict[str, int] = {}
    for i, key in enumerate(keys):
        unique.setdefault(key, i)
    have: dict[str, dict[str, np.ndarray]] = {}
    missing: list[tuple[str, int, int]] = []
    hits = 0
    for key, i in unique.items():
        cached = cache.load(key)
        if cached is not None and all(k in cached for k in _RECORDED) and cached["accuracy"].ndim == 2 \
                and cached["accuracy"].shape[1] == requests[i].generations + 1:
            have[key] = cached
            if cached["accuracy"].shape[0] >= replicates:
                hits += 1
                continue
            missing.append((key, i, int(cached["accuracy"].shape[0])))
        else:
            missing.append((key, i, 0))

    tasks: list[tuple] = []
    task_keys: list[str] = []
    task_requests: list[int] = []
    pending: dict[str, list[tuple[int, dict[str, np.ndarray]]]] = {}
    remaining: dict[str, int] = {}

    def on_result(t: int, result: dict[str, np.ndarray]) -> None:
        key = task_keys[t]
        pending.setdefault(key, []).append((tasks[t][3], result))
        remaining[key] -= 1
        if remaining[key] == 0:
            parts = ([have[key]] if key in have else []) + [r for _, r in sorted(pending.pop(key), key=lambda c: c[0])]
            merged = {name: np.concatenate([part[name] for part in parts]) for name in _RECORDED}
            have[key] = merged
            cache.store(key, merged)

    def describe(t: int) -> str:
        i = task_requests[t]
        where = labels[i] if labels is not None else "At " + requests[i].describe()
        return f"{where}, replicates {tasks[t][3]} to {tasks[t][4] - 1}"

    if missing:
        with executor_for(options.executor, options.scheduler, options.workers) as executor:
            slots = executor.slots
            for key, i, start in missing:
                batches = replicate_batches(
                    start, replicates, points=len(missing), slots=slots,
                    seconds_per_replicate=_replicate_seconds(requests[i]), split_seconds=executor.split_seconds,
                )
                for lo, hi in batches:
                    tasks.append((requests[i].params(), requests[i].generations, int(root_seed), lo, hi))
                    task_keys.append(key)
                    task_requests.append(i)
                    remaining[key] = remaining.get(key, 0) + 1
            costs = [(t[4] - t[3]) * _replicate_seconds(requests[task_requests[j]]) for j, t in enumerate(tasks)]
            executor.run(loop_task, tasks, costs=costs, describe=describe, on_result=on_result,
                         progress=options.progress, desc="simulating loops")
    results = []
    for key in keys:
        entry = {k: v[:replicates].astype(float) for k, v in have[key].items() if k in _RECORDED}
        for name in ("flip_rate", "margin"):
            entry[name][:, 0] = np.nan
        results.append(entry)
    return results, {"simulated_settings": len(unique), "cache_hits": hits, "tasks": len(tasks)}


def summarise(replicates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean and standard error over replicates of each recorded quantity, per generation."""
    out: dict[str, np.ndarray] = {}
    count = replicates["accuracy"].shape[0]
    for name in _RECORDED:
        values = replicates[name]
        with np.errstate(invalid="ignore"):
            out[f"{name}_mean"] = values.mean(axis=0)
            out[f"{name}_se"] = (values.std(axis=0, ddof=1) / math.sqrt(count)) if count > 1 else np.zeros(values.shape[1])
    out["seeds"] = np.asarray(count)
    return out


def simulate_loop(
    *,
    generations: int,
    regime: str = "replace",
    labels: str = "noisy",
    generator_covariance: str = "identity",
    seeds: int = 100,
    seed: int = 0,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    **params: Any,
) -> dict[str, Any]:
    """Whole-loop simulation at generations k = 0..K: data matrices, labels, verifier, refits.

    Every generation draws the rows, labels them (flips or the previous classifier), applies the
    verifier, refits the generator (midpoint class means; pooled covariance when estimated) and
    the ridge classifier, and records the exact conditional accuracy Phi(w^T mu / ||w||).
    Replicate i of a setting descends from ``seed`` and the setting's parameters only, so the
    numbers do not depend on the rest of the grid or on ``workers``, and equal
    :func:`rmtsynth.sim.loop.simulate_loop`'s.

    Parameters
    ----------
    generations, regime, labels, generator_covariance, **params
        As in :func:`predict_loop` (the parameters are broadcast together).
    seeds : int
        Independent replicates of the whole loop.
    seed : int
        Root seed.
    workers : int
        Processes to run on.
    cache_dir : path, optional
        Keep simulated settings between calls (no cache when None).

    Returns
    -------
    dict
        ``accuracy_mean``, ``accuracy_se``, ``beta_mean``, ``beta_se``, ``tau2_mean``,
        ``tau2_se``, ``flip_rate_mean``, ``flip_rate_se`` (fraction of generated labels that
        differ from the generator's, before the verifier; nan at k = 0), ``margin_mean``,
        ``margin_se``, each of shape ``broadcast shape + (K + 1,)``; ``seeds`` and
        ``generation`` (0..K).
    """
    from rmtsynth.engine.sweep import SweepOptions

    K = _keyword("generations", generations)
    regime = _keyword("regime", regime)
    labels = _keyword("labels", labels)
    generator_covariance = _keyword("generator_covariance", generator_covariance)
    seeds = _keyword("seeds", seeds)
    seed = _keyword("seed", seed)
    shape, points = _resolve_grid(params, labels)
    requests = [LoopRequest(pt, regime, labels, generator_covariance, K) for pt in points]
    options = SweepOptions(workers=int(workers), cache_dir=None if cache_dir is None else Path(cache_dir),
                           progress=progress)
    results, _ = run_loop_simulations(requests, root_seed=seed, replicates=seeds, options=options)
    summaries = [summarise(r) for r in results]
    out: dict[str, Any] = {}
    for name in _RECORDED:
        for stat in ("mean", "se"):
            key = f"{name}_{stat}"
            out[key] = np.stack([s[key] for s in summaries]).reshape(shape + (K + 1,))
    out["seeds"] = int(seeds)
    out["generation"] = np.arange(K + 1)
    return out


# ----------------------------------------------------------------------------- the loop planner

# How far the replace loop is followed to find its first drop when the end is its fixed point.
PLAN_HORIZON = 100
# The accumulate loop has no fixed point at finite generations; its end defaults to this one.
PLAN_ACCUMULATE_GENERATIONS = 50
ACCUMULATE_THRESHOLD = 0.75

# The keys of a loop plan are declared with the other plan keys in the schema.
LOOP_PLAN_TOP_LEVEL = ("title", "description", "seed", "params", "loop")
LOOP_PLAN_KEYS = PLAN_SECTIONS["loop"].keys


def plan_loop(*, generations: int | None = None, regime: str = "replace", **params: Any) -> dict[str, Any]:
    """Does a loop fed its own verified synthetic data end below real data alone? (THEORY.md 14.9)

    Identity generator and noisy labels (the Gram reduction, exact in the proportional limit).

    Parameters
    ----------
    generations : int, optional
        The generation K whose accuracy is compared with real data alone. None: under replace,
        the loop's fixed point (closed form); under accumulate, K = 50.
    regime : {"replace", "accumulate"}
    **params
        One setting, config names: ``n``, ``m`` (or ``m_over_n``), ``p`` (or ``p_over_n``),
        ``mu_norm``, ``label_noise``, ``gamma`` and, optionally, the verifier in use (any form;
        its recall is kept while the precision is searched; default: no verifier).

    Returns
    -------
    dict (JSON-ready: NaN as None)
        ``regime``; ``generations`` (None for the fixed point); ``setting`` (the resolved n, m,
        p, mu_norm, label_noise, rho, phi, gamma, verifier_precision, verifier_recall);
        ``accuracy_real_only``; ``min_verifier_precision`` (the smallest precision, at the
        verifier's recall, whose end accuracy is not below real data alone; None when even
        precision 1 falls below) and ``min_verifier_precision_status`` ("found", "any" when
        even the lowest possible precision does not fall below, "unreachable");
        ``lowest_valid_precision``; ``accuracy_end`` (the verifier in use, at the end),
        ``gain_end``; ``accuracy_by_generation`` (k = 0..horizon); ``first_drop_generation``
        (the first k >= 1 below real data alone, None if none up to the horizon);
        ``horizon``; ``fixed_point`` (replace: beta, tau2, rate, accuracy; else None);
        ``accumulate_stable`` (precision > 3/4, accumulate only); ``messages``.
    """
    regime = _keyword("regime", regime)
    if generations is not None:
        generations = KEYWORDS["generations"].check(generations, "generations")
        if generations < 1:
            raise ConfigError(f"generations = {generations} is out of range; the loop planner needs generations >= 1.")
    point = resolve_loop_point(params, "params")
    if point.m < 1:
        raise ConfigError("params: m = 0 leaves the loop nothing to feed back; give m >= 1 synthetic rows per generation.")
    if point.label_noise >= 1.0:
        raise ConfigError("params.label_noise = 1 makes every generated label wrong; no verifier precision can be searched.")
    end_k = generations if generations is not None else (None if regime == "replace" else PLAN_ACCUMULATE_GENERATIONS)
    common = dict(n=point.n, m=point.m, p=point.p, mu_norm=point.mu_norm, label_noise=point.label_noise,
                  gamma=point.gamma)
    recall = point.verifier_recall
    baseline = float(loop_theory.real_only_accuracy(point.n, point.p, point.mu_norm, point.gamma))
    threshold = float(loop_theory.min_precision_for_loop(**common, recall=recall, generations=end_k, regime=regime))
    lowest = float(min_precision(point.label_noise, recall))
    if math.isnan(threshold):
        status = "unreachable"
    elif threshold <= lowest:
        status = "any"
    else:
        status = "found"
    horizon = end_k if end_k is not None else PLAN_HORIZON
    trajectory = loop_theory.gram_reduction(point.n, point.m, point.p, point.mu_norm, point.label_noise, point.rho,
                                            point.phi, point.gamma, generations=horizon, regime=regime)["accuracy"]
    drop = int(loop_theory.first_drop_generation(trajectory, baseline=baseline))
    fixed = None
    if regime == "replace":
        fp = loop_theory.replace_fixed_point(point.n, point.m, point.p, point.label_noise, point.rho, point.phi)
        fp_acc = loop_theory.replace_step_accuracy(point.n, point.m, point.p, point.mu_norm, point.label_noise, point.rho,
                                                   point.phi, point.gamma, fp["beta"], fp["spurious_energy"])
        fixed = {"beta": float(fp["beta"]), "tau2": float(fp["tau2"]), "rate": float(fp["rate"]),
                 "accuracy": float(fp_acc)}
    accuracy_end = fixed["accuracy"] if (fixed is not None and end_k is None) else float(trajectory[end_k])
    end_text = "the loop's fixed point" if end_k is None else f"generation {end_k}"
    messages = []
    if status == "found":
        messages.append(
            f"The {regime} loop does not end below real data alone ({end_text}) when the verifier's precision is at "
            f"least {threshold:.4f} (at recall {recall:.4g})."
        )
    elif status == "any":
        messages.append(f"The {regime} loop does not end below real data alone ({end_text}) even without a useful verifier.")
    else:
        messages.append(
            f"The {regime} loop ends below real data alone ({end_text}) even with a perfect precision at recall {recall:.4g}."
        )
    gain_end = accuracy_end - baseline
    messages.append(
        f"With the verifier in use (precision {point.verifier_precision:.4g}), {end_text} reaches {accuracy_end:.4f} "
        f"against {baseline:.4f} for real data alone ({gain_end:+.4f})."
    )
    if drop > 0:
        messages.append(f"Its accuracy first drops below real data alone at generation {drop}.")
    else:
        messages.append(f"Its accuracy does not drop below real data alone up to generation {horizon}.")
    stable = None
    if regime == "accumulate":
        stable = bool(point.verifier_precision > ACCUMULATE_THRESHOLD)
        messages.append(
            "Under accumulate the loop stabilises only when the precision exceeds 3/4; with precision "
            f"{point.verifier_precision:.4g} it {'does' if stable else 'does not: its accuracy decays towards 1/2'}."
        )
    return json_ready({
        "regime": regime,
        "generations": end_k,
        "setting": asdict(point),
        "accuracy_real_only": baseline,
        "min_verifier_precision": threshold,
        "min_verifier_precision_status": status,
        "lowest_valid_precision": lowest,
        "accuracy_end": accuracy_end,
        "gain_end": gain_end,
        "accuracy_by_generation": [float(a) for a in trajectory],
        "first_drop_generation": drop if drop > 0 else None,
        "horizon": horizon,
        "fixed_point": fixed,
        "accumulate_stable": stable,
        "messages": messages,
    })


def parse_loop_plan(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check a loop plan mapping (title, description, seed, params, loop); returns plan_loop's arguments and the title."""
    for key in data:
        if not isinstance(key, str) or key not in LOOP_PLAN_TOP_LEVEL:
            raise unknown_key(str(key), "", list(LOOP_PLAN_TOP_LEVEL))
    title = data.get("title", "")
    if not isinstance(title, (str, int, float)) or isinstance(title, bool):
        raise ConfigError("title must be text.")
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise ConfigError("params is missing: give the setting (n, m or m_over_n, p or p_over_n, mu_norm, label_noise, gamma).")
    for key, value in params.items():
        if isinstance(value, (list, dict)):
            raise ConfigError(f"params.{key} must be a single value: the loop planner evaluates one setting.")
    loop = data.get("loop") or {}
    if not isinstance(loop, dict):
        raise ConfigError("loop must be a mapping {regime, generations}.")
    args: dict[str, Any] = {"regime": LOOP_PLAN_KEYS["regime"].default, "generations": None}
    for key, value in loop.items():
        if key not in LOOP_PLAN_KEYS:
            raise unknown_key(str(key), "loop.", list(LOOP_PLAN_KEYS))
        args[key] = LOOP_PLAN_KEYS[key].check(value, f"loop.{key}")
    # Check the setting now, so that a bad parameter is reported with its place in the file.
    resolve_loop_point(params, "params")
    return {"title": str(title), "arguments": {**args, **params}}


def load_loop_plan(path: str | Path) -> dict[str, Any]:
    """Read a loop plan file and answer it: :func:`plan_loop`'s mapping plus ``title``."""
    from rmtsynth.spec.config import read_config_file

    _, data = read_config_file(Path(path))
    parsed = parse_loop_plan(data)
    return {"title": parsed["title"], **plan_loop(**parsed["arguments"])}


def format_loop_plan(res: Mapping[str, Any]) -> str:
    """The loop plan as readable text (what ``rmtsynth plan`` prints without --json)."""
    s = res["setting"]

    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.4f}"

    lines = []
    if res.get("title"):
        lines += [res["title"], ""]
    lines.append(
        f"loop: {res['regime']}, labels noisy, identity generator; end = "
        + ("the fixed point" if res["generations"] is None else f"generation {res['generations']}")
    )
    lines.append(
        f"setting: n = {s['n']}, m = {s['m']} per generation, p = {s['p']}, ||mu|| = {s['mu_norm']:.4g}, "
        f"gamma = {s['gamma']:.4g}, label noise = {s['label_noise']:.4g}"
    )
    lines.append(
        f"verifier in use: rho = {s['rho']:.4g}, phi = {s['phi']:.4g} (precision {s['verifier_precision']:.4g}, "
        f"recall {s['verifier_recall']:.4g})"
    )
    lines.append("")
    rows = [
        ("accuracy, real data only", num(res["accuracy_real_only"])),
        ("min verifier precision", num(res["min_verifier_precision"]) + f" ({res['min_verifier_precision_status']})"),
        ("  lowest possible precision", num(res["lowest_valid_precision"])),
        ("accuracy at the end (verifier in use)", num(res["accuracy_end"])),
        ("  gain over real data alone", f"{res['gain_end']:+.4f}"),
        ("first generation below real data", "none up to " + str(res["horizon"]) if res["first_drop_generation"] is None
         else str(res["first_drop_generation"])),
    ]
    if res.get("fixed_point"):
        fp = res["fixed_point"]
        rows.append(("fixed point: beta*, tau*^2, rate", f"{fp['beta']:.4f}, {fp['tau2']:.4f}, {fp['rate']:.4f}"))
        rows.append(("fixed point accuracy", num(fp["accuracy"])))
    width = max(len(k) for k, _ in rows)
    lines += [f"  {key:<{width}}  {value}" for key, value in rows]
    lines.append("")
    lines += list(res["messages"])
    lines.append("(theory: Gram reduction, exact in the proportional limit; THEORY.md section 14)")
    return "\n".join(lines)


__all__ = [
    "LoopPoint",
    "LoopRequest",
    "format_loop_plan",
    "load_loop_plan",
    "parse_loop_plan",
    "plan_loop",
    "predict_loop",
    "resolve_loop_point",
    "run_loop_simulations",
    "simulate_loop",
]
