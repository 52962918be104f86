"""How a classifier is trained and scored: images in, cached-trunk training, seeded restarts, scores.

* :func:`load_images` reads notebook 01's images as uint8 gray; :func:`prepare_images` makes
  them a network's input.
* Training uses a **cached trunk**: the frozen part runs once per image (:func:`extract_features`
  on :func:`voxlib.transfer.networks.split_trunk`'s trunk, which finds every tensor the trainable
  tail reads from it, so residual networks work), then only the tail trains for the epochs
  (:func:`train_cached`). For networks without random layers in the frozen part this gives the
  same model as :func:`fit_model` on the full graph (frozen BatchNorm runs in inference mode in
  Keras 3 either way); the EfficientNets' drop-connect layers, frozen, run in inference mode here.
* The seeds of a sweep are runs of one built network (:class:`_Built`): each seed resets it and
  draws its seeded layers again (:func:`_reinitialise`), so a seed's run does not depend on the
  runs before it.
* Evaluation (:func:`score_predictions`) is on held-out utterances, with training accuracy (the
  thesis's number) beside it.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix
from tqdm.auto import tqdm

from voxlib import devices, images, metrics
from voxlib._heavy import keras, tf
from voxlib.checks import Options, check_params
from voxlib.transfer.networks import NETWORKS, PREPROCESSORS, NetworkSpec, _compile, build_model, split_trunk

__all__ = [
    "load_images",
    "prepare_images",
    "extract_features",
    "fit_model",
    "train_cached",
    "score_predictions",
]

# ----------------------------------------------------------------------------- images

def _gray_uint8(img: np.ndarray) -> np.ndarray:
    """uint8 (H, W) from a stored image: gray as is, colour through :func:`voxlib.images.to_gray`."""
    img = np.asarray(img)
    if img.ndim == 2:
        return img
    return np.rint(np.clip(images.to_gray(img), 0, 255)).astype(np.uint8)


def load_images(paths) -> np.ndarray:
    """Read 8-bit images (:func:`voxlib.images.load_image`; plain PNG/JPEG too) -> uint8 ``(N, H, W)``.

    An image without voxlib metadata is accepted (classification needs no
    scale); colour images are made gray with :func:`voxlib.images.to_gray`.
    Raises ``ValueError`` naming two files when the images differ in size.
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise ValueError("no images to load")
    imgs = []
    for p in paths:
        img, _ = images.load_image(p, fallback_scale=np.nan)  # NaN: scale unknown, and unused here
        img = _gray_uint8(img)
        if imgs and img.shape != imgs[0].shape:
            raise ValueError(f"images of mixed sizes: {paths[0]} is {imgs[0].shape[1]}x{imgs[0].shape[0]}, "
                             f"{p} is {img.shape[1]}x{img.shape[0]}; rerun notebook 01 with one image_size")
        imgs.append(img)
    return np.stack(imgs)


def prepare_images(imgs: np.ndarray, *, size: int, preprocess: str, channels: int = 3,
                   batch_size: int = 64) -> np.ndarray:
    """uint8 gray ``(N, H, W)`` → network input float32 ``(N, size, size, channels)``.

    Bilinear antialiased resize, the gray plane repeated to ``channels``, then
    the network's preprocessing (a :data:`PREPROCESSORS` name).
    """
    imgs = np.asarray(imgs)
    if imgs.ndim != 3 or imgs.dtype != np.uint8:
        raise ValueError(f"imgs: expected uint8 (N, H, W), got {imgs.dtype} {imgs.shape}")
    check_params({"preprocess": [Options(PREPROCESSORS)]}, {"preprocess": preprocess})
    out = np.empty((len(imgs), size, size, channels), np.float32)
    for i in range(0, len(imgs), batch_size):
        x = tf.convert_to_tensor(imgs[i:i + batch_size, :, :, None].astype(np.float32))
        if x.shape[1:3] != (size, size):
            x = tf.clip_by_value(tf.image.resize(x, (size, size), method="bilinear", antialias=True), 0, 255)
        out[i:i + batch_size] = np.repeat(x.numpy(), channels, axis=-1)
    return np.asarray(PREPROCESSORS[preprocess](out), np.float32)


