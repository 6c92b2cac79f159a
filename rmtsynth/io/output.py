"""Writing a figure's outputs: the tidy CSV, the manifest, and the figure files.

Every file is written to a temporary name and renamed into place, and only after all the
computing is done, so an interrupted or failed run leaves no half-written file. Numbers are
written with Python's shortest round-trip representation, so the same results give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any


PACKAGES = ("rmtsynth", "numpy", "scipy", "matplotlib", "typer", "pyyaml", "tqdm", "scikit-learn", "dask", "distributed")


def format_cell(value: Any) -> str:
    """One CSV cell: shortest round-trip floats, lower-case booleans, empty for missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if hasattr(value, "item"):
        return format_cell(value.item())
    return str(value)


def table_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_revision(start: Path) -> str | None:
    """The git revision of the checkout containing ``start`` (or of the package), if known."""
    for where in (start, Path(__file__).resolve().parent):
        try:
            out = subprocess.run(
                ["git", "-C", str(where), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip():
            dirty = subprocess.run(
                ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            rev = out.stdout.strip()
            return rev + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    return None


def manifest(
    *,
    config_path: Path | None,
    config_text: str,
    config_resolved: dict[str, Any],
    overrides: list[str],
    seed: int,
    outputs: list[str],
    info: dict[str, Any],
    options: dict[str, Any],
) -> dict[str, Any]:
    return {
        "config_file": str(config_path) if config_path else None,
        "config_text": config_text,
        "config": config_resolved,
        "overrides": overrides,
        "seed": seed,
        "outputs": outputs,
        "options": options,
        "run": info,
        "versions": package_versions(),
        "git_revision": git_revision(config_path.parent if config_path else Path.cwd()),
        "command": sys.argv,
    }


def manifest_json(data: dict[str, Any]) -> str:
    """The manifest as strict JSON text: numpy values and paths converted, NaN and infinities as null."""
    return json.dumps(json_ready(data), indent=2, sort_keys=False, default=_json_default, allow_nan=False) + "\n"


def json_ready(value: Any) -> Any:
    """Plain Python values for strict JSON: numpy scalars and arrays converted, NaN and infinities as None."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_ready(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return repr(value)
