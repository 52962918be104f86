"""Which images pair with which: paired data sets, their one fixed scale, the split.

Two sources of pairs: two speakers' images of the same sentences (:func:`write_paired_images` makes
them from :func:`voxlib.gan.clips.prepare_clips`'s clips, in one of :data:`REPRESENTATIONS`: the
thesis's scalograms, notebook 01's recipe :func:`voxlib.images.write_images` on one fixed image scale,
:data:`SINE_SCALE` by default; or WORLD envelope images, :mod:`voxlib.gan.envelopes`;
:func:`load_manifest_pairs` reads an images manifest), or two plain folders of same-named images
(:func:`load_folder_pairs`). Pairs whose images carry different scales are refused.
:func:`split_pairs` holds out the run's test sentences.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from voxlib import audio, datasets, images, metrics, vocoder
from voxlib.checks import Interval, Options, check_params
from voxlib.gan import envelopes
from voxlib.gan.clips import ClipSettings, GanDataError, prepare_clips
from voxlib.gan.pix2pix import as_size

__all__ = [
    "alignment_l1",
    "REPRESENTATIONS",
    "SINE_SCALE",
    "PairedImages",
    "join_pairs",
    "common_scale",
    "load_folder_pairs",
    "load_manifest_pairs",
    "split_pairs",
    "write_paired_images",
    "unwarped_targets",
]

#: What a pair's images show: ``"scalogram"`` (the thesis: a CWT magnitude resized to ``image_size``) or
#: ``"envelope"`` (the WORLD spectral envelope, one column per 5 ms frame, :mod:`voxlib.gan.envelopes`).
REPRESENTATIONS = ("scalogram", "envelope")
#: Image scale of a full-scale sinusoid: 50 log10(1 + |W|) with |W| = 1.
SINE_SCALE = 50 * math.log10(2.0)
#: Relative tolerance under which two image scales count as the same fixed scale.
SCALE_RTOL = 1e-6

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: Columns a ``voxlib.images.write_images`` manifest must have for :func:`load_manifest_pairs`.
MANIFEST_PAIR_COLUMNS = ["speaker", "utterance", "transform", "path", "scale", "sr", "n_freq", "n_time",
                         "source_path"]
#: What the settings of this module's functions may be (``on_missing``: of :func:`load_folder_pairs`).
_CONSTRAINTS = {
    "channels": [Options({1, 3})],
    "on_missing": [Options({"error", "skip"})],
    "test_size": [Interval(float, 0, 1, closed="left")],
    "max_pairs": [Interval(int, 2, None), None],
    "representation": [Options(REPRESENTATIONS)],
}


@dataclass
class PairedImages:
    """Paired 8-bit images: row i of ``source`` goes with row i of ``target``.

    Attributes
    ----------
    names : list of str
        Pair names (utterance ids, or file stems in folder mode).
    source, target : uint8 array (N, H, W, C)
    meta : pandas.DataFrame
        One row per pair: ``utterance, source_image_path, target_image_path``
        and, for scalograms, ``transform, source_audio_path,
        target_audio_path, scale, target_scale, sr, n_freq, n_time,
        align_duration, align_lead``.
    """

    names: list
    source: np.ndarray
    target: np.ndarray
    meta: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __len__(self):
        return len(self.names)

    def subset(self, index):
        """The pairs at integer positions ``index``."""
        index = np.asarray(index, dtype=int)
        return PairedImages([self.names[i] for i in index], self.source[index], self.target[index],
                            self.meta.iloc[index].reset_index(drop=True))


def join_pairs(*parts):
    """One :class:`PairedImages` of several (e.g. the ``train`` and ``test`` of :func:`split_pairs`), in order.

    Empty parts are skipped; their ``meta`` columns (``split`` included) are kept.
    """
    parts = [p for p in parts if len(p)]
    if not parts:
        raise ValueError("join_pairs got no pairs; give at least one non-empty PairedImages")
    return PairedImages([n for p in parts for n in p.names], np.concatenate([p.source for p in parts]),
                        np.concatenate([p.target for p in parts]),
                        pd.concat([p.meta for p in parts], ignore_index=True))


def _as_channels(img, channels):
    """uint8 image (H, W) or (H, W, C) -> (H, W, channels); RGB -> gray by :func:`voxlib.images.to_gray`."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[-1] == channels:
        return img
    if channels == 3 and img.shape[-1] == 1:
        return np.repeat(img, 3, axis=-1)
    if channels == 1 and img.shape[-1] >= 3:
        return np.clip(np.rint(images.to_gray(img)), 0, 255).astype(np.uint8)[..., None]
    raise ValueError(f"cannot convert an image with {img.shape[-1]} channels to {channels}")


