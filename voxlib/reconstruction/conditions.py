"""Which clips each generated sentence becomes: notebook 04's manifest → the conditions, the controls, the WAVs.

A scalogram row is inverted with the wavelet notebook 04 made its images with (the generated
manifest's ``transform`` column) and the source's phase (``synthesis="source_phase"``); an STFT
image is refused, since it cannot be inverted with the inverse CWT. An envelope row
(``transform == "world_envelope"``, :data:`voxlib.vocoder.ENVELOPE_IMAGE`) becomes sound through
WORLD or the envelope-ratio filter (:mod:`voxlib.reconstruction.synthesis`), with its own ceilings
(:data:`ENVELOPE_CONDITIONS`).

- :func:`load_generated`, :func:`wavelet_of`, :func:`load_aligned`, :func:`representation_of`: notebook 04's
  generated manifest, checked, and its clips aligned as the images were made;
- :data:`CONDITIONS`: every clip made of one sentence (converted, baselines, oracles, controls);
  :func:`write_reconstructions` writes them all as WAVs, :func:`width_study` runs
  :func:`quality_vs_width` on the manifest's clips;
- :func:`noise_frames`, :func:`noise_floor_db`, :func:`channel_control`: the source's speech carrying the
  target recording's channel, a control (condition ``control_channel``) beside the flat image
  (``null_flat``).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.ndimage
import scipy.signal
from tqdm.auto import tqdm

from voxlib import audio, images, transforms, vocoder
from voxlib.checks import Options, check_params
from voxlib.datasets import load_manifest, write_manifest
from voxlib.gan import GENERATED_REQUIRED
from voxlib.reconstruction import content
from voxlib.reconstruction.errors import PRODUCERS, ReconstructionError
from voxlib.reconstruction.phase import (PHASE_MODES, _check_scale, image_round_trip, image_to_magnitude,
                                         quality_vs_width, reconstruct)
from voxlib.reconstruction.synthesis import (SYNTHESIS_MODES, AnalysedClip, SynthesisSettings, SynthesisStats,
                                             chosen_synthesis, copy_synthesis, read_envelope, render)

__all__ = [
    "DEFAULT_TRANSFORM",
    "CONDITIONS",
    "SAME_TIMING",
    "PHASE_CONDITIONS",
    "ENVELOPE_CONDITIONS",
    "SYNTHESES",
    "DIGITAL_SILENCE_DB",
    "QUIET_SHARE",
    "noise_frames",
    "noise_floor_db",
    "channel_control",
    "load_aligned",
    "wavelet_of",
    "load_generated",
    "frequency_limits_of",
    "representation_of",
    "write_reconstructions",
    "width_study",
]

#: Transform assumed for a generated manifest written before it had a ``transform`` column:
#: notebook 04's default (and the only transform it used then).
DEFAULT_TRANSFORM = "amor"
#: The CWT transforms of :data:`voxlib.transforms.TRANSFORMS`: the only images this module inverts.
_CWT_TRANSFORMS = tuple(n for n, spec in transforms.TRANSFORMS.items() if spec.kind == "cwt")

# --------------------------------------------------------------------------
# The channel control: the source's speech carrying the target recording's channel
# --------------------------------------------------------------------------
#: Frames quieter than this (dBFS) are digital silence (VAD-alignment padding), not a recording's noise.
DIGITAL_SILENCE_DB = -100.0
#: Share of a recording's frames taken as its background when no frame fails the speech rule: a
#: convention (minimum statistics), chosen by hand.
QUIET_SHARE = 0.1


def _frames_db(y, sr, frame_seconds=0.025, hop_seconds=0.010) -> tuple[np.ndarray, int, int]:
    """Frame RMS levels (dBFS) with speech_span's frame and hop (internal)."""
    frame, hop = max(1, int(round(frame_seconds * sr))), max(1, int(round(hop_seconds * sr)))
    return audio.frame_rms_db(np.asarray(y, np.float32), frame, hop), frame, hop


def noise_frames(y, sr, *, top_db=30.0) -> np.ndarray:
    """Which frames of ``y`` are the recording's background, not speech and not digital silence.

    Frames of 25 ms every 10 ms (as :func:`voxlib.audio.speech_span`); a frame is
    background when it fails speech_span's speech rule (within ``top_db`` of the
    loudest frame, above −55 dBFS) and is louder than :data:`DIGITAL_SILENCE_DB`
    (the zeros VAD alignment pads with belong to no channel). A recording with
    speech in every frame (a clip cut tight) falls back on its quietest
    :data:`QUIET_SHARE` of frames.

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=bool]
    """
    db, _, _ = _frames_db(y, sr)
    sound = db > DIGITAL_SILENCE_DB
    quiet = ~audio.speech_mask(db, top_db=top_db) & sound
    if not quiet.any() and sound.any():  # speech throughout: the quietest tenth of the frames
        quiet = sound & (db <= np.quantile(db[sound], QUIET_SHARE))
    return quiet


def _mean_power(db) -> float:
    """Mean power of frames given in dB (internal)."""
    return float(np.mean(10 ** (np.asarray(db) / 10)))


