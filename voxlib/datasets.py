"""Corpora as tidy tables: discovery, pairing, splits and manifests.

A corpus is a :class:`pandas.DataFrame` with one row per recording
(``path, speaker, utterance, duration, sr, channels``). Stages hand their
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

from voxlib import audio

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
]

CORPUS_COLUMNS = ["path", "speaker", "utterance", "duration", "sr", "channels"]
# The thesis's flat naming: the speaker letter between underscores, e.g. "frase03_A_1.wav".
FLAT_PATTERN = re.compile(r"_([A-Za-z])_")
_IGNORED = {".ds_store", "thumbs.db", "desktop.ini"}
_DOC_SUFFIXES = {".md", ".txt", ".csv", ".json", ".yaml", ".yml"}


def _probe(path: Path) -> dict | None:
    """Duration, rate and channels of one file, or ``None`` (with a warning) if unreadable."""
    if path.stat().st_size == 0:
        warnings.warn(f"skipping {path}: empty file (0 bytes); re-export or delete it", stacklevel=3)
        return None
    try:
        info = sf.info(str(path))
    except Exception as exc:
        warnings.warn(
            f"skipping {path}: cannot decode it as audio ({exc}); convert it to WAV/FLAC or delete it",
            stacklevel=3,
        )
        return None
    return {"duration": info.frames / info.samplerate, "sr": int(info.samplerate),
            "channels": int(info.channels)}


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in audio.AUDIO_EXTENSIONS


def _folder_layout(root: Path) -> list[tuple[Path, str, str]]:
    items = []
    for spk_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(spk_dir.rglob("*")):
            if f.is_dir() or f.name.lower() in _IGNORED or f.name.startswith("."):
                continue
            if not _is_audio(f):
                if f.suffix.lower() not in _DOC_SUFFIXES:
                    warnings.warn(f"skipping {f}: not an audio file ({', '.join(audio.AUDIO_EXTENSIONS)})",
                                  stacklevel=3)
                continue
            utt = "-".join(f.relative_to(spk_dir).with_suffix("").parts)
            items.append((f, spk_dir.name, utt))
    return items


def _flat_layout(root: Path) -> list[tuple[Path, str, str]]:
    items = []
    for f in sorted(p for p in root.iterdir() if p.is_file()):
        if f.name.lower() in _IGNORED or f.name.startswith(".") or f.suffix.lower() in _DOC_SUFFIXES:
            continue
        if not _is_audio(f):
            warnings.warn(f"skipping {f}: not an audio file", stacklevel=3)
            continue
        m = FLAT_PATTERN.search(f.stem)
        if not m:
            warnings.warn(
                f"skipping {f}: no speaker letter between underscores in its name "
                "(thesis naming, e.g. 'frase03_A_1.wav'); rename it or use one folder per speaker",
                stacklevel=3,
            )
            continue
        utt = (f.stem[: m.start()] + "_" + f.stem[m.end():]).strip("_")
        items.append((f, m.group(1).upper(), utt))
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
        Unreadable and non-audio files are skipped with a warning naming them.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus root {root} is not a folder; check the data_dir parameter")
    if layout == "auto":
        layout = "folders" if any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()) else "flat"
    if layout not in _LAYOUTS:
        raise ValueError(f"layout={layout!r}; allowed: 'auto', {', '.join(map(repr, _LAYOUTS))}")
    rows = []
    for f, speaker, utt in _LAYOUTS[layout](root):
        info = _probe(f)
        if info is not None:
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
        :data:`SPLIT_COLUMNS` (those present), one row per recording, sorted.
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
    cols = [c for c in SPLIT_COLUMNS if c in out.columns]
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


def apply_split(corpus: pd.DataFrame, split_table: pd.DataFrame, *, where: str = "split table") -> pd.DataFrame:
    """``corpus`` with the ``split`` (and ``group``) of ``split_table``, matched by (speaker, utterance).

    Raises ``ValueError`` naming recordings the split table does not cover.
    """
    require_columns(corpus, ["speaker", "utterance"], "corpus")
    cols = [c for c in ("speaker", "utterance", "group", "split") if c in split_table.columns]
    keyed = split_table[cols].astype({"speaker": str, "utterance": str})
    out = corpus.drop(columns=[c for c in ("group", "split") if c in corpus.columns]).astype(
        {"speaker": str, "utterance": str}).merge(keyed, on=["speaker", "utterance"], how="left")
    missing = out[out["split"].isna()]
    if len(missing):
        shown = ", ".join(f"{r.speaker}/{r.utterance}" for r in missing.head(3).itertuples())
        raise ValueError(f"{len(missing)} recording(s) are not in the {where}, e.g. {shown}: add them to it, "
                         "or use a new run_dir so a split is drawn for this corpus")
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
    return apply_split(corpus, load_split(path), where=f"run's split {path} (drawn earlier in this run folder)")


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


def prepare_corpus(data_dir, run_dir, *, speakers=None, utterances_per_speaker=None, sr=None, test_size=0.25,
                   seed=0, split_file=None, progress=True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Notebook 01's corpus: discover, attach the run's split, keep ``speakers``, sample, screen.

    The steps in order: :func:`discover` ``data_dir``; :func:`run_split` (the run's one split, drawn
    once over the whole corpus and shared by every stage); keep ``speakers`` (None: all); a seeded
    sample of ``utterances_per_speaker`` per speaker (None: all); :func:`screen` at ``sr``. The
    rejected files are written to ``<run_dir>/rejected.csv`` (empty table when none).

    Returns
    -------
    corpus : pandas.DataFrame
        The accepted recordings, with ``group`` and ``split`` columns.
    rejected : pandas.DataFrame [columns=SCREEN_COLUMNS]
    """
    corpus = run_split(discover(data_dir), run_dir, test_size=test_size, seed=seed, split_file=split_file)
    if speakers is not None:
        unknown = sorted(set(speakers) - set(corpus["speaker"]))
        if unknown:
            raise ValueError(f"speakers names {unknown}, not in {data_dir}; it has: "
                             f"{', '.join(sorted(corpus['speaker'].unique()))}")
        corpus = corpus[corpus["speaker"].isin(speakers)]
    corpus = sample_per_speaker(corpus, utterances_per_speaker, seed=seed)
    corpus, rejected = screen(corpus, sr=sr, progress=progress)
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
