"""voxlib.transforms: MATLAB's six transforms and the inverse CWT.

Known truths only: tones peak at their frequency, chirps follow their ridge,
MATLAB's documented formulas and grid, an independent implementation
(ssqueezepy) on the same scales, reconstruction SNRs, and bad input.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from signals import voiced
from voxlib import audio, datasets, images, transforms

SIX = ["hamming", "blackman", "kaiser", "bump", "morse", "amor"]
CWTS = ["bump", "morse", "amor"]


def snr_db(x, r):
    return 10 * np.log10(np.sum(x ** 2) / np.sum((x - r) ** 2))


def ridge(tf: transforms.TimeFrequency) -> np.ndarray:
    """Frequency (Hz) of the strongest non-negative-frequency row in every column."""
    keep = tf.freqs >= 0
    mag = np.abs(tf.coefs[keep])
    return tf.freqs[keep][np.argmax(mag, axis=0)]


def test_registry_holds_the_six_in_the_thesis_order():
    assert list(transforms.TRANSFORMS) == SIX
    assert {transforms.TRANSFORMS[n].kind for n in SIX[:3]} == {"stft"}
    assert {transforms.TRANSFORMS[n].kind for n in SIX[3:]} == {"cwt"}


@pytest.mark.parametrize("name", SIX)
@pytest.mark.parametrize("f0", [310.0, 1234.0, 3000.0])
def test_tone_peaks_at_its_frequency(name, f0):
    sr = 8000
    t = np.arange(sr) / sr
    tf = transforms.compute(np.sin(2 * np.pi * f0 * t), sr, name)
    mid = slice(tf.coefs.shape[1] // 4, 3 * tf.coefs.shape[1] // 4)
    keep = tf.freqs >= 0
    profile = np.abs(tf.coefs[keep][:, mid]).mean(axis=1)
    peak = tf.freqs[keep][np.argmax(profile)]
    if name in CWTS:  # within one voice (1/10 octave)
        assert abs(np.log2(peak / f0)) <= 0.1 + 1e-9
    else:  # within one FFT bin
        assert abs(peak - f0) <= sr / 512


def test_cwt_l1_normalisation_gives_equal_amplitude_equal_magnitude():
    # MATLAB's cwt docs: equal-amplitude oscillations at different scales have equal magnitude.
    sr = 8000
    t = np.arange(2 * sr) / sr
    for name in CWTS:
        freqs = transforms.WAVELETS[name].center / (2 * np.pi * transforms.cwt_scales(t.size, name)) * sr
        for f0 in (freqs[np.argmin(np.abs(freqs - 200))], freqs[np.argmin(np.abs(freqs - 2000))]):
            tf = transforms.cwt(0.5 * np.cos(2 * np.pi * f0 * t), sr, name)
            assert np.abs(tf.coefs[:, sr // 2: -sr // 2]).max() == pytest.approx(0.5, rel=0.01)


@pytest.mark.parametrize("name", SIX)
def test_linear_chirp_ridge_follows_its_frequency(name):
    sr, dur, f_start, f_stop = 8000, 2.0, 300.0, 3000.0
    t = np.arange(int(dur * sr)) / sr
    y = scipy.signal.chirp(t, f0=f_start, t1=dur, f1=f_stop, method="linear")
    tf = transforms.compute(y, sr, name)
    inst = f_start + (f_stop - f_start) * tf.times / dur
    inner = (tf.times > 0.2) & (tf.times < dur - 0.2)
    rel = np.abs(ridge(tf)[inner] - inst[inner]) / inst[inner]
    assert np.median(rel) < 0.05 and np.percentile(rel, 95) < 0.12


# --- STFT as MATLAB's stft -------------------------------------------------

def test_windows_equal_matlab_formulas():
    m = 256
    n = np.arange(m)
    hamming = 0.54 - 0.46 * np.cos(2 * np.pi * n / m)  # hamming(256, 'periodic')
    blackman = 0.42 - 0.5 * np.cos(2 * np.pi * n / m) + 0.08 * np.cos(4 * np.pi * n / m)
    beta = 5.0
    kaiser = np.i0(beta * np.sqrt(1 - (2 * n / (m - 1) - 1) ** 2)) / np.i0(beta)  # kaiser(256, 5), symmetric
    np.testing.assert_allclose(transforms.stft_window("hamming", m), hamming, atol=1e-12)
    np.testing.assert_allclose(transforms.stft_window("blackman", m), blackman, atol=1e-12)
    np.testing.assert_allclose(transforms.stft_window("kaiser", m), kaiser, atol=1e-12)
    assert not np.allclose(transforms.stft_window("hamming", m), np.hamming(m))  # NumPy's is symmetric


@pytest.mark.parametrize("n", [256, 1000, 24000, 24063])
def test_stft_frames_axes_and_values_follow_matlab(n):
    sr = 8000
    y = np.random.default_rng(n).standard_normal(n)
    tf = transforms.compute(y, sr, "hamming")
    frames = (n - 64) // 192
    assert tf.coefs.shape == (512, frames)
    np.testing.assert_allclose(np.diff(tf.freqs), sr / 512)
    assert tf.freqs[-1] == sr / 2 and tf.freqs[255] == 0 and tf.freqs[0] == -255 * sr / 512
    np.testing.assert_allclose(tf.times, (np.arange(frames) * 192 + 128) / sr)
    # each column is the 512-point DFT of the windowed frame, centred
    w = transforms.stft_window("hamming")
    m = frames - 1
    direct = np.fft.fft(y[m * 192: m * 192 + 256] * w, 512)
    k = np.round(tf.freqs * 512 / sr).astype(int) % 512
    np.testing.assert_allclose(tf.coefs[:, m], direct[k], rtol=1e-4, atol=1e-4 * np.abs(direct).max())
    one = transforms.compute(y, sr, "hamming", onesided=True)
    assert one.coefs.shape == (257, frames) and one.freqs[0] == 0 and one.freqs[-1] == sr / 2
    np.testing.assert_allclose(one.coefs, tf.coefs[255:], rtol=1e-6, atol=1e-6)


# --- CWT as MATLAB's cwt ----------------------------------------------------

@pytest.mark.parametrize("name", CWTS)
@pytest.mark.parametrize("sr,seconds", [(8000, 3.0), (16000, 3.0), (8000, 1.3)])
def test_cwt_frequency_axis_is_matlab_grid(name, sr, seconds):
    n = int(sr * seconds)
    tf = transforms.cwt(np.random.default_rng(0).standard_normal(n), sr, name)
    wav = transforms.WAVELETS[name]
    assert tf.coefs.shape == (tf.freqs.size, n) and np.all(np.diff(tf.freqs) < 0)
    np.testing.assert_allclose(tf.freqs[1:] / tf.freqs[:-1], 2 ** -0.1)  # 10 voices per octave
    assert tf.freqs[0] < sr / 2
    # highest filter: `cutoff` of its peak (2) at Nyquist (half for Morse, 10 % otherwise)
    assert wav.filter(np.array([tf.scales[0] * np.pi]))[0] == pytest.approx(2 * wav.cutoff, rel=1e-6)
    # lowest: the last scale that keeps two time spreads within the signal
    s_max = n / (2 * wav.sigma_t)
    assert tf.scales[-1] <= s_max < tf.scales[-1] * 2 ** 0.1
    longer = transforms.cwt_scales(2 * n, name)
    assert len(longer) - len(tf.scales) in (10, 11)  # doubling the length adds one octave


def test_cwt_grid_reproduces_matlab_numbers():
    # THESIS.md section 1, from MATLAB's documentation/cwtfreqbounds: 3 s at 16 kHz
    expected = {"morse": (127, 1.1, 6946), "amor": (127, 0.95, 5892), "bump": (112, 3.3, 7271)}
    for name, (rows, lo, hi) in expected.items():
        s = transforms.cwt_scales(48000, name)
        f = transforms.WAVELETS[name].center / (2 * np.pi * s) * 16000
        assert len(s) == rows and round(f[0]) == hi and f[-1] == pytest.approx(lo, abs=0.05)
    # cwtfreqbounds(1000) = [0.0033, 0.4341] cycles/sample (Morse)
    wav = transforms.WAVELETS["morse"]
    s = transforms.cwt_scales(1000, "morse")
    assert wav.center / (2 * np.pi * s[0]) == pytest.approx(0.4341, abs=5e-5)
    assert wav.center / (2 * np.pi * 1000 / (2 * wav.sigma_t)) == pytest.approx(0.0033, abs=5e-5)


@pytest.mark.parametrize("name,sq_name,params", [
    ("morse", "gmw", {"gamma": 3, "beta": 20, "norm": "bandpass"}),
    ("amor", "morlet", {"mu": 6}),
    ("bump", "bump", {"mu": 5, "s": 0.6}),
])
def test_cwt_agrees_with_ssqueezepy_on_the_same_scales(name, sq_name, params):
    ssq = pytest.importorskip("ssqueezepy")
    sr = 8000
    y = voiced(sr, 1.0, f0=130) + 0.01 * np.random.default_rng(1).standard_normal(sr)
    ours = transforms.cwt(y, sr, name, precision="double")
    n, pad = y.size, y.size // 2
    wav = ssq.Wavelet((sq_name, params))
    ref, _ = ssq.cwt(np.pad(y.astype(np.float64), pad, mode="symmetric"), wav,
                     scales=np.asarray(ours.scales), padtype=None, l1_norm=True)
    ref = np.asarray(ref)[:, pad:pad + n]
    gain = 2.0 / np.abs(wav.fn(np.linspace(0, 4 * np.pi, 400_001))).max()  # its filter peak is not 2
    err = np.abs(ref * gain - ours.coefs).max() / np.abs(ours.coefs).max()
    assert err < 1e-3


def test_single_precision_keeps_fidelity():
    y = voiced(8000, 1.0)
    for name in CWTS:
        a = transforms.cwt(y, 8000, name, precision="single").coefs
        b = transforms.cwt(y, 8000, name, precision="double").coefs
        assert a.dtype == np.complex64 and b.dtype == np.complex128
        assert np.abs(a - b).max() < 1e-5 * np.abs(b).max()


@pytest.mark.parametrize("name", ["kaiser", "amor", "bump"])
def test_magnitude_path_equals_abs_of_the_coefficients_resized(name):
    y = voiced(8000, 1.1, f0=170)
    full = np.abs(transforms.compute(y, 8000, name).coefs)
    mag, freqs, n_time = transforms.magnitude(y, 8000, name,
                                              reduce_time=lambda m: images.resize(m, (m.shape[0], 300)))
    assert n_time == full.shape[1] and freqs.size == full.shape[0]
    np.testing.assert_allclose(mag, images.resize(full, (full.shape[0], 300)), rtol=1e-4, atol=1e-5 * full.max())
    np.testing.assert_allclose(transforms.magnitude(y, 8000, name)[0], full, rtol=1e-5, atol=1e-6 * full.max())


@pytest.mark.parametrize("n", [8009, 12347])
@pytest.mark.parametrize("name", CWTS)
def test_chirp_z_path_equals_the_direct_fft_path(monkeypatch, n, name):
    """MATLAB's padded length 2*floor(n/2) + n has large prime factors here, so the CWT
    takes the pruned chirp-z route; forcing the direct inverse FFT must give the same values."""
    pad = n // 2
    assert not transforms._is_fast_length(n + 2 * pad), "the test needs an awkward padded length"
    y = voiced(8000, n / 8000, f0=160, seed=n) + 0.01 * np.random.default_rng(n).standard_normal(n)
    chirp = transforms.cwt(y, 8000, name, precision="double").coefs
    monkeypatch.setattr(transforms, "_is_fast_length", lambda m: True)
    direct = transforms.cwt(y, 8000, name, precision="double").coefs
    assert chirp.shape == direct.shape == (chirp.shape[0], n)
    assert np.abs(chirp - direct).max() < 1e-9 * np.abs(direct).max()


# --- inverse CWT ---------------------------------------------------------------

@pytest.mark.parametrize("name,floor", [("morse", 30.0), ("amor", 30.0), ("bump", 24.0)])
def test_icwt_reconstructs_band_limited_speech(name, floor):
    sr = 16000
    y = voiced(sr, 1.5, f0=120)
    sos = scipy.signal.butter(12, 0.9 * sr / 4, fs=sr, output="sos")
    y = scipy.signal.sosfiltfilt(sos, y) + 0.05  # with a DC offset: the mean must come back
    tf = transforms.cwt(y, sr, name)
    assert snr_db(y, transforms.icwt(tf)) >= floor
    assert snr_db(y, transforms.icwt(tf.coefs, name, mean=tf.mean)) >= floor


@pytest.mark.slow
@pytest.mark.parametrize("name,floor", [("morse", 25.0), ("amor", 20.0), ("bump", 20.0)])
def test_icwt_reconstructs_full_band_embedded_speech(embedded_root, name, floor):
    corpus = datasets.discover(embedded_root).groupby("speaker").head(1).head(3)
    snrs = []
    for path in corpus["path"]:
        y, sr = audio.load(path)
        tf = transforms.cwt(y, sr, name)
        snrs.append(snr_db(y, transforms.icwt(tf)))
    assert np.median(snrs) >= floor, snrs


# --- bad input -------------------------------------------------------------------

def test_unknown_transform_lists_the_six():
    with pytest.raises(ValueError) as err:
        transforms.compute(np.zeros(1000), 8000, "gabor")
    assert all(n in str(err.value) for n in SIX)


def test_short_clip_and_nan_samples_are_refused_clearly():
    with pytest.raises(ValueError, match="256"):
        transforms.compute(np.ones(200), 8000, "hamming")
    with pytest.raises(ValueError, match="at least 4"):
        transforms.compute(np.ones(3), 8000, "morse")
    y = np.ones(4000)
    y[123] = np.nan
    for name in ("kaiser", "amor"):
        with pytest.raises(ValueError, match="NaN"):
            transforms.compute(y, 8000, name)
    with pytest.raises(ValueError, match="1-D"):
        transforms.compute(np.ones((2, 4000)), 8000, "morse")
    with pytest.raises(ValueError, match="sr"):
        transforms.compute(np.ones(4000), 0, "morse")
    with pytest.raises(ValueError, match="wavelet"):
        transforms.cwt(np.ones(4000), 8000, "mexh")


# --------------------------------------------------------------------------
# frequency_limits (MATLAB's 'FrequencyLimits')
# --------------------------------------------------------------------------
def test_frequency_limits_keep_the_default_rows_inside_the_band():
    sr, n = 8000, 24000
    y = np.random.default_rng(0).standard_normal(n)
    full = transforms.cwt(y, sr, "amor")
    band = transforms.cwt(y, sr, "amor", frequency_limits=(40, 4000))
    inside = (full.freqs >= 40) & (full.freqs <= 4000)
    assert band.coefs.shape == (int(inside.sum()), n) and 0 < band.coefs.shape[0] < full.coefs.shape[0]
    # the grid is unchanged: same scales, same values, only the rows outside the band dropped
    np.testing.assert_array_equal(band.scales, full.scales[inside])
    np.testing.assert_array_equal(band.coefs, full.coefs[inside])
    assert band.freqs.min() >= 40 and band.freqs.max() <= 4000
    # f_hi = Nyquist lies above the highest centre frequency: clipped to it
    lo, hi = transforms.cwt_freqbounds(n, sr, "amor")
    assert band.frequency_limits == (40.0, hi) and full.frequency_limits is None
    assert lo == pytest.approx(full.freqs.min()) and hi == pytest.approx(full.freqs.max())
    np.testing.assert_array_equal(transforms.cwt_scales(n, "amor", frequency_limits=(40, 4000), sr=sr),
                                  band.scales)
    mag, freqs, n_time = transforms.magnitude(y, sr, "amor", frequency_limits=(40, 4000))
    np.testing.assert_array_equal(mag, band.magnitude)
    np.testing.assert_array_equal(freqs, band.freqs)


def test_band_limited_icwt_keeps_the_tone_inside_and_drops_the_one_outside():
    sr, n = 8000, 12000
    t = np.arange(n) / sr
    inside, outside = np.sin(2 * np.pi * 300 * t), 0.8 * np.sin(2 * np.pi * 20 * t)
    tf = transforms.cwt(inside + outside, sr, "amor", frequency_limits=(100, 1000))
    assert tf.freqs.min() >= 100 and tf.freqs.max() <= 1000
    r = transforms.icwt(tf) - tf.mean
    mid = slice(n // 8, -n // 8)  # away from the reflected edges
    assert snr_db(inside[mid], r[mid]) > 30        # the 300 Hz tone survives at its amplitude
    assert abs(np.dot(r[mid], outside[mid])) / np.dot(outside[mid], outside[mid]) < 1e-3  # 20 Hz is gone
    assert snr_db(inside[mid] + outside[mid], transforms.icwt(transforms.cwt(inside + outside, sr, "amor"))[mid]) > 20


@pytest.mark.parametrize("limits, match", [
    ((1000, 100), "strictly increasing"),
    ((0, 100), "positive"),
    ((100, 5000), "Nyquist"),
    (("low", 300), "two numbers"),
    (300, "two numbers"),
    ((3950, 3990), "keep no CWT row"),
])
def test_bad_frequency_limits_are_refused_with_the_valid_range(limits, match):
    y = np.random.default_rng(1).standard_normal(8000)
    with pytest.raises(ValueError, match=match) as err:
        transforms.cwt(y, 8000, "amor", frequency_limits=limits)
    assert "frequency_limits" in str(err.value) and "valid range" in str(err.value)


def test_describe_lists_each_transform_with_its_axes():
    y = np.sin(2 * np.pi * 440 * np.arange(4000) / 8000)
    tfs = {n: transforms.compute(y, 8000, n) for n in ("kaiser", "morse")}
    table = transforms.describe(tfs)
    assert list(table.index) == ["kaiser", "morse"] and list(table["kind"]) == ["stft", "cwt"]
    assert table.loc["morse", "rows"] == tfs["morse"].coefs.shape[0]
    assert table.loc["kaiser", "highest Hz"] <= 4000 and table.loc["morse", "lowest Hz"] > 0
