"""voxlib.results.tables: the thesis table (cross-checked against THESIS.md), sweep
loading/selection/validation, tidy tables, seed spread, level means, the comparison with
the thesis, the best run and its files; and the package's face."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthetic_sweep import (  # noqa: F401 (sweep_path is a fixture)
    CLASSES,
    NETWORKS,
    TRANSFORMS,
    _base,
    _run,
    _seeded_table,
    _sweep,
    sweep_path,
    write_synthetic_sweep,
)
from voxlib import results as R
from voxlib.results import prose, stats, tables
from voxlib.run import project_root


def test_face_reexports_every_public_name_of_the_submodules():
    for module in (tables, stats, prose):
        for name in module.__all__:
            assert getattr(R, name) is getattr(module, name), name
            assert name in R.__all__, name


# --- the thesis's table --------------------------------------------------------------

def _thesis_md():
    for candidate in (project_root().parent / "shared" / "THESIS.md", project_root() / "shared" / "THESIS.md"):
        if candidate.is_file():
            return candidate
    pytest.skip("THESIS.md not found beside the repository (../shared/THESIS.md): cannot cross-check")


def _parse_markdown_table(md: str) -> pd.DataFrame:
    """Section 3's table of THESIS.md as (transform, column) -> accuracy."""
    section = md.split("## 3.")[1].split("\n## ")[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    body = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    wide = pd.DataFrame([[float(v) for v in row[1:]] for row in body], index=[r[0] for r in body], columns=header[1:])
    return wide


def test_thesis_csv_is_14_models_by_6_transforms_of_training_accuracy():
    t = R.load_thesis_results()
    assert t.shape == (84, len(R.RESULTS_COLUMNS))
    assert t["model"].nunique() == 14 and t.groupby("model")["transform"].nunique().eq(6).all()
    assert not t.duplicated(["model", "transform"]).any()
    assert set(t["evaluated_on"]) == {"train"} and set(t["source"]) == {"thesis"}
    seq = t[t["network"] == "SequentialCNN"]
    assert set(seq["model"]) == {"SequentialCNN (hablanteA)", "SequentialCNN (hablanteB)"}
    assert set(seq["variant"]) == {"hablanteA", "hablanteB"}
    assert t["ci_low"].isna().all()


def test_thesis_table_is_package_data_found_from_anywhere(tmp_path, monkeypatch):
    """Notebook 03 on a non-editable install: no repository folders to walk up to."""
    import voxlib
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOXLIB_ROOT", str(tmp_path))  # a project root without data/
    path = R.thesis_results_path()
    assert path.parent == Path(voxlib.__file__).parent / "data" and path.is_file()
    assert len(R.load_thesis_results()) == 84


def test_thesis_csv_matches_every_cell_of_thesis_md():
    wide = _parse_markdown_table(_thesis_md().read_text())
    assert wide.shape == (6, 14)
    t = R.load_thesis_results()
    label = {c: (f"SequentialCNN ({c})" if c.startswith("hablante") else c) for c in wide.columns}
    for transform, row in wide.iterrows():
        for column, value in row.items():
            got = t.loc[(t["model"] == label[column]) & (t["transform"] == transform), "accuracy"]
            assert len(got) == 1 and got.iloc[0] == pytest.approx(value), (column, transform)


def test_summaries_match_means_of_the_markdown_table():
    wide = _parse_markdown_table(_thesis_md().read_text())
    t = R.load_thesis_results()
    by_t = R.mean_accuracy(t, by="transform").set_index("transform")["mean"]
    assert list(by_t.index) == list(R.TRANSFORM_NAMES)
    np.testing.assert_allclose(by_t[wide.index], wide.mean(axis=1), rtol=1e-9)
    by_m = R.mean_accuracy(t, by="model")
    assert by_m["n"].eq(6).all() and by_m["rank"].min() == 1
    np.testing.assert_allclose(by_m["mean"].to_numpy(), wide.mean(axis=0).to_numpy(), rtol=1e-9)


# --- sweep loading, validation, selection ----------------------------------------------

def test_load_sweep_makes_paths_absolute_and_select_keeps_latest(sweep_path):
    sweep = _sweep(sweep_path)
    assert len(sweep) == len(NETWORKS) * len(TRANSFORMS) + 1
    runs = R.select_runs(sweep)
    assert len(runs) == len(NETWORKS) * len(TRANSFORMS)
    assert not runs.duplicated(["network", "transform"]).any()
    picked = runs[(runs["network"] == "SequentialCNN") & (runs["transform"] == "morse")].iloc[0]
    assert picked["weights"] == "imagenet"  # the later run, not the older worse one
    assert all(p.startswith(str(sweep_path.parent)) for p in runs["history_path"])
    older = R.select_runs(sweep, where={"weights": "random"})
    assert len(older) == 1 and older["test_accuracy"].iloc[0] < picked["test_accuracy"]


def test_select_runs_rejects_unknown_filter_column_and_empty_selection(sweep_path):
    sweep = _sweep(sweep_path)
    with pytest.raises(ValueError, match="optimizer"):
        R.select_runs(sweep, where={"optimizer": "adam"})
    with pytest.raises(ValueError, match="keeps none"):
        R.select_runs(sweep, where={"weights": "nonexistent.h5"})


@pytest.mark.parametrize("column", ["test_ci_low", "transform", "network"])
def test_missing_column_error_names_column_and_file(sweep_path, column):
    pd.read_csv(sweep_path).drop(columns=column).to_csv(sweep_path, index=False)
    with pytest.raises(ValueError, match=column) as info:
        R.load_runs(sweep_path)
    assert str(sweep_path) in str(info.value)


def test_unknown_transform_error_names_it_and_the_file(sweep_path, tmp_path):
    df = pd.read_csv(sweep_path)
    df.loc[0, "transform"] = "mexh"
    df.to_csv(sweep_path, index=False)
    with pytest.raises(ValueError, match="'mexh'") as info:
        R.load_runs(sweep_path)
    assert str(sweep_path) in str(info.value) and "amor" in str(info.value)
    thesis = pd.read_csv(R.thesis_results_path())
    thesis.loc[3, "transform"] = "gabor"
    bad = tmp_path / "thesis.csv"
    thesis.to_csv(bad, index=False)
    with pytest.raises(ValueError, match="'gabor'") as info:
        R.load_thesis_results(bad)
    assert str(bad) in str(info.value)


def test_two_settings_for_one_pair_are_refused_in_a_tidy_table(sweep_path):
    sweep = _sweep(sweep_path)  # unselected: SequentialCNN/morse with weights imagenet and random
    with pytest.raises(ValueError, match="'SequentialCNN', 'morse'.*different settings.*random"):
        R.tidy_sweep(sweep)
    each = R.tidy_sweep(sweep, seeds="each")  # one row per run: not a table to plot
    with pytest.raises(ValueError, match="more than one row"):
        R.validate_results(each)
    with pytest.raises(ValueError, match="more than one row"):
        R.mean_accuracy(each)


def test_fractions_instead_of_percent_are_refused(sweep_path):
    df = pd.read_csv(sweep_path)
    df["test_accuracy"] /= 100
    df.to_csv(sweep_path, index=False)
    with pytest.raises(ValueError, match="test_accuracy.*percent"):
        R.load_runs(sweep_path)


def test_load_runs_falls_back_to_none_unless_the_file_was_asked_for(sweep_path, tmp_path):
    assert R.load_runs(tmp_path / "absent.csv") is None
    with pytest.raises(FileNotFoundError):
        R.load_runs(tmp_path / "absent.csv", required=True)
    pd.read_csv(sweep_path).iloc[:0].to_csv(tmp_path / "empty.csv", index=False)
    with pytest.warns(UserWarning, match="no rows"):
        assert R.load_runs(tmp_path / "empty.csv") is None
    assert len(R.load_runs(sweep_path)) == len(NETWORKS) * len(TRANSFORMS)
    assert set(R.results_tables(None)) == {"thesis"}
    with pytest.raises(ValueError, match="nothing to draw"):
        R.results_tables(None, include_thesis=False)


def test_missing_files_say_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="sweep.csv does not exist; run notebook 02"):
        R.load_runs(tmp_path / "sweep.csv", required=True)
    with pytest.raises(FileNotFoundError, match="sweep/history"):
        R.load_history(tmp_path / "h.csv")


