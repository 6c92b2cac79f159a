"""Running a figure config: check it before any work, compute its table, draw it, write every output."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rmtsynth.io.atomic import atomic_group, check_dir
from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.errors import RmtsynthError
from rmtsynth.io.output import manifest, manifest_json, table_csv
from rmtsynth.engine.sweep import SweepOptions, SweepResult
from rmtsynth.config.figure_texts import check_figure_texts
from rmtsynth.figures import style as figure_style
from rmtsynth.figures.kinds import data_check, figure_kind


def check_out_dir(out_dir: Path) -> Path:
    return check_dir(Path(out_dir), "--out")


def check_config(cfg: FigureConfig) -> int | None:
    """Every check that needs no computing, for any kind; returns the number of points if known."""
    count = figure_kind(cfg.kind).check(cfg)
    check_figure_texts(cfg)
    return count


def check_config_data(cfg: FigureConfig) -> None:
    """The checks against the data a config names, for the kinds that read data; nothing is computed."""
    check = data_check(cfg.kind)
    if check is not None:
        check(cfg)


def compute(cfg: FigureConfig, options: SweepOptions) -> SweepResult:
    """The results table of one figure."""
    return figure_kind(cfg.kind).compute(cfg, options)


def write_outputs(result: SweepResult, out_dir: Path, options: SweepOptions, config_path: Path | None, wall: float) -> list[Path]:
    """Draw the figure and write PDF, PNG, CSV and the manifest, each atomically."""
    cfg = result.config
    fig = figure_kind(cfg.kind).draw(cfg, result)
    paths = {ext: out_dir / f"{cfg.name}.{ext}" for ext in ("csv", "pdf", "png", "json")}
    check_targets(list(paths.values()), input_files(cfg, config_path))
    csv_text = table_csv(result.columns, result.rows)
    info = dict(result.info)
    info["wall_seconds"] = round(wall, 3)
    opts = asdict(options)
    # Whether a cache was used, not where: the location changes no number and is this machine's.
    opts["cache"] = opts.pop("cache_dir") is not None
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
        figure_style.save_figure(fig, tmp_pdf, tmp_png)
        tmp_json.write_text(json_text, encoding="utf-8")
    return list(paths.values())


def input_files(cfg: FigureConfig, config_path: Path | None) -> set[Path]:
    """Every existing file the run reads: the config and each path its values name."""
    found: set[Path] = set()
    if config_path is not None:
        found.add(Path(config_path).resolve())

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)
        elif isinstance(value, str) and value and len(value) < 4096 and "\n" not in value:
            candidate = Path(value) if Path(value).is_absolute() else cfg.base_dir / value
            try:
                if candidate.is_file():
                    found.add(candidate.resolve())
            except OSError:
                pass

    visit(cfg.raw)
    return found


def _written_by_rmtsynth(path: Path) -> bool:
    """Whether ``path`` is listed as an output by the rmtsynth manifest beside it."""
    manifest_path = path.with_name(path.name.rsplit(".", 1)[0] + ".json")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict)
        and isinstance(data.get("outputs"), list)
        and path.name in data["outputs"]
        and isinstance(data.get("versions"), dict)
        and "rmtsynth" in data["versions"]
    )


def check_targets(targets: list[Path], inputs: set[Path]) -> None:
    """Refuse, before anything is written, to replace an input or a file rmtsynth did not write.

    Either all outputs of a figure are replaced or none: a target that is a directory, or any
    other thing that is not a previous output, stops the run here.
    """
    for target in targets:
        if not (target.exists() or target.is_symlink()):
            continue
        if target.resolve() in inputs:
            raise RmtsynthError(
                f"The output {target} would overwrite a file this run reads; choose another --out or another name."
            )
        if not target.is_file() or target.is_symlink():
            raise RmtsynthError(f"The output {target} exists and is not a regular file; move it or choose another --out.")
        if not _written_by_rmtsynth(target):
            raise RmtsynthError(
                f"The output {target} exists and was not written by rmtsynth; move it or choose another --out."
            )


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


def write_advice(advice: Any, out_dir: Path, *, name: str, request: dict[str, Any], seed: int,
                 inputs: set[Path], wall: float, config_text: str = "") -> list[Path]:
    """The advisor's CSV, manifest and figure (PDF, PNG), written together or not at all."""
    from rmtsynth.figures.advice import draw_advice

    paths = {ext: out_dir / f"{name}.{ext}" for ext in ("csv", "pdf", "png", "json")}
    check_targets(list(paths.values()), {p.resolve() for p in inputs})
    data = manifest(config_path=None, config_text=config_text, config_resolved=request, overrides=[], seed=seed,
                    outputs=[p.name for p in paths.values()], info={"wall_seconds": round(wall, 3)}, options={})
    data["recommendation"] = advice.recommendation
    data["notes"] = advice.notes
    data["classes"] = list(advice.inputs.classes)
    fig = draw_advice(advice.table.rows, recommendation=advice.recommendation)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RmtsynthError(f"--out {out_dir} cannot be created ({exc.strerror}).") from None
    with atomic_group(list(paths.values())) as (tmp_csv, tmp_pdf, tmp_png, tmp_json):
        tmp_csv.write_text(table_csv(advice.table.columns, advice.table.rows), encoding="utf-8")
        figure_style.save_figure(fig, tmp_pdf, tmp_png)
        tmp_json.write_text(manifest_json(data), encoding="utf-8")
    return list(paths.values())
