"""voxlib.datasets: discovery (embedded data and bad trees), pairing, splits, manifests."""
from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from signals import voiced
from voxlib import audio, datasets, transforms


def _tree(root, spec):
    """Write ``{speaker: [utterance, ...]}`` as short FLACs under ``root``."""
    for i, (spk, utts) in enumerate(spec.items()):
        (root / spk).mkdir(parents=True, exist_ok=True)
        for j, u in enumerate(utts):
            sf.write(root / spk / f"{u}.flac", voiced(8000, 0.3, f0=100 + 10 * i, seed=j), 8000)
    return root


# ---- the embedded corpus ------------------------------------------------------------

def test_embedded_corpus_matches_its_index(embedded_root):
    index = pd.read_csv(embedded_root / "index.csv")
    corpus = datasets.discover(embedded_root)
    assert corpus["speaker"].nunique() == 7
    assert corpus.groupby("speaker").size().to_dict() == index.groupby("speaker").size().to_dict()
    assert set(corpus["sr"]) == {8000} and set(corpus["channels"]) == {1}
    merged = corpus.merge(index, on=["speaker", "utterance"])
    assert len(merged) == len(index)
    assert np.allclose(merged["duration"], merged["duration_s"], atol=1e-3)


def test_embedded_cloning_pair_shares_prompt_ids(embedded_root):
    corpus = datasets.discover(embedded_root)
    pairs = datasets.pair_speakers(corpus, "es-mx_allison", "es-co_july", on_missing="ignore")
    ids = lambda s: set(corpus.loc[corpus.speaker == s, "utterance"])  # noqa: E731
    assert set(pairs["utterance"]) == ids("es-mx_allison") & ids("es-co_july")
    assert len(pairs) >= 200
    for r in pairs.head(20).itertuples():
        assert "es-mx_allison" in r.source_path and "es-co_july" in r.target_path
        assert r.source_path.endswith(r.utterance + ".flac") and r.target_path.endswith(r.utterance + ".flac")


def test_embedded_split_is_utterance_disjoint(embedded_root):
    corpus = datasets.discover(embedded_root)
    a = datasets.split(corpus, test_size=0.25, seed=0)
    train = set(zip(a.loc[a.split == "train", "speaker"], a.loc[a.split == "train", "utterance"]))
    test = set(zip(a.loc[a.split == "test", "speaker"], a.loc[a.split == "test", "utterance"]))
    assert not train & test
    assert set(a.loc[a.split == "train", "speaker"]) == set(a.loc[a.split == "test", "speaker"]) == set(corpus.speaker)
    share = (a.split == "test").groupby(a.speaker).mean()
    assert share.between(0.15, 0.35).all()


# ---- splits ---------------------------------------------------------------------------

def test_split_keeps_every_image_of_a_recording_together_and_is_seeded():
    rows = [{"speaker": s, "utterance": f"u{u}", "transform": t}
            for s in "ABC" for u in range(8) for t in ("amor", "morse", "hamming")]
    df = pd.DataFrame(rows)
    a = datasets.split(df, test_size=0.25, seed=1)
    assert a.groupby(["speaker", "utterance"])["split"].nunique().max() == 1
    assert (a.split == "test").sum() == 3 * 2 * 3  # 2 of 8 recordings per speaker, 3 images each
    b = datasets.split(df, test_size=0.25, seed=1)
    c = datasets.split(df, test_size=0.25, seed=2)
    assert a["split"].tolist() == b["split"].tolist()
    assert a["split"].tolist() != c["split"].tolist()


def test_split_rejects_single_recording_speaker_and_bad_size():
    df = pd.DataFrame({"speaker": ["A", "A", "B"], "utterance": ["1", "2", "1"]})
    with pytest.raises(ValueError, match="'B' has 1 recording"):
        datasets.split(df)
    with pytest.raises(ValueError, match="test_size=1.5"):
        datasets.split(df.iloc[:2], test_size=1.5)


# ---- discovery of user trees ------------------------------------------------------------