# --- tidy tables, comparison, best run ---------------------------------------------

def test_tidy_sweep_test_and_train(sweep_path):
    runs = R.select_runs(_sweep(sweep_path))
    test = R.tidy_sweep(runs)
    train = R.tidy_sweep(runs, evaluated_on="train")
    assert list(test.columns) == list(R.RESULTS_COLUMNS) + list(R.SPREAD_COLUMNS)
    assert (test["n_seeds"] == 1).all() and test["seed_sd"].isna().all()  # one seed: spread n/a
    assert (test["seed_min"] == test["accuracy"]).all() and (test["seed_max"] == test["accuracy"]).all()
    assert (test["ci_low"] <= test["accuracy"]).all() and (test["accuracy"] <= test["ci_high"]).all()
    assert train["ci_low"].isna().all() and (train["accuracy"] >= test["accuracy"]).all()
    with pytest.raises(ValueError, match="evaluated_on"):
        R.tidy_sweep(runs, evaluated_on="validation")


def test_compare_with_thesis_compares_each_of_our_runs_once(tmp_path):
    write_synthetic_sweep(tmp_path / "sweep", seeds=(0, 1, 2), baselines=True)
    runs = R.select_runs(_sweep(tmp_path / "sweep" / "sweep.csv"))
    thesis = R.load_thesis_results()
    cmp = R.compare_with_thesis(runs, thesis)
    # 3 networks x 3 transforms, each once (no baseline: the thesis has none)
    assert len(cmp) == len(NETWORKS) * len(TRANSFORMS)
    assert not cmp.duplicated(["network", "transform"]).any()
    row = cmp[(cmp["network"] == "SequentialCNN") & (cmp["transform"] == "amor")].iloc[0]
    a, b = (thesis.loc[(thesis["model"] == f"SequentialCNN (hablante{v})") & (thesis["transform"] == "amor"),
                       "accuracy"].iloc[0] for v in "AB")
    assert row["thesis_train"] == pytest.approx((a + b) / 2) and row["thesis_n"] == 2
    assert row["model"] == "SequentialCNN (mean of hablanteA, hablanteB)"
    ours = runs[(runs["network"] == "SequentialCNN") & (runs["transform"] == "amor")]
    assert row["n_seeds"] == 3 and row["ours_test"] == pytest.approx(ours["test_accuracy"].mean())
    assert row["ours_train"] == pytest.approx(ours["train_accuracy"].mean())


