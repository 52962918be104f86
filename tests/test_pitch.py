"""voxlib.pitch: Praat F0 tracking, log-F0 statistics, PSOLA conversion and the F0 measures."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voxlib import pitch as P
from voxlib.audio import InvalidSamplesError, load

SR = 8000


def tone(f0=150.0, seconds=1.0, sr=SR, n_harmonics=10, lead=0.0, seed=0):
    """Harmonic tone at ``f0`` (Hz, scalar or per-sample array), raised-cosine ramps in and out.

    ``lead`` seconds of digital silence go in front of it.
    """
    n = int(seconds * sr)
    f = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(f) / sr
    rng = np.random.default_rng(seed)
    y = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, n_harmonics + 1))
    ramp = int(0.1 * sr)
    env = np.ones(n)
    env[:ramp] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    env[-ramp:] = env[:ramp][::-1]
    y = 0.5 * y * env / np.max(np.abs(y))
    return np.concatenate([np.zeros(int(lead * sr)), y]).astype(np.float32)


def glide(f_start=130.0, f_end=200.0, seconds=1.0, sr=SR):
    """Harmonic tone gliding exponentially (linearly in log F0) from f_start to f_end."""
    n = int(seconds * sr)
    return tone(f_start * (f_end / f_start) ** (np.arange(n) / n), seconds, sr)


def noise(seconds=1.0, seed=0):
    return (0.3 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def voiced_logs(y):
    _, f0 = P.pitch_track(y, SR)
    return np.log(f0[f0 > 0])


S150 = P.LogF0Stats(mean=float(np.log(150.0)), std=0.1, n_voiced=100)
S200 = P.LogF0Stats(mean=float(np.log(200.0)), std=0.1, n_voiced=100)


# ----------------------------------------------------------------------------- pitch_track

def test_pitch_track_finds_tone_f0_and_unvoiced_silence():
    y = tone(150.0, lead=0.3)
    times, f0 = P.pitch_track(y, SR)
    assert times.shape == f0.shape
    np.testing.assert_allclose(np.diff(times), P.TIME_STEP, rtol=1e-9)
    voiced = f0[f0 > 0]
    assert voiced.size > 60  # most of the 1 s tone
    assert np.median(voiced) == pytest.approx(150.0, rel=0.01)
    assert np.all(f0[times < 0.25] == 0)  # the leading digital silence is unvoiced


def test_pitch_track_range_limits_what_is_found():
    y = tone(150.0)
    _, f0 = P.pitch_track(y, SR, floor=200.0, ceiling=500.0)
    # 150 Hz lies below the floor: whatever is found is not 150 Hz
    assert not np.any(np.abs(f0[f0 > 0] - 150.0) < 10.0)


# ----------------------------------------------------------------------------- statistics / convert_f0

def test_log_f0_stats_pools_voiced_frames_of_all_clips():
    a, b = tone(150.0), tone(200.0, seconds=0.7)
    la, lb = voiced_logs(a), voiced_logs(b)
    stats = P.log_f0_stats([a, b], SR)
    assert stats.n_voiced == la.size + lb.size
    pooled = np.concatenate([la, lb])
    assert stats.mean == pytest.approx(pooled.mean(), abs=1e-12)
    assert stats.std == pytest.approx(pooled.std(), abs=1e-12)  # population std (ddof=0)
    # a two-point mixture: mean weighted by frame counts, std = sqrt(p (1 - p)) * ln(200/150)
    p = la.size / pooled.size
    assert stats.mean == pytest.approx(p * np.log(150) + (1 - p) * np.log(200), abs=0.01)
    assert stats.std == pytest.approx(np.sqrt(p * (1 - p)) * np.log(200 / 150), abs=0.01)


def test_log_f0_stats_rejects_unvoiced_clips_naming_the_count():
    with pytest.raises(P.PitchError, match=r"only 0 voiced frames in 2 clip") as err:
        P.log_f0_stats([noise(seed=1), noise(seed=2)], SR)
    assert isinstance(err.value, ValueError)
    with pytest.raises(P.PitchError, match="at least 10000"):
        P.log_f0_stats([tone(150.0)], SR, min_voiced=10000)
    with pytest.raises(P.PitchError, match="empty"):
        P.log_f0_stats([], SR)
    with pytest.raises(InvalidSamplesError, match=r"clips\[1\]"):
        P.log_f0_stats([tone(150.0), np.zeros((2, 100), np.float32)], SR)


def test_convert_f0_formula_and_zeros():
    f0 = np.array([0.0, 150.0, 0.0, 300.0, 75.0])
    out = P.convert_f0(f0, S150, S200)
    np.testing.assert_allclose(out, [0.0, 200.0, 0.0, 400.0, 100.0], rtol=1e-12)
    wide = P.LogF0Stats(mean=S200.mean, std=0.2, n_voiced=1)  # double the spread
    np.testing.assert_allclose(P.convert_f0(f0, S150, wide), [0.0, 200.0, 0.0, 800.0, 50.0], rtol=1e-12)
    assert np.array_equal(P.convert_f0(np.zeros((2, 3)), S150, S200), np.zeros((2, 3)))


def test_convert_f0_rejects_bad_input():
    with pytest.raises(P.PitchError, match="f0"):
        P.convert_f0([150.0, np.nan], S150, S200)
    with pytest.raises(P.PitchError, match="f0"):
        P.convert_f0([-1.0], S150, S200)
    with pytest.raises(P.PitchError, match="source.std"):
        P.convert_f0([150.0], P.LogF0Stats(5.0, 0.0, 10), S200)
    with pytest.raises(P.PitchError, match="target must be a LogF0Stats"):
        P.convert_f0([150.0], S150, (5.3, 0.1))
    with pytest.raises(P.PitchError, match="std"):
        P.LogF0Stats(5.0, -0.1, 10)


# ----------------------------------------------------------------------------- convert_pitch

def test_convert_pitch_moves_median_to_target():
    y = tone(150.0, lead=0.5)
    out = P.convert_pitch(y, SR, S150, S200)
    assert out.dtype == np.float32 and out.shape == y.shape
    assert P.median_f0(out, SR) == pytest.approx(200.0, rel=0.03)
    # and back down
    assert P.median_f0(P.convert_pitch(y, SR, S150, P.LogF0Stats(np.log(110.0), 0.1, 1)), SR) == pytest.approx(
        110.0, rel=0.03)


@pytest.mark.parametrize("ratio", [2.0, 0.5])
def test_convert_pitch_scales_log_f0_spread_by_std_ratio(ratio):
    y = glide(130.0, 200.0)
    logs = voiced_logs(y)
    source = P.LogF0Stats(float(logs.mean()), float(logs.std()), logs.size)
    target = P.LogF0Stats(float(logs.mean()), ratio * float(logs.std()), logs.size)
    out_logs = voiced_logs(P.convert_pitch(y, SR, source, target))
    assert out_logs.std() / logs.std() == pytest.approx(ratio, rel=0.1)
    assert out_logs.mean() == pytest.approx(logs.mean(), abs=0.03)
    # the glide keeps its direction: start low, end high
    assert out_logs[:10].mean() < out_logs[-10:].mean()


def test_convert_pitch_is_deterministic_length_preserving_and_keeps_silence():
    y = tone(150.0, seconds=1.0, lead=0.5)[:-37]  # an odd length
    y = y + np.float32(0.01) * (y != 0)  # a DC offset in the voiced part only
    a = P.convert_pitch(y, SR, S150, S200)
    b = P.convert_pitch(y.copy(), SR, S150, S200)
    assert a.shape == y.shape
    assert a.tobytes() == b.tobytes()
    assert np.max(np.abs(a[: int(0.45 * SR)])) < 1e-6  # the leading silence stays silent
    assert np.sqrt(np.mean(a[int(0.7 * SR):] ** 2)) > 0.05  # and the tone is still there


def test_convert_pitch_without_voicing_returns_input():
    for y in (noise(seed=3), np.zeros(SR, np.float32)):
        out = P.convert_pitch(y, SR, S150, S200)
        assert out.dtype == np.float32 and np.array_equal(out, y)


# ----------------------------------------------------------------------------- measures

def test_median_voiced_fraction_and_has_f0():
    y = tone(150.0, lead=0.5)
    assert P.voiced_fraction(y, SR) > 0.8  # the leading silence is not a speech frame
    assert P.has_f0(y, SR)
    n = noise(seed=4)
    assert P.voiced_fraction(n, SR) < 0.05
    assert not P.has_f0(n, SR)
    assert np.isnan(P.median_f0(n, SR))
    assert np.isnan(P.voiced_fraction(np.zeros(SR, np.float32), SR))
    assert not P.has_f0(np.zeros(SR, np.float32), SR)
    # half voiced, half noise at the same level: near one half
    half = np.concatenate([tone(150.0), 0.15 * noise(seed=5)]).astype(np.float32)
    assert 0.3 < P.voiced_fraction(half, SR) < 0.7
    assert P.has_f0(half, SR) and not P.has_f0(half, SR, min_fraction=0.9)


def test_log_f0_rmse_semitones():
    a, b = tone(150.0, seed=1), tone(200.0, seed=2)
    assert P.log_f0_rmse(a, a, SR) == 0.0
    assert P.log_f0_rmse(a, b, SR) == pytest.approx(12 * np.log2(200 / 150), abs=0.3)
    # different lengths are aligned by DTW
    c = tone(200.0, seconds=1.4, seed=3)
    assert P.log_f0_rmse(a, c, SR) == pytest.approx(12 * np.log2(200 / 150), abs=0.3)
    assert np.isnan(P.log_f0_rmse(a, noise(seed=6), SR))


# ----------------------------------------------------------------------------- validation

@pytest.mark.parametrize(
    "kwargs, match, error",
    [
        (dict(y=np.zeros((2, 800), np.float32)), "y must be 1-D", InvalidSamplesError),
        (dict(y=np.zeros(800, np.int16)), "floating-point", InvalidSamplesError),
        (dict(y=np.array([0.0, np.nan] * 400)), "NaN", InvalidSamplesError),
        (dict(y=np.zeros(0, np.float32)), "empty", InvalidSamplesError),
        (dict(sr=0), "sr must be a positive", P.PitchError),
        (dict(sr="8k"), "sr must be a positive", P.PitchError),
        (dict(floor=300.0, ceiling=200.0), "ceiling must be above floor", P.PitchError),
        (dict(floor=-1.0), "floor must be a positive", P.PitchError),
        (dict(time_step=0.0), "time_step", P.PitchError),
        (dict(y=np.zeros(200, np.float32)), "too short", P.PitchError),
    ],
)
def test_invalid_inputs_name_the_parameter(kwargs, match, error):
    args = dict(y=tone(150.0, seconds=0.3), sr=SR) | kwargs
    y, sr = args.pop("y"), args.pop("sr")
    with pytest.raises(error, match=match):
        P.pitch_track(y, sr, **args)
    with pytest.raises(ValueError, match=match):
        P.convert_pitch(y, sr, S150, S200, **args)


# ----------------------------------------------------------------------------- a real clip

def test_convert_pitch_on_embedded_clips(embedded_root):
    index = pd.read_csv(embedded_root / "index.csv")

    def clips(speaker, n=4):
        rows = index[index.speaker == speaker].sort_values("utterance").head(n)
        return [load(embedded_root / p, sr=SR)[0] for p in rows.path]

    src, tgt = clips("it_carlo"), clips("es-co_july")
    s_stats, t_stats = P.log_f0_stats(src, SR), P.log_f0_stats(tgt, SR)
    y = src[0]
    out = P.convert_pitch(y, SR, s_stats, t_stats)
    assert out.shape == y.shape and out.dtype == np.float32
    before, after = voiced_logs(y), voiced_logs(out)
    # the measured mean moves to where the transform sends it
    expected = (before.mean() - s_stats.mean) * t_stats.std / s_stats.std + t_stats.mean
    assert after.mean() == pytest.approx(expected, abs=0.05)
    assert abs(after.mean() - t_stats.mean) < abs(before.mean() - t_stats.mean)
