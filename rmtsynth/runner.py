"""Running a figure config: check it before any work, compute its table, draw it, write every output."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from rmtsynth.io.atomic import atomic_group, check_dir
from rmtsynth.spec.config import FigureConfig
from rmtsynth.errors import RmtsynthError
from rmtsynth.io.output import manifest, manifest_json, table_csv
from rmtsynth.engine.sweep import SweepOptions, SweepResult, resolve_cells, run_curves

# kind -> (compute, draw)
Compute = Callable[[FigureConfig, SweepOptions], SweepResult]


def _kinds() -> dict[str, tuple[Compute, Callable[..., Any]]]:
    from rmtsynth.figures import heatmap as figures_heatmap
    from rmtsynth.figures import marchenko_pastur as figures_mp
    from rmtsynth.figures import real_data as figures_real
    from rmtsynth.figures import generator_samples as figures_samples
    from rmtsynth.figures import curves as plotting

    return {
        "curves": (run_curves, plotting.plot_curves),
        "heatmap": (figures_heatmap.run_heatmap, figures_heatmap.plot_heatmap),
        "marchenko_pastur": (figures_mp.run_marchenko_pastur, figures_mp.plot_marchenko_pastur),
        "generator_samples": (figures_samples.run_generator_samples, figures_samples.plot_generator_samples),
        "real_data": (figures_real.run_real_data_figure, figures_real.plot_real_data),
    }


def check_out_dir(out_dir: Path) -> Path:
    return check_dir(Path(out_dir), "--out")


def check_config(cfg: FigureConfig) -> int | None:
    """Every check that needs no computing, for any kind; returns the number of points if known.

    Curves and heatmaps resolve every point (so an impossible verifier anywhere is found);
    real-data figures check their data entries and that the files exist.
    """
    from rmtsynth.figures import heatmap as figures_heatmap
    from rmtsynth.figures import marchenko_pastur as figures_mp
    from rmtsynth.figures import real_data as figures_real

    if cfg.kind == "curves":
        return len(resolve_cells(cfg))
    if cfg.kind == "heatmap":
        return len(figures_heatmap.resolve_heatmap(cfg)[1])
    if cfg.kind == "marchenko_pastur":
        figures_mp.mp_settings(cfg)
        return None
    figures_real.check_config(cfg)
    return None


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    kinds = _kinds()
    run, _ = kinds[cfg.kind]
    return run(cfg, options)


def write_outputs(result: SweepResult, out_dir: Path, options: SweepOptions, config_path: Path | None, wall: float) -> list[Path]:
    """Draw the figure and write PDF, PNG, CSV and the manifest, each atomically."""
    from rmtsynth.figures.curves import save_figure

    cfg = result.config
    _, draw = _kinds()[cfg.kind]
    fig = draw(cfg, result.rows) if cfg.kind != "generator_samples" else draw(cfg, result)
    paths = {ext: out_dir / f"{cfg.name}.{ext}" for ext in ("csv", "pdf", "png", "json")}
    csv_text = table_csv(result.columns, result.rows)
    info = dict(result.info)
    info["wall_seconds"] = round(wall, 3)
    opts = asdict(options)
    opts["cache_dir"] = str(options.cache_dir) if options.cache_dir else None
    data = manifest(
        config_path=config_path,
        config_text=cfg.source,
        config_resolved=_config_summary(cfg),
        overrides=cfg.overrides,
        seed=cfg.seed,
        outputs=[p.name for p in paths.values()],
        info=info,
        options=opts,
    )
    data["points"] = len(result.rows)
    data["resolved_parameters"] = resolved_parameters(result.columns, result.rows)
    json_text = manifest_json(data)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RmtsynthError(f"--out {out_dir} cannot be created ({exc.strerror}).") from None
    # All four files are staged and renamed together, so an interrupted or failed run leaves
    # either the complete set or none of them.
    with atomic_group(list(paths.values())) as (tmp_csv, tmp_pdf, tmp_png, tmp_json):
        tmp_csv.write_text(csv_text, encoding="utf-8")
        save_figure(fig, tmp_pdf, tmp_png)
        tmp_json.write_text(json_text, encoding="utf-8")
    return list(paths.values())


MAX_LISTED_VALUES = 100


def resolved_parameters(columns: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Every resolved parameter's values over the figure (the CSV has them point by point).

    A column with at most 100 distinct values lists them all; a longer one gives its count and range.
    """
    out: dict[str, Any] = {}
    for col in columns:
        if col.startswith(("theory_", "sim_")) or col in ("figure",):
            continue
        seen = list(dict.fromkeys(row.get(col) for row in rows))
        if len(seen) <= MAX_LISTED_VALUES:
            out[col] = seen[0] if len(seen) == 1 else seen
            continue
        numbers = [v for v in seen if isinstance(v, (int, float)) and not isinstance(v, bool)]
        out[col] = {"distinct": len(seen), "min": min(numbers, default=None), "max": max(numbers, default=None)}
    return out


def _config_summary(cfg: FigureConfig) -> dict[str, Any]:
    return {
        "name": cfg.name,
        "title": cfg.title,
        "kind": cfg.kind,
        "seed": cfg.seed,
        "quick": cfg.quick,
        "config_after_overrides": cfg.raw,
        "simulation": asdict(cfg.simulation),
        "theory": asdict(cfg.theory),
    }
