"""Magnitude <-> 8-bit image, the thesis's recipe with the scale stored.

The thesis wrote ``I = 50 * log10(imresize(abs(C), [512 512]) + 1)`` with
MATLAB's ``imwrite``, which clips a double image at 1 (most of an STFT turns
white) and keeps no scale. Here ``pixel = round(255 * I / scale)`` with the
scale written into the file (PNG text chunk ``voxlib``, or a ``.json`` sidecar
for JPEG), so :func:`from_image` turns an image back into magnitudes exactly
up to 8-bit quantisation. ``saturate=True`` reproduces MATLAB's clipping for
teaching.

:func:`resize` is MATLAB's ``imresize`` with the bicubic kernel (Keys,
a = -0.5): antialiased when shrinking (the kernel is stretched by the
shrink factor), mirrored indices at the borders, weights normalised to sum
1 (documentation: https://www.mathworks.com/help/images/ref/imresize.html).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from threadpoolctl import ThreadpoolController
from tqdm.auto import tqdm

from voxlib import audio, datasets, transforms
from voxlib.checks import Interval, Options, Satisfies, check_params
from voxlib.transforms import check_frequency_limits  # (write_images has a parameter named transforms)

__all__ = ["to_image", "from_image", "resize", "save_image", "load_image", "log_magnitude", "to_gray",
           "audio_to_image", "write_images", "image_params", "MANIFEST_COLUMNS", "IMAGE_RECIPE_VERSION",
           "MIN_SAMPLES", "IMAGE_FORMATS", "META_KEY", "check_positive", "check_image_size", "quantisation_check",
           "write_counts", "COUNTS_FILE"]

#: Text-chunk key (PNG) under which the metadata JSON is stored.
META_KEY = "voxlib"
#: File formats :func:`save_image` writes, by extension.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
#: MATLAB ``imwrite``'s default JPEG quality.
JPEG_QUALITY = 75
# MATLAB rgb2gray weights (ITU-R BT.601)
_RGB2GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


# --------------------------------------------------------------------------
# resize (MATLAB imresize, bicubic)
# --------------------------------------------------------------------------
def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


@functools.lru_cache(maxsize=64)
def _resize_matrix(n_in: int, n_out: int, antialias: bool = True) -> scipy.sparse.csr_matrix:
    """Sparse (n_out, n_in) matrix of MATLAB's bicubic imresize weights along one axis."""
    scale = n_out / n_in
    if scale < 1 and antialias:
        kernel = lambda x: scale * _cubic(scale * x)  # noqa: E731
        width = 4.0 / scale
    else:
        kernel, width = _cubic, 4.0
    x = np.arange(1, n_out + 1, dtype=np.float64)  # 1-based output coordinates
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # matching input coordinate
    left = np.floor(u - width / 2.0)
    taps = int(np.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based input indices
    w = kernel(u[:, None] - idx)
    w /= w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(n_in), np.arange(n_in - 1, -1, -1)])  # 0-based
    cols = mirror[np.mod(idx.astype(np.int64) - 1, 2 * n_in)]
    rows = np.broadcast_to(np.arange(n_out)[:, None], cols.shape)
    keep = w != 0
    m = scipy.sparse.csr_matrix((w[keep], (rows[keep], cols[keep])), shape=(n_out, n_in))
    m.sum_duplicates()
    return m


@functools.lru_cache(maxsize=64)
def _resize_blocks(n_in: int, n_out: int, antialias: bool = True, block: int = 32):
    """The weights of :func:`_resize_matrix` as dense bands: [(out slice, in slice, (b, span) float32)].

    The matrix is banded (each output pixel reads a window of inputs), so dense
    blocks turn the resize into a few small BLAS matrix products.
    """
    m = _resize_matrix(n_in, n_out, antialias)
    if n_in * n_out <= 1 << 20:
        return [(slice(0, n_out), slice(0, n_in), m.toarray().astype(np.float32))]
    out = []
    for o0 in range(0, n_out, block):
        sub = m[o0:o0 + block]
        lo, hi = int(sub.indices.min()), int(sub.indices.max()) + 1
        out.append((slice(o0, o0 + sub.shape[0]), slice(lo, hi), sub[:, lo:hi].toarray().astype(np.float32)))
    return out


@functools.lru_cache(maxsize=1)
def _blas_controller():
    return ThreadpoolController()


