"""voxlib.reconstruction.phase: image -> magnitude -> audio with a borrowed phase, the oracles, the thesis's
rescale path, and phase refinement that converges (the CWT frame, its least-squares inverse and Griffin-Lim
on it)."""
from __future__ import annotations

import numpy as np
import pytest

from reconstruction_fakes import ALIGN, SR, sentence
from voxlib import audio, images, metrics, transforms
from voxlib import reconstruction as R


def test_oracle_through_8bit_full_resolution_matches_the_cwt_round_trip(clip):
    exact = metrics.snr(clip, R.oracle(clip, SR))
    tf = transforms.cwt(clip, SR, "amor")
    via_image = metrics.snr(clip, R.oracle(clip, SR, image_size=tf.coefs.shape))
    assert exact > 15.0, exact  # icwt loses the band above ~3.3 kHz (amor at 8 kHz)
    assert abs(exact - via_image) < 0.5, (exact, via_image)


def test_narrow_images_cost_snr(clip):
    table = R.quality_vs_width(clip, SR, widths=(64, 512, None))
    print("\n" + table.round(3).to_string())
    snr = table[table["image"] == "8-bit"].set_index("width")["snr_db"]
    full = table["width"].max()
    assert snr[64] < snr[512] < snr[full] - 3.0
    assert table["image"].iloc[0] == "none" and table["samples_per_column"].iloc[1] == clip.size / 64


def test_thesis_path_loses_the_scale_ours_keeps_it(clip):
    full = (512, clip.size)  # the thesis's 512 rows, every sample a column: only the inversion differs
    ours = R.oracle(clip, SR, image_size=full)
    thesis = R.oracle(clip, SR, image_size=full, thesis_rescale=True)
    assert abs(metrics.rms_ratio_db(clip, ours)) < 1.0
    assert metrics.rms_ratio_db(clip, thesis) < -6.0
    assert metrics.snr(clip, thesis) < metrics.snr(clip, ours) - 10.0
    # every magnitude of the thesis's path stays below 10^(1/50) - 1
    img, scale = images.to_image(np.abs(transforms.cwt(clip, SR, "amor").coefs), (64, 64))
    assert R.image_to_magnitude(img, None, img.shape, thesis_rescale=True).max() == pytest.approx(10 ** (1 / 50) - 1)


def test_source_phase_oracle_and_phase_refinement(clip):
    other = audio.vad_align(sentence(f0=200, seed=3), SR, **ALIGN)
    own = R.oracle(clip, SR)
    borrowed = R.oracle(clip, SR, y_phase=other)
    assert metrics.mel_cepstral_distortion(clip, own, SR) < metrics.mel_cepstral_distortion(clip, borrowed, SR)
    # refinement makes the CWT of the output agree better with the magnitude asked for
    tf, tf_other = transforms.cwt(clip, SR, "amor"), transforms.cwt(other, SR, "amor")
    mag = np.abs(tf.coefs)

    def inconsistency(n_iter):
        y = R.reconstruct(mag, tf_other, phase="refined", n_iter=n_iter)
        return np.linalg.norm(np.abs(transforms.cwt(y, SR, "amor").coefs) - mag) / np.linalg.norm(mag)

    assert inconsistency(8) < 0.8 * inconsistency(0)
    with pytest.raises(R.ReconstructionError, match="phase"):
        R.reconstruct(mag, tf, phase="random")


def test_shape_and_scale_errors(clip):
    tf = transforms.cwt(clip, SR, "amor")
    with pytest.raises(R.ReconstructionError, match="vad_align"):
        R.reconstruct(np.ones((tf.coefs.shape[0], 100)), tf)
    with pytest.raises(R.ReconstructionError, match="notebook 01"):
        R.image_to_magnitude(np.zeros((8, 8), np.uint8), None, (4, 4))
    with pytest.raises(R.ReconstructionError, match="shape"):
        R.image_to_magnitude(np.zeros((8, 8), np.uint8), 1.0, (4,))


# --------------------------------------------------------------------------
# Phase refinement that converges (formerly tests/test_phase.py)
# --------------------------------------------------------------------------
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
