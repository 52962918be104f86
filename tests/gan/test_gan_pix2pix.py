"""Tests of voxlib.gan.pix2pix: the networks, the receptive field, the losses, generation and augmentation."""
from __future__ import annotations

import numpy as np
import pytest
from gan_toys import toy_pairs

from voxlib import gan


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
    import tensorflow as tf          # after Keras has loaded (see voxlib.gan.pix2pix's docstring)
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


# ------------------------------------------------------------- generation

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


def test_a_residual_generator_starts_near_the_identity_and_trains():
    src, tgt = toy_pairs(2, size=32)
    g = gan.build_generator(32, in_channels=1, out_channels=1, residual=True)
    x = gan.to_unit(src)
    out = np.asarray(g(x, training=False))
    assert np.abs(out - x).mean() < 0.1 < np.abs(np.asarray(gan.build_generator(32, in_channels=1, out_channels=1)(x, training=False)) - x).mean()
    assert out.min() >= -1 and out.max() <= 1
    with pytest.raises(ValueError, match="in_channels"):
        gan.build_generator(32, in_channels=1, out_channels=3, residual=True)


@pytest.mark.parametrize("call", [lambda: gan.build_generator(32, precision="bfloat16"),
                                  lambda: gan.build_discriminator(32, precision="float16"),
                                  lambda: gan.Pix2Pix(32, in_channels=1, out_channels=1, precision=None)])
def test_a_bad_precision_fails_by_name(call):
    with pytest.raises(ValueError, match="precision="):
        call()
