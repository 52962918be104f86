"""Toy data shared by the tests of voxlib.gan: learnable image pairs, a manifest, a shared corpus."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from voxlib import datasets, images

DATA = Path(__file__).resolve().parents[2] / "data" / "embedded"


def toy_pairs(n, size=32, channels=1, seed=0):
    """Blocky random images (source) and their negatives (target): a learnable mapping."""
    rng = np.random.default_rng(seed)
    h, w = (size, size) if np.isscalar(size) else size
    x = rng.random((n, h // 4, w // 4, channels))
    src = (np.kron(x, np.ones((1, 4, 4, 1))) * 255).round().astype(np.uint8)
    return src, 255 - src


def write_image(folder, name, img):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(folder / name)


def manifest_rows(tmp_path, src, tgt, scales=None):
    """A write_images-style manifest of two speakers; ``scales[speaker]`` = per-utterance scales."""
    scales = scales or {}
    rows = []
    for speaker, imgs, utts in (("allison", src, ["a", "b", "c"]), ("july", tgt[::-1], ["c", "b", "a"])):
        for k, (img, utt) in enumerate(zip(imgs, utts)):
            scale = scales.get(speaker, [12.5] * 3)[k]
            path = tmp_path / "img" / speaker / f"{utt}.png"
            images.save_image(path, img[..., 0], {"scale": scale}, overwrite=True)
            rows.append(dict(speaker=speaker, utterance=utt, transform="amor", path=str(path), scale=scale,
                             sr=8000, n_freq=100, n_time=24000, source_path=str(tmp_path / f"{speaker}_{utt}.flac")))
    return rows


def shared_corpus(n_train=6, n_test=2, seed=0):
    """Allison and July's recordings of a few shared sentences, with a split column."""
    corpus = datasets.discover(DATA)
    shared = sorted(set(corpus.loc[corpus["speaker"] == "es-mx_allison", "utterance"])
                    & set(corpus.loc[corpus["speaker"] == "es-co_july", "utterance"]))
    rng = np.random.default_rng(seed)
    utts = list(rng.choice(shared, n_train + n_test, replace=False))
    rows = corpus[corpus["speaker"].isin(["es-mx_allison", "es-co_july"]) & corpus["utterance"].isin(utts)].copy()
    rows["split"] = np.where(rows["utterance"].isin(utts[:n_test]), "test", "train")
    return rows
