"""voxlib.transfer.table: the sweep table as stored."""
from __future__ import annotations

import pandas as pd
import pytest

from voxlib import datasets, transfer


def test_load_sweep_is_the_raw_table(tmp_path):
    empty = transfer.load_sweep(tmp_path / "absent.csv")
    assert empty.empty and list(empty.columns) == transfer.SWEEP_COLUMNS
    model = tmp_path / "s" / "models" / "m.keras"
    datasets.write_manifest(pd.DataFrame({"network": ["x"], "model_path": [str(model)]}), tmp_path / "s" / "sweep.csv")
    assert "models/m.keras" in (tmp_path / "s" / "sweep.csv").read_text()  # stored relative
    table = transfer.load_sweep(tmp_path / "s" / "sweep.csv")
    assert table["model_path"].iloc[0] == str((tmp_path / "s" / "models" / "m.keras").resolve())
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(ValueError, match="bad.csv is not a readable CSV"):
        transfer.load_sweep(bad)


def test_an_old_sweep_without_threads_reads_with_threads_unknown(tmp_path):
    """sweep.csv before its threads column: it loads, threads empty (unknown), at its place."""
    old = pd.DataFrame({"network": ["SequentialCNN", "MFCC+LR"], "precision": ["float32", "float64"], "seed": [0, 0]})
    datasets.write_manifest(old, tmp_path / "old.csv")
    table = transfer.load_sweep(tmp_path / "old.csv")
    assert list(table.columns) == ["network", "precision", "threads", "seed"]
    assert table["threads"].isna().all() and str(table["threads"].dtype) == "Int64"
    datasets.write_manifest(old.assign(threads=[1, None]), tmp_path / "new.csv")  # a baseline row: no TensorFlow
    assert transfer.load_sweep(tmp_path / "new.csv")["threads"].tolist()[0] == 1
    assert transfer.load_sweep(tmp_path / "new.csv")["threads"].isna().tolist() == [False, True]
