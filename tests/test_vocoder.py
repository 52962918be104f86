"""voxlib.vocoder: WORLD analysis and synthesis, envelope images, F0 and aperiodicity conversion."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.signal

from signals import EMBEDDED
from voxlib import audio, images, pitch, vocoder

SR = 8000
F0 = 150.0
FORMANTS = ((700.0, 90.0), (1200.0, 110.0), (2600.0, 160.0))  # (Hz, bandwidth Hz)
HALF_LEVEL = (vocoder.DB_CEILING - vocoder.DB_FLOOR) / 510  # dB: half of one 8-bit step of the default scale


def _formant_filter() -> np.ndarray:
    """Denominator of an all-pole filter with FORMANTS."""
    a = np.array([1.0])
    for freq, bw in FORMANTS:
        r = np.exp(-np.pi * bw / SR)
        a = np.convolve(a, [1.0, -2 * r * np.cos(2 * np.pi * freq / SR), r * r])
    return a


def _vowel(seconds: float = 1.0) -> np.ndarray:
    """Harmonics of F0 through the formant filter (each harmonic's gain and phase), peak 0.5, float64."""
    t = np.arange(int(seconds * SR)) / SR
    k = np.arange(1, int(SR / 2 / F0))
    _, h = scipy.signal.freqz([1.0], _formant_filter(), worN=k * F0, fs=SR)
    y = (np.abs(h)[:, None] * np.cos(2 * np.pi * k[:, None] * F0 * t + np.angle(h)[:, None])).sum(axis=0)
    return 0.5 * y / np.abs(y).max()


@pytest.fixture(scope="module")
def vowel():
    y = _vowel()
    return y, vocoder.analyse(y, SR)


def _inside(fft_size=vocoder.FFT_SIZE, fmin=vocoder.FMIN, fmax=SR / 2):
    bins = np.arange(fft_size // 2 + 1) * SR / fft_size
    return (bins >= fmin) & (bins <= fmax)


# --------------------------------------------------------------------------- analysis and synthesis

def test_analysis_shapes_and_settings(vowel):
    y, feats = vowel
    assert feats.sr == SR and feats.frame_period == 5.0 and feats.n_samples == y.size
    assert feats.n_frames == 201 and feats.fft_size == 512  # 1 s at 5 ms, both ends included
    assert feats.envelope.shape == feats.aperiodicity.shape == (201, 257)
    assert feats.f0.dtype == feats.envelope.dtype == np.float64
    np.testing.assert_allclose(feats.times[:3], [0.0, 0.005, 0.01])
    # threshold=0: the vowel's voiced frames are periodic below 3 kHz (the default 0.85 makes them noise)
    voiced = feats.f0 > 0
    assert voiced.mean() > 0.95
    assert np.median(feats.aperiodicity[voiced][:, _inside(fmax=3000)]) < 0.1


def test_analysis_envelope_follows_the_formant_filter(vowel):
    _, feats = vowel
    band = _inside(fmax=3800)
    bins = np.arange(257) * SR / 512
    truth = 20 * np.log10(np.abs(scipy.signal.freqz([1.0], _formant_filter(), worN=bins, fs=SR)[1]))
    d = 10 * np.log10(feats.envelope[20:-20][:, band]) - truth[band]
    d -= d.mean(axis=1, keepdims=True)  # the overall gain is free
    assert np.sqrt((d ** 2).mean(axis=1)).mean() < 2.0  # measured 0.95 dB


def test_world_resynthesis_keeps_f0_and_envelope_and_is_deterministic(vowel):
    y, feats = vowel
    out = vocoder.synthesise(feats)
    assert out.dtype == np.float32 and out.shape == y.shape
    np.testing.assert_array_equal(out, vocoder.synthesise(feats))  # bit-identical
    again = vocoder.analyse(y, SR)
    np.testing.assert_array_equal(again.envelope, feats.envelope)
    np.testing.assert_array_equal(again.aperiodicity, feats.aperiodicity)

    re = vocoder.analyse(out, SR)
    assert abs(np.median(re.f0[re.f0 > 0]) / F0 - 1) < 0.02  # measured 150.0 Hz
    both = (feats.f0 > 0) & (re.f0 > 0)
    assert both.mean() > 0.95
    band = _inside(fmax=3800)

    def lsd(rows):  # log-spectral distance per frame, dB
        d = 10 * np.log10(feats.envelope[rows][:, band] / re.envelope[rows][:, band])
        return np.sqrt((d ** 2).mean(axis=1))

    assert lsd(both).mean() < 2.0  # measured 1.33 dB (the abrupt first and last frames reach 18 dB)
    inner = both.copy()
    inner[:20] = inner[-20:] = False  # frames >= 0.1 s from the ends
    assert lsd(inner).max() < 3.0  # measured 2.03 dB


def test_synthesise_keeps_the_clip_length_or_worlds_own():
    y = _vowel(0.5)[:3999]
    feats = vocoder.analyse(y, SR)
    assert vocoder.synthesise(feats).size == 3999
    world_length = vocoder.synthesise(dataclasses.replace(feats, n_samples=None)).size
    assert world_length == feats.n_frames * 40
    assert vocoder.synthesise(dataclasses.replace(feats, n_samples=5000))[-500:].max() == 0  # zero-padded


@pytest.mark.parametrize(
    "kw,words",
    [
        (dict(fft_size=256), "fft_size=256 holds three periods only"),
        (dict(fft_size=511), "fft_size must be an even int"),
        (dict(f0_floor=300, f0_ceil=200), "f0_ceil=200 must be above f0_floor=300"),
        (dict(frame_period=0), "frame_period must be"),
        (dict(sr=8000.0), "sr must be an int"),
    ],
)
def test_analyse_rejects_bad_settings_by_name(kw, words):
    args = {"sr": SR, **kw}
    with pytest.raises(vocoder.VocoderError, match=words):
        vocoder.analyse(_vowel(0.2), args.pop("sr"), **args)


def test_analyse_and_features_reject_bad_arrays(vowel):
    with pytest.raises(audio.InvalidSamplesError, match="1-D"):
        vocoder.analyse(np.zeros((2, 800)), SR)
    _, feats = vowel
    with pytest.raises(vocoder.VocoderError, match="aperiodicity has shape"):
        dataclasses.replace(feats, aperiodicity=feats.aperiodicity[:, :-2])
    with pytest.raises(vocoder.VocoderError, match="envelope has shape"):
        dataclasses.replace(feats, envelope=feats.envelope[:-1], aperiodicity=feats.aperiodicity[:-1])
    with pytest.raises(vocoder.VocoderError, match="envelope must be a power spectrum > 0"):
        dataclasses.replace(feats, envelope=np.zeros_like(feats.envelope))
    with pytest.raises(vocoder.VocoderError, match="f0 must be >= 0"):
        dataclasses.replace(feats, f0=-feats.f0)
    with pytest.raises(vocoder.VocoderError, match="features must be WorldFeatures"):
        vocoder.synthesise({"f0": feats.f0})


# --------------------------------------------------------------------------- F0 and aperiodicity

def test_convert_moves_f0_with_pitch_convert_f0_and_swaps_parts(vowel):
    _, feats = vowel
    source = vocoder.f0_statistics([feats])
    assert source.n_voiced == np.count_nonzero(feats.f0) and source.mean == pytest.approx(np.log(F0), abs=0.01)
    target = pitch.LogF0Stats(mean=source.mean + np.log(1.2), std=source.std, n_voiced=100)
    envelope = feats.envelope * 2.0
    out = vocoder.convert(feats, source, target, envelope=envelope)
    np.testing.assert_array_equal(out.f0, pitch.convert_f0(feats.f0, source, target))
    assert np.median(out.f0[out.f0 > 0]) == pytest.approx(1.2 * np.median(feats.f0[feats.f0 > 0]), rel=1e-6)
    np.testing.assert_array_equal(out.envelope, envelope)
    np.testing.assert_array_equal(out.aperiodicity, feats.aperiodicity)  # the source's, by default
    assert out.n_samples == feats.n_samples
    with pytest.raises(vocoder.VocoderError, match="aperiodicity has shape"):
        vocoder.convert(feats, source, target, aperiodicity=feats.aperiodicity[1:])
    with pytest.raises(vocoder.VocoderError, match="features is empty"):
        vocoder.f0_statistics([])
    with pytest.raises(vocoder.VocoderError, match="only 0 voiced frames"):
        vocoder.f0_statistics([dataclasses.replace(feats, f0=np.zeros_like(feats.f0))])


def test_aperiodicity_bands_round_trip(vowel):
    _, feats = vowel
    coded = vocoder.code_aperiodicity(feats.aperiodicity, SR)
    assert coded.shape == (feats.n_frames, 8) and coded.max() <= 1e-9
    ap = vocoder.decode_aperiodicity(coded, SR, feats.fft_size)
    assert ap.shape == feats.aperiodicity.shape and ap.min() >= 1e-6 and ap.max() <= 1.0
    # an aperiodicity drawn through the bands comes back exactly
    np.testing.assert_allclose(vocoder.code_aperiodicity(ap, SR), coded, atol=1e-9)
    with pytest.raises(vocoder.VocoderError, match=r"aperiodicity must lie in \[0, 1\]"):
        vocoder.code_aperiodicity(feats.aperiodicity * 2, SR)


# --------------------------------------------------------------------------- mel bands and images

def test_bands_are_mel_spaced_and_fit_representable_envelopes_exactly():
    freqs = vocoder.band_frequencies(SR)
    assert freqs.shape == (64,) and freqs[0] == pytest.approx(60.0) and freqs[-1] == pytest.approx(4000.0)
    assert np.all(np.diff(freqs) > 0) and np.diff(freqs)[-1] > 3 * np.diff(freqs)[0]
    bands = np.random.default_rng(0).uniform(-85, 5, (30, 64))
    env = vocoder.bands_to_envelope(bands, SR, 512)
    assert env.shape == (30, 257) and np.all(env > 0)
    np.testing.assert_allclose(vocoder.envelope_to_bands(env, SR), bands, atol=1e-9)
    with pytest.raises(vocoder.VocoderError, match="n_bands=200 mel bands .* are finer than"):
        vocoder.envelope_to_bands(env, SR, n_bands=200)
    with pytest.raises(vocoder.VocoderError, match="fmax=5000"):
        vocoder.band_frequencies(SR, fmax=5000)


def test_envelope_image_round_trips_within_half_a_level(tmp_path):
    """Envelope -> 8-bit image -> envelope: within half a level (100 dB / 510 = 0.196 dB) on the bins
    in [fmin, fmax], through a PNG written and read by voxlib.images."""
    bands = np.random.default_rng(1).uniform(vocoder.DB_FLOOR + 1, vocoder.DB_CEILING - 1, (40, 64))
    env = vocoder.bands_to_envelope(bands, SR, 512)
    img, meta = vocoder.envelope_to_image(env, SR)
    assert img.shape == (64, 40) and img.dtype == np.uint8
    assert meta["scale"] == 100.0 and meta["db_floor"] == -90.0 and meta["representation"] == "world_envelope"
    path = images.save_image(tmp_path / "env.png", img, meta)
    img2, meta2 = images.load_image(path)
    np.testing.assert_array_equal(img2, img)
    back = vocoder.image_to_envelope(img2, meta2, SR, 512)
    err = np.abs(10 * np.log10(back / env))[:, _inside()]
    assert err.max() <= HALF_LEVEL + 1e-9
    # an RGB copy (channels=3) reads the same (up to float32 gray weights)
    rgb = np.repeat(img[..., None], 3, axis=2)
    np.testing.assert_allclose(vocoder.image_to_envelope(rgb, meta, SR, 512), back, rtol=1e-5)


def test_envelope_image_of_any_envelope_adds_at_most_half_a_level(vowel):
    """Quantisation is the image's only loss beyond the mel-band fit (the vowel's steep top reaches -115 dB:
    a wider scale keeps it unclipped)."""
    _, feats = vowel
    img, meta = vocoder.envelope_to_image(feats.envelope, SR, db_floor=-130.0, db_ceiling=10.0)
    assert img.min() > 0 and img.max() < 255
    exact = vocoder.bands_to_envelope(vocoder.envelope_to_bands(feats.envelope, SR), SR, 512)
    back = vocoder.image_to_envelope(img, meta, SR, 512)
    assert np.abs(10 * np.log10(back / exact)).max() <= 140.0 / 510 + 1e-9


def test_envelope_image_scale_and_orientation():
    fft_size = 512
    bins = np.arange(fft_size // 2 + 1) * SR / fft_size
    db = np.where(bins > 3000, -10.0, -50.0)  # energy at the top
    env = np.tile(10 ** (db / 10), (5, 1))
    img, meta = vocoder.envelope_to_image(env, SR)
    # high band on top: (-10 + 90) / 100 * 255 = 204, and the low band (-50 + 90) / 100 * 255 = 102
    np.testing.assert_array_equal(img[0], 204)
    np.testing.assert_array_equal(img[-1], 102)
    img, _ = vocoder.envelope_to_image(env * 1e-6, SR, db_floor=-100, db_ceiling=-75)  # -70 and -110 dB
    assert img[-1].max() == 0 and img[0].min() == 255  # clipped at both ends of a narrow scale
    with pytest.raises(vocoder.VocoderError, match="db_ceiling=-90 must be above db_floor=-80"):
        vocoder.envelope_to_image(env, SR, db_floor=-80, db_ceiling=-90)
    with pytest.raises(vocoder.VocoderError, match="meta lacks"):
        vocoder.image_to_envelope(img, {"scale": 100.0}, SR, 512)
    with pytest.raises(vocoder.VocoderError, match="made at 8000 Hz"):
        vocoder.image_to_envelope(img, meta, 16000, 512)


def test_envelope_image_of_real_speech_spends_its_levels_on_speech():
    y, _ = audio.load(EMBEDDED / "es-mx_allison" / "conf-hasjoin.flac", sr=SR)
    y = audio.highpass(y, SR, 60.0)
    start, stop = audio.speech_span(y.astype(np.float32), SR)
    feats = vocoder.analyse(y[start:stop], SR)
    img, meta = vocoder.envelope_to_image(feats.envelope, SR)
    assert img.shape == (64, feats.n_frames)
    assert (img == 0).mean() < 0.02 and (img == 255).mean() == 0
    assert np.median(img) > 60  # the old CWT scale left 36 % of target pixels at 0


def test_analysis_of_real_speech_at_8_khz_is_bit_identical_and_voiced_frames_get_one_curve(embedded_root):
    """pyworld's D4C turns ~2 % of voiced frames into noise at random at 8 kHz; analyse() must not."""
    y = audio.load(embedded_root / "es-co_july" / "agent-loggedoff.flac", sr=8000)[0]
    a, b = vocoder.analyse(y, 8000), vocoder.analyse(y, 8000)
    np.testing.assert_array_equal(a.aperiodicity, b.aperiodicity)
    voiced = a.aperiodicity[a.f0 > 0]
    assert len(voiced) > 50 and np.ptp(voiced, axis=0).max() == 0.0     # one curve for every voiced frame
    assert voiced[0, 0] == pytest.approx(1e-3) and voiced[0, -1] == pytest.approx(1.0)   # -60 dB to 0 dB
