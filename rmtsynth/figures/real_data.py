"""Figure 6: accuracy on real data mixed with verified synthetic data (FIGURES.md 6, THEORY.md
11.4), and the checks of both real-data kinds.

The data set comes from the config's ``data`` key (:mod:`rmtsynth.config.data`); for
``real_data`` it may be a list of entries, each with a ``title``: one panel per data set.

The real-data figure runs :mod:`rmtsynth.data.protocols` seed by seed: each seed of a group of
points that share a split is one task on the chosen executor (the local process pool or a Dask
cluster). Every (data set, protocol, parameters) point is cached as an array over seeds, keyed by
a hash of the loaded data rather than its path, so that re-runs compute nothing and a moved or
renamed file still hits. Seed k of a point is the same number whatever the other points, seeds,
workers or executor, so the table is byte-identical across re-runs, ``--workers`` and ``--executor``.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rmtsynth.core.learners import DEFAULT_LEARNER, get_learner
from rmtsynth.core.verifiers import LABEL_PROTOCOLS
from rmtsynth.engine.cache import PointCache, content_key
from rmtsynth.config.figure_config import FigureConfig, real_data_settings
from rmtsynth.errors import ConfigError
from rmtsynth.config.data import DataSpec, LoadedData, check_data, check_files, load_data
from rmtsynth.config.resolve import resolve_point
from rmtsynth.engine.sweep import SweepOptions, SweepResult, mean_and_se
from rmtsynth.engine.tasks import run_on_executor

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Bump when the experiment's numbers change for the same inputs, so stale entries are not read.
_CACHE_TAG = "real_data/1"

FITTED_THEORY_KEY = "fitted_gaussian_theory"

REAL_COLUMNS = [
    "figure", "panel", "data", "series", "protocol", "x", "n", "m", "p", "label_noise", "rho", "phi",
    "verifier_precision", "verifier_recall", "gamma", "synthetic_proportion",
    "sim_accuracy_mean", "sim_accuracy_se", "sim_seeds",
    "sim_real_only_accuracy_mean", "sim_real_only_accuracy_se",
]
THEORY_COLUMN = "theory_fitted_gaussian_accuracy"

PROTOCOL_STYLE = {
    "held-out": {"ls": "-", "marker": "o", "mfc": None, "label": "held-out protocol (honest)"},
    "paper": {"ls": "--", "marker": "s", "mfc": "white", "label": "paper's protocol (test set leaked)"},
}


# --------------------------------------------------------------------------------------------
# Figure 6: accuracy on real data against the proportion of synthetic data
# --------------------------------------------------------------------------------------------


@dataclass
class _Cell:
    panel: int
    series: int
    protocol: str
    x: Any
    point: Any  # ResolvedPoint


def check_config(cfg: FigureConfig) -> list[DataSpec]:
    """Check a generator_samples or real_data config without loading data or computing.

    Raises ConfigError naming the key for a bad data entry, a feature file that does not exist,
    or (real_data) a parameter, protocol or option the figure does not take.
    """
    if cfg.kind == "real_data":
        return check_files(real_data_settings(cfg).data)
    return check_data(cfg)


def _cache_key(kind: str, data: LoadedData, protocol: str, pt: Any, root_seed: int, *, m: int | None = None,
               verifier: bool = True, convention: str | None = None) -> str:
    record: dict[str, Any] = {
        "kind": kind,
        "data": data.digest,
        "standardize": data.spec.standardize,
        "protocol": protocol,
        "n": pt.n,
        "gamma": pt.gamma,
        "seed": root_seed,
    }
    if m is not None:
        record["m"] = m
        record["label_noise"] = pt.label_noise
    if verifier:
        record["rho"] = pt.rho
        record["phi"] = pt.phi
    if convention is not None:
        record["convention"] = convention
    if pt.learner != DEFAULT_LEARNER:
        record["learner"] = pt.learner
    return content_key(_CACHE_TAG, record)


def run_real_data_figure(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """Accuracy of ridge on n real rows plus m verified synthetic samples, per data set, verifier and protocol."""
    t0 = time.perf_counter()
    assert cfg.x is not None
    settings = real_data_settings(cfg)
    specs = check_files(settings.data)
    theory_on = settings.fitted_gaussian_theory
    simulate = cfg.simulation.enabled and options.simulate
    if not simulate and not theory_on:
        raise ConfigError(
            f"kind real_data has nothing to compute without the simulation; drop --no-sim or set {FITTED_THEORY_KEY}: true."
        )
    seeds = int(options.seeds or cfg.simulation.seeds)
    datasets = [load_data(s) for s in specs]
    cells = _cells(cfg, settings.panels, datasets, settings.protocols)
    groups = _groups(cfg, settings.panels, datasets, cells, simulate, theory_on)
    values, stats = _group_values(cfg, options, datasets, groups, seeds)
    rows = [_cell_row(cfg, settings.panels, datasets, cell, values, simulate, theory_on) for cell in cells]
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
            {"title": settings.panels[i][0] if len(specs) > 1 else "", "description": d.description, "sha256": d.digest,
             "rows": d.rows, "p": d.p, "standardize": d.spec.standardize}
            for i, d in enumerate(datasets)
        ],
        FITTED_THEORY_KEY: theory_on,
        "seconds": time.perf_counter() - t0,
        **stats,
    }
    return SweepResult(config=cfg, columns=columns, rows=rows, info=info)


def _cells(cfg: FigureConfig, panels: list[tuple], datasets: list[LoadedData], protocols: list[str]) -> list[_Cell]:
    """Every (panel, series, x, protocol) of the figure, resolved and checked against its data set."""
    assert cfg.x is not None
    cells: list[_Cell] = []
    for ip, (title, pparams, di) in enumerate(panels):
        data = datasets[di]
        for iseries, series in enumerate(cfg.series):
            for xv in cfg.x.values:
                merged = dict(cfg.params)
                merged.update(pparams)
                merged.update(series.params)
                merged[cfg.x.param] = xv
                where = _where(title, series.label, cfg.x.param, xv)
                if "p" in merged and merged["p"] != data.p:
                    raise ConfigError(f"{where}: p = {merged['p']}, but {data.description} has {data.p} features; drop p or match it.")
                merged["p"] = data.p
                if merged.get("label_noise") == "auto":
                    raise ConfigError(f"{where}: label_noise = auto is not available for kind real_data; give a number.")
                point = resolve_point(merged, cfg.base_dir, where, seed=cfg.seed)
                refusal = point.verifier.supports(LABEL_PROTOCOLS)
                if refusal is not None:
                    raise ConfigError(f"{where}: {refusal}")
                for protocol in protocols:
                    top = data.rows - 1 if protocol == "held-out" else data.rows
                    if not 2 <= point.n <= top:
                        raise ConfigError(
                            f"{where}: n = {point.n} must be between 2 and {top} for the {protocol} protocol on "
                            f"{data.description}, which has {data.rows} rows."
                        )
                    cells.append(_Cell(ip, iseries, protocol, xv, point))
    return cells


@dataclass
class _Group:
    """One (data set, protocol, n, gamma, label noise): its seeds share the split, the fit and the
    synthetic draws, and all its verifiers are run together (common random numbers)."""

    data_index: int
    protocol: str
    n: int
    gamma: float
    label_noise: float
    rates: list[tuple[float, float]]
    # Each cache entry of the group: (sim or theory, m, verifier's rates; None for the real rows alone).
    wanted: dict[str, tuple[str, int, tuple[float, float] | None]]
    have: dict[str, np.ndarray] = field(default_factory=dict)  # values over seeds 0..len-1, per entry
    learner: str = DEFAULT_LEARNER


def _groups(cfg: FigureConfig, panels: list[tuple], datasets: list[LoadedData], cells: list[_Cell], simulate: bool,
            theory_on: bool) -> list[_Group]:
    """The cells grouped by what their seeds share, with the cache entries each group fills."""
    members_of: dict[tuple, list[_Cell]] = {}
    for cell in cells:
        pt = cell.point
        members_of.setdefault((panels[cell.panel][2], cell.protocol, pt.n, pt.gamma, pt.label_noise, pt.learner),
                              []).append(cell)
    groups = []
    for (di, protocol, n, gamma, eps, learner), members in members_of.items():
        data = datasets[di]
        first = members[0].point
        wanted: dict[str, tuple[str, int, tuple[float, float] | None]] = {}
        if simulate:
            wanted[_cache_key("real_only", data, protocol, first, cfg.seed, verifier=False)] = ("sim", 0, None)
            for c in members:
                key = _cache_key("accuracy", data, protocol, c.point, cfg.seed, m=c.point.m)
                wanted[key] = ("sim", c.point.m, (c.point.rho, c.point.phi))
        if theory_on:
            for c in members:
                key = _cache_key("fitted_theory", data, protocol, c.point, cfg.seed, m=c.point.m,
                                 convention=cfg.theory.convention)
                wanted[key] = ("theory", c.point.m, (c.point.rho, c.point.phi))
        rates = list(dict.fromkeys((c.point.rho, c.point.phi) for c in members))
        groups.append(_Group(di, protocol, n, gamma, eps, rates, wanted, learner=learner))
    return groups


@dataclass(frozen=True)
class _SeedWork:
    """What one seed of a group computes: the entries it extends, the m of each simulated one, the theory's."""

    missing: list[str]
    sim_m: list[int]
    theory_keys: list[str]


