"""Numbers that judge the results: classification accuracy with confidence
intervals, image distances, and objective measures of cloned speech.
"""
from __future__ import annotations

import librosa
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import f1_score

from voxlib import frames
from voxlib._heavy import resemblyzer


# --- classification (notebook 02) ---


def wilson_interval(k, n, *, confidence=0.95):
    """Wilson score interval of a binomial proportion ``k / n``.

    Parameters
    ----------
    k : int >= 0, successes;  n : int > 0, trials
    confidence : float in (0, 1)

    Returns
    -------
    (low, high) : floats in [0, 1]
    """
    if not (n > 0 and 0 <= k <= n and float(k).is_integer() and float(n).is_integer()):
        raise ValueError(f"need whole numbers 0 <= k <= n and n > 0; got k={k!r}, n={n!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r}; expected a fraction in (0, 1)")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return max(0.0, float(ci.low)), min(1.0, float(ci.high))


def mean_interval(values, *, confidence=0.95):
    """Mean of ``values`` and its Student's t interval: ``(mean, low, high)``.

    Parameters
    ----------
    values : array-like (n,), numbers (NaN and inf are dropped)
    confidence : float in (0, 1)

    Returns
    -------
    (mean, low, high) : floats; the interval is (nan, nan) with fewer than two values, and the mean
    is nan with none. Identical values give the zero-width interval (mean, mean).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r}; expected a fraction in (0, 1)")
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.nan, np.nan, np.nan
    mean = float(v.mean())
    if v.size < 2:
        return mean, np.nan, np.nan
    sem = stats.sem(v)
    if sem == 0:  # SciPy's t.interval gives nan for a zero scale; the interval has zero width
        return mean, mean, mean
    low, high = stats.t.interval(confidence, v.size - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def accuracy_ci(y_true, y_pred, *, confidence=0.95):
    """Accuracy and its Wilson interval: ``(accuracy, low, high)``, fractions in [0, 1].

    Parameters
    ----------
    y_true, y_pred : array-like (n,), class labels
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"y_true and y_pred: expected equal non-empty 1-D shapes; got {y_true.shape}, "
                         f"{y_pred.shape}")
    k = int(np.sum(y_true == y_pred))
    low, high = wilson_interval(k, y_true.size, confidence=confidence)
    return k / y_true.size, low, high


def macro_f1(y_true, y_pred, *, labels=None):
    """Unweighted mean of the per-class F1 scores (scikit-learn), in [0, 1]."""
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))

# --- images (notebook 04) ---


