"""Figure 6's computation: accuracy on real data mixed with verified synthetic data (FIGURES.md 6, THEORY.md 11.4).

The figure runs :mod:`rmtsynth.data.protocols` seed by seed. The cells that share a data set,
protocol, n, gamma, label noise and learner form a group whose seeds share the split, the fit and
the synthetic draws (common random numbers); one seed of one group is one cached task
(:func:`~rmtsynth.engine.tasks.run_cached`) on the chosen executor, keyed by a hash of the loaded
data rather than its path, so that re-runs compute nothing, a moved or renamed file still hits and
a run with more seeds computes only the new ones. Seed k of a group is the same number whatever the
other seeds, workers or executor, so the table is byte-identical across re-runs, ``--workers`` and
``--executor``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtsynth.config.data import LoadedData, load_data
from rmtsynth.config.figure_config import FigureConfig, RealDataSettings
from rmtsynth.config.real_data_config import (
    FITTED_THEORY_KEY,
    RealDataCell,
    check_real_data,
    check_work,
    real_data_cells,
    resolve_cell,
)
from rmtsynth.core.learners import DEFAULT_LEARNER, get_learner
from rmtsynth.engine.cache import content_key
from rmtsynth.engine.sweep import SweepOptions, SweepResult, mean_and_se
from rmtsynth.engine.tasks import run_cached
from rmtsynth.errors import DataError

# Bump when the experiment's numbers change for the same inputs, so stale entries are not read.
_CACHE_TAG = "real_data/2"

REAL_COLUMNS = [
    "figure", "panel", "data", "series", "protocol", "x", "n", "m", "p", "label_noise", "rho", "phi",
    "verifier_precision", "verifier_recall", "gamma", "synthetic_proportion",
    "sim_accuracy_mean", "sim_accuracy_se", "sim_seeds",
    "sim_real_only_accuracy_mean", "sim_real_only_accuracy_se",
]
THEORY_COLUMN = "theory_fitted_gaussian_accuracy"

Rate = tuple[float, float]


@dataclass
class _Cell:
    spec: RealDataCell
    protocol: str
    point: Any  # ResolvedPoint


@dataclass
class _Group:
    """One (data set, protocol, n, gamma, label noise, learner): its seeds share the split, the fit and the
    synthetic draws, and all its verifiers are run together (common random numbers)."""

    data_index: int
    protocol: str
    n: int
    gamma: float
    label_noise: float
    learner: str
    rates: list[Rate]  # the verifiers simulated, in order of first appearance
    sim_m: list[int]  # the m simulated (0 for the real rows alone), sorted; empty without the simulation
    theory: list[tuple[int, Rate]]  # the (m, verifier) the theory is evaluated at, in order of first appearance


def run_real_data_figure(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Accuracy of the learner on n real rows plus m verified synthetic samples, per data set, verifier and protocol."""
    t0 = time.perf_counter()
    settings = check_real_data(cfg)
    theory_on = settings.fitted_gaussian_theory
    simulate = cfg.simulation.enabled and options.simulate
    check_work(cfg, settings, simulate=options.simulate)
    seeds = int(options.seeds or cfg.simulation.seeds)
    datasets = [load_data(s) for s in settings.data]
    cells = _cells(cfg, settings, datasets)
    groups = _groups(cells, simulate, theory_on)
    per_seed, stats = _seed_results(cfg, options, datasets, groups, seeds)
    rows = [_cell_row(cfg, settings, datasets, cell, groups, per_seed, simulate, theory_on) for cell in cells]
    columns = list(REAL_COLUMNS) if simulate else [c for c in REAL_COLUMNS if not c.startswith("sim_")]
    if any(cell.point.learner != DEFAULT_LEARNER for cell in cells):
        columns.insert(columns.index("synthetic_proportion") + 1, "learner")
    if theory_on:
        columns.append(THEORY_COLUMN)
    info = {
        "points": len(rows),
        "seeds": seeds if simulate or theory_on else 0,
        "protocols": settings.protocols,
        "data": [
            {"title": settings.panels[i][0] if len(settings.data) > 1 else "", "description": d.description,
             "sha256": d.digest, "rows": d.rows, "p": d.p, "standardize": d.spec.standardize}
            for i, d in enumerate(datasets)
        ],
        FITTED_THEORY_KEY: theory_on,
        "seconds": time.perf_counter() - t0,
        **stats,
    }
    return SweepResult(config=cfg, columns=columns, rows=rows, info=info)


def check_real_data_rows(cfg: FigureConfig) -> None:
    """Every check of a real_data config against its data sets (their features and rows), with no seed run."""
    settings = check_real_data(cfg)
    _cells(cfg, settings, [load_data(s) for s in settings.data])