def test_discover_folder_layout_with_nested_and_bad_files(tmp_path):
    root = _tree(tmp_path, {"ana": ["a", "b"], "luis": ["a", "c"]})
    (root / "luis" / "sub").mkdir()
    sf.write(root / "luis" / "sub" / "d.wav", voiced(16000, 0.2), 16000)
    (root / "ana" / "notes.pdf").write_bytes(b"%PDF")
    (root / "ana" / "broken.wav").write_bytes(b"not audio at all" * 10)
    (root / "ana" / "empty.flac").write_bytes(b"")
    (root / "README.md").write_text("docs are ignored silently")
    with pytest.warns(UserWarning) as rec:
        df = datasets.discover(root)
    text = "\n".join(str(w.message) for w in rec)
    assert "notes.pdf" in text and "broken.wav" in text and "empty.flac" in text
    assert sorted(df["utterance"]) == ["a", "a", "b", "c", "sub-d"]
    assert df.loc[df.utterance == "sub-d", "sr"].item() == 16000
    assert df["duration"].between(0.19, 0.31).all()


def test_discover_flat_thesis_naming(tmp_path):
    for spk in "AB":
        for k in (1, 2):
            sf.write(tmp_path / f"frase0{k}_{spk}_x.wav", voiced(8000, 0.2), 8000)
    with pytest.warns(UserWarning, match="no speaker letter"):
        sf.write(tmp_path / "nolabel.wav", voiced(8000, 0.2), 8000)
        df = datasets.discover(tmp_path)
    assert sorted(df.speaker.unique()) == ["A", "B"]
    assert sorted(df.loc[df.speaker == "A", "utterance"]) == ["frase01_x", "frase02_x"]
    pairs = datasets.pair_speakers(df, "A", "B")
    assert list(pairs.utterance) == ["frase01_x", "frase02_x"]


