"""How an image becomes sound: image → CWT magnitude, magnitude + a borrowed phase → audio.

The thesis turned each generated *escalograma* into audio by reading the image,
rescaling it to [0, 1], inverting the ``50·log10(|W| + 1)`` law, borrowing the
phase of the source utterance's Amor CWT and running the inverse CWT
(THESIS.md section 5). Rescaling to [0, 1] threw the magnitude scale away. Here
the image is inverted through the scale notebook 01 stored beside it
(:func:`voxlib.images.from_image`), so the only losses are the image's size and
8 bits; ``thesis_rescale=True`` reproduces the original path for comparison.

- :func:`image_to_magnitude`, :func:`image_round_trip`: image → ``|W|`` of the CWT's shape
  (ours or the thesis's), and what an 8-bit image of a given size costs;
- :func:`apply_phase`, :func:`reconstruct`: ``|W|`` + the phase of a reference CWT → audio,
  optionally with a Griffin-Lim-like phase refinement (:func:`refine_phase`);
- :class:`ConsistentCWT`, :func:`inconsistency`, :func:`refine_phase`: Griffin-Lim on the padded CWT
  frame with its least-squares inverse (converges; ``"refined"``, ``"refined_confident"``);
- :func:`oracle`, :func:`quality_vs_width`: the same pipeline fed with the target's own magnitude,
  to show what the method can reach and what the image width costs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.fft

from voxlib import images, metrics, transforms
from voxlib.reconstruction.errors import PRODUCERS, ReconstructionError

__all__ = [
    "PHASE_MODES",
    "CONFIDENT_DB",
    "COVERAGE",
    "image_to_magnitude",
    "image_round_trip",
    "apply_phase",
    "ConsistentCWT",
    "inconsistency",
    "refine_phase",
    "reconstruct",
    "oracle",
    "quality_vs_width",
]


# --------------------------------------------------------------------------
# Image -> magnitude
# --------------------------------------------------------------------------
def _check_shape(shape, name="shape") -> tuple[int, int]:
    """``shape`` as two ints, by :func:`voxlib.images.check_image_size`'s rule (internal)."""
    try:
        return images.check_image_size(shape, name=name, allow_none=False)
    except ValueError as err:
        raise ReconstructionError(str(err)) from None


def _check_scale(scale, where="") -> float:
    """``scale`` as a float, by :func:`voxlib.images.check_positive`'s rule; the error says who stores it
    (internal)."""
    try:
        images.check_positive(scale, "scale", allow_none=False)
    except ValueError as err:
        raise ReconstructionError(f"{where or 'image'}: {err}; a positive number is needed to turn pixels back "
                                  f"into magnitudes. {PRODUCERS['image']}.") from None
    return float(scale)


def image_to_magnitude(img, scale, shape, *, thesis_rescale=False) -> np.ndarray:
    """A (generated) image back to CWT magnitudes of a given shape.

    Ours: the exact inverse of notebook 01's recipe through the stored scale
    (:func:`voxlib.images.from_image`: pixel → ``I = pixel·scale/255`` →
    ``|W| = 10^(I/50) − 1``, bicubic resize to ``shape``).
    The thesis's (``thesis_rescale=True``): gray, rescale to [0, 1] (min → 0,
    max → 1), resize to ``shape``, ``10^(y/50) − 1``, so every magnitude
    ends below 0.047 whatever the speech's level (THESIS.md section 5, defect).

    Parameters
    ----------
    img : np.ndarray [shape=(H, W) or (H, W, 3), dtype=uint8]
    scale : float > 0 or None
        The image's stored scale (``meta["scale"]``); ignored by the thesis path.
    shape : (int, int)
        ``(n_freq, n_time)`` of the CWT the magnitude is combined with.
    thesis_rescale : bool

    Returns
    -------
    np.ndarray [shape=shape, dtype=float64], >= 0
    """
    shape = _check_shape(shape)
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ReconstructionError(f"img must be (H, W) gray or (H, W, 3) RGB; got shape {img.shape}")
    if thesis_rescale:  # MATLAB rescale(): min -> 0, max -> 1; i.e. pixels 0..255 read with scale 1
        lo, span = float(img.min()), float(img.max()) - float(img.min())
        unit255 = (img.astype(np.float32) - lo) * (255.0 / span) if span > 0 else np.zeros(img.shape, np.float32)
        return images.from_image(unit255, 1.0, shape=shape).astype(np.float64)
    scale = _check_scale(scale)
    return images.from_image(img, scale, shape=shape).astype(np.float64)


