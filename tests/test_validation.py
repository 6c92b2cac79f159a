"""The one validation of real features, labels, synthetic pools and scalar parameters."""

from __future__ import annotations

import numpy as np
import pytest

from rmtsynth.data.validation import (
    check_features,
    check_flags,
    check_integer,
    check_labels,
    check_pool,
    check_real,
    check_rows_per_class,
    check_scores,
    check_sequence,
    check_split_classes,
)
from rmtsynth.errors import ParameterError, ParameterTypeError


@pytest.mark.parametrize(
    ("value", "error", "needle"),
    [("60", ParameterTypeError, "must be an integer"), (60.5, ParameterError, "whole number"),
     (True, ParameterTypeError, "must be an integer"), (-1, ParameterError, "at least 0")],
)
def test_integers_are_whole_numbers_in_range(value, error, needle):
    with pytest.raises(error, match=needle) as info:
        check_integer(value, "seed", low=0)
    assert str(info.value).startswith("seed = ")


def test_integers_and_reals_pass_through():
    assert check_integer(np.int64(60), "n", low=1) == 60 and check_integer(60.0, "n") == 60
    assert check_real(np.float32(0.5), "gamma", low=0, low_open=True) == 0.5


@pytest.mark.parametrize("value", ["0.1", None, [0.1]])
def test_a_real_of_the_wrong_type_is_a_type_error(value):
    with pytest.raises(ParameterTypeError, match="gamma"):
        check_real(value, "gamma", low=0, low_open=True)


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_a_real_out_of_range_names_the_range(value):
    with pytest.raises(ParameterError, match="greater than 0"):
        check_real(value, "gamma", low=0, low_open=True)


@pytest.mark.parametrize(
    ("features", "error", "needle"),
    [
        (np.ones((4, 3)) * (1 + 1j), ParameterTypeError, "complex"),
        (np.array([["a", "b"], ["c", "d"]]), ParameterTypeError, "real numbers"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ParameterError, "1 row(s)"),
        (np.ones(5), ParameterError, "2-D"),
        (np.ones((0, 3)), ParameterError, "2-D"),
    ],
)
def test_features_must_be_finite_real_matrices(features, error, needle):
    with pytest.raises(error) as info:
        check_features(features, "features")
    assert needle in str(info.value)


def test_a_pool_with_other_columns_is_refused():
    with pytest.raises(ParameterError, match="3 features but the real rows have 4"):
        check_features(np.ones((2, 3)), "synthetic['features']", columns=4)


def test_labels_are_the_real_classes():
    assert check_labels([1, -1, 1], "labels", rows=3).tolist() == [1.0, -1.0, 1.0]
    with pytest.raises(ParameterError, match="found 2"):
        check_labels([1, 2], "labels", rows=2)
    with pytest.raises(ParameterError, match="2 labels for 3 rows"):
        check_labels([1, -1], "labels", rows=3)


@pytest.mark.parametrize("flags", [[0, 2], [5, 6], [0.5, 1.5], [np.nan, 1.0]])
def test_flags_are_booleans_or_zero_one(flags):
    with pytest.raises(ParameterError, match="true/false or 0/1"):
        check_flags(flags, "kept", rows=2)


def test_flags_read_as_masks():
    assert check_flags([0, 1], "kept", rows=2).tolist() == [False, True]
    assert check_flags(np.array([True, False]), "kept", rows=2).tolist() == [True, False]


def test_scores_are_finite_numbers():
    with pytest.raises(ParameterError, match="1 score"):
        check_scores([0.1, np.nan], "score", rows=2)
    with pytest.raises(ParameterTypeError):
        check_scores(["high", "low"], "score", rows=2)


def test_rows_per_class():
    with pytest.raises(ParameterError, match="3 row"):
        check_rows_per_class(np.array([1.0] * 297 + [-1.0] * 3), 5, "labels", "a 5-fold cross-fit")


def test_pool_keys_and_types():
    pool = {"features": np.ones((2, 3)), "labels": [1, -1], "kept": [1, 0]}
    assert check_pool(pool, "synthetic", columns=3)["kept"].tolist() == [True, False]
    with pytest.raises(ParameterError, match="did you mean 'labels'"):
        check_pool({**pool, "lables": [1, 1]}, "synthetic", columns=3)
    with pytest.raises(ParameterTypeError, match="must be a mapping"):
        check_pool(np.ones((2, 3)), "synthetic", columns=3)
    with pytest.raises(ParameterError, match="go together"):
        check_pool({"features": np.ones((2, 3)), "labels": [1, -1], "score": [0.1, 0.2]}, "synthetic", columns=3)


def test_split_classes_need_training_and_held_out_rows():
    labels = np.array([1.0] * 297 + [-1.0] * 3)
    with pytest.raises(ParameterError, match="held out"):
        check_split_classes(labels, 100, 5, "labels", "a 5-fold cross-fit")
    with pytest.raises(ParameterError, match="n = 6 gives 3"):
        check_split_classes(np.array([1.0, -1.0] * 20), 6, 5, "labels", "a 5-fold cross-fit")
    check_split_classes(np.array([1.0, -1.0] * 20), 10, 5, "labels", "a 5-fold cross-fit")


@pytest.mark.parametrize("value", ["100", {"m": 1}, 100])
def test_sequences_are_not_read_letter_by_letter(value):
    with pytest.raises(ParameterTypeError, match="must be a list"):
        check_sequence(value, "m_values", "[0, 100]")
    assert check_sequence(np.array([0, 100]), "m_values", "[0, 100]") == [0, 100]
