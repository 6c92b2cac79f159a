"""Draws of the sufficient statistics (S, r) of the ridge classifier, and the ridge fit itself.

Real samples are ``x_i = y_i mu + F_r z_i`` (``F_r = I`` unless a real noise factor is given),
synthetic ones ``x~_j = y*_j mu_beta + F z~_j`` with ``F F^T = C``. The observed synthetic label
is ``y~_j = s_j y*_j`` with ``P(s_j = -1) = label_noise``; the verifier keeps sample j with
probability ``phi`` when ``s_j = +1`` and ``rho`` when ``s_j = -1``. The statistics are

    S = X X^T + X~ D_q X~^T,    r = X y + X~ D_q y~.

Two samplers draw them with the same joint law:

* :func:`sample_naive` draws every data matrix, label, flip and verifier decision;
* :func:`sample_exact` draws only O(p^2) random numbers and costs O(p^3), whatever n and m are
  (THEORY.md section 9.5).

A covariance factor (:data:`Factor`) is one of ``None`` (identity), a scalar ``s`` (``s * I``),
a 1-D array ``f`` (``diag(f)``) or a 2-D array ``F`` of shape (p, q) (any ``q``).
"""

from __future__ import annotations

import weakref
from typing import TypeAlias

import numpy as np
import scipy.linalg

from rmtsynth.core.learners.ridge import ridge_weights, ridge_weights_from_data
from rmtsynth.core.model import DataModel, Mix
from rmtsynth.core.verifiers import Verifier
from rmtsynth.errors import ParameterError

Factor: TypeAlias = "float | np.ndarray | None"
#: One replicate's generator (:func:`draw_generator`): its mean mu_beta and a factor of its covariance.
Generator: TypeAlias = "tuple[np.ndarray, Factor]"

__all__ = [
    "Factor",
    "checked_inputs",
    "draw_naive_data",
    "ridge_weights_from_data",
    "draw_generator",
    "factor_dim",
    "apply_factor",
    "dense_factor",
    "sample_naive",
    "sample_exact",
    "wishart_root",
    "ridge_weights",
]


# ---------------------------------------------------------------------------------------------
# Covariance factors


def factor_dim(factor: Factor, p: int) -> int:
    """The number q of standard-normal coordinates that ``factor`` maps to R^p."""
    if factor is None or np.ndim(factor) <= 1:
        return p
    return int(np.shape(factor)[1])


def apply_factor(factor: Factor, z: np.ndarray) -> np.ndarray:
    """``F @ z`` for a factor in any of the four forms; ``z`` has q rows (1-D or 2-D)."""
    if factor is None:
        return z
    if np.ndim(factor) == 0:
        return float(factor) * z
    f = np.asarray(factor)
    if f.ndim == 1:
        return f[:, None] * z if z.ndim == 2 else f * z
    return f @ z


def _check_factor(factor: Factor, p: int) -> None:
    if factor is None or np.ndim(factor) == 0:
        return
    shape = np.shape(factor)
    if np.ndim(factor) > 2 or shape[0] != p:
        raise ValueError(f"a covariance factor must have {p} rows, got shape {shape}")


def _compact_factor(factor: Factor, p: int) -> Factor:
    """A p x p factor with the same ``F F^T`` when a 2-D factor has more than p columns.

    The law of (S, r) depends on F only through F F^T, so this is exact; it keeps the Wishart
    draws at most p x p (an estimated C with n_hat > p would otherwise cost n_hat^3).
    """
    if factor is None or np.ndim(factor) != 2:
        return factor
    f = np.asarray(factor)
    if f.shape[1] <= f.shape[0]:
        return f
    # F^T = Q R gives F F^T = R^T R; QR stays stable when F F^T is singular.
    r = scipy.linalg.qr(f.T, mode="r", check_finite=False)[0]
    return np.ascontiguousarray(r[: f.shape[0]].T)


_DENSE_FACTORS: dict[int, tuple[weakref.ref, np.ndarray]] = {}


