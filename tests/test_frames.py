"""voxlib.frames: DTW time maps between two clips, and the ridge frame-mapping baseline."""
from __future__ import annotations

import librosa
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from signals import EMBEDDED
from voxlib import audio, frames

SR = 8000
HOP = 80
CLIP = EMBEDDED / "es-mx_allison" / "conf-hasjoin.flac"


def _mfcc(y):
    return librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20, n_fft=256, hop_length=HOP, n_mels=40)[1:]


@pytest.fixture(scope="module")
def speech():
    y, _ = audio.load(CLIP, sr=SR)
    start, stop = audio.speech_span(y, SR)
    return y[start:stop]


@pytest.fixture(scope="module")
def stretched_pair(speech):
    """Original (speech 0.5 s in, 3 s) and a piecewise time-stretched copy (0.3 s in, 3.5 s) with the
    true map from original samples to stretched samples."""
    ref = audio.vad_align(speech, SR, duration=3.0, lead=0.5)
    half = speech.size // 2
    # a 32 ms analysis window: librosa's default (2048 samples = 256 ms at 8 kHz) smears the timing itself
    a = librosa.effects.time_stretch(speech[:half], rate=0.8, n_fft=256, hop_length=64)
    b = librosa.effects.time_stretch(speech[half:], rate=1.25, n_fft=256, hop_length=64)
    lead = int(0.3 * SR)
    other = np.zeros(int(3.5 * SR), dtype=np.float32)
    other[lead:lead + a.size + b.size] = np.r_[a, b]
    t = np.arange(ref.size) - int(0.5 * SR)
    true = np.where(t < half, lead + t * a.size / half, lead + a.size + (t - half) * b.size / (speech.size - half))
    in_speech = (t >= 0) & (t < speech.size)
    return ref, other, true, in_speech


def test_dtw_recovers_a_piecewise_stretch(stretched_pair):
    ref, other, true, in_speech = stretched_pair
    time_map = frames.dtw_time_map(ref, other, SR)
    assert time_map.dtype == np.int64 and time_map.shape == ref.shape
    assert np.all(np.diff(time_map) >= 0)
    assert time_map.min() >= 0 and time_map.max() <= other.size - 1
    err = np.abs(time_map - true)[in_speech]
    assert np.median(err) < HOP and np.percentile(err, 90) < 2 * HOP  # within a frame or two of the truth
    # leading silence -> leading silence, trailing silence -> trailing silence
    r0, r1 = audio.speech_span(ref, SR)
    o0, o1 = audio.speech_span(other, SR)
    assert time_map[: r0 - HOP].max() < o0 and time_map[r1 + HOP:].min() >= o1 - HOP
    assert time_map[-1] == other.size - 1