def _one_blas_thread():
    """Context: BLAS on one thread. These products are small; threads spinning on a
    busy machine made them several times slower."""
    ctl = _blas_controller()
    return ctl.limit(limits=1, user_api="blas") if ctl is not None else contextlib.nullcontext()


def _resize_last_axis(a: np.ndarray, n_out: int, antialias: bool) -> np.ndarray:
    res = np.empty(a.shape[:-1] + (n_out,), dtype=np.float32)
    with _one_blas_thread():
        for o, i, w in _resize_blocks(a.shape[-1], n_out, antialias):
            np.matmul(a[..., i], w.T, out=res[..., o])
    return res


def resize(a, shape, *, antialias: bool = True) -> np.ndarray:
    """Bicubic resize of a 2-D array as MATLAB's ``imresize(a, shape)``.

    Parameters
    ----------
    a : np.ndarray [shape=(h, w)], real
    shape : (int, int)
        Output (rows, columns).
    antialias : bool
        Stretch the kernel when shrinking (MATLAB's default for bicubic).

    Returns
    -------
    np.ndarray [shape=shape, dtype=float32]
        No clipping: bicubic weights may overshoot (slightly negative values).
    """
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"a must be a 2-D array; got shape {a.shape}")
    h, w = (int(v) for v in shape)
    if h < 1 or w < 1:
        raise ValueError(f"shape must be two positive integers (rows, columns); got {shape!r}")
    out = np.asarray(a, dtype=np.float32)
    # The two 1-D passes commute; run first the one that leaves the smaller
    # intermediate array (e.g. 512x512 -> 117x24000: rows first, 16x less work).
    rows_first = h * out.shape[1] < out.shape[0] * w
    for axis in ((0, 1) if rows_first else (1, 0)):
        if axis == 1 and w != out.shape[1]:
            out = _resize_last_axis(out, w, antialias)
        elif axis == 0 and h != out.shape[0]:
            out = _resize_last_axis(np.ascontiguousarray(out.T), h, antialias).T
    return np.ascontiguousarray(out, dtype=np.float32)


# --------------------------------------------------------------------------
# magnitude <-> image
# --------------------------------------------------------------------------
def log_magnitude(mag) -> np.ndarray:
    """The thesis's ``I = 50 log10(mag + 1)`` (negative overshoots of a resize count as 0)."""
    return (50.0 * np.log10(np.maximum(np.asarray(mag, dtype=np.float32), 0.0) + 1.0)).astype(np.float32)


