"""Does a converted clip still say its sentence? A content check without speech recognition.

The corpus is parallel: every held-out sentence was recorded by both speakers. A clip keeps its
content when, among the real recordings of all held-out sentences (the *references*), the one it
aligns to best is its own sentence. The alignment is dynamic time warping of MFCCs (c1…c12 over
the speech frames, optionally with the per-clip mean removed, which takes away most of the
speaker and channel), and the score of a pair is the DTW cost per step of the path
(:func:`voxlib.frames.dtw_cost`).

A verifier can be fooled by a cloning stage that reassembles the target's own audio in another
order: it sounds like the target and says nothing. :func:`stitch` builds that control: the speech of
a clip replaced by short chunks of the same speaker's *other* sentences in random order (its voice,
none of its words), which a content check worth its name rejects. (:func:`scramble`, the clip's own
chunks shuffled, is no such control when the clip's own recording is among the references: the same
frames in another order still align best to their own sentence.)

Which references (the source's or the target's recordings) and which features are chosen on
training sentences only (:func:`choose_content_check`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from voxlib import audio, frames

__all__ = ["ContentCheck", "CONTENT_OPTIONS", "content_features", "content_costs", "content_check",
           "scramble", "stitch", "choose_content_check", "SCRAMBLE_CHUNK_SECONDS"]

#: Length of the chunks :func:`scramble` shuffles: about a syllable, so words are lost, the voice not.
SCRAMBLE_CHUNK_SECONDS = 0.1
#: Speech frames: within this many dB of the loudest frame (as :func:`voxlib.audio.speech_span`).
SPEECH_TOP_DB = 30.0
N_MFCC = 13


@dataclass(frozen=True)
class ContentCheck:
    """A content check's settings: ``references`` (``"source"`` or ``"target"``: whose real recordings
    the clips are matched against) and ``cmn`` (remove each clip's mean MFCC first)."""

    references: str = "target"
    cmn: bool = True

    @property
    def name(self) -> str:
        return f"{self.references} recordings, MFCC{' + CMN' if self.cmn else ''}"


#: The settings :func:`choose_content_check` compares on training sentences.
CONTENT_OPTIONS = tuple(ContentCheck(r, c) for r in ("target", "source") for c in (True, False))


def content_features(y, sr, *, cmn: bool = True, n_mfcc: int = N_MFCC) -> np.ndarray:
    """MFCCs c1…c(n_mfcc-1) of the speech frames of ``y`` (25 ms windows, 10 ms hop).

    Returns
    -------
    np.ndarray [shape=(n_mfcc - 1, n_frames)], float32; the mean over frames is removed when ``cmn``.
    """
    y = audio.valid_audio(y, "y").astype(np.float32)
    hop = max(1, int(round(0.010 * sr)))
    n_fft = 2 ** math.ceil(math.log2(0.025 * sr))
    m = frames.mfcc(y, sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop, n_mels=40)[1:]
    try:
        start, stop = audio.speech_span(y, sr, top_db=SPEECH_TOP_DB)
        m = m[:, start // hop:max(start // hop + 1, -(-stop // hop))]
    except audio.NoSpeechError:
        pass  # a clip without speech keeps all its frames (and will match nothing well)
    return m - m.mean(axis=1, keepdims=True) if cmn else m


def content_costs(candidates: dict, references: dict, sr, *, cmn: bool = True) -> pd.DataFrame:
    """DTW cost per path step of every candidate clip against every reference recording.

    Parameters
    ----------
    candidates, references : dict[str, np.ndarray]
        Sentence id → mono clip at ``sr`` Hz.

    Returns
    -------
    pandas.DataFrame [index=candidate ids, columns=reference ids]
    """
    ref = {k: content_features(v, sr, cmn=cmn) for k, v in references.items()}
    rows = {}
    for key, y in candidates.items():
        feat = content_features(y, sr, cmn=cmn)
        rows[key] = {r: frames.dtw_cost(feat, f) for r, f in ref.items()}
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(references))


def content_check(candidates: dict, references: dict, sr, *, cmn: bool = True) -> pd.DataFrame:
    """Which reference sentence each candidate aligns to best, and whether it is its own.

    Returns
    -------
    pandas.DataFrame, one row per candidate: ``utterance``, ``best_match``, ``own_cost`` (DTW cost per
    step against its own sentence), ``other_cost`` (the best other sentence's), ``margin``
    (``other_cost - own_cost``: positive when the content is kept) and ``kept`` (``best_match`` is
    its own sentence). A candidate whose sentence is not among the references is refused.
    """
    missing = sorted(set(candidates) - set(references))
    if missing:
        raise ValueError(f"candidates {missing} have no reference recording of their sentence; the content "
                         "check needs the same sentence ids on both sides")
    if len(references) < 2:
        raise ValueError(f"the content check needs at least 2 reference sentences to choose among; got "
                         f"{len(references)}")
    costs = content_costs(candidates, references, sr, cmn=cmn)
    rows = []
    for utt, row in costs.iterrows():
        other = row.drop(utt)
        rows.append({"utterance": utt, "best_match": row.idxmin(), "own_cost": float(row[utt]),
                     "other_cost": float(other.min())})
    out = pd.DataFrame(rows)
    out["margin"] = out["other_cost"] - out["own_cost"]
    out["kept"] = out["best_match"] == out["utterance"]
    return out


def _speech_bounds(y, sr) -> tuple[int, int]:
    try:
        return audio.speech_span(y, sr, top_db=SPEECH_TOP_DB)
    except audio.NoSpeechError:
        return 0, y.size


def _fade(pieces, sr, chunk) -> list:
    """5 ms linear fades at both ends of every piece, in place (internal)."""
    fade = min(chunk // 2, max(1, int(0.005 * sr)))
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    for p in pieces:
        n = min(fade, p.size)
        p[:n] *= ramp[:n]
        p[p.size - n:] *= ramp[:n][::-1]
    return pieces


def scramble(y, sr, *, chunk_seconds: float = SCRAMBLE_CHUNK_SECONDS, seed: int = 0) -> np.ndarray:
    """The speech of ``y`` cut into ``chunk_seconds`` chunks in a seeded random order (5 ms fades at the
    joins), silences kept in place: same voice, same frames, no sentence.

    Returns
    -------
    np.ndarray [shape=(n,)], float32, the length of ``y``
    """
    y = audio.valid_audio(y, "y").astype(np.float32)
    start, stop = _speech_bounds(y, sr)
    chunk = max(1, int(round(chunk_seconds * sr)))
    pieces = _fade([y[i:min(i + chunk, stop)].copy() for i in range(start, stop, chunk)], sr, chunk)
    order = np.random.default_rng(seed).permutation(len(pieces))
    out = y.copy()
    out[start:stop] = np.concatenate([pieces[i] for i in order])
    return out


def stitch(pool, like, sr, *, chunk_seconds: float = SCRAMBLE_CHUNK_SECONDS, seed: int = 0) -> np.ndarray:
    """The content-destroying control: the speech span of ``like`` filled with ``chunk_seconds`` chunks drawn
    at random from the speech of the clips in ``pool`` (the same speaker's *other* sentences), 5 ms fades at
    the joins, ``like``'s silences kept. The voice of ``pool``, none of ``like``'s words.

    Parameters
    ----------
    pool : sequence of np.ndarray [shape=(n_i,)]
        At least one clip; none of them may be ``like``'s own sentence.
    like : np.ndarray [shape=(n,)]
        Gives the length and where the speech goes.

    Returns
    -------
    np.ndarray [shape=(n,)], float32
    """
    like = audio.valid_audio(like, "like").astype(np.float32)
    sources = []
    for k, clip in enumerate(pool):
        clip = audio.valid_audio(clip, f"pool[{k}]").astype(np.float32)
        a, b = _speech_bounds(clip, sr)
        sources.append(clip[a:b])
    if not sources:
        raise ValueError("pool is empty: stitch needs at least one other clip of the speaker")
    start, stop = _speech_bounds(like, sr)
    chunk = max(1, int(round(chunk_seconds * sr)))
    rng = np.random.default_rng(seed)
    pieces = []
    for i in range(start, stop, chunk):
        n = min(chunk, stop - i)
        src = sources[int(rng.integers(len(sources)))]
        at = int(rng.integers(max(1, src.size - n + 1)))
        piece = np.zeros(n, np.float32)
        got = src[at:at + n]
        piece[:got.size] = got
        pieces.append(piece)
    out = like.copy()
    out[start:stop] = np.concatenate(_fade(pieces, sr, chunk))
    return out


def choose_content_check(source: dict, target: dict, sr, *, options=CONTENT_OPTIONS, seed: int = 0):
    """Choose the references and features on training sentences.

    For each option, the real recordings of the *other* speaker are matched against the references
    (the source's clips against the target's recordings, or the reverse): the rate at which they find
    their own sentence is how well the check recognises a sentence across voices, which is what a
    converted clip asks of it. The references' own speaker's clips rebuilt from chunks of their other
    sentences (:func:`stitch`: the control notebook 05 judges) must not find it. The option with the
    largest ``rate - scrambled_rate`` wins (ties: the earlier option).

    Parameters
    ----------
    source, target : dict[str, np.ndarray]
        Training sentence id → each speaker's real clip (the same ids on both sides).

    Returns
    -------
    (ContentCheck, pandas.DataFrame)
        The chosen settings, and the table of every option (``rate``, ``scrambled_rate``, ``score``).
    """
    rows = []
    for opt in options:
        refs, clips = (target, source) if opt.references == "target" else (source, target)
        real = content_check(clips, refs, sr, cmn=opt.cmn)["kept"].mean()
        mixed = {k: stitch([y for u, y in refs.items() if u != k], v, sr, seed=seed + i)
                 for i, (k, v) in enumerate(refs.items())}
        fake = content_check(mixed, refs, sr, cmn=opt.cmn)["kept"].mean()
        rows.append({"option": opt.name, "references": opt.references, "cmn": opt.cmn, "rate": float(real),
                     "scrambled_rate": float(fake), "score": float(real - fake)})
    table = pd.DataFrame(rows)
    best = int(table["score"].to_numpy().argmax())
    table["chosen"] = np.arange(len(table)) == best
    return options[best], table
