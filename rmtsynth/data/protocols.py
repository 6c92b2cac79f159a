"""Real data: the Gaussian fit and the real-plus-synthetic experiment (loading: :mod:`rmtsynth.data.loaders`).

The experiment (FIGURES.md, figure 6; THEORY.md section 11.4) trains the ridge classifier
``w = (S/N + gamma I)^{-1} r/N`` on n real rows plus m synthetic samples drawn from a Gaussian
fitted to the real data, with noisy synthetic labels filtered by a verifier (rho, phi), and
measures its accuracy on real rows. Two protocols are offered by name:

``held-out`` (the default)
    The generator (class means and within-class covariance) and the standardisation are
    estimated on the n training rows only, and accuracy is measured on the remaining rows.
``paper``
    What the seed paper's code did: the features are standardised with the mean and standard
    deviation of *all* rows, the generator's class means are estimated on all rows before the
    split (the covariance on the training rows, about those means), and the test set is all
    rows, training rows included. It reproduces the published curves, and leaks the test set.
    (The training split is stratified in both protocols; the paper's was a plain random split,
    which makes no material difference on balanced data.)

Features are centred at the midpoint of the two class means the generator uses, so that the
classifier ``sign(w^T x)`` needs no bias: in those coordinates the class means are ``+-mu``,
as in the theory's model ``x = y mu + noise``.

Randomness: seed ``k`` has the seed sequence ``SeedSequence(root_seed, spawn_key=(k,))``; its
split is drawn from ``spawn_key=(k, 0)`` and its synthetic samples for size m from
``spawn_key=(k, 1, m)``. A result therefore depends neither on the order of the loops nor on
which other m values or verifiers are in the run, the split of seed k is the same for every
(verifier, m) and both protocols, and all verifiers see the same synthetic samples and label
flips (common random numbers), so the curves are paired.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from rmtsynth.errors import RmtsynthError
from rmtsynth.core.learners import Learner, get_learner
from rmtsynth.core.verifiers import LabelVerifier, Verifier

Protocol = Literal["held-out", "paper"]
PROTOCOLS: tuple[str, ...] = ("held-out", "paper")

# Synthetic samples are generated and accumulated in blocks of this many rows, so that memory
# stays bounded for large m; it is a constant because the random stream depends on it.
_BLOCK_ROWS = 8192


# --------------------------------------------------------------------------------------------
# The Gaussian fit
# --------------------------------------------------------------------------------------------


@dataclass
class GaussianFit:
    """Per-class means and the pooled within-class covariance of two-class data.

    Attributes
    ----------
    mean_pos, mean_neg : (p,) arrays
        The class means of y = +1 and y = -1.
    mu : (p,) array
        The half-difference (mean_pos - mean_neg) / 2.
    centre : (p,) array
        The midpoint (mean_pos + mean_neg) / 2; in coordinates centred there the class means
        are +-mu.
    covariance : (p, p) array
        The pooled within-class covariance: sum over rows of (x - its class mean)(...)^T,
        divided by the number of rows (the maximum-likelihood normalisation, as in the paper).
    n_pos, n_neg : int
        The number of rows the covariance was estimated on, per class.
    """

    mean_pos: np.ndarray
    mean_neg: np.ndarray
    mu: np.ndarray
    centre: np.ndarray
    covariance: np.ndarray
    n_pos: int
    n_neg: int
    #: The rows about their class means (rows x p), when the fit kept them: the covariance is
    #: their Gram over the rows, so they factor it at rank <= rows.
    residuals: np.ndarray | None = field(default=None, repr=False, compare=False)
    _eig: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def p(self) -> int:
        return int(self.mu.shape[0])

    @property
    def rows(self) -> int:
        return self.n_pos + self.n_neg

    @property
    def mean_noise(self) -> float:
        """k = (1/n+ + 1/n-)/4: the half-difference of the class means is mu + N(0, k Sigma)."""
        return (1.0 / self.n_pos + 1.0 / self.n_neg) / 4.0

    def eigh(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (ascending, clipped at 0) and orthonormal eigenvectors (columns) of the covariance."""
        if self._eig is None:
            values, vectors = np.linalg.eigh(self.covariance)
            # Round-off makes the zero eigenvalues of a rank-deficient covariance slightly negative.
            self._eig = (np.clip(values, 0.0, None), vectors)
        return self._eig

    def noise_factor(self, use_covariance: bool = True) -> np.ndarray:
        """A (p, p) matrix L with L L^T equal to the covariance (or to the average variance times I)."""
        if not use_covariance:
            return math.sqrt(self.average_variance) * np.eye(self.p)
        values, vectors = self.eigh()
        return vectors * np.sqrt(values)

    @property
    def average_variance(self) -> float:
        """tr(covariance) / p."""
        return float(np.trace(self.covariance)) / self.p


