"""What is a pair's WORLD envelope image (``representation = "envelope"``), and how is it read as frames?

The alternative to the thesis's scalograms (issue 23): each clip :func:`voxlib.gan.clips.prepare_clips`
makes becomes the image of its WORLD spectral envelope (:func:`voxlib.vocoder.analyse`, then
:func:`voxlib.vocoder.envelope_to_image`: mel bands in dB on a fixed scale, one column per 5 ms frame, no
time resampling). The generator's input is the envelope of the source clip with its OWN pitch (the
envelope, not the PSOLA clip's); the training target is the target clip's envelope with its columns
warped onto the source's timeline by the pair's DTW time map (:func:`frame_time_map`), so source and
target images are column-aligned. The U-Net needs both sides divisible by ``2**depth``: the width is
padded (:func:`padded_width`) by repeating the last column, and ``n_time`` records the frame count
readers crop to. :func:`write_envelope_images` writes the images with a manifest shaped like
:func:`voxlib.images.write_images`'s, so :func:`voxlib.gan.pairs.load_manifest_pairs` pairs them.

:func:`image_bands` and :func:`bands_image` read an image's columns as mel-band dB frames and write
frames back (the frame-mapping baselines, :func:`voxlib.gan.generated.gmm_baseline`).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from voxlib import audio, datasets, frames, images, vocoder
from voxlib.gan.clips import GanDataError

__all__ = [
    "ENVELOPE_META",
    "frame_time_map",
    "padded_width",
    "pad_columns",
    "envelope_image",
    "write_envelope_images",
    "image_bands",
    "bands_image",
]

#: The envelope image recipe's settings, stored with every image and carried as columns of its
#: manifest and of the pairs' ``meta`` (for :func:`voxlib.vocoder.image_to_envelope` and notebook 05).
ENVELOPE_META = ("db_floor", "db_ceiling", "fmin", "fmax", "n_bands", "fft_size", "frame_period")
#: Columns of the envelope images' manifest (:func:`voxlib.images.write_images`'s, where they apply).
_MANIFEST_COLUMNS = ["speaker", "utterance", "transform", "path", "scale", "sr", "n_freq", "n_time", "height",
                     "width", *ENVELOPE_META, "source_path"]


def frame_time_map(time_map, hop, n_frames, n_other_frames) -> np.ndarray:
    """A per-sample DTW time map as a per-frame one: frame ``t`` takes the other clip's frame nearest
    ``time_map[t * hop] / hop``.

    Parameters
    ----------
    time_map : np.ndarray [shape=(n_samples,), integer]
        :func:`voxlib.frames.dtw_time_map` from the reference clip to the other.
    hop : float > 0
        Samples per analysis frame (``sr * frame_period / 1000``; 40 at 8 kHz and 5 ms).
    n_frames, n_other_frames : int > 0
        Frames of the reference and of the other clip's analysis.

    Returns
    -------
    np.ndarray [shape=(n_frames,), int64]
        Indices in ``[0, n_other_frames - 1]``, non-decreasing; frames past the map's end read its last sample.
    """
    time_map = np.asarray(time_map)
    if time_map.ndim != 1 or time_map.size == 0 or not np.issubdtype(time_map.dtype, np.integer):
        raise GanDataError(f"time_map has shape {time_map.shape} and dtype {time_map.dtype}; expected the 1-D "
                           "integer per-sample map of frames.dtw_time_map")
    at = np.minimum(np.rint(np.arange(n_frames) * float(hop)).astype(np.int64), time_map.size - 1)
    return np.clip(np.rint(time_map[at] / float(hop)), 0, n_other_frames - 1).astype(np.int64)


def padded_width(n_frames, height) -> int:
    """The width a U-Net of the default depth accepts for ``n_frames`` columns: the next multiple of
    ``2**floor(log2(min(height, n_frames)))`` (:func:`voxlib.gan.pix2pix.unet_depth`; 640 for 601 frames of
    a 64-band image)."""
    step = 2 ** int(math.floor(math.log2(min(int(height), int(n_frames)))))
    return -(-int(n_frames) // step) * step


def pad_columns(img, width) -> np.ndarray:
    """``img`` (..., H, W) widened to ``width`` columns by repeating its last column."""
    img = np.asarray(img)
    return np.pad(img, [(0, 0)] * (img.ndim - 1) + [(0, int(width) - img.shape[-1])], mode="edge")


def envelope_image(y, sr, *, n_bands=vocoder.N_BANDS, time_map=None, n_time=None, width=None):
    """The WORLD envelope image of one clip, optionally put on another clip's frames, padded.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        The clip (e.g. 3 s VAD-aligned at 8 kHz: 601 frames).
    sr : int > 0
    n_bands : int
        Image height (mel bands, :func:`voxlib.vocoder.envelope_to_image`).
    time_map : np.ndarray [shape=(n_ref,), integer], optional
        Per-sample map from a reference clip into ``y`` (:func:`voxlib.frames.dtw_time_map`): column ``t`` is
        ``y``'s frame nearest the reference's frame ``t`` (:func:`frame_time_map`).
    n_time : int, optional
        Columns before padding: the reference's frame count (default: ``y``'s own, or with ``time_map`` the
        frames of ``n_ref`` samples). Without a map, frame ``t`` of ``y`` is column ``t`` (the last frame
        repeats if ``y`` has fewer).
    width : int, optional
        Padded width (default :func:`padded_width`).

    Returns
    -------
    img : np.ndarray [shape=(n_bands, width), uint8]
    meta : dict
        :func:`voxlib.vocoder.envelope_to_image`'s, with ``n_time`` (columns before padding), ``width``,
        ``frame_period`` (ms) and ``n_samples`` (of ``y``).
    """
    feats = vocoder.analyse(y, sr)
    img, meta = vocoder.envelope_to_image(feats.envelope, sr, n_bands=n_bands)
    hop = feats.sr * feats.frame_period / 1000.0
    if time_map is not None:
        n_time = int(np.asarray(time_map).size / hop) + 1 if n_time is None else int(n_time)
        columns = frame_time_map(time_map, hop, n_time, feats.n_frames)
    else:
        n_time = feats.n_frames if n_time is None else int(n_time)
        columns = np.minimum(np.arange(n_time), feats.n_frames - 1)
    img = frames.warp_columns(img, columns)
    width = padded_width(n_time, img.shape[0]) if width is None else int(width)
    if width < n_time:
        raise GanDataError(f"width={width} is narrower than the image's {n_time} frames; pass width >= n_time")
    meta.update(n_time=n_time, width=width, frame_period=feats.frame_period, n_samples=feats.n_samples)
    return np.ascontiguousarray(pad_columns(img, width)), meta


def _image_row(speaker, utt, clip_path, dest, img, meta, extra) -> dict:
    """Save one envelope image with its metadata; its manifest row (internal)."""
    row = {"speaker": speaker, "utterance": utt, "transform": vocoder.ENVELOPE_IMAGE, "path": str(dest),
           "scale": meta["scale"], "sr": meta["sr"], "n_freq": meta["n_bands"], "n_time": meta["n_time"],
           "height": int(img.shape[0]), "width": int(img.shape[1]), **{k: meta[k] for k in ENVELOPE_META},
           "source_path": str(Path(clip_path).resolve())}
    info = {**meta, **{k: v for k, v in row.items() if k not in ("path", "source_path")}, **extra,
            "source": Path(clip_path).name, "row_order": "high-to-low frequency",
            "formula": "pixel = round(255 * (dB - db_floor) / scale)"}
    images.save_image(dest, img, info, overwrite=True)
    return row


def write_envelope_images(clips, out_dir, *, n_bands=vocoder.N_BANDS, progress=True) -> pd.DataFrame:
    """The envelope images of a pair's clips, column-aligned, and their manifest.

    Per sentence: the source image is the envelope of the source clip with its own pitch (``plain_path``);
    the target image is the target clip's envelope on the source's frames (the row's ``time_map``, or
    frame for frame without one: the thesis's VAD alignment). Both are padded to one width.

    Parameters
    ----------
    clips : pandas.DataFrame
        :func:`voxlib.gan.clips.prepare_clips`'s table (``speaker, utterance, role, path, plain_path,
        time_map`` and optionally ``split``).
    out_dir : path
        Writes ``world_envelope/<speaker>/<utterance>.png`` and ``manifest.csv``.
    n_bands : int
        Image height.
    progress : bool

    Returns
    -------
    pandas.DataFrame
        One row per image: ``speaker, utterance, transform`` (:data:`voxlib.vocoder.ENVELOPE_IMAGE`), ``path,
        scale`` (dB spanned by 255 levels), ``sr, n_freq`` (bands), ``n_time`` (frames before padding),
        ``height, width``, :data:`ENVELOPE_META`, ``source_path`` (the clip analysed) and the clips' ``split``.
    """
    datasets.require_columns(clips, ["speaker", "utterance", "role", "path", "plain_path", "time_map"], "clips")
    out_dir = Path(out_dir)
    by_role = {role: clips[clips["role"] == role].set_index("utterance") for role in ("source", "target")}
    rows = []
    for utt in tqdm(list(by_role["source"].index), desc="envelope images", unit="pair", disable=not progress):
        src, tgt = by_role["source"].loc[utt], by_role["target"].loc[utt]
        y_s, sr = audio.load(src["plain_path"])
        img_s, meta_s = envelope_image(y_s, sr, n_bands=n_bands)
        y_t, rate = audio.load(tgt["path"], sr=sr)
        warp = _time_map_of(tgt["time_map"])
        img_t, meta_t = envelope_image(y_t, rate, n_bands=n_bands, time_map=None if warp is None else np.load(warp),
                                       n_time=meta_s["n_time"], width=meta_s["width"])
        extra = {} if warp is None else {"time_map": Path(warp).name}
        for who, rec, clip, img, meta in (("source", src, src["plain_path"], img_s, meta_s),
                                          ("target", tgt, tgt["path"], img_t, meta_t)):
            dest = out_dir / vocoder.ENVELOPE_IMAGE / str(rec["speaker"]) / f"{utt}.png"
            rows.append(_image_row(str(rec["speaker"]), str(utt), clip, dest, img, meta,
                                   extra if who == "target" else {}))
    table = pd.DataFrame(rows, columns=_MANIFEST_COLUMNS)
    if "split" in clips.columns:
        table["split"] = list(clips.set_index(["speaker", "utterance"])["split"].loc[
            list(zip(table["speaker"], table["utterance"]))])
    datasets.write_manifest(table, out_dir / "manifest.csv")
    return table


def _time_map_of(value):
    """The clip row's time-map path, or None (VAD alignment) (internal)."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "" else value


