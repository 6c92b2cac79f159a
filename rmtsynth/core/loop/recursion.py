"""The generator over generations with noisy labels: its alignment and spurious size (THEORY 14.3)."""

from __future__ import annotations

import numpy as np

from rmtsynth.core.loop.common import as_arrays, block_sizes
from rmtsynth.core.loop.spec import Regime


def generator_recursion(n, m, p, label_noise, rho, phi, *, generations: int, regime: Regime = "replace") -> dict:
    """(beta_k, E_k, tau_k^2) for k = 0..K with noisy labels and constant parameters (THEORY 14.3).

    The generator mean is mu_hat_k = b_k (mu + zeta) + e_k, with zeta = Zy/n the real rows'
    label-noise vector and e_k the accumulated block noise (squared norm E_k). It holds for either
    generator covariance (tr C_{k-1} is replaced by p).

    Parameters
    ----------
    n, m, p, label_noise, rho, phi : array_like
        Broadcast against each other; the outputs have their broadcast shape plus a last axis k.
    generations : int
        K.
    regime : {"replace", "accumulate"}

    Returns
    -------
    dict with ``beta`` (= b_k), ``spurious_energy`` (E_k) and ``tau2`` (= b_k^2 p / n + E_k), each of
    shape (..., K + 1). The measured tau^2 excludes the mu-component and is smaller by (p - 1)/p.
    """
    n, m, p, eps, rho, phi = as_arrays(n, m, p, label_noise, rho, phi)
    kept, signal = block_sizes(m, eps, rho, phi)
    K = int(generations)
    b = np.empty(n.shape + (K + 1,))
    energy = np.empty_like(b)
    b[..., 0] = 1.0
    energy[..., 0] = 0.0
    refit_rows = n.copy()
    for k in range(1, K + 1):
        if regime == "replace":
            refit_rows = n + kept
            b[..., k] = (n + signal * b[..., k - 1]) / refit_rows
            energy[..., k] = (signal**2 * energy[..., k - 1] + kept * p) / refit_rows**2
        elif regime == "accumulate":
            previous = refit_rows
            refit_rows = previous + kept
            shrink = (previous + signal) / refit_rows
            b[..., k] = shrink * b[..., k - 1]
            energy[..., k] = shrink**2 * energy[..., k - 1] + kept * p / refit_rows**2
        else:
            raise ValueError(f"regime must be 'replace' or 'accumulate', got {regime!r}")
    tau2 = b**2 * (p / n)[..., None] + energy
    return {"beta": b, "spurious_energy": energy, "tau2": tau2}


def replace_fixed_point(n, m, p, label_noise, rho, phi) -> dict:
    """Closed-form fixed point of the replace recursion with constant parameters (THEORY 14.3).

    Returns
    -------
    dict with ``beta`` = n / (n + 2(1-P) mbar), ``spurious_energy`` E* = mbar p / ((n + 2(1-P) mbar)
    (n + 2P mbar)), ``tau2`` = beta^2 p/n + E* and ``rate`` kappa = (2P - 1) mbar / (n + mbar), the
    geometric rate of convergence (b_k - b* = kappa^k (1 - b*), E_k = E* (1 - kappa^(2k))).
    """
    n, m, p, eps, rho, phi = as_arrays(n, m, p, label_noise, rho, phi)
    kept, signal = block_sizes(m, eps, rho, phi)
    # 2(1 - P) mbar = mbar - t and 2 P mbar = mbar + t, so alpha = 0 needs no precision.
    wrong = n + kept - signal
    right = n + kept + signal
    beta = n / wrong
    energy = kept * p / (wrong * right)
    return {"beta": beta, "spurious_energy": energy, "tau2": beta**2 * p / n + energy, "rate": signal / (n + kept)}
