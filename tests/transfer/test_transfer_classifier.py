"""voxlib.transfer.classifier: the hand-off of the sweep's best classifier to notebook 05.

(Saving and reloading a trained classifier is tested with the sweep that makes one,
test_transfer_sweep.py.)"""
from __future__ import annotations

import pandas as pd

from voxlib import datasets, transfer


def test_best_classifier_absent_says_why(tmp_path):
    clf, why = transfer.load_best_classifier(tmp_path / "sweep", speakers=["a", "b"])
    assert clf is None and "sweep.csv does not exist" in why and "notebook 02" in why
    sweep = tmp_path / "sweep"
    rows = pd.DataFrame([{"network": "MobileNet", "transform": "amor", "test_accuracy": 90.0,
                          "model_path": sweep / "models" / "gone.keras"},
                         {"network": "SequentialCNN", "transform": "amor", "test_accuracy": 80.0,
                          "model_path": ""}])
    datasets.write_manifest(rows, sweep / "sweep.csv")
    clf, why = transfer.load_best_classifier(sweep, speakers=["a", "b"])
    assert clf is None and "exists on disk" in why and str(sweep / "sweep.csv") in why


def test_classifier_image_size_reads_notebook_01s_manifest(tmp_path):
    m = tmp_path / "manifest.csv"
    pd.DataFrame({"transform": ["hamming", "hamming", "amor"], "height": [256, 256, 128],
                  "width": [300, 300, 96], "path": ["a.png", "b.png", "c.png"]}).to_csv(m, index=False)
    assert transfer.classifier_image_size(m, "hamming") == (256, 300)
    assert transfer.classifier_image_size(m, "amor") == (128, 96)
    assert transfer.classifier_image_size(m, "bump") == (512, 512)  # transform absent: the default
    assert transfer.classifier_image_size(tmp_path / "none.csv", "amor", default=(64, 64)) == (64, 64)
    old = tmp_path / "old.csv"
    pd.DataFrame({"transform": ["amor"], "path": ["c.png"]}).to_csv(old, index=False)
    assert transfer.classifier_image_size(old, "amor", default=(32, 48)) == (32, 48)  # no size columns
