"""Reading, writing, aligning and segmenting speech.

Every reader here validates its input and raises an :class:`AudioError` that
names the file and says what to do, so that one bad recording in a corpus is
found in seconds rather than as a NaN three notebooks later.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import librosa
import numpy as np
import scipy.signal
import soundfile as sf

from voxlib.checks import Interval, check_params

__all__ = [
    "AudioError",
    "AudioFileError",
    "InvalidSamplesError",
    "SilentAudioError",
    "AudioTooShortError",
    "AudioTooLongError",
    "NoSpeechError",
    "AUDIO_EXTENSIONS",
    "valid_audio",
    "frame_rms_db",
    "speech_mask",
    "load",
    "resample",
    "write_wav",
    "speech_span",
    "speech_segments",
    "vad_align",
]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
SILENCE_PEAK = 1e-4  # peak |sample| below this (-80 dBFS) counts as a silent file


class AudioError(ValueError):
    """Bad audio input; the message names the file and the fix."""


class AudioFileError(AudioError):
    """The file is missing, empty, or cannot be decoded."""


class InvalidSamplesError(AudioError):
    """The samples are not a usable signal: not 1-D, not floating-point, empty, too short, or NaN/inf.

    The one error every function of voxlib raises for a bad signal array (:func:`valid_audio`);
    the message names the parameter."""


class SilentAudioError(AudioError):
    """The file holds only silence."""


class AudioTooShortError(AudioError):
    """The file is shorter than the analysis needs."""


class AudioTooLongError(AudioError):
    """The recording is too long for the analysis to hold in memory; the message names the file, its
    duration, the memory it would need and the parameter to change."""


class NoSpeechError(AudioError):
    """Voice activity detection found no speech."""


def _name(path) -> str:
    return str(path) if path is not None else "<array>"


def valid_audio(y, name: str = "y", *, min_samples: int = 1, what: str | None = None, sr=None) -> np.ndarray:
    """Check that ``y`` is a usable mono signal and return it as an array (librosa's ``util.valid_audio``).

    Parameters
    ----------
    y : array-like [shape=(n,)], floating-point samples in [-1, 1]
    name : str
        The parameter's name, used in the error message.
    min_samples : int >= 1
        Fewest samples accepted; ``what`` (e.g. ``"the STFT window (256 samples)"``) says who
        needs them, and ``sr`` (Hz), when given, turns the count into seconds in the message.

    Returns
    -------
    y : np.ndarray [shape=(n,)], the same samples (dtype unchanged)

    Raises
    ------
    InvalidSamplesError
        Not 1-D, not floating-point (integer PCM must be scaled first), fewer than
        ``min_samples`` samples, or NaN/inf samples; the message names ``name`` and the fix.
    """
    try:
        y = np.asarray(y)
    except ValueError:
        raise InvalidSamplesError(f"{name} must be a 1-D array of samples; got a ragged sequence") from None
    if y.ndim != 1:
        raise InvalidSamplesError(f"{name} must be 1-D mono samples, shape (n,), but {name} has shape {y.shape}: "
                                  f"take one channel, e.g. {name}[:, 0], or average them")
    if not np.issubdtype(y.dtype, np.floating):
        raise InvalidSamplesError(f"{name} must be floating-point samples in [-1, 1]; got dtype {y.dtype}: load it "
                                  "with voxlib.audio.load, or divide integer PCM by its full scale (32768 for int16)")
    if y.size == 0:
        raise InvalidSamplesError(f"{name} is empty (0 samples); pass a recording")
    if y.size < min_samples:
        seconds = f" ({y.size / sr:.4f} s at {sr:g} Hz)" if sr else ""
        raise InvalidSamplesError(f"{name} has {y.size} samples{seconds}; {what or 'this'} needs at least "
                                  f"{min_samples} samples. Use a longer clip (or voxlib.audio.vad_align to pad it).")
    finite = np.isfinite(y)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise InvalidSamplesError(f"{name} contains {bad.size} NaN/inf samples (first at index {int(bad[0])}); "
                                  f"clean the signal (e.g. np.nan_to_num({name})) or, for a file, re-export it "
                                  "(e.g. as 16-bit PCM WAV) or remove it from the corpus")
    return y


def _check_samples(y: np.ndarray, path=None, *, allow_silent: bool = False) -> None:
    if y.size:
        valid_audio(y, _name(path))
    if not allow_silent and (y.size == 0 or float(np.max(np.abs(y))) < SILENCE_PEAK):
        raise SilentAudioError(
            f"{_name(path)}: the recording is silent (peak below {SILENCE_PEAK:g}); "
            "check the microphone/channel or remove the file from the corpus"
        )


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality) of ``y`` [shape=(n,)] from
    ``sr_in`` to ``sr_out`` Hz; returns float32."""
    if sr_in == sr_out:
        return np.asarray(y, dtype=np.float32)
    return librosa.resample(np.asarray(y, dtype=np.float32), orig_sr=sr_in, target_sr=sr_out,
                            res_type="soxr_hq").astype(np.float32)


def load(
    path: str | os.PathLike,
    sr: int | None = None,
    *,
    mono: str = "first",
    min_duration: float = 0.0,
    allow_silent: bool = False,
) -> tuple[np.ndarray, int]:
    """Load one recording as mono float32.

    Parameters
    ----------
    path : path
        WAV, FLAC, OGG or MP3 (anything libsndfile decodes).
    sr : int > 0, optional
        Target rate in Hz; ``None`` keeps the file's own rate.
    mono : {"first", "mean"}
        Which samples make the mono signal: the first channel (the thesis's
        choice) or the mean of the channels.
    min_duration : float >= 0
        Shortest accepted duration in seconds.
    allow_silent : bool
        Accept an all-silent file instead of raising.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        Samples in [-1, 1].
    sr : int
        Sample rate of ``y`` in Hz.

    Raises
    ------
    AudioFileError, InvalidSamplesError, SilentAudioError, AudioTooShortError
    """
    if mono not in ("first", "mean"):
        raise ValueError(f"mono={mono!r}; allowed: 'first', 'mean'")
    if sr is not None and (not isinstance(sr, (int, np.integer)) or sr <= 0):
        raise ValueError(f"sr={sr!r}; expected a positive integer (Hz) or None")
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file; check the path or the manifest that names it")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: the file is empty (0 bytes); re-export or remove it")
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's errors are RuntimeError/LibsndfileError
        raise AudioFileError(
            f"{path}: cannot decode it as audio ({exc}); convert it to WAV or FLAC "
            "(e.g. `ffmpeg -i in.xyz out.wav`) or remove it"
        ) from exc
    y = data[:, 0] if mono == "first" else data.mean(axis=1)
    _check_samples(y, path, allow_silent=allow_silent)
    if sr is not None:
        y = resample(y, file_sr, int(sr))
        file_sr = int(sr)
    if y.size < min_duration * file_sr:
        raise AudioTooShortError(
            f"{path}: {y.size / file_sr:.3f} s long, shorter than the {min_duration:g} s needed; "
            "remove it or lower the minimum duration"
        )
    return np.ascontiguousarray(y, dtype=np.float32), int(file_sr)


