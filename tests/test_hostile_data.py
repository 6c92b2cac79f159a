"""What a user out to break the real-data paths tries (feature files, synthetic pools, MNIST files,
the planner with data, the Python API): the right numbers, or one sentence naming the key or the
file with exit 2 (a TypeError/ValueError subclass naming the parameter in the API), and no outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rmtsynth
from clitools import assert_clean_error, invoke, write_file
from rmtsynth.data.estimators import fit_standardisation
from rmtsynth.errors import ConfigError, ParameterError, ParameterTypeError

pytestmark = pytest.mark.usefixtures("isolated")


def _two_gaussians(rows: int, p: int, seed: int, shift: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(rows) % 2 == 0, 0, 1)
    mu = np.zeros(p)
    mu[:3] = shift
    X = rng.standard_normal((rows, p)) + np.where(y[:, None] == 1, mu, -mu)
    X[:, 2] *= 30.0  # features in different units
    return X, y


REAL_X, REAL_Y = _two_gaussians(200, 12, 0)
SYN_X, SYN_Y = _two_gaussians(200, 12, 1)
PM = np.where(REAL_Y == 1, 1.0, -1.0)
POOL = {"features": SYN_X, "labels": np.where(SYN_Y == 1, 1.0, -1.0)}


def _prediction_config(tmp_path: Path, data: str, extra: str = "", prediction: str = "") -> Path:
    return write_file(
        tmp_path / "pred.yaml",
        f"kind: prediction\nseed: 0\ndata: {{path: {data}}}\n{extra}"
        f"prediction:\n  gamma: 0.1\n  splits: 2\n  folds: 3\n  n: [60]\n{prediction}",
    )


def _sweep(tmp_path: Path, cfg: Path):
    return invoke("sweep", cfg, "--out", tmp_path / "out", "-q", "--workers", 1, "--no-cache")


def _no_outputs(tmp_path: Path) -> bool:
    out = tmp_path / "out"
    return not out.exists() or not list(out.iterdir())


# ----------------------------------------------------------------------------- wrong numbers


@pytest.mark.parametrize("factor", [1e160, 1e-12, 2.0**-1000, 7.0])
def test_standardisation_is_scale_free(factor: float) -> None:
    loc, scale = fit_standardisation(REAL_X)
    loc_s, scale_s = fit_standardisation(REAL_X * factor)
    Z, Zs = (REAL_X - loc) / scale, (REAL_X * factor - loc_s) / scale_s
    assert np.all(np.isfinite(Zs))
    np.testing.assert_allclose(Zs, Z, rtol=0, atol=1e-9)


def test_a_constant_feature_is_constant_in_any_units() -> None:
    X = np.column_stack([REAL_X[:, 0], np.full(REAL_X.shape[0], 3.7)])
    for factor in (1.0, 1e160, 1e-12):
        loc, scale = fit_standardisation(X * factor)
        Z = (X * factor - loc) / scale
        assert np.all(Z[:, 1] == 0.0)
        assert abs(Z[:, 0].std() - 1.0) < 1e-12  # a small-unit feature is not taken for constant


def test_scaled_features_give_the_unscaled_prediction() -> None:
    base = rmtsynth.predict_heldout(REAL_X, PM, gamma=0.1, folds=3)["accuracy"]
    for factor in (1e160, 1e-12):
        got = rmtsynth.predict_heldout(REAL_X * factor, PM, gamma=0.1, folds=3)["accuracy"]
        np.testing.assert_allclose(got, base, atol=1e-9)
    measured = rmtsynth.measure_heldout(REAL_X, PM, n=60, gamma=0.1, splits=2, folds=3)["measured_mean"]
    scaled = rmtsynth.measure_heldout(REAL_X * 1e160, PM, n=60, gamma=0.1, splits=2, folds=3)["measured_mean"]
    np.testing.assert_allclose(scaled, measured, atol=1e-12)
    assert measured.min() > 0.6  # the classes separate: 0.5 would be the overflow's answer


def test_scaled_feature_files_give_the_unscaled_figure(tmp_path: Path) -> None:
    tables = []
    for name, factor in (("plain", 1.0), ("huge", 1e160), ("tiny", 1e-12)):
        np.savez(tmp_path / f"{name}.npz", X=REAL_X * factor, y=REAL_Y)
        cfg = _prediction_config(tmp_path, f"{name}.npz")
        result = invoke("sweep", cfg, "--out", tmp_path / name, "-q", "--workers", 1, "--no-cache")
        assert result.exit_code == 0, result.output
        lines = (tmp_path / name / "pred.csv").read_text().splitlines()
        header = lines[0].split(",")
        row = dict(zip(header, lines[1].split(",")))
        tables.append((float(row["predicted_accuracy"]), float(row["measured_accuracy_mean"])))
    for got in tables[1:]:
        np.testing.assert_allclose(got, tables[0], atol=1e-9)


def test_complex_features_are_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "complex.npz", X=REAL_X + 1j, y=REAL_Y)
    assert_clean_error(_sweep(tmp_path, _prediction_config(tmp_path, "complex.npz")), "complex.npz", "complex")
    assert _no_outputs(tmp_path)
    with pytest.raises(ParameterTypeError, match="real_features holds complex"):
        rmtsynth.predict_heldout(REAL_X + 1j, PM, gamma=0.1)


@pytest.mark.parametrize(("flags", "found"), [((0, 2), "2"), ((5, 6), "5"), ((0.5, 1.5), "0.5"), ((np.nan, 1.0), "nan")])
def test_flags_that_are_not_booleans_are_refused(tmp_path: Path, flags, found) -> None:
    ok = np.where(SYN_Y == 0, flags[0], flags[1])
    np.savez(tmp_path / "syn.npz", X=SYN_X, y=SYN_Y, ok=ok, kept=np.ones(SYN_Y.size, dtype=int))
    cfg = _prediction_config(tmp_path, "real.npz", "synthetic_data: {path: syn.npz, label_correct_key: ok, kept_key: kept}\n",
                             "  m: [0, 50]\n")
    np.savez(tmp_path / "real.npz", X=REAL_X, y=REAL_Y)
    assert_clean_error(_sweep(tmp_path, cfg), "syn.npz", "label correct flags", "0/1", found)
    assert _no_outputs(tmp_path)
    with pytest.raises(ParameterError, match="synthetic\\['kept'\\]"):
        rmtsynth.predict_heldout(REAL_X, PM, gamma=0.1, m_values=[10], synthetic={**POOL, "kept": ok})


def test_scores_must_be_finite_numbers(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="score"):
        rmtsynth.predict_heldout(REAL_X, PM, gamma=0.1, m_values=[10],
                                 synthetic={**POOL, "score": np.full(SYN_Y.size, np.nan), "threshold": 0.0})
    rows = ["a,b,label,score"] + [f"{x[0]},{x[1]},{c},high" for x, c in zip(SYN_X, SYN_Y)]
    write_file(tmp_path / "syn.csv", "\n".join(rows) + "\n")
    np.savez(tmp_path / "real.npz", X=REAL_X[:, :2], y=REAL_Y)
    cfg = _prediction_config(tmp_path, "real.npz", "synthetic_data: {path: syn.csv, score_key: score, threshold: 0.5}\n",
                             "  m: [0, 50]\n")
    assert_clean_error(_sweep(tmp_path, cfg), "syn.csv", "scores", "numbers")
    assert _no_outputs(tmp_path)


@pytest.mark.parametrize("offset", [1, 7])
def test_synthetic_labels_are_the_real_classes_not_their_ranks(tmp_path: Path, offset: int) -> None:
    np.savez(tmp_path / "real.npz", X=REAL_X, y=REAL_Y)
    np.savez(tmp_path / "syn.npz", X=SYN_X, y=SYN_Y + offset)
    cfg = _prediction_config(tmp_path, "real.npz", "synthetic_data: {path: syn.npz}\n", "  m: [0, 50]\n")
    assert_clean_error(_sweep(tmp_path, cfg), "syn.npz", f"label {offset + 1 if offset == 1 else offset}", "real classes")
    assert _no_outputs(tmp_path)


def test_synthetic_labels_as_the_real_classes_or_as_signs_agree(tmp_path: Path) -> None:
    np.savez(tmp_path / "real.npz", X=REAL_X, y=REAL_Y)
    answers = []
    for name, labels in (("same", SYN_Y), ("signs", np.where(SYN_Y == 1, 1, -1))):
        np.savez(tmp_path / f"{name}.npz", X=SYN_X, y=labels)
        cfg = _prediction_config(tmp_path, "real.npz", f"synthetic_data: {{path: {name}.npz}}\n", "  m: [0, 50]\n")
        result = invoke("sweep", cfg, "--out", tmp_path / name, "-q", "--workers", 1, "--no-cache")
        assert result.exit_code == 0, result.output
        answers.append((tmp_path / name / "pred.csv").read_text().replace(f"{name}.npz", "SYN"))
    assert answers[0] == answers[1]


def test_a_rare_class_is_refused_before_any_split(tmp_path: Path) -> None:
    y = np.ones(300, dtype=int)
    y[:3] = 0
    np.savez(tmp_path / "rare.npz", X=_two_gaussians(300, 12, 3)[0], y=y)
    line = assert_clean_error(_sweep(tmp_path, _prediction_config(tmp_path, "rare.npz")), "rare.npz", "3 row(s)")
    assert "held out" in line
    with pytest.raises(ParameterError, match="labels has 3 row"):
        rmtsynth.measure_heldout(_two_gaussians(300, 12, 3)[0], np.where(y == 1, 1.0, -1.0), n=100, gamma=0.1, splits=1)


@pytest.mark.parametrize("rows", [2, 4])
def test_too_few_rows_for_the_cross_fit_are_refused(rows: int) -> None:
    with pytest.raises(ParameterError, match="5-fold cross-fit"):
        rmtsynth.predict_heldout(REAL_X[:rows], PM[:rows], gamma=0.1, correction="cross-fit")
    with pytest.raises(ParameterError, match="at least 2"):
        rmtsynth.predict_heldout(REAL_X[:2], PM[:2], gamma=0.1, correction="none")
    # Without synthetic rows the default is the leave-one-out, which folds nothing: 2 rows per class do.
    if rows == 2:
        with pytest.raises(ParameterError, match="leave-one-out.*at least 2"):
            rmtsynth.predict_heldout(REAL_X[:rows], PM[:rows], gamma=0.1)
    else:
        assert 0.0 <= float(rmtsynth.predict_heldout(REAL_X[:rows], PM[:rows], gamma=0.1)["accuracy"][0]) <= 1.0


# ----------------------------------------------------------------------------- the Python API


@pytest.mark.parametrize(
    ("call", "error", "needle"),
    [
        (lambda: rmtsynth.predict_heldout(REAL_X, PM, gamma="0.1"), ParameterTypeError, "gamma"),
        (lambda: rmtsynth.measure_heldout(REAL_X, PM, n="60", gamma=0.1), ParameterTypeError, "n = '60'"),
        (lambda: rmtsynth.measure_heldout(REAL_X, PM, n=60.5, gamma=0.1), ParameterError, "n = 60.5"),
        (lambda: rmtsynth.predict_heldout(REAL_X, PM, gamma=0.1, seed=-1), ParameterError, "seed"),
        (lambda: rmtsynth.measure_heldout(REAL_X, PM, n=60, gamma=0.1, seed=-1), ParameterError, "seed"),
        (lambda: rmtsynth.predict_heldout(REAL_X, PM, gamma=0.1, m_values=[10],
                                          synthetic={"features": SYN_X, "lables": POOL["labels"]}), ParameterError, "'labels'"),
        (lambda: rmtsynth.predict_heldout(REAL_X, PM, gamma=0.1, m_values=[10], synthetic={**POOL, "weights": 1}),
         ParameterError, "'weights'"),
        (lambda: rmtsynth.predict_heldout(REAL_X, PM, gamma=0.1, m_values=[10],
                                          synthetic={**POOL, "features": SYN_X[:, :5]}), ParameterError, "5 features"),
        (lambda: rmtsynth.measure_heldout(REAL_X, PM, n=60, gamma=0.1, m_values=[10],
                                          synthetic={**POOL, "features": SYN_X[:, :5]}), ParameterError, "5 features"),
        (lambda: rmtsynth.predict_heldout(REAL_X, PM, gamma=0.1, m_values=[10], synthetic=SYN_X), ParameterTypeError,
         "synthetic must be a mapping"),
        (lambda: rmtsynth.measure_heldout(REAL_X, PM, n=60, gamma=0.1, synthetic=POOL, m_values="100"),
         ParameterTypeError, "m_values"),
        (lambda: rmtsynth.measure_heldout(REAL_X, PM, n=60, gamma=0.1, synthetic=POOL, m_values=[10], verifiers="oracle"),
         ParameterTypeError, "verifiers"),
        (lambda: rmtsynth.predict_heldout(REAL_X, PM, gamma=0.1, m_values=[10],
                                          synthetic={**POOL, "features": np.full_like(SYN_X, np.nan)}),
         ParameterError, "not a finite number"),
        (lambda: rmtsynth.predict_heldout(REAL_X, PM, gamma=0.1, m_values=[10 ** 9], synthetic=POOL), ParameterError,
         "m_values"),
        (lambda: rmtsynth.predict(n=100, m=10, p=20, gamma="0.1"), ParameterTypeError, "gamma"),
        (lambda: rmtsynth.predict(n="60", m=10, p=20), ParameterTypeError, "n = '60'"),
        (lambda: rmtsynth.simulate(n=10, m=10, p=5, seeds=2, seed=-1), ParameterError, "seed"),
    ],
)
def test_the_api_names_the_parameter(call, error, needle: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert needle in str(info.value)
    assert isinstance(info.value, (TypeError, ValueError))


def test_a_cache_dir_that_is_a_file_is_a_value_error(tmp_path: Path) -> None:
    blocker = write_file(tmp_path / "a_file", "x")
    config = {"params": {"n": 10, "m": 20, "p": 8, "label_noise": [0.1, 0.3]}, "x": {"param": "label_noise"},
              "simulation": {"seeds": 2}}
    for path in (blocker, blocker / "below"):
        with pytest.raises(ParameterError, match="cache_dir"):
            rmtsynth.sweep(config, cache_dir=path)


# ----------------------------------------------------------------------------- files


def test_an_object_array_npz_is_named_as_such(tmp_path: Path) -> None:
    np.savez(tmp_path / "objects.npz", X=np.array([[1, "a"], [2, None]], dtype=object), y=np.array([0, 1]))
    cfg = _prediction_config(tmp_path, "objects.npz")
    line = assert_clean_error(_sweep(tmp_path, cfg), "objects.npz", "Python objects")
    assert "claims more data" not in line


def test_generations_refuses_data(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "configs" / "generations_accuracy.yaml").read_text()
    cfg = write_file(tmp_path / "gen.yaml", text + "data: {path: missing.npz}\n")
    assert_clean_error(invoke("validate", cfg), "data is not used by kind generations")


def _plan(tmp_path: Path, data: str, extra: str = "") -> Path:
    return write_file(
        tmp_path / "plan" / "p.yaml",
        f"seed: 0\ndata: {{path: ../{data}{extra}}}\n"
        "params: {n: 40, label_noise: 0.2, verifier_precision: 0.9, verifier_recall: 0.8, gamma: 0.1, m_over_n: 2}\n",
    )


def test_plan_on_duplicated_rows(tmp_path: Path) -> None:
    np.savez(tmp_path / "copies.npz", X=np.repeat(REAL_X[:2], 50, axis=0), y=np.repeat(REAL_Y[:2], 50))
    assert_clean_error(invoke("plan", _plan(tmp_path, "copies.npz")), "copies.npz", "no noise within its classes")
    np.savez(tmp_path / "twice.npz", X=np.repeat(REAL_X, 2, axis=0), y=np.repeat(REAL_Y, 2))
    result = invoke("plan", _plan(tmp_path, "twice.npz"), "--json")
    assert result.exit_code == 0, result.output


def test_plan_numbers_do_not_depend_on_the_units(tmp_path: Path) -> None:
    import json

    answers = []
    for name, factor in (("plain", 1.0), ("huge", 1e160)):
        np.savez(tmp_path / f"{name}.npz", X=REAL_X * factor, y=REAL_Y)
        result = invoke("plan", _plan(tmp_path, f"{name}.npz"), "--json")
        assert result.exit_code == 0, result.output
        answers.append(json.loads(result.stdout)["accuracy_real_only"])
    assert answers[0] == pytest.approx(answers[1], abs=1e-9) and answers[0] > 0.55


def test_plan_data_path_needs_no_p_by_p_matrix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Wide data (p > rows) without use_covariance: the planner's fit is O(rows p); no p x p array is built.
    from rmtsynth.config import plan_config

    rng = np.random.default_rng(5)
    p = 3000
    X = rng.standard_normal((40, p))
    X[1::2, :50] += 6.0
    np.savez(tmp_path / "wide.npz", X=X, y=np.arange(40) % 2)
    seen: list[tuple[int, ...]] = []
    import rmtsynth.data.protocols as protocols

    original = protocols.fit_gaussian

    def spy(*args, **kwargs):
        seen.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(protocols, "fit_gaussian", spy)
    spec = plan_config.parse_data_entry({"path": str(tmp_path / "wide.npz")}, "data", tmp_path, use="plan")
    info, model, params = plan_config._apply_data(spec, {"n": 40}, 0)
    assert not seen and model is None
    assert info["p"] == p and info["mu_norm"] > 0
    spec = plan_config.parse_data_entry({"path": str(tmp_path / "wide.npz"), "use_covariance": True}, "data", tmp_path,
                                        use="plan")
    monkeypatch.setattr(plan_config, "MAX_COVARIANCE_FEATURES", 1000)
    with pytest.raises(ConfigError, match="data.use_covariance: .* 3000 features"):
        plan_config._apply_data(spec, {"n": 40}, 0)


# ----------------------------------------------------------------------------- sizes


def test_a_gaussian_pool_has_an_upper_bound(tmp_path: Path) -> None:
    np.savez(tmp_path / "real.npz", X=REAL_X, y=REAL_Y)
    cfg = _prediction_config(tmp_path, "real.npz", "", "  panels: [{synthetic: {generator: gaussian, pool_rows: 50, "
                             "rows: 1000000000}, m: [0, 10]}]\n")
    assert_clean_error(invoke("validate", cfg), "synthetic.rows = 1000000000", "1000000")


def test_a_roc_curve_has_a_length_cap(tmp_path: Path) -> None:
    points = ", ".join(f"[{i / 2000:.6f}, {min(1.0, 2 * i / 2000):.6f}]" for i in range(2001))
    cfg = write_file(tmp_path / "plan" / "roc.yaml", "params: {n: 200, p: 200, mu_norm: 1.0, label_noise: 0.3, gamma: 1.0, "
                     f"m_over_n: 2}}\nverifier_roc: [{points}]\n")
    assert_clean_error(invoke("plan", cfg), "verifier_roc has 2001 points", "at most 1000")


def test_accumulate_generations_in_a_plan_are_bounded(tmp_path: Path) -> None:
    cfg = write_file(tmp_path / "plan" / "loop.yaml", "params: {n: 200, m_over_n: 4, p_over_n: 1, mu_norm: 1.5, "
                     "label_noise: 0.1, verifier_precision: 0.95, verifier_recall: 1.0, gamma: 0.5}\n"
                     "loop: {regime: accumulate, generations: 200}\n")
    assert_clean_error(invoke("plan", cfg), "generations = 200", "accumulate", "at most 100")


# ----------------------------------------------------------------------------- MNIST files


def _mnist_images(seed: int, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    protos = np.random.default_rng(99).integers(0, 256, (10, 784))
    y = np.repeat(np.arange(10), per_class)
    X = np.clip(protos[y] + rng.normal(0, 40, (y.size, 784)), 0, 255).astype(np.uint8)
    return X, y


def _mnist_config(tmp_path: Path, data: str, test: str = "10") -> Path:
    return write_file(
        tmp_path / "mnist.yaml",
        f"kind: mnist\nseed: 0\ndata: {{path: {data}}}\nsimulation: {{seeds: 1}}\n"
        f"mnist: {{n_per_class: 5, m_per_class: [0], pool_per_class: 20, test_per_class: {test}, steps: 30, "
        "warmup_steps: 3, hidden: 16, panels: [{title: a, series: [{label: real}]}]}\n",
    )


@pytest.mark.parametrize(
    ("arrays", "test", "needles"),
    [
        (lambda X, y, Xt, yt: dict(x_train=X, y_train=y.astype(str), x_test=Xt, y_test=yt), "10", ("labels", "digits 0 to 9")),
        (lambda X, y, Xt, yt: dict(x_train=X, y_train=y, x_test=Xt[:0], y_test=yt[:0]), "10", ("test images are empty",)),
        (lambda X, y, Xt, yt: dict(X=X, y=y), "all", ("mnist.test_per_class = 'all'", "test split")),
        (lambda X, y, Xt, yt: dict(X=X[y < 3], y=y[y < 3]), "10", ("only the digits 0, 1, 2",)),
        (lambda X, y, Xt, yt: dict(x_train=X * 1e30, y_train=y, x_test=Xt * 1e30, y_test=yt), "10", ("0 to 255",)),
        (lambda X, y, Xt, yt: dict(x_train=X - 128.0, y_train=y, x_test=Xt - 128.0, y_test=yt), "10", ("0 to 255",)),
    ],
)
def test_bad_mnist_files_are_named(tmp_path: Path, arrays, test: str, needles) -> None:
    X, y = _mnist_images(0, 40)
    Xt, yt = _mnist_images(1, 10)
    np.savez(tmp_path / "digits.npz", **arrays(X, y, Xt, yt))
    result = invoke("sweep", _mnist_config(tmp_path, "digits.npz", test), "--out", tmp_path / "out", "-q", "--workers", 1,
                    "--no-cache")
    assert_clean_error(result, *needles)
    assert _no_outputs(tmp_path)


def test_mnist_pixels_in_zero_one_are_rescaled_and_said(tmp_path: Path) -> None:
    X, y = _mnist_images(0, 40)
    Xt, yt = _mnist_images(1, 10)
    np.savez(tmp_path / "raw.npz", x_train=X, y_train=y, x_test=Xt, y_test=yt)
    np.savez(tmp_path / "unit.npz", x_train=X / 255.0, y_train=y, x_test=Xt / 255.0, y_test=yt)
    tables = {}
    for name in ("raw", "unit"):
        cfg = _mnist_config(tmp_path, f"{name}.npz")
        result = invoke("sweep", cfg, "--out", tmp_path / name, "-q", "--workers", 1, "--no-cache")
        assert result.exit_code == 0, result.output
        tables[name] = (tmp_path / name / "mnist.csv").read_text()
    assert "rescaled from [0, 1] to [0, 255]" in tables["unit"] and "rescaled" not in tables["raw"]
    column = tables["raw"].splitlines()[0].split(",").index("accuracy_mean")
    raw_acc = tables["raw"].splitlines()[1].split(",")[column]
    unit_acc = tables["unit"].splitlines()[1].split(",")[column]
    assert raw_acc == unit_acc  # the same images, the same experiment