def test_discover_warns_for_single_file_speaker_and_fails_on_empty(tmp_path):
    root = _tree(tmp_path / "c", {"ana": ["a", "b"], "solo": ["a"]})
    with pytest.warns(UserWarning, match="'solo' has 1 recording"):
        datasets.discover(root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no readable audio"):
        datasets.discover(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        datasets.discover(tmp_path / "nope")


def test_pairing_names_the_missing_partner(tmp_path):
    root = _tree(tmp_path, {"src": ["a", "b", "only_src"], "tgt": ["a", "b"]})
    df = datasets.discover(root)
    with pytest.warns(UserWarning, match="only_src.flac"):
        pairs = datasets.pair_speakers(df, "src", "tgt")
    assert list(pairs.utterance) == ["a", "b"]
    with pytest.raises(ValueError, match="only_src.flac"):
        datasets.pair_speakers(df, "src", "tgt", on_missing="error")
    with pytest.raises(ValueError, match="'nobody' is not a speaker"):
        datasets.pair_speakers(df, "src", "nobody")


# ---- manifests --------------------------------------------------------------------------

def test_manifest_paths_are_relative_on_disk_and_absolute_in_memory(tmp_path):
    root = _tree(tmp_path / "data", {"ana": ["a", "b"]})
    df = datasets.discover(root)
    df["image_path"] = [str(tmp_path / "run" / "img" / f"{u}.png") for u in df.utterance]
    m = datasets.write_manifest(df, tmp_path / "run" / "manifest.csv")
    raw = pd.read_csv(m)
    assert raw["path"].str.startswith("../data/").all() and raw["image_path"].str.startswith("img/").all()
    moved = tmp_path / "moved"
    (tmp_path / "run").rename(moved)
    back = datasets.load_manifest(moved / "manifest.csv", required=["speaker"])
    assert back["image_path"].tolist() == [str(moved / "img" / f"{u}.png") for u in df.utterance]
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['scale'\]"):
        datasets.load_manifest(moved / "manifest.csv", required=["scale"])
    with pytest.raises(FileNotFoundError, match="run 01_transforms first"):
        datasets.load_manifest(tmp_path / "none.csv", producer="01_transforms")


def test_fingerprint_is_order_independent_and_content_sensitive():
    df = pd.DataFrame({"speaker": ["A", "B"], "utterance": ["1", "2"]})
    assert datasets.fingerprint(df) == datasets.fingerprint(df.iloc[::-1])
    assert datasets.fingerprint(df) != datasets.fingerprint(df.assign(utterance=["1", "3"]))


def test_screen_lists_every_unusable_file_with_its_reason(embedded_root, tmp_path):
    good = datasets.discover(embedded_root).groupby("speaker").head(1).head(2)
    root = tmp_path / "mine" / "spk"
    root.mkdir(parents=True)
    for i, p in enumerate(good["path"]):
        shutil.copy(p, root / f"good{i}.flac")
    sf.write(root / "silent.wav", np.zeros(8000, dtype=np.float32), 8000)
    for bad in ("nan", "inf"):
        y = np.full(8000, 0.1, dtype=np.float32)
        y[100] = np.nan if bad == "nan" else np.inf
        sf.write(root / f"{bad}.wav", y, 8000, subtype="FLOAT")
    sf.write(root / "short.wav", 0.1 * np.ones(200, dtype=np.float32), 8000)  # 25 ms
    (root / "broken.wav").write_bytes(b"RIFF not really a wave file")
    (root / "empty.wav").write_bytes(b"")
    with pytest.warns(UserWarning) as caught:
        corpus = datasets.discover(tmp_path / "mine")
    warned = " ".join(str(w.message) for w in caught)
    assert "broken.wav" in warned and "empty.wav" in warned
    # a table the user wrote by hand may still list them: screening must catch them too
    corpus = pd.concat([corpus, pd.DataFrame([{"path": str(root / f"{u}.wav"), "speaker": "spk", "utterance": u}
                                              for u in ("broken", "empty")])], ignore_index=True)
    accepted, rejected = datasets.screen(corpus, sr=8000, progress=False)
    assert sorted(accepted["utterance"]) == ["good0", "good1"]
    assert list(accepted.columns) == list(corpus.columns)
    assert accepted.set_index("utterance")["path"].to_dict() == {f"good{i}": str(root / f"good{i}.flac")
                                                                 for i in range(2)}
    assert list(rejected.columns) == datasets.SCREEN_COLUMNS
    reasons = dict(zip(rejected["utterance"], rejected["reason"]))
    assert set(reasons) == {"silent", "nan", "inf", "short", "broken", "empty"}
    assert (rejected["speaker"] == "spk").all() and all(u in p for u, p in zip(rejected["utterance"],
                                                                               rejected["path"]))
    assert "cannot decode" in reasons["broken"] and "empty" in reasons["empty"]
    assert "silent" in reasons["silent"] and "NaN/inf" in reasons["nan"] and "NaN/inf" in reasons["inf"]
    assert "shorter than the 0.1 s" in reasons["short"]
    # the threshold is the caller's: a 25 ms clip passes a 20 ms minimum
    shorts = corpus[corpus["utterance"] == "short"]
    assert len(datasets.screen(shorts, min_duration=0.02, progress=False)[0]) == 1


# ---- the run's one split --------------------------------------------------------------

@pytest.fixture(scope="module")
def embedded_split(embedded_root):
    corpus = datasets.discover(embedded_root)
    return corpus, datasets.content_split(corpus, test_size=0.25, seed=0)


def test_run_split_holds_out_sentences_for_every_speaker_at_once(embedded_split):
    """No utterance id notebook 04 holds out (for any speaker) is a training id of notebook 02."""
    corpus, table = embedded_split
    assert len(table) == len(corpus) and list(table.columns) == datasets.SPLIT_COLUMNS
    test_ids = set(table.loc[table["split"] == "test", "utterance"])
    train_ids = set(table.loc[table["split"] == "train", "utterance"])
    assert test_ids and train_ids and not test_ids & train_ids
    share = table.groupby("speaker")["split"].apply(lambda s: (s == "test").mean())
    assert share.between(0.15, 0.35).all(), share          # about test_size for each speaker
    again = datasets.content_split(corpus, test_size=0.25, seed=0)
    pd.testing.assert_frame_equal(again, table)
    other = datasets.content_split(corpus, test_size=0.25, seed=1)
    assert set(other.loc[other["split"] == "test", "utterance"]) != test_ids


def test_identical_audio_never_falls_on_both_sides(embedded_split):
    corpus, table = embedded_split
    dup = table[table.duplicated("source_hash", keep=False)]
    assert len(dup) >= 8     # July's vm-forward/vm-forwardoptions, pbx-invalid/invalid, ...: the same files
    assert (dup.groupby("source_hash")["split"].nunique() == 1).all()
    assert (dup.groupby("source_hash")["group"].nunique() == 1).all()
    # and a group decides for every speaker: one id's side is its group's side
    assert (table.groupby("group")["split"].nunique() == 1).all()


def test_content_groups_join_ids_transitively():
    corpus = pd.DataFrame({"speaker": ["a", "a", "b", "b"], "utterance": ["x", "y", "y", "z"],
                           "source_hash": ["h1", "h1", "h2", "h2"]})
    assert datasets.content_groups(corpus).tolist() == ["x", "x", "x", "x"]


def test_run_split_is_drawn_once_reused_and_a_users_file_is_used_as_is(embedded_root, tmp_path):
    corpus = datasets.discover(embedded_root)
    first = datasets.run_split(corpus, tmp_path / "run", test_size=0.25, seed=0)
    assert (tmp_path / "run" / "split.csv").is_file()
    # a later stage (other parameters) reuses the run's split instead of drawing another
    later = datasets.run_split(corpus, tmp_path / "run", test_size=0.5, seed=3)
    assert later["split"].tolist() == first["split"].tolist()
    # a user's split file: used as is, even one that is not content-grouped
    mine = corpus[["speaker", "utterance"]].assign(split=np.where(np.arange(len(corpus)) % 2, "test", "train"))
    mine.to_csv(tmp_path / "mine.csv", index=False)
    used = datasets.run_split(corpus, tmp_path / "run2", split_file=tmp_path / "mine.csv")
    assert used["split"].tolist() == mine["split"].tolist()
    assert datasets.load_split(tmp_path / "run2" / "split.csv")["split"].tolist() == mine["split"].tolist()
    with pytest.raises(ValueError, match="not in the split file"):
        datasets.run_split(corpus, tmp_path / "run3", split_file=_write(tmp_path / "short.csv", mine.iloc[1:]))
    with pytest.raises(ValueError, match="'maybe'"):
        datasets.run_split(corpus, tmp_path / "run4",
                           split_file=_write(tmp_path / "bad.csv", mine.assign(split="maybe")))


def _write(path, df):
    df.to_csv(path, index=False)
    return path


def test_sample_keeps_each_speakers_held_out_share(embedded_split):
    corpus, table = embedded_split
    sample = datasets.sample_per_speaker(datasets.apply_split(corpus, table), 20, seed=0)
    counts = sample.groupby(["speaker", "split"]).size().unstack()
    assert (counts.sum(axis=1) == 20).all() and (counts["test"] >= 4).all() and (counts["test"] <= 6).all()


def test_prepare_corpus_chains_split_sample_screen_and_writes_the_rejected_table(tmp_path):
    root = tmp_path / "corpus"
    for spk in ("ana", "ben"):
        (root / spk).mkdir(parents=True)
        for k in range(4):
            sf.write(root / spk / f"u{k}.wav", voiced(8000, 0.6 + 0.1 * k), 8000)
    sf.write(root / "ben" / "quiet.wav", np.zeros(8000, np.float32), 8000)      # silent: rejected
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    corpus, rejected = datasets.prepare_corpus(root, run_dir, utterances_per_speaker=None, sr=8000, progress=False)
    assert sorted(corpus["speaker"].unique()) == ["ana", "ben"] and len(corpus) == 8
    assert set(corpus["split"]) <= {"train", "test"} and (run_dir / "split.csv").is_file()
    on_disk = pd.read_csv(run_dir / datasets.REJECTED_FILE)
    assert list(on_disk["utterance"]) == ["quiet"] == list(rejected["utterance"])
    summary = datasets.corpus_summary(corpus)
    assert list(summary["recordings"]) == [4, 4]
    assert summary["held_out"].sum() == (corpus["split"] == "test").sum()
    assert summary.loc["ana", "seconds"] == pytest.approx(0.6 + 0.7 + 0.8 + 0.9, abs=0.05)
    one, _ = datasets.prepare_corpus(root, run_dir, speakers=["ana"], utterances_per_speaker=2, sr=8000,
                                     progress=False)
    assert set(one["speaker"]) == {"ana"} and len(one) == 2
    with pytest.raises(ValueError, match="carla"):
        datasets.prepare_corpus(root, run_dir, speakers=["carla"], progress=False)
    assert datasets.pick_example(corpus)["duration"] == pytest.approx(0.9, abs=0.01)   # nearest 3 s
    assert datasets.pick_example(corpus, "ben/u1")["utterance"] == "u1"
    with pytest.raises(ValueError, match="speaker/utterance"):
        datasets.pick_example(corpus, "nobody/x")


# ---- long recordings, every rejected file, one corpus per run -------------------------------

def _session(seconds, sr, seed):
    """``seconds`` of voiced bursts (1.2-3 s) separated by pauses (0.6-1.2 s), float32."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    while total < seconds * sr:
        burst = voiced(sr, rng.uniform(1.2, 3.0), f0=rng.uniform(100, 220), seed=int(rng.integers(1 << 16)))
        pause = np.zeros(int(sr * rng.uniform(0.6, 1.2)), np.float32)
        parts += [burst, pause]
        total += burst.size + pause.size
    return np.concatenate(parts)[: int(seconds * sr)]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """``two``: three speakers with two 60-s recordings (sessions) each; ``solo``: the same and a fourth
    speaker with one session."""
    root = tmp_path_factory.mktemp("sessions")
    for i, spk in enumerate(["ana", "ben", "cris"]):
        (root / "two" / spk).mkdir(parents=True)
        for r in range(2):
            sf.write(root / "two" / spk / f"session{r}.wav", _session(60, 8000, 10 * i + r), 8000)
    shutil.copytree(root / "two", root / "solo")
    (root / "solo" / "solo").mkdir()
    sf.write(root / "solo" / "solo" / "session0.wav", _session(60, 8000, 99), 8000)
    return root


def _files(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_long_recordings_become_segments_with_provenance_split_by_recording(sessions, tmp_path):
    data = tmp_path / "corpus"
    shutil.copytree(sessions / "two", data)
    before = _files(data)
    run_dir = tmp_path / "run"
    corpus, rejected = datasets.prepare_corpus(data, run_dir, sr=8000, max_duration=10.0, progress=False)
    assert _files(data) == before                                  # the user's folder is only read
    assert {"recording", "start", "end"} <= set(corpus.columns) and rejected.empty
    assert corpus.groupby("speaker")["recording"].nunique().to_dict() == {"ana": 2, "ben": 2, "cris": 2}
    assert len(corpus) >= 3 * 2 * 12 and corpus["duration"].between(1.0, 10.0).all()
    assert (corpus["end"] - corpus["start"]).round(6).equals(corpus["duration"].round(6))
    assert all(Path(p).is_relative_to(run_dir / datasets.SEGMENTS_DIR) for p in corpus["path"])
    row = corpus.iloc[5]                                           # a segment is its recording's samples
    y, _ = sf.read(row["path"], dtype="float32")
    whole, _ = sf.read(row["recording_path"], dtype="float32")
    start = int(round(row["start"] * 8000))
    assert np.allclose(y, whole[start:start + y.size], atol=1e-4)
    # the run's split keeps each recording whole, and every speaker on both sides
    assert (corpus.groupby(["speaker", "recording"])["split"].nunique() == 1).all()
    assert (corpus.groupby("speaker")["split"].nunique() == 2).all()
    split = datasets.load_split(run_dir / "split.csv")
    assert sorted(split["utterance"].unique()) == ["session0", "session1"]      # drawn over recordings


def test_a_speaker_with_one_recording_names_the_opt_in(sessions, tmp_path):
    with pytest.raises(ValueError, match=r"'solo' have a single recording.*split_within_recording = True"):
        datasets.prepare_corpus(sessions / "solo", tmp_path / "run", sr=8000, max_duration=10.0, progress=False)
    corpus, _ = datasets.prepare_corpus(sessions / "solo", tmp_path / "run2", sr=8000, max_duration=10.0,
                                        split_within_recording=True, progress=False)
    solo = corpus[corpus["speaker"] == "solo"]
    assert set(solo["recording"]) == {"session0"} and set(solo["split"]) == {"train", "test"}


def test_a_recording_too_long_for_the_transforms_is_refused_before_computing(sessions, tmp_path):
    n = 60 * 8000
    rows = transforms.cwt_scales(n, "amor").size                   # the largest of the three CWTs
    need = rows * n * 8                                            # complex64
    with pytest.raises(audio.AudioTooLongError) as err:
        datasets.prepare_corpus(sessions / "two", tmp_path / "run", sr=8000, max_duration=None,
                                max_transform_bytes=need - 1, progress=False)
    msg = str(err.value)
    assert "session0.wav" in msg and "60.0 s" in msg and f"{need / 2 ** 30:.2f} GiB" in msg
    assert f"{rows} rows x {n} samples" in msg and "max_duration" in msg
    # the STFTs alone are small: nothing to refuse
    corpus, _ = datasets.prepare_corpus(sessions / "two", tmp_path / "run", sr=8000, transforms=["hamming"],
                                        max_transform_bytes=need - 1, progress=False)
    assert corpus["duration"].min() == pytest.approx(60.0)


def _malformed_fmt_wav(path):
    """A WAV whose ``fmt `` chunk names an unknown format tag (0x1234): libsndfile cannot decode it."""
    fmt = struct.pack("<HHIIHH", 0x1234, 1, 8000, 16000, 2, 16)
    data = np.zeros(800, "<i2").tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_files_discovery_skips_are_in_the_rejected_table(tmp_path):
    root = _tree(tmp_path / "corpus", {"ana": ["a", "b", "c"], "ben": ["a", "b", "c"]})
    _malformed_fmt_wav(root / "ben" / "bad.wav")
    (root / "ana" / "notes.pdf").write_bytes(b"%PDF")
    sf.write(root / "ana" / "quiet.wav", np.zeros(8000, np.float32), 8000)
    with pytest.warns(UserWarning, match="bad.wav"):
        corpus, rejected = datasets.prepare_corpus(root, tmp_path / "run", sr=8000, progress=False)
    on_disk = pd.read_csv(tmp_path / "run" / datasets.REJECTED_FILE)
    assert list(rejected.columns) == datasets.SCREEN_COLUMNS == list(on_disk.columns)
    reasons = dict(zip(rejected["utterance"], rejected["reason"]))
    assert set(reasons) == set(on_disk["utterance"]) == {"bad", "notes", "quiet"}
    assert "Malformed 'fmt ' chunk" in reasons["bad"] and "not an audio file" in reasons["notes"]
    assert "silent" in reasons["quiet"] and len(corpus) == 6


def test_a_corpus_the_runs_split_does_not_cover_names_data_dir_and_the_runs_corpus(tmp_path):
    first = _tree(tmp_path / "first", {"ana": ["a", "b", "c"], "ben": ["a", "b", "c"]})
    other = _tree(tmp_path / "other", {"ana": ["x", "y"], "ben": ["x", "y"]})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "params.yaml").write_text(yaml.safe_dump({"01_transforms": {"data_dir": str(first)}}))
    datasets.run_split(datasets.discover(first), run_dir)
    with pytest.raises(ValueError, match="recording\\(s\\) are not in the run's split") as err:
        datasets.run_split(datasets.discover(other), run_dir)
    assert f"data_dir = {first}" in str(err.value) and "Set data_dir" in str(err.value)
    (run_dir / "params.yaml").unlink()                              # a run that recorded no corpus says so
    with pytest.raises(ValueError, match="this run recorded no corpus.*Set data_dir"):
        datasets.run_split(datasets.discover(other), run_dir)