def noise_floor_db(y, sr, *, top_db=30.0) -> float:
    """Level of a recording's background: mean power of its :func:`noise_frames`, dBFS.

    NaN when the clip has no background frame.
    """
    db, _, _ = _frames_db(y, sr)
    quiet = noise_frames(y, sr, top_db=top_db)
    return float(10 * np.log10(_mean_power(db[quiet]))) if quiet.any() else float("nan")


def _frame_samples(y, mask, frame, hop) -> np.ndarray:
    """The samples of the frames selected by ``mask``, frame after frame (internal)."""
    y = np.pad(np.asarray(y, np.float64), (0, max(0, frame - len(y))))
    return np.concatenate([y[i * hop:i * hop + frame] for i in np.flatnonzero(mask)])


def _long_term_spectrum(y, sr, n_fft) -> tuple[np.ndarray, np.ndarray]:
    """(freqs, power) Welch average spectrum of ``y`` (internal)."""
    return scipy.signal.welch(y, fs=sr, window="hann", nperseg=min(n_fft, len(y)), nfft=n_fft)


def channel_control(y_source, y_target, sr, *, top_db=30.0, n_fft=512, smooth_hz=1000.0,
                    max_gain_db=20.0, numtaps=513, seed=0) -> np.ndarray:
    """The source's speech as if recorded on the target recording's channel: a control.

    A judge of the cloned voice must reject it: it has the target's background and
    spectral colour but the source speaker's voice, so a judge that accepts it
    hears the channel, not the voice.

    1. **Tilt.** The long-term average spectra (Welch, Hann, ``n_fft``) of the
       speech frames of both clips (speech_span's rule, ``top_db``) give a gain
       ``target / source`` in dB, smoothed over ``smooth_hz`` and clipped to
       ``±max_gain_db``; it is applied to ``y_source`` as a linear-phase FIR of
       ``numtaps`` taps centred on each sample (no delay).
    2. **Background.** Noise with the long-term spectrum of the target's
       :func:`noise_frames` is added to the whole clip, at the power that brings
       the result's background to the target's :func:`noise_floor_db` (the
       source's own, quieter background counted).

    Parameters
    ----------
    y_source : np.ndarray [shape=(n,)]
        The source recording whose speech is kept (its timing and samples, filtered).
    y_target : np.ndarray [shape=(m,)]
        A recording of the target (the same sentence in notebook 05), with its
        leading/trailing background: not a VAD-aligned clip, whose padding is zeros.
    sr : int > 0, Hz
        Rate of both.
    top_db : float > 0
        Speech rule of :func:`voxlib.audio.speech_span`.
    n_fft : int > 0
        Spectrum resolution, samples.
    smooth_hz : float > 0
        Width of the moving average over the gain in dB, Hz. It must exceed the
        spacing of the formants (about 1 kHz for an adult vocal tract) so that the
        gain carries the channel's colour, not the target's average formants, which
        are part of the voice. (While building it, on an earlier split's 10 held-out
        sentences, a 300 Hz smoothing let the verifier accept 2 of 10 controls and
        1000 Hz none; on the run's split of the current quick profile 1000 Hz lets it
        accept 2 of 10. The value rests on the formant argument, not on that look.)
    max_gain_db : float > 0
    numtaps : odd int > 0
    seed : int
        Seeds the noise.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]

    Raises
    ------
    voxlib.audio.NoSpeechError
        When either clip has no speech.
    """
    if not (isinstance(numtaps, (int, np.integer)) and numtaps > 0 and numtaps % 2 == 1):
        raise ReconstructionError(f"numtaps={numtaps!r}; expected an odd positive int (a zero-delay FIR)")
    y_source, y_target = np.asarray(y_source, np.float64), np.asarray(y_target, np.float64)
    for y in (y_source, y_target):
        audio.speech_span(y, sr, top_db=top_db)  # NoSpeechError for a silent clip
    (db_s, frame, hop), (db_t, _, _) = _frames_db(y_source, sr), _frames_db(y_target, sr)
    quiet_t = noise_frames(y_target, sr, top_db=top_db)
    if not quiet_t.any():
        raise ReconstructionError("y_target is digital silence throughout: pass the target's recording "
                                  "as loaded (audio.load)")
    speech_s, speech_t = audio.speech_mask(db_s, top_db=top_db), audio.speech_mask(db_t, top_db=top_db)
    freqs, p_t = _long_term_spectrum(_frame_samples(y_target, speech_t, frame, hop), sr, n_fft)
    _, p_s = _long_term_spectrum(_frame_samples(y_source, speech_s, frame, hop), sr, n_fft)
    gain_db = 10 * np.log10(np.maximum(p_t, 1e-20) / np.maximum(p_s, 1e-20))
    width = max(1, int(round(smooth_hz / (freqs[1] - freqs[0]))))
    gain_db = np.clip(scipy.ndimage.uniform_filter1d(gain_db, width, mode="nearest"), -max_gain_db, max_gain_db)
    fir = scipy.signal.firwin2(int(numtaps), freqs, 10 ** (gain_db / 20), fs=sr)
    tilted = scipy.signal.fftconvolve(y_source, fir, mode="same")
    db_tilted, _, _ = _frames_db(tilted, sr)  # then the target's speech level, hence its speech-to-noise ratio
    tilted *= np.sqrt(_mean_power(db_t[speech_t]) / _mean_power(db_tilted[audio.speech_mask(db_tilted, top_db=top_db)]))
    # background: the target's noise spectrum, at the power missing from the tilted source's background
    noise_t = _frame_samples(y_target, quiet_t, frame, hop)
    _, p_noise = _long_term_spectrum(noise_t, sr, n_fft)
    white = np.fft.rfft(np.random.default_rng(seed).standard_normal(len(y_source)))
    shaped = np.fft.irfft(white * np.sqrt(np.interp(np.fft.rfftfreq(len(y_source), 1 / sr), freqs, p_noise)),
                          n=len(y_source))
    have = np.nan_to_num(10 ** (noise_floor_db(tilted, sr, top_db=top_db) / 10))  # 0 without background
    want = max(10 ** (noise_floor_db(y_target, sr, top_db=top_db) / 10) - have, 0.0)
    out = tilted + shaped * np.sqrt(want / max(np.mean(shaped ** 2), 1e-30))
    return out.astype(np.float32)


