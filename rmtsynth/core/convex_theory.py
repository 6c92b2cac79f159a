"""Exact accuracy of a convex-loss linear classifier on the real plus verified synthetic mix.

THEORY.md section 16: ``w = argmin sum_rows L(y w'x) + (N gamma / 2) ||w||^2`` (no intercept,
N = n + m). The rows collapse to three clusters of signed inputs (real; kept synthetic with a
correct label; kept with a flipped label, 16.1). Six order parameters per point,

    x = (M, M_beta, q_r, q_s, V_r, V_s)   (16.2),

solve ``x = prior(channel(x))``: the loss's channel (:mod:`rmtsynth.core.convex_channels`) gives
the conjugates of each cluster, and the prior equations (16.4) give x back in O(groups) from the
model's :class:`~rmtsynth.core.theory.Spectrum` (real rows may have a noise covariance Sigma that
shares C's eigenbasis; Sigma = I reproduces 16.4). The solver (16.6) is a damped Picard iteration
followed by Newton with a finite-difference Jacobian, vectorised over the points of a grid; on a
grid of 16 points or more, one point in 8 is solved so and the others by chord steps from the
cubic through their solved neighbours (see WARM_MIN), to the same residual.

Public functions:

* :func:`solve_convex` -> :class:`ConvexSolution`, every order parameter at every point;
* :func:`evaluate_convex` -> :class:`~rmtsynth.core.theory.TheoryResult`, the package's result
  (``delta_*`` are NaN: they are ridge's self-energies; V_r and V_s are in the solution).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from rmtsynth.core.convex_channels import Channel
from rmtsynth.core.fixed_point import default_tolerance
from rmtsynth.core.domain import check_point
from rmtsynth.core.theory import Spectrum, TheoryResult, describe_point, signed_accuracy
from rmtsynth.core.verifiers.rates import keep_rate, label_signal
from rmtsynth.errors import ConvergenceError, ParameterError

# Points are processed in chunks so that the (points x groups) work arrays stay small.
_CHUNK_ELEMENTS = 1 << 21
# Components of x: the two overlaps are signed, the four others positive (damped in log space).
_POSITIVE = slice(2, 6)
_START = np.array([0.0, 0.0, 0.01, 0.01, 1.0, 1.0])
_FLOOR = 1e-300
# A gamma = 0 point whose V_r or q_r passes this has no minimiser (the rows are separable).
_DIVERGED = 1e12


@dataclass(frozen=True)
class SolverSettings:
    """Caps and tolerances of :func:`solve_convex` (THEORY.md 16.6)."""

    picard_steps: int = 400
    picard_tol: float = 1e-7
    newton_rounds: int = 40
    #: Raised to 10 x :func:`~rmtsynth.core.fixed_point.default_tolerance` of the number of
    #: eigenvalue groups, the rounding of the prior's sums.
    newton_tol: float = 1e-13
    rounds: int = 3


@dataclass
class ConvexSolution:
    """The order parameters at every point of a grid (arrays of the grid's shape).

    ``overlap = mu'w`` (M), ``overlap_beta = mu_beta'w`` (M_beta), ``q_real = w' Sigma w``,
    ``q_synth = w'Cw``, ``v_real`` and ``v_synth`` (V_r, V_s: for the square loss ridge's delta and
    delta_s); ``alpha`` and ``lam`` are the verifier's keep rate and label signal; ``picard_steps``
    and ``newton_rounds`` count the solver's iterations, ``residual`` is the final relative one.
    """

    overlap: np.ndarray
    overlap_beta: np.ndarray
    q_real: np.ndarray
    q_synth: np.ndarray
    v_real: np.ndarray
    v_synth: np.ndarray
    alpha: np.ndarray
    lam: np.ndarray
    picard_steps: np.ndarray
    newton_rounds: np.ndarray
    residual: np.ndarray

    @property
    def accuracy(self) -> np.ndarray:
        """Phi(M / sqrt(q_r)), the sign kept."""
        return signed_accuracy(self.overlap, self.q_real)

    def theory_result(self) -> TheoryResult:
        """The package's result; ridge-only fields (the self-energies delta_*) are NaN."""
        mean, variance = self.overlap, self.q_real
        second = mean * mean + variance
        nan = np.full(mean.shape, np.nan)
        return TheoryResult(
            accuracy=self.accuracy, mean=mean, second_moment=second, variance=variance,
            risk=second + 1.0 - 2.0 * mean, delta_real=nan, delta_synth=nan.copy(), delta_gen=nan.copy(),
            alpha=self.alpha, lam=self.lam, newton_rounds=self.newton_rounds, residual=self.residual,
        )


