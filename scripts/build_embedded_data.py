#!/usr/bin/env python
"""Build ``data/embedded/``: real voice prompts from seven Debian packages.

The embedded corpus is committed to the repository; this script is only
needed to rebuild it (it is not used at run time). It

1. downloads seven Debian packages with ``apt-get download`` (no root needed;
   or takes the ``.deb`` files from ``--debs DIR``) and unpacks them with
   ``dpkg-deb -x`` into a temporary folder that is removed afterwards;
2. decodes every prompt (G.722 with the ``g722`` PyPI package, GSM 6.10 and
   WAV with soundfile), resamples it to 8 kHz mono (so that bandwidth cannot
   give a speaker away) and drops tones, silences and files that fail a
   speech check;
3. keeps every prompt id shared by the cloning pair Allison (es-MX) and July
   (es-CO), a seeded random subset of 0.5-4 s prompts for every speaker so
   that each has at least ``--min-per-speaker`` utterances, and a seeded draw
   of 120 prompt ids of 0.5-4 s shared by the second cloning pair Carlo (it,
   male) and Menardi (it, female) (see ``PAIRS``);
4. writes ``<speaker>/<utterance>.flac`` (16-bit FLAC), ``index.csv``,
   ``README.md`` and ``COPYRIGHT.txt`` (the packages' copyright files).

It refuses to touch files it did not make: the output folder must be empty,
missing, or hold only the files listed in its own ``index.csv``.

Usage::

    .venv/bin/pip install g722          # build-time only decoder for G.722
    .venv/bin/python scripts/build_embedded_data.py
    .venv/bin/python scripts/build_embedded_data.py --check   # rebuild, compare, write nothing
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy import signal

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "data" / "embedded"

SR = 8000  # Hz, the one rate of the embedded corpus
SEED = 0
MIN_PER_SPEAKER = 80
DURATION_RANGE = (0.5, 4.0)  # s, source file duration, for the random subsets
SIZE_LIMIT_MB = 30.0
# Cloning pairs (source, target, n_shared). n_shared None: every speech prompt id
# the two share is kept, whatever its duration; an int: a seeded draw of that many
# shared speech ids whose files are of DURATION_RANGE for both speakers (ids the two
# speakers' own draws already share count), on top of each speaker's own draw.
PAIRS = (
    ("es-mx_allison", "es-co_july", None),
    ("it_carlo", "it_menardi", 120),
)
SOUNDS = "usr/share/asterisk/sounds"

# speaker folder -> where its prompts come from. ``root`` is the language's
# sounds root inside the package (below usr/share/asterisk/sounds/): utterance
# ids are paths relative to it. ``version`` is the Debian 12 ("bookworm")
# version the corpus was built from; another version still builds, with a
# warning, but may give other files.
_G722, _GSM = "G.722 raw, 16 kHz", "GSM 6.10 raw, 8 kHz"
_COLUMNS = ("package", "version", "root", "voice", "language", "sex", "source_format",
            "licence")
_TABLE = {
    "es-mx_allison": ("asterisk-core-sounds-es-g722", "1.6.1-1", "es_MX_f_Allison",
                      "Allison Smith", "Spanish (Mexico)", "female", _G722, "CC-BY-SA-3.0"),
    "fr-ca_june": ("asterisk-core-sounds-fr-g722", "1.6.1-1", "fr_CA_f_June",
                   "June Wallack", "French (Canada)", "female", _G722, "CC-BY-SA-3.0"),
    "it_carlo": ("asterisk-core-sounds-it-g722", "1.6.1-1", "it_IT_m_Carlo",
                 "Carlo Flora", "Italian", "male", _G722, "CC-BY-3.0"),
    "ru_female": ("asterisk-core-sounds-ru-g722", "1.6.1-1", "ru_RU_f_IvrvoiceRU",
                  'not named ("IvrvoiceRU")', "Russian", "female", _G722, "CC-BY-3.0"),
    "es-co_july": ("asterisk-prompt-es-co", "0.20070403-2.1", "es",
                   "July E. Jiménez (Avatar Ltda.)", "Spanish (Colombia)", "female", _GSM,
                   "GPL-2.0-only"),
    "it_menardi": ("asterisk-prompt-it-menardi-wav", "1:1.4.22+mm20110907-3.1",
                   "it_IT_f_Menardi", "Paola Dal Zot (courtesy of Marco Menardi)", "Italian",
                   "female", "WAV PCM 16-bit, 8 kHz", "CC-BY-SA-3.0-IT"),
    "fr-fr_armelle": ("asterisk-prompt-fr-armelle", "20070613-2.2", "fr",
                      "Armelle Desjardins", "French (France)", "female", _GSM,
                      "BSD-style (Gutierrez 2006)"),
}
SPEAKERS = {speaker: dict(zip(_COLUMNS, row), root=f"{SOUNDS}/{row[2]}")
            for speaker, row in _TABLE.items()}
EXPECTED_VERSIONS = {spec["package"]: spec["version"] for spec in SPEAKERS.values()}

# Prompt ids that are not a voice: tones, jingles, animal noises, silences.
NON_SPEECH_IDS = frozenset({
    "beep", "beeperr", "ascending-2tone", "descending-2tone",
    "confbridge-join", "confbridge-leave", "tt-monkeys",
})
NON_SPEECH_PREFIXES = ("silence-",)

MIN_RMS_DB = -40.0  # dBFS; quieter files are not kept
MIN_BAND_FRACTION = 0.5  # share of power in 100-3800 Hz
OWN_FILES = ("index.csv", "README.md", "COPYRIGHT.txt")
INDEX_COLUMNS = ["speaker", "utterance", "path", "duration_s", "sr", "n_samples",
                 "package", "package_version", "source_file", "licence"]


class BuildError(RuntimeError):
    """A build step failed; the message says what to do."""


# ----------------------------------------------------------------- decoding
def decode_g722(path):
    """Decode a raw 64 kbit/s G.722 file.

    Returns
    -------
    y : np.ndarray, float64, shape (n,)
        Samples in [-1, 1] at 16 kHz.
    sr : int
        16000.
    """
    try:
        import G722  # the ``g722`` PyPI package
    except ImportError as exc:
        raise BuildError(
            "decoding G.722 needs the `g722` package (build-time only): "
            "run `.venv/bin/pip install g722` and rerun") from exc
    pcm = G722.G722(16000, 64000).decode(Path(path).read_bytes())
    return np.asarray(pcm, dtype=np.int16).astype(np.float64) / 32768.0, 16000


def decode_gsm(path):
    """Decode a raw GSM 6.10 file (8 kHz mono): float64 ``(n,)`` in [-1, 1], 8000."""
    y, sr = sf.read(path, format="RAW", subtype="GSM610", samplerate=8000,
                    channels=1, dtype="float64")
    return y, sr


def decode_wav(path):
    """Read a WAV file as float64 ``(n,)`` in [-1, 1] (first channel) and its rate."""
    y, sr = sf.read(path, dtype="float64", always_2d=True)
    return y[:, 0], sr


DECODERS = {".g722": decode_g722, ".gsm": decode_gsm, ".wav": decode_wav}


def to_rate(y, sr_in, sr_out=SR):
    """Resample ``y`` (float64 ``(n,)``) from ``sr_in`` to ``sr_out`` Hz (polyphase, Kaiser)."""
    if sr_in == sr_out:
        return y
    g = np.gcd(int(sr_in), int(sr_out))
    return signal.resample_poly(y, sr_out // g, sr_in // g)


def to_int16(y):
    """Quantise float samples in [-1, 1] to int16 (round, clip)."""
    return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)


def speech_stats(y, sr):
    """RMS level (dBFS) and the share of power between 100 and 3800 Hz.

    Parameters
    ----------
    y : np.ndarray, int16, shape (n,)
    sr : int, Hz

    Returns
    -------
    rms_db : float
    band_fraction : float in [0, 1]
    """
    x = y.astype(np.float64) / 32768.0
    if x.size < 256:
        return -np.inf, 0.0
    rms_db = 10 * np.log10(np.mean(x**2) + 1e-20)
    f, p = signal.welch(x, sr, nperseg=256)
    band = p[(f >= 100) & (f <= 3800)].sum() / max(p.sum(), 1e-30)
    return float(rms_db), float(band)


def utterance_id(relpath):
    """Utterance id of a prompt: path below the sounds root, no extension, '/' -> '-'."""
    return os.path.splitext(relpath)[0].replace(os.sep, "-").replace("/", "-")


def is_non_speech(utt):
    """True for the prompt ids known to hold no voice (tones, silences)."""
    return utt in NON_SPEECH_IDS or utt.startswith(NON_SPEECH_PREFIXES)


# ------------------------------------------------------------- file system
def run(cmd, cwd=None):
    """Run ``cmd`` (list) and return its stdout; raise BuildError naming the command."""
    try:
        res = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BuildError(f"`{cmd[0]}` not found: this script needs Debian/Ubuntu's apt "
                         "and dpkg (or pass --debs DIR holding the .deb files)") from exc
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"`{' '.join(cmd)}` failed ({exc.returncode}): {exc.stderr.strip()}"
                         "\nRun `sudo apt-get update` first, or pass --debs DIR") from exc
    return res.stdout


def fetch_debs(dest, debs_dir=None):
    """Place the seven .deb files in ``dest``; return {package: deb path}.

    With ``debs_dir`` the files are taken from there, else ``apt-get download``.
    """
    packages = sorted({s["package"] for s in SPEAKERS.values()})
    if debs_dir is None:
        run(["apt-get", "download", *packages], cwd=dest)
        source = Path(dest)
    else:
        source = Path(debs_dir)
    found = {}
    for pkg in packages:
        hits = sorted(source.glob(f"{pkg}_*.deb"))
        if not hits:
            raise BuildError(f"no {pkg}_*.deb in {source}: download it with "
                             f"`apt-get download {pkg}`")
        found[pkg] = hits[-1]
    return found


def extract_debs(debs, dest):
    """Unpack each .deb into ``dest/<package>``; return {package: (folder, version)}."""
    out = {}
    for pkg, deb in debs.items():
        folder = Path(dest) / pkg
        run(["dpkg-deb", "-x", str(deb), str(folder)])
        version = run(["dpkg-deb", "-f", str(deb), "Version"]).strip()
        if version != EXPECTED_VERSIONS[pkg]:
            print(f"warning: {pkg} is version {version}, the corpus was built from "
                  f"{EXPECTED_VERSIONS[pkg]}; the files may differ", file=sys.stderr)
        out[pkg] = (folder, version)
    return out


def list_prompts(root):
    """Regular audio files under ``root``, sorted, symlinks neither followed nor counted.

    Returns
    -------
    list of (utterance id, path relative to root)
    """
    root = Path(root)
    if not root.is_dir():
        raise BuildError(f"{root} is missing: the package layout changed; "
                         "update SPEAKERS[...]['root'] in this script")
    seen, prompts = set(), []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or path.suffix not in DECODERS:
                continue
            key = (path.stat().st_dev, path.stat().st_ino)
            if key in seen:
                continue
            seen.add(key)
            rel = path.relative_to(root).as_posix()
            prompts.append((utterance_id(rel), rel))
    ids = [u for u, _ in prompts]
    if len(ids) != len(set(ids)):
        raise BuildError(f"two files under {root} map to one utterance id")
    return prompts


def load_catalogue(packages):
    """Decode every prompt of every speaker.

    Returns
    -------
    catalogue : DataFrame[speaker, utterance, source_file, source_duration_s,
        rms_db, band_fraction, speech, package, package_version, sha1 (of the samples)]
    audio : dict (speaker, utterance) -> int16 ``(n,)`` at ``SR``
    """
    rows, audio = [], {}
    for speaker, spec in SPEAKERS.items():
        folder, version = packages[spec["package"]]
        root = folder / spec["root"]
        for utt, rel in list_prompts(root):
            path = root / rel
            if path.stat().st_size == 0:
                print(f"note: {spec['package']}: {rel} is empty, skipped", file=sys.stderr)
                continue
            y, sr_in = DECODERS[path.suffix](path)
            y8 = to_int16(to_rate(y, sr_in, SR))
            rms_db, band = speech_stats(y8, SR)
            speech = (not is_non_speech(utt) and rms_db >= MIN_RMS_DB
                      and band >= MIN_BAND_FRACTION)
            audio[speaker, utt] = y8
            rows.append(dict(
                speaker=speaker, utterance=utt,
                source_file=f"/{spec['root']}/{rel}",
                source_duration_s=len(y) / sr_in, rms_db=rms_db, band_fraction=band,
                speech=speech, package=spec["package"], package_version=version,
                sha1=hashlib.sha1(y8.tobytes()).hexdigest()))
    return pd.DataFrame(rows), audio


# ---------------------------------------------------------------- selection
def select_utterances(catalogue, *, pairs=PAIRS, min_per_speaker=MIN_PER_SPEAKER,
                      duration_range=DURATION_RANGE, seed=SEED):
    """Choose the utterances to embed.

    1. For each pair with ``n_shared`` None, every speech prompt id present for
       both speakers is kept for both, whatever its duration.
    2. Each speaker gets a seeded random draw from its other speech prompts of
       ``duration_range`` seconds until it has ``min_per_speaker`` (the ids of
       step 1 count).
    3. For each pair with an int ``n_shared``, the ids the two speakers already
       share after step 2 count, and a seeded draw from the other ids that are
       speech of ``duration_range`` seconds for both speakers tops them up to
       ``n_shared`` (or to as many as there are); they are added to both.

    Parameters
    ----------
    catalogue : DataFrame with columns speaker, utterance, source_duration_s, speech
    pairs : sequence of (str, str, int or None)
        Cloning pairs (source, target, n_shared), see ``PAIRS``.
    min_per_speaker : int >= 1
    duration_range : (float, float), seconds
    seed : int

    Returns
    -------
    selected : DataFrame
        The selected rows of ``catalogue`` sorted by speaker, utterance, with a
        boolean column ``shared`` (the id is selected for both speakers of a
        pair the speaker is in) and a column ``pair`` (``"source->target"`` of
        that pair, else ``""``). ``selected.attrs["pairs"]`` holds one dict per
        pair: source, target, n_shared, in_both (ids in both packages),
        eligible (ids step 3 may draw from, None for step 1), from_own_draws
        (shared after step 2), drawn (step 3) and shared (selected for both).
    """
    if min_per_speaker < 1:
        raise ValueError(f"min_per_speaker must be >= 1, got {min_per_speaker}")
    lo, hi = duration_range
    speakers = set(catalogue["speaker"])
    for src, tgt, n_shared in pairs:
        if src not in speakers or tgt not in speakers or src == tgt:
            raise ValueError(f"pairs: ({src!r}, {tgt!r}) must name two different speakers "
                             f"of the catalogue ({sorted(speakers)})")
        if n_shared is not None and n_shared < 1:
            raise ValueError(f"pairs: n_shared of ({src!r}, {tgt!r}) must be None or >= 1, "
                             f"got {n_shared}")
    speech = catalogue[catalogue["speech"]].sort_values(["speaker", "utterance"])
    ids = {s: set(g["utterance"]) for s, g in speech.groupby("speaker")}
    in_range = {s: set(g.loc[g["source_duration_s"].between(lo, hi), "utterance"])
                for s, g in speech.groupby("speaker")}
    every = {s: set(g["utterance"]) for s, g in catalogue.groupby("speaker")}
    keep = {s: set() for s in sorted(speakers)}
    stats = []
    # 1. pairs that keep every shared id
    for src, tgt, n_shared in pairs:
        if n_shared is None:
            both = ids.get(src, set()) & ids.get(tgt, set())
            keep[src] |= both
            keep[tgt] |= both
    # 2. each speaker's own draw
    for speaker in sorted(ids):
        pool = np.array(sorted(in_range[speaker] - keep[speaker]), dtype=object)
        rng = np.random.default_rng([seed, zlib.crc32(speaker.encode())])
        need = max(0, min_per_speaker - len(keep[speaker]))
        if need > len(pool):
            raise BuildError(f"{speaker} has only {len(pool)} prompts of {lo}-{hi} s; "
                             f"lower --min-per-speaker (got {min_per_speaker})")
        keep[speaker] |= set(rng.permutation(pool)[:need])
    # 3. pairs that draw n_shared ids
    for src, tgt, n_shared in pairs:
        row = dict(source=src, target=tgt, n_shared=n_shared,
                   in_both=len(every[src] & every[tgt]), eligible=None, from_own_draws=0,
                   drawn=0)
        if n_shared is not None:
            eligible = in_range.get(src, set()) & in_range.get(tgt, set())
            already = keep[src] & keep[tgt] & eligible
            pool = np.array(sorted(eligible - already), dtype=object)
            rng = np.random.default_rng([seed, zlib.crc32(f"{src}->{tgt}".encode())])
            drawn = set(rng.permutation(pool)[:max(0, n_shared - len(already))])
            keep[src] |= drawn
            keep[tgt] |= drawn
            row.update(eligible=len(eligible), from_own_draws=len(already), drawn=len(drawn))
        stats.append(row)
    out = pd.concat([g[g["utterance"].isin(keep[s])] for s, g in speech.groupby("speaker")])
    out = out.sort_values(["speaker", "utterance"]).reset_index(drop=True)
    out["shared"], out["pair"] = False, ""
    for row in stats:
        src, tgt = row["source"], row["target"]
        both = keep[src] & keep[tgt]
        hit = out["speaker"].isin([src, tgt]) & out["utterance"].isin(both) & ~out["shared"]
        out.loc[hit, "shared"] = True
        out.loc[hit, "pair"] = f"{src}->{tgt}"
        row["shared"] = len(both)
    out.attrs["pairs"] = stats
    return out


# ------------------------------------------------------------------ outputs
def own_files(out_dir):
    """Files in ``out_dir`` this script made (listed in its index.csv).

    Raises BuildError if ``out_dir`` holds anything else, naming the files.
    """
    out_dir = Path(out_dir)
    if not out_dir.exists():
        return set()
    present = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*")
               if p.is_file() or p.is_symlink()}
    index = out_dir / "index.csv"
    listed = set(pd.read_csv(index)["path"]) | set(OWN_FILES) if index.is_file() else set()
    foreign = sorted(present - listed)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise BuildError(f"{out_dir} holds {len(foreign)} file(s) this script did not "
                         f"make ({shown}); move them elsewhere and rerun, or pass --out "
                         "an empty folder")
    return present


def write_corpus(selected, audio, stage, *, catalogue, packages, copyright_texts, seed,
                 min_per_speaker):
    """Write FLAC files, index.csv, README.md and COPYRIGHT.txt into ``stage``."""
    stage = Path(stage)
    rows = []
    for r in selected.itertuples(index=False):
        rel = f"{r.speaker}/{r.utterance}.flac"
        (stage / r.speaker).mkdir(parents=True, exist_ok=True)
        y = audio[r.speaker, r.utterance]
        sf.write(stage / rel, y, SR, format="FLAC", subtype="PCM_16")
        rows.append(dict(speaker=r.speaker, utterance=r.utterance, path=rel,
                         duration_s=round(len(y) / SR, 6), sr=SR, n_samples=len(y),
                         package=r.package, package_version=r.package_version,
                         source_file=r.source_file,
                         licence=SPEAKERS[r.speaker]["licence"]))
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    index.to_csv(stage / "index.csv", index=False, lineterminator="\n")
    (stage / "COPYRIGHT.txt").write_text(copyright_texts, encoding="utf-8")
    (stage / "README.md").write_text(
        render_readme(index, selected, catalogue, packages=packages, seed=seed,
                      min_per_speaker=min_per_speaker, size_mb=folder_mb(stage)),
        encoding="utf-8")
    return index


def folder_mb(folder):
    """Total size of the regular files under ``folder``, in MB (10**6 bytes)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6


