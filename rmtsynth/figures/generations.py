"""Loop figures: a classifier retrained over generations of its own verified synthetic data.

A config of ``kind: generations`` draws one of four figures, chosen by ``generations.figure``
(THEORY.md section 14); the panels are the regimes (``generations.regimes``), the series the
verifiers (the config's ``series``), and the x axis the generation k = 0..K:

* ``accuracy``: accuracy against generation, theory lines (GR/FGR) and whole-loop simulation
  markers (±1 SE), the one-generation formula fed the exact generator dashed (it does not apply
  to a loop), and the real-only accuracy;
* ``generator``: the generator's alignment beta_k and spurious size tau_k^2, with the replace
  loop's closed-form fixed point;
* ``stability``: accuracy after K generations (replace: or the fixed point) over the verifier's
  precision and the synthetic proportion, against real data alone, with the break-even contour
  and the 3/4 line of accumulate (theory only);
* ``pseudo_labels``: pseudo-labels (FGR and simulation) against the model of independent flips,
  accuracy and flip rate.

Simulated settings are cached per setting and run on the executors (see
:func:`rmtsynth.engine.loop_sim.run_loop_simulations`); the table is the same whatever the number
of workers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rmtsynth.core import loop as loop_theory
from rmtsynth.core.loop import LoopSpec
from rmtsynth.core.verifiers.rates import min_precision
from rmtsynth.engine.loop_points import LoopPoint, resolve_loop_point
from rmtsynth.engine.loop_predict import theory_of_point
from rmtsynth.engine.loop_sim import LoopRequest, run_loop_simulations, summarise
from rmtsynth.engine.sweep import SweepOptions, SweepResult
from rmtsynth.errors import ConfigError
from rmtsynth.figures.style import COLORS, colormap, new_figure, style
from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.schema import check_section, section_defaults

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
PLOT_KEYS = ("ylim", "caption")
ACCUMULATE_THRESHOLD = 0.75
QUICK_GRID_POINTS = 9
PANEL_TITLES = {"replace": "replace: real rows + generation k", "accumulate": "accumulate: real rows + generations 1..k"}


@dataclass(frozen=True)
class GenerationsSettings:
    """A generations config's checked settings (defaults filled in)."""

    figure: str
    generations: int
    regimes: tuple[str, ...]
    labels: str
    generator_covariance: str
    one_generation: bool
    precision_range: tuple[float, float]
    proportion_range: tuple[float, float]
    grid_points: int
    limit: bool
    # (label, point, simulate) per series.
    series: tuple[tuple[str, LoopPoint, bool], ...]


def _regimes(values: dict[str, Any]) -> tuple[str, ...]:
    regimes = tuple(values["regimes"])
    if not regimes:
        raise ConfigError("generations.regimes is empty; give replace and/or accumulate.")
    if len(set(regimes)) != len(regimes):
        raise ConfigError("generations.regimes names a regime twice; give each once.")
    return regimes


def _check_unused_keys(cfg: FigureConfig, figure: str) -> None:
    """The config keys kind generations (or this figure) does not take."""
    if "x" in cfg.raw:
        raise ConfigError("x is not used by kind generations: the x axis is the generation (figure stability: the "
                          "verifier's precision); remove it.")
    if len(cfg.panels) > 1 or cfg.panels[0].label or cfg.panels[0].params:
        raise ConfigError("panels is not used by kind generations: the panels are the regimes; set generations.regimes.")
    for key in cfg.plot:
        if key not in PLOT_KEYS:
            raise ConfigError(f"plot.{key} is not used by kind generations; it takes plot.{', plot.'.join(PLOT_KEYS)}.")
    for key in cfg.simulation.given or ():
        if key not in ("enabled", "seeds"):
            raise ConfigError(f"simulation.{key} is not used by kind generations; it takes simulation.seeds and "
                              "simulation.enabled.")
    given = cfg.extra.get("generations") or {}
    for key, used_by in (("one_generation", ("accuracy",)), ("precision_range", ("stability",)),
                         ("proportion_range", ("stability",)), ("grid_points", ("stability",)),
                         ("limit", ("stability",))):
        if key in given and figure not in used_by:
            raise ConfigError(f"generations.{key} is used by figure {used_by[0]} only, not {figure}; remove it.")


