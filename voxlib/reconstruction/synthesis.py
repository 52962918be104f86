"""How does a converted envelope become sound? WORLD synthesis, or a filter on the pitch-converted source.

Notebook 04's envelope path (``transform == "world_envelope"``) draws the target's WORLD spectral
envelope (:mod:`voxlib.vocoder`) on the source's timeline; no phase is borrowed from it. Two ways
turn such an envelope (:func:`read_envelope`: an envelope image back to power on the FFT bins,
cropped to the clip's frames) into a clip, each a :class:`SynthesisSettings`:

- ``"world"``: WORLD synthesis (:func:`voxlib.vocoder.synthesise`) with the converted envelope, the
  source's F0 contour moved to the target's log-F0 mean and variance, and the source's
  aperiodicity, or that aperiodicity matched band by band to the target's (``aperiodicity``), all
  from the WORLD analysis of the source clip with its own pitch;
- ``"filter"``: the pitch-converted source clip filtered in the STFT domain by the ratio of the
  converted envelope to that clip's own WORLD envelope, frame by frame (5 ms frames, the ratio
  taken on mel bands in dB, averaged over ``smooth_frames`` frames and clipped to ``max_gain_db``).

Either can first pass the envelope through a global-variance post-filter (``global_variance``: on
the speech frames, each mel band is scaled about its mean so that its variance over the utterance
is the target's, the mean over its training clips; Toda et al. 2007). The statistics every setting
needs are fitted once on the pair's training clips (:func:`fit_statistics` →
:class:`SynthesisStats`). :func:`render` makes a clip from an envelope; :func:`copy_synthesis` is the
ceiling that needs no envelope at all, a clip analysed and re-synthesised by WORLD with its own parts.

Every WORLD analysis is :func:`voxlib.vocoder.analyse`, whose D4C is made deterministic at 8 kHz (pyworld's
D4C reads past the spectrum there and turns about 2 % of voiced frames into noise, differently on each call).
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.ndimage
import scipy.signal

from voxlib import images, pitch, vocoder
from voxlib.checks import Interval, Options, check_params
from voxlib.reconstruction.errors import PRODUCERS, ReconstructionError

__all__ = [
    "SYNTHESIS_MODES",
    "APERIODICITY_MODES",
    "SPEECH_TOP_DB",
    "FILTER_WINDOW_MS",
    "CHOICE_FILE",
    "SynthesisSettings",
    "DEFAULT_SYNTHESIS",
    "SYNTHESIS_CANDIDATES",
    "SynthesisStats",
    "AnalysedClip",
    "fit_statistics",
    "read_envelope",
    "flat_envelope",
    "global_variance",
    "convert_aperiodicity",
    "render",
    "copy_synthesis",
    "chosen_synthesis",
]

#: How an envelope becomes sound (:class:`SynthesisSettings`'s ``mode``).
SYNTHESIS_MODES = ("world", "filter")
#: The aperiodicity WORLD synthesis uses: the source's own, or matched per band to the target's.
APERIODICITY_MODES = ("source", "convert")
#: Speech frames of an envelope: its mean band level within this many dB of its loudest frame (the
#: rule of :func:`voxlib.audio.speech_span`, on the envelope). The global variance is taken on them.
SPEECH_TOP_DB = 30.0
#: Window of the STFT the ``"filter"`` mode works in (ms; Hann, hop = the envelope's 5 ms frames).
FILTER_WINDOW_MS = 32.0
#: The file notebook 05 writes the synthesis choice to (``measures.write_table(..., name="synthesis_choice")``).
CHOICE_FILE = "synthesis_choice.csv"

_SETTINGS_CONSTRAINTS = {
    "mode": [Options(SYNTHESIS_MODES)],
    "aperiodicity": [Options(APERIODICITY_MODES)],
    "global_variance": [bool],
    "smooth_frames": [Interval(int, 1, None)],
    "max_gain_db": [Interval(float, 0, None, closed="neither")],
}


@dataclass(frozen=True)
class SynthesisSettings:
    """How a converted envelope becomes sound.

    Attributes
    ----------
    mode : {"world", "filter"}
        WORLD synthesis, or the pitch-converted source filtered by the envelope ratio.
    aperiodicity : {"source", "convert"}
        ``"world"`` only: the source's aperiodicity as analysed, or matched band by band (mean and
        standard deviation of the coded aperiodicity on voiced frames) to the target's.
    global_variance : bool
        Scale the envelope's mel bands to the target's per-utterance variance first.
    smooth_frames : int >= 1
        ``"filter"`` only: frames (5 ms) the gain in dB is averaged over.
    max_gain_db : float > 0
        ``"filter"`` only: the gain is clipped to ``±max_gain_db``.
    """

    mode: str = "world"
    aperiodicity: str = "convert"
    global_variance: bool = False
    smooth_frames: int = 3
    max_gain_db: float = 30.0

    def __post_init__(self):
        check_params(_SETTINGS_CONSTRAINTS, dataclasses.asdict(self), error=ReconstructionError)

    @property
    def name(self) -> str:
        """A short label: ``"world, converted aperiodicity, GV"``, ``"filter"``, ..."""
        parts = [self.mode]
        if self.mode == "world":
            parts.append(f"{'converted' if self.aperiodicity == 'convert' else 'source'} aperiodicity")
        return ", ".join(parts + (["GV"] if self.global_variance else []))

    def describe(self) -> str:
        """One sentence-part saying what the setting does (for the verdict)."""
        if self.mode == "world":
            text = ("WORLD synthesis of the converted envelope with the source's F0 moved to the target's log-F0 "
                    "mean and variance and " + ("the aperiodicity matched per band to the target's"
                                                if self.aperiodicity == "convert" else "the source's aperiodicity"))
        else:
            text = "the pitch-converted source filtered by the ratio of the converted envelope to its own"
        return text + (", after a global-variance post-filter" if self.global_variance else "")

    def record(self) -> dict:
        """The fields that tell settings apart, for a table (:meth:`from_record` reads them back)."""
        return {"mode": self.mode, "aperiodicity": self.aperiodicity, "global_variance": self.global_variance}

    @classmethod
    def from_record(cls, record) -> "SynthesisSettings":
        """Settings from a table row with ``mode``, ``aperiodicity``, ``global_variance`` (a CSV's strings too)."""
        gv = record["global_variance"]
        gv = str(gv).strip().lower() in ("true", "1", "yes") if isinstance(gv, str) else bool(gv)
        return cls(mode=str(record["mode"]), aperiodicity=str(record["aperiodicity"]), global_variance=gv)


#: The setting used when none was chosen on training sentences.
DEFAULT_SYNTHESIS = SynthesisSettings()
#: The settings :func:`voxlib.reconstruction.measures.synthesis_study` compares by default: both modes, with and
#: without the global-variance post-filter. The aperiodicity is not varied: at 8 kHz D4C has no aperiodicity
#: band and gives every voiced frame of every speaker the same curve (:func:`voxlib.vocoder.analyse`), so matching it to the
#: target's statistics changes nothing (pass ``aperiodicity="source"`` settings to see it at a higher rate).
SYNTHESIS_CANDIDATES = tuple(SynthesisSettings(mode, "convert", gv) for mode in SYNTHESIS_MODES
                             for gv in (False, True))


class AnalysedClip:
    """A clip and its WORLD analysis (:func:`voxlib.vocoder.analyse`), made on first use and kept.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int > 0, Hz
    """

    def __init__(self, y, sr):
        self.y, self.sr = np.asarray(y), int(sr)

    @functools.cached_property
    def features(self) -> vocoder.WorldFeatures:
        return vocoder.analyse(self.y, self.sr)


@dataclass(frozen=True, eq=False)
class SynthesisStats:
    """What the syntheses take from a pair's training clips (:func:`fit_statistics`).

    Attributes
    ----------
    source_f0, target_f0 : voxlib.pitch.LogF0Stats
        Log-F0 mean and standard deviation of the voiced frames (Harvest, :func:`voxlib.vocoder.f0_statistics`).
    source_aperiodicity, target_aperiodicity : np.ndarray [shape=(2, n_ap_bands)]
        Mean and standard deviation (dB) of the coded aperiodicity (:func:`voxlib.vocoder.code_aperiodicity`)
        on the voiced frames.
    target_band_variance : np.ndarray [shape=(n_bands,)]
        Variance (dB²) of each mel band of the target's envelope over the speech frames of one
        utterance, averaged over the training utterances (the global variance).
    sr : int
    n_bands : int
    fmin : float
    fmax : float or None
        The mel bands (:func:`voxlib.vocoder.envelope_to_bands`) the variance and the filter's ratio use.
    """

    source_f0: pitch.LogF0Stats
    target_f0: pitch.LogF0Stats
    source_aperiodicity: np.ndarray
    target_aperiodicity: np.ndarray
    target_band_variance: np.ndarray
    sr: int
    n_bands: int = vocoder.N_BANDS
    fmin: float = vocoder.FMIN
    fmax: float | None = None

    def bands(self, envelope) -> np.ndarray:
        """``envelope`` on these mel bands, in dB clipped to the envelope images' range."""
        db = vocoder.envelope_to_bands(envelope, self.sr, n_bands=self.n_bands, fmin=self.fmin, fmax=self.fmax)
        return np.clip(db, vocoder.DB_FLOOR, vocoder.DB_CEILING)

    def to_envelope(self, bands, fft_size) -> np.ndarray:
        """Band dB values back to power on ``fft_size`` FFT bins."""
        return vocoder.bands_to_envelope(bands, self.sr, fft_size, fmin=self.fmin, fmax=self.fmax)


def _speech_frames(bands) -> np.ndarray:
    """Frames whose mean band level is within :data:`SPEECH_TOP_DB` of the loudest (internal)."""
    level = bands.mean(axis=1)
    return level >= level.max() - SPEECH_TOP_DB


def _aperiodicity_stats(features, sr) -> np.ndarray:
    """(2, n_ap_bands) mean and std of the coded aperiodicity over the voiced frames of ``features`` (internal)."""
    coded = np.concatenate([vocoder.code_aperiodicity(f.aperiodicity, sr)[f.f0 > 0] for f in features])
    if coded.shape[0] < 2:
        raise ReconstructionError("the training clips have fewer than 2 voiced frames: no aperiodicity statistics")
    return np.stack([coded.mean(axis=0), np.maximum(coded.std(axis=0), 1e-6)])


def fit_statistics(clips, *, n_bands=vocoder.N_BANDS, fmin=vocoder.FMIN, fmax=None) -> SynthesisStats:
    """Fit what the syntheses need on the pair's training clips (never on the sentences judged).

    Every clip is analysed once by WORLD: the log-F0 statistics of both speakers, the statistics of
    both speakers' coded aperiodicity on voiced frames, and the target's global variance per mel
    band (speech frames of each utterance, dB clipped to the envelope images' range, averaged over
    the utterances).

    Parameters
    ----------
    clips : voxlib.reconstruction.judges.TrainingClips
        ``training_clips(generated)``: ``source`` and ``target`` (sentence id -> aligned clip) and ``sr``.
    n_bands, fmin, fmax
        The mel bands of the global variance and of the filter's ratio (:func:`voxlib.vocoder.envelope_to_bands`).

    Returns
    -------
    SynthesisStats
    """
    if not all(hasattr(clips, a) for a in ("source", "target", "sr")) or not clips.source or not clips.target:
        raise ReconstructionError(f"clips must be the TrainingClips of training_clips(generated) with clips of "
                                  f"both speakers; got {type(clips).__name__}")
    sr = int(clips.sr)
    feats = {who: [vocoder.analyse(y, sr) for y in getattr(clips, who).values()] for who in ("source", "target")}
    stats = SynthesisStats(
        source_f0=vocoder.f0_statistics(feats["source"]), target_f0=vocoder.f0_statistics(feats["target"]),
        source_aperiodicity=_aperiodicity_stats(feats["source"], sr),
        target_aperiodicity=_aperiodicity_stats(feats["target"], sr),
        target_band_variance=np.zeros(n_bands), sr=sr, n_bands=int(n_bands), fmin=float(fmin), fmax=fmax)
    variances = []
    for f in feats["target"]:
        bands = stats.bands(f.envelope)
        variances.append(bands[_speech_frames(bands)].var(axis=0))
    return dataclasses.replace(stats, target_band_variance=np.mean(variances, axis=0))


# --------------------------------------------------------------------------
# Envelope images -> envelopes
# --------------------------------------------------------------------------
_ENVELOPE_KEYS = ("scale", "db_floor", "fmin", "fmax")


def _fit_frames(matrix, n_frames) -> np.ndarray:
    """``matrix`` (frames as rows) cut or edge-padded to ``n_frames`` rows (internal)."""
    matrix = np.asarray(matrix)[:n_frames]
    return np.pad(matrix, ((0, n_frames - matrix.shape[0]), (0, 0)), mode="edge")


def _envelope_image(path, fallback_meta=None):
    """(gray image, metadata) of an envelope PNG; keys it lacks come from ``fallback_meta`` (internal)."""
    if path is None or not Path(str(path)).is_file():
        raise ReconstructionError(f"envelope image {path!r} does not exist. {PRODUCERS['generated']}.")
    try:
        img, meta = images.load_image(path, fallback_scale=(fallback_meta or {}).get("scale"))
    except ValueError as err:
        raise ReconstructionError(f"envelope image {path}: {err}. {PRODUCERS['generated']}.") from err
    meta = {**(fallback_meta or {}), **meta}
    missing = [k for k in _ENVELOPE_KEYS if k not in meta]
    if missing:
        raise ReconstructionError(f"envelope image {path}: its metadata lacks {missing} (vocoder.envelope_to_image "
                                  f"stores them). {PRODUCERS['generated']}.")
    return images.to_gray(img).astype(np.float64), meta


def read_envelope(path, *, sr, n_frames, fft_size=vocoder.FFT_SIZE, fallback_meta=None, flat=False) -> np.ndarray:
    """An envelope image (notebook 04's) back to a power envelope of ``n_frames`` frames.

    :func:`voxlib.vocoder.image_to_envelope` on the image cropped to its first ``n_frames`` columns (the
    manifest's ``n_time``: notebook 04 pads the width for the U-Net by repeating the last column).

    Parameters
    ----------
    path : path
        A PNG written by :func:`voxlib.images.save_image` with :func:`voxlib.vocoder.envelope_to_image`'s metadata.
    sr : int > 0, Hz
    n_frames : int > 0
    fft_size : int
        FFT bins of the envelope made (the analysis's, :data:`voxlib.vocoder.FFT_SIZE`).
    fallback_meta : dict or None
        Metadata for keys the image lacks (e.g. the source envelope image's).
    flat : bool
        The control ``null_flat``: every pixel replaced by the cropped image's mean level.

    Returns
    -------
    np.ndarray [shape=(n_frames, fft_size // 2 + 1), float64], power > 0
    """
    gray, meta = _envelope_image(path, fallback_meta)
    n_frames = int(n_frames)
    gray = _fit_frames(gray.T, n_frames).T
    if flat:
        gray = np.full_like(gray, gray.mean())
    return vocoder.image_to_envelope(gray, meta, int(sr), int(fft_size))


def flat_envelope(path, **kwargs) -> np.ndarray:
    """:func:`read_envelope` with ``flat=True``: the image at its mean level (a generator that drew nothing)."""
    return read_envelope(path, flat=True, **kwargs)


# --------------------------------------------------------------------------
# The parts WORLD and the filter use
# --------------------------------------------------------------------------
def global_variance(envelope, stats: SynthesisStats) -> np.ndarray:
    """The global-variance post-filter: each mel band of the speech frames scaled about its mean so that
    its variance over the utterance is ``stats.target_band_variance``; other frames unchanged.

    Parameters
    ----------
    envelope : np.ndarray [shape=(n_frames, n_bins)], power > 0
    stats : SynthesisStats

    Returns
    -------
    np.ndarray, the shape of ``envelope``
    """
    bands = stats.bands(envelope)
    speech = _speech_frames(bands)
    mean, var = bands[speech].mean(axis=0), bands[speech].var(axis=0)
    gain = np.sqrt(np.divide(stats.target_band_variance, var, out=np.ones_like(var), where=var > 1e-12))
    out = bands.copy()
    out[speech] = mean + (bands[speech] - mean) * gain
    return stats.to_envelope(out, 2 * (np.shape(envelope)[1] - 1))


def convert_aperiodicity(features: vocoder.WorldFeatures, stats: SynthesisStats) -> np.ndarray:
    """The source's aperiodicity matched per band to the target's, on voiced frames.

    The coded aperiodicity (dB on mel bands, :func:`voxlib.vocoder.code_aperiodicity`) of each voiced
    frame is moved from the source's mean and standard deviation to the target's; the change per
    band is applied to the aperiodicity on the FFT bins, so unvoiced frames, and equal statistics,
    leave it as it was.

    Returns
    -------
    np.ndarray [shape=(n_frames, n_bins)], in [0, 1]
    """
    coded = vocoder.code_aperiodicity(features.aperiodicity, features.sr)
    (mu_s, sd_s), (mu_t, sd_t) = stats.source_aperiodicity, stats.target_aperiodicity
    delta = np.where((features.f0 > 0)[:, None], (coded - mu_s) / sd_s * sd_t + mu_t - coded, 0.0)
    ratio = np.sqrt(vocoder.bands_to_envelope(delta, features.sr, features.fft_size))
    return np.clip(features.aperiodicity * ratio, 0.0, 1.0)


def _world(envelope, stats, settings, source: AnalysedClip, pitched: AnalysedClip) -> np.ndarray:
    """``"world"``: the source's analysis with the converted envelope, F0 and aperiodicity (internal)."""
    feats = source.features
    ap = convert_aperiodicity(feats, stats) if settings.aperiodicity == "convert" else None
    converted = vocoder.convert(feats, stats.source_f0, stats.target_f0,
                                envelope=_fit_frames(envelope, feats.n_frames), aperiodicity=ap)
    return vocoder.synthesise(converted)


def _filter(envelope, stats, settings, source: AnalysedClip, pitched: AnalysedClip) -> np.ndarray:
    """``"filter"``: the pitch-converted clip times the envelope ratio, in the STFT domain (internal)."""
    feats = pitched.features
    sr, n_fft = feats.sr, feats.fft_size
    hop = int(round(sr * feats.frame_period / 1000.0))
    gain_db = stats.bands(_fit_frames(envelope, feats.n_frames)) - stats.bands(feats.envelope)
    gain_db = scipy.ndimage.uniform_filter1d(gain_db, settings.smooth_frames, axis=0, mode="nearest")
    gain_db = np.clip(gain_db, -settings.max_gain_db, settings.max_gain_db)
    gain = np.sqrt(stats.to_envelope(gain_db, n_fft))           # amplitude, (n_frames, n_bins)
    window = min(n_fft, int(round(sr * FILTER_WINDOW_MS / 1000.0)))
    y = np.asarray(pitched.y, np.float64)
    _, _, spec = scipy.signal.stft(y, fs=sr, window="hann", nperseg=window, noverlap=window - hop, nfft=n_fft)
    frame = np.minimum(np.arange(spec.shape[1]), gain.shape[0] - 1)   # STFT frame j is centred at j * hop
    _, out = scipy.signal.istft(spec * gain[frame].T, fs=sr, window="hann", nperseg=window,
                                noverlap=window - hop, nfft=n_fft)
    return np.pad(out[:y.size], (0, max(0, y.size - out.size))).astype(np.float32)


_RENDERERS = {"world": _world, "filter": _filter}


def render(envelope, stats: SynthesisStats, settings: SynthesisSettings, *, source: AnalysedClip,
           pitched: AnalysedClip) -> np.ndarray:
    """A converted envelope as a clip, by ``settings`` (:data:`SYNTHESIS_MODES`).

    Parameters
    ----------
    envelope : np.ndarray [shape=(n_frames, fft_size // 2 + 1)], power > 0
        On the source's timeline, one row per 5 ms frame (:func:`read_envelope`).
    stats : SynthesisStats
        From :func:`fit_statistics` on the pair's training clips.
    settings : SynthesisSettings
    source : AnalysedClip
        The source clip with its own pitch (``"world"`` analyses it).
    pitched : AnalysedClip
        The pitch-converted source clip (``"filter"`` filters it; the source itself when notebook 04 kept
        the pitch).

    Returns
    -------
    np.ndarray [shape=(n,), float32], the source clip's length
    """
    if not isinstance(settings, SynthesisSettings):
        raise ReconstructionError(f"settings must be SynthesisSettings; got {type(settings).__name__}")
    if not isinstance(stats, SynthesisStats):
        raise ReconstructionError(f"stats must be the SynthesisStats of fit_statistics(training clips); got "
                                  f"{type(stats).__name__}")
    if settings.global_variance:
        envelope = global_variance(envelope, stats)
    return _RENDERERS[settings.mode](envelope, stats, settings, source, pitched)


def copy_synthesis(clip: AnalysedClip) -> np.ndarray:
    """WORLD copy-synthesis: the clip analysed and re-synthesised with its own F0, envelope and aperiodicity
    (``world_copy`` of the target: the ceiling of any WORLD-based conversion)."""
    return vocoder.synthesise(clip.features)


def chosen_synthesis(folder) -> SynthesisSettings:
    """The settings ``<folder>/synthesis_choice.csv`` (notebook 05's choice on training sentences) marks
    ``chosen``; :data:`DEFAULT_SYNTHESIS` when the file or a chosen row is missing."""
    path = Path(folder) / CHOICE_FILE
    if not path.is_file():
        return DEFAULT_SYNTHESIS
    table = pd.read_csv(path, index_col=0)
    chosen = table[table["chosen"].astype(str).str.lower().isin(("true", "1"))] if "chosen" in table else table.iloc[:0]
    return SynthesisSettings.from_record(chosen.iloc[0]) if len(chosen) else DEFAULT_SYNTHESIS