def collect_copyrights(packages):
    """The packages' copyright files (identical ones once), as one text."""
    parts, seen = [], {}
    for pkg in sorted(packages):
        folder, version = packages[pkg]
        doc = folder / "usr/share/doc" / pkg / "copyright"
        text = doc.read_text(encoding="utf-8", errors="replace")
        digest = hashlib.sha256(text.encode()).hexdigest()
        header = f"{'=' * 72}\n{pkg} {version}: /usr/share/doc/{pkg}/copyright\n{'=' * 72}\n"
        if digest in seen:
            parts.append(header + f"(identical to the copyright file of {seen[digest]})\n")
            continue
        seen[digest] = pkg
        parts.append(header + text)
    return ("Copyright files of the Debian packages the embedded corpus comes from,\n"
            "copied verbatim. The GPL-2 text is in /usr/share/common-licenses/GPL-2 on\n"
            "Debian systems and at https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt\n\n"
            + "\n".join(parts))


def same_audio_groups(rows):
    """Groups of utterance ids of one speaker whose samples are identical.

    Returns
    -------
    list of (speaker, [utterance, ...]) with two or more ids each, sorted.
    """
    groups = rows.groupby(["speaker", "sha1"])["utterance"].apply(sorted)
    return sorted((spk, utts) for (spk, _), utts in groups.items() if len(utts) > 1)