def fit_gaussian(X: np.ndarray, y: np.ndarray) -> GaussianFit:
    """Fit the two-class Gaussian model: class means and the pooled within-class covariance.

    Parameters
    ----------
    X : (samples, p) array
    y : (samples,) array of -1 and +1 (both present)
    """
    X, y = _check_xy(X, y)
    mean_pos = X[y > 0].mean(axis=0)
    mean_neg = X[y < 0].mean(axis=0)
    return _fit_with_means(X, y, mean_pos, mean_neg)


def _fit_with_means(X: np.ndarray, y: np.ndarray, mean_pos: np.ndarray, mean_neg: np.ndarray) -> GaussianFit:
    # The covariance is taken about the given means, which are not the rows' own class means in
    # the paper's protocol (there they come from all rows).
    residual = X - np.where((y > 0)[:, None], mean_pos, mean_neg)
    covariance = residual.T @ residual / X.shape[0]
    return GaussianFit(
        mean_pos=mean_pos,
        mean_neg=mean_neg,
        mu=(mean_pos - mean_neg) / 2.0,
        centre=(mean_pos + mean_neg) / 2.0,
        covariance=(covariance + covariance.T) / 2.0,
        n_pos=int(np.count_nonzero(y > 0)),
        n_neg=int(np.count_nonzero(y < 0)),
        residuals=residual,
    )


def balanced_labels(m: int, rng: np.random.Generator) -> np.ndarray:
    """m labels, half -1 and half +1 in random order (an odd one out is a fair coin)."""
    half = m // 2
    labels = np.concatenate([-np.ones(half), np.ones(half), rng.choice([-1.0, 1.0], size=m - 2 * half)])
    rng.shuffle(labels)
    return labels