def _seed_work(group: _Group, k: int) -> _SeedWork | None:
    # Every entry holds seeds 0..len-1, so at seed k the entries shorter than k + 1 are exactly
    # those that lack it.
    missing = [key for key in group.wanted if group.have[key].shape[0] <= k]
    if not missing:
        return None
    sim_m = sorted({group.wanted[key][1] for key in missing if group.wanted[key][0] == "sim"})
    theory_keys = [key for key in missing if group.wanted[key][0] == "theory"]
    return _SeedWork(missing, sim_m, theory_keys)


def _seed_task(context: list[tuple[np.ndarray, np.ndarray]], task: dict[str, Any]) -> dict[str, Any]:
    """One seed of one group (runs in a worker): the accuracies at ``sim_m`` and the theory's values.

    ``context`` holds every data set's rows, shared by all tasks.
    """
    from rmtsynth.data.protocols import prepare_seed, seed_accuracies

    X, y = context[task["data"]]
    n, k, eps, gamma = task["n"], task["seed_index"], task["label_noise"], task["gamma"]
    prepared = prepare_seed(X, y, n=n, protocol=task["protocol"], root_seed=task["root_seed"], seed_index=k,
                            standardize=task["standardize"])
    accuracy = None
    if task["sim_m"]:
        accuracy = seed_accuracies(prepared, n=n, m_values=task["sim_m"], label_noise=eps, verifiers=task["rates"],
                                   gamma=gamma, root_seed=task["root_seed"], seed_index=k, learner=task["learner"])
    theory = _fitted_theory_values(prepared, n, task["theory_m"], task["theory_rates"], eps, gamma, task["convention"],
                                   task["learner"])
    return {"accuracy": accuracy, "theory": theory}


