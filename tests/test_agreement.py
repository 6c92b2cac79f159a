"""Theory against Monte-Carlo: the deterministic equivalents within 3 standard errors of simulation.

Each case is one parameter point (with up to three ridge penalties that share the draws). The
simulation averages the exact conditional accuracy Phi(w^T mu / ||w||) over replicates (THEORY.md
section 1), so the only noise is the spread of w across replicates; z = (theory - MC mean) / SE.

A 3-SE bound at each of 45 z-values still fails now and then by chance, so the seed is fixed, and
two collective checks guard against a theory that is slightly off everywhere while staying inside
3 SE at each point: the signed mean of z (near 0, within 3 of its own standard error, so a uniform
bias of either sign shows) and the mean of z^2 (about 1, so a spread too wide shows). Running this file as a
script prints the z table for any root seed (``python tests/test_agreement.py 1 2 3``), which is
how the suite was checked not to depend on a lucky seed.

The theory is a first-order deterministic equivalent. At these sizes its accuracy sits slightly
below the Monte-Carlo mean, by about 0.03-0.05 of the per-replicate standard deviation (so z drifts
by about -0.5 at 300 replicates); the gap shrinks when every size is scaled up, as a finite-size
correction should. The sizes here keep it well inside the bound: a point with few real samples and
p = 100 showed twice that drift.

The covariance of the real noise is the identity throughout, except in one moment check:
with Sigma != I the accuracy has a Jensen gap at small effective rank (THEORY.md 11.3).
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest

from rmtsynth.core.model import DataModel, Mix, build_model
from rmtsynth.sim.seeding import point_seed, stable_key
from rmtsynth.sim.monte_carlo import SimulationResult, simulate_point
from rmtsynth.core.theory import Spectrum, TheoryResult, evaluate, evaluate_estimated

ROOT_SEED = 20240611
Z_BOUND = 3.0
MEAN_Z2_BOUND = 2.0


@dataclass(frozen=True)
class Case:
    """One parameter point; ``gammas`` share each replicate's draw of (S, r)."""

    name: str
    cov: str  # identity | scaled | diagonal | estimated
    p: int
    n: int
    m: int
    eps: float
    rho: float
    phi: float
    gammas: tuple[float, ...]
    mu_norm: float = 1.5
    alignment: float = 1.0
    shift: float = 0.0
    scale: float = 1.0
    n_hat: int = 0
    replicates: int = 300
    sampler: str = "exact"
    note: str = field(default="", compare=False)


G3 = (0.01, 1.0, 10.0)