def render_readme(index, selected, catalogue, *, packages, seed, min_per_speaker, size_mb):
    """The data README: provenance, licences, processing, counts."""
    counts = index.groupby("speaker").agg(files=("path", "size"),
                                          seconds=("duration_s", "sum"))
    table = ["| speaker folder | voice | language | files | seconds | package (version) | "
             "source format | licence |", "|---|---|---|---|---|---|---|---|"]
    for speaker, spec in SPEAKERS.items():
        c = counts.loc[speaker]
        table.append(f"| `{speaker}` | {spec['voice']} ({spec['sex']}) | {spec['language']} | "
                     f"{int(c.files)} | {c.seconds:.1f} | `{spec['package']}` "
                     f"({packages[spec['package']][1]}) | {spec['source_format']} | "
                     f"{spec['licence']} |")
    table.append(f"| **all** | | | **{int(counts.files.sum())}** | "
                 f"**{counts.seconds.sum():.1f}** | | | |")
    keep_all, drawn_pairs = [], []
    for stats in selected.attrs["pairs"]:
        (keep_all if stats["n_shared"] is None else drawn_pairs).append(stats)
    if len(keep_all) != 1:
        raise BuildError("the README describes exactly one pair that keeps every shared id "
                         f"(n_shared None); PAIRS has {len(keep_all)}: update render_readme")
    pair = (keep_all[0]["source"], keep_all[0]["target"])
    label = f"{pair[0]}->{pair[1]}"
    shared = sorted(selected.loc[selected["pair"] == label, "utterance"].unique())
    ids_in = {s: set(catalogue.loc[catalogue["speaker"] == s, "utterance"]) for s in pair}
    in_both = sorted(ids_in[pair[0]] & ids_in[pair[1]])
    left_out = sorted(set(in_both) - set(shared))
    pair_rows = selected[selected["pair"] == label].set_index(["speaker", "utterance"])
    dur = pair_rows["source_duration_s"]
    longest = dur.loc[pair[0]].idxmax()
    dup_text = _same_audio_text(selected[selected["speaker"].isin(pair)])
    drawn_text = "".join(_drawn_pair_section(stats, selected, seed=seed, nth=k + 2) + "\n\n"
                         for k, stats in enumerate(drawn_pairs))
    drawn_names = " and ".join(f"`{st['source']}` and `{st['target']}`" for st in drawn_pairs)
    drawn_sel = (f"\n- {drawn_names}: their own draw as for every speaker, plus\n"
                 "  the ids drawn for their cloning pair (above) on top, so they have\n"
                 "  more files than the others." if drawn_pairs else "")
    failed = catalogue[~catalogue["speech"] & ~catalogue["utterance"].map(is_non_speech)]
    failed_text = (", ".join(f"`{r.speaker}/{r.utterance}`" for r in failed.itertuples())
                   or "none")
    digits = [u for u in shared if u.startswith("digits-")]
    numbers = [u for u in digits if u[len("digits-"):].isdigit()]
    days_months = [u for u in digits if u.startswith(("digits-day-", "digits-mon-"))]
    roots = "\n".join(f"- `{s}`: `/{spec['root']}/` in `{spec['package']}`"
                      for s, spec in SPEAKERS.items())
    lo, hi = DURATION_RANGE
    return f"""# Embedded real speech

Seven real voices reading telephone-system prompts, taken from Debian's
Asterisk prompt packages, converted to one format: **8 kHz, mono, 16-bit
FLAC**, one folder per speaker, `<speaker>/<utterance>.flac`. `index.csv`
lists every file (speaker, utterance, path, duration_s, sr, n_samples,
package, package_version, source_file, licence). Total size {size_mb:.1f} MB.

Rebuild (needs Debian/Ubuntu `apt-get` and `dpkg-deb`, no root, and the
build-time-only decoder `pip install g722`):

```
.venv/bin/python scripts/build_embedded_data.py          # rewrite data/embedded
.venv/bin/python scripts/build_embedded_data.py --check  # rebuild in a temp folder, compare, write nothing
```

The build is deterministic (seed {seed}, sorted inputs): a rebuild from the
same package versions gives byte-identical files.

## Speakers and counts

{chr(10).join(table)}

## The cloning pair: {_name(pair[0])} ({_tag(pair[0])}) → {_name(pair[1])} ({_tag(pair[1])})

Both packages translate the same Asterisk prompt list, so prompts with the
same id say (nearly) the same thing. {len(in_both)} prompt ids are in both
packages; leaving out the ones that are not speech ({", ".join(f"`{u}`" for u in left_out)}),
they share **{len(shared)} prompt ids**, and every one of them is kept for both
speakers, whatever its duration ({dur.min():.2f}-{dur.max():.1f} s). Of these,
{len(digits)} are `digits-*` prompts; at least **{len(numbers) + len(days_months)}**
say the very same word in both ({len(numbers)} numbers, {len(days_months)} weekday and
month names); the rest of `digits-*` (`h-*`, `hundred`, `today`, `a-m`,
`pound` ...) are single words that are most likely the same too (not checked
by ear). The other prompts are separate translations of the same English
sentence and often differ in wording and length (e.g. `{longest}`:
{dur.loc[pair[0], longest]:.1f} s for {_name(pair[0])}, {dur.loc[pair[1], longest]:.1f} s for {_name(pair[1])}).

Some ids of one speaker are the very same recording (identical samples):
{dup_text}. All are kept (they are shared ids), so a train/test
split by utterance id can put the same audio on both sides for these few
ids.

{drawn_text}## Selection

- Every speaker: a seeded random draw (seed {seed}) from its speech prompts of
  {lo}-{hi} s (the source file's own duration, nothing trimmed), so that each
  has at least {min_per_speaker} utterances. {_name(pair[0])} and {_name(pair[1])} reach that with
  their shared ids alone, so all their files are shared ids.{drawn_sel}
- Left out everywhere: tones and noises (`{'`, `'.join(sorted(NON_SPEECH_IDS))}`),
  `silence/*`, and any file quieter than {MIN_RMS_DB:.0f} dBFS RMS or with less
  than {MIN_BAND_FRACTION:.0%} of its power in 100-3800 Hz or shorter than
  256 samples (in these packages: {failed_text}). Empty files are skipped.

## Caveats

Each voice was recorded in its own studio and stored with its own codec
(G.722, GSM 6.10 or PCM before the conversion to 8 kHz FLAC), so the
recordings also differ in noise floor and codec artefacts. A classifier can
learn the channel as well as the voice; the same holds for any corpus
gathered this way. The prompts are read telephone-menu phrases, not
conversational speech.

## Utterance ids

The prompt's path below its language's sounds root, without extension,
`/` replaced by `-` (`digits/1.gsm` → `digits-1`, `vm-intro.g722` →
`vm-intro`), so the same prompt has the same id in every package. Roots:

{roots}

Symlinked folders (`sounds/digits/es -> ../es/digits` in
`asterisk-prompt-es-co`, `sounds/{{digits,letters,dictate,phonetic}}/fr` in
`asterisk-prompt-fr-armelle`) are neither followed nor counted.

## Processing

1. Decode: G.722 (64 kbit/s raw, 16 kHz) with the `g722` package (ITU-T
   G.722 reference decoder); GSM 6.10 raw with libsndfile
   (`soundfile.read(f, format='RAW', subtype='GSM610', samplerate=8000,
   channels=1)`); WAV (8 kHz, 16-bit) with soundfile.
2. Resample the 16 kHz voices to 8 kHz with `scipy.signal.resample_poly(y, 1, 2)`
   (polyphase, Kaiser window), so that all seven voices have the same
   telephone bandwidth and the bandwidth cannot give a speaker away. The
   8 kHz sources are not resampled.
3. Round to 16-bit and write mono FLAC. Nothing is trimmed, normalised or
   filtered otherwise. These are modified versions of the original works
   (format conversion and resampling).

## Licences and attribution

The copyright files of all seven packages are copied verbatim into
`COPYRIGHT.txt`. Each file keeps the licence of its package:

- `es-mx_allison`: voice prompts recorded by **Allison Smith**
  (http://www.theivrvoice.com), financial contributions by Digium, Inc.;
  copyright 2003-2010 Allison Smith; **CC-BY-SA-3.0**
  (https://creativecommons.org/licenses/by-sa/3.0/).
- `fr-ca_june`: recorded by **June Wallack** (http://www.junewallack.com),
  translated into French by Clod Patry, Kristopher Lalletti and June
  Wallack; copyright 2006-2008 June Wallack; **CC-BY-SA-3.0**.
- `it_carlo`: recorded by **Carlo Flora** (http://www.carloflora.com,
  http://www.segreterietelefoniche.it), translated by Silvia Petrin;
  copyright 2012 Carlo Flora; **CC-BY-3.0**
  (https://creativecommons.org/licenses/by/3.0/).
- `ru_female`: "Provided by: Maxim Topal, http://www.ivrvoice.ru";
  copyright 2010 Maxim; **CC-BY-3.0**. The package names no speaker
  (its folder is `ru_RU_f_IvrvoiceRU`: a female voice); the folder name
  says only that.
- `es-co_july`: "Sonidos grabados por Avatar Ltda. con la voz de
  **July E. Jiménez**"; copyright (C) 2006 Avatar Ltda.
  (http://www.avatar.com.co/); **GNU GPL version 2** (June 1991).
- `it_menardi`: prompts re-recorded in Italian by **Paola Dal Zot**,
  courtesy of **Marco Menardi**; copyright 2006-2011 Marco Menardi and
  Paola Dal Zot; **Creative Commons Attribution-ShareAlike 3.0 Italia**.
  Their attribution condition: the sound files were made by Marco Menardi
  and his wife Paola Dal Zot, http://www.voip.ammdomus.it. The English
  text the prompts translate is copyright Digium.
- `fr-fr_armelle`: voice actor **Armelle Desjardins**; copyright (C) 2006
  Michel Gutierrez; a BSD-style licence (redistribution with or without
  modification permitted if the copyright notice, conditions and
  disclaimer are retained; no endorsement), quoted in `COPYRIGHT.txt`.

The prompt texts of the Asterisk core sounds are translations of English
prompts by Digium, Inc.
"""