def _check_stability(cfg: FigureConfig, labels: str) -> None:
    """Figure stability maps the noisy-label loop's theory over its own axes."""
    if labels != "noisy":
        raise ConfigError("generations.labels = pseudo is not available for figure stability, which maps the "
                          "noisy-label loop; use noisy.")
    if cfg.simulation.given is not None and cfg.simulation.enabled:
        raise ConfigError("Figure stability is drawn from the theory only; remove simulation (or set "
                          "simulation.enabled: false).")
    if len(cfg.series) > 1 or cfg.series[0].label or cfg.series[0].params:
        raise ConfigError("series is not used by figure stability, whose axes are the verifier's precision and the "
                          "synthetic proportion; remove it.")
    for key in cfg.params:
        if key in ("m", "m_over_n", "synthetic_proportion", "verifier", "rho", "phi", "verifier_precision"):
            raise ConfigError(f"params.{key} is not used by figure stability, whose axes are the verifier's "
                              "precision and the synthetic proportion; remove it.")


def _labels_and_covariance(cfg: FigureConfig, values: dict[str, Any], figure: str) -> tuple[str, str]:
    labels = "pseudo" if figure == "pseudo_labels" else values["labels"]
    covariance = values["generator_covariance"]
    if figure == "pseudo_labels" and "labels" in (cfg.extra.get("generations") or {}) and values["labels"] != "pseudo":
        raise ConfigError("generations.labels = noisy contradicts figure pseudo_labels, which compares pseudo-labels "
                          "with independent flips; remove labels.")
    if covariance == "estimated" and figure in ("stability", "pseudo_labels"):
        raise ConfigError(f"generations.generator_covariance = estimated is not available for figure {figure}: it has "
                          "no theory there (THEORY.md 14.10); use identity.")
    if figure == "stability":
        _check_stability(cfg, labels)
    return labels, covariance


def _series(cfg: FigureConfig, figure: str, labels: str) -> tuple[tuple[str, LoopPoint, bool], ...]:
    """(label, resolved point, simulate) per series of the config."""
    series = []
    for group in cfg.series:
        merged = dict(cfg.params)
        merged.update(group.params)
        where = f"series '{group.label}'" if group.label else "params"
        if figure == "stability":
            # Any valid verifier resolves the sizes; the map sweeps the precision itself.
            merged = {**merged, "m": 1, "verifier_precision": 1.0,
                      "verifier_recall": merged.get("verifier_recall", 1.0)}
            point = resolve_loop_point(merged, where, labels=labels)
            if point.label_noise <= 0.0:
                raise ConfigError("params.label_noise = 0 leaves figure stability nothing to map: every label is correct "
                                  "and the precision is always 1; give label_noise > 0.")
        else:
            point = resolve_loop_point(merged, where, labels=labels)
        series.append((group.label, point, group.simulate))
    labels_seen = [s[0] for s in series]
    duplicate = sorted({x for x in labels_seen if labels_seen.count(x) > 1})
    if duplicate:
        raise ConfigError(f"series has two series labelled '{duplicate[0]}'; each needs its own label.")
    return tuple(series)


def settings(cfg: FigureConfig) -> GenerationsSettings:
    """Check a generations config; raises ConfigError (one sentence naming the key) at the first problem."""
    if cfg.kind != "generations":
        raise ConfigError(f"kind = {cfg.kind} is not generations.")
    if cfg.raw.get("data") is not None:
        raise ConfigError("data is not used by kind generations: the loop runs on the Gaussian model of params "
                          "(n, p, mu_norm, ...); remove data.")
    values = section_defaults("generations")
    values.update(check_section("generations", cfg.extra.get("generations")))
    figure = values["figure"]
    regimes = _regimes(values)
    _check_unused_keys(cfg, figure)
    labels, covariance = _labels_and_covariance(cfg, values, figure)
    series = _series(cfg, figure, labels)
    grid_points = int(values["grid_points"])
    if cfg.quick and figure == "stability":
        quick_points = (cfg.raw.get("quick") or {}).get("x_points", QUICK_GRID_POINTS)
        if isinstance(quick_points, int) and not isinstance(quick_points, bool) and quick_points >= 3:
            grid_points = min(grid_points, quick_points)
    return GenerationsSettings(
        figure=figure,
        generations=int(values["generations"]),
        regimes=regimes,
        labels=labels,
        generator_covariance=covariance,
        one_generation=bool(values["one_generation"]),
        precision_range=tuple(float(v) for v in values["precision_range"]),  # type: ignore[arg-type]
        proportion_range=tuple(float(v) for v in values["proportion_range"]),  # type: ignore[arg-type]
        grid_points=grid_points,
        limit=bool(values["limit"]),
        series=series,
    )


def check(cfg: FigureConfig) -> int:
    """Every check that needs no computing; returns the number of rows of the table."""
    s = settings(cfg)
    if s.figure == "stability":
        return len(s.regimes) * s.grid_points * s.grid_points
    return len(s.regimes) * len(s.series) * (s.generations + 1)