def dense_factor(cov: np.ndarray) -> np.ndarray:
    """A factor F (p x rank) with ``F F^T = cov`` for a symmetric PSD, possibly singular, matrix.

    Computed by ``eigh`` with negative round-off eigenvalues clipped and numerically null
    directions dropped (fewer columns make every later draw cheaper). The result is cached per
    array object, so the matrix must not be modified in place after its first use.
    """
    key = id(cov)
    hit = _DENSE_FACTORS.get(key)
    if hit is not None and hit[0]() is cov:
        return hit[1]
    c = np.asarray(cov, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"a covariance matrix must be square, got shape {c.shape}")
    evals, evecs = np.linalg.eigh(0.5 * (c + c.T))
    top = float(evals[-1]) if evals.size else 0.0
    tol = max(top, 0.0) * c.shape[0] * np.finfo(float).eps
    keep = evals > tol
    factor = np.ascontiguousarray(evecs[:, keep] * np.sqrt(evals[keep]))
    factor.setflags(write=False)
    try:
        ref = weakref.ref(cov)
    except TypeError:  # not weak-referenceable (e.g. a list): nothing safe to key on
        return factor
    _DENSE_FACTORS[key] = (ref, factor)
    weakref.finalize(cov, _DENSE_FACTORS.pop, key, None)
    return factor


def draw_generator(model: DataModel, rng: np.random.Generator) -> tuple[np.ndarray, Factor]:
    """The synthetic generator's mean mu_beta and a factor F of its covariance C.

    Parameters
    ----------
    model : DataModel
        Real mean and generator.
    rng : numpy.random.Generator
        Used only by the ``estimated`` kind.

    Returns
    -------
    mu_beta : (p,) array
    factor : Factor
        ``None`` (identity), ``sqrt(scale)`` (scaled), ``sqrt(eigenvalues)`` (diagonal), a cached
        p x rank eigen-factor (file), or for ``estimated`` a fresh root G / sqrt(n_hat) with
        ``G G^T ~ Wishart(I_p, n_hat)`` (Bartlett's triangle; ``Z`` itself with ``estimate_mean``).

    Notes
    -----
    With ``estimated`` the generator is fitted on n_hat samples ``v_i * mean + z_i`` with random
    signs v_i: C is the noise Gram ``Z Z^T / n_hat`` and, when ``estimate_mean`` is set, the
    class mean is estimated from the same samples, ``mean + Z v / n_hat``, whose error has norm
    about ``sqrt(p / n_hat)``.
    """
    cov = model.covariance
    p = model.p
    mean = np.asarray(model.mean, dtype=float)
    kind = cov.kind
    if kind == "identity":
        return mean, None
    if kind == "scaled":
        if cov.scale < 0:
            raise ParameterError(f"the covariance scale must be >= 0, got {cov.scale}")
        return mean, float(np.sqrt(cov.scale))
    if kind == "diagonal":
        if cov.eigenvalues is None or np.shape(cov.eigenvalues) != (p,):
            raise ParameterError(f"a diagonal covariance needs {p} eigenvalues")
        diag = np.asarray(cov.eigenvalues, dtype=float)
        if np.any(diag < 0):
            raise ParameterError("the eigenvalues of C must be >= 0")
        return mean, np.sqrt(diag)
    if kind == "file":
        if cov.matrix is None or np.shape(cov.matrix) != (p, p):
            raise ValueError(f"a covariance matrix must have shape ({p}, {p})")
        return mean, dense_factor(cov.matrix)
    if kind == "estimated":
        n_hat = cov.n_hat
        if n_hat is None or int(n_hat) < 1:
            raise ParameterError(f"an estimated covariance needs n_hat >= 1, got {n_hat}")
        n_hat = int(n_hat)
        if cov.estimate_mean:
            z = rng.standard_normal((p, n_hat))
            signs = 2.0 * rng.integers(0, 2, size=n_hat) - 1.0
            return mean + z @ signs / n_hat, z / np.sqrt(n_hat)
        # Z Z^T ~ Wishart(I_p, n_hat): Bartlett's triangular root has the same law and needs
        # O(p^2) random numbers instead of p * n_hat, and no QR to compact it.
        return mean, wishart_root(p, n_hat, rng) / np.sqrt(n_hat)
    raise ValueError(f"unknown covariance kind {kind!r}")


# ---------------------------------------------------------------------------------------------
# Samplers


