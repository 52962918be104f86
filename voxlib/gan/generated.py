"""What notebook 05 reads: generated images, their manifest, and the ridge baseline written alike.

:func:`write_generated` runs a generator over pairs and :func:`write_mapped` writes any mapping's
images (pix2pix, :func:`ridge_baseline`) as gray 8-bit PNGs carrying the pairs' scale, transform
and clip settings, with ``manifest.csv`` (:data:`GENERATED_COLUMNS`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from voxlib import datasets, frames, images, metrics
from voxlib.gan.clips import GanDataError
from voxlib.gan.pairs import common_scale
from voxlib.gan.pix2pix import generate

__all__ = [
    "GENERATED_COLUMNS",
    "GENERATED_REQUIRED",
    "write_generated",
    "write_mapped",
    "RIDGE_ALPHAS",
    "ridge_baseline",
    "IMAGE_METRICS_FILE",
    "write_image_scores",
]

#: Columns of ``generated/manifest.csv`` (docs/ARCHITECTURE.md); ``transform``
#: is the wavelet the images were made with (notebook 05 inverts with it).
GENERATED_COLUMNS = ["utterance", "source_speaker", "target_speaker", "transform", "split", "path",
                     "source_image_path", "target_image_path", "source_audio_path", "target_audio_path", "scale",
                     "sr", "n_freq", "n_time", "height", "width", "align_duration", "align_lead",
                     "clip_aligned", "source_plain_path", "source_original_path", "target_original_path",
                     "f_lo", "f_hi", "pair_alignment", "pitch_mode", "generated_by"]
#: The columns every generated manifest has had (the later ones are optional to readers: an older
#: manifest is read as the thesis's VAD-aligned recordings, full band).
GENERATED_REQUIRED = GENERATED_COLUMNS[:18]
#: Per-pair values copied from the pairs' ``meta`` into each generated image's metadata.
_GENERATED_META = ("transform", "sr", "n_freq", "n_time", "align_duration", "align_lead", "clip_aligned",
                   "f_lo", "f_hi", "pair_alignment", "pitch_mode")
#: Per-pair paths copied from the pairs' ``meta`` into the generated manifest.
_GENERATED_PATHS = ("source_image_path", "target_image_path", "source_audio_path", "target_audio_path",
                    "source_plain_path", "source_original_path", "target_original_path")


def _blank_to_none(value):
    return None if value is None or (np.isscalar(value) and pd.isna(value)) else value


def _generated_rows(pairs, scale):
    """Per pair: the metadata stored with its generated image (``scale`` = the pairs' common scale)."""
    meta = pairs.meta.reset_index(drop=True)
    for name, m in zip(pairs.names, meta.to_dict("records")):
        info = {k: _blank_to_none(m.get(k)) for k in _GENERATED_META}
        paths = {k: m.get(k) for k in _GENERATED_PATHS}
        yield name, dict(info, scale=scale), dict(paths, split=_blank_to_none(m.get("split")) or "test")


def write_generated(generator, pairs, out_dir, *, source, target, mode="instance", batch_size=8):
    """Generate images for pairs and write them with notebook 01's metadata.

    Writes ``out_dir/<utterance>.png`` (gray, 8-bit; RGB outputs through :func:`voxlib.images.to_gray`)
    carrying ``scale`` (the pairs' one fixed scale), ``transform, sr, n_freq,
    n_time`` so notebook 05 can turn them back into magnitudes, and
    ``out_dir/manifest.csv`` with the columns :data:`GENERATED_COLUMNS`.

    Parameters
    ----------
    generator : keras.Model
    pairs : PairedImages
        From :func:`voxlib.gan.pairs.load_manifest_pairs` / :func:`~voxlib.gan.pairs.write_paired_images`
        (scalograms) or :func:`~voxlib.gan.pairs.load_folder_pairs` (no scale: ``scale`` and
        ``transform`` are left empty).
    out_dir : path
    source, target : str
        Speaker labels (recorded in the manifest).
    mode, batch_size :
        See :func:`voxlib.gan.pix2pix.generate`.

    Returns
    -------
    generated : uint8 array (N, H, W, C)
    manifest : pandas.DataFrame

    Raises
    ------
    GanDataError
        The pairs' images are not on one fixed scale (see :func:`voxlib.gan.pairs.load_manifest_pairs`).
    """
    common_scale(pairs.names, pairs.meta)
    generated = generate(generator, pairs.source, mode=mode, batch_size=batch_size)
    manifest = write_mapped(generated, pairs, out_dir, source=source, target=target, generated_by="pix2pix",
                            extra={"generate_mode": mode})
    return generated, manifest


def write_mapped(mapped, pairs, out_dir, *, source, target, generated_by, extra=None):
    """Write images some mapping made from ``pairs.source`` (pix2pix, the ridge baseline) for notebook 05.

    ``mapped`` is uint8 ``(N, H, W)`` or ``(N, H, W, C)`` (RGB made gray by
    :func:`voxlib.images.to_gray`), row i made from pair i. Writes ``out_dir/<utterance>.png`` with the
    pairs' scale, transform and clip settings in its metadata, and
    ``out_dir/manifest.csv`` (:data:`GENERATED_COLUMNS`; ``generated_by``
    names the mapping). Returns the manifest.
    """
    scale = common_scale(pairs.names, pairs.meta)
    mapped = np.asarray(mapped)
    if mapped.shape[0] != len(pairs):
        raise GanDataError(f"{mapped.shape[0]} mapped images for {len(pairs)} pairs; make one per pair")
    if mapped.ndim == 4:  # (N, H, W, C): to_gray takes (H, W, C), so stack the rows of every image
        gray = images.to_gray(mapped.reshape(-1, *mapped.shape[2:])).reshape(mapped.shape[:3])
    else:
        gray = mapped.astype(np.float32)
    gray = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    out_dir = Path(out_dir)
    rows = []
    for img, (name, info, paths) in zip(gray, _generated_rows(pairs, scale)):
        path = out_dir / f"{name}.png"
        images.save_image(path, img, dict(info, utterance=name, source_speaker=source, target_speaker=target,
                                          generated_by=f"voxlib.gan ({generated_by})", **(extra or {})))
        rows.append(dict(info, **paths, utterance=name, source_speaker=source, target_speaker=target,
                         path=str(path), height=img.shape[0], width=img.shape[1], generated_by=generated_by))
    manifest = pd.DataFrame(rows, columns=GENERATED_COLUMNS)
    datasets.write_manifest(manifest, out_dir / "manifest.csv")
    return manifest


#: Ridge penalties tried by cross-validation over the training sentences (the grid spans the
#: 64-row images' feature scale: at 1e3 the quick profile's choice sat on the old grid's edge).
RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5)


