"""The domain of a theory point, checked in one place (THEORY.md section 1).

A point is (n, m, label_noise, rho, phi, gamma), optionally with the dimension p. Every value
may be a scalar or an array (a grid); the whole grid must lie in the domain.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rmtsynth.errors import ParameterError

_UNIT = "it must be between 0 and 1"


def _in_unit_interval(v: np.ndarray) -> np.ndarray:
    return (v >= 0) & (v <= 1)


def _whole(v: np.ndarray) -> np.ndarray:
    return v == np.round(v)


def check_point(
    n,
    m,
    label_noise,
    rho,
    phi,
    gamma,
    *,
    p=None,
    whole_counts: bool = False,
) -> None:
    """Raise :class:`~rmtsynth.errors.ParameterError` unless every point lies in the domain.

    The domain: n >= 0 and m >= 0 with n + m > 0; label_noise, rho and phi between 0 and 1;
    gamma > 0; every value finite. With ``whole_counts`` n and m must also be whole numbers
    (a simulation draws rows; the theory takes any real counts). With ``p`` given, it must be a
    whole number > 0.

    Parameters
    ----------
    n, m, label_noise, rho, phi, gamma : scalar or array_like
        The point, or a grid of points (each argument is checked on its own, so they need not
        broadcast).
    p : int, optional
        The dimension, when the caller has one to check.
    whole_counts : bool
        Also require n and m to be whole numbers.

    Raises
    ------
    ParameterError
        For the first parameter out of its domain, in the order above, with one sentence such
        as ``"gamma has an invalid value (0); it must be > 0."``.
    """
    n = np.asarray(n, dtype=float)
    m = np.asarray(m, dtype=float)
    count_rule = "a whole number >= 0" if whole_counts else ">= 0"

    def count_ok(v: np.ndarray) -> np.ndarray:
        return (v >= 0) & _whole(v) if whole_counts else v >= 0

    checks: tuple[tuple[str, object, Callable[[np.ndarray], np.ndarray], str], ...] = (
        ("n", n, count_ok, f"n must be {count_rule}"),
        ("m", m, count_ok, f"m must be {count_rule}"),
        ("n + m", n + m, lambda v: v > 0, "n + m must be > 0"),
        ("label_noise", label_noise, _in_unit_interval, _UNIT),
        ("rho", rho, _in_unit_interval, _UNIT),
        ("phi", phi, _in_unit_interval, _UNIT),
        ("gamma", gamma, lambda v: v > 0, "it must be > 0"),
    )
    if p is not None:
        checks += (("p", p, lambda v: (v > 0) & _whole(v), "it must be a whole number > 0"),)
    for name, values, allowed, rule in checks:
        check_values(name, values, allowed, rule)


def check_values(name: str, values, allowed: Callable[[np.ndarray], np.ndarray], rule: str) -> None:
    """Raise ParameterError naming ``name`` and its first bad value unless ``allowed`` holds everywhere.

    A non-finite value is always bad and is the one reported when there is one; ``rule`` is the
    end of the sentence (``"it must be > 0"``).
    """
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    ok = allowed(values)
    if np.all(ok) and np.all(finite):
        return
    bad = values[~finite] if not np.all(finite) else values[~ok]
    raise ParameterError(f"{name} has an invalid value ({bad.flat[0]:g}); {rule}.")
