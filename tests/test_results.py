"""voxlib.results: the thesis table (cross-checked against THESIS.md), sweep
loading/selection/validation, summaries and the generated commentary."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voxlib import results as R
from voxlib import transfer
from voxlib.run import project_root

NETWORKS = ("MobileNetV2", "SequentialCNN", "EfficientNetB0")
TRANSFORMS = ("hamming", "morse", "amor")
# true effects (percentage points) of the synthetic sweep: morse best, hamming worst;
# SequentialCNN best, EfficientNetB0 worst
MODEL_EFFECT = {"MobileNetV2": 70.0, "SequentialCNN": 80.0, "EfficientNetB0": 55.0}
TRANSFORM_EFFECT = {"hamming": -8.0, "morse": 10.0, "amor": 0.0}
CLASSES = ("A", "B", "C")


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


def write_synthetic_sweep(folder, *, n_test: int = 60, seed: int = 0) -> pd.DataFrame:
    """A sweep.csv with the columns of ARCHITECTURE.md, plus its history and confusion
    CSVs, under ``folder`` (paths relative to it). One pair gets an older, worse run
    first, so selection has something to choose. Returns the table as written."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, (net, tr) in enumerate((n, t) for n in NETWORKS for t in TRANSFORMS):
        for old in ((True, False) if (net, tr) == ("SequentialCNN", "morse") else (False,)):
            acc = MODEL_EFFECT[net] + TRANSFORM_EFFECT[tr] - (30 if old else 0) + rng.uniform(-1, 1)
            k = int(round(acc / 100 * n_test))
            lo, hi = _wilson(k, n_test)
            stem = f"{net}__{tr}{'_old' if old else ''}"
            (folder / "history").mkdir(parents=True, exist_ok=True)
            (folder / "confusion").mkdir(parents=True, exist_ok=True)
            epochs = np.arange(1, 6)
            pd.DataFrame({"epoch": epochs, "loss": 2.0 / epochs, "accuracy": 1 - 0.5 / epochs}).to_csv(
                folder / "history" / f"{stem}.csv", index=False)
            cm = np.diag([k // 3, k // 3, k - 2 * (k // 3)]) + rng.integers(0, 3, (3, 3)) * (1 - np.eye(3, dtype=int))
            pd.DataFrame(cm, index=pd.Index(CLASSES, name="predicted"), columns=CLASSES).to_csv(
                folder / "confusion" / f"{stem}.csv")
            rows.append({
                "network": net, "transform": tr, "weights": "random" if old else "imagenet",
                "image_size": 128, "epochs": 5, "batch_size": 8, "seed": 0, "data_fingerprint": "abc123",
                "n_classes": 3, "n_train": 180, "n_test": n_test,
                "train_accuracy": min(100.0, 100 * k / n_test + 15), "test_accuracy": 100 * k / n_test,
                "test_ci_low": lo, "test_ci_high": hi, "macro_f1": k / n_test, "train_loss": 0.3,
                "test_loss": 0.6, "features_seconds": 1.0, "fit_seconds": 2.0,
                "model_path": f"models/{stem}.keras", "history_path": f"history/{stem}.csv",
                "confusion_path": f"confusion/{stem}.csv", "report_path": f"reports/{stem}.txt",
                "finished_at": f"2026-11-24T10:{i:02d}:{'00' if old else '30'}",
            })
    sweep = pd.DataFrame(rows)
    sweep.to_csv(folder / "sweep.csv", index=False)
    return sweep


def _sweep(path) -> pd.DataFrame:
    """Every row of a sweep.csv, validated (what load_runs selects from)."""
    return R.validate_sweep(transfer.load_sweep(path), name=str(path))


@pytest.fixture()
def sweep_path(tmp_path):
    write_synthetic_sweep(tmp_path / "sweep")
    return tmp_path / "sweep" / "sweep.csv"


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


def test_two_rows_for_one_pair_are_refused_in_a_tidy_table(sweep_path):
    ours = R.tidy_sweep(_sweep(sweep_path))  # unselected: SequentialCNN/morse twice
    with pytest.raises(ValueError, match="'SequentialCNN', 'morse'"):
        R.validate_results(ours)
    with pytest.raises(ValueError, match="more than one row"):
        R.mean_accuracy(ours)


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


# --- tidy tables, comparison, statistics -------------------------------------------

def test_tidy_sweep_test_and_train(sweep_path):
    runs = R.select_runs(_sweep(sweep_path))
    test = R.tidy_sweep(runs)
    train = R.tidy_sweep(runs, evaluated_on="train")
    assert list(test.columns) == list(R.RESULTS_COLUMNS)
    assert (test["ci_low"] <= test["accuracy"]).all() and (test["accuracy"] <= test["ci_high"]).all()
    assert train["ci_low"].isna().all() and (train["accuracy"] >= test["accuracy"]).all()
    with pytest.raises(ValueError, match="evaluated_on"):
        R.tidy_sweep(runs, evaluated_on="validation")


def test_compare_with_thesis_joins_on_network_with_both_sequential_variants(sweep_path):
    runs = R.select_runs(_sweep(sweep_path))
    thesis = R.load_thesis_results()
    cmp = R.compare_with_thesis(runs, thesis)
    # 3 networks x 3 transforms, SequentialCNN twice (hablanteA, hablanteB)
    assert len(cmp) == 4 * len(TRANSFORMS)
    row = cmp[(cmp["model"] == "SequentialCNN (hablanteB)") & (cmp["transform"] == "amor")].iloc[0]
    assert row["thesis_train"] == 95.2
    ours = runs[(runs["network"] == "SequentialCNN") & (runs["transform"] == "amor")].iloc[0]
    assert row["ours_test"] == ours["test_accuracy"] and row["ours_train"] == ours["train_accuracy"]


def test_paired_difference_recovers_a_constant_offset():
    rng = np.random.default_rng(1)
    base = rng.uniform(60, 90, 12)
    rows = [{"model": f"m{i}", "transform": t, "accuracy": b + off + rng.normal(0, 0.5)}
            for i, b in enumerate(base) for t, off in (("morse", 4.0), ("kaiser", 0.0))]
    p = R.paired_difference(pd.DataFrame(rows), by="transform", a="morse", b="kaiser")
    assert p["n"] == 12 and p["ci_low"] < 4.0 < p["ci_high"] and p["ci_low"] > 0
    assert p["diff"] == pytest.approx(4.0, abs=0.6) and p["wins"] == 12


def test_single_pair_gap_interval_comes_from_the_test_set_cis():
    # one model, two transforms: CIs of +-10 points are +-1.96 standard errors each,
    # so the gap's half-width is 1.96 * sqrt(2) * 10 / 1.96 = 14.14 points
    one = pd.DataFrame({"model": ["m", "m"], "transform": ["amor", "kaiser"], "accuracy": [80.0, 50.0],
                        "ci_low": [70.0, 40.0], "ci_high": [90.0, 60.0]})
    p = R.paired_difference(one, by="transform", a="amor", b="kaiser")
    assert p["method"] == "sampling" and p["n"] == 1
    assert p["ci_low"] == pytest.approx(30 - 10 * np.sqrt(2)) and p["ci_high"] == pytest.approx(30 + 10 * np.sqrt(2))
    table = one.assign(network="m", variant="", source="ours", evaluated_on="test")
    assert "from the test-set confidence intervals alone" in R.commentary(table)
    close = table.assign(accuracy=[60.0, 50.0])  # gap 10 < 14.1: within the noise
    assert "within the test-set noise" in R.commentary(close)
    # two models: still the sampling interval, the mean of two gaps has half-width 14.14 / sqrt(2)
    two = pd.concat([one, one.assign(model="n", accuracy=[70.0, 40.0])])
    p2 = R.paired_difference(two, by="transform", a="amor", b="kaiser")
    assert p2["method"] == "sampling" and p2["diff"] == pytest.approx(30.0)
    assert p2["ci_high"] - p2["diff"] == pytest.approx(10.0)
    # without CIs, two pairs get the paired t interval (the thesis's case)
    assert R.paired_difference(two.drop(columns=["ci_low", "ci_high"]), a="amor", b="kaiser")["method"] == "paired t"


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


# --- commentary ------------------------------------------------------------------------

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


def test_write_results_tables(tmp_path):
    t = R.load_thesis_results()
    (p,) = R.write_results_tables({"thesis": t}, tmp_path / "results")
    assert p.name == "thesis.csv" and pd.read_csv(p).shape == t.shape


def test_interval_method_follows_the_named_thresholds():
    """Below MIN_PAIRS_FOR_T pairs with CIs: the sampling interval; from it on: paired t."""
    rows = [{"model": f"m{i}", "transform": t, "accuracy": acc, "ci_low": acc - 10, "ci_high": acc + 10}
            for i in range(R.MIN_PAIRS_FOR_T) for t, acc in (("amor", 70.0 + i), ("kaiser", 60.0 - i))]
    table = pd.DataFrame(rows)
    few = table[table["model"].isin([f"m{i}" for i in range(R.MIN_PAIRS_FOR_T - 1)])]
    assert R.paired_difference(few, a="amor", b="kaiser")["method"] == "sampling"
    enough = R.paired_difference(table, a="amor", b="kaiser")
    diffs = np.array([10.0 + 2 * i for i in range(R.MIN_PAIRS_FOR_T)])
    half = 4.302652729911275 * diffs.std(ddof=1) / np.sqrt(len(diffs))  # t(0.975, 2 df)
    assert enough["method"] == "paired t" and enough["ci_high"] - enough["diff"] == pytest.approx(half)
