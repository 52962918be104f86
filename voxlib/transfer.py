"""Speaker identification by transfer learning (notebook 02, THESIS §2).

The thesis took twelve Keras ImageNet networks, replaced their top by
``Dense(n_speakers, softmax)`` on the second-to-last layer's output, froze all
layers but the last five and trained with RMSprop (10 epochs, batch 10); plus a
small CNN trained from scratch. It evaluated on its training images. Here:

* :data:`NETWORKS` is the registry (constructor, own ``preprocess_input``,
  thesis input size, epochs and batch size).
* Training uses a **cached trunk**: the frozen part runs once per image
  (:func:`split_trunk` finds every tensor the trainable tail reads from it,
  so residual networks work), then only the tail trains for the epochs. For
  networks without random layers in the frozen part this gives the same model
  as ``model.fit`` on the full graph (frozen BatchNorm runs in inference mode in
  Keras 3 either way); the EfficientNets' drop-connect layers, frozen, run in
  inference mode here.
* Evaluation is on held-out utterances (the run's split, :func:`voxlib.datasets.run_split`), with
  training accuracy (the thesis's number) beside it.
* :func:`run_sweep` appends one row per finished run to ``sweep.csv`` and
  skips rows already there; :func:`load_sweep` reads that table back. Its
  ``scheduler`` runs the (network, transform) jobs in this process or on a Dask
  cluster (:mod:`voxlib.cluster`); its ``precision`` computes in bfloat16 where
  that is faster (:mod:`voxlib.devices`).
* :func:`load_best_classifier` and :func:`classifier_image_size` hand the
  sweep's best classifier, and the image size it was trained on, to notebook 05.

ImageNet weights come from Keras's cache (``$KERAS_HOME/models`` or
``~/.keras/models``), each checked against its hash. A missing file is fetched
by Keras as for any online user, unless ``$VOXLIB_OFFLINE`` is set; model
building itself never downloads (:class:`_NoDownload`). MobileNetV2's file,
which Keras does not hash, is pinned here (:data:`MOBILENET_V2_SHA256`) and
installed offline by ``scripts/seed_keras_cache.py``.

TensorFlow and Keras are imported lazily (``voxlib._heavy``) on first use, so
``import voxlib.transfer`` stays fast.
"""
from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import librosa
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report, confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from voxlib import audio, cluster, datasets, devices, images, metrics, speaker
from voxlib._heavy import keras, tf


__all__ = [
    "NETWORKS",
    "PREPROCESSORS",
    "SWEEP_COLUMNS",
    "NetworkSpec",
    "MissingWeightsError",
    "Classifier",
    "keras_cache_dir",
    "imagenet_weights_path",
    "build_model",
    "split_trunk",
    "prepare_images",
    "load_images",
    "extract_features",
    "fit_model",
    "train_cached",
    "score_predictions",
    "run_one",
    "run_sweep",
    "BASELINES",
    "BASELINE_TRANSFORM",
    "is_baseline",
    "mfcc_statistics",
    "baseline_features",
    "baseline_classifier",
    "run_baseline",
    "layer_table",
    "load_sweep",
    "save_classifier",
    "load_classifier",
    "load_best_classifier",
    "classifier_image_size",
    "MOBILENET_V2_SHA256",
]


# ----------------------------------------------------------------------------- registry

@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """One entry of :data:`NETWORKS`.

    ``module``/``constructor`` name a Keras Applications builder (``None`` for
    the from-scratch CNN); ``preprocess`` names an entry of :data:`PREPROCESSORS`;
    ``weights_file``/``weights_hash`` are the ImageNet file (include_top) Keras
    caches under ``models/`` and the hash it must have (md5 or sha256 hex; the
    one Keras checks, or voxlib's pin where Keras checks none; ``None``: unchecked);
    ``trainable_layers`` is the thesis's freeze rule (``None``: all trainable).
    """

    name: str
    module: str | None
    constructor: str | None
    input_size: int
    preprocess: str
    weights_file: str | None = None
    weights_hash: str | None = None
    min_size: int = 32
    channels: int = 3
    trainable_layers: int | None = 5
    epochs: int = 10
    batch_size: int = 10
    native_size: int | None = None  # size of the ImageNet weights file's model when != input_size


def _app(name, module, constructor, size, weights_file, weights_hash, **kw):
    return NetworkSpec(name=name, module=module, constructor=constructor, input_size=size,
                       preprocess=module, weights_file=weights_file, weights_hash=weights_hash, **kw)


_TF = "_weights_tf_dim_ordering_tf_kernels.h5"
#: SHA-256 of ``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5`` (14 536 120 bytes;
#: md5 321911b381f6fd09b744356f6796ee18). Keras's mobilenet_v2.py passes no file_hash to get_file,
#: so voxlib pins the file itself; scripts/seed_keras_cache.py installs it and reads this value.
MOBILENET_V2_SHA256 = "3e195a2857356cfc092cbbb460beb2a5bce279015d7792598b8d3d9e451902e3"
NETWORKS: dict[str, NetworkSpec] = {
    s.name: s
    for s in [
        _app("ResNet152", "resnet", "ResNet152", 224, "resnet152" + _TF, "100835be76be38e30d865e96f2aaae62"),
        _app("InceptionV3", "inception_v3", "InceptionV3", 299, "inception_v3" + _TF,
             "9a0d58056eeedaa3f26cb7ebd46da564", min_size=75),
        _app("InceptionResNetV2", "inception_resnet_v2", "InceptionResNetV2", 299, "inception_resnet_v2" + _TF,
             "e693bd0210a403b3192acc6073ad2e96", min_size=75),
        _app("DenseNet201", "densenet", "DenseNet201", 224, "densenet201" + _TF, "1ceb130c1ea1b78c3bf6114dbdfd8807"),
        _app("Xception", "xception", "Xception", 299, "xception" + _TF, "0a58e3b7378bc2990ea3b43d5981f1f6",
             min_size=71),
        _app("ResNet101", "resnet", "ResNet101", 224, "resnet101" + _TF, "f1aeb4b969a6efcfb50fad2f0c20cfc5"),
        # Keras pins no hash for MobileNet (v1) and voxlib has no reference copy to pin one from.
        _app("MobileNet", "mobilenet", "MobileNet", 224, "mobilenet_1_0_224_tf.h5", None),
        _app("MobileNetV2", "mobilenet_v2", "MobileNetV2", 224,
             "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5", MOBILENET_V2_SHA256),
        _app("NASNetMobile", "nasnet", "NASNetMobile", 224, "nasnet_mobile.h5", "020fb642bf7360b370c678b08e0adf61"),
        _app("EfficientNetB0", "efficientnet", "EfficientNetB0", 224, "efficientnetb0.h5",
             "902e53a9f72be733fc0bcb005b3ebbac"),
        # The thesis fed the EfficientNets 224 px; their ImageNet models are 300 and 600 px.
        _app("EfficientNetB3", "efficientnet", "EfficientNetB3", 224, "efficientnetb3.h5",
             "ffd1fdc53d0ce67064dc6a9c7960ede0", native_size=300),
        _app("EfficientNetB7", "efficientnet", "EfficientNetB7", 224, "efficientnetb7.h5",
             "8c03f828fec3ef71311cd463b6759d99", native_size=600),
        NetworkSpec("SequentialCNN", None, None, 256, "scale01", channels=1, trainable_layers=None,
                    epochs=20, batch_size=32),
    ]
}
# MobileNet/MobileNetV2 have one ImageNet file per input size; only the 224 one is
# obtainable offline, so other sizes copy its weights layer by layer (FACTS.md).
_COPY_WEIGHTS = {"MobileNet", "MobileNetV2"}


