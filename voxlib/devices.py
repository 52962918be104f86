"""What TensorFlow computes on, and in which precision.

A GPU is used when TensorFlow sees one (``make run TF=gpu`` installs the CUDA
build; :func:`describe` says what this process sees). On a CPU with bfloat16
matrix units (Intel AMX, ``amx_bf16``; or ``avx512_bf16``) Keras's
``"mixed_bfloat16"`` policy computes in bfloat16 and keeps the weights in
float32. It pays off for networks dominated by dense convolutions and matrix
products, and not for depthwise convolutions (MobileNet), so ``"auto"`` turns
it on only for the models :data:`BF16_FASTER` lists for the CPU's kind of bfloat16
units: the ones ``bench/sweep.py`` and ``bench/gan.py`` measured faster in bfloat16
on such a CPU (AMX and AVX-512 BF16 differ: ResNet101 gains 1.7x on the first and
nothing on the second).

>>> from voxlib import devices
>>> devices.resolve_precision("auto", "pix2pix")   # doctest: +SKIP
'mixed_bfloat16'
>>> with devices.precision_policy("mixed_bfloat16"):   # doctest: +SKIP
...     model = build_something()
"""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from voxlib._heavy import keras, tf

__all__ = [
    "PRECISIONS",
    "BF16_FASTER",
    "bf16_faster",
    "cpu_flags",
    "cpu_has_bf16",
    "gpus",
    "describe",
    "resolve_precision",
    "check_precision",
    "precision_policy",
]

#: The values of every ``precision`` parameter.
PRECISIONS = ("float32", "mixed_bfloat16", "auto")

#: Models that ``"auto"`` runs in bfloat16, by the CPU's bfloat16 units: the ones measured
#: faster in ``mixed_bfloat16`` than in float32 (``bench/sweep.py`` for the classifiers'
#: frozen trunk and training, ``bench/gan.py`` for ``"pix2pix"``'s compiled train step).
#: ``"amx_bf16"``: Intel AMX, from FACTS.md's measurements (pix2pix 1.58x, ResNet101
#: 1.71x; MobileNetV2 slower). ``"avx512_bf16"`` without AMX: this project's 2-core AMD
#: EPYC (Zen 4), see the README's bench tables (Inception/Xception trunks 1.7-2.0x,
#: SequentialCNN's training 1.7x, pix2pix 1.2-1.6x; ResNets, EfficientNets and the
#: MobileNets no faster or slower). Everything else stays float32.
BF16_FASTER = {
    "amx_bf16": frozenset({"pix2pix", "ResNet101"}),
    "avx512_bf16": frozenset({"pix2pix", "InceptionV3", "InceptionResNetV2", "Xception", "SequentialCNN"}),
}

_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def bf16_faster(flags=None) -> frozenset:
    """The models :data:`BF16_FASTER` lists for this CPU (or for ``flags``): AMX's list
    when it has ``amx_bf16``, else ``avx512_bf16``'s, else none."""
    flags = cpu_flags() if flags is None else set(flags)
    return next((BF16_FASTER[f] for f in _BF16_FLAGS if f in flags), frozenset())


@functools.lru_cache(maxsize=1)
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``); empty where that file is absent."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_bf16(flags=None) -> bool:
    """Whether the CPU has bfloat16 matrix or vector units (``amx_bf16`` or ``avx512_bf16``)."""
    flags = cpu_flags() if flags is None else set(flags)
    return any(f in flags for f in _BF16_FLAGS)


def gpus() -> list[str]:
    """Names of the GPUs TensorFlow sees (``tf.config.list_physical_devices("GPU")``); empty on a CPU."""
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def describe() -> dict:
    """What this process computes on: TensorFlow's version and build, its GPUs, the CPU's bfloat16 support.

    Returns
    -------
    dict
        ``tensorflow`` (version), ``cuda_build`` (bool: the GPU build is installed),
        ``gpus`` (list of device names, empty when none is visible), ``device``
        (``"GPU"`` or ``"CPU"``: where Keras places the work), ``cpu_bf16`` (bool).
    """
    found = gpus()
    return {"tensorflow": tf.version.VERSION, "cuda_build": bool(tf.test.is_built_with_cuda()), "gpus": found,
            "device": "GPU" if found else "CPU", "cpu_bf16": cpu_has_bf16()}


def check_precision(precision: str, name: str = "precision") -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ValueError naming ``name``."""
    if precision not in PRECISIONS:
        raise ValueError(f"{name}={precision!r}; expected one of {list(PRECISIONS)} ('auto': bfloat16 only for "
                         "the models the benches measured faster on a CPU with bfloat16 units)")
    return precision


def resolve_precision(precision: str, model: str, *, flags=None, gpu: bool | None = None) -> str:
    """The Keras dtype policy a model runs with: ``"float32"`` or ``"mixed_bfloat16"``.

    Parameters
    ----------
    precision : {"float32", "mixed_bfloat16", "auto"}
        ``"auto"``: ``"mixed_bfloat16"`` only when the CPU has bfloat16 units, no
        GPU is in use (on a GPU, "auto" keeps float32: nothing was measured there)
        and ``model`` was measured faster in bfloat16 on such a CPU
        (:func:`bf16_faster`); otherwise ``"float32"``.
    model : str
        A network name of :data:`voxlib.transfer.NETWORKS`, or ``"pix2pix"``.
    flags : iterable of str, optional
        CPU flags to decide with (default: this machine's, :func:`cpu_flags`).
    gpu : bool, optional
        Whether a GPU is in use (default: :func:`gpus` is not empty).
    """
    check_precision(precision)
    if precision != "auto":
        return precision
    if model not in bf16_faster(flags):
        return "float32"
    if gpu is None:
        gpu = bool(gpus())
    return "float32" if gpu else "mixed_bfloat16"


@contextlib.contextmanager
def precision_policy(policy: str):
    """Build models under Keras's global dtype ``policy`` (``"float32"`` or
    ``"mixed_bfloat16"``), restoring the previous policy on exit. A model keeps the
    policy it was built with."""
    if policy not in PRECISIONS[:2]:
        raise ValueError(f"policy={policy!r}; expected 'float32' or 'mixed_bfloat16' "
                         "(resolve 'auto' first with resolve_precision)")
    before = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)
