"""The six time-frequency transforms of the thesis, with MATLAB's defaults.

Three short-time Fourier transforms (windows ``hamming``, ``blackman``,
``kaiser``) as MATLAB's ``stft`` computes them with the thesis's settings, and
three continuous wavelet transforms (wavelets ``bump``, ``morse``, ``amor``) as
MATLAB's ``cwt(x, wname, fs)`` computes them, plus the inverse CWT (``icwt``).
:data:`TRANSFORMS` is the registry a notebook parameter selects from;
:func:`compute` runs one entry; :func:`magnitude` gives ``|C|`` without holding
the complex matrix. Turning coefficients into images (and a corpus into the
notebook-01 images and their manifest) is the image stage's job, in
:mod:`voxlib.images`.

Speed: one thread, FFTs in single precision (complex64; about 1e-6 relative
to double), the CWT filter banks cached per (wavelet, length), inverse FFTs
batched over 16 scales, and, when MATLAB's padded length has large prime
factors, an exact pruned chirp-z evaluation instead of a slow FFT length.

References (MathWorks documentation, read for the definitions; no MATLAB code
is reproduced here):

- ``stft``: https://www.mathworks.com/help/signal/ref/stft.html (frames
  ``floor((Nx - L) / (M - L))``, DFT of each windowed segment, two-sided
  centred spectrum by default).
- ``cwt``: https://www.mathworks.com/help/wavelet/ref/cwt.html (Morse (3, 60)
  by default, 10 voices per octave, L1 normalisation, scale limits from the
  wavelet's energy spread in time and frequency).
- ``cwtfilterbank``: https://www.mathworks.com/help/wavelet/ref/cwtfilterbank.html
  (filters with passband peak 2; the highest-frequency passband falls to half
  its peak at the Nyquist frequency; reflection boundary).
- ``icwt``: https://www.mathworks.com/help/wavelet/ref/icwt.html and
  https://www.mathworks.com/help/wavelet/gs/inverse-continuous-wavelet-transform.html
  (Morlet's single-integral formula for analytic wavelets, L1 normalisation).

THESIS.md section 1 writes these definitions out with the numbers they give
(127 rows from 1.1 Hz to 6946 Hz for Morse on 3 s at 16 kHz; ``cwtfreqbounds(1000)``
= [0.0033, 0.4341] cycles/sample); ``tests/test_transforms.py`` checks them.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import librosa
import numpy as np
import pandas as pd
import scipy.fft
import scipy.integrate
import scipy.optimize
import scipy.signal

from voxlib import audio

__all__ = [
    "TimeFrequency",
    "TRANSFORMS",
    "WAVELETS",
    "WINDOWS",
    "compute",
    "get_transform",
    "stft",
    "cwt",
    "icwt",
    "cwt_scales",
    "cwt_freqbounds",
    "filter_bank",
    "check_frequency_limits",
    "magnitude",
    "stft_window",
    "TransformSpec",
    "Wavelet",
    "describe",
]


# --------------------------------------------------------------------------
# Result type
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TimeFrequency:
    """Complex time-frequency coefficients with their axes.

    Attributes
    ----------
    coefs : np.ndarray [shape=(n_freq, n_time), dtype=complex]
        Coefficients, rows in MATLAB's order: STFT from the lowest (most
        negative) to the highest frequency; CWT from the highest frequency
        (smallest scale) to the lowest.
    freqs : np.ndarray [shape=(n_freq,)]
        Frequency of each row in Hz (CWT: the wavelet's peak frequency at that scale).
    times : np.ndarray [shape=(n_time,)]
        Time of each column in s (STFT: centre of the window).
    transform : str
        Registry name (``"hamming"``, ..., ``"morse"``) or the wavelet/window used.
    sr : float
        Sample rate of the analysed signal in Hz.
    scales : np.ndarray [shape=(n_freq,)] or None
        CWT scales (dimensionless dilations, samples); None for the STFT.
    mean : float
        Mean of the analysed signal (the CWT discards it; :func:`icwt` adds it back).
    frequency_limits : (float, float) or None
        CWT band in Hz the rows were restricted to (the requested
        ``frequency_limits`` after clipping to the valid range); None: MATLAB's
        full default range (and always for the STFT).
    """

    coefs: np.ndarray
    freqs: np.ndarray
    times: np.ndarray
    transform: str
    sr: float
    scales: np.ndarray | None = None
    mean: float = 0.0
    frequency_limits: tuple | None = None

    @property
    def magnitude(self) -> np.ndarray:
        """``|coefs|`` as float32, shape (n_freq, n_time)."""
        return np.abs(self.coefs).astype(np.float32, copy=False)


# --------------------------------------------------------------------------
# Input validation (public boundary)
# --------------------------------------------------------------------------
def _check_signal(y, sr, *, min_length: int, what: str) -> tuple[np.ndarray, float]:
    if not np.isscalar(sr) or not np.isfinite(sr) or sr <= 0:
        raise ValueError(f"sr must be a positive sample rate in Hz; got {sr!r}")
    return audio.valid_audio(y, "y", min_samples=min_length, what=what, sr=float(sr)), float(sr)


# --------------------------------------------------------------------------
# STFT (MATLAB ``stft`` with the thesis's settings)
# --------------------------------------------------------------------------
#: Window constructors, MATLAB-equal: ``hamming(M, 'periodic')``,
#: ``blackman(M, 'periodic')``, ``kaiser(M, 5)`` (symmetric).
WINDOWS: dict[str, Callable[[int], np.ndarray]] = {
    "hamming": lambda m: scipy.signal.get_window("hamming", m, fftbins=True),
    "blackman": lambda m: scipy.signal.get_window("blackman", m, fftbins=True),
    "kaiser": lambda m: scipy.signal.windows.kaiser(m, 5.0, sym=True),
}


@functools.lru_cache(maxsize=32)
def _window(name: str, length: int) -> np.ndarray:
    w = WINDOWS[name](length).astype(np.float64)
    w.setflags(write=False)
    return w


def stft_window(name: str = "hamming", length: int = 256) -> np.ndarray:
    """One of MATLAB's STFT windows.

    Parameters
    ----------
    name : {"hamming", "blackman", "kaiser"}
        ``hamming`` and ``blackman`` are MATLAB's ``'periodic'`` windows
        (``0.54 - 0.46 cos(2 pi n / M)`` and ``0.42 - 0.5 cos(2 pi n / M) +
        0.08 cos(4 pi n / M)``); ``kaiser`` is MATLAB's ``kaiser(M, 5)``,
        symmetric, beta 5 (``scipy.signal.get_window(('kaiser', 5), M)`` would
        be periodic and differ). NumPy's ``hamming``/``blackman`` are symmetric
        and also differ.
    length : int > 0
        Window length M in samples.

    Returns
    -------
    np.ndarray [shape=(length,), dtype=float64]
    """
    if name not in WINDOWS:
        raise ValueError(f"window must be one of {sorted(WINDOWS)}; got {name!r}")
    if int(length) < 1:
        raise ValueError(f"length must be a positive number of samples; got {length!r}")
    return _window(name, int(length)).copy()


def stft(y, sr, window="hamming", *, win_length: int = 256, overlap: int = 64,
         n_fft: int = 512, onesided: bool = False) -> TimeFrequency:
    """Short-time Fourier transform as MATLAB's ``stft`` computes it.

    ``stft(x, fs, 'Window', w, 'OverlapLength', 64, 'FFTLength', 512)``: frames
    of ``win_length`` samples every ``win_length - overlap`` samples (hop 192),
    no padding of the signal, so ``floor((n - overlap) / hop)`` frames; each
    windowed frame is zero-padded at its end to ``n_fft`` and transformed.
    Framing uses ``librosa.util.frame`` (a strided view) and one batched
    ``scipy.fft.rfft``; the two-sided centred spectrum is rebuilt from the
    conjugate symmetry of a real signal.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], real
        Signal, n >= win_length.
    sr : float > 0
        Sample rate in Hz.
    window : {"hamming", "blackman", "kaiser"} or np.ndarray [shape=(win_length,)]
        MATLAB window (see :func:`stft_window`) or explicit window samples.
    win_length, overlap, n_fft : int
        Window length, overlap (samples shared by consecutive frames) and FFT length.
    onesided : bool
        False (MATLAB's default ``'centered'``): ``n_fft`` rows in increasing
        frequency; for an even ``n_fft`` they run from one bin above ``-sr/2``
        to ``sr/2``, i.e. (-sr/2, sr/2] (whether MATLAB's even-length centred
        spectrum starts at -sr/2 instead, a one-row shift, is not confirmed;
        THESIS.md section 1). True: ``n_fft // 2 + 1`` rows from 0 to ``sr/2``.

    Returns
    -------
    TimeFrequency
        ``coefs`` complex64 (n_freq, n_frames); ``times`` the window centres in s.
    """
    if isinstance(window, str):
        name = window
        if window not in WINDOWS:
            raise ValueError(f"window must be one of {sorted(WINDOWS)} or an array; got {window!r}")
        w = _window(window, int(win_length))
    else:
        name = "custom"
        w = np.asarray(window, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"window array must be 1-D; got shape {w.shape}")
        win_length = w.shape[0]
    if not 0 <= overlap < win_length:
        raise ValueError(f"overlap must be in [0, win_length={win_length}); got {overlap!r}")
    if n_fft < win_length:
        raise ValueError(f"n_fft must be >= win_length={win_length}; got {n_fft!r}")
    y, sr = _check_signal(y, sr, min_length=int(win_length), what=f"the STFT window ({win_length} samples)")
    hop = win_length - overlap
    n_frames = (y.shape[0] - overlap) // hop
    frames = librosa.util.frame(np.ascontiguousarray(y, dtype=np.float32), frame_length=win_length,
                                hop_length=hop, axis=0)[:n_frames]
    half = scipy.fft.rfft(frames * w.astype(np.float32), n=n_fft, axis=-1, workers=1).T  # (n_fft//2+1, T)
    if onesided:
        coefs = half
        freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    else:
        # MATLAB's centred order: bins -ceil(n_fft/2)+1 ... floor(n_fft/2)
        k = np.arange(-((n_fft - 1) // 2), n_fft // 2 + 1)
        coefs = np.where((k >= 0)[:, None], half[np.abs(k)], np.conj(half[np.abs(k)]))
        freqs = k * sr / n_fft
    times = (np.arange(n_frames) * hop + win_length / 2) / sr
    return TimeFrequency(coefs.astype(np.complex64, copy=False), freqs.astype(np.float64),
                         times, name, sr, None, float(np.mean(y)))


# --------------------------------------------------------------------------
# CWT (MATLAB ``cwt`` / ``cwtfilterbank``)
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Wavelet:
    """An analytic wavelet defined in the frequency domain (MATLAB's ``cwtfilterbank``).

    Attributes
    ----------
    name : str
    center : float
        Peak angular frequency of the filter at scale 1 (rad/sample); a row at
        scale s has frequency ``center / (2 pi s) * sr``.
    sigma_t : float
        Time spread MATLAB uses for the largest scale: ``s_max = n / (2 sigma_t)``
        (two standard deviations span the signal).
    cutoff : float
        Fraction of the peak the smallest-scale filter keeps at Nyquist
        (Morse 0.5, Morlet and bump 0.1).
    log_filter : callable
        ``log(psi_hat(w) / 2)`` inside the support (the filter in log form).
    support : (float, float)
        Open interval of w where the filter is non-zero (the bump's is compact).
    params : dict
        Shape parameters, for display.
    """

    name: str
    center: float
    sigma_t: float
    cutoff: float
    log_filter: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    support: tuple[float, float] = (0.0, np.inf)
    params: dict = field(default_factory=dict)

    def filter(self, omega: np.ndarray) -> np.ndarray:
        """``psi_hat(omega)``: peak 2 at ``center``, zero for omega <= 0 and outside the support."""
        omega = np.asarray(omega, dtype=np.float64)
        out = np.zeros_like(omega)
        inside = (omega > self.support[0]) & (omega < self.support[1]) & (omega > 0)
        out[inside] = 2.0 * np.exp(self.log_filter(omega[inside]))
        return out


_MORSE_GAMMA, _MORSE_BETA = 3.0, 20.0
_MORSE_W0 = (_MORSE_BETA / _MORSE_GAMMA) ** (1.0 / _MORSE_GAMMA)
_BUMP_MU, _BUMP_SIGMA = 5.0, 0.6
_AMOR_W0 = 6.0


def _morse_log(w):
    g, b, w0 = _MORSE_GAMMA, _MORSE_BETA, _MORSE_W0
    return b * np.log(w / w0) - (w ** g - w0 ** g)


def _amor_log(w):
    return -0.5 * (w - _AMOR_W0) ** 2


def _bump_log(w):
    u = (w - _BUMP_MU) / _BUMP_SIGMA
    return 1.0 - 1.0 / (1.0 - u * u)


#: MATLAB's three analytic wavelets with their ``cwt`` defaults. ``sigma_t``:
#: MATLAB's time spread (Morse (3, 60): 5.5008, reproducing ``cwtfreqbounds``;
#: Morlet: sqrt(2); bump: 5.847705, twice the standard deviation of
#: ``|psi(t)|^2``, which also gives sqrt(2) for the Morlet).
WAVELETS: dict[str, Wavelet] = {
    "morse": Wavelet("morse", _MORSE_W0, 5.5008, 0.5, _morse_log,
                     params={"gamma": _MORSE_GAMMA, "beta": _MORSE_BETA, "time_bandwidth": 60.0}),
    "amor": Wavelet("amor", _AMOR_W0, math.sqrt(2.0), 0.1, _amor_log, params={"w0": _AMOR_W0}),
    "bump": Wavelet("bump", _BUMP_MU, 5.847705, 0.1, _bump_log,
                    support=(_BUMP_MU - _BUMP_SIGMA, _BUMP_MU + _BUMP_SIGMA),
                    params={"mu": _BUMP_MU, "sigma": _BUMP_SIGMA}),
}


def _get_wavelet(wavelet) -> Wavelet:
    if wavelet not in WAVELETS:
        raise ValueError(f"wavelet must be one of {sorted(WAVELETS)}; got {wavelet!r}")
    return WAVELETS[wavelet]


def _scale_frequencies(wav, scales, sr) -> np.ndarray:
    """Centre frequency (Hz, or cycles/sample when ``sr`` is 1) of each CWT scale: ``center / (2 pi s) * sr``."""
    return wav.center / (2.0 * np.pi * np.asarray(scales)) * sr


@functools.lru_cache(maxsize=None)
def _min_scale(name: str) -> float:
    """Smallest scale: the filter falls to ``cutoff`` of its peak at Nyquist (omega = pi)."""
    wav = WAVELETS[name]
    target = math.log(wav.cutoff)  # log(psi/2) at the cut-off
    hi = wav.support[1] - 1e-12 if np.isfinite(wav.support[1]) else wav.center * 4
    w_cut = scipy.optimize.brentq(lambda w: float(wav.log_filter(np.float64(w))) - target,
                                  wav.center, hi, xtol=1e-14)
    return w_cut / math.pi


@functools.lru_cache(maxsize=None)
def _effective_support(name: str, floor: float = -60.0) -> tuple[float, float]:
    """Angular frequencies (scale 1) outside which ``psi_hat < 2 e^floor`` (about 1e-26 of the peak)."""
    wav = WAVELETS[name]
    f = lambda w: float(wav.log_filter(np.float64(w))) - floor  # noqa: E731
    lo = wav.support[0] + 1e-12 if wav.support[0] > 0 else 1e-9
    hi = wav.support[1] - 1e-12 if np.isfinite(wav.support[1]) else wav.center * 64
    return (scipy.optimize.brentq(f, lo, wav.center) if f(lo) < 0 else lo,
            scipy.optimize.brentq(f, wav.center, hi) if f(hi) < 0 else hi)


@functools.lru_cache(maxsize=None)
def _admissibility(name: str) -> float:
    """``C_psi = integral_0^inf psi_hat(w) / w dw`` (MATLAB's ``icwt`` constant)."""
    wav = WAVELETS[name]
    lo, hi = _effective_support(name)
    return scipy.integrate.quad(lambda w: 2.0 * math.exp(float(wav.log_filter(np.float64(w)))) / w,
                                lo, hi, points=[wav.center], limit=400, epsabs=1e-13)[0]


def cwt_scales(n: int, wavelet="morse", *, voices_per_octave: int = 10, frequency_limits=None,
               sr=None) -> np.ndarray:
    """MATLAB's default CWT scales for an n-sample signal, smallest first.

    ``s_j = s_min * 2 ** (j / voices_per_octave)``, ``j = 0 ... floor(v * log2(s_max / s_min))``
    with ``s_min`` putting the filter at ``cutoff`` of its peak at Nyquist and
    ``s_max = n / (2 sigma_t)`` (``cwtfilterbank``/``cwtfreqbounds`` documentation).

    Parameters
    ----------
    n : int >= 4
        Signal length in samples.
    wavelet : {"morse", "amor", "bump"}
    voices_per_octave : int > 0
    frequency_limits : (float, float) or None
        Keep only the scales whose centre frequency lies in ``[f_lo, f_hi]``
        (MATLAB's ``'FrequencyLimits'``; see :func:`cwt`). In Hz when ``sr``
        is given, else in cycles/sample. None: every default scale.
    sr : float > 0 or None
        Sample rate the limits are expressed against.

    Returns
    -------
    np.ndarray [shape=(n_scales,), dtype=float64]
    """
    if frequency_limits is not None:
        wav = _get_wavelet(wavelet)
        full = cwt_scales(n, wavelet, voices_per_octave=voices_per_octave)
        rate = 1.0 if sr is None else float(sr)
        i0, i1, _ = _band_rows(full, wav, rate, frequency_limits, n)
        return full[i0:i1]
    wav = _get_wavelet(wavelet)
    if int(voices_per_octave) < 1:
        raise ValueError(f"voices_per_octave must be a positive integer; got {voices_per_octave!r}")
    s_min = _min_scale(wav.name)
    s_max = n / (2.0 * wav.sigma_t)
    if s_max <= s_min:
        raise ValueError(f"a signal of {n} samples is too short for the {wav.name} CWT "
                         f"(needs more than {int(math.ceil(2 * wav.sigma_t * s_min))} samples)")
    n_oct = math.log2(s_max / s_min)
    j = np.arange(int(math.floor(voices_per_octave * n_oct + 1e-9)) + 1)
    return s_min * 2.0 ** (j / voices_per_octave)


def cwt_freqbounds(n: int, sr: float = 1.0, wavelet="morse", *, voices_per_octave: int = 10) -> tuple:
    """The range of centre frequencies of MATLAB's default CWT rows for an n-sample signal.

    ``(f_min, f_max)``: the centre frequencies of the largest and smallest
    default scales (:func:`cwt_scales`), in Hz at ``sr`` (cycles/sample for
    ``sr=1``). These are the valid ``frequency_limits`` of :func:`cwt`; for
    Morse at ``sr=1`` the upper bound is MATLAB's ``cwtfreqbounds`` maximum.

    Parameters
    ----------
    n : int >= 4
    sr : float > 0
    wavelet : {"morse", "amor", "bump"}
    voices_per_octave : int > 0

    Returns
    -------
    (float, float)
    """
    wav = _get_wavelet(wavelet)
    if not np.isscalar(sr) or not np.isfinite(sr) or sr <= 0:
        raise ValueError(f"sr must be a positive sample rate in Hz; got {sr!r}")
    scales = cwt_scales(n, wav.name, voices_per_octave=voices_per_octave)
    f = _scale_frequencies(wav, scales, float(sr))
    return float(f[-1]), float(f[0])


def check_frequency_limits(frequency_limits, *, context="") -> tuple[float, float]:
    """``frequency_limits`` as ``(f_lo, f_hi)`` floats: two positive, strictly increasing numbers, else a
    ``ValueError`` naming the parameter (``context`` is appended to the message). Whether the band
    holds any row of a given signal's CWT is checked by :func:`cwt` itself."""
    try:
        lo, hi = (float(f) for f in frequency_limits)
    except (TypeError, ValueError):
        raise ValueError(f"frequency_limits must be None or two numbers (f_lo, f_hi); got "
                         f"{frequency_limits!r}{context}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"frequency_limits must be two positive, strictly increasing numbers "
                         f"(f_lo < f_hi); got {frequency_limits!r}{context}")
    return lo, hi


def _band_rows(scales, wav: Wavelet, sr: float, frequency_limits, n: int) -> tuple[int, int, tuple]:
    """Rows ``[i0, i1)`` of the default ``scales`` whose centre frequency lies in the (clipped) limits.

    Returns ``(i0, i1, (f_lo, f_hi))`` with the limits clipped to the rows' range.
    MATLAB's ``cwt`` documentation: two positive, strictly increasing values,
    the upper one at most the Nyquist frequency; limits beyond the valid range
    are truncated to it.
    """
    freqs = _scale_frequencies(wav, scales, sr)
    f_min, f_max = float(freqs[-1]), float(freqs[0])
    unit = "Hz" if sr != 1.0 else "cycles/sample"
    where = f"at {sr:g} Hz" if unit == "Hz" else "(no sample rate)"
    valid = (f"the valid range for a {n}-sample {wav.name} CWT {where} is "
             f"[{f_min:.4g}, {f_max:.4g}] {unit} (limits beyond it are clipped to it; the upper "
             f"one may not exceed the Nyquist frequency {sr / 2:g})")
    lo, hi = check_frequency_limits(frequency_limits, context=f"; {valid}")
    if hi > sr / 2 * (1 + 1e-12):
        raise ValueError(f"frequency_limits: f_hi={hi:g} is above the Nyquist frequency; {valid}")
    lo_c, hi_c = max(lo, f_min), min(hi, f_max)
    tol = 1e-9
    keep = np.flatnonzero((freqs >= lo_c * (1 - tol)) & (freqs <= hi_c * (1 + tol)))
    if keep.size == 0:
        raise ValueError(f"frequency_limits={frequency_limits!r} keep no CWT row (no centre frequency "
                         f"inside; the rows are 2^(1/v) apart); {valid}")
    return int(keep[0]), int(keep[-1]) + 1, (lo_c, hi_c)


@functools.lru_cache(maxsize=8)
def filter_bank(name: str, n: int, voices_per_octave: int, dtype: str):
    """Positive-frequency filters, cached per (wavelet, length, voices, dtype).

    Returns ``(bank, support, scales, pad, n_pad)``: ``bank`` (n_scales, n_pad // 2 + 1)
    holds psi_hat(s * omega) on MATLAB's positive frequencies 0 ... pi (Nyquist
    counted positive), ``support`` (n_scales, 2) the bins [k0, k1) outside which
    a filter is below 1e-26 of its peak. The sample rate does not enter (scales
    are in samples), so one bank serves every rate. Padding as ``cwtfilterbank``:
    ``floor(n / 2)`` samples each side, or ``ceil(log2(n))`` above 1e5 samples.
    """
    wav = WAVELETS[name]
    scales = cwt_scales(n, name, voices_per_octave=voices_per_octave)
    pad = n // 2 if n <= 100_000 else int(math.ceil(math.log2(n)))
    n_pad = n + 2 * pad
    omega = 2.0 * np.pi * np.arange(n_pad // 2 + 1) / n_pad
    bank = np.zeros((scales.size, omega.size), dtype=dtype)
    support = np.zeros((scales.size, 2), dtype=np.int64)
    lo, hi = _effective_support(name)
    for i, s in enumerate(scales):  # vectorised over frequency, only across the filter's support
        k0, k1 = np.searchsorted(omega, [lo / s, hi / s])
        k0, k1 = max(int(k0), 1), max(int(k1), max(int(k0), 1))  # psi_hat(0) = 0
        bank[i, k0:k1] = 2.0 * np.exp(wav.log_filter(s * omega[k0:k1]))
        support[i] = k0, k1
    for a in (bank, support, scales):
        a.setflags(write=False)
    return bank, support, scales, pad, n_pad


@functools.lru_cache(maxsize=8)
def _chirp_table(n_pad: int, dtype: str) -> np.ndarray:
    """``exp(i pi r / n_pad)`` for r = 0 ... 2 n_pad - 1 (chirp phases looked up by exact integer index)."""
    t = np.exp(1j * np.pi * np.arange(2 * n_pad) / n_pad).astype(dtype)
    t.setflags(write=False)
    return t


def _is_fast_length(n: int) -> bool:
    return scipy.fft.next_fast_len(n) == n


def _window_ifft(z, k0: int, n_pad: int, pad: int, n: int, workers: int) -> np.ndarray:
    """``ifft(Z, n_pad)[:, pad:pad + n]`` for spectra non-zero only on bins [k0, k0 + B).

    Exact pruned chirp-z (Bluestein) evaluation: two FFTs of a fast length
    >= n + B - 1 instead of one FFT of the padded length, which is much faster
    when ``n_pad`` has large prime factors (MATLAB's padded length is whatever
    the signal length makes it).
    """
    rows, width = z.shape
    two = 2 * n_pad
    table = _chirp_table(n_pad, z.dtype.name)
    size = scipy.fft.next_fast_len(n + width - 1)
    j = np.arange(width, dtype=np.int64)
    q = np.arange(n, dtype=np.int64)
    a = np.zeros((rows, size), dtype=z.dtype)
    np.multiply(z, table[(j * j + 2 * j * pad) % two], out=a[:, :width])
    kern = np.zeros(size, dtype=z.dtype)  # exp(-i pi d^2 / n_pad), d = -(B-1) ... n-1, circularly placed
    kern[:n] = table[(-(q * q)) % two]
    if width > 1:
        d = np.arange(-(width - 1), 0, dtype=np.int64)
        kern[size - (width - 1):] = table[(-(d * d)) % two]
    spec = scipy.fft.fft(a, axis=-1, workers=workers, overwrite_x=True)
    spec *= scipy.fft.fft(kern, workers=workers)
    out = scipy.fft.ifft(spec, axis=-1, workers=workers, overwrite_x=True)[:, :n]
    post = table[(2 * k0 * (pad + q) + q * q) % two] * z.dtype.type(1.0 / n_pad)
    return out * post


def cwt(y, sr, wavelet="morse", *, voices_per_octave: int = 10, precision: str = "single",
        workers: int = 1, block: int = 16, frequency_limits=None) -> TimeFrequency:
    """Continuous wavelet transform as MATLAB's ``cwt(x, wname, fs)`` computes it.

    MATLAB's definitions (``cwt``, ``cwtfilterbank`` documentation; THESIS.md section 1):
    analytic wavelets defined in the frequency domain with passband peak 2
    (L1 normalisation: equal-amplitude oscillations at different scales get
    equal magnitude), 10 voices per octave, the scale limits of
    :func:`cwt_scales`, the signal extended by half-point reflection by
    ``floor(n / 2)`` samples on each side before the FFT, and the
    coefficients of the original span kept. One real FFT of the padded
    signal, the cached filter bank applied to the positive frequencies, and
    inverse FFTs batched over ``block`` scales at a time.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], real
        Signal, n >= 4.
    sr : float > 0
        Sample rate in Hz.
    wavelet : {"morse", "amor", "bump"}
        ``morse``: generalized Morse, gamma 3, time-bandwidth 60 (MATLAB's
        default); ``amor``: analytic Morlet (``2 exp(-(w - 6)^2 / 2)``);
        ``bump``: mu 5, sigma 0.6.
    voices_per_octave : int
    precision : {"single", "double"}
        Working precision of the FFTs. Single (complex64) keeps about 1e-6
        relative accuracy and is about twice as fast.
    workers : int
        Threads for ``scipy.fft`` (1 = one core, as the benchmark measures).
    block : int
        Scales per batched inverse FFT (memory vs. speed; the result does not depend on it).
    frequency_limits : (float, float) or None
        ``(f_lo, f_hi)`` in Hz, MATLAB's ``cwt(x, fs, 'FrequencyLimits', [f1 f2])``:
        only the rows of the default scale grid whose centre frequency lies
        in ``[f_lo, f_hi]`` are computed (the grid itself, ``s_min 2^(j/v)``,
        is unchanged, so these rows equal the same rows without limits).
        Limits beyond the valid range (:func:`cwt_freqbounds`) are clipped
        to it; two positive increasing values, ``f_hi`` at most ``sr / 2``,
        else a ``ValueError``. None: MATLAB's full default range.

    Returns
    -------
    TimeFrequency
        ``coefs`` complex (n_scales, n), highest frequency first; ``freqs`` in Hz;
        ``times = arange(n) / sr``; ``scales``; ``mean`` of y; ``frequency_limits``
        (the clipped band, or None).
    """
    wav = _get_wavelet(wavelet)
    y, sr = _check_signal(y, sr, min_length=4, what="the CWT")
    scales, blocks, band = _cwt_blocks(y, wav, voices_per_octave, precision, workers, block,
                                       frequency_limits=frequency_limits, sr=sr)
    coefs = None
    for start, stop, values in blocks:
        if coefs is None:
            coefs = np.empty((scales.size, y.shape[0]), dtype=values.dtype)
        coefs[start:stop] = values
    freqs = _scale_frequencies(wav, scales, sr)
    return TimeFrequency(coefs, freqs, np.arange(y.shape[0]) / sr, wav.name, sr, np.array(scales),
                         float(np.mean(y)), band)


def _cwt_blocks(y, wav: Wavelet, voices_per_octave, precision, workers, block, *, frequency_limits=None,
                sr=1.0):
    """``(scales, iterator of (start, stop, coefs[start:stop]), band)`` for a validated signal.

    With ``frequency_limits`` only the default rows inside the band are
    computed (slices of the cached full bank, so the cache key stays
    (wavelet, length, voices, dtype)); ``band`` is the clipped ``(f_lo, f_hi)``
    or None. The yielded block may be a view of a reused buffer: consume it
    before the next one.
    """
    if precision not in ("single", "double"):
        raise ValueError(f"precision must be 'single' or 'double'; got {precision!r}")
    if int(block) < 1:
        raise ValueError(f"block must be a positive number of scales; got {block!r}")
    n = y.shape[0]
    rdtype, cdtype = (np.float32, np.complex64) if precision == "single" else (np.float64, np.complex128)
    bank, support, scales, pad, n_pad = filter_bank(wav.name, n, int(voices_per_octave), np.dtype(rdtype).name)
    band = None
    if frequency_limits is not None:
        i0, i1, band = _band_rows(scales, wav, float(sr), frequency_limits, n)
        bank, support, scales = bank[i0:i1], support[i0:i1], scales[i0:i1]

    def blocks():
        x = np.pad(np.asarray(y, dtype=rdtype), pad, mode="symmetric") if pad else np.asarray(y, dtype=rdtype)
        spec = scipy.fft.rfft(x, workers=workers)  # (n_pad // 2 + 1,)
        fast = _is_fast_length(n_pad)
        buf = np.zeros((min(block, scales.size), n_pad), dtype=cdtype) if fast else None
        for start in range(0, scales.size, block):
            stop = min(start + block, scales.size)
            k0, k1 = int(support[start:stop, 0].min()), int(support[start:stop, 1].max())
            if fast:  # one batched inverse FFT of MATLAB's padded length
                b = buf[: stop - start]
                b.fill(0)
                np.multiply(bank[start:stop, k0:k1], spec[k0:k1], out=b[:, k0:k1])
                yield start, stop, scipy.fft.ifft(b, axis=-1, workers=workers, overwrite_x=True)[:, pad:pad + n]
            else:  # same values, computed without an FFT of an awkward length
                z = (bank[start:stop, k0:k1] * spec[k0:k1]).astype(cdtype, copy=False)
                yield start, stop, _window_ifft(z, k0, n_pad, pad, n, workers)

    return scales, blocks(), band


def magnitude(y, sr, name, *, reduce_time=None, frequency_limits=None):
    """``|C|`` of a registry transform, optionally reduced along time block by block.

    The same values as ``np.abs(compute(y, sr, name).coefs)``, but a CWT is
    computed in blocks of scales, so the full complex matrix (n_scales x n)
    is never held: ``reduce_time`` (for example the image stage's time-axis
    resize, :func:`voxlib.images.audio_to_image`) is applied to each block's
    magnitude as soon as it exists.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], real
    sr : float > 0
    name : str
        Registry name.
    reduce_time : callable or None
        ``f(mag (rows, n_time)) -> (rows, m)``, applied to every block of rows;
        None keeps every column.
    frequency_limits : (float, float) or None
        CWT band in Hz, as in :func:`cwt` (clipped to the valid range); None:
        MATLAB's full range. Ignored by the STFTs.

    Returns
    -------
    mag : np.ndarray [shape=(n_freq, m or n_time), dtype=float32]
    freqs : np.ndarray [shape=(n_freq,)]
        Row frequencies in Hz.
    n_time : int
        Columns of the full transform.
    """
    spec = get_transform(name)
    if spec.kind != "cwt":
        tf = compute(y, sr, name)
        mag = tf.magnitude if reduce_time is None else reduce_time(tf.magnitude)
        return mag, tf.freqs, tf.coefs.shape[1]
    wav = WAVELETS[spec.settings["wavelet"]]
    y, sr = _check_signal(y, sr, min_length=4, what="the CWT")
    scales, blocks, _ = _cwt_blocks(y, wav, 10, "single", 1, 16, frequency_limits=frequency_limits, sr=sr)
    parts = []
    for start, stop, values in blocks:
        block_mag = np.abs(values).astype(np.float32, copy=False)
        parts.append((start, stop, block_mag if reduce_time is None else reduce_time(block_mag)))
    mag = np.empty((scales.size, parts[0][2].shape[1]), dtype=np.float32)
    for start, stop, block_mag in parts:
        mag[start:stop] = block_mag
    return mag, _scale_frequencies(wav, scales, sr), y.shape[0]


def icwt(coefs, wavelet="morse", *, mean: float = 0.0, voices_per_octave: int = 10) -> np.ndarray:
    """Inverse CWT by Morlet's single-integral formula, as MATLAB's ``icwt``.

    ``x = 2 ln(2^(1/v)) / C_psi * sum_scales Re W + mean`` with
    ``C_psi = integral_0^inf psi_hat(w) / w dw`` (Morse 0.6553, Morlet 0.8610,
    bump 0.2903), valid for analytic wavelets with L1 normalisation and
    MATLAB's default scales (``icwt`` documentation). Coefficients of a CWT
    with ``frequency_limits`` hold only the rows inside the band; their sum is
    the band-limited reconstruction (as MATLAB's ``icwt`` over a frequency
    range).

    Parameters
    ----------
    coefs : np.ndarray [shape=(n_scales, n), complex] or TimeFrequency
        CWT coefficients from :func:`cwt` (possibly modified). Given a
        :class:`TimeFrequency`, its wavelet and mean are used.
    wavelet : {"morse", "amor", "bump"}
        The wavelet used for the forward transform.
    mean : float
        Signal mean to add back (the wavelets have no DC response).
    voices_per_octave : int

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float64]
        The reconstructed real signal.
    """
    if isinstance(coefs, TimeFrequency):
        wavelet, mean, coefs = coefs.transform, coefs.mean, coefs.coefs
    wav = _get_wavelet(wavelet)
    coefs = np.asarray(coefs)
    if coefs.ndim != 2:
        raise ValueError(f"coefs must be 2-D (n_scales, n); got shape {coefs.shape}")
    if not np.isfinite(coefs).all():
        raise ValueError("coefs contains NaN or infinite values")
    const = 2.0 * math.log(2.0 ** (1.0 / voices_per_octave)) / _admissibility(wav.name)
    return const * np.real(coefs).sum(axis=0, dtype=np.float64) + float(mean)


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class TransformSpec:
    """A registry entry: the function and the MATLAB-default settings it is called with."""

    name: str
    kind: str  # "stft" or "cwt"
    func: Callable[..., TimeFrequency] = field(repr=False)
    settings: dict = field(default_factory=dict)
    description: str = ""


def _stft_spec(window: str, description: str) -> TransformSpec:
    return TransformSpec(window, "stft", stft, {"window": window}, f"STFT, {description}, overlap 64, FFT 512")


def _cwt_spec(wavelet: str, description: str) -> TransformSpec:
    return TransformSpec(wavelet, "cwt", cwt, {"wavelet": wavelet}, f"CWT, {description}, 10 voices/octave")


#: The thesis's six transforms, by the name a notebook parameter uses.
TRANSFORMS: dict[str, TransformSpec] = {spec.name: spec for spec in (
    _stft_spec("hamming", "periodic Hamming window 256"),
    _stft_spec("blackman", "periodic Blackman window 256"),
    _stft_spec("kaiser", "symmetric Kaiser window 256 (beta 5)"),
    _cwt_spec("bump", "analytic bump wavelet (mu 5, sigma 0.6)"),
    _cwt_spec("morse", "generalized Morse wavelet (gamma 3, beta 20)"),
    _cwt_spec("amor", "analytic Morlet wavelet"),
)}


def get_transform(name) -> TransformSpec:
    """The registry entry of ``name``; a ``ValueError`` listing the six names if it is unknown."""
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}; choose one of: {', '.join(TRANSFORMS)}")
    return TRANSFORMS[name]


def compute(y, sr, name, **kwargs) -> TimeFrequency:
    """Run one registry transform with MATLAB's default settings.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], real
    sr : float > 0
        Sample rate in Hz.
    name : {"hamming", "blackman", "kaiser", "bump", "morse", "amor"}
    **kwargs
        Overrides passed to :func:`stft` or :func:`cwt` (e.g. ``onesided=True``).

    Returns
    -------
    TimeFrequency
        With ``transform == name``.
    """
    spec = get_transform(name)
    tf = spec.func(y, sr, **{**spec.settings, **kwargs})
    if tf.transform != name:
        tf = TimeFrequency(tf.coefs, tf.freqs, tf.times, name, tf.sr, tf.scales, tf.mean, tf.frequency_limits)
    return tf


def describe(tfs: dict) -> pd.DataFrame:
    """One row per computed transform (``{name: TimeFrequency}``): kind, rows, columns, lowest and
    highest row frequency (Hz) and the registry's description of the settings."""
    return pd.DataFrame({name: {"kind": TRANSFORMS[name].kind, "rows": tf.coefs.shape[0],
                                "columns": tf.coefs.shape[1], "lowest Hz": round(float(tf.freqs.min()), 1),
                                "highest Hz": round(float(tf.freqs.max()), 1),
                                "settings": TRANSFORMS[name].description} for name, tf in tfs.items()}).T
