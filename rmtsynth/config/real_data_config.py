"""A real_data figure config's cells and their cross-key rules (kind ``real_data``).

The keys themselves (``data``, ``protocols``, ``fitted_gaussian_theory``, the parameters the kind
takes) are checked by :func:`~rmtsynth.config.figure_config.real_data_settings` when the config is
read. Here every (panel, series, x) cell is resolved to a point and checked before any work: a
parameter the protocols cannot use, a training size no protocol can split, and a figure with nothing
to compute. The data set's own sizes (its features, its rows) are checked once it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rmtsynth.config.data import check_files
from rmtsynth.config.figure_config import FigureConfig, RealDataSettings, real_data_settings
from rmtsynth.config.resolve import ResolvedPoint, resolve_point
from rmtsynth.core.verifiers import LABEL_PROTOCOLS
from rmtsynth.errors import ConfigError

FITTED_THEORY_KEY = "fitted_gaussian_theory"
# The fewest training rows a protocol splits (one per class).
MIN_TRAINING_ROWS = 2
# The dimension a cell is resolved with before its data set is read (the data set's own replaces it).
_UNREAD_P = 1


@dataclass(frozen=True)
class RealDataCell:
    """One (panel, series, x) of the figure: its merged parameters, the data set it runs on and where it is."""

    panel: int
    series: int
    x: Any
    data_index: int
    params: dict[str, Any]
    where: str


def real_data_cells(cfg: FigureConfig, settings: RealDataSettings) -> list[RealDataCell]:
    """Every (panel, series, x) of the figure with its parameters merged (config, panel, series, x)."""
    assert cfg.x is not None
    cells = []
    for ip, (title, pparams, di) in enumerate(settings.panels):
        for iseries, series in enumerate(cfg.series):
            for xv in cfg.x.values:
                merged = dict(cfg.params)
                merged.update(pparams)
                merged.update(series.params)
                merged[cfg.x.param] = xv
                cells.append(RealDataCell(ip, iseries, xv, di, merged, _where(title, series.label, cfg.x.param, xv)))
    return cells


def resolve_cell(cfg: FigureConfig, cell: RealDataCell, p: int) -> ResolvedPoint:
    """The cell's point on a data set of ``p`` features, refused where the protocols cannot run it."""
    if cell.params.get("label_noise") == "auto":
        raise ConfigError(f"{cell.where}: label_noise = auto is not available for kind real_data; give a number.")
    point = resolve_point({**cell.params, "p": p}, cfg.base_dir, cell.where, seed=cfg.seed)
    refusal = point.verifier.supports(LABEL_PROTOCOLS)
    if refusal is not None:
        raise ConfigError(f"{cell.where}: {refusal}")
    if point.n < MIN_TRAINING_ROWS:
        raise ConfigError(f"{cell.where}: n = {point.n} is not allowed for kind real_data; the protocols need at least "
                          f"{MIN_TRAINING_ROWS} training rows.")
    return point


def check_work(cfg: FigureConfig, settings: RealDataSettings, *, simulate: bool = True) -> None:
    """Refuse a figure with nothing to compute: no simulation (by the config or ``--no-sim``) and no theory."""
    if settings.fitted_gaussian_theory:
        return
    if not cfg.simulation.enabled:
        raise ConfigError(
            f"kind real_data has nothing to compute with simulation.enabled: false; enable the simulation or set "
            f"{FITTED_THEORY_KEY}: true."
        )
    if not simulate:
        raise ConfigError(
            f"kind real_data has nothing to compute without the simulation; drop --no-sim or set {FITTED_THEORY_KEY}: true."
        )


def check_real_data(cfg: FigureConfig) -> RealDataSettings:
    """Every check of a real_data config that reads no data: its keys, its files, each cell, its work."""
    settings = real_data_settings(cfg)
    check_files(settings.data)
    for cell in real_data_cells(cfg, settings):
        resolve_cell(cfg, cell, int(cell.params.get("p", _UNREAD_P)))
    check_work(cfg, settings)
    return settings


def _where(panel: str, series: str, param: str, xv: Any) -> str:
    parts = []
    if panel:
        parts.append(f"panel '{panel}'")
    if series:
        parts.append(f"series '{series}'")
    parts.append(f"{param} = {xv:g}" if isinstance(xv, float) else f"{param} = {xv}")
    return "At " + ", ".join(parts)
