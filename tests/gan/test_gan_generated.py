"""Tests of voxlib.gan.generated: generated images and their manifest, the ridge and GMM baselines written alike."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gan_toys import manifest_rows, toy_pairs

from voxlib import datasets, gan, images, metrics, vocoder


def test_manifest_pairs_and_generated_outputs(tmp_path):
    """Pairs by utterance id from an images manifest; generated PNGs keep the scale and the wavelet."""
    src, tgt = toy_pairs(3, size=32)
    rows = manifest_rows(tmp_path, src, tgt)
    rows.append(dict(rows[0], utterance="only_allison"))
    with pytest.warns(UserWarning, match="no partner"):
        pairs = gan.load_manifest_pairs(pd.DataFrame(rows), "allison", "july", align_duration=3.0, align_lead=0.5)
    assert pairs.names == ["a", "b", "c"]
    np.testing.assert_array_equal(pairs.target, tgt)                      # matched by id, not by order
    g = gan.build_generator(32, in_channels=1, out_channels=1)
    generated, manifest = gan.write_generated(g, pairs, tmp_path / "gen", source="allison", target="july")
    loaded = datasets.load_manifest(tmp_path / "gen" / "manifest.csv")
    assert list(loaded.columns) == gan.GENERATED_COLUMNS and len(loaded) == 3
    assert set(loaded["transform"]) == {"amor"} and set(loaded["scale"]) == {12.5}
    img, meta = images.load_image(loaded["path"].iloc[1])
    np.testing.assert_array_equal(img, generated[1, ..., 0])
    assert meta["scale"] == 12.5 and meta["n_time"] == 24000 and meta["transform"] == "amor"


def test_ridge_baseline_is_written_like_the_generators_output(tmp_path):
    src, tgt = toy_pairs(3, size=16)
    rows = pd.DataFrame(manifest_rows(tmp_path, src, tgt))
    pairs = gan.load_manifest_pairs(rows, "allison", "july")
    train, test = gan.split_pairs(pairs, test_size=0.34, seed=0)
    model, mapped, manifest = gan.ridge_baseline(train, gan.join_pairs(train, test), tmp_path / "ridge",
                                                 source="allison", target="july", context=1)
    assert model.alpha_ in gan.RIDGE_ALPHAS
    assert list(manifest.columns) == gan.GENERATED_COLUMNS and set(manifest["generated_by"]) == {"ridge"}
    for path, img in zip(manifest["path"], mapped):
        np.testing.assert_array_equal(images.load_image(path)[0], img[..., 0] if img.ndim == 3 else img)


def test_rgb_mapped_images_turn_gray_by_the_one_conversion(tmp_path):
    """3-channel outputs become gray with images.to_gray's luminance weights, as every other RGB image."""
    src, tgt = toy_pairs(3, size=16)
    pairs = gan.load_manifest_pairs(pd.DataFrame(manifest_rows(tmp_path, src, tgt)), "allison", "july")
    rgb = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    manifest = gan.write_mapped(rgb, pairs, tmp_path / "rgb", source="allison", target="july", generated_by="test")
    for path, img in zip(manifest["path"], rgb):
        expected = np.clip(np.rint(images.to_gray(img)), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(images.load_image(path)[0], expected)


def test_write_image_scores_writes_the_table_it_returns(tmp_path):
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)
    candidates = {"copy": target.copy(), "noise": rng.integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)}
    scores = gan.write_image_scores(target, candidates, tmp_path)
    on_disk = pd.read_csv(tmp_path / gan.IMAGE_METRICS_FILE)
    assert len(on_disk) == len(scores) == 2
    pd.testing.assert_frame_equal(on_disk, scores.reset_index(drop=True), check_dtype=False)


def _envelope_pairs(n=10, n_bands=32, n_time=120, width=128, seed=0):
    """Synthetic envelope pairs: two formant bumps drifting in time over a tilt (source); the target has them
    3 bands higher and 5 dB louder; the first 4 frames are the VAD padding (pixel 0) in both."""
    rng = np.random.default_rng(seed)
    b, t = np.arange(n_bands)[None, :], np.arange(n_time)[:, None]
    src, tgt = [], []
    for _ in range(n):
        c1 = 6 + 3 * np.sin(2 * np.pi * t / rng.uniform(40, 90) + rng.uniform(0, 6))
        c2 = 18 + 4 * np.sin(2 * np.pi * t / rng.uniform(30, 70) + rng.uniform(0, 6))
        db = -30 - 0.8 * b + 25 * np.exp(-0.5 * ((b - c1) / 2.0) ** 2) + 18 * np.exp(-0.5 * ((b - c2) / 2.5) ** 2)
        db = db + rng.normal(0, 0.5, db.shape)
        moved = np.concatenate([np.repeat(db[:, :1], 3, axis=1), db[:, :-3]], axis=1) + 5.0
        for out, bands in ((src, db), (tgt, moved)):
            bands = bands.copy()
            bands[:4] = -200.0
            out.append(gan.bands_image(bands[None], scale=100.0, db_floor=-90.0, width=width)[0])
    names = [f"u{i}" for i in range(n)]
    meta = pd.DataFrame({"utterance": names, "transform": vocoder.ENVELOPE_IMAGE, "scale": 100.0,
                         "target_scale": 100.0, "sr": 8000, "n_freq": n_bands, "n_time": n_time,
                         "db_floor": -90.0, "db_ceiling": 10.0, "fmin": 60.0, "fmax": 4000.0, "n_bands": n_bands,
                         "fft_size": 512, "frame_period": 5.0, "split": ["train"] * (n - 2) + ["test"] * 2})
    return gan.PairedImages(names, np.stack(src)[..., None], np.stack(tgt)[..., None], meta)