def _cells(cfg: FigureConfig, settings: RealDataSettings, datasets: list[LoadedData]) -> list[_Cell]:
    """Every (panel, series, x, protocol) of the figure, resolved on its data set and checked against it."""
    cells: list[_Cell] = []
    for spec in real_data_cells(cfg, settings):
        data = datasets[spec.data_index]
        if "p" in spec.params and spec.params["p"] != data.p:
            raise DataError(f"{spec.where}: p = {spec.params['p']}, but {data.description} has {data.p} features; "
                            "drop p or match it.")
        point = resolve_cell(cfg, spec, data.p)
        for protocol in settings.protocols:
            top = data.rows - 1 if protocol == "held-out" else data.rows
            if not 2 <= point.n <= top:
                raise DataError(
                    f"{spec.where}: n = {point.n} must be between 2 and {top} for the {protocol} protocol on "
                    f"{data.description}, which has {data.rows} rows."
                )
            cells.append(_Cell(spec, protocol, point))
    return cells


def _group_key(cell: _Cell) -> tuple[Any, ...]:
    pt = cell.point
    return (cell.spec.data_index, cell.protocol, pt.n, pt.gamma, pt.label_noise, pt.learner)


def _groups(cells: list[_Cell], simulate: bool, theory_on: bool) -> dict[tuple[Any, ...], _Group]:
    """The cells grouped by what their seeds share, with what each group's seeds compute."""
    members_of: dict[tuple[Any, ...], list[_Cell]] = {}
    for cell in cells:
        members_of.setdefault(_group_key(cell), []).append(cell)
    groups = {}
    for key, members in members_of.items():
        di, protocol, n, gamma, eps, learner = key
        rates = list(dict.fromkeys((c.point.rho, c.point.phi) for c in members))
        sim_m = sorted({0} | {c.point.m for c in members}) if simulate else []
        theory = list(dict.fromkeys((c.point.m, (c.point.rho, c.point.phi)) for c in members)) if theory_on else []
        groups[key] = _Group(di, protocol, n, gamma, eps, learner, rates, sim_m, theory)
    return groups


def _task(cfg: FigureConfig, datasets: list[LoadedData], group: _Group, k: int) -> dict[str, Any]:
    return {
        "data": group.data_index, "n": group.n, "protocol": group.protocol, "root_seed": cfg.seed, "seed_index": k,
        "standardize": datasets[group.data_index].spec.standardize, "sim_m": group.sim_m,
        "label_noise": group.label_noise, "rates": group.rates, "gamma": group.gamma,
        "theory_m": [m for m, _ in group.theory], "theory_rates": [rate for _, rate in group.theory],
        "convention": cfg.theory.convention, "learner": group.learner,
    }


def _task_key(datasets: list[LoadedData], task: dict[str, Any]) -> str:
    """The cache key of one seed of one group: the data by its hash, and everything the seed computes."""
    record = {name: value for name, value in task.items() if name != "data"}
    record["data"] = datasets[task["data"]].digest
    if not task["theory_m"]:
        record.pop("convention")
    if task["learner"] == DEFAULT_LEARNER:
        record.pop("learner")
    return content_key(_CACHE_TAG, record)


def _seed_task(context: list[tuple[np.ndarray, np.ndarray]], task: dict[str, Any]) -> dict[str, np.ndarray]:
    """One seed of one group (runs in a worker): the accuracies at ``sim_m`` and the theory's values.

    ``context`` holds every data set's rows, shared by all tasks.
    """
    from rmtsynth.data.protocols import prepare_seed, seed_accuracies

    X, y = context[task["data"]]
    n, k, eps, gamma = task["n"], task["seed_index"], task["label_noise"], task["gamma"]
    prepared = prepare_seed(X, y, n=n, protocol=task["protocol"], root_seed=task["root_seed"], seed_index=k,
                            standardize=task["standardize"])
    accuracy = np.empty((len(task["rates"]), 0))
    if task["sim_m"]:
        accuracy = seed_accuracies(prepared, n=n, m_values=task["sim_m"], label_noise=eps, verifiers=task["rates"],
                                   gamma=gamma, root_seed=task["root_seed"], seed_index=k, learner=task["learner"])
    theory = fitted_theory_values(prepared, n, task["theory_m"], task["theory_rates"], eps, gamma, task["convention"],
                                  task["learner"])
    # One replicate (this seed) per entry, as the cache keeps them.
    return {"accuracy": np.asarray(accuracy, dtype=float)[None], "theory": np.asarray(theory, dtype=float)[None]}


def _usable(task: dict[str, Any], entry: dict[str, np.ndarray]) -> bool:
    return (entry.get("accuracy") is not None and entry.get("theory") is not None
            and entry["accuracy"].shape == (1, len(task["rates"]), len(task["sim_m"]))
            and entry["theory"].shape == (1, len(task["theory_m"])))


