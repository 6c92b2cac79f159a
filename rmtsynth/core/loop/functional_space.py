"""Vectors that are functions of the real rows' Wishart spectrum, at the nodes of a Gauss rule (FGR).

The functional Gram reduction (THEORY 14.5) writes every vector as sum_b phi_b(Lambda) x_b, with x_b a
base vector independent of the real rows' Wishart and phi_b a function on its spectrum; a training set
is the real rows' spikes plus synthetic :class:`Block` s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

#: Quadrature nodes for the Marchenko-Pastur law of the real rows' Wishart (FGR).
QUADRATURE_NODES = 300


def marchenko_pastur_quadrature(ratio: float, nodes: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Gauss quadrature (nodes, weights) for the Marchenko-Pastur law of W/d, W ~ Wishart(I_p, d), p/d = ratio.

    The law is the free Poisson law with rate 1/ratio and jump ratio; its orthogonal polynomials
    have constant Jacobi coefficients (diagonal 1, 1 + c, 1 + c, ...; off-diagonal sqrt(c)), so
    the Gauss rule is the eigen-decomposition of a tridiagonal matrix. It integrates polynomials of
    degree < 2 * nodes exactly and includes the atom at 0 when ratio > 1.
    """
    c = float(ratio)
    diagonal = np.full(nodes, 1.0 + c)
    diagonal[0] = 1.0
    off = np.full(nodes - 1, np.sqrt(c))
    evals, evecs = scipy.linalg.eigh_tridiagonal(diagonal, off)
    return np.clip(evals, 0.0, None), evecs[0] ** 2


class FunctionalSpace:
    """Vectors sum_b phi_b(Lambda) x_b as coefficient arrays (B, Q) at the quadrature nodes."""

    def __init__(self, nodes: np.ndarray, weights: np.ndarray, capacity: int):
        self.nodes = nodes
        self.weights = weights
        self.norms = np.zeros(capacity)
        self.size = 0

    def new_base(self, squared_norm: float) -> int:
        index = self.size
        self.norms[index] = squared_norm
        self.size += 1
        return index

    def zeros(self, count: int | None = None) -> np.ndarray:
        shape = (self.norms.size, self.nodes.size) if count is None else (count, self.norms.size, self.nodes.size)
        return np.zeros(shape)

    def inner(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """<x, y> for x (..., B, Q), y (..., B, Q); leading axes form an outer product."""
        used = self.size
        metric = (self.norms[:used, None] * self.weights[None, :]).ravel()
        xs = x[..., :used, :].reshape(-1, used * self.nodes.size)
        ys = y[..., :used, :].reshape(-1, used * self.nodes.size)
        out = (xs * metric) @ ys.T
        return out.reshape(x.shape[:-2] + y.shape[:-2])

    def integral(self, values: np.ndarray) -> float:
        return float(values @ self.weights)


@dataclass
class Block:
    """One synthetic block of the training set in the functional Gram reduction.

    ``spikes`` are its spike columns and ``weights`` their r-weights; ``dof`` the degrees of
    freedom it adds to the bulk; ``direction`` the unit classifier it deflates the bulk along
    (pseudo-labels; None for noisy labels); ``kept`` its kept rows.
    """

    spikes: list[np.ndarray]
    weights: list[float]
    dof: float
    direction: np.ndarray | None
    kept: float
