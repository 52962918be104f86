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