def image_round_trip(mag, size, *, thesis_rescale=False) -> np.ndarray:
    """``mag`` through an 8-bit image of ``size = (height, width)`` and back to its own shape.

    What a perfect generator's output would cost: resize + 8 bits (+ the thesis's
    rescale when asked). ``size=None`` keeps the magnitude's own shape.
    """
    mag = np.asarray(mag)
    size = mag.shape if size is None else _check_shape(size, "size")
    img, scale = images.to_image(mag, size=size)
    return image_to_magnitude(img, scale, mag.shape, thesis_rescale=thesis_rescale)


# --------------------------------------------------------------------------
# Magnitude + phase -> audio
# --------------------------------------------------------------------------
PHASE_MODES = ("source", "refined", "refined_confident")
#: Bins within this many dB of their frame's strongest bin count as confident (``"refined_confident"``).
CONFIDENT_DB = 20.0


def _check_pair(mag, coefs) -> np.ndarray:
    mag = np.asarray(mag, dtype=np.float64)
    if mag.ndim != 2 or not np.all(np.isfinite(mag)):
        raise ReconstructionError(f"mag must be a finite 2-D array (n_freq, n_time); got shape {mag.shape}")
    if mag.shape != np.shape(coefs):
        raise ReconstructionError(
            f"magnitude shape {mag.shape} differs from the phase CWT's {np.shape(coefs)} "
            "(rows = scales, columns = samples): the phase source must be the VAD-aligned clip of "
            "the length the image was made from (audio.vad_align with the manifest's "
            "align_duration at its sr)")
    return mag


def apply_phase(mag, coefs) -> np.ndarray:
    """``mag · exp(i·angle(coefs))``: complex64 (n_freq, n_time), same shape as both inputs.

    Where ``coefs`` is exactly 0 the phase is taken as 0.
    """
    mag = _check_pair(mag, coefs).astype(np.float32)
    coefs = np.asarray(coefs, dtype=np.complex64)
    out = _with_magnitude(mag, coefs)
    zero = coefs == 0
    if zero.any():
        out[zero] = mag[zero]
    return out


#: Frequency bins whose summed filter power is below this share of the maximum are left out of the
#: least-squares inverse: there the bank barely sees the signal (below ~1 Hz, near Nyquist) and dividing by
#: that power would blow tiny inconsistencies up into clicks. The projection stays orthogonal (onto the
#: consistent coefficients of signals without those bins).
COVERAGE = 1e-2


