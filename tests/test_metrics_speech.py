"""voxlib.metrics, speech and cloning section: SNR, spectral convergence, MCD, LSD,
target-speaker rate, optional speaker similarity."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from conftest import voiced
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


def test_mel_cepstrum_units_match_the_mcd_constant():
    """A log-amplitude ripple 2·c·cos(d·ω) across the mel bands gives cepstral coefficient c."""
    n_mels, d, c = 40, 3, 0.05
    k = np.arange(n_mels)
    log_amp = 2 * c * np.cos(np.pi * d * (2 * k + 1) / (2 * n_mels))
    power_db = 20 * log_amp / np.log(10)
    import librosa

    mfcc = librosa.feature.mfcc(S=power_db[:, None], n_mfcc=8, dct_type=2, norm="ortho")[:, 0]
    cep = mfcc * np.log(10) / (20 * np.sqrt(2 * n_mels))
    assert cep[d] == pytest.approx(c, rel=1e-9)
    assert metrics.MCD_CONSTANT == pytest.approx(6.1418, abs=1e-4)


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


def test_target_speaker_rate():
    assert metrics.target_speaker_rate(["b", "a", "a", "a"], "a") == 0.75
    assert metrics.target_speaker_rate(np.array(["b", "b"]), "a") == 0.0
    with pytest.raises(ValueError, match="predicted"):
        metrics.target_speaker_rate([], "a")


def test_speaker_similarity_optional(speech):
    if importlib.util.find_spec("resemblyzer") is None:
        with pytest.raises(ImportError, match="pip install resemblyzer"):
            metrics.speaker_similarity(speech["low_a"], speech["low_b"], SR)
    else:
        x = speech["low_a"]
        assert metrics.speaker_similarity(x, x, SR) == pytest.approx(1.0, abs=1e-4)