@dataclass(frozen=True)
class _Grid:
    """The flattened points: cluster weights, gamma, N and the spectrum's group sums."""

    weights: np.ndarray  # (K, 3): pi, rho_c, rho_f
    gamma: np.ndarray
    n_total: np.ndarray
    spectrum: Spectrum
    # The channel's latest prox solutions per point (K, 3 clusters, nodes), the start of its next
    # evaluation there: the solver evaluates each point many times at nearby order parameters.
    starts: dict = field(default_factory=dict)


def _grid(spectrum: Spectrum, n, m, eps, rho, phi, gamma) -> _Grid:
    n_total = n + m
    pi = n / n_total
    alpha = keep_rate(eps, rho, phi)
    lam = label_signal(eps, rho, phi)
    # Written from (alpha, lam) so that rho_c = rho_f exactly at eps* (lam is 0 there).
    weights = np.stack([pi, 0.5 * (1.0 - pi) * (alpha + lam), 0.5 * (1.0 - pi) * (alpha - lam)], axis=1)
    return _Grid(weights=weights, gamma=gamma, n_total=n_total, spectrum=spectrum)


def _conjugates(channel: Channel, x: np.ndarray, grid: _Grid, idx: np.ndarray) -> np.ndarray:
    """(m_r, q_r, v_r, m_c - m_f, q_c + q_f, v_c + v_f) hats from the channel, shape (k, 6).

    The prox starts from the solutions of the last evaluation at the same points and keeps its new ones.
    """
    overlap, overlap_b, q_r, q_s, v_r, v_s = x.T
    omega = np.concatenate([overlap, overlap_b, -overlap_b])
    q = np.concatenate([q_r, q_s, q_s])
    v = np.concatenate([v_r, v_s, v_s])
    starts = grid.starts.get("h")
    start = None if starts is None else np.swapaxes(starts[idx], 0, 1)
    expectations, h = channel.expectations_from(omega, q, v, start)
    if h is not None and idx.size:
        if starts is None:
            starts = grid.starts["h"] = np.full((grid.gamma.size, 3, h.shape[-1]), np.nan)
        # Where idx repeats (the Jacobian's shifted copies) the last copy's solutions are kept.
        starts[idx] = np.swapaxes(h.reshape(3, idx.size, -1), 0, 1)
    mean, second, slope = (e.reshape(3, -1).T * grid.weights[idx] for e in expectations)
    return np.stack([mean[:, 0], second[:, 0], slope[:, 0], mean[:, 1] - mean[:, 2],
                     second[:, 1] + second[:, 2], slope[:, 1] + slope[:, 2]], axis=1)