CASES: tuple[Case, ...] = (
    # Small p/N, C = I, mu_beta = mu.
    Case("A-identity-small", "identity", 200, 1000, 3000, 0.2, 0.1, 0.9, G3, note="p/N=0.05"),
    # Large p/N, generator mean misaligned and shifted.
    Case("B-identity-large", "identity", 300, 150, 225, 0.3, 0.2, 0.5, G3, alignment=0.8, shift=0.5,
         replicates=250, note="p/N=0.8, mu_beta!=mu"),
    # Scaled C, eps just below eps* = 0.727.
    Case("C-scaled", "scaled", 200, 200, 800, 0.7, 0.3, 0.8, G3, alignment=0.9, shift=0.4, scale=2.0,
         note="C=2I, eps<eps*"),
    # Diagonal C, eps well below eps* = 0.375 (a verifier that keeps few correct labels).
    Case("D-diagonal", "diagonal", 300, 100, 400, 0.1, 0.5, 0.3, G3, alignment=0.7, shift=0.6,
         replicates=250, note="p/N=0.6"),
    # Diagonal C with p > N.
    Case("F-diagonal-p>N", "diagonal", 300, 100, 100, 0.25, 0.2, 0.9, G3, alignment=0.9, shift=0.3,
         replicates=250, note="p/N=1.5"),
    # Very small p/N, diagonal C.
    Case("G-diagonal-tiny", "diagonal", 150, 3000, 12000, 0.4, 0.6, 0.7, G3, alignment=0.6, shift=0.2,
         note="p/N=0.01"),
    # Covariance estimated from n_hat samples, fresh Z per replicate (closed form of section 7).
    Case("E-estimated", "estimated", 200, 100, 1000, 0.2, 0.1, 0.9, (0.1, 1.0, 10.0), mu_norm=1.2,
         n_hat=400, note="C=ZZ^T/n_hat, p/n_hat=0.5"),
    Case("E2-estimated-shift", "estimated", 150, 200, 600, 0.3, 0.5, 0.8, (0.1, 1.0, 10.0), mu_norm=1.0,
         n_hat=150, alignment=0.8, shift=0.5, note="p/n_hat=1, mu_beta!=mu"),
    # eps above eps*: the synthetic labels outweigh the real ones and pull the wrong way.
    Case("H-above-eps*", "scaled", 200, 100, 2000, 0.95, 0.3, 0.8, G3, alignment=0.8, shift=0.3, scale=0.5,
         note="eps>eps*, n>0"),
    # Exactly at eps*: lambda = 0.
    Case("I-at-eps*", "identity", 150, 30, 600, 0.8 / 1.1, 0.3, 0.8, G3, note="eps=eps*"),
    # Everything pruned: alpha = 0 (rho = phi = 0); the normaliser is still N = n + m.
    Case("Z-alpha0", "identity", 200, 400, 1000, 0.3, 0.0, 0.0, G3, note="alpha=0"),
    # Synthetic data only (n = 0), both sides of eps* = 0.727, p/m = 0.67 and 0.1.
    Case("S-n0-low", "identity", 200, 0, 300, 0.1, 0.3, 0.8, (0.05, 1.0), mu_norm=1.0, note="n=0, eps<eps*"),
    Case("S-n0-high", "identity", 200, 0, 300, 0.9, 0.3, 0.8, (0.05, 1.0), mu_norm=1.0, note="n=0, eps>eps*"),
    Case("S-n0-big-m-low", "identity", 200, 0, 2000, 0.6273, 0.3, 0.8, (0.05, 1.0), mu_norm=1.0,
         note="n=0, eps<eps*"),
    Case("S-n0-big-m-high", "identity", 200, 0, 2000, 0.8273, 0.3, 0.8, (0.05, 1.0), mu_norm=1.0,
         note="n=0, eps>eps*"),
    # The data-matrix path: the naive sampler draws every sample, label, flip and verdict.
    Case("N1-naive-diagonal", "diagonal", 60, 100, 400, 0.3, 0.4, 0.7, (0.1, 1.0), alignment=0.8, shift=0.5,
         replicates=200, sampler="naive", note="naive sampler"),
    Case("N2-naive-n0", "identity", 100, 0, 300, 0.8273, 0.3, 0.8, (0.05, 1.0), mu_norm=1.0,
         replicates=200, sampler="naive", note="naive sampler, eps>eps*"),
)


def _diagonal_spectrum(p: int) -> np.ndarray:
    """Log-uniform eigenvalues on [0.2, 5], fixed per dimension."""
    rng = np.random.default_rng(1000 + p)
    return np.exp(rng.uniform(np.log(0.2), np.log(5.0), size=p))


def model_and_theory(case: Case) -> tuple[DataModel, TheoryResult]:
    """The data model to simulate and the theory at ``case.gammas``."""
    c = case
    g = np.asarray(c.gammas, dtype=float)
    if c.cov == "estimated":
        model = build_model(c.p, c.mu_norm, c.alignment, c.shift, "estimated", n_hat=c.n_hat)
        theory = evaluate_estimated(c.p, c.n_hat, c.mu_norm, c.n, c.m, c.eps, c.rho, c.phi, g,
                                    alignment=c.alignment, shift=c.shift)
        return model, theory
    if c.cov == "diagonal":
        diag = _diagonal_spectrum(c.p)
        model = build_model(c.p, c.mu_norm, c.alignment, c.shift, "diagonal", eigenvalues=diag,
                            rng=np.random.default_rng(c.p))
        spectrum = Spectrum.from_eigen(diag, model.mu, model.mean)
    elif c.cov == "scaled":
        model = build_model(c.p, c.mu_norm, c.alignment, c.shift, "scaled", covariance_scale=c.scale)
        spectrum = Spectrum.isotropic(c.p, c.mu_norm, c.alignment, c.shift, c.scale)
    else:
        model = build_model(c.p, c.mu_norm, c.alignment, c.shift, "identity")
        spectrum = Spectrum.isotropic(c.p, c.mu_norm, c.alignment, c.shift)
    return model, evaluate(spectrum, c.n, c.m, c.eps, c.rho, c.phi, g)


@dataclass
class Outcome:
    case: Case
    theory: TheoryResult
    sim: SimulationResult

    def z(self, field_name: str = "accuracy") -> np.ndarray:
        """z = (theory - MC mean) / SE per gamma, for accuracy, mean or second_moment."""
        if field_name == "accuracy":
            values = self.sim.accuracy
        elif field_name == "mean":
            values = self.sim.w_dot_mu
        elif field_name == "second_moment":
            # E[(w^T x)^2 | y = +1] = E[(w^T mu)^2] + E[||w||^2] for Sigma = I, exactly.
            values = self.sim.w_dot_mu**2 + self.sim.w_norm2
        else:
            raise KeyError(field_name)
        mc = values.mean(axis=0)
        se = values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])
        return (np.asarray(getattr(self.theory, field_name)) - mc) / se


