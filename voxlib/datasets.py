"""Corpora as tidy tables: discovery, screening, segmentation, pairing, splits and manifests.

A corpus is a :class:`pandas.DataFrame` with one row per recording
(``path, speaker, utterance, duration, sr, channels``), or per segment of a
long recording (:func:`segment_corpus`, with its provenance). Stages hand their
outputs to each other as manifests: CSV files whose ``*path`` columns are
stored relative to the manifest's folder, so a run folder can be moved.
"""
from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm.auto import tqdm

from voxlib import audio, run
from voxlib import transforms as T

__all__ = [
    "discover",
    "pair_speakers",
    "split",
    "content_groups",
    "content_split",
    "sample_per_speaker",
    "run_split",
    "load_split",
    "apply_split",
    "SPLIT_COLUMNS",
    "write_manifest",
    "load_manifest",
    "fingerprint",
    "file_hash",
    "require_columns",
    "screen",
    "SCREEN_COLUMNS",
    "prepare_corpus",
    "corpus_summary",
    "pick_example",
    "REJECTED_FILE",
    "segment_corpus",
    "SEGMENT_COLUMNS",
    "SEGMENTS_DIR",
    "check_transform_memory",
    "MAX_TRANSFORM_BYTES",
]

CORPUS_COLUMNS = ["path", "speaker", "utterance", "duration", "sr", "channels"]
# The thesis's flat naming: the speaker letter between underscores, e.g. "frase03_A_1.wav".
FLAT_PATTERN = re.compile(r"_([A-Za-z])_")
_IGNORED = {".ds_store", "thumbs.db", "desktop.ini"}
_DOC_SUFFIXES = {".md", ".txt", ".csv", ".json", ".yaml", ".yml"}


def _probe(path: Path) -> dict | str:
    """Duration, rate and channels of one file, or why it cannot be used (a str)."""
    if path.stat().st_size == 0:
        return "empty file (0 bytes); re-export or delete it"
    try:
        info = sf.info(str(path))
    except Exception as exc:
        return f"cannot decode it as audio ({exc}); convert it to WAV/FLAC or delete it"
    return {"duration": info.frames / info.samplerate, "sr": int(info.samplerate),
            "channels": int(info.channels)}


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in audio.AUDIO_EXTENSIONS


def _folder_layout(root: Path) -> list[tuple[Path, str, str, str | None]]:
    """``(file, speaker, utterance, why it is skipped or None)`` for every file of ``root/<speaker>/``."""
    items = []
    for spk_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(spk_dir.rglob("*")):
            if f.is_dir() or f.name.lower() in _IGNORED or f.name.startswith("."):
                continue
            utt = "-".join(f.relative_to(spk_dir).with_suffix("").parts)
            if not _is_audio(f):
                if f.suffix.lower() not in _DOC_SUFFIXES:
                    items.append((f, spk_dir.name, utt, f"not an audio file ({', '.join(audio.AUDIO_EXTENSIONS)})"))
                continue
            items.append((f, spk_dir.name, utt, None))
    return items


def _flat_layout(root: Path) -> list[tuple[Path, str | None, str, str | None]]:
    """``(file, speaker, utterance, why it is skipped or None)`` for the thesis's flat naming."""
    items = []
    for f in sorted(p for p in root.iterdir() if p.is_file()):
        if f.name.lower() in _IGNORED or f.name.startswith(".") or f.suffix.lower() in _DOC_SUFFIXES:
            continue
        if not _is_audio(f):
            items.append((f, None, f.stem, "not an audio file"))
            continue
        m = FLAT_PATTERN.search(f.stem)
        if not m:
            items.append((f, None, f.stem, "no speaker letter between underscores in its name (thesis naming, "
                                           "e.g. 'frase03_A_1.wav'); rename it or use one folder per speaker"))
            continue
        utt = (f.stem[: m.start()] + "_" + f.stem[m.end():]).strip("_")
        items.append((f, m.group(1).upper(), utt, None))
    return items


_LAYOUTS = {"folders": _folder_layout, "flat": _flat_layout}


