"""voxlib.results.prose: the generated commentary names what the numbers show (best and
worst, intervals, seed-to-seed noise, baselines, the comparison with the thesis)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from synthetic_sweep import _base, _run, _seeded_table, _sweep, sweep_path, write_synthetic_sweep  # noqa: F401 (fixture)
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
    assert "the two are tied, and best and worst here only name the order of the means" in text
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


# --- the one-result findings of notebooks 02-03: each outcome on a table where it occurs ---

def _runs(values, baselines=(), n_test=None):
    """Sweep rows {(network, transform): [acc per seed]} + [(baseline, acc)], selected as notebook 03 does."""
    rows = [_run(m, t, s, a) for (m, t), accs in values.items() for s, a in enumerate(accs)]
    rows += [_base(name, acc) for name, acc in baselines]
    runs = R.select_runs(R.validate_sweep(pd.DataFrame(rows)))
    return runs.assign(n_test=n_test) if n_test else runs


IMAGES = {("MobileNetV2", "amor"): [70.0, 74.0, 72.0], ("MobileNetV2", "hamming"): [50.0, 60.0, 55.0]}


def test_baselines_finding_every_baseline_above_the_best_image_cell():
    spread = R.seed_spread(_runs(IMAGES, [("MFCC+LR", 96.4), ("CAM++ +LR", 100.0)]))
    text = R.baselines_finding(spread)
    assert "**MobileNetV2 on amor**, 72.0 % held-out over 3 seeds (70.0-74.0 %)" in text
    assert "All 2 baselines lie above its best seed: CAM++ +LR (100.0 %) and MFCC+LR (96.4 %)" in text
    assert "Every baseline beats every image model" in text and "tied" not in text


def test_baselines_finding_sorts_baselines_above_within_and_below_the_seed_range():
    spread = R.seed_spread(_runs(IMAGES, [("MFCC+LR", 80.0), ("d-vector+LR", 71.0), ("CAM++ +LR", 65.0)]))
    text = R.baselines_finding(spread)
    assert "MFCC+LR (80.0 %) is above its best seed: it beats every image model." in text
    assert "d-vector+LR (71.0 %) falls within its seed range: tied." in text
    assert "CAM++ +LR (65.0 %) is below its worst seed." in text and "beats every baseline" not in text
    beaten = R.baselines_finding(R.seed_spread(_runs(IMAGES, [("MFCC+LR", 60.0), ("d-vector+LR", 40.0)])))
    assert "MFCC+LR (60.0 %) and d-vector+LR (40.0 %) are below its worst seed: the image route beats every baseline." \
        in beaten


def test_baselines_finding_with_one_seed_no_baseline_or_no_image_model():
    one = R.seed_spread(_runs({("SequentialCNN", "morse"): [70.0]}, [("MFCC+LR", 70.0)]))
    assert "70.0 % held-out." in R.baselines_finding(one) and "MFCC+LR (70.0 %) equals it: tied." in R.baselines_finding(one)
    assert "No baseline ran" in R.baselines_finding(R.seed_spread(_runs(IMAGES)))
    assert R.baselines_finding(R.seed_spread(_runs({}, [("MFCC+LR", 90.0)]))).startswith("Only the baselines ran (MFCC+LR 90.0 %)")
    with pytest.raises(ValueError, match="spread: not a seed_spread table, missing"):
        R.baselines_finding(pd.DataFrame({"network": ["x"]}))


def test_seed_finding_reports_the_ranges_and_the_worth_of_one_recording():
    text = R.seed_finding(_runs(IMAGES, [("MFCC+LR", 90.0)], n_test=40))
    assert "by 4.0 to 10.0 points (median 7.0)" in text and "widest is MobileNetV2 on hamming (50.0-60.0 %)" in text
    assert "With 40 held-out recordings, one recording is 2.5 points." in text
    one = R.seed_finding(_runs({("MobileNetV2", "amor"): [70.0]}))
    assert one.startswith("One seed per image cell: the seed-to-seed spread is n/a") and "recording" not in one
    assert R.seed_finding(_runs({}, [("MFCC+LR", 90.0)])).startswith("No image model ran")


def test_train_gap_finding_every_cell_loses_or_not_and_chance():
    runs = _runs(IMAGES)   # _run puts training accuracy 20 points above held-out
    text = R.train_gap_finding(R.seed_spread(runs), n_classes=7)
    assert "score 75.0-92.0 %" in text and "held-out sentences 55.0-72.0 %" in text
    assert "Every cell loses 20.0 points on new sentences" in text and "Every cell stays above chance (14.3 %)" in text
    spread = R.seed_spread(runs)
    spread.loc[0, "train_mean"] = 100.0
    assert "Every cell loses between 20.0 and 28.0 points" in R.train_gap_finding(spread)  # amor: 100 - 72
    spread.loc[0, "train_mean"] = spread.loc[0, "mean"]        # one cell generalises perfectly
    text = R.train_gap_finding(spread, n_classes=2)
    assert "1 of 2 cells lose accuracy on new sentences (by up to 20.0 points)" in text
    assert "1 of 2 cells stays above chance (50.0 %)" in text


def test_memorisation_finding_against_the_held_out_interval():
    run = pd.Series({"network": "MobileNetV2", "transform": "amor", "seed": 1, "train_accuracy": 99.0,
                     "test_accuracy": 71.0, "test_ci_high": 80.0})
    text = R.memorisation_finding(run)
    assert text.startswith("MobileNetV2 on amor (seed 1) scores 99.0 % on its training images and 71.0 %")
    assert "28.0 points of memorisation, beyond the held-out 95 % interval (up to 80.0 %)" in text
    fits = R.memorisation_finding(pd.Series({**run.to_dict(), "train_accuracy": 78.0}))
    assert "lies within the held-out 95 % interval (up to 80.0 %), so no memorisation shows" in fits


def test_confusion_finding_names_the_most_frequent_confusion():
    labels = ["anna", "bea", "carl"]
    cm = pd.DataFrame([[8, 3, 0], [0, 5, 0], [0, 0, 8]], index=labels, columns=labels)  # rows predicted
    text = R.confusion_finding(cm)
    assert text.startswith("21 of 24 held-out recordings are recognised (87.5 %).")
    assert "bea taken for anna (3 of 8)" in text and "fall on 1 of 3 speakers" in text
    assert "from 62 % (bea) to 100 %" in text
    ties = pd.DataFrame([[6, 2, 0], [0, 6, 2], [2, 0, 6]], index=labels, columns=labels)
    assert "The most frequent confusions, 2 recordings each: bea taken for anna, carl taken for bea and anna taken " \
        "for carl." in R.confusion_finding(ties)    # rows are the predicted speaker
    single = pd.DataFrame([[7, 1, 0], [0, 7, 1], [1, 0, 7]], index=labels, columns=labels)
    assert "No confusion repeats: each of the 3 errors is a different pair of voices." in R.confusion_finding(single)
    perfect = R.confusion_finding(pd.DataFrame(np.diag([4, 4]), index=labels[:2], columns=labels[:2]))
    assert "No recording is taken for another speaker." in perfect and "100.0 %" in perfect
    with pytest.raises(ValueError, match="confusion: expected a square table"):
        R.confusion_finding(pd.DataFrame([[1, 2, 3]]))


def _means(values, by):
    tidy, each = _seeded_table(values)
    return R.mean_accuracy(tidy, by=by, seeds=each)


def test_a_gap_within_the_seed_range_is_no_best_or_worst():
    # 66.9 % against 66.8 %, seeds 4 points apart: the colours must not call one best
    means = _means({("MobileNetV2", "amor"): [64.9, 68.9, 66.9], ("SequentialCNN", "amor"): [64.8, 68.8, 66.8]},
                   by="model")
    assert R.standouts(means) == {"best": [], "worst": []}
    text = R.ranking_finding(means)
    assert "**MobileNetV2** (66.9 %); lowest: **SequentialCNN** (66.8 %), 0.1 points apart" in text
    assert "within the seed range (4.0 points): this run cannot rank these models, so no bar is coloured" in text


def test_a_clear_gap_colours_the_extremes_and_the_levels_tied_with_them():
    values = {("MobileNetV2", t): [m - 1, m + 1, m] for t, m in
              (("hamming", 50.0), ("kaiser", 51.0), ("bump", 70.0), ("morse", 80.0), ("amor", 79.0))}
    means = _means(values, by="transform")
    assert R.standouts(means) == {"best": ["morse", "amor"], "worst": ["hamming", "kaiser"]}
    text = R.ranking_finding(means)
    assert "**morse** (80.0 %); lowest: **hamming** (50.0 %), 30.0 points apart, more than either side's seed" in text
    assert "amor is within the seed range of the best, so it shares its colour." in text
    assert "kaiser is within the seed range of the worst" in text and "bump" not in text
    base = pd.DataFrame({"model": ["MFCC+LR", "CAM++ +LR"], "accuracy": [96.4, 70.0]})
    assert R.ranking_finding(means, base).endswith("The best baseline, MFCC+LR (96.4 %), is 16.4 points above the highest bar.")
    assert "10.0 points below the highest bar" in R.ranking_finding(means, base.assign(accuracy=[70.0, 60.0]))


def test_without_seed_ranges_the_extremes_are_coloured_as_the_thesis_did():
    means = R.mean_accuracy(R.load_thesis_results(), by="transform")
    assert R.standouts(means) == {"best": ["morse"], "worst": ["blackman"]}
    assert "one run each, so no seed spread to judge the gap" in R.ranking_finding(means)
    one = means[means["transform"] == "amor"]
    assert R.standouts(one) == {"best": [], "worst": []} and "Only one transform (amor)" in R.ranking_finding(one)


def test_sensitivity_finding_against_each_models_seed_range():
    values = {("MobileNetV2", "amor"): [78.0, 84.0, 81.0], ("MobileNetV2", "hamming"): [48.0, 52.0, 50.0],
              ("SequentialCNN", "amor"): [60.0, 70.0, 65.0], ("SequentialCNN", "hamming"): [61.0, 67.0, 63.0]}
    tidy, _ = _seeded_table(values)
    text = R.sensitivity_finding(tidy)
    assert ("MobileNetV2 spans 50.0-81.0 % across the transforms (31.0 points, best on amor, worst on hamming), "
            "more than its seeds move one cell (6.0 points): the image matters to it.") in text
    assert "SequentialCNN spans" in text and "no more than its seeds move one cell (10.0 points)" in text
    thesis = R.sensitivity_finding(R.load_thesis_results())      # 14 models: the extremes only, no seeds
    assert thesis.startswith("Most sensitive: ") and " Least: " in thesis and "seeds" not in thesis
    assert "nothing to compare" in R.sensitivity_finding(tidy[tidy["transform"] == "amor"])


def test_comparison_finding_without_a_shared_pair():
    assert R.comparison_finding(None) == "No (model, transform) pair is in both the thesis's table and ours."