def extract_features(trunk, x: np.ndarray, *, batch_size: int = 32) -> list[np.ndarray]:
    """Run the frozen trunk once: list of float32 arrays, one per tail input."""
    if trunk is None:
        return [x]
    out = trunk.predict(x, batch_size=batch_size, verbose=0)
    return [np.asarray(o, np.float32) for o in (out if isinstance(out, (list, tuple)) else [out])]


# ----------------------------------------------------------------------------- training

def _batches(inputs, y, batch_size, seed, epochs):
    """A tf.data stream of ``epochs`` epochs, each shuffled by NumPy from
    ``(seed, epoch)``: the same batches for any model given the same data."""
    n = len(y)
    per_epoch = [tf.data.Dataset.from_tensor_slices(np.random.default_rng([seed, e]).permutation(n))
                 .batch(batch_size) for e in range(epochs)]
    order = per_epoch[0]
    for ds in per_epoch[1:]:
        order = order.concatenate(ds)
    xs = [tf.constant(a) for a in inputs]
    ys = tf.constant(y)

    def gather(idx):
        idx = tf.sort(idx)
        x = tuple(tf.gather(a, idx) for a in xs)
        return (x if len(x) > 1 else x[0]), tf.gather(ys, idx)

    return order.map(gather).prefetch(2), int(np.ceil(n / batch_size))


def _epoch_bar(epochs: int, desc: str):
    class Bar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, desc=desc, leave=False, unit="epoch")

        def on_epoch_end(self, epoch, logs=None):
            self.bar.set_postfix(acc=f"{(logs or {}).get('accuracy', float('nan')):.2f}", refresh=False)
            self.bar.update(1)  # one refresh per epoch

        def on_train_end(self, logs=None):
            self.bar.close()

    return Bar()


def fit_model(model, inputs, y_onehot, *, epochs: int = 10, batch_size: int = 10, seed: int = 0,
              validation=None, progress: bool | str = False) -> pd.DataFrame:
    """Train ``model`` (compiled) on ``inputs`` (array or list of arrays).

    Batches are shuffled by NumPy from ``(seed, epoch)``, so the full graph and
    the cached tail see identical batches. ``validation`` = ``(inputs, y)`` adds
    ``val_*`` columns. Returns the history, one row per epoch.
    """
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    y_onehot = np.asarray(y_onehot, np.float32)
    if validation is not None:
        vx, vy = validation
        vx = list(vx) if isinstance(vx, (list, tuple)) else [vx]
        validation = (tuple(vx) if len(vx) > 1 else vx[0], np.asarray(vy, np.float32))
    keras.utils.set_random_seed(seed)
    callbacks = [_epoch_bar(epochs, progress if isinstance(progress, str) else "epochs")] if progress else []
    data, steps = _batches(inputs, y_onehot, batch_size, seed, epochs)
    # One graph call may run several batches, but never across an epoch's end
    # (the stream holds every epoch back to back): use a divisor of the steps.
    spe = getattr(model, "steps_per_execution", 1) or 1
    if spe > 1 and steps % spe:
        model.steps_per_execution = max(d for d in range(1, spe + 1) if steps % d == 0)
        model.train_function = None
    hist = model.fit(data, epochs=epochs, steps_per_epoch=steps, verbose=0, shuffle=False,
                     validation_data=validation, validation_batch_size=max(batch_size, 32),
                     callbacks=callbacks)
    df = pd.DataFrame(hist.history)
    df.insert(0, "epoch", np.arange(1, len(df) + 1))
    return df


