"""Compare regenerated figure tables with reference ones, column by column.

Usage::

    python benchmarks/compare_tables.py REFERENCE_DIR NEW_DIR [--rtol 1e-9] [--only NAME ...]

Every ``*.csv`` of REFERENCE_DIR (or the ones named with ``--only``) must exist in NEW_DIR with
the same columns and rows; numeric cells must agree to ``rtol`` (relative, with an absolute floor
of ``rtol`` for values near zero) and text cells exactly. Columns that hold wall-clock timings
are skipped. Exit code 0 when every table agrees, 1 otherwise, with one line per difference.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

TIMING_MARKERS = ("seconds", "elapsed", "wall_time", "timing")


def _is_timing(column: str) -> bool:
    return any(marker in column for marker in TIMING_MARKERS)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _cells_agree(old: str, new: str, rtol: float) -> bool:
    if old == new:
        return True
    a, b = _number(old), _number(new)
    if a is None or b is None:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1.0)


def compare_table(old_path: Path, new_path: Path, rtol: float) -> list[str]:
    """Every difference between two CSV tables, as lines (empty when they agree)."""
    if not new_path.exists():
        return [f"{new_path.name}: missing from the new outputs"]
    with old_path.open(newline="") as fh:
        old_rows = list(csv.reader(fh))
    with new_path.open(newline="") as fh:
        new_rows = list(csv.reader(fh))
    if not old_rows or not new_rows:
        return [] if old_rows == new_rows else [f"{old_path.name}: one table is empty"]
    if old_rows[0] != new_rows[0]:
        return [f"{old_path.name}: columns differ: {old_rows[0]} -> {new_rows[0]}"]
    if len(old_rows) != len(new_rows):
        return [f"{old_path.name}: {len(old_rows) - 1} rows -> {len(new_rows) - 1} rows"]
    header = old_rows[0]
    problems = []
    for i, (old, new) in enumerate(zip(old_rows[1:], new_rows[1:]), start=1):
        for column, a, b in zip(header, old, new):
            if not _is_timing(column) and not _cells_agree(a, b, rtol):
                problems.append(f"{old_path.name}: row {i}, {column}: {a} -> {b}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rtol", type=float, default=1e-9)
    parser.add_argument("--only", nargs="*", default=None, help="table names (without .csv)")
    args = parser.parse_args(argv)
    names = args.only or sorted(p.stem for p in args.reference.glob("*.csv"))
    problems: list[str] = []
    for name in names:
        found = compare_table(args.reference / f"{name}.csv", args.new / f"{name}.csv", args.rtol)
        problems.extend(found)
        print(f"{name}: {'agrees' if not found else f'{len(found)} differences'}")
    for line in problems[:200]:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