def test_dtw_warped_frames_match_far_better_than_vad_alignment(stretched_pair):
    ref, other, _, _ = stretched_pair
    time_map = frames.dtw_time_map(ref, other, SR)
    m_ref = _mfcc(ref)
    # per-sample feature matrix of the other clip (each frame repeated over its hop), warped, read at frame centres
    per_sample = np.repeat(_mfcc(other), HOP, axis=1)[:, : other.size]
    warped = frames.warp_columns(per_sample, time_map, n_other=other.size)[:, ::HOP][:, : m_ref.shape[1]]
    unwarped = _mfcc(audio.vad_align(other, SR, duration=3.0, lead=0.5))  # the thesis's pairing
    r0, r1 = (v // HOP for v in audio.speech_span(ref, SR))
    mid = (r0 + r1) // 2
    for part in (slice(r0, mid), slice(mid, r1)):
        d_warp = np.linalg.norm(m_ref[:, part] - warped[:, part], axis=0).mean()
        d_vad = np.linalg.norm(m_ref[:, part] - unwarped[:, part], axis=0).mean()
        assert d_warp < 0.5 * d_vad


def test_dtw_identity_and_pure_shift(speech):
    ref = audio.vad_align(speech, SR, duration=3.0, lead=0.5)
    same = frames.dtw_time_map(ref, ref, SR)
    assert np.median(np.abs(same - np.arange(ref.size))) < HOP
    # same speech 0.2 s earlier in a shorter clip: speech samples map 1600 samples back
    early = audio.vad_align(speech, SR, duration=2.6, lead=0.3)
    shift = frames.dtw_time_map(ref, early, SR)
    assert shift.shape == ref.shape and shift.max() <= early.size - 1
    t = np.arange(ref.size)
    speech_part = (t >= int(0.5 * SR)) & (t < int(0.5 * SR) + speech.size)
    assert np.median(np.abs(shift - (t - int(0.2 * SR)))[speech_part]) < HOP


@pytest.mark.parametrize(
    "args,words,error",
    [
        ((np.zeros(0, np.float32), "y_other", SR), "y_ref is empty", audio.InvalidSamplesError),
        (("y_ref", np.zeros((2, 8000), np.float32), SR), "y_other has shape", audio.InvalidSamplesError),
        (("y_ref", np.zeros(8000, np.float32), SR), "y_other: no speech", frames.FramesError),
        (("y_ref", "y_other", 0), "sr=0", frames.FramesError),
        (("y_ref", "y_other", -8000), "sr=-8000", frames.FramesError),
    ],
)
def test_dtw_bad_input_names_the_argument(speech, args, words, error):
    clip = audio.vad_align(speech, SR, duration=3.0, lead=0.5)
    args = [clip if isinstance(a, str) else a for a in args]
    with pytest.raises(error, match=words):
        frames.dtw_time_map(*args)
    assert issubclass(frames.FramesError, ValueError)


def test_warp_columns_indexes_and_checks_the_shape():
    rng = np.random.default_rng(0)
    mat = rng.random((3, 4, 50))
    time_map = np.sort(rng.integers(0, 50, 70))
    out = frames.warp_columns(mat, time_map, n_other=50)
    assert out.shape == (3, 4, 70)
    np.testing.assert_array_equal(out[1, 2], mat[1, 2][time_map])
    with pytest.raises(frames.FramesError, match="n_other=60"):
        frames.warp_columns(mat, time_map, n_other=60)
    with pytest.raises(frames.FramesError, match="time_map holds indices"):
        frames.warp_columns(mat[..., :20], time_map)
    with pytest.raises(frames.FramesError, match="time_map has shape"):
        frames.warp_columns(mat, time_map.astype(float))


# ---------------------------------------------------------------------------
# ridge baseline
# ---------------------------------------------------------------------------


def _pairs(n, seed, h=32, w=64):
    """Smooth random source images; target = rows shifted by 3, columns lagged by 2, gain 0.7, +30, noise."""
    rng = np.random.default_rng(seed)
    big = gaussian_filter(rng.standard_normal((n, h + 6, w + 4)), sigma=(0, 2, 2))
    big = 128 + 40 * big / big.std()
    src = big[:, 3:h + 3, 2:w + 2]
    tgt = 0.7 * big[:, :h, :w] + 30 + rng.normal(0, 3, (n, h, w))
    return (np.clip(np.rint(src), 0, 255).astype(np.uint8), np.clip(np.rint(tgt), 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def ridge_data():
    return _pairs(20, seed=0), _pairs(6, seed=1)


def test_ridge_beats_copying_the_source_on_held_out_images(ridge_data):
    (src, tgt), (src_te, tgt_te) = ridge_data
    model = frames.RidgeMapping(context=3).fit(src, tgt)
    pred = model.predict(src_te)
    assert pred.dtype == np.uint8 and pred.shape == src_te.shape
    mae = np.abs(pred.astype(float) - tgt_te).mean()
    copy = np.abs(src_te.astype(float) - tgt_te).mean()
    assert mae < 0.25 * copy
    # the target lags the source by 2 columns: without context the same model is much worse
    no_context = frames.RidgeMapping(context=0).fit(src, tgt).predict(src_te)
    assert mae < 0.5 * np.abs(no_context.astype(float) - tgt_te).mean()
    assert model.alpha_ in model.alphas
    assert model.cv_scores_.shape == (5, 5)
    assert model.alpha_ == model.alphas[int(np.argmin(model.cv_scores_.mean(axis=1)))]


def test_ridge_cv_picks_the_strongest_penalty_for_unrelated_targets(ridge_data):
    (src, _), _ = ridge_data
    noise = np.random.default_rng(7).integers(0, 256, src.shape).astype(np.uint8)
    model = frames.RidgeMapping(context=3).fit(src, noise)
    assert model.alpha_ == 1000
    # near-unpenalised fits overfit the noise: their held-out error is the largest
    assert model.cv_scores_.mean(axis=1)[0] > model.cv_scores_.mean(axis=1)[-1]


def test_ridge_closed_form_matches_sklearn(ridge_data):
    (src, tgt), (src_te, _) = ridge_data
    model = frames.RidgeMapping(context=2, alphas=(10.0,)).fit(src, tgt)
    x = frames._features(src.astype(float), 2)
    scaler = StandardScaler().fit(x)
    ref = Ridge(alpha=10.0).fit(scaler.transform(x), frames._targets(tgt.astype(float)))
    np.testing.assert_allclose(model.coef_, ref.coef_.T, rtol=1e-6, atol=1e-8)
    cols = ref.predict(scaler.transform(frames._features(src_te.astype(float), 2)))
    expected = np.clip(np.rint(cols), 0, 255).reshape(len(src_te), src_te.shape[2], -1).transpose(0, 2, 1)
    assert np.mean(model.predict(src_te) == expected) > 0.999  # rounding ties aside


def test_ridge_deterministic_channels_and_groups(ridge_data):
    (src, tgt), (src_te, _) = ridge_data
    a = frames.RidgeMapping(context=2, seed=3).fit(src, tgt)
    b = frames.RidgeMapping(context=2, seed=3).fit(src, tgt)
    np.testing.assert_array_equal(a.cv_scores_, b.cv_scores_)
    np.testing.assert_array_equal(a.predict(src_te), b.predict(src_te))
    rgb = np.repeat(src_te[..., None], 3, axis=3)
    out = a.predict(rgb)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 1], a.predict(src_te))
    # two groups only -> two folds
    groups = np.arange(len(src)) % 2
    assert frames.RidgeMapping(context=1).fit(src, tgt, groups=groups).cv_scores_.shape[1] == 2


@pytest.mark.parametrize(
    "make,words",
    [
        (lambda s, t: (s, t[:-1]), "source_images holds 20 images but target_images 19"),
        (lambda s, t: (s[:1], t[:1]), "at least 2"),
        (lambda s, t: (s, t[:, :, :-1]), "target_images"),
        (lambda s, t: (s[0], t[0]), "source_images has shape"),
    ],
)
def test_ridge_rejects_bad_shapes_by_name(ridge_data, make, words):
    (src, tgt), _ = ridge_data
    with pytest.raises(frames.FramesError, match=words):
        frames.RidgeMapping().fit(*make(src, tgt))


def test_ridge_rejects_bad_parameters_and_unfitted_use(ridge_data):
    (src, tgt), _ = ridge_data
    with pytest.raises(frames.FramesError, match="context=-1"):
        frames.RidgeMapping(context=-1).fit(src, tgt)
    with pytest.raises(frames.FramesError, match="alphas="):
        frames.RidgeMapping(alphas=(1, -1)).fit(src, tgt)
    with pytest.raises(frames.FramesError, match="not fitted"):
        frames.RidgeMapping().predict(src)
    model = frames.RidgeMapping(context=1).fit(src, tgt)
    with pytest.raises(frames.FramesError, match="pixels high"):
        model.predict(src[:, :-1])


# ---------------------------------------------------------------------------
# GMMMapping (joint-density GMM baseline)
# ---------------------------------------------------------------------------


def _piecewise_task(n_utterances: int, seed: int, frames_per_utterance: int = 100, noise: float = 0.1):
    """Paired frames: x in two clusters, y a different linear map of x in each (+ noise); utterance labels."""
    maps = np.random.default_rng(100)  # the same two maps for every split
    d = 4
    a = [0.5 * np.eye(d) + maps.normal(0, 0.5, (d, d)) for _ in range(2)]
    b = [maps.normal(0, 2, d) for _ in range(2)]
    rng = np.random.default_rng(seed)
    n = n_utterances * frames_per_utterance
    cluster = rng.integers(0, 2, n)
    x = np.where(cluster[:, None] == 0, -2.5, 2.5) + rng.normal(0, 1, (n, d))
    y = np.einsum("nij,nj->ni", np.stack(a)[cluster], x) + np.stack(b)[cluster] + rng.normal(0, noise, (n, d))
    return x, y, np.repeat(np.arange(n_utterances), frames_per_utterance)


@pytest.fixture(scope="module")
def gmm_data():
    return _piecewise_task(20, seed=0), _piecewise_task(10, seed=1)


def test_gmm_beats_copying_and_a_global_linear_map_on_held_out_frames(gmm_data):
    (x, y, _), (x_te, y_te, _) = gmm_data
    model = frames.GMMMapping(n_components=2).fit(x, y)
    mse = lambda pred: float(np.mean((pred - y_te) ** 2))  # noqa: E731
    linear = np.c_[x_te, np.ones(len(x_te))] @ np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)[0]
    gmm, copy, lin = mse(model.predict(x_te)), mse(x_te), mse(linear)
    assert gmm < 0.1 * lin and lin < copy  # measured 0.010 against 0.51 (linear) and 14.8 (copy); noise 0.01
    np.testing.assert_array_equal(model.transform(x_te), model.predict(x_te))