@functools.lru_cache(maxsize=None)
def run_case(case: Case, root_seed: int = ROOT_SEED) -> Outcome:
    """Theory and Monte-Carlo at one case; cached so every test reuses the same draws."""
    model, theory = model_and_theory(case)
    seed = point_seed(root_seed, stable_key({"agreement": case.name}))
    sim = simulate_point(model, Mix(case.n, case.m, case.eps, case.rho, case.phi, np.asarray(case.gammas)), seed,
                         case.replicates, sampler=case.sampler)  # type: ignore[arg-type]
    return Outcome(case, theory, sim)


def _describe(out: Outcome) -> str:
    z = out.z()
    mc = out.sim.accuracy.mean(axis=0)
    parts = [
        f"gamma={g:g}: theory {float(t):.5f} MC {float(s):.5f} z {float(zz):+.2f}"
        for g, t, s, zz in zip(out.case.gammas, np.atleast_1d(out.theory.accuracy), np.atleast_1d(mc), z)
    ]
    return f"{out.case.name} [{out.case.note}]: " + "; ".join(parts)


def test_cases_cover_the_regimes() -> None:
    """The cases span what the theory claims to cover (THEORY.md 9.2-9.4)."""
    ratios = [c.p / (c.n + c.m) for c in CASES]
    gammas = [g for c in CASES for g in c.gammas]
    assert min(ratios) <= 0.02 and max(ratios) >= 1.0
    assert min(gammas) <= 0.01 and max(gammas) >= 10.0
    assert {"identity", "scaled", "diagonal", "estimated"} <= {c.cov for c in CASES}
    assert any(c.alignment != 1.0 or c.shift != 0.0 for c in CASES)
    star = [c.eps - c.phi / (c.phi + c.rho) for c in CASES if c.phi + c.rho > 0]
    assert min(star) < -0.05 and max(star) > 0.05 and any(abs(s) < 1e-12 for s in star)
    assert any(c.rho == c.phi == 0 for c in CASES)
    assert any(c.n == 0 for c in CASES)
    assert any(c.sampler == "naive" for c in CASES)
    assert sum(len(c.gammas) for c in CASES) >= 12


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_accuracy_within_three_standard_errors(case: Case) -> None:
    out = run_case(case)
    assert np.all(np.abs(out.z()) < Z_BOUND), _describe(out)


def mean_z_standard_error(outcomes: list[Outcome]) -> float:
    """Standard error of the mean of the accuracy z's over every (case, gamma).

    Cases draw independently; the gammas of one case share draws, so their z's are correlated as
    the per-replicate accuracies are: Var(mean z) = (sum of all pairwise correlations) / K^2, which
    is 1 / K for independent z's and up to the number of cases over K^2 for fully correlated ones.
    """
    total, count = 0.0, 0
    for out in outcomes:
        acc = np.asarray(out.sim.accuracy, dtype=float).reshape(out.sim.accuracy.shape[0], -1)
        count += acc.shape[1]
        total += float(np.sum(np.corrcoef(acc, rowvar=False))) if acc.shape[1] > 1 else 1.0
    return float(np.sqrt(total)) / count


@pytest.mark.slow
def test_accuracy_collectively_unbiased() -> None:
    """Over every (case, gamma): the signed mean of z near 0 and the mean of z^2 about 1.

    A theory off by the same amount everywhere (|z| about 1.2 at each point, inside the per-point
    bound) moves the mean of z by 1.2, several of its standard errors: 3 SE is 3 / sqrt(K) = 0.45
    for K = 45 independent z's, and about 0.68 here, as the gammas of one case share draws. Root
    seeds 1 to 4 give mean z between -0.39 and -0.12 (the slight finite-size drift described
    above). The mean of z^2 has expectation 1 whatever the correlations, with a larger spread than
    chi^2_K / K; 2 is far in its tail (0.49 to 1.50 over those seeds and this one).
    """
    outcomes = [run_case(c) for c in CASES]
    z = np.concatenate([out.z() for out in outcomes])
    assert np.all(np.isfinite(z))
    se = mean_z_standard_error(outcomes)
    assert 1 / np.sqrt(z.size) <= se < 2 / np.sqrt(z.size)
    assert abs(float(np.mean(z))) <= 3 * se, f"mean z = {np.mean(z):+.2f} over {z.size} values (SE {se:.3f})"
    assert float(np.mean(z**2)) < MEAN_Z2_BOUND, f"mean z^2 = {np.mean(z**2):.2f} over {z.size} values"


