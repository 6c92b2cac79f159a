"""The data model: the real distribution and the synthetic-data generator, in one object.

Real samples are ``x = y * mu + z`` with ``z ~ N(0, I_p)``; synthetic samples are
``x = y * mu_beta + C^{1/2} z`` with ``mu_beta = alignment * mu + shift * e_perp`` (THEORY.md
sections 1 and 12). Two objects describe it:

* :class:`ModelSpec` holds the parameters (p, ||mu||, alignment, shift and the generator's
  :class:`Covariance`). It is hashable by content, so points that share it share their
  eigen-data, and a covariance read from a file keys every cache by what the file holds.
* :class:`DataModel` is a spec placed in coordinates (the vectors mu and mu_beta). Both the
  theory (:meth:`DataModel.theory`) and the samplers consume it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np

from rmtsynth.core.verifiers import LabelVerifier, Verifier
from rmtsynth.core.theory import Convention, Spectrum, TheoryResult, evaluate, evaluate_estimated

CovarianceKind = Literal["identity", "scaled", "diagonal", "file", "estimated"]


@dataclass(frozen=True)
class Mix:
    """What the classifier is trained on: sizes, label noise, verifier and regularisation.

    Each quantity is a number or an array; arrays broadcast together (a grid of points).

    Attributes
    ----------
    n, m : int or array
        Real samples, and synthetic samples generated before the verifier prunes them.
    label_noise : float or array
        Probability that a synthetic label is flipped (eps).
    rho, phi : float or array
        The verifier's probabilities of keeping a wrong and a correct label (for a verifier that
        looks at the rows, its label-aware part).
    gamma : float or array
        Ridge regularisation.
    rule : Verifier, optional
        A verifier that decides by more than the label (None: the feature-blind (rho, phi));
        :attr:`verifier` is it with the mix's (rho, phi).
    """

    n: Any
    m: Any
    label_noise: Any
    rho: Any
    phi: Any
    gamma: Any
    rule: Verifier | None = None

    @classmethod
    def of_points(cls, points) -> "Mix":
        """The mix of resolved points (anything with these attributes), as arrays.

        Points with a verifier rule must share it (and its rates, which stay numbers).
        """
        rules = [getattr(p, "mix", None) and p.mix.rule for p in points]
        if rules and rules[0] is not None:
            if any(rule != rules[0] for rule in rules):
                raise ValueError("points with different verifier rules do not make one mix")
            first = points[0].mix
            return replace(first, n=np.array([p.n for p in points], dtype=float),
                           m=np.array([p.m for p in points], dtype=float),
                           label_noise=np.array([p.label_noise for p in points], dtype=float),
                           gamma=np.array([p.gamma for p in points], dtype=float))
        return cls(
            n=np.array([p.n for p in points], dtype=float),
            m=np.array([p.m for p in points], dtype=float),
            label_noise=np.array([p.label_noise for p in points], dtype=float),
            rho=np.array([p.rho for p in points], dtype=float),
            phi=np.array([p.phi for p in points], dtype=float),
            gamma=np.array([p.gamma for p in points], dtype=float),
        )

    @property
    def verifier(self) -> Verifier:
        """The mix's verifier: its rule with the mix's (rho, phi), or the feature-blind (rho, phi)."""
        if self.rule is None:
            return LabelVerifier(self.rho, self.phi)
        return self.rule.with_label_part(self.rho, self.phi)

    def with_verifier(self, verifier: Verifier) -> "Mix":
        """The same mix with another verifier (a feature-blind one is held as its (rho, phi))."""
        rho, phi = verifier.label_part()
        return replace(self, rho=rho, phi=phi, rule=verifier if verifier.feature_aware else None)

    def feature_blind(self) -> "Mix":
        """The mix whose feature-blind verifier keeps each label group in the shares this one does
        (nan where the verifier does not know them)."""
        shares = self.verifier.kept_shares() if self.rule is not None else (self.rho, self.phi)
        rho, phi = shares if shares is not None else (float("nan"), float("nan"))
        return replace(self, rho=rho, phi=phi, rule=None)

    def values(self) -> tuple[Any, Any, Any, Any, Any, Any]:
        """(n, m, label_noise, rho, phi, gamma), the order of the theory's array functions."""
        return (self.n, self.m, self.label_noise, self.rho, self.phi, self.gamma)
ROTATION_INVARIANT = ("identity", "scaled", "estimated")


