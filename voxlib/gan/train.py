"""How pix2pix is trained: the model, its train step, resumable fitting with checkpoints.

:class:`Pix2Pix` holds the generator, the discriminator, their Adam optimisers and a compiled
train step; its hyperparameters are set when it is made (scikit-learn's habit) and
:meth:`Pix2Pix.fit` trains it on paired images into an output folder: ``train_params.json``,
``checkpoints/``, ``losses.csv``, ``panels/`` and ``generator.keras``. A second call on the same
folder resumes. No figure code lives here: the epoch panels are drawn by a function the caller
passes (:class:`Panels`, e.g. :func:`voxlib.plots.plot_gan_panel`).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from voxlib import devices
from voxlib._heavy import keras, tf
from voxlib.checks import Interval, Options, check_params
from voxlib.gan.pix2pix import (as_size, augment_pair, build_discriminator, build_generator,
                                discriminator_loss, generate, generator_loss, to_unit, unet_depth)

__all__ = [
    "Pix2Pix",
    "Panels",
    "LOSS_COLUMNS",
    "PARAMS_FILE",
    "LOSSES_FILE",
    "GENERATOR_FILE",
    "CHECKPOINT_DIR",
    "PANEL_DIR",
    "load_generator",
]

LOSS_COLUMNS = ("gen_total", "gen_gan", "gen_l1", "disc")
#: Files :meth:`Pix2Pix.fit` writes into its output folder.
PARAMS_FILE = "train_params.json"
LOSSES_FILE = "losses.csv"
GENERATOR_FILE = "generator.keras"
CHECKPOINT_DIR = "checkpoints"
PANEL_DIR = "panels"

#: What the hyperparameters of :class:`Pix2Pix` may be (the network builders check ``image_size``,
#: ``depth`` and ``precision``).
_MODEL_CONSTRAINTS = {
    "in_channels": [Options({1, 3})],
    "out_channels": [Options({1, 3})],
    "l1_weight": [Interval(float, 0, None)],
    "learning_rate": [Interval(float, 0, None, closed="neither")],
}
#: What the settings of :meth:`Pix2Pix.fit` may be.
_FIT_CONSTRAINTS = {name: [Interval(int, 1, None)]
                    for name in ("epochs", "batch_size", "checkpoint_every", "keep_checkpoints")}
#: Parameters a run folder written before they existed holds implicitly (its stored file lacks them).
_PARAM_DEFAULTS = {"precision": "float32"}


@dataclass(frozen=True, eq=False)
class Panels:
    """Input / target / generated panels :meth:`Pix2Pix.fit` saves as ``panels/epoch_NNNN.png``.

    Attributes
    ----------
    figure : callable
        ``figure(source, target, generated, *, path, title)`` draws one panel, saves it as a PNG at
        ``path`` and returns its matplotlib Figure (closed once saved), e.g.
        :func:`voxlib.plots.plot_gan_panel`.
    epochs : int, list of int or None
        Epochs that save a panel (an int k = every k epochs and the last; None = none).
    source, target : uint8 array (k, H, W, C) or None
        Pairs shown (default: the first two training pairs).
    """

    figure: Callable
    epochs: int | list | None
    source: np.ndarray | None = None
    target: np.ndarray | None = None


# ------------------------------------------------------------------- model


class Pix2Pix:
    """Generator, discriminator, their Adam optimisers and a compiled train step.

    The hyperparameters are set here and :meth:`fit` takes the data and the training loop's
    settings (scikit-learn's habit).

    Parameters
    ----------
    image_size : int or (int, int)
        ``(height, width)`` in pixels.
    in_channels, out_channels : {1, 3}
        Channels of source and target images.
    depth : int or None
        U-Net depth (None = :func:`voxlib.gan.pix2pix.unet_depth`).
    l1_weight : float >= 0
        lambda of the generator loss (100).
    learning_rate, beta_1 : float
        Adam settings of both networks (2e-4, 0.5).
    seed : int
        Seed of initialisers and dropout, and of the batch order and augmentation in :meth:`fit`.
    compiled : bool
        Wrap the train step in ``tf.function`` (False = eager, for debugging
        and the benchmark).
    jit_compile : bool
        Ask XLA to compile the step (``bench/gan.py`` measures whether it pays).
    residual : bool
        The generator draws the change from its input (:func:`voxlib.gan.pix2pix.build_generator`).
    precision : {"float32", "mixed_bfloat16", "auto"}
        Dtype policy of both networks (:func:`voxlib.gan.pix2pix.build_generator`); ``"auto"`` is
        resolved by :func:`voxlib.devices.resolve_precision` for ``"pix2pix"``.
        The generated images and the losses are float32 either way.

    Attributes
    ----------
    precision : str
        The resolved policy, ``"float32"`` or ``"mixed_bfloat16"``.
    config : dict
        The settings above (``precision`` resolved).
    image_size : (int, int)
        ``(height, width)``.
    in_channels, out_channels, depth, l1_weight, learning_rate, beta_1, seed, residual :
        The parameters as given (:meth:`fit` records them in ``train_params.json``).
    compiled, jit_compile : bool
    losses_ : pandas.DataFrame
        After :meth:`fit`: every epoch of the run so far (``losses.csv``).
    """

    def __init__(self, image_size=(256, 256), *, in_channels=3, out_channels=3, depth=None, l1_weight=100.0,
                 learning_rate=2e-4, beta_1=0.5, seed=0, compiled=True, jit_compile=False, residual=False,
                 precision="float32"):
        h, w = as_size(image_size)
        check_params(_MODEL_CONSTRAINTS, dict(in_channels=in_channels, out_channels=out_channels,
                                              l1_weight=l1_weight, learning_rate=learning_rate))
        self.image_size, self.in_channels, self.out_channels, self.depth = (h, w), in_channels, out_channels, depth
        self.l1_weight, self.learning_rate, self.beta_1, self.seed = l1_weight, learning_rate, beta_1, seed
        self.residual = residual
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
        """Generated images for sources; see :func:`voxlib.gan.pix2pix.generate`."""
        return generate(self.generator, source, mode=mode, batch_size=batch_size)

    def fit(self, source, target, out_dir, *, epochs=300, batch_size=1, augment=False, jitter=30 / 256, flip=False,
            checkpoint_every=10, keep_checkpoints=2, panels=None, progress=True):
        """Train on paired images, resumably.

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
            Paired images (row i of ``source`` pairs with row i of ``target``), of the model's
            ``image_size`` and channels.
        out_dir : path
        epochs : int > 0
            Total epochs (the thesis: 300).
        batch_size : int > 0
            The thesis: 1.
        augment, jitter, flip :
            See :func:`voxlib.gan.pix2pix.augment_pair` (off by default, as in the thesis).
        checkpoint_every : int > 0
            Epochs between checkpoints.
        keep_checkpoints : int > 0
            Checkpoints kept on disk.
        panels : Panels or None
            Input / target / generated panels to save while training (None: none).
        progress : bool
            tqdm bars over epochs and steps.

        Returns
        -------
        self : Pix2Pix
            Trained; ``losses_`` holds all epochs so far (read back from ``losses.csv``). The
            resolved ``precision`` is stored in ``train_params.json``: resuming a run with another
            one (e.g. ``"auto"`` on a machine where it resolves differently) raises ``ValueError``.
        """
        source, target = _check_fit_data(source, target, self.config)
        check_params(_FIT_CONSTRAINTS, dict(epochs=epochs, batch_size=batch_size, checkpoint_every=checkpoint_every,
                                            keep_checkpoints=keep_checkpoints))
        panel_epochs = _epochs_to_panel(None if panels is None else panels.epochs, epochs)
        out_dir = Path(out_dir)
        _check_run_params(out_dir / PARAMS_FILE, dict(
            self._run_config(source, target), batch_size=int(batch_size), augment=bool(augment),
            jitter=float(jitter), flip=bool(flip), n_pairs=int(len(source)),
            data_fingerprint=_fingerprint(source, target)))
        manager, start = _restore(self, out_dir, keep_checkpoints)
        losses_path = _losses_until(out_dir / LOSSES_FILE, start)
        panel_source, panel_target = _panel_pairs(panels, source, target)
        x_all, y_all = to_unit(source), to_unit(target)
        step_kw = dict(batch_size=batch_size, seed=self.seed, augment=augment, jitter=jitter, flip=flip,
                       progress=progress)
        bar = tqdm(range(start + 1, epochs + 1), desc="epochs", initial=start, total=epochs, disable=not progress)
        try:
            for epoch in bar:
                t0 = time.perf_counter()
                means = _train_epoch(self, x_all, y_all, epoch, **step_kw)
                self.epoch.assign(epoch)
                _append_losses(losses_path, epoch, means, time.perf_counter() - t0)
                bar.set_postfix(gen_l1=f"{means['gen_l1']:.3f}", disc=f"{means['disc']:.3f}", refresh=False)
                if epoch % checkpoint_every == 0 or epoch == epochs:
                    manager.save(checkpoint_number=epoch)
                if epoch in panel_epochs:
                    _save_panel(panels.figure, self, panel_source, panel_target,
                                out_dir / PANEL_DIR / f"epoch_{epoch:04d}.png", epoch)
        except KeyboardInterrupt:           # keep the finished epochs
            done = int(self.epoch.numpy())
            if done > start and done % checkpoint_every:
                manager.save(checkpoint_number=done)
            raise
        self.generator.save(out_dir / GENERATOR_FILE)
        self.losses_ = pd.read_csv(losses_path)
        return self

    def _run_config(self, source, target):
        """The model's part of ``train_params.json``: the parameters as given, ``depth`` and ``precision`` resolved."""
        config = dict(in_channels=int(source.shape[-1]), out_channels=int(target.shape[-1]),
                      depth=self.config["depth"], l1_weight=self.l1_weight, learning_rate=self.learning_rate,
                      beta_1=self.beta_1, seed=self.seed, precision=self.precision, image_size=list(source.shape[1:3]))
        if self.residual:  # recorded only when set, so earlier runs' parameters still match
            config["residual"] = True
        return config


# ------------------------------------------------------------------ training


def _fingerprint(*arrays):
    h = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _check_run_params(path, params):
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


def _check_fit_data(source, target, config):
    """The paired uint8 arrays of :meth:`Pix2Pix.fit`, validated against the model's ``config``."""
    source, target = np.asarray(source), np.asarray(target)
    if source.ndim != 4 or target.ndim != 4 or source.shape[:3] != target.shape[:3]:
        raise ValueError(f"source and target must be (N, H, W, C) arrays with equal N, H, W; "
                         f"got {source.shape} and {target.shape}")
    if len(source) == 0:
        raise ValueError("source and target hold no images; give at least one pair")
    if source.dtype != np.uint8 or target.dtype != np.uint8:
        raise ValueError(f"source and target must be uint8 images; got {source.dtype} and {target.dtype}")
    if tuple(config["image_size"]) != source.shape[1:3]:
        raise ValueError(f"image_size {tuple(config['image_size'])} of the model does not match the images "
                         f"({source.shape[1:3]}); make the Pix2Pix with image_size={source.shape[1:3]}")
    channels = (int(source.shape[-1]), int(target.shape[-1]))
    if channels != (config["in_channels"], config["out_channels"]):
        raise ValueError(f"the images have {channels[0]} -> {channels[1]} channels but the model "
                         f"{config['in_channels']} -> {config['out_channels']}; make the Pix2Pix with "
                         f"in_channels={channels[0]}, out_channels={channels[1]}")
    return source, target


def _panel_pairs(panels, source, target):
    """The pairs the panels show: the given ones, or the first two training pairs."""
    if panels is None or panels.source is None or len(panels.source) == 0:
        return source[:2], target[:2]
    return panels.source, panels.target


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


def _save_panel(figure, model, source, target, path, epoch):
    fig = figure(source, target, model.generate(source), path=path, title=f"epoch {epoch}")
    plt.close(fig)


def load_generator(path):
    """A generator saved by :meth:`Pix2Pix.fit` (``generator.keras``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no generator at {path}; train one with voxlib.gan.Pix2Pix(...).fit first")
    return keras.models.load_model(path, compile=False)