def highpass(y: np.ndarray, sr: int, cutoff_hz: float | None, *, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth high-pass (``scipy.signal.sosfiltfilt``): removes infrasonic drift (July's GSM
    files carry up to 43 % of a clip's energy below 20 Hz) without moving anything in time.

    ``cutoff_hz=None`` returns ``y`` unchanged; otherwise float64, same length (the edge padding is
    shortened for clips shorter than the filter's default).
    """
    if cutoff_hz is None:
        return np.asarray(y)
    if not 0 < cutoff_hz < sr / 2:
        raise ValueError(f"cutoff_hz={cutoff_hz!r}; expected a high-pass cut-off in (0, {sr / 2:g}) Hz, or None")
    sos = scipy.signal.butter(order, float(cutoff_hz), btype="highpass", fs=float(sr), output="sos")
    y = np.asarray(y)
    return scipy.signal.sosfiltfilt(sos, y, padlen=min(y.size - 1, 3 * (2 * len(sos) + 1)))


def write_wav(path: str | os.PathLike, y: np.ndarray, sr: int, *, overwrite: bool = False) -> Path:
    """Write ``y`` [shape=(n,), float in [-1, 1]] as a 16-bit PCM WAV at ``sr`` Hz.

    Refuses to replace an existing file unless ``overwrite=True``. Samples
    beyond [-1, 1] are clipped with a warning. Returns the path written.
    """
    path = Path(path)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y has shape {y.shape}; expected a mono signal of shape (n,)")
    _check_samples(y, path, allow_silent=True)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True or choose another name")
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 1.0:
        warnings.warn(f"{path}: peak {peak:.2f} > 1, clipping to [-1, 1]", stacklevel=2)
        y = np.clip(y, -1.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, int(sr), subtype="PCM_16")
    return path


def frame_rms_db(y: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """RMS level of each frame in dB relative to full scale (floor -200 dB).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    frame, hop : int > 0, samples; frame ``i`` is ``y[i*hop : i*hop + frame]`` (``y`` is zero-padded
        to one frame when shorter)

    Returns
    -------
    np.ndarray [shape=(n_frames,)], float64
    """
    if y.size < frame:
        y = np.pad(y, (0, frame - y.size))
    frames = np.lib.stride_tricks.sliding_window_view(y, frame)[::hop]
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def speech_mask(db: np.ndarray, *, top_db: float = 30.0, floor_db: float = -55.0) -> np.ndarray:
    """Which frames are speech (:func:`speech_span`'s rule): within ``top_db`` of the loudest frame and
    above ``floor_db`` dBFS.

    Parameters
    ----------
    db : np.ndarray [shape=(n_frames,)]
        Frame levels, dBFS (:func:`frame_rms_db`).
    top_db : float > 0
    floor_db : float

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=bool]
    """
    db = np.asarray(db)
    return (db >= db.max() - top_db) & (db > floor_db)


def speech_span(
    y: np.ndarray,
    sr: int,
    *,
    top_db: float = 30.0,
    floor_db: float = -55.0,
    frame_seconds: float = 0.025,
    hop_seconds: float = 0.010,
    path=None,
) -> tuple[int, int]:
    """First and last sample of detected speech (energy VAD).

    A frame is speech when its RMS level is within ``top_db`` of the loudest
    frame and above ``floor_db`` dBFS.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int > 0, Hz
    top_db : float > 0
        Range below the loudest frame still counted as speech, dB.
    floor_db : float
        Absolute level below which nothing is speech, dBFS.

    Returns
    -------
    start, stop : int
        ``y[start:stop]`` spans the speech.

    Raises
    ------
    NoSpeechError
        No frame qualifies (a silent or near-silent clip). The thesis's
        ``VADPAL`` crashed here.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"y has shape {y.shape}; expected (n,)")
    _check_samples(y, path, allow_silent=True)
    frame = max(1, int(round(frame_seconds * sr)))
    hop = max(1, int(round(hop_seconds * sr)))
    db = frame_rms_db(y, frame, hop)
    active = np.flatnonzero(speech_mask(db, top_db=top_db, floor_db=floor_db))
    if active.size == 0:
        raise NoSpeechError(
            f"{_name(path)}: no speech found (loudest frame {db.max():.1f} dBFS, "
            f"threshold {floor_db:g} dBFS); the clip is silent or far too quiet: "
            "remove it or lower floor_db"
        )
    start = int(active[0] * hop)
    stop = int(min(y.size, active[-1] * hop + frame))
    return start, stop


_SEGMENT_CONSTRAINTS = {
    "max_duration": [Interval(float, 0, None, closed="neither")],
    "min_duration": [Interval(float, 0, None)],
    "min_silence": [Interval(float, 0, None, closed="neither")],
    "pad": [Interval(float, 0, None)],
    "top_db": [Interval(float, 0, None, closed="neither")],
}


def _runs(mask: np.ndarray) -> np.ndarray:
    """``(k, 2)`` frame bounds ``[first, last + 1)`` of the runs of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def _cut_long(spans: list, db: np.ndarray, hop: int, longest: int, shortest: int) -> list:
    """Split every span longer than ``longest`` samples at its quietest frame, keeping pieces of at least
    ``shortest`` samples where the span allows it (recursively, so every piece fits)."""
    out = []
    todo = list(spans)[::-1]
    while todo:
        a, b = todo.pop()
        if b - a <= longest:
            out.append((a, b))
            continue
        lo = (a + min(shortest, longest // 2)) // hop + 1     # the cut leaves both pieces usable ...
        hi = max(lo + 1, (a + longest) // hop)                # ... and the first one short enough
        cut = int(lo + np.argmin(db[lo:hi])) * hop
        todo += [(cut, b), (a, cut)]
    return out


def _join_short(spans: list, longest: int, shortest: int) -> list:
    """Join each span shorter than ``shortest`` samples with the next while the union fits in ``longest``."""
    out = []
    for a, b in spans:
        if out and out[-1][1] - out[-1][0] < shortest and b - out[-1][0] <= longest:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def speech_segments(
    y: np.ndarray,
    sr: int,
    *,
    max_duration: float = 10.0,
    min_duration: float = 1.0,
    min_silence: float = 0.5,
    pad: float = 0.1,
    top_db: float = 30.0,
    floor_db: float = -55.0,
    frame_seconds: float = 0.025,
    hop_seconds: float = 0.010,
) -> np.ndarray:
    """Cut a long recording at its silences into utterance-like segments.

    The frames :func:`speech_mask` calls speech (the rule of :func:`speech_span`, relative to the
    loudest frame of the whole recording) form spans; spans closer than ``min_silence`` are one span
    (pauses inside a sentence). A span longer than ``max_duration`` is cut at its quietest frame; a span
    shorter than ``min_duration`` is joined with the next one while the union fits in ``max_duration``,
    and dropped if it stays short. Each segment is then widened by up to ``pad`` seconds of context on
    each side (never into its neighbour, never beyond ``max_duration``).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], float
    sr : int > 0, Hz
    max_duration : float > 0
        Longest segment, seconds.
    min_duration : float >= 0
        Shortest segment kept, seconds.
    min_silence : float > 0
        Shortest pause that separates two segments, seconds.
    pad : float >= 0
        Context kept before and after the speech, seconds.
    top_db, floor_db, frame_seconds, hop_seconds : float
        The energy VAD's settings (:func:`speech_span`).

    Returns
    -------
    np.ndarray [shape=(k, 2), dtype=int64]
        ``[start, stop)`` sample bounds, in time order; ``k = 0`` when no span is long enough.

    Raises
    ------
    InvalidSamplesError
        ``y`` is not a usable signal (:func:`valid_audio`).
    ValueError
        A setting out of range (the message names it), or ``min_duration > max_duration``.
    """
    check_params(_SEGMENT_CONSTRAINTS, {"max_duration": max_duration, "min_duration": min_duration,
                                        "min_silence": min_silence, "pad": pad, "top_db": top_db})
    if min_duration > max_duration:
        raise ValueError(f"min_duration={min_duration!r} exceeds max_duration={max_duration!r}; "
                         "the shortest segment must fit in the longest")
    y = valid_audio(y, "y")
    frame = max(1, int(round(frame_seconds * sr)))
    hop = max(1, int(round(hop_seconds * sr)))
    db = frame_rms_db(y, frame, hop)
    runs = _runs(speech_mask(db, top_db=top_db, floor_db=floor_db))
    if runs.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    gap = runs[1:, 0] - runs[:-1, 1]                       # frames of silence between consecutive runs
    starts = np.concatenate([[0], np.flatnonzero(gap * hop >= min_silence * sr) + 1])
    stops = np.concatenate([starts[1:], [len(runs)]]) - 1
    spans = [(int(runs[i, 0] * hop), int(min(y.size, (runs[j, 1] - 1) * hop + frame)))
             for i, j in zip(starts, stops)]
    longest, shortest = int(max_duration * sr), int(round(min_duration * sr))
    spans = [s for s in _join_short(_cut_long(spans, db, hop, longest, shortest), longest, shortest)
             if s[1] - s[0] >= shortest]
    out = np.array(spans, dtype=np.int64).reshape(-1, 2)
    room = np.minimum(int(round(pad * sr)), (longest - (out[:, 1] - out[:, 0])) // 2)
    bounds = np.concatenate([[0], (out[1:, 0] + out[:-1, 1]) // 2, [y.size]])   # midpoints of the pauses
    out[:, 0] = np.maximum(out[:, 0] - room, bounds[:-1])
    out[:, 1] = np.minimum(out[:, 1] + room, bounds[1:])
    return out


def vad_align(
    y: np.ndarray,
    sr: int,
    *,
    duration: float = 3.0,
    lead: float = 0.5,
    top_db: float = 30.0,
    floor_db: float = -55.0,
    path=None,
) -> np.ndarray:
    """The thesis's ``VADPAL``: speech placed after a fixed leading silence.

    The span from the first to the last detected speech sample is copied into
    a zero buffer of ``duration`` seconds, starting ``lead`` seconds in, and
    truncated if it does not fit. (The thesis hard-coded 22051 samples of
    leading silence and a 6 x 22051-sample buffer; its comment reads "22051
    samples per 0.5 s, 3 s in all", i.e. a 44.1 kHz recording, so at another
    rate its clip was not 3 s long, and it let longer speech grow the array
    instead of truncating it. Here lengths are in seconds at any rate.)

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int > 0, Hz
    duration : float > 0
        Length of the output, seconds.
    lead : float in [0, duration)
        Silence before the speech, seconds.

    Returns
    -------
    np.ndarray [shape=(round(duration * sr),), dtype=float32]

    Raises
    ------
    NoSpeechError
        When no speech is detected (the thesis crashed instead).
    """
    if not duration > 0:
        raise ValueError(f"duration={duration!r}; expected > 0 seconds")
    if not 0 <= lead < duration:
        raise ValueError(f"lead={lead!r}; expected 0 <= lead < duration ({duration})")
    start, stop = speech_span(y, sr, top_db=top_db, floor_db=floor_db, path=path)
    n = int(round(duration * sr))
    offset = int(round(lead * sr))
    seg = np.asarray(y[start:stop], dtype=np.float32)[: n - offset]
    out = np.zeros(n, dtype=np.float32)
    out[offset : offset + seg.size] = seg
    return out