def array_digest(values: np.ndarray | None) -> str:
    """A SHA-256 of an array's shape and float64 bytes ('' for ``None``)."""
    if values is None:
        return ""
    arr = np.ascontiguousarray(np.asarray(values, dtype=float))
    digest = hashlib.sha256(repr(arr.shape).encode())
    digest.update(arr.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Covariance:
    """The generator's noise covariance C.

    Attributes
    ----------
    kind : str
        ``identity`` (C = I), ``scaled`` (C = scale * I), ``diagonal`` (C = diag(eigenvalues)),
        ``file`` (C = matrix, read from a file) or ``estimated`` (C = Z Z^T / n_hat with a fresh
        Z for every replicate).
    scale : float
        With ``scaled``.
    eigenvalues : (p,) array or None
        With ``diagonal``.
    matrix : (p, p) array or None
        With ``file``: symmetric positive semi-definite.
    n_hat : int or None
        With ``estimated``: the samples C is estimated from.
    estimate_mean : bool
        With ``estimated``: the generator's mean is estimated from the same n_hat samples.
    source : str
        Where the eigenvalues or the matrix came from, for tables (not part of the identity:
        two covariances with equal content are equal wherever they came from).
    """

    kind: str = "identity"
    scale: float = 1.0
    eigenvalues: np.ndarray | None = field(default=None, repr=False)
    matrix: np.ndarray | None = field(default=None, repr=False)
    n_hat: int | None = None
    estimate_mean: bool = False
    source: str = ""

    @cached_property
    def content(self) -> str:
        """A digest of everything that determines C (array contents included)."""
        return array_digest(self.eigenvalues) + ":" + array_digest(self.matrix)

    @property
    def rotation_invariant(self) -> bool:
        return self.kind in ROTATION_INVARIANT

    def _identity(self) -> tuple[Any, ...]:
        return (self.kind, float(self.scale), self.n_hat, bool(self.estimate_mean), self.content)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Covariance) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """The data model's parameters: dimension, real mean norm and the generator."""

    p: int
    mu_norm: float
    alignment: float = 1.0
    shift: float = 0.0
    covariance: Covariance = field(default_factory=Covariance)

    def _identity(self) -> tuple[Any, ...]:
        return (int(self.p), float(self.mu_norm), float(self.alignment), float(self.shift), self.covariance)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelSpec) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def seed_record(self) -> dict[str, Any]:
        """The mapping that seeds the generator's random draws (stable across versions).

        Array contents enter through the covariance's digest, so editing a covariance file
        gives new draws, while the same content read from another path gives the same ones.
        """
        cov = self.covariance
        return {
            "p": int(self.p),
            "mu_norm": float(self.mu_norm),
            "alignment": float(self.alignment),
            "shift": float(self.shift),
            "covariance": cov.kind,
            "covariance_scale": float(cov.scale),
            "n_hat": cov.n_hat,
            "estimate_mean": bool(cov.estimate_mean),
            "spectrum_source": cov.source,
        }

    def key(self) -> str:
        """A stable digest of the whole spec, array contents included."""
        record = self.seed_record()
        record["content"] = self.covariance.content
        text = json.dumps(record, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


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


@dataclass(frozen=True, eq=False)
class DataModel:
    """A :class:`ModelSpec` in coordinates: the real class mean ``mu`` and the generator's ``mean``."""

    spec: ModelSpec
    mu: np.ndarray = field(repr=False)
    mean: np.ndarray = field(repr=False)

    @property
    def p(self) -> int:
        return int(self.mu.shape[0])

    @property
    def covariance(self) -> Covariance:
        return self.spec.covariance

    @cached_property
    def spectrum(self) -> Spectrum:
        """Grouped eigen-data of (C, mu, mu_beta) for a deterministic C (one eigendecomposition)."""
        spec, cov = self.spec, self.spec.covariance
        if cov.kind in ("identity", "scaled"):
            scale = cov.scale if cov.kind == "scaled" else 1.0
            return Spectrum.isotropic(spec.p, spec.mu_norm, spec.alignment, spec.shift, scale)
        if cov.kind == "diagonal":
            return Spectrum.from_eigen(cov.eigenvalues, self.mu, self.mean)
        if cov.kind == "file":
            return Spectrum.from_covariance(cov.matrix, self.mu, self.mean)
        raise ValueError(f"a covariance of kind {cov.kind!r} has no fixed spectrum")

    def theory(self, mix: Mix, *, convention: Convention = "exact") -> TheoryResult:
        """The deterministic equivalents at a mix (a point or a broadcast grid).

        An ``estimated`` covariance uses the Marchenko-Pastur closed form (THEORY.md section 7);
        every other kind the O(p) evaluation in C's eigenbasis (section 6).
        """
        spec, cov = self.spec, self.spec.covariance
        if cov.kind == "estimated":
            return evaluate_estimated(
                spec.p, cov.n_hat, spec.mu_norm, *mix.values(),
                alignment=spec.alignment, shift=spec.shift, convention=convention,
            )
        return evaluate(self.spectrum, *mix.values(), convention=convention)


def place_model(spec: ModelSpec, rng: np.random.Generator | None = None) -> DataModel:
    """Put a spec in coordinates: mu = ||mu|| e_mu, mu_beta = alignment * mu + shift * e_perp.

    Directions are random (from ``rng``) only when C is not rotation invariant; otherwise mu
    lies along the first axis and ``rng`` is not used.
    """
    e_mu, e_perp = canonical_directions(spec.p, None if spec.covariance.rotation_invariant else rng)
    mu = spec.mu_norm * e_mu
    return DataModel(spec=spec, mu=mu, mean=spec.alignment * mu + spec.shift * e_perp)


def build_model(
    p: int,
    mu_norm: float,
    generator_alignment: float = 1.0,
    generator_shift: float = 0.0,
    covariance: CovarianceKind = "identity",
    *,
    covariance_scale: float = 1.0,
    eigenvalues: np.ndarray | None = None,
    matrix: np.ndarray | None = None,
    n_hat: int | None = None,
    estimate_mean: bool = False,
    rng: np.random.Generator | None = None,
) -> DataModel:
    """Build and place a model from plain parameters (THEORY.md section 12)."""
    cov = Covariance(
        kind=covariance,
        scale=float(covariance_scale),
        eigenvalues=None if eigenvalues is None else np.asarray(eigenvalues, dtype=float),
        matrix=None if matrix is None else np.asarray(matrix, dtype=float),
        n_hat=n_hat,
        estimate_mean=estimate_mean,
    )
    return place_model(ModelSpec(int(p), float(mu_norm), float(generator_alignment), float(generator_shift), cov), rng)
