"""Running a figure config end to end: compute the table, draw the figure, write every output."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from .atomic import atomic_group, check_dir
from .config import FigureConfig, load_config
from .errors import RmtsynthError
from .output import manifest, manifest_json, table_csv
from .sweep import SweepOptions, SweepResult, run_curves

# kind -> (compute, draw)
Compute = Callable[[FigureConfig, SweepOptions], SweepResult]


def _kinds() -> dict[str, tuple[Compute, Callable[..., Any]]]:
    from . import figures_extra, plotting

    return {
        "curves": (run_curves, plotting.plot_curves),
        "heatmap": (figures_extra.run_heatmap, figures_extra.plot_heatmap),
        "marchenko_pastur": (figures_extra.run_marchenko_pastur, figures_extra.plot_marchenko_pastur),
        "generator_samples": (figures_extra.run_generator_samples, figures_extra.plot_generator_samples),
        "real_data": (figures_extra.run_real_data_figure, figures_extra.plot_real_data),
    }


def check_out_dir(out_dir: Path) -> Path:
    return check_dir(Path(out_dir), "--out")


def check_kind(cfg: FigureConfig) -> None:
    """Refuse, before any work, a figure kind this version cannot compute."""
    run, _ = _kinds()[cfg.kind]
    # The placeholders of figures_extra raise when called; find them without calling.
    if getattr(run, "__qualname__", "").startswith("_missing."):
        raise RmtsynthError(f"kind = {cfg.kind} is not available in this version; use kind: curves.")


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    kinds = _kinds()
    run, _ = kinds[cfg.kind]
    return run(cfg, options)


def write_outputs(result: SweepResult, out_dir: Path, options: SweepOptions, config_path: Path | None, wall: float) -> list[Path]:
    """Draw the figure and write PDF, PNG, CSV and the manifest, each atomically."""
    from .plotting import save_figure

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
    data["resolved_points"] = [
        {k: row.get(k) for k in result.columns if not k.startswith(("theory_", "sim_"))} for row in result.rows
    ]
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


def run_config_file(
    path: Path, overrides: list[str], options: SweepOptions, out_dir: Path, *, quick: bool = False
) -> list[Path]:
    t0 = time.perf_counter()
    cfg = load_config(path, overrides, quick=quick)
    result = compute(cfg, options)
    return write_outputs(result, out_dir, options, Path(path), time.perf_counter() - t0)
