"""Synthetic speaker images shaped like notebook 01's output: a learnable toy task for the sweep's
tests (tests/transfer/, test_cluster.py, test_devices.py). Not a test module: imported by name."""
from __future__ import annotations

import numpy as np
import pandas as pd

from voxlib.images import save_image

N_SPEAKERS = 4


def synthetic_images(speakers=N_SPEAKERS, utterances=6, size=48, seed=0):
    """Speaker k: a bright horizontal band (a 'formant') at its own height plus
    noise; utterances differ in noise, band jitter and pauses. uint8 (N, size, size)."""
    rng = np.random.default_rng(seed)
    imgs, spk, utt = [], [], []
    rows = np.arange(size)[:, None]
    for k in range(speakers):
        centre = (k + 1) * size / (speakers + 1)
        for u in range(utterances):
            c = centre + rng.uniform(-1.5, 1.5)
            band = np.exp(-0.5 * ((rows - c) / 1.5) ** 2) * (rng.uniform(size=(1, size)) > 0.25)
            img = 60 * rng.uniform(size=(size, size)) + 180 * band
            imgs.append(np.clip(img, 0, 255).astype(np.uint8))
            spk.append(f"spk{k}")
            utt.append(f"u{u:02d}")
    return np.stack(imgs), spk, utt


def write_synthetic(folder, transforms=("hamming", "morse"), **kw):
    """PNG files + a manifest DataFrame shaped like notebook 01's."""
    imgs, spk, utt = synthetic_images(**kw)
    rows = []
    for t_i, t in enumerate(transforms):
        for img, s, u in zip(imgs, spk, utt):
            img = np.roll(img, t_i, axis=1)  # the transforms differ a little
            path = save_image(folder / t / s / f"{u}.png", img, {"scale": 1.0})
            rows.append({"speaker": s, "utterance": u, "transform": t, "aligned": False, "path": str(path),
                         "scale": 1.0})
    return pd.DataFrame(rows)
