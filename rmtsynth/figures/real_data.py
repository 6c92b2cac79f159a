"""Figure 6: accuracy on real data mixed with verified synthetic data (FIGURES.md 6, THEORY.md 11.4), the drawing.

The cells are checked in :mod:`rmtsynth.config.real_data_config` and the table is computed in
:mod:`rmtsynth.engine.real_data_figure`; this module draws the table: one panel per data set,
verifiers by colour, protocols by line style, the real rows alone as grey lines.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from rmtsynth.engine.real_data_figure import THEORY_COLUMN

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rmtsynth.config.figure_config import FigureConfig
    from rmtsynth.engine.sweep import SweepOptions, SweepResult

PROTOCOL_STYLE = {
    "held-out": {"ls": "-", "marker": "o", "mfc": None, "label": "held-out protocol (honest)"},
    "paper": {"ls": "--", "marker": "s", "mfc": "white", "label": "paper's protocol (test set leaked)"},
}


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


# --- the figure kind ``real_data`` -----------------------------------------------------------------


def check(cfg: FigureConfig) -> int:
    """Every check that reads no data: the keys, the files, each cell and that there is work to do.

    Returns the number of rows of the table (a row per cell and protocol).
    """
    from rmtsynth.config.real_data_config import check_real_data, real_data_cells

    settings = check_real_data(cfg)
    return len(real_data_cells(cfg, settings)) * len(settings.protocols)


def check_data(cfg: FigureConfig) -> None:
    """The checks against the data sets the config names, run by ``rmtsynth validate``."""
    from rmtsynth.engine.real_data_figure import check_real_data_rows

    check_real_data_rows(cfg)


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    from rmtsynth.engine.real_data_figure import run_real_data_figure

    return run_real_data_figure(cfg, options)


def draw(cfg: FigureConfig, result: SweepResult) -> Figure:
    """One panel per data set, drawn from the table alone."""
    return plot_real_data(cfg, result.rows)
