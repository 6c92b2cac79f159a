"""The sweep engine: config -> resolved points -> theory and simulation -> a tidy results table.

Every (panel, series, x) cell of a figure becomes one row. The theory is evaluated for all rows
at once (vectorised per generator); the simulation runs only where the config asks for it, in
parallel processes or on a Dask cluster (see :mod:`rmtsynth.engine.executors`), through the point
cache. Rows come out in the config's order whatever the number of workers or the executor, so
the same config and seed always give the same table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmtsynth.engine.cache import CACHE_VERSION, PointCache, content_key
from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.core.learners import DEFAULT_LEARNER
from rmtsynth.core.model import ModelSpec
from rmtsynth.engine.points import generator_seed, model_for, theory_for_points
from rmtsynth.engine.executors import executor_for, replicate_batches
from rmtsynth.engine.parallel import default_workers
from rmtsynth.config.point_rules import check_simulable, check_theory
from rmtsynth.config.resolve import RESOLVED_COLUMNS, ResolvedPoint, resolve_point, verifier_columns
from rmtsynth.engine.feature_points import feature_blind_twins
from rmtsynth.engine.series_gain import GAIN_COLUMNS, add_gains, uses_gains
from rmtsynth.sim.seeding import point_seed, stable_key

BASE_COLUMNS = ["figure", "panel", "series", "x"]
SIM_COLUMNS = ["sim_accuracy_mean", "sim_accuracy_se", "sim_seeds"]
TEST_COLUMNS = ["sim_test_accuracy_mean", "sim_test_accuracy_se"]


@dataclass
class SweepOptions:
    """How to run a sweep (command-line choices, not part of the results)."""

    workers: int = field(default_factory=default_workers)
    cache_dir: Path | None = None
    simulate: bool = True
    seeds: int | None = None
    sampler: str | None = None
    progress: bool = True
    executor: str = "local"
    scheduler: str | None = None


@dataclass
class SweepResult:
    """The results table of one figure, with what the manifest records."""

    config: FigureConfig
    columns: list[str]
    rows: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)


def theory_column(y: str) -> str:
    """The results-table column that holds the theory of a plotted quantity."""
    if y in ("accuracy", "mean", "variance", "second_moment", "risk"):
        return f"theory_{y}"
    return y


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    """Mean over replicates and its standard error (0 for a single replicate)."""
    se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else 0.0
    return float(values.mean()), se


def learner_columns(points: list[ResolvedPoint]) -> list[str]:
    """``["learner"]`` when some point trains another learner than ridge (then every row names its
    learner), else none, so that ridge tables keep their columns."""
    return ["learner"] if any(pt.learner != DEFAULT_LEARNER for pt in points) else []


def describe_cell(cfg: FigureConfig, ip: int, iseries: int, xv: Any) -> str:
    parts = []
    if len(cfg.panels) > 1 or cfg.panels[ip].label:
        parts.append(f"panel '{cfg.panels[ip].label}'")
    if len(cfg.series) > 1 or cfg.series[iseries].label:
        parts.append(f"series '{cfg.series[iseries].label}'")
    if cfg.x is not None:
        parts.append(f"{cfg.x.param} = {xv:g}" if isinstance(xv, float) else f"{cfg.x.param} = {xv}")
    return "At " + ", ".join(parts) if parts else "In params"


def resolve_cells(cfg: FigureConfig) -> list[tuple[int, int, Any, ResolvedPoint]]:
    """Resolve every cell of the figure; the first problem raises ConfigError naming the cell."""
    out = []
    for ip, iseries, xv, params in cfg.cells():
        point = resolve_point(params, cfg.base_dir, describe_cell(cfg, ip, iseries, xv), seed=cfg.seed)
        out.append((ip, iseries, xv, point))
    return out


def _y_of(cfg: FigureConfig, ip: int) -> str:
    return cfg.panels[ip].y or cfg.plot.get("y") or "accuracy"


def simulation_key(point: ResolvedPoint, root_seed: int, sampler: str, test_size: int | None) -> str:
    return content_key(
        CACHE_VERSION,
        {
            "point": point.record(),
            "seed": root_seed,
            "sampler": sampler,
            "test_size": test_size,
            "shared_generator_draws": True,
        }
    )


def simulate_task(task: tuple) -> dict[str, np.ndarray]:
    """Replicates [start, stop) of one point (runs in a worker process)."""
    from rmtsynth.sim.monte_carlo import simulate_point

    gen, root_seed, point, start, stop, sampler, test_size = task
    model = model_for(gen, root_seed)
    seed = point_seed(root_seed, stable_key(point.record()))
    # A random generator is drawn from its own seed, so all points share replicate r's C.
    gen_seed = generator_seed(gen, root_seed) if gen.covariance.kind == "estimated" else None
    res = simulate_point(
        model,
        point.mix,
        seed,
        stop - start,
        first_replicate=start,
        sampler=sampler,
        test_size=test_size,
        generator_seed=gen_seed,
        learner=point.learner,
    )
    out = {"accuracy": np.asarray(res.accuracy, dtype=float)}
    if test_size:
        out["test_accuracy"] = np.asarray(res.test_accuracy, dtype=float)
    return out


def replicate_seconds(point: ResolvedPoint, sampler: str) -> float:
    """A rough single-core cost of one replicate, to size tasks for a cluster (it changes no result)."""
    p, size = point.p, point.n + point.m
    seconds = 3e-4 + 5e-8 * p * p + 5e-11 * p * p * min(p, size)
    if point.covariance == "estimated":
        seconds *= 1.4
    if sampler == "naive":
        seconds += 1.5e-8 * size * p
    return seconds


def describe_point(point: ResolvedPoint, where: str | None = None) -> str:
    """``where`` (e.g. "At panel 'a', x = 0.5") followed by the point's main parameters."""
    params = (
        f"n = {point.n}, m = {point.m}, p = {point.p}, label_noise = {point.label_noise:g}, rho = {point.rho:g}, "
        f"phi = {point.phi:g}, gamma = {point.gamma:g}, covariance = {point.covariance}"
    )
    return f"{where} ({params})" if where else f"At the point {params}"