def _check_inputs(mu: np.ndarray, mu_beta: np.ndarray, n: int, m: int, label_noise: float,
                  verifier: Verifier) -> None:
    if mu.ndim != 1 or mu_beta.shape != mu.shape:
        raise ValueError(f"mu and mu_beta must be vectors of one length, got {mu.shape}, {mu_beta.shape}")
    if n < 0 or m < 0:
        raise ParameterError(f"sample sizes must be >= 0, got n={n}, m={m}")
    if not 0.0 <= label_noise <= 1.0:
        raise ParameterError(f"label_noise must lie in [0, 1], got {label_noise}")
    if not verifier.feature_aware:
        for name, value in zip(("rho", "phi"), verifier.label_rates()):
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"{name} must lie in [0, 1], got {value}")


def checked_inputs(mu, mu_beta, factor: Factor, n, m, label_noise: float, verifier: Verifier,
                   real_factor: Factor) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """The samplers' shared opening: (mu, mu_beta, n, m, p) as arrays and ints, every input checked."""
    mu = np.asarray(mu, dtype=float)
    mu_beta = np.asarray(mu_beta, dtype=float)
    n, m = int(n), int(m)
    _check_inputs(mu, mu_beta, n, m, label_noise, verifier)
    p = mu.shape[0]
    _check_factor(factor, p)
    _check_factor(real_factor, p)
    return mu, mu_beta, n, m, p


def sampler_inputs(model: DataModel, mix: Mix, rng: np.random.Generator, generator: Generator | None,
                   real_factor: Factor) -> tuple[np.ndarray, np.ndarray, Factor, int, int, float, Verifier, int]:
    """(mu, mu_beta, factor, n, m, eps, verifier, p) of one replicate, every input checked.

    ``generator`` is the replicate's draw (:func:`draw_generator`); by default it is drawn from
    ``rng`` (which draws nothing for a fixed covariance). The verifier is the mix's, placed in
    the model.
    """
    mu_beta, factor = draw_generator(model, rng) if generator is None else generator
    verifier = mix.verifier.placed(model)
    eps = float(mix.label_noise)
    mu, mu_beta, n, m, p = checked_inputs(model.mu, mu_beta, factor, mix.n, mix.m, eps, verifier, real_factor)
    return mu, mu_beta, factor, n, m, eps, verifier, p


