"""What TensorFlow computes on, in which precision, and with how many threads.

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

**Threads.** TensorFlow sums a convolution's products in an order that depends on how many
threads share it, so the same model trained with one thread and with two differs (by up to
several accuracy points for a small CNN on few test clips). :func:`set_threads` fixes the
intra- and inter-op threads of this process; TensorFlow reads them once, at its first
computation, so it must come before any model is built or run. The sweep
(:func:`voxlib.transfer.run_sweep`, its ``threads``) calls it in this process and on every
Dask worker, and records the value in ``sweep.csv``.
"""
from __future__ import annotations

import contextlib
import functools
import os
import platform
from pathlib import Path

import numpy as np

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
    "DEFAULT_THREADS",
    "THREADS_ENV",
    "threads_in_use",
    "set_threads",
]

#: The values of every ``precision`` parameter.
PRECISIONS = ("float32", "mixed_bfloat16", "auto")

#: Models that ``"auto"`` runs in bfloat16, by the CPU's bfloat16 units: the ones measured
#: faster in ``mixed_bfloat16`` than in float32 (``bench/sweep.py`` for the classifiers'
#: frozen trunk and training, ``bench/gan.py`` for ``"pix2pix"``'s compiled train step).
#: ``"amx_bf16"``: Intel AMX, from FACTS.md's measurements (pix2pix 1.58x, ResNet101
#: 1.71x; MobileNetV2 slower). ``"avx512_bf16"`` without AMX: this project's 2-core AMD
#: EPYC (Zen 4), see docs/scaling.md's bench tables (Inception/Xception trunks 1.7-2.0x,
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


def _cpuinfo_field(cpuinfo, names) -> str | None:
    """The first ``/proc/cpuinfo`` line starting with one of ``names``, after its colon; None where absent."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(names)), None)


@functools.lru_cache(maxsize=1)
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``); empty where that file is absent."""
    return frozenset((_cpuinfo_field(cpuinfo, ("flags", "Features")) or "").split())


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's name and core count, e.g. ``"AMD EPYC 9B14, 2 cores"``: what a measured time names.
    ``platform.processor()`` (or "unknown CPU") where ``/proc/cpuinfo`` has no ``model name``."""
    name = _cpuinfo_field(cpuinfo, ("model name", "Model", "Hardware")) or platform.processor() or "unknown CPU"
    return f"{name}, {os.cpu_count()} cores"


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


#: TensorFlow threads per job of a sweep unless told otherwise: one. The same number on every
#: machine, so a row does not depend on the core count; a Dask cluster adds cores by adding
#: one-thread workers, and a second thread in one process gained 1.00-1.15x (docs/scaling.md, bench/sweep.py).
DEFAULT_THREADS = 1
#: The environment variables TensorFlow reads, at its first computation, when no thread count was set.
THREADS_ENV = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def _env_threads(name: str) -> int:
    try:
        return max(0, int(os.environ.get(name, "0")))
    except ValueError:
        return 0


def threads_in_use() -> tuple[int, int]:
    """``(intra_op, inter_op)``: the threads this process's TensorFlow runs with (or will
    run with, before its first computation): the values set by :func:`set_threads` or
    ``tf.config.threading``, else those of :data:`THREADS_ENV`; ``0`` means TensorFlow's
    default (about one per core)."""
    threading = tf.config.threading
    configured = (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads())
    return tuple(c or _env_threads(env) for c, env in zip(configured, THREADS_ENV))


def _describe_threads(used: tuple[int, int]) -> str:
    if used[0] == used[1]:
        return "TensorFlow's default threads (about one per core)" if used[0] == 0 else f"{used[0]} thread(s)"
    return f"{used[0] or 'default'} intra-op and {used[1] or 'default'} inter-op threads"


def set_threads(threads: int, *, strict: bool = True) -> bool:
    """Make this process's TensorFlow use ``threads`` intra-op and inter-op threads.

    TensorFlow fixes its thread pools at its first computation (building a model is one):
    call this before. Afterwards it only checks that TensorFlow already runs with ``threads``
    (set earlier by this function, ``tf.config.threading`` or :data:`THREADS_ENV`).

    Parameters
    ----------
    threads : int >= 1
    strict : bool
        When TensorFlow already runs with other threads: raise (True) or return False.

    Returns
    -------
    bool
        True when TensorFlow runs, or will run, with ``threads``.

    Raises
    ------
    RuntimeError
        ``strict`` and TensorFlow already started with other threads: the message says
        what it runs with and how to start it with ``threads`` (a fresh process).
    """
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads={threads!r}; expected TensorFlow threads per job, an int >= 1")
    threads = int(threads)
    if threads_in_use() == (threads, threads):
        return True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        return True
    except RuntimeError as exc:  # "cannot be modified after initialization"
        if not strict:
            return False
        raise RuntimeError(
            f"threads={threads}: TensorFlow in this process already runs with "
            f"{_describe_threads(threads_in_use())}; it fixes them at its first computation (a model built "
            f"or run earlier) and cannot change them now. Start a fresh process (restart the kernel) and call "
            f"voxlib.devices.set_threads({threads}) before any TensorFlow work (notebook 02 does so in its "
            "first code cell), or set the environment variables TF_NUM_INTRAOP_THREADS and "
            f"TF_NUM_INTEROP_THREADS to {threads} before starting it") from exc
