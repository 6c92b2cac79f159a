"""The ``generations:`` section of a figure config (kind ``generations``) and its cross-key rules.

Every rule is checked here, before any work: the keys the kind (or the chosen figure) does not
take, the labels and generator covariance each figure has a theory for, figure stability's own
axes, the series' labels. The series' points are resolved and checked as a loop's
(:func:`rmtsynth.config.loop_config.resolve_loop_point`): each is a resolved point whose ``mix``
and ``model``, with :meth:`GenerationsSettings.loop` of a panel's regime, are the setting the
theory and the simulation take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.config.loop_config import resolve_loop_point
from rmtsynth.config.resolve import ResolvedPoint
from rmtsynth.config.schema import check_section, section_defaults
from rmtsynth.core.loop import LoopSpec
from rmtsynth.errors import ConfigError

PLOT_KEYS = ("ylim", "caption")
QUICK_GRID_POINTS = 9


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
    series: tuple[tuple[str, ResolvedPoint, bool], ...]

    def loop(self, regime: str) -> LoopSpec:
        """The loop of the panel of this regime."""
        return LoopSpec(generations=self.generations, regime=regime, labels=self.labels,
                        generator_covariance=self.generator_covariance)


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


def _series(cfg: FigureConfig, figure: str, loop: LoopSpec) -> tuple[tuple[str, ResolvedPoint, bool], ...]:
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
            point = resolve_loop_point(merged, loop, where)
            if point.label_noise <= 0.0:
                raise ConfigError("params.label_noise = 0 leaves figure stability nothing to map: every label is correct "
                                  "and the precision is always 1; give label_noise > 0.")
        else:
            point = resolve_loop_point(merged, loop, where)
        series.append((group.label, point, group.simulate))
    labels_seen = [s[0] for s in series]
    duplicate = sorted({x for x in labels_seen if labels_seen.count(x) > 1})
    if duplicate:
        raise ConfigError(f"series has two series labelled '{duplicate[0]}'; each needs its own label.")
    return tuple(series)


def generations_settings(cfg: FigureConfig) -> GenerationsSettings:
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
    # The regime is the panel's; the series' domain does not depend on it.
    loop = LoopSpec(generations=int(values["generations"]), regime=regimes[0], labels=labels,
                    generator_covariance=covariance)
    series = _series(cfg, figure, loop)
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
