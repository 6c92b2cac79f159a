"""Points compared with the feature-blind verifier that keeps the same shares of each label group."""

from __future__ import annotations

from dataclasses import replace

from rmtsynth.config.resolve import ResolvedPoint


def feature_blind_twins(points: list[ResolvedPoint]) -> list[ResolvedPoint]:
    """Each point with its verifier replaced by the feature-blind one of the same precision and recall.

    That verifier keeps a correct label with probability R (the recall) and a wrong one with the
    verifier's false-positive rate, whatever the row; feature-blind points are left as they are.
    """
    return [replace(pt, mix=pt.mix.feature_blind()) for pt in points]
