"""What pix2pix's networks are, and how a generator runs.

The thesis (THESIS.md §4) trained pix2pix on Amor scalograms (*escalogramas*) of the same sentences
spoken by a source and a target speaker, so that the generator learns to turn the source's image
into the target's. This module holds the thesis's U-Net generator and PatchGAN discriminator (with
the window each logit judges), the two losses, the pixel scaling of the networks' images, the
generation modes and the pair augmentation. :mod:`voxlib.gan.train` trains them.

Images enter the networks as float32 ``(N, H, W, C)`` in [-1, 1] (``pixel / 127.5 - 1``); every
8-bit image on disk is grayscale or RGB.

Generation runs by default in ``"instance"`` mode (:func:`generate`): each image normalised by its
own statistics, as every BatchNorm saw it when training at batch size 1, with dropout off. Keras's
plain inference mode (``training=False``, BatchNorm's moving averages) is available as
``"inference"``; after batch-1 training those averages do not describe what the layers saw, so its
output differs from the trained behaviour (notebook 04 scores the three modes side by side in
``image_metrics.csv``). ``"thesis"`` keeps dropout on as the thesis did.

TensorFlow and Keras are imported lazily (``voxlib._heavy``) on first use. The losses and the
augmentation use ``keras.ops`` and the TensorFlow calls (``tf.function``, ``GradientTape``,
checkpoints) all come after a network is built, so Keras always loads before TensorFlow:
TensorFlow's own import touches the ``keras`` package, and a lazily registered ``keras`` that
TensorFlow loads first is left half-initialised.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from voxlib import devices, images
from voxlib._heavy import keras
from voxlib.checks import Options, check_params

__all__ = [
    "as_size",
    "unet_depth",
    "build_generator",
    "build_discriminator",
    "receptive_field",
    "generator_loss",
    "discriminator_loss",
    "to_unit",
    "to_uint8",
    "GENERATE_MODES",
    "generate",
    "augment_pair",
]

#: Encoder filters of the thesis's 256-pixel U-Net (8 blocks, 256 -> 1 pixel).
THESIS_ENCODER_FILTERS = (64, 128, 256, 512, 512, 512, 512, 512)
#: Decoder blocks (counted from the bottleneck) that carry Dropout(0.5).
N_DROPOUT_BLOCKS = 3
#: Discriminator (PatchGAN) filters: three stride-2 blocks, then a stride-1 block.
PATCHGAN_FILTERS = (64, 128, 256, 512)
#: Kernel size of every convolution of both networks (the thesis's 4 x 4).
KERNEL = 4
INIT_STDDEV = 0.02
LEAKY_SLOPE = 0.2

# ----------------------------------------------------------------- networks


def as_size(image_size) -> tuple[int, int]:
    """``(height, width)`` of an image size given as one int (a square) or a pair.

    The pair is checked by :func:`voxlib.images.check_image_size` (two positive integers); ``ValueError``
    names ``image_size`` otherwise.
    """
    if isinstance(image_size, (int, np.integer)):
        image_size = (image_size, image_size)
    return images.check_image_size(image_size, allow_none=False)


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
    h, w = as_size(image_size)
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
    h, w = as_size(image_size)
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
    h, w = as_size(image_size)
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


# ------------------------------------------------------------- generation


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
    check_params({"mode": [Options(GENERATE_MODES)]}, {"mode": mode})
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

