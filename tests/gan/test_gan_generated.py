"""Tests of voxlib.gan.generated: generated images and their manifest, the ridge baseline written alike."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gan_toys import manifest_rows, toy_pairs

from voxlib import datasets, gan, images


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
