"""What a sweep has done: the rows of ``sweep.csv``, their key, and how a row is appended.

``sweep.csv`` holds one row per finished run (:data:`SWEEP_COLUMNS`), keyed by (network,
transform, weights, image_size, epochs, batch_size, precision, seed, data_fingerprint): a run
whose key is already there is skipped, never recomputed (:func:`_done`). Rows are appended one at
a time, atomically (:func:`_append_row`), so a killed sweep keeps its finished runs;
:func:`load_sweep` reads the raw table back.

``threads`` (TensorFlow's threads per run, :func:`voxlib.devices.set_threads`) is recorded but
is not part of the key: like the CPU a run ran on, it changes the order in which sums are taken,
not the method, so a sweep resumed with other threads keeps its finished rows (the column says
how each was computed). A ``sweep.csv`` written before the column reads with ``threads`` empty
(unknown: in-process runs then used TensorFlow's default, Dask workers one thread); baselines,
which do not run TensorFlow, leave it empty too.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from voxlib import datasets

__all__ = ["SWEEP_COLUMNS", "load_sweep"]

SWEEP_COLUMNS = [
    "network", "transform", "weights", "image_size", "epochs", "batch_size", "precision", "threads", "seed",
    "data_fingerprint",
    "n_classes", "n_train", "n_test", "train_accuracy", "test_accuracy", "test_ci_low", "test_ci_high",
    "macro_f1", "train_loss", "test_loss", "features_seconds", "fit_seconds", "model_path",
    "history_path", "confusion_path", "report_path", "finished_at",
]
#: The columns that identify a run: a row with the same values is never computed again.
_KEY = ["network", "transform", "weights", "image_size", "epochs", "batch_size", "precision", "seed",
        "data_fingerprint"]
#: The key's columns a run's settings give (the data's fingerprint comes from its rows).
_SETTINGS_KEY = _KEY[:-1]
#: ``precision`` of a sweep row written before that column existed, and of a baseline (scikit-learn, float64)
_OLD_PRECISION, _BASELINE_PRECISION = "float32", "float64"
_SWEEP_PRODUCER = "notebook 02 (02_transfer_learning.ipynb) writes <run_dir>/sweep/sweep.csv"


def load_sweep(path) -> pd.DataFrame:
    """The raw ``sweep.csv`` of :func:`voxlib.transfer.run_sweep`, every row, ``*_path`` columns
    made absolute; an empty table with :data:`SWEEP_COLUMNS` if the file is absent.

    :func:`voxlib.results.load_runs` validates this table and keeps, per (network,
    transform), every seed of its latest settings.

    Raises
    ------
    ValueError
        The file exists but is not a readable CSV (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=SWEEP_COLUMNS)
    try:
        table = datasets.load_manifest(path)
        if "precision" not in table.columns:  # a sweep.csv from before the column: every run was float32
            table.insert(min(SWEEP_COLUMNS.index("precision"), table.shape[1]), "precision", _OLD_PRECISION)
        if "threads" not in table.columns:  # a sweep.csv from before the column: not recorded
            table.insert(table.columns.get_loc("precision") + 1, "threads", pd.NA)
        table["threads"] = pd.to_numeric(table["threads"]).astype("Int64")
        return table
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"sweep table {path} is not a readable CSV file ({exc}); delete it and rerun "
                         "notebook 02, which rewrites it") from exc


def _append_row(path: Path, row: dict) -> None:
    """Append one row atomically (rewrite to a temp file, then rename)."""
    old = load_sweep(path)
    new = pd.DataFrame([row], columns=SWEEP_COLUMNS)
    datasets.write_manifest(new if old.empty else pd.concat([old, new], ignore_index=True), path)


def _done(table: pd.DataFrame, key: dict) -> bool:
    """Whether ``table`` has a row with ``key``'s values (compared as text)."""
    if table.empty:
        return False
    mask = np.ones(len(table), bool)
    for k, v in key.items():
        mask &= table[k].astype(str).to_numpy() == str(v)
    return bool(mask.any())


def _rows_of(table: pd.DataFrame, keys: list[dict]) -> pd.DataFrame:
    """The rows of ``table`` whose key is one of ``keys`` (this call's runs)."""
    mine = [any(_done(table.iloc[[i]], k) for k in keys) for i in range(len(table))]
    return table[mine].reset_index(drop=True)


def _path_fields(paths: dict) -> dict:
    return {"model_path": str(paths["models"]), "history_path": str(paths["history"]),
            "confusion_path": str(paths["confusion"]), "report_path": str(paths["reports"])}


def _sweep_row(settings: dict, rows: pd.DataFrame, train, ev_tr: dict, ev_te: dict, timing: dict,
               paths: dict | None = None) -> dict:
    """One row of ``sweep.csv``; ``paths`` None leaves the ``*_path``
    fields for :func:`voxlib.transfer.sweep._write_run`."""
    return {
        **{k: settings[k] for k in _SETTINGS_KEY}, "threads": settings.get("threads"),
        "data_fingerprint": datasets.fingerprint(rows),
        "n_classes": len(settings["classes"]), "n_train": int(train.sum()), "n_test": int((~train).sum()),
        "train_accuracy": ev_tr["accuracy"], "test_accuracy": ev_te["accuracy"],
        "test_ci_low": ev_te["ci_low"], "test_ci_high": ev_te["ci_high"], "macro_f1": ev_te["macro_f1"],
        "train_loss": ev_tr["loss"], "test_loss": ev_te["loss"], **timing,
        **(_path_fields(paths) if paths is not None else {}),
        "finished_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }


def _key_hash(rows, label, size, epochs, batch_size, seed, precision="float32") -> str:
    """The 8 hex digits that name a run's files (``<network>__<transform>__<hash>``)."""
    parts = [datasets.fingerprint(rows), label, size, epochs, batch_size, seed]
    # float32 runs keep the file names they had before precision existed
    key = "|".join(map(str, parts + ([] if precision == "float32" else [precision])))
    return hashlib.sha1(key.encode()).hexdigest()[:8]