def discover(
    root: str | os.PathLike,
    *,
    layout: str = "auto",
    min_files_per_speaker: int = 2,
) -> pd.DataFrame:
    """Find every recording of a corpus.

    Parameters
    ----------
    root : path
        Either ``root/<speaker>/<utterance>.<ext>`` (``layout="folders"``;
        deeper sub-folders join the utterance id with ``-``) or the thesis's flat
        folder of files named with the speaker letter between underscores
        (``layout="flat"``). ``"auto"`` picks folders when ``root`` has
        sub-folders.
    min_files_per_speaker : int
        Speakers with fewer recordings are reported with a warning (they cannot
        be split into training and test utterances).

    Returns
    -------
    pandas.DataFrame
        Columns ``path`` (absolute), ``speaker``, ``utterance``, ``duration``
        (s), ``sr`` (Hz), ``channels``; sorted by speaker and utterance.
        Unreadable (empty, undecodable, e.g. a malformed ``fmt `` chunk) and
        non-audio files are skipped with a warning naming them, and listed in
        ``df.attrs["rejected"]`` (one dict per file with the keys of
        :data:`SCREEN_COLUMNS`), which :func:`prepare_corpus` joins to the
        screen's rejections.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus root {root} is not a folder; check the data_dir parameter")
    if layout == "auto":
        layout = "folders" if any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()) else "flat"
    if layout not in _LAYOUTS:
        raise ValueError(f"layout={layout!r}; allowed: 'auto', {', '.join(map(repr, _LAYOUTS))}")
    rows, rejected = [], []
    for f, speaker, utt, problem in _LAYOUTS[layout](root):
        info = problem if problem is not None else _probe(f)
        if isinstance(info, str):
            warnings.warn(f"skipping {f}: {info}", stacklevel=2)
            rejected.append({"path": str(f.resolve()), "speaker": speaker, "utterance": utt, "reason": f"{f}: {info}"})
        else:
            rows.append({"path": str(f.resolve()), "speaker": speaker, "utterance": utt, **info})
    if not rows:
        raise FileNotFoundError(
            f"no readable audio under {root} (layout {layout!r}); expected "
            "root/<speaker>/<utterance>.wav or flat files named like 'frase03_A_1.wav'"
        )
    df = pd.DataFrame(rows, columns=CORPUS_COLUMNS).sort_values(["speaker", "utterance"], ignore_index=True)
    dup = df.duplicated(["speaker", "utterance"], keep=False)
    if dup.any():
        raise ValueError(
            "the same (speaker, utterance) appears more than once (e.g. a.wav and a.flac): "
            + ", ".join(df.loc[dup, "path"].head(4)) + "; keep one file per utterance"
        )
    counts = df["speaker"].value_counts()
    for spk, n in counts[counts < min_files_per_speaker].items():
        warnings.warn(
            f"speaker {spk!r} has {n} recording(s) under {root}; at least {min_files_per_speaker} "
            "are needed to hold utterances out for testing: add recordings or remove the speaker",
            stacklevel=2,
        )
    df.attrs["rejected"] = rejected
    return df


def require_columns(df: pd.DataFrame, cols, what: str = "table") -> None:
    """Raise ``ValueError`` naming the columns of ``cols`` that ``df`` (called ``what``) lacks."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {list(df.columns)}")


def pair_speakers(
    corpus: pd.DataFrame,
    source: str,
    target: str,
    *,
    on_missing: str = "warn",
) -> pd.DataFrame:
    """Match two speakers' recordings of the same sentences by utterance id.

    Parameters
    ----------
    corpus : DataFrame with ``speaker, utterance, path``
    source, target : str
        Speaker labels.
    on_missing : {"warn", "error", "ignore"}
        What to do with utterances that only one of the two recorded.

    Returns
    -------
    pandas.DataFrame
        Columns ``utterance, source_path, target_path``, sorted by utterance.
    """
    require_columns(corpus, ["speaker", "utterance", "path"], "corpus")
    if on_missing not in ("warn", "error", "ignore"):
        raise ValueError(f"on_missing={on_missing!r}; allowed: 'warn', 'error', 'ignore'")
    speakers = sorted(corpus["speaker"].unique())
    for name, spk in (("source", source), ("target", target)):
        if spk not in speakers:
            raise ValueError(f"{name}={spk!r} is not a speaker of the corpus; have {speakers}")
    if source == target:
        raise ValueError(f"source and target are both {source!r}; choose two different speakers")
    s = corpus.loc[corpus["speaker"] == source, ["utterance", "path"]]
    t = corpus.loc[corpus["speaker"] == target, ["utterance", "path"]]
    merged = s.merge(t, on="utterance", how="outer", suffixes=("_s", "_t"), indicator=True)
    lonely = merged[merged["_merge"] != "both"]
    if len(lonely) and on_missing != "ignore":
        examples = ", ".join(
            f"{r.path_s if isinstance(r.path_s, str) else r.path_t} (no partner from "
            f"{target if isinstance(r.path_s, str) else source})"
            for r in lonely.head(3).itertuples()
        )
        msg = (f"{len(lonely)} utterance(s) have no partner between {source!r} and {target!r}, "
               f"e.g. {examples}; record the partner or drop the file")
        if on_missing == "error":
            raise ValueError(msg)
        warnings.warn(msg + " (they are left out)", stacklevel=2)
    both = merged[merged["_merge"] == "both"]
    if both.empty:
        raise ValueError(f"speakers {source!r} and {target!r} share no utterance id; cannot pair them")
    return (both.rename(columns={"path_s": "source_path", "path_t": "target_path"})
            [["utterance", "source_path", "target_path"]].sort_values("utterance", ignore_index=True))