def _seed_results(cfg: FigureConfig, options: SweepOptions, datasets: list[LoadedData],
                  groups: dict[tuple[Any, ...], _Group], seeds: int
                  ) -> tuple[dict[tuple[Any, ...], list[dict[str, np.ndarray]]], dict[str, int]]:
    """Every group's results, seed by seed, read from the cache or computed."""
    tasks, keys, owners = [], [], []
    for gkey, group in groups.items():
        for k in range(seeds):
            task = _task(cfg, datasets, group, k)
            tasks.append(task)
            keys.append(_task_key(datasets, task))
            owners.append((gkey, k))

    def describe(i: int) -> str:
        group, k = groups[owners[i][0]], owners[i][1]
        return (f"At {datasets[group.data_index].description}, the {group.protocol} protocol, n = {group.n}, "
                f"gamma = {group.gamma:g}, label_noise = {group.label_noise:g}, seed {k}")

    results, cached = run_cached(_seed_task, tasks, keys, options, usable=_usable, describe=describe, desc="seeds",
                                 context=[(d.X, d.y) for d in datasets])
    per_seed: dict[tuple[Any, ...], list[dict[str, np.ndarray]]] = {gkey: [] for gkey in groups}
    for (gkey, _), result in zip(owners, results):
        per_seed[gkey].append(result)
    stats = {"cached_points": cached, "computed_points": len(tasks) - cached, "seed_runs": len(tasks) - cached}
    return per_seed, stats


def _cell_row(cfg: FigureConfig, settings: RealDataSettings, datasets: list[LoadedData], cell: _Cell,
              groups: dict[tuple[Any, ...], _Group], per_seed: dict[tuple[Any, ...], list[dict[str, np.ndarray]]],
              simulate: bool, theory_on: bool) -> dict[str, Any]:
    """The table's row of one cell."""
    pt = cell.point
    title = settings.panels[cell.spec.panel][0]
    data = datasets[cell.spec.data_index]
    row: dict[str, Any] = {
        "figure": cfg.name,
        "panel": title or data.description,
        "data": data.description,
        "series": cfg.series[cell.spec.series].label,
        "protocol": cell.protocol,
        "x": pt.m / (pt.n + pt.m),
        "n": pt.n,
        "m": pt.m,
        "p": pt.p,
        "label_noise": pt.label_noise,
        "rho": pt.rho,
        "phi": pt.phi,
        "verifier_precision": pt.verifier_precision,
        "verifier_recall": pt.verifier_recall,
        "gamma": pt.gamma,
        "synthetic_proportion": pt.m / (pt.n + pt.m),
        "learner": pt.learner,
    }
    group = groups[_group_key(cell)]
    results = per_seed[_group_key(cell)]
    rate = (pt.rho, pt.phi)
    if simulate:
        acc = np.array([r["accuracy"][0, group.rates.index(rate), group.sim_m.index(pt.m)] for r in results])
        # The real rows alone do not depend on the verifier: the first one's m = 0.
        real = np.array([r["accuracy"][0, 0, group.sim_m.index(0)] for r in results])
        row.update(_summary("sim_accuracy", acc))
        row["sim_seeds"] = int(acc.size)
        row.update(_summary("sim_real_only_accuracy", real))
    if theory_on:
        at = group.theory.index((pt.m, rate))
        row[THEORY_COLUMN] = float(np.mean([r["theory"][0, at] for r in results]))
    return row


def _summary(prefix: str, values: np.ndarray) -> dict[str, float]:
    mean, se = mean_and_se(values)
    return {f"{prefix}_mean": mean, f"{prefix}_se": se}


def fitted_theory_values(prepared: Any, n: int, m_values: list[int], rates: list[Any], eps: float, gamma: float,
                         convention: str, learner: str = DEFAULT_LEARNER) -> np.ndarray:
    """THEORY.md 11.2 on the Gaussian this seed's generator uses (mu = mu_beta = mu_hat, Sigma = C).

    This is the accuracy on that fitted Gaussian, not a prediction of accuracy on held-out rows
    (THEORY.md 11.4).
    """
    from rmtsynth.core.model import Mix
    from rmtsynth.core.theory import Spectrum

    if not m_values:
        return np.empty(0)
    values, basis = prepared.fit.eigh()
    a = basis.T @ prepared.fit.mu
    spectrum = Spectrum.from_eigen(values, a, a, sigma=values)
    rho = np.array([r[0] for r in rates])
    phi = np.array([r[1] for r in rates])
    mix = Mix(float(n), np.asarray(m_values, dtype=float), eps, rho, phi, gamma)
    result = get_learner(learner).theory_on_spectrum(spectrum, mix, convention=convention)
    return np.asarray(result.accuracy, dtype=float)
