"""voxlib.images: MATLAB's bicubic imresize, the thesis's image recipe with its
scale stored, the exact inverse, files with metadata, and bad input."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from signals import voiced
from voxlib import audio, datasets, images, transforms


@pytest.fixture(scope="module")
def mags():
    y = voiced(8000, 1.5, f0=150)
    return {n: transforms.compute(y, 8000, n).magnitude for n in ("hamming", "morse")}


# --- resize -------------------------------------------------------------------------

def test_resize_keeps_constants_and_identity():
    a = np.random.default_rng(0).random((37, 300)).astype(np.float32)
    np.testing.assert_array_equal(images.resize(a, a.shape), a)
    np.testing.assert_allclose(images.resize(np.full((50, 7000), 3.0), (512, 64)), 3.0, rtol=1e-6)


def test_resize_is_keys_bicubic_with_antialiasing_like_pil_inside():
    # Pillow's BICUBIC on float images uses the same Keys kernel (a = -0.5), stretched
    # when shrinking; it only differs at the borders (MATLAB mirrors, Pillow renormalises).
    a = np.random.default_rng(1).random((60, 3000)).astype(np.float32)
    ours = images.resize(a, (256, 128))
    pil = np.asarray(Image.fromarray(a, mode="F").resize((128, 256), Image.BICUBIC))
    np.testing.assert_allclose(ours[8:-8, 8:-8], pil[8:-8, 8:-8], atol=1e-5)


def test_resize_antialiases_when_shrinking():
    stripes = np.tile([1.0, -1.0], (8, 400))  # Nyquist pattern, 800 columns
    assert np.abs(images.resize(stripes, (8, 130))[:, 4:-4]).max() < 1e-3
    assert np.abs(images.resize(stripes, (8, 130), antialias=False)[:, 4:-4]).max() > 0.5


# --- the recipe and its inverse ----------------------------------------------------

@pytest.mark.parametrize("name", ["hamming", "morse"])
@pytest.mark.parametrize("size", [(512, 512), (128, 96), None])
def test_round_trip_within_one_8bit_step_in_the_log_domain(mags, name, size):
    mag = mags[name]
    img, scale = images.to_image(mag, size)
    assert img.dtype == np.uint8 and img.max() == 255
    grid = mag if size is None else np.maximum(images.resize(mag, size), 0)
    back = images.from_image(img, scale)
    err = np.abs(images.log_magnitude(back) - images.log_magnitude(grid))
    assert err.max() <= scale / 255 * (1 + 1e-5)
    # back on the coefficients' own grid, the shape comes back
    assert images.from_image(img, scale, shape=mag.shape).shape == mag.shape


def test_three_channel_images_invert_like_gray(mags):
    img, scale = images.to_image(mags["morse"], (64, 64))
    rgb = np.repeat(img[..., None], 3, axis=-1)
    np.testing.assert_allclose(images.from_image(rgb, scale), images.from_image(img, scale), rtol=1e-5)


def test_fixed_scale_clips_and_is_returned(mags):
    mag = mags["morse"]
    own, own_scale = images.to_image(mag, (64, 64))
    img, scale = images.to_image(mag, (64, 64), scale=own_scale / 2)
    assert scale == own_scale / 2
    assert (img == 255).sum() > (own == 255).sum()
    level = images.log_magnitude(images.resize(mag, (64, 64)))
    np.testing.assert_array_equal(img == 255, np.rint(level * 255 / scale) >= 255)


def test_saturate_reproduces_matlab_imwrite_clipping(mags):
    mag = mags["hamming"]
    img, scale = images.to_image(mag, (64, 64), saturate=True)
    level = images.log_magnitude(images.resize(mag, (64, 64)))
    assert scale == 1.0
    np.testing.assert_array_equal(img, np.rint(255 * np.clip(level, 0, 1)).astype(np.uint8))
    assert (img == 255).mean() > 0.5  # the thesis's defect: most of an STFT turns white


# --- files ---------------------------------------------------------------------------

def test_png_keeps_pixels_and_metadata(tmp_path, mags):
    img, scale = images.to_image(mags["morse"], (40, 50))
    meta = {"scale": scale, "transform": "morse", "sr": 8000}
    p = images.save_image(tmp_path / "a" / "x.png", img, meta)
    back, got = images.load_image(p)
    np.testing.assert_array_equal(back, img)
    assert got["scale"] == scale and got["transform"] == "morse" and got["channels"] == 1
    rgb, meta3 = images.load_image(images.save_image(tmp_path / "y.png", img, meta, channels=3))
    assert rgb.shape == (40, 50, 3) and meta3["channels"] == 3 and (rgb == img[..., None]).all()


def test_jpeg_writes_a_sidecar(tmp_path, mags):
    img, scale = images.to_image(mags["morse"], (64, 64))
    p = images.save_image(tmp_path / "x.jpg", img, {"scale": scale})
    assert json.loads(p.with_suffix(".json").read_text())["scale"] == scale
    back, meta = images.load_image(p)
    assert meta["scale"] == scale and np.abs(back.astype(int) - img).mean() < 3  # lossy, close


def test_files_voxlib_did_not_write_are_never_overwritten(tmp_path, mags):
    img, scale = images.to_image(mags["morse"], (16, 16))
    user = tmp_path / "mine.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(user)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        images.save_image(user, img, {"scale": scale})
    with pytest.raises(ValueError, match="no voxlib metadata"):
        images.load_image(user)
    ours = images.save_image(tmp_path / "ours.png", img, {"scale": scale})
    images.save_image(ours, img, {"scale": 2 * scale})  # voxlib's own image: replaced
    assert images.load_image(ours)[1]["scale"] == 2 * scale
    with pytest.raises(FileExistsError):
        images.save_image(ours, img, {"scale": scale}, overwrite=False)


def test_bad_input_is_named():
    good = np.ones((8, 8), np.float32)
    with pytest.raises(ValueError, match="NaN"):
        images.to_image(np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match="np.abs"):
        images.to_image(good.astype(np.complex64))
    with pytest.raises(ValueError, match="scale"):
        images.to_image(good, scale=-1.0)
    with pytest.raises(ValueError, match="saturate"):
        images.to_image(good, scale=3.0, saturate=True)
    with pytest.raises(ValueError, match="scale"):
        images.from_image(np.zeros((8, 8), np.uint8), 0.0)
    with pytest.raises(ValueError, match=r"\.png"):
        images.save_image("x.bmp", np.zeros((8, 8), np.uint8), {"scale": 1.0})
    with pytest.raises(ValueError, match="scale"):
        images.save_image("x.png", np.zeros((8, 8), np.uint8), {})


# --- write_images --------------------------------------------------------------

@pytest.fixture()
def tiny_corpus(tmp_path):
    root = tmp_path / "corpus"
    for spk, f0 in (("ana", 210.0), ("beto", 115.0)):
        (root / spk).mkdir(parents=True)
        for i in range(2):
            y = np.concatenate([np.zeros(1600), voiced(8000, 1.2 + 0.2 * i, f0=f0, seed=i), np.zeros(800)])
            sf.write(root / spk / f"u{i}.flac", y.astype(np.float32), 8000)
    return datasets.discover(root)


def test_write_images_manifest_images_and_content_hash_skip(tiny_corpus, tmp_path):
    out = tmp_path / "transforms"
    df = images.write_images(tiny_corpus, out, image_size=(64, 96), progress=False)
    assert list(df.columns) == images.MANIFEST_COLUMNS and len(df) == 4 * 6
    assert set(df["transform"]) == set(transforms.TRANSFORMS) and (df[["height", "width"]].values == [64, 96]).all()
    row = df[(df["speaker"] == "beto") & (df["transform"] == "morse")].iloc[0]
    img, meta = images.load_image(row["path"])
    assert img.shape == (64, 96) and meta["scale"] == pytest.approx(row["scale"]) and meta["transform"] == "morse"
    loaded = datasets.load_manifest(out / "manifest.csv", required=images.MANIFEST_COLUMNS)
    assert loaded["path"].tolist() == df["path"].tolist()
    # same content + same parameters: nothing recomputed
    stamp = {p: (out / p).stat().st_mtime_ns for p in loaded["path"]}
    again = images.write_images(tiny_corpus, out, image_size=(64, 96), progress=False)
    assert {p: (out / p).stat().st_mtime_ns for p in again["path"]} == stamp
    # one file's content changes -> only its six images are redone
    changed = tiny_corpus.iloc[0]["path"]
    y, sr = sf.read(changed)
    sf.write(changed, 0.5 * y, sr)
    third = images.write_images(tiny_corpus, out, image_size=(64, 96), progress=False)
    redone = [p for p in third["path"] if (out / p).stat().st_mtime_ns != stamp[p]]
    assert len(redone) == 6 and all("u0" in p and "/ana/" in p for p in redone)
    # a parameter change (fixed scale) recomputes and stores the scale
    fixed = images.write_images(tiny_corpus, out, transforms=["amor"], image_size=(64, 96),
                                scale=40.0, channels=3, progress=False)
    assert len(fixed) == 4 and (fixed["scale"] == 40.0).all()
    assert images.load_image(fixed["path"][0])[0].shape == (64, 96, 3)


def test_write_images_aligned_and_refusing_foreign_files(tiny_corpus, tmp_path):
    out = tmp_path / "t"
    df = images.write_images(tiny_corpus, out, transforms=["amor", "kaiser"], image_size=None,
                             aligned=True, align_duration=2.0, progress=False)
    amor = df[df["transform"] == "amor"]
    assert (amor["n_time"] == 16000).all() and (amor["height"] == amor["n_freq"]).all()
    foreign = out / "morse" / "ana" / "u0.png"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"user's own file")
    with pytest.raises(FileExistsError, match="not written by voxlib"):
        images.write_images(tiny_corpus, out, transforms=["morse"], progress=False)
    assert foreign.read_bytes() == b"user's own file"
    with pytest.raises(ValueError, match="hamming"):
        images.write_images(tiny_corpus, out, transforms=["hamming", "wigner"], progress=False)


def test_write_images_skips_unusable_recordings_with_a_warning(tiny_corpus, tmp_path):
    silent, short = tiny_corpus.iloc[0]["path"], tiny_corpus.iloc[1]["path"]
    sf.write(silent, np.zeros(8000, dtype=np.float32), 8000)
    sf.write(short, 0.1 * np.ones(images.MIN_SAMPLES - 1, dtype=np.float32), 8000)
    missing = str(tmp_path / "gone" / "x.flac")
    corpus = pd.concat([tiny_corpus, pd.DataFrame([{"path": missing, "speaker": "ana", "utterance": "x"}])],
                       ignore_index=True)
    with pytest.warns(UserWarning, match="skipped") as caught:
        df = images.write_images(corpus, tmp_path / "t", transforms=["hamming"], progress=False)
    assert len(df) == 2 and sorted(df.attrs["skipped"]) == sorted([silent, short, missing])
    messages = " ".join(str(w.message) for w in caught)
    assert "silent" in messages and f"fewer than the {images.MIN_SAMPLES}" in messages and "gone" in messages


@pytest.mark.parametrize("error", [ValueError("a bug, not a recording's fault"), OSError(28, "No space left")])
def test_write_images_stops_on_an_error_that_is_not_a_recordings(tiny_corpus, tmp_path, monkeypatch, error):
    """Only per-file audio errors are skipped; a bug or a full disk must not become warnings."""
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(images, "save_image", broken)
    with pytest.raises(type(error), match=str(error.args[-1])):
        images.write_images(tiny_corpus, tmp_path / "t", transforms=["hamming"], image_size=(32, 48),
                            progress=False)
    assert not (tmp_path / "t" / "manifest.csv").exists()


@pytest.mark.parametrize("bad, match", [
    (dict(scale=-1), "scale"),
    (dict(scale={"amor": 0.0}), "scale"),
    (dict(scale={"wigner": 3.0}), "wigner"),
    (dict(image_size=(0, 64)), "image_size"),
    (dict(fmt="gif"), "fmt"),
    (dict(channels=2), "channels"),
    (dict(sr=-8000), "sr"),
    (dict(sr=8000.5), "sr"),
    (dict(image_size=(32.5, 48)), "image_size"),
    (dict(image_size="64x64"), "image_size"),
    (dict(transforms=[]), "transforms"),
    (dict(aligned=True, align_duration=1.0, align_lead=2.0), "align_lead"),
    (dict(saturate=True, scale=3.0), "saturate"),
])
def test_write_images_refuses_a_bad_parameter_before_touching_any_file(tiny_corpus, tmp_path, monkeypatch,
                                                                        bad, match):
    def touched(*args, **kwargs):
        raise AssertionError("a recording was read before the parameters were validated")

    monkeypatch.setattr(datasets, "file_hash", touched)
    monkeypatch.setattr(audio, "load", touched)
    out = tmp_path / "t"
    with pytest.raises(ValueError, match=match):
        images.write_images(tiny_corpus, out, **{"transforms": ["amor", "hamming"], "image_size": (32, 48),
                                                 "progress": False, **bad})
    assert not out.exists(), "a bad parameter must not leave a manifest or images behind"


@pytest.mark.parametrize("name", ["amor", "kaiser"])
def test_audio_to_image_is_the_png_write_images_wrote(embedded_root, tmp_path, name):
    """One recipe: the image of a clip is the same whoever asks for it."""
    corpus = datasets.discover(embedded_root)
    corpus = corpus.groupby("speaker").head(1).head(2)
    df = images.write_images(corpus, tmp_path / "t", transforms=[name], image_size=(64, 128), progress=False)
    for row, rec in zip(df.itertuples(), corpus.itertuples()):
        png, meta = images.load_image(row.path)
        y, sr = audio.load(rec.path, sr=8000)
        img, info = images.audio_to_image(y, sr, name, image_size=(64, 128))
        assert np.array_equal(img, png)
        assert info["scale"] == pytest.approx(meta["scale"]) and info["n_time"] == meta["n_time"]


def test_load_image_without_metadata_needs_a_fallback_scale(tmp_path):
    path = tmp_path / "user.png"
    Image.fromarray(np.full((4, 6, 3), 200, dtype=np.uint8)).save(path)
    with pytest.raises(ValueError, match="fallback_scale"):
        images.load_image(path)
    img, meta = images.load_image(path, fallback_scale=15.0)
    assert meta == {"scale": 15.0} and img.shape == (4, 6, 3)
    assert images.to_gray(img) == pytest.approx(np.full((4, 6), 200.0), abs=1e-3)


def test_a_time_map_reindexes_the_columns_before_the_resize(embedded_root, tmp_path):
    """A clip's image under a time map is the image of its re-indexed transform (here: time reversed)."""
    y, sr = audio.load(embedded_root / "es-mx_allison" / "conf-hasjoin.flac", sr=8000)
    y = y[: sr]
    reverse = np.arange(y.size)[::-1].copy()
    img, info = images.audio_to_image(y, sr, "amor", image_size=(16, 32), scale=15.0, time_map=reverse)
    mag, _, _ = transforms.magnitude(y, sr, "amor")
    expected, _ = images.to_image(mag[:, ::-1], (16, 32), scale=15.0)
    assert np.max(np.abs(img.astype(int) - expected.astype(int))) <= 1 and info["n_time"] == y.size
    with pytest.raises(ValueError, match="time_map"):
        images.audio_to_image(y, sr, "amor", image_size=(16, 32), time_map=reverse + 5)
    corpus = pd.DataFrame([{"path": embedded_root / "es-mx_allison" / "conf-hasjoin.flac", "speaker": "a",
                            "utterance": "u", "time_map": ""}])
    np.save(tmp_path / "map.npy", np.zeros(8000 * 3, dtype=np.int64))
    plain = images.write_images(corpus, tmp_path / "plain", transforms=("amor",), image_size=(16, 32), progress=False)
    warped = images.write_images(corpus.assign(time_map=str(tmp_path / "map.npy")), tmp_path / "warped",
                                 transforms=("amor",), image_size=(16, 32), progress=False)
    assert plain["source_hash"].iloc[0] != warped["source_hash"].iloc[0]   # the map is part of the input
    with pytest.raises(ValueError, match="frequency_limits"):
        images.write_images(corpus, tmp_path / "bad", transforms=("amor",), frequency_limits=(300, 100))