def _keras_preprocess(module: str):
    def fn(x):
        return getattr(keras.applications, module).preprocess_input(x)
    fn.__name__ = f"{module}.preprocess_input"
    return fn


def _scale01(x):
    return x / np.float32(255.0)


#: name -> function(float32 (N, S, S, C) in [0, 255]) -> network input
PREPROCESSORS = {m: _keras_preprocess(m) for m in {s.module for s in NETWORKS.values() if s.module}}
PREPROCESSORS["scale01"] = _scale01


def _spec(network: str) -> NetworkSpec:
    if network not in NETWORKS:
        raise ValueError(f"network={network!r} is not in the registry; choose from {', '.join(NETWORKS)}")
    return NETWORKS[network]


# ----------------------------------------------------------------------------- weights

class MissingWeightsError(FileNotFoundError):
    """An ImageNet weights file is not in Keras's cache, or fails its hash check
    (the message names the file and how to put the right one there)."""


def keras_cache_dir() -> Path:
    """Folder where Keras looks for application weights: ``$KERAS_HOME/models``
    or ``~/.keras/models`` (``/tmp/.keras/models`` when the home is read-only)."""
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = Path.home()
        home = (base if os.access(base, os.W_OK) else Path("/tmp")) / ".keras"
    return Path(home).expanduser() / "models"


def imagenet_weights_path(network: str) -> Path:
    """Where the ImageNet weights file of ``network`` must be (it may not exist)."""
    spec = _spec(network)
    if spec.weights_file is None:
        raise ValueError(f"network {network!r} is trained from scratch; it has no ImageNet weights")
    return keras_cache_dir() / spec.weights_file


def _file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, remembered per (path, size, mtime): a sweep builds a
    network once per transform and an EfficientNetB7 file is 260 MB."""
    st = path.stat()
    return _cached_digest(str(path), st.st_size, st.st_mtime_ns, algorithm)


@functools.lru_cache(maxsize=64)
def _cached_digest(path: str, size: int, mtime_ns: int, algorithm: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


def _hash_ok(path: Path, expected: str | None) -> bool:
    if expected is None:
        return True
    # Keras's hashes are md5 (32 hex) or sha256 (64 hex); voxlib's pins are sha256
    return _file_digest(path, "sha256" if len(expected) == 64 else "md5") == expected


_WARNED_RANDOM: set[str] = set()
OFFLINE_ENV = "VOXLIB_OFFLINE"
_SEED_SCRIPT = {"MobileNetV2": "scripts/seed_keras_cache.py"}  # networks whose file a script installs


def _downloads_allowed() -> bool:
    """Keras may fetch missing ImageNet files unless ``$VOXLIB_OFFLINE`` is set (the tests set it)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("", "0", "false", "no")


def _bad_hash(spec: NetworkSpec) -> str:
    algorithm = "sha256" if len(spec.weights_hash) == 64 else "md5"
    return f"does not have its pinned {algorithm} hash {spec.weights_hash} (a corrupt or different file)"


def _download_imagenet(spec: NetworkSpec) -> str | None:
    """Let Keras download ``spec``'s ImageNet file into its cache, as it does for any
    user online. Returns None on success, else the reason (shown in the one message)."""
    try:
        getattr(keras.applications, spec.constructor)(include_top=True, weights="imagenet")
    except Exception as exc:  # offline: URLError, socket errors, HTTP errors
        return f"is missing and Keras could not download it ({type(exc).__name__}: {str(exc)[:120]})"
    path = keras_cache_dir() / spec.weights_file
    if not path.is_file():
        return "is missing (Keras downloaded a file of another name)"
    return None if _hash_ok(path, spec.weights_hash) else _bad_hash(spec)


def _weights_problem(spec: NetworkSpec, *, download: bool = True) -> str | None:
    """None when ``spec``'s ImageNet file is in the cache with its hash (after letting
    Keras fetch a missing one when downloads are allowed), else what is wrong with it."""
    path = keras_cache_dir() / spec.weights_file
    if path.is_file():
        return None if _hash_ok(path, spec.weights_hash) else _bad_hash(spec)
    if download and _downloads_allowed():
        return _download_imagenet(spec)
    return "is missing"


def _weights_fix(spec: NetworkSpec) -> str:
    """The sentence that says how to put ``spec``'s file in place."""
    path = keras_cache_dir() / spec.weights_file
    fix = (f"Online, Keras fetches it into that cache; offline, copy {spec.weights_file} into {path.parent} "
           "(set KERAS_HOME to use another cache)")
    if spec.name in _SEED_SCRIPT:
        fix = f"Rerun {_SEED_SCRIPT[spec.name]} (it installs the verified file there), or: " + fix[0].lower() + fix[1:]
    return fix


def _resolve_weights(spec: NetworkSpec, weights, on_missing_weights: str):
    """-> (kind, path, label): kind in {"imagenet", "none", "file"}; label goes in sweep.csv."""
    if on_missing_weights not in ("error", "random"):
        raise ValueError(f"on_missing_weights={on_missing_weights!r}; allowed: 'error', 'random'")
    if weights is None or weights == "none":
        return "none", None, "none"
    if weights != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"weights={str(weights)!r}: no such file; allowed: 'imagenet', 'none' "
                                    "or the path of a .h5/.weights.h5/.keras file")
        return "file", path, path.name
    if spec.weights_file is None:  # the from-scratch CNN
        return "none", None, "none"
    path = keras_cache_dir() / spec.weights_file
    problem = _weights_problem(spec)
    if problem is None:
        return "imagenet", path, "imagenet"
    msg = f"ImageNet weights for {spec.name}: {path} {problem}. {_weights_fix(spec)}"
    if on_missing_weights == "error":
        raise MissingWeightsError(msg + "; or pass on_missing_weights='random' / weights='none'")
    if spec.name not in _WARNED_RANDOM:
        _WARNED_RANDOM.add(spec.name)
        warnings.warn(msg + "; continuing with RANDOM weights (recorded as weights=random)", stacklevel=3)
    return "none", None, "random"


# ----------------------------------------------------------------------------- models

def _size_for(spec: NetworkSpec, image_size) -> int:
    if isinstance(image_size, dict):
        image_size = image_size.get(spec.name)
    size = spec.input_size if image_size is None else int(image_size)
    if size < spec.min_size:
        raise ValueError(f"image_size={size} is below {spec.name}'s minimum of {spec.min_size} px")
    return size