def to_image(mag, size=(512, 512), *, scale=None, saturate: bool = False):
    """Magnitude -> 8-bit image, the thesis's recipe with the scale kept.

    ``Y = resize(mag, size)`` (MATLAB bicubic ``imresize``, antialiased when
    shrinking), ``I = 50 log10(Y + 1)``, ``pixel = round(255 I / scale)``
    clipped to [0, 255].

    Parameters
    ----------
    mag : np.ndarray [shape=(n_freq, n_time)], real >= 0
        Magnitude ``|C|`` in the transform's own rows (MATLAB's order).
    size : (int, int) or None
        Image (height, width) in pixels; None keeps ``mag``'s grid.
    scale : float > 0 or None
        Value of ``I`` that maps to 255. None: the image's own maximum. A fixed
        value makes pixels mean the same magnitude in every image (values above
        it clip to 255).
    saturate : bool
        Reproduce MATLAB's ``imwrite`` of a double image: ``pixel = round(255
        min(I, 1))``, i.e. ``scale = 1`` with everything above 1 white. For
        teaching only (it discards the magnitude); ``scale`` must then be None.

    Returns
    -------
    img : np.ndarray [shape=size, dtype=uint8]
    scale : float
        The scale used (1.0 when ``saturate``).
    """
    mag = np.asarray(mag)
    if mag.ndim != 2:
        raise ValueError(f"mag must be a 2-D magnitude array (n_freq, n_time); got shape {mag.shape}")
    if np.iscomplexobj(mag):
        raise ValueError("mag must be real magnitudes; pass np.abs(coefs)")
    if not np.isfinite(mag).all():
        raise ValueError("mag contains NaN or infinite values")
    if saturate and scale is not None:
        raise ValueError(f"saturate=True fixes the scale at 1 (MATLAB imwrite); got scale={scale!r}")
    if scale is not None and not (np.isscalar(scale) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number or None; got {scale!r}")
    y = resize(mag, size) if size is not None else mag
    level = log_magnitude(y)
    if saturate:
        scale = 1.0
    elif scale is None:
        scale = float(level.max()) if level.max() > 0 else 1.0
    img = np.rint(np.clip(level * (255.0 / scale), 0.0, 255.0)).astype(np.uint8)
    return img, float(scale)


def to_gray(img) -> np.ndarray:
    """Gray levels of an (H, W) or (H, W, 1|3|4) image as float32 (H, W), MATLAB ``rgb2gray`` weights."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] in (3, 4):
        return img[..., :3].astype(np.float32) @ _RGB2GRAY.astype(np.float32)
    if img.ndim == 3 and img.shape[-1] == 1:
        return img[..., 0].astype(np.float32)
    if img.ndim != 2:
        raise ValueError(f"img must be (H, W) gray or (H, W, 3) RGB; got shape {img.shape}")
    return img.astype(np.float32)


def from_image(img, scale, shape=None) -> np.ndarray:
    """8-bit image -> magnitude, the exact inverse of :func:`to_image` up to quantisation.

    ``I = pixel * scale / 255`` (resized to ``shape`` in this log domain, as
    the thesis resized the image before inverting the log), then
    ``mag = 10^(I / 50) - 1``.

    Parameters
    ----------
    img : np.ndarray [shape=(H, W) or (H, W, 3)], uint8 (or float on the 0-255 scale)
        Gray or RGB (converted with MATLAB's ``rgb2gray`` weights; identical
        channels come back unchanged).
    scale : float > 0
        The scale stored with the image.
    shape : (int, int) or None
        Resize to (n_freq, n_time) of the original coefficients; None keeps the image grid.

    Returns
    -------
    np.ndarray [shape=(H, W) or shape, dtype=float32], >= 0
    """
    if not (np.isscalar(scale) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number (the one stored with the image); got {scale!r}")
    level = to_gray(img) * (float(scale) / 255.0)
    if shape is not None:
        level = np.maximum(resize(level, shape), 0.0)
    return (np.power(10.0, level / 50.0, dtype=np.float32) - 1.0).astype(np.float32)


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _read_meta(path: Path) -> dict | None:
    if IMAGE_FORMATS.get(path.suffix.lower()) == "PNG":
        with Image.open(path) as im:
            text = getattr(im, "text", {}) or {}
        return json.loads(text[META_KEY]) if META_KEY in text else None
    side = _sidecar(path)
    return json.loads(side.read_text()) if side.exists() else None


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"metadata value {o!r} of type {type(o).__name__} is not JSON-serialisable")


def save_image(path, img, meta, channels: int = 1, *, overwrite=None) -> Path:
    """Write an 8-bit image with its metadata (``scale`` at least).

    PNG (default): metadata as JSON in a ``tEXt`` chunk named ``voxlib``.
    JPEG (``.jpg``/``.jpeg``, the thesis's format, quality 75 as MATLAB's
    ``imwrite``): metadata in a ``.json`` sidecar beside it.

    Parameters
    ----------
    path : str or Path
        Destination; the suffix picks the format. Parent folders are created.
    img : np.ndarray [shape=(H, W)], uint8
    meta : dict
        JSON-serialisable; must contain ``scale``. ``channels`` is added.
    channels : {1, 3}
        1 = grayscale; 3 = three identical channels (RGB networks).
    overwrite : bool or None
        None (default): replace only an image voxlib wrote (it carries voxlib
        metadata), refuse any other existing file. True: always. False: never.

    Returns
    -------
    Path
    """
    path = Path(path)
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"path must end in one of {sorted(IMAGE_FORMATS)}; got {path.name!r}")
    img = np.asarray(img)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"img must be a 2-D uint8 array; got shape {img.shape}, dtype {img.dtype}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3; got {channels!r}")
    if "scale" not in meta:
        raise ValueError("meta must contain 'scale' (needed to invert the image)")
    if path.exists() and overwrite is not True:
        ours = overwrite is None and _read_meta_safe(path) is not None
        if not ours:
            raise FileExistsError(f"{path} exists and was not written by voxlib.images; move it away "
                                  "or pass overwrite=True to replace it.")
    meta = {**meta, "channels": int(channels)}
    text = json.dumps(meta, default=_json_default, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(np.repeat(img[..., None], 3, axis=-1) if channels == 3 else img)
    if fmt == "PNG":
        info = PngInfo()
        info.add_text(META_KEY, text)
        im.save(path, format="PNG", pnginfo=info)
    else:
        im.save(path, format="JPEG", quality=JPEG_QUALITY)
        _sidecar(path).write_text(text)
    return path


def _read_meta_safe(path: Path):
    try:
        return _read_meta(path)
    except Exception:  # unreadable or foreign file: not ours
        return None


def load_image(path, *, fallback_scale=None):
    """Read an image, with the metadata :func:`save_image` stored beside its pixels.

    The one reader of the package: notebook 02's classifiers, notebook 04's
    pairs and notebook 05's reconstructions all read images through it.

    Parameters
    ----------
    path : str or Path
    fallback_scale : float or None
        For an image without voxlib metadata (a user's own image): the scale to
        assume, returned as ``meta = {"scale": fallback_scale}``. None (default)
        refuses such an image, because its magnitudes are unknown.

    Returns
    -------
    img : np.ndarray [shape=(H, W) or (H, W, 3)], uint8
        As stored (three channels if it was saved with ``channels=3``).
    meta : dict
        The stored metadata (``scale``, ``transform``, ``sr``, ...).

    Raises
    ------
    FileNotFoundError, ValueError
        The file is missing, or has no voxlib metadata and no ``fallback_scale``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run voxlib.images.write_images first "
                                "or check the manifest's path column.")
    with Image.open(path) as im:
        img = np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im).copy()
    meta = _read_meta_safe(path)
    if meta is None:
        if fallback_scale is None:
            raise ValueError(f"{path} has no voxlib metadata (no scale stored), so it cannot be turned back "
                             "into magnitudes; re-create it with voxlib.images.save_image, or pass "
                             "fallback_scale to assume one.")
        meta = {"scale": fallback_scale}
    return img, meta