def draw_naive_data(
    model: DataModel,
    mix: Mix,
    rng: np.random.Generator,
    *,
    generator: Generator | None = None,
    real_factor: Factor = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The training data the learner sees: all n real samples and the kept synthetic ones.

    Draws every data matrix, label, flip and verifier decision. Parameters are those of
    :func:`sample_naive`.

    Returns
    -------
    A : (p, n + k) array
        The real samples, then the k kept synthetic samples, as columns.
    c : (n + k,) array
        Their (observed) labels.
    """
    mu, mu_beta, factor, n, m, label_noise, verifier, p = sampler_inputs(model, mix, rng, generator, real_factor)

    y = 2.0 * rng.integers(0, 2, size=n) - 1.0
    x = np.outer(mu, y) + apply_factor(real_factor, rng.standard_normal((factor_dim(real_factor, p), n)))

    y_star = 2.0 * rng.integers(0, 2, size=m) - 1.0
    flip = np.where(rng.random(m) < label_noise, -1.0, 1.0)
    y_obs = flip * y_star
    u = rng.random(m)
    x_syn = np.outer(mu_beta, y_star) + apply_factor(factor, rng.standard_normal((factor_dim(factor, p), m)))
    kept = verifier.keep(flip > 0, u, features=x_syn.T, labels=y_obs)
    # D_q zeroes the pruned columns, so only the kept ones enter the statistics.
    return np.hstack([x, x_syn[:, kept]]), np.concatenate([y, y_obs[kept]])


def sample_naive(
    model: DataModel,
    mix: Mix,
    rng: np.random.Generator,
    *,
    generator: Generator | None = None,
    real_factor: Factor = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(S, r) from the full data: all n + m samples, labels, flips and verifier decisions.

    Parameters
    ----------
    model : DataModel
        The real class mean mu (and the generator, drawn when ``generator`` is not given).
    mix : Mix
        Real and synthetic sample sizes (either may be 0), the flip probability of a synthetic
        label, and the verifier (:attr:`Mix.verifier`, placed in the model), which decides which
        synthetic samples are kept (:meth:`Verifier.keep`).
    rng : numpy.random.Generator
    generator : (mu_beta, factor), optional
        This replicate's generator (:func:`draw_generator`): its mean and a factor of its noise
        covariance C; drawn from ``rng`` by default.
    real_factor : Factor, optional
        Factor of the real noise covariance (identity by default).

    Returns
    -------
    S : (p, p) array
    r : (p,) array
    """
    a, c = draw_naive_data(model, mix, rng, generator=generator, real_factor=real_factor)
    return a @ a.T, a @ c


def wishart_root(q: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """A q x min(q, d) matrix G with ``G G^T ~ Wishart(I_q, d)``.

    Bartlett's lower-triangular factor when d >= q (O(q^2) random numbers), else a plain
    q x d Gaussian matrix.
    """
    if d >= q:
        root = np.zeros((q, q))
        root[np.tril_indices(q, -1)] = rng.standard_normal(q * (q - 1) // 2)
        root[np.diag_indices(q)] = np.sqrt(rng.chisquare(d - np.arange(q)))
        return root
    return rng.standard_normal((q, d))


def _exact_block(a: np.ndarray, factor: Factor, k: int, t: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One block of k samples with signal ``a``: B (p x ~q) with S_block = B B^T, and r_block.

    Here ``t = (sample signs) . (labels)``; the real block is the case ``t = k``.
    """
    p = a.shape[0]
    if k == 0:
        return np.zeros((p, 0)), np.zeros(p)
    q = factor_dim(factor, p)
    u = np.sqrt(k) * a + apply_factor(factor, rng.standard_normal(q))
    if k == 1:
        return u[:, None], t * u
    h2 = rng.standard_normal(q)
    root = wishart_root(q, k - 2, rng)
    fm = apply_factor(factor, np.column_stack([h2, root]))
    # When t^2 = k^2 the h2 coefficient is exactly zero (integer arithmetic in floats), and
    # h2 h2^T + Wishart(k-2) is then a Wishart(k-1), so no special case is needed.
    coef_h2 = np.sqrt(max(k - t * t / k, 0.0))
    r = (t / np.sqrt(k)) * u + coef_h2 * fm[:, 0]
    return np.column_stack([u, fm]), r


def sample_exact(
    model: DataModel,
    mix: Mix,
    rng: np.random.Generator,
    *,
    generator: Generator | None = None,
    real_factor: Factor = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(S, r) with exactly the law of :func:`sample_naive`, in O(p^3) independent of n and m.

    The real block is ``(sqrt(n) mu + g1)(.)^T + Wishart(n - 1)`` with ``r = sqrt(n)(sqrt(n) mu
    + g1)``; the synthetic block depends only on the kept counts (k_+, k_-) ~ Multinomial(m;
    (1-eps) phi, eps rho, rest) through ``k = k_+ + k_-`` and ``t = k_+ - k_-`` (THEORY.md 9.5).
    Parameters and returns are those of :func:`sample_naive`.
    """
    mu, mu_beta, factor, n, m, label_noise, verifier, p = sampler_inputs(model, mix, rng, generator, real_factor)
    factor = _compact_factor(factor, p)
    real_factor = _compact_factor(real_factor, p)

    if verifier.feature_aware:
        raise ParameterError(
            "the exact sampler draws the kept counts from the label rates alone, so it needs a verifier that "
            "does not look at the features; use sampler: naive."
        )
    rho, phi = verifier.label_rates()
    keep_correct = (1.0 - label_noise) * phi
    keep_flipped = label_noise * rho
    rest = max(0.0, 1.0 - keep_correct - keep_flipped)
    k_plus, k_minus, _ = rng.multinomial(m, [keep_correct, keep_flipped, rest])
    k, t = int(k_plus + k_minus), int(k_plus - k_minus)

    b_real, r_real = _exact_block(mu, real_factor, n, n, rng)
    b_syn, r_syn = _exact_block(mu_beta, factor, k, t, rng)
    # One B B^T product over both blocks (BLAS syrk-like when B is contiguous).
    b = np.ascontiguousarray(np.hstack([b_real, b_syn]))
    return b @ b.T, r_real + r_syn