def _image_pair(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images must have equal shapes; got {a.shape} and {b.shape}")
    return a, b


def image_l1(a, b, *, axis=None):
    """Mean absolute difference of two images (or stacks), in their own units.

    Parameters
    ----------
    a, b : array, equal shapes, e.g. uint8 (N, H, W, C) in [0, 255]
    axis : int, tuple or None
        Axes to average over (None = all; ``(1, 2, 3)`` = one value per image).
    """
    a, b = _image_pair(a, b)
    return np.mean(np.abs(a - b), axis=axis)


def psnr(a, b, *, data_range=255.0, axis=None):
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range**2 / MSE)``.

    Parameters
    ----------
    a, b : array, equal shapes
    data_range : float > 0
        Peak-to-peak range of the pixel values (255 for uint8, 2 for [-1, 1]).
    axis : int, tuple or None
        Axes of the MSE (None = all). Identical images give ``inf``.
    """
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0; got {data_range!r}")
    a, b = _image_pair(a, b)
    mse = np.mean((a - b) ** 2, axis=axis)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range ** 2 / mse)


def image_scores(target, candidates, *, data_range=255.0):
    """L1 and PSNR of candidate image stacks against the targets, one row per candidate.

    Parameters
    ----------
    target : array (N, H, W, C), e.g. uint8 in [0, 255]
    candidates : dict of name -> array of the same shape
        E.g. ``{"baseline: output = source": source, "pix2pix": generated}``.
    data_range : float
        Pixel range for PSNR (255 for uint8).

    Returns
    -------
    pandas.DataFrame
        ``candidate, n_images, l1, l1_std, psnr_db, psnr_std``: means (and
        standard deviations) over images of the per-image L1 (pixel units)
        and PSNR (dB).
    """
    rows = []
    for name, images in candidates.items():
        axes = tuple(range(1, np.ndim(target)))
        l1 = image_l1(images, target, axis=axes)
        p = psnr(images, target, data_range=data_range, axis=axes)
        rows.append(dict(candidate=name, n_images=len(l1), l1=float(np.mean(l1)), l1_std=float(np.std(l1)),
                         psnr_db=float(np.mean(p)), psnr_std=float(np.std(p))))
    return pd.DataFrame(rows)

# --- speech and cloning (notebook 05) ---
# MCD constant: 10·√2/ln10 ≈ 6.1418 dB per unit of natural-log mel-cepstrum
# (Kubichek 1993; the SPTK convention, c0 excluded).
MCD_CONSTANT = 10.0 * 2.0 ** 0.5 / 2.302585092994046


def _speech_pair(reference, estimate, *, same_length=True):
    """Validate two 1-D finite signals (internal); return them as float64."""
    out = []
    for name, y in (("reference", reference), ("estimate", estimate)):
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1 or y.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D signal; got shape {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains NaN or inf samples")
        out.append(y)
    if same_length and out[0].size != out[1].size:
        raise ValueError(
            f"reference and estimate must have the same length for a sample-by-sample "
            f"measure; got {out[0].size} and {out[1].size} samples")
    return out


def snr(reference, estimate):
    """Signal-to-noise ratio of ``estimate`` against ``reference``, in dB.

    ``10·log10(Σ reference² / Σ (reference − estimate)²)``: only meaningful
    when both share timing and phase (a round trip, an oracle).

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n,)]

    Returns
    -------
    float
        dB; ``inf`` when identical.
    """
    ref, est = _speech_pair(reference, estimate)
    noise = float(np.sum((ref - est) ** 2))
    power = float(np.sum(ref ** 2))
    if noise == 0.0:
        return float("inf")
    if power == 0.0:
        return float("-inf")
    return 10.0 * float(np.log10(power / noise))


def rms_ratio_db(reference, estimate):
    """Loudness of ``estimate`` relative to ``reference``: ``20·log10(rms_est / rms_ref)`` dB.

    0 dB means the scale is kept (lengths may differ).
    """
    ref, est = _speech_pair(reference, estimate, same_length=False)
    rms_ref, rms_est = np.sqrt(np.mean(ref ** 2)), np.sqrt(np.mean(est ** 2))
    if rms_ref == 0.0:
        raise ValueError("reference is silent (RMS 0): the ratio is undefined")
    return 20.0 * float(np.log10(max(rms_est, 1e-300) / rms_ref))


def _magnitude(y, n_fft, hop_length):
    return np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length, window="hann"))


def spectral_convergence(reference, estimate, *, n_fft=512, hop_length=128):
    """Spectral convergence ``‖|S_ref| − |S_est|‖_F / ‖|S_ref|‖_F`` (0 is perfect).

    STFT magnitudes (Hann window); needs shared timing but not phase.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n,)]
    n_fft, hop_length : int > 0
        STFT size and hop in samples.

    Returns
    -------
    float >= 0
    """
    ref, est = _speech_pair(reference, estimate)
    s_ref, s_est = _magnitude(ref, n_fft, hop_length), _magnitude(est, n_fft, hop_length)
    ref_norm = float(np.linalg.norm(s_ref))
    if ref_norm == 0.0:
        raise ValueError("reference is silent: spectral convergence is undefined")
    return float(np.linalg.norm(s_ref - s_est)) / ref_norm


def _active_frames(power_db, top_db):
    """Frames whose mean log power is within ``top_db`` of the loudest (internal)."""
    energy = power_db.mean(axis=0)
    return energy >= energy.max() - top_db


def _aligned_distance(feat_ref, feat_est, active_ref, active_est, align):
    """Per-frame Euclidean distances over speech frames (internal).

    "dtw": each signal keeps its own active frames, paired by DTW; "none": frame t
    with frame t, over the reference's active frames.
    """
    if align == "dtw":
        x, y = feat_ref[:, active_ref], feat_est[:, active_est]
        path = frames.dtw_path(x, y)
        return np.linalg.norm(x[:, path[:, 0]] - y[:, path[:, 1]], axis=0)
    return np.linalg.norm(feat_ref[:, active_ref] - feat_est[:, active_ref], axis=0)


def _framewise(reference, estimate, align, featurize, speech_db):
    """Validate, featurize both signals (``featurize(y) -> (features, level_db)``, frames
    as columns) and return the aligned per-frame distances over speech frames (internal)."""
    _check_align(align)
    ref, est = _speech_pair(reference, estimate, same_length=(align == "none"))
    (f_ref, lvl_ref), (f_est, lvl_est) = featurize(ref), featurize(est)
    return _aligned_distance(f_ref, f_est, _active_frames(lvl_ref, speech_db),
                             _active_frames(lvl_est, speech_db), align)


_ALIGNMENTS = ("dtw", "none")


def _check_align(align):
    if align not in _ALIGNMENTS:
        raise ValueError(f"align must be one of {_ALIGNMENTS}; got {align!r}")


def mel_cepstrum(y, sr, *, n_mfcc=25, n_mels=40, n_fft=512, hop_length=128, fmin=0.0,
                 fmax=None):
    """Mel-cepstrum in SPTK units (natural log of amplitude), from librosa's MFCC.

    librosa's MFCC is the orthonormal DCT-II of the log-mel *power* in dB; with
    ``M = n_mels`` bands, the cepstrum of ``ln|X|`` written as
    ``ln|X(ω)| = c0 + 2·Σ c_d·cos(dω)`` is ``c_d = mfcc_d · ln10 / (20·√(2M))``.
    In these units the usual MCD constant ``10·√2/ln10`` applies.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int > 0
    n_mfcc : int > 1
        Coefficients kept, c0 included (25 → c1…c24 enter the MCD).
    n_mels, n_fft, hop_length : int > 0
    fmin, fmax : float, Hz

    Returns
    -------
    c : np.ndarray [shape=(n_mfcc, n_frames)], float64
    power_db : np.ndarray [shape=(n_mels, n_frames)]
        The log-mel power (dB) the cepstrum was taken from.
    """
    mel = librosa.feature.melspectrogram(y=np.asarray(y, dtype=np.float64), sr=sr, n_fft=n_fft,
                                         hop_length=hop_length, n_mels=n_mels, fmin=fmin,
                                         fmax=fmax, power=2.0)
    # floor 100 dB below the loudest bin: relative, so a gain change moves only c0
    power_db = 10.0 * np.log10(np.maximum(mel, 1e-10 * max(float(mel.max()), 1e-30)))
    mfcc = librosa.feature.mfcc(S=power_db, n_mfcc=n_mfcc, dct_type=2, norm="ortho")
    return mfcc * (np.log(10.0) / (20.0 * np.sqrt(2.0 * n_mels))), power_db


def mel_cepstral_distortion(reference, estimate, sr, *, align="dtw", n_mfcc=25, n_mels=40,
                            n_fft=512, hop_length=128, top_db=40.0):
    """Mel-cepstral distortion (MCD) in dB, c0 excluded, frames aligned by DTW.

    ``MCD = 10·√2/ln10 · mean_t √(Σ_{d=1}^{D} (c_d − c'_d)²)`` over the aligned
    frame pairs, with the mel-cepstrum of :func:`mel_cepstrum` (librosa MFCC
    converted to SPTK units). Only speech frames count (mean log-mel power within
    ``top_db`` of the signal's loudest frame; with ``align="none"`` the
    reference's), so padding silence neither flatters nor spoils the score.
    Identical signals give 0. Values depend on the implementation (cepstrum
    order, mel bands, alignment, silence handling), so guide values from the
    literature do not transfer: the yardstick is notebook 05's ``source`` row, two
    different speakers saying the same sentences (DTW-aligned), on the same run.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n,)] and [shape=(m,)]
        Lengths may differ when ``align="dtw"``.
    sr : int > 0
        Sample rate of both, Hz.
    align : {"dtw", "none"}
        "none" compares frame t with frame t (same timing).
    n_mfcc, n_mels, n_fft, hop_length : int > 0
    top_db : float > 0
        Silence threshold in dB below the loudest frame.

    Returns
    -------
    float >= 0, dB
    """
    def featurize(y):
        c, power_db = mel_cepstrum(y, sr, n_mfcc=n_mfcc, n_mels=n_mels, n_fft=n_fft,
                                   hop_length=hop_length)
        return c[1:], power_db

    return MCD_CONSTANT * float(np.mean(_framewise(reference, estimate, align, featurize, top_db)))


def log_spectral_distance(reference, estimate, *, align="none", n_fft=512, hop_length=128,
                          top_db=80.0, speech_db=40.0):
    """Log-spectral distance (LSD) in dB: RMS over frequency of the dB difference, mean over frames.

    ``LSD = mean_t √(mean_f (10·log10 P_ref − 10·log10 P_est)²)`` with STFT power
    (Hann window) floored ``top_db`` below each signal's peak, over speech frames
    (mean level within ``speech_db`` of the loudest frame) as in
    :func:`mel_cepstral_distortion`. With ``align="dtw"`` frames are paired by DTW
    on the log spectra, for signals of different timing.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n,)]
    align : {"none", "dtw"}
    n_fft, hop_length : int > 0
    top_db, speech_db : float > 0
        Floor and silence threshold, dB below the peak / the loudest frame.

    Returns
    -------
    float >= 0, dB
    """
    def featurize(y):
        power = _magnitude(y, n_fft, hop_length) ** 2
        db = librosa.power_to_db(power, ref=np.max, amin=1e-10, top_db=top_db) \
            + 10.0 * np.log10(max(power.max(), 1e-10))
        return db, db

    distances = _framewise(reference, estimate, align, featurize, speech_db)
    return float(np.mean(distances)) / np.sqrt(n_fft // 2 + 1)


_SPEAKER_ENCODER = {}


def speaker_similarity(y, reference, sr):
    """Cosine similarity of two utterances' speaker embeddings (Resemblyzer GE2E).

    Optional: needs ``pip install resemblyzer`` (pulls in torch; its model ships
    in the wheel and runs offline). Not calibrated here: compare with a
    same-speaker and a different-speaker pair of the same corpus to read it.

    Parameters
    ----------
    y, reference : np.ndarray [shape=(n,)] and [shape=(m,)]
    sr : int > 0
        Sample rate of both, Hz (resampled to 16 kHz inside).

    Returns
    -------
    float in [-1, 1]

    Raises
    ------
    ImportError
        When resemblyzer is not installed.
    """
    try:  # the lazy module imports resemblyzer here, on first attribute access
        encoder_class, preprocess_wav = resemblyzer.VoiceEncoder, resemblyzer.preprocess_wav
    except ImportError as err:  # optional extra
        raise ImportError(
            "speaker_similarity needs the optional package resemblyzer "
            "(pip install resemblyzer; it installs torch, ~1 GB)") from err
    if "encoder" not in _SPEAKER_ENCODER:
        _SPEAKER_ENCODER["encoder"] = encoder_class(device="cpu", verbose=False)
    encoder = _SPEAKER_ENCODER["encoder"]
    ref, est = _speech_pair(reference, y, same_length=False)
    emb = [encoder.embed_utterance(preprocess_wav(s.astype(np.float32), source_sr=sr))
           for s in (est, ref)]
    return float(np.dot(emb[0], emb[1]) / (np.linalg.norm(emb[0]) * np.linalg.norm(emb[1])))