# --------------------------------------------------------------------------
# Files: notebook 04's generated manifest -> WAVs
# --------------------------------------------------------------------------
def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def load_aligned(path, sr, *, duration=3.0, lead=0.5, what="source", utterance=None,
                 min_duration=0.1) -> np.ndarray:
    """Load one clip at ``sr`` and VAD-align it as the images were made (``audio.vad_align``).

    ``duration=None`` returns the recording as loaded, unaligned. Raises
    :class:`ReconstructionError` when ``path`` is empty or missing (naming
    the utterance, the column and notebook 04), and ``audio.AudioTooShortError``
    when the recording is shorter than ``min_duration`` seconds.
    """
    label = f"utterance {utterance!r}: " if utterance is not None else ""
    if _missing(path) or not Path(str(path)).is_file():
        raise ReconstructionError(
            f"{label}no {what} audio for this image ({what}_audio_path = {path!r} "
            f"{'is empty' if _missing(path) else 'does not exist'}). The source's phase is needed to "
            f"make sound; {PRODUCERS['generated']} with {what}_audio_path filled in (re-run it, or "
            f"write the column yourself).")
    y, sr = audio.load(path, sr=int(sr), min_duration=min_duration)
    if duration is None:
        return y
    return audio.vad_align(y, sr, duration=float(duration), lead=float(lead), path=path)


def wavelet_of(transform, *, where="generated manifest") -> str:
    """The CWT wavelet of a transform name of the generated manifest's ``transform`` column.

    Raises :class:`ReconstructionError` for an unknown name, and for an STFT
    (``hamming``, ``blackman``, ``kaiser``), whose images cannot be inverted with
    the inverse CWT (and hold two-sided STFT magnitudes without the STFT's phase).
    """
    if transform not in transforms.TRANSFORMS:
        raise ReconstructionError(
            f"{where}: transform={transform!r} is not a voxlib transform (one of "
            f"{', '.join(transforms.TRANSFORMS)}); {PRODUCERS['generated']} with a transform column.")
    spec = transforms.TRANSFORMS[transform]
    if spec.kind != "cwt":
        raise ReconstructionError(
            f"{where}: transform={transform!r} is an STFT ({spec.description}). Its images cannot be "
            "turned back into sound here: an STFT image cannot be inverted with the inverse CWT, and "
            "these images are two-sided STFT magnitudes without the STFT's phase, so no phase of the "
            f"source's CWT fits them. Run notebook 04 with transform set to a CWT "
            f"({', '.join(repr(n) for n in _CWT_TRANSFORMS)}), then this notebook on its output.")
    return spec.settings["wavelet"]


def _with_transform(df, where) -> pd.DataFrame:
    """``df`` with a validated ``transform`` column; a manifest made before the column
    existed (or rows left blank) is read as :data:`DEFAULT_TRANSFORM` with a warning (internal)."""
    blank = (pd.Series(True, index=df.index) if "transform" not in df.columns
             else df["transform"].map(_missing))
    if blank.any():
        warnings.warn(
            f"{where}: no transform recorded for {int(blank.sum())} of {len(df)} generated images "
            f"(a manifest written before notebook 04 stored its wavelet); reading them as "
            f"transform={DEFAULT_TRANSFORM!r}, notebook 04's default. Re-run notebook 04 to record "
            "the transform it used.", UserWarning, stacklevel=3)
        df = df.assign(transform=df["transform"].where(~blank, DEFAULT_TRANSFORM)
                       if "transform" in df.columns else DEFAULT_TRANSFORM)
    for name, rows in df.groupby("transform", sort=False):
        if name == vocoder.ENVELOPE_IMAGE:   # notebook 04's envelope path: no wavelet
            continue
        wavelet_of(name, where=f"{where} (utterances {', '.join(map(str, rows['utterance'].head(3)))})")
    return df