# --------------------------------------------------------------------------------------------
# Computing
# --------------------------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """A float for the table, None where the quantity is undefined (nan)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
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
        res = theory_of_point(point, LoopSpec(K, regime, s.labels, s.generator_covariance))
        extra: dict[str, np.ndarray] = {}
        if s.figure == "accuracy" and s.one_generation and s.labels == "noisy" and s.generator_covariance == "identity":
            extra["one_generation_accuracy"] = loop_theory.one_generation_loop(
                **point.model_args(), generations=K, regime=regime)["accuracy"]
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
    requests = [LoopRequest(cells[i][2], LoopSpec(K, cells[i][0], s.labels, s.generator_covariance)) for i in sim_cells]
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


def stability_grid(point: LoopPoint, s: GenerationsSettings, regime: str) -> dict[str, np.ndarray]:
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


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


def _num(value: Any) -> float:
    return float("nan") if value is None or value == "" else float(value)


def _series_labels(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["series"] for r in rows))


def _panels(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["panel"] for r in rows))


def _select(rows, panel, series):
    sel = [r for r in rows if r["panel"] == panel and r["series"] == series]
    return sorted(sel, key=lambda r: int(r["generation"]))


def _line(ax, sel, key, color, **kwargs) -> bool:
    xs = [int(r["generation"]) for r in sel]
    ys = [_num(r.get(key)) for r in sel]
    if all(math.isnan(y) for y in ys):
        return False
    ax.plot(xs, ys, color=color, **kwargs)
    return True


def _markers(ax, sel, key, color) -> bool:
    sim = [r for r in sel if r.get(f"sim_{key}_mean") is not None]
    if not sim:
        return False
    ax.errorbar([int(r["generation"]) for r in sim], [_num(r[f"sim_{key}_mean"]) for r in sim],
                yerr=[_num(r[f"sim_{key}_se"]) for r in sim], fmt="o", ms=4, mfc="white", mec=color, ecolor=color,
                elinewidth=1.1, capsize=2.5, zorder=3)
    return True


def _generation_axis(ax, rows) -> None:
    K = max(int(r["generation"]) for r in rows)
    ax.set_xlim(-0.3, K + 0.3)
    step = max(1, int(math.ceil((K + 1) / 10)))
    ax.set_xticks(list(range(0, K + 1, step)))


def draw(cfg: FigureConfig, result: SweepResult) -> Figure:
    """The figure, from the table alone."""
    figure = (cfg.extra.get("generations") or {}).get("figure", "accuracy")
    if figure == "stability":
        return _draw_stability(cfg, result.rows)
    return _draw_curves(cfg, result.rows, figure)


# What each row of panels draws: (theory column, simulation key, y label, dashed comparison, its label).
_ROWS_OF_PANELS = {
    "accuracy": [("theory_accuracy", "accuracy", "test accuracy", "one_generation_accuracy",
                  "one-generation formula (does not apply to a loop)")],
    "generator": [("theory_beta", "beta", r"alignment $\beta_k$", "fixed_point_beta", r"replace fixed point $\beta^*$"),
                  ("theory_tau2", "tau2", r"spurious size $\tau_k^2$", "fixed_point_tau2",
                   r"replace fixed point $\tau^{*2}$")],
    "pseudo_labels": [("theory_accuracy", "accuracy", "test accuracy", "flip_model_accuracy",
                       "independent flips (wrong model)"),
                      ("theory_flip_rate", "flip_rate", r"flip rate $\varepsilon_k$", "flip_model_flip_rate",
                       "independent flips (wrong model)")],
}


