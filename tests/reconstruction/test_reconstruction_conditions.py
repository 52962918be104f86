"""voxlib.reconstruction.conditions: notebook 04's generated manifest read with its wavelet, the conditions
written as WAVs, the width study, bad inputs that name the notebook making them, and the channel control."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reconstruction_fakes import ALIGN, SOURCE, SR, TARGET, TEST_UTTS, _pair_utterances, oracle_manifest, sentence
from voxlib import audio, datasets, images, metrics, speaker, transforms
from voxlib import reconstruction as R


def _wav(recon, condition):
    row = recon.set_index("condition").loc[condition]
    return audio.load(row["path"], sr=SR, allow_silent=True)[0] * np.float32(row["gain"])


def test_reconstruction_inverts_with_the_manifests_wavelet(corpus, tmp_path):
    manifest = R.load_generated(oracle_manifest(corpus, tmp_path, "morse", utterances=TEST_UTTS[:1]))
    assert list(manifest["transform"]) == ["morse"]
    recon = R.write_reconstructions(manifest, tmp_path / "rec", progress=False)
    row = manifest.iloc[0]
    y_src = R.load_aligned(row["source_audio_path"], SR, **ALIGN)
    img, meta = images.load_image(row["path"])

    def converted_with(wavelet):  # the 'converted' condition computed by hand with one wavelet
        tf = transforms.cwt(y_src, SR, wavelet)
        return R.reconstruct(R.image_to_magnitude(img, meta["scale"], tf.coefs.shape), tf)

    written = _wav(recon, "converted")
    morse, amor = converted_with("morse"), converted_with("amor")
    assert np.max(np.abs(written - morse)) < 1e-3  # 16-bit WAV
    assert np.max(np.abs(written - amor)) > 0.05 * np.max(np.abs(morse))
    # the width study uses the row's wavelet too: its float round trip is the Morse CWT's
    study = R.width_study(manifest, widths=(64,), n_clips=1, progress=False)
    y_tgt = R.load_aligned(row["target_audio_path"], SR, **ALIGN)
    tf = transforms.cwt(y_tgt, SR, "morse")
    assert study.loc[study["image"] == "none", "snr_db"].iloc[0] == pytest.approx(
        metrics.snr(y_tgt, R.reconstruct(np.abs(tf.coefs), tf)), abs=1e-6)


@pytest.mark.parametrize("stft", ["hamming", "blackman", "kaiser"])
def test_an_stft_manifest_is_refused_with_the_reason(generated, tmp_path, stft):
    table = R.load_generated(generated).assign(transform=stft)
    path = tmp_path / "generated" / "manifest.csv"
    datasets.write_manifest(table, path)
    why = r"cannot be inverted with the inverse CWT.*without the STFT's phase.*notebook 04.*'amor'"
    with pytest.raises(R.ReconstructionError, match=f"{re.escape(str(path))}.*{why}"):
        R.load_generated(path)
    with pytest.raises(R.ReconstructionError, match=why):  # a table passed directly: refused before any file
        R.write_reconstructions(table, tmp_path / "rec", progress=False)
    assert not (tmp_path / "rec").exists()
    with pytest.raises(R.ReconstructionError, match="not a voxlib transform"):
        R.wavelet_of("mel")
    assert R.wavelet_of("bump") == "bump"


def test_a_manifest_without_transform_is_read_as_amor_with_a_warning(generated, tmp_path):
    old = tmp_path / "old" / "manifest.csv"
    datasets.write_manifest(R.load_generated(generated).drop(columns="transform"), old)
    assert "transform" not in pd.read_csv(old).columns
    with pytest.warns(UserWarning, match=rf"{re.escape(str(old))}: no transform recorded.*'amor'"):
        manifest = R.load_generated(old)
    assert list(manifest["transform"]) == ["amor"] * len(TEST_UTTS)
    blank = tmp_path / "blank" / "manifest.csv"  # the column, with one cell left empty
    datasets.write_manifest(R.load_generated(generated).assign(transform=["morse", None]), blank)
    with pytest.warns(UserWarning, match="no transform recorded for 1 of 2"):
        assert list(R.load_generated(blank)["transform"]) == ["morse", "amor"]


def test_bad_inputs_name_the_notebook_that_makes_them(generated, corpus, tmp_path):
    manifest = R.load_generated(generated)
    no_audio = manifest.copy()
    no_audio.loc[0, "source_audio_path"] = np.nan
    with pytest.raises(R.ReconstructionError, match="no source audio.*notebook 04"):
        R.write_reconstructions(no_audio.iloc[:1], tmp_path / "a", progress=False)
    gone = manifest.copy()
    gone.loc[0, "source_audio_path"] = str(tmp_path / "missing.wav")
    with pytest.raises(R.ReconstructionError, match="does not exist"):
        R.write_reconstructions(gone.iloc[:1], tmp_path / "b", progress=False)
    short = manifest.copy()
    audio.write_wav(tmp_path / "short.wav", sentence()[1200:1600], SR)  # 0.05 s
    short.loc[0, "source_audio_path"] = str(tmp_path / "short.wav")
    with pytest.raises(audio.AudioTooShortError, match="short"):
        R.write_reconstructions(short.iloc[:1], tmp_path / "c", progress=False)
    # an image without stored scale, and no scale column to fall back on
    from PIL import Image

    bare = tmp_path / "bare.png"
    Image.fromarray(np.zeros((64, 256), np.uint8)).save(bare)
    no_scale = manifest.copy()
    no_scale.loc[0, "path"], no_scale.loc[0, "scale"] = str(bare), np.nan
    with pytest.raises(R.ReconstructionError, match="scale.*notebook 01"):
        R.write_reconstructions(no_scale.iloc[:1], tmp_path / "d", progress=False)
    with pytest.raises(R.ReconstructionError, match="notebook 04"):
        R.load_generated(tmp_path / "nowhere.csv")
    incomplete = tmp_path / "incomplete" / "manifest.csv"
    datasets.write_manifest(manifest.drop(columns="align_lead"), incomplete)
    with pytest.raises(R.ReconstructionError, match="align_lead.*notebook 04"):
        R.load_generated(incomplete)


def _level_db(y, frames_mask):
    """Mean power (dBFS) of the 25 ms / 10 ms frames of ``y`` selected by ``frames_mask``."""
    frame, hop = int(0.025 * SR), int(0.010 * SR)
    y = np.pad(np.asarray(y, np.float64), (0, frame))
    power = [np.mean(y[i * hop:i * hop + frame] ** 2) for i in np.flatnonzero(frames_mask)]
    return 10 * np.log10(np.mean(power))


def test_channel_control_is_the_source_speech_on_the_target_channel(embedded_root):
    """Its speech is the source's (sample correlation, d-vector), its background the target's level."""
    encoder = speaker.get_encoder()
    corr, background, source_floor, target_floor, nearer_source = [], [], [], [], []
    for utt in _pair_utterances(embedded_root, 8):
        y_s = audio.load(embedded_root / SOURCE / f"{utt}.flac", sr=SR)[0]
        y_t = audio.load(embedded_root / TARGET / f"{utt}.flac", sr=SR)[0]
        control = R.channel_control(y_s, y_t, SR, seed=1)
        assert control.shape == y_s.shape and control.dtype == np.float32
        start, stop = audio.speech_span(y_s, SR)
        corr.append(np.corrcoef(y_s[start:stop], control[start:stop])[0, 1])
        # the control's level where the source is silent (the source's own background frames)
        background.append(_level_db(control, R.noise_frames(y_s, SR)) - R.noise_floor_db(y_t, SR))
        source_floor.append(R.noise_floor_db(y_s, SR))
        target_floor.append(R.noise_floor_db(y_t, SR))
        emb = encoder.embed_many([control, y_s, y_t], SR)
        nearer_source.append(speaker.cosine(emb[0], emb[1]) > speaker.cosine(emb[0], emb[2]))
    print(f"\ncorrelation {np.round(corr, 3)}\nbackground - target floor (dB) {np.round(background, 2)}"
          f"\nsource floor {np.mean(source_floor):.1f} dBFS, target floor {np.mean(target_floor):.1f} dBFS")
    assert np.median(corr) > 0.8 and min(corr) > 0.5
    assert abs(np.median(background)) < 2.0  # the target's background level ...
    assert np.mean(target_floor) - np.mean(source_floor) > 3.0  # ... which is well above the source's own
    assert np.mean(nearer_source) >= 0.75  # the voice stays the source's
    with pytest.raises(audio.NoSpeechError):
        R.channel_control(np.zeros(SR, np.float32), y_t, SR)
    with pytest.raises(R.ReconstructionError, match="numtaps"):
        R.channel_control(y_s, y_t, SR, numtaps=64)


# --------------------------------------------------------------------------
# Envelope rows (notebook 04's envelope path)
# --------------------------------------------------------------------------
def _baseline_manifest(generated, tmp_path, name, column):
    """A baseline manifest in the generated columns whose image is the row's ``column`` image."""
    table = R.load_generated(generated, split="test")
    table = table.assign(path=table[column], generated_by=name)
    path = tmp_path / name / "manifest.csv"
    datasets.write_manifest(table, path)
    return path