def _read_image(path, channels, image_size):
    """One image of a folder pair as (H, W, channels) uint8, resized (bicubic) to ``image_size`` if given.

    Folder mode pairs pixels only: a plain photo has no stored scale, and no
    scale is recorded for these pairs (the fallback only lets such files load).
    """
    img, _ = images.load_image(path, fallback_scale=SINE_SCALE)
    img = _as_channels(img, channels)
    if image_size is not None and img.shape[:2] != tuple(image_size):
        pil = Image.fromarray(img[..., 0] if channels == 1 else img)
        pil = pil.resize((image_size[1], image_size[0]), Image.Resampling.BICUBIC)
        img = _as_channels(np.asarray(pil), channels)
    return img


def _list_images(folder, what):
    folder = Path(folder)
    if not folder.is_dir():
        raise GanDataError(f"{what} {folder} is not a folder; give a folder of images ({', '.join(IMAGE_SUFFIXES)})")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise GanDataError(f"{what} {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                           f"put the paired images there")
    stems = {}
    for p in files:
        if p.stem in stems:
            raise GanDataError(f"{p} and {stems[p.stem]} have the same name; keep one image per name")
        stems[p.stem] = p
    return stems


def _check_same_size(imgs, paths):
    shapes = [im.shape for im in imgs]
    for shape, path in zip(shapes, paths):
        if shape != shapes[0]:
            raise GanDataError(f"images differ in size: {paths[0]} is {shapes[0][1]} x {shapes[0][0]} but {path} "
                               f"is {shape[1]} x {shape[0]} (width x height); pass image_size=(height, width) "
                               f"to resize them all, or resize the files")


def _scales(meta, column):
    return pd.to_numeric(meta[column], errors="coerce").to_numpy(float) if column in meta.columns else None


def _scale_mismatch(names, src, tgt):
    """(what differs, first item, its scale, second item, its scale), or None if all scales agree."""
    if np.isnan(src).any() or np.isnan(tgt).any():
        i = int(np.flatnonzero(np.isnan(src) | np.isnan(tgt))[0])
        return "some images have no scale", names[0], src[0], names[i], np.nan
    differ = ~np.isclose(src, tgt, rtol=SCALE_RTOL, atol=0.0)
    if differ.any():
        i = int(np.flatnonzero(differ)[0])
        return ("the source and target images of a pair differ", f"{names[i]} (source)", src[i],
                f"{names[i]} (target)", tgt[i])
    differ = ~np.isclose(src, src[0], rtol=SCALE_RTOL, atol=0.0)
    if differ.any():
        i = int(np.flatnonzero(differ)[0])
        return "the pairs differ from each other", names[0], src[0], names[i], src[i]
    return None


def common_scale(names, meta):
    """The one image scale of a set of pairs, or None when they carry none (folder mode).

    Raises
    ------
    GanDataError
        The scales differ between the source and target of a pair or across
        pairs, or only some images have one: a pixel would not mean one
        magnitude, and :func:`voxlib.gan.generated.write_generated` could not record the scale of
        the generated images.
    """
    src = _scales(meta, "scale")
    if src is None or len(src) == 0 or np.isnan(src).all():
        return None
    tgt = _scales(meta, "target_scale")
    tgt = src if tgt is None else tgt
    found = _scale_mismatch(list(names), src, tgt)
    if found is None:
        return float(src[0])
    what, a, sa, b, sb = found
    raise GanDataError(
        f"the paired images are not on one fixed image scale: {what} ({a}: {sa:.6g}, {b}: {sb:.6g}). Each image "
        f"was scaled to its own maximum, so a pixel means a different magnitude in each and the generated images "
        f"would have no single scale to invert. Make the images with one fixed image_scale, e.g. "
        f"gan.write_paired_images(..., scale=gan.SINE_SCALE) or "
        f"images.write_images(..., aligned=True, scale=gan.SINE_SCALE)")


def load_folder_pairs(source_dir, target_dir, *, channels=3, image_size=None, on_missing="error"):
    """Pairs from two folders holding images with the same file names.

    The general image-to-image mode (the thesis first colourised grayscale
    flower photos): ``source_dir/a.png`` pairs with ``target_dir/a.png`` (or
    ``a.jpg``: names are matched without their suffix).

    Parameters
    ----------
    source_dir, target_dir : path
    channels : {1, 3}
        Images are read as gray (1) or RGB (3).
    image_size : (int, int) or None
        Resize every image to ``(height, width)`` (bicubic); None requires
        all images to have one size.
    on_missing : {"error", "skip"}
        An image with no partner raises ``GanDataError`` naming it, or is
        left out with a warning.

    Returns
    -------
    PairedImages
        ``meta`` holds the image paths only (no scale: pixels are paired as they are).
    """
    check_params(_CONSTRAINTS, {"channels": channels, "on_missing": on_missing})
    if image_size is not None:
        image_size = as_size(image_size)
    src, tgt = _list_images(source_dir, "source_dir"), _list_images(target_dir, "target_dir")
    lonely = [src[s] for s in src if s not in tgt] + [tgt[t] for t in tgt if t not in src]
    if lonely:
        other = target_dir if lonely[0].parent == Path(source_dir) else source_dir
        msg = (f"{len(lonely)} image(s) have no partner of the same name, e.g. {lonely[0]} "
               f"(expected {Path(other) / lonely[0].stem}.*)")
        if on_missing == "error":
            raise GanDataError(msg + "; add the partner or remove the file (or pass on_missing='skip')")
        warnings.warn(msg + "; they are left out", stacklevel=2)
    names = sorted(set(src) & set(tgt))
    if not names:
        raise GanDataError(f"{source_dir} and {target_dir} share no image name; nothing to pair")
    paths_s, paths_t = [src[n] for n in names], [tgt[n] for n in names]
    x = [_read_image(p, channels, image_size) for p in paths_s]
    y = [_read_image(p, channels, image_size) for p in paths_t]
    _check_same_size(x + y, paths_s + paths_t)
    meta = pd.DataFrame({"utterance": names, "source_image_path": [str(p) for p in paths_s],
                         "target_image_path": [str(p) for p in paths_t]})
    return PairedImages(names, np.stack(x), np.stack(y), meta)


def _speaker_rows(rows, speaker, utterances):
    return rows[rows["speaker"] == speaker].set_index("utterance").loc[utterances]


def _read_manifest_images(rows, channels):
    """The images of manifest rows; an image without stored metadata takes its row's scale."""
    return [_as_channels(images.load_image(p, fallback_scale=float(scale))[0], channels)
            for p, scale in zip(rows["path"], rows["scale"])]


def load_manifest_pairs(manifest, source, target, *, transform="amor", channels=1, align_duration=None,
                        align_lead=None, on_missing="warn"):
    """Pairs of two speakers' images from an images manifest, matched by utterance.

    Parameters
    ----------
    manifest : pandas.DataFrame or path
        ``voxlib.images.write_images``'s manifest (``speaker, utterance,
        transform, path, scale, sr, n_freq, n_time, height, width,
        source_path``); any corpus with shared utterance ids works. Every
        image must be on one fixed scale (``write_images(..., scale=...)``).
    source, target : str
        Speaker labels.
    transform : str
        Which transform's images to pair.
    channels : {1, 3}
        Network channels (the thesis stacked the gray image three times).
    align_duration, align_lead : float or None
        VAD alignment of the clips (seconds), recorded for notebook 05.
    on_missing : {"warn", "error", "ignore"}
        Utterances only one speaker has.

    Returns
    -------
    PairedImages
        Sorted by utterance; ``meta`` carries ``transform``, the image
        ``scale`` (the same for every image), the source image's ``sr, n_freq,
        n_time`` and both audio paths.

    Raises
    ------
    GanDataError
        A column is missing, no image has ``transform``, or the images' scales
        differ (per-image-scaled images, e.g. notebook 01's default).
    """
    check_params(_CONSTRAINTS, {"channels": channels})
    if not isinstance(manifest, pd.DataFrame):
        manifest = datasets.load_manifest(manifest)
    missing = [c for c in MANIFEST_PAIR_COLUMNS if c not in manifest.columns]
    if missing:
        raise GanDataError(f"manifest lacks column(s) {missing}; make it with voxlib.images.write_images")
    rows = manifest[manifest["transform"] == transform]
    if rows.empty:
        raise GanDataError(f"manifest has no images of transform {transform!r}; "
                           f"it has {sorted(manifest['transform'].unique())}")
    paired = datasets.pair_speakers(rows, source, target, on_missing=on_missing)
    names = list(paired["utterance"])
    s, t = _speaker_rows(rows, source, names), _speaker_rows(rows, target, names)
    meta = pd.DataFrame({
        "utterance": names, "transform": transform,
        "source_image_path": list(s["path"]), "target_image_path": list(t["path"]),
        "source_audio_path": list(s["source_path"]), "target_audio_path": list(t["source_path"]),
        "scale": s["scale"].to_numpy(float), "target_scale": t["scale"].to_numpy(float),
        "sr": s["sr"].to_numpy(), "n_freq": s["n_freq"].to_numpy(), "n_time": s["n_time"].to_numpy(),
        "align_duration": align_duration, "align_lead": align_lead})
    if "split" in rows.columns:  # the run's split (notebook 01), the same side for both speakers
        meta["split"] = _pair_sides(names, list(s["split"]), list(t["split"]))
    common_scale(names, meta)                         # before reading any image
    x, y = _read_manifest_images(s, channels), _read_manifest_images(t, channels)
    _check_same_size(x + y, list(s["path"]) + list(t["path"]))
    return PairedImages(names, np.stack(x), np.stack(y), meta)


def _pair_sides(names, source_sides, target_sides) -> list:
    """The split of each pair; a sentence on different sides for the two speakers is refused."""
    for name, a, b in zip(names, source_sides, target_sides):
        if a != b:
            raise GanDataError(f"sentence {name!r} is {a} for the source but {b} for the target in the split; "
                               "the run's split holds out sentences for every speaker (datasets.content_split)")
    return list(source_sides)


def split_pairs(pairs, *, test_size=0.25, seed=0):
    """Held-out and training pairs (sentences).

    When the pairs carry the run's split (``meta["split"]``, from notebook 01's
    ``split.csv``), it is used as is, so the sentences held out here are the
    ones no stage trains on. Otherwise a seeded share ``test_size`` is held out.
    The thesis trained on all its 90 sentences; ``test_size=0`` does that
    (whatever the split says).

    Returns
    -------
    train, test : PairedImages
        ``meta`` gains a ``split`` column.
    """
    check_params(_CONSTRAINTS, {"test_size": test_size})
    n = len(pairs)
    if test_size > 0 and "split" in pairs.meta.columns:
        held = (pairs.meta["split"].astype(str) == "test").to_numpy()
        if held.all() or not held.any():
            raise GanDataError(f"all {n} pairs are on the {'test' if held.all() else 'train'} side of the run's "
                               "split; pairs need both (more pairs: max_pairs, or another split)")
        test_idx, train_idx = np.flatnonzero(held), np.flatnonzero(~held)
    else:
        n_test = min(n - 1, max(1, round(test_size * n))) if test_size > 0 else 0
        order = np.random.default_rng(seed).permutation(n)
        test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    train, test = pairs.subset(train_idx), pairs.subset(test_idx)
    train.meta["split"], test.meta["split"] = "train", "test"
    return train, test


def _pair_subset(corpus, source, target, max_pairs, seed, test_size=0.25):
    """Corpus rows of the two speakers' shared utterances (a seeded subset of ``max_pairs`` of them;
    with the run's ``split`` column, ``round(test_size * max_pairs)`` of them held-out sentences)."""
    pairs = datasets.pair_speakers(corpus, source, target)
    if max_pairs is not None:
        if max_pairs < len(pairs):
            rng = np.random.default_rng(seed)
            if "split" in corpus.columns and test_size > 0:
                side = corpus[corpus["speaker"] == source].set_index("utterance")["split"]
                held = pairs["utterance"].map(side).eq("test").to_numpy()
                n_test = int(min(held.sum(), max(1, round(test_size * max_pairs))))
                keep = np.concatenate([rng.choice(np.flatnonzero(held), n_test, replace=False),
                                       rng.choice(np.flatnonzero(~held), min((~held).sum(), max_pairs - n_test),
                                                  replace=False)])
            else:
                keep = rng.choice(len(pairs), max_pairs, replace=False)
            pairs = pairs.iloc[np.sort(keep)]
    return corpus[corpus["speaker"].isin([source, target]) & corpus["utterance"].isin(pairs["utterance"])]


def _check_pair_scale(scale):
    if isinstance(scale, str) and scale == "max":
        return scale
    images.check_positive(scale, "scale (a number such as gan.SINE_SCALE, or 'max')", allow_none=False)
    return float(scale)


def write_paired_images(corpus, source, target, out_dir, *, clip_settings=ClipSettings(), image_size=(256, 256),
                        transform="amor", scale=SINE_SCALE, frequency_limits=None, channels=1, max_pairs=None,
                        test_size=0.25, seed=0, representation="scalogram"):
    """Images of two speakers' clips of the same sentences, lined up, on one fixed scale.

    The clips come from :func:`voxlib.gan.clips.prepare_clips` (high-pass, VAD alignment, the
    source's pitch converted, the target DTW-warped onto the source's timeline;
    ``clip_settings=THESIS_CLIPS`` is the thesis). The images are notebook 01's recipe
    (:func:`voxlib.images.write_images`, i.e. :func:`voxlib.images.audio_to_image`
    of each clip, the target's transform re-indexed by its time map). A pixel must mean the same magnitude in every image, or
    the generator learns each image's loudness normalisation instead of the
    voice. The default scale, :data:`SINE_SCALE` = 50 log10(2) ~ 15.05, is
    the level of a full-scale sinusoid (|W| = 1 with MATLAB's L1-normalised
    analytic wavelets), so no recording in [-1, 1] realistically saturates
    and a pixel means the same magnitude in every run, profile and speaker
    pair (the embedded speech peaks near |W| = 0.46, pixel ~140).
    ``scale="max"`` instead runs a first pass (``out_dir/scan``, twice the
    CWT cost) and uses the largest image maximum, so the brightest image spans
    all 255 levels.

    ``representation="envelope"`` makes WORLD envelope images instead
    (:func:`voxlib.gan.envelopes.write_envelope_images`: the source clip with its own pitch, the target
    warped frame by frame by the DTW time map, ``image_size[0]`` mel bands on the fixed dB scale of
    :func:`voxlib.vocoder.envelope_to_image`, one column per 5 ms frame padded to the width the U-Net
    needs, ``n_time`` = the frame count); ``transform``, ``scale``, ``frequency_limits`` and ``image_size[1]``
    apply to scalograms only.

    Parameters
    ----------
    corpus : pandas.DataFrame
        ``voxlib.datasets.discover``'s table (``path, speaker, utterance``).
    source, target : str
        Speakers; utterances both recorded are paired.
    out_dir : path
        Where ``write_images`` puts ``<transform>/<speaker>/<utterance>.png``
        and ``manifest.csv``.
    clip_settings : voxlib.gan.clips.ClipSettings
        How the clips are made: ``sr`` (Hz, also the images'), ``align_duration, align_lead``
        (recorded in ``meta``), ``pair_alignment, pitch_mode, highpass_hz``.
    image_size : int or (int, int)
        ``(height, width)``; width is time.
    transform : str
        A ``voxlib.transforms.TRANSFORMS`` name (the thesis: amor; notebook 05
        inverts only the CWTs amor, morse and bump).
    scale : float > 0 or "max"
        Fixed image scale (the ``I`` that maps to pixel 255), or ``"max"`` = measured as above.
    frequency_limits : (float, float) or None
        The CWT's band in Hz (MATLAB's ``'FrequencyLimits'``); None: MATLAB's full range.
    channels : {1, 3}
    max_pairs : int >= 2 or None
        Keep a seeded random subset of this many pairs (quick runs). With the
        run's split in ``corpus`` (a ``split`` column, :func:`voxlib.datasets.run_split`),
        ``round(test_size * max_pairs)`` of them are held-out sentences and
        the images' manifest carries the split.
    test_size : float
        Share of held-out sentences in the subset (see ``max_pairs``).
    seed : int
    representation : {"scalogram", "envelope"}
        What the images show (:data:`REPRESENTATIONS`).

    Returns
    -------
    PairedImages
        ``meta`` also names each pair's clips (``source_plain_path``, the
        originals, the ``time_map``) and the settings notebook 05 needs
        (for envelope images also :data:`voxlib.gan.envelopes.ENVELOPE_META`).
    """
    scale = _check_pair_scale(scale)
    check_params(_CONSTRAINTS, {"channels": channels, "max_pairs": max_pairs, "representation": representation})
    image_size = as_size(image_size)
    subset = _pair_subset(corpus, source, target, max_pairs, seed, test_size)
    out_dir = Path(out_dir)
    clips = prepare_clips(subset, source, target, out_dir / "clips", clip_settings)
    if representation == "envelope":
        manifest = envelopes.write_envelope_images(clips, out_dir, n_bands=image_size[0])
        transform, frequency_limits = vocoder.ENVELOPE_IMAGE, None
    else:
        manifest = _write_scalograms(clips, out_dir, transform=transform, image_size=image_size, scale=scale,
                                     sr=clip_settings.sr, frequency_limits=frequency_limits)
    pairs = load_manifest_pairs(manifest, source, target, transform=transform, channels=channels,
                                align_duration=clip_settings.align_duration, align_lead=clip_settings.align_lead)
    by_role = {role: clips[clips["role"] == role].set_index("utterance").loc[pairs.names]
               for role in ("source", "target")}
    f_lo, f_hi = (None, None) if frequency_limits is None else (float(frequency_limits[0]),
                                                                float(frequency_limits[1]))
    if representation == "envelope":  # the recipe, and the clip the phase / PSOLA path uses
        recipe = manifest[manifest["speaker"] == source].set_index("utterance").loc[pairs.names]
        pairs.meta = pairs.meta.assign(**{k: list(recipe[k]) for k in envelopes.ENVELOPE_META},
                                       source_audio_path=list(by_role["source"]["path"]))
    pairs.meta = pairs.meta.assign(
        source_plain_path=list(by_role["source"]["plain_path"]),
        source_original_path=list(by_role["source"]["original_path"]),
        target_original_path=list(by_role["target"]["original_path"]),
        time_map=list(by_role["target"]["time_map"]), clip_aligned=True, f_lo=f_lo, f_hi=f_hi,
        pair_alignment=clip_settings.pair_alignment, pitch_mode=clip_settings.pitch_mode,
        highpass_hz=clip_settings.highpass_hz)
    return pairs


def _write_scalograms(clips, out_dir, *, transform, image_size, scale, sr, frequency_limits):
    """The clips' scalograms on one fixed scale (``"max"``: measured in a first pass) and their manifest."""
    common = dict(transforms=[transform], image_size=image_size, sr=sr, aligned=False,
                  frequency_limits=frequency_limits)
    if scale == "max":
        scan = images.write_images(clips, out_dir / "scan", scale=None, **common)
        scale = float(scan["scale"].max())
    return images.write_images(clips, out_dir, scale=scale, **common)


def unwarped_targets(pairs) -> np.ndarray:
    """The pairs' target images *without* their DTW time maps: what the thesis's VAD alignment gives.

    Made from each pair's target clip with the pairs' own recipe (transform,
    size, scale, band; for envelope images the target's frame ``t`` in column ``t``), so
    ``metrics.image_l1(pairs.source, unwarped_targets(pairs))`` against
    ``metrics.image_l1(pairs.source, pairs.target)`` says what the alignment changes. Returns uint8
    ``(N, H, W, C)`` like ``pairs.target``.
    """
    meta = pairs.meta
    if "target_audio_path" not in meta.columns:
        raise GanDataError("these pairs have no target clips (folder mode); unwarped targets need pairs made "
                           "from clips")
    size = pairs.target.shape[1:3]
    out = []
    for _, m in meta.iterrows():
        y, rate = audio.load(m["target_audio_path"], sr=int(m["sr"]))
        if m["transform"] == vocoder.ENVELOPE_IMAGE:  # frame t of the target clip in column t
            img, _ = envelopes.envelope_image(y, rate, n_bands=size[0], n_time=int(m["n_time"]), width=size[1])
        else:
            band = None if pd.isna(m.get("f_lo", np.nan)) else (float(m["f_lo"]), float(m["f_hi"]))
            img, _ = images.audio_to_image(y, rate, m["transform"], image_size=size, scale=float(m["target_scale"]),
                                           frequency_limits=band)
        out.append(_as_channels(img, pairs.target.shape[-1]))
    return np.stack(out)


def alignment_l1(pairs, vad_targets) -> dict:
    """How far the training targets are from their sources, with the thesis's alignment and with the run's.

    Mean absolute pixel difference (:func:`voxlib.metrics.image_l1`) between each training source image
    and its target, aligned by speech onset only (``vad_targets``, from :func:`unwarped_targets`) and as
    the run aligned them (``pairs.target``). Held-out sentences (``split == "test"``) are left out.

    Returns
    -------
    dict
        ``{"VAD only (the thesis)": float, "<pair_alignment> (this run)": float}``.
    """
    train = (pairs.meta["split"] != "test").to_numpy() if "split" in pairs.meta.columns else slice(None)
    how = str(pairs.meta["pair_alignment"].iloc[0]) if "pair_alignment" in pairs.meta.columns else "aligned"
    return {"VAD only (the thesis)": float(metrics.image_l1(pairs.source[train], vad_targets[train])),
            f"{how} (this run)": float(metrics.image_l1(pairs.source[train], pairs.target[train]))}