def _sequential_cnn(size: int, n_classes: int):
    """THESIS §2 baseline: grayscale size x size in [0, 1]."""
    layers = keras.layers
    return keras.Sequential([
        keras.Input((size, size, 1)),
        layers.Conv2D(32, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 2, padding="same"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(100, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(n_classes, activation="softmax", name="speaker", dtype="float32"),
    ], name="SequentialCNN")


def _copy_weights(src, dst) -> None:
    """Copy weights layer by layer (layers with weights, in order; shapes must agree)."""
    a = [lay for lay in src.layers if lay.weights]
    b = [lay for lay in dst.layers if lay.weights]
    if len(a) != len(b):
        raise RuntimeError(f"cannot copy weights: {len(a)} vs {len(b)} layers with weights")
    for la, lb in zip(a, b):
        lb.set_weights(la.get_weights())


class _NoDownload:
    """Inside this context Keras's ``get_file`` returns ``path`` for its file name and
    refuses anything else: Keras Applications can never reach the network."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        # Keras's private module (no public hook); imported here, when Keras is loaded anyway
        from keras.src.utils import file_utils
        self.module, self.original = file_utils, file_utils.get_file

        def get_file(fname=None, origin=None, **kwargs):
            if fname == self.path.name:
                return str(self.path)
            raise MissingWeightsError(f"Keras asked for {fname} ({origin}); voxlib downloads nothing. "
                                      f"Put that file in {self.path.parent}")
        file_utils.get_file = get_file
        return self

    def __exit__(self, *exc):
        self.module.get_file = self.original


def _base_model(spec: NetworkSpec, size: int, kind: str, path: Path | None):
    ctor = getattr(keras.applications, spec.constructor)
    shape = (size, size, 3)
    if kind != "imagenet":
        base = ctor(include_top=True, weights=None, input_shape=shape)
        if kind == "file":
            try:
                base.load_weights(str(path))
            except Exception as exc:
                raise ValueError(f"weights file {path} does not fit {spec.name} at {size} px ({exc}); "
                                 f"save it from keras.applications.{spec.constructor}(include_top=True)") from exc
        return base
    native = spec.native_size or spec.input_size
    with _NoDownload(path):  # weights="imagenet" keeps Keras's ImageNet-only layers (EfficientNet)
        if size == native:
            return ctor(include_top=True, weights="imagenet")
        if spec.name in _COPY_WEIGHTS:
            base = ctor(include_top=True, weights=None, input_shape=shape)
            _copy_weights(ctor(include_top=True, weights="imagenet"), base)
            return base
        # Other sizes: the ImageNet graph built on an input of this size (weights are size-free).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return ctor(include_top=True, weights="imagenet", input_tensor=keras.Input(shape))


def build_model(
    network: str,
    n_classes: int,
    *,
    image_size: int | None = None,
    weights: str | os.PathLike | None = "imagenet",
    on_missing_weights: str = "error",
    seed: int = 0,
    precision: str = "float32",
):
    """The thesis's classifier for one registry network.

    Parameters
    ----------
    network : str, key of :data:`NETWORKS`
    n_classes : int >= 2
    image_size : int or None
        Square input size (px); ``None`` is the thesis's size for ``network``.
    weights : "imagenet", "none" or path
        ImageNet weights from Keras's cache, random initialisation, or a
        weights file of the base network (include_top) at this size.
    on_missing_weights : "error" or "random"
        When the ImageNet file is not cached: raise :class:`MissingWeightsError`
        naming the file and where to put it, or warn once and use random weights.
    seed : int
        Seeds the random initialisation (head and, without weights, the base).
    precision : {"float32", "mixed_bfloat16", "auto"}
        Keras's dtype policy the model is built with (:mod:`voxlib.devices`):
        ``"mixed_bfloat16"`` computes in bfloat16 with float32 weights; the
        softmax head stays float32 either way. ``"auto"``: bfloat16 only where
        :func:`voxlib.devices.resolve_precision` finds it faster for ``network``.

    Returns
    -------
    model : keras.Model
        ``layers[-2]`` output of the base → ``Dense(n_classes, softmax)``; all
        layers but the last five frozen (none for ``SequentialCNN``); compiled
        with RMSprop (default learning rate) and categorical cross-entropy.
    weights_label : str
        ``imagenet``, ``random``, ``none`` or the weights file's name.
    """
    spec = _spec(network)
    if int(n_classes) < 2:
        raise ValueError(f"n_classes={n_classes}; need at least 2 speakers")
    size = _size_for(spec, image_size)
    policy = devices.resolve_precision(precision, spec.name)
    kind, path, label = _resolve_weights(spec, weights, on_missing_weights)
    keras.utils.set_random_seed(seed)
    with devices.precision_policy(policy):
        if spec.constructor is None:
            model = _sequential_cnn(size, int(n_classes))
            if kind == "file":
                model.load_weights(str(path))
        else:
            base = _base_model(spec, size, kind, path)
            head = keras.layers.Dense(int(n_classes), activation="softmax", name="speaker", dtype="float32")
            model = keras.Model(base.input, head(base.layers[-2].output), name=spec.name)
            for layer in model.layers[: -spec.trainable_layers]:
                layer.trainable = False
    _compile(model)
    return model, label


# The tail is tiny: per-batch Python overhead, not arithmetic, dominates its fit.
TAIL_STEPS_PER_EXECUTION = 16


def _compile(model, *, steps_per_execution: int = 1) -> None:
    """RMSprop (Keras default rate) + categorical cross-entropy, as the thesis.
    ``steps_per_execution`` > 1 runs several batches per graph call: it only
    removes per-step Python overhead, the updates are the same."""
    model.compile(optimizer=keras.optimizers.RMSprop(), loss="categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=steps_per_execution)


def split_trunk(model, *, trainable_layers: int | None = 5):
    """Split ``model`` into its frozen trunk and its trainable tail.

    Returns ``(trunk, tail)``: ``trunk`` maps the images to every tensor the
    last ``trainable_layers`` layers read from the earlier ones (a list, in a
    fixed order); ``tail`` maps those tensors to the output and shares its
    layers (weights) with ``model``, so training ``tail`` trains ``model``.
    ``trunk`` is ``None`` when ``trainable_layers`` is ``None`` (nothing frozen).
    """
    if trainable_layers is None:
        return None, model
    tail_ops = {id(lay) for lay in model.layers[-trainable_layers:]}
    boundary = []
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            if id(node.operation) not in tail_ops:
                continue
            for t in node.input_tensors:
                if id(t._keras_history.operation) not in tail_ops and all(t is not b for b in boundary):
                    boundary.append(t)
    boundary.sort(key=lambda t: t.name)
    trunk = keras.Model(model.input, boundary, name=f"{model.name}_trunk")
    tail = keras.Model(boundary, model.output, name=f"{model.name}_tail")
    _compile(tail, steps_per_execution=TAIL_STEPS_PER_EXECUTION)
    return trunk, tail


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
    if preprocess not in PREPROCESSORS:
        raise ValueError(f"preprocess={preprocess!r}; allowed: {', '.join(PREPROCESSORS)}")
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


# ----------------------------------------------------------------------------- saving / loading

class Classifier:
    """A trained speaker classifier that takes notebook 01's images.

    Attributes ``model``, ``classes`` (list, output order), ``network``,
    ``transform``, ``image_size``, ``preprocess``, ``channels``.
    """

    def __init__(self, model, meta: dict):
        self.model = model
        self.meta = dict(meta)
        self.classes = list(meta["classes"])
        self.network = meta["network"]
        self.transform = meta.get("transform")
        self.image_size = int(meta["image_size"])
        self.preprocess = meta["preprocess"]
        self.channels = int(meta["channels"])

    def predict_images(self, imgs: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        """uint8 gray ``(N, H, W)`` → class probabilities float32 ``(N, n_classes)``."""
        imgs = np.asarray(imgs)
        if imgs.ndim == 2:
            imgs = imgs[None]
        x = prepare_images(imgs, size=self.image_size, preprocess=self.preprocess, channels=self.channels)
        return np.asarray(self.model.predict(x, batch_size=batch_size, verbose=0), np.float32)

    def __repr__(self):
        return (f"Classifier({self.network}, transform={self.transform}, {self.image_size}px, "
                f"{len(self.classes)} classes)")


def save_classifier(model, path, meta: dict) -> Path:
    """Save ``model`` as ``.keras`` plus a JSON sidecar (``meta``: classes in
    output order, network, transform, image_size, preprocess, channels...)."""
    return _write_classifier(_model_bytes(model), path, meta)


def _model_bytes(model) -> bytes:
    """``model`` as the bytes of its ``.keras`` file (how a Dask worker hands it back)."""
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "model.keras"
        model.save(file)
        return file.read_bytes()


def _write_classifier(data: bytes, path, meta: dict) -> Path:
    """Write a ``.keras`` file's bytes atomically, plus its JSON sidecar ``meta``."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path={str(path)!r}: a classifier is saved as .keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.keras")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=str))
    return path


def load_classifier(model_path) -> Classifier:
    """Load a classifier saved by :func:`run_sweep` (``safe_mode=True``)."""
    path = Path(model_path)
    side = path.with_suffix(".json")
    for p in (path, side):
        if not p.is_file():
            raise FileNotFoundError(f"{p} not found; run notebook 02 (run_sweep) to make the classifier")
    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    return Classifier(model, json.loads(side.read_text()))


# ----------------------------------------------------------------------------- sweep

SWEEP_COLUMNS = [
    "network", "transform", "weights", "image_size", "epochs", "batch_size", "precision", "seed", "data_fingerprint",
    "n_classes", "n_train", "n_test", "train_accuracy", "test_accuracy", "test_ci_low", "test_ci_high",
    "macro_f1", "train_loss", "test_loss", "features_seconds", "fit_seconds", "model_path",
    "history_path", "confusion_path", "report_path", "finished_at",
]
_KEY = ["network", "transform", "weights", "image_size", "epochs", "batch_size", "precision", "seed",
        "data_fingerprint"]
#: ``precision`` of a sweep row written before that column existed, and of a baseline (scikit-learn, float64)
_OLD_PRECISION, _BASELINE_PRECISION = "float32", "float64"
_MANIFEST_REQUIRED = ("speaker", "utterance", "transform", "path")
_SWEEP_PRODUCER = "notebook 02 (02_transfer_learning.ipynb) writes <run_dir>/sweep/sweep.csv"


def _output_shape(layer) -> str:
    try:
        return str(tuple(layer.output.shape[1:]))
    except (AttributeError, ValueError):  # a layer called more than once has no single output
        return "multiple"


def layer_table(model, *, last: int | None = 8) -> pd.DataFrame:
    """The last layers of ``model``: what the freeze rule leaves trainable, or a
    generator's blocks.

    Parameters
    ----------
    model : keras.Model
        Any built Keras model (a classifier of :func:`build_model`, the pix2pix
        generator or discriminator of :mod:`voxlib.gan`).
    last : int or None
        How many layers, counted from the output; ``None``: every layer.

    Returns
    -------
    pd.DataFrame
        One row per layer, in order: ``layer`` (name), ``type`` (class name),
        ``output`` (shape without the batch axis), ``trainable``, ``parameters``.
    """
    if last is not None and int(last) < 1:
        raise ValueError(f"last={last!r}: give a number of layers >= 1, or None for every layer")
    chosen = model.layers if last is None else model.layers[-int(last):]
    rows = [{"layer": lay.name, "type": type(lay).__name__, "output": _output_shape(lay),
             "trainable": bool(lay.trainable),
             "parameters": int(sum(np.prod(w.shape) for w in lay.weights))}
            for lay in chosen]
    return pd.DataFrame(rows, columns=["layer", "type", "output", "trainable", "parameters"])


def load_sweep(path) -> pd.DataFrame:
    """The raw ``sweep.csv`` of :func:`run_sweep`, every row, ``*_path`` columns
    made absolute; an empty table with :data:`SWEEP_COLUMNS` if the file is absent.

    :func:`voxlib.results.load_runs` validates this table and keeps, per (network,
    transform), every seed of its latest settings.

    Raises
    ------
    ValueError
        The file exists but is not a readable CSV (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=SWEEP_COLUMNS)
    try:
        table = datasets.load_manifest(path)
        if "precision" not in table.columns:  # a sweep.csv from before the column: every run was float32
            table.insert(min(SWEEP_COLUMNS.index("precision"), table.shape[1]), "precision", _OLD_PRECISION)
        return table
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"sweep table {path} is not a readable CSV file ({exc}); delete it and rerun "
                         "notebook 02, which rewrites it") from exc


def _append_row(path: Path, row: dict) -> None:
    """Append one row atomically (rewrite to a temp file, then rename)."""
    old = load_sweep(path)
    new = pd.DataFrame([row], columns=SWEEP_COLUMNS)
    datasets.write_manifest(new if old.empty else pd.concat([old, new], ignore_index=True), path)


def _done(table: pd.DataFrame, key: dict) -> bool:
    if table.empty:
        return False
    mask = np.ones(len(table), bool)
    for k, v in key.items():
        mask &= table[k].astype(str).to_numpy() == str(v)
    return bool(mask.any())


def _per_network(value, spec: NetworkSpec, default):
    if isinstance(value, dict):
        value = value.get(spec.name)
    return default if value is None else int(value)


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


def _write_run(out_dir: Path, row: dict, artifacts: dict) -> dict:
    """Write one run's model, history, confusion matrix and report (``artifacts`` of
    :func:`_compute_one`) under ``out_dir``; return ``row`` with their paths. Only the
    process that owns ``sweep.csv`` calls this (the client, on a Dask cluster)."""
    stem = artifacts["stem"]
    paths = {k: Path(out_dir) / k / f"{stem}{ext}" for k, ext in
             [("models", ".keras"), ("history", ".csv"), ("confusion", ".csv"), ("reports", ".csv")]}
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    _write_classifier(artifacts["model"], paths["models"], artifacts["meta"])
    artifacts["history"].to_csv(paths["history"], index=False)
    artifacts["confusion"].to_csv(paths["confusion"])
    artifacts["report"].to_csv(paths["reports"])
    paths["reports"].with_suffix(".txt").write_text(artifacts["report_text"])
    return {**row, **_path_fields(paths)}


def _path_fields(paths: dict) -> dict:
    return {"model_path": str(paths["models"]), "history_path": str(paths["history"]),
            "confusion_path": str(paths["confusion"]), "report_path": str(paths["reports"])}


def _sweep_row(settings: dict, rows: pd.DataFrame, train, ev_tr: dict, ev_te: dict, timing: dict,
               paths: dict | None = None) -> dict:
    """One row of ``sweep.csv``; ``paths`` None leaves the ``*_path`` fields for :func:`_write_run`."""
    return {
        **{k: settings[k] for k in ("network", "transform", "weights", "image_size", "epochs", "batch_size",
                                    "precision", "seed")},
        "data_fingerprint": datasets.fingerprint(rows),
        "n_classes": len(settings["classes"]), "n_train": int(train.sum()), "n_test": int((~train).sum()),
        "train_accuracy": ev_tr["accuracy"], "test_accuracy": ev_te["accuracy"],
        "test_ci_low": ev_te["ci_low"], "test_ci_high": ev_te["ci_high"], "macro_f1": ev_te["macro_f1"],
        "train_loss": ev_tr["loss"], "test_loss": ev_te["loss"], **timing,
        **(_path_fields(paths) if paths is not None else {}),
        "finished_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }


def run_one(rows: pd.DataFrame, network: str, out_dir, *, image_size=None, epochs=None, batch_size=None,
            weights="imagenet", on_missing_weights="error", seed: int = 0, precision: str = "float32",
            images=None, progress=False, built=None, features=None) -> dict:
    """Train and evaluate one (network, transform, seed) on rows with a ``split``
    column; write model, history, confusion and report under ``out_dir``.
    Returns the sweep row (dict). ``precision``: see :func:`build_model`;
    ``images``: the rows' images already read (uint8 ``(N, H, W)``); ``built``: a
    reusable network; ``features``: a dict shared by the seeds of one (network,
    transform), holding the trunk's features (internal)."""
    row, artifacts = _compute_one(rows, network, image_size=image_size, epochs=epochs, batch_size=batch_size,
                                  weights=weights, on_missing_weights=on_missing_weights, seed=seed,
                                  precision=precision, images=images, progress=progress, built=built,
                                  features=features)
    return _write_run(Path(out_dir), row, artifacts)


def _compute_one(rows: pd.DataFrame, network: str, *, image_size, epochs, batch_size, weights,
                 on_missing_weights, seed, precision, images, progress, built, features) -> tuple[dict, dict]:
    """:func:`run_one` without writing: ``(row without paths, artifacts)``, artifacts
    being the model's ``.keras`` bytes, its meta, history, confusion and report."""
    spec = _spec(network)
    classes = sorted(rows["speaker"].astype(str).unique())
    size = _size_for(spec, image_size)
    epochs = _per_network(epochs, spec, spec.epochs)
    batch_size = _per_network(batch_size, spec, spec.batch_size)
    y = rows["speaker"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
    if features is not None and "x" in features:
        x = features["x"]
    else:
        imgs = load_images(rows["path"]) if images is None else images
        x = prepare_images(imgs, size=size, preprocess=spec.preprocess, channels=spec.channels)
        if features is not None:
            features["x"] = x
    train = (rows["split"] == "train").to_numpy()
    if built is None:
        built = _Built(network, len(classes), image_size=size, weights=weights,
                       on_missing_weights=on_missing_weights, precision=precision)
    hist, ev_tr, ev_te, timing = _train_and_score(built, spec, x, y, train, classes, epochs=epochs,
                                                  batch_size=batch_size, seed=seed, progress=progress,
                                                  features=features)
    settings = {"network": network, "transform": str(rows["transform"].iloc[0]) if "transform" in rows else "",
                "weights": built.label, "image_size": size, "epochs": epochs, "batch_size": batch_size,
                "precision": built.precision, "seed": seed, "classes": classes}
    stem = (f"{network}__{settings['transform']}__"
            f"{_key_hash(rows, built.label, size, epochs, batch_size, seed, built.precision)}")
    meta = {"classes": classes, "network": network, "transform": settings["transform"], "image_size": size,
            "preprocess": spec.preprocess, "channels": spec.channels, "weights": built.label, "epochs": epochs,
            "batch_size": batch_size, "precision": built.precision, "seed": seed}
    artifacts = {"stem": stem, "model": _model_bytes(built.model), "meta": meta, "history": hist,
                 "confusion": ev_te["confusion"], "report": ev_te["report"], "report_text": ev_te["report_text"]}
    return _sweep_row(settings, rows, train, ev_tr, ev_te, timing), artifacts


def _one(feats):
    return tuple(feats) if len(feats) > 1 else feats[0]


def _key_hash(rows, label, size, epochs, batch_size, seed, precision="float32") -> str:
    parts = [datasets.fingerprint(rows), label, size, epochs, batch_size, seed]
    # float32 runs keep the file names they had before precision existed
    key = "|".join(map(str, parts + ([] if precision == "float32" else [precision])))
    return hashlib.sha1(key.encode()).hexdigest()[:8]


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def _validate_sweep_args(manifest, networks, transforms):
    """Step 1 of :func:`run_sweep`: the manifest, networks and transforms, checked
    before anything is downloaded or trained. Returns them as a DataFrame and lists."""
    if not isinstance(manifest, pd.DataFrame):
        manifest = datasets.load_manifest(manifest, required=_MANIFEST_REQUIRED,
                                          producer="notebook 01 (01_transforms)")
    missing = [c for c in _MANIFEST_REQUIRED if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks column(s) {missing}; it has {list(manifest.columns)}")
    networks = _as_list(networks)
    for n in networks:
        _spec(n)
    available = sorted(manifest["transform"].astype(str).unique())
    transforms = available if transforms is None else _as_list(transforms)
    unknown = [t for t in transforms if t not in available]
    if unknown:
        raise ValueError(f"transforms={unknown} not in the manifest; it has {available}")
    speakers = manifest["speaker"].astype(str).unique()
    if len(speakers) < 2:
        raise ValueError(f"the manifest has {len(speakers)} speaker ({', '.join(speakers)}); "
                         "speaker identification needs at least 2 — add another speaker's recordings")
    return manifest, networks, transforms


def _require_weights(networks, weights, on_missing_weights) -> None:
    """Step 2 of :func:`run_sweep`: with ``on_missing_weights="error"``, fail before
    hours of work, naming every ImageNet file that is missing or fails its hash."""
    if weights != "imagenet" or on_missing_weights != "error":
        return
    specs = [NETWORKS[n] for n in networks if NETWORKS[n].weights_file]
    problems = {s.name: _weights_problem(s) for s in specs}
    bad = [s for s in specs if problems[s.name] is not None]
    if not bad:
        return
    listed = ", ".join(f"{s.weights_file} ({problems[s.name]})" for s in bad)
    seeded = [f"{s.name}'s: {_SEED_SCRIPT[s.name]}" for s in bad if s.name in _SEED_SCRIPT]
    raise MissingWeightsError(
        f"ImageNet weights missing from Keras's cache {keras_cache_dir()} or failing their hash check: {listed}. "
        "Missing files could not be downloaded (offline, or $VOXLIB_OFFLINE is set): copy the right files "
        f"there{' (' + '; '.join(seeded) + ')' if seeded else ''}, or pass on_missing_weights='random' "
        "or weights='none'")


@dataclasses.dataclass
class _Job:
    """One (network, transform) of a sweep, with the key its sweep.csv row gets."""

    network: str
    transform: str
    rows: pd.DataFrame
    key: dict
    seeds: list

    def keys(self) -> list[dict]:
        """The sweep.csv key of each seed's row."""
        return [{**self.key, "seed": s} for s in self.seeds]


def _plan_jobs(data, networks, transforms, *, weights, on_missing_weights, image_size, epochs, batch_size,
               seeds, precision="float32") -> list[_Job]:
    """Step 3 of :func:`run_sweep`: resolve each network's weights once and key every
    (network, transform) as its sweep.csv rows will be keyed (one per seed)."""
    labels = {n: _resolve_weights(NETWORKS[n], weights, on_missing_weights)[2] for n in networks}
    jobs = []
    for network in networks:
        spec = NETWORKS[network]
        for transform in transforms:
            rows = data[data["transform"].astype(str) == transform].sort_values(["speaker", "utterance"],
                                                                                 ignore_index=True)
            key = {"network": network, "transform": transform, "weights": labels[network],
                   "image_size": _size_for(spec, image_size), "epochs": _per_network(epochs, spec, spec.epochs),
                   "batch_size": _per_network(batch_size, spec, spec.batch_size),
                   "precision": devices.resolve_precision(precision, network),
                   "data_fingerprint": datasets.fingerprint(rows)}
            jobs.append(_Job(network, transform, rows, key, list(seeds)))
    return jobs


def _network_for(built: _Built | None, job: _Job, n_classes: int, *, weights, on_missing_weights) -> _Built:
    """Step 4 of :func:`run_sweep`: the network of ``job``, rebuilt only when the
    network changes (the frozen trunk's features are then recomputed per transform)."""
    if built is not None and built.network == job.network:
        return built
    keras.backend.clear_session()
    return _Built(job.network, n_classes, image_size=job.key["image_size"], weights=weights,
                  on_missing_weights=on_missing_weights, precision=job.key["precision"])


def _rows_of(table: pd.DataFrame, keys: list[dict]) -> pd.DataFrame:
    """The rows of ``table`` whose key is one of ``keys`` (this call's runs)."""
    mine = [any(_done(table.iloc[[i]], k) for k in keys) for i in range(len(table))]
    return table[mine].reset_index(drop=True)


def _run_split(manifest: pd.DataFrame, test_size: float) -> pd.DataFrame:
    """The manifest's own ``split`` column (the run's split, notebook 01), checked;
    without one, a content-grouped split of its recordings drawn here (seed 0)."""
    if "split" not in manifest.columns:
        recordings = manifest.drop_duplicates(["speaker", "utterance"])
        return datasets.apply_split(manifest, datasets.content_split(recordings, test_size=test_size, seed=0))
    sides = set(manifest["split"].astype(str))
    if not sides <= {"train", "test"}:
        raise ValueError(f"manifest column split has values {sorted(sides - {'train', 'test'})}; "
                         "expected 'train' or 'test' (notebook 01 writes the run's split)")
    for spk, sub in manifest.groupby("speaker"):
        if set(sub["split"]) != {"train", "test"}:
            raise ValueError(f"speaker {spk!r} has recordings only in {sorted(set(sub['split']))} of the "
                             "manifest's split; every speaker needs both (fix the split file)")
    return manifest


def run_sweep(
    manifest,
    out_dir,
    *,
    networks=("MobileNetV2", "SequentialCNN"),
    transforms=None,
    image_size=None,
    epochs=None,
    batch_size=None,
    weights="imagenet",
    on_missing_weights: str = "error",
    test_size: float = 0.25,
    seeds=(0,),
    baselines=(),
    precision: str = "float32",
    scheduler=None,
    n_workers: int | None = None,
    max_worker_memory=cluster.DEFAULT_MAX_WORKER_MEMORY,
    progress: bool = True,
) -> pd.DataFrame:
    """Train and evaluate every (network, transform, seed), and the baselines; resumable.

    Parameters
    ----------
    manifest : DataFrame or path
        Notebook 01's manifest (columns ``speaker, utterance, transform, path``;
        its ``split`` column, the run's split, says which recordings are held out).
    out_dir : path
        Receives ``sweep.csv`` and ``models/ history/ confusion/ reports/``.
    networks : sequence of :data:`NETWORKS` keys
    transforms : sequence of str or None
        ``None``: every transform in the manifest.
    image_size, epochs, batch_size : int, dict {network: int} or None
        ``None``: each network's thesis value (224/299/256 px; 10 epochs of
        batch 10; 20 of batch 32 for ``SequentialCNN``).
    weights, on_missing_weights : see :func:`build_model`
    test_size : float in (0, 1)
        Only for a manifest without a ``split`` column: the share of recordings
        a content-grouped split (:func:`voxlib.datasets.content_split`, seed 0)
        holds out.
    seeds : sequence of int
        One run per seed on the same split: the seed draws the trained layers'
        initial weights and the batch order. The frozen trunk's features are
        computed once per (network, transform), so a seed costs only training.
    baselines : sequence of :data:`BASELINES` names
        Non-image reference classifiers on the same recordings and split
        (:func:`run_baseline`), written as rows with ``transform = "audio"``.
    precision : {"float32", "mixed_bfloat16", "auto"}
        The networks' dtype policy (:func:`build_model`); each row records the
        one it ran with (``"auto"`` resolves per network).
    scheduler : None, "local", address or distributed.Client
        Where the (network, transform) jobs run (:mod:`voxlib.cluster`): ``None``
        in this process; ``"local"`` on a Dask ``LocalCluster`` of ``n_workers``
        one-thread processes; ``"tcp://host:8786"`` on a running Dask cluster
        (workers with this project installed; no shared filesystem needed). This
        process writes every file either way, so resuming works the same.
    n_workers : int or None
        Worker processes of ``scheduler="local"`` (``None``: one per core).
    max_worker_memory : int, str or None
        On Dask: a worker whose resident memory exceeds this after a job is
        restarted before its next one (bounds Keras's growth across fits).
    progress : bool

    Returns
    -------
    DataFrame: the rows of ``sweep.csv`` (which may hold other runs too) for
    this call's runs, one row per (network, transform, weights, image_size,
    epochs, batch_size, seed, data_fingerprint); rows already there are
    skipped, not recomputed.
    """
    manifest, networks, transforms = _validate_sweep_args(manifest, networks, transforms)
    seeds = _check_seeds(seeds)
    baselines = _check_baselines(baselines, manifest)
    devices.check_precision(precision)
    scheduler = cluster.check_scheduler(scheduler)
    _require_weights(networks, weights, on_missing_weights)
    data = _run_split(manifest, test_size)
    jobs = _plan_jobs(data, networks, transforms, weights=weights, on_missing_weights=on_missing_weights,
                      image_size=image_size, epochs=epochs, batch_size=batch_size, seeds=seeds, precision=precision)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "sweep.csv"
    keys = [_baseline_key(name, data, seeds[0]) for name in baselines]
    for name, key in zip(baselines, keys):
        if not _done(load_sweep(csv), key):
            _append_row(csv, run_baseline(name, data, out_dir, seed=seeds[0], progress=progress))
    settings = dict(n_classes=manifest["speaker"].astype(str).nunique(), image_size=image_size, epochs=epochs,
                    batch_size=batch_size, weights=weights, on_missing_weights=on_missing_weights)
    table = load_sweep(csv)
    todo = [(job, [s for s, k in zip(job.seeds, job.keys()) if not _done(table, k)]) for job in jobs]
    todo = [(job, left) for job, left in todo if left]  # resume: a finished row is never recomputed
    if scheduler is None:
        _sweep_here(todo, csv, out_dir, settings, total=len(jobs) * len(seeds), progress=progress)
    else:
        _sweep_on_dask(todo, csv, out_dir, settings, scheduler=scheduler, n_workers=n_workers,
                       max_worker_memory=max_worker_memory, progress=progress)
    return _rows_of(load_sweep(csv), keys + [k for job in jobs for k in job.keys()])


def _sweep_here(todo, csv: Path, out_dir: Path, settings: dict, *, total: int, progress: bool) -> None:
    """The sweep's jobs in this process, one row appended per finished seed; a network is
    built once for all its transforms."""
    image_cache: dict[str, np.ndarray] = {}  # uint8, read once per transform
    built = None
    bar = tqdm(total=total, initial=total - sum(len(left) for _, left in todo), desc="sweep", unit="run",
               disable=not progress)
    for job, left in todo:
        features: dict = {}  # this (network, transform)'s prepared images and trunk features, shared by its seeds
        for seed in left:
            bar.set_postfix_str(f"{job.network} / {job.transform} / seed {seed}", refresh=False)
            bar.update(1)
            if job.transform not in image_cache:
                image_cache[job.transform] = load_images(job.rows["path"])
            built = _network_for(built, job, settings["n_classes"], weights=settings["weights"],
                                 on_missing_weights=settings["on_missing_weights"])
            row = run_one(job.rows, job.network, out_dir, image_size=settings["image_size"],
                          epochs=settings["epochs"], batch_size=settings["batch_size"], weights=settings["weights"],
                          on_missing_weights=settings["on_missing_weights"], seed=seed,
                          precision=job.key["precision"], images=image_cache[job.transform],
                          progress=f"{job.network}/{job.transform}/{seed}" if progress else False, built=built,
                          features=features)
            _append_row(csv, row)
    bar.close()


def _sweep_on_dask(todo, csv: Path, out_dir: Path, settings: dict, *, scheduler, n_workers, max_worker_memory,
                   progress: bool) -> None:
    """The sweep's jobs as Dask tasks (:func:`_sweep_task`), one per (network, transform):
    each gets its images as data and returns its runs; this process writes them."""
    image_cache: dict[str, np.ndarray] = {}
    payloads = []
    for job, left in todo:
        if job.transform not in image_cache:
            image_cache[job.transform] = load_images(job.rows["path"])
        payloads.append({**settings, "network": job.network, "rows": job.rows, "images": image_cache[job.transform],
                         "seeds": left, "precision": job.key["precision"]})
    if not payloads:
        return
    with cluster.connect(scheduler, n_workers=n_workers, progress=progress) as client:
        for i, result in cluster.run_tasks(client, _sweep_task, payloads, max_worker_memory=max_worker_memory,
                                           progress=progress, label=lambda p: f"{p['network']} / "
                                                                              f"{p['rows']['transform'].iloc[0]}"):
            job = todo[i][0]
            for row, artifacts in result["runs"]:
                if row["weights"] != job.key["weights"]:
                    raise MissingWeightsError(
                        f"worker {result['worker'] or '?'} built {job.network} with {row['weights']} weights, this "
                        f"process with {job.key['weights']}: give every worker the same Keras cache "
                        f"({keras_cache_dir()} here; scripts/seed_keras_cache.py for MobileNetV2)")
                _append_row(csv, _write_run(out_dir, row, artifacts))


def _sweep_task(payload: dict) -> dict:
    """One (network, transform) job on a Dask worker: every seed of ``payload["seeds"]``,
    on the worker's last network when the settings match (:data:`_WORKER_BUILT`).
    Returns ``{"runs": [(row, artifacts), ...], "worker", "pid", "rss"}`` (nothing written)."""
    cluster.limit_threads()
    p = payload
    size = _size_for(NETWORKS[p["network"]], p["image_size"])
    key = (p["network"], p["n_classes"], size, p["weights"], p["on_missing_weights"], p["precision"])
    built = _WORKER_BUILT.get(key)
    if built is None:  # another network: drop the last one first
        _WORKER_BUILT.clear()
        keras.backend.clear_session()
        gc.collect()
        built = _WORKER_BUILT[key] = _Built(p["network"], p["n_classes"], image_size=size, weights=p["weights"],
                                            on_missing_weights=p["on_missing_weights"], precision=p["precision"])
    features: dict = {}
    runs = [_compute_one(p["rows"], p["network"], image_size=p["image_size"], epochs=p["epochs"],
                         batch_size=p["batch_size"], weights=p["weights"], on_missing_weights=p["on_missing_weights"],
                         seed=seed, precision=p["precision"], images=p["images"], progress=False, built=built,
                         features=features)
            for seed in p["seeds"]]
    del features
    gc.collect()
    return {"runs": runs, **cluster.worker_info()}


#: On a Dask worker, the network its last job built, keyed by its settings: the next job
#: of the same network resets it (:meth:`_Built.reset`) instead of building it again, as
#: the in-process sweep does across transforms (the rows are the same either way).
_WORKER_BUILT: dict = {}


def _check_seeds(seeds) -> list[int]:
    seeds = [seeds] if np.isscalar(seeds) else list(seeds)
    if not seeds or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seeds={seeds!r}; expected a list of integers >= 0, e.g. [0, 1, 2]")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r} repeats a seed; each seed is one run")
    return [int(s) for s in seeds]


# ----------------------------------------------------------------------------- baselines

#: Non-image reference classifiers, in the same registry of runs as the networks:
#: trained and scored on the same recordings and split, written to ``sweep.csv``.
BASELINES = ("MFCC+LR", "d-vector+LR")
#: The ``transform`` of a baseline row: it reads the audio, not an image.
BASELINE_TRANSFORM = "audio"
N_MFCC = 20


def is_baseline(table: pd.DataFrame) -> pd.Series:
    """True for the rows of a sweep table that are baselines (:data:`BASELINES`)."""
    return table["network"].astype(str).isin(BASELINES)


def _check_baselines(baselines, manifest) -> list[str]:
    baselines = [] if baselines is None else _as_list(baselines)
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise ValueError(f"baselines={unknown} unknown; allowed: {list(BASELINES)}")
    if baselines and "source_path" not in manifest.columns:
        raise ValueError("the baselines read each image's recording from the manifest's source_path column, which "
                         "this manifest lacks: add it (notebook 01 writes it) or pass baselines=[]")
    return baselines


def _recordings(data: pd.DataFrame) -> pd.DataFrame:
    """One row per recording of a split manifest, in a fixed order, as a baseline sees it."""
    return (data.drop_duplicates(["speaker", "utterance"]).drop(columns=["params_hash"], errors="ignore")
            .sort_values(["speaker", "utterance"], ignore_index=True).assign(transform=BASELINE_TRANSFORM))


def _baseline_key(name: str, data: pd.DataFrame, seed: int) -> dict:
    return {"network": name, "transform": BASELINE_TRANSFORM, "weights": "none", "image_size": 0, "epochs": 0,
            "batch_size": 0, "precision": _BASELINE_PRECISION, "seed": seed,
            "data_fingerprint": datasets.fingerprint(_recordings(data))}


def mfcc_statistics(y: np.ndarray, sr: int, *, n_mfcc: int = N_MFCC) -> np.ndarray:
    """Mean and standard deviation over frames of ``n_mfcc`` MFCCs (librosa's defaults
    otherwise): the classic fixed-length description of a voice, ``(2 * n_mfcc,)``."""
    m = librosa.feature.mfcc(y=np.asarray(y, np.float32), sr=sr, n_mfcc=n_mfcc)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)]).astype(np.float32)


