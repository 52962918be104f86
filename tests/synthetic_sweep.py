"""A synthetic sweep table for the tests of voxlib.results and voxlib.plots (and report):
``write_synthetic_sweep`` writes a sweep.csv with planted effects, plus its history and confusion
CSVs; ``_run``/``_base`` build single rows by hand; ``sweep_path`` is a fixture (import it)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voxlib import results as R
from voxlib import transfer

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


def write_synthetic_sweep(folder, *, n_test: int = 60, seed: int = 0, seeds=(0,), baselines: bool = False
                          ) -> pd.DataFrame:
    """A sweep.csv with the columns of ARCHITECTURE.md, plus its history and confusion
    CSVs, under ``folder`` (paths relative to it): one row per (network, transform,
    seed) of ``seeds``, each seed moving the accuracy by a few clips. One pair gets an
    older, worse run first (another setting), so selection has something to choose.
    With ``baselines``, one row per baseline (transform "audio", no model or history).
    Returns the table as written."""
    rng = np.random.default_rng(seed)
    rows = []
    (folder / "history").mkdir(parents=True, exist_ok=True)
    (folder / "confusion").mkdir(parents=True, exist_ok=True)

    def row(net, tr, k, stem, minute, second, **kw):
        lo, hi = _wilson(k, n_test)
        cm = np.diag([k // 3, k // 3, k - 2 * (k // 3)]) + rng.integers(0, 3, (3, 3)) * (1 - np.eye(3, dtype=int))
        pd.DataFrame(cm, index=pd.Index(CLASSES, name="predicted"), columns=CLASSES).to_csv(
            folder / "confusion" / f"{stem}.csv")
        return {
            "network": net, "transform": tr, "weights": "imagenet", "image_size": 128, "epochs": 5, "batch_size": 8,
            "seed": 0, "data_fingerprint": "abc123", "n_classes": 3, "n_train": 180, "n_test": n_test,
            "train_accuracy": min(100.0, 100 * k / n_test + 15), "test_accuracy": 100 * k / n_test,
            "test_ci_low": lo, "test_ci_high": hi, "macro_f1": k / n_test, "train_loss": 0.3,
            "test_loss": 0.6, "features_seconds": 1.0, "fit_seconds": 2.0,
            "model_path": f"models/{stem}.keras", "history_path": f"history/{stem}.csv",
            "confusion_path": f"confusion/{stem}.csv", "report_path": f"reports/{stem}.txt",
            "finished_at": f"2026-11-24T10:{minute:02d}:{second:02d}", **kw,
        }

    for i, (net, tr) in enumerate((n, t) for n in NETWORKS for t in TRANSFORMS):
        runs = [(True, 0)] if (net, tr) == ("SequentialCNN", "morse") else []
        for old, s in runs + [(False, s) for s in seeds]:
            acc = MODEL_EFFECT[net] + TRANSFORM_EFFECT[tr] - (30 if old else 0) + rng.uniform(-1, 1)
            k = int(round(acc / 100 * n_test)) + int(rng.integers(-2, 3)) * (len(seeds) > 1)
            stem = f"{net}__{tr}__{s}{'_old' if old else ''}"
            epochs = np.arange(1, 6)
            pd.DataFrame({"epoch": epochs, "loss": 2.0 / epochs, "accuracy": 1 - 0.5 / epochs}).to_csv(
                folder / "history" / f"{stem}.csv", index=False)
            rows.append(row(net, tr, k, stem, i, 0 if old else 30 + s, seed=s,
                            **({"weights": "random"} if old else {})))
    if baselines:
        for j, (name, k) in enumerate(zip(R.BASELINE_NETWORKS, (57, 54, 53))):
            stem = f"{name}__abc123__0"
            rows.append(row(name, R.BASELINE_TRANSFORM, k, stem, 50 + j, 0, weights="none", image_size=0,
                            epochs=0, batch_size=0, model_path="", history_path=""))
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


def _run(network, transform, seed, test, *, train=None, weights="imagenet", minute=0, ci=5.0):
    """One hand-built sweep row (percent), finished at 10:<minute>."""
    return {"network": network, "transform": transform, "weights": weights, "image_size": 64, "epochs": 5,
            "batch_size": 8, "seed": seed, "data_fingerprint": "f", "train_accuracy": train or min(100.0, test + 20),
            "test_accuracy": test, "test_ci_low": max(0.0, test - ci), "test_ci_high": min(100.0, test + ci),
            "finished_at": f"2026-11-24T10:{minute:02d}:00"}


def _base(name, test, *, minute=50):
    return {**_run(name, R.BASELINE_TRANSFORM, 0, test, minute=minute), "weights": "none", "image_size": 0,
            "epochs": 0, "batch_size": 0}


def _seeded_table(values):
    """Per-seed hand-built runs {(model, transform): [acc per seed]} -> (tidy mean table, per-seed table)."""
    rows = [_run(m, t, s, a) for (m, t), accs in values.items() for s, a in enumerate(accs)]
    runs = R.select_runs(R.validate_sweep(pd.DataFrame(rows)))
    return R.tidy_sweep(runs), R.tidy_sweep(runs, seeds="each")