def run_simulations(
    requests: list[tuple[ModelSpec, ResolvedPoint]],
    *,
    root_seed: int,
    replicates: int,
    sampler: str,
    test_size: int | None,
    options: SweepOptions,
    labels: list[str] | None = None,
) -> tuple[list[dict[str, np.ndarray]], dict[str, int]]:
    """Per-replicate results for each request, through the cache; missing replicates run in parallel.

    ``labels`` (one per request) name the points in error messages. Each point is cached as soon
    as all its replicates are in, so an interrupted run resumes with only what is missing.
    """
    for i, (_, pt) in enumerate(requests):
        check_simulable(pt, sampler, labels[i] if labels is not None else describe_point(pt))
    cache = PointCache(options.cache_dir)
    keys = [simulation_key(pt, root_seed, sampler, test_size) for _, pt in requests]
    unique: dict[str, int] = {}
    for i, key in enumerate(keys):
        unique.setdefault(key, i)
    have: dict[str, dict[str, np.ndarray]] = {}
    missing: list[tuple[str, int, int]] = []  # (key, request, first missing replicate)
    hits = 0
    for key, i in unique.items():
        cached = cache.load(key)
        if cached is not None:
            have[key] = cached
            if cached["accuracy"].shape[0] >= replicates:
                hits += 1
                continue
        missing.append((key, i, 0 if cached is None else int(cached["accuracy"].shape[0])))

    tasks: list[tuple] = []
    task_keys: list[str] = []
    task_requests: list[int] = []
    pending_chunks: dict[str, list[tuple[int, dict[str, np.ndarray]]]] = {}
    remaining: dict[str, int] = {}

    def on_result(t: int, result: dict[str, np.ndarray]) -> None:
        key = task_keys[t]
        pending_chunks.setdefault(key, []).append((tasks[t][3], result))
        remaining[key] -= 1
        if remaining[key] == 0:
            parts = ([have[key]] if key in have else []) + [r for _, r in sorted(pending_chunks.pop(key), key=lambda c: c[0])]
            merged = {name: np.concatenate([p[name] for p in parts]) for name in parts[-1]}
            have[key] = merged
            cache.store(key, merged)

    def describe(t: int) -> str:
        i = task_requests[t]
        where = labels[i] if labels is not None else None
        return f"{describe_point(requests[i][1], where)}, replicates {tasks[t][3]} to {tasks[t][4] - 1}"

    if missing:
        # The executor (and a cluster) starts only when something is missing.
        with executor_for(options.executor, options.scheduler, options.workers) as executor:
            slots = executor.slots
            for key, i, start in missing:
                gen, pt = requests[i]
                batches = replicate_batches(
                    start, replicates, points=len(unique), slots=slots,
                    seconds_per_replicate=replicate_seconds(pt, sampler), split_seconds=executor.split_seconds,
                )
                for lo, hi in batches:
                    tasks.append((gen, root_seed, pt, lo, hi, sampler, test_size))
                    task_keys.append(key)
                    task_requests.append(i)
                    remaining[key] = remaining.get(key, 0) + 1
            costs = [(t[4] - t[3]) * replicate_seconds(t[2], sampler) for t in tasks]
            executor.run(simulate_task, tasks, costs=costs, describe=describe, on_result=on_result, progress=options.progress)
    results = [{k: v[:replicates] for k, v in have[key].items()} for key in keys]
    return results, {"simulated_points": len(unique), "cache_hits": hits, "tasks": len(tasks)}