def load_generated(path, *, split=None) -> pd.DataFrame:
    """Read notebook 04's ``generated/manifest.csv`` (paths made absolute), checking its columns.

    Every column of :data:`voxlib.gan.GENERATED_COLUMNS` is required except
    ``transform``: a manifest without it (written before it existed) is read as
    :data:`DEFAULT_TRANSFORM` with a warning naming the file. A transform that is
    neither a CWT nor :data:`voxlib.vocoder.ENVELOPE_IMAGE` (envelope images) raises
    :class:`ReconstructionError` (see :func:`wavelet_of`).
    ``split`` keeps one split (``"test"`` = held-out sentences) when given.
    """
    path = Path(path)
    if not path.is_file():
        raise ReconstructionError(f"{path}: no generated manifest. {PRODUCERS['generated']}; run it first.")
    try:
        df = load_manifest(path, required=[c for c in GENERATED_REQUIRED if c != "transform"])
    except (KeyError, ValueError) as err:
        raise ReconstructionError(f"{path}: {err}. {PRODUCERS['generated']}.") from err
    if split is not None and "split" in df.columns:
        df = df[df["split"] == split]
        if df.empty:
            raise ReconstructionError(f"{path}: no rows with split == {split!r}")
    return _with_transform(df.reset_index(drop=True), str(path))


def _as_generated(generated) -> pd.DataFrame:
    """A generated manifest given as a path or a table, with its ``transform`` checked (internal)."""
    if isinstance(generated, pd.DataFrame):
        return _with_transform(generated, "the generated table passed in")
    return load_generated(generated)


def _read_scaled_image(path, fallback_scale=None):
    """(img, scale) of a PNG: its own stored scale, else ``fallback_scale`` (the manifest's) (internal)."""
    if _missing(path) or not Path(str(path)).is_file():
        raise ReconstructionError(f"image {path!r} does not exist. {PRODUCERS['generated']}.")
    fallback = None if _missing(fallback_scale) else float(fallback_scale)
    try:
        img, meta = images.load_image(path, fallback_scale=fallback)
    except ValueError as err:
        raise ReconstructionError(f"image {path}: no stored scale and no scale column to fall back on "
                                  f"({err}). {PRODUCERS['image']}.") from err
    scale = meta.get("scale")
    return img, _check_scale(fallback if _missing(scale) else float(scale), where=str(path))


CONDITIONS = {  # name -> what the row is, for the table and the text
    "source": "real source speech, unconverted (the baseline to beat)",
    "source_pitch": "real source speech with its F0 moved to the target's range (PSOLA), nothing else changed",
    "converted": "generated image: a scalogram through its stored scale and the source phase (of the "
                 "pitch-converted source, if converted), or an envelope through the chosen synthesis",
    "converted_refined": "generated image, stored scale, phase refined on every bin",
    "converted_confident": "generated image, stored scale, phase refined only where the magnitude is confident",
    "converted_thesis": "generated image, thesis rescale to [0, 1], source phase",
    "ridge": "ridge-regression image (the non-GAN baseline on the same pairs), the chosen phase or synthesis",
    "gmm": "joint-density GMM envelope with global variance (the classic parallel-VC baseline on the same "
           "pairs), the chosen synthesis",
    "null_flat": "generated image flattened to its mean level, the chosen phase or synthesis (a generator that "
                 "drew nothing)",
    "control_channel": "real source speech carrying the target recording's channel (its background noise and "
                       "spectral tilt, channel_control): a control every judge must reject",
    "control_scrambled": "the target's voice saying nothing: its clip's speech replaced by 0.1 s chunks of its other "
                         "sentences in the manifest, in random order (content.stitch): a control the content check "
                         "must reject (a verifier may accept it)",
    "oracle_source_phase": "target's own image (time-aligned to the source), source phase",
    "oracle_refined": "target's own image (time-aligned to the source), the chosen phase (the best this method "
                      "can do)",
    "oracle_world": "target's true envelope (its envelope image, warped to the source's timeline) through WORLD "
                    "with the chosen settings (what a perfect generator reaches with this image recipe)",
    "oracle_filter": "target's true envelope (its envelope image, warped to the source's timeline) through the "
                     "envelope-ratio filter",
    "world_copy": "real target speech analysed and re-synthesised by WORLD with its own F0 and aperiodicity (the "
                  "vocoder's ceiling)",
    "oracle_own": "target's own image, target phase (checks the pipeline)",
    "target": "real target speech (the reference)",
}
SAME_TIMING = ("oracle_own", "target")  # conditions sharing the target's timing and phase
#: The converted condition each phase mode makes (notebook 05's ``phase_mode`` picks the verdict's).
PHASE_CONDITIONS = {"source": "converted", "refined": "converted_refined",
                    "refined_confident": "converted_confident"}