def _name(speaker):
    """First name of a speaker's voice (``SPEAKERS[speaker]['voice']``)."""
    return SPEAKERS[speaker]["voice"].split()[0]


def _tag(speaker):
    """Language tag of a speaker folder: ``es-mx_allison`` -> ``es-MX``."""
    lang, _, region = speaker.split("_")[0].partition("-")
    return f"{lang}-{region.upper()}" if region else lang


def _same_audio_text(rows):
    """``same_audio_groups(rows)`` as README text, or "none"."""
    return "; ".join(f"`{spk}/`" + " = ".join(f"`{u}`" for u in utts)
                     for spk, utts in same_audio_groups(rows)) or "none"


def _drawn_pair_section(stats, selected, *, seed, nth=2):
    """README section of a cloning pair whose shared ids are drawn (int ``n_shared``)."""
    src, tgt = stats["source"], stats["target"]
    rows = selected[selected["pair"] == f"{src}->{tgt}"]
    dur = rows.pivot(index="utterance", columns="speaker", values="source_duration_s")
    ratio = np.maximum(dur[src], dur[tgt]) / np.minimum(dur[src], dur[tgt])
    lo, hi = DURATION_RANGE
    n_files = selected.groupby("speaker").size()
    ordinal = {2: "second", 3: "third", 4: "fourth"}.get(nth, f"{nth}th")
    return f"""## The {ordinal} cloning pair: {_name(src)} (`{src}`, {SPEAKERS[src]['sex']}) → {_name(tgt)} (`{tgt}`, {SPEAKERS[tgt]['sex']})

Both packages record the Asterisk prompt list in {SPEAKERS[src]['language']}, so
prompts with the same id translate the same English prompt (two separate
translations: the wording can differ). {stats['in_both']} prompt ids are in
both packages; {stats['eligible']} of them are speech prompts of {lo}-{hi} s for
both speakers (the speech checks below). The two speakers' own draws (see
Selection) already share {stats['from_own_draws']} of these; a seeded draw (seed {seed})
of {stats['drawn']} more from the other {stats['eligible'] - stats['from_own_draws']} makes **{stats['shared']} shared prompt
ids** (target {stats['n_shared']}), kept for both. Median duration of the shared ids:
{dur[src].median():.2f} s for {_name(src)}, {dur[tgt].median():.2f} s for {_name(tgt)} (range
{dur.min().min():.2f}-{dur.max().max():.2f} s); for {int((ratio > 1.5).sum())} of them one speaker's file is more than
1.5 times as long as the other's. `{src}` has {n_files[src]} files, `{tgt}`
{n_files[tgt]}; the rest are their own draws, not shared.

Ids of one of these two speakers that are the very same recording
(identical samples): {_same_audio_text(selected[selected["speaker"].isin([src, tgt])])}."""


