"""Channel (loss) equations of the convex learners (THEORY.md 16.3).

A cluster of signed inputs gives the field ``omega = omega_bar + sqrt(q) xi`` with ``xi ~ N(0, 1)``.
With the proximal point ``h*(omega) = argmin_h L(h) + (h - omega)^2 / (2 V)`` and
``f = (h* - omega) / V = -L'(h*)``, a loss's channel returns the three expectations

    E[f],  E[f^2],  E[-d f / d omega]

as arrays of the broadcast shape of ``(omega_bar, q, V)``. The cluster's conjugates are these
times its weight (THEORY.md 16.3); :mod:`rmtsynth.core.convex_theory` does that.

Square, square hinge and hinge have closed forms; logistic uses Gauss-Hermite quadrature over
``xi`` with a bracketed Newton for the prox.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import expit, ndtr

Expectations = tuple[np.ndarray, np.ndarray, np.ndarray]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
# Variances and V below this are treated as this (a cluster with q = 0 is a point mass).
_TINY = 1e-300


def normal_pdf(t: np.ndarray) -> np.ndarray:
    """The standard normal density (0 at +-inf; beyond |t| = 40 it is below the smallest double)."""
    return _INV_SQRT_2PI * np.exp(-0.5 * np.square(np.clip(t, -40.0, 40.0)))


class Channel(ABC):
    """A loss L(h) of the margin h = y w'x, through its channel expectations."""

    #: A name for messages.
    name: str = ""

    @abstractmethod
    def expectations(self, omega_bar: np.ndarray, q: np.ndarray, v: np.ndarray) -> Expectations:
        """(E f, E f^2, E[-df/domega]) for fields N(omega_bar, q) and prox parameter V."""

    def expectations_from(self, omega_bar: np.ndarray, q: np.ndarray, v: np.ndarray,
                          start: np.ndarray | None) -> tuple[Expectations, np.ndarray | None]:
        """:meth:`expectations` and the prox's solutions at the quadrature nodes, from a guess of them.

        ``start`` (NaN where unknown) only speeds an iterative prox up; a closed form ignores it
        and returns None.
        """
        return self.expectations(omega_bar, q, v), None


class SquareChannel(Channel):
    """L(h) = (1 - h)^2 / 2, the ridge loss: f = (1 - omega) / (1 + V)."""

    name = "square"

    def expectations(self, omega_bar, q, v):
        gap = 1.0 - omega_bar
        scale = 1.0 / (1.0 + v)
        return gap * scale, (gap * gap + q) * scale * scale, scale + 0.0 * gap


class SquareHingeChannel(Channel):
    """L(h) = max(0, 1 - h)^2 / 2: f = max(0, 1 - omega) / (1 + V)."""

    name = "square_hinge"

    def expectations(self, omega_bar, q, v):
        gap = 1.0 - omega_bar
        sd = np.sqrt(np.maximum(q, _TINY))
        t = gap / sd
        cdf, pdf = ndtr(t), normal_pdf(t)
        scale = 1.0 / (1.0 + v)
        # The forms in gap and sd (not t) stay finite as q -> 0.
        mean = (gap * cdf + sd * pdf) * scale
        second = ((gap * gap + q) * cdf + gap * sd * pdf) * scale * scale
        return mean, second, cdf * scale


class HingeChannel(Channel):
    """L(h) = max(0, 1 - h): f = 1 below 1 - V, (1 - omega)/V up to 1, 0 above."""

    name = "hinge"

    def expectations(self, omega_bar, q, v):
        v = np.maximum(v, _TINY)
        sd = np.sqrt(np.maximum(q, _TINY))
        gap1 = 1.0 - omega_bar
        gap0 = gap1 - v
        t1, t0 = gap1 / sd, gap0 / sd
        cdf0 = ndtr(t0)
        d_cdf = ndtr(t1) - cdf0
        pdf0, pdf1 = normal_pdf(t0), normal_pdf(t1)
        d_pdf = pdf0 - pdf1
        mean = cdf0 + (gap1 * d_cdf - sd * d_pdf) / v
        second = cdf0 + (gap1 * gap1 * d_cdf - 2.0 * gap1 * sd * d_pdf + q * d_cdf
                         + sd * (gap0 * pdf0 - gap1 * pdf1)) / (v * v)
        return mean, second, d_cdf / v


