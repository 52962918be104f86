"""Shared fixtures: the embedded corpus, and an offline, headless test environment."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Never let Keras try to download ImageNet weights from a test (this machine is offline).
os.environ.setdefault("VOXLIB_OFFLINE", "1")
# TensorFlow's threads in this process and the Dask workers it starts: the sweep's default
# (voxlib.devices.DEFAULT_THREADS), read at TensorFlow's first computation, whichever test comes
# first; an in-process run_sweep refuses a TensorFlow already running with other threads.
os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"

from signals import EMBEDDED  # noqa: E402  (test signals live in tests/signals.py)


@pytest.fixture(scope="session")
def embedded_root():
    if not (EMBEDDED / "index.csv").is_file():
        pytest.fail(f"embedded data missing: {EMBEDDED}/index.csv (build: scripts/build_embedded_data.py)")
    return EMBEDDED
