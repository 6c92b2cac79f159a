"""Seeds: every random draw descends from one root seed through ``numpy.random.SeedSequence``.

A point's seed is derived from the root seed and a stable hash of the point's resolved
parameters, and each replicate's from the point's seed and the replicate index. Results
therefore never depend on the order of work, the number of workers, or which other points are in
the sweep.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def stable_key(obj: Any) -> str:
    """A short stable hex digest of a JSON-serialisable object (keys sorted)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def point_seed(root_seed: int, key: str) -> np.random.SeedSequence:
    """The seed of one parameter point, from the root seed and the point's stable key."""
    words = tuple(int(key[i : i + 8], 16) for i in range(0, 32, 8))
    return np.random.SeedSequence(entropy=int(root_seed), spawn_key=words)


def replicate_rng(seed: np.random.SeedSequence, replicate: int) -> np.random.Generator:
    """The generator of one replicate (independent of how many replicates are run)."""
    child = np.random.SeedSequence(entropy=seed.entropy, spawn_key=tuple(seed.spawn_key) + (int(replicate),))
    return np.random.default_rng(child)


def named_rng(root_seed: int, name: str) -> np.random.Generator:
    """A generator for run-level draws (e.g. the generator's spurious direction)."""
    return np.random.default_rng(point_seed(root_seed, stable_key({"run-level": name})))
