"""F0 measurement and log-F0 conversion with Praat (praat-parselmouth).

Voice cloning (notebooks 04-05) borrows the phase of the *source* clip, and that
phase carries the source's pitch. So before that, the source is resynthesised
with its F0 moved into the target speaker's range. This uses the standard
log-F0 mean/variance transform

.. math:: \\hat f_0 = \\exp\\big((\\ln f_0 - \\mu_s)\\,\\sigma_t/\\sigma_s + \\mu_t\\big),

where the statistics are estimated on training sentences
(:func:`log_f0_stats`). Resynthesis uses Praat's PSOLA (Manipulation, overlap-add):
no vocoder, and the output is deterministic.

Pitch is tracked with Praat's autocorrelation method (``To Pitch (ac)``,
Boersma 1993). The *filtered* autocorrelation method, which Praat now
recommends for intonation, is only in Praat 6.4 and later. praat-parselmouth
0.4.7 bundles Praat 6.1.38, which does not have it. ``To Manipulation`` also
tracks with ``To Pitch (ac)``, using the same default settings. So the pitch that
is measured here is the same pitch that the PSOLA conversion works on.

The measures :func:`median_f0`, :func:`voiced_fraction`, :func:`has_f0` and
:func:`log_f0_rmse` fill notebook 05's table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import parselmouth
from parselmouth.praat import call

from voxlib import audio, frames

__all__ = [
    "PITCH_FLOOR",
    "PITCH_CEILING",
    "TIME_STEP",
    "PitchError",
    "LogF0Stats",
    "pitch_track",
    "log_f0_stats",
    "convert_f0",
    "convert_pitch",
    "median_f0",
    "voiced_fraction",
    "has_f0",
    "log_f0_rmse",
]

PITCH_FLOOR = 60.0  # Hz
PITCH_CEILING = 500.0  # Hz
TIME_STEP = 0.01  # s
MIN_VOICED_FRAMES = 20
SPEECH_RANGE_DB = 30.0  # speech frames: RMS within this many dB of the loudest frame
RMS_FRAME = 0.04  # s, window of the frame RMS used by voiced_fraction
MIN_RMSE_PAIRS = 5


class PitchError(ValueError):
    """Bad input to the pitch tools, or too little voicing to estimate F0 statistics."""


@dataclass(frozen=True)
class LogF0Stats:
    """Mean and standard deviation of natural-log F0 (ln Hz) over voiced frames.

    Attributes
    ----------
    mean : float
        Mean of ``ln(f0 / 1 Hz)``.
    std : float
        Population standard deviation (``ddof=0``) of ``ln f0``; must be ``>= 0``.
    n_voiced : int
        Number of voiced frames that the statistics pool.
    """

    mean: float
    std: float
    n_voiced: int

    def __post_init__(self):
        if not math.isfinite(self.mean):
            raise PitchError(f"LogF0Stats.mean must be finite, got {self.mean!r}")
        if not (math.isfinite(self.std) and self.std >= 0):
            raise PitchError(f"LogF0Stats.std must be finite and >= 0, got {self.std!r}")
        if int(self.n_voiced) != self.n_voiced or self.n_voiced < 0:
            raise PitchError(f"LogF0Stats.n_voiced must be a non-negative integer, got {self.n_voiced!r}")


# --------------------------------------------------------------------------- validation

def _check_sr(sr) -> float:
    try:
        sr_f = float(sr)
    except (TypeError, ValueError):
        raise PitchError(f"sr must be a positive number of Hz, got {sr!r}") from None
    if not (math.isfinite(sr_f) and sr_f > 0):
        raise PitchError(f"sr must be a positive number of Hz, got {sr!r}")
    return sr_f


def _check_range(floor, ceiling, time_step=TIME_STEP) -> tuple[float, float, float]:
    floor, ceiling, time_step = float(floor), float(ceiling), float(time_step)
    if not (math.isfinite(floor) and floor > 0):
        raise PitchError(f"floor must be a positive frequency in Hz, got {floor!r}")
    if not (math.isfinite(ceiling) and ceiling > floor):
        raise PitchError(f"ceiling must be above floor ({floor:g} Hz), got {ceiling!r}; swap or widen the range")
    if not (math.isfinite(time_step) and time_step > 0):
        raise PitchError(f"time_step must be a positive number of seconds, got {time_step!r}")
    return floor, ceiling, time_step


def _sound(y: np.ndarray, sr: float) -> parselmouth.Sound:
    return parselmouth.Sound(np.asarray(y, dtype=np.float64), sampling_frequency=sr)


def _too_short(y: np.ndarray, sr: float, floor: float, err: Exception) -> PitchError:
    return PitchError(
        f"y ({y.size} samples = {y.size / sr:.3f} s) is too short for a pitch floor of {floor:g} Hz: "
        f"Praat needs at least 3 periods ({3 / floor:.3f} s); pass a longer clip or raise floor "
        f"(Praat: {str(err).splitlines()[0]})"
    )


# --------------------------------------------------------------------------- tracking

def _praat_pitch(y, sr, floor, ceiling, time_step) -> parselmouth.Pitch:
    try:
        return _sound(y, sr).to_pitch_ac(time_step=time_step, pitch_floor=floor, pitch_ceiling=ceiling)
    except parselmouth.PraatError as err:
        raise _too_short(y, sr, floor, err) from err


def pitch_track(y, sr, *, floor=PITCH_FLOOR, ceiling=PITCH_CEILING, time_step=TIME_STEP):
    """F0 contour with Praat's autocorrelation pitch tracker (``To Pitch (ac)``).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], floating
        Mono audio in [-1, 1].
    sr : number > 0
        Sampling rate of ``y`` in Hz.
    floor, ceiling : float
        Pitch search range in Hz (``floor < ceiling``). ``floor`` also sets the
        analysis window (3 periods of ``floor``), and so the shortest clip
        that can be analysed.
    time_step : float
        Hop between frames in seconds.

    Returns
    -------
    times : np.ndarray [shape=(n_frames,)]
        Frame centres in seconds from the first sample.
    f0 : np.ndarray [shape=(n_frames,)]
        F0 in Hz, with ``0`` on unvoiced frames.

    Raises
    ------
    PitchError
        If the input is invalid or shorter than ``3 / floor`` seconds.

    Examples
    --------
    >>> sr = 8000
    >>> t = np.arange(sr) / sr
    >>> y = 0.3 * np.sin(2 * np.pi * 150 * t)
    >>> times, f0 = pitch_track(y, sr)
    >>> round(float(np.median(f0[f0 > 0])))
    150
    """
    y = audio.valid_audio(y)
    sr = _check_sr(sr)
    floor, ceiling, time_step = _check_range(floor, ceiling, time_step)
    pitch = _praat_pitch(y, sr, floor, ceiling, time_step)
    f0 = np.asarray(pitch.selected_array["frequency"], dtype=np.float64)
    f0 = np.where(np.isfinite(f0) & (f0 > 0), f0, 0.0)
    return np.asarray(pitch.xs(), dtype=np.float64), f0


# --------------------------------------------------------------------------- statistics and conversion

def log_f0_stats(clips: Iterable[np.ndarray], sr, *, min_voiced: int = MIN_VOICED_FRAMES, **track_kw) -> LogF0Stats:
    """Mean and standard deviation of ln F0, pooled over the voiced frames of all clips.

    Parameters
    ----------
    clips : iterable of np.ndarray [shape=(n,)]
        One speaker's training clips, all at ``sr``.
    sr : number > 0
        Sampling rate in Hz.
    min_voiced : int
        The fewest voiced frames that the estimate accepts.
    **track_kw
        Passed to :func:`pitch_track` (``floor``, ``ceiling``, ``time_step``).

    Returns
    -------
    LogF0Stats

    Raises
    ------
    PitchError
        If ``clips`` is empty, or if fewer than ``min_voiced`` frames are voiced.
    """
    if isinstance(clips, np.ndarray) and clips.ndim == 1:
        raise PitchError("clips must be a list of 1-D clips, not a single clip; wrap it: [y]")
    logs, n_clips = [], 0
    for i, y in enumerate(clips):
        try:
            _, f0 = pitch_track(y, sr, **track_kw)
        except (PitchError, audio.InvalidSamplesError) as err:
            raise type(err)(f"clips[{i}]: {err}") from err
        logs.append(np.log(f0[f0 > 0]))
        n_clips += 1
    if n_clips == 0:
        raise PitchError("clips is empty; pass at least one clip of the speaker")
    pooled = np.concatenate(logs)
    if pooled.size < min_voiced:
        raise PitchError(
            f"only {pooled.size} voiced frames in {n_clips} clip(s); F0 statistics need at least "
            f"{min_voiced}: pass more (or longer) voiced clips, or check floor/ceiling"
        )
    return LogF0Stats(mean=float(pooled.mean()), std=float(pooled.std()), n_voiced=int(pooled.size))


def _check_stats(stats, name: str) -> LogF0Stats:
    if not isinstance(stats, LogF0Stats):
        raise PitchError(f"{name} must be a LogF0Stats (from log_f0_stats), got {type(stats).__name__}")
    return stats


def _transform(source, target) -> tuple[float, float, float]:
    source = _check_stats(source, "source")
    target = _check_stats(target, "target")
    if source.std <= 0:
        raise PitchError(
            "source.std is 0: the source's F0 does not vary, so it cannot be rescaled; "
            "estimate source with log_f0_stats on more varied speech"
        )
    return source.mean, target.std / source.std, target.mean


def convert_f0(f0, source: LogF0Stats, target: LogF0Stats) -> np.ndarray:
    """Map F0 from the source's log-F0 distribution to the target's.

    ``exp((ln f0 - source.mean) * target.std / source.std + target.mean)`` on
    voiced frames (``f0 > 0``). Unvoiced frames (``0``) stay ``0``.

    Parameters
    ----------
    f0 : array_like
        F0 in Hz (any shape), ``0`` on unvoiced frames.
    source, target : LogF0Stats
        Log-F0 statistics of the source and target speakers.

    Returns
    -------
    np.ndarray, float64, same shape as ``f0``

    Raises
    ------
    PitchError
        If ``f0`` holds negative or non-finite values, or if ``source.std == 0``.
    """
    mu_s, ratio, mu_t = _transform(source, target)
    f0 = np.asarray(f0, dtype=np.float64)
    if not np.all(np.isfinite(f0)) or np.any(f0 < 0):
        raise PitchError("f0 must be finite and >= 0 (use 0, not NaN, for unvoiced frames)")
    out = np.zeros_like(f0)
    voiced = f0 > 0
    out[voiced] = np.exp((np.log(f0[voiced]) - mu_s) * ratio + mu_t)
    return out


def convert_pitch(y, sr, source: LogF0Stats, target: LogF0Stats, *, floor=PITCH_FLOOR, ceiling=PITCH_CEILING,
                  time_step=TIME_STEP) -> np.ndarray:
    """Resynthesise ``y`` with its F0 moved from ``source``'s range to ``target``'s (Praat PSOLA).

    Praat's ``To Manipulation`` finds the pitch tier and the glottal pulses.
    Every point of the pitch tier is mapped with :func:`convert_f0`'s
    transform, and ``Get resynthesis (overlap-add)`` builds the new sound. The
    durations do not change. Unvoiced stretches are copied, so silence stays
    silent. The mean of ``y`` is removed before Praat and added back after it,
    because Praat subtracts the mean itself, and that would leave a DC offset in
    the silences.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], floating
        Mono audio in [-1, 1].
    sr : number > 0
        Sampling rate in Hz.
    source, target : LogF0Stats
        Log-F0 statistics of the source and target speakers (:func:`log_f0_stats`).
    floor, ceiling : float
        Pitch range of the manipulation's pitch analysis, in Hz.
    time_step : float
        Pitch analysis hop in seconds.

    Returns
    -------
    np.ndarray [shape=(n,)], float32
        The same length and sample rate as ``y``. The output is not clipped:
        overlap-add can push peaks slightly beyond the input's peaks. If no
        frame of ``y`` is voiced, a float32 copy of ``y`` is returned.

    Raises
    ------
    PitchError
        If the input is invalid, shorter than ``3 / floor`` s, or ``source.std == 0``.
    """
    y = audio.valid_audio(y)
    sr = _check_sr(sr)
    floor, ceiling, time_step = _check_range(floor, ceiling, time_step)
    mu_s, ratio, mu_t = _transform(source, target)
    dc = float(np.mean(y, dtype=np.float64))
    try:
        manipulation = call(_sound(y - dc, sr), "To Manipulation", time_step, floor, ceiling)
    except parselmouth.PraatError as err:
        raise _too_short(y, sr, floor, err) from err
    tier = call(manipulation, "Extract pitch tier")
    if call(tier, "Get number of points") == 0:
        return y.astype(np.float32, copy=True)
    call(tier, "Formula", f"exp((ln(self) - {float(mu_s)!r}) * {float(ratio)!r} + {float(mu_t)!r})")
    call([tier, manipulation], "Replace pitch tier")
    out = call(manipulation, "Get resynthesis (overlap-add)").values[0] + dc
    if out.size != y.size:  # Praat keeps the domain; guard against an off-by-one anyway
        out = np.pad(out[: y.size], (0, max(0, y.size - out.size)))
    return out.astype(np.float32)


# --------------------------------------------------------------------------- measures

def median_f0(y, sr, **track_kw) -> float:
    """Median F0 in Hz over the voiced frames of ``y``, or NaN if no frame is voiced.

    ``**track_kw`` is passed to :func:`pitch_track`.
    """
    _, f0 = pitch_track(y, sr, **track_kw)
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if voiced.size else float("nan")


def _rms_db_at(y: np.ndarray, sr: float, times: np.ndarray, frame: float = RMS_FRAME) -> np.ndarray:
    """RMS level (dB) of a ``frame``-second window centred on each of ``times``."""
    half = max(1, int(round(frame * sr / 2)))
    centres = np.clip(np.round(times * sr).astype(int), 0, y.size - 1)
    return audio.frame_rms_db(np.pad(np.asarray(y, dtype=np.float64), half), 2 * half + 1, 1)[centres]


def voiced_fraction(y, sr, *, top_db: float = SPEECH_RANGE_DB, **track_kw) -> float:
    """Fraction of speech frames that are voiced.

    The frames are the frames of :func:`pitch_track`. A frame is speech when its
    RMS level (40 ms window) is within ``top_db`` dB of the loudest frame.
    The result is the number of voiced speech frames over the number of speech
    frames, in [0, 1]. It is NaN for an all-zero signal.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], floating
    sr : number > 0
    top_db : float > 0
        Range below the loudest frame that still counts as speech.
    **track_kw
        Passed to :func:`pitch_track`.
    """
    if not (math.isfinite(top_db) and top_db > 0):
        raise PitchError(f"top_db must be a positive number of dB, got {top_db!r}")
    times, f0 = pitch_track(y, sr, **track_kw)
    y = np.asarray(y)
    if times.size == 0 or not np.any(y):
        return float("nan")
    level = _rms_db_at(y, float(sr), times)
    speech = level >= level.max() - top_db
    return float(np.count_nonzero(speech & (f0 > 0)) / np.count_nonzero(speech))


def has_f0(y, sr, *, min_fraction: float = 0.2, **track_kw) -> bool:
    """Whether F0 is detectable: ``voiced_fraction(y, sr) >= min_fraction``.

    False for silence (where the voiced fraction is NaN). ``**track_kw`` is
    passed to :func:`voiced_fraction`.
    """
    if not (0 <= min_fraction <= 1):
        raise PitchError(f"min_fraction must be in [0, 1], got {min_fraction!r}")
    return bool(voiced_fraction(y, sr, **track_kw) >= min_fraction)


def _mfcc_at(y: np.ndarray, sr: float, times: np.ndarray, hop: int, n_mfcc: int) -> np.ndarray:
    n_fft = int(2 ** math.ceil(math.log2(max(0.025 * sr, 2 * hop))))
    mfcc = frames.mfcc(np.asarray(y, dtype=np.float32), sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop, n_mels=40)
    cols = np.clip(np.round(times * sr / hop).astype(int), 0, mfcc.shape[1] - 1)
    return mfcc[:, cols]


def log_f0_rmse(reference, estimate, sr, *, n_mfcc: int = 13, **track_kw) -> float:
    """RMSE of the F0 difference in semitones, with frames paired by DTW on MFCCs.

    Both clips are pitch-tracked (:func:`pitch_track`). MFCCs
    (:func:`voxlib.frames.mfcc`) are computed at the pitch track's hop and taken
    at each pitch frame. The two frame sequences are aligned with
    :func:`voxlib.frames.dtw_path` (Euclidean cost). The result is the RMSE of
    ``12 * log2(f0_ref / f0_est)`` over the aligned pairs that are voiced in
    both clips.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n,)], floating
        The two clips at the same sampling rate. Their lengths can differ.
    sr : number > 0
    n_mfcc : int
        Number of MFCCs (c0 included) used by the alignment.
    **track_kw
        Passed to :func:`pitch_track`.

    Returns
    -------
    float
        In semitones. NaN if fewer than 5 aligned pairs are voiced in both clips.
    """
    reference = audio.valid_audio(reference, "reference")
    estimate = audio.valid_audio(estimate, "estimate")
    sr = _check_sr(sr)
    time_step = float(track_kw.get("time_step", TIME_STEP))
    hop = max(1, int(round(time_step * sr)))
    t_ref, f_ref = pitch_track(reference, sr, **track_kw)
    t_est, f_est = pitch_track(estimate, sr, **track_kw)
    if t_ref.size == 0 or t_est.size == 0:
        return float("nan")
    m_ref = _mfcc_at(reference, sr, t_ref, hop, n_mfcc)
    m_est = _mfcc_at(estimate, sr, t_est, hop, n_mfcc)
    path = frames.dtw_path(m_ref, m_est)
    a, b = f_ref[path[:, 0]], f_est[path[:, 1]]
    both = (a > 0) & (b > 0)
    if np.count_nonzero(both) < MIN_RMSE_PAIRS:
        return float("nan")
    st = 12.0 * np.log2(a[both] / b[both])
    return float(np.sqrt(np.mean(st ** 2)))