def train_cached(model, x_train, y_train, *, trainable_layers: int | None = 5, epochs: int = 10,
                 batch_size: int = 10, seed: int = 0, validation=None, progress=False,
                 feature_batch_size: int = 32, parts=None, features=None):
    """Cached-trunk training: frozen trunk once, then the tail for ``epochs``.

    Returns ``(history, (trunk, tail, train_features, validation_features), timings)``;
    ``model`` itself ends up trained (the tail shares its layers).
    ``validation`` = ``(x, y)`` images; ``parts`` = ``(trunk, tail)`` from an
    earlier :func:`split_trunk` of ``model`` (reusing it saves a trace);
    ``features`` = ``(train_features, validation_features)`` the trunk already
    gave for these images (the seeds of one sweep job share them).
    """
    t0 = time.perf_counter()
    trunk, tail = parts if parts is not None else split_trunk(model, trainable_layers=trainable_layers)
    if features is None:
        feats = extract_features(trunk, x_train, batch_size=feature_batch_size)
        val_feats = (extract_features(trunk, validation[0], batch_size=feature_batch_size)
                     if validation is not None else None)
    else:
        feats, val_feats = features
    val = None if validation is None else (val_feats, validation[1])
    t1 = time.perf_counter()
    hist = fit_model(tail, feats, y_train, epochs=epochs, batch_size=batch_size, seed=seed,
                     validation=val, progress=progress)
    t2 = time.perf_counter()
    return hist, (trunk, tail, feats, val), {"features_seconds": t1 - t0, "fit_seconds": t2 - t1}


# ----------------------------------------------------------------------------- evaluation