def _seed_values(group: _Group, work: _SeedWork, result: dict[str, Any]) -> dict[str, float]:
    """The value of one seed for each entry ``work`` extends."""
    out = {}
    for key in work.missing:
        kind, m, rate = group.wanted[key]
        if kind == "sim":
            out[key] = result["accuracy"][0 if rate is None else group.rates.index(rate), work.sim_m.index(m)]
        else:
            out[key] = result["theory"][work.theory_keys.index(key)]
    return out


def _group_values(cfg: FigureConfig, options: SweepOptions, datasets: list[LoadedData], groups: list[_Group],
                  seeds: int) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Every cache entry's values over ``seeds`` seeds: read from the cache, the missing seeds run as tasks."""
    cache = PointCache(options.cache_dir)
    for group in groups:
        for key in group.wanted:
            cached = cache.load(key)
            group.have[key] = cached["values"] if cached is not None else np.empty(0)
    start = [{key: group.have[key].shape[0] for key in group.wanted} for group in groups]
    tasks, owners = [], []
    for g, group in enumerate(groups):
        for k in range(seeds):
            work = _seed_work(group, k)
            if work is not None:
                tasks.append(_task_of(cfg, datasets, group, work, k))
                owners.append((g, k, work))
    left = {g: sum(1 for o in owners if o[0] == g) for g in range(len(groups))}
    finished: dict[int, list[tuple[int, dict[str, float]]]] = {}

    def on_result(i: int, result: dict[str, Any]) -> None:
        g, k, work = owners[i]
        finished.setdefault(g, []).append((k, _seed_values(groups[g], work, result)))
        left[g] -= 1
        if left[g] == 0:
            _extend_group(groups[g], finished.pop(g), start[g], cache)

    def describe(i: int) -> str:
        group, k = groups[owners[i][0]], owners[i][1]
        return (f"At {datasets[group.data_index].description}, the {group.protocol} protocol, n = {group.n}, "
                f"gamma = {group.gamma:g}, label_noise = {group.label_noise:g}, seed {k}")

    run_on_executor(_seed_task, tasks, options, describe=describe, on_result=on_result, desc="seeds",
                    context=[(d.X, d.y) for d in datasets])
    values: dict[str, np.ndarray] = {}
    stats = {"cached_points": 0, "computed_points": 0, "seed_runs": len(tasks)}
    for g, group in enumerate(groups):
        for key in group.wanted:
            stats["computed_points" if group.have[key].shape[0] > start[g][key] else "cached_points"] += 1
            values[key] = group.have[key][:seeds]
    return values, stats


