"""voxlib.transfer.sweep: run_sweep and run_one in this process (on Dask: tests/test_cluster.py)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from voxlib import transfer
from voxlib.datasets import split

from speaker_images import N_SPEAKERS, write_synthetic


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("images"))


def test_sweep_beats_chance_on_held_out_utterances_and_resumes(manifest, tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    manifest = split(manifest, test_size=0.34, seed=0)  # the run's split, as notebook 01 writes it
    kw = dict(networks=["SequentialCNN"], image_size=48, epochs=12, batch_size=8, seeds=[0], progress=False)
    table = transfer.run_sweep(manifest, out, **kw)
    assert len(table) == 2 and set(table["transform"]) == {"hamming", "morse"}
    assert list(table.columns) == transfer.SWEEP_COLUMNS
    chance = 100 / N_SPEAKERS
    # the lower end of the 95 % interval of held-out accuracy is above chance
    assert (table["test_ci_low"] > chance).all(), table[["transform", "test_accuracy", "test_ci_low"]]
    assert (table["n_test"] == 2 * N_SPEAKERS).all() and (table["weights"] == "none").all()

    # the saved model, reloaded with safe_mode, reproduces the held-out accuracy
    row = table.iloc[0]
    clf = transfer.load_classifier(row["model_path"])
    test = manifest[(manifest["split"] == "test") & (manifest["transform"] == row["transform"])]
    proba = clf.predict_images(transfer.load_images(test["path"]))
    acc = 100 * np.mean(np.array(clf.classes)[proba.argmax(1)] == test["speaker"].to_numpy())
    assert acc == pytest.approx(row["test_accuracy"])
    cm = pd.read_csv(row["confusion_path"], index_col=0)
    assert cm.index.name == "predicted" and cm.to_numpy().sum() == row["n_test"]
    assert np.trace(cm.to_numpy()) == round(row["test_accuracy"] * row["n_test"] / 100)

    # a rerun skips finished rows; a changed parameter adds one
    def boom(*a, **k):
        raise AssertionError("a finished run was recomputed")
    monkeypatch.setattr(transfer.sweep, "run_one", boom)
    again = transfer.run_sweep(manifest, out, **kw)
    pd.testing.assert_frame_equal(again, table)
    monkeypatch.undo()
    more = transfer.run_sweep(manifest, out, **{**kw, "epochs": 2, "transforms": ["morse"]})
    assert len(more) == 1 and more["epochs"].tolist() == [2]
    everything = transfer.load_sweep(out / "sweep.csv")
    assert everything["epochs"].tolist() == [12, 12, 2]

    # notebook 05's classifier: the best held-out accuracy among models knowing the speakers
    clf, best = transfer.load_best_classifier(out, speakers=["spk0", "spk3"])
    assert best["test_accuracy"] == everything["test_accuracy"].max()
    assert best["model_path"] in set(everything["model_path"]) and sorted(clf.classes) == sorted(
        f"spk{k}" for k in range(N_SPEAKERS))
    none, why = transfer.load_best_classifier(out, speakers=["spk0", "stranger"])
    assert none is None and "stranger" in why and "trained on the speakers" in why


def test_killed_sweep_keeps_finished_rows(manifest, tmp_path, monkeypatch):
    calls = []
    real = transfer.run_one

    def second_dies(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(transfer.sweep, "run_one", second_dies)
    with pytest.raises(KeyboardInterrupt):
        transfer.run_sweep(manifest, tmp_path, networks=["SequentialCNN"], image_size=32, epochs=1,
                           progress=False)
    table = transfer.load_sweep(tmp_path / "sweep.csv")
    assert len(table) == 1 and not list(tmp_path.glob("*.tmp"))


# ----------------------------------------------------------------------------- seeds

def _split_manifest(manifest):
    return split(manifest, test_size=0.34, seed=0)


def test_seeds_are_runs_on_one_split_that_rerun_bit_identically(manifest, tmp_path):
    data = _split_manifest(manifest[manifest["transform"] == "hamming"])
    kw = dict(networks=["SequentialCNN"], image_size=32, epochs=3, batch_size=8, progress=False)
    both = transfer.run_sweep(data, tmp_path / "a", seeds=[0, 1], **kw)
    assert both["seed"].tolist() == [0, 1]
    assert both["n_test"].nunique() == 1                          # the same held-out recordings
    assert both["train_loss"].iloc[0] != both["train_loss"].iloc[1]  # but another start and batch order
    # one seed alone, in a fresh folder and process state, gives that seed's row exactly
    alone = transfer.run_sweep(data, tmp_path / "b", seeds=[1], **kw)
    cols = ["train_accuracy", "test_accuracy", "train_loss", "test_loss", "macro_f1"]
    pd.testing.assert_frame_equal(alone[cols], both[both["seed"] == 1][cols].reset_index(drop=True))
    h_a = pd.read_csv(both["history_path"].iloc[1])
    h_b = pd.read_csv(alone["history_path"].iloc[0])
    pd.testing.assert_frame_equal(h_a, h_b)


def test_the_frozen_trunk_runs_once_for_all_seeds(manifest, tmp_path, monkeypatch):
    calls = []
    real = transfer.extract_features

    def counted(trunk, x, **k):
        calls.append(len(x))
        return real(trunk, x, **k)
    monkeypatch.setattr(transfer.training, "extract_features", counted)
    data = _split_manifest(manifest[manifest["transform"] == "hamming"])
    table = transfer.run_sweep(data, tmp_path, networks=["MobileNetV2"], image_size=32, epochs=1, weights="none",
                               seeds=[0, 1, 2], progress=False)
    assert len(table) == 3 and sum(calls) == len(data)  # train + held-out images, once
    assert table["test_loss"].nunique() == 3


def test_threads_are_recorded_not_keyed_and_other_threads_are_refused_before_any_run(manifest, tmp_path):
    data = _split_manifest(manifest[manifest["transform"] == "hamming"])
    kw = dict(networks=["SequentialCNN"], image_size=32, epochs=1, batch_size=8, progress=False)
    table = transfer.run_sweep(data, tmp_path, **kw)  # the default, as TensorFlow runs here (tests/conftest.py)
    assert table["threads"].tolist() == [1]
    with pytest.raises(RuntimeError, match=r"threads=2: TensorFlow .* already runs with 1 thread.*set_threads\(2\)"):
        transfer.run_sweep(data, tmp_path, **{**kw, "seeds": [1]}, threads=2)
    assert len(transfer.load_sweep(tmp_path / "sweep.csv")) == 1  # nothing ran
    # a finished row is not computed again for another thread count: threads is recorded, not keyed
    pd.testing.assert_frame_equal(transfer.run_sweep(data, tmp_path, **kw, threads=2), table)
    with pytest.raises(ValueError, match="threads must be an int in \\[1, inf\\); got 0"):
        transfer.run_sweep(data, tmp_path, **kw, threads=0)


# ----------------------------------------------------------------------------- bad input

def test_unknown_network_lists_the_registry(manifest, tmp_path):
    with pytest.raises(ValueError, match="ResNet152.*SequentialCNN"):
        transfer.run_sweep(manifest, tmp_path, networks=["VGG16"])


def test_one_speaker_is_refused(manifest, tmp_path):
    with pytest.raises(ValueError, match="1 speaker.*at least 2"):
        transfer.run_sweep(manifest[manifest["speaker"] == "spk0"], tmp_path, networks=["SequentialCNN"])


def test_bad_seeds_are_refused(manifest, tmp_path):
    for bad in ([], [0, 0], [-1], ["a"]):
        with pytest.raises(ValueError, match="seeds"):
            transfer.run_sweep(manifest, tmp_path, networks=["SequentialCNN"], seeds=bad, progress=False)


def test_bad_sweep_settings_name_the_parameter(manifest, tmp_path):
    """run_sweep's table of checks (voxlib.checks): the error names the parameter and what is allowed."""
    cases = [({"baselines": ["MFCC+LR", "VGGish"]}, "baselines must be a list of baselines from .*MFCC\\+LR"),
             ({"on_missing_weights": "ignore"}, "on_missing_weights must be one of 'error', 'random'"),
             ({"networks": "VGG16"}, "networks must be a list of registry networks .*got \\['VGG16'\\]")]
    for kw, message in cases:
        with pytest.raises(ValueError, match=message):
            transfer.run_sweep(manifest, tmp_path, **{"networks": ["SequentialCNN"], **kw}, progress=False)
    assert not (tmp_path / "sweep.csv").exists()


def test_run_one_takes_its_settings_as_one_object(manifest, tmp_path):
    rows = _split_manifest(manifest[manifest["transform"] == "morse"])
    settings = transfer.SweepSettings(image_size=32, epochs={"SequentialCNN": 1}, batch_size=8, weights="none", seed=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 4
    row = transfer.run_one(rows, "SequentialCNN", tmp_path, settings, progress=False)
    assert (row["network"], row["transform"], row["image_size"], row["epochs"], row["batch_size"]) == (
        "SequentialCNN", "morse", 32, 1, 8)
    assert (row["weights"], row["precision"], row["threads"], row["seed"]) == ("none", "float32", 1, 3)
    assert set(transfer.SWEEP_COLUMNS) == set(row) and transfer.load_classifier(row["model_path"]).classes
