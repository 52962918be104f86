"""voxlib.transfer.baselines: the non-image reference classifiers, alone and in a sweep."""
from __future__ import annotations

import pandas as pd
import pytest

from voxlib import datasets, transfer


@pytest.fixture(scope="module")
def embedded_recordings(embedded_root):
    """12 recordings of each of the seven embedded speakers, with the run's content-grouped split."""
    corpus = datasets.discover(embedded_root)
    corpus = corpus.groupby("speaker", group_keys=False).sample(frac=1, random_state=0).groupby("speaker").head(12)
    data = datasets.apply_split(corpus, datasets.content_split(corpus, test_size=0.25, seed=0))
    return data.assign(source_path=data["path"], sr=8000)


@pytest.mark.parametrize("name", transfer.BASELINES)
def test_baselines_recognise_the_embedded_speakers_on_held_out_recordings(name, embedded_recordings, tmp_path):
    row = transfer.run_baseline(name, embedded_recordings, tmp_path)
    chance = 100 / 7
    assert row["network"] == name and row["transform"] == transfer.BASELINE_TRANSFORM and row["model_path"] == ""
    assert row["n_test"] == (embedded_recordings["split"] == "test").sum()
    # measured here: MFCC+LR 95.2 %, d-vector+LR 95.2 % of 21 held-out clips (CI low 77.3 for both); chance 14.3 %
    assert row["test_ci_low"] > 2 * chance, row
    cm = pd.read_csv(row["confusion_path"], index_col=0)
    assert cm.to_numpy().sum() == row["n_test"]
    if name == "MFCC+LR":  # deterministic (the encoder's repeatability is tests/test_speaker.py's)
        again = transfer.run_baseline(name, embedded_recordings, tmp_path / "again")
        assert again["test_accuracy"] == row["test_accuracy"] and again["test_loss"] == row["test_loss"]


def test_baseline_rows_join_the_sweep_and_are_not_a_classifier_for_notebook_05(embedded_recordings, tmp_path):
    table = transfer.run_sweep(embedded_recordings.assign(transform="hamming"), tmp_path, networks=[],
                               baselines=["MFCC+LR"], progress=False)
    assert list(table.columns) == transfer.SWEEP_COLUMNS and transfer.is_baseline(table).all()
    clf, why = transfer.load_best_classifier(tmp_path, speakers=["es-co_july"])
    assert clf is None and "exists on disk" in why
