"""What every part of the loop theory shares: argument checks, the error of a missing theory, and helpers."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from rmtsynth.core.loop.spec import REGIMES
from rmtsynth.core.verifiers.rates import keep_rate, label_signal
from rmtsynth.errors import RmtsynthError


class NoTheoryError(RmtsynthError, ArithmeticError):
    """The requested variant has no deterministic theory (it needs the sampled history or simulation)."""


def check_regime(regime: str) -> None:
    """ValueError unless ``regime`` is replace or accumulate."""
    if regime not in REGIMES:
        raise ValueError(f"regime must be 'replace' or 'accumulate', got {regime!r}")


def as_arrays(*values) -> list[np.ndarray]:
    """Float arrays broadcast to a common shape (copies, so they can be written)."""
    return [np.array(v) for v in np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))]


def block_sizes(m, label_noise, rho, phi):
    """Kept rows mbar = alpha m and label signal t = lambda m of one noisy-label block."""
    alpha = keep_rate(label_noise, rho, phi)
    lam = label_signal(label_noise, rho, phi)
    return alpha * m, lam * m


def signed_phi(w_mu, w_norm2):
    """Phi(w^T mu / ||w||), the accuracy of a classifier; 1/2 where w = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(w_norm2 > 0, w_mu / np.sqrt(np.where(w_norm2 > 0, w_norm2, 1.0)), 0.0)
    return ndtr(ratio)


def scalar_block_weights(kept: float, signal: float) -> list[float]:
    """r-weights of one noisy block's two columns (one setting): the label signal over the kept rows, the rest."""
    safe = kept if kept > 0 else 1.0
    return [signal / np.sqrt(safe) if kept > 0 else 0.0, np.sqrt(max(kept - signal**2 / safe, 0.0))]