# --------------------------------------------------------------------------
# the one recipe: audio -> transform -> magnitude -> 8-bit image
# --------------------------------------------------------------------------
def audio_to_image(y, sr, transform, *, image_size=(512, 512), scale=None, saturate: bool = False,
                   frequency_limits=None, time_map=None):
    """One clip -> one 8-bit image of a registry transform: the package's only image recipe.

    ``|C|`` of :func:`voxlib.transforms.magnitude` (a CWT reduced along time
    block by block, so the complex matrix is never held), then
    :func:`to_image`. Notebook 01's images (:func:`write_images`), notebook
    04's pairs and notebook 05's classifier input all come from here, so the
    same clip gives the same pixels everywhere.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], real
    sr : float > 0, Hz
    transform : str
        Registry name (:data:`voxlib.transforms.TRANSFORMS`).
    image_size : (int, int) or None
        Image (height, width) in pixels; None keeps the transform's own grid.
    scale : float > 0 or None
        See :func:`to_image` (None: the image's own maximum).
    saturate : bool
        MATLAB's saturating ``imwrite`` (teaching switch, :func:`to_image`).
    frequency_limits : (float, float) or None
        CWT band in Hz (MATLAB's ``'FrequencyLimits'``); None: MATLAB's full
        default range. Ignored by the STFTs.
    time_map : np.ndarray [shape=(m,), int] or None
        Column ``t`` of the image's transform is column ``time_map[t]`` of the
        clip's (a DTW warp onto another clip's timeline,
        :func:`voxlib.frames.dtw_time_map`), taken before the resize.

    Returns
    -------
    img : np.ndarray [shape=image_size, dtype=uint8]
    info : dict
        ``scale`` (used), ``n_freq``, ``n_time`` (the transform's own grid),
        ``fmin``, ``fmax`` (Hz), ``height``, ``width``.
    """
    size = None if image_size is None else tuple(int(v) for v in image_size)
    warp = None if time_map is None else _check_time_map(time_map, np.shape(y)[-1])

    def reduce_time(m):
        m = m if warp is None else m[:, warp]
        return m if size is None else _resize_last_axis(m, size[1], True)

    band = {} if frequency_limits is None else {"frequency_limits": tuple(float(f) for f in frequency_limits)}
    mag, freqs, n_time = transforms.magnitude(y, sr, transform, reduce_time=reduce_time, **band)
    n_time = n_time if warp is None else int(warp.size)
    img, used = to_image(mag, size, scale=scale, saturate=saturate)
    info = {"scale": used, "n_freq": int(mag.shape[0]), "n_time": int(n_time), "fmin": float(freqs.min()),
            "fmax": float(freqs.max()), "height": int(img.shape[0]), "width": int(img.shape[1])}
    return img, info