@pytest.fixture(scope="module")
def envelope_recon(envelope_generated, envelope_statistics, tmp_path_factory):
    """Every condition of the held-out envelope rows through WORLD, with a GMM and a ridge manifest."""
    out = tmp_path_factory.mktemp("envelope_rec")
    test = R.load_generated(envelope_generated, split="test")
    recon = R.write_reconstructions(test, out / "rec", synthesis="world", statistics=envelope_statistics,
                                    gmm=_baseline_manifest(envelope_generated, out, "gmm", "source_image_path"),
                                    ridge=_baseline_manifest(envelope_generated, out, "ridge", "target_image_path"),
                                    progress=False)
    return test, recon, out


def test_envelope_rows_make_the_envelope_conditions(envelope_recon, envelope_statistics):
    test, recon, _ = envelope_recon
    assert R.representation_of(test) == "envelope" and list(test["transform"]) == ["world_envelope"] * 2
    assert set(recon["condition"]) == set(R.ENVELOPE_CONDITIONS) <= set(R.CONDITIONS)
    assert (recon.groupby("condition").size() == len(TEST_UTTS)).all()
    per = recon[recon["utterance"] == TEST_UTTS[0]].set_index("condition")
    y = {c: audio.load(per.loc[c, "path"], sr=SR, allow_silent=True)[0] * np.float32(per.loc[c, "gain"])
         for c in per.index}
    assert len({v.size for v in y.values()}) == 1
    # the 'generated' envelope is the target's (warped), and so are the ridge baseline's and the oracles'
    np.testing.assert_array_equal(y["converted"], y["oracle_world"])
    np.testing.assert_array_equal(y["converted"], y["ridge"])
    # the GMM stand-in is the source's own envelope through the same WORLD synthesis: the source, pitch converted
    row = test.iloc[0]
    source = R.AnalysedClip(R.load_aligned(row["source_plain_path"], SR, duration=None), SR)
    env = R.read_envelope(row["source_image_path"], sr=SR, n_frames=int(row["n_time"]))
    want = R.render(env, envelope_statistics, R.SynthesisSettings("world"), source=source, pitched=source)
    assert np.max(np.abs(y["gmm"] - want)) < 1e-3                           # 16-bit WAV
    assert np.max(np.abs(y["oracle_filter"] - y["oracle_world"])) > 0.01
    assert metrics.log_spectral_distance(y["target"], y["world_copy"]) < 9.0
    assert metrics.rms_ratio_db(y["converted"], y["null_flat"]) != pytest.approx(0.0, abs=0.1)


