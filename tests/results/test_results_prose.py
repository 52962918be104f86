"""voxlib.results.prose: the generated commentary names what the numbers show (best and
worst, intervals, seed-to-seed noise, baselines, the comparison with the thesis)."""
from __future__ import annotations

import re

import pandas as pd

from synthetic_sweep import _seeded_table, _sweep, sweep_path, write_synthetic_sweep  # noqa: F401 (fixture)
from voxlib import results as R


def _bold(text: str) -> list[str]:
    return re.findall(r"\*\*(.+?)\*\*", text)


def test_commentary_names_best_and_worst_from_the_data(sweep_path):
    runs = R.select_runs(_sweep(sweep_path))
    ours = R.tidy_sweep(runs)
    text = R.commentary(ours, comparison=R.compare_with_thesis(runs, R.load_thesis_results()))
    by_t, by_m = R.mean_accuracy(ours, by="transform"), R.mean_accuracy(ours, by="model")
    best_t, worst_t = by_t.loc[by_t["mean"].idxmax(), "transform"], by_t.loc[by_t["mean"].idxmin(), "transform"]
    best_m = by_m.loc[by_m["mean"].idxmax(), "model"]
    assert (best_t, worst_t, best_m) == ("morse", "hamming", "SequentialCNN")  # the planted effects
    bold = _bold(text)
    assert bold[1:3] == [best_t, worst_t] and bold[3] == best_m
    gap = by_t["mean"].max() - by_t["mean"].min()
    assert f"{gap:.1f} points apart" in text
    assert "95 % CI" in text and "held-out" in text and "overlap" in text
    assert "pair(s) both tables have" in text


def test_commentary_on_thesis_says_training_accuracy_and_no_ci():
    text = R.commentary(R.load_thesis_results())
    assert "training" in text and "No confidence intervals" in text
    assert "14 model(s) x 6 transform(s)" in text


def test_commentary_flags_an_incomplete_table(sweep_path):
    ours = R.tidy_sweep(R.select_runs(_sweep(sweep_path)))
    assert "incomplete" not in R.commentary(ours)
    partial = ours.drop(index=ours.index[(ours["model"] == "MobileNetV2") & (ours["transform"] == "amor")])
    assert f"incomplete ({len(ours) - 1} of {len(ours)} pairs)" in R.commentary(partial)


def test_commentary_with_one_transform_does_not_rank_it():
    t = R.load_thesis_results()
    text = R.commentary(t[t["transform"] == "amor"])
    assert "Only one transform (amor)" in text


def test_commentary_describes_the_comparison_with_the_thesis(tmp_path):
    write_synthetic_sweep(tmp_path / "sweep", seeds=(0, 1, 2), baselines=True)
    runs = R.select_runs(_sweep(tmp_path / "sweep" / "sweep.csv"))
    cmp = R.compare_with_thesis(runs, R.load_thesis_results())
    text = R.commentary(R.tidy_sweep(runs), comparison=cmp)
    assert "On the 9 (network, transform) pair(s) both tables have (27 runs of ours)" in text
    assert f"in {(cmp['thesis_train'] > cmp['ours_ci_high']).sum()} of 9 pairs" in text
    assert "their mean is used" in text


def test_commentary_says_why_there_is_no_interval_from_two_models():
    two = pd.DataFrame({"model": ["m", "m", "n", "n"], "transform": ["amor", "kaiser"] * 2,
                        "accuracy": [80.0, 50.0, 45.0, 50.0], "ci_low": [70.0, 40.0, 35.0, 40.0],
                        "ci_high": [90.0, 60.0, 55.0, 60.0]})
    table = two.assign(network=two["model"], variant="", source="ours", evaluated_on="test")
    text = R.commentary(table)
    assert "too few models for an interval" in text and "CI" not in text.split("Best pair")[0]


def test_commentary_says_how_far_the_method_is_from_the_best_baseline(tmp_path):
    write_synthetic_sweep(tmp_path / "sweep", baselines=True)
    ours = R.tidy_sweep(R.load_runs(tmp_path / "sweep" / "sweep.csv"))
    text = R.commentary(ours)
    method = ours[~R.is_baseline(ours)]
    top = method.loc[method["accuracy"].idxmax()]
    assert f"{top['model']} + {top['transform']} ({top['accuracy']:.1f} %)" in text
    assert f"**{95.0 - top['accuracy']:.1f} points below** the best baseline, MFCC+LR (95.0 %)" in text
    assert "3 model(s) x 3 transform(s)" in text  # the baselines are not models of the thesis's method


def test_noise_wording_follows_the_seed_ranges():
    # morse beats hamming by 4 points on average, but each cell's seeds span 10 points: noise
    noisy = {("MobileNetV2", "morse"): [60.0, 70.0, 65.0], ("MobileNetV2", "hamming"): [56.0, 66.0, 61.0]}
    tidy, each = _seeded_table(noisy)
    text = R.commentary(tidy, seeds=each)
    assert "mean of 3 seeds" in text and "The gap is **within seed-to-seed noise**" in text
    assert "points behind (within seed-to-seed noise)" in text
    # the same gap with seeds 1 point apart is more than the seeds explain
    tight = {("MobileNetV2", "morse"): [64.5, 65.5, 65.0], ("MobileNetV2", "hamming"): [60.5, 61.5, 61.0]}
    tidy, each = _seeded_table(tight)
    text = R.commentary(tidy, seeds=each)
    assert "**within seed-to-seed noise**" not in text and "(within seed-to-seed noise)" not in text
    assert "0 of the other 1 pairs are within seed-to-seed noise of the best" in text
    assert "the seeds do not explain it" in text and "(more than the seeds explain)" in text


def test_transform_gap_is_judged_on_the_per_seed_means():
    # three models; seed 1 is better everywhere, so each transform's per-seed means span 6 points
    values = {(m, t): [base + off, base + off + 6.0]
              for m, base in (("MobileNetV2", 60.0), ("SequentialCNN", 70.0), ("EfficientNetB0", 50.0))
              for t, off in (("morse", 3.0), ("hamming", 0.0))}
    tidy, each = _seeded_table(values)
    line = next(ln for ln in R.commentary(tidy, seeds=each).splitlines() if ln.startswith("- Best transform"))
    assert "**morse**" in line and "within seed-to-seed noise" in line and "6.0 points" in line
    # every model gains exactly 3 points: the paired interval has zero width and excludes zero
    assert "3.0 points (95 % CI 3.0 to 3.0)" in line and "the interval excludes zero" in line


def test_one_seed_everything_works_and_the_spread_is_na(sweep_path):
    runs = R.select_runs(_sweep(sweep_path))
    tidy, each = R.tidy_sweep(runs), R.tidy_sweep(runs, seeds="each")
    text = R.commentary(tidy, seeds=each)
    assert "One seed per pair: the seed-to-seed spread is n/a" in text and "seed-to-seed noise" not in text
    assert R.mean_accuracy(tidy, seeds=each)["n_seeds"].eq(1).all()