#: The conditions an envelope row makes (``ridge`` and ``gmm`` when their manifests are given;
#: ``source_pitch`` when notebook 04 converted the pitch).
ENVELOPE_CONDITIONS = ("source", "source_pitch", "converted", "ridge", "gmm", "null_flat", "control_channel",
                       "control_scrambled", "oracle_world", "oracle_filter", "world_copy", "target")
#: How a generated image becomes sound: the inverse CWT with the source's phase (scalogram rows), or
#: :data:`voxlib.reconstruction.synthesis.SYNTHESIS_MODES` (envelope rows).
SYNTHESES = ("source_phase", *SYNTHESIS_MODES)


def _flag(value) -> bool:
    return not _missing(value) and str(value).strip().lower() in ("true", "1", "yes")


def _row_clips(row) -> dict:
    """The clips of one generated row (internal): ``source`` (the real source speech, pitch unchanged),
    ``target`` and ``phase`` (the clip the generator's input was made from: the pitch-converted source,
    else the source). Notebook 04's clips (``clip_aligned``) are read as they are; an older manifest's
    recordings are VAD-aligned as its images were."""
    sr, utt = int(row["sr"]), row["utterance"]
    if _flag(row.get("clip_aligned")):
        plain = row.get("source_plain_path")
        plain = row["source_audio_path"] if _missing(plain) else plain
        return {"source": load_aligned(plain, sr, what="source", utterance=utt, duration=None),
                "target": load_aligned(row["target_audio_path"], sr, what="target", utterance=utt, duration=None),
                "phase": load_aligned(row["source_audio_path"], sr, what="source", utterance=utt, duration=None)}
    align = {"duration": float(row["align_duration"]), "lead": float(row["align_lead"])}
    y_src, y_tgt = (load_aligned(row[f"{who}_audio_path"], sr, what=who, utterance=utt, **align)
                    for who in ("source", "target"))
    return {"source": y_src, "target": y_tgt, "phase": y_src}


def frequency_limits_of(row):
    """The CWT band ``(f_lo, f_hi)`` a generated row's images were made with, or None (MATLAB's range)."""
    lo, hi = row.get("f_lo"), row.get("f_hi")
    return None if _missing(lo) or _missing(hi) else (float(lo), float(hi))


def _row_cwt(y, row, wavelet):
    band = frequency_limits_of(row)
    return transforms.cwt(y, int(row["sr"]), wavelet, **({} if band is None else {"frequency_limits": band}))


def _target_magnitude(row, tf_tgt, image_shape, shape) -> np.ndarray:
    """The target's own image as magnitudes: its stored image, else made the notebook-01 way (internal)."""
    timg_path = row.get("target_image_path")
    if not _missing(timg_path) and Path(str(timg_path)).is_file():
        return _image_magnitude(timg_path, None, shape)
    return image_round_trip(np.abs(tf_tgt.coefs), image_shape)


def _channel_row(row) -> np.ndarray:
    """The row's :func:`channel_control`: made from the two recordings as loaded, then VAD-aligned
    like every other clip; the noise is seeded by the utterance id (internal)."""
    sr = int(row["sr"])
    original = {who: row.get(f"{who}_original_path") for who in ("source", "target")}
    loaded = [load_aligned(row[f"{who}_audio_path"] if _missing(original[who]) else original[who], sr, what=who,
                           utterance=row["utterance"], duration=None)
              for who in ("source", "target")]
    control = channel_control(*loaded, sr, seed=zlib.crc32(str(row["utterance"]).encode()))
    return audio.vad_align(control, sr, duration=float(row["align_duration"]), lead=float(row["align_lead"]))


def _real_recipes(row, clips, pool=None) -> dict:
    """The conditions made of real recordings, the same for every representation (internal): ``source``,
    ``target``, the two controls (``control_scrambled`` only with a ``pool`` of the target's other sentences'
    clips), and ``source_pitch`` when notebook 04 converted the pitch."""
    recipes = {"source": lambda: clips["source"], "target": lambda: clips["target"],
               "control_channel": lambda: _channel_row(row)}
    if pool:
        recipes["control_scrambled"] = lambda: content.stitch(pool, clips["target"], int(row["sr"]),
                                                              seed=zlib.crc32(str(row["utterance"]).encode()))
    if str(row.get("pitch_mode", "")) == "convert":   # the pitch-converted source clip itself
        recipes["source_pitch"] = lambda: clips["phase"]
    return recipes


def _is_envelope(row) -> bool:
    return str(row["transform"]) == vocoder.ENVELOPE_IMAGE


def _envelope_meta(row) -> dict:
    """Envelope-image metadata to fall back on for images that lack it: the row's source envelope image's,
    and the manifest's ``scale`` (internal)."""
    meta = {} if _missing(row.get("scale")) else {"scale": float(row["scale"])}
    path = row.get("source_image_path")
    if not _missing(path) and Path(str(path)).is_file():
        meta.update(images.load_image(path, fallback_scale=meta.get("scale", 1.0))[1])
    return meta


