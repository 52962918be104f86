"""pix2pix voice cloning (*clonación de voz*): a paired image-to-image GAN.

The thesis (THESIS.md §4) trained pix2pix on Amor scalograms (*escalogramas*)
of the same sentences spoken by a source and a target speaker, so that the
generator learns to turn the source's image into the target's. This module
holds the networks, the losses, a compiled train step, a resumable training
driver with checkpoints, the paired data sets (speaker pairs from a corpus or
two plain folders of same-named images) and the writer of generated images for
notebook 05.

Images enter the networks as float32 ``(N, H, W, C)`` in [-1, 1]
(``pixel / 127.5 - 1``); every 8-bit image on disk is grayscale or RGB.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "unet_depth",
    "build_generator",
    "build_discriminator",
    "generator_loss",
    "discriminator_loss",
    "Pix2Pix",
    "augment_pair",
    "PairedImages",
    "load_folder_pairs",
    "load_manifest_pairs",
    "write_paired_images",
    "split_pairs",
    "fit",
    "generate",
    "write_generated",
    "load_generator",
    "to_unit",
    "to_uint8",
    "GanDataError",
]

#: Encoder filters of the thesis's 256-pixel U-Net (8 blocks, 256 -> 1 pixel).
THESIS_ENCODER_FILTERS = (64, 128, 256, 512, 512, 512, 512, 512)
#: Decoder blocks (counted from the bottleneck) that carry Dropout(0.5).
N_DROPOUT_BLOCKS = 3
#: Discriminator (PatchGAN) filters: three stride-2 blocks, then a stride-1 block.
PATCHGAN_FILTERS = (64, 128, 256, 512)
INIT_STDDEV = 0.02
LEAKY_SLOPE = 0.2


class GanDataError(ValueError):
    """Paired images that cannot be used: names the file(s) and the fix."""


# ----------------------------------------------------------------- networks


def _as_size(image_size, name="image_size"):
    if isinstance(image_size, (int, np.integer)):
        image_size = (int(image_size), int(image_size))
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a (height, width) pair; got {image_size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"{name} must be positive; got {image_size!r}")
    return h, w


def unet_depth(image_size, depth=None):
    """Number of down-sampling blocks of the U-Net for an image size.

    The default is ``floor(log2(min(H, W)))``: the encoder halves the image
    until its smaller side is one pixel, as the thesis's 8 blocks do at 256
    (7 at 128, 6 at 64). A wide scalogram such as 64 x 256 (height x width,
    width = time) gets depth 6 and a 1 x 4 bottleneck, keeping 4 positions in
    time at the coarsest level instead of truncating the network further.

    Parameters
    ----------
    image_size : int or (int, int)
        ``(height, width)`` in pixels.
    depth : int > 0 or None
        Force a depth (None = automatic).

    Returns
    -------
    depth : int
        Height and width are each divisible by ``2**depth``; otherwise
        ``ValueError`` names the sizes that would work.
    """
    h, w = _as_size(image_size)
    if depth is None:
        depth = int(math.floor(math.log2(min(h, w))))
    if not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be a positive int or None; got {depth!r}")
    step = 2 ** int(depth)
    if h % step or w % step:
        raise ValueError(
            f"image_size {h} x {w} must have each side divisible by 2**depth = {step} "
            f"(depth {depth}); use e.g. {max(step, h // step * step)} x {max(step, w // step * step)}, "
            f"or powers of two such as 64 x 64, 64 x 256, 256 x 256")
    if min(h, w) < 32:
        raise ValueError(f"image_size {h} x {w}: each side must be >= 32 pixels for the PatchGAN")
    return int(depth)


def _encoder_filters(depth):
    """Thesis filters for the first ``depth`` blocks (512 beyond the eighth)."""
    return tuple(THESIS_ENCODER_FILTERS[i] if i < len(THESIS_ENCODER_FILTERS) else 512
                 for i in range(depth))


def _init(seed):
    import keras
    return keras.initializers.RandomNormal(0.0, INIT_STDDEV, seed=seed)


def _down(x, filters, *, batchnorm, seed, name):
    import keras
    x = keras.layers.Conv2D(filters, 4, strides=2, padding="same", kernel_initializer=_init(seed),
                            use_bias=False, name=f"{name}_conv")(x)
    if batchnorm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act")(x)


def _up(x, filters, *, dropout, seed, name):
    import keras
    x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", kernel_initializer=_init(seed),
                                     use_bias=False, name=f"{name}_deconv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    if dropout:
        x = keras.layers.Dropout(0.5, seed=seed, name=f"{name}_dropout")(x)
    return keras.layers.ReLU(name=f"{name}_act")(x)


def build_generator(image_size=(256, 256), *, in_channels=3, out_channels=3, depth=None, seed=0):
    """The thesis's U-Net generator.

    Encoder: ``depth`` blocks Conv2D(k=4, stride 2, 'same', N(0, 0.02)) ->
    BatchNorm (not in the first block) -> LeakyReLU(0.2), filters 64, 128,
    256, 512, 512, ... Decoder: ``depth - 1`` blocks Conv2DTranspose(k=4,
    stride 2) -> BatchNorm -> Dropout(0.5) (the three innermost) -> ReLU,
    filters mirroring the encoder (512, ..., 256, 128, 64), each concatenated
    with the encoder output of the same size; last layer
    Conv2DTranspose(out_channels, k=4, stride 2, tanh). At 256 x 256 this is
    exactly the thesis's network (54.4 M parameters with 3 channels); smaller
    images drop the innermost blocks symmetrically.

    Parameters
    ----------
    image_size : int or (int, int)
        ``(height, width)``; each divisible by ``2**depth``.
    in_channels, out_channels : int > 0
        Channels of the input and generated images (the thesis: 3 and 3).
    depth : int or None
        Down-sampling blocks; None = :func:`unet_depth`.
    seed : int
        Seed of the weight initialisers and the dropout masks.

    Returns
    -------
    keras.Model
        ``(N, H, W, in_channels) -> (N, H, W, out_channels)`` in [-1, 1].
    """
    import keras
    h, w = _as_size(image_size)
    depth = unet_depth((h, w), depth)
    filters = _encoder_filters(depth)
    inputs = keras.Input((h, w, in_channels), name="source")
    x, skips = inputs, []
    for i, f in enumerate(filters):
        x = _down(x, f, batchnorm=i > 0, seed=seed + i, name=f"down{i + 1}")
        skips.append(x)
    for j, (f, skip) in enumerate(zip(filters[-2::-1], skips[-2::-1])):
        x = _up(x, f, dropout=j < N_DROPOUT_BLOCKS, seed=seed + 100 + j, name=f"up{j + 1}")
        x = keras.layers.Concatenate(name=f"skip{j + 1}")([x, skip])
    outputs = keras.layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same", activation="tanh",
                                           kernel_initializer=_init(seed + 200), name="output")(x)
    return keras.Model(inputs, outputs, name=f"unet{depth}_generator")


def build_discriminator(image_size=(256, 256), *, in_channels=3, out_channels=3, seed=0):
    """The thesis's PatchGAN discriminator.

    On the channel concatenation of the input image and a candidate (real or
    generated): Conv blocks of 64 (no BatchNorm), 128, 256 filters with
    stride 2, zero padding, Conv2D(512, k=4, stride 1) -> BatchNorm ->
    LeakyReLU, zero padding, Conv2D(1, k=4, stride 1) giving logits. Each
    logit judges one ~70 x 70 pixel patch.

    Returns
    -------
    keras.Model
        ``[(N, H, W, in_channels), (N, H, W, out_channels)] -> (N, H/8 - 2, W/8 - 2, 1)``
        logits (30 x 30 at 256 x 256).
    """
    import keras
    h, w = _as_size(image_size)
    if h % 8 or w % 8 or min(h, w) < 32:
        raise ValueError(f"image_size {h} x {w}: the PatchGAN needs sides divisible by 8 and >= 32")
    source = keras.Input((h, w, in_channels), name="source")
    candidate = keras.Input((h, w, out_channels), name="candidate")
    x = keras.layers.Concatenate(name="pair")([source, candidate])
    for i, f in enumerate(PATCHGAN_FILTERS[:-1]):
        x = _down(x, f, batchnorm=i > 0, seed=seed + i, name=f"down{i + 1}")
    x = keras.layers.ZeroPadding2D(name="pad1")(x)
    x = keras.layers.Conv2D(PATCHGAN_FILTERS[-1], 4, strides=1, kernel_initializer=_init(seed + 10),
                            use_bias=False, name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="act")(x)
    x = keras.layers.ZeroPadding2D(name="pad2")(x)
    logits = keras.layers.Conv2D(1, 4, strides=1, kernel_initializer=_init(seed + 11), name="logits")(x)
    return keras.Model([source, candidate], logits, name="patchgan_discriminator")


# ------------------------------------------------------------------- losses


def generator_loss(disc_generated, generated, target, *, l1_weight=100.0):
    """pix2pix generator loss: BCE(D(generated) -> 1) + ``l1_weight`` x L1.

    Parameters
    ----------
    disc_generated : tensor (N, h, w, 1)
        Discriminator logits for the generated images.
    generated, target : tensor (N, H, W, C) in [-1, 1]
    l1_weight : float >= 0
        lambda (100 in the thesis).

    Returns
    -------
    total, gan, l1 : scalar tensors
        ``total = gan + l1_weight * l1``; ``l1`` is the mean absolute
        difference on the [-1, 1] scale.
    """
    import tensorflow as tf
    gan = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.ones_like(disc_generated), logits=disc_generated))
    l1 = tf.reduce_mean(tf.abs(tf.cast(target, generated.dtype) - generated))
    return gan + l1_weight * l1, gan, l1


def discriminator_loss(disc_real, disc_generated):
    """BCE(D(real) -> 1) + BCE(D(generated) -> 0), each averaged over patches."""
    import tensorflow as tf
    real = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.ones_like(disc_real), logits=disc_real))
    fake = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.zeros_like(disc_generated), logits=disc_generated))
    return real + fake


# ------------------------------------------------------------------- model


class Pix2Pix:
    """Generator, discriminator, their Adam optimisers and a compiled train step.

    Parameters
    ----------
    image_size : int or (int, int)
        ``(height, width)`` in pixels.
    in_channels, out_channels : int
        Channels of source and target images.
    depth : int or None
        U-Net depth (None = :func:`unet_depth`).
    l1_weight : float
        lambda of the generator loss (100).
    learning_rate, beta_1 : float
        Adam settings of both networks (2e-4, 0.5).
    seed : int
        Seed of initialisers and dropout.
    compiled : bool
        Wrap the train step in ``tf.function`` (False = eager, for debugging
        and the benchmark).
    jit_compile : bool
        Ask XLA to compile the step (``bench/gan.py`` measures whether it pays).
    """

    def __init__(self, image_size=(256, 256), *, in_channels=3, out_channels=3, depth=None, l1_weight=100.0,
                 learning_rate=2e-4, beta_1=0.5, seed=0, compiled=True, jit_compile=False):
        import keras
        import tensorflow as tf
        h, w = _as_size(image_size)
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if v not in (1, 3):
                raise ValueError(f"{name} must be 1 (gray) or 3 (RGB); got {v!r}")
        if not l1_weight >= 0:
            raise ValueError(f"l1_weight must be >= 0; got {l1_weight!r}")
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0; got {learning_rate!r}")
        self.config = dict(image_size=[h, w], in_channels=int(in_channels), out_channels=int(out_channels),
                           depth=unet_depth((h, w), depth), l1_weight=float(l1_weight),
                           learning_rate=float(learning_rate), beta_1=float(beta_1), seed=int(seed))
        self.generator = build_generator((h, w), in_channels=in_channels, out_channels=out_channels,
                                         depth=self.config["depth"], seed=seed)
        self.discriminator = build_discriminator((h, w), in_channels=in_channels, out_channels=out_channels,
                                                 seed=seed + 1000)
        self.generator_optimizer = keras.optimizers.Adam(learning_rate, beta_1=beta_1)
        self.discriminator_optimizer = keras.optimizers.Adam(learning_rate, beta_1=beta_1)
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.compiled, self.jit_compile = bool(compiled), bool(jit_compile)
        if compiled:
            spec = [tf.TensorSpec((None, h, w, in_channels), tf.float32),
                    tf.TensorSpec((None, h, w, out_channels), tf.float32)]
            self._step = tf.function(self._train_step, input_signature=spec, jit_compile=bool(jit_compile))
        else:
            self._step = self._train_step

    def _train_step(self, source, target):
        import tensorflow as tf
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated = self.generator(source, training=True)
            disc_real = self.discriminator([source, target], training=True)
            disc_generated = self.discriminator([source, generated], training=True)
            total, gan, l1 = generator_loss(disc_generated, generated, target, l1_weight=self.config["l1_weight"])
            disc = discriminator_loss(disc_real, disc_generated)
        gen_vars = self.generator.trainable_variables
        disc_vars = self.discriminator.trainable_variables
        self.generator_optimizer.apply_gradients(zip(gen_tape.gradient(total, gen_vars), gen_vars))
        self.discriminator_optimizer.apply_gradients(zip(disc_tape.gradient(disc, disc_vars), disc_vars))
        return total, gan, l1, disc

    def train_step(self, source, target):
        """One update of both networks on a batch.

        Parameters
        ----------
        source, target : float32 array (N, H, W, C) in [-1, 1]

        Returns
        -------
        dict
            ``gen_total, gen_gan, gen_l1, disc`` as floats.
        """
        out = self._step(np.asarray(source, np.float32), np.asarray(target, np.float32))
        return dict(zip(LOSS_COLUMNS, (float(v) for v in out)))

    def checkpoint(self):
        """``tf.train.Checkpoint`` of both networks, both optimisers and the epoch counter
        (dropout seed states are layer variables, so they are included)."""
        import tensorflow as tf
        return tf.train.Checkpoint(generator=self.generator, discriminator=self.discriminator,
                                   generator_optimizer=self.generator_optimizer,
                                   discriminator_optimizer=self.discriminator_optimizer, epoch=self.epoch)

    def generate(self, source, *, thesis_training_mode=False, batch_size=8):
        """Generated images for sources; see :func:`generate`."""
        return generate(self.generator, source, thesis_training_mode=thesis_training_mode, batch_size=batch_size)


LOSS_COLUMNS = ("gen_total", "gen_gan", "gen_l1", "disc")


def to_unit(images):
    """uint8 images (N, H, W, C) in [0, 255] -> float32 in [-1, 1]."""
    return np.asarray(images, np.float32) / 127.5 - 1.0


def to_uint8(x):
    """float images in [-1, 1] -> uint8 in [0, 255] (rounded, clipped)."""
    return np.clip(np.rint((np.asarray(x, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def generate(generator, source, *, thesis_training_mode=False, batch_size=8):
    """Run a generator over source images.

    Parameters
    ----------
    generator : keras.Model
    source : uint8 array (N, H, W, C) in [0, 255], or float32 in [-1, 1]
    thesis_training_mode : bool
        False (default): inference mode, dropout off and BatchNorm's moving
        statistics, deterministic. True: the thesis's (and the pix2pix
        paper's) way, dropout on and each batch's own statistics; with
        ``batch_size=1`` that is instance normalisation, as in training.
    batch_size : int > 0

    Returns
    -------
    uint8 array (N, H, W, out_channels)
    """
    source = np.asarray(source)
    x = to_unit(source) if source.dtype == np.uint8 else source.astype(np.float32)
    if x.ndim != 4:
        raise ValueError(f"source must have shape (N, H, W, C); got {source.shape}")
    out = [np.asarray(generator(x[i:i + batch_size], training=bool(thesis_training_mode)))
           for i in range(0, len(x), batch_size)]
    return to_uint8(np.concatenate(out)) if out else np.zeros((0, *generator.output_shape[1:]), np.uint8)


def augment_pair(source, target, *, seed=0, jitter=30 / 256, flip=False):
    """Random jitter (resize up, random crop back) and flip, identical for both images of a pair.

    The thesis flipped only the source of each pair (a typo), which breaks
    the pairing; here every pair gets one transform. On a scalogram the
    horizontal axis is time, so a left-right flip plays the sentence
    backwards: keep ``flip=False`` for voice cloning (use it for photos).

    Parameters
    ----------
    source, target : float32 array (N, H, W, Cs), (N, H, W, Ct)
    seed : int or sequence of int
        Seed of the crop offsets and flips.
    jitter : float >= 0
        Relative enlargement before the crop (30/256: 256 -> 286 as the thesis).
    flip : bool
        Random left-right flip with probability 1/2.

    Returns
    -------
    source, target : float32 arrays of the input shapes
    """
    import tensorflow as tf
    source, target = np.asarray(source, np.float32), np.asarray(target, np.float32)
    n, h, w, cs = source.shape
    rng = np.random.default_rng(seed)
    both = np.concatenate([source, target], axis=-1)
    if jitter > 0:
        bh, bw = int(round(h * (1 + jitter))), int(round(w * (1 + jitter)))
        big = np.asarray(tf.image.resize(both, (bh, bw), method="bilinear"))
        tops, lefts = rng.integers(0, bh - h + 1, n), rng.integers(0, bw - w + 1, n)
        both = np.stack([big[i, t:t + h, l:l + w] for i, (t, l) in enumerate(zip(tops, lefts))])
    if flip:
        flips = rng.random(n) < 0.5
        both[flips] = both[flips, :, ::-1]
    return both[..., :cs], both[..., cs:]
