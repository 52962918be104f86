"""Phase refinement that converges: the CWT frame, its least-squares inverse and Griffin-Lim on it."""
import numpy as np
import pytest

from voxlib import audio, metrics, transforms
from voxlib import reconstruction as R

SR = 8000


@pytest.fixture(scope="module")
def clips(embedded_root):
    """A real clip (1.5 s) and another sentence's clip of the same length (a wrong phase)."""
    out = []
    for name in ("conf-hasjoin", "vm-options"):
        y, sr = audio.load(embedded_root / "es-mx_allison" / f"{name}.flac", sr=SR)
        out.append(audio.vad_align(y, sr, duration=1.5, lead=0.25))
    return out


def test_the_frame_is_matlabs_cwt_in_the_middle_and_its_inverse_is_exact(clips):
    y = clips[0]
    tf = transforms.cwt(y, SR, "amor")
    frame = R.ConsistentCWT(y.size, "amor", tf.scales)
    coefs = frame.forward(frame.pad_signal(y))
    np.testing.assert_allclose(frame.middle(coefs), tf.coefs, atol=1e-6 * np.abs(tf.coefs).max())
    back = frame.middle(frame.inverse(coefs))
    # all but the DC and the few bins the filters barely cover (below 1 Hz, above 3.8 kHz: COVERAGE)
    assert np.max(np.abs(back - (y - y.mean()))) < 0.02 * np.max(np.abs(y))
    assert R.inconsistency(coefs, frame) < 1e-3                                  # a real signal's coefficients
    assert R.inconsistency(np.abs(coefs), frame) > 0.3                           # zero phase is far from one


@pytest.mark.parametrize("momentum", [0.0, 0.99])
def test_inconsistency_falls_monotonically_from_a_wrong_phase(clips, momentum):
    y, other = clips
    mag = np.abs(transforms.cwt(y, SR, "amor").coefs)
    history = []
    R.refine_phase(mag, transforms.cwt(other, SR, "amor"), n_iter=10, momentum=momentum, history=history)
    assert np.all(np.diff(history) <= 1e-6), np.round(history, 4)
    assert history[-1] < 0.6 * history[0]
    start = []   # from the clip's own phase it is consistent already and stays so
    R.refine_phase(mag, transforms.cwt(y, SR, "amor"), n_iter=3, momentum=momentum, history=start)
    assert max(start) < 0.02


def test_refinement_brings_the_sound_back_toward_the_clip(clips):
    y, other = clips
    mag = np.abs(transforms.cwt(y, SR, "amor").coefs)
    wrong = transforms.cwt(other, SR, "amor")
    plain = R.reconstruct(mag, wrong, phase="source")
    refined = R.reconstruct(mag, wrong, phase="refined", n_iter=12)
    assert metrics.spectral_convergence(y, refined) < metrics.spectral_convergence(y, plain) - 0.08
    assert refined.shape == y.shape and refined.dtype == np.float32


def test_confident_refinement_keeps_the_source_phase_on_weak_bins(clips):
    y, other = clips
    tf_y, wrong = transforms.cwt(y, SR, "amor"), transforms.cwt(other, SR, "amor")
    mag = np.abs(tf_y.coefs)
    out = R.refine_phase(mag, wrong, n_iter=4, confident_db=20.0)
    weak = mag < mag.max(axis=0, keepdims=True) * 10 ** (-20 / 20)
    strong = ~weak & (mag > 0)
    same = np.angle(out[weak & (np.abs(wrong.coefs) > 0)] * np.conj(wrong.coefs[weak & (np.abs(wrong.coefs) > 0)]))
    assert np.max(np.abs(same)) < 1e-3                                  # weak bins: the source's phase exactly
    moved = np.angle(out[strong] * np.conj(wrong.coefs[strong]))
    assert np.mean(np.abs(moved) > 0.1) > 0.3                          # strong bins were refined
    np.testing.assert_allclose(np.abs(out), mag, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kw, name", [({"phase": "griffin"}, "phase"), ({"phase": "refined", "n_iter": -1}, "n_iter"),
                                      ({"phase": "refined", "n_iter": 2.5}, "n_iter"),
                                      ({"phase": "refined", "momentum": 1.0}, "momentum"),
                                      ({"phase": "refined_confident", "confident_db": 0}, "confident_db")])
def test_bad_phase_settings_are_named(clips, kw, name):
    tf = transforms.cwt(clips[0], SR, "amor")
    with pytest.raises(R.ReconstructionError, match=name):
        R.reconstruct(np.abs(tf.coefs), tf, **kw)