class _EnvelopeRow:
    """One envelope row's clips, its WORLD analyses (each made once, when first needed) and its images made
    into sound (internal)."""

    def __init__(self, row, statistics):
        self.row, self.statistics = row, statistics
        self.sr, self.n_frames = int(row["sr"]), int(row["n_time"])
        self.clips = _row_clips(row)
        self.source = AnalysedClip(self.clips["source"], self.sr)
        self.pitched = AnalysedClip(self.clips["phase"], self.sr)
        self.fallback = _envelope_meta(row)

    def make(self, path, settings, *, flat=False) -> np.ndarray:
        """The envelope image at ``path`` (flattened to its mean level with ``flat``) through ``settings``."""
        envelope = read_envelope(path, sr=self.sr, n_frames=self.n_frames, fallback_meta=self.fallback, flat=flat)
        return render(envelope, self.statistics, settings, source=self.source, pitched=self.pitched)


def _envelope_row(row, *, settings, statistics, baselines=None, conditions=None, pool=None) -> dict:
    """All conditions of one envelope row (:data:`ENVELOPE_CONDITIONS`) as signals (internal).

    ``settings`` is the chosen synthesis (the converted envelope, the baselines, the flat control and
    ``oracle_world`` go through it; ``oracle_world`` always by WORLD and ``oracle_filter`` by the filter,
    with its other settings)."""
    made = _EnvelopeRow(row, statistics)

    def through(mode):
        return settings if settings.mode == mode else dataclasses.replace(settings, mode=mode)

    recipes = {**_real_recipes(row, made.clips, pool), "converted": lambda: made.make(row["path"], settings),
               "null_flat": lambda: made.make(row["path"], settings, flat=True),
               "world_copy": lambda: copy_synthesis(AnalysedClip(made.clips["target"], made.sr)),
               "oracle_world": lambda: made.make(row["target_image_path"], through("world")),
               "oracle_filter": lambda: made.make(row["target_image_path"], through("filter"))}
    for name, path in (baselines or {}).items():   # ridge, gmm: their envelope images, the same synthesis
        recipes[name] = functools.partial(made.make, path, settings)
    wanted = CONDITIONS if conditions is None else set(conditions)
    return {c: recipes[c]() for c in CONDITIONS if c in recipes and c in wanted}


def _reconstruct_row(row, *, phase, n_iter, modes=None, baselines=None, conditions=None, synthesis=None,
                     statistics=None, pool=None) -> dict:
    """All conditions of one generated row as signals (internal).

    An envelope row goes to :func:`_envelope_row` with ``synthesis`` (a :class:`SynthesisSettings`) and
    ``statistics``. A scalogram row is inverted with its wavelet and band: ``phase`` is the chosen mode
    (used for the ridge image, the flat control and ``oracle_refined``); ``modes`` the phase modes the
    generated image is reconstructed with (default: just ``phase``; ``"source"`` always). ``baselines``
    maps a baseline condition (``ridge``, ``gmm``) to its image of the row; ``conditions`` the conditions
    to make (default: all the row has; only those are computed); ``pool`` the target's clips of the other
    sentences, for ``control_scrambled``."""
    if _is_envelope(row):
        return _envelope_row(row, settings=synthesis, statistics=statistics, baselines=baselines,
                             conditions=conditions, pool=pool)
    wavelet = wavelet_of(row["transform"], where=f"utterance {row['utterance']!r}")
    clips = _row_clips(row)
    tf_src = _row_cwt(clips["phase"], row, wavelet)
    img, scale = _read_scaled_image(row["path"], row.get("scale"))
    shape, image_shape = tf_src.coefs.shape, np.asarray(img).shape[:2]
    mag = image_to_magnitude(img, scale, shape)

    def make(m, mode):
        return reconstruct(m, tf_src, phase=mode, n_iter=n_iter)

    @functools.cache
    def target():  # the target's CWT and its image as magnitudes, for the oracles
        tf_tgt = _row_cwt(clips["target"], row, wavelet)
        return tf_tgt, _target_magnitude(row, tf_tgt, image_shape, shape)

    recipes = {**_real_recipes(row, clips, pool),
               "converted_thesis": lambda: reconstruct(image_to_magnitude(img, scale, shape, thesis_rescale=True),
                                                       tf_src),
               "null_flat": lambda: make(np.full(shape, mag.mean()), phase),
               "oracle_source_phase": lambda: make(target()[1], "source"),
               "oracle_own": lambda: _own_oracle(row, *target(), image_shape)}
    for mode in dict.fromkeys(["source", phase, *(modes or ())]):
        recipes[PHASE_CONDITIONS[mode]] = functools.partial(make, mag, mode)
    ridge_path = (baselines or {}).get("ridge")
    if ridge_path is not None:   # the ridge baseline's image, with the chosen phase
        recipes["ridge"] = lambda: make(_image_magnitude(ridge_path, row.get("scale"), shape), phase)
    if phase != "source":
        recipes["oracle_refined"] = lambda: make(target()[1], phase)
    wanted = CONDITIONS if conditions is None else set(conditions)
    return {c: recipes[c]() for c in CONDITIONS if c in recipes and c in wanted}


