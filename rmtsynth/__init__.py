"""rmtsynth: random-matrix theory of training on real plus verified synthetic data."""

__version__ = "0.1.0"