def score_predictions(y_true, proba, classes) -> dict:
    """Scores of one classifier's predictions.

    Parameters
    ----------
    y_true : array of int [shape=(N,)]
        Index of each sample's true class in ``classes``.
    proba : array [shape=(N, n_classes)]
        Predicted class probabilities.
    classes : sequence of str
        Class labels in output order.

    Returns
    -------
    dict
        ``accuracy`` (%) with its 95 % Wilson interval ``ci_low``/``ci_high``,
        ``macro_f1``, ``loss`` (log loss), ``confusion`` (DataFrame, rows
        predicted and columns true, as the thesis drew it), ``report``
        (scikit-learn's classification report as a DataFrame) and ``report_text``.
    """
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, np.float64)
    y_pred = proba.argmax(axis=1)
    labels = np.arange(len(classes))
    acc, lo, hi = metrics.accuracy_ci(y_true, y_pred)
    p_true = np.clip(proba[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    cm = confusion_matrix(y_true, y_pred, labels=labels).T
    kw = dict(labels=labels, target_names=[str(c) for c in classes], zero_division=0)
    report = pd.DataFrame(classification_report(y_true, y_pred, output_dict=True, **kw)).T
    return {"accuracy": 100 * acc, "ci_low": 100 * lo, "ci_high": 100 * hi,
            "macro_f1": metrics.macro_f1(y_true, y_pred, labels=labels), "loss": float(-np.log(p_true).mean()),
            "confusion": pd.DataFrame(cm, index=pd.Index(classes, name="predicted"),
                                      columns=pd.Index(classes, name="true")),
            "report": report, "report_text": classification_report(y_true, y_pred, **kw)}


# ----------------------------------------------------------------------------- seeded restarts

def _initialised_variable(layer, base: str):
    """The variable ``layer.<base>_initializer`` draws: ``layer.<base>``, or
    ``<base>_kernel`` / ``kernel`` where Keras names it so (SeparableConv2D's
    ``depthwise_kernel``, DepthwiseConv2D's ``kernel``); None if the layer has none."""
    for name in (base, f"{base}_kernel", "kernel" if base == "depthwise" else None):
        var = getattr(layer, name, None) if name else None
        if hasattr(var, "assign") and hasattr(var, "shape"):
            return var
    return None


def _reinitialise(layer, seed: int, index: int) -> None:
    """Draw ``layer``'s weights again from its own initialisers' distributions, seeded
    by ``(seed, index)`` alone.

    A Keras initialiser built without a seed keeps one integer drawn from Python's
    ``random`` when the layer was made: calling it again redraws the same weights
    (every sweep seed would start alike), and that integer depends on whatever
    else drew from ``random`` (a Dask worker's own threads do). So each initialiser
    is rebuilt from its config with a seed of its own, derived from ``seed``."""
    for j, attr in enumerate(sorted(a for a in dir(layer) if a.endswith("_initializer"))):
        init = getattr(layer, attr)
        var = _initialised_variable(layer, attr[: -len("_initializer")])
        if not callable(init) or var is None:
            continue
        config = init.get_config() if hasattr(init, "get_config") else {}
        if "seed" in config:
            drawn = int(np.random.default_rng([int(seed), int(index), j]).integers(1, 2 ** 31 - 1))
            init = type(init).from_config({**config, "seed": drawn})
        var.assign(init(tuple(var.shape), dtype=var.dtype))


class _Built:
    """A network built once and, for each (transform, seed), reset to its built
    weights with its seeded layers drawn again (the frozen trunk, hence its
    traced graph and its features, is shared by all seeds).

    The seeded layers are the ones that hold no pretrained weights: the new
    ``speaker`` head of an ImageNet (or weights-file) network, every trainable
    layer of a randomly initialised one (all of ``SequentialCNN``). A frozen
    random trunk keeps the weights of the build (seed 0), so the seed changes
    what training starts from and the batch order, never the features."""

    def __init__(self, network, n_classes, **kw):
        spec = NETWORKS[network]
        self.network = network
        self.precision = devices.resolve_precision(kw.get("precision", "float32"), network)
        self.model, self.label = build_model(network, n_classes, seed=0, **kw)
        self.parts = split_trunk(self.model, trainable_layers=spec.trainable_layers)
        trained = self.model.layers if spec.trainable_layers is None else self.model.layers[-spec.trainable_layers:]
        pretrained = self.label not in ("none", "random")
        self.seeded = [self.model.get_layer("speaker")] if pretrained else [lay for lay in trained if lay.weights]
        if not pretrained:  # a frozen random trunk: drawn from seed 0, whatever else used Python's random
            seeded = {id(lay) for lay in self.seeded}
            for i, layer in enumerate(self.model.layers):
                if layer.weights and id(layer) not in seeded:
                    _reinitialise(layer, 0, i)
        self.initial = self.model.get_weights()

    def reset(self, seed: int):
        self.model.set_weights(self.initial)
        keras.utils.set_random_seed(int(seed))
        for i, layer in enumerate(self.seeded):
            _reinitialise(layer, seed, i)
        # layers with their own random streams (Dropout): restart them from the seed,
        # so a seed's run does not depend on the runs before it in this process
        streams = [g for lay in self.model.layers for g in getattr(lay, "_seed_generators", ())]
        for i, gen in enumerate(streams):
            gen.state.assign(np.array([np.random.default_rng([int(seed), i]).integers(2 ** 31), 0], np.int64))
        _compile(self.parts[1])
        return self


def _train_and_score(built: _Built, spec: NetworkSpec, x, y, train, classes, *, epochs, batch_size, seed,
                     progress, features=None):
    """Train ``built`` on the ``train`` rows (cached trunk) and score both sides.
    ``features``: a dict the trunk's features of ``x`` are kept in (filled on
    first use), so the seeds of one job compute them once.
    Returns ``(history, train_scores, test_scores, timing)``."""
    eye = np.eye(len(classes), dtype=np.float32)
    model = built.reset(seed).model
    cached = None
    if features is not None and "train" in features:
        cached = (features["train"], features["test"])
    hist, (_, tail, f_tr, (f_te, _)), timing = train_cached(
        model, x[train], eye[y[train]], trainable_layers=spec.trainable_layers, epochs=epochs,
        batch_size=batch_size, seed=seed, validation=(x[~train], eye[y[~train]]), progress=progress,
        parts=built.parts, features=cached)
    if features is not None:
        if cached is None:
            features.update(train=f_tr, test=f_te, seconds=timing["features_seconds"])
        timing["features_seconds"] = features["seconds"]  # the shared cost, on every seed's row
    ev_tr = score_predictions(y[train], tail.predict(_one(f_tr), verbose=0, batch_size=64), classes)
    ev_te = score_predictions(y[~train], tail.predict(_one(f_te), verbose=0, batch_size=64), classes)
    return hist, ev_tr, ev_te, timing


def _one(feats):
    return tuple(feats) if len(feats) > 1 else feats[0]