def _image_magnitude(path, fallback_scale, shape) -> np.ndarray:
    """The image at ``path`` as magnitudes of ``shape`` (internal)."""
    return image_to_magnitude(*_read_scaled_image(path, fallback_scale), shape)


def _own_oracle(row, tf_tgt, mag_t, image_shape) -> np.ndarray:
    """``oracle_own``: the target's image with the target's own phase (internal). Notebook 04's target
    image is warped onto the source's timeline, so for its clips the target's own timing is imaged here."""
    own = image_round_trip(np.abs(tf_tgt.coefs), image_shape) if _flag(row.get("clip_aligned")) else mag_t
    return reconstruct(own, tf_tgt)


def _check_modes(modes, *, phase="source") -> None:
    """Raise unless ``phase`` and every mode of ``modes`` is one of :data:`PHASE_MODES` (internal)."""
    for name, mode in [("phase", phase)] + [("modes", m) for m in (modes or ())]:
        if mode not in PHASE_MODES:
            raise ReconstructionError(f"{name}={mode!r}; allowed: {', '.join(PHASE_MODES)}")


def _write_row(row, signals, out_dir, overwrite) -> list:
    """Write one row's signals as WAVs; their rows of ``reconstructions.csv`` (internal)."""
    rows = []
    for condition, y in signals.items():
        path = out_dir / "wav" / f"{row['utterance']}__{condition}.wav"
        peak = float(np.max(np.abs(y)))
        audio.write_wav(path, y / peak if peak > 1 else y, int(row["sr"]), overwrite=overwrite)
        rows.append({"utterance": row["utterance"], "split": row.get("split", ""),
                     "source_speaker": row.get("source_speaker", ""),
                     "target_speaker": row.get("target_speaker", ""), "condition": condition,
                     "path": path, "sr": int(row["sr"]), "gain": max(peak, 1.0)})
    return rows


def representation_of(generated) -> str:
    """``"envelope"`` when every row of a generated manifest is an envelope image
    (:data:`voxlib.vocoder.ENVELOPE_IMAGE`), ``"scalogram"`` when none is; a mixed manifest is refused."""
    generated = _as_generated(generated)
    envelope = generated["transform"].astype(str) == vocoder.ENVELOPE_IMAGE
    if envelope.any() and not envelope.all():
        raise ReconstructionError(f"the generated manifest mixes envelope images ({int(envelope.sum())} rows) and "
                                  f"scalograms ({int((~envelope).sum())}); {PRODUCERS['generated']} with one "
                                  "representation per run")
    return "envelope" if envelope.all() and len(generated) else "scalogram"


def _resolve_synthesis(synthesis, representation, out_dir):
    """``synthesis`` checked against the rows' representation: ``"source_phase"`` for scalograms, a
    :class:`SynthesisSettings` for envelopes (``None``: the one ``out_dir`` chose, else the default) (internal)."""
    check_params({"synthesis": [Options(SYNTHESES), SynthesisSettings, None]}, {"synthesis": synthesis},
                 error=ReconstructionError)
    if representation == "scalogram":
        if synthesis not in (None, "source_phase"):
            name = synthesis if isinstance(synthesis, str) else synthesis.name
            raise ReconstructionError(f"synthesis={name!r} needs envelope images (transform "
                                      f"{vocoder.ENVELOPE_IMAGE!r}); these rows are scalograms, inverted by the "
                                      "inverse CWT with the source's phase: synthesis='source_phase'")
        return "source_phase"
    if synthesis == "source_phase":
        raise ReconstructionError(f"synthesis='source_phase' inverts CWT scalograms; these rows are envelope images "
                                  f"(transform {vocoder.ENVELOPE_IMAGE!r}), which hold no CWT magnitudes: "
                                  f"synthesis must be one of {', '.join(map(repr, SYNTHESIS_MODES))} or "
                                  "SynthesisSettings")
    if synthesis is None:
        return chosen_synthesis(out_dir)
    return SynthesisSettings(mode=synthesis) if isinstance(synthesis, str) else synthesis


def _baseline_paths(generated, baselines) -> dict:
    """``{utterance: {baseline: image path}}`` of the baselines' manifests given (internal)."""
    out = {u: {} for u in generated["utterance"]}
    for name, manifest in baselines.items():
        if manifest is None:
            continue
        paths = _as_generated(manifest).set_index("utterance")["path"].to_dict()
        missing = sorted(set(generated["utterance"]) - set(paths))
        if missing:
            raise ReconstructionError(f"the {name} manifest lacks {len(missing)} utterance(s) of the generated one "
                                      f"(e.g. {missing[0]!r}); notebook 04 writes both for every pair")
        for utt in out:
            out[utt][name] = paths[utt]
    return out


