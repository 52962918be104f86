"""voxlib.metrics, speech and cloning section: SNR, spectral convergence, the mel-cepstrum and
MCD, LSD, optional speaker similarity."""
from __future__ import annotations

import importlib.util

import librosa
import numpy as np
import pytest

from signals import voiced
from voxlib import metrics

SR = 8000


def _noisy(x, snr_db, seed=0):
    rng = np.random.default_rng(seed)
    n = rng.standard_normal(x.size)
    n *= np.sqrt(np.mean(x.astype(np.float64) ** 2) / np.mean(n ** 2)) * 10 ** (-snr_db / 20)
    return x + n


@pytest.fixture(scope="module")
def speech():
    """Two 'speakers' (low and high voice) saying the same thing twice (different seeds)."""
    return {
        "low_a": voiced(SR, 1.5, f0=110, seed=0),
        "low_b": voiced(SR, 1.5, f0=112, seed=1),
        "high": voiced(SR, 1.5, f0=260, seed=2),
    }


def test_snr_matches_the_noise_added(speech):
    x = speech["low_a"]
    assert metrics.snr(x, x) == float("inf")
    for target in (30.0, 10.0, 0.0):
        assert metrics.snr(x, _noisy(x, target)) == pytest.approx(target, abs=0.01)
    with pytest.raises(ValueError, match="same length"):
        metrics.snr(x, x[:-1])
    with pytest.raises(ValueError, match="NaN"):
        metrics.snr(x, np.full_like(x, np.nan))


def test_rms_ratio_reads_gain(speech):
    x = speech["low_a"]
    assert metrics.rms_ratio_db(x, 0.5 * x) == pytest.approx(-6.0206, abs=1e-3)
    assert metrics.rms_ratio_db(x, x) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="silent"):
        metrics.rms_ratio_db(np.zeros(100), x[:100])


def test_spectral_convergence_zero_for_identity_and_grows_with_noise(speech):
    x = speech["low_a"]
    assert metrics.spectral_convergence(x, x) == 0.0
    sc = [metrics.spectral_convergence(x, _noisy(x, s)) for s in (30, 20, 10, 0)]
    assert np.all(np.diff(sc) > 0), sc
    # at 0 dB SNR the noise magnitude is comparable to the signal's
    assert 0.3 < sc[-1] < 2.0


def test_mcd_is_zero_for_identity_gain_free_and_grows_with_noise(speech):
    x = speech["low_a"]
    assert metrics.mel_cepstral_distortion(x, x, SR) == 0.0
    assert metrics.mel_cepstral_distortion(x, x, SR, align="none") == 0.0
    # c0 (loudness) is excluded: a gain change costs nothing
    assert metrics.mel_cepstral_distortion(x, 0.3 * x, SR) < 1e-5
    mcd = [metrics.mel_cepstral_distortion(x, _noisy(x, s), SR) for s in (40, 30, 20, 10, 0)]
    assert mcd[0] > 0.05 and np.all(np.diff(mcd) > 0), mcd


def test_mcd_dtw_absorbs_timing_and_separates_voices(speech):
    x = speech["low_a"]
    shifted = np.concatenate([np.zeros(int(0.2 * SR), np.float32), x])[: x.size + int(0.2 * SR)]
    delayed = shifted[: x.size]
    assert metrics.mel_cepstral_distortion(x, shifted, SR) < 0.5
    assert metrics.mel_cepstral_distortion(x, delayed, SR, align="none") > 1.0
    same = metrics.mel_cepstral_distortion(x, speech["low_b"], SR)
    other = metrics.mel_cepstral_distortion(x, speech["high"], SR)
    assert other > same + 1.0, (same, other)


def test_mel_cepstrum_is_librosas_mfcc_in_sptk_units(speech):
    """Same settings through librosa.feature.mfcc, scaled by ln10 / (20·√(2M)) (M = 40 mel bands)."""
    x = _noisy(speech["low_a"], 40.0).astype(np.float64)  # a noise floor keeps the range under 80 dB
    c, power_db = metrics.mel_cepstrum(x, SR)
    mel = librosa.feature.melspectrogram(y=x, sr=SR, n_fft=512, hop_length=128, n_mels=40, power=2.0)
    assert np.allclose(power_db, 10 * np.log10(mel), rtol=0, atol=1e-9)
    assert power_db.max() - power_db.min() < 80  # so librosa's 80 dB floor and ours both stay idle
    mfcc = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=25, n_fft=512, hop_length=128, n_mels=40,
                                dct_type=2, norm="ortho")
    assert c.shape == (25, mel.shape[1])
    assert np.allclose(c, mfcc * np.log(10) / (20 * np.sqrt(2 * 40)), rtol=1e-9, atol=1e-9)
    # the floor is relative to the loudest bin: a gain moves c0 only
    c_gain, _ = metrics.mel_cepstrum(0.1 * x, SR)
    assert np.allclose(c_gain[1:], c[1:], atol=1e-9) and np.all(c_gain[0] < c[0])
    assert metrics.MCD_CONSTANT == pytest.approx(10 * np.sqrt(2) / np.log(10), rel=1e-12)


def test_mcd_is_the_formula_on_mel_cepstrum(speech):
    """MCD = MCD_CONSTANT · mean_t √(Σ_{d≥1} (c_d − c'_d)²) over the reference's speech frames."""
    a, b = speech["low_a"], _noisy(speech["low_a"], 10.0)
    (ca, pa), (cb, _) = metrics.mel_cepstrum(a, SR), metrics.mel_cepstrum(b, SR)
    per_frame = np.sqrt(np.sum((ca[1:] - cb[1:]) ** 2, axis=0))  # c0 excluded
    level = pa.mean(axis=0)
    speech_frames = level >= level.max() - 40.0
    assert 0 < speech_frames.sum() < speech_frames.size  # the envelope's quiet ends are left out
    expected = metrics.MCD_CONSTANT * per_frame[speech_frames].mean()
    assert metrics.mel_cepstral_distortion(a, b, SR, align="none") == pytest.approx(expected, rel=1e-12)
    assert metrics.mel_cepstral_distortion(a, b, SR, align="none", top_db=np.inf) == pytest.approx(
        metrics.MCD_CONSTANT * per_frame.mean(), rel=1e-12)


def test_lsd_reads_a_gain_exactly_and_grows_with_noise(speech):
    x = speech["low_a"]
    assert metrics.log_spectral_distance(x, x) == 0.0
    assert metrics.log_spectral_distance(x, 2.0 * x) == pytest.approx(20 * np.log10(2), abs=1e-6)
    lsd = [metrics.log_spectral_distance(x, _noisy(x, s)) for s in (30, 10)]
    assert lsd[1] > lsd[0] > 0
    assert metrics.log_spectral_distance(x, speech["low_b"], align="dtw") < \
        metrics.log_spectral_distance(x, speech["high"], align="dtw")
    with pytest.raises(ValueError, match="align"):
        metrics.log_spectral_distance(x, x, align="warp")


def test_speaker_similarity_optional(speech):
    if importlib.util.find_spec("resemblyzer") is None:
        with pytest.raises(ImportError, match="pip install resemblyzer"):
            metrics.speaker_similarity(speech["low_a"], speech["low_b"], SR)
    else:
        x = speech["low_a"]
        assert metrics.speaker_similarity(x, x, SR) == pytest.approx(1.0, abs=1e-4)
