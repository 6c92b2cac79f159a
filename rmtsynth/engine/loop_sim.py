"""Whole-loop simulations of many settings: tasks, cache keys and the replicates' summary.

The replicates of a setting are split into tasks run on the executors and kept in the point
cache; a setting's numbers do not depend on the split, the number of workers or the executor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rmtsynth.config.loop_config import keyword, resolve_loop_grid, split_loop_keywords
from rmtsynth.config.resolve import ResolvedPoint
from rmtsynth.core.loop import LoopSpec
from rmtsynth.core.model import Mix, ModelSpec
from rmtsynth.engine.cache import PointCache, content_key
from rmtsynth.errors import ParameterError, ParameterTypeError, RmtsynthError
from rmtsynth.io.atomic import check_dir
from rmtsynth.sim.loop import loop_replicates, seed_params

# Bump when a replicate's numbers change for the same inputs, so stale cache entries are not read.
_CACHE_TAG = "loop/1"
# Rough single-core seconds of one replicate (sizes tasks for a cluster; changes no result).
_SECONDS_PER_FLOP = 2e-10
# Per-replicate arrays kept in the cache; flip rate and margin are undefined at k = 0.
RECORDED = ("accuracy", "beta", "tau2", "flip_rate", "margin")


@dataclass(frozen=True)
class LoopRequest:
    """One setting to simulate over generations 0..K: a resolved point (its ``mix`` and ``model``) and the loop."""

    point: ResolvedPoint
    loop: LoopSpec

    def params(self) -> dict[str, Any]:
        """The mapping the setting's seed is derived from (:func:`rmtsynth.sim.loop.seed_params`)."""
        return seed_params(self.point.mix, self.point.model, self.loop)

    def task(self, root_seed: int, start: int, stop: int) -> "LoopTask":
        """Replicates [start, stop) of this setting from ``root_seed``, as a worker receives them."""
        return LoopTask(mix=self.point.mix, model=self.point.model, loop=self.loop, root_seed=int(root_seed),
                        start=start, stop=stop)

    def describe(self) -> str:
        pt, loop = self.point, self.loop
        return (f"the {loop.regime} loop with {loop.labels} labels and the {loop.generator_covariance} generator "
                f"(n = {pt.n}, m = {pt.m}, p = {pt.p}, label_noise = {pt.label_noise:g}, rho = {pt.rho:g}, "
                f"phi = {pt.phi:g}, gamma = {pt.gamma:g}, K = {loop.generations})")


@dataclass(frozen=True)
class LoopTask:
    """Replicates [start, stop) of one setting: what a worker process receives."""

    mix: Mix
    model: ModelSpec
    loop: LoopSpec
    root_seed: int
    start: int
    stop: int


def loop_task(task: LoopTask) -> dict[str, np.ndarray]:
    """Replicates [start, stop) of one loop setting (runs in a worker process).

    Replicate i is the same draw as replicate i of :func:`rmtsynth.sim.loop.simulate_loop` with
    the same parameters and root seed, whatever task it falls in.
    """
    reps = loop_replicates(task.mix, task.model, task.loop, root_seed=task.root_seed, start=task.start, stop=task.stop)
    out = {}
    for key in RECORDED:
        values = np.stack([r[key] for r in reps])
        if key in ("flip_rate", "margin"):
            # The cache keeps finite arrays only: the undefined k = 0 entries travel as 0.
            values[:, 0] = 0.0
        out[key] = values
    return out


def _cache_key(request: LoopRequest, root_seed: int) -> str:
    return content_key(_CACHE_TAG, {"params": request.params(),
                                    "generations": request.loop.generations, "seed": int(root_seed)})


def _replicate_seconds(request: LoopRequest) -> float:
    pt = request.point
    per_generation = 2.0 * (pt.m + pt.n) * pt.p * pt.p + pt.p**3 / 3.0
    if request.loop.generator_covariance == "estimated":
        per_generation += 4.0 * pt.p**3
    return 1e-3 + _SECONDS_PER_FLOP * per_generation * (request.loop.generations + 1)


def _look_up(cache: PointCache, unique: dict[str, int], requests: list[LoopRequest], replicates: int):
    """(cached arrays by key, (key, request, replicates cached) still to run, settings fully cached)."""
    have: dict[str, dict[str, np.ndarray]] = {}
    missing: list[tuple[str, int, int]] = []
    hits = 0
    for key, i in unique.items():
        cached = cache.load(key)
        if cached is not None and all(k in cached for k in RECORDED) and cached["accuracy"].ndim == 2 \
                and cached["accuracy"].shape[1] == requests[i].loop.generations + 1:
            have[key] = cached
            if cached["accuracy"].shape[0] >= replicates:
                hits += 1
                continue
            missing.append((key, i, int(cached["accuracy"].shape[0])))
        else:
            missing.append((key, i, 0))
    return have, missing, hits