def test_best_run_is_highest_test_accuracy(sweep_path):
    runs = R.select_runs(_sweep(sweep_path))
    best = R.best_run(runs)
    assert best["test_accuracy"] == runs["test_accuracy"].max()
    assert (best["network"], best["transform"]) == ("SequentialCNN", "morse")


def test_history_and_confusion_round_trip(sweep_path):
    best = R.best_run(R.select_runs(_sweep(sweep_path)))
    h = R.load_history(best["history_path"])
    assert list(h["epoch"]) == [1, 2, 3, 4, 5] and {"loss", "accuracy"} <= set(h.columns)
    cm = R.load_confusion(best["confusion_path"])
    assert list(cm.index) == list(CLASSES) == list(cm.columns)
    assert np.trace(cm.to_numpy()) == round(best["test_accuracy"] / 100 * 60)


def test_non_square_confusion_is_refused(tmp_path):
    p = tmp_path / "cm.csv"
    pd.DataFrame({"predicted": ["A", "B"], "A": [1, 2], "B": [0, 3], "C": [1, 1]}).to_csv(p, index=False)
    with pytest.raises(ValueError, match="square"):
        R.load_confusion(p)


def test_write_results_tables(tmp_path):
    t = R.load_thesis_results()
    (p,) = R.write_results_tables({"thesis": t}, tmp_path / "results")
    assert p.name == "thesis.csv" and pd.read_csv(p).shape == t.shape


# --- seeds, baselines ----------------------------------------------------------------

def test_select_runs_keeps_every_seed_of_the_latest_setting():
    rows = [_run("MobileNetV2", "amor", s, 50.0 + s, weights="random", minute=1 + s) for s in (0, 1)]
    rows += [_run("MobileNetV2", "amor", s, 60.0 + s, minute=10 + s) for s in (0, 1, 2)]
    rows += [_run("MobileNetV2", "amor", 1, 70.0, minute=20)]  # seed 1 rerun later: replaces 61
    rows += [_run("MobileNetV2", "morse", 0, 40.0, minute=30)]
    runs = R.select_runs(R.validate_sweep(pd.DataFrame(rows)))
    amor = runs[runs["transform"] == "amor"]
    assert list(amor["seed"]) == [0, 1, 2] and set(amor["weights"]) == {"imagenet"}
    assert list(amor["test_accuracy"]) == [60.0, 70.0, 62.0]
    assert list(runs["transform"]) == ["amor"] * 3 + ["morse"]
    older = R.select_runs(R.validate_sweep(pd.DataFrame(rows)), where={"weights": "random"})
    assert list(older["test_accuracy"]) == [50.0, 51.0]