def baseline_features(name: str, paths, *, sr=None, progress: bool = False) -> np.ndarray:
    """Features of recordings for a baseline: MFCC statistics, or the d-vector of
    :mod:`voxlib.speaker` (its own front end: 60 Hz high-pass, speech crop, 16 kHz)."""
    paths = [str(p) for p in paths]
    if name == "MFCC+LR":
        out = []
        for p in tqdm(paths, desc="MFCC", unit="file", disable=not progress, leave=False):
            y, rate = audio.load(p, sr=sr)
            out.append(mfcc_statistics(y, rate))
        return np.stack(out)
    if name == "d-vector+LR":
        return speaker.get_encoder().embed_files(paths, sr=sr, progress=progress)
    raise ValueError(f"baseline {name!r} unknown; allowed: {list(BASELINES)}")


def baseline_classifier(seed: int = 0):
    """Standardised features → multinomial logistic regression (scikit-learn)."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))


def run_baseline(name: str, data: pd.DataFrame, out_dir, *, seed: int = 0, progress: bool = False) -> dict:
    """Train and score one baseline on a split manifest's recordings (``source_path``);
    write its confusion matrix and report under ``out_dir``; return its sweep row."""
    rec = _recordings(data)
    classes = sorted(rec["speaker"].astype(str).unique())
    y = rec["speaker"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
    train = (rec["split"] == "train").to_numpy()
    sr = int(rec["sr"].iloc[0]) if "sr" in rec.columns else None
    t0 = time.perf_counter()
    x = baseline_features(name, rec["source_path"], sr=sr, progress=progress)
    t1 = time.perf_counter()
    clf = baseline_classifier(seed).fit(x[train], y[train])
    t2 = time.perf_counter()
    ev_tr = score_predictions(y[train], clf.predict_proba(x[train]), classes)
    ev_te = score_predictions(y[~train], clf.predict_proba(x[~train]), classes)
    key = _baseline_key(name, data, seed)
    stem = f"{name}__{key['data_fingerprint']}__{seed}"
    paths = {k: Path(out_dir) / k / f"{stem}.csv" for k in ("confusion", "reports")}
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    ev_te["confusion"].to_csv(paths["confusion"])
    ev_te["report"].to_csv(paths["reports"])
    paths["reports"].with_suffix(".txt").write_text(ev_te["report_text"])
    settings = {**{k: key[k] for k in ("network", "transform", "weights", "image_size", "epochs", "batch_size",
                                       "precision", "seed")}, "classes": classes}
    return _sweep_row(settings, rec, train, ev_tr, ev_te, {"features_seconds": t1 - t0, "fit_seconds": t2 - t1},
                      {"models": "", "history": "", **paths})


# ----------------------------------------------------------------------------- the sweep's best classifier

def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""


def load_best_classifier(sweep_dir, *, speakers=()):
    """The sweep's best saved classifier (highest held-out accuracy) that knows ``speakers``.

    Parameters
    ----------
    sweep_dir : path
        The folder holding ``sweep.csv`` (``<run_dir>/sweep``).
    speakers : sequence of str
        Labels the classifier must have among its classes.

    Returns
    -------
    (Classifier, pd.Series) or (None, str)
        The classifier and its sweep row; or ``None`` and a sentence for the
        notebook when there is no usable sweep (no ``sweep.csv``, no saved model
        on disk, or no model trained on all ``speakers``).
    """
    sweep_path = Path(sweep_dir) / "sweep.csv"
    if not sweep_path.is_file():
        return None, (f"no classifier: {sweep_path} does not exist ({_SWEEP_PRODUCER}), "
                      "so the target-speaker rate is not measured")
    sweep = load_sweep(sweep_path)
    usable = sweep[[not _blank(p) and Path(str(p)).is_file() for p in sweep["model_path"]]]
    if usable.empty:
        return None, f"no classifier: no model listed in {sweep_path} exists on disk"
    for _, row in usable.sort_values("test_accuracy", ascending=False, kind="stable").iterrows():
        clf = load_classifier(row["model_path"])
        if set(map(str, speakers)) <= set(map(str, clf.classes)):
            return clf, row
    return None, (f"no classifier in {sweep_path} was trained on the speakers {sorted(speakers)}, "
                  "so the target-speaker rate is not measured")


def classifier_image_size(transforms_manifest, transform, *, default=(512, 512)) -> tuple[int, int]:
    """(height, width) of notebook 01's images of ``transform``: the images the
    sweep's classifiers were trained on.

    Parameters
    ----------
    transforms_manifest : path
        Notebook 01's ``<run_dir>/transforms/manifest.csv``.
    transform : str
    default : (int, int)
        Returned when that manifest, its ``height``/``width`` columns or the
        transform are absent (a user's own classifier).
    """
    path = Path(transforms_manifest)
    if not path.is_file():
        return tuple(default)
    table = pd.read_csv(path)
    if not {"transform", "height", "width"} <= set(table.columns):
        return tuple(default)
    rows = table[table["transform"].astype(str) == str(transform)]
    return tuple(default) if rows.empty else (int(rows["height"].iloc[0]), int(rows["width"].iloc[0]))
