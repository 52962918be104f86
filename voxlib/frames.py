"""Time alignment of two clips of one sentence, and frame-mapping baselines (ridge, joint-density GMM).

The thesis paired a source and a target clip only by voice-activity
alignment (:func:`voxlib.audio.vad_align`): both start speaking 0.5 s in, so
the first word lines up and the rest drifts apart as the two speakers' rhythms
differ. :func:`dtw_time_map` aligns the whole utterance instead: dynamic time
warping (``librosa.sequence.dtw``) of the MFCCs of the two speech segments,
with the silences before and after the speech mapped linearly onto each
other, gives for every sample of the reference clip the sample of the other
clip to take. :func:`warp_columns` applies such a map to anything with one
column per sample of the other clip (a CWT magnitude, or the signal itself),
so a target scalogram can be put on its source's timeline before the images
are made.

:class:`RidgeMapping` is a non-GAN baseline for the cloning task: closed-form
ridge regression from each source-image column (with its ``context``
neighbours on either side) to the matching column of the time-aligned target
image, the penalty chosen by K-fold cross-validation in which whole images are
the folds. :class:`GMMMapping` is the classic parallel voice-conversion baseline on frame rows
(any features): a joint-density Gaussian mixture of aligned source and target frames, mapped by
its minimum-mean-square-error estimate, with an optional global-variance post-filter.
"""
from __future__ import annotations

import librosa
import numpy as np
import scipy.linalg
import scipy.special
from sklearn.mixture import GaussianMixture

from voxlib import audio
from voxlib.checks import Interval, Options, check_params

__all__ = ["FramesError", "mfcc", "dtw_path", "dtw_cost", "dtw_time_map", "warp_columns", "RidgeMapping",
           "GMMMapping"]


class FramesError(ValueError):
    """Bad input to the time-alignment or frame-mapping tools; the message names
    the argument and the fix."""


# ---------------------------------------------------------------------------
# DTW time map
# ---------------------------------------------------------------------------


def _check_clip(y, name: str) -> np.ndarray:
    return audio.valid_audio(y, name).astype(np.float32)


