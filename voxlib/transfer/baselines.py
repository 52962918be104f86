"""How well do non-image classifiers do on the same recordings: the sweep's baselines.

:data:`BASELINES` are reference classifiers that read the audio, not an image: MFCC statistics or
a speaker embedding (:mod:`voxlib.speaker`: the d-vector, or CAM++), then a logistic regression. :func:`run_baseline` trains and
scores one on the same recordings and split as the networks, and returns its ``sweep.csv`` row
(``transform`` :data:`BASELINE_TRANSFORM`, no saved model).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from voxlib import audio, datasets, frames, speaker
from voxlib.transfer.table import _BASELINE_PRECISION, _SETTINGS_KEY, _sweep_row
from voxlib.transfer.training import score_predictions

__all__ = [
    "BASELINES",
    "BASELINE_TRANSFORM",
    "N_MFCC",
    "is_baseline",
    "mfcc_statistics",
    "baseline_features",
    "baseline_classifier",
    "run_baseline",
]

#: Non-image reference classifiers, in the same registry of runs as the networks:
#: trained and scored on the same recordings and split, written to ``sweep.csv``.
BASELINES = ("MFCC+LR", "d-vector+LR", "CAM++ +LR")
#: The speaker encoder (:data:`voxlib.speaker.ENCODERS`) each embedding baseline reads.
_BASELINE_ENCODERS = {"d-vector+LR": "dvector", "CAM++ +LR": "campplus"}
#: The ``transform`` of a baseline row: it reads the audio, not an image.
BASELINE_TRANSFORM = "audio"
N_MFCC = 20


def is_baseline(table: pd.DataFrame) -> pd.Series:
    """True for the rows of a sweep table that are baselines (:data:`BASELINES`)."""
    return table["network"].astype(str).isin(BASELINES)


def _recordings(data: pd.DataFrame) -> pd.DataFrame:
    """One row per recording of a split manifest, in a fixed order, as a baseline sees it."""
    return (data.drop_duplicates(["speaker", "utterance"]).drop(columns=["params_hash"], errors="ignore")
            .sort_values(["speaker", "utterance"], ignore_index=True).assign(transform=BASELINE_TRANSFORM))


def _baseline_key(name: str, data: pd.DataFrame, seed: int) -> dict:
    return {"network": name, "transform": BASELINE_TRANSFORM, "weights": "none", "image_size": 0, "epochs": 0,
            "batch_size": 0, "precision": _BASELINE_PRECISION, "seed": seed,
            "data_fingerprint": datasets.fingerprint(_recordings(data))}


def mfcc_statistics(y: np.ndarray, sr: int, *, n_mfcc: int = N_MFCC) -> np.ndarray:
    """Mean and standard deviation over frames of ``n_mfcc`` MFCCs (librosa's defaults
    otherwise): the classic fixed-length description of a voice, ``(2 * n_mfcc,)``."""
    m = frames.mfcc(np.asarray(y, np.float32), sr, n_mfcc=n_mfcc, n_fft=2048, hop_length=512, n_mels=128)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)]).astype(np.float32)


def baseline_features(name: str, paths, *, sr=None, progress: bool = False) -> np.ndarray:
    """Features of recordings for a baseline: MFCC statistics, or a speaker embedding of
    :mod:`voxlib.speaker` (the d-vector or CAM++; their front end: 60 Hz high-pass, speech crop, 16 kHz)."""
    paths = [str(p) for p in paths]
    if name == "MFCC+LR":
        out = []
        for p in tqdm(paths, desc="MFCC", unit="file", disable=not progress, leave=False):
            y, rate = audio.load(p, sr=sr)
            out.append(mfcc_statistics(y, rate))
        return np.stack(out)
    if name in _BASELINE_ENCODERS:
        return speaker.get_encoder(_BASELINE_ENCODERS[name]).embed_files(paths, sr=sr, progress=progress)
    raise ValueError(f"baseline {name!r} unknown; allowed: {list(BASELINES)}")


def baseline_classifier(seed: int = 0):
    """Standardised features → multinomial logistic regression (scikit-learn)."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))


def run_baseline(name: str, data: pd.DataFrame, out_dir, *, seed: int = 0, progress: bool = False) -> dict:
    """Train and score one baseline on a split manifest's recordings (``source_path``);
    write its confusion matrix and report under ``out_dir``; return its sweep row."""
    rec = _recordings(data)
    classes = sorted(rec["speaker"].astype(str).unique())
    y = rec["speaker"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
    train = (rec["split"] == "train").to_numpy()
    sr = int(rec["sr"].iloc[0]) if "sr" in rec.columns else None
    t0 = time.perf_counter()
    x = baseline_features(name, rec["source_path"], sr=sr, progress=progress)
    t1 = time.perf_counter()
    clf = baseline_classifier(seed).fit(x[train], y[train])
    t2 = time.perf_counter()
    ev_tr = score_predictions(y[train], clf.predict_proba(x[train]), classes)
    ev_te = score_predictions(y[~train], clf.predict_proba(x[~train]), classes)
    key = _baseline_key(name, data, seed)
    stem = f"{name}__{key['data_fingerprint']}__{seed}"
    paths = {k: Path(out_dir) / k / f"{stem}.csv" for k in ("confusion", "reports")}
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    ev_te["confusion"].to_csv(paths["confusion"])
    ev_te["report"].to_csv(paths["reports"])
    paths["reports"].with_suffix(".txt").write_text(ev_te["report_text"])
    settings = {**{k: key[k] for k in _SETTINGS_KEY}, "classes": classes}
    return _sweep_row(settings, rec, train, ev_tr, ev_te, {"features_seconds": t1 - t0, "fit_seconds": t2 - t1},
                      {"models": "", "history": "", **paths})
