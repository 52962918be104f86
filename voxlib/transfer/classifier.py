"""Where a trained classifier lives on disk, and which one notebook 05 gets.

A sweep saves each run's model as a ``.keras`` file with a JSON sidecar (:func:`save_classifier`);
:func:`load_classifier` reads it back as a :class:`Classifier` that takes notebook 01's images.
:func:`load_best_classifier` and :func:`classifier_image_size` hand the sweep's best classifier,
and the image size it was trained on, to notebook 05.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from voxlib._heavy import keras
from voxlib.transfer.table import _SWEEP_PRODUCER, load_sweep
from voxlib.transfer.training import prepare_images

__all__ = [
    "Classifier",
    "save_classifier",
    "load_classifier",
    "load_best_classifier",
    "classifier_image_size",
]


class Classifier:
    """A trained speaker classifier that takes notebook 01's images.

    Attributes ``model``, ``classes`` (list, output order), ``network``,
    ``transform``, ``image_size``, ``preprocess``, ``channels``.
    """

    def __init__(self, model, meta: dict):
        self.model = model
        self.meta = dict(meta)
        self.classes = list(meta["classes"])
        self.network = meta["network"]
        self.transform = meta.get("transform")
        self.image_size = int(meta["image_size"])
        self.preprocess = meta["preprocess"]
        self.channels = int(meta["channels"])

    def predict_images(self, imgs: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        """uint8 gray ``(N, H, W)`` → class probabilities float32 ``(N, n_classes)``."""
        imgs = np.asarray(imgs)
        if imgs.ndim == 2:
            imgs = imgs[None]
        x = prepare_images(imgs, size=self.image_size, preprocess=self.preprocess, channels=self.channels)
        return np.asarray(self.model.predict(x, batch_size=batch_size, verbose=0), np.float32)

    def __repr__(self):
        return (f"Classifier({self.network}, transform={self.transform}, {self.image_size}px, "
                f"{len(self.classes)} classes)")


def save_classifier(model, path, meta: dict) -> Path:
    """Save ``model`` as ``.keras`` plus a JSON sidecar (``meta``: classes in
    output order, network, transform, image_size, preprocess, channels...)."""
    return _write_classifier(_model_bytes(model), path, meta)


def _model_bytes(model) -> bytes:
    """``model`` as the bytes of its ``.keras`` file (how a Dask worker hands it back)."""
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "model.keras"
        model.save(file)
        return file.read_bytes()


def _write_classifier(data: bytes, path, meta: dict) -> Path:
    """Write a ``.keras`` file's bytes atomically, plus its JSON sidecar ``meta``."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path={str(path)!r}: a classifier is saved as .keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.keras")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=str))
    return path


def load_classifier(model_path) -> Classifier:
    """Load a classifier saved by :func:`run_sweep` (``safe_mode=True``)."""
    path = Path(model_path)
    side = path.with_suffix(".json")
    for p in (path, side):
        if not p.is_file():
            raise FileNotFoundError(f"{p} not found; run notebook 02 (run_sweep) to make the classifier")
    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    return Classifier(model, json.loads(side.read_text()))


# ----------------------------------------------------------------------------- the sweep's best classifier

def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""


def load_best_classifier(sweep_dir, *, speakers=()):
    """The sweep's best saved classifier (highest held-out accuracy) that knows ``speakers``.

    Parameters
    ----------
    sweep_dir : path
        The folder holding ``sweep.csv`` (``<run_dir>/sweep``).
    speakers : sequence of str
        Labels the classifier must have among its classes.

    Returns
    -------
    (Classifier, pd.Series) or (None, str)
        The classifier and its sweep row; or ``None`` and a sentence for the
        notebook when there is no usable sweep (no ``sweep.csv``, no saved model
        on disk, or no model trained on all ``speakers``).
    """
    sweep_path = Path(sweep_dir) / "sweep.csv"
    if not sweep_path.is_file():
        return None, (f"no classifier: {sweep_path} does not exist ({_SWEEP_PRODUCER}), "
                      "so the target-speaker rate is not measured")
    sweep = load_sweep(sweep_path)
    usable = sweep[[not _blank(p) and Path(str(p)).is_file() for p in sweep["model_path"]]]
    if usable.empty:
        return None, f"no classifier: no model listed in {sweep_path} exists on disk"
    for _, row in usable.sort_values("test_accuracy", ascending=False, kind="stable").iterrows():
        clf = load_classifier(row["model_path"])
        if set(map(str, speakers)) <= set(map(str, clf.classes)):
            return clf, row
    return None, (f"no classifier in {sweep_path} was trained on the speakers {sorted(speakers)}, "
                  "so the target-speaker rate is not measured")


def classifier_image_size(transforms_manifest, transform, *, default=(512, 512)) -> tuple[int, int]:
    """(height, width) of notebook 01's images of ``transform``: the images the
    sweep's classifiers were trained on.

    Parameters
    ----------
    transforms_manifest : path
        Notebook 01's ``<run_dir>/transforms/manifest.csv``.
    transform : str
    default : (int, int)
        Returned when that manifest, its ``height``/``width`` columns or the
        transform are absent (a user's own classifier).
    """
    path = Path(transforms_manifest)
    if not path.is_file():
        return tuple(default)
    table = pd.read_csv(path)
    if not {"transform", "height", "width"} <= set(table.columns):
        return tuple(default)
    rows = table[table["transform"].astype(str) == str(transform)]
    return tuple(default) if rows.empty else (int(rows["height"].iloc[0]), int(rows["width"].iloc[0]))