def test_seed_spread_numbers_on_a_hand_built_sweep():
    rows = [_run("SequentialCNN", "amor", s, acc, train=tr, ci=c)
            for s, acc, tr, c in ((0, 50.0, 90.0, 4.0), (1, 56.0, 94.0, 6.0), (2, 62.0, 98.0, 8.0))]
    rows += [_run("SequentialCNN", "morse", 0, 40.0, train=70.0)]
    spread = R.seed_spread(R.select_runs(R.validate_sweep(pd.DataFrame(rows))))
    assert list(spread.columns) == list(R.SEED_SPREAD_COLUMNS)
    amor, morse = spread.iloc[0], spread.iloc[1]
    assert (amor["n_seeds"], amor["mean"], amor["min"], amor["max"], amor["train_mean"]) == (3, 56.0, 50.0, 62.0, 94.0)
    assert amor["sd"] == pytest.approx(6.0)  # sd of 50, 56, 62 (ddof 1)
    assert amor["ci_low"] == pytest.approx(56.0 - 6.0) and amor["ci_high"] == pytest.approx(56.0 + 6.0)
    assert morse["n_seeds"] == 1 and np.isnan(morse["sd"]) and morse["min"] == morse["max"] == 40.0
    tidy = R.tidy_sweep(R.select_runs(R.validate_sweep(pd.DataFrame(rows))))
    assert list(tidy["accuracy"]) == [56.0, 40.0] and list(tidy["seed_max"]) == [62.0, 40.0]
    with pytest.raises(ValueError, match="different settings"):
        R.seed_spread(pd.DataFrame(rows + [_run("SequentialCNN", "morse", 1, 41.0, weights="random")]))
    with pytest.raises(ValueError, match="seed 0 of"):
        R.seed_spread(pd.DataFrame(rows + [_run("SequentialCNN", "morse", 0, 41.0)]))


def test_baselines_are_rows_but_not_in_means(tmp_path):
    write_synthetic_sweep(tmp_path / "sweep", baselines=True)
    runs = R.load_runs(tmp_path / "sweep" / "sweep.csv")
    assert set(R.BASELINE_NETWORKS) <= set(runs["network"])
    ours = R.tidy_sweep(runs)
    base = ours[R.is_baseline(ours)]
    assert list(base["transform"]) == [R.BASELINE_TRANSFORM] * 3
    assert list(base["accuracy"]) == pytest.approx([95.0, 90.0, 100 * 53 / 60])
    method = ours[~R.is_baseline(ours)]
    by_t, by_m = R.mean_accuracy(ours, by="transform"), R.mean_accuracy(ours, by="model")
    assert list(by_t["transform"]) == list(TRANSFORMS) and list(by_m["model"]) == list(NETWORKS)
    np.testing.assert_allclose(by_m["mean"], method.groupby("model", sort=False)["accuracy"].mean()[list(NETWORKS)])
    assert R.best_run(runs)["network"] not in R.BASELINE_NETWORKS  # baselines have no history to show


def test_the_audio_transform_is_for_baselines_only(sweep_path):
    df = pd.read_csv(sweep_path)
    df.loc[0, "transform"] = R.BASELINE_TRANSFORM
    with pytest.raises(ValueError, match="'MobileNetV2' with transform 'audio'"):
        R.validate_sweep(df)
    df = pd.concat([pd.read_csv(sweep_path), pd.DataFrame([_base("MFCC+LR", 90.0)]).assign(transform="amor")])
    with pytest.raises(ValueError, match="'MFCC\\+LR' with transform 'amor'"):
        R.validate_sweep(df)


def test_transform_means_are_judged_on_their_per_seed_means():
    # three models; seed 1 is better everywhere, so each transform's per-seed means span 6 points
    values = {(m, t): [base + off, base + off + 6.0]
              for m, base in (("MobileNetV2", 60.0), ("SequentialCNN", 70.0), ("EfficientNetB0", 50.0))
              for t, off in (("morse", 3.0), ("hamming", 0.0))}
    tidy, each = _seeded_table(values)
    by_t = R.mean_accuracy(tidy, by="transform", seeds=each).set_index("transform")
    assert (by_t.loc["morse", "seed_min"], by_t.loc["morse", "seed_max"]) == (63.0, 69.0)
    assert by_t.loc["morse", "n_seeds"] == 2


def test_best_run_is_a_typical_seed_of_the_best_pair():
    rows = [_run("MobileNetV2", "amor", s, a) for s, a in enumerate((80.0, 60.0, 71.0))]  # mean 70.33
    rows += [_run("MobileNetV2", "morse", s, a) for s, a in enumerate((75.0, 62.0, 63.0))]  # mean 66.7
    rows += [_base("MFCC+LR", 99.0)]
    best = R.best_run(R.select_runs(R.validate_sweep(pd.DataFrame(rows))))
    assert (best["transform"], best["seed"], best["test_accuracy"]) == ("amor", 2, 71.0)
