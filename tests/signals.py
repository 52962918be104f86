"""Test signals shared by the test modules: import them from here (``from signals import voiced``), never
from ``conftest`` (tests/reconstruction has a conftest of its own, so the name is ambiguous)."""
from __future__ import annotations

import numpy as np

from voxlib.run import project_root

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