def test_gmm_with_one_component_is_the_least_squares_linear_map(gmm_data):
    (x, y, _), (x_te, _, _) = gmm_data
    model = frames.GMMMapping(n_components=1, reg_covar=1e-10).fit(x, y)
    linear = np.c_[x_te, np.ones(len(x_te))] @ np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)[0]
    np.testing.assert_allclose(model.predict(x_te), linear, atol=1e-6)


def test_gmm_global_variance_restores_the_targets_variance():
    x, y, groups = _piecewise_task(20, seed=0, noise=1.5)  # noisy targets: the MMSE estimate is over-smoothed
    x_te, _, groups_te = _piecewise_task(5, seed=1, noise=1.5)
    plain = frames.GMMMapping(n_components=2, seed=1).fit(x, y, groups=groups)
    gv = frames.GMMMapping(n_components=2, seed=1, global_variance=True).fit(x, y, groups=groups)
    target = np.mean([y[groups == g].var(axis=0) for g in range(20)], axis=0)
    np.testing.assert_allclose(gv.gv_, target)
    smooth, restored = plain.predict(x_te, groups=groups_te), gv.predict(x_te, groups=groups_te)
    for g in range(5):
        rows = groups_te == g
        assert np.all(smooth[rows].var(axis=0) < target)
        np.testing.assert_allclose(restored[rows].var(axis=0), target, rtol=1e-9)
        np.testing.assert_allclose(restored[rows].mean(axis=0), smooth[rows].mean(axis=0), atol=1e-9)
    # without groups: one utterance, the pooled training variance
    pooled = frames.GMMMapping(n_components=2, seed=1, global_variance=True).fit(x, y)
    np.testing.assert_allclose(pooled.predict(x_te).var(axis=0), y.var(axis=0), rtol=1e-9)


