"""Pseudo-labels in the functional Gram reduction: the block the previous classifier labels (THEORY 14.5).

The previous classifier labels a generated row by its sign on the row, so the kept rows'
labels depend on the row's component along the classifier; a block is three spike columns over
(y*, zeta, y~) and deflates the bulk along the classifier's direction.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from rmtsynth.core.loop.functional_space import Block, FunctionalSpace


def pseudo_block_factor(margin: float, rho: float, phi: float, m: float) -> tuple[np.ndarray, float, float]:
    """A with A^T A = m * (moment matrix of (y*, zeta, y~) over kept rows), and (alpha, lambda) (14.5)."""
    up = ndtr(margin)
    down = ndtr(-margin)
    density = np.exp(-0.5 * margin * margin) / np.sqrt(2.0 * np.pi)
    alpha = phi * up + rho * down
    lam = phi * up - rho * down
    cross_true = (phi - rho) * density
    cross_obs = (phi + rho) * density
    second = phi * (up - margin * density) + rho * (down + margin * density)
    moments = m * np.array([[alpha, cross_true, lam], [cross_true, second, cross_obs], [lam, cross_obs, alpha]])
    # The moment matrix is singular for the oracle (observed label = true label on kept rows), so a
    # symmetric root rather than a Cholesky factor.
    evals, evecs = np.linalg.eigh(moments)
    factor = np.sqrt(np.clip(evals, 0.0, None))[:, None] * evecs.T
    return factor, alpha, lam


def pseudo_block(space: FunctionalSpace, generator_mean: np.ndarray, unit_w: np.ndarray, margin: float, *,
                 m: float, p: float, rho: float, phi: float) -> Block:
    """The block of a generation labelled by the previous classifier w (unit vector ``unit_w``).

    ``margin`` is w's margin on the generator, w^T mu_hat / ||w||; every column gets a fresh
    base vector of squared norm p.
    """
    factor, alpha, _ = pseudo_block_factor(margin, rho, phi, m)
    ones = np.ones_like(space.nodes)
    columns = []
    for i in range(3):
        column = factor[i, 0] * generator_mean + factor[i, 1] * unit_w
        column[space.new_base(p)] += ones
        columns.append(column)
    return Block(spikes=columns, weights=list(factor[:, 2]), dof=max(alpha * m - 3.0, 0.0), direction=unit_w,
                 kept=alpha * m)