def test_gmm_baseline_beats_copying_and_writes_its_manifest(tmp_path):
    pairs = _envelope_pairs()
    train, test = gan.split_pairs(pairs)
    everything = gan.join_pairs(train, test)
    model, mapped, manifest, choices = gan.gmm_baseline(train, everything, tmp_path / "gmm", source="a",
                                                        target="b", n_components=None, seed=0)
    assert mapped.shape == everything.source.shape and mapped.dtype == np.uint8
    held = slice(len(train), None)
    assert metrics.image_l1(mapped[held], test.target) < 0.5 * metrics.image_l1(test.source, test.target)
    np.testing.assert_array_equal(mapped[:, :, :4], 0)                     # the silent padding is copied
    assert list(manifest.columns) == gan.GENERATED_COLUMNS and set(manifest["generated_by"]) == {"gmm"}
    assert set(manifest["transform"]) == {vocoder.ENVELOPE_IMAGE}
    img, meta = images.load_image(manifest["path"].iloc[-1])
    np.testing.assert_array_equal(img, mapped[-1, ..., 0])
    assert meta["db_floor"] == -90.0 and meta["n_time"] == 120 and meta["gmm_components"] == model.n_components
    # the choice table: copying, then every setting; the chosen one has the smallest validation error
    assert choices["features"].iloc[0] == "copy source" and choices["chosen"].sum() == 1
    for feat, rows in choices.iloc[1:].groupby("features"):              # sizes in order until one stops helping
        errors = rows.groupby("n_components")["validation_lsd_db"].min()
        assert list(errors.index) == list(gan.GMM_COMPONENTS[:len(errors)]) and set(rows["global_variance"]) == {
            False, True}
        assert len(errors) == len(gan.GMM_COMPONENTS) or errors.iloc[-1] >= errors.iloc[-2]
        assert np.all(np.diff(errors.to_numpy()[:-1]) < 0)
    assert set(choices["features"].iloc[1:]) == set(gan.GMM_FEATURES)
    best = choices[choices["chosen"]].iloc[0]
    assert best["validation_lsd_db"] == choices["validation_lsd_db"].iloc[1:].min()
    assert best["validation_lsd_db"] < choices["validation_lsd_db"].iloc[0]
    assert (model.n_components, model.global_variance) == (best["n_components"], best["global_variance"])
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "gmm" / gan.GMM_CHOICES_FILE), choices,
                                  check_dtype=False)
    # a rerun writes the same files
    gan.gmm_baseline(train, everything, tmp_path / "again", source="a", target="b", seed=0)
    for name in ["manifest.csv", gan.GMM_CHOICES_FILE] + [f"{u}.png" for u in everything.names]:
        assert (tmp_path / "gmm" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_gmm_baseline_refuses_scalograms_and_bad_settings(tmp_path):
    src, tgt = toy_pairs(3, size=16)
    scalograms = gan.load_manifest_pairs(pd.DataFrame(manifest_rows(tmp_path, src, tgt)), "allison", "july")
    with pytest.raises(gan.GanDataError, match="representation='envelope'"):
        gan.gmm_baseline(scalograms, scalograms, tmp_path / "gmm", source="allison", target="july")
    pairs = _envelope_pairs(n=4)
    for kw, name in (({"features": "mfcc"}, "features"), ({"n_components": 0}, "n_components"),
                     ({"global_variance": "yes"}, "global_variance"), ({"validation_size": 1.0}, "validation_size")):
        with pytest.raises(ValueError, match=name):
            gan.gmm_baseline(pairs, pairs, tmp_path / "gmm", source="a", target="b", **kw)
    with pytest.raises(gan.GanDataError, match="held-out"):                # never fitted on held-out sentences
        gan.gmm_baseline(pairs, pairs, tmp_path / "gmm", source="a", target="b")
    assert not (tmp_path / "gmm").exists()