def _prior(hats: np.ndarray, gamma: np.ndarray, n_total: np.ndarray, sp: Spectrum) -> np.ndarray:
    """x from the conjugates: the prior equations of THEORY.md 16.4 in C's eigenbasis, shape (k, 6)."""
    out = np.empty_like(hats)
    step = max(1, _CHUNK_ELEMENTS // max(1, sp.ell.size))
    for lo in range(0, hats.shape[0], step):
        sl = slice(lo, lo + step)
        m_r, qh_r, v_r, m_s, qh_s, v_s = hats[sl].T
        inv = 1.0 / (gamma[sl, None] + v_r[:, None] * sp.sigma + v_s[:, None] * sp.ell)
        inv2 = inv * inv
        noise = sp.mult * (qh_r[:, None] * sp.sigma + qh_s[:, None] * sp.ell) * inv2 / n_total[sl, None]
        out[sl, 0] = m_r * (inv @ sp.aa) + m_s * (inv @ sp.ab)
        out[sl, 1] = m_r * (inv @ sp.ab) + m_s * (inv @ sp.bb)
        out[sl, 2] = _mean_square(inv2 * sp.sigma, m_r, m_s, sp) + noise @ sp.sigma
        out[sl, 3] = _mean_square(inv2 * sp.ell, m_r, m_s, sp) + noise @ sp.ell
        out[sl, 4] = (inv @ (sp.mult * sp.sigma)) / n_total[sl]
        out[sl, 5] = (inv @ (sp.mult * sp.ell)) / n_total[sl]
    out[:, _POSITIVE] = np.maximum(out[:, _POSITIVE], _FLOOR)
    return out


def _mean_square(weights: np.ndarray, m_r: np.ndarray, m_s: np.ndarray, sp: Spectrum) -> np.ndarray:
    """sum_i weights_i B_i^2 with B = m_r a + m_s b, through the group sums of a^2, a b and b^2."""
    return m_r * m_r * (weights @ sp.aa) + 2.0 * m_r * m_s * (weights @ sp.ab) + m_s * m_s * (weights @ sp.bb)


def _map(channel: Channel, grid: _Grid, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """F(x) at the points ``idx`` (rows of x)."""
    # Only a gamma = 0 point on separable rows overflows; it is refused once its V runs off.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        hats = _conjugates(channel, x, grid, idx)
        return _prior(hats, grid.gamma[idx], grid.n_total[idx], grid.spectrum)


def _to_z(x: np.ndarray) -> np.ndarray:
    z = x.copy()
    z[:, _POSITIVE] = np.log(np.maximum(x[:, _POSITIVE], _FLOOR))
    return z


def _from_z(z: np.ndarray) -> np.ndarray:
    x = z.copy()
    x[:, _POSITIVE] = np.exp(z[:, _POSITIVE])
    return x


def _scale(x: np.ndarray) -> np.ndarray:
    """Per-component scale of z: the overlaps against sqrt(q) (the accuracy's unit), logs against 1."""
    scale = np.ones_like(x)
    scale[:, 0] = np.abs(x[:, 0]) + np.sqrt(x[:, 2])
    scale[:, 1] = np.abs(x[:, 1]) + np.sqrt(x[:, 3])
    return np.maximum(scale, _FLOOR)


def _relative(dz: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.max(np.abs(dz) / _scale(x), axis=1)


def _picard(channel: Channel, grid: _Grid, x: np.ndarray, idx: np.ndarray, settings: SolverSettings,
            theta_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Damped fixed-point steps (linear in the overlaps, geometric in the positive components).

    The damping of a point shrinks by 0.7 when its change grows by more than 5 % and grows back by
    1.05 up to ``theta_max``. Returns the iterates and the steps each point took.
    """
    x = x.copy()
    theta = np.full(idx.size, theta_max)
    previous = np.full(idx.size, np.inf)
    steps = np.zeros(idx.size, dtype=np.int64)
    active = np.arange(idx.size)
    for _ in range(settings.picard_steps):
        if active.size == 0:
            break
        z = _to_z(x[active])
        dz = _to_z(_map(channel, grid, x[active], idx[active])) - z
        change = _relative(dz, x[active])
        worse = change > 1.05 * previous[active]
        theta[active] = np.where(worse, 0.7 * theta[active], np.minimum(theta_max, 1.05 * theta[active]))
        x[active] = _from_z(z + theta[active, None] * dz)
        previous[active] = change
        steps[active] += 1
        active = active[np.isfinite(change) & (change > settings.picard_tol) & ~_runaway(x[active])]
    return x, steps


def _residual(channel: Channel, grid: _Grid, z: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """z(F(x(z))) - z: zero at the fixed point."""
    return _to_z(_map(channel, grid, _from_z(z), idx)) - z


def _jacobian(channel: Channel, grid: _Grid, z: np.ndarray, idx: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Forward-difference Jacobian of the residual, (k, 6, 6), from one call on 6 k points."""
    k = idx.size
    h = 1e-7 * _scale(_from_z(z))
    shifted = np.repeat(z[None], 6, axis=0)
    for j in range(6):
        shifted[j, :, j] += h[:, j]
    r_shifted = _residual(channel, grid, shifted.reshape(6 * k, 6), np.tile(idx, 6)).reshape(6, k, 6)
    return np.transpose((r_shifted - r[None]) / h.T[:, :, None], (1, 2, 0))


def _newton(channel: Channel, grid: _Grid, x: np.ndarray, idx: np.ndarray,
            settings: SolverSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton on z(F(x)) - z with a halving line search on the relative residual.

    Returns the iterates, their relative residuals and the Newton rounds each point took; a point
    whose line search fails keeps its best iterate (and a residual above the tolerance).
    """
    z = _to_z(x)
    r = _residual(channel, grid, z, idx)
    res = _relative(r, x)
    rounds = np.zeros(idx.size, dtype=np.int64)
    active = np.flatnonzero(res > settings.newton_tol)
    for _ in range(settings.newton_rounds):
        if active.size == 0:
            break
        jac = _jacobian(channel, grid, z[active], idx[active], r[active])
        step = _newton_step(jac, r[active])
        accepted = _line_search(channel, grid, z, r, res, idx, active, step)
        rounds[active] += 1
        active = active[accepted[active] & (res[active] > settings.newton_tol)]
    return _from_z(z), res, rounds


def _newton_step(jac: np.ndarray, r: np.ndarray) -> np.ndarray:
    """-J^{-1} r per point (a pseudo-inverse where J is singular; 0 where J or r is not finite)."""
    ok = np.isfinite(jac).all(axis=(1, 2)) & np.isfinite(r).all(axis=1)
    step = np.zeros_like(r)
    if ok.any():
        try:
            step[ok] = -np.linalg.solve(jac[ok], r[ok][..., None])[..., 0]
        except np.linalg.LinAlgError:
            step[ok] = -(np.linalg.pinv(jac[ok]) @ r[ok][..., None])[..., 0]
    return step


def _line_search(channel: Channel, grid: _Grid, z: np.ndarray, r: np.ndarray, res: np.ndarray,
                 idx: np.ndarray, active: np.ndarray, step: np.ndarray, tries: int = 30) -> np.ndarray:
    """Take z + t step at the active points, t = 1, 1/2, ..., where the residual falls (in place).

    Returns a mask over all points: True where a step was accepted.
    """
    accepted = np.zeros(idx.size, dtype=bool)
    step = np.where(np.isfinite(step), step, 0.0)
    todo = np.arange(active.size)
    t = 1.0
    for _ in range(tries):
        if todo.size == 0:
            break
        pts = active[todo]
        with np.errstate(all="ignore"):
            z_try = z[pts] + t * step[todo]
            r_try = _residual(channel, grid, z_try, idx[pts])
            res_try = _relative(r_try, _from_z(z_try))
        better = np.isfinite(res_try) & (res_try < res[pts])
        good = pts[better]
        z[good], r[good], res[good] = z_try[better], r_try[better], res_try[better]
        accepted[good] = True
        todo = todo[~better]
        t *= 0.5
    return accepted


def solve_convex(spectrum: Spectrum, channel: Channel, n, m, label_noise, rho, phi, gamma, *,
                 settings: SolverSettings = SolverSettings()) -> ConvexSolution:
    """The order parameters at every point of a broadcastable grid (THEORY.md 16.2-16.6).

    Parameters
    ----------
    spectrum : Spectrum
        Grouped eigen-data of C (and Sigma), mu and mu_beta (``DataModel.spectrum``).
    channel : Channel
        The loss (:mod:`rmtsynth.core.convex_channels`).
    n, m, label_noise, rho, phi, gamma : array_like
        As in :func:`rmtsynth.core.theory.evaluate`; gamma may be 0 where the rows are not separable.
    settings : SolverSettings
        Iteration caps and tolerances.

    Raises
    ------
    ParameterError
        A parameter is out of its domain, or gamma = 0 where the rows are separable.
    ConvergenceError
        Some point did not converge; the message names the first one.
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (n, m, label_noise, rho, phi, gamma)))
    shape = arrays[0].shape
    n, m, eps, rho, phi, gamma = (a.ravel() for a in arrays)
    # gamma = 0 is allowed here (non-separable rows), so the shared check sees it as 1.
    check_point(n, m, eps, rho, phi, np.where(gamma == 0, 1.0, gamma))
    grid = _grid(spectrum, n, m, eps, rho, phi, gamma)

    def describe(k: int) -> str:
        return describe_point(k, spectrum.p, n, m, eps, rho, phi, gamma)

    _refuse_separable(grid, spectrum.p, describe)
    settings = replace(settings, newton_tol=max(settings.newton_tol, 10.0 * default_tolerance(spectrum.ell.size)))
    x, picard, rounds, residual = _solve_grid(channel, grid, np.arange(n.size), settings, describe)
    alpha, lam = keep_rate(eps, rho, phi), label_signal(eps, rho, phi)
    columns = [*x.T, alpha, lam, picard, rounds, residual]
    return ConvexSolution(*(np.asarray(c).reshape(shape) for c in columns))


def _solve_points(channel: Channel, grid: _Grid, idx: np.ndarray, settings: SolverSettings,
                  describe) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each point of ``idx`` from the fixed start: damped steps, then Newton, up to ``settings.rounds`` times.

    A point's answer does not depend on the others solved with it. Raises as :func:`solve_convex`.
    """
    x = _map(channel, grid, np.repeat(_START[None], idx.size, axis=0), idx)
    picard = np.zeros(idx.size, dtype=np.int64)
    rounds = np.zeros(idx.size, dtype=np.int64)
    residual = np.full(idx.size, np.inf)
    pending = np.arange(idx.size)
    for attempt in range(settings.rounds):
        x[pending], steps = _picard(channel, grid, x[pending], idx[pending], settings, 0.5 ** (attempt + 1))
        _refuse_diverged(grid, x, describe, at=idx)
        x[pending], residual[pending], newton = _newton(channel, grid, x[pending], idx[pending], settings)
        picard[pending] += steps
        rounds[pending] += newton
        pending = pending[~(residual[pending] <= settings.newton_tol)]
        if pending.size == 0:
            break
    _refuse_diverged(grid, x, describe, unsettled=pending, at=idx)
    if pending.size:
        k = int(pending[0])
        raise ConvergenceError(
            f"The {channel.name} fixed point did not converge at {describe(int(idx[k]))} (relative residual "
            f"{residual[k]:.2e} after {picard[k]} damped and {rounds[k]} Newton steps); try a larger gamma."
        )
    return x, picard, rounds, residual


# A grid of at least WARM_MIN points is solved from its neighbours: every WARM_STRIDE-th point (and
# the last) from the fixed start, each other point by chord steps (Newton with a fixed Jacobian)
# from the cubic through the four solutions around it, in grid order, with the Jacobian
# interpolated likewise (see _stencils; the line through the two nearest where the cubic's gaps are
# too wide). The start's error is then fourth order in the spacing and one step usually settles it. A
# point the chord steps do not settle within CHORD_STEPS, or whose residual falls by less than
# CHORD_RATE a step, or whose solved neighbours differ by more than WARM_GAP (relative), gets Newton
# with its own Jacobian from the interpolated start (or its nearer neighbour's solution), and where
# that fails too, the full solve from the fixed start. Every answer meets the same residual.
WARM_MIN = 16
WARM_STRIDE = 8
CHORD_STEPS = 10
CHORD_RATE = 0.25
WARM_GAP = 1.0


def _solve_grid(channel: Channel, grid: _Grid, idx: np.ndarray, settings: SolverSettings,
                describe) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The order parameters, Picard steps, Newton rounds and residual at the points ``idx`` (see WARM_MIN).

    The solved points are themselves a grid, solved the same way, so a long sweep starts from scratch
    at one point in WARM_STRIDE ** levels.
    """
    size = idx.size
    if size < WARM_MIN:
        return _solve_points(channel, grid, idx, settings, describe)
    seeds = np.unique(np.append(np.arange(0, size, WARM_STRIDE), size - 1))
    try:
        solved = _solve_grid(channel, grid, idx[seeds], settings, describe)
    except (ConvergenceError, ParameterError):
        return _solve_points(channel, grid, idx, settings, describe)  # raises at the grid's first bad point
    x, picard, rounds = np.empty((size, 6)), np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
    residual = np.full(size, np.inf)
    x[seeds], picard[seeds], rounds[seeds], residual[seeds] = solved
    others = np.setdiff1d(np.arange(size), seeds)
    z_seed = _to_z(x[seeds])
    right = np.searchsorted(seeds, others)
    # Where the solutions on either side differ by more than WARM_GAP the grid is too coarse to borrow.
    close = _relative(z_seed[right] - z_seed[right - 1], x[seeds][right - 1]) <= WARM_GAP
    warm = others[close]
    near, weights = _stencils(seeds, warm, right[close], z_seed, x[seeds])
    jac = _seed_jacobians(channel, grid, idx, seeds, np.unique(near[weights != 0.0]), z_seed, x[seeds])
    # Start at the interpolant of the solved points around (in grid order), and interpolate their
    # Jacobians likewise: both errors are then of high order in the spacing.
    start = np.einsum("ks,ksj->kj", weights, z_seed[near])
    borrowed = np.einsum("ks,ksij->kij", weights, jac[near])
    prox = grid.starts.get("h")
    if prox is not None:  # the prox starts between its neighbours' solutions too
        prox[idx[warm]] = np.einsum("ks,ks...->k...", weights, prox[idx[seeds[near]]])
    z, res, steps = _chord(channel, grid, start, borrowed, idx[warm], settings)
    done = res <= settings.newton_tol
    x[warm[done]], rounds[warm[done]], residual[warm[done]] = _from_z(z[done]), steps[done], res[done]
    # Where the borrowed Jacobian does not settle a point (or its neighbours are too far apart to
    # borrow from), Newton with its own Jacobian, from the interpolated start (or the nearer
    # neighbour's solution), still usually does, far cheaper than damped steps from the fixed start.
    far = others[~close]
    nearer = np.where(far - seeds[right[~close] - 1] <= seeds[right[~close]] - far, right[~close] - 1, right[~close])
    again = np.concatenate([warm[~done], far])
    begin = np.concatenate([_from_z(start[~done]), x[seeds[nearer]]])
    taken = np.concatenate([steps[~done], np.zeros(far.size, dtype=np.int64)])
    ok = _newton_from(channel, grid, begin, taken, idx, again, settings, (x, rounds, residual))
    rest = again[~ok]
    if rest.size:
        try:
            x[rest], picard[rest], rounds[rest], residual[rest] = _solve_points(channel, grid, idx[rest], settings, describe)
        except (ConvergenceError, ParameterError):
            return _solve_points(channel, grid, idx, settings, describe)
    return x, picard, rounds, residual


# Where at least this many solved points need a Jacobian, it is computed at every other one and
# interpolated (by the stencils of _stencils) at the others: it only preconditions the chord steps.
JACOBIAN_THIN = 2 * WARM_MIN


def _seed_jacobians(channel: Channel, grid: _Grid, idx: np.ndarray, seeds: np.ndarray, used: np.ndarray,
                    z_seed: np.ndarray, x_seed: np.ndarray) -> np.ndarray:
    """Finite-difference Jacobians of the residual at the solved points ``used`` (indices into ``seeds``).

    Returns an array over all seeds (zero where not used).
    """
    jac = np.zeros((seeds.size, 6, 6))
    direct = used if used.size < JACOBIAN_THIN else np.union1d(used[::2], used[-1:])
    at = idx[seeds[direct]]
    jac[direct] = _jacobian(channel, grid, z_seed[direct], at, _residual(channel, grid, z_seed[direct], at))
    between = np.setdiff1d(used, direct)
    if between.size:
        right = np.searchsorted(direct, between)
        near, weights = _stencils(seeds[direct], seeds[between], right, z_seed[direct], x_seed[direct])
        jac[between] = np.einsum("ks,ksij->kij", weights, jac[direct][near])
    return jac


def _newton_from(channel: Channel, grid: _Grid, begin: np.ndarray, taken: np.ndarray, idx: np.ndarray,
                 at: np.ndarray, settings: SolverSettings, out: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Newton from ``begin`` at the grid positions ``at``; where it meets the tolerance, its answer goes
    into ``out`` = (x, rounds, residual) (rounds counting the ``taken`` steps before). Returns that mask."""
    if at.size == 0:
        return np.zeros(0, dtype=bool)
    with np.errstate(all="ignore"):
        x_new, res_new, newton = _newton(channel, grid, begin, idx[at], settings)
    ok = res_new <= settings.newton_tol
    x, rounds, residual = out
    x[at[ok]], rounds[at[ok]], residual[at[ok]] = x_new[ok], taken[ok] + newton[ok], res_new[ok]
    return ok


def _stencils(seeds: np.ndarray, warm: np.ndarray, right: np.ndarray, z_seed: np.ndarray,
              x_seed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interpolation stencils from the solved points ``seeds`` to the points ``warm`` (grid positions).

    ``right[k]`` is the first seed after ``warm[k]``. Returns, per point, four seed indices and
    their weights: the cubic through four consecutive seeds around the point (two on either side
    but at the grid's ends) where every gap between them is within WARM_GAP, else the line
    through the two seeds around it (the other two weights zero).
    """
    left = right - 1
    first = np.clip(left - 1, 0, max(seeds.size - 4, 0))
    near = np.minimum(first[:, None] + np.arange(4), seeds.size - 1)
    cubic = np.full(warm.size, seeds.size >= 4)
    for a in range(3):
        cubic &= _relative(z_seed[near[:, a + 1]] - z_seed[near[:, a]], x_seed[near[:, a]]) <= WARM_GAP
    pos, t = seeds[near].astype(float), warm.astype(float)
    weights = np.zeros(near.shape)
    line = (t - seeds[left]) / (seeds[right] - seeds[left])
    rows = np.arange(warm.size)
    weights[rows, left - first], weights[rows, right - first] = 1.0 - line, line
    pos, t = pos[cubic], t[cubic]
    for j in range(4):
        weights[cubic, j] = np.prod([(t - pos[:, i]) / (pos[:, j] - pos[:, i]) for i in range(4) if i != j], axis=0)
    return near, weights


def _chord(channel: Channel, grid: _Grid, z: np.ndarray, jac: np.ndarray, idx: np.ndarray,
           settings: SolverSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps z -= J^{-1} r(z) with a fixed J per point, until the relative residual meets the tolerance.

    Returns the iterates, their relative residuals (inf where a step left the finite numbers) and
    the steps taken.
    """
    z = z.copy()
    res = np.full(idx.size, np.inf)
    steps = np.zeros(idx.size, dtype=np.int64)
    active = np.arange(idx.size)
    with np.errstate(all="ignore"):
        for _ in range(CHORD_STEPS + 1):
            r = _residual(channel, grid, z[active], idx[active])
            last = res[active]
            res[active] = _relative(r, _from_z(z[active]))
            # A start too far for a borrowed Jacobian contracts slowly: such points go to the full solver.
            going = np.isfinite(res[active]) & (res[active] > settings.newton_tol) & (res[active] < CHORD_RATE * last)
            active, r = active[going], r[going]
            if active.size == 0 or steps[active[0]] == CHORD_STEPS:
                break
            z[active] += _newton_step(jac[active], r)
            steps[active] += 1
    res[~np.isfinite(res)] = np.inf
    return z, res, steps


def _refuse_separable(grid: _Grid, p: int, describe) -> None:
    """gamma = 0 where more dimensions than kept rows: the rows are separable, no minimiser."""
    kept = grid.n_total * (grid.weights[:, 0] + grid.weights[:, 1] + grid.weights[:, 2])
    bad = np.flatnonzero((grid.gamma == 0) & (p >= kept))
    if bad.size:
        raise ParameterError(
            f"gamma = 0 at {describe(int(bad[0]))} leaves no minimiser: with p >= the expected "
            "number of kept rows the rows are linearly separable; use gamma > 0."
        )


def _runaway(x: np.ndarray) -> np.ndarray:
    """Iterates that only a gamma = 0 point on separable rows reaches (V or q without bound)."""
    return (x[:, 4] > _DIVERGED) | (x[:, 2] > _DIVERGED) | ~np.isfinite(x).all(axis=1)


def _refuse_diverged(grid: _Grid, x: np.ndarray, describe, unsettled: np.ndarray | None = None,
                     at: np.ndarray | None = None) -> None:
    """gamma = 0 where the iterates run off (or, among ``unsettled``, never settle): the rows are separable.

    ``x`` holds the points ``at`` of the grid (all of them by default).
    """
    at = np.arange(x.shape[0]) if at is None else at
    failed = _runaway(x)
    if unsettled is not None:
        failed[unsettled] = True
    bad = np.flatnonzero((grid.gamma[at] == 0) & failed)
    if bad.size:
        raise ParameterError(
            f"gamma = 0 at {describe(int(at[bad[0]]))} leaves no minimiser: the equations have no solution "
            "there, so the rows are linearly separable; use gamma > 0."
        )


def evaluate_convex(spectrum: Spectrum, channel: Channel, n, m, label_noise, rho, phi, gamma, *,
                    settings: SolverSettings = SolverSettings()) -> TheoryResult:
    """The package's :class:`TheoryResult` for a convex loss (see :func:`solve_convex`).

    ``accuracy = Phi(M / sqrt(q_r))``, ``mean = M``, ``variance = q_r``, ``second_moment`` and
    ``risk`` (the test squared error of the score) follow; ``delta_*`` are NaN.
    """
    return solve_convex(spectrum, channel, n, m, label_noise, rho, phi, gamma, settings=settings).theory_result()