def compare_folders(a, b):
    """Relative paths whose bytes differ between two folders (missing counts as differing)."""
    files = lambda d: {p.relative_to(d).as_posix(): p for p in Path(d).rglob("*") if p.is_file()}
    fa, fb = files(a), files(b)
    return sorted(k for k in fa.keys() | fb.keys()
                  if k not in fa or k not in fb or fa[k].read_bytes() != fb[k].read_bytes())


def install(stage, out_dir, previous):
    """Replace this script's previous outputs in ``out_dir`` by the staged files."""
    out_dir = Path(out_dir)
    for rel in sorted(previous):
        (out_dir / rel).unlink()
    for d in sorted((p for p in out_dir.rglob("*") if p.is_dir()), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    for p in sorted(Path(stage).rglob("*")):
        if p.is_file():
            target = out_dir / p.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)


# --------------------------------------------------------------------- main
class Timer:
    """Wall-clock timings of the build steps, printed to stderr, in seconds."""

    def __init__(self):
        self.t0 = time.perf_counter()

    def lap(self, name):
        t = time.perf_counter()
        print(f"  {name}: {t - self.t0:.1f} s", file=sys.stderr)
        self.t0 = t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (default: data/embedded in the repository)")
    parser.add_argument("--debs", type=Path, default=None,
                        help="folder holding the seven .deb files (default: apt-get download)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--min-per-speaker", type=int, default=MIN_PER_SPEAKER)
    parser.add_argument("--check", action="store_true",
                        help="rebuild in a temporary folder and compare with --out; write nothing")
    args = parser.parse_args(argv)

    timer = Timer()
    previous = own_files(args.out)  # refuse early if the folder holds foreign files
    with tempfile.TemporaryDirectory(prefix="voxlib-embedded-") as tmp:
        tmp = Path(tmp)
        for sub in ("debs", "pkgs", "stage"):
            (tmp / sub).mkdir()
        debs = fetch_debs(tmp / "debs", args.debs)
        timer.lap("download")
        packages = extract_debs(debs, tmp / "pkgs")
        timer.lap("extract")
        catalogue, audio = load_catalogue(packages)
        timer.lap(f"decode + resample {len(catalogue)} prompts")
        selected = select_utterances(catalogue, seed=args.seed,
                                     min_per_speaker=args.min_per_speaker)
        index = write_corpus(selected, audio, tmp / "stage", catalogue=catalogue,
                             packages=packages,
                             copyright_texts=collect_copyrights(packages), seed=args.seed,
                             min_per_speaker=args.min_per_speaker)
        size_mb = folder_mb(tmp / "stage")
        timer.lap(f"write {len(index)} FLAC files")
        if size_mb > SIZE_LIMIT_MB:
            raise BuildError(f"the corpus would be {size_mb:.1f} MB > {SIZE_LIMIT_MB} MB: "
                             "lower --min-per-speaker")
        summary = index.groupby("speaker").agg(files=("path", "size"),
                                               seconds=("duration_s", "sum"))
        print(summary.round(1).to_string())
        for stats in selected.attrs["pairs"]:
            print(f"shared ids (pair {stats['source']} -> {stats['target']}): {stats['shared']}")
        print(f"total: {len(index)} files, {summary.seconds.sum():.0f} s, {size_mb:.2f} MB")
        if args.check:
            diff = compare_folders(tmp / "stage", args.out)
            if diff:
                print(f"{len(diff)} file(s) differ from {args.out}: {diff[:10]}")
                return 1
            print(f"identical to {args.out}")
            return 0
        install(tmp / "stage", args.out, previous)
        timer.lap("install")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BuildError, ValueError) as exc:
        sys.exit(f"error: {exc}")
