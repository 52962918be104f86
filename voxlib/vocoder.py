"""How does a spectral envelope become audio, and back? The WORLD vocoder and envelope images.

WORLD (Morise et al. 2016, through the ``pyworld-prebuilt`` wheel) splits a clip into three
frame-wise parts: the F0 contour (Harvest), the spectral envelope (CheapTrick: the power spectrum
with the harmonic structure smoothed away) and the aperiodicity (D4C: the share of noise per
frequency). :func:`analyse` measures them, :func:`synthesise` turns them back into audio. A voice
converter changes the parts that carry the speaker (:func:`convert`: the F0 contour through
:func:`voxlib.pitch.convert_f0`, the envelope from a mapping, the aperiodicity kept or mapped) and
lets WORLD do the rest, so no phase is borrowed from the source clip.

Settings at 8 kHz (``/work/shared/FACTS.md``): Harvest with F0 in 60-500 Hz, 5 ms frames,
CheapTrick with a 512-point FFT, and ``d4c(threshold=0)``: D4C's default threshold 0.85 marks every
voiced frame of an 8 kHz clip aperiodic (the output is noise). WORLD's own aperiodicity coding
(``pyworld.code_aperiodicity``) has no band at 8 kHz (``get_num_aperiodicities(8000) == 0``), so
:func:`code_aperiodicity` codes it on the same mel bands as the envelope images.

Envelope images. :func:`envelope_to_bands` puts the log envelope (dB) on ``n_bands`` mel-spaced
frequencies (:func:`band_frequencies`, Slaney's mel as librosa's, ``fmin`` to ``fmax``):
the band values are the least-squares fit, over the FFT bins in ``[fmin, fmax]``, of the
piecewise-linear (along mel) curve through them, and :func:`bands_to_envelope` draws that curve
back on the FFT bins. :func:`envelope_to_image` quantises the bands to 8 bits on a FIXED dB scale,
``pixel = round(255 (dB - db_floor) / scale)`` with ``scale = db_ceiling - db_floor``, one column
per analysis frame (no time resampling: squeezing time loses the speaker) and the highest band in
row 0, as the CWT images (low frequency at the bottom). The default scale, -90 to +10 dB, was
measured on the embedded corpus (60 clips of each speaker of the two cloning pairs, high-passed at
60 Hz, VAD-aligned to 3 s): within the speech span 0.06-1.1 % of the pixels are 0 and none 255, the
median pixel is 119-143; outside it the VAD padding is digital silence (about -160 dB) and is 0.
One level is 0.39 dB. The scale rides in the image's metadata (``scale``, ``db_floor``, ... through
:func:`voxlib.images.save_image`), so :func:`image_to_envelope` inverts a saved image up to half a
level (0.196 dB) on the mel-band curve; on those speech frames the whole round trip (band fit,
quantisation, clipping) differs from the WORLD envelope by a log-spectral distance of 0.3-1.0 dB.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Iterable, Mapping

import librosa
import numpy as np
import pyworld

from voxlib import audio, images, pitch
from voxlib.checks import Interval, Satisfies, check_params

__all__ = [
    "VocoderError",
    "FRAME_PERIOD",
    "F0_FLOOR",
    "F0_CEIL",
    "FFT_SIZE",
    "N_BANDS",
    "FMIN",
    "DB_FLOOR",
    "DB_CEILING",
    "ENVELOPE_IMAGE",
    "db_to_pixels",
    "pixels_to_db",
    "WorldFeatures",
    "analyse",
    "synthesise",
    "f0_statistics",
    "convert",
    "band_frequencies",
    "envelope_to_bands",
    "bands_to_envelope",
    "envelope_to_image",
    "image_to_envelope",
    "code_aperiodicity",
    "decode_aperiodicity",
]

FRAME_PERIOD = 5.0  # ms
F0_FLOOR = 60.0  # Hz
F0_CEIL = 500.0  # Hz
FFT_SIZE = 512  # samples (CheapTrick and D4C)
N_BANDS = 64  # mel bands of an envelope image
FMIN = 60.0  # Hz, lowest band
DB_FLOOR = -90.0  # dB of envelope power at pixel 0
DB_CEILING = 10.0  # dB of envelope power at pixel 255
#: ``representation`` of an envelope image's metadata (:func:`envelope_to_image`).
ENVELOPE_IMAGE = "world_envelope"
_AP_FLOOR = 1e-6  # smallest aperiodicity decode_aperiodicity returns (-120 dB)


class VocoderError(ValueError):
    """Bad input to the vocoder or the envelope images; the message names the argument and the fix."""


# --------------------------------------------------------------------------- features

def _as_array(value, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != ndim or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise VocoderError(f"{name} must be a {ndim}-D real array; got shape {arr.shape}, dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)  # pyworld needs C-contiguous float64
    if not np.all(np.isfinite(arr)):
        raise VocoderError(f"{name} holds NaN or infinite values")
    return arr


_FEATURE_CONSTRAINTS = {
    "sr": [Interval(int, 1, None)],
    "frame_period": [Interval(float, 0, None, closed="neither")],
    "n_samples": [Interval(int, 1, None), None],
}


@dataclass(frozen=True, eq=False)
class WorldFeatures:
    """The WORLD parameters of one clip, one row per analysis frame.

    Attributes
    ----------
    f0 : np.ndarray [shape=(n_frames,), float64]
        F0 in Hz, ``0`` on unvoiced frames.
    envelope : np.ndarray [shape=(n_frames, fft_size // 2 + 1), float64]
        Spectral envelope (power, > 0) on the FFT bins ``k * sr / fft_size``.
    aperiodicity : np.ndarray [shape=(n_frames, fft_size // 2 + 1), float64]
        Aperiodicity in [0, 1] (1: all noise) on the same bins.
    sr : int > 0
        Sample rate in Hz.
    frame_period : float > 0
        Hop between frames in milliseconds; frame ``i`` is centred at ``i * frame_period``.
    n_samples : int > 0 or None
        Length of the analysed clip; :func:`synthesise` returns that many samples (None: WORLD's
        own length, ``n_frames * frame_period * sr / 1000``).

    Raises
    ------
    VocoderError
        Arrays of the wrong shape or with values out of range; a bad ``sr``, ``frame_period`` or
        ``n_samples``.
    """

    f0: np.ndarray
    envelope: np.ndarray
    aperiodicity: np.ndarray
    sr: int
    frame_period: float = FRAME_PERIOD
    n_samples: int | None = None

    def __post_init__(self):
        check_params(_FEATURE_CONSTRAINTS, {"sr": self.sr, "frame_period": self.frame_period,
                                            "n_samples": self.n_samples}, error=VocoderError)
        f0 = _as_array(self.f0, "f0", 1)
        env = _as_array(self.envelope, "envelope", 2)
        ap = _as_array(self.aperiodicity, "aperiodicity", 2)
        if np.any(f0 < 0):
            raise VocoderError("f0 must be >= 0 Hz (0 on unvoiced frames)")
        if env.shape[0] != f0.size or env.shape[1] < 3 or env.shape[1] % 2 == 0:
            raise VocoderError(f"envelope has shape {env.shape}; expected (n_frames, fft_size // 2 + 1) = "
                               f"({f0.size}, odd >= 3) for an f0 of {f0.size} frames")
        if ap.shape != env.shape:
            raise VocoderError(f"aperiodicity has shape {ap.shape}; expected the envelope's {env.shape}")
        if np.any(env <= 0):
            raise VocoderError("envelope must be a power spectrum > 0 (WORLD divides by it)")
        if np.any(ap < 0) or np.any(ap > 1):
            raise VocoderError("aperiodicity must lie in [0, 1]")
        for name, arr in (("f0", f0), ("envelope", env), ("aperiodicity", ap)):
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "sr", int(self.sr))
        object.__setattr__(self, "frame_period", float(self.frame_period))

    @property
    def n_frames(self) -> int:
        """Number of analysis frames."""
        return int(self.f0.size)

    @property
    def fft_size(self) -> int:
        """FFT size of the envelope and aperiodicity, ``2 * (n_bins - 1)``."""
        return 2 * (self.envelope.shape[1] - 1)

    @property
    def times(self) -> np.ndarray:
        """Frame centres in seconds, shape ``(n_frames,)``."""
        return np.arange(self.n_frames) * (self.frame_period / 1000.0)


_ANALYSIS_CONSTRAINTS = {
    **_FEATURE_CONSTRAINTS,
    "f0_floor": [Interval(float, 0, None, closed="neither")],
    "f0_ceil": [Interval(float, 0, None, closed="neither")],
    "fft_size": [Satisfies(lambda n: isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                           and n >= 4 and n % 2 == 0, "an even int >= 4")],
}


def analyse(y, sr, *, frame_period=FRAME_PERIOD, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL,
            fft_size=FFT_SIZE) -> WorldFeatures:
    """WORLD analysis of one clip: Harvest F0, CheapTrick envelope, D4C aperiodicity.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], floating
        Mono audio in [-1, 1] (analysed in float64, as pyworld needs).
    sr : int > 0
        Sample rate in Hz.
    frame_period : float > 0
        Hop between frames in milliseconds.
    f0_floor, f0_ceil : float > 0
        Harvest's F0 search range in Hz (``f0_floor < f0_ceil``).
    fft_size : int, even
        FFT size of CheapTrick and D4C; it must hold three periods of ``f0_floor``
        (``f0_floor >= pyworld.get_cheaptrick_f0_floor(sr, fft_size)``; 512 at 8 kHz allows 47 Hz).

    Returns
    -------
    WorldFeatures
        With ``n_samples = len(y)``. D4C runs with ``threshold=0`` (voiced frames stay voiced).

    Raises
    ------
    VocoderError
        A bad setting (the message names it).
    voxlib.audio.InvalidSamplesError
        ``y`` is not usable mono audio.

    Examples
    --------
    >>> feats = analyse(y, 8000)                      # doctest: +SKIP
    >>> y2 = synthesise(feats)                        # doctest: +SKIP
    """
    check_params(_ANALYSIS_CONSTRAINTS, {"sr": sr, "frame_period": frame_period, "f0_floor": f0_floor,
                                         "f0_ceil": f0_ceil, "fft_size": fft_size}, error=VocoderError)
    if f0_ceil <= f0_floor:
        raise VocoderError(f"f0_ceil={f0_ceil!r} must be above f0_floor={f0_floor!r} (Hz)")
    lowest = pyworld.get_cheaptrick_f0_floor(int(sr), int(fft_size))
    if f0_floor < lowest:
        raise VocoderError(f"fft_size={fft_size!r} holds three periods only of F0 >= {lowest:.1f} Hz at {sr} Hz, "
                           f"above f0_floor={f0_floor!r}: raise fft_size or f0_floor")
    y = audio.valid_audio(y, "y")
    x = np.ascontiguousarray(y, dtype=np.float64)
    sr, fft_size = int(sr), int(fft_size)
    f0, t = pyworld.harvest(x, sr, f0_floor=float(f0_floor), f0_ceil=float(f0_ceil),
                            frame_period=float(frame_period))
    envelope = pyworld.cheaptrick(x, f0, t, sr, fft_size=fft_size)
    aperiodicity = _steady_d4c(pyworld.d4c(x, f0, t, sr, threshold=0.0, fft_size=fft_size), f0, sr, fft_size)
    return WorldFeatures(f0, envelope, aperiodicity, sr, float(frame_period), n_samples=int(x.size))


#: D4C's aperiodicity bands are 3 kHz apart: below 12 kHz sampling it has none to measure.
_D4C_BAND_HZ = 3000.0


def _steady_d4c(aperiodicity, f0, sr, fft_size) -> np.ndarray:
    """D4C's output made deterministic below 12 kHz (internal).

    Without an aperiodicity band, D4C gives every voiced frame one fixed curve (-60 dB at 0 Hz rising
    linearly to 0 dB at the Nyquist), except where its voicing test (``D4CLoveTrain``, which sums the spectrum
    up to 7.9 kHz, beyond the Nyquist at 8 kHz) fails: on the embedded clips about 2 % of the voiced frames,
    different ones on every call, come out as noise (aperiodicity 1). Every voiced frame (Harvest's F0 > 0)
    gets the fixed curve here, which is what ``threshold=0`` asks for, so a rerun is bit-identical; it equals
    D4C's own output on every frame D4C got right (to 1e-13). At 12 kHz and above D4C is left as it is.
    """
    if sr / 2 - _D4C_BAND_HZ >= _D4C_BAND_HZ:
        return aperiodicity
    freqs = np.arange(aperiodicity.shape[1]) * sr / fft_size
    curve = np.power(10.0, (-60.0 + 60.0 * freqs / (sr / 2)) / 20.0)
    return np.where((f0 > 0)[:, None], np.minimum(curve, 1.0), aperiodicity)


def synthesise(features: WorldFeatures) -> np.ndarray:
    """WORLD synthesis (``pyworld.synthesize``): F0, envelope and aperiodicity -> audio.

    Deterministic: WORLD draws its noise from a generator it reseeds on every call, so two calls on
    the same features return the same samples.

    Parameters
    ----------
    features : WorldFeatures

    Returns
    -------
    np.ndarray [shape=(n_samples,), float32]
        Cut or zero-padded to ``features.n_samples`` when it is set. Not clipped: a converted
        envelope can push peaks beyond 1.

    Raises
    ------
    VocoderError
        ``features`` is not a :class:`WorldFeatures`.
    """
    if not isinstance(features, WorldFeatures):
        raise VocoderError(f"features must be WorldFeatures (from analyse), got {type(features).__name__}")
    y = pyworld.synthesize(features.f0, features.envelope, features.aperiodicity, features.sr,
                           features.frame_period)
    if features.n_samples is not None:
        y = np.pad(y[: features.n_samples], (0, max(0, features.n_samples - y.size)))
    return y.astype(np.float32)


# --------------------------------------------------------------------------- conversion

def f0_statistics(features: Iterable[WorldFeatures], *, min_voiced: int = pitch.MIN_VOICED_FRAMES
                  ) -> pitch.LogF0Stats:
    """Log-F0 mean and standard deviation over the voiced frames of one speaker's analysed clips.

    The Harvest counterpart of :func:`voxlib.pitch.log_f0_stats` (which tracks with Praat), for
    :func:`convert`.

    Parameters
    ----------
    features : iterable of WorldFeatures
        One speaker's training clips.
    min_voiced : int
        The fewest voiced frames accepted.

    Returns
    -------
    voxlib.pitch.LogF0Stats

    Raises
    ------
    VocoderError
        No features, an item that is not :class:`WorldFeatures`, or fewer than ``min_voiced``
        voiced frames.
    """
    logs = []
    for i, feats in enumerate(features):
        if not isinstance(feats, WorldFeatures):
            raise VocoderError(f"features[{i}] must be WorldFeatures (from analyse), got {type(feats).__name__}")
        logs.append(np.log(feats.f0[feats.f0 > 0]))
    if not logs:
        raise VocoderError("features is empty; pass the analysed training clips of the speaker")
    pooled = np.concatenate(logs)
    if pooled.size < min_voiced:
        raise VocoderError(f"only {pooled.size} voiced frames in {len(logs)} clip(s); F0 statistics need at "
                           f"least {min_voiced}: pass more (or longer) voiced clips")
    return pitch.LogF0Stats(mean=float(pooled.mean()), std=float(pooled.std()), n_voiced=int(pooled.size))


def convert(features: WorldFeatures, source: pitch.LogF0Stats, target: pitch.LogF0Stats, *,
            envelope=None, aperiodicity=None) -> WorldFeatures:
    """The source's WORLD features with the target speaker's parts put in.

    The F0 contour goes through :func:`voxlib.pitch.convert_f0` (log-F0 mean and variance, voiced
    frames only); ``envelope`` (e.g. a mapped or DTW-warped target envelope on the source's frames)
    replaces the source's. The aperiodicity stays the source's unless ``aperiodicity`` is given:
    the simple choice, and the one the issue measured as a cap (the source's aperiodicity and
    prosody limit a true target envelope to 6/10 and 5/10 acceptances); a mapping of
    :func:`code_aperiodicity` bands (e.g. :class:`voxlib.frames.GMMMapping`) decoded by
    :func:`decode_aperiodicity` can be passed instead.

    Parameters
    ----------
    features : WorldFeatures
        The source clip's analysis.
    source, target : voxlib.pitch.LogF0Stats
        Log-F0 statistics of the two speakers (:func:`f0_statistics`).
    envelope, aperiodicity : np.ndarray [shape=(n_frames, fft_size // 2 + 1)], optional
        Replacements on the source's frames and FFT bins.

    Returns
    -------
    WorldFeatures

    Raises
    ------
    VocoderError
        Replacements of the wrong shape or range.
    voxlib.pitch.PitchError
        Bad statistics (e.g. ``source.std == 0``).
    """
    if not isinstance(features, WorldFeatures):
        raise VocoderError(f"features must be WorldFeatures (from analyse), got {type(features).__name__}")
    changes = {"f0": pitch.convert_f0(features.f0, source, target)}
    for name, value in (("envelope", envelope), ("aperiodicity", aperiodicity)):
        if value is not None:
            if np.shape(value) != features.envelope.shape:
                raise VocoderError(f"{name} has shape {np.shape(value)}; expected the source's "
                                   f"{features.envelope.shape} (n_frames, fft_size // 2 + 1)")
            changes[name] = value
    return dataclasses.replace(features, **changes)


# --------------------------------------------------------------------------- mel bands

def _check_band_params(sr, n_bands, fmin, fmax, fft_size=None) -> tuple[int, int, float, float]:
    check_params({"sr": [Interval(int, 1, None)], "n_bands": [Interval(int, 2, None)],
                  "fmin": [Interval(float, 0, None)], "fmax": [Interval(float, 0, None, closed="neither"), None],
                  "fft_size": [Interval(int, 4, None), None]},
                 {"sr": sr, "n_bands": n_bands, "fmin": fmin, "fmax": fmax, "fft_size": fft_size},
                 error=VocoderError)
    fmax = sr / 2.0 if fmax is None else float(fmax)
    if not fmin < fmax <= sr / 2.0:
        raise VocoderError(f"fmin={fmin!r}, fmax={fmax!r}: expected 0 <= fmin < fmax <= sr / 2 = {sr / 2:g} Hz")
    return int(sr), int(n_bands), float(fmin), fmax


def band_frequencies(sr, *, n_bands=N_BANDS, fmin=FMIN, fmax=None) -> np.ndarray:
    """Centre frequencies (Hz, ascending) of the mel bands: ``librosa.mel_frequencies`` (Slaney's mel).

    Parameters
    ----------
    sr : int > 0
        Sample rate in Hz.
    n_bands : int >= 2
    fmin, fmax : float
        First and last centre in Hz (``fmax=None``: ``sr / 2``).

    Returns
    -------
    np.ndarray [shape=(n_bands,)], from ``fmin`` to ``fmax``
    """
    sr, n_bands, fmin, fmax = _check_band_params(sr, n_bands, fmin, fmax)
    return librosa.mel_frequencies(n_mels=n_bands, fmin=fmin, fmax=fmax)


@functools.lru_cache(maxsize=32)
def _band_maps(sr: int, fft_size: int, n_bands: int, fmin: float, fmax: float):
    """(interp (n_bins, n_bands), fit (n_bands, n_inside), inside mask): bands -> bins and back."""
    centres = librosa.hz_to_mel(band_frequencies(sr, n_bands=n_bands, fmin=fmin, fmax=fmax))
    bins = librosa.hz_to_mel(np.arange(fft_size // 2 + 1) * sr / fft_size)
    interp = np.stack([np.interp(bins, centres, row) for row in np.eye(n_bands)], axis=1)
    inside = (bins >= centres[0] - 1e-9) & (bins <= centres[-1] + 1e-9)
    if np.linalg.matrix_rank(interp[inside]) < n_bands:
        raise VocoderError(f"n_bands={n_bands} mel bands in [{fmin:g}, {fmax:g}] Hz are finer than the "
                           f"{sr / fft_size:.1f} Hz bins of fft_size={fft_size}: lower n_bands or raise fft_size")
    fit = np.linalg.pinv(interp[inside])
    for arr in (interp, fit, inside):
        arr.flags.writeable = False
    return interp, fit, inside


def _log_rows(values, name: str) -> np.ndarray:
    arr = _as_array(values, name, 2)
    if arr.shape[1] < 3 or arr.shape[1] % 2 == 0:
        raise VocoderError(f"{name} has shape {arr.shape}; expected (n_frames, fft_size // 2 + 1) FFT bins")
    if np.any(arr <= 0):
        raise VocoderError(f"{name} must be > 0 (its logarithm is taken)")
    return arr


def envelope_to_bands(envelope, sr, *, n_bands=N_BANDS, fmin=FMIN, fmax=None) -> np.ndarray:
    """Log envelope (dB) on mel bands: the least-squares fit over the bins in ``[fmin, fmax]``.

    The band values ``b`` minimise ``sum_k (10 log10 P_k - (M b)_k)^2`` over the FFT bins ``k``
    between the first and last band centre, where ``M`` draws the piecewise-linear curve (along mel)
    through the bands (:func:`bands_to_envelope`). An envelope that is such a curve comes back
    exactly; for a real one this is the closest mel-band description in dB.

    Parameters
    ----------
    envelope : np.ndarray [shape=(n_frames, fft_size // 2 + 1)], power > 0
        E.g. :attr:`WorldFeatures.envelope`.
    sr : int > 0
    n_bands : int >= 2
    fmin, fmax : float
        First and last band centre in Hz (``fmax=None``: ``sr / 2``).

    Returns
    -------
    np.ndarray [shape=(n_frames, n_bands), float64]
        dB (``10 log10`` of power), bands in ascending frequency: frame rows, ready as features of
        a frame mapping.

    Raises
    ------
    VocoderError
        Bad shapes, non-positive power, bad band settings, or more bands than the bins can carry.
    """
    env = _log_rows(envelope, "envelope")
    sr, n_bands, fmin, fmax = _check_band_params(sr, n_bands, fmin, fmax)
    _, fit, inside = _band_maps(sr, 2 * (env.shape[1] - 1), n_bands, fmin, fmax)
    return (10.0 * np.log10(env[:, inside])) @ fit.T


def bands_to_envelope(bands, sr, fft_size, *, fmin=FMIN, fmax=None) -> np.ndarray:
    """Mel-band dB values back to a power envelope on the FFT bins (linear interpolation along mel).

    Bins below ``fmin`` (above ``fmax``) take the first (last) band's value.

    Parameters
    ----------
    bands : np.ndarray [shape=(n_frames, n_bands)]
        dB, ascending frequency (:func:`envelope_to_bands`).
    sr : int > 0
    fft_size : int
        FFT size of the envelope to make (512 for :func:`analyse`'s default).
    fmin, fmax : float
        The band centres' range used to make ``bands``.

    Returns
    -------
    np.ndarray [shape=(n_frames, fft_size // 2 + 1), float64], power > 0
    """
    db = _as_array(bands, "bands", 2)
    sr, n_bands, fmin, fmax = _check_band_params(sr, db.shape[1], fmin, fmax, fft_size)
    if fft_size % 2:
        raise VocoderError(f"fft_size={fft_size!r}; expected an even FFT size")
    interp, _, _ = _band_maps(sr, int(fft_size), n_bands, fmin, fmax)
    return np.power(10.0, (db @ interp.T) / 10.0)


# --------------------------------------------------------------------------- envelope images

def db_to_pixels(db, *, scale, db_floor) -> np.ndarray:
    """The envelope images' 8-bit code: ``pixel = round(255 (dB - db_floor) / scale)``, clipped to 0..255 (uint8)."""
    return np.rint(np.clip((np.asarray(db, np.float64) - float(db_floor)) * (255.0 / float(scale)), 0.0,
                           255.0)).astype(np.uint8)


def pixels_to_db(pixels, *, scale, db_floor) -> np.ndarray:
    """The inverse of :func:`db_to_pixels`: ``dB = pixel * scale / 255 + db_floor`` (float64; pixels may be float)."""
    return np.asarray(pixels, np.float64) * (float(scale) / 255.0) + float(db_floor)


def envelope_to_image(envelope, sr, *, n_bands=N_BANDS, fmin=FMIN, fmax=None, db_floor=DB_FLOOR,
                      db_ceiling=DB_CEILING) -> tuple[np.ndarray, dict]:
    """WORLD envelope -> 8-bit image: mel bands in dB on a fixed scale, one column per frame.

    ``pixel = round(255 (dB - db_floor) / scale)``, ``scale = db_ceiling - db_floor``, clipped to
    0..255, with the bands of :func:`envelope_to_bands`. Row 0 is the highest band (``fmax``) and
    the last row the lowest (``fmin``): low frequency at the bottom, as the CWT images
    (:mod:`voxlib.transforms` rows run from high to low frequency).

    Parameters
    ----------
    envelope : np.ndarray [shape=(n_frames, fft_size // 2 + 1)], power > 0
    sr : int > 0
    n_bands : int >= 2
        Image height.
    fmin, fmax : float
        Lowest and highest band centre in Hz (``fmax=None``: ``sr / 2``).
    db_floor, db_ceiling : float
        dB of pixel 0 and pixel 255. Fixed, so a pixel means the same level in every image; the
        default -90..10 dB holds 98.9-99.9 % of the speech frames' bands of the embedded corpus.

    Returns
    -------
    img : np.ndarray [shape=(n_bands, n_frames), uint8]
    meta : dict
        For :func:`voxlib.images.save_image` and :func:`image_to_envelope`: ``scale`` (dB per 255
        levels), ``db_floor``, ``db_ceiling``, ``representation`` (:data:`ENVELOPE_IMAGE`),
        ``frequency_axis`` (``"mel"``), ``fmin``, ``fmax``, ``n_bands``, ``sr``, ``fft_size``,
        ``height``, ``width``. ``scale`` is not the scale of :func:`voxlib.images.from_image`
        (that one is for ``50 log10(|C| + 1)`` images).
    """
    check_params({"db_floor": [Interval(float)], "db_ceiling": [Interval(float)]},
                 {"db_floor": db_floor, "db_ceiling": db_ceiling}, error=VocoderError)
    if db_ceiling <= db_floor:
        raise VocoderError(f"db_ceiling={db_ceiling!r} must be above db_floor={db_floor!r} (dB)")
    bands = envelope_to_bands(envelope, sr, n_bands=n_bands, fmin=fmin, fmax=fmax)
    fmax = _check_band_params(sr, n_bands, fmin, fmax)[3]
    scale = float(db_ceiling) - float(db_floor)
    img = db_to_pixels(bands.T[::-1], scale=scale, db_floor=db_floor)
    meta = {"scale": scale, "db_floor": float(db_floor), "db_ceiling": float(db_ceiling),
            "representation": ENVELOPE_IMAGE, "frequency_axis": "mel", "fmin": float(fmin), "fmax": fmax,
            "n_bands": int(n_bands), "sr": int(sr), "fft_size": 2 * (np.shape(envelope)[1] - 1),
            "height": int(img.shape[0]), "width": int(img.shape[1])}
    return np.ascontiguousarray(img), meta


def image_to_envelope(img, meta: Mapping, sr, fft_size) -> np.ndarray:
    """8-bit envelope image -> power envelope on the FFT bins, the inverse of :func:`envelope_to_image`.

    ``dB = pixel * scale / 255 + db_floor`` per band (rows flipped back to ascending frequency),
    then :func:`bands_to_envelope`. Exact up to half a level, ``scale / 510`` dB (0.196 dB with the
    default scale), on the bins between ``fmin`` and ``fmax`` for pixels not clipped at 0 or 255.

    Parameters
    ----------
    img : np.ndarray [shape=(n_bands, n_frames) or (n_bands, n_frames, 3)]
        uint8, or float on the 0..255 scale (a generator's output); RGB is read as gray
        (:func:`voxlib.images.to_gray`).
    meta : mapping
        The image's metadata (:func:`envelope_to_image`, :func:`voxlib.images.load_image`): at
        least ``scale``, ``db_floor``, ``fmin``, ``fmax``.
    sr : int > 0
        Sample rate of the envelope to make (must match ``meta["sr"]`` when stored).
    fft_size : int
        FFT size of the envelope to make.

    Returns
    -------
    np.ndarray [shape=(n_frames, fft_size // 2 + 1), float64], power > 0
    """
    missing = [k for k in ("scale", "db_floor", "fmin", "fmax") if k not in meta]
    if missing:
        raise VocoderError(f"meta lacks {missing}; pass the metadata envelope_to_image returned "
                           "(or load_image read back)")
    if "sr" in meta and int(meta["sr"]) != sr:
        raise VocoderError(f"sr={sr!r} but the image was made at {meta['sr']} Hz; pass sr={meta['sr']}")
    check_params({"scale": [Interval(float, 0, None, closed="neither")], "db_floor": [Interval(float)]},
                 {"scale": meta["scale"], "db_floor": meta["db_floor"]}, error=VocoderError)
    gray = images.to_gray(img).astype(np.float64)
    db = pixels_to_db(gray[::-1].T, scale=meta["scale"], db_floor=meta["db_floor"])
    return bands_to_envelope(db, sr, fft_size, fmin=meta["fmin"], fmax=meta["fmax"])


# --------------------------------------------------------------------------- aperiodicity bands

def code_aperiodicity(aperiodicity, sr, *, n_bands=8, fmin=FMIN, fmax=None) -> np.ndarray:
    """Aperiodicity on a few mel bands, in dB (``20 log10``): features for a frame mapping.

    WORLD's ``pyworld.code_aperiodicity`` has no band at 8 kHz, so this uses the envelope's band
    fit (:func:`envelope_to_bands` applied to ``aperiodicity ** 2``).

    Parameters
    ----------
    aperiodicity : np.ndarray [shape=(n_frames, fft_size // 2 + 1)], in [0, 1]
        Values below 1e-6 (-120 dB) count as 1e-6.
    sr, n_bands, fmin, fmax
        As :func:`envelope_to_bands` (8 bands by default: aperiodicity is smooth in frequency).

    Returns
    -------
    np.ndarray [shape=(n_frames, n_bands), float64], dB (<= 0 for a valid aperiodicity)
    """
    ap = _as_array(aperiodicity, "aperiodicity", 2)
    if np.any(ap < 0) or np.any(ap > 1):
        raise VocoderError("aperiodicity must lie in [0, 1]")
    return envelope_to_bands(np.maximum(ap, _AP_FLOOR) ** 2, sr, n_bands=n_bands, fmin=fmin, fmax=fmax)


def decode_aperiodicity(coded, sr, fft_size, *, fmin=FMIN, fmax=None) -> np.ndarray:
    """Band aperiodicity (dB, :func:`code_aperiodicity`) back to the FFT bins, clipped to [1e-6, 1].

    Returns
    -------
    np.ndarray [shape=(n_frames, fft_size // 2 + 1), float64]
    """
    power = bands_to_envelope(coded, sr, fft_size, fmin=fmin, fmax=fmax)
    return np.clip(np.sqrt(power), _AP_FLOOR, 1.0)