@dataclass(frozen=True)
class LogisticChannel(Channel):
    """L(h) = log(1 + e^{-h}), by Gauss-Hermite quadrature with ``nodes`` nodes.

    Where q is large (near separability) the prox has features of width ~1/sqrt(q) in xi; 120
    nodes are within 1e-4 of the accuracy there, 200 closer (THEORY.md 16.6).
    """

    nodes: int = 200
    name: str = "logistic"

    def expectations(self, omega_bar, q, v):
        return self.expectations_from(omega_bar, q, v, None)[0]

    def expectations_from(self, omega_bar, q, v, start):
        xi, weight = significant_nodes(self.nodes)
        omega_bar, q, v = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (omega_bar, q, v)))
        shape = omega_bar.shape
        ob, sd, vv = omega_bar.reshape(-1, 1), np.sqrt(np.maximum(q, 0.0)).reshape(-1, 1), v.reshape(-1, 1)
        guess = None if start is None else np.reshape(start, (-1, xi.size))
        h = np.empty((ob.shape[0], xi.size))
        out = np.empty((3, ob.shape[0]))
        rows = max(1, PROX_BLOCK // xi.size)
        # Block by block, so that the prox's and the integrands' temporaries stay in cache.
        for lo in range(0, ob.shape[0], rows):
            sl = slice(lo, lo + rows)
            h[sl] = _prox_block(ob[sl] + sd[sl] * xi, vv[sl], None if guess is None else guess[sl])
            with np.errstate(over="ignore"):
                s = 1.0 / (1.0 + np.exp(h[sl]))  # sigma(-h)
            curv = s * (1.0 - s)
            out[0, sl], out[1, sl], out[2, sl] = s @ weight, (s * s) @ weight, (curv / (1.0 + vv[sl] * curv)) @ weight
        return (out[0].reshape(shape), out[1].reshape(shape), out[2].reshape(shape)), h


@lru_cache(maxsize=8)
def gauss_hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss-Hermite nodes and weights, normalised to sum to 1 (E over N(0, 1))."""
    xi, weight = np.polynomial.hermite_e.hermegauss(int(nodes))
    xi.flags.writeable = False
    weight = weight / weight.sum()
    weight.flags.writeable = False
    return xi, weight


# The three integrands (s, s^2 and the curvature term) lie in [0, 1], so the nodes whose weights
# are below this add less than 1e-18 to any expectation: skipping them (118 of 200 nodes) changes
# no result beyond rounding and more than halves the prox's work.
NEGLIGIBLE_WEIGHT = 1e-20


@lru_cache(maxsize=8)
def significant_nodes(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """The Gauss-Hermite nodes and weights of :func:`gauss_hermite` whose weight is above NEGLIGIBLE_WEIGHT."""
    xi, weight = gauss_hermite(nodes)
    keep = weight > NEGLIGIBLE_WEIGHT
    return xi[keep], weight[keep]


PROX_MAX_STEPS = 300
# Plain Newton steps tried before the safeguarded iteration: from a start near the root (the
# solver's case) one to three settle it; the others go on safeguarded.
PROX_FAST_STEPS = 4
# max |sigma''| / 2 = 1 / (12 sqrt(3)), rounded up: g'' = -V sigma''(-h).
PROX_CURVATURE = 0.05
# The prox works on blocks of this many elements, small enough for its temporaries to stay in cache.
PROX_BLOCK = 16384


def logistic_prox(omega: np.ndarray, v: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """The root h of ``g(h) = h - V sigma(-h) - omega = 0`` (the logistic prox), elementwise.

    Plain Newton steps first (g' >= 1, so from a nearby start they converge quadratically) until
    the error bound after the last step is below 1e-16 (relative); an element not so settled after
    PROX_FAST_STEPS of them, or that left the bracket [omega, omega + V], is solved again from its
    start by :func:`safeguarded_prox` (which stops on a relative step below 1e-14). Both give the
    same root to rounding. ``start`` (of omega's shape; NaN where unknown) is a guess of the root,
    such as the root at nearby arguments.
    """
    omega, v = np.broadcast_arrays(np.asarray(omega, dtype=float), np.asarray(v, dtype=float))
    shape = omega.shape
    omega, v = omega.ravel(), v.ravel()
    guess = None if start is None else np.ravel(start)
    out = np.empty(omega.size)
    for lo in range(0, omega.size, PROX_BLOCK):
        sl = slice(lo, lo + PROX_BLOCK)
        out[sl] = _prox_block(omega[sl], v[sl], None if guess is None else guess[sl])
    return out.reshape(shape)


def _prox_block(omega: np.ndarray, v: np.ndarray, guess: np.ndarray | None) -> np.ndarray:
    """:func:`logistic_prox` on one block; ``v`` broadcasts against ``omega`` (a column per row of nodes)."""
    h = _prox_start(omega, v, guess)
    settled = np.zeros(h.shape, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(PROX_FAST_STEPS):
            s = 1.0 / (1.0 + np.exp(h))  # sigma(-h); exp overflows to inf where sigma(-h) is 0
            step = (h - v * s - omega) / (1.0 + v * s * (1.0 - s))
            h = h - step
            # After a Newton step d the error is, to leading order, |g''| d^2 / (2 g') <= PROX_CURVATURE
            # V d^2 (g' >= 1): below 1e-16 relative, the step that would confirm it cannot move h.
            settled = PROX_CURVATURE * v * (step * step) <= 1e-16 * np.maximum(np.abs(h), 1.0)
            if settled.all():
                break
        settled &= (h >= omega) & (h <= omega + v)
    if not settled.all():
        rest = ~settled
        h[rest] = safeguarded_prox(omega[rest], np.broadcast_to(v, h.shape)[rest],
                                   None if guess is None else guess[rest])
    return h


def _prox_start(omega: np.ndarray, v: np.ndarray, guess: np.ndarray | None) -> np.ndarray:
    """The guess clipped into the bracket [omega, omega + V]; where unknown, the upper end."""
    # omega + V sigma(-omega) is an upper end: g is increasing and g(start) >= 0.
    upper = None if guess is not None and np.isfinite(guess).all() else omega + v * expit(-omega)
    if guess is None:
        return upper
    h = np.clip(guess, omega, omega + v)
    return h if upper is None else np.where(np.isfinite(guess), h, upper)


def safeguarded_prox(omega: np.ndarray, v: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """:func:`logistic_prox` by Newton safeguarded by the bracket [omega, omega + V] from the first step.

    A point bisects when its Newton step would leave the bracket or would not halve the step
    before last (so Newton cannot cycle); it stops on a relative step below 1e-14 (THEORY.md 16.6).
    """
    omega, v = np.broadcast_arrays(np.asarray(omega, dtype=float), np.asarray(v, dtype=float))
    shape = omega.shape
    omega, v = omega.ravel(), v.ravel()
    lo, hi = omega.copy(), omega + v
    guess = None if start is None else np.ravel(start)
    known = None if guess is None else np.isfinite(guess)
    if known is not None and known.all():
        h = np.clip(guess, lo, hi)
    else:
        # omega + V sigma(-omega) is an upper end: g is increasing and g(start) >= 0.
        h = omega + v * expit(-omega)
        if known is not None:
            h = np.where(known, np.clip(guess, lo, hi), h)
    out = h
    # Whole-array steps (finished elements frozen) while many are unsettled, then only the unsettled
    # ones: indexing costs more than the arithmetic it saves until few remain.
    where = None
    last_step = hi - lo
    done = np.zeros(h.size, dtype=bool)
    for _ in range(PROX_MAX_STEPS):
        s = expit(-h)
        g = h - v * s - omega
        hi = np.where(g > 0, h, hi)
        lo = np.where(g < 0, h, lo)
        newton = h - g / (1.0 + v * s * (1.0 - s))
        use_newton = (newton >= lo) & (newton <= hi) & (2.0 * np.abs(newton - h) <= np.abs(last_step))
        step = np.where(done | (g == 0), 0.0, np.where(use_newton, newton, 0.5 * (lo + hi)) - h)
        h = h + step
        last_step = step
        moving = ~done & (np.abs(step) > 1e-14 * np.maximum(np.abs(h), 1.0))
        done = ~moving
        count = int(np.count_nonzero(moving))
        if count == 0 or count * 4 < h.size:
            if where is None:
                out = h
            else:
                out[where] = h
            if count == 0:
                break
            keep = np.flatnonzero(moving)
            where = keep if where is None else where[keep]
            h, lo, hi, last_step, omega, v = h[keep], lo[keep], hi[keep], last_step[keep], omega[keep], v[keep]
            done = np.zeros(count, dtype=bool)
    return out.reshape(shape)
