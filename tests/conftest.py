"""Shared fixtures: synthetic speech-like signals and the embedded corpus."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Never let Keras try to download ImageNet weights from a test (this machine is offline).
os.environ.setdefault("VOXLIB_OFFLINE", "1")

from voxlib.run import project_root  # noqa: E402

EMBEDDED = project_root() / "data" / "embedded"


def voiced(sr: int, seconds: float, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A vowel-like harmonic signal with a slow amplitude envelope, float32 (n,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t)
    for k in range(1, int(0.45 * sr / f0)):
        y += np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k
    env = 0.5 - 0.5 * np.cos(2 * np.pi * t / seconds)
    return (0.3 * y * env / np.max(np.abs(y))).astype(np.float32)


@pytest.fixture(scope="session")
def embedded_root():
    if not (EMBEDDED / "index.csv").is_file():
        pytest.fail(f"embedded data missing: {EMBEDDED}/index.csv (build: scripts/build_embedded_data.py)")
    return EMBEDDED