def _task_of(cfg: FigureConfig, datasets: list[LoadedData], group: _Group, work: _SeedWork, k: int) -> dict[str, Any]:
    return {
        "data": group.data_index, "n": group.n, "protocol": group.protocol, "root_seed": cfg.seed, "seed_index": k,
        "standardize": datasets[group.data_index].spec.standardize, "sim_m": work.sim_m,
        "label_noise": group.label_noise, "rates": group.rates, "gamma": group.gamma,
        "theory_m": [group.wanted[key][1] for key in work.theory_keys],
        "theory_rates": [group.wanted[key][2] for key in work.theory_keys], "convention": cfg.theory.convention,
        "learner": group.learner,
    }


def _extend_group(group: _Group, seed_values: list[tuple[int, dict[str, float]]], start: dict[str, int],
                  cache: PointCache) -> None:
    """Append the new seeds' values, in seed order, and store every entry that grew."""
    for _, new in sorted(seed_values, key=lambda item: item[0]):
        for key, value in new.items():
            group.have[key] = np.append(group.have[key], value)
    for key in group.wanted:
        if group.have[key].shape[0] > start[key]:
            cache.store(key, {"values": group.have[key]})


def _cell_row(cfg: FigureConfig, panels: list[tuple], datasets: list[LoadedData], cell: _Cell,
              values: dict[str, np.ndarray], simulate: bool, theory_on: bool) -> dict[str, Any]:
    """The table's row of one cell."""
    pt = cell.point
    title, _, di = panels[cell.panel]
    data = datasets[di]
    row: dict[str, Any] = {
        "figure": cfg.name,
        "panel": title or data.description,
        "data": data.description,
        "series": cfg.series[cell.series].label,
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
    if simulate:
        acc = values[_cache_key("accuracy", data, cell.protocol, pt, cfg.seed, m=pt.m)]
        real = values[_cache_key("real_only", data, cell.protocol, pt, cfg.seed, verifier=False)]
        row.update(_summary("sim_accuracy", acc))
        row["sim_seeds"] = int(acc.size)
        row.update(_summary("sim_real_only_accuracy", real))
    if theory_on:
        key = _cache_key("fitted_theory", data, cell.protocol, pt, cfg.seed, m=pt.m, convention=cfg.theory.convention)
        row[THEORY_COLUMN] = float(np.mean(values[key]))
    return row


def _where(panel: str, series: str, param: str, xv: Any) -> str:
    parts = []
    if panel:
        parts.append(f"panel '{panel}'")
    if series:
        parts.append(f"series '{series}'")
    parts.append(f"{param} = {xv:g}" if isinstance(xv, float) else f"{param} = {xv}")
    return "At " + ", ".join(parts)


def _summary(prefix: str, values: np.ndarray) -> dict[str, float]:
    mean, se = mean_and_se(values)
    return {f"{prefix}_mean": mean, f"{prefix}_se": se}


def _fitted_theory_values(prepared: Any, n: int, m_values: list[int], rates: list[Any], eps: float, gamma: float,
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


def plot_real_data(cfg: FigureConfig, rows: list[dict[str, Any]]) -> Figure:
    """One panel per data set: verifiers by colour, protocols by line style, real data alone as grey lines."""
    from rmtsynth.figures.style import new_figure
    from rmtsynth.figures.style import style as figure_style

    panels = list(dict.fromkeys(r["panel"] for r in rows))
    series = list(dict.fromkeys(r["series"] for r in rows))
    protocols = list(dict.fromkeys(r["protocol"] for r in rows))
    has_sim = rows[0].get("sim_accuracy_mean") is not None
    has_theory = THEORY_COLUMN in rows[0]
    # The theory is drawn for one protocol only (the table has both): that of the Gaussian fitted
    # to the training split when held-out is run, so that the two fits do not crowd the panel.
    theory_protocol = "held-out" if "held-out" in protocols else protocols[0]
    layout = cfg.plot.get("layout")
    ncols = len(panels) if not layout else int(layout[1])
    nrows = 1 if not layout else int(layout[0])
    sharey = bool(cfg.plot.get("sharey", True))
    with figure_style():
        # A single panel is widened so that the legend below it fits.
        fig = new_figure(figsize=(max(4.4 * ncols, 7.0), 3.6 * nrows + 0.9), layout="constrained")
        axes = fig.subplots(nrows, ncols, sharey=sharey, squeeze=False)
        flat = axes.ravel()
        for ip, panel in enumerate(panels):
            ax = flat[ip]
            for protocol in protocols:
                _draw_protocol(ax, [r for r in rows if r["panel"] == panel and r["protocol"] == protocol], series,
                               protocol, has_sim, has_theory and protocol == theory_protocol)
            _label_panel(ax, cfg, panel, len(panels), ylabel=ip % ncols == 0 or not sharey)
        for extra in flat[len(panels):]:
            extra.set_visible(False)
        legend = _real_data_legend(fig, series, protocols, has_sim, has_theory)
        if cfg.title:
            fig.suptitle(cfg.title)
        caption = _real_data_caption(rows, protocols, has_sim, has_theory and theory_protocol)
        if cfg.plot.get("caption"):
            caption += " " + str(cfg.plot["caption"])
        _freeze_outside_legend(fig, legend)
        fig.text(0.01, -0.005, textwrap.fill(caption, width=int(fig.get_figwidth() * 15.5)), fontsize=8.5,
                 ha="left", va="top")
    return fig


def _draw_protocol(ax: Any, sel_protocol: list[dict[str, Any]], series: list[str], protocol: str, has_sim: bool,
                   draw_theory: bool) -> None:
    """One protocol's lines in one panel: the real data alone, then each verifier (and its theory)."""
    from rmtsynth.figures.style import COLORS

    style = PROTOCOL_STYLE[protocol]
    if has_sim:
        reals = sorted({(r["sim_real_only_accuracy_mean"], r["sim_real_only_accuracy_se"]) for r in sel_protocol})
        for mean, se in reals:
            ax.axhspan(mean - se, mean + se, color="0.5", alpha=0.12, lw=0, zorder=0)
            ax.axhline(mean, color="0.4", lw=1.1, ls=style["ls"], zorder=1)
    for iseries, name in enumerate(series):
        color = COLORS[iseries % len(COLORS)]
        sel = sorted((r for r in sel_protocol if r["series"] == name), key=lambda r: float(r["x"]))
        xs = [float(r["x"]) for r in sel]
        if has_sim:
            ax.errorbar(
                xs, [r["sim_accuracy_mean"] for r in sel], yerr=[r["sim_accuracy_se"] for r in sel],
                color=color, ls=style["ls"], lw=1.5, marker=style["marker"], ms=4.5,
                mfc=style["mfc"] or color, mec=color, elinewidth=1.0, capsize=2.5, zorder=3,
            )
        if draw_theory:
            ax.plot(xs, [r[THEORY_COLUMN] for r in sel], color=color, ls=":", lw=1.6, zorder=2)


def _label_panel(ax: Any, cfg: FigureConfig, panel: str, panel_count: int, *, ylabel: bool) -> None:
    assert cfg.x is not None
    ax.set_xscale(cfg.x.scale)
    label = cfg.x.label if cfg.x.label != cfg.x.param else "proportion of synthetic data $m/(n+m)$"
    ax.set_xlabel(label)
    if ylabel:
        ax.set_ylabel(cfg.plot.get("ylabel") or "test accuracy")
    if panel and (panel_count > 1 or panel not in cfg.title):
        ax.set_title(panel)
    if cfg.plot.get("xlim"):
        ax.set_xlim(*cfg.plot["xlim"])
    if cfg.plot.get("ylim"):
        ax.set_ylim(*cfg.plot["ylim"])


def _real_data_legend(fig: Any, series: list[str], protocols: list[str], has_sim: bool, has_theory: bool) -> Any:
    """The legend below the panels, in three columns: verifiers (colour), protocols (line style), reference lines."""
    from matplotlib.lines import Line2D

    from rmtsynth.figures.style import COLORS

    blank = Line2D([], [], color="none")
    columns: list[list[tuple[Any, str]]] = [
        [(Line2D([], [], color=COLORS[i % len(COLORS)], lw=2.2), name) for i, name in enumerate(series)],
        [],
        [],
    ]
    for protocol in protocols:
        style = PROTOCOL_STYLE[protocol]
        handle = Line2D([], [], color="0.2", ls=style["ls"], lw=1.5, marker=style["marker"], ms=4.5,
                        mfc=style["mfc"] or "0.2", mec="0.2")
        columns[1].append((handle, style["label"]))
    if has_sim:
        columns[2].append((Line2D([], [], color="0.4", lw=1.1), "real data only ($m = 0$), ±1 SE"))
    if has_theory:
        columns[2].append((Line2D([], [], color="0.2", ls=":", lw=1.6),
                           "theory on the fitted Gaussian\n(not a held-out prediction)"))
    columns = [c for c in columns if c]
    depth = max(len(c) for c in columns)
    entries = [e for c in columns for e in c + [(blank, "")] * (depth - len(c))]
    return fig.legend([e[0] for e in entries], [e[1] for e in entries], loc="outside lower center",
                      ncols=len(columns), frameon=False, columnspacing=2.0)


def _freeze_outside_legend(fig: Any, legend: Any) -> None:
    """Fix the layout, and the legend where the layout put it, before a caption goes below the figure.

    An "outside" legend is anchored to the figure's box, which a tight bounding box enlarges when
    it takes in the caption, so the legend would slide down onto the caption when saved.
    """
    fig.canvas.draw()
    box = legend.get_window_extent().transformed(fig.transFigure.inverted())
    fig.set_layout_engine("none")
    legend.set_loc("lower center")
    legend.set_bbox_to_anchor((0.5, box.y0), transform=fig.transFigure)


def _real_data_caption(rows: list[dict[str, Any]], protocols: list[str], has_sim: bool, theory: str | bool) -> str:
    def values(key: str) -> str:
        found = list(dict.fromkeys(r[key] for r in rows))
        return ", ".join(f"{v:g}" for v in found)

    parts = []
    if "held-out" in protocols:
        parts.append(
            ("Solid: " if len(protocols) > 1 else "")
            + "held-out protocol, the honest estimate: the generator is fitted on the n training rows "
            "and accuracy is measured on the other rows."
        )
    if "paper" in protocols:
        parts.append(
            ("Dashed: " if len(protocols) > 1 else "")
            + "the paper's protocol, which reproduces its published curves: the generator's class means "
            "come from all rows and accuracy is measured on all rows, training rows included."
        )
    if has_sim:
        seeds = values("sim_seeds")
        parts.append(f"Error bars: ±1 SE over {seeds} seeds (splits).")
    if theory:
        fitted = "the training split" if theory == "held-out" else "the paper's protocol's generator"
        parts.append(
            f"Dotted: the random-matrix theory evaluated on the Gaussian fitted to {fitted} (class means, "
            "covariance): the accuracy on that Gaussian, not a prediction of held-out accuracy."
        )
    parts.append(
        f"n = {values('n')}, p = {values('p')}, $\\gamma$ = {values('gamma')}, "
        f"$\\varepsilon$ = {values('label_noise')}."
    )
    return " ".join(parts)


def check(cfg: FigureConfig) -> None:
    check_config(cfg)


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    return run_real_data_figure(cfg, options)


def draw(cfg: FigureConfig, result: SweepResult) -> Figure:
    return plot_real_data(cfg, result.rows)