def ridge_baseline(train, pairs, out_dir, *, source, target, context=5, seed=0):
    """The non-GAN baseline: frame-wise ridge regression on the same pairs, written like pix2pix's output.

    :class:`voxlib.frames.RidgeMapping` is fitted on the training pairs
    (``train``: source image columns with ``context`` neighbours each side →
    the aligned target column; its penalty chosen by cross-validation over
    whole training sentences) and applied to every pair of ``pairs``; the
    images go through :func:`write_mapped` to ``out_dir``, so notebook 05
    turns them into sound exactly as it does the generator's.

    Returns
    -------
    model : voxlib.frames.RidgeMapping
    mapped : uint8 array (N, H, W)
    manifest : pandas.DataFrame
    """
    model = frames.RidgeMapping(context=context, alphas=RIDGE_ALPHAS, seed=seed).fit(train.source, train.target)
    mapped = model.predict(pairs.source)
    manifest = write_mapped(mapped, pairs, out_dir, source=source, target=target, generated_by="ridge",
                            extra={"ridge_alpha": float(model.alpha_), "ridge_context": int(context)})
    return model, mapped, manifest


#: The held-out image distances notebook 04 writes into the pair's folder.
IMAGE_METRICS_FILE = "image_metrics.csv"


def write_image_scores(target, candidates: dict, out_dir) -> pd.DataFrame:
    """Image distances of each candidate mapping to the target images (:func:`voxlib.metrics.image_scores`),
    written to ``<out_dir>/image_metrics.csv`` and returned."""
    scores = metrics.image_scores(target, candidates)
    scores.to_csv(Path(out_dir) / IMAGE_METRICS_FILE, index=False)
    return scores