# The deterministic second moment drops terms of relative order ||mu||^2 / p (the verifier's and
# the label flips' randomness along mu_beta, the noise projected on mu). At small n, lambda ~ 0 and
# large gamma they reach a few percent (2-4% at I-at-eps*), which 300 replicates resolve; so the
# moments are checked where those terms are well below the Monte-Carlo error.
MOMENT_CASES = ("A-identity-small", "E-estimated", "S-n0-big-m-low", "N1-naive-diagonal")


@pytest.mark.slow
@pytest.mark.parametrize("name", MOMENT_CASES)
def test_moments_within_three_standard_errors(name: str) -> None:
    """E[w^T mu] against the theory's mean, and E[(w^T mu)^2 + ||w||^2] against its second moment."""
    out = run_case(next(c for c in CASES if c.name == name))
    for field_name in ("mean", "second_moment"):
        z = out.z(field_name)
        assert np.all(np.abs(z) < Z_BOUND), f"{name} {field_name}: z = {np.round(z, 2)}"


def real_noise_moment_z(root_seed: int = ROOT_SEED) -> dict[str, np.ndarray]:
    """z of the mean and second moment with a real noise covariance Sigma != I (per gamma).

    Sigma commutes with C and has a large effective rank; mean = E[w^T mu] and second_moment =
    E[(w^T mu)^2] + E[w^T Sigma w] (THEORY.md 11.2). The accuracy itself is left out: with Sigma != I
    it carries a Jensen gap (THEORY.md 11.3).
    """
    p, n, m, eps, rho, phi = 200, 150, 450, 0.2, 0.3, 0.9
    gammas = np.array([0.1, 1.0])
    rng = np.random.default_rng(77)
    ell = np.exp(rng.uniform(np.log(0.3), np.log(3.0), size=p))
    sig = rng.uniform(0.5, 2.0, size=p)
    model = build_model(p, 1.5, 0.8, 0.4, "diagonal", eigenvalues=ell, rng=rng)
    theory = evaluate(Spectrum.from_eigen(ell, model.mu, model.mean, sigma=sig), n, m, eps, rho, phi, gammas)
    seed = point_seed(root_seed, stable_key({"agreement": "real-noise"}))
    sim = simulate_point(model, Mix(n, m, eps, rho, phi, gammas), seed, 300, noise_cov_factor=np.sqrt(sig))
    assert sim.w_sigma_w is not None
    out = {}
    for label, values, th in (
        ("mean", sim.w_dot_mu, theory.mean),
        ("second_moment", sim.w_dot_mu**2 + sim.w_sigma_w, theory.second_moment),
    ):
        out[label] = (th - values.mean(axis=0)) / (values.std(axis=0, ddof=1) / np.sqrt(values.shape[0]))
    return out


@pytest.mark.slow
def test_moments_with_real_noise_covariance() -> None:
    for label, z in real_noise_moment_z().items():
        assert np.all(np.abs(z) < Z_BOUND), f"{label}: z = {np.round(z, 2)}"


def _table(root_seed: int) -> str:
    """The z table for one root seed (accuracy, mean, second moment)."""
    lines = [f"root seed {root_seed}",
             f"{'case':22s} {'gamma':>6s} {'theory':>8s} {'MC':>8s} {'SE':>8s} {'z_acc':>6s} {'z_mean':>6s} {'z_m2':>6s}"]
    all_z = []
    for case in CASES:
        out = run_case(case, root_seed)
        za, zm, z2 = out.z(), out.z("mean"), out.z("second_moment")
        all_z.append(za)
        mc = out.sim.accuracy.mean(axis=0)
        se = out.sim.accuracy.std(axis=0, ddof=1) / np.sqrt(case.replicates)
        for k, g in enumerate(case.gammas):
            lines.append(f"{case.name:22s} {g:6g} {float(np.atleast_1d(out.theory.accuracy)[k]):8.5f} {mc[k]:8.5f} "
                         f"{se[k]:8.5f} {za[k]:+6.2f} {zm[k]:+6.2f} {z2[k]:+6.2f}")
    z = np.concatenate(all_z)
    se = mean_z_standard_error([run_case(case, root_seed) for case in CASES])
    lines.append(f"{z.size} accuracy z-values: max |z| {np.max(np.abs(z)):.2f}, mean z^2 {np.mean(z**2):.2f}, "
                 f"mean z {np.mean(z):+.2f} (SE {se:.3f}, 3 SE = {3 * se:.2f})")
    noise = real_noise_moment_z(root_seed)
    lines.append("real noise Sigma != I, gamma 0.1 / 1: " + "; ".join(
        f"z_{k} {' / '.join(f'{v:+.2f}' for v in z)}" for k, z in noise.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:] or [str(ROOT_SEED)]:
        print(_table(int(arg)), flush=True)
