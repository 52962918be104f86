"""Which network, with which weights, built how: the registry, the ImageNet weights, the model.

* :data:`NETWORKS` is the registry of the thesis's twelve Keras ImageNet networks and its
  from-scratch CNN (constructor, own ``preprocess_input`` in :data:`PREPROCESSORS`, thesis
  input size, epochs and batch size, freeze rule).
* ImageNet weights come from Keras's cache (:func:`keras_cache_dir`), each file checked against
  its hash. A missing file is fetched by Keras as for any online user, unless ``$VOXLIB_OFFLINE``
  is set; model building itself never downloads (:class:`_NoDownload`). MobileNetV2's file, which
  Keras does not hash, is pinned here (:data:`MOBILENET_V2_SHA256`) and installed offline by
  ``scripts/seed_keras_cache.py``.
* :func:`build_model` puts the thesis's head on a registry network and freezes all layers but the
  last five; :func:`split_trunk` cuts it into the frozen trunk and the trainable tail;
  :func:`layer_table` lists a model's last layers.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from voxlib import devices
from voxlib._heavy import keras
from voxlib.checks import Interval, Options, check_params

__all__ = [
    "NETWORKS",
    "PREPROCESSORS",
    "NetworkSpec",
    "MissingWeightsError",
    "MOBILENET_V2_SHA256",
    "OFFLINE_ENV",
    "ON_MISSING_WEIGHTS",
    "TAIL_STEPS_PER_EXECUTION",
    "keras_cache_dir",
    "imagenet_weights_path",
    "build_model",
    "split_trunk",
    "layer_table",
]


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
#: What to do when an ImageNet file is missing: raise, or warn once and use random weights.
ON_MISSING_WEIGHTS = ("error", "random")
#: The checks of the settings that pick a network's weights (shared with the sweep's table).
WEIGHTS_CONSTRAINTS = {"on_missing_weights": [Options(ON_MISSING_WEIGHTS)]}
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
    """-> (kind, path, label): kind in {"imagenet", "none", "file"}; label goes in sweep.csv.
    ``on_missing_weights`` was checked by the caller (:data:`WEIGHTS_CONSTRAINTS`)."""
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


def _require_weights(networks, weights, on_missing_weights) -> None:
    """Step 2 of :func:`voxlib.transfer.run_sweep`: with ``on_missing_weights="error"``, fail
    before hours of work, naming every ImageNet file that is missing or fails its hash."""
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


# ----------------------------------------------------------------------------- models

def _size_for(spec: NetworkSpec, image_size) -> int:
    if isinstance(image_size, dict):
        image_size = image_size.get(spec.name)
    size = spec.input_size if image_size is None else int(image_size)
    if size < spec.min_size:
        raise ValueError(f"image_size={size} is below {spec.name}'s minimum of {spec.min_size} px")
    return size


def _per_network(value, spec: NetworkSpec, default):
    """A sweep setting for ``spec``: an int, a dict {network: int}, or None (``default``)."""
    if isinstance(value, dict):
        value = value.get(spec.name)
    return default if value is None else int(value)


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


#: The checks of :func:`build_model`'s settings (``network``: :func:`_spec`; ``image_size``: :func:`_size_for`).
_BUILD_CONSTRAINTS = {"n_classes": [Interval(int, 2, None)], **WEIGHTS_CONSTRAINTS}


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
    check_params(_BUILD_CONSTRAINTS, {"n_classes": n_classes, "on_missing_weights": on_missing_weights})
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


# ----------------------------------------------------------------------------- layers

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