class ConsistentCWT:
    """The CWT as a frame on the padded clip, with its least-squares (canonical dual) inverse.

    MATLAB's ``cwt`` reflects ``floor(n / 2)`` samples onto each side, multiplies
    the FFT by each scale's filter and keeps the middle ``n`` columns; its ``icwt``
    is Morlet's single-integral formula, *not* the inverse of that map, so
    ``cwt(icwt(C))`` is no projection and Griffin-Lim built on it drifts (the
    issue measured its inconsistency rising from 0.046 to 0.095). Here the
    transform runs on the whole padded length without truncation,
    ``C_k = ifft(ψ_k · fft(y))``, and the inverse is the least-squares one,
    ``Y = Σ_k ψ_k C̃_k / Σ_k ψ_k²`` per frequency bin, so :meth:`project`
    (``W W⁺``) is the orthogonal projection onto consistent coefficients and
    Griffin-Lim's distance to them cannot grow. The middle ``n`` columns of
    :meth:`forward` equal :func:`voxlib.transforms.cwt` of the clip.

    Parameters
    ----------
    n : int
        Clip length in samples.
    wavelet : str
    scales : np.ndarray or None
        The scales of the CWT in use (a subset of MATLAB's default for ``n``,
        e.g. under frequency limits); None: all of them.
    """

    def __init__(self, n, wavelet="amor", scales=None):
        bank, _, default, pad, n_pad = transforms.filter_bank(str(wavelet), int(n), 10, "float32")
        rows = np.arange(default.size)
        if scales is not None:
            scales = np.asarray(scales, dtype=np.float64)
            rows = np.searchsorted(default, scales)
            rows = np.clip(rows, 0, default.size - 1)
            if not np.allclose(default[rows], scales, rtol=1e-6):
                raise ReconstructionError("phase refinement: the CWT's scales are not MATLAB's default grid for "
                                          f"a {n}-sample clip; make the phase CWT with voxlib.transforms.cwt")
        self.n, self.pad, self.n_pad = int(n), int(pad), int(n_pad)
        self.bank = np.ascontiguousarray(bank[rows])
        norm = np.sum(self.bank.astype(np.float64) ** 2, axis=0)
        covered = norm > COVERAGE * norm.max()   # bins the filters cover; the rest is left out (no blow-up)
        self.inv_norm = np.divide(1.0, norm, out=np.zeros_like(norm), where=covered)
        self.band = (int(covered.argmax()), int(covered.size - 1 - covered[::-1].argmax()))  # bins (Hz = bin·sr/n_pad)

    def extend(self, mag):
        """Magnitudes of the middle ``n`` columns, reflected onto the padding as the signal is."""
        return np.pad(np.asarray(mag, dtype=np.float32), ((0, 0), (self.pad, self.pad)), mode="symmetric")

    def forward(self, y_pad):
        """Coefficients ``(n_scales, n_pad)`` of a padded real signal."""
        spec = scipy.fft.rfft(np.asarray(y_pad, dtype=np.float32))
        full = np.zeros((self.bank.shape[0], self.n_pad), dtype=np.complex64)
        full[:, :spec.size] = self.bank * spec
        return scipy.fft.ifft(full, axis=-1, overwrite_x=True, workers=-1)

    def inverse(self, coefs):
        """The real padded signal whose coefficients are closest (least squares) to ``coefs``."""
        spec = scipy.fft.fft(coefs, axis=-1, workers=-1)[:, : self.n_pad // 2 + 1]
        y_spec = np.einsum("kf,kf->f", self.bank, spec) * self.inv_norm
        return scipy.fft.irfft(y_spec, n=self.n_pad).astype(np.float32)

    def pad_signal(self, y):
        return np.pad(np.asarray(y, dtype=np.float32), self.pad, mode="symmetric")

    def middle(self, a):
        return a[..., self.pad: self.pad + self.n]

    def project(self, coefs):
        return self.forward(self.inverse(coefs))


def inconsistency(coefs, cwt_frame) -> float:
    """``‖P c − c‖ / ‖c‖``: how far coefficients are from those of any real signal (0 = consistent).

    ``cwt_frame`` is a :class:`ConsistentCWT`; ``coefs`` are its ``(n_scales, n_pad)`` coefficients.
    """
    c = np.asarray(coefs)
    return float(np.linalg.norm(cwt_frame.project(c) - c) / max(np.linalg.norm(c), 1e-30))


def _with_magnitude(mag, coefs):
    """``mag`` with the phase of ``coefs`` (phase 0 where ``coefs`` is 0), complex64 (internal)."""
    size = np.abs(coefs)
    np.divide(mag, size, out=size, where=size > 0)
    size[~np.isfinite(size)] = 0
    return np.multiply(coefs, size, dtype=np.complex64)


def _refine(mag, phase_tf, *, n_iter, momentum, confident_db, history=None):
    """Griffin-Lim on :class:`ConsistentCWT` from the phase of ``phase_tf``; returns the padded coefficients."""
    _check_pair(mag, phase_tf.coefs)
    if not isinstance(n_iter, (int, np.integer)) or isinstance(n_iter, bool) or n_iter < 0:
        raise ReconstructionError(f"n_iter={n_iter!r}; expected an integer >= 0")
    if not (np.isscalar(momentum) and 0 <= momentum < 1):
        raise ReconstructionError(f"momentum={momentum!r}; expected 0 <= momentum < 1 (0: classic Griffin-Lim, "
                                  "whose inconsistency cannot grow)")
    frame = ConsistentCWT(phase_tf.coefs.shape[1], phase_tf.transform, phase_tf.scales)
    target = frame.extend(mag)
    start = frame.forward(frame.pad_signal(transforms.icwt(phase_tf)))   # the source's phase, padding included
    start[:, frame.pad: frame.pad + frame.n] = phase_tf.coefs           # exactly the source's CWT in the middle
    keep = None
    if confident_db is not None:
        if not (np.isscalar(confident_db) and confident_db > 0):
            raise ReconstructionError(f"confident_db={confident_db!r}; expected a positive number of dB")
        floor = target.max(axis=0, keepdims=True) * np.float32(10 ** (-confident_db / 20))
        keep = target < floor                       # weak bins keep the source's phase
        fixed = _with_magnitude(target, start)
    c = _with_magnitude(target, start)
    previous = None
    for _ in range(int(n_iter)):
        projected = frame.project(c)
        if history is not None:
            history.append(float(np.linalg.norm(projected - c) / max(np.linalg.norm(c), 1e-30)))
        step = projected if previous is None or momentum == 0 else projected + np.float32(momentum) * (projected - previous)
        previous = projected
        c = _with_magnitude(target, step)
        if keep is not None:
            c[keep] = fixed[keep]
    return frame, c


def refine_phase(mag, phase_tf, *, n_iter=16, momentum=0.0, confident_db=None, history=None) -> np.ndarray:
    """Griffin-Lim in the CWT domain from the phase of ``phase_tf``: coefficients with ``mag`` and a
    consistent phase.

    Alternates the projection onto consistent coefficients
    (:class:`ConsistentCWT`, least-squares inverse then forward) and putting
    ``mag`` back. With ``momentum=0`` (classic Griffin-Lim) the inconsistency
    :func:`inconsistency` cannot grow from one iteration to the next;
    ``momentum`` > 0 is the "fast Griffin-Lim" extrapolation (Perraudin et al.
    2013), faster but without that guarantee. ``confident_db`` refines only the
    bins within that many dB of their frame's strongest bin and keeps the
    source's phase on the rest (``"refined_confident"``: on a blurred generated
    magnitude, free phases in the weak bins wash the voicing out).

    Parameters
    ----------
    mag : np.ndarray [shape=(n_freq, n_time)], >= 0
    phase_tf : voxlib.transforms.TimeFrequency
        The CWT whose phase starts the iterations (the source's).
    n_iter : int >= 0
    momentum : float in [0, 1)
    confident_db : float > 0 or None
    history : list or None
        If given, gets the inconsistency before each iteration's projection.

    Returns
    -------
    np.ndarray [shape=(n_freq, n_time), complex64]
    """
    frame, c = _refine(mag, phase_tf, n_iter=n_iter, momentum=momentum, confident_db=confident_db,
                       history=history)
    return frame.middle(c)


def reconstruct(mag, phase_tf, *, phase="source", n_iter=16, momentum=0.0, confident_db=CONFIDENT_DB) -> np.ndarray:
    """CWT magnitudes + the phase of a reference CWT → waveform.

    Parameters
    ----------
    mag : np.ndarray [shape=(n_freq, n_time)], >= 0
        Magnitudes, e.g. from :func:`image_to_magnitude`.
    phase_tf : voxlib.transforms.TimeFrequency
        The CWT (``transforms.cwt``) whose phase is borrowed; its wavelet,
        rate and mean are used.
    phase : {"source", "refined", "refined_confident"}
        "source": the phase as it is, inverted by MATLAB's ``icwt`` (the
        thesis); "refined": :func:`refine_phase` on every bin; "refined_confident":
        only on the bins within ``confident_db`` of their frame's maximum. The
        refined modes are inverted by the least-squares inverse the refinement
        is consistent with.
    n_iter : int >= 0
    momentum : float in [0, 1)
    confident_db : float > 0

    Returns
    -------
    np.ndarray [shape=(n_time,), dtype=float32]
        At ``phase_tf.sr``.
    """
    if phase not in PHASE_MODES:
        raise ReconstructionError(f"phase={phase!r}; allowed: {', '.join(PHASE_MODES)}")
    if not isinstance(phase_tf, transforms.TimeFrequency) or phase_tf.scales is None:
        raise ReconstructionError("phase_tf must be a CWT TimeFrequency (voxlib.transforms.cwt)")
    if phase == "source":
        coefs = apply_phase(mag, phase_tf.coefs)
        return transforms.icwt(coefs, phase_tf.transform, mean=phase_tf.mean).astype(np.float32)
    frame, c = _refine(mag, phase_tf, n_iter=n_iter, momentum=momentum,
                       confident_db=confident_db if phase == "refined_confident" else None)
    return (frame.middle(frame.inverse(c)) + np.float32(phase_tf.mean)).astype(np.float32)


def oracle(y_target, sr, *, y_phase=None, image_size=None, thesis_rescale=False, wavelet="amor",
           phase="source", n_iter=16) -> np.ndarray:
    """The pipeline fed with the target's own magnitude: what a perfect generator would give.

    Parameters
    ----------
    y_target : np.ndarray [shape=(n,)]
        VAD-aligned target clip.
    sr : int > 0, Hz
    y_phase : np.ndarray [shape=(n,)] or None
        Clip whose phase is borrowed: ``None`` = the target's own (≈ perfect),
        the aligned source = the best this method can do with a perfect image.
    image_size : (int, int) or None
        ``(height, width)`` of the 8-bit image the magnitude passes through;
        ``None`` skips the image (exact float magnitude: ``icwt(cwt(x))``).
    thesis_rescale : bool
        Invert the image the thesis's way (through an image of ``image_size``, or of
        the CWT's own shape when ``None``).
    wavelet : str
        CWT wavelet (the thesis: ``"amor"``).
    phase, n_iter :
        As in :func:`reconstruct`.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
    """
    tf_target = transforms.cwt(y_target, sr, wavelet)
    mag = np.abs(tf_target.coefs)
    if image_size is not None or thesis_rescale:
        mag = image_round_trip(mag, image_size, thesis_rescale=thesis_rescale)
    tf_phase = tf_target if y_phase is None else transforms.cwt(y_phase, sr, wavelet)
    return reconstruct(mag, tf_phase, phase=phase, n_iter=n_iter)


def _quality(reference, estimate, sr) -> dict:
    """The same-timing measures of one reconstruction against its reference (internal)."""
    return {
        "snr_db": metrics.snr(reference, estimate),
        "spectral_convergence": metrics.spectral_convergence(reference, estimate),
        "mcd_db": metrics.mel_cepstral_distortion(reference, estimate, sr, align="none"),
        "lsd_db": metrics.log_spectral_distance(reference, estimate),
        "rms_ratio_db": metrics.rms_ratio_db(reference, estimate),
    }


def quality_vs_width(y, sr, *, widths=(64, 128, 256, 512, 1024, None), height=None,
                     wavelet="amor") -> pd.DataFrame:
    """Oracle quality (own magnitude, own phase) through 8-bit images of several widths.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        A clip (VAD-aligned, as the images are made).
    sr : int > 0, Hz
    widths : sequence of int or None
        Image widths in columns; ``None`` = full time resolution (one column per sample).
    height : int or None
        Image height; ``None`` = one row per CWT scale.

    Returns
    -------
    pd.DataFrame
        One row per width plus a first row ``image="none"`` (float magnitude, the
        ``icwt(cwt(x))`` ceiling), columns ``image, height, width, samples_per_column,
        snr_db, spectral_convergence, mcd_db, lsd_db, rms_ratio_db``.
    """
    tf = transforms.cwt(y, sr, wavelet)
    mag = np.abs(tf.coefs)
    n_freq, n_time = mag.shape
    out = []
    for w in (0, *widths):  # 0: no image at all
        size = (n_freq, n_time) if w == 0 else (height or n_freq, w or n_time)
        est = reconstruct(mag if w == 0 else image_round_trip(mag, size), tf)
        out.append({"image": "none" if w == 0 else "8-bit", "height": size[0], "width": size[1],
                    "samples_per_column": n_time / size[1], **_quality(y, est, sr)})
    return pd.DataFrame(out)