def test_gmm_seeded_fits_are_bit_identical(gmm_data):
    (x, y, _), (x_te, _, _) = gmm_data
    a = frames.GMMMapping(n_components=3, seed=5).fit(x, y).predict(x_te)
    b = frames.GMMMapping(n_components=3, seed=5).fit(x, y).predict(x_te)
    np.testing.assert_array_equal(a, b)
    tied = frames.GMMMapping(n_components=2, covariance_type="tied").fit(x, y).predict(x_te)
    assert tied.shape == a.shape and np.all(np.isfinite(tied))


@pytest.mark.parametrize(
    "params,words",
    [
        (dict(n_components=0), "n_components must be an int in"),
        (dict(covariance_type="diag"), "covariance_type must be one of 'full', 'tied'; got 'diag'"),
        (dict(reg_covar=0), "reg_covar must be"),
        (dict(global_variance=1), "global_variance must be True or False"),
        (dict(seed=-1), "seed must be"),
        (dict(n_components=5000), "frame pair"),
    ],
)
def test_gmm_rejects_bad_parameters_by_name(gmm_data, params, words):
    (x, y, _), _ = gmm_data
    with pytest.raises(frames.FramesError, match=words):
        frames.GMMMapping(**params).fit(x, y)


def test_gmm_rejects_bad_frames_by_name(gmm_data):
    (x, y, groups), _ = gmm_data
    with pytest.raises(frames.FramesError, match="source_frames holds 2000 frames but target_frames 1999"):
        frames.GMMMapping().fit(x, y[:-1])
    with pytest.raises(frames.FramesError, match=r"source_frames has shape \(2000,\)"):
        frames.GMMMapping().fit(x[:, 0], y)
    bad = y.copy()
    bad[3, 1] = np.nan
    with pytest.raises(frames.FramesError, match="target_frames contains NaN"):
        frames.GMMMapping().fit(x, bad)
    with pytest.raises(frames.FramesError, match="groups has shape"):
        frames.GMMMapping().fit(x, y, groups=groups[:-1])
    with pytest.raises(frames.FramesError, match="not fitted"):
        frames.GMMMapping().predict(x)
    model = frames.GMMMapping().fit(x, y)
    with pytest.raises(frames.FramesError, match="source_frames has 3 columns but the model was fitted on 4"):
        model.predict(x[:, :3])
