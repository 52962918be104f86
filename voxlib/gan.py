"""pix2pix voice cloning (*clonación de voz*): a paired image-to-image GAN.

The thesis (THESIS.md §4) trained pix2pix on Amor scalograms (*escalogramas*)
of the same sentences spoken by a source and a target speaker, so that the
generator learns to turn the source's image into the target's. This module
holds the networks, the losses, a compiled train step, a resumable training
driver with checkpoints, the paired data sets (speaker pairs from a corpus or
two plain folders of same-named images) and the writer of generated images for
notebook 05.

Images enter the networks as float32 ``(N, H, W, C)`` in [-1, 1]
(``pixel / 127.5 - 1``); every 8-bit image on disk is grayscale or RGB. The
scalogram pairs are made by :func:`voxlib.images.write_images` (notebook 01's
recipe, VAD-aligned) on one fixed image scale, :data:`SINE_SCALE` by default;
pairs whose images carry different scales are refused.

Generation runs by default in ``"instance"`` mode (:func:`generate`): each
image normalised by its own statistics, as every BatchNorm saw it when
training at batch size 1, with dropout off. Keras's plain inference mode
(``training=False``, BatchNorm's moving averages) is available as
``"inference"``; after batch-1 training those averages do not describe what
the layers saw, so its output differs from the trained behaviour (notebook 04
scores the three modes side by side in ``image_metrics.csv``). ``"thesis"``
keeps dropout on as the thesis did.

TensorFlow and Keras are imported lazily (``voxlib._heavy``) on first use. The
losses and the augmentation use ``keras.ops`` and the TensorFlow calls
(``tf.function``, ``GradientTape``, checkpoints) all come after a network is
built, so Keras always loads before TensorFlow: TensorFlow's own import touches
the ``keras`` package, and a lazily registered ``keras`` that TensorFlow loads
first is left half-initialised.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.signal
from PIL import Image
from tqdm.auto import tqdm

from voxlib import audio, datasets, devices, frames, images, pitch, plots
from voxlib._heavy import keras, tf


__all__ = [
    "unet_depth",
    "build_generator",
    "build_discriminator",
    "receptive_field",
    "generator_loss",
    "discriminator_loss",
    "Pix2Pix",
    "augment_pair",
    "PairedImages",
    "load_folder_pairs",
    "load_manifest_pairs",
    "write_paired_images",
    "prepare_clips",
    "unwarped_targets",
    "load_pitch_stats",
    "PAIR_ALIGNMENTS",
    "PITCH_MODES",
    "ridge_baseline",
    "write_mapped",
    "split_pairs",
    "join_pairs",
    "fit",
    "generate",
    "write_generated",
    "load_generator",
    "GENERATE_MODES",
    "GENERATED_COLUMNS",
    "LOSS_COLUMNS",
    "SINE_SCALE",
    "to_unit",
    "to_uint8",
    "GanDataError",
]

#: Encoder filters of the thesis's 256-pixel U-Net (8 blocks, 256 -> 1 pixel).
THESIS_ENCODER_FILTERS = (64, 128, 256, 512, 512, 512, 512, 512)
#: Decoder blocks (counted from the bottleneck) that carry Dropout(0.5).
N_DROPOUT_BLOCKS = 3
#: Image scale of a full-scale sinusoid: 50 log10(1 + |W|) with |W| = 1.
SINE_SCALE = 50 * math.log10(2.0)
#: Discriminator (PatchGAN) filters: three stride-2 blocks, then a stride-1 block.
PATCHGAN_FILTERS = (64, 128, 256, 512)
#: Kernel size of every convolution of both networks (the thesis's 4 x 4).
KERNEL = 4
INIT_STDDEV = 0.02
LEAKY_SLOPE = 0.2
#: Relative tolerance under which two image scales count as the same fixed scale.
SCALE_RTOL = 1e-6


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
    return keras.initializers.RandomNormal(0.0, INIT_STDDEV, seed=seed)


def _down(x, filters, *, batchnorm, seed, name):
    x = keras.layers.Conv2D(filters, KERNEL, strides=2, padding="same", kernel_initializer=_init(seed),
                            use_bias=False, name=f"{name}_conv")(x)
    if batchnorm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act")(x)


def _up(x, filters, *, dropout, seed, name):
    x = keras.layers.Conv2DTranspose(filters, KERNEL, strides=2, padding="same", kernel_initializer=_init(seed),
                                     use_bias=False, name=f"{name}_deconv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    if dropout:
        x = keras.layers.Dropout(0.5, seed=seed, name=f"{name}_dropout")(x)
    return keras.layers.ReLU(name=f"{name}_act")(x)


def build_generator(image_size=(256, 256), *, in_channels=3, out_channels=3, depth=None, seed=0, residual=False,
                    precision="float32"):
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
    residual : bool
        Add the input to the last layer's output (then clip to [-1, 1]): the
        network draws the *change* from the source image, and starts as the
        identity. Not the thesis's network (False); needs ``in_channels ==
        out_channels``.
    precision : {"float32", "mixed_bfloat16", "auto"}
        Keras dtype policy the network is built with (:func:`voxlib.devices.resolve_precision`
        resolves ``"auto"`` for ``"pix2pix"``). ``"mixed_bfloat16"`` computes in
        bfloat16 with float32 weights; the last layer (and the residual sum)
        compute in float32 either way, so the output is float32.

    Returns
    -------
    keras.Model
        ``(N, H, W, in_channels) -> (N, H, W, out_channels)`` float32 in [-1, 1].
    """
    if residual and in_channels != out_channels:
        raise ValueError(f"residual=True adds the input to the output, so in_channels ({in_channels}) must equal "
                         f"out_channels ({out_channels})")
    h, w = _as_size(image_size)
    depth = unet_depth((h, w), depth)
    policy = devices.resolve_precision(devices.check_precision(precision), "pix2pix")
    with devices.precision_policy(policy):
        return _unet(h, w, in_channels, out_channels, depth, seed, residual)


def _unet(h, w, in_channels, out_channels, depth, seed, residual):
    """The layers of :func:`build_generator`, under the current dtype policy; float32 output."""
    filters = _encoder_filters(depth)
    inputs = keras.Input((h, w, in_channels), name="source")
    x, skips = inputs, []
    for i, f in enumerate(filters):
        x = _down(x, f, batchnorm=i > 0, seed=seed + i, name=f"down{i + 1}")
        skips.append(x)
    for j, (f, skip) in enumerate(zip(filters[-2::-1], skips[-2::-1])):
        x = _up(x, f, dropout=j < N_DROPOUT_BLOCKS, seed=seed + 100 + j, name=f"up{j + 1}")
        x = keras.layers.Concatenate(name=f"skip{j + 1}")([x, skip])
    outputs = keras.layers.Conv2DTranspose(out_channels, KERNEL, strides=2, padding="same", activation="tanh",
                                           kernel_initializer=_init(seed + 200), dtype="float32", name="output")(x)
    if residual:
        outputs = keras.layers.Add(dtype="float32", name="plus_source")([inputs, outputs])
        outputs = keras.layers.Activation("hard_tanh", dtype="float32", name="clip")(outputs)
    return keras.Model(inputs, outputs, name=f"unet{depth}_{'residual_' if residual else ''}generator")


def _patchgan_size(image_size):
    h, w = _as_size(image_size)
    if h % 8 or w % 8 or min(h, w) < 32:
        raise ValueError(f"image_size {h} x {w}: the PatchGAN needs sides divisible by 8 and >= 32; "
                         f"use e.g. {max(32, h // 8 * 8)} x {max(32, w // 8 * 8)}")
    return h, w


def build_discriminator(image_size=(256, 256), *, in_channels=3, out_channels=3, seed=0, precision="float32"):
    """The thesis's PatchGAN discriminator.

    On the channel concatenation of the input image and a candidate (real or
    generated): Conv blocks of 64 (no BatchNorm), 128, 256 filters with
    stride 2, zero padding, Conv2D(512, k=4, stride 1) -> BatchNorm ->
    LeakyReLU, zero padding, Conv2D(1, k=4, stride 1) giving logits. Each
    logit judges one window of the image; :func:`receptive_field` gives its
    size (70 x 70 pixels, clipped at the image's borders).

    Parameters
    ----------
    image_size : int or (int, int)
    in_channels, out_channels : int > 0
    seed : int
    precision : {"float32", "mixed_bfloat16", "auto"}
        As :func:`build_generator`: the logits layer computes in float32 either
        way, so the losses are float32.

    Returns
    -------
    keras.Model
        ``[(N, H, W, in_channels), (N, H, W, out_channels)] -> (N, H/8 - 2, W/8 - 2, 1)``
        logits (30 x 30 at 256 x 256).
    """
    h, w = _patchgan_size(image_size)
    policy = devices.resolve_precision(devices.check_precision(precision), "pix2pix")
    with devices.precision_policy(policy):
        return _patchgan(h, w, in_channels, out_channels, seed)


