"""voxlib.reconstruction.synthesis: a converted envelope through WORLD or the envelope-ratio filter, the
statistics fitted on training clips, the global-variance post-filter, envelope images read back, and the
settings checked by name."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from reconstruction_fakes import SR
from voxlib import audio, images, metrics, pitch, vocoder
from voxlib import reconstruction as R


def _higher_f0(stats, ratio):
    """``stats`` with the target's F0 ``ratio`` times higher."""
    f0 = stats.target_f0
    return dataclasses.replace(stats, target_f0=pitch.LogF0Stats(f0.mean + np.log(ratio), f0.std, f0.n_voiced))


@pytest.fixture(scope="module")
def analysed(clip):
    return R.AnalysedClip(clip, SR)


@pytest.fixture(scope="module")
def same(clip):
    """Statistics fitted with ``clip`` on both sides: nothing to convert."""
    return R.fit_statistics(R.TrainingClips(source={"u": clip}, target={"u": clip}, sr=SR))


def test_world_with_the_sources_own_envelope_reproduces_the_source(clip, embedded_root, analysed, same):
    world = R.SynthesisSettings("world")
    y = R.render(analysed.features.envelope, same, world, source=analysed, pitched=analysed)
    assert y.dtype == np.float32 and y.shape == clip.shape
    np.testing.assert_array_equal(y, R.copy_synthesis(analysed))       # nothing converted: WORLD copy-synthesis
    other = audio.vad_align(audio.load(embedded_root / "es-mx_allison" / "agent-loggedoff.flac", sr=SR)[0], SR,
                            duration=3.0, lead=0.5)
    lsd = metrics.log_spectral_distance(clip, y)
    assert lsd < 8.0 and lsd < metrics.log_spectral_distance(clip, other, align="dtw") - 4.0
    # the same envelope through its 8-bit image (notebook 04's recipe) changes almost nothing
    img, meta = vocoder.envelope_to_image(analysed.features.envelope, SR)
    via_image = R.render(vocoder.image_to_envelope(img, meta, SR, vocoder.FFT_SIZE), same, world, source=analysed,
                         pitched=analysed)
    assert metrics.log_spectral_distance(clip, via_image) < lsd + 0.5
    # the target's log-F0 mean 25 % higher: the F0 moves by that ratio, the envelope stays
    higher = R.render(analysed.features.envelope, _higher_f0(same, 1.25), world, source=analysed,
                      pitched=analysed)
    assert pitch.median_f0(higher, SR) / pitch.median_f0(y, SR) == pytest.approx(1.25, rel=0.02)
    f_hi, f_y = vocoder.analyse(higher, SR), vocoder.analyse(y, SR)
    voiced = (f_hi.f0 > 0) & (f_y.f0 > 0)
    assert np.median(f_hi.f0[voiced] / f_y.f0[voiced]) == pytest.approx(1.25, rel=0.01)
    moved = np.abs(same.bands(f_hi.envelope) - same.bands(analysed.features.envelope))[voiced].mean()
    assert moved < 4.0                                                  # dB per band on voiced frames


def test_filter_with_a_ratio_of_one_returns_the_input(clip, analysed, same):
    filt = R.SynthesisSettings("filter")
    out = R.render(analysed.features.envelope, same, filt, source=analysed, pitched=analysed)
    np.testing.assert_allclose(out, clip, atol=1e-6)
    # an envelope 6 dB above the clip's own: the speech comes out 6 dB louder
    louder = R.render(analysed.features.envelope * 10 ** 0.6, same, filt, source=analysed, pitched=analysed)
    start, stop = audio.speech_span(clip, SR)
    assert metrics.rms_ratio_db(clip[start:stop], louder[start:stop]) == pytest.approx(6.0, abs=0.3)


def test_a_rerun_is_bit_identical_and_d4c_voiced_frames_are_deterministic(clip, same):
    """pyworld's D4C at 8 kHz turns some voiced frames into noise at random; the analysis here does not."""
    runs = []
    for _ in range(3):
        a = R.AnalysedClip(clip, SR)
        runs.append([R.render(a.features.envelope * 2.0, same, R.SynthesisSettings(mode), source=a, pitched=a)
                     for mode in R.SYNTHESIS_MODES] + [a.features.aperiodicity])
    for run in runs[1:]:
        for got, want in zip(run, runs[0]):
            np.testing.assert_array_equal(got, want)
    feats = R.AnalysedClip(clip, SR).features
    voiced = feats.aperiodicity[feats.f0 > 0]
    assert voiced.shape[0] > 100 and np.all(voiced == voiced[0]) and voiced[0, 0] < 0.002 < 0.99 < voiced[0, -1]


def test_statistics_come_from_the_training_clips(clip, embedded_root):
    other = audio.vad_align(audio.load(embedded_root / "es-mx_allison" / "agent-loggedoff.flac", sr=SR)[0], SR,
                            duration=3.0, lead=0.5)
    stats = R.fit_statistics(R.TrainingClips(source={"u": other}, target={"u": clip}, sr=SR))
    want = vocoder.f0_statistics([R.AnalysedClip(clip, SR).features])
    assert stats.target_f0 == want and stats.source_f0 != want
    assert stats.target_band_variance.shape == (vocoder.N_BANDS,) and np.all(stats.target_band_variance > 0)
    assert stats.source_aperiodicity.shape == (2, 8)
    with pytest.raises(R.ReconstructionError, match="TrainingClips"):
        R.fit_statistics({"source": {}, "target": {}})