def _check_time_map(time_map, n) -> np.ndarray:
    warp = np.asarray(time_map)
    if warp.ndim != 1 or warp.size == 0 or not np.issubdtype(warp.dtype, np.integer):
        raise ValueError(f"time_map must be a 1-D integer array of column indices; got {warp.dtype} {warp.shape}")
    if warp.min() < 0 or warp.max() >= n:
        raise ValueError(f"time_map indexes columns {warp.min()}..{warp.max()} of a clip of {n} samples; "
                         "it must be made for this clip (frames.dtw_time_map(reference, this_clip, sr))")
    return warp


# --------------------------------------------------------------------------
# the notebook-01 driver: a corpus -> images on disk + manifest
# --------------------------------------------------------------------------
MANIFEST_COLUMNS = ["speaker", "utterance", "transform", "aligned", "path", "scale", "sr", "n_freq",
                    "n_time", "height", "width", "fmin", "fmax", "source_path", "source_hash", "params_hash"]
#: Bumped whenever the image recipe changes, so old images are recomputed.
IMAGE_RECIPE_VERSION = 1
#: Shortest recording :func:`write_images` accepts, in samples: one STFT window (MATLAB's 256;
#: the CWTs need fewer, at most 21 for the bump). Shorter files are skipped like unusable audio.
MIN_SAMPLES = 256
_FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg"}


def image_params(name, *, image_size=(512, 512), sr=8000, aligned=False, align_duration=3.0,
                 align_lead=0.5, fmt="png", channels=1, scale=None, saturate=False, frequency_limits=None) -> dict:
    """Every parameter that affects one image of transform ``name`` (what ``params_hash`` hashes)."""
    spec = transforms.get_transform(name)
    p = {"recipe": IMAGE_RECIPE_VERSION, "transform": name, "settings": spec.settings,
         "image_size": None if image_size is None else [int(v) for v in image_size],
         "sr": None if sr is None else int(sr), "aligned": bool(aligned), "fmt": _FORMATS[fmt],
         "channels": int(channels), "scale": None if scale is None else float(scale), "saturate": bool(saturate)}
    if aligned:
        p.update(align_duration=float(align_duration), align_lead=float(align_lead))
    if frequency_limits is not None and spec.kind == "cwt":  # absent = MATLAB's full range (old hashes hold)
        p["frequency_limits"] = [float(f) for f in frequency_limits]
    return p


