"""The ``data:`` section of a figure config of kind ``generator_samples``, checked against the data it names.

The image shape and the images drawn per class are rules between the config and the data set,
so :func:`samples_data` reads the data (a small feature file or the bundled digits) and checks
them before any sampling.
"""

from __future__ import annotations

import math

import numpy as np

from rmtsynth.config.data import DataSpec, LoadedData, check_data, load_data
from rmtsynth.config.figure_config import FigureConfig
from rmtsynth.errors import ConfigError


def image_shape(spec: DataSpec, data: LoadedData) -> tuple[int, int]:
    """The images' (height, width): the config's, the data set's, or the square the features make."""
    shape = data.image_shape
    if shape is None:
        side = math.isqrt(data.p)
        if side * side != data.p:
            raise ConfigError(
                f"{spec.where}.image_shape is missing: the {data.p} features are not a square image, so give [height, width]."
            )
        shape = (side, side)
    if shape[0] * shape[1] != data.p:
        raise ConfigError(f"{spec.where}.image_shape = {list(shape)} has {shape[0] * shape[1]} pixels, but the data have {data.p} features.")
    return shape


def check_class_rows(spec: DataSpec, data: LoadedData) -> None:
    """Each class has the real images the figure shows."""
    for c, sign in enumerate((-1.0, 1.0)):
        rows = int(np.sum(data.y == sign))
        if rows < spec.images_per_class:
            raise ConfigError(f"{spec.where}: class {data.class_names[c]} has {rows} rows, fewer than images_per_class = "
                              f"{spec.images_per_class}.")


def samples_data(cfg: FigureConfig) -> tuple[DataSpec, LoadedData, tuple[int, int]]:
    """The checked data entry, its data read and checked against it, and the images' shape."""
    (spec,) = check_data(cfg)
    data = load_data(spec)
    shape = image_shape(spec, data)
    check_class_rows(spec, data)
    return spec, data, shape
