"""The loop figures' computation: theory per (regime, series, generation) with whole-loop simulation, or the stability map.

The settings are checked in :mod:`rmtsynth.config.generations_config` (the series' points resolved
as a loop's: their ``mix`` and ``model`` with the panel's ``LoopSpec``). Simulated settings are cached per
setting and run on the executors (see :func:`rmtsynth.engine.loop_sim.run_loop_simulations`);
the table is the same whatever the number of workers.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.generations_config import GenerationsSettings, generations_settings
from rmtsynth.config.resolve import ResolvedPoint
from rmtsynth.core import loop as loop_theory
from rmtsynth.core.verifiers.rates import min_precision
from rmtsynth.engine.loop_sim import LoopRequest, run_loop_simulations, summarise
from rmtsynth.engine.sweep import SweepOptions, SweepResult

CURVE_COLUMNS = [
    "figure", "panel", "series", "generation", "regime", "labels", "generator_covariance",
    "n", "m", "p", "mu_norm", "label_noise", "rho", "phi", "verifier_precision", "verifier_recall", "gamma",
    "method", "status", "theory_accuracy", "theory_beta", "theory_tau2", "theory_flip_rate",
    "theory_accuracy_real_only", "one_generation_accuracy", "flip_model_accuracy", "flip_model_flip_rate",
    "flip_model_beta", "fixed_point_beta", "fixed_point_tau2", "fixed_point_accuracy",
    "sim_accuracy_mean", "sim_accuracy_se", "sim_beta_mean", "sim_beta_se", "sim_tau2_mean", "sim_tau2_se",
    "sim_flip_rate_mean", "sim_flip_rate_se", "sim_seeds",
]
STABILITY_COLUMNS = [
    "figure", "panel", "series", "generation", "x", "y", "valid", "n", "m", "p", "mu_norm", "label_noise", "rho", "phi",
    "verifier_precision", "verifier_recall", "synthetic_proportion", "gamma", "theory_accuracy",
    "theory_accuracy_real_only", "gain", "min_verifier_precision",
]
SIM_KEYS = ("accuracy", "beta", "tau2", "flip_rate")


def settings(cfg: FigureConfig) -> GenerationsSettings:
    """A generations config's checked settings, its series resolved as loop points."""
    return generations_settings(cfg)


def check_generations(cfg: FigureConfig) -> int:
    """Every check that needs no computing; returns the number of rows of the table."""
    s = settings(cfg)
    if s.figure == "stability":
        return len(s.regimes) * s.grid_points * s.grid_points
    return len(s.regimes) * len(s.series) * (s.generations + 1)


