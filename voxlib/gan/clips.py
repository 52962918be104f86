"""Which clips a speaker pair's images are made from: high-pass, VAD, pitch conversion, DTW.

:func:`prepare_clips` loads every shared sentence of two speakers, high-passes and VAD-aligns it,
moves the source's pitch to the target's range (statistics of the training sentences only) and
stores the DTW time map from the source's timeline to the target clip. :class:`ClipSettings` holds
the recipe (:data:`THESIS_CLIPS` is the thesis's: VAD alignment only, the source's own pitch, no
filter). :mod:`voxlib.gan.pairs` makes the paired images from these clips.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from voxlib import audio, datasets, frames, pitch
from voxlib.checks import Interval, Options, check_params

__all__ = [
    "GanDataError",
    "PAIR_ALIGNMENTS",
    "PITCH_MODES",
    "CLIPS_FILE",
    "PITCH_FILE",
    "CLIP_COLUMNS",
    "ClipSettings",
    "THESIS_CLIPS",
    "prepare_clips",
    "load_pitch_stats",
]


class GanDataError(ValueError):
    """Paired data (clips, images) that cannot be used: names the file(s) and the fix."""


#: How the two clips of a training pair are lined up before their images are made.
PAIR_ALIGNMENTS = ("dtw", "vad")
#: What happens to the source's pitch (``"keep"`` is the thesis).
PITCH_MODES = ("convert", "keep")
#: File of :func:`prepare_clips` (one row per clip) and of the pitch statistics.
CLIPS_FILE = "clips.csv"
PITCH_FILE = "pitch.json"
#: Columns of :data:`CLIPS_FILE`.
CLIP_COLUMNS = ["speaker", "utterance", "role", "split", "path", "plain_path", "original_path", "time_map"]


@dataclass(frozen=True)
class ClipSettings:
    """How the two clips of a training pair are made (:func:`prepare_clips`).

    Attributes
    ----------
    sr : int
        Sample rate the audio is resampled to (Hz).
    align_duration, align_lead : float, seconds
        VAD alignment (the thesis's ``VADPAL``): clip length and leading silence.
    pair_alignment : {"dtw", "vad"}
        ``"dtw"``: the target warped onto the source's timeline; ``"vad"``: the thesis's alignment.
    pitch_mode : {"convert", "keep"}
        ``"convert"``: the source's F0 moved to the target's range; ``"keep"``: the thesis.
    highpass_hz : float in (0, sr / 2) or None
        High-pass cut-off before analysis (None: the thesis, no filter).

    Raises
    ------
    ValueError
        When made with a setting that is not allowed; the message names it.
    """

    sr: int = 8000
    align_duration: float = 3.0
    align_lead: float = 0.5
    pair_alignment: str = "dtw"
    pitch_mode: str = "convert"
    highpass_hz: float | None = 60.0

    def __post_init__(self):
        constraints = {"pair_alignment": [Options(PAIR_ALIGNMENTS)], "pitch_mode": [Options(PITCH_MODES)],
                       "highpass_hz": [None, Interval(float, 0, self.sr / 2, closed="neither")]}
        check_params(constraints, {name: getattr(self, name) for name in constraints})


#: The thesis's clips: VAD alignment only, the source's own pitch, no filter.
THESIS_CLIPS = ClipSettings(pair_alignment="vad", pitch_mode="keep", highpass_hz=None)


def _aligned_clip(path, sr, highpass_hz, align_duration, align_lead):
    """One recording loaded at ``sr``, high-passed, then VAD-aligned (internal). The zero-phase filter can
    overshoot full scale by a hair on the loudest clips (July's peak 1.01 after removing its drift): the clip
    is kept within [-1, 1] so it can be written as 16-bit audio unchanged."""
    y, rate = audio.load(path, sr=sr)
    y = np.clip(audio.highpass(y, rate, highpass_hz), -1.0, 1.0).astype(np.float32)
    return audio.vad_align(y, rate, duration=align_duration, lead=align_lead, path=path)


def _pitch_stats(clips, sr, who):
    try:
        return pitch.log_f0_stats(clips, sr)
    except pitch.PitchError as exc:
        raise GanDataError(f"pitch='convert' needs the {who}'s F0 on the training sentences: {exc}. "
                           "Use more pairs (max_pairs) or pitch='keep'") from exc


def prepare_clips(corpus, source, target, out_dir, clip_settings=ClipSettings(), *, progress=True) -> pd.DataFrame:
    """The clips notebook 04 makes its images from: aligned, pitch-converted, time-warped.

    Every shared sentence of the two speakers is loaded at ``sr``, high-passed
    (:func:`voxlib.audio.highpass`) and VAD-aligned (the thesis's ``VADPAL``). Then:

    - ``pitch_mode="convert"``: the source clip is resynthesised with its F0
      mapped by the log-F0 mean/variance transform, both speakers' statistics
      estimated on the **training** sentences only (``split != "test"``)
      (:func:`voxlib.pitch.convert_pitch`, Praat's PSOLA). This clip is the
      generator's input and, in notebook 05, the phase source. ``"keep"``: the
      thesis (source pitch unchanged).
    - ``pair_alignment="dtw"``: a time map from the source's timeline to the
      target clip (DTW on MFCCs of the speech frames,
      :func:`voxlib.frames.dtw_time_map`) is saved for every pair; the target's
      image is then its own transform re-indexed onto the source's timeline,
      so the pair lines up pixel by pixel. ``"vad"``: the thesis's alignment
      (only the first word lines up).

    Parameters
    ----------
    corpus : pandas.DataFrame
        ``path, speaker, utterance`` and, for ``pitch_mode="convert"``, the run's
        ``split`` column (:func:`voxlib.datasets.run_split`); rows of the two
        speakers' shared sentences (e.g. the subset of :func:`voxlib.gan.pairs.write_paired_images`).
    source, target : str
    out_dir : path
        Writes ``source/``, ``source_plain/`` (aligned, pitch unchanged),
        ``target/``, ``time_maps/``, :data:`CLIPS_FILE` and :data:`PITCH_FILE`.
    clip_settings : ClipSettings
        ``sr, align_duration, align_lead, pair_alignment, pitch_mode, highpass_hz`` (the default:
        DTW, pitch converted, 60 Hz high-pass; :data:`THESIS_CLIPS`: the thesis's clips).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        :data:`CLIP_COLUMNS`, one row per clip (``role`` "source" or "target"),
        a corpus table for :func:`voxlib.images.write_images` (``path`` is the
        clip, ``time_map`` the target's warp or empty). ``attrs["pitch"]`` holds
        the two speakers' log-F0 statistics (or None).
    """
    sr, align_duration, align_lead = clip_settings.sr, clip_settings.align_duration, clip_settings.align_lead
    pair_alignment, pitch_mode = clip_settings.pair_alignment, clip_settings.pitch_mode
    highpass_hz = None if clip_settings.highpass_hz is None else float(clip_settings.highpass_hz)
    out_dir = Path(out_dir)
    pairs = datasets.pair_speakers(corpus, source, target, on_missing="ignore")
    if pairs.empty:
        raise GanDataError(f"{source!r} and {target!r} share no utterance id in the corpus; pick two speakers "
                           "who read the same sentences")
    sides = (corpus[corpus["speaker"] == source].set_index("utterance")["split"].astype(str)
             if "split" in corpus.columns else None)
    loaded = []
    for rec in tqdm(pairs.to_dict("records"), desc="clips", unit="pair", disable=not progress):
        y_s = _aligned_clip(rec["source_path"], sr, highpass_hz, align_duration, align_lead)
        y_t = _aligned_clip(rec["target_path"], sr, highpass_hz, align_duration, align_lead)
        side = "train" if sides is None else sides.get(rec["utterance"], "train")
        loaded.append((rec, side, y_s, y_t))
    stats = None
    if pitch_mode == "convert":
        train = [(y_s, y_t) for _, side, y_s, y_t in loaded if side != "test"]
        if not train:
            raise GanDataError("pitch='convert' needs training sentences to estimate the F0 statistics; "
                               "every pair is held out")
        stats = {"source": _pitch_stats([s for s, _ in train], sr, f"source {source!r}"),
                 "target": _pitch_stats([t for _, t in train], sr, f"target {target!r}")}
    rows = []
    for rec, side, y_s, y_t in tqdm(loaded, desc="pitch + alignment", unit="pair", disable=not progress):
        utt = str(rec["utterance"])
        plain = audio.write_wav(out_dir / "source_plain" / f"{utt}.wav", y_s, sr, overwrite=True)
        y_in = y_s if stats is None else pitch.convert_pitch(y_s, sr, stats["source"], stats["target"])
        src = audio.write_wav(out_dir / "source" / f"{utt}.wav", y_in, sr, overwrite=True)
        tgt = audio.write_wav(out_dir / "target" / f"{utt}.wav", y_t, sr, overwrite=True)
        time_map = ""
        if pair_alignment == "dtw":
            time_map = out_dir / "time_maps" / f"{utt}.npy"
            time_map.parent.mkdir(parents=True, exist_ok=True)
            np.save(time_map, frames.dtw_time_map(y_in, y_t, sr))
        rows.append(dict(speaker=source, utterance=utt, role="source", split=side, path=str(src),
                         plain_path=str(plain), original_path=str(rec["source_path"]), time_map=""))
        rows.append(dict(speaker=target, utterance=utt, role="target", split=side, path=str(tgt),
                         plain_path=str(tgt), original_path=str(rec["target_path"]), time_map=str(time_map)))
    table = pd.DataFrame(rows, columns=CLIP_COLUMNS)
    datasets.write_manifest(table, out_dir / CLIPS_FILE)
    record = None if stats is None else {k: dataclasses.asdict(v) for k, v in stats.items()}
    (out_dir / PITCH_FILE).write_text(json.dumps({"pitch_mode": pitch_mode, "pair_alignment": pair_alignment,
                                                  "highpass_hz": highpass_hz, "log_f0": record}, indent=2))
    table.attrs["pitch"] = stats
    return table


def load_pitch_stats(clips_dir):
    """The two speakers' log-F0 statistics :func:`prepare_clips` estimated (``{"source": LogF0Stats,
    "target": LogF0Stats}``), or None when the pitch was kept."""
    path = Path(clips_dir) / PITCH_FILE
    if not path.is_file():
        raise GanDataError(f"{path}: no pitch record; prepare_clips (write_paired_images) writes it")
    record = json.loads(path.read_text()).get("log_f0")
    return None if record is None else {k: pitch.LogF0Stats(**v) for k, v in record.items()}