def split(
    df: pd.DataFrame,
    *,
    test_size: float = 0.25,
    seed: int = 0,
    stratify: str = "speaker",
    group: str = "utterance",
) -> pd.DataFrame:
    """Utterance-disjoint train/test split, stratified by speaker.

    The unit is the recording ``(stratify, group)``: all rows of one recording
    (e.g. its six images) fall on the same side, and every speaker has
    recordings on both sides.

    Parameters
    ----------
    df : DataFrame with columns ``stratify`` and ``group``
    test_size : float in (0, 1)
        Share of each speaker's recordings held out (at least one).
    seed : int
        Seed of the shuffle.

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` with a column ``split`` in {"train", "test"}.
    """
    require_columns(df, [stratify, group])
    if not 0 < test_size < 1:
        raise ValueError(f"test_size={test_size!r}; expected a fraction in (0, 1)")
    rng = np.random.default_rng(seed)
    test_units = set()
    for spk, sub in sorted(df.groupby(stratify), key=lambda kv: str(kv[0])):
        units = np.array(sorted(sub[group].astype(str).unique()))
        if units.size < 2:
            raise ValueError(
                f"{stratify} {spk!r} has {units.size} recording; need at least 2 to hold one out: "
                "add recordings or remove the speaker"
            )
        n_test = int(min(units.size - 1, max(1, round(test_size * units.size))))
        for u in rng.permutation(units)[:n_test]:
            test_units.add((spk, u))
    out = df.copy()
    keys = zip(out[stratify], out[group].astype(str))
    out["split"] = ["test" if k in test_units else "train" for k in keys]
    return out


#: Columns of a run's ``split.csv``: one row per recording.
SPLIT_COLUMNS = ["speaker", "utterance", "path", "source_hash", "group", "split"]
_SPLIT_PRODUCER = "notebook 01 (01_transforms), which draws the run's split"


def content_groups(corpus: pd.DataFrame) -> pd.Series:
    """The unit of a content-grouped split: utterance ids joined by identical audio.

    Two utterance ids fall in one group when any speaker's recordings of them
    are the same file content (``source_hash``; e.g. July's ``vm-forward`` and
    ``vm-forwardoptions``), transitively. A group's name is its first id.

    Parameters
    ----------
    corpus : DataFrame with ``utterance`` and ``source_hash`` (or ``path``, hashed here)

    Returns
    -------
    pandas.Series of str, aligned with ``corpus``.
    """
    require_columns(corpus, ["utterance"], "corpus")
    hashes = (corpus["source_hash"].astype(str) if "source_hash" in corpus
              else corpus["path"].map(file_hash))
    parent: dict[str, str] = {}

    def find(u):
        while parent.setdefault(u, u) != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    first_id: dict[str, str] = {}
    for utt, h in zip(corpus["utterance"].astype(str), hashes):
        find(utt)
        if h in first_id:
            a, b = find(first_id[h]), find(utt)
            if a != b:
                parent[max(a, b)] = min(a, b)
        else:
            first_id[h] = utt
    return pd.Series([find(u) for u in corpus["utterance"].astype(str)], index=corpus.index, name="group")


def content_split(corpus: pd.DataFrame, *, test_size: float = 0.25, seed: int = 0) -> pd.DataFrame:
    """Hold out whole utterance ids, for every speaker at once, grouped by content.

    The unit is a :func:`content_groups` group: an utterance id held out for
    one speaker is held out for all (a classifier never trains on a sentence
    the cloning stage judges, in anyone's voice), and identical audio never
    falls on both sides. Groups are visited in a seeded order and held out
    while the speakers they touch are short of ``test_size``, so each speaker
    gets about that share; every speaker keeps recordings on both sides.

    Parameters
    ----------
    corpus : DataFrame with ``speaker, utterance`` and ``source_hash`` or ``path``
    test_size : float in (0, 1)
    seed : int

    Returns
    -------
    pandas.DataFrame
        :data:`SPLIT_COLUMNS` (those present, and ``recording`` for segments), one row per recording, sorted.
    """
    require_columns(corpus, ["speaker", "utterance"], "corpus")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size={test_size!r}; expected a fraction in (0, 1)")
    out = corpus.copy()
    if "source_hash" not in out:
        out["source_hash"] = out["path"].map(file_hash)
    out["group"] = content_groups(out)
    speakers = sorted(out["speaker"].astype(str).unique())
    for spk, n in out["speaker"].astype(str).value_counts().items():
        if out.loc[out["speaker"].astype(str) == spk, "group"].nunique() < 2:
            raise ValueError(f"speaker {spk!r} has {n} recording(s) of one sentence; need at least two different "
                             "sentences to hold one out: add recordings or remove the speaker")
    total = out["speaker"].astype(str).value_counts().reindex(speakers).to_numpy(float)
    wanted = test_size * total
    members = {g: out.loc[idx, "speaker"].astype(str).value_counts().reindex(speakers, fill_value=0).to_numpy(float)
               for g, idx in out.groupby("group").groups.items()}
    names = sorted(members)
    held = np.zeros(len(speakers))
    test_groups = set()
    for g in np.random.default_rng(seed).permutation(names):
        n = members[g]
        touched = n > 0
        # hold it out if, on average over its speakers, that brings them closer to their share
        if np.mean(np.abs(held[touched] + n[touched] - wanted[touched])) < np.mean(np.abs(held[touched] - wanted[touched])):
            test_groups.add(g)
            held += n
    _keep_both_sides(members, speakers, test_groups)
    out["split"] = np.where(out["group"].isin(test_groups), "test", "train")
    cols = [c for c in [*SPLIT_COLUMNS, "recording"] if c in out.columns]
    return out[cols].sort_values(["speaker", "utterance"], ignore_index=True)


