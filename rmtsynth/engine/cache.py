"""An on-disk cache of simulated points, so re-runs recompute nothing already done.

Each entry holds the per-replicate results of one point (keyed by the resolved point, the root
seed and the simulation settings, not by the number of replicates): asking for more replicates
extends an entry, asking for fewer reads a prefix. Entries are written to a temporary file and
renamed, so an interrupted run never leaves a broken entry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from rmtsynth._version import __version__
from rmtsynth.io.atomic import atomic_write_bytes
from rmtsynth.sim.seeding import stable_key

# Bump when the simulation changes what a point's replicates are (the key also holds the package version).
CACHE_VERSION = 1


def content_key(tag: str | int, record: Mapping[str, Any]) -> str:
    """The key of a cache entry: ``tag`` (what the entry holds, with its version), the package version
    and ``record``, what the inputs contain.

    Data enters ``record`` by its digest, never by its path, so that a moved file still hits and an
    edited one misses.
    """
    return stable_key({"cache": tag, "version": __version__, **record})


def default_cache_dir() -> Path:
    """$RMTSYNTH_CACHE_DIR, else $XDG_CACHE_HOME/rmtsynth, else ~/.cache/rmtsynth."""
    env = os.environ.get("RMTSYNTH_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "rmtsynth"


def _valid_entry(arrays: dict[str, np.ndarray]) -> bool:
    """Per-replicate arrays as this cache writes them: numeric, equally long, finite, accuracies in [0, 1]."""
    if not arrays:
        return False
    lengths = {values.shape[0] if values.ndim >= 1 else -1 for values in arrays.values()}
    if len(lengths) != 1 or min(lengths) < 1:
        return False
    for name, values in arrays.items():
        if values.dtype.kind not in "fiu" or not np.all(np.isfinite(values)):
            return False
        if name.endswith("accuracy") and (np.any(values < 0) or np.any(values > 1)):
            return False
    return True


class PointCache:
    """Per-replicate arrays by key; ``root=None`` disables the cache."""

    def __init__(self, root: Path | None):
        self.root = root

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / f"v{CACHE_VERSION}" / key[:2] / f"{key}.npz"

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        if self.root is None:
            return None
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception:  # a truncated or foreign file is a miss, recomputed and replaced
            return None
        return arrays if _valid_entry(arrays) else None

    def store(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        if self.root is None:
            return
        import io

        buf = io.BytesIO()
        np.savez(buf, **arrays)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())
