"""What notebook 05 reads: generated images, their manifest, and the baselines written alike.

:func:`write_generated` runs a generator over pairs and :func:`write_mapped` writes any mapping's
images (pix2pix, :func:`ridge_baseline`, :func:`gmm_baseline`) as gray 8-bit PNGs carrying the pairs'
scale, transform and clip settings (for envelope images also their dB recipe), with ``manifest.csv``
(:data:`GENERATED_COLUMNS`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.fft
from threadpoolctl import threadpool_limits

from voxlib import datasets, frames, images, metrics, vocoder
from voxlib.checks import Interval, Options, check_params
from voxlib.gan.clips import GanDataError
from voxlib.gan.envelopes import ENVELOPE_META, bands_image, image_bands
from voxlib.gan.pairs import common_scale
from voxlib.gan.pix2pix import generate

__all__ = [
    "GENERATED_COLUMNS",
    "GENERATED_REQUIRED",
    "write_generated",
    "write_mapped",
    "RIDGE_ALPHAS",
    "ridge_baseline",
    "GMM_FEATURES",
    "GMM_COMPONENTS",
    "GMM_CHOICES_FILE",
    "gmm_baseline",
    "IMAGE_METRICS_FILE",
    "write_image_scores",
]

#: Columns of ``generated/manifest.csv`` (docs/ARCHITECTURE.md); ``transform``
#: is the wavelet the images were made with (notebook 05 inverts with it), or
#: ``"world_envelope"`` for WORLD envelope images; ``time_map_path`` is the pair's per-sample DTW map
#: (``.npy``, source -> target clip; empty without one).
GENERATED_COLUMNS = ["utterance", "source_speaker", "target_speaker", "transform", "split", "path",
                     "source_image_path", "target_image_path", "source_audio_path", "target_audio_path", "scale",
                     "sr", "n_freq", "n_time", "height", "width", "align_duration", "align_lead",
                     "clip_aligned", "source_plain_path", "source_original_path", "target_original_path",
                     "f_lo", "f_hi", "pair_alignment", "pitch_mode", "generated_by", "time_map_path"]
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
    """Per pair: the metadata stored with its generated image (``scale`` = the pairs' common scale; an
    envelope image's dB recipe, :data:`voxlib.gan.envelopes.ENVELOPE_META`, when the pairs carry it)."""
    meta = pairs.meta.reset_index(drop=True)
    for name, m in zip(pairs.names, meta.to_dict("records")):
        info = {k: _blank_to_none(m.get(k)) for k in _GENERATED_META}
        info.update({k: m[k] for k in ENVELOPE_META if _blank_to_none(m.get(k)) is not None})
        paths = {k: m.get(k) for k in _GENERATED_PATHS}
        yield name, dict(info, scale=scale), dict(paths, split=_blank_to_none(m.get("split")) or "test",
                                                  time_map_path=_blank_to_none(m.get("time_map")))


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


#: Frame features the GMM baseline may map: the envelope image's mel bands in dB, or mel-cepstra
#: (their orthonormal DCT, the first :data:`N_CEPSTRA` coefficients).
GMM_FEATURES = ("bands", "mcep")
#: Mixture sizes :func:`gmm_baseline` tries on its validation sentences.
GMM_COMPONENTS = (1, 2, 4, 8)
#: Mel-cepstra kept (c0 included) for ``features="mcep"``.
N_CEPSTRA = 24
#: The validation table :func:`gmm_baseline` writes beside its manifest.
GMM_CHOICES_FILE = "choices.csv"
_GMM_CONSTRAINTS = {
    "features": [Options(GMM_FEATURES), None],
    "n_components": [Interval(int, 1, None), None],
    "global_variance": [bool, None],
    "validation_size": [Interval(float, 0, 1, closed="neither")],
}


def _envelope_recipe(pairs, what):
    """``(scale, db_floor, n_time)`` of envelope pairs; other images are refused (internal)."""
    meta = pairs.meta
    kinds = sorted(map(str, set(meta["transform"]))) if "transform" in meta.columns else []
    if kinds != [vocoder.ENVELOPE_IMAGE] or "db_floor" not in meta.columns:
        raise GanDataError(
            f"gmm_baseline maps WORLD envelope frames, but {what} hold {kinds or 'plain (folder)'} images; make the "
            "pairs with gan.write_paired_images(..., representation='envelope') (the ridge baseline maps any images)")
    return common_scale(pairs.names, meta), float(meta["db_floor"].iloc[0]), int(meta["n_time"].max())


def _speech(imgs, n_time):
    """(N, n_time) bool: the columns not entirely at pixel 0 (the VAD padding is digital silence) (internal)."""
    arr = np.asarray(imgs)
    arr = arr.max(axis=3) if arr.ndim == 4 else arr
    return arr[:, :, :n_time].max(axis=1) > 0


def _features(bands, features):
    if features == "bands":
        return bands
    return scipy.fft.dct(bands, type=2, norm="ortho", axis=-1)[..., :N_CEPSTRA]


def _bands_of(feats, features, n_bands):
    if features == "bands":
        return feats
    full = np.zeros(feats.shape[:-1] + (n_bands,))
    full[..., : feats.shape[-1]] = feats
    return scipy.fft.idct(full, type=2, norm="ortho", axis=-1)


def _gmm_frames(pairs, index, recipe, features):
    """Source and target features of the frames where both images hold speech, and their sentence (internal)."""
    scale, floor, n_time = recipe
    src, tgt = pairs.source[index], pairs.target[index]
    keep = _speech(src, n_time) & _speech(tgt, n_time)
    groups = np.broadcast_to(np.arange(len(index))[:, None], keep.shape)[keep]
    x, y = (_features(image_bands(imgs, scale=scale, db_floor=floor, n_time=n_time)[keep], features)
            for imgs in (src, tgt))
    return x, y, groups


def _gmm_map(model, source_images, recipe, features):
    """Envelope images mapped frame by frame (speech columns; silent ones copied), same shape (internal)."""
    scale, floor, n_time = recipe
    bands = image_bands(source_images, scale=scale, db_floor=floor, n_time=n_time)
    keep = _speech(source_images, n_time)
    if keep.any():
        groups = np.broadcast_to(np.arange(len(bands))[:, None], keep.shape)[keep]
        mapped = model.predict(_features(bands[keep], features), groups)
        bands[keep] = _bands_of(mapped, features, bands.shape[-1])
    out = bands_image(bands, scale=scale, db_floor=floor, width=source_images.shape[2])
    return np.repeat(out[..., None], source_images.shape[3], axis=3) if np.ndim(source_images) == 4 else out


def _lsd_db(mapped, pairs, index, recipe):
    """Log-spectral distance (dB, RMS over bands, mean over frames where both images hold speech) (internal)."""
    scale, floor, n_time = recipe
    keep = _speech(pairs.source[index], n_time) & _speech(pairs.target[index], n_time)
    a, b = (image_bands(imgs, scale=scale, db_floor=floor, n_time=n_time) for imgs in (mapped, pairs.target[index]))
    return float(np.sqrt(((a - b) ** 2).mean(axis=-1))[keep].mean())


def _errors(mapped_of, train, fit, val, recipe) -> dict:
    """``fit_lsd_db`` and ``validation_lsd_db`` of a mapping ``mapped_of(source_images)`` (internal)."""
    return {f"{side}_lsd_db": _lsd_db(mapped_of(train.source[idx]), train, idx, recipe)
            for side, idx in (("fit", fit), ("validation", val))}


def _gmm_choices(train, fit, val, recipe, grid, seed) -> pd.DataFrame:
    """Validation table: copying the source, then the settings tried; per features, mixture sizes are tried in
    increasing order until one does not lower the validation error (internal)."""
    rows = [dict(features="copy source", n_components=0, global_variance=False,
                 **_errors(lambda imgs: imgs, train, fit, val, recipe))]
    for feat in grid["features"]:
        x, y, groups = _gmm_frames(train, fit, recipe, feat)
        previous = np.inf
        for k in sorted(grid["n_components"]):
            model = frames.GMMMapping(n_components=k, seed=seed).fit(x, y, groups)
            errors = []
            for gv in grid["global_variance"]:
                model.global_variance = gv
                rows.append(dict(features=feat, n_components=k, global_variance=gv,
                                 **_errors(lambda imgs: _gmm_map(model, imgs, recipe, feat), train, fit, val, recipe)))
                errors.append(rows[-1]["validation_lsd_db"])
            if min(errors) >= previous:
                break
            previous = min(errors)
    table = pd.DataFrame(rows)
    table["chosen"] = False
    table.loc[table.index[1:][np.argmin(table["validation_lsd_db"].to_numpy()[1:])], "chosen"] = True
    return table


def _validation_split(train, validation_size, seed):
    """Seeded (fit, validation) positions of the training sentences (internal)."""
    if "split" in train.meta.columns and (train.meta["split"].astype(str) == "test").any():
        raise GanDataError("train holds held-out sentences (split == 'test'); pass the training pairs of "
                           "gan.split_pairs only")
    n = len(train)
    if n < 2:
        raise GanDataError(f"train holds {n} sentence(s); the GMM baseline needs at least 2 (fit + validation)")
    n_val = min(n - 1, max(1, round(validation_size * n)))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def gmm_baseline(train, pairs, out_dir, *, source, target, features=None, n_components=None, global_variance=None,
                 validation_size=0.25, seed=0):
    """The classic parallel-VC baseline on envelope images: a joint-density GMM per frame, written like pix2pix's.

    :class:`voxlib.frames.GMMMapping` (Toda et al. 2007) maps each source frame (an envelope image column, read as
    mel-band dB, :func:`voxlib.gan.envelopes.image_bands`) to the column-aligned target frame. Fitted on the
    frames of the training pairs where both images hold speech (the VAD padding, all pixel 0, is copied as it
    is). Settings left None are chosen on validation sentences drawn (seeded, ``validation_size``) from
    ``train``, never from the held-out ones: the one with the smallest validation log-spectral distance
    (dB, RMS over the bands, mean over speech frames) among ``features`` in :data:`GMM_FEATURES` (the band
    dB values, or :data:`N_CEPSTRA` mel-cepstra), ``n_components`` in :data:`GMM_COMPONENTS` and the
    global-variance post-filter off/on. Mixture sizes are tried in increasing order and the search stops
    at the first that does not lower the validation error (larger ones only fit the training frames
    closer: on the quick profile's pairs 1 component won, and 8 took 35 s on a busy 2-core CPU). The
    chosen model is refitted on all of ``train``, applied to every pair of ``pairs``, and the images go
    through :func:`write_mapped` (``generated_by="gmm"``) with the table in ``out_dir/choices.csv``.

    Parameters
    ----------
    train, pairs : PairedImages
        Envelope pairs (``representation="envelope"``): the training pairs, and every pair to map.
    out_dir : path
    source, target : str
    features : {"bands", "mcep"} or None
    n_components : int >= 1 or None
    global_variance : bool or None
        Fixed settings (None: chosen on the validation sentences).
    validation_size : float in (0, 1)
        Share of the training sentences that validate.
    seed : int
        Seeds the validation split and the mixtures' initialisation.

    Returns
    -------
    model : voxlib.frames.GMMMapping
        Fitted on all of ``train`` with the chosen settings.
    mapped : uint8 array shaped like ``pairs.source``
    manifest : pandas.DataFrame
    choices : pandas.DataFrame
        ``features, n_components, global_variance, fit_lsd_db, validation_lsd_db, chosen`` (the first row
        copies the source image: the error to beat).

    Raises
    ------
    GanDataError
        Pairs that are not envelope images (e.g. scalograms), held-out sentences in ``train``, or fewer than
        two training sentences.
    """
    check_params(_GMM_CONSTRAINTS, dict(features=features, n_components=n_components,
                                        global_variance=global_variance, validation_size=validation_size))
    recipe = _envelope_recipe(train, "the training pairs")
    if _envelope_recipe(pairs, "the pairs to map") != recipe:
        raise GanDataError("train and pairs hold envelope images of different recipes (scale, floor or frames)")
    fit, val = _validation_split(train, validation_size, seed)
    grid = {"features": GMM_FEATURES if features is None else (features,),
            "n_components": GMM_COMPONENTS if n_components is None else (n_components,),
            "global_variance": (False, True) if global_variance is None else (global_variance,)}
    with threadpool_limits(limits=1):  # small EM problems: OpenMP/BLAS threads on a busy CPU cost 10-30x
        choices = _gmm_choices(train, fit, val, recipe, grid, seed)
        best = choices[choices["chosen"]].iloc[0]
        feat, k, gv = str(best["features"]), int(best["n_components"]), bool(best["global_variance"])
        x, y, groups = _gmm_frames(train, np.arange(len(train)), recipe, feat)
        model = frames.GMMMapping(n_components=k, global_variance=gv, seed=seed).fit(x, y, groups)
        mapped = _gmm_map(model, pairs.source, recipe, feat)
    manifest = write_mapped(mapped, pairs, out_dir, source=source, target=target, generated_by="gmm",
                            extra={"gmm_features": feat, "gmm_components": k, "gmm_global_variance": gv})
    choices.to_csv(Path(out_dir) / GMM_CHOICES_FILE, index=False)
    return model, mapped, manifest, choices


#: The held-out image distances notebook 04 writes into the pair's folder.
IMAGE_METRICS_FILE = "image_metrics.csv"


def write_image_scores(target, candidates: dict, out_dir) -> pd.DataFrame:
    """Image distances of each candidate mapping to the target images (:func:`voxlib.metrics.image_scores`),
    written to ``<out_dir>/image_metrics.csv`` and returned."""
    scores = metrics.image_scores(target, candidates)
    scores.to_csv(Path(out_dir) / IMAGE_METRICS_FILE, index=False)
    return scores
