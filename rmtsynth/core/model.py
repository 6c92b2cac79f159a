"""The data model in coordinates: the real class mean and the synthetic-data generator.

Real samples are ``x = y * mu + z`` with ``z ~ N(0, I_p)``; synthetic samples are
``x = y * mu_beta + C^{1/2} z``. The generator's covariance ``C`` is one of a few kinds; for
``estimated`` it is ``Z Z^T / n_hat`` with a fresh ``Z`` (p x n_hat) for every replicate, and
optionally ``mu_beta`` is estimated from the same ``n_hat`` samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

CovarianceKind = Literal["identity", "scaled", "diagonal", "dense", "estimated"]


@dataclass(frozen=True)
class Generator:
    """The synthetic-data generator: class mean ``mean`` (mu_beta) and noise covariance C.

    Attributes
    ----------
    mean : (p,) array
        The generator's class mean mu_beta.
    cov_kind : str
        ``identity`` (C = I), ``scaled`` (C = cov_scale * I), ``diagonal`` (C = diag(cov_diag)),
        ``dense`` (C = cov_matrix) or ``estimated`` (C = Z Z^T / n_hat, Z fresh per replicate).
    estimate_mean : bool
        With ``estimated``: mu_beta is replaced per replicate by the mean estimated from the same
        n_hat samples that estimate C.
    """

    mean: np.ndarray
    cov_kind: CovarianceKind = "identity"
    cov_scale: float = 1.0
    cov_diag: np.ndarray | None = None
    cov_matrix: np.ndarray | None = None
    n_hat: int | None = None
    estimate_mean: bool = False


@dataclass(frozen=True)
class DataModel:
    """Real class mean ``mu`` and the synthetic generator; ``p = len(mu)``."""

    mu: np.ndarray
    generator: Generator = field(default=None)  # type: ignore[assignment]

    @property
    def p(self) -> int:
        return int(self.mu.shape[0])


def canonical_directions(p: int, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (e_mu, e_perp): the direction of mu and a unit vector orthogonal to it.

    With ``rng=None`` they are the first two coordinate axes (exact for rotation-invariant
    covariances); otherwise both are drawn uniformly, e_perp orthogonal to e_mu.
    """
    if rng is None:
        e_mu = np.zeros(p)
        e_mu[0] = 1.0
        e_perp = np.zeros(p)
        if p > 1:
            e_perp[1] = 1.0
        return e_mu, e_perp
    g = rng.standard_normal((2, p))
    e_mu = g[0] / np.linalg.norm(g[0])
    perp = g[1] - (g[1] @ e_mu) * e_mu
    norm = np.linalg.norm(perp)
    e_perp = perp / norm if norm > 0 else np.zeros(p)
    return e_mu, e_perp


def build_model(
    p: int,
    mu_norm: float,
    generator_alignment: float = 1.0,
    generator_shift: float = 0.0,
    cov_kind: CovarianceKind = "identity",
    *,
    cov_scale: float = 1.0,
    cov_diag: np.ndarray | None = None,
    cov_matrix: np.ndarray | None = None,
    n_hat: int | None = None,
    estimate_mean: bool = False,
    rng: np.random.Generator | None = None,
) -> DataModel:
    """Build the model with mu_beta = alignment * mu + shift * e_perp (THEORY.md section 12).

    Directions are random (from ``rng``) only when the covariance is not rotation invariant
    (``diagonal`` or ``dense``); otherwise mu lies along the first axis.
    """
    rotation_invariant = cov_kind in ("identity", "scaled", "estimated")
    e_mu, e_perp = canonical_directions(p, None if rotation_invariant else rng)
    mu = mu_norm * e_mu
    mean = generator_alignment * mu + generator_shift * e_perp
    gen = Generator(
        mean=mean,
        cov_kind=cov_kind,
        cov_scale=cov_scale,
        cov_diag=None if cov_diag is None else np.asarray(cov_diag, dtype=float),
        cov_matrix=None if cov_matrix is None else np.asarray(cov_matrix, dtype=float),
        n_hat=n_hat,
        estimate_mean=estimate_mean,
    )
    return DataModel(mu=mu, generator=gen)