def _keep_both_sides(members, speakers, test_groups) -> None:
    """Move the smallest groups across until every speaker has recordings on both sides."""
    for i, spk in enumerate(speakers):
        mine = sorted((g for g, n in members.items() if n[i] > 0), key=lambda g: (members[g].sum(), g))
        if not any(g in test_groups for g in mine):
            test_groups.add(mine[0])
        if all(g in test_groups for g in mine):
            test_groups.discard(mine[0])


def sample_per_speaker(corpus: pd.DataFrame, n: int | None, *, seed: int = 0) -> pd.DataFrame:
    """A seeded sample of ``n`` recordings per speaker (all of them if None).

    With a ``split`` column the sample keeps each speaker's share of held-out
    recordings (rounded), so a small run still tests every speaker fairly.
    """
    if n is None:
        return corpus.sort_values(["speaker", "utterance"], ignore_index=True)
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"utterances_per_speaker must be an int >= 2 or None; got {n!r}")
    parts = []
    for _, sub in corpus.groupby("speaker", sort=True):
        sub = sub.sample(frac=1, random_state=seed)
        if "split" in sub and len(sub) > n:
            test = sub[sub["split"] == "test"]
            k = min(len(test), max(1, round(n * len(test) / len(sub))))
            sub = pd.concat([test.head(k), sub[sub["split"] != "test"].head(n - k)])
        parts.append(sub.head(n))
    return pd.concat(parts).sort_values(["speaker", "utterance"], ignore_index=True)


def _read_split_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"split file {path} not found; pass a CSV with columns speaker, utterance, split "
                                "(train/test), or None to draw the split")
    table = pd.read_csv(path, dtype={"speaker": str, "utterance": str})
    require_columns(table, ["speaker", "utterance", "split"], f"split file {path}")
    bad = sorted(set(table["split"].astype(str)) - {"train", "test"})
    if bad:
        raise ValueError(f"split file {path}: split values {bad} are not 'train' or 'test'; fix those rows")
    dup = table[table.duplicated(["speaker", "utterance"], keep=False)]
    if len(dup):
        raise ValueError(f"split file {path} lists {dup.iloc[0]['speaker']}/{dup.iloc[0]['utterance']} twice; "
                         "keep one row per recording")
    return table


def apply_split(corpus: pd.DataFrame, split_table: pd.DataFrame, *, where: str = "split table",
                fix: str = "add them to it, or use a new run_dir so a split is drawn for this corpus") -> pd.DataFrame:
    """``corpus`` with the ``split`` (and ``group``) of ``split_table``, matched by (speaker, utterance).

    Raises ``ValueError`` naming recordings the split table does not cover, then ``fix`` (what to do).
    """
    require_columns(corpus, ["speaker", "utterance"], "corpus")
    cols = [c for c in ("speaker", "utterance", "group", "split") if c in split_table.columns]
    keyed = split_table[cols].astype({"speaker": str, "utterance": str})
    out = corpus.drop(columns=[c for c in ("group", "split") if c in corpus.columns]).astype(
        {"speaker": str, "utterance": str}).merge(keyed, on=["speaker", "utterance"], how="left")
    missing = out[out["split"].isna()]
    if len(missing):
        shown = ", ".join(f"{r.speaker}/{r.utterance}" for r in missing.head(3).itertuples())
        raise ValueError(f"{len(missing)} recording(s) are not in the {where}, e.g. {shown}: {fix}")
    return out


def run_split(corpus: pd.DataFrame, run_dir, *, test_size: float = 0.25, seed: int = 0,
              split_file=None) -> pd.DataFrame:
    """The run's one split, shared by every stage: ``<run_dir>/split.csv``.

    * ``split_file`` given: that file is used as is (columns ``speaker,
      utterance, split``) and copied to ``<run_dir>/split.csv``.
    * else, if ``<run_dir>/split.csv`` exists, it is reused, so notebooks 02,
      04 and 05 agree with the split notebook 01 drew; it must cover
      ``corpus``.
    * else :func:`content_split` draws it and it is written.

    Returns ``corpus`` with ``group`` and ``split`` columns.
    """
    path = Path(run_dir) / "split.csv"
    if split_file is not None:
        src = Path(split_file)
        table = _read_split_file(src)
        if src.resolve() != path.resolve():
            write_manifest(table, path)
        return apply_split(corpus, table, where=f"split file {src}")
    drawn = content_split(corpus, test_size=test_size, seed=seed) if not path.is_file() else None
    if drawn is not None:
        write_manifest(drawn, path)
        return apply_split(corpus, drawn)
    return apply_split(corpus, load_split(path), where=f"run's split {path} (drawn earlier in this run folder)",
                       fix=_other_corpus_fix(run_dir))