def _simulate_missing(missing: list[tuple[str, int, int]], requests: list[LoopRequest], have: dict, cache: PointCache,
                      *, root_seed: int, replicates: int, options: Any, labels: list[str] | None) -> int:
    """Run the missing replicates, merging each setting into ``have`` and the cache; returns the tasks run."""
    from rmtsynth.engine.executors import executor_for, replicate_batches

    if not missing:
        return 0
    tasks: list[LoopTask] = []
    task_keys: list[str] = []
    task_requests: list[int] = []
    pending: dict[str, list[tuple[int, dict[str, np.ndarray]]]] = {}
    remaining: dict[str, int] = {}

    def on_result(t: int, result: dict[str, np.ndarray]) -> None:
        key = task_keys[t]
        pending.setdefault(key, []).append((tasks[t].start, result))
        remaining[key] -= 1
        if remaining[key] == 0:
            parts = ([have[key]] if key in have else []) + [r for _, r in sorted(pending.pop(key), key=lambda c: c[0])]
            merged = {name: np.concatenate([part[name] for part in parts]) for name in RECORDED}
            have[key] = merged
            cache.store(key, merged)

    def describe(t: int) -> str:
        i = task_requests[t]
        where = labels[i] if labels is not None else "At " + requests[i].describe()
        return f"{where}, replicates {tasks[t].start} to {tasks[t].stop - 1}"

    with executor_for(options.executor, options.scheduler, options.workers) as executor:
        slots = executor.slots
        for key, i, start in missing:
            batches = replicate_batches(
                start, replicates, points=len(missing), slots=slots,
                seconds_per_replicate=_replicate_seconds(requests[i]), split_seconds=executor.split_seconds,
            )
            for lo, hi in batches:
                tasks.append(requests[i].task(root_seed, lo, hi))
                task_keys.append(key)
                task_requests.append(i)
                remaining[key] = remaining.get(key, 0) + 1
        costs = [(t.stop - t.start) * _replicate_seconds(requests[task_requests[j]]) for j, t in enumerate(tasks)]
        executor.run(loop_task, tasks, costs=costs, describe=describe, on_result=on_result,
                     progress=options.progress, desc="simulating loops")
    return len(tasks)


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
    cache = PointCache(options.cache_dir)
    keys = [_cache_key(r, root_seed) for r in requests]
    unique: dict[str, int] = {}
    for i, key in enumerate(keys):
        unique.setdefault(key, i)
    have, missing, hits = _look_up(cache, unique, requests, replicates)
    tasks = _simulate_missing(missing, requests, have, cache, root_seed=root_seed, replicates=replicates,
                              options=options, labels=labels)
    results = []
    for key in keys:
        entry = {k: v[:replicates].astype(float) for k, v in have[key].items() if k in RECORDED}
        for name in ("flip_rate", "margin"):
            entry[name][:, 0] = np.nan
        results.append(entry)
    return results, {"simulated_settings": len(unique), "cache_hits": hits, "tasks": tasks}


def summarise(replicates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean and standard error over replicates of each recorded quantity, per generation."""
    out: dict[str, np.ndarray] = {}
    count = replicates["accuracy"].shape[0]
    for name in RECORDED:
        values = replicates[name]
        with np.errstate(invalid="ignore"):
            out[f"{name}_mean"] = values.mean(axis=0)
            out[f"{name}_se"] = (values.std(axis=0, ddof=1) / math.sqrt(count)) if count > 1 else np.zeros(values.shape[1])
    out["seeds"] = np.asarray(count)
    return out


def simulate_loop(
    *,
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
    **params
        The loop's own settings and the setting, as in :func:`rmtsynth.engine.loop_predict.predict_loop`
        (the parameters are broadcast together).
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

    loop, params = split_loop_keywords(params)
    seeds = keyword("seeds", seeds)
    seed = keyword("seed", seed)
    shape, points = resolve_loop_grid(params, loop)
    requests = [LoopRequest(pt, loop) for pt in points]
    options = SweepOptions(workers=int(workers), cache_dir=_cache_dir(cache_dir), progress=progress)
    results, _ = run_loop_simulations(requests, root_seed=seed, replicates=seeds, options=options)
    summaries = [summarise(r) for r in results]
    out: dict[str, Any] = {}
    for name in RECORDED:
        for stat in ("mean", "se"):
            key = f"{name}_{stat}"
            out[key] = np.stack([s[key] for s in summaries]).reshape(shape + (loop.generations + 1,))
    out["seeds"] = int(seeds)
    out["generation"] = np.arange(loop.generations + 1)
    return out


def _cache_dir(value: Any) -> Path | None:
    """The cache directory, checked before any simulation: a path that is, or can become, a writable folder."""
    if value is None:
        return None
    if not isinstance(value, (str, Path)):
        raise ParameterTypeError(f"cache_dir = {value!r} must be a path (str or pathlib.Path), not {type(value).__name__}.")
    try:
        return check_dir(Path(value), "The cache directory")
    except RmtsynthError as exc:
        raise ParameterError(f"cache_dir: {exc}") from None
