"""Tests of voxlib.gan.pairs: folder and manifest pairs, one fixed scale, the split, paired images of clips."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gan_toys import DATA, manifest_rows, shared_corpus, toy_pairs, write_image

from voxlib import audio, datasets, gan, images, metrics, vocoder


def test_folder_pairs_and_bad_inputs(tmp_path):
    src, tgt = toy_pairs(3, size=32, channels=3)
    for i in range(3):
        write_image(tmp_path / "a", f"f{i}.png", src[i])
        write_image(tmp_path / "b", f"f{i}.jpg" if i == 0 else f"f{i}.png", tgt[i])
    pairs = gan.load_folder_pairs(tmp_path / "a", tmp_path / "b", channels=3)
    assert pairs.names == ["f0", "f1", "f2"] and pairs.source.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(pairs.source, src)
    assert gan.load_folder_pairs(tmp_path / "a", tmp_path / "b", channels=1).source.shape == (3, 32, 32, 1)
    # a source image with no partner
    write_image(tmp_path / "a", "lonely.png", src[0])
    with pytest.raises(gan.GanDataError, match="lonely.png"):
        gan.load_folder_pairs(tmp_path / "a", tmp_path / "b")
    with pytest.warns(UserWarning, match="lonely"):
        assert len(gan.load_folder_pairs(tmp_path / "a", tmp_path / "b", on_missing="skip")) == 3
    (tmp_path / "a" / "lonely.png").unlink()
    # images of different sizes
    write_image(tmp_path / "a", "f1.png", np.zeros((32, 48, 3), np.uint8))
    with pytest.raises(gan.GanDataError, match="differ in size"):
        gan.load_folder_pairs(tmp_path / "a", tmp_path / "b")
    resized = gan.load_folder_pairs(tmp_path / "a", tmp_path / "b", image_size=(32, 64))
    assert resized.source.shape == (3, 32, 64, 3)
    # an empty folder
    (tmp_path / "empty").mkdir()
    with pytest.raises(gan.GanDataError, match="holds no images"):
        gan.load_folder_pairs(tmp_path / "empty", tmp_path / "b")


def test_split_pairs_seeded_and_disjoint():
    src, tgt = toy_pairs(20, size=32)
    pairs = gan.PairedImages([f"u{i:02d}" for i in range(20)], src, tgt,
                             pd.DataFrame({"utterance": [f"u{i:02d}" for i in range(20)]}))
    train, test = gan.split_pairs(pairs, test_size=0.25, seed=1)
    assert len(test) == 5 and len(train) == 15 and not set(train.names) & set(test.names)
    assert gan.split_pairs(pairs, test_size=0.25, seed=1)[1].names == test.names
    assert gan.split_pairs(pairs, test_size=0.25, seed=2)[1].names != test.names
    assert set(test.meta["split"]) == {"test"}
    assert len(gan.split_pairs(pairs, test_size=0)[0]) == 20
    both = gan.join_pairs(train, test)                                  # e.g. to write every generated image
    assert both.names == train.names + test.names and list(both.meta["split"]) == ["train"] * 15 + ["test"] * 5
    np.testing.assert_array_equal(both.source[15:], test.source)
    assert gan.join_pairs(train, gan.split_pairs(pairs, test_size=0)[1]).names == train.names
    with pytest.raises(ValueError, match="test_size"):
        gan.split_pairs(pairs, test_size=1.0)


@pytest.mark.parametrize("scales, what", [
    ({"allison": [10.0, 11.0, 12.0], "july": [12.0, 11.0, 10.0]}, "pairs differ from each other"),
    ({"allison": [10.0] * 3, "july": [14.0] * 3}, "source and target images of a pair differ"),
])
def test_pairs_on_different_scales_are_refused(tmp_path, scales, what):
    """Per-image-scaled images (notebook 01's default) cannot be paired: no pixel means one magnitude."""
    src, tgt = toy_pairs(3, size=32)
    manifest = pd.DataFrame(manifest_rows(tmp_path, src, tgt, scales))
    with pytest.raises(gan.GanDataError, match=what) as err:
        gan.load_manifest_pairs(manifest, "allison", "july")
    assert "image_scale" in str(err.value) and "gan.SINE_SCALE" in str(err.value)
    # pairs assembled by hand get the same check when their generated images are written
    meta = pd.DataFrame({"utterance": ["a", "b", "c"], "transform": "amor", "scale": scales["allison"],
                         "target_scale": scales["july"][::-1] if what.startswith("pairs") else scales["july"]})
    by_hand = gan.PairedImages(["a", "b", "c"], src, tgt, meta)
    g = gan.build_generator(32, in_channels=1, out_channels=1)
    with pytest.raises(gan.GanDataError, match="gan.SINE_SCALE"):
        gan.write_generated(g, by_hand, tmp_path / "gen", source="allison", target="july")
    assert not (tmp_path / "gen").exists()                             # refused before writing anything


def test_folder_pairs_gray_from_colour_uses_the_one_conversion(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    for i in range(2):
        write_image(tmp_path / "a", f"f{i}.png", rgb[i])
        write_image(tmp_path / "b", f"f{i}.png", rgb[i])
    pairs = gan.load_folder_pairs(tmp_path / "a", tmp_path / "b", channels=1)
    expected = np.clip(np.rint(images.to_gray(rgb[1])), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(pairs.source[1, ..., 0], expected)
    assert "scale" not in pairs.meta.columns                            # plain images: pixels only
    g = gan.build_generator(32, in_channels=1, out_channels=1)
    _, manifest = gan.write_generated(g, pairs, tmp_path / "gen", source="a", target="b")
    assert manifest["scale"].isna().all() and manifest["transform"].isna().all()


@pytest.mark.parametrize("scale", [-1.0, 0, "sine", float("nan"), True])
def test_write_paired_images_rejects_bad_scale_before_writing(tmp_path, scale):
    corpus = datasets.discover(DATA)
    with pytest.raises(ValueError, match="scale"):
        gan.write_paired_images(corpus, "es-mx_allison", "es-co_july", tmp_path / "out", scale=scale, max_pairs=2)
    assert not (tmp_path / "out").exists()


def test_paired_images_are_notebook_01s_recipe(tmp_path):
    """Each pair image is images.audio_to_image of the VAD-aligned clip on the fixed scale, pixel for pixel."""
    corpus = datasets.discover(DATA)
    size = (64, 128)
    pairs = gan.write_paired_images(corpus, "es-mx_allison", "es-co_july", tmp_path / "img", image_size=size,
                                    max_pairs=2, seed=1, clip_settings=gan.THESIS_CLIPS)
    assert len(pairs) == 2 and np.allclose(pairs.meta["scale"], gan.SINE_SCALE)
    for side in ("source", "target"):
        for k, path in enumerate(pairs.meta[f"{side}_original_path"]):
            y, sr = audio.load(path, sr=8000)
            clip = audio.vad_align(y, sr, duration=3.0, lead=0.5)
            expected, info = images.audio_to_image(clip, sr, "amor", image_size=size, scale=gan.SINE_SCALE)
            np.testing.assert_array_equal(getattr(pairs, side)[k, ..., 0], expected)
            if side == "source":                                         # the grid notebook 05 inverts onto
                assert (info["n_freq"], info["n_time"]) == tuple(pairs.meta[["n_freq", "n_time"]].iloc[k])
    g = gan.build_generator(size, in_channels=1, out_channels=1)
    _, manifest = gan.write_generated(g, pairs, tmp_path / "gen", source="es-mx_allison", target="es-co_july")
    assert set(manifest["transform"]) == {"amor"} and np.allclose(manifest["scale"], gan.SINE_SCALE)
    assert (manifest["align_duration"] == 3.0).all() and (manifest["align_lead"] == 0.5).all()


def test_pairs_follow_the_runs_split(tmp_path):
    """With a split column the held-out pairs are the split's test sentences, not a new draw."""
    src, tgt = toy_pairs(3, size=32)
    rows = pd.DataFrame(manifest_rows(tmp_path, src, tgt))
    rows["split"] = np.where(rows["utterance"] == "b", "test", "train")
    pairs = gan.load_manifest_pairs(rows, "allison", "july")
    for seed in (0, 1, 2):
        train, test = gan.split_pairs(pairs, test_size=0.5, seed=seed)
        assert test.names == ["b"] and train.names == ["a", "c"]
    assert set(test.meta["split"]) == {"test"}
    thesis_train, none = gan.split_pairs(pairs, test_size=0, seed=0)   # the thesis trains on all
    assert len(none) == 0 and len(thesis_train) == 3
    rows.loc[(rows["utterance"] == "a") & (rows["speaker"] == "july"), "split"] = "test"
    with pytest.raises(gan.GanDataError, match="'a'"):
        gan.load_manifest_pairs(rows, "allison", "july")


def test_dtw_pairs_line_up_better_than_vad_pairs(tmp_path):
    rows = shared_corpus(n_train=6, n_test=0)
    pairs = gan.write_paired_images(rows, "es-mx_allison", "es-co_july", tmp_path / "img", image_size=(32, 64),
                                    test_size=0, clip_settings=gan.ClipSettings(pitch_mode="keep"))
    vad = gan.unwarped_targets(pairs)
    assert vad.shape == pairs.target.shape
    assert metrics.image_l1(pairs.source, pairs.target) < metrics.image_l1(pairs.source, vad)
    assert set(pairs.meta["pair_alignment"]) == {"dtw"} and pairs.meta["clip_aligned"].all()
    l1 = gan.alignment_l1(pairs, vad)        # notebook 04's table: the same numbers, training rows only
    assert l1 == {"VAD only (the thesis)": pytest.approx(metrics.image_l1(pairs.source, vad)),
                  "dtw (this run)": pytest.approx(metrics.image_l1(pairs.source, pairs.target))}


@pytest.mark.parametrize("representation", ["wavelet", "Envelope", None, 1])
def test_representation_is_checked_by_name_before_writing(tmp_path, representation):
    with pytest.raises(ValueError, match="representation"):
        gan.write_paired_images(shared_corpus(2, 0), "es-mx_allison", "es-co_july", tmp_path / "out",
                                representation=representation)
    assert not (tmp_path / "out").exists()


def test_envelope_pairs_of_the_corpus_line_up_and_rerun_identically(tmp_path):
    """Envelope pairs: 64 bands x 640 columns (601 frames padded), the source's own-pitch clip, the target
    warped by the DTW map; the generated manifest carries world_envelope rows with the time map; a rerun
    writes the same bytes."""
    rows = shared_corpus(n_train=2, n_test=1)
    kw = dict(image_size=(64, 128), representation="envelope", test_size=0.25)
    pairs = gan.write_paired_images(rows, "es-mx_allison", "es-co_july", tmp_path / "a", **kw)
    assert pairs.source.shape == pairs.target.shape == (3, 64, 640, 1)
    meta = pairs.meta
    assert set(meta["transform"]) == {vocoder.ENVELOPE_IMAGE} and (meta["n_time"] == 601).all()
    assert np.allclose(meta["scale"], vocoder.DB_CEILING - vocoder.DB_FLOOR) and (meta["db_floor"] == -90.0).all()
    assert all("/clips/source/" in p for p in meta["source_audio_path"])          # the PSOLA clip, for notebook 05
    assert all("/clips/source_plain/" in p for p in meta["source_plain_path"])    # the clip the image shows
    for k, path in enumerate(meta["source_plain_path"]):
        expected, _ = gan.envelope_image(audio.load(path)[0], 8000)
        np.testing.assert_array_equal(pairs.source[k, ..., 0], expected)
    vad = gan.unwarped_targets(pairs)
    assert vad.shape == pairs.target.shape
    train = (meta["split"] == "train").to_numpy()
    assert metrics.image_l1(pairs.source[train], pairs.target[train]) < metrics.image_l1(pairs.source[train],
                                                                                         vad[train])
    g = gan.build_generator((64, 640), in_channels=1, out_channels=1, residual=True)
    _, manifest = gan.write_generated(g, pairs, tmp_path / "gen", source="es-mx_allison", target="es-co_july")
    loaded = datasets.load_manifest(tmp_path / "gen" / "manifest.csv")
    assert set(loaded["transform"]) == {vocoder.ENVELOPE_IMAGE}
    assert [np.load(p).shape for p in loaded["time_map_path"]] == [(24000,)] * 3
    img, info = images.load_image(loaded["path"].iloc[0])
    assert img.shape == (64, 640) and info["n_time"] == 601 and info["db_floor"] == -90.0
    assert vocoder.image_to_envelope(img[:, :601], info, 8000, 512).shape == (601, 257)
    before = {p: p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    again = gan.write_paired_images(rows, "es-mx_allison", "es-co_july", tmp_path / "a", **kw)   # a rerun
    np.testing.assert_array_equal(again.target, pairs.target)
    after = {p: p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    assert len(before) > 20 and sorted(after) == sorted(before)
    assert [p for p in before if after[p] != before[p]] == []