def _hash(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _scale_for(scale, name):
    return scale.get(name) if isinstance(scale, dict) else scale


def check_positive(value, name, *, allow_none=True, integer=False):
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a positive finite number (an int with
    ``integer=True``), or None when ``allow_none``."""
    if value is None and allow_none:
        return
    kind = "positive integer" if integer else "positive number"
    if (isinstance(value, bool) or not np.isscalar(value) or not np.isreal(value) or not np.isfinite(value)
            or value <= 0 or (integer and not isinstance(value, (int, np.integer)))):
        raise ValueError(f"{name} must be a {kind}{' or None' if allow_none else ''}; got {value!r}")


def check_image_size(image_size, *, name="image_size", allow_none=True):
    """``(height, width)`` as two ints; ``ValueError`` naming ``name`` unless ``image_size`` is two positive
    integers (or None when ``allow_none``, returned as None)."""
    if image_size is None and allow_none:
        return None
    ok = (image_size is not None and not isinstance(image_size, (str, bytes)) and np.ndim(image_size) == 1
          and len(image_size) == 2
          and all(np.isscalar(v) and not isinstance(v, (bool, str)) and np.isreal(v) and np.isfinite(v)
                  and v >= 1 and float(v).is_integer() for v in image_size))
    if not ok:
        none = ", or None (the transform's own grid)" if allow_none else ""
        raise ValueError(f"{name} must be (height, width), two positive integers in pixels{none}; "
                         f"got {image_size!r}")
    return int(image_size[0]), int(image_size[1])


def _check_scale(scale, transform_names, saturate):
    what = "scale (a positive number, a {transform: positive number} dict, or None)"
    if isinstance(scale, dict):
        unknown = sorted(set(scale) - set(transforms.TRANSFORMS), key=str)
        if unknown:
            raise ValueError(f"scale names unknown transform(s) {unknown}; its keys must be among "
                             f"{list(transforms.TRANSFORMS)}")
        for name, value in scale.items():
            check_positive(value, f"scale[{name!r}]")
    else:
        check_positive(scale, what)
    if saturate and any(_scale_for(scale, n) is not None for n in transform_names):
        raise ValueError(f"saturate=True fixes the scale at 1 (MATLAB imwrite); got scale={scale!r}. "
                         "Pass scale=None with saturate=True.")


def _is_image_size(value) -> bool:
    try:
        return check_image_size(value) is not None
    except ValueError:
        return False


#: What each setting of :func:`write_images` may be (checked before any file is read or written).
_WRITE_CONSTRAINTS = {
    "fmt": [Options(_FORMATS)],
    "channels": [Options({1, 3})],
    "image_size": [Satisfies(_is_image_size, "(height, width), two positive integers in pixels"), None],
    "sr": [Interval(int, 1, None)],
    "aligned": [bool],
    "align_duration": [Interval(float, 0, None, closed="neither")],
    "saturate": [bool],
}


def _validate_write_params(corpus, transform_names, settings: dict) -> None:
    """Every parameter of :func:`write_images`, checked before any file is read or written."""
    if not transform_names:
        raise ValueError("transforms must name at least one registry transform; got an empty list")
    for name in transform_names:
        transforms.get_transform(name)
    skip = set() if settings["aligned"] else {"align_duration"}   # read only for aligned clips
    check_params(_WRITE_CONSTRAINTS, {k: v for k, v in settings.items() if k in _WRITE_CONSTRAINTS and k not in skip})
    if settings["aligned"] and not 0 <= settings["align_lead"] < settings["align_duration"]:
        raise ValueError(f"align_lead must be in [0, align_duration={settings['align_duration']!r}) seconds; "
                         f"got {settings['align_lead']!r}")
    _check_scale(settings["scale"], transform_names, settings["saturate"])
    datasets.require_columns(corpus, ["path", "speaker", "utterance"], "corpus")


def _previous_rows(manifest_path: Path) -> dict:
    if not manifest_path.is_file():
        return {}
    old = datasets.load_manifest(manifest_path, required=MANIFEST_COLUMNS)
    return {(str(r["speaker"]), str(r["utterance"]), r["transform"]): r for r in old.to_dict("records")}


def _plan(rec, out_dir, transform_names, fmt, hashes, previous, source_hash):
    """Rows still valid from the previous manifest, and the (transform, destination) pairs to make."""
    speaker, utt = str(rec["speaker"]), str(rec["utterance"])
    kept, todo = [], []
    for name in transform_names:
        dest = (out_dir / name / speaker / f"{utt}{_FORMATS[fmt]}").resolve()
        prev = previous.get((speaker, utt, name))
        if (prev is not None and prev["source_hash"] == source_hash and prev["params_hash"] == hashes[name]
                and Path(prev["path"]).resolve() == dest and dest.is_file()):
            kept.append({c: prev[c] for c in MANIFEST_COLUMNS} | {"speaker": speaker, "utterance": utt})
        else:
            todo.append((name, dest))
    return kept, todo


def _source_hash(src: Path, time_map=None) -> str:
    """Content hash of one recording (and of its time map, when it has one); a file that cannot be
    read is that recording's problem (AudioFileError)."""
    try:
        digest = datasets.file_hash(src)
        return digest if time_map is None else f"{digest}+{datasets.file_hash(Path(time_map))}"
    except OSError as exc:
        raise audio.AudioFileError(f"{src}: cannot read it or its time map ({exc}); check the corpus table's "
                                   "path and time_map columns") from exc


def _time_map_of(rec):
    """The row's ``time_map`` path (a ``.npy`` of column indices), or None (internal)."""
    value = rec.get("time_map")
    return None if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "" else value


def _write_file_images(rec, todo, *, sr, aligned, align_duration, align_lead, image_size, scale, saturate,
                       channels, hashes, source_hash, frequency_limits=None):
    """Load one recording once and write each of its missing images; returns their manifest rows."""
    src = Path(rec["path"])
    y, rate = audio.load(src, sr=sr)
    if aligned:
        y = audio.vad_align(y, rate, duration=align_duration, lead=align_lead, path=src)
    if y.shape[0] < MIN_SAMPLES:
        raise audio.AudioTooShortError(f"{src}: {y.shape[0]} samples at {rate} Hz, fewer than the {MIN_SAMPLES} "
                                       "of one STFT window; remove it from the corpus (datasets.screen lists such "
                                       "files)")
    time_map = _time_map_of(rec)
    time_map = None if time_map is None else np.load(time_map)
    rows = []
    for name, dest in todo:
        img, info = audio_to_image(y, rate, name, image_size=image_size, scale=_scale_for(scale, name),
                                   saturate=saturate, time_map=time_map,
                                   frequency_limits=frequency_limits if transforms.TRANSFORMS[name].kind == "cwt"
                                   else None)
        row = {"speaker": str(rec["speaker"]), "utterance": str(rec["utterance"]), "transform": name,
               "aligned": bool(aligned), "path": str(dest), "sr": int(rate),
               **{k: info[k] for k in ("scale", "n_freq", "n_time", "height", "width", "fmin", "fmax")},
               "source_path": str(src.resolve()), "source_hash": source_hash, "params_hash": hashes[name]}
        meta = {k: v for k, v in row.items() if k not in ("path", "source_path")}
        meta.update(source=src.name, n_samples=int(y.shape[0]), saturate=bool(saturate),
                    formula="pixel = round(255 * 50*log10(mag + 1) / scale)",
                    row_order="high-to-low frequency" if transforms.TRANSFORMS[name].kind == "cwt"
                    else "low-to-high frequency")
        if aligned:
            meta.update(align_duration=float(align_duration), align_lead=float(align_lead))
        if time_map is not None:
            meta.update(time_map=str(Path(_time_map_of(rec)).name))
        save_image(dest, img, meta, channels=channels)
        rows.append(row)
    return rows


def _finish_manifest(rows, transform_names, manifest_path, skipped, corpus) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    if "split" in corpus.columns:  # the run's split (datasets.run_split) travels with every image
        sides = corpus.astype({"speaker": str, "utterance": str}).drop_duplicates(["speaker", "utterance"])
        df = df.merge(sides[["speaker", "utterance", "split"]], on=["speaker", "utterance"], how="left")
    order = {n: i for i, n in enumerate(transform_names)}
    df = df.sort_values(["speaker", "utterance", "transform"], key=lambda s: s.map(order) if s.name == "transform"
                        else s, ignore_index=True)
    datasets.write_manifest(df, manifest_path)
    df.attrs["skipped"] = skipped
    return df


def write_images(corpus, out_dir, *, transforms=tuple(transforms.TRANSFORMS), image_size=(512, 512), sr=8000,
                 aligned=False, align_duration=3.0, align_lead=0.5, fmt="png", channels=1, scale=None,
                 saturate=False, frequency_limits=None, progress=True):
    """Compute the images of every recording for every transform and write their manifest.

    Every parameter is validated first: a bad value raises ``ValueError`` before
    any file is read or written. Then each file is loaded once
    (``voxlib.audio.load`` at ``sr``; with ``aligned``, ``voxlib.audio.vad_align``),
    every requested transform goes through :func:`audio_to_image`, and the image
    is saved as ``out_dir/<transform>/<speaker>/<utterance>.<fmt>`` with its
    metadata. An image is skipped when the previous manifest holds a row for it
    with the same ``source_hash`` (the file's content) and ``params_hash``
    (every parameter of :func:`image_params`) and the file still exists.
    A recording that cannot be used (unreadable, undecodable, silent, NaN/inf,
    shorter than :data:`MIN_SAMPLES`, no speech when aligning: an
    ``voxlib.audio.AudioError``) is skipped with a warning naming it; any other
    error (a user's own file in the way, a full disk, a bug) stops the run.

    Parameters
    ----------
    corpus : pandas.DataFrame
        Columns ``path``, ``speaker``, ``utterance`` (``voxlib.datasets.discover``).
    out_dir : path
        Output folder (``<run_dir>/transforms``).
    transforms : sequence of str
        Registry names (default: all six).
    image_size : (int, int) or None
        Image (height, width) in pixels; None keeps each transform's own grid.
    sr : int or None
        Analysis sample rate in Hz (files are resampled); None keeps each file's rate.
    aligned : bool
        VAD-align each clip first (the thesis's ``VADPAL``, for cloning).
    align_duration, align_lead : float
        Aligned clip length and leading silence, seconds.
    fmt : {"png", "jpg"}
        PNG keeps the scale in a text chunk; JPEG (the thesis's format) uses a sidecar.
    channels : {1, 3}
        Grayscale or three identical channels.
    scale : float, dict or None
        None: each image's own maximum; a float: one fixed scale for all
        images (pixels then mean the same magnitude everywhere; above it clips);
        a dict: a fixed scale per transform name.
    saturate : bool
        MATLAB's saturating ``imwrite`` (teaching switch, see :func:`to_image`).
    frequency_limits : (float, float) or None
        The CWTs' band in Hz (MATLAB's ``'FrequencyLimits'``); None: MATLAB's full range.
    progress : bool
        Show a tqdm progress bar.

    A corpus row may carry a ``time_map`` column: the path of a ``.npy`` of
    column indices that warps that clip's transform onto another clip's
    timeline (notebook 04's DTW-aligned targets, :func:`audio_to_image`).

    Returns
    -------
    pandas.DataFrame
        The manifest (:data:`MANIFEST_COLUMNS`, plus the corpus's ``split``
        column when it has one; paths absolute), also written to
        ``out_dir/manifest.csv`` with paths relative to it. Skipped recordings
        are listed in ``df.attrs["skipped"]``.
    """
    names = list(transforms)
    _validate_write_params(corpus, names, dict(image_size=image_size, sr=sr, aligned=aligned, fmt=fmt,
                                               align_duration=align_duration, align_lead=align_lead,
                                               channels=channels, scale=scale, saturate=saturate))
    frequency_limits = None if frequency_limits is None else check_frequency_limits(frequency_limits)
    out_dir = Path(out_dir)
    manifest_path = out_dir / "manifest.csv"
    common = dict(image_size=image_size, sr=sr, aligned=aligned, align_duration=align_duration,
                  align_lead=align_lead, fmt=fmt, channels=channels, saturate=saturate,
                  frequency_limits=frequency_limits)
    hashes = {n: _hash(image_params(n, scale=_scale_for(scale, n), **common)) for n in names}
    previous = _previous_rows(manifest_path)
    rows, skipped = [], []
    for rec in tqdm(corpus.to_dict("records"), desc="images", unit="file", disable=not progress):
        src = Path(rec["path"])
        try:
            source_hash = _source_hash(src, _time_map_of(rec))
            kept, todo = _plan(rec, out_dir, names, fmt, hashes, previous, source_hash)
            rows += kept
            if todo:
                rows += _write_file_images(rec, todo, sr=sr, aligned=aligned, align_duration=align_duration,
                                           align_lead=align_lead, image_size=image_size, scale=scale,
                                           saturate=saturate, channels=channels, hashes=hashes,
                                           source_hash=source_hash, frequency_limits=frequency_limits)
        except audio.AudioError as exc:  # this recording only; anything else is a bug or a disk problem
            warnings.warn(f"skipped {src}: {exc}", stacklevel=2)
            skipped.append(str(src))
    return _finish_manifest(rows, names, manifest_path, skipped, corpus)


#: Images per speaker and transform, written beside the manifest by :func:`write_counts`.
COUNTS_FILE = "counts.csv"


def write_counts(manifest: pd.DataFrame, out_dir, transform_names) -> pd.DataFrame:
    """Images per speaker (rows) and transform (columns, in ``transform_names`` order), written to
    ``<out_dir>/counts.csv`` and returned."""
    counts = pd.crosstab(manifest["speaker"], manifest["transform"]).reindex(columns=list(transform_names))
    counts.to_csv(Path(out_dir) / COUNTS_FILE)
    return counts


def quantisation_check(tfs: dict, image_size) -> pd.DataFrame:
    """What the 8-bit image keeps of each transform's magnitude (``{name: TimeFrequency}``).

    Columns: ``scale`` (the image's stored scale, 50·log10 units), ``max log error`` (largest
    difference between the image read back and the resized log-magnitude, same units), ``one 8-bit
    step`` (``scale / 255``: the error should stay within about one step) and ``white if saturated``
    (share of pixels MATLAB's ``imwrite`` clipping would turn white).
    """
    rows = {}
    for name, tf in tfs.items():
        img, scale = to_image(tf.magnitude, image_size)
        grid = np.maximum(resize(tf.magnitude, image_size), 0)
        err = np.abs(log_magnitude(from_image(img, scale)) - log_magnitude(grid)).max()
        white = (to_image(tf.magnitude, image_size, saturate=True)[0] == 255).mean()
        rows[name] = {"scale": scale, "max log error": err, "one 8-bit step": scale / 255,
                      "white if saturated": f"{white:.0%}"}
    return pd.DataFrame(rows).T
