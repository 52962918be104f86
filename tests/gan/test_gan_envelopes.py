"""Tests of voxlib.gan.envelopes: WORLD envelope images of a pair, column-aligned by the DTW map, padded."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.signal
from signals import voiced

from voxlib import audio, datasets, gan, images, vocoder

SR = 8000
DELAY = 400  # samples: 10 WORLD frames of 5 ms


def _formant_clip(seconds=3.0):
    """A 140 Hz voiced clip whose one resonance jumps every 0.25 s (an envelope that changes over time), over
    a noise floor at -60 dB (so no band falls below the images' floor)."""
    y = voiced(SR, seconds).astype(np.float64)
    seg = int(0.25 * SR)
    out = np.zeros_like(y)
    for k, start in enumerate(range(0, y.size, seg)):
        freq = (500.0, 1800.0, 900.0, 2600.0)[k % 4]
        b, a = scipy.signal.iirpeak(freq, 4.0, fs=SR)
        out[start:start + seg] = scipy.signal.lfilter(b, a, y[start:start + seg])
    noise = 1e-3 * np.random.default_rng(0).standard_normal(y.size)
    return (0.4 * out / np.abs(out).max() + noise).astype(np.float32)


@pytest.fixture(scope="module")
def delayed_pair(tmp_path_factory):
    """A clips table (prepare_clips's columns) of one sentence whose target is the source delayed by DELAY."""
    root = tmp_path_factory.mktemp("clips")
    y_s = _formant_clip()
    y_t = np.r_[np.zeros(DELAY, np.float32), y_s[:-DELAY]]
    time_map = np.minimum(np.arange(y_s.size) + DELAY, y_t.size - 1).astype(np.int64)
    src = audio.write_wav(root / "source_plain" / "u1.wav", y_s, SR)
    tgt = audio.write_wav(root / "target" / "u1.wav", y_t, SR)
    np.save(root / "u1.npy", time_map)
    clips = pd.DataFrame([
        dict(speaker="a", utterance="u1", role="source", split="train", path=str(src), plain_path=str(src),
             original_path=str(src), time_map=""),
        dict(speaker="b", utterance="u1", role="target", split="train", path=str(tgt), plain_path=str(tgt),
             original_path=str(tgt), time_map=str(root / "u1.npy"))])
    return clips, y_s, y_t


def test_frame_time_map_of_a_known_delay():
    time_map = np.minimum(np.arange(24000) + DELAY, 23999)
    fmap = gan.frame_time_map(time_map, 40, 601, 601)
    np.testing.assert_array_equal(fmap[:580], np.arange(580) + 10)
    assert fmap[-1] == 600 and np.all(np.diff(fmap) >= 0)
    with pytest.raises(gan.GanDataError, match="time_map"):
        gan.frame_time_map(time_map.astype(float), 40, 601, 601)


@pytest.mark.parametrize("n_frames, height, width", [(601, 64, 640), (640, 64, 640), (641, 64, 704),
                                                     (100, 32, 128), (50, 64, 64)])
def test_padded_width_is_what_the_unet_takes(n_frames, height, width):
    assert gan.padded_width(n_frames, height) == width
    assert gan.unet_depth((height, width)) >= 1          # the default-depth U-Net accepts it


def test_warped_target_lines_up_with_the_source_and_round_trips(tmp_path, delayed_pair):
    clips, y_s, y_t = delayed_pair
    manifest = gan.write_envelope_images(clips, tmp_path, progress=False)
    assert list(manifest["transform"]) == [vocoder.ENVELOPE_IMAGE] * 2 and list(manifest["split"]) == ["train"] * 2
    assert (manifest["n_time"] == 601).all() and (manifest["width"] == 640).all() and (manifest["n_freq"] == 64).all()
    loaded = datasets.load_manifest(tmp_path / "manifest.csv")
    assert list(loaded["path"]) == list(manifest["path"])
    (img_s, meta_s), (img_t, meta_t) = (images.load_image(p) for p in manifest["path"])
    assert img_s.shape == img_t.shape == (64, 640) and meta_t["time_map"] == "u1.npy"
    assert meta_s["n_time"] == 601 and meta_s["transform"] == vocoder.ENVELOPE_IMAGE
    for img in (img_s, img_t):                           # the padding repeats the last frame
        np.testing.assert_array_equal(img[:, 601:], np.repeat(img[:, 600:601], 39, axis=1))
    inner = slice(5, 580)                                # away from the clip's edges
    aligned = np.abs(img_s[:, inner].astype(int) - img_t[:, inner]).mean()
    unwarped, _ = gan.envelope_image(y_t, SR, n_time=601)
    assert aligned < 0.5 and np.abs(img_s[:, inner].astype(int) - unwarped[:, inner]).mean() > 2.0
    # the image is vocoder.envelope_to_image of the clip (its mel bands within half a level), and the metadata
    # stored with it is all vocoder.image_to_envelope needs once the padding is cropped to n_time
    feats = vocoder.analyse(audio.load(clips["plain_path"].iloc[0])[0], SR)       # the clip as written (16 bits)
    expected, recipe = vocoder.envelope_to_image(feats.envelope, SR)
    np.testing.assert_array_equal(img_s[:, :meta_s["n_time"]], expected)
    np.testing.assert_array_equal(vocoder.image_to_envelope(img_s[:, :meta_s["n_time"]], meta_s, SR, feats.fft_size),
                                  vocoder.image_to_envelope(expected, recipe, SR, feats.fft_size))
    bands = vocoder.envelope_to_bands(feats.envelope, SR)
    read = gan.image_bands(img_s[None], scale=meta_s["scale"], db_floor=meta_s["db_floor"], n_time=meta_s["n_time"])[0]
    inside = (bands > meta_s["db_floor"]) & (bands < meta_s["db_ceiling"])
    assert inside.mean() > 0.99
    np.testing.assert_allclose(read[inside], bands[inside], atol=meta_s["scale"] / 510 + 1e-9)


def test_envelope_images_rerun_bit_identical(tmp_path, delayed_pair):
    clips = delayed_pair[0]
    first = gan.write_envelope_images(clips, tmp_path / "a", progress=False)
    second = gan.write_envelope_images(clips, tmp_path / "b", progress=False)
    for p, q in zip(first["path"], second["path"]):
        assert open(p, "rb").read() == open(q, "rb").read()


def test_image_bands_and_bands_image_invert_each_other():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (2, 16, 40), dtype=np.uint8)
    bands = gan.image_bands(imgs, scale=100.0, db_floor=-90.0, n_time=33)
    assert bands.shape == (2, 33, 16)
    assert bands[0, 0, 0] == pytest.approx(int(imgs[0, -1, 0]) * 100 / 255 - 90)   # row 0 is the highest band
    back = gan.bands_image(bands, scale=100.0, db_floor=-90.0, width=40)
    np.testing.assert_array_equal(back[:, :, :33], imgs[:, :, :33])
    np.testing.assert_array_equal(back[:, :, 33:], np.repeat(imgs[:, :, 32:33], 7, axis=2))
    np.testing.assert_array_equal(gan.image_bands(imgs[..., None], scale=100.0, db_floor=-90.0),
                                  gan.image_bands(imgs, scale=100.0, db_floor=-90.0))
