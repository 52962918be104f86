"""voxlib.devices, the TensorFlow build switch (make TF=cpu|gpu) and bfloat16 in the sweep."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from types import SimpleNamespace

import numpy as np
import pytest

from voxlib import devices, transfer
from voxlib.datasets import split
from voxlib.run import project_root

from speaker_images import N_SPEAKERS, write_synthetic

ROOT = project_root()


def _make_n(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", "-B", "install", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_tf_switch_selects_the_tensorflow_requirement():
    cpu, gpu = _make_n(), _make_n("TF=gpu")
    assert cpu.returncode == 0 and gpu.returncode == 0, cpu.stderr + gpu.stderr
    assert '-e ".[test,cpu]"' in cpu.stdout and "uninstall --quiet --yes tensorflow " in cpu.stdout
    assert '-e ".[test,gpu]"' in gpu.stdout and "uninstall --quiet --yes tensorflow-cpu" in gpu.stdout
    bad = _make_n("TF=cuda")
    assert bad.returncode != 0 and "TF=cuda" in bad.stderr and "TF=gpu" in bad.stderr


def test_tensorflow_comes_only_from_the_cpu_or_gpu_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("tensorflow")]
    extras = project["optional-dependencies"]
    assert any(d.startswith("tensorflow-cpu") and "x86_64" in d for d in extras["cpu"])
    assert extras["gpu"] == ["tensorflow[and-cuda]>=2.16"]


def test_cpu_flags_and_bf16_detection(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n")
    flags = devices.cpu_flags.__wrapped__(str(info))
    assert {"amx_bf16", "sse2"} <= flags and devices.cpu_has_bf16(flags)
    assert not devices.cpu_has_bf16({"sse2", "avx2"})
    assert devices.cpu_flags.__wrapped__(str(tmp_path / "absent")) == frozenset()


def test_cpu_model_names_the_cpu_and_its_cores(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9B14\nflags\t\t: fpu\n")
    assert devices.cpu_model(str(info)) == f"AMD EPYC 9B14, {os.cpu_count()} cores"
    assert devices.cpu_model(str(tmp_path / "absent")).endswith(f"{os.cpu_count()} cores")


def test_auto_precision_is_bf16_only_for_benched_networks_on_a_bf16_cpu_without_gpu():
    amx = {"amx_bf16"}
    assert devices.resolve_precision("auto", "pix2pix", flags=amx, gpu=False) == "mixed_bfloat16"
    assert devices.resolve_precision("auto", "MobileNetV2", flags=amx, gpu=False) == "float32"  # measured slower
    assert devices.resolve_precision("auto", "pix2pix", flags={"avx2"}, gpu=False) == "float32"
    assert devices.resolve_precision("auto", "pix2pix", flags=amx, gpu=True) == "float32"
    assert devices.resolve_precision("mixed_bfloat16", "MobileNetV2", flags=set(), gpu=False) == "mixed_bfloat16"
    # the lists are per kind of unit: ResNet101 was measured faster with AMX, not with AVX-512 BF16 alone
    avx512 = {"avx512f", "avx512_bf16"}
    assert devices.resolve_precision("auto", "ResNet101", flags=amx, gpu=False) == "mixed_bfloat16"
    assert devices.resolve_precision("auto", "ResNet101", flags=avx512, gpu=False) == "float32"
    assert devices.resolve_precision("auto", "Xception", flags=avx512, gpu=False) == "mixed_bfloat16"
    assert devices.resolve_precision("auto", "Xception", flags=amx | avx512, gpu=False) == "float32"  # AMX's list
    assert devices.bf16_faster({"avx2"}) == frozenset()
    with pytest.raises(ValueError, match="precision='bf16'"):
        devices.resolve_precision("bf16", "pix2pix")


def test_describe_runs_with_and_without_a_visible_gpu(monkeypatch):
    here = devices.describe()
    assert here["device"] == ("GPU" if here["gpus"] else "CPU") and isinstance(here["cuda_build"], bool)
    fake = [SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")]
    monkeypatch.setattr(devices.tf.config, "list_physical_devices", lambda kind=None: fake if kind == "GPU" else [])
    seen = devices.describe()
    assert seen["device"] == "GPU" and seen["gpus"] == ["/physical_device:GPU:0"]
    assert devices.resolve_precision("auto", "pix2pix", flags={"amx_bf16"}) == "float32"  # nothing measured on GPUs


def test_precision_policy_builds_bf16_layers_and_restores_the_global_policy():
    keras = devices.keras
    before = keras.mixed_precision.global_policy().name
    with devices.precision_policy("mixed_bfloat16"):
        layer = keras.layers.Dense(2)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert layer.compute_dtype == "bfloat16" and layer.variable_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == before
    with pytest.raises(ValueError, match="auto"):
        with devices.precision_policy("auto"):
            pass


_FRESH = """
import tensorflow as tf
from voxlib import devices
assert devices.threads_in_use() == (0, 0) and devices.set_threads(2)
tf.constant(1.0) + 1  # TensorFlow starts
assert devices.threads_in_use() == (2, 2) and devices.set_threads(2)
assert devices.set_threads(1, strict=False) is False
devices.set_threads(1)
"""


def test_set_threads_before_tensorflow_starts_and_refuses_other_threads_after():
    env = {k: v for k, v in os.environ.items() if k not in devices.THREADS_ENV}
    done = subprocess.run([sys.executable, "-c", _FRESH], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "RuntimeError: threads=1" in done.stderr, done.stderr[-2000:]
    assert "already runs with 2 thread(s)" in done.stderr and "set_threads(1) before" in done.stderr


def test_threads_set_by_the_environment_count_and_bad_values_are_refused():
    devices.tf.constant(1.0) + 1  # TensorFlow has started in this process, with tests/conftest.py's variables
    assert devices.threads_in_use() == (1, 1) and devices.set_threads(1)
    assert devices.set_threads(2, strict=False) is False
    with pytest.raises(RuntimeError, match="threads=2.*1 thread"):
        devices.set_threads(2)
    for bad in (0, True, 1.5, "2"):
        with pytest.raises(ValueError, match="threads="):
            devices.set_threads(bad)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return split(write_synthetic(tmp_path_factory.mktemp("images"), transforms=("hamming",)), test_size=0.34,
                 seed=0)


def test_bf16_sweep_trains_records_its_precision_and_saves_a_float32_classifier(manifest, tmp_path):
    kw = dict(networks=["SequentialCNN"], image_size=48, epochs=12, batch_size=8, seeds=[0], progress=False)
    bf16 = transfer.run_sweep(manifest, tmp_path, precision="mixed_bfloat16", **kw)
    f32 = transfer.run_sweep(manifest, tmp_path, **kw)  # same folder: a different key, so a second row
    table = transfer.load_sweep(tmp_path / "sweep.csv")
    assert sorted(table["precision"]) == ["float32", "mixed_bfloat16"] and len(table) == 2
    row = bf16.iloc[0]
    assert row["precision"] == "mixed_bfloat16" and f32.iloc[0]["precision"] == "float32"
    assert row["test_ci_low"] > 100 / N_SPEAKERS and np.isfinite(row["train_loss"])
    clf = transfer.load_classifier(row["model_path"])
    test = manifest[manifest["split"] == "test"]
    proba = clf.predict_images(transfer.load_images(test["path"]))
    assert proba.dtype == np.float32 and np.allclose(proba.sum(axis=1), 1, atol=1e-2)
    assert clf.model.layers[0].compute_dtype == "bfloat16" and clf.model.get_layer("speaker").compute_dtype == "float32"


def test_an_old_sweep_without_precision_reads_as_float32(manifest, tmp_path):
    kw = dict(networks=["SequentialCNN"], image_size=32, epochs=1, batch_size=8, seeds=[0], progress=False)
    transfer.run_sweep(manifest, tmp_path, **kw)
    csv = tmp_path / "sweep.csv"
    old = transfer.load_sweep(csv).drop(columns="precision")
    old.to_csv(csv, index=False)
    assert transfer.load_sweep(csv)["precision"].tolist() == ["float32"]
    assert len(transfer.run_sweep(manifest, tmp_path, **kw)) == 1 and len(transfer.load_sweep(csv)) == 1  # resumed


def test_a_bad_precision_is_refused_before_any_work(manifest, tmp_path):
    with pytest.raises(ValueError, match="precision='half'"):
        transfer.run_sweep(manifest, tmp_path, networks=["SequentialCNN"], precision="half", progress=False)
    assert not (tmp_path / "sweep.csv").exists()