def _patchgan(h, w, in_channels, out_channels, seed):
    """The layers of :func:`build_discriminator`, under the current dtype policy; float32 logits."""
    source = keras.Input((h, w, in_channels), name="source")
    candidate = keras.Input((h, w, out_channels), name="candidate")
    x = keras.layers.Concatenate(name="pair")([source, candidate])
    for i, f in enumerate(PATCHGAN_FILTERS[:-1]):
        x = _down(x, f, batchnorm=i > 0, seed=seed + i, name=f"down{i + 1}")
    x = keras.layers.ZeroPadding2D(name="pad1")(x)
    x = keras.layers.Conv2D(PATCHGAN_FILTERS[-1], KERNEL, strides=1, kernel_initializer=_init(seed + 10),
                            use_bias=False, name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="act")(x)
    x = keras.layers.ZeroPadding2D(name="pad2")(x)
    logits = keras.layers.Conv2D(1, KERNEL, strides=1, kernel_initializer=_init(seed + 11), dtype="float32",
                                 name="logits")(x)
    return keras.Model([source, candidate], logits, name="patchgan_discriminator")


def _patchgan_layers():
    """(kernel, stride, padding before, padding after) of each spatial layer of
    :func:`build_discriminator`, in order, for sides divisible by 8."""
    same = ((KERNEL - 2) // 2, (KERNEL - 2) - (KERNEL - 2) // 2)   # Keras 'same', stride 2, even side
    down = [(KERNEL, 2, *same)] * (len(PATCHGAN_FILTERS) - 1)
    return down + [(1, 1, 1, 1), (KERNEL, 1, 0, 0), (1, 1, 1, 1), (KERNEL, 1, 0, 0)]  # pad, conv, pad, logits


def _pixels_seen(n, n_logits, offset, stride, size):
    """(fewest, most) image pixels along one axis inside one logit's window."""
    seen = [min(n, offset + stride * i + size) - max(0, offset + stride * i) for i in range(n_logits)]
    return min(seen), max(seen)


def receptive_field(image_size=(256, 256)):
    """The window of the image each PatchGAN logit judges.

    Walks the layers of :func:`build_discriminator` (three stride-2 4 x 4
    convolutions, then two stride-1 4 x 4 convolutions after one pixel of zero
    padding each): a layer of kernel ``k`` widens the window by ``(k - 1)``
    times the product of the strides before it, so the window is
    ``1 + 3 (1 + 2 + 4) + 3 (8 + 8) = 70`` pixels on each side, whatever the
    image size, and neighbouring logits are 8 pixels apart. Near the borders
    part of the window falls on padding: on an image smaller than 70 pixels
    along an axis no logit sees all of that axis.

    Parameters
    ----------
    image_size : int or (int, int)
        ``(height, width)`` of the images, each divisible by 8 and >= 32.

    Returns
    -------
    dict
        ``size`` (window side in pixels, 70), ``stride`` (pixels between
        neighbouring logits, 8), ``offset`` (first pixel of logit 0's window,
        negative: it starts in the padding), ``grid`` (logits ``(rows,
        columns)``, the discriminator's output), ``rows_seen`` and
        ``cols_seen`` (fewest and most image rows / columns inside one
        logit's window).
    """
    h, w = _patchgan_size(image_size)
    size, stride, offset, grid = 1, 1, 0, [h, w]
    for k, s, before, after in _patchgan_layers():
        offset -= before * stride
        size += (k - 1) * stride
        stride *= s
        grid = [(n + before + after - k) // s + 1 for n in grid]
    return dict(size=size, stride=stride, offset=offset, grid=tuple(grid),
                rows_seen=_pixels_seen(h, grid[0], offset, stride, size),
                cols_seen=_pixels_seen(w, grid[1], offset, stride, size))


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
    ops = keras.ops
    gan = ops.mean(ops.binary_crossentropy(ops.ones_like(disc_generated), disc_generated, from_logits=True))
    l1 = ops.mean(ops.abs(ops.cast(target, generated.dtype) - generated))
    return gan + l1_weight * l1, gan, l1


def discriminator_loss(disc_real, disc_generated):
    """BCE(D(real) -> 1) + BCE(D(generated) -> 0), each averaged over patches."""
    ops = keras.ops
    real = ops.mean(ops.binary_crossentropy(ops.ones_like(disc_real), disc_real, from_logits=True))
    fake = ops.mean(ops.binary_crossentropy(ops.zeros_like(disc_generated), disc_generated, from_logits=True))
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
    residual : bool
        The generator draws the change from its input (:func:`build_generator`).
    precision : {"float32", "mixed_bfloat16", "auto"}
        Dtype policy of both networks (:func:`build_generator`); ``"auto"`` is
        resolved by :func:`voxlib.devices.resolve_precision` for ``"pix2pix"``.
        The generated images and the losses are float32 either way.

    Attributes
    ----------
    precision : str
        The resolved policy, ``"float32"`` or ``"mixed_bfloat16"``.
    config : dict
        The settings above (``precision`` resolved).
    """

    def __init__(self, image_size=(256, 256), *, in_channels=3, out_channels=3, depth=None, l1_weight=100.0,
                 learning_rate=2e-4, beta_1=0.5, seed=0, compiled=True, jit_compile=False, residual=False,
                 precision="float32"):
        h, w = _as_size(image_size)
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if v not in (1, 3):
                raise ValueError(f"{name} must be 1 (gray) or 3 (RGB); got {v!r}")
        if not l1_weight >= 0:
            raise ValueError(f"l1_weight must be >= 0; got {l1_weight!r}")
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0; got {learning_rate!r}")
        self.precision = devices.resolve_precision(devices.check_precision(precision), "pix2pix")
        self.config = dict(image_size=[h, w], in_channels=int(in_channels), out_channels=int(out_channels),
                           depth=unet_depth((h, w), depth), l1_weight=float(l1_weight),
                           learning_rate=float(learning_rate), beta_1=float(beta_1), seed=int(seed))
        if residual:  # recorded only when set, so earlier runs' parameters still match
            self.config["residual"] = True
        self.config["precision"] = self.precision
        self.generator = build_generator((h, w), in_channels=in_channels, out_channels=out_channels,
                                         depth=self.config["depth"], seed=seed, residual=residual,
                                         precision=self.precision)
        self.discriminator = build_discriminator((h, w), in_channels=in_channels, out_channels=out_channels,
                                                 seed=seed + 1000, precision=self.precision)
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
        source, target = tf.convert_to_tensor(source), tf.convert_to_tensor(target)
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
        """``tf.train.Checkpoint`` of both networks, both optimisers, the epoch counter
        and the dropout seed states."""
        # Keras keeps the dropout seed states out of its tracked variables: add them by hand.
        seeds = [v.value for m in (self.generator, self.discriminator)
                 for v in m.non_trainable_variables if "seed_generator_state" in v.path]
        return tf.train.Checkpoint(generator=self.generator, discriminator=self.discriminator,
                                   generator_optimizer=self.generator_optimizer,
                                   discriminator_optimizer=self.discriminator_optimizer, epoch=self.epoch,
                                   dropout_seeds=seeds)

    def generate(self, source, *, mode="instance", batch_size=8):
        """Generated images for sources; see :func:`generate`."""
        return generate(self.generator, source, mode=mode, batch_size=batch_size)


LOSS_COLUMNS = ("gen_total", "gen_gan", "gen_l1", "disc")


def to_unit(images):
    """uint8 images (N, H, W, C) in [0, 255] -> float32 in [-1, 1]."""
    return np.asarray(images, np.float32) / 127.5 - 1.0


def to_uint8(x):
    """float images in [-1, 1] -> uint8 in [0, 255] (rounded, clipped)."""
    return np.clip(np.rint((np.asarray(x, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


#: How the generator runs at generation time: name -> (BatchNorm uses each image's own statistics, dropout on).
GENERATE_MODES = {
    "instance": (True, False),    # per-image statistics as in training at batch 1, no dropout: deterministic
    "inference": (False, False),  # Keras inference mode: BatchNorm's moving averages, no dropout
    "thesis": (True, True),       # the thesis's (and pix2pix paper's) training=True: per-image statistics + dropout
}


@contextmanager
def _generation_mode(generator, mode):
    """Run ``generator`` in ``mode`` without changing its state (moving averages, dropout rates)."""
    per_image, dropout = GENERATE_MODES[mode]
    norms = [layer for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization)]
    drops = [layer for layer in generator.layers if isinstance(layer, keras.layers.Dropout)]
    saved = [(layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in norms]
    rates = [layer.rate for layer in drops]
    try:
        if not dropout:
            for layer in drops:
                layer.rate = 0.0
        yield per_image
    finally:
        for layer, rate in zip(drops, rates):
            layer.rate = rate
        for layer, (mean, var) in zip(norms, saved):
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(var)


def generate(generator, source, *, mode="instance", batch_size=8):
    """Run a generator over source images.

    Parameters
    ----------
    generator : keras.Model
    source : uint8 array (N, H, W, C) in [0, 255], or float32 in [-1, 1]
    mode : {"instance", "inference", "thesis"}
        ``"instance"`` (default): each image normalised by its own
        statistics, exactly as every BatchNorm saw it in training at batch
        size 1 (= instance normalisation), dropout off: deterministic.
        ``"inference"``: Keras's ``training=False``, BatchNorm's moving
        averages; after batch-1 training these do not match what the
        network learned on (at the 1-pixel bottleneck a single image has zero
        variance, so the moving variance is ~0) and the output degrades.
        ``"thesis"``: the thesis's ``training=True`` (per-image statistics and
        dropout, as the pix2pix paper does): stochastic. The model's
        moving averages are left unchanged in every mode.
    batch_size : int > 0
        Images per call in ``"inference"`` mode (the others go one by one).

    Returns
    -------
    uint8 array (N, H, W, out_channels)
    """
    if mode not in GENERATE_MODES:
        raise ValueError(f"mode must be one of {sorted(GENERATE_MODES)}; got {mode!r}")
    source = np.asarray(source)
    x = to_unit(source) if source.dtype == np.uint8 else source.astype(np.float32)
    if x.ndim != 4:
        raise ValueError(f"source must have shape (N, H, W, C); got {source.shape}")
    with _generation_mode(generator, mode) as per_image:
        step = 1 if per_image else int(batch_size)
        out = [np.asarray(generator(x[i:i + step], training=per_image)) for i in range(0, len(x), step)]
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
    source, target = np.asarray(source, np.float32), np.asarray(target, np.float32)
    n, h, w, cs = source.shape
    rng = np.random.default_rng(seed)
    both = np.concatenate([source, target], axis=-1)
    if jitter > 0:
        bh, bw = int(round(h * (1 + jitter))), int(round(w * (1 + jitter)))
        big = keras.ops.convert_to_numpy(keras.ops.image.resize(both, (bh, bw), interpolation="bilinear"))
        tops, lefts = rng.integers(0, bh - h + 1, n), rng.integers(0, bw - w + 1, n)
        both = np.stack([big[i, t:t + h, l:l + w] for i, (t, l) in enumerate(zip(tops, lefts))])
    if flip:
        flips = rng.random(n) < 0.5
        both[flips] = both[flips, :, ::-1]
    return both[..., :cs], both[..., cs:]



# ------------------------------------------------------------------ training

#: Files :func:`fit` writes into its output folder.
PARAMS_FILE = "train_params.json"
LOSSES_FILE = "losses.csv"
GENERATOR_FILE = "generator.keras"
CHECKPOINT_DIR = "checkpoints"
PANEL_DIR = "panels"


def _fingerprint(*arrays):
    h = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


#: Parameters a run folder written before they existed holds implicitly (its stored file lacks them).
_PARAM_DEFAULTS = {"precision": "float32"}


def _check_params(path, params):
    """Store ``params`` on first use; refuse different ones later.

    A stored file without a key of :data:`_PARAM_DEFAULTS` (a run from before
    that parameter) holds its default.
    """
    if path.exists():
        old = dict(_PARAM_DEFAULTS, **json.loads(path.read_text()))
        diff = {k: (old.get(k), params.get(k)) for k in sorted(set(old) | set(params)) if old.get(k) != params.get(k)}
        if diff:
            lines = "; ".join(f"{k}: stored {a!r}, now {b!r}" for k, (a, b) in diff.items())
            raise ValueError(
                f"{path.parent} holds a training run with other parameters ({lines}). "
                f"Use another output folder for these parameters, or the stored ones to resume.")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(params, indent=2, sort_keys=True))


def _epochs_to_panel(panel_epochs, epochs):
    if panel_epochs is None:
        return set()
    if isinstance(panel_epochs, (int, np.integer)):
        if panel_epochs <= 0:
            raise ValueError(f"panel_epochs must be > 0, a list of epochs or None; got {panel_epochs!r}")
        return set(range(panel_epochs, epochs + 1, panel_epochs)) | {epochs}
    return {int(e) for e in panel_epochs}


def _check_fit_data(source, target, image_size):
    """The paired uint8 arrays of :func:`fit`, validated."""
    source, target = np.asarray(source), np.asarray(target)
    if source.ndim != 4 or target.ndim != 4 or source.shape[:3] != target.shape[:3]:
        raise ValueError(f"source and target must be (N, H, W, C) arrays with equal N, H, W; "
                         f"got {source.shape} and {target.shape}")
    if len(source) == 0:
        raise ValueError("source and target hold no images; give at least one pair")
    if source.dtype != np.uint8 or target.dtype != np.uint8:
        raise ValueError(f"source and target must be uint8 images; got {source.dtype} and {target.dtype}")
    if image_size is not None and tuple(_as_size(image_size)) != source.shape[1:3]:
        raise ValueError(f"image_size {image_size!r} does not match the images ({source.shape[1:3]})")
    return source, target


def _check_positive_ints(**values):
    for name, v in values.items():
        if not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"{name} must be a positive int; got {v!r}")


def _restore(model, out_dir, keep_checkpoints):
    """Checkpoint manager of ``model`` in ``out_dir``, restored from its latest checkpoint if any.

    Returns
    -------
    manager : tf.train.CheckpointManager
    start : int
        Epochs already done (0 for a new run).
    """
    ckpt = model.checkpoint()
    manager = tf.train.CheckpointManager(ckpt, str(out_dir / CHECKPOINT_DIR), max_to_keep=int(keep_checkpoints))
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    return manager, int(model.epoch.numpy())


def _losses_until(path, start):
    """Keep the rows of ``losses.csv`` up to epoch ``start`` (later epochs are redone) and return the path."""
    columns = ["epoch", *LOSS_COLUMNS, "seconds"]
    losses = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=columns)
    losses[losses["epoch"] <= start].to_csv(path, index=False)
    return path


def _append_losses(path, epoch, means, seconds):
    pd.DataFrame([dict(epoch=epoch, **means, seconds=seconds)]).to_csv(path, mode="a", header=False, index=False)


def _train_epoch(model, x_all, y_all, epoch, *, batch_size, seed, augment, jitter, flip, progress):
    """One pass over the pairs in the order seeded by ``(seed, epoch)``.

    Returns
    -------
    dict
        :data:`LOSS_COLUMNS` -> mean over the epoch's pairs.
    """
    n = len(x_all)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    means = dict.fromkeys(LOSS_COLUMNS, 0.0)
    steps = tqdm(range(math.ceil(n / batch_size)), desc=f"epoch {epoch}", leave=False, disable=not progress)
    for s in steps:
        idx = order[s * batch_size:(s + 1) * batch_size]
        x, y = x_all[idx], y_all[idx]
        if augment:
            x, y = augment_pair(x, y, seed=[seed, epoch, s], jitter=jitter, flip=flip)
        out = model.train_step(x, y)
        for k in LOSS_COLUMNS:
            means[k] += out[k] * len(idx) / n
        steps.set_postfix(gen_l1=f"{out['gen_l1']:.3f}", disc=f"{out['disc']:.3f}", refresh=False)
    return means


def _save_panel(model, source, target, path, epoch):
    fig = plots.plot_gan_panel(source, target, model.generate(source), path=path, title=f"epoch {epoch}")
    plt.close(fig)


def fit(source, target, out_dir, *, epochs=300, batch_size=1, image_size=None, depth=None, l1_weight=100.0,
        learning_rate=2e-4, beta_1=0.5, augment=False, jitter=30 / 256, flip=False, seed=0,
        checkpoint_every=10, keep_checkpoints=2, panel_epochs=None, panel_source=None, panel_target=None,
        jit_compile=False, residual=False, precision="float32", progress=True):
    """Train pix2pix on paired images, resumably.

    Everything lands in ``out_dir``: ``train_params.json`` (the parameters and
    a fingerprint of the data), ``checkpoints/`` (``tf.train.Checkpoint`` of
    both networks, both optimisers and the epoch, every ``checkpoint_every``
    epochs and at the end), ``losses.csv`` (one row per epoch: ``epoch,
    gen_total, gen_gan, gen_l1, disc, seconds``, means over the epoch's
    steps), ``panels/epoch_NNNN.png`` and ``generator.keras``. Calling again
    with the same folder resumes after the last checkpoint (finished epochs
    are not redone; a larger ``epochs`` trains further); other parameters or
    data raise ``ValueError`` instead of mixing two runs.

    Batches follow a permutation seeded by ``(seed, epoch)``, so a resumed run
    sees the same order as an uninterrupted one.

    Parameters
    ----------
    source, target : uint8 array (N, H, W, C)
        Paired images (row i of ``source`` pairs with row i of ``target``).
    out_dir : path
    epochs : int > 0
        Total epochs (the thesis: 300).
    batch_size : int > 0
        The thesis: 1.
    image_size : ignored if None; else must equal ``(H, W)`` of the data.
    depth, l1_weight, learning_rate, beta_1, seed, jit_compile, residual :
        See :class:`Pix2Pix`.
    precision : {"float32", "mixed_bfloat16", "auto"}
        Dtype policy of both networks (:class:`Pix2Pix`). The resolved policy
        is stored in ``train_params.json``: resuming a run with another one
        (e.g. ``"auto"`` on a machine where it resolves differently) raises
        ``ValueError``. ``losses.csv`` is float32 either way.
    augment, jitter, flip :
        See :func:`augment_pair` (off by default, as in the thesis).
    checkpoint_every : int > 0
        Epochs between checkpoints.
    keep_checkpoints : int > 0
        Checkpoints kept on disk.
    panel_epochs : int, list of int or None
        Epochs that save an input / target / generated panel (an int k = every
        k epochs and the last).
    panel_source, panel_target : uint8 array (k, H, W, C) or None
        Pairs shown in panels (default: the first two training pairs).
    progress : bool
        tqdm bars over epochs and steps.

    Returns
    -------
    model : Pix2Pix
        ``model.precision`` is the resolved policy.
    losses : pandas.DataFrame
        All epochs so far (read back from ``losses.csv``).
    """
    source, target = _check_fit_data(source, target, image_size)
    precision = devices.resolve_precision(devices.check_precision(precision), "pix2pix")
    _check_positive_ints(epochs=epochs, batch_size=batch_size, checkpoint_every=checkpoint_every,
                         keep_checkpoints=keep_checkpoints)
    panels = _epochs_to_panel(panel_epochs, epochs)
    out_dir = Path(out_dir)
    config = dict(in_channels=int(source.shape[-1]), out_channels=int(target.shape[-1]), depth=depth,
                  l1_weight=l1_weight, learning_rate=learning_rate, beta_1=beta_1, seed=seed, precision=precision)
    if residual:  # recorded only when set, so earlier runs' parameters still match
        config["residual"] = True
    _check_params(out_dir / PARAMS_FILE, dict(
        config, image_size=list(source.shape[1:3]), depth=unet_depth(source.shape[1:3], depth),
        batch_size=int(batch_size), augment=bool(augment), jitter=float(jitter), flip=bool(flip),
        n_pairs=int(len(source)), data_fingerprint=_fingerprint(source, target)))
    model = Pix2Pix(source.shape[1:3], jit_compile=jit_compile, **config)
    manager, start = _restore(model, out_dir, keep_checkpoints)
    losses_path = _losses_until(out_dir / LOSSES_FILE, start)
    if panel_source is None or len(panel_source) == 0:
        panel_source, panel_target = source[:2], target[:2]
    x_all, y_all = to_unit(source), to_unit(target)
    step_kw = dict(batch_size=batch_size, seed=seed, augment=augment, jitter=jitter, flip=flip, progress=progress)
    bar = tqdm(range(start + 1, epochs + 1), desc="epochs", initial=start, total=epochs, disable=not progress)
    try:
        for epoch in bar:
            t0 = time.perf_counter()
            means = _train_epoch(model, x_all, y_all, epoch, **step_kw)
            model.epoch.assign(epoch)
            _append_losses(losses_path, epoch, means, time.perf_counter() - t0)
            bar.set_postfix(gen_l1=f"{means['gen_l1']:.3f}", disc=f"{means['disc']:.3f}", refresh=False)
            if epoch % checkpoint_every == 0 or epoch == epochs:
                manager.save(checkpoint_number=epoch)
            if epoch in panels:
                _save_panel(model, panel_source, panel_target, out_dir / PANEL_DIR / f"epoch_{epoch:04d}.png", epoch)
    except KeyboardInterrupt:           # keep the finished epochs
        done = int(model.epoch.numpy())
        if done > start and done % checkpoint_every:
            manager.save(checkpoint_number=done)
        raise
    model.generator.save(out_dir / GENERATOR_FILE)
    return model, pd.read_csv(losses_path)


def load_generator(path):
    """A generator saved by :func:`fit` (``generator.keras``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no generator at {path}; train one with voxlib.gan.fit first")
    return keras.models.load_model(path, compile=False)


# -------------------------------------------------------------- paired data

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: Columns a ``voxlib.images.write_images`` manifest must have for :func:`load_manifest_pairs`.
MANIFEST_PAIR_COLUMNS = ["speaker", "utterance", "transform", "path", "scale", "sr", "n_freq", "n_time",
                         "source_path"]


@dataclass
class PairedImages:
    """Paired 8-bit images: row i of ``source`` goes with row i of ``target``.

    Attributes
    ----------
    names : list of str
        Pair names (utterance ids, or file stems in folder mode).
    source, target : uint8 array (N, H, W, C)
    meta : pandas.DataFrame
        One row per pair: ``utterance, source_image_path, target_image_path``
        and, for scalograms, ``transform, source_audio_path,
        target_audio_path, scale, target_scale, sr, n_freq, n_time,
        align_duration, align_lead``.
    """

    names: list
    source: np.ndarray
    target: np.ndarray
    meta: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __len__(self):
        return len(self.names)

    def subset(self, index):
        """The pairs at integer positions ``index``."""
        index = np.asarray(index, dtype=int)
        return PairedImages([self.names[i] for i in index], self.source[index], self.target[index],
                            self.meta.iloc[index].reset_index(drop=True))


def join_pairs(*parts):
    """One :class:`PairedImages` of several (e.g. the ``train`` and ``test`` of :func:`split_pairs`), in order.

    Empty parts are skipped; their ``meta`` columns (``split`` included) are kept.
    """
    parts = [p for p in parts if len(p)]
    if not parts:
        raise ValueError("join_pairs got no pairs; give at least one non-empty PairedImages")
    return PairedImages([n for p in parts for n in p.names], np.concatenate([p.source for p in parts]),
                        np.concatenate([p.target for p in parts]),
                        pd.concat([p.meta for p in parts], ignore_index=True))


def _as_channels(img, channels):
    """uint8 image (H, W) or (H, W, C) -> (H, W, channels); RGB -> gray by :func:`voxlib.images.to_gray`."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[-1] == channels:
        return img
    if channels == 3 and img.shape[-1] == 1:
        return np.repeat(img, 3, axis=-1)
    if channels == 1 and img.shape[-1] >= 3:
        return np.clip(np.rint(images.to_gray(img)), 0, 255).astype(np.uint8)[..., None]
    raise ValueError(f"cannot convert an image with {img.shape[-1]} channels to {channels}")


def _read_image(path, channels, image_size):
    """One image of a folder pair as (H, W, channels) uint8, resized (bicubic) to ``image_size`` if given.

    Folder mode pairs pixels only: a plain photo has no stored scale, and no
    scale is recorded for these pairs (the fallback only lets such files load).
    """
    img, _ = images.load_image(path, fallback_scale=SINE_SCALE)
    img = _as_channels(img, channels)
    if image_size is not None and img.shape[:2] != tuple(image_size):
        pil = Image.fromarray(img[..., 0] if channels == 1 else img)
        pil = pil.resize((image_size[1], image_size[0]), Image.Resampling.BICUBIC)
        img = _as_channels(np.asarray(pil), channels)
    return img


def _list_images(folder, what):
    folder = Path(folder)
    if not folder.is_dir():
        raise GanDataError(f"{what} {folder} is not a folder; give a folder of images ({', '.join(IMAGE_SUFFIXES)})")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise GanDataError(f"{what} {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                           f"put the paired images there")
    stems = {}
    for p in files:
        if p.stem in stems:
            raise GanDataError(f"{p} and {stems[p.stem]} have the same name; keep one image per name")
        stems[p.stem] = p
    return stems


def _check_same_size(imgs, paths):
    shapes = [im.shape for im in imgs]
    for shape, path in zip(shapes, paths):
        if shape != shapes[0]:
            raise GanDataError(f"images differ in size: {paths[0]} is {shapes[0][1]} x {shapes[0][0]} but {path} "
                               f"is {shape[1]} x {shape[0]} (width x height); pass image_size=(height, width) "
                               f"to resize them all, or resize the files")


def _check_channels(channels):
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (gray) or 3 (RGB); got {channels!r}")


def _scales(meta, column):
    return pd.to_numeric(meta[column], errors="coerce").to_numpy(float) if column in meta.columns else None


def _scale_mismatch(names, src, tgt):
    """(what differs, first item, its scale, second item, its scale), or None if all scales agree."""
    if np.isnan(src).any() or np.isnan(tgt).any():
        i = int(np.flatnonzero(np.isnan(src) | np.isnan(tgt))[0])
        return "some images have no scale", names[0], src[0], names[i], np.nan
    differ = ~np.isclose(src, tgt, rtol=SCALE_RTOL, atol=0.0)
    if differ.any():
        i = int(np.flatnonzero(differ)[0])
        return ("the source and target images of a pair differ", f"{names[i]} (source)", src[i],
                f"{names[i]} (target)", tgt[i])
    differ = ~np.isclose(src, src[0], rtol=SCALE_RTOL, atol=0.0)
    if differ.any():
        i = int(np.flatnonzero(differ)[0])
        return "the pairs differ from each other", names[0], src[0], names[i], src[i]
    return None


def _common_scale(names, meta):
    """The one image scale of a set of pairs, or None when they carry none (folder mode).

    Raises
    ------
    GanDataError
        The scales differ between the source and target of a pair or across
        pairs, or only some images have one: a pixel would not mean one
        magnitude, and :func:`write_generated` could not record the scale of
        the generated images.
    """
    src = _scales(meta, "scale")
    if src is None or len(src) == 0 or np.isnan(src).all():
        return None
    tgt = _scales(meta, "target_scale")
    tgt = src if tgt is None else tgt
    found = _scale_mismatch(list(names), src, tgt)
    if found is None:
        return float(src[0])
    what, a, sa, b, sb = found
    raise GanDataError(
        f"the paired images are not on one fixed image scale: {what} ({a}: {sa:.6g}, {b}: {sb:.6g}). Each image "
        f"was scaled to its own maximum, so a pixel means a different magnitude in each and the generated images "
        f"would have no single scale to invert. Make the images with one fixed image_scale, e.g. "
        f"gan.write_paired_images(..., scale=gan.SINE_SCALE) or "
        f"images.write_images(..., aligned=True, scale=gan.SINE_SCALE)")


def load_folder_pairs(source_dir, target_dir, *, channels=3, image_size=None, on_missing="error"):
    """Pairs from two folders holding images with the same file names.

    The general image-to-image mode (the thesis first colourised grayscale
    flower photos): ``source_dir/a.png`` pairs with ``target_dir/a.png`` (or
    ``a.jpg``: names are matched without their suffix).

    Parameters
    ----------
    source_dir, target_dir : path
    channels : {1, 3}
        Images are read as gray (1) or RGB (3).
    image_size : (int, int) or None
        Resize every image to ``(height, width)`` (bicubic); None requires
        all images to have one size.
    on_missing : {"error", "skip"}
        An image with no partner raises ``GanDataError`` naming it, or is
        left out with a warning.

    Returns
    -------
    PairedImages
        ``meta`` holds the image paths only (no scale: pixels are paired as they are).
    """
    _check_channels(channels)
    if on_missing not in ("error", "skip"):
        raise ValueError(f"on_missing must be 'error' or 'skip'; got {on_missing!r}")
    if image_size is not None:
        image_size = _as_size(image_size)
    src, tgt = _list_images(source_dir, "source_dir"), _list_images(target_dir, "target_dir")
    lonely = [src[s] for s in src if s not in tgt] + [tgt[t] for t in tgt if t not in src]
    if lonely:
        other = target_dir if lonely[0].parent == Path(source_dir) else source_dir
        msg = (f"{len(lonely)} image(s) have no partner of the same name, e.g. {lonely[0]} "
               f"(expected {Path(other) / lonely[0].stem}.*)")
        if on_missing == "error":
            raise GanDataError(msg + "; add the partner or remove the file (or pass on_missing='skip')")
        warnings.warn(msg + "; they are left out", stacklevel=2)
    names = sorted(set(src) & set(tgt))
    if not names:
        raise GanDataError(f"{source_dir} and {target_dir} share no image name; nothing to pair")
    paths_s, paths_t = [src[n] for n in names], [tgt[n] for n in names]
    x = [_read_image(p, channels, image_size) for p in paths_s]
    y = [_read_image(p, channels, image_size) for p in paths_t]
    _check_same_size(x + y, paths_s + paths_t)
    meta = pd.DataFrame({"utterance": names, "source_image_path": [str(p) for p in paths_s],
                         "target_image_path": [str(p) for p in paths_t]})
    return PairedImages(names, np.stack(x), np.stack(y), meta)


def _speaker_rows(rows, speaker, utterances):
    return rows[rows["speaker"] == speaker].set_index("utterance").loc[utterances]


def _read_manifest_images(rows, channels):
    """The images of manifest rows; an image without stored metadata takes its row's scale."""
    return [_as_channels(images.load_image(p, fallback_scale=float(scale))[0], channels)
            for p, scale in zip(rows["path"], rows["scale"])]


def load_manifest_pairs(manifest, source, target, *, transform="amor", channels=1, align_duration=None,
                        align_lead=None, on_missing="warn"):
    """Pairs of two speakers' images from an images manifest, matched by utterance.

    Parameters
    ----------
    manifest : pandas.DataFrame or path
        ``voxlib.images.write_images``'s manifest (``speaker, utterance,
        transform, path, scale, sr, n_freq, n_time, height, width,
        source_path``); any corpus with shared utterance ids works. Every
        image must be on one fixed scale (``write_images(..., scale=...)``).
    source, target : str
        Speaker labels.
    transform : str
        Which transform's images to pair.
    channels : {1, 3}
        Network channels (the thesis stacked the gray image three times).
    align_duration, align_lead : float or None
        VAD alignment of the clips (seconds), recorded for notebook 05.
    on_missing : {"warn", "error", "ignore"}
        Utterances only one speaker has.

    Returns
    -------
    PairedImages
        Sorted by utterance; ``meta`` carries ``transform``, the image
        ``scale`` (the same for every image), the source image's ``sr, n_freq,
        n_time`` and both audio paths.

    Raises
    ------
    GanDataError
        A column is missing, no image has ``transform``, or the images' scales
        differ (per-image-scaled images, e.g. notebook 01's default).
    """
    _check_channels(channels)
    if not isinstance(manifest, pd.DataFrame):
        manifest = datasets.load_manifest(manifest)
    missing = [c for c in MANIFEST_PAIR_COLUMNS if c not in manifest.columns]
    if missing:
        raise GanDataError(f"manifest lacks column(s) {missing}; make it with voxlib.images.write_images")
    rows = manifest[manifest["transform"] == transform]
    if rows.empty:
        raise GanDataError(f"manifest has no images of transform {transform!r}; "
                           f"it has {sorted(manifest['transform'].unique())}")
    paired = datasets.pair_speakers(rows, source, target, on_missing=on_missing)
    names = list(paired["utterance"])
    s, t = _speaker_rows(rows, source, names), _speaker_rows(rows, target, names)
    meta = pd.DataFrame({
        "utterance": names, "transform": transform,
        "source_image_path": list(s["path"]), "target_image_path": list(t["path"]),
        "source_audio_path": list(s["source_path"]), "target_audio_path": list(t["source_path"]),
        "scale": s["scale"].to_numpy(float), "target_scale": t["scale"].to_numpy(float),
        "sr": s["sr"].to_numpy(), "n_freq": s["n_freq"].to_numpy(), "n_time": s["n_time"].to_numpy(),
        "align_duration": align_duration, "align_lead": align_lead})
    if "split" in rows.columns:  # the run's split (notebook 01), the same side for both speakers
        meta["split"] = _pair_sides(names, list(s["split"]), list(t["split"]))
    _common_scale(names, meta)                        # before reading any image
    x, y = _read_manifest_images(s, channels), _read_manifest_images(t, channels)
    _check_same_size(x + y, list(s["path"]) + list(t["path"]))
    return PairedImages(names, np.stack(x), np.stack(y), meta)


def _pair_sides(names, source_sides, target_sides) -> list:
    """The split of each pair; a sentence on different sides for the two speakers is refused."""
    for name, a, b in zip(names, source_sides, target_sides):
        if a != b:
            raise GanDataError(f"sentence {name!r} is {a} for the source but {b} for the target in the split; "
                               "the run's split holds out sentences for every speaker (datasets.content_split)")
    return list(source_sides)


def split_pairs(pairs, *, test_size=0.25, seed=0):
    """Held-out and training pairs (sentences).

    When the pairs carry the run's split (``meta["split"]``, from notebook 01's
    ``split.csv``), it is used as is, so the sentences held out here are the
    ones no stage trains on. Otherwise a seeded share ``test_size`` is held out.
    The thesis trained on all its 90 sentences; ``test_size=0`` does that
    (whatever the split says).

    Returns
    -------
    train, test : PairedImages
        ``meta`` gains a ``split`` column.
    """
    if not 0 <= test_size < 1:
        raise ValueError(f"test_size must be in [0, 1); got {test_size!r}")
    n = len(pairs)
    if test_size > 0 and "split" in pairs.meta.columns:
        held = (pairs.meta["split"].astype(str) == "test").to_numpy()
        if held.all() or not held.any():
            raise GanDataError(f"all {n} pairs are on the {'test' if held.all() else 'train'} side of the run's "
                               "split; pairs need both (more pairs: max_pairs, or another split)")
        test_idx, train_idx = np.flatnonzero(held), np.flatnonzero(~held)
    else:
        n_test = min(n - 1, max(1, round(test_size * n))) if test_size > 0 else 0
        order = np.random.default_rng(seed).permutation(n)
        test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    train, test = pairs.subset(train_idx), pairs.subset(test_idx)
    train.meta["split"], test.meta["split"] = "train", "test"
    return train, test


def _pair_subset(corpus, source, target, max_pairs, seed, test_size=0.25):
    """Corpus rows of the two speakers' shared utterances (a seeded subset of ``max_pairs`` of them;
    with the run's ``split`` column, ``round(test_size * max_pairs)`` of them held-out sentences)."""
    pairs = datasets.pair_speakers(corpus, source, target)
    if max_pairs is not None:
        if not isinstance(max_pairs, (int, np.integer)) or max_pairs < 2:
            raise ValueError(f"max_pairs must be an int >= 2 or None; got {max_pairs!r}")
        if max_pairs < len(pairs):
            rng = np.random.default_rng(seed)
            if "split" in corpus.columns and test_size > 0:
                side = corpus[corpus["speaker"] == source].set_index("utterance")["split"]
                held = pairs["utterance"].map(side).eq("test").to_numpy()
                n_test = int(min(held.sum(), max(1, round(test_size * max_pairs))))
                keep = np.concatenate([rng.choice(np.flatnonzero(held), n_test, replace=False),
                                       rng.choice(np.flatnonzero(~held), min((~held).sum(), max_pairs - n_test),
                                                  replace=False)])
            else:
                keep = rng.choice(len(pairs), max_pairs, replace=False)
            pairs = pairs.iloc[np.sort(keep)]
    return corpus[corpus["speaker"].isin([source, target]) & corpus["utterance"].isin(pairs["utterance"])]


def _check_pair_scale(scale):
    if isinstance(scale, str) and scale == "max":
        return scale
    number = isinstance(scale, (int, float, np.integer, np.floating)) and not isinstance(scale, (bool, np.bool_))
    if not (number and np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be 'max' or a positive float such as gan.SINE_SCALE; got {scale!r}")
    return float(scale)


def write_paired_images(corpus, source, target, out_dir, *, image_size=(256, 256), sr=8000, transform="amor",
                        align_duration=3.0, align_lead=0.5, scale=SINE_SCALE, max_pairs=None, channels=1, seed=0,
                        test_size=0.25, pair_alignment="dtw", pitch_mode="convert", highpass_hz=60.0,
                        frequency_limits=None):
    """Images of two speakers' clips of the same sentences, lined up, on one fixed scale.

    The clips come from :func:`prepare_clips` (high-pass, VAD alignment, the
    source's pitch converted, the target DTW-warped onto the source's timeline;
    ``pair_alignment="vad", pitch_mode="keep", highpass_hz=None`` is the
    thesis). The images are notebook 01's recipe
    (:func:`voxlib.images.write_images`, i.e. :func:`voxlib.images.audio_to_image`
    of each clip, the target's transform re-indexed by its time map). A pixel must mean the same magnitude in every image, or
    the generator learns each image's loudness normalisation instead of the
    voice. The default scale, :data:`SINE_SCALE` = 50 log10(2) ~ 15.05, is
    the level of a full-scale sinusoid (|W| = 1 with MATLAB's L1-normalised
    analytic wavelets), so no recording in [-1, 1] realistically saturates
    and a pixel means the same magnitude in every run, profile and speaker
    pair (the embedded speech peaks near |W| = 0.46, pixel ~140).
    ``scale="max"`` instead runs a first pass (``out_dir/scan``, twice the
    CWT cost) and uses the largest image maximum, so the brightest image spans
    all 255 levels.

    Parameters
    ----------
    corpus : pandas.DataFrame
        ``voxlib.datasets.discover``'s table (``path, speaker, utterance``).
    source, target : str
        Speakers; utterances both recorded are paired.
    out_dir : path
        Where ``write_images`` puts ``<transform>/<speaker>/<utterance>.png``
        and ``manifest.csv``.
    image_size : (int, int)
        ``(height, width)``; width is time.
    sr : int
        Sample rate the audio is resampled to (Hz).
    transform : str
        A ``voxlib.transforms.TRANSFORMS`` name (the thesis: amor; notebook 05
        inverts only the CWTs amor, morse and bump).
    align_duration, align_lead : float
        VAD alignment (seconds): clip length and leading silence.
    scale : float > 0 or "max"
        Fixed image scale (the ``I`` that maps to pixel 255), or ``"max"`` = measured as above.
    max_pairs : int or None
        Keep a seeded random subset of this many pairs (quick runs). With the
        run's split in ``corpus`` (a ``split`` column, :func:`voxlib.datasets.run_split`),
        ``round(test_size * max_pairs)`` of them are held-out sentences and
        the images' manifest carries the split.
    channels : {1, 3}
    seed : int
    test_size : float
        Share of held-out sentences in the subset (see ``max_pairs``).
    pair_alignment, pitch_mode, highpass_hz :
        See :func:`prepare_clips`.
    frequency_limits : (float, float) or None
        The CWT's band in Hz (MATLAB's ``'FrequencyLimits'``); None: MATLAB's full range.

    Returns
    -------
    PairedImages
        ``meta`` also names each pair's clips (``source_plain_path``, the
        originals, the ``time_map``) and the settings notebook 05 needs.
    """
    scale = _check_pair_scale(scale)
    _check_channels(channels)
    subset = _pair_subset(corpus, source, target, max_pairs, seed, test_size)
    out_dir = Path(out_dir)
    clips = prepare_clips(subset, source, target, out_dir / "clips", sr=sr, align_duration=align_duration,
                          align_lead=align_lead, pair_alignment=pair_alignment, pitch_mode=pitch_mode,
                          highpass_hz=highpass_hz)
    common = dict(transforms=[transform], image_size=tuple(_as_size(image_size)), sr=sr, aligned=False,
                  frequency_limits=frequency_limits)
    if scale == "max":
        scan = images.write_images(clips, out_dir / "scan", scale=None, **common)
        scale = float(scan["scale"].max())
    manifest = images.write_images(clips, out_dir, scale=scale, **common)
    pairs = load_manifest_pairs(manifest, source, target, transform=transform, channels=channels,
                                align_duration=align_duration, align_lead=align_lead)
    by_role = {role: clips[clips["role"] == role].set_index("utterance").loc[pairs.names]
               for role in ("source", "target")}
    f_lo, f_hi = (None, None) if frequency_limits is None else (float(frequency_limits[0]),
                                                                float(frequency_limits[1]))
    pairs.meta = pairs.meta.assign(
        source_plain_path=list(by_role["source"]["plain_path"]),
        source_original_path=list(by_role["source"]["original_path"]),
        target_original_path=list(by_role["target"]["original_path"]),
        time_map=list(by_role["target"]["time_map"]), clip_aligned=True, f_lo=f_lo, f_hi=f_hi,
        pair_alignment=pair_alignment, pitch_mode=pitch_mode, highpass_hz=highpass_hz)
    return pairs


# ----------------------------------------------------------------- clips of a pair

#: How the two clips of a training pair are lined up before their images are made.
PAIR_ALIGNMENTS = ("dtw", "vad")
#: What happens to the source's pitch (``"keep"`` is the thesis).
PITCH_MODES = ("convert", "keep")
#: File of :func:`prepare_clips` (one row per clip) and of the pitch statistics.
CLIPS_FILE = "clips.csv"
PITCH_FILE = "pitch.json"
#: Columns of :data:`CLIPS_FILE`.
CLIP_COLUMNS = ["speaker", "utterance", "role", "split", "path", "plain_path", "original_path", "time_map"]


def _check_choice(value, allowed, name):
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r}; allowed: {', '.join(map(repr, allowed))}")
    return value


def _check_highpass(highpass_hz, sr):
    if highpass_hz is None:
        return None
    number = isinstance(highpass_hz, (int, float, np.integer, np.floating)) and not isinstance(highpass_hz, bool)
    if not (number and 0 < highpass_hz < sr / 2):
        raise ValueError(f"highpass_hz={highpass_hz!r}; expected None or a cut-off in (0, {sr / 2:g}) Hz "
                         "(the thesis: None)")
    return float(highpass_hz)


def _aligned_clip(path, sr, highpass_hz, align_duration, align_lead):
    """One recording loaded at ``sr``, high-passed, then VAD-aligned (internal). The zero-phase filter can
    overshoot full scale by a hair on the loudest clips (July's peak 1.01 after removing its drift): the clip
    is kept within [-1, 1] so it can be written as 16-bit audio unchanged."""
    y, rate = audio.load(path, sr=sr)
    y = np.clip(audio.highpass(y, rate, highpass_hz), -1.0, 1.0).astype(np.float32)
    return audio.vad_align(y, rate, duration=align_duration, lead=align_lead, path=path)


def _pitch_stats(clips, sr, who):
    try:
        return pitch.log_f0_stats(clips, sr)
    except pitch.PitchError as exc:
        raise GanDataError(f"pitch='convert' needs the {who}'s F0 on the training sentences: {exc}. "
                           "Use more pairs (max_pairs) or pitch='keep'") from exc


def prepare_clips(corpus, source, target, out_dir, *, sr=8000, align_duration=3.0, align_lead=0.5,
                  pair_alignment="dtw", pitch_mode="convert", highpass_hz=60.0, progress=True) -> pd.DataFrame:
    """The clips notebook 04 makes its images from: aligned, pitch-converted, time-warped.

    Every shared sentence of the two speakers is loaded at ``sr``, high-passed
    (:func:`voxlib.audio.highpass`) and VAD-aligned (the thesis's ``VADPAL``). Then:

    - ``pitch_mode="convert"``: the source clip is resynthesised with its F0
      mapped by the log-F0 mean/variance transform, both speakers' statistics
      estimated on the **training** sentences only (``split != "test"``)
      (:func:`voxlib.pitch.convert_pitch`, Praat's PSOLA). This clip is the
      generator's input and, in notebook 05, the phase source. ``"keep"``: the
      thesis (source pitch unchanged).
    - ``pair_alignment="dtw"``: a time map from the source's timeline to the
      target clip (DTW on MFCCs of the speech frames,
      :func:`voxlib.frames.dtw_time_map`) is saved for every pair; the target's
      image is then its own transform re-indexed onto the source's timeline,
      so the pair lines up pixel by pixel. ``"vad"``: the thesis's alignment
      (only the first word lines up).

    Parameters
    ----------
    corpus : pandas.DataFrame
        ``path, speaker, utterance`` and, for ``pitch_mode="convert"``, the run's
        ``split`` column (:func:`voxlib.datasets.run_split`); rows of the two
        speakers' shared sentences (e.g. the subset of :func:`write_paired_images`).
    source, target : str
    out_dir : path
        Writes ``source/``, ``source_plain/`` (aligned, pitch unchanged),
        ``target/``, ``time_maps/``, :data:`CLIPS_FILE` and :data:`PITCH_FILE`.
    sr : int
    align_duration, align_lead : float, seconds
    pair_alignment : {"dtw", "vad"}
    pitch_mode : {"convert", "keep"}
    highpass_hz : float or None
        High-pass cut-off before analysis (None: the thesis, no filter).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        :data:`CLIP_COLUMNS`, one row per clip (``role`` "source" or "target"),
        a corpus table for :func:`voxlib.images.write_images` (``path`` is the
        clip, ``time_map`` the target's warp or empty). ``attrs["pitch"]`` holds
        the two speakers' log-F0 statistics (or None).
    """
    _check_choice(pair_alignment, PAIR_ALIGNMENTS, "pair_alignment")
    _check_choice(pitch_mode, PITCH_MODES, "pitch_mode")
    highpass_hz = _check_highpass(highpass_hz, sr)
    out_dir = Path(out_dir)
    pairs = datasets.pair_speakers(corpus, source, target, on_missing="ignore")
    if pairs.empty:
        raise GanDataError(f"{source!r} and {target!r} share no utterance id in the corpus; pick two speakers "
                           "who read the same sentences")
    sides = (corpus[corpus["speaker"] == source].set_index("utterance")["split"].astype(str)
             if "split" in corpus.columns else None)
    loaded = []
    for rec in tqdm(pairs.to_dict("records"), desc="clips", unit="pair", disable=not progress):
        y_s = _aligned_clip(rec["source_path"], sr, highpass_hz, align_duration, align_lead)
        y_t = _aligned_clip(rec["target_path"], sr, highpass_hz, align_duration, align_lead)
        side = "train" if sides is None else sides.get(rec["utterance"], "train")
        loaded.append((rec, side, y_s, y_t))
    stats = None
    if pitch_mode == "convert":
        train = [(y_s, y_t) for _, side, y_s, y_t in loaded if side != "test"]
        if not train:
            raise GanDataError("pitch='convert' needs training sentences to estimate the F0 statistics; "
                               "every pair is held out")
        stats = {"source": _pitch_stats([s for s, _ in train], sr, f"source {source!r}"),
                 "target": _pitch_stats([t for _, t in train], sr, f"target {target!r}")}
    rows = []
    for rec, side, y_s, y_t in tqdm(loaded, desc="pitch + alignment", unit="pair", disable=not progress):
        utt = str(rec["utterance"])
        plain = audio.write_wav(out_dir / "source_plain" / f"{utt}.wav", y_s, sr, overwrite=True)
        y_in = y_s if stats is None else pitch.convert_pitch(y_s, sr, stats["source"], stats["target"])
        src = audio.write_wav(out_dir / "source" / f"{utt}.wav", y_in, sr, overwrite=True)
        tgt = audio.write_wav(out_dir / "target" / f"{utt}.wav", y_t, sr, overwrite=True)
        time_map = ""
        if pair_alignment == "dtw":
            time_map = out_dir / "time_maps" / f"{utt}.npy"
            time_map.parent.mkdir(parents=True, exist_ok=True)
            np.save(time_map, frames.dtw_time_map(y_in, y_t, sr))
        rows.append(dict(speaker=source, utterance=utt, role="source", split=side, path=str(src),
                         plain_path=str(plain), original_path=str(rec["source_path"]), time_map=""))
        rows.append(dict(speaker=target, utterance=utt, role="target", split=side, path=str(tgt),
                         plain_path=str(tgt), original_path=str(rec["target_path"]), time_map=str(time_map)))
    table = pd.DataFrame(rows, columns=CLIP_COLUMNS)
    datasets.write_manifest(table, out_dir / CLIPS_FILE)
    record = None if stats is None else {k: dataclasses.asdict(v) for k, v in stats.items()}
    (out_dir / PITCH_FILE).write_text(json.dumps({"pitch_mode": pitch_mode, "pair_alignment": pair_alignment,
                                                  "highpass_hz": highpass_hz, "log_f0": record}, indent=2))
    table.attrs["pitch"] = stats
    return table



def load_pitch_stats(clips_dir):
    """The two speakers' log-F0 statistics :func:`prepare_clips` estimated (``{"source": LogF0Stats,
    "target": LogF0Stats}``), or None when the pitch was kept."""
    path = Path(clips_dir) / PITCH_FILE
    if not path.is_file():
        raise GanDataError(f"{path}: no pitch record; prepare_clips (write_paired_images) writes it")
    record = json.loads(path.read_text()).get("log_f0")
    return None if record is None else {k: pitch.LogF0Stats(**v) for k, v in record.items()}

def unwarped_targets(pairs) -> np.ndarray:
    """The pairs' target images *without* their DTW time maps: what the thesis's VAD alignment gives.

    Made from each pair's target clip with the pairs' own recipe (transform,
    size, scale, band), so ``metrics.image_l1(pairs.source, unwarped_targets(pairs))``
    against ``metrics.image_l1(pairs.source, pairs.target)`` says what the
    alignment changes. Returns uint8 ``(N, H, W, C)`` like ``pairs.target``.
    """
    meta = pairs.meta
    if "target_audio_path" not in meta.columns:
        raise GanDataError("these pairs have no target clips (folder mode); unwarped targets need scalogram pairs")
    size = pairs.target.shape[1:3]
    out = []
    for _, m in meta.iterrows():
        y, rate = audio.load(m["target_audio_path"], sr=int(m["sr"]))
        band = None if pd.isna(m.get("f_lo", np.nan)) else (float(m["f_lo"]), float(m["f_hi"]))
        img, _ = images.audio_to_image(y, rate, m["transform"], image_size=size, scale=float(m["target_scale"]),
                                       frequency_limits=band)
        out.append(_as_channels(img, pairs.target.shape[-1]))
    return np.stack(out)

# ----------------------------------------------------------------- outputs

#: Columns of ``generated/manifest.csv`` (docs/ARCHITECTURE.md); ``transform``
#: is the wavelet the images were made with (notebook 05 inverts with it).
GENERATED_COLUMNS = ["utterance", "source_speaker", "target_speaker", "transform", "split", "path",
                     "source_image_path", "target_image_path", "source_audio_path", "target_audio_path", "scale",
                     "sr", "n_freq", "n_time", "height", "width", "align_duration", "align_lead",
                     "clip_aligned", "source_plain_path", "source_original_path", "target_original_path",
                     "f_lo", "f_hi", "pair_alignment", "pitch_mode", "generated_by"]
#: The columns every generated manifest has had (the later ones are optional to readers: an older
#: manifest is read as the thesis's VAD-aligned recordings, full band).
GENERATED_REQUIRED = GENERATED_COLUMNS[:18]
#: Per-pair values copied from the pairs' ``meta`` into each generated image's metadata.
_GENERATED_META = ("transform", "sr", "n_freq", "n_time", "align_duration", "align_lead", "clip_aligned",
                   "f_lo", "f_hi", "pair_alignment", "pitch_mode")
#: Per-pair paths copied from the pairs' ``meta`` into the generated manifest.
_GENERATED_PATHS = ("source_image_path", "target_image_path", "source_audio_path", "target_audio_path",
                    "source_plain_path", "source_original_path", "target_original_path")


def _blank_to_none(value):
    return None if value is None or (np.isscalar(value) and pd.isna(value)) else value


def _generated_rows(pairs, scale):
    """Per pair: the metadata stored with its generated image (``scale`` = the pairs' common scale)."""
    meta = pairs.meta.reset_index(drop=True)
    for name, m in zip(pairs.names, meta.to_dict("records")):
        info = {k: _blank_to_none(m.get(k)) for k in _GENERATED_META}
        paths = {k: m.get(k) for k in _GENERATED_PATHS}
        yield name, dict(info, scale=scale), dict(paths, split=_blank_to_none(m.get("split")) or "test")


def write_generated(generator, pairs, out_dir, *, source, target, mode="instance", batch_size=8):
    """Generate images for pairs and write them with notebook 01's metadata.

    Writes ``out_dir/<utterance>.png`` (gray, 8-bit; the mean of RGB outputs)
    carrying ``scale`` (the pairs' one fixed scale), ``transform, sr, n_freq,
    n_time`` so notebook 05 can turn them back into magnitudes, and
    ``out_dir/manifest.csv`` with the columns :data:`GENERATED_COLUMNS`.

    Parameters
    ----------
    generator : keras.Model
    pairs : PairedImages
        From :func:`load_manifest_pairs` / :func:`write_paired_images`
        (scalograms) or :func:`load_folder_pairs` (no scale: ``scale`` and
        ``transform`` are left empty).
    out_dir : path
    source, target : str
        Speaker labels (recorded in the manifest).
    mode, batch_size :
        See :func:`generate`.

    Returns
    -------
    generated : uint8 array (N, H, W, C)
    manifest : pandas.DataFrame

    Raises
    ------
    GanDataError
        The pairs' images are not on one fixed scale (see :func:`load_manifest_pairs`).
    """
    _common_scale(pairs.names, pairs.meta)
    generated = generate(generator, pairs.source, mode=mode, batch_size=batch_size)
    manifest = write_mapped(generated, pairs, out_dir, source=source, target=target, generated_by="pix2pix",
                            extra={"generate_mode": mode})
    return generated, manifest


def write_mapped(mapped, pairs, out_dir, *, source, target, generated_by, extra=None):
    """Write images some mapping made from ``pairs.source`` (pix2pix, the ridge baseline) for notebook 05.

    ``mapped`` is uint8 ``(N, H, W)`` or ``(N, H, W, C)`` (RGB is averaged to
    gray), row i made from pair i. Writes ``out_dir/<utterance>.png`` with the
    pairs' scale, transform and clip settings in its metadata, and
    ``out_dir/manifest.csv`` (:data:`GENERATED_COLUMNS`; ``generated_by``
    names the mapping). Returns the manifest.
    """
    scale = _common_scale(pairs.names, pairs.meta)
    mapped = np.asarray(mapped)
    if mapped.shape[0] != len(pairs):
        raise GanDataError(f"{mapped.shape[0]} mapped images for {len(pairs)} pairs; make one per pair")
    gray = mapped.astype(np.float32).mean(axis=-1) if mapped.ndim == 4 else mapped.astype(np.float32)
    gray = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    out_dir = Path(out_dir)
    rows = []
    for img, (name, info, paths) in zip(gray, _generated_rows(pairs, scale)):
        path = out_dir / f"{name}.png"
        images.save_image(path, img, dict(info, utterance=name, source_speaker=source, target_speaker=target,
                                          generated_by=f"voxlib.gan ({generated_by})", **(extra or {})))
        rows.append(dict(info, **paths, utterance=name, source_speaker=source, target_speaker=target,
                         path=str(path), height=img.shape[0], width=img.shape[1], generated_by=generated_by))
    manifest = pd.DataFrame(rows, columns=GENERATED_COLUMNS)
    datasets.write_manifest(manifest, out_dir / "manifest.csv")
    return manifest


#: Ridge penalties tried by cross-validation over the training sentences (the grid spans the
#: 64-row images' feature scale: at 1e3 the quick profile's choice sat on the old grid's edge).
RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5)


def ridge_baseline(train, pairs, out_dir, *, source, target, context=5, seed=0):
    """The non-GAN baseline: frame-wise ridge regression on the same pairs, written like pix2pix's output.

    :class:`voxlib.frames.RidgeMapping` is fitted on the training pairs
    (``train``: source image columns with ``context`` neighbours each side →
    the aligned target column; its penalty chosen by cross-validation over
    whole training sentences) and applied to every pair of ``pairs``; the
    images go through :func:`write_mapped` to ``out_dir``, so notebook 05
    turns them into sound exactly as it does the generator's.

    Returns
    -------
    model : voxlib.frames.RidgeMapping
    mapped : uint8 array (N, H, W)
    manifest : pandas.DataFrame
    """
    model = frames.RidgeMapping(context=context, alphas=RIDGE_ALPHAS, seed=seed).fit(train.source, train.target)
    mapped = model.predict(pairs.source)
    manifest = write_mapped(mapped, pairs, out_dir, source=source, target=target, generated_by="ridge",
                            extra={"ridge_alpha": float(model.alpha_), "ridge_context": int(context)})
    return model, mapped, manifest