def image_bands(imgs, *, scale, db_floor, n_time=None) -> np.ndarray:
    """Envelope images read as frames: ``dB = pixel * scale / 255 + db_floor`` per band.

    Parameters
    ----------
    imgs : np.ndarray [shape=(N, n_bands, W) or (N, n_bands, W, C)]
        8-bit envelope images (channels averaged).
    scale, db_floor : float
        The images' recipe (their metadata, :func:`voxlib.vocoder.envelope_to_image`).
    n_time : int, optional
        Columns to keep (the padding dropped).

    Returns
    -------
    np.ndarray [shape=(N, n_time, n_bands), float64]
        dB, bands in ascending frequency (row 0 of an image is the highest band).
    """
    arr = np.asarray(imgs, dtype=np.float64)
    if arr.ndim == 4:
        arr = arr.mean(axis=3)
    arr = arr[:, ::-1, : (arr.shape[2] if n_time is None else int(n_time))]
    return vocoder.pixels_to_db(arr.transpose(0, 2, 1), scale=scale, db_floor=db_floor)


def bands_image(bands, *, scale, db_floor, width=None) -> np.ndarray:
    """Frames of band dB back to 8-bit envelope images (the inverse of :func:`image_bands`), padded.

    Parameters
    ----------
    bands : np.ndarray [shape=(N, n_time, n_bands)]
        dB, ascending frequency.
    scale, db_floor : float
    width : int, optional
        Padded width (the last column repeated); default ``n_time``.

    Returns
    -------
    np.ndarray [shape=(N, n_bands, width), uint8]
    """
    db = np.asarray(bands, dtype=np.float64).transpose(0, 2, 1)[:, ::-1]
    img = vocoder.db_to_pixels(db, scale=scale, db_floor=db_floor)
    return np.ascontiguousarray(pad_columns(img, img.shape[2] if width is None else width))