def test_world_copy_of_a_real_clip_is_accepted_by_the_verifier(envelope_recon, judges):
    _, recon, _ = envelope_recon
    table = R.measure(recon[recon["condition"].isin(["source", "target", "world_copy"])], judges=judges,
                      similarity=False, progress=False).set_index(["condition", "utterance"])
    assert table.loc["world_copy", "verifier_accepts"].all()
    assert not table.loc["source", "verifier_accepts"].any()


def test_an_envelope_rerun_is_bit_identical(envelope_recon, envelope_statistics):
    test, recon, out = envelope_recon
    again = R.write_reconstructions(test, out / "again", synthesis="world", statistics=envelope_statistics,
                                    gmm=out / "gmm" / "manifest.csv", ridge=out / "ridge" / "manifest.csv",
                                    progress=False)
    for (_, a), (_, b) in zip(recon.iterrows(), again.iterrows()):
        assert a["condition"] == b["condition"] and Path(a["path"]).read_bytes() == Path(b["path"]).read_bytes()


def test_the_synthesis_is_checked_against_the_rows_by_name(envelope_generated, envelope_statistics, generated,
                                                          tmp_path):
    test = R.load_generated(envelope_generated, split="test")
    with pytest.raises(R.ReconstructionError, match="synthesis='source_phase' inverts CWT scalograms.*envelope"):
        R.write_reconstructions(test, tmp_path / "a", synthesis="source_phase", statistics=envelope_statistics)
    with pytest.raises(R.ReconstructionError, match="synthesis must be one of 'filter', 'source_phase', 'world'.*"
                                                    "got 'griffin'"):
        R.write_reconstructions(test, tmp_path / "a", synthesis="griffin", statistics=envelope_statistics)
    with pytest.raises(R.ReconstructionError, match="statistics=NoneType.*fit_statistics"):
        R.write_reconstructions(test, tmp_path / "a", synthesis="world")
    scalograms = R.load_generated(generated)
    for bad in ("world", "filter", R.SynthesisSettings("filter")):
        with pytest.raises(R.ReconstructionError, match=r"synthesis='(world|filter)' needs envelope images.*"
                                                        "synthesis='source_phase'"):
            R.write_reconstructions(scalograms, tmp_path / "a", synthesis=bad)
    with pytest.raises(R.ReconstructionError, match="gmm is a baseline on envelope images"):
        R.write_reconstructions(scalograms, tmp_path / "a", gmm=envelope_generated)
    with pytest.raises(R.ReconstructionError, match="width_study.*envelope images"):
        R.width_study(test)
    mixed = pd.concat([scalograms, test], ignore_index=True)
    with pytest.raises(R.ReconstructionError, match="mixes envelope images"):
        R.write_reconstructions(mixed, tmp_path / "a")
    assert not (tmp_path / "a").exists()
