"""Kind prediction (predicted against measured held-out accuracy) and the planner's data path."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import yaml

from rmtsynth.engine.planner import format_plan, run_plan
from rmtsynth.engine.sweep import SweepOptions
from rmtsynth.errors import ConfigError
from rmtsynth.runner import check_config, compute, write_outputs
from rmtsynth.config.figure_config import load_config
from rmtsynth.config.plan_config import parse_plan

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "kind": "prediction",
    "name": "tiny_prediction",
    "seed": 3,
    "data": [
        {"title": "real only", "digits": [3, 8]},
        {"title": "with synthetic rows", "digits": [3, 8]},
    ],
    "prediction": {
        "gamma": 0.1,
        "splits": 3,
        "n": [60],
        "folds": 3,
        "panels": [
            {},
            {"synthetic": {"generator": "gaussian", "pool_rows": 60, "rows": 120},
             "m": [0, 60], "label_noise": [0.2], "verifiers": ["none", "oracle"]},
        ],
    },
}


def _write(tmp_path: Path, config: dict, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _run(path: Path, out: Path, cache: Path | None, workers: int = 1):
    cfg = load_config(path)
    check_config(cfg)
    options = SweepOptions(workers=workers, cache_dir=cache, progress=False)
    result = compute(cfg, options)
    write_outputs(result, out, options, path, 0.0)
    return result, (out / f"{cfg.name}.csv").read_bytes()


def _with(change: dict) -> dict:
    config = yaml.safe_load(yaml.safe_dump(TINY))
    for key, value in change.items():
        node = config
        parts = key.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[parts[-1]]
        elif isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value
    return config


@pytest.mark.parametrize(
    "change, key",
    [
        ({"prediction.n": None}, "prediction.n is missing"),
        ({"prediction.n": [2]}, "prediction.n"),
        ({"prediction.splits": 0}, "prediction.splits"),
        ({"prediction.estimator": "gee"}, "prediction.estimator"),
        ({"prediction.colour": 1}, "prediction.colour"),
        ({"prediction.panels": [{}]}, "prediction.panels"),
        ({"prediction.panels.1.verifiers": ["sometimes"]}, "prediction.panels[1].verifiers"),
        ({"prediction.panels.1.verifiers": ["given"]}, "prediction.panels[1].verifiers"),
        ({"prediction.panels.1.synthetic": {"generator": "gan", "pool_rows": 60, "rows": 120}},
         "prediction.panels[1].synthetic.generator"),
        ({"prediction.panels.1.synthetic": {"path": "missing.npz"}}, "prediction.panels[1].synthetic.path"),
        ({"prediction.panels.0.m": [0, 10]}, "prediction.panels[0].m"),
        ({"prediction.m": [0, -1]}, "prediction.m"),
        ({"data": None}, "data is missing"),
        ({"params": {"n": 10}}, "params is not used by kind prediction"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, change: dict, key: str) -> None:
    path = _write(tmp_path, _with(change))
    with pytest.raises(ConfigError) as info:
        check_config(load_config(path))
    message = str(info.value)
    assert key in message
    assert message.count(". ") == 0 or message.rstrip().endswith(".")  # one sentence
    assert "\n" not in message


def test_quick_section_is_checked(tmp_path: Path) -> None:
    config = _with({})
    config["quick"] = {"prediction": {"splits": -2}}
    path = _write(tmp_path, config)
    with pytest.raises(ConfigError, match=r"quick\.prediction\.splits"):
        check_config(load_config(path, quick=True))


def test_end_to_end_cache_and_workers(tmp_path: Path) -> None:
    path = _write(tmp_path, TINY)
    cache = tmp_path / "cache"
    first, first_csv = _run(path, tmp_path / "out1", cache)
    assert first.info["computed_points"] == 3 + 3 and first.info["cached_points"] == 0
    for ext in ("pdf", "png", "json"):
        assert (tmp_path / "out1" / f"tiny_prediction.{ext}").stat().st_size > 0

    rows = list(csv.DictReader(io.StringIO(first_csv.decode("utf-8"))))
    required = ["real_data", "synthetic_data", "n", "m", "label_noise", "verifier", "predicted_accuracy",
                "measured_accuracy_mean", "measured_accuracy_se", "gap_mean", "gap_se", "splits",
                "figure", "panel", "series", "x"]
    assert all(column in rows[0] for column in required)
    real = [r for r in rows if r["panel"] == "real only"]
    mixed = [r for r in rows if r["panel"] == "with synthetic rows"]
    assert len(real) == 1 and real[0]["synthetic_data"] == "" and real[0]["verifier"] == "none"
    assert {(r["verifier"], r["m"]) for r in mixed} == {("none", "0"), ("none", "60"), ("oracle", "0"), ("oracle", "60")}
    assert all(r["synthetic_data"].startswith("Gaussian fitted on 60") for r in mixed)
    for r in rows:
        assert r["splits"] == "3"
        assert 0.5 <= float(r["measured_accuracy_mean"]) <= 1.0
        # The paired gap averages prediction - measurement split by split.
        assert float(r["gap_mean"]) == pytest.approx(float(r["predicted_accuracy"]) - float(r["measured_accuracy_mean"]),
                                                     abs=1e-12)
    # At m = 0 the verifier changes nothing: the same splits give the same numbers.
    at_zero = [r for r in mixed if r["m"] == "0"]
    assert at_zero[0]["measured_accuracy_mean"] == at_zero[1]["measured_accuracy_mean"]

    second, second_csv = _run(path, tmp_path / "out2", cache)
    assert second.info["computed_points"] == 0 and second.info["cached_points"] == 6
    assert second_csv == first_csv

    third, third_csv = _run(path, tmp_path / "out3", None, workers=2)
    assert third.info["computed_points"] == 6
    assert third_csv == first_csv


def test_user_synthetic_file_with_flags(tmp_path: Path) -> None:
    from rmtsynth.data.loaders import load_digits_pair

    X, y, _ = load_digits_pair((3, 8))
    rng = np.random.default_rng(np.random.SeedSequence(7))
    rows = 200
    labels = np.where(np.arange(rows) % 2 == 0, -1.0, 1.0)
    means = {c: X[y == c].mean(axis=0) for c in (-1.0, 1.0)}
    features = np.array([means[c] for c in labels]) + rng.normal(0.0, 2.0, (rows, X.shape[1]))
    correct = rng.random(rows) >= 0.25
    observed = np.where(correct, labels, -labels)
    kept = np.where(correct, rng.random(rows) < 0.9, rng.random(rows) < 0.2)
    np.savez(tmp_path / "synthetic.npz", X=features, y=observed, correct=correct, kept=kept)
    config = {
        "kind": "prediction", "name": "with_file", "data": {"digits": [3, 8]},
        "synthetic_data": {"path": "synthetic.npz", "label_correct_key": "correct", "kept_key": "kept"},
        "prediction": {"n": [80], "m": [0, 100], "verifiers": ["none", "given"], "splits": 2, "folds": 3},
    }
    path = _write(tmp_path, config)
    result, _ = _run(path, tmp_path / "out", None)
    given = [r for r in result.rows if r["verifier"].startswith("given")]
    assert given and all(r["synthetic_data"] == "synthetic.npz" for r in result.rows)
    # The file's verifier: rates estimated from its flags.
    assert given[0]["rho"] == pytest.approx(float(np.mean(kept[~correct])))
    assert given[0]["phi"] == pytest.approx(float(np.mean(kept[correct])))
    assert all(r["label_noise"] == pytest.approx(float(np.mean(~correct))) for r in result.rows)


def test_planner_reports_estimator_and_expected_error() -> None:
    data = yaml.safe_load((ROOT / "configs" / "plan" / "digits.yaml").read_text(encoding="utf-8"))
    out = run_plan(parse_plan(data, base_dir=ROOT / "configs" / "plan"), diagnostics=True)
    pred = out["diagnostics"]["heldout_prediction"]
    assert pred["label"].startswith("diagnostic")
    assert pred["estimator"] == "g" and "G-estimator" in pred["estimator_name"]
    assert pred["predicts"] == "held-out accuracy on new real rows"
    settings = [e["setting"] for e in pred["expected_error"]]
    assert any("digits 3 vs 8" in s for s in settings)
    assert any(e["met"] is False for e in pred["expected_error"])  # the misses are reported
    # The bias THEORY.md 13.1 describes: the fitted Gaussian's accuracy is above the held-out one.
    assert out["accuracy_real_only"] > pred["accuracy_real_only"]
    text = format_plan(out)
    assert "estimator: g" in text and "expected error" in text and "MISSED" in text

    data["estimator"] = "plugin"
    plugged = run_plan(parse_plan(data, base_dir=ROOT / "configs" / "plan"), diagnostics=True)
    plug = plugged["diagnostics"]["heldout_prediction"]
    assert "fitted to the training rows" in plug["predicts"] and plug["expected_error"] == []
    assert "not a held-out prediction" in format_plan(plugged)

    data["estimator"] = "best"
    with pytest.raises(ConfigError, match="^estimator = 'best'"):
        parse_plan(data, base_dir=ROOT / "configs" / "plan")


def test_planner_with_synthetic_rows(tmp_path: Path) -> None:
    from rmtsynth.data.loaders import load_digits_pair

    X, y, _ = load_digits_pair((3, 8))
    rng = np.random.default_rng(np.random.SeedSequence(11))
    labels = np.where(np.arange(300) % 2 == 0, -1.0, 1.0)
    means = {c: X[y == c].mean(axis=0) for c in (-1.0, 1.0)}
    features = np.array([means[c] for c in labels]) + rng.normal(0.0, 2.0, (300, X.shape[1]))
    correct = rng.random(300) >= 0.3
    kept = np.where(correct, rng.random(300) < 0.9, rng.random(300) < 0.1)
    np.savez(tmp_path / "synthetic.npz", X=features, y=np.where(correct, labels, -labels), correct=correct, kept=kept)
    data = yaml.safe_load((ROOT / "configs" / "plan" / "digits.yaml").read_text(encoding="utf-8"))
    data["synthetic_data"] = {"path": str(tmp_path / "synthetic.npz"), "label_correct_key": "correct", "kept_key": "kept"}
    data["params"]["m_over_n"] = 1
    # The file's kept flags are the verifier: a second one in params would be an input error.
    for key in ("verifier_precision", "verifier_recall"):
        data["params"].pop(key)
    out = run_plan(parse_plan(data, base_dir=ROOT / "configs" / "plan"), diagnostics=True)
    pred = out["diagnostics"]["heldout_prediction"]
    assert set(pred["accuracy_mix"]) == {"none", "oracle", "configured", "estimated"}
    assert pred["m"] == 100 and pred["synthetic_data"] == "synthetic.npz"
    # With 30 % wrong labels, keeping only the correct ones is predicted to do better than keeping all.
    assert pred["accuracy_mix"]["oracle"] > pred["accuracy_mix"]["none"]
    assert "the file's verifier" in format_plan(out)


@pytest.mark.parametrize(
    "change, needles",
    [
        ({"prediction.n": [400]}, ("n = 400", "fewer than 2 held-out rows")),
        ({"prediction.panels.1.synthetic": {"generator": "gaussian", "pool_rows": 400, "rows": 120}},
         ("pool_rows = 400", "must leave at least 8")),
        ({"prediction.panels.1.m": [0, 500]}, ("m = 500", "exceeds the 120 rows")),
    ],
)
def test_sizes_against_the_data_are_refused_by_validate(tmp_path: Path, change: dict, needles: tuple) -> None:
    from clitools import assert_clean_error, invoke

    from rmtsynth.errors import DataError

    path = _write(tmp_path, _with(change))
    # The config alone is valid: only the digits' 357 rows (or the pool's 120) refuse it, once read.
    check_config(load_config(path))
    with pytest.raises(DataError) as info:
        compute(load_config(path), SweepOptions(workers=1, cache_dir=None, progress=False))
    assert all(needle in str(info.value) for needle in needles)
    refused = assert_clean_error(invoke("validate", path), *needles)
    out = tmp_path / "out"
    assert assert_clean_error(invoke("sweep", path, "--out", out, "--no-cache", "-q"), *needles) == refused
    assert not out.exists()
