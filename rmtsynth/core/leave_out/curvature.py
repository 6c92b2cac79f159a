"""The Hessian of an L2-regularised margin loss, ``I + C F'DF`` with an optional free intercept, applied
through the smaller of the feature and the row dimension."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve


@dataclass(frozen=True)
class Curvature:
    """Applies H^{-1} of the full objective to the features' block through A = I + C F'DF."""

    F: np.ndarray
    C: float
    D: np.ndarray
    primal: object
    dual: object

    @classmethod
    def build(cls, F: np.ndarray, C: float, D: np.ndarray) -> "Curvature":
        N, q = F.shape
        if q <= N:
            A = np.eye(q) + C * (F.T * D) @ F
            return cls(F, C, D, cho_factor(A), None)
        root = np.sqrt(C * D)
        G = root[:, None] * (F @ F.T) * root[None, :]
        return cls(F, C, D, None, cho_factor(np.eye(N) + G))

    def solve(self, b: np.ndarray) -> np.ndarray:
        """A^{-1} b for a q-vector or a q x k matrix."""
        if self.primal is not None:
            return cho_solve(self.primal, b)
        root = np.sqrt(self.C * self.D)
        inner = self.F @ b
        inner = root[:, None] * inner if inner.ndim == 2 else root * inner
        back = cho_solve(self.dual, inner)
        back = root[:, None] * back if back.ndim == 2 else root * back
        return b - self.F.T @ back


@dataclass(frozen=True)
class Hessian:
    """H^{-1} of the full objective on stacked vectors (weights, then the intercept when it is free)."""

    curvature: Curvature
    free: bool
    a: np.ndarray | None = None
    Aa: np.ndarray | None = None
    sigma: float = np.inf

    @classmethod
    def build(cls, F: np.ndarray, C: float, D: np.ndarray, free: bool) -> "Hessian":
        curvature = Curvature.build(F, C, D)
        if not free:
            return cls(curvature, False)
        a = C * F.T @ D
        Aa = curvature.solve(a)
        # The intercept's Schur complement; positive unless no row has curvature.
        return cls(curvature, True, a, Aa, max(float(C * D.sum() - a @ Aa), 1e-300))

    def solve(self, V: np.ndarray) -> np.ndarray:
        if not self.free:
            return self.curvature.solve(V)
        weights = self.curvature.solve(V[:-1])
        intercept = (V[-1] - self.a @ weights) / self.sigma
        return np.vstack([weights - np.outer(self.Aa, intercept), intercept[None, :]])