def test_global_variance_gives_each_band_the_targets_variance(analysed, same):
    stats = same
    bands = stats.bands(analysed.features.envelope)
    speech = bands.mean(axis=1) >= bands.mean(axis=1).max() - R.SPEECH_TOP_DB
    mean = bands[speech].mean(axis=0)
    squashed = bands.copy()
    squashed[speech] = mean + 0.5 * (bands[speech] - mean)   # an over-smoothed conversion: half the deviation
    restored = stats.bands(R.global_variance(stats.to_envelope(squashed, vocoder.FFT_SIZE), stats))
    speech = squashed.mean(axis=1) >= squashed.mean(axis=1).max() - R.SPEECH_TOP_DB   # its speech frames
    ratio = restored[speech].var(axis=0) / stats.target_band_variance
    assert np.median(ratio) == pytest.approx(1.0, abs=0.02) and np.median(squashed[speech].var(axis=0)
                                                                          / stats.target_band_variance) < 0.6
    np.testing.assert_allclose(restored[~speech], squashed[~speech], atol=1e-6)   # the pauses are left alone


def test_aperiodicity_conversion_moves_voiced_frames_to_the_targets_statistics(analysed, same):
    feats = analysed.features
    np.testing.assert_allclose(R.convert_aperiodicity(feats, same), feats.aperiodicity, rtol=1e-9)
    mu, sd = same.target_aperiodicity
    lower = dataclasses.replace(same, target_aperiodicity=np.stack([mu - 6.0, sd]))
    out = R.convert_aperiodicity(feats, lower)
    voiced = feats.f0 > 0
    moved = vocoder.code_aperiodicity(out, SR) - vocoder.code_aperiodicity(feats.aperiodicity, SR)
    assert np.median(moved[voiced]) == pytest.approx(-6.0, abs=0.5)
    np.testing.assert_array_equal(out[~voiced], feats.aperiodicity[~voiced])


def test_read_envelope_crops_notebook_04s_padding(analysed, tmp_path):
    env = analysed.features.envelope
    img, meta = vocoder.envelope_to_image(env, SR)
    padded = np.pad(img, ((0, 0), (0, 640 - img.shape[1])), mode="edge")
    path = images.save_image(tmp_path / "env.png", padded, meta)
    got = R.read_envelope(path, sr=SR, n_frames=img.shape[1])
    np.testing.assert_allclose(got, vocoder.image_to_envelope(img, meta, SR, vocoder.FFT_SIZE))
    flat = vocoder.envelope_to_bands(R.flat_envelope(path, sr=SR, n_frames=img.shape[1]), SR)
    assert np.ptp(flat) < 1e-6 and flat[0, 0] == pytest.approx(img.mean() * meta["scale"] / 255 + meta["db_floor"])
    # an image without the envelope scale: the source image's metadata fills it in, else it is refused
    bare = images.save_image(tmp_path / "bare.png", padded, {"scale": meta["scale"]})
    np.testing.assert_allclose(R.read_envelope(bare, sr=SR, n_frames=img.shape[1], fallback_meta=meta), got)
    with pytest.raises(R.ReconstructionError, match=r"lacks \['db_floor', 'fmin', 'fmax'\].*notebook 04"):
        R.read_envelope(bare, sr=SR, n_frames=img.shape[1])
    with pytest.raises(R.ReconstructionError, match="does not exist.*notebook 04"):
        R.read_envelope(tmp_path / "missing.png", sr=SR, n_frames=10)


def test_settings_are_checked_by_name_and_round_trip_through_a_table(tmp_path):
    with pytest.raises(R.ReconstructionError, match="mode must be one of 'filter', 'world'; got 'griffin'"):
        R.SynthesisSettings(mode="griffin")
    with pytest.raises(R.ReconstructionError, match="aperiodicity must be one of 'convert', 'source'; got 'target'"):
        R.SynthesisSettings(aperiodicity="target")
    with pytest.raises(R.ReconstructionError, match="global_variance must be True or False"):
        R.SynthesisSettings(global_variance="yes")
    with pytest.raises(R.ReconstructionError, match="smooth_frames"):
        R.SynthesisSettings(mode="filter", smooth_frames=0)
    assert [s.name for s in R.SYNTHESIS_CANDIDATES] == ["world, converted aperiodicity",
                                                         "world, converted aperiodicity, GV", "filter", "filter, GV"]
    table = pd.DataFrame([s.record() for s in R.SYNTHESIS_CANDIDATES])
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    assert [R.SynthesisSettings.from_record(r) for _, r in pd.read_csv(path).iterrows()] == list(R.SYNTHESIS_CANDIDATES)
    assert R.chosen_synthesis(tmp_path) == R.DEFAULT_SYNTHESIS              # no synthesis_choice.csv
    with pytest.raises(R.ReconstructionError, match="settings must be SynthesisSettings"):
        R.render(np.ones((3, 257)), None, "world", source=None, pitched=None)