def _other_corpus_fix(run_dir) -> str:
    """What to do when a corpus is not the one the run's split was drawn for: name the run's corpus."""
    try:
        recorded = run.recorded_data_dir(run_dir)
    except run.RunRecordError:      # an unreadable record: the runner reports it on its own
        recorded = None
    if recorded is None:
        told = (f"this run recorded no corpus ({Path(run_dir) / run.RECORD_FILE} has no data_dir of notebook 01: "
                f"it ran outside the runner or with its default, {run.DEFAULT_DATA_DIR})")
    else:
        told = f"this run's split was drawn for notebook 01's data_dir = {recorded} (recorded in {run.RECORD_FILE})"
    return (f"{told}. Set data_dir to the run's corpus (None in notebooks 04-05 means the run's), "
            "or use a new run_dir so a split is drawn for this corpus")


def load_split(path) -> pd.DataFrame:
    """A run's ``split.csv`` (:func:`run_split`), paths absolute."""
    table = load_manifest(path, required=("speaker", "utterance", "split"), producer=_SPLIT_PRODUCER)
    return table.astype({"speaker": str, "utterance": str})


def _path_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c == "path" or c.endswith("_path")]


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` as CSV; ``*path`` columns become relative to the manifest's folder.

    Writes to a temporary file and renames it, so a killed run never leaves a
    half-written manifest. Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = df.copy()
    base = path.parent.resolve()
    for col in _path_columns(out):
        out[col] = [
            os.path.relpath(Path(p).resolve(), base) if isinstance(p, (str, os.PathLike)) and str(p) else p
            for p in out[col]
        ]
    tmp = path.with_name(path.name + ".tmp")
    out.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def load_manifest(
    path: str | os.PathLike,
    required: tuple[str, ...] | list[str] = (),
    *,
    producer: str | None = None,
) -> pd.DataFrame:
    """Read a manifest written by :func:`write_manifest`; ``*path`` columns become absolute.

    Parameters
    ----------
    required : sequence of str
        Columns that must be present (a ``ValueError`` names the missing ones).
    producer : str, optional
        The notebook that writes this manifest, named in the error if it is missing.
    """
    path = Path(path)
    if not path.is_file():
        hint = f"; run {producer} first" if producer else ""
        raise FileNotFoundError(f"manifest {path} not found{hint}")
    df = pd.read_csv(path)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"manifest {path} lacks column(s) {missing}; it has {list(df.columns)}")
    base = path.parent.resolve()
    for col in _path_columns(df):
        df[col] = [str((base / p).resolve()) if isinstance(p, str) and p else p for p in df[col]]
    return df


def file_hash(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """SHA-1 of a file's bytes (hex, 16 characters): the identity of a recording."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


def fingerprint(df: pd.DataFrame, columns: list[str] | None = None) -> str:
    """Short hash (12 hex) of a table's content, order-independent.

    Defaults to the identity columns present among ``speaker, utterance,
    transform, source_hash, params_hash, split``.
    """
    if columns is None:
        columns = [c for c in ("speaker", "utterance", "transform", "source_hash", "params_hash", "split")
                   if c in df.columns]
    if not columns:
        raise ValueError(f"no identity columns to fingerprint; table has {list(df.columns)}")
    rows = sorted("|".join(map(str, r)) for r in df[columns].itertuples(index=False))
    return hashlib.sha1("\n".join(rows).encode()).hexdigest()[:12]


#: Columns of the table of rejected recordings :func:`screen` returns.
SCREEN_COLUMNS = ["path", "speaker", "utterance", "reason"]


def screen(corpus: pd.DataFrame, *, sr: int | None = None, min_duration: float = 0.1,
           progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decode every recording once and set aside the ones no stage can use.

    A file is rejected when ``voxlib.audio.load`` refuses it: missing or
    unreadable, undecodable, empty, NaN or infinite samples, silent, or
    shorter than ``min_duration``. Run it once before anything else, so that a
    single bad file is reported in one table instead of stopping a later cell.

    Parameters
    ----------
    corpus : pandas.DataFrame
        Columns ``path``, ``speaker``, ``utterance`` (:func:`discover`).
    sr : int > 0 or None
        Decode at this rate (Hz), as the stages will; None keeps each file's rate.
    min_duration : float >= 0
        Shortest usable recording, seconds (the STFT needs 256 samples).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    accepted : pandas.DataFrame
        The corpus rows that decode cleanly (same columns, index reset).
    rejected : pandas.DataFrame [columns=SCREEN_COLUMNS]
        One row per rejected file; ``reason`` is the loader's message (what is
        wrong and how to fix it).
    """
    require_columns(corpus, ["path", "speaker", "utterance"], "corpus")
    if not (np.isscalar(min_duration) and min_duration >= 0):
        raise ValueError(f"min_duration must be a number of seconds >= 0; got {min_duration!r}")
    keep, rejected = [], []
    for i, rec in enumerate(tqdm(corpus.to_dict("records"), desc="screening", unit="file", disable=not progress)):
        try:
            audio.load(rec["path"], sr=sr, min_duration=min_duration)
            keep.append(i)
        except audio.AudioError as exc:
            rejected.append({"path": str(rec["path"]), "speaker": rec["speaker"], "utterance": rec["utterance"],
                             "reason": str(exc)})
    return corpus.iloc[keep].reset_index(drop=True), pd.DataFrame(rejected, columns=SCREEN_COLUMNS)


#: The table of rejected recordings notebook 01 writes into the run folder.
REJECTED_FILE = "rejected.csv"


#: Where :func:`prepare_corpus` writes the segments of long recordings, inside the run folder.
SEGMENTS_DIR = "segments"
#: Columns of a segmented corpus: the corpus's, then each row's provenance (``start``, ``end`` in seconds
#: of the recording ``recording``, the utterance id of the file ``recording_path``).
SEGMENT_COLUMNS = [*CORPUS_COLUMNS, "recording", "recording_path", "start", "end"]


def _wav_subtype(path) -> str:
    """The source's sample format when WAV can hold it (16/24-bit PCM ...), else 32-bit float."""
    subtype = sf.info(str(path)).subtype
    return subtype if sf.check_format("WAV", subtype) else "FLOAT"


def _write_segment(path: Path, y: np.ndarray, sr: int, subtype: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    sf.write(str(tmp), y, sr, subtype=subtype, format="WAV")
    os.replace(tmp, path)


def _segment_one(rec: dict, out_dir: Path, max_duration: float, min_duration: float) -> list[dict]:
    """The segment rows of one long recording, their WAVs written under ``out_dir/<speaker>/``."""
    y, sr = audio.load(rec["path"])
    bounds = audio.speech_segments(y, sr, max_duration=max_duration, min_duration=min_duration)
    if not len(bounds):
        raise audio.NoSpeechError(
            f"{rec['path']}: {rec['duration']:.1f} s long, longer than max_duration = {max_duration:g} s, but no "
            f"speech span of {min_duration:g} to {max_duration:g} s was found between its silences; check "
            "the recording or remove it")
    subtype, rows = _wav_subtype(rec["path"]), []
    for k, (a, b) in enumerate(bounds):
        utt = f"{rec['utterance']}__{k:03d}"
        path = out_dir / str(rec["speaker"]) / f"{utt}.wav"
        _write_segment(path, y[a:b], sr, subtype)
        rows.append({"path": str(path.resolve()), "speaker": rec["speaker"], "utterance": utt, "duration": (b - a) / sr,
                     "sr": sr, "channels": 1, "recording": rec["utterance"], "recording_path": rec["path"],
                     "start": a / sr, "end": b / sr})
    return rows


def segment_corpus(corpus: pd.DataFrame, out_dir, *, max_duration: float = 10.0, min_duration: float = 1.0,
                   progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut the recordings longer than ``max_duration`` into utterance-like segments at their silences.

    Each long recording is decoded (first channel, its own rate), cut by
    :func:`voxlib.audio.speech_segments` into speech spans of ``min_duration`` to ``max_duration``
    seconds, and each span is written as ``out_dir/<speaker>/<utterance>__<k>.wav`` (k = 000, 001, ...
    in time order; the source's sample format). ``out_dir`` belongs to the run (notebook 01 passes
    ``<run_dir>/segments``): the user's files are only read, and its ``manifest.csv`` lists the segments.
    Shorter recordings stay as they are, as one row each.

    Parameters
    ----------
    corpus : pandas.DataFrame
        :func:`discover`'s table (``path, speaker, utterance, duration``, ...).
    out_dir : path
        Folder for the segments; it must not hold any recording of ``corpus``.
    max_duration : float > 0
        Longest segment (and longest recording kept whole), seconds.
    min_duration : float >= 0
        Shortest segment kept, seconds.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    corpus : pandas.DataFrame [columns=SEGMENT_COLUMNS]
        One row per segment or short recording, with its provenance: ``recording`` (the recording's
        utterance id), ``recording_path``, ``start`` and ``end`` (seconds into the recording).
    rejected : pandas.DataFrame [columns=SCREEN_COLUMNS]
        Long recordings that cannot be decoded or hold no usable speech span, with the reason.
    """
    require_columns(corpus, ["path", "speaker", "utterance", "duration"], "corpus")
    out_dir = Path(out_dir).resolve()
    inside = [p for p in corpus["path"] if Path(p).resolve().is_relative_to(out_dir)]
    if inside:
        raise ValueError(f"{inside[0]} is a recording of the corpus inside the segments folder {out_dir}; keep "
                         "the corpus (data_dir) outside the run folder")
    rows, rejected = [], []
    for rec in tqdm(corpus.to_dict("records"), desc="segmenting", unit="file", disable=not progress):
        if rec["duration"] <= max_duration:
            rows.append({**rec, "recording": rec["utterance"], "recording_path": rec["path"], "start": 0.0,
                         "end": rec["duration"]})
            continue
        try:
            rows += _segment_one(rec, out_dir, max_duration, min_duration)
        except audio.AudioError as exc:
            rejected.append({"path": rec["path"], "speaker": rec["speaker"], "utterance": rec["utterance"],
                             "reason": str(exc)})
    table = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    clash = table[table.duplicated(["speaker", "utterance"], keep=False)]
    if len(clash):
        raise ValueError(f"segment id {clash.iloc[0]['utterance']!r} of speaker {clash.iloc[0]['speaker']!r} is also "
                         "a recording's name; rename that recording")
    write_manifest(table[table["path"] != table["recording_path"]], out_dir / "manifest.csv")
    return table, pd.DataFrame(rejected, columns=SCREEN_COLUMNS)


def _split_by_recording(segments: pd.DataFrame, recordings: pd.DataFrame, run_dir, **split_kw) -> pd.DataFrame:
    """Segments with their recording's side of the run's split, drawn over whole recordings."""
    counts = recordings.groupby("speaker")["utterance"].nunique()
    single = sorted(counts[counts < 2].index.astype(str))
    if single:
        raise ValueError(
            f"speaker(s) {', '.join(map(repr, single))} have a single recording: the run's split holds out whole "
            "recordings, since segments of one recording on both sides would leak its session and channel "
            "(room, microphone, voice of the day) into the held-out score. Add a second recording, remove the "
            "speaker (speakers), or set split_within_recording = True in notebook 01 to split each recording's "
            "segments between training and test (the run's params.yaml records it)")
    table = run_split(recordings, run_dir, **split_kw)
    keyed = table[["speaker", "utterance", "group", "split"]].rename(columns={"utterance": "recording"})
    return segments.astype({"speaker": str, "recording": str}).merge(keyed, on=["speaker", "recording"], how="left")


#: The most memory one recording's CWT coefficients may take (bytes, complex64) before
#: :func:`check_transform_memory` refuses the recording.
MAX_TRANSFORM_BYTES = 2 ** 30


def _cwt_bytes(n: int, wavelets) -> tuple[int, str, int]:
    """``(bytes, wavelet, rows)`` of the largest complex64 CWT of an n-sample signal among ``wavelets``."""
    sizes = []
    for w in wavelets:
        try:
            sizes.append((T.cwt_scales(n, w).size, w))
        except ValueError:        # too short for any CWT: the transform says so itself
            continue
    rows, wavelet = max(sizes, default=(0, ""))
    return rows * n * np.dtype(np.complex64).itemsize, wavelet, rows


def check_transform_memory(corpus: pd.DataFrame, *, sr: int | None = None, transforms=tuple(T.TRANSFORMS),
                           max_bytes: int = MAX_TRANSFORM_BYTES) -> None:
    """Refuse, before computing anything, recordings whose CWT would not fit in ``max_bytes``.

    The memory is estimated from the transform's shape, rows x samples x 8 bytes (complex64): MATLAB's
    CWT keeps one column per sample and its number of rows grows with the length
    (:func:`voxlib.transforms.cwt_scales`), so a 10-minute recording at 8 kHz needs about 7 GiB.

    Parameters
    ----------
    corpus : pandas.DataFrame
        Columns ``path``, ``duration`` (s) and ``sr`` (Hz).
    sr : int > 0 or None
        The analysis rate (Hz); None: each file's own.
    transforms : sequence of str
        Registry names; only the CWTs among them are estimated (the STFTs are small).
    max_bytes : int > 0

    Raises
    ------
    voxlib.audio.AudioTooLongError
        Naming the first file over the limit, its duration, the memory it would need and the
        parameter to change (``max_duration``), and how many more there are.
    """
    require_columns(corpus, ["path", "duration", "sr"], "corpus")
    wavelets = sorted({T.get_transform(n).settings["wavelet"] for n in transforms if T.get_transform(n).kind == "cwt"})
    over = []
    for rec in corpus.to_dict("records"):
        rate = int(sr if sr is not None else rec["sr"])
        n = int(round(rec["duration"] * rate))
        need, wavelet, rows = _cwt_bytes(n, wavelets) if wavelets else (0, "", 0)
        if need > max_bytes:
            over.append((rec, rate, n, need, wavelet, rows))
    if over:
        rec, rate, n, need, wavelet, rows = over[0]
        more = f" ({len(over) - 1} more recording(s) too)" if len(over) > 1 else ""
        raise audio.AudioTooLongError(
            f"{rec['path']}: {rec['duration']:.1f} s at {rate} Hz is too long for the transforms{more}: its {wavelet} "
            f"CWT would need {need / 2 ** 30:.2f} GiB ({rows} rows x {n} samples x 8 bytes of complex64), over "
            f"the {max_bytes / 2 ** 30:.2f} GiB allowed. Set max_duration in notebook 01 (seconds, e.g. 10) to cut "
            "long recordings at their silences into segments, or cut the file yourself")


def _attach_split(rows: pd.DataFrame, found: pd.DataFrame, run_dir, *, split_within_recording: bool,
                  **split_kw) -> pd.DataFrame:
    """The run's split on ``rows``: by recording (``found``) for segments, unless ``split_within_recording``."""
    if "recording" not in rows.columns or split_within_recording:
        return run_split(rows, run_dir, **split_kw)
    return _split_by_recording(rows, found, run_dir, **split_kw)


def prepare_corpus(data_dir, run_dir, *, speakers=None, utterances_per_speaker=None, sr=None, test_size=0.25,
                   seed=0, split_file=None, max_duration=None, split_within_recording=False,
                   transforms=tuple(T.TRANSFORMS), max_transform_bytes=MAX_TRANSFORM_BYTES,
                   progress=True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Notebook 01's corpus: discover, segment, attach the run's split, keep ``speakers``, sample, screen.

    The steps in order: :func:`discover` ``data_dir``; with ``max_duration``, :func:`segment_corpus`
    cuts the longer recordings at their silences into ``<run_dir>/segments``; :func:`run_split` (the
    run's one split, drawn once over the whole corpus's recordings and shared by every stage; each
    segment takes its recording's side, so no recording has segments on both sides, unless
    ``split_within_recording``); keep ``speakers`` (None: all); a seeded sample of
    ``utterances_per_speaker`` per speaker (None: all); :func:`screen` at ``sr``. Before the split,
    :func:`check_transform_memory` refuses the ``speakers``' recordings (or segments) too long for the
    transforms. Every rejected file (discovery's, segmentation's, the screen's) is written to
    ``<run_dir>/rejected.csv`` (empty table when none).

    Parameters
    ----------
    max_duration : float > 0 or None
        Seconds; longer recordings are cut into segments of 1 s to ``max_duration``. None: none is cut.
    split_within_recording : bool
        Draw the split over segments, so one recording may have segments on both sides (the held-out
        score then shares the recording's session and channel with training). Needed when a speaker
        has a single recording.
    transforms : sequence of str
        The transforms to come: recordings whose CWT would exceed ``max_transform_bytes`` are refused.

    Returns
    -------
    corpus : pandas.DataFrame
        The accepted recordings (or segments, with :data:`SEGMENT_COLUMNS`), with ``group`` and ``split``.
    rejected : pandas.DataFrame [columns=SCREEN_COLUMNS]

    Raises
    ------
    voxlib.audio.AudioTooLongError
        A recording too long for the transforms (:func:`check_transform_memory`).
    ValueError
        A speaker with a single recording of segments (unless ``split_within_recording``), unknown
        ``speakers``, or a corpus the run's split does not cover.
    """
    found = discover(data_dir)
    rejected = [pd.DataFrame(found.attrs.get("rejected", []), columns=SCREEN_COLUMNS)]
    if speakers is not None:
        unknown = sorted(set(speakers) - set(found["speaker"]))
        if unknown:
            raise ValueError(f"speakers names {unknown}, not in {data_dir}; it has: "
                             f"{', '.join(sorted(found['speaker'].unique()))}")
    rows = found
    if max_duration is not None:
        rows, cut = segment_corpus(found, Path(run_dir) / SEGMENTS_DIR, max_duration=max_duration, progress=progress)
        rejected.append(cut)
    mine = rows if speakers is None else rows[rows["speaker"].isin(speakers)]
    check_transform_memory(mine, sr=sr, transforms=transforms, max_bytes=max_transform_bytes)
    corpus = _attach_split(rows, found, run_dir, split_within_recording=split_within_recording,
                           test_size=test_size, seed=seed, split_file=split_file)
    if speakers is not None:
        corpus = corpus[corpus["speaker"].isin(speakers)]
    corpus = sample_per_speaker(corpus, utterances_per_speaker, seed=seed)
    corpus, screened = screen(corpus, sr=sr, progress=progress)
    rejected = pd.concat([r for r in [*rejected, screened] if len(r)] or [screened], ignore_index=True)
    rejected.to_csv(Path(run_dir) / REJECTED_FILE, index=False)
    return corpus, rejected


def corpus_summary(corpus: pd.DataFrame) -> pd.DataFrame:
    """Per speaker: recordings, how many are held out (``split == "test"``), and seconds of audio."""
    require_columns(corpus, ["speaker", "path", "split", "duration"], "corpus")
    return corpus.groupby("speaker").agg(recordings=("path", "size"),
                                         held_out=("split", lambda s: int((s == "test").sum())),
                                         seconds=("duration", "sum")).round(1)


def pick_example(corpus: pd.DataFrame, example: str | None = None, *, near_seconds: float = 3.0) -> pd.Series:
    """The row to draw: ``example`` (``"speaker/utterance"``), or the recording nearest ``near_seconds``."""
    if example is None:
        return corpus.iloc[int((corpus["duration"] - near_seconds).abs().argmin())]
    keys = corpus["speaker"].astype(str) + "/" + corpus["utterance"].astype(str)
    if example not in set(keys):
        raise ValueError(f"example={example!r} is not an accepted recording; give 'speaker/utterance', e.g. "
                         f"{keys.iloc[0]!r}")
    return corpus[keys == example].iloc[0]
