"""The loop from configs, the Python functions and the planner (kind generations, THEORY.md section 14)."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from rmtsynth.core import loop as loop_theory
from rmtsynth.engine import loops
from rmtsynth.engine.sweep import SweepOptions
from rmtsynth.errors import ConfigError
from rmtsynth.figures import generations as figure
from rmtsynth.io.output import table_csv
from rmtsynth.runner import check_config, compute
from rmtsynth.sim.loop import simulate_loop as raw_simulate_loop
from rmtsynth.config.figure_config import parse_config

ROOT = Path(__file__).resolve().parents[1]

# Small loops: every test of this file together stays well under a minute.
TINY = {"n": 40, "m_over_n": 2, "p": 30, "mu_norm": 1.5, "label_noise": 0.1, "gamma": 0.5}
SERIES = [{"label": "none", "params": {"verifier": "none"}}, {"label": "oracle", "params": {"verifier": "oracle"}}]


def _config(figure_name: str, **changes) -> dict:
    data = {
        "kind": "generations",
        "name": f"test_{figure_name}",
        "generations": {"figure": figure_name, "generations": 3},
        "params": dict(TINY),
        "series": copy.deepcopy(SERIES),
        "simulation": {"seeds": 3},
    }
    if figure_name == "pseudo_labels":
        del data["params"]["label_noise"]
    if figure_name == "stability":
        data["params"] = {"n": 40, "p": 30, "mu_norm": 1.5, "label_noise": 0.3, "gamma": 0.5}
        data["generations"].update({"grid_points": 7, "generations": 4})
        del data["series"], data["simulation"]
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _parse(data: dict, quick: bool = False):
    return parse_config(copy.deepcopy(data), name_default="test", base_dir=ROOT, quick=quick)


def _run(data: dict, workers: int = 1, cache_dir=None, seeds=None):
    cfg = _parse(data)
    check_config(cfg)
    return compute(cfg, SweepOptions(workers=workers, cache_dir=cache_dir, progress=False, seeds=seeds))


# ---------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "data, key",
    [
        (_config("accuracy", generations={"figure": "acuracy"}), "generations.figure"),
        (_config("accuracy", generations={"figure": "accuracy", "regimes": ["replace", "replace"]}), "generations.regimes"),
        (_config("accuracy", generations={"figure": "accuracy", "generations": 500}), "generations.generations"),
        (_config("accuracy", generations={"figure": "accuracy", "grid_points": 5}), "generations.grid_points"),
        (_config("accuracy", panels=[{"title": "a", "params": {"gamma": 1.0}}]), "panels"),
        (_config("accuracy", x="m"), "x"),
        (_config("accuracy", simulation={"seeds": 3, "sampler": "naive"}), "simulation.sampler"),
        (_config("accuracy", plot={"y": "gain"}), "plot.y"),
        (_config("accuracy", params={**TINY, "generator_alignment": 0.9}), "generator_alignment"),
        (_config("accuracy", params={**TINY, "label_noise": "auto"}), "label_noise"),
        (_config("accuracy", params={**TINY, "n": 2}), "n"),
        (_config("pseudo_labels", series=[{"label": "v", "params": {"verifier_precision": 0.9,
                                                                     "verifier_recall": 1.0}}]), "verifier_precision"),
        (_config("pseudo_labels", params={**TINY}), "label_noise"),
        (_config("stability", params={"n": 40, "p": 30, "label_noise": 0.3, "m": 10}), "params.m"),
        (_config("stability", simulation={"seeds": 3}), "simulation"),
        (_config("stability", generations={"figure": "stability", "labels": "pseudo"}), "generations.labels"),
        (_config("accuracy", generations={"figure": "accuracy", "limit": False}), "generations.limit"),
        (_config("accuracy", generations={"figure": "accuracy", "generator_covariance": "estimated",
                                          "regimes": ["replace"]}, series=None, params={**TINY, "verifier": "none"},
                 ), None),
    ],
)
def test_config_errors_are_one_sentence_naming_the_key(data: dict, key: str | None) -> None:
    if key is None:  # a valid corner: the estimated generator is accepted for figure accuracy
        assert check_config(_parse(data)) == 9  # one regime, one series, k = 0..8
        return
    with pytest.raises(ConfigError) as info:
        check_config(_parse(data))
    message = str(info.value)
    assert key in message
    assert "\n" not in message and message.endswith(".")
    assert len(re.findall(r"[.;] [A-Z]", message)) == 0, message


def test_the_shipped_configs_check() -> None:
    from rmtsynth.config.figure_config import load_config

    counts = {}
    for path in sorted(ROOT.glob("configs/generations_*.yaml")):
        for quick in (False, True):
            counts[(path.stem, quick)] = check_config(load_config(path, quick=quick))
    assert len(counts) == 8
    assert counts[("generations_stability", True)] < counts[("generations_stability", False)]


# ---------------------------------------------------------------------------------------------- figures


def test_accuracy_figure_end_to_end() -> None:
    result = _run(_config("accuracy"))
    rows = result.rows
    assert len(rows) == 2 * 2 * 4 and {"figure", "panel", "series", "generation"} <= set(result.columns)
    for row in rows:
        assert row["sim_seeds"] == 3 and 0.5 <= row["sim_accuracy_mean"] <= 1.0
        if row["generation"] == 0:
            # Generation 0 is real data alone, the same classifier in every series and regime.
            assert row["theory_accuracy"] == pytest.approx(row["theory_accuracy_real_only"], abs=1e-12)
            assert row["theory_accuracy"] == rows[0]["theory_accuracy"]
        else:
            assert row["status"] == "exact" and row["method"] == "GR"
            # The one-generation formula misses the shared noise vector: it is off by O(1), upwards here.
            assert row["one_generation_accuracy"] > row["theory_accuracy"] + 1e-3
    fig = figure.draw(result.config, result)
    assert isinstance(fig, Figure) and len(fig.axes) >= 2


def test_generator_figure_approaches_the_closed_form_fixed_point() -> None:
    result = _run(_config("generator", simulation={"enabled": False}))
    n, m, p, eps = 40, 80, 30, 0.1
    for row in result.rows:
        assert row["sim_beta_mean"] is None
        if row["regime"] != "replace" or row["generation"] != 3:
            continue
        # Independent arithmetic of THEORY.md 14.3: P = precision, mbar = alpha m.
        rho, phi = (1.0, 1.0) if row["series"] == "none" else (0.0, 1.0)
        kept = (phi * (1 - eps) + rho * eps) * m
        precision = phi * (1 - eps) * m / kept
        beta_star = n / (n + 2 * (1 - precision) * kept)
        rate = (2 * precision - 1) * kept / (n + kept)
        assert row["fixed_point_beta"] == pytest.approx(beta_star, rel=1e-12)
        assert row["theory_beta"] == pytest.approx(beta_star + rate**3 * (1 - beta_star), rel=1e-9)
    assert isinstance(figure.draw(result.config, result), Figure)


def test_pseudo_label_figure_and_the_flip_model_agree_at_generation_one_only() -> None:
    result = _run(_config("pseudo_labels", simulation={"enabled": False}, series=[SERIES[0]]))
    by_k = {(r["regime"], r["generation"]): r for r in result.rows}
    first = by_k[("replace", 1)]
    # Both are Phi(-margin) of the real-only classifier on the real-data generator.
    assert first["flip_model_flip_rate"] == pytest.approx(first["theory_flip_rate"], abs=1e-4)
    assert by_k[("replace", 3)]["flip_model_beta"] < by_k[("replace", 3)]["theory_beta"]
    assert by_k[("replace", 0)]["label_noise"] is None
    assert isinstance(figure.draw(result.config, result), Figure)


def test_independent_flip_model_reproduces_the_published_table() -> None:
    # THEORY.md 14.8.3, "indep. flips" columns: p = n = 200, ||mu|| = 1.5, gamma = 0.5, no verifier.
    common = dict(n=200, p=200, mu_norm=1.5, rho=1.0, phi=1.0, gamma=0.5, generations=8)
    replace = loop_theory.independent_flip_loop(m=800, regime="replace", **common)
    assert replace["accuracy"][8] == pytest.approx(0.8346, abs=1e-4)
    assert replace["flip_rate"][8] == pytest.approx(0.1407, abs=1e-4)
    assert replace["beta"][8] == pytest.approx(0.530, abs=1e-3)
    accumulate = loop_theory.independent_flip_loop(m=200, regime="accumulate", **common)
    assert accumulate["accuracy"][8] == pytest.approx(0.8575, abs=1e-4)
    assert accumulate["flip_rate"][8] == pytest.approx(0.0618, abs=1e-4)


def test_stability_map_end_to_end() -> None:
    result = _run(_config("stability"))
    rows = result.rows
    assert len(rows) == 2 * 7 * 7
    assert {r["generation"] for r in rows if r["panel"] == "replace"} == {"limit"}
    for panel in ("replace", "accumulate"):
        for y in sorted({r["y"] for r in rows}):
            line = sorted((r for r in rows if r["panel"] == panel and r["y"] == y), key=lambda r: r["x"])
            for r in line:
                if r["valid"]:
                    assert r["gain"] == pytest.approx(r["theory_accuracy"] - r["theory_accuracy_real_only"], abs=1e-12)
            # The break-even precision sits where the gain changes sign along the row.
            threshold = line[0]["min_verifier_precision"]
            for r in line:
                if r["valid"] and threshold is not None and abs(r["x"] - threshold) > 1e-6:
                    assert (r["gain"] >= 0) == (r["x"] > threshold), (panel, y, r["x"], threshold)
    assert isinstance(figure.draw(result.config, result), Figure)


def test_quick_mode_is_small() -> None:
    data = _config("stability")
    data["quick"] = {"x_points": 4}
    assert check_config(_parse(data, quick=True)) == 2 * 4 * 4


def test_same_csv_whatever_the_worker_count(tmp_path: Path) -> None:
    data = _config("accuracy", generations={"figure": "accuracy", "generations": 2, "regimes": ["accumulate"]})
    one = _run(data, workers=1)
    two = _run(data, workers=2)
    assert table_csv(one.columns, one.rows) == table_csv(two.columns, two.rows)
    # The cache: fewer seeds first, then more, gives the same table as a fresh run.
    _run(data, workers=1, cache_dir=tmp_path, seeds=2)
    cached = _run(data, workers=1, cache_dir=tmp_path)
    assert cached.info["tasks"] > 0
    again = _run(data, workers=1, cache_dir=tmp_path)
    assert again.info["cache_hits"] == 2 and again.info["tasks"] == 0
    assert table_csv(one.columns, one.rows) == table_csv(cached.columns, cached.rows) == table_csv(again.columns, again.rows)


# ---------------------------------------------------------------------------------------------- Python API


def test_predict_loop_broadcasts_and_matches_the_core() -> None:
    out = loops.predict_loop(generations=4, n=200, m_over_n=[[1], [4]], p=200, mu_norm=1.5, label_noise=0.1,
                             verifier=["none", "oracle", "none"], gamma=0.5)
    assert out["accuracy"].shape == (2, 3, 5) and out["status"].shape == (2, 3, 5)
    assert out["accuracy_real_only"].shape == (2, 3) and out["method"] == "GR"
    core = loop_theory.predict_loop(n=200, m=800, p=200, mu_norm=1.5, label_noise=0.1, rho=0.0, phi=1.0, gamma=0.5,
                                    generations=4)
    np.testing.assert_array_equal(out["accuracy"][1, 1], core["accuracy"])
    np.testing.assert_array_equal(out["accuracy"][0, 0], out["accuracy"][0, 2])
    # Precision and recall resolve to the same verifier as (rho, phi): eps = .1, P = .9, R = 1 keeps all.
    same = loops.predict_loop(generations=4, n=200, m=800, p=200, mu_norm=1.5, label_noise=0.1,
                              verifier_precision=0.9, verifier_recall=1.0, gamma=0.5)
    np.testing.assert_allclose(same["accuracy"], out["accuracy"][1, 0], atol=1e-12)
    # THEORY.md 14.9: replace, eps = .1, m = 4n, no verifier: 0.8566 at k = 1, 0.8411 at k = 8.
    long = loops.predict_loop(generations=8, n=200, m=800, p=200, mu_norm=1.5, label_noise=0.1, verifier="none",
                              gamma=0.5)
    assert long["accuracy"][1] == pytest.approx(0.8566, abs=1e-4)
    assert long["accuracy"][8] == pytest.approx(0.8411, abs=1e-4)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"generator_shift": 0.3}, "generator_shift"),
        ({"gama": 0.5}, "gama"),
        ({"regime": "replce"}, "regime"),
        ({"generations": -1}, "generations"),
        ({"labels": "pseudo", "method": "GR", "label_noise": 0.0}, "method"),
        ({"rho": 0.5}, "phi"),
        ({"verifier_precision": 0.5, "verifier_recall": 1.0}, "precision"),
    ],
)
def test_predict_loop_validates(kwargs: dict, key: str) -> None:
    params = {"generations": 2, "n": 50, "m": 50, "p": 40, "mu_norm": 1.0, "label_noise": 0.1, "gamma": 0.5}
    params.update(kwargs)
    with pytest.raises(ConfigError) as info:
        loops.predict_loop(**params)
    assert key in str(info.value) and "\n" not in str(info.value)


def test_simulate_loop_equals_the_whole_loop_simulation_and_broadcasts() -> None:
    out = loops.simulate_loop(generations=2, n=40, m=[40, 80], p=30, mu_norm=1.5, label_noise=0.1, verifier="none",
                              gamma=0.5, seeds=4, seed=3)
    assert out["accuracy_mean"].shape == (2, 3) and out["seeds"] == 4
    raw = raw_simulate_loop(n=40, m=80, p=30, mu_norm=1.5, label_noise=0.1, rho=1.0, phi=1.0, gamma=0.5,
                            generations=2, seeds=4, seed=3)
    for key in ("accuracy_mean", "accuracy_se", "beta_mean", "tau2_mean", "flip_rate_mean"):
        np.testing.assert_array_equal(out[key][1], raw[key])
    assert math.isnan(out["flip_rate_mean"][0, 0])


# ---------------------------------------------------------------------------------------------- planner


def _brute_force_precision(*, n, m, p, mu_norm, label_noise, gamma, generations, regime, grid):
    """Smallest precision on ``grid`` whose end accuracy (GR through predict_loop) is not below real data alone."""
    rho = np.clip((1 - label_noise) * (1 - grid) / (grid * label_noise), 0.0, 1.0)
    out = loops.predict_loop(generations=generations, regime=regime, n=n, m=m, p=p, mu_norm=mu_norm,
                             label_noise=label_noise, rho=rho, phi=1.0, gamma=gamma)
    ok = out["accuracy"][:, -1] >= out["accuracy_real_only"]
    assert ok[-1] and not ok[0]
    return grid[np.argmax(ok)]


@pytest.mark.parametrize(
    "regime, generations, label_noise, m, grid",
    [("replace", None, 0.1, 800, np.linspace(0.95, 1.0, 201)), ("accumulate", 8, 0.3, 200, np.linspace(0.7, 1.0, 301))],
)
def test_plan_loop_against_a_brute_force_search(regime, generations, label_noise, m, grid) -> None:
    setting = dict(n=200, m=m, p=200, mu_norm=1.5, label_noise=label_noise, gamma=0.5)
    plan = loops.plan_loop(generations=generations, regime=regime, verifier="none", **setting)
    # The replace loop is at its fixed point to ~1e-10 after 100 generations (rate kappa <= 0.8 here).
    brute = _brute_force_precision(**setting, generations=100 if generations is None else generations,
                                   regime=regime, grid=grid)
    step = grid[1] - grid[0]
    assert brute - step <= plan["min_verifier_precision"] <= brute + 1e-9
    assert plan["min_verifier_precision_status"] == "found"
    if regime == "replace":
        # THEORY.md 14.9: break-even precision 0.967 at m = 4n, eps = .1.
        assert plan["min_verifier_precision"] == pytest.approx(0.967, abs=5e-4)
    trajectory = np.asarray(plan["accuracy_by_generation"])
    below = np.nonzero(trajectory[1:] < plan["accuracy_real_only"])[0]
    assert plan["first_drop_generation"] == (int(below[0]) + 1 if below.size else None)
    # THEORY.md 14.9: generation 1 already falls below real data alone (0.8566 and 0.7967 against 0.8602).
    assert plan["first_drop_generation"] == 1


def test_loop_plan_file_and_text() -> None:
    res = loops.load_loop_plan(ROOT / "configs" / "plan" / "loop.yaml")
    text = loops.format_loop_plan(res)
    assert "min verifier precision" in text and res["min_verifier_precision_status"] in ("found", "any", "unreachable")
    with pytest.raises(ConfigError, match="loop.regim"):
        loops.parse_loop_plan({"params": {"n": 200, "m": 200, "p": 200, "label_noise": 0.1}, "loop": {"regim": "x"}})
    with pytest.raises(ConfigError, match="accumulate"):
        loops.parse_loop_plan({"params": {"n": 200, "m": 200, "p": 200}, "loop": {"regime": "acumulate"}})