def _speech_frames(y: np.ndarray, sr: int, hop: int, n_frames: int, top_db: float,
                   name: str) -> tuple[int, int]:
    """First and last MFCC frame (inclusive) whose centre lies in the speech span."""
    try:
        start, stop = audio.speech_span(y, sr, top_db=top_db)
    except audio.NoSpeechError as exc:
        raise FramesError(f"{name}: no speech found ({exc}); pass a clip that contains speech, "
                          "or lower top_db") from None
    first = min(n_frames - 1, -(-start // hop))  # ceil: centre at or after the first speech sample
    last = min(n_frames - 1, (stop - 1) // hop)
    return first, max(first, last)


def mfcc(y: np.ndarray, sr: float, *, n_mfcc: int, n_fft: int, hop_length: int, n_mels: int) -> np.ndarray:
    """MFCCs of ``y`` (``librosa.feature.mfcc``, mel bands from 0 Hz to the Nyquist): the one MFCC
    recipe of the alignments (:func:`dtw_time_map`, :func:`voxlib.pitch.log_f0_rmse`).

    Returns
    -------
    np.ndarray [shape=(n_mfcc, n_frames)], c0 included
    """
    return librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length,
                                n_mels=n_mels, fmin=0.0, fmax=sr / 2.0)


def _dtw(x: np.ndarray, z: np.ndarray, band_rad: float | None):
    if band_rad is None:
        return librosa.sequence.dtw(X=x, Y=z, metric="euclidean")
    return librosa.sequence.dtw(X=x, Y=z, metric="euclidean", global_constraints=True, band_rad=float(band_rad))


def dtw_path(x: np.ndarray, z: np.ndarray, *, band_rad: float | None = None) -> np.ndarray:
    """Dynamic time warping of two feature sequences (frames as columns), Euclidean cost.

    ``librosa.sequence.dtw`` with steps (1, 1), (1, 0), (0, 1); ``band_rad`` (a fraction in (0, 1])
    adds a Sakoe-Chiba band. Every DTW of the package goes through here or :func:`dtw_cost`.

    Returns
    -------
    path : np.ndarray [shape=(n_steps, 2)], int
        Pairs ``(frame of x, frame of z)``, from the last pair back to ``(0, 0)`` (librosa's order).
    """
    return _dtw(x, z, band_rad)[1]


def dtw_cost(x: np.ndarray, z: np.ndarray, *, band_rad: float | None = None) -> float:
    """Accumulated DTW cost of aligning ``x`` with ``z`` (as :func:`dtw_path`) per step of the path:
    the mean Euclidean distance between aligned frames, comparable across clips of different lengths."""
    cost, path = _dtw(x, z, band_rad)
    return float(cost[-1, -1] / len(path))


def dtw_time_map(y_ref, y_other, sr, *, hop_length: int = 80, n_mfcc: int = 20, top_db: float = 30.0,
                 n_fft: int = 256, n_mels: int = 40, cmn: bool = True,
                 band_rad: float | None = None) -> np.ndarray:
    """For every sample of ``y_ref``, the sample of ``y_other`` saying the same thing.

    MFCCs of both clips are computed over the whole clip (so the frames at the
    edges of the speech see real context); the frames whose centres lie in each
    clip's speech span (:func:`voxlib.audio.speech_span`: from the first to the
    last frame within ``top_db`` of the loudest) are aligned by DTW
    (``librosa.sequence.dtw``, Euclidean cost, steps (1, 1), (1, 0), (0, 1),
    both ends anchored so that speech start meets speech start and speech end
    meets speech end). A reference frame matched to several frames of the
    other clip takes their mean. The leading silence of ``y_ref`` is mapped
    linearly onto the leading silence of ``y_other``, and likewise the trailing
    silences; the frame map is interpolated piecewise-linearly to samples.

    The 0th cepstral coefficient (log energy) is dropped: it follows the
    loudness of the recording (microphone gain, distance, the speaker's vocal
    effort) rather than what is said, and two speakers' clips differ in it
    throughout. With ``cmn=True`` each clip's speech MFCCs also have their mean
    removed (cepstral mean normalisation), which cancels a fixed channel or
    spectral-tilt difference between the two recordings.

    Parameters
    ----------
    y_ref : np.ndarray [shape=(n_ref,)]
        The clip whose timeline is kept (the source speaker).
    y_other : np.ndarray [shape=(n_other,)]
        The clip to be warped onto it (the target speaker).
    sr : int > 0
        Sample rate of both clips, Hz.
    hop_length : int > 0
        Frame hop in samples (80 = 10 ms at 8 kHz); the time resolution of the
        map between the interpolation knots.
    n_mfcc : int >= 2
        MFCCs computed per frame; c0 is dropped, so ``n_mfcc - 1`` are compared.
    top_db : float > 0
        Range below the loudest frame still counted as speech, dB.
    n_fft : int >= hop_length
        Analysis window in samples (256 = 32 ms at 8 kHz).
    n_mels : int >= n_mfcc
        Mel bands under the MFCCs.
    cmn : bool
        Subtract each clip's mean MFCC over its speech frames.
    band_rad : float in (0, 1], optional
        Sakoe-Chiba band half-width as a fraction of the speech length
        (``librosa.sequence.dtw(global_constraints=True)``); ``None`` leaves the
        path unconstrained.

    Returns
    -------
    np.ndarray [shape=(n_ref,), dtype=int64]
        Monotone non-decreasing indices in ``[0, n_other - 1]``; the warped
        clip is ``y_other[time_map]`` and a matrix with one column per sample of
        ``y_other`` is warped by :func:`warp_columns`.

    Raises
    ------
    FramesError
        A clip that is not 1-D, is empty, holds NaN/inf or no speech, or a bad
        ``sr``, ``hop_length``, ``n_mfcc``, ``n_fft``, ``n_mels``, ``top_db`` or
        ``band_rad``.

    Examples
    --------
    >>> time_map = dtw_time_map(y_source, y_target, 8000)          # doctest: +SKIP
    >>> cwt_aligned = warp_columns(cwt_target, time_map, n_other=len(y_target))  # doctest: +SKIP
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer, float)) or not sr > 0:
        raise FramesError(f"sr={sr!r}; expected the sample rate in Hz, > 0")
    sr = int(sr)
    for value, name in ((hop_length, "hop_length"), (n_fft, "n_fft"), (n_mels, "n_mels"), (n_mfcc, "n_mfcc")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise FramesError(f"{name}={value!r}; expected a positive integer")
    if n_mfcc < 2:
        raise FramesError(f"n_mfcc={n_mfcc!r}; expected >= 2 (c0 is dropped, so at least c1 must remain)")
    if n_mels < n_mfcc:
        raise FramesError(f"n_mels={n_mels!r} < n_mfcc={n_mfcc!r}; raise n_mels or lower n_mfcc")
    if n_fft < hop_length:
        raise FramesError(f"n_fft={n_fft!r} < hop_length={hop_length!r}; frames would skip samples: "
                          "raise n_fft or lower hop_length")
    if not top_db > 0:
        raise FramesError(f"top_db={top_db!r}; expected a positive range in dB (e.g. 30)")
    if band_rad is not None and not 0 < band_rad <= 1:
        raise FramesError(f"band_rad={band_rad!r}; expected a fraction in (0, 1] or None")
    y_ref = _check_clip(y_ref, "y_ref")
    y_other = _check_clip(y_other, "y_other")

    kw = dict(hop_length=hop_length, n_fft=n_fft, n_mfcc=n_mfcc, n_mels=n_mels)
    m_ref = mfcc(y_ref, sr, **kw)[1:]
    m_oth = mfcc(y_other, sr, **kw)[1:]
    a0, a1 = _speech_frames(y_ref, sr, hop_length, m_ref.shape[1], top_db, "y_ref")
    b0, b1 = _speech_frames(y_other, sr, hop_length, m_oth.shape[1], top_db, "y_other")
    x = m_ref[:, a0:a1 + 1]
    z = m_oth[:, b0:b1 + 1]
    if cmn:
        x = x - x.mean(axis=1, keepdims=True)
        z = z - z.mean(axis=1, keepdims=True)
    wp = dtw_path(x, z, band_rad=band_rad)
    # one output per reference frame: the mean of the frames of y_other it was matched to
    counts = np.bincount(wp[:, 0], minlength=x.shape[1])
    matched = np.bincount(wp[:, 0], weights=wp[:, 1], minlength=x.shape[1]) / np.maximum(counts, 1)

    n_ref, n_oth = y_ref.size, y_other.size
    xk = (a0 + np.arange(x.shape[1], dtype=np.float64)) * hop_length
    yk = (b0 + matched) * hop_length
    # silences: leading maps onto leading, trailing onto trailing (linearly, via the end knots)
    if xk[0] > 0:
        xk, yk = np.r_[0.0, xk], np.r_[0.0, yk]
    if xk[-1] < n_ref - 1:
        xk, yk = np.r_[xk, n_ref - 1.0], np.r_[yk, n_oth - 1.0]
    keep = np.r_[np.diff(xk) > 0, True]  # frame centres past the clip's end (a short clip) collapse
    yk = np.maximum.accumulate(np.clip(yk, 0, n_oth - 1))
    time_map = np.rint(np.interp(np.arange(n_ref), xk[keep], yk[keep]))
    return np.clip(time_map, 0, n_oth - 1).astype(np.int64)


def warp_columns(matrix, time_map, *, n_other: int | None = None) -> np.ndarray:
    """Re-index the last axis of ``matrix`` by a time map: ``matrix[..., time_map]``.

    Parameters
    ----------
    matrix : np.ndarray [shape=(..., n_other)]
        One column per sample of the clip the map points into (e.g. the CWT
        magnitude of ``y_other`` before it is resized to an image, or
        ``y_other`` itself).
    time_map : np.ndarray [shape=(n_ref,), integer]
        From :func:`dtw_time_map`.
    n_other : int, optional
        ``len(y_other)``. When given, the last axis must equal it (this catches
        a matrix that was already resized, or belongs to another clip); when
        omitted only the indices are checked against the last axis.

    Returns
    -------
    np.ndarray [shape=(..., n_ref)]
        A copy, same dtype as ``matrix``.

    Raises
    ------
    FramesError
        ``time_map`` not 1-D integer, ``matrix`` without the right last axis.
    """
    matrix = np.asarray(matrix)
    time_map = np.asarray(time_map)
    if time_map.ndim != 1 or not np.issubdtype(time_map.dtype, np.integer):
        raise FramesError(f"time_map has shape {time_map.shape} and dtype {time_map.dtype}; expected a 1-D "
                          "integer array (the output of dtw_time_map)")
    if matrix.ndim < 1:
        raise FramesError("matrix is a scalar; expected an array whose last axis is time (one column per sample)")
    width = matrix.shape[-1]
    if n_other is not None and width != n_other:
        raise FramesError(f"matrix has {width} columns on its last axis but n_other={n_other} (len(y_other)); "
                          "warp the per-sample matrix before resizing it to an image, or pass the matching clip")
    if time_map.size and (time_map.min() < 0 or time_map.max() >= width):
        raise FramesError(f"time_map holds indices {time_map.min()}..{time_map.max()} but matrix has {width} "
                          "columns on its last axis; the map was made for another clip (or the matrix was "
                          "resized): use the per-sample matrix of y_other")
    return matrix[..., time_map]


# ---------------------------------------------------------------------------
# Ridge regression baseline
# ---------------------------------------------------------------------------


def _as_images(images, name: str) -> tuple[np.ndarray, int | None]:
    """(N, H, W) float64 gray images and the channel count of the input (None when it had none)."""
    arr = np.asarray(images)
    if arr.ndim not in (3, 4):
        raise FramesError(f"{name} has shape {arr.shape}; expected a stack of images (N, H, W) or (N, H, W, C) "
                          "(add a leading axis for a single image: images[None])")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)) or arr.dtype == bool:
        raise FramesError(f"{name} has dtype {arr.dtype}; expected uint8 or float pixels on the 0..255 scale")
    channels = None
    arr = arr.astype(np.float64)
    if arr.ndim == 4:
        channels = arr.shape[3]
        arr = arr.mean(axis=3)
    if min(arr.shape) == 0:
        raise FramesError(f"{name} has shape {np.shape(images)}; no axis may be empty")
    if not np.all(np.isfinite(arr)):
        raise FramesError(f"{name} contains NaN or infinite pixels; fix or drop those images")
    return arr, channels


def _features(images: np.ndarray, context: int) -> np.ndarray:
    """(N * W, (2 * context + 1) * H): each column with its +-context neighbours (edge-padded)."""
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (context, context)), mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(padded, 2 * context + 1, axis=2)  # (N, H, W, 2k+1)
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1)).reshape(n * w, (2 * context + 1) * h)


def _targets(images: np.ndarray) -> np.ndarray:
    """(N * W, H): the columns of each image."""
    n, h, w = images.shape
    return np.ascontiguousarray(images.transpose(0, 2, 1)).reshape(n * w, h)


class _Stats:
    """Sufficient statistics of a set of rows for standardised ridge regression."""

    def __init__(self, n: int, sx, sxx, sy, sxy):
        self.n, self.sx, self.sxx, self.sy, self.sxy = n, sx, sxx, sy, sxy

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> "_Stats":
        return cls(x.shape[0], x.sum(0), x.T @ x, y.sum(0), x.T @ y)

    def __add__(self, other: "_Stats") -> "_Stats":
        return _Stats(self.n + other.n, self.sx + other.sx, self.sxx + other.sxx,
                      self.sy + other.sy, self.sxy + other.sxy)

    def __sub__(self, other: "_Stats") -> "_Stats":
        return _Stats(self.n - other.n, self.sx - other.sx, self.sxx - other.sxx,
                      self.sy - other.sy, self.sxy - other.sxy)

    def solve_prep(self):
        """Feature mean and scale, target mean, and the eigen-decomposed standardised problem."""
        mu, ybar = self.sx / self.n, self.sy / self.n
        gram = self.sxx - self.n * np.outer(mu, mu)  # centred X^T X
        sd = np.sqrt(np.maximum(np.diag(gram) / self.n, 0.0))
        sd[sd < 1e-8 * max(1.0, float(sd.max(initial=0.0)))] = 1.0  # constant features stay 0 after centring
        gram = gram / np.outer(sd, sd)
        xty = (self.sxy - self.n * np.outer(mu, ybar)) / sd[:, None]
        evals, evecs = np.linalg.eigh(gram)
        return mu, sd, ybar, np.maximum(evals, 0.0), evecs, evecs.T @ xty


class RidgeMapping:
    """Frame-wise ridge regression from source image columns to target image columns.

    A non-GAN baseline for image-to-image voice cloning: each column of the
    target image (``H`` pixel values: one time step of the scalogram) is
    predicted linearly from the matching source column and its ``context``
    neighbours on either side (edge-padded at the image borders). The
    ``(2 * context + 1) * H`` features are standardised and the ridge is
    solved in closed form (one eigendecomposition per fold serves every
    alpha). The penalty is chosen by K-fold cross-validation over the training
    pairs in which whole images (or ``groups``) are the folds, so that columns
    of one sentence never sit on both sides of a split; ``K = min(5, number of
    groups)``. The target images should already be on the source's timeline
    (:func:`dtw_time_map` and :func:`warp_columns` before the images are made).

    Parameters
    ----------
    context : int >= 0
        Neighbouring columns on each side used as features.
    alphas : sequence of float > 0
        Ridge penalties tried (on the unnormalised squared-error sum over
        standardised features, as in ``sklearn.linear_model.Ridge``).
    seed : int
        Seeds the assignment of images (groups) to folds.

    Attributes
    ----------
    alpha_ : float
        The penalty with the lowest mean cross-validated error.
    cv_scores_ : np.ndarray [shape=(n_alphas, n_folds)]
        Held-out mean squared error (pixel² on the 0..255 scale) of each alpha
        on each fold; lower is better.
    coef_ : np.ndarray [shape=((2 * context + 1) * H, H)]
        Weights on the standardised features, refitted on all pairs with ``alpha_``.
    intercept_ : np.ndarray [shape=(H,)]
    height_ : int
        Image height ``H`` seen in :meth:`fit`; :meth:`predict` needs the same
        (the width may differ: the model is column-wise).

    Notes
    -----
    Memory grows as ``N * W * (2 * context + 1) * H`` doubles (30 images of
    64x128 with ``context=5``: 22 MB); the model is meant for small images.

    Examples
    --------
    >>> model = RidgeMapping(context=5).fit(src_train, tgt_train)   # doctest: +SKIP
    >>> fake = model.predict(src_test)                               # doctest: +SKIP
    """

    def __init__(self, context: int = 5, alphas=(0.1, 1, 10, 100, 1000), seed: int = 0):
        self.context = context
        self.alphas = alphas
        self.seed = seed

    def _check_params(self) -> np.ndarray:
        if isinstance(self.context, bool) or not isinstance(self.context, (int, np.integer)) or self.context < 0:
            raise FramesError(f"context={self.context!r}; expected an integer >= 0 (columns on each side)")
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
            raise FramesError(f"alphas={self.alphas!r}; expected a non-empty sequence of positive penalties, "
                              "e.g. (0.1, 1, 10, 100, 1000)")
        return alphas

    def fit(self, source_images, target_images, groups=None) -> "RidgeMapping":
        """Fit on paired images and choose ``alpha_`` by group K-fold.

        Parameters
        ----------
        source_images, target_images : np.ndarray [shape=(N, H, W) or (N, H, W, C)]
            uint8 or float pixels on the 0..255 scale, pair ``i`` being the same
            sentence; colour channels are averaged. Pass training pairs only.
        groups : array-like [shape=(N,)], optional
            Sentence label of each pair when several pairs share a sentence;
            pairs of one group always fall in the same fold. Default: every
            pair is its own group.

        Returns
        -------
        self

        Raises
        ------
        FramesError
            Mismatched numbers or shapes of images, fewer than two groups, bad
            ``context`` or ``alphas``.
        """
        alphas = self._check_params()
        src, _ = _as_images(source_images, "source_images")
        tgt, _ = _as_images(target_images, "target_images")
        if src.shape[0] != tgt.shape[0]:
            raise FramesError(f"source_images holds {src.shape[0]} images but target_images {tgt.shape[0]}; "
                              "pass one target per source (pair i = the same sentence)")
        if src.shape != tgt.shape:
            raise FramesError(f"source_images are {src.shape[1:]} (H, W) but target_images {tgt.shape[1:]}; "
                              "make both with the same image size")
        n = src.shape[0]
        if groups is None:
            groups = np.arange(n)
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise FramesError(f"groups has shape {groups.shape}; expected one label per pair, shape ({n},)")
        labels, group_idx = np.unique(groups, return_inverse=True)
        if labels.size < 2:
            raise FramesError(f"source_images/target_images hold {n} pair(s) in {labels.size} group(s); "
                              "cross-validation needs at least 2 (pass more training pairs)")
        k = min(5, labels.size)
        rng = np.random.default_rng(self.seed)
        fold_of_group = np.empty(labels.size, dtype=np.int64)
        fold_of_group[rng.permutation(labels.size)] = np.arange(labels.size) % k
        fold = np.repeat(fold_of_group[group_idx], src.shape[2])  # one fold label per column (row of x)

        offset = 127.5  # centre the pixels: keeps the one-pass sums well conditioned
        x = _features(src, self.context) - offset
        y = _targets(tgt) - offset
        parts = [_Stats.of(x[fold == f], y[fold == f]) for f in range(k)]
        total = parts[0]
        for p in parts[1:]:
            total = total + p

        scores = np.empty((alphas.size, k))
        for f in range(k):
            mu, sd, ybar, evals, evecs, vty = (total - parts[f]).solve_prep()
            zv = ((x[fold == f] - mu) / sd) @ evecs
            resid0 = y[fold == f] - ybar
            for i, alpha in enumerate(alphas):
                pred = zv @ (vty / (evals + alpha)[:, None])
                scores[i, f] = np.mean((resid0 - pred) ** 2)
        best = int(np.argmin(scores.mean(axis=1)))  # first (smallest) alpha on ties

        mu, sd, ybar, evals, evecs, vty = total.solve_prep()
        self.alpha_ = float(alphas[best])
        self.cv_scores_ = scores
        self.coef_ = evecs @ (vty / (evals + self.alpha_)[:, None])
        self.intercept_ = ybar + offset
        self._mu, self._sd, self._offset = mu, sd, offset
        self.height_ = src.shape[1]
        return self

    def predict(self, source_images) -> np.ndarray:
        """Predicted target images.

        Parameters
        ----------
        source_images : np.ndarray [shape=(N, H, W) or (N, H, W, C)]
            Same height ``H`` as in :meth:`fit`; any width.

        Returns
        -------
        np.ndarray [dtype=uint8]
            ``(N, H, W)``, or ``(N, H, W, C)`` with the one predicted gray
            image repeated in each of the ``C`` channels when the input had
            channels. Rounded and clipped to 0..255.

        Raises
        ------
        FramesError
            Not fitted, or images of another height.
        """
        if not hasattr(self, "coef_"):
            raise FramesError("this RidgeMapping is not fitted yet; call fit(source_images, target_images) first")
        src, channels = _as_images(source_images, "source_images")
        n, h, w = src.shape
        if h != self.height_:
            raise FramesError(f"source_images are {h} pixels high but the model was fitted on {self.height_}; "
                              "make the images with the same height")
        z = (_features(src, self.context) - self._offset - self._mu) / self._sd
        cols = z @ self.coef_ + self.intercept_  # (N * W, H)
        out = np.clip(np.rint(cols), 0, 255).astype(np.uint8).reshape(n, w, h).transpose(0, 2, 1)
        out = np.ascontiguousarray(out)
        if channels is not None:
            out = np.repeat(out[..., None], channels, axis=3)
        return out


# ---------------------------------------------------------------------------
# Joint-density GMM baseline (Toda, Black & Tokuda 2007)
# ---------------------------------------------------------------------------


def _as_frames(frames, name: str) -> np.ndarray:
    """(n_frames, n_features) float64 rows, finite."""
    arr = np.asarray(frames)
    if arr.ndim != 2:
        raise FramesError(f"{name} has shape {arr.shape}; expected frames as rows, (n_frames, n_features) "
                          "(a single feature per frame: frames[:, None])")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)) or arr.dtype == bool:
        raise FramesError(f"{name} has dtype {arr.dtype}; expected real-valued features")
    if min(arr.shape) == 0:
        raise FramesError(f"{name} has shape {arr.shape}; no axis may be empty")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise FramesError(f"{name} contains NaN or infinite values; fix or drop those frames")
    return arr


def _as_groups(groups, n: int) -> np.ndarray:
    """Integer group index (0..n_groups-1) of each of ``n`` frames; all 0 when ``groups`` is None."""
    if groups is None:
        return np.zeros(n, dtype=np.int64)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise FramesError(f"groups has shape {groups.shape}; expected one utterance label per frame, shape ({n},)")
    return np.unique(groups, return_inverse=True)[1].reshape(n)


def _group_variance(frames: np.ndarray, group_idx: np.ndarray) -> np.ndarray:
    """Per-dimension variance of each group's frames around the group's mean, averaged over groups."""
    return np.mean([frames[group_idx == g].var(axis=0) for g in np.unique(group_idx)], axis=0)


def _standardise(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, sd = frames.mean(axis=0), frames.std(axis=0)
    return mean, np.where(sd > 1e-12 * max(1.0, float(sd.max())), sd, 1.0)


class GMMMapping:
    """Joint-density GMM frame mapping: the classic parallel voice-conversion baseline.

    Toda, Black & Tokuda (2007, "Voice conversion based on maximum-likelihood estimation of
    spectral parameter trajectory", IEEE TASLP 15(8)): a Gaussian mixture is fitted to the joint
    vectors ``[x; y]`` of time-aligned source and target frames (``sklearn.mixture.GaussianMixture``,
    seeded), and a source frame is mapped to the minimum-mean-square-error estimate

    .. math:: \\hat y = \\sum_m P(m \\mid x)\\,\\big(\\mu^y_m + \\Sigma^{yx}_m (\\Sigma^{xx}_m)^{-1}
              (x - \\mu^x_m)\\big),

    a blend of per-component linear regressions weighted by the posterior of each component under
    the source marginal. The MMSE estimate is over-smoothed; ``global_variance=True`` applies the
    global-variance post-filter: in each utterance, every output dimension is scaled about the
    utterance's mean so that its variance equals the target's variance in the training
    utterances (the mean over training utterances of each utterance's variance, Toda's GV; with no
    ``groups`` in :meth:`fit`, the variance of all training frames). Features are whatever rows the
    caller gives (mel-cepstra, log-mel envelope bands from
    :func:`voxlib.vocoder.envelope_to_bands`, ...); both sides are standardised per dimension
    before the fit. The frames must already be paired (DTW-aligned, :func:`dtw_path`).

    Parameters
    ----------
    n_components : int >= 1
        Mixture components (choose on training/validation sentences; 1 is a single linear map).
    covariance_type : {"full", "tied"}
        Full joint covariances per component, or one shared by all (fewer parameters, for very
        little data). Diagonal joint covariances are not offered: they have no source-target
        cross-covariance, so the mapping would ignore ``x`` within a component.
    reg_covar : float > 0
        Added to the covariances' diagonals, in standardised units (variance 1 per feature).
    global_variance : bool
        Apply the global-variance post-filter in :meth:`predict`.
    max_iter : int >= 1
        EM iterations.
    n_init : int >= 1
        EM restarts (the best likelihood is kept).
    seed : int >= 0
        Seeds the k-means initialisation (``random_state``).

    Attributes
    ----------
    gmm_ : sklearn.mixture.GaussianMixture
        The fitted joint mixture (on standardised ``[x; y]``).
    gv_ : np.ndarray [shape=(n_targets,)]
        Target variance per dimension (original units) the post-filter restores.
    n_features_in_, n_targets_ : int
        Source and target feature counts seen in :meth:`fit`.

    Examples
    --------
    >>> model = GMMMapping(n_components=2, global_variance=True).fit(x_train, y_train, groups)  # doctest: +SKIP
    >>> y_hat = model.predict(x_test)                                                           # doctest: +SKIP
    """

    _CONSTRAINTS = {
        "n_components": [Interval(int, 1, None)],
        "covariance_type": [Options({"full", "tied"})],
        "reg_covar": [Interval(float, 0, None, closed="neither")],
        "global_variance": [bool],
        "max_iter": [Interval(int, 1, None)],
        "n_init": [Interval(int, 1, None)],
        "seed": [Interval(int, 0, None)],
    }

    def __init__(self, n_components: int = 2, covariance_type: str = "full", reg_covar: float = 1e-3,
                 global_variance: bool = False, max_iter: int = 200, n_init: int = 1, seed: int = 0):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.global_variance = global_variance
        self.max_iter = max_iter
        self.n_init = n_init
        self.seed = seed

    def _check_params(self) -> None:
        check_params(self._CONSTRAINTS, {name: getattr(self, name) for name in self._CONSTRAINTS}, error=FramesError)

    def fit(self, source_frames, target_frames, groups=None) -> "GMMMapping":
        """Fit the joint mixture on paired frames.

        Parameters
        ----------
        source_frames : np.ndarray [shape=(n_frames, n_features)]
        target_frames : np.ndarray [shape=(n_frames, n_targets)]
            Row ``i`` of both is one aligned frame pair. Pass training frames only.
        groups : array-like [shape=(n_frames,)], optional
            Utterance label of each pair: the post-filter's target variance is the mean of each
            utterance's variance. Default: all frames are one utterance.

        Returns ``self``; raises :class:`FramesError` for bad parameters, frames that are not 2-D finite
        rows, different numbers of rows, or fewer frame pairs than ``n_components``.
        """
        self._check_params()
        x = _as_frames(source_frames, "source_frames")
        y = _as_frames(target_frames, "target_frames")
        if x.shape[0] != y.shape[0]:
            raise FramesError(f"source_frames holds {x.shape[0]} frames but target_frames {y.shape[0]}; pass "
                              "aligned pairs (row i of both = one frame pair, e.g. from dtw_path)")
        if x.shape[0] < max(2, self.n_components):
            raise FramesError(f"{x.shape[0]} frame pair(s) for n_components={self.n_components}; pass more "
                              "frames or lower n_components")
        group_idx = _as_groups(groups, x.shape[0])
        self._x_mean, self._x_sd = _standardise(x)
        self._y_mean, self._y_sd = _standardise(y)
        joint = np.hstack([(x - self._x_mean) / self._x_sd, (y - self._y_mean) / self._y_sd])
        self.gmm_ = GaussianMixture(n_components=self.n_components, covariance_type=self.covariance_type,
                                    reg_covar=float(self.reg_covar), max_iter=self.max_iter, n_init=self.n_init,
                                    random_state=self.seed).fit(joint)
        self.n_features_in_, self.n_targets_ = x.shape[1], y.shape[1]
        self.gv_ = _group_variance(y, group_idx)
        self._prepare_regressions()
        return self

    def _prepare_regressions(self) -> None:
        """Per component: the source marginal's Cholesky factor and the regression of y on x."""
        dx = self.n_features_in_
        cov = self.gmm_.covariances_
        if self.covariance_type == "tied":
            cov = np.broadcast_to(cov, (self.n_components,) + cov.shape)
        mu_x, mu_y = self.gmm_.means_[:, :dx], self.gmm_.means_[:, dx:]
        self._chol = np.linalg.cholesky(cov[:, :dx, :dx])  # (K, dx, dx)
        # A_m = S_yx S_xx^-1, solved through the Cholesky factor: A_m^T = S_xx^-1 S_xy
        a_t = np.stack([scipy.linalg.cho_solve((c, True), s[:dx, dx:]) for c, s in zip(self._chol, cov)])
        self._coef = a_t  # (K, dx, dy)
        self._offset = mu_y - np.einsum("kd,kde->ke", mu_x, a_t)  # (K, dy)
        self._mu_x = mu_x
        self._log_norm = (np.log(self.gmm_.weights_) - np.log(np.diagonal(self._chol, axis1=1, axis2=2)).sum(1)
                          - 0.5 * dx * np.log(2 * np.pi))

    def _posteriors(self, zx: np.ndarray) -> np.ndarray:
        """P(m | x) under the source marginal, shape (n_frames, K)."""
        log_p = np.empty((zx.shape[0], self.n_components))
        for m in range(self.n_components):
            sol = scipy.linalg.solve_triangular(self._chol[m], (zx - self._mu_x[m]).T, lower=True)
            log_p[:, m] = self._log_norm[m] - 0.5 * np.einsum("ij,ij->j", sol, sol)
        return np.exp(log_p - scipy.special.logsumexp(log_p, axis=1, keepdims=True))

    def predict(self, source_frames, groups=None) -> np.ndarray:
        """Mapped target frames (the MMSE estimate, then the post-filter when ``global_variance``).

        Parameters
        ----------
        source_frames : np.ndarray [shape=(n_frames, n_features)]
            Same ``n_features`` as in :meth:`fit`.
        groups : array-like [shape=(n_frames,)], optional
            Utterance label of each frame: the post-filter works utterance by utterance. Default:
            all frames are one utterance (pass one utterance per call, or label them).

        Returns
        -------
        np.ndarray [shape=(n_frames, n_targets), float64]

        Raises
        ------
        FramesError
            Not fitted, or frames of another width.
        """
        if not hasattr(self, "gmm_"):
            raise FramesError("this GMMMapping is not fitted yet; call fit(source_frames, target_frames) first")
        x = _as_frames(source_frames, "source_frames")
        if x.shape[1] != self.n_features_in_:
            raise FramesError(f"source_frames has {x.shape[1]} columns but the model was fitted on "
                              f"{self.n_features_in_}; pass the same features")
        group_idx = _as_groups(groups, x.shape[0])
        zx = (x - self._x_mean) / self._x_sd
        post = self._posteriors(zx)
        zy = np.einsum("nk,nke->ne", post, np.einsum("nd,kde->nke", zx, self._coef) + self._offset)
        y = zy * self._y_sd + self._y_mean
        if self.global_variance:
            y = self._global_variance(y, group_idx)
        return y

    def transform(self, source_frames, groups=None) -> np.ndarray:
        """The same as :meth:`predict`."""
        return self.predict(source_frames, groups)

    def _global_variance(self, y: np.ndarray, group_idx: np.ndarray) -> np.ndarray:
        """Scale each group's output about its mean so that each dimension's variance is ``gv_``."""
        out = y.copy()
        for g in np.unique(group_idx):
            rows = group_idx == g
            mean, var = y[rows].mean(axis=0), y[rows].var(axis=0)
            gain = np.sqrt(np.divide(self.gv_, var, out=np.ones_like(var), where=var > 1e-24))
            out[rows] = mean + (y[rows] - mean) * gain
        return out
