"""Tests of voxlib.gan: pix2pix networks, losses, training, resume and paired data."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from voxlib import audio, datasets, devices, gan, images, metrics, plots

DATA = Path(__file__).resolve().parents[1] / "data" / "embedded"


def toy_pairs(n, size=32, channels=1, seed=0):
    """Blocky random images (source) and their negatives (target): a learnable mapping."""
    rng = np.random.default_rng(seed)
    h, w = (size, size) if np.isscalar(size) else size
    x = rng.random((n, h // 4, w // 4, channels))
    src = (np.kron(x, np.ones((1, 4, 4, 1))) * 255).round().astype(np.uint8)
    return src, 255 - src


# ------------------------------------------------------------------ networks

@pytest.mark.parametrize("size, depth", [(256, 8), (128, 7), (64, 6), (32, 5), ((64, 256), 6), ((32, 128), 5)])
def test_unet_depth_follows_smaller_side(size, depth):
    assert gan.unet_depth(size) == depth


@pytest.mark.parametrize("size", [(48, 64), (64, 100), 16])
def test_unet_depth_rejects_sizes(size):
    with pytest.raises(ValueError, match="image_size"):
        gan.unet_depth(size)


@pytest.mark.parametrize("size, channels", [(32, 1), (64, 3), ((32, 64), 1), ((64, 128), 3)])
def test_generator_shape_and_range(size, channels):
    g = gan.build_generator(size, in_channels=channels, out_channels=channels, seed=1)
    h, w = (size, size) if np.isscalar(size) else size
    x = np.random.default_rng(0).uniform(-1, 1, (2, h, w, channels)).astype(np.float32)
    for training in (False, True):
        y = np.asarray(g(x * 50, training=training))     # large inputs push tanh to its limits
        assert y.shape == x.shape
        assert np.all(np.abs(y) <= 1.0) and y.std() > 0


@pytest.mark.slow
@pytest.mark.parametrize("size, params", [(256, 54_425_859), (128, 41_838_851)])
def test_generator_thesis_sizes(size, params):
    """At 256 the network is the thesis's (54.4 M parameters, as TensorFlow's pix2pix)."""
    g = gan.build_generator(size)
    assert g.count_params() == params
    y = np.asarray(g(np.zeros((1, size, size, 3), np.float32)))
    assert y.shape == (1, size, size, 3) and np.all(np.abs(y) <= 1)
    assert g.layers[-1].activation.__name__ == "tanh"
    n_dropout = sum("dropout" in layer.name for layer in g.layers)
    assert n_dropout == 3


@pytest.mark.parametrize("size, patches", [(32, (2, 2)), (64, (6, 6)), ((64, 256), (6, 30)), (256, (30, 30))])
def test_discriminator_patch_shape(size, patches):
    d = gan.build_discriminator(size, in_channels=1, out_channels=3)
    assert d.output_shape == (None, *patches, 1)


def _window_by_hand(n_down=3, n_stride1=2, kernel=4):
    """Receptive field by the backward recursion r <- (r - 1) s + k from one logit to the input."""
    r = 1
    for s in [1] * n_stride1 + [2] * n_down:
        r = (r - 1) * s + kernel
    return r


def test_receptive_field_by_hand():
    assert _window_by_hand() == 70                                  # pix2pix's 70 x 70 PatchGAN
    field = gan.receptive_field(256)
    assert field["size"] == _window_by_hand() and field["stride"] == 2 ** 3
    assert field["grid"] == (30, 30)
    assert field["rows_seen"] == (47, 70) == field["cols_seen"]      # border logits lose 23 pixels to padding
    small = gan.receptive_field((64, 128))
    assert small["size"] == 70 and small["grid"] == (6, 14)
    assert small["rows_seen"][1] < 64                              # no logit sees the whole 64-pixel height
    with pytest.raises(ValueError, match="image_size"):
        gan.receptive_field((60, 128))


def _support(grad):
    """First and last input row and column with a non-zero gradient."""
    rows, cols = np.flatnonzero(np.abs(grad).sum(axis=1) > 0), np.flatnonzero(np.abs(grad).sum(axis=0) > 0)
    return (rows[0], rows[-1] + 1), (cols[0], cols[-1] + 1)


@pytest.mark.parametrize("size", [(64, 128), (128, 128)])
def test_receptive_field_matches_the_gradient_of_each_logit(size):
    """Empirically: the input pixels one logit depends on (non-zero gradient, BatchNorm in inference mode)."""
    field = gan.receptive_field(size)
    d = gan.build_discriminator(size, in_channels=1, out_channels=1, seed=3)
    import tensorflow as tf          # after Keras has loaded (see voxlib.gan's docstring)
    x = tf.Variable(np.random.default_rng(0).uniform(-1, 1, (1, *size, 1)).astype(np.float32))
    y = tf.constant(np.random.default_rng(1).uniform(-1, 1, (1, *size, 1)).astype(np.float32))
    gh, gw = field["grid"]
    assert d.output_shape[1:3] == (gh, gw)
    with tf.GradientTape(persistent=True) as tape:
        logits = d([x, y], training=False)
        chosen = [(i, gw // 2) for i in range(gh)] + [(gh // 2, j) for j in range(gw)]
        picked = [logits[0, i, j, 0] for i, j in chosen]
    rows_seen, cols_seen = [], []
    for (i, j), logit in zip(chosen, picked):
        (r0, r1), (c0, c1) = _support(tape.gradient(logit, x).numpy()[0, ..., 0])
        lo_r, lo_c = field["offset"] + field["stride"] * i, field["offset"] + field["stride"] * j
        assert (r0, r1) == (max(0, lo_r), min(size[0], lo_r + field["size"])), (i, j)
        assert (c0, c1) == (max(0, lo_c), min(size[1], lo_c + field["size"])), (i, j)
        if j == gw // 2:
            rows_seen.append(r1 - r0)
        if i == gh // 2:
            cols_seen.append(c1 - c0)
    assert (min(rows_seen), max(rows_seen)) == field["rows_seen"]
    assert (min(cols_seen), max(cols_seen)) == field["cols_seen"]
    assert (field["size"] in rows_seen) == (size[0] >= field["size"])   # a full window fits only in a tall image


# -------------------------------------------------------------------- losses

def test_losses_known_values():
    zeros = np.zeros((1, 6, 6, 1), np.float32)
    img = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32)
    total, gan_term, l1 = gan.generator_loss(zeros, img, img + 0.5, l1_weight=100.0)
    assert float(l1) == pytest.approx(0.5, abs=1e-6)
    assert float(gan_term) == pytest.approx(np.log(2), abs=1e-6)       # logit 0 = probability 1/2
    assert float(total) == pytest.approx(np.log(2) + 50.0, abs=1e-4)
    assert float(gan.discriminator_loss(zeros, zeros)) == pytest.approx(2 * np.log(2), abs=1e-6)
    confident = float(gan.discriminator_loss(zeros + 20, zeros - 20))
    assert confident < 1e-6
    wrong = float(gan.discriminator_loss(zeros - 20, zeros + 20))      # sure and wrong on both: 2 x 20 nats
    assert wrong == pytest.approx(40.0, abs=1e-4)


def test_image_metrics_known_values():
    a = np.zeros((2, 8, 8, 1), np.uint8)
    b = np.full_like(a, 10)
    assert metrics.image_l1(a, b) == pytest.approx(10.0)
    assert metrics.psnr(a, b) == pytest.approx(10 * np.log10(255 ** 2 / 100))
    assert metrics.psnr(a, a) == np.inf
    assert metrics.psnr(a / 127.5 - 1, b / 127.5 - 1, data_range=2.0) == pytest.approx(metrics.psnr(a, b))
    with pytest.raises(ValueError, match="shapes"):
        metrics.image_l1(a, b[:1])


# ----------------------------------------------------------------- training

def test_augment_pair_same_transform_for_both():
    src, _ = toy_pairs(6, size=(32, 64), channels=1)
    x = gan.to_unit(src)
    a, b = gan.augment_pair(x, -x, seed=3, jitter=0.2, flip=True)
    assert a.shape == x.shape and b.shape == x.shape
    np.testing.assert_allclose(b, -a, atol=1e-6)            # the pairing survives
    assert not np.allclose(a, x)
    a2, _ = gan.augment_pair(x, -x, seed=3, jitter=0.2, flip=True)
    np.testing.assert_array_equal(a, a2)                    # seeded
    f, _ = gan.augment_pair(x, x, seed=0, jitter=0.0, flip=True)
    flipped = [np.array_equal(f[i], x[i, :, ::-1]) for i in range(len(x))]
    assert all(flipped[i] or np.array_equal(f[i], x[i]) for i in range(len(x))) and any(flipped)


def test_fit_learns_inversion(tmp_path):
    src, tgt = toy_pairs(8, size=32)
    model, losses = gan.fit(src, tgt, tmp_path / "run", epochs=6, checkpoint_every=3, panel_epochs=[6],
                            seed=0, progress=False)
    assert list(losses["epoch"]) == list(range(1, 7))
    assert losses["gen_l1"].iloc[-1] < 0.6 * losses["gen_l1"].iloc[0]
    out = model.generate(src)
    assert metrics.image_l1(out, tgt) < metrics.image_l1(src, tgt)        # beats "output = input"
    for name in ("generator.keras", "losses.csv", "train_params.json", "panels/epoch_0006.png"):
        assert (tmp_path / "run" / name).exists(), name
    reloaded = gan.load_generator(tmp_path / "run" / "generator.keras")
    np.testing.assert_array_equal(gan.generate(reloaded, src), out)
    fig = plots.plot_gan_losses(losses, path=tmp_path / "losses.png")
    assert len(fig.axes) == 3 and fig.axes[0].get_yscale() == "log" and (tmp_path / "losses.png").exists()
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), losses["gen_l1"])


def test_resume_equals_uninterrupted(tmp_path):
    src, tgt = toy_pairs(4, size=32)
    kw = dict(checkpoint_every=2, seed=0, progress=False)
    straight, losses4 = gan.fit(src, tgt, tmp_path / "a", epochs=4, **kw)
    gan.fit(src, tgt, tmp_path / "b", epochs=2, **kw)
    resumed, losses22 = gan.fit(src, tgt, tmp_path / "b", epochs=4, **kw)
    assert list(losses22["epoch"]) == [1, 2, 3, 4]                       # nothing redone or lost
    np.testing.assert_allclose(losses22[list(gan.LOSS_COLUMNS)], losses4[list(gan.LOSS_COLUMNS)], rtol=1e-4)
    for a, b in zip(straight.generator.get_weights(), resumed.generator.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    _, again = gan.fit(src, tgt, tmp_path / "b", epochs=4, **kw)          # finished: no new epoch
    assert len(again) == 4
    with pytest.raises(ValueError, match="l1_weight"):
        gan.fit(src, tgt, tmp_path / "b", epochs=6, l1_weight=10.0, **kw)
    with pytest.raises(ValueError, match="data_fingerprint"):
        gan.fit(tgt, src, tmp_path / "b", epochs=6, **kw)


def test_generation_modes():
    src, _ = toy_pairs(3, size=32)
    g = gan.build_generator(32, in_channels=1, out_channels=1, seed=0)
    g(gan.to_unit(src), training=True)                                  # move the BatchNorm averages off their init
    before = [v.numpy().copy() for v in g.non_trainable_variables if "moving" in v.path]
    inst = gan.generate(g, src)
    np.testing.assert_array_equal(inst, gan.generate(g, src))            # deterministic
    np.testing.assert_array_equal(inst[1:2], gan.generate(g, src[1:2]))   # per image: batch-independent
    a = gan.generate(g, src, mode="thesis")
    assert not np.array_equal(a, gan.generate(g, src, mode="thesis"))   # dropout is on
    assert not np.array_equal(inst, gan.generate(g, src, mode="inference"))
    after = [v.numpy() for v in g.non_trainable_variables if "moving" in v.path]
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)                              # generation changes no state
    assert all(layer.rate == 0.5 for layer in g.layers if "dropout" in layer.name)
    with pytest.raises(ValueError, match="mode"):
        gan.generate(g, src, mode="train")


# -------------------------------------------------------------- paired data

def _write(folder, name, img):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(folder / name)


def test_folder_pairs_and_bad_inputs(tmp_path):
    src, tgt = toy_pairs(3, size=32, channels=3)
    for i in range(3):
        _write(tmp_path / "a", f"f{i}.png", src[i])
        _write(tmp_path / "b", f"f{i}.jpg" if i == 0 else f"f{i}.png", tgt[i])
    pairs = gan.load_folder_pairs(tmp_path / "a", tmp_path / "b", channels=3)
    assert pairs.names == ["f0", "f1", "f2"] and pairs.source.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(pairs.source, src)
    assert gan.load_folder_pairs(tmp_path / "a", tmp_path / "b", channels=1).source.shape == (3, 32, 32, 1)
    # a source image with no partner
    _write(tmp_path / "a", "lonely.png", src[0])
    with pytest.raises(gan.GanDataError, match="lonely.png"):
        gan.load_folder_pairs(tmp_path / "a", tmp_path / "b")
    with pytest.warns(UserWarning, match="lonely"):
        assert len(gan.load_folder_pairs(tmp_path / "a", tmp_path / "b", on_missing="skip")) == 3
    (tmp_path / "a" / "lonely.png").unlink()
    # images of different sizes
    _write(tmp_path / "a", "f1.png", np.zeros((32, 48, 3), np.uint8))
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


def _manifest_rows(tmp_path, src, tgt, scales=None):
    """A write_images-style manifest of two speakers; ``scales[speaker]`` = per-utterance scales."""
    scales = scales or {}
    rows = []
    for speaker, imgs, utts in (("allison", src, ["a", "b", "c"]), ("july", tgt[::-1], ["c", "b", "a"])):
        for k, (img, utt) in enumerate(zip(imgs, utts)):
            scale = scales.get(speaker, [12.5] * 3)[k]
            path = tmp_path / "img" / speaker / f"{utt}.png"
            images.save_image(path, img[..., 0], {"scale": scale}, overwrite=True)
            rows.append(dict(speaker=speaker, utterance=utt, transform="amor", path=str(path), scale=scale,
                             sr=8000, n_freq=100, n_time=24000, source_path=str(tmp_path / f"{speaker}_{utt}.flac")))
    return rows


def test_manifest_pairs_and_generated_outputs(tmp_path):
    """Pairs by utterance id from an images manifest; generated PNGs keep the scale and the wavelet."""
    src, tgt = toy_pairs(3, size=32)
    rows = _manifest_rows(tmp_path, src, tgt)
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


@pytest.mark.parametrize("scales, what", [
    ({"allison": [10.0, 11.0, 12.0], "july": [12.0, 11.0, 10.0]}, "pairs differ from each other"),
    ({"allison": [10.0] * 3, "july": [14.0] * 3}, "source and target images of a pair differ"),
])
def test_pairs_on_different_scales_are_refused(tmp_path, scales, what):
    """Per-image-scaled images (notebook 01's default) cannot be paired: no pixel means one magnitude."""
    src, tgt = toy_pairs(3, size=32)
    manifest = pd.DataFrame(_manifest_rows(tmp_path, src, tgt, scales))
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
        _write(tmp_path / "a", f"f{i}.png", rgb[i])
        _write(tmp_path / "b", f"f{i}.png", rgb[i])
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


#: The thesis's clips: VAD alignment only, the source's own pitch, no filter.
THESIS_CLIPS = dict(pair_alignment="vad", pitch_mode="keep", highpass_hz=None)


def test_paired_images_are_notebook_01s_recipe(tmp_path):
    """Each pair image is images.audio_to_image of the VAD-aligned clip on the fixed scale, pixel for pixel."""
    corpus = datasets.discover(DATA)
    size = (64, 128)
    pairs = gan.write_paired_images(corpus, "es-mx_allison", "es-co_july", tmp_path / "img", image_size=size,
                                    max_pairs=2, seed=1, **THESIS_CLIPS)
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


def test_a_rerun_is_bit_identical(tmp_path):
    """The same data, seed and settings in a new folder give the same losses and weights, bit for bit."""
    src, tgt = toy_pairs(3, size=32)
    kw = dict(epochs=1, checkpoint_every=1, seed=3, progress=False)
    a, losses_a = gan.fit(src, tgt, tmp_path / "a", **kw)
    b, losses_b = gan.fit(src, tgt, tmp_path / "b", **kw)
    pd.testing.assert_frame_equal(losses_a[list(gan.LOSS_COLUMNS)], losses_b[list(gan.LOSS_COLUMNS)])
    for wa, wb in zip(a.generator.get_weights(), b.generator.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.generate(src), b.generate(src))


def test_pairs_follow_the_runs_split(tmp_path):
    """With a split column the held-out pairs are the split's test sentences, not a new draw."""
    src, tgt = toy_pairs(3, size=32)
    rows = pd.DataFrame(_manifest_rows(tmp_path, src, tgt))
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


def _shared_corpus(n_train=6, n_test=2, seed=0):
    """Allison and July's recordings of a few shared sentences, with a split column."""
    corpus = datasets.discover(DATA)
    shared = sorted(set(corpus.loc[corpus["speaker"] == "es-mx_allison", "utterance"])
                    & set(corpus.loc[corpus["speaker"] == "es-co_july", "utterance"]))
    rng = np.random.default_rng(seed)
    utts = list(rng.choice(shared, n_train + n_test, replace=False))
    rows = corpus[corpus["speaker"].isin(["es-mx_allison", "es-co_july"]) & corpus["utterance"].isin(utts)].copy()
    rows["split"] = np.where(rows["utterance"].isin(utts[:n_test]), "test", "train")
    return rows


def test_prepare_clips_converts_pitch_on_training_statistics_and_warps_targets(tmp_path):
    from voxlib import pitch
    rows = _shared_corpus()
    clips = gan.prepare_clips(rows, "es-mx_allison", "es-co_july", tmp_path / "clips", progress=False)
    assert set(clips["role"]) == {"source", "target"} and len(clips) == 2 * 8
    stats = gan.load_pitch_stats(tmp_path / "clips")
    train = rows[rows["split"] == "train"]
    expected = {who: pitch.log_f0_stats([gan._aligned_clip(p, 8000, 60.0, 3.0, 0.5)
                                         for p in train.loc[train["speaker"] == spk, "path"]], 8000)
                for who, spk in (("source", "es-mx_allison"), ("target", "es-co_july"))}
    assert stats == expected                                  # estimated on the training sentences only
    src = clips[clips["role"] == "source"]
    converted = pitch.log_f0_stats([audio.load(p, sr=8000)[0] for p in src["path"]], 8000)
    plain = pitch.log_f0_stats([audio.load(p, sr=8000)[0] for p in src["plain_path"]], 8000)
    # the converted source's log-F0 mean moved (most of the way) to the target's
    assert abs(converted.mean - stats["target"].mean) < 0.4 * abs(plain.mean - stats["target"].mean) + 0.02
    tgt = clips[clips["role"] == "target"]
    for path, clip in zip(tgt["time_map"], tgt["path"]):
        warp = np.load(path)
        n = audio.load(clip, sr=8000)[0].size
        assert warp.shape == (n,) and np.all(np.diff(warp) >= 0) and 0 <= warp.min() and warp.max() < n
    kept = gan.prepare_clips(rows, "es-mx_allison", "es-co_july", tmp_path / "kept", pitch_mode="keep",
                             pair_alignment="vad", progress=False)
    assert gan.load_pitch_stats(tmp_path / "kept") is None and (kept["time_map"] == "").all()
    np.testing.assert_array_equal(audio.load(kept["path"].iloc[0], sr=8000)[0],
                                  audio.load(kept["plain_path"].iloc[0], sr=8000)[0])


def test_dtw_pairs_line_up_better_than_vad_pairs(tmp_path):
    rows = _shared_corpus(n_train=6, n_test=0)
    pairs = gan.write_paired_images(rows, "es-mx_allison", "es-co_july", tmp_path / "img", image_size=(32, 64),
                                    test_size=0, pitch_mode="keep")
    vad = gan.unwarped_targets(pairs)
    assert vad.shape == pairs.target.shape
    assert metrics.image_l1(pairs.source, pairs.target) < metrics.image_l1(pairs.source, vad)
    assert set(pairs.meta["pair_alignment"]) == {"dtw"} and pairs.meta["clip_aligned"].all()


@pytest.mark.parametrize("kw, name", [({"pair_alignment": "xcorr"}, "pair_alignment"),
                                      ({"pitch_mode": "shift"}, "pitch_mode"),
                                      ({"highpass_hz": 5000.0}, "highpass_hz"),
                                      ({"highpass_hz": "60"}, "highpass_hz")])
def test_clip_settings_reject_bad_values_by_name(tmp_path, kw, name):
    with pytest.raises(ValueError, match=name):
        gan.prepare_clips(_shared_corpus(2, 0), "es-mx_allison", "es-co_july", tmp_path / "c", **kw)
    assert not (tmp_path / "c").exists()


def test_ridge_baseline_is_written_like_the_generators_output(tmp_path):
    src, tgt = toy_pairs(3, size=16)
    rows = pd.DataFrame(_manifest_rows(tmp_path, src, tgt))
    pairs = gan.load_manifest_pairs(rows, "allison", "july")
    train, test = gan.split_pairs(pairs, test_size=0.34, seed=0)
    model, mapped, manifest = gan.ridge_baseline(train, gan.join_pairs(train, test), tmp_path / "ridge",
                                                 source="allison", target="july", context=1)
    assert model.alpha_ in gan.RIDGE_ALPHAS
    assert list(manifest.columns) == gan.GENERATED_COLUMNS and set(manifest["generated_by"]) == {"ridge"}
    for path, img in zip(manifest["path"], mapped):
        np.testing.assert_array_equal(images.load_image(path)[0], img[..., 0] if img.ndim == 3 else img)


def test_a_residual_generator_starts_near_the_identity_and_trains():
    src, tgt = toy_pairs(2, size=32)
    g = gan.build_generator(32, in_channels=1, out_channels=1, residual=True)
    x = gan.to_unit(src)
    out = np.asarray(g(x, training=False))
    assert np.abs(out - x).mean() < 0.1 < np.abs(np.asarray(gan.build_generator(32, in_channels=1, out_channels=1)(x, training=False)) - x).mean()
    assert out.min() >= -1 and out.max() <= 1
    with pytest.raises(ValueError, match="in_channels"):
        gan.build_generator(32, in_channels=1, out_channels=3, residual=True)


def test_residual_is_part_of_a_runs_parameters(tmp_path):
    src, tgt = toy_pairs(2, size=32)
    gan.fit(src, tgt, tmp_path / "r", epochs=1, residual=True, progress=False)
    with pytest.raises(ValueError):
        gan.fit(src, tgt, tmp_path / "r", epochs=1, residual=False, progress=False)


# ---------------------------------------------------------------- precision

def _compute_dtypes(model):
    return {layer.dtype_policy.compute_dtype for layer in model.layers if layer.weights}


def test_mixed_bfloat16_training_is_finite_float32_out_and_recorded(tmp_path):
    src, tgt = toy_pairs(2, size=32)
    model, losses = gan.fit(src, tgt, tmp_path / "bf16", epochs=2, checkpoint_every=2, residual=True,
                            precision="mixed_bfloat16", progress=False)
    assert model.precision == "mixed_bfloat16"
    assert "bfloat16" in _compute_dtypes(model.generator) and "bfloat16" in _compute_dtypes(model.discriminator)
    assert np.isfinite(losses[list(gan.LOSS_COLUMNS)].to_numpy()).all() and len(losses) == 2
    x = gan.to_unit(src)
    assert model.generator(x, training=False).dtype == "float32"
    assert model.discriminator([x, x], training=False).dtype == "float32"
    loaded = gan.load_generator(tmp_path / "bf16" / gan.GENERATOR_FILE)
    assert loaded(x, training=False).dtype == "float32"
    np.testing.assert_array_equal(gan.generate(loaded, src), model.generate(src))
    stored = pd.read_json(tmp_path / "bf16" / gan.PARAMS_FILE, typ="series")
    assert stored["precision"] == "mixed_bfloat16"
    with pytest.raises(ValueError, match="precision: stored 'mixed_bfloat16', now 'float32'"):
        gan.fit(src, tgt, tmp_path / "bf16", epochs=2, residual=True, precision="float32", progress=False)


def test_float32_is_recorded_and_a_run_from_before_precision_resumes(tmp_path):
    src, tgt = toy_pairs(2, size=32)
    out = tmp_path / "f32"
    model, _ = gan.fit(src, tgt, out, epochs=1, progress=False)
    assert model.precision == "float32" and _compute_dtypes(model.generator) == {"float32"}
    params = pd.read_json(out / gan.PARAMS_FILE, typ="series").to_dict()
    assert params["precision"] == "float32"
    del params["precision"]                           # a run folder written before the parameter existed
    (out / gan.PARAMS_FILE).write_text(pd.Series(params).to_json())
    _, losses = gan.fit(src, tgt, out, epochs=1, progress=False)
    assert len(losses) == 1
    with pytest.raises(ValueError, match="precision"):
        gan.fit(src, tgt, out, epochs=1, precision="mixed_bfloat16", progress=False)


@pytest.mark.parametrize("call", [lambda: gan.build_generator(32, precision="bfloat16"),
                                  lambda: gan.build_discriminator(32, precision="float16"),
                                  lambda: gan.Pix2Pix(32, in_channels=1, out_channels=1, precision=None)])
def test_a_bad_precision_fails_by_name(call):
    with pytest.raises(ValueError, match="precision="):
        call()


def test_a_bad_precision_fails_before_fit_writes(tmp_path):
    src, tgt = toy_pairs(1, size=32)
    with pytest.raises(ValueError, match="precision="):
        gan.fit(src, tgt, tmp_path / "run", epochs=1, precision="bf16", progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags, policy", [({"amx_bf16", "avx512f"}, "mixed_bfloat16"), ({"avx2"}, "float32")])
def test_auto_precision_follows_resolve_precision(monkeypatch, flags, policy):
    monkeypatch.setattr(devices, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(devices, "gpus", lambda: [])
    assert devices.resolve_precision("auto", "pix2pix") == policy
    model = gan.Pix2Pix(32, in_channels=1, out_channels=1, precision="auto", compiled=False)
    assert model.precision == model.config["precision"] == policy
    expected = {"float32": {"float32"}, "mixed_bfloat16": {"bfloat16", "float32"}}[policy]
    assert _compute_dtypes(model.generator) == expected