def sample_from_fit(
    fit: GaussianFit, m: int, rng: np.random.Generator, *, use_covariance: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Draw m samples from the fitted Gaussian generator, in the original feature coordinates.

    Parameters
    ----------
    fit
        The fitted model.
    m
        The number of samples.
    rng
        The random generator.
    use_covariance
        With True the noise has the fitted within-class covariance; with False it is isotropic
        with the average variance tr(covariance)/p (FIGURES.md, figure 5).

    Returns
    -------
    X_synth : (m, p) array, ``centre + y mu + noise``
    y_synth : (m,) array of balanced random labels -1/+1
    """
    if m < 0:
        raise RmtsynthError(f"The number of synthetic samples must be non-negative, not {m}.")
    y = balanced_labels(int(m), rng)
    noise = rng.standard_normal((int(m), fit.p)) @ fit.noise_factor(use_covariance).T
    return fit.centre + y[:, None] * fit.mu + noise, y


@dataclass(frozen=True)
class FittedTheoryInputs:
    """The inputs of THEORY.md section 11.2 for a Gaussian fitted to real data.

    With the generator equal to the fit, Sigma = C = the within-class covariance, so
    ``ell == sigma`` and ``b == a``. Fed to the theory they predict the accuracy *on the fitted
    Gaussian*, not the held-out accuracy on the real data (THEORY.md 11.4).

    Attributes
    ----------
    sigma, ell : (p,) arrays
        The eigenvalues of the fitted within-class covariance (ascending, clipped at 0).
    a, b : (p,) arrays
        The coordinates U^T mu_hat of the half-difference of the class means in its eigenbasis.
    """

    sigma: np.ndarray
    ell: np.ndarray
    a: np.ndarray
    b: np.ndarray


def fitted_gaussian_theory_inputs(X_train: np.ndarray, y_train: np.ndarray) -> FittedTheoryInputs:
    """Eigenvalues of the fitted within-class covariance and U^T mu_hat (THEORY.md 11.2).

    ``X_train`` should already be in the coordinates the classifier is trained in (standardised
    with the training statistics, as ``run_real_data`` does). The theory fed with these predicts
    the accuracy on the fitted Gaussian, not of held-out accuracy.
    """
    fit = fit_gaussian(X_train, y_train)
    values, vectors = fit.eigh()
    a = vectors.T @ fit.mu
    return FittedTheoryInputs(sigma=values, ell=values.copy(), a=a, b=a.copy())


# --------------------------------------------------------------------------------------------
# The experiment
# --------------------------------------------------------------------------------------------


def copy_groups(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The group of each row: rows with the same features and label share one (numbered by first row).

    A held-out row must not stay in training through a copy of itself, so every leave-out and
    fold of the held-out protocol moves a whole group at once.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1, 1)
    _, first, inverse = np.unique(np.hstack([X, y]), axis=0, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)]


def group_folds(groups: np.ndarray, y: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """The fold of each row, stratified by class, with the copies of a row always in one fold.

    Groups are dealt in a random order to the fold of their class holding the fewest rows so far;
    with no copies this is the usual round robin over a random permutation of each class.
    """
    y = np.asarray(y, dtype=float).reshape(-1)
    fold_of = np.empty(y.size, dtype=np.int64)
    for cls in (-1.0, 1.0):
        members = np.flatnonzero(y == cls)
        heads = np.unique(groups[members])
        sizes = np.bincount(np.searchsorted(heads, groups[members]), minlength=heads.size)
        filled = np.zeros(folds, dtype=np.int64)
        fold_of_head = np.empty(heads.size, dtype=np.int64)
        for h in rng.permutation(heads.size):
            f = int(np.argmin(filled))
            fold_of_head[h] = f
            filled[f] += sizes[h]
        fold_of[members] = fold_of_head[np.searchsorted(heads, groups[members])]
    return fold_of


def stratified_split(y: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random training split of n rows, balanced across the two classes as far as possible.

    Each class gets n/2 rows (the odd one to a random class); when a class has fewer rows, all
    of them are taken and the rest come from the other class.

    Returns
    -------
    train, test : sorted integer index arrays, disjoint, together covering every row
    """
    y = np.asarray(y)
    pos = np.flatnonzero(y > 0)
    neg = np.flatnonzero(y < 0)
    if not 0 <= n <= pos.size + neg.size:
        raise RmtsynthError(
            f"The training size n = {n} must be between 0 and the {pos.size + neg.size} rows available."
        )
    n_pos = n // 2 + (int(rng.integers(2)) if n % 2 else 0)
    n_pos = min(max(n_pos, n - neg.size), pos.size)
    n_neg = n - n_pos
    train = np.concatenate([rng.choice(pos, size=n_pos, replace=False), rng.choice(neg, size=n_neg, replace=False)])
    train.sort()
    mask = np.ones(y.shape[0], dtype=bool)
    mask[train] = False
    return train, np.flatnonzero(mask)


def seed_sequence(root_seed: int, seed_index: int, *stream: int) -> np.random.SeedSequence:
    """The seed sequence of seed ``seed_index`` (and of one of its streams)."""
    return np.random.SeedSequence(entropy=int(root_seed), spawn_key=(int(seed_index), *map(int, stream)))


def split_for_seed(y: np.ndarray, n: int, *, root_seed: int, seed_index: int) -> tuple[np.ndarray, np.ndarray]:
    """The (train, test-candidate) split of seed ``seed_index``: the same for every verifier, m and protocol."""
    return stratified_split(y, n, np.random.default_rng(seed_sequence(root_seed, seed_index, 0)))


@dataclass(frozen=True)
class PreparedSeed:
    """What one seed of the experiment needs, in the centred coordinates the classifier uses.

    Attributes
    ----------
    train, test : index arrays into the rows of the data
        The training rows, and the rows accuracy is measured on.
    fit : GaussianFit
        The generator (its centre is the origin of the coordinates below).
    real_gram, real_moment : arrays
        X_trainᵀ X_train (p, p) and X_trainᵀ y_train (p,) of the centred training rows.
    X_test, y_test : arrays
        The centred evaluation rows and their labels.
    """

    train: np.ndarray
    test: np.ndarray
    fit: GaussianFit
    real_gram: np.ndarray
    real_moment: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    #: The centred training rows and their labels, for a learner that is fitted on rows.
    X_train: np.ndarray | None = None
    y_train: np.ndarray | None = None


def prepare_seed(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n: int,
    protocol: Protocol,
    root_seed: int,
    seed_index: int,
    standardize: bool = True,
) -> PreparedSeed:
    """Split, standardise, fit the generator and centre the data for one seed."""
    train, held_out = split_for_seed(y, n, root_seed=root_seed, seed_index=seed_index)
    if standardize:
        # held-out: training statistics only. paper: the paper's code standardised with every
        # row (a second leak of the test set), and its published numbers need it: with training
        # statistics the oracle curve on Amazon books ends near 0.843 instead of 0.852.
        fitted_on = train if protocol == "held-out" else slice(None)
        loc = X[fitted_on].mean(axis=0)
        scale = X[fitted_on].std(axis=0)
        # A constant feature keeps scale 1 so that it stays constant (and is then removed by
        # the centring) instead of dividing by zero.
        scale[scale <= 1e-12 * max(1.0, float(np.max(np.abs(loc), initial=0.0)))] = 1.0
        Z = (X - loc) / scale
    else:
        Z = X
    if protocol == "paper":
        # The paper estimated the generator's class means on every row before splitting.
        mean_pos, mean_neg = Z[y > 0].mean(axis=0), Z[y < 0].mean(axis=0)
        test = np.arange(y.shape[0])
    else:
        mean_pos, mean_neg = Z[train][y[train] > 0].mean(axis=0), Z[train][y[train] < 0].mean(axis=0)
        test = held_out
    fit = _fit_with_means(Z[train], y[train], mean_pos, mean_neg)
    centred_fit = GaussianFit(
        mean_pos=mean_pos - fit.centre,
        mean_neg=mean_neg - fit.centre,
        mu=fit.mu,
        centre=np.zeros_like(fit.centre),
        covariance=fit.covariance,
        n_pos=fit.n_pos,
        n_neg=fit.n_neg,
    )
    X_train = Z[train] - fit.centre
    return PreparedSeed(
        train=train,
        test=test,
        fit=centred_fit,
        real_gram=X_train.T @ X_train,
        real_moment=X_train.T @ y[train],
        X_test=Z[test] - fit.centre,
        y_test=y[test],
        X_train=X_train,
        y_train=y[train],
    )


def seed_accuracies(
    prepared: PreparedSeed,
    *,
    n: int,
    m_values: Sequence[int],
    label_noise: float,
    verifiers: Sequence["Verifier | tuple[float, float]"],
    gamma: float,
    root_seed: int,
    seed_index: int,
    learner: Learner | str = "ridge",
) -> np.ndarray:
    """Test accuracies of one seed, shape (len(verifiers), len(m_values)).

    For a quadratic loss the synthetic rows enter through their Gram matrices; any other learner
    keeps each verifier's rows and is fitted on them (the same draws).
    """
    learner = get_learner(learner)
    verifiers = [as_label_verifier(v) for v in verifiers]
    if not learner.quadratic:
        return _rows_seed_accuracies(prepared, n=n, m_values=m_values, label_noise=label_noise, verifiers=verifiers,
                                     gamma=gamma, root_seed=root_seed, seed_index=seed_index, learner=learner)
    # The ridge classifier is rotation-equivariant (gamma I is invariant), so the work is done
    # in the eigenbasis of the generator's covariance, where its noise is independent per
    # coordinate and costs no matrix product.
    values, basis = prepared.fit.eigh()
    noise_scale = np.sqrt(values)
    mu = basis.T @ prepared.fit.mu
    real_gram = basis.T @ prepared.real_gram @ basis
    real_moment = basis.T @ prepared.real_moment
    X_test = prepared.X_test @ basis
    p = mu.shape[0]
    if len(verifiers) > 62:
        raise RmtsynthError(f"At most 62 verifiers can be run together, not {len(verifiers)}.")
    bits = 1 << np.arange(len(verifiers), dtype=np.int64)
    out = np.empty((len(verifiers), len(m_values)))
    for j, m in enumerate(m_values):
        rng = np.random.default_rng(seed_sequence(root_seed, seed_index, 1, int(m)))
        grams = [real_gram.copy() for _ in verifiers]
        moments = [real_moment.copy() for _ in verifiers]
        y_all = balanced_labels(int(m), rng)
        for start in range(0, int(m), _BLOCK_ROWS):
            y_s = y_all[start : start + _BLOCK_ROWS]
            rows = y_s.shape[0]
            X_s = y_s[:, None] * mu + rng.standard_normal((rows, p)) * noise_scale
            flipped = rng.random(rows) < label_noise
            noisy = np.where(flipped, -y_s, y_s)
            # One uniform per sample shared by all verifiers (common random numbers): a sample
            # kept by a verifier with a lower rate is kept by every one with a higher rate.
            u = rng.random(rows)
            membership = np.zeros(rows, dtype=np.int64)
            for v, verifier in enumerate(verifiers):
                membership |= np.where(verifier.keep(~flipped, u, features=X_s, labels=noisy), bits[v], 0)
            # Samples kept by the same set of verifiers enter each of their Gram matrices once,
            # so overlapping verifiers (e.g. oracle and none) share the products.
            for code in np.unique(membership):
                if code == 0:
                    continue
                group = membership == code
                X_g = X_s[group]
                gram_g = X_g.T @ X_g
                moment_g = X_g.T @ noisy[group]
                for v in range(len(verifiers)):
                    if code & bits[v]:
                        grams[v] += gram_g
                        moments[v] += moment_g
        N = n + int(m)
        for v in range(len(verifiers)):
            w = learner.fit_statistics(grams[v], moments[v], N, gamma)
            predicted = np.where(X_test @ w >= 0.0, 1.0, -1.0)
            out[v, j] = float(np.mean(predicted == prepared.y_test))
    return out


def _synthetic_blocks(mu: np.ndarray, noise_scale: np.ndarray, m: int, label_noise: float, verifiers: list,
                      rng: np.random.Generator):
    """The synthetic rows of one m in blocks, drawn as :func:`seed_accuracies` draws them:
    (rows, noisy labels, keep flags of each verifier)."""
    y_all = balanced_labels(int(m), rng)
    for start in range(0, int(m), _BLOCK_ROWS):
        y_s = y_all[start : start + _BLOCK_ROWS]
        X_s = y_s[:, None] * mu + rng.standard_normal((y_s.shape[0], mu.shape[0])) * noise_scale
        flipped = rng.random(y_s.shape[0]) < label_noise
        noisy = np.where(flipped, -y_s, y_s)
        u = rng.random(y_s.shape[0])
        yield X_s, noisy, [verifier.keep(~flipped, u, features=X_s, labels=noisy) for verifier in verifiers]


def _rows_seed_accuracies(prepared: PreparedSeed, *, n: int, m_values: Sequence[int], label_noise: float,
                          verifiers: list, gamma: float, root_seed: int, seed_index: int,
                          learner: Learner) -> np.ndarray:
    """:func:`seed_accuracies` for a learner fitted on rows: each verifier's kept rows, then ``learner.fit``."""
    if prepared.X_train is None or prepared.y_train is None:
        raise RmtsynthError(f"learner = {learner.name!r} is fitted on rows, and this seed kept only Gram matrices.")
    values, basis = prepared.fit.eigh()
    # The L2 penalty is rotation invariant too, so the eigenbasis of the generator serves as for ridge.
    mu, noise_scale = basis.T @ prepared.fit.mu, np.sqrt(values)
    X_real, X_test = prepared.X_train @ basis, prepared.X_test @ basis
    out = np.empty((len(verifiers), len(m_values)))
    for j, m in enumerate(m_values):
        rng = np.random.default_rng(seed_sequence(root_seed, seed_index, 1, int(m)))
        rows: list[list[np.ndarray]] = [[X_real] for _ in verifiers]
        labels: list[list[np.ndarray]] = [[prepared.y_train] for _ in verifiers]
        for X_s, noisy, kept in _synthetic_blocks(mu, noise_scale, int(m), label_noise, verifiers, rng):
            for v, keep in enumerate(kept):
                rows[v].append(X_s[keep])
                labels[v].append(noisy[keep])
        for v in range(len(verifiers)):
            w = learner.fit(np.concatenate(rows[v]).T, np.concatenate(labels[v]), n + int(m), gamma)
            out[v, j] = float(np.mean(np.where(X_test @ w >= 0.0, 1.0, -1.0) == prepared.y_test))
    return out


def real_data_accuracies(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n: int,
    m_values: Sequence[int],
    label_noise: float,
    verifiers: Mapping[str, tuple[float, float]],
    gamma: float,
    protocol: Protocol = "held-out",
    seeds: int = 5,
    root_seed: int = 0,
    standardize: bool = True,
) -> np.ndarray:
    """Per-seed test accuracies of the real-plus-synthetic experiment.

    Parameters are those of :func:`run_real_data`.

    Returns
    -------
    (seeds, len(verifiers), len(m_values)) array; verifiers in the mapping's order.
    """
    X, y = _check_xy(X, y)
    m_list = _check_run(y, n=n, m_values=m_values, label_noise=label_noise, verifiers=verifiers,
                        gamma=gamma, protocol=protocol, seeds=seeds)
    rates = [as_label_verifier(verifiers[name]) for name in verifiers]
    out = np.empty((int(seeds), len(rates), len(m_list)))
    for k in range(int(seeds)):
        prepared = prepare_seed(X, y, n=n, protocol=protocol, root_seed=root_seed, seed_index=k,
                                standardize=standardize)
        out[k] = seed_accuracies(prepared, n=n, m_values=m_list, label_noise=label_noise, verifiers=rates,
                                 gamma=gamma, root_seed=root_seed, seed_index=k)
    return out


def summarize_real_data(
    accuracies: np.ndarray,
    *,
    n: int,
    m_values: Sequence[int],
    verifiers: Mapping[str, tuple[float, float]],
    protocol: Protocol,
    label_noise: float | None = None,
    gamma: float | None = None,
) -> list[dict[str, Any]]:
    """Tidy rows (one per verifier and m) from per-seed accuracies.

    ``accuracy_se`` is the standard deviation over seeds (ddof = 1) over sqrt(seeds); NaN with
    a single seed.
    """
    accuracies = np.asarray(accuracies, dtype=float)
    seeds = accuracies.shape[0]
    rows: list[dict[str, Any]] = []
    for v, name in enumerate(verifiers):
        rho, phi = as_label_verifier(verifiers[name]).label_rates()
        for j, m in enumerate(m_values):
            values = accuracies[:, v, j]
            se = float(np.std(values, ddof=1) / math.sqrt(seeds)) if seeds > 1 else math.nan
            row: dict[str, Any] = {
                "verifier": name,
                "rho": rho,
                "phi": phi,
                "m": int(m),
                "synthetic_proportion": int(m) / (n + int(m)),
                "accuracy_mean": float(np.mean(values)),
                "accuracy_se": se,
                "seeds": int(seeds),
                "protocol": protocol,
                "n": int(n),
            }
            if label_noise is not None:
                row["label_noise"] = float(label_noise)
            if gamma is not None:
                row["gamma"] = float(gamma)
            rows.append(row)
    return rows


def run_real_data(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n: int,
    m_values: Sequence[int],
    label_noise: float,
    verifiers: Mapping[str, tuple[float, float]],
    gamma: float,
    protocol: Protocol = "held-out",
    seeds: int = 5,
    root_seed: int = 0,
    standardize: bool = True,
) -> list[dict[str, Any]]:
    """Accuracy of ridge on n real rows plus m verified synthetic samples, per verifier and m.

    Parameters
    ----------
    X : (samples, p) array
    y : (samples,) array of -1 and +1
    n
        The number of real training rows (a stratified random split per seed).
    m_values
        The numbers of synthetic samples drawn (before the verifier); 0 is real data only.
    label_noise
        The probability eps that a synthetic label is flipped.
    verifiers
        name -> (rho, phi) (a wrong label is kept with probability rho, a correct one with phi), or
        name -> :class:`~rmtsynth.core.verifiers.Verifier`.
    gamma
        The ridge parameter; ``w = (S/N + gamma I)^{-1} r/N`` with N = n + m.
    protocol
        ``held-out`` (generator from the training rows, test on the other rows) or ``paper``
        (generator means from all rows, test on all rows); see the module docstring.
    seeds
        The number of seeds; each redraws the split and the synthetic data.
    root_seed
        The root of all randomness.
    standardize
        Standardise every feature to zero mean and unit standard deviation, with the statistics
        of the training rows (``held-out``) or of all rows as the paper did (``paper``);
        constant features are left at scale 1.

    Returns
    -------
    list of dict
        One row per (verifier, m) with keys verifier, rho, phi, m, synthetic_proportion,
        accuracy_mean, accuracy_se, seeds, protocol, n, label_noise, gamma.
    """
    accuracies = real_data_accuracies(
        X, y, n=n, m_values=m_values, label_noise=label_noise, verifiers=verifiers, gamma=gamma,
        protocol=protocol, seeds=seeds, root_seed=root_seed, standardize=standardize,
    )
    return summarize_real_data(accuracies, n=n, m_values=m_values, verifiers=verifiers, protocol=protocol,
                               label_noise=label_noise, gamma=gamma)


def as_label_verifier(rates: "Verifier | tuple[float, float]") -> Verifier:
    """A verifier given as an object or as its (rho, phi) pair."""
    if isinstance(rates, Verifier):
        return rates
    rho, phi = (float(t) for t in rates)
    return LabelVerifier(rho, phi)


def _check_xy(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise RmtsynthError(f"The features (shape {X.shape}) and labels ({y.shape[0]}) do not match.")
    if not np.all((y == 1.0) | (y == -1.0)):
        raise RmtsynthError("The labels must be -1 and +1; use load_features to map two classes.")
    if not (np.any(y > 0) and np.any(y < 0)):
        raise RmtsynthError("The labels have only one class; two are needed.")
    return X, y


def _check_run(
    y: np.ndarray,
    *,
    n: int,
    m_values: Sequence[int],
    label_noise: float,
    verifiers: Mapping[str, tuple[float, float]],
    gamma: float,
    protocol: str,
    seeds: int,
) -> list[int]:
    if protocol not in PROTOCOLS:
        raise RmtsynthError(f"The protocol '{protocol}' is unknown; use one of {', '.join(PROTOCOLS)}.")
    total = y.shape[0]
    # Both classes need a training row for the class means; held-out needs a row left to test.
    upper = total - 1 if protocol == "held-out" else total
    if int(n) != n or not 2 <= n <= upper:
        raise RmtsynthError(
            f"The training size n = {n} must be an integer between 2 and {upper} for the {protocol} "
            f"protocol on {total} rows."
        )
    m_list = []
    for m in m_values:
        if int(m) != m or m < 0:
            raise RmtsynthError(f"The synthetic size m = {m} must be a non-negative integer.")
        m_list.append(int(m))
    if not m_list:
        raise RmtsynthError("At least one synthetic size m is needed.")
    if not 0.0 <= label_noise <= 1.0:
        raise RmtsynthError(f"The label noise {label_noise} must be between 0 and 1.")
    if not verifiers:
        raise RmtsynthError("At least one verifier is needed.")
    for name, rates in verifiers.items():
        if isinstance(rates, Verifier):
            continue
        if len(rates) != 2 or not all(0.0 <= float(r) <= 1.0 for r in rates):
            raise RmtsynthError(f"The verifier '{name}' must be a pair (rho, phi) of probabilities, not {rates}.")
    if not gamma > 0:
        raise RmtsynthError(f"The ridge parameter gamma = {gamma} must be positive.")
    if int(seeds) != seeds or seeds < 1:
        raise RmtsynthError(f"The number of seeds {seeds} must be a positive integer.")
    return m_list