def _finite(value: Any) -> Any:
    """A float for the table, None where the quantity is undefined (nan)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def run_generations_figure(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """The table of one generations figure: one row per (regime, series, generation), or per grid cell."""
    s = settings(cfg)
    if s.figure == "stability":
        return _compute_stability(cfg, s)
    return _compute_curves(cfg, s, options)


def _compute_curves(cfg: FigureConfig, s: GenerationsSettings, options: SweepOptions) -> SweepResult:
    t0 = time.perf_counter()
    K = s.generations
    cells = [(regime, label, point, simulate) for regime in s.regimes for label, point, simulate in s.series]
    theory = []
    for regime, label, point, _ in cells:
        loop = s.loop(regime)
        res = loop_theory.theory_of_loop(point.mix, point.model, loop)
        extra: dict[str, np.ndarray] = {}
        if s.figure == "accuracy" and s.one_generation and s.labels == "noisy" and s.generator_covariance == "identity":
            extra["one_generation_accuracy"] = loop_theory.one_generation_theory(point.mix, point.model, loop)["accuracy"]
        if s.figure == "pseudo_labels":
            flips = loop_theory.independent_flip_loop(n=point.n, m=point.m, p=point.p, mu_norm=point.mu_norm, rho=point.rho,
                                          phi=point.phi, gamma=point.gamma, generations=K, regime=regime)
            extra["flip_model_accuracy"] = flips["accuracy"]
            extra["flip_model_flip_rate"] = flips["flip_rate"]
            extra["flip_model_beta"] = flips["beta"]
        if s.figure == "generator" and regime == "replace" and s.labels == "noisy":
            fixed = loop_theory.replace_fixed_point(point.n, point.m, point.p, point.label_noise, point.rho, point.phi)
            extra["fixed_point_beta"] = np.full(K + 1, float(fixed["beta"]))
            extra["fixed_point_tau2"] = np.full(K + 1, float(fixed["tau2"]))
            if s.generator_covariance == "identity":
                accuracy = loop_theory.replace_step_accuracy(
                    point.n, point.m, point.p, point.mu_norm, point.label_noise, point.rho, point.phi, point.gamma,
                    fixed["beta"], fixed["spurious_energy"])
                extra["fixed_point_accuracy"] = np.full(K + 1, float(accuracy))
        theory.append((res, extra))
    real_only = [float(loop_theory.real_only_accuracy(pt.n, pt.p, pt.mu_norm, pt.gamma)) for _, _, pt, _ in cells]
    t1 = time.perf_counter()

    do_sim = cfg.simulation.enabled and options.simulate
    replicates = int(options.seeds or cfg.simulation.seeds)
    sim_cells = [i for i, cell in enumerate(cells) if do_sim and cell[3]]
    requests = [LoopRequest(cells[i][2], s.loop(cells[i][0])) for i in sim_cells]
    where = [f"At regime {cells[i][0]}" + (f", series '{cells[i][1]}'" if cells[i][1] else "") for i in sim_cells]
    sims, sim_info = ([], {}) if not requests else run_loop_simulations(
        requests, root_seed=cfg.seed, replicates=replicates, options=options, labels=where)
    summary = {i: summarise(r) for i, r in zip(sim_cells, sims)}
    t2 = time.perf_counter()

    rows = []
    for i, (regime, label, point, _) in enumerate(cells):
        res, extra = theory[i]
        sim = summary.get(i)
        for k in range(K + 1):
            row: dict[str, Any] = {
                "figure": cfg.name, "panel": regime, "series": label, "generation": k, "regime": regime,
                "labels": s.labels, "generator_covariance": s.generator_covariance,
                "n": point.n, "m": point.m, "p": point.p, "mu_norm": point.mu_norm,
                "label_noise": point.label_noise if s.labels == "noisy" else None, "rho": point.rho, "phi": point.phi,
                "verifier_precision": point.verifier_precision if s.labels == "noisy" else None,
                "verifier_recall": point.verifier_recall, "gamma": point.gamma,
                "method": res.method, "status": str(res.status[k]),
                "theory_accuracy": _finite(res.accuracy[k]), "theory_beta": _finite(res.beta[k]),
                "theory_tau2": _finite(res.tau2[k]), "theory_flip_rate": _finite(res.flip_rate[k]),
                "theory_accuracy_real_only": real_only[i],
            }
            for key in ("one_generation_accuracy", "flip_model_accuracy", "flip_model_flip_rate", "flip_model_beta",
                        "fixed_point_beta", "fixed_point_tau2", "fixed_point_accuracy"):
                row[key] = _finite(extra[key][k]) if key in extra else None
            for key in SIM_KEYS:
                row[f"sim_{key}_mean"] = _finite(sim[f"{key}_mean"][k]) if sim is not None else None
                row[f"sim_{key}_se"] = _finite(sim[f"{key}_se"][k]) if sim is not None else None
            row["sim_seeds"] = int(sim["seeds"]) if sim is not None else None
            rows.append(row)
    info = {
        "points": len(rows),
        "figure": s.figure,
        "theory_seconds": round(t1 - t0, 3),
        "simulation_seconds": round(t2 - t1, 3),
        "replicates": replicates if requests else 0,
        **sim_info,
    }
    return SweepResult(config=cfg, columns=list(CURVE_COLUMNS), rows=rows, info=info)


def stability_grid(point: ResolvedPoint, s: GenerationsSettings, regime: str) -> dict[str, np.ndarray]:
    """Accuracy at the end of the loop on the (proportion, precision) grid, at the point's recall.

    Returns arrays of shape (proportions, precisions): ``accuracy`` (nan where no verifier has
    that precision), ``m``, ``rho``, ``phi``, plus ``precision``, ``proportion``, the real-only
    accuracy and ``min_precision`` (the break-even precision per proportion).
    """
    precision = np.linspace(*s.precision_range, s.grid_points)
    proportion = np.linspace(*s.proportion_range, s.grid_points)
    eps, recall, n = point.label_noise, point.verifier_recall, point.n
    P, S = np.meshgrid(precision, proportion)
    m = S * n / (1.0 - S)
    valid = P >= min_precision(eps, recall) - 1e-12
    safe_P = np.where(valid, P, 1.0)
    rho = recall * (1.0 - eps) * (1.0 - safe_P) / (safe_P * eps)
    rho = np.clip(rho, 0.0, 1.0)
    phi = np.full_like(rho, recall)
    common = (n, m, point.p, point.mu_norm, eps, rho, phi, point.gamma)
    if regime == "replace" and s.limit:
        fixed = loop_theory.replace_fixed_point(n, m, point.p, eps, rho, phi)
        accuracy = loop_theory.replace_step_accuracy(*common, fixed["beta"], fixed["spurious_energy"])
        end = None
    else:
        accuracy = loop_theory.gram_reduction(*common, generations=s.generations, regime=regime)["accuracy"][..., -1]
        end = s.generations
    accuracy = np.where(valid, accuracy, np.nan)
    base = float(loop_theory.real_only_accuracy(n, point.p, point.mu_norm, point.gamma))
    threshold = loop_theory.min_precision_for_loop(
        n=n, m=proportion * n / (1.0 - proportion), p=point.p, mu_norm=point.mu_norm, label_noise=eps,
        gamma=point.gamma, recall=recall, generations=end, regime=regime, iterations=40)
    return {"accuracy": accuracy, "m": m, "rho": rho, "phi": phi, "valid": valid, "precision": precision,
            "proportion": proportion, "real_only": base, "min_precision": threshold, "end": end}


def _compute_stability(cfg: FigureConfig, s: GenerationsSettings) -> SweepResult:
    t0 = time.perf_counter()
    point = s.series[0][1]
    rows = []
    for regime in s.regimes:
        grid = stability_grid(point, s, regime)
        generation = "limit" if grid["end"] is None else grid["end"]
        for i, proportion in enumerate(grid["proportion"]):
            for j, precision in enumerate(grid["precision"]):
                acc = grid["accuracy"][i, j]
                valid = bool(grid["valid"][i, j])
                rows.append({
                    "figure": cfg.name, "panel": regime, "series": "", "generation": generation,
                    "x": float(precision), "y": float(proportion), "valid": valid,
                    "n": point.n, "m": float(grid["m"][i, j]), "p": point.p, "mu_norm": point.mu_norm,
                    "label_noise": point.label_noise, "rho": float(grid["rho"][i, j]) if valid else None,
                    "phi": float(grid["phi"][i, j]), "verifier_precision": float(precision),
                    "verifier_recall": point.verifier_recall, "synthetic_proportion": float(proportion),
                    "gamma": point.gamma, "theory_accuracy": _finite(acc),
                    "theory_accuracy_real_only": grid["real_only"],
                    "gain": _finite(acc - grid["real_only"]) if valid else None,
                    "min_verifier_precision": _finite(grid["min_precision"][i]),
                })
    info = {"points": len(rows), "figure": s.figure, "theory_seconds": round(time.perf_counter() - t0, 3)}
    return SweepResult(config=cfg, columns=list(STABILITY_COLUMNS), rows=rows, info=info)