def write_reconstructions(generated, out_dir, *, phase="source", n_iter=16, overwrite=False, modes=None,
                          ridge=None, gmm=None, synthesis=None, statistics=None, progress=True) -> pd.DataFrame:
    """Turn every generated image of notebook 04's manifest into WAVs (all conditions).

    A scalogram row is inverted with the CWT wavelet of its ``transform`` column
    (:func:`wavelet_of`) and the source's phase; an envelope row (``transform ==
    "world_envelope"``) goes through ``synthesis`` and makes :data:`ENVELOPE_CONDITIONS`.
    Everything is checked for every row before any file is written.
    Writes ``out_dir/wav/<utterance>__<condition>.wav`` (16-bit, at the manifest's
    ``sr``) and ``out_dir/reconstructions.csv``.

    Parameters
    ----------
    generated : pd.DataFrame or path
        Notebook 04's generated manifest (:func:`load_generated`).
    out_dir : path
        ``<run_dir>/reconstruction/<source>__<target>``.
    phase : str
        Scalogram rows: the chosen phase mode (:data:`PHASE_MODES`): the converted condition it
        makes (:data:`PHASE_CONDITIONS`), and the one the ridge image, the flat
        control and ``oracle_refined`` use.
    n_iter : int >= 0
        Phase-refinement iterations.
    overwrite : bool
        Replace WAVs from an earlier run (otherwise refuse).
    modes : sequence of str or None
        Further phase modes to reconstruct the generated image with (compared side by side).
    ridge : pd.DataFrame, path or None
        The ridge baseline's manifest (:func:`voxlib.gan.ridge_baseline`): adds the condition ``ridge``.
    gmm : pd.DataFrame, path or None
        The GMM baseline's manifest (envelope rows only): adds the condition ``gmm``.
    synthesis : {"source_phase", "world", "filter"}, SynthesisSettings or None
        How the images become sound (:data:`SYNTHESES`). ``"source_phase"`` (the default for scalogram
        rows) is refused for envelope rows, ``"world"`` and ``"filter"`` (the default settings of that
        mode) and :class:`SynthesisSettings` for scalogram rows. ``None`` for envelope rows: the
        settings ``out_dir/synthesis_choice.csv`` marks chosen
        (:func:`voxlib.reconstruction.synthesis.chosen_synthesis`), else the default.
    statistics : SynthesisStats or None
        Envelope rows: :func:`voxlib.reconstruction.synthesis.fit_statistics` on the pair's training clips.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    pd.DataFrame
        Columns ``utterance, split, source_speaker, target_speaker, condition, path, sr, gain``
        (one row per WAV; a WAV whose peak exceeded 1 was divided by ``gain``).
    """
    _check_modes(modes, phase=phase)
    generated = _as_generated(generated)
    representation = representation_of(generated)
    synthesis = _resolve_synthesis(synthesis, representation, out_dir)
    if representation == "scalogram" and gmm is not None:
        raise ReconstructionError("gmm is a baseline on envelope images; these rows are scalograms: pass gmm=None")
    if representation == "envelope" and not isinstance(statistics, SynthesisStats):
        raise ReconstructionError(f"statistics={type(statistics).__name__}: envelope rows need the SynthesisStats "
                                  "of fit_statistics(training_clips(<the whole generated manifest>))")
    baselines = _baseline_paths(generated, {"ridge": ridge, "gmm": gmm})
    out_dir = Path(out_dir)
    targets = {row["utterance"]: _row_clips(row)["target"] for _, row in generated.iterrows()}
    rows = []
    for _, row in tqdm(generated.iterrows(), total=len(generated), disable=not progress,
                       desc="reconstructing"):
        pool = [y for utt, y in targets.items() if utt != row["utterance"]]   # the target's other sentences
        signals = _reconstruct_row(row, phase=phase, n_iter=n_iter, modes=modes, pool=pool,
                                   baselines=baselines[row["utterance"]], synthesis=synthesis, statistics=statistics)
        rows += _write_row(row, signals, out_dir, overwrite)
    table = pd.DataFrame(rows)
    write_manifest(table, out_dir / "reconstructions.csv")
    return table


def width_study(generated, *, widths=(64, 128, 256, 512, 1024, None), height=None, n_clips=3,
                progress=True) -> pd.DataFrame:
    """:func:`quality_vs_width` on the first ``n_clips`` target clips of a generated manifest.

    Each clip uses its row's wavelet (:func:`wavelet_of`). Returns the
    concatenated tables with an ``utterance`` column; ``height=None`` keeps one
    row per scale (pass the generated images' height to study width alone at the
    pipeline's height).
    """
    generated = _as_generated(generated)
    if representation_of(generated) == "envelope":
        raise ReconstructionError("width_study measures CWT images of growing width; these rows are envelope "
                                  "images (one column per 5 ms frame, no width to choose)")
    tables = []
    for _, row in tqdm(list(generated.head(int(n_clips)).iterrows()), disable=not progress, desc="widths"):
        wavelet = wavelet_of(row["transform"], where=f"utterance {row['utterance']!r}")
        y = load_aligned(row["target_audio_path"], row["sr"], duration=row["align_duration"],
                         lead=row["align_lead"], what="target", utterance=row["utterance"])
        t = quality_vs_width(y, int(row["sr"]), widths=widths, height=height, wavelet=wavelet)
        tables.append(t.assign(utterance=row["utterance"]))
    return pd.concat(tables, ignore_index=True)
