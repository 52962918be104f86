"""voxlib.results.stats: the paired difference and its t interval (against the hand
formula), the named thresholds, baselines left out, and the seed-to-seed noise rule."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from synthetic_sweep import write_synthetic_sweep
from voxlib import results as R


def test_paired_difference_recovers_a_constant_offset():
    rng = np.random.default_rng(1)
    base = rng.uniform(60, 90, 12)
    rows = [{"model": f"m{i}", "transform": t, "accuracy": b + off + rng.normal(0, 0.5)}
            for i, b in enumerate(base) for t, off in (("morse", 4.0), ("kaiser", 0.0))]
    p = R.paired_difference(pd.DataFrame(rows), by="transform", a="morse", b="kaiser")
    assert p["n"] == 12 and p["ci_low"] < 4.0 < p["ci_high"] and p["ci_low"] > 0
    assert p["diff"] == pytest.approx(4.0, abs=0.6) and p["wins"] == 12


def test_no_interval_from_fewer_than_three_models():
    # two models whose transform gaps have opposite signs: no interval
    two = pd.DataFrame({"model": ["m", "m", "n", "n"], "transform": ["amor", "kaiser"] * 2,
                        "accuracy": [80.0, 50.0, 45.0, 50.0], "ci_low": [70.0, 40.0, 35.0, 40.0],
                        "ci_high": [90.0, 60.0, 55.0, 60.0]})
    p = R.paired_difference(two, by="transform", a="amor", b="kaiser")
    assert p["method"] is None and np.isnan(p["ci_low"]) and np.isnan(p["ci_high"])
    assert p["n"] == 2 and p["wins"] == 1 and p["diff"] == pytest.approx(12.5)
    assert p["note"] == "too few models for an interval"
    # the thesis's case (no CIs) gets no interval from two models either
    assert R.paired_difference(two.drop(columns=["ci_low", "ci_high"]), a="amor", b="kaiser")["method"] is None
    assert R.paired_difference(two, by="model", a="m", b="n")["note"] == "too few transforms for an interval"


def test_interval_method_follows_the_named_threshold():
    """Below MIN_PAIRS_FOR_INTERVAL pairs: no interval; from it on: paired t."""
    rows = [{"model": f"m{i}", "transform": t, "accuracy": acc, "ci_low": acc - 10, "ci_high": acc + 10}
            for i in range(R.MIN_PAIRS_FOR_INTERVAL) for t, acc in (("amor", 70.0 + i), ("kaiser", 60.0 - i))]
    table = pd.DataFrame(rows)
    few = table[table["model"].isin([f"m{i}" for i in range(R.MIN_PAIRS_FOR_INTERVAL - 1)])]
    assert R.paired_difference(few, a="amor", b="kaiser")["method"] is None
    enough = R.paired_difference(table, a="amor", b="kaiser")
    diffs = np.array([10.0 + 2 * i for i in range(R.MIN_PAIRS_FOR_INTERVAL)])
    half = 4.302652729911275 * diffs.std(ddof=1) / np.sqrt(len(diffs))  # t(0.975, 2 df)
    assert enough["method"] == "paired t" and enough["ci_high"] - enough["diff"] == pytest.approx(half)


def _paired(diffs):
    """A table of len(diffs) models whose amor - kaiser differences are ``diffs``."""
    rows = [{"model": f"m{i}", "transform": t, "accuracy": acc}
            for i, d in enumerate(diffs) for t, acc in (("amor", 60.0 + d), ("kaiser", 60.0))]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_paired_interval_is_the_hand_t_formula(confidence):
    """metrics.mean_interval gives the interval written by hand before (mean +- t * sd / sqrt(n))."""
    diffs = np.array([3.5, -1.0, 7.25, 2.0, 4.5, 0.5, 6.0])
    p = R.paired_difference(_paired(diffs), a="amor", b="kaiser", confidence=confidence)
    n = len(diffs)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * diffs.std(ddof=1) / np.sqrt(n)
    assert p["method"] == "paired t" and p["n"] == n and p["wins"] == 6
    assert p["diff"] == pytest.approx(diffs.mean(), rel=1e-12)
    assert (p["ci_low"], p["ci_high"]) == pytest.approx((diffs.mean() - half, diffs.mean() + half), rel=1e-12)


def test_identical_paired_differences_give_a_zero_width_interval():
    p = R.paired_difference(_paired([3.0, 3.0, 3.0]), a="amor", b="kaiser")
    assert p["method"] == "paired t" and p["diff"] == p["ci_low"] == p["ci_high"] == pytest.approx(3.0)


def test_paired_difference_leaves_baselines_out(tmp_path):
    write_synthetic_sweep(tmp_path / "sweep", baselines=True)
    runs = R.load_runs(tmp_path / "sweep" / "sweep.csv")
    ours = R.tidy_sweep(runs)
    method = ours[~R.is_baseline(ours)]
    assert R.paired_difference(ours, by="transform", a="morse", b="hamming") == \
        R.paired_difference(method, by="transform", a="morse", b="hamming")
    with pytest.raises(ValueError, match="MFCC"):
        R.paired_difference(ours, by="model", a="MFCC+LR", b="MobileNetV2")


def test_within_seed_noise_rule():
    assert R.within_seed_noise(4.0, 10.0, 10.0) is True
    assert R.within_seed_noise(4.0, 1.0, 1.0) is False and R.within_seed_noise(4.0, np.nan, 1.0) is None