@pytest.mark.parametrize("kwargs, words", [
    (dict(fmt="gif"), "fmt must be one of '.*png'.*; got 'gif'"),
    (dict(channels=2), "channels must be one of 1, 3; got 2"),
    (dict(sr=8000.5), r"sr must be an int in \[1, inf\); got 8000.5"),
    (dict(image_size=(0, 64)), r"image_size must be \(height, width\)"),
    (dict(aligned=True, align_duration=-1.0), "align_duration must be a number"),
    (dict(aligned=True, align_duration=3.0, align_lead=3.0), r"align_lead must be in \[0, align_duration"),
    (dict(transforms=[]), "at least one"),
])
def test_write_images_refuses_bad_settings_before_reading_anything(tmp_path, kwargs, words):
    corpus = pd.DataFrame({"path": [str(tmp_path / "missing.wav")], "speaker": ["a"], "utterance": ["u"]})
    with pytest.raises(ValueError, match=words):
        images.write_images(corpus, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_quantisation_check_and_counts(tmp_path):
    y = np.sin(2 * np.pi * 440 * np.arange(4000) / 8000).astype(np.float32)
    tfs = {n: transforms.compute(y, 8000, n) for n in ("hamming", "amor")}
    check = images.quantisation_check(tfs, (64, 64))
    assert list(check.index) == ["hamming", "amor"]
    # reading the image back errs by at most about one 8-bit step of the log magnitude
    assert (check["max log error"].astype(float) <= 1.01 * check["one 8-bit step"].astype(float)).all()
    manifest = pd.DataFrame({"speaker": ["a", "a", "b"], "transform": ["amor", "hamming", "amor"]})
    counts = images.write_counts(manifest, tmp_path, ["hamming", "amor"])
    assert list(counts.columns) == ["hamming", "amor"] and counts.loc["a"].tolist() == [1, 1]
    assert pd.read_csv(tmp_path / images.COUNTS_FILE, index_col=0).loc["b"].tolist() == [0, 1]
