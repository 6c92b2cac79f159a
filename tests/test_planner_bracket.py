"""The planner's searches bracket on a coarse pass before they refine; the answers are the full grid's.

With ``planner.BRACKET`` off every grid point is evaluated (the reference path). Each bundled plan
config is answered both ways and every number must agree to well within the searches' tolerances,
every status and flag exactly; the searches themselves are checked on curves with known answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rmtsynth
from rmtsynth.engine import planner

ROOT = Path(__file__).resolve().parent.parent
PLANS = sorted(p.name for p in (ROOT / "configs" / "plan").glob("*.yaml") if p.name != "loop.yaml")
# Far below every search tolerance (1e-7 in the proportion and log10 gamma, 1e-10 in thresholds).
AGREE = 1e-11


def _differences(got: Any, want: Any, path: str = "") -> list[str]:
    if isinstance(want, dict):
        if set(got) != set(want):
            return [f"{path}: keys {sorted(set(got) ^ set(want))}"]
        return [d for k in want for d in _differences(got[k], want[k], f"{path}/{k}")]
    if isinstance(want, list):
        if len(got) != len(want):
            return [f"{path}: length {len(got)} != {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in _differences(g, w, f"{path}[{i}]")]
    if isinstance(want, float) and isinstance(got, float):
        return [] if abs(got - want) <= AGREE * max(1.0, abs(want)) else [f"{path}: {got!r} != {want!r}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


@pytest.mark.parametrize("name", PLANS)
def test_a_bundled_plan_has_the_same_answers_with_and_without_brackets(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = ROOT / "configs" / "plan" / name
    bracketed = rmtsynth.plan(config)
    monkeypatch.setattr(planner, "BRACKET", False)
    full = rmtsynth.plan(config)
    assert _differences(bracketed, full) == []


def _counted(f):
    calls = []

    def g(x):
        calls.append(np.size(x))
        return f(np.asarray(x, dtype=float))

    return g, calls


@pytest.mark.parametrize("peak", [0.0, 0.137, 0.5, 0.9999, 1.0])
def test_the_bracketed_maximum_is_the_full_grids(peak: float, monkeypatch: pytest.MonkeyPatch) -> None:
    grid = np.linspace(0.0, 1.0, 2001)
    f, calls = _counted(lambda x: -np.abs(x - peak) ** 1.5 + 0.1 * np.cos(3 * x))
    got = planner._maximise(f, grid, 1e-9)
    evaluated = sum(calls)
    monkeypatch.setattr(planner, "BRACKET", False)
    want = planner._maximise(_counted(lambda x: -np.abs(x - peak) ** 1.5 + 0.1 * np.cos(3 * x))[0], grid, 1e-9)
    assert got == pytest.approx(want, abs=1e-12)
    assert evaluated < 300  # the bracketed pass does not evaluate the whole grid


@pytest.mark.parametrize("root", [0.0004, 0.3, 0.77777, 0.9996])
def test_the_bracketed_thresholds_are_the_full_grids(root: float, monkeypatch: pytest.MonkeyPatch) -> None:
    grid = np.linspace(0.0, 1.0, 2001)
    got = (planner._threshold_above(lambda x: np.tanh(x - root), grid, 1e-12),
           planner._threshold_below(lambda x: np.tanh(root - x), grid, 1e-12))
    monkeypatch.setattr(planner, "BRACKET", False)
    want = (planner._threshold_above(lambda x: np.tanh(x - root), grid, 1e-12),
            planner._threshold_below(lambda x: np.tanh(root - x), grid, 1e-12))
    assert got[0][1:] == want[0][1:] == ("crossing", True)
    assert got[1][1:] == want[1][1:] == ("crossing", True)
    assert got[0][0] == pytest.approx(root, abs=1e-9) and got[1][0] == pytest.approx(root, abs=1e-9)
    assert got[0][0] == pytest.approx(want[0][0], abs=1e-12) and got[1][0] == pytest.approx(want[1][0], abs=1e-12)


def test_a_threshold_with_two_crossings_reports_the_highest() -> None:
    grid = np.linspace(0.0, 1.0, 2001)
    # Positive on (0.2, 0.4) and above 0.7: the threshold is the upper crossing, and not monotone.
    value, status, monotone = planner._threshold_above(lambda x: (x - 0.2) * (x - 0.4) * (x - 0.7), grid, 1e-12)
    assert status == "crossing" and value == pytest.approx(0.7, abs=1e-9) and not monotone
