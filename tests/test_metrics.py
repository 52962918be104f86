"""voxlib.metrics, classification and images: the Wilson and t intervals against their textbook
formulas, accuracy with its interval, macro F1 by hand, image L1 and PSNR on images of known
difference, and the per-candidate score table. (Speech measures: tests/test_metrics_speech.py.)"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm, t

from voxlib import metrics


def _textbook_wilson(k, n, confidence=0.95):
    """Wilson (1927) score interval, written out: centre +- half-width."""
    z = norm.ppf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def _textbook_t(values, confidence=0.95):
    v = np.asarray(values, float)
    half = t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return v.mean(), v.mean() - half, v.mean() + half


# --- wilson_interval ------------------------------------------------------------------

@pytest.mark.parametrize("k, n", [(0, 1), (1, 1), (0, 20), (3, 7), (8, 10), (20, 20), (28, 56), (55, 56), (1, 1000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_interval_is_the_textbook_formula(k, n, confidence):
    low, high = metrics.wilson_interval(k, n, confidence=confidence)
    lo, hi = _textbook_wilson(k, n, confidence)
    assert low == pytest.approx(max(0.0, lo), abs=1e-12) and high == pytest.approx(min(1.0, hi), abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_interval_known_values_and_bounds():
    low, high = metrics.wilson_interval(8, 10)  # textbook value: (0.490, 0.943)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert metrics.wilson_interval(0, 20)[0] == 0.0 and metrics.wilson_interval(20, 20)[1] == 1.0
    assert metrics.wilson_interval(np.int64(8), np.int64(10)) == (low, high) == metrics.wilson_interval(8.0, 10)
    narrow, wide = metrics.wilson_interval(8, 10, confidence=0.8), metrics.wilson_interval(8, 10, confidence=0.99)
    assert wide[0] < low < narrow[0] and narrow[1] < high < wide[1]


@pytest.mark.parametrize("k, n", [(11, 10), (-1, 10), (0, 0), (2.5, 10), (3, 7.5)])
def test_wilson_interval_refuses_impossible_counts(k, n):
    with pytest.raises(ValueError, match=f"got k={k!r}, n={n!r}"):
        metrics.wilson_interval(k, n)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1])
def test_wilson_interval_refuses_a_confidence_outside_0_1(confidence):
    with pytest.raises(ValueError, match="confidence"):
        metrics.wilson_interval(5, 10, confidence=confidence)


# --- mean_interval ----------------------------------------------------------------------

@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_mean_interval_is_the_hand_t_formula(confidence):
    values = [61.0, 64.5, 58.25, 70.0, 66.0, 59.5]
    assert metrics.mean_interval(values, confidence=confidence) == pytest.approx(
        _textbook_t(values, confidence), rel=1e-12)


def test_mean_interval_two_values_has_one_degree_of_freedom():
    mean, low, high = metrics.mean_interval([1.0, 3.0])  # sd sqrt(2), se 1, t(0.975, 1) = 12.706
    assert mean == 2.0 and (high - mean) == pytest.approx(12.706204736, rel=1e-9) and low == pytest.approx(4 - high)


def test_mean_interval_drops_nan_and_inf():
    values = [61.0, np.nan, 64.5, 58.25, np.inf, 70.0]
    assert metrics.mean_interval(values) == pytest.approx(_textbook_t([61.0, 64.5, 58.25, 70.0]), rel=1e-12)


def test_mean_interval_below_two_values_has_no_interval():
    mean, low, high = metrics.mean_interval([5.0, np.nan])
    assert mean == 5.0 and np.isnan(low) and np.isnan(high)
    assert all(np.isnan(metrics.mean_interval([])))
    assert all(np.isnan(metrics.mean_interval([np.nan, np.nan])))


def test_mean_interval_of_identical_values_has_zero_width():
    assert metrics.mean_interval([3.0, 3.0, 3.0]) == (3.0, 3.0, 3.0)


def test_mean_interval_refuses_a_confidence_outside_0_1():
    with pytest.raises(ValueError, match="confidence"):
        metrics.mean_interval([1.0, 2.0, 3.0], confidence=95)


# --- accuracy_ci, macro_f1 ----------------------------------------------------------------

def test_accuracy_ci_is_the_share_correct_with_its_wilson_interval():
    acc, lo, hi = metrics.accuracy_ci([0, 1, 1, 2], [0, 1, 2, 2])
    assert acc == 0.75 and (lo, hi) == metrics.wilson_interval(3, 4)
    acc, lo, hi = metrics.accuracy_ci(np.array(["a", "b", "c"]), np.array(["a", "b", "c"]), confidence=0.9)
    assert acc == 1.0 and hi == 1.0 and lo == pytest.approx(_textbook_wilson(3, 3, 0.9)[0])


@pytest.mark.parametrize("y_true, y_pred", [([0, 1], [0, 1, 1]), ([], []), ([[0, 1]], [[0, 1]])])
def test_accuracy_ci_refuses_unequal_or_empty_labels(y_true, y_pred):
    with pytest.raises(ValueError, match="y_true and y_pred"):
        metrics.accuracy_ci(y_true, y_pred)


def test_wilson_interval_and_macro_f1():
    """The assertions of tests/test_transfer.py's test of the same name (metrics tested where they live)."""
    low, high = metrics.wilson_interval(8, 10)  # textbook value: (0.490, 0.943)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    acc, lo, hi = metrics.accuracy_ci([0, 1, 1, 2], [0, 1, 2, 2])
    assert acc == 0.75 and lo < 0.75 < hi
    assert metrics.macro_f1([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert metrics.macro_f1([0, 0, 1, 1], [0, 0, 0, 0]) == pytest.approx((2 / 3 + 0) / 2)


def test_macro_f1_is_the_unweighted_mean_of_per_class_f1():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    # class 0: P 1/2, R 1/2 -> 0.5; class 1: P 2/3, R 1 -> 0.8; class 2: P 1, R 1/2 -> 2/3
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # a class never predicted nor present counts as F1 0 when listed (zero_division=0)
    assert metrics.macro_f1(y_true, y_pred, labels=[0, 1, 2, 3]) == pytest.approx((0.5 + 0.8 + 2 / 3) / 4)
    assert metrics.macro_f1(y_true, y_true) == 1.0


# --- image_l1, psnr, image_scores ---------------------------------------------------------

def test_image_l1_is_the_mean_absolute_difference_without_uint8_wraparound():
    a = np.zeros((2, 4, 4, 1), np.uint8)
    b = a.copy()
    b[0] = 255           # image 0 differs by 255 everywhere (uint8 0 - 255 would wrap to 1)
    b[1, 0, 0, 0] = 16   # image 1 differs by 16 in one pixel of 16
    assert metrics.image_l1(a, b) == pytest.approx((255 + 1) / 2)
    np.testing.assert_allclose(metrics.image_l1(a, b, axis=(1, 2, 3)), [255.0, 1.0])
    assert metrics.image_l1(b, a) == metrics.image_l1(a, b)
    with pytest.raises(ValueError, match="equal shapes"):
        metrics.image_l1(a, b[:1])


def test_psnr_of_a_known_mean_squared_error():
    a = np.full((8, 8), 100, np.uint8)
    b = a + np.uint8(5)                                   # MSE 25
    assert metrics.psnr(a, b) == pytest.approx(10 * np.log10(255 ** 2 / 25))   # 34.15 dB
    assert metrics.psnr(a, b) == pytest.approx(20 * np.log10(51))
    assert metrics.psnr(a, a) == np.inf
    x = np.zeros((2, 3))
    y = np.array([[0.5, 0.5, 0.5], [0.0, 0.0, 1.0]])   # on [-1, 1]: MSE 0.25 and 1/3
    np.testing.assert_allclose(metrics.psnr(x, y, data_range=2.0, axis=1),
                               [10 * np.log10(4 / 0.25), 10 * np.log10(4 / (1 / 3))])


@pytest.mark.parametrize("data_range", [0, -1.0])
def test_psnr_refuses_a_non_positive_range(data_range):
    with pytest.raises(ValueError, match="data_range"):
        metrics.psnr(np.zeros(4), np.ones(4), data_range=data_range)


def test_image_scores_one_row_per_candidate_of_per_image_means():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 200, (3, 8, 8, 1)).astype(np.uint8)
    offsets = np.array([2, 4, 6], np.uint8)
    shifted = target + offsets[:, None, None, None]      # image i differs by offsets[i] everywhere
    half = target.copy()
    half[:, :4] += np.uint8(10)                          # half of every image differs by 10
    scores = metrics.image_scores(target, {"shifted": shifted, "half": half})
    assert isinstance(scores, pd.DataFrame)
    assert list(scores.columns) == ["candidate", "n_images", "l1", "l1_std", "psnr_db", "psnr_std"]
    assert list(scores["candidate"]) == ["shifted", "half"] and (scores["n_images"] == 3).all()
    row = scores.set_index("candidate").loc["shifted"]
    assert row["l1"] == pytest.approx(4.0) and row["l1_std"] == pytest.approx(np.std([2, 4, 6]))
    per_image = 20 * np.log10(255 / offsets.astype(float))
    assert row["psnr_db"] == pytest.approx(per_image.mean()) and row["psnr_std"] == pytest.approx(per_image.std())
    row = scores.set_index("candidate").loc["half"]
    assert row["l1"] == pytest.approx(5.0) and row["l1_std"] == pytest.approx(0.0)
    assert row["psnr_db"] == pytest.approx(10 * np.log10(255 ** 2 / 50)) and row["psnr_std"] == pytest.approx(0.0)


def test_image_metrics_known_values():
    a = np.zeros((2, 8, 8, 1), np.uint8)
    b = np.full_like(a, 10)
    assert metrics.image_l1(a, b) == pytest.approx(10.0)
    assert metrics.psnr(a, b) == pytest.approx(10 * np.log10(255 ** 2 / 100))
    assert metrics.psnr(a, a) == np.inf
    assert metrics.psnr(a / 127.5 - 1, b / 127.5 - 1, data_range=2.0) == pytest.approx(metrics.psnr(a, b))
    with pytest.raises(ValueError, match="shapes"):
        metrics.image_l1(a, b[:1])
