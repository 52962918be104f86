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

import functools
import json
from pathlib import Path

import numpy as np
import scipy.sparse

__all__ = ["to_image", "from_image", "resize", "save_image", "load_image", "log_magnitude",
           "IMAGE_FORMATS", "META_KEY"]

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
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, BLAS keeps its threads
        return None
    return ThreadpoolController()


def _one_blas_thread():
    """Context: BLAS on one thread. These products are small; threads spinning on a
    busy machine made them several times slower."""
    import contextlib

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


def _to_gray(img: np.ndarray) -> np.ndarray:
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
    level = _to_gray(img) * (float(scale) / 255.0)
    if shape is not None:
        level = np.maximum(resize(level, shape), 0.0)
    return (np.power(10.0, level / 50.0, dtype=np.float32) - 1.0).astype(np.float32)


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _read_meta(path: Path) -> dict | None:
    from PIL import Image

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
    from PIL import Image

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
        from PIL.PngImagePlugin import PngInfo

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


def load_image(path):
    """Read an image written by :func:`save_image`.

    Returns
    -------
    img : np.ndarray [shape=(H, W) or (H, W, 3)], uint8
        As stored (three channels if it was saved with ``channels=3``).
    meta : dict
        The stored metadata (``scale``, ``transform``, ``sr``, ...).

    Raises
    ------
    FileNotFoundError, ValueError
        The file is missing, or has no voxlib metadata (then the scale is unknown).
    """
    from PIL import Image

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run voxlib.transforms.write_images first "
                                "or check the manifest's path column.")
    with Image.open(path) as im:
        img = np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im).copy()
    meta = _read_meta(path)
    if meta is None:
        raise ValueError(f"{path} has no voxlib metadata (no scale stored), so it cannot be turned back "
                         "into magnitudes; re-create it with voxlib.images.save_image.")
    return img, meta