def check_cells(cfg: FigureConfig) -> int:
    """Every check of a curves figure that needs no computing: each point resolves, its theory and
    (where it is simulated) its simulation are supported; returns the number of points."""
    cells = resolve_cells(cfg)
    for ip, iseries, xv, pt in cells:
        check_theory(pt, cfg.theory.convention, describe_cell(cfg, ip, iseries, xv))
    if cfg.simulation.enabled:
        _simulated_cells(cfg, cells, cfg.simulation.sampler)
    return len(cells)


def real_only_accuracy(points: list[ResolvedPoint], *, seed: int, convention: str) -> np.ndarray:
    """Theory accuracy of each point's real data alone (m = 0); nan where n = 0."""
    # With n = 0 there is no real-only classifier; m = 1 only keeps N > 0 for the masked entries.
    real = [pt.replace(m=0) if pt.n > 0 else pt.replace(m=1) for pt in points]
    acc = theory_for_points(real, seed=seed, convention=convention)["accuracy"]
    return np.where(np.array([pt.n > 0 for pt in points]), acc, np.nan)


def run_curves(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Theory and simulation for a figure of kind ``curves``."""
    t0 = time.perf_counter()
    cells = resolve_cells(cfg)
    points = [c[3] for c in cells]
    sampler = options.sampler or cfg.simulation.sampler
    replicates = options.seeds or cfg.simulation.seeds
    theory = theory_for_points(
        points,
        seed=cfg.seed,
        convention=cfg.theory.convention,
        covariance_mode=cfg.theory.covariance,
        replicates=replicates,
    )
    baselines = _baselines(cfg, points)
    test_size = cfg.simulation.test_size
    do_sim = cfg.simulation.enabled and options.simulate
    sim_rows = _simulated_cells(cfg, cells, sampler) if do_sim else []
    t1 = time.perf_counter()
    sims, sim_info = run_simulations(
        [(points[i].generator, points[i]) for i in sim_rows],
        root_seed=cfg.seed,
        replicates=replicates,
        sampler=sampler,
        test_size=test_size,
        options=options,
        labels=[describe_cell(cfg, *cells[i][:3]) for i in sim_rows],
    )
    sim_by_row = dict(zip(sim_rows, sims))
    t2 = time.perf_counter()

    extra_y = sorted({_y_of(cfg, ip) for ip in range(len(cfg.panels))} - {"accuracy"})
    sim_columns = (SIM_COLUMNS + (TEST_COLUMNS if test_size else [])) if do_sim else []
    learner_column = learner_columns(points)
    # Verifiers that look at the rows add their columns (every row then has them); other tables keep theirs.
    feature = verifier_columns(points)
    columns = (BASE_COLUMNS + RESOLVED_COLUMNS + learner_column + feature + ["eps_star", "theory_accuracy"]
               + [theory_column(y) for y in extra_y])
    columns += list(baselines) + sim_columns + (GAIN_COLUMNS if uses_gains(cfg) else [])
    rows = []
    for i, (ip, iseries, xv, pt) in enumerate(cells):
        row: dict[str, Any] = {
            "figure": cfg.name,
            "panel": cfg.panels[ip].label,
            "series": cfg.series[iseries].label,
            "x": xv,
        }
        row.update(pt.record())
        if learner_column:
            row["learner"] = pt.learner
        if feature:
            row.update(pt.verifier_record(tuple(feature)))
        row["eps_star"] = pt.verifier.transition()
        row["theory_accuracy"] = float(theory["accuracy"][i])
        row.update({name: float(values[i]) for name, values in baselines.items()})
        for y in extra_y:
            row[theory_column(y)] = float(theory[y][i])
        if do_sim:
            row.update(_simulation_columns(sim_by_row.get(i), test_size, sim_columns))
        rows.append(row)
    if uses_gains(cfg):
        add_gains(cfg, rows)
    info = {
        "points": len(rows),
        "theory_seconds": t1 - t0,
        "simulation_seconds": t2 - t1,
        "sampler": sampler,
        "replicates": replicates if do_sim else 0,
        **sim_info,
    }
    return SweepResult(config=cfg, columns=columns, rows=rows, info=info)


def _baselines(cfg: FigureConfig, points: list[ResolvedPoint]) -> dict[str, np.ndarray]:
    """The theory of the plot's baseline at every point: real data alone, or the feature-blind twin."""
    if cfg.plot.get("baseline") == "real_only":
        return {"theory_accuracy_real_only": real_only_accuracy(points, seed=cfg.seed, convention=cfg.theory.convention)}
    if cfg.plot.get("baseline") == "feature_blind":
        twins = feature_blind_twins(points)
        return {"theory_accuracy_feature_blind": theory_for_points(twins, seed=cfg.seed, convention=cfg.theory.convention)["accuracy"]}
    return {}


def _simulated_cells(cfg: FigureConfig, cells: list[tuple[int, int, Any, ResolvedPoint]], sampler: str) -> list[int]:
    """The cells the config simulates, each checked to fit in memory before any work."""
    sim_rows: list[int] = []
    for i, (ip, iseries, xv, pt) in enumerate(cells):
        if (
            _y_of(cfg, ip) == "accuracy"
            and cfg.panels[ip].simulate
            and cfg.series[iseries].simulate
            and cfg.simulated_x(xv)
            and pt.p <= cfg.simulation.max_p
        ):
            check_simulable(pt, sampler, describe_cell(cfg, ip, iseries, xv))
            sim_rows.append(i)
    return sim_rows


def _simulation_columns(sim: dict[str, np.ndarray] | None, test_size: int | None, columns: list[str]) -> dict[str, Any]:
    """A row's simulation columns: mean and SE over replicates, or None where the cell is not simulated."""
    if sim is None:
        return {c: None for c in columns}
    out: dict[str, Any] = {}
    out["sim_accuracy_mean"], out["sim_accuracy_se"] = mean_and_se(sim["accuracy"])
    out["sim_seeds"] = int(sim["accuracy"].size)
    if test_size:
        out["sim_test_accuracy_mean"], out["sim_test_accuracy_se"] = mean_and_se(sim["test_accuracy"])
    return out