def _draw_curves(cfg: FigureConfig, rows: list[dict[str, Any]], figure: str) -> Figure:
    panels = _panels(rows)
    series = _series_labels(rows)
    plan = _ROWS_OF_PANELS[figure]
    nrows, ncols = len(plan), len(panels)
    with style():
        fig = new_figure(figsize=(4.6 * ncols, 3.6 * nrows + 0.5), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey="row")
        has = {"sim": False, "dashed": False, "real": False}
        for ic, panel in enumerate(panels):
            for ir, (column, sim_key, ylabel, dashed, _) in enumerate(plan):
                ax = axes[ir, ic]
                for iseries, label in enumerate(series):
                    color = COLORS[iseries % len(COLORS)]
                    sel = _select(rows, panel, label)
                    if not sel:
                        continue
                    _line(ax, sel, column, color, lw=1.8, label=label or None)
                    has["sim"] |= _markers(ax, sel, sim_key, color)
                    if dashed and _line(ax, sel, dashed, color, lw=1.3, ls="--", alpha=0.9):
                        has["dashed"] = True
                if ir == 0 and column == "theory_accuracy" and rows:
                    real = _num(_select(rows, panel, series[0])[0]["theory_accuracy_real_only"])
                    ax.axhline(real, color="0.35", lw=1.0, ls=":")
                    has["real"] = True
                    if cfg.plot.get("ylim"):
                        ax.set_ylim(*cfg.plot["ylim"])
                if ic == 0:
                    ax.set_ylabel(ylabel)
                if ir == 0:
                    ax.set_title(PANEL_TITLES.get(panel, panel))
                if ir == nrows - 1:
                    ax.set_xlabel("generation $k$")
                _generation_axis(ax, rows)
        # One legend below the panels: inside, it would cover the curves of some panel.
        handles, labels = axes[0, 0].get_legend_handles_labels()
        handles.append(Line2D([], [], color="0.3", lw=1.8))
        labels.append({"accuracy": "theory (exact in the limit)", "generator": "theory (recursion)",
                       "pseudo_labels": "theory (FGR)"}[figure])
        if has["sim"]:
            handles.append(Line2D([], [], color="0.3", marker="o", mfc="white", ls="none"))
            labels.append("whole-loop simulation (±1 SE)")
        if has["dashed"]:
            handles.append(Line2D([], [], color="0.3", ls="--"))
            labels.append(plan[0][4] if figure != "generator" else "replace: closed-form fixed point")
        if has["real"]:
            handles.append(Line2D([], [], color="0.35", ls=":"))
            labels.append("real data only")
        fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(handles)), frameon=False, fontsize=9)
        if cfg.title:
            fig.suptitle(cfg.title)
        if cfg.plot.get("caption"):
            fig.text(0.01, -0.02, cfg.plot["caption"], fontsize=8.5, ha="left", va="top", wrap=True)
    return fig


def _draw_stability(cfg: FigureConfig, rows: list[dict[str, Any]]) -> Figure:
    panels = _panels(rows)
    with style():
        fig = new_figure(figsize=(4.8 * len(panels) + 0.8, 4.2), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
        gains = [_num(r["gain"]) for r in rows if r["gain"] is not None]
        span = max([abs(g) for g in gains] + [1e-6])
        mesh = None
        for ip, panel in enumerate(panels):
            ax = axes[ip]
            sel = [r for r in rows if r["panel"] == panel]
            xs = sorted({float(r["x"]) for r in sel})
            ys = sorted({float(r["y"]) for r in sel})
            gain = np.full((len(ys), len(xs)), np.nan)
            xi = {x: j for j, x in enumerate(xs)}
            yi = {y: i for i, y in enumerate(ys)}
            for r in sel:
                gain[yi[float(r["y"])], xi[float(r["x"])]] = _num(r["gain"])
            mesh = ax.pcolormesh(xs, ys, np.ma.masked_invalid(gain), cmap=colormap("RdBu"), vmin=-span, vmax=span,
                                 shading="nearest")
            if np.nanmin(gain) < 0 < np.nanmax(gain):
                ax.contour(xs, ys, np.nan_to_num(gain, nan=-span), levels=[0.0], colors="k", linewidths=1.4)
            if panel == "accumulate" and xs[0] < ACCUMULATE_THRESHOLD < xs[-1]:
                ax.axvline(ACCUMULATE_THRESHOLD, color="0.15", ls="--", lw=1.2)
                ax.annotate("precision 3/4", xy=(ACCUMULATE_THRESHOLD, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(4, -12), textcoords="offset points", fontsize=8.5)
            generation = sel[0]["generation"]
            when = "fixed point" if generation == "limit" else f"generation {generation}"
            ax.set_title(f"{panel}: {when}")
            ax.set_xlabel("verifier precision")
            if ip == 0:
                ax.set_ylabel("synthetic proportion $m/(n+m)$")
        handles = [Line2D([], [], color="k", lw=1.4)]
        labels = ["break-even with real data alone"]
        if "accumulate" in panels:
            handles.append(Line2D([], [], color="0.15", ls="--"))
            labels.append("accumulate stabilises above 3/4")
        axes[0].legend(handles, labels, loc="lower left", frameon=True, fontsize=8.5)
        if mesh is not None:
            fig.colorbar(mesh, ax=list(axes), label="accuracy − real data alone")
        if cfg.title:
            fig.suptitle(cfg.title)
        if cfg.plot.get("caption"):
            fig.text(0.01, -0.02, cfg.plot["caption"], fontsize=8.5, ha="left", va="top", wrap=True)
    return fig
