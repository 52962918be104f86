"""pix2pix train-step speed on this CPU: milliseconds per step at 64/128/256 pixels,
eager vs compiled (``tf.function``) vs XLA (``jit_compile=True``), batch 1, 3 channels
(the thesis's network), and the peak memory of each run.

Each configuration runs in its own process so that its first step (tracing) and
peak RSS are its own. Usage::

    .venv/bin/python bench/gan.py [--sizes 64 128 256] [--modes eager compiled xla] [--steps 5]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from voxlib import gan  # TensorFlow and Keras load lazily: the parent process that only orchestrates never loads them

MODES = {"eager": dict(compiled=False, jit_compile=False),
         "compiled": dict(compiled=True, jit_compile=False),
         "xla": dict(compiled=True, jit_compile=True)}


def measure(size: int, mode: str, steps: int, channels: int = 3) -> dict:
    """Train steps on random images in this process; times in seconds."""
    model = gan.Pix2Pix((size, size), in_channels=channels, out_channels=channels, seed=0, **MODES[mode])
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (1, size, size, channels)).astype(np.float32)
    y = rng.uniform(-1, 1, (1, size, size, channels)).astype(np.float32)
    t0 = time.perf_counter()
    model.train_step(x, y)
    first = time.perf_counter() - t0
    model.train_step(x, y)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        model.train_step(x, y)
        times.append(time.perf_counter() - t0)
    return dict(size=size, mode=mode, params_m=model.generator.count_params() / 1e6, first_s=first,
                ms_per_step=1000 * float(np.median(times)), ms_min=1000 * float(np.min(times)),
                peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--steps", type=int, default=5, help="timed steps after two warm-up steps")
    p.add_argument("--one", help=argparse.SUPPRESS)      # internal: size,mode -> JSON on stdout
    args = p.parse_args(argv)
    if args.one:
        size, mode = args.one.split(",")
        print(json.dumps(measure(int(size), mode, args.steps)))
        return
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    rows = []
    for size in args.sizes:
        for mode in args.modes:
            out = subprocess.run([sys.executable, __file__, "--one", f"{size},{mode}", "--steps", str(args.steps)],
                                 capture_output=True, text=True, env=env)
            if out.returncode:
                print(f"{size} {mode}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                rows.append(dict(size=size, mode=mode, failed=out.stderr.strip().splitlines()[-1][:80]))
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(".", end="", flush=True, file=sys.stderr)
    print(file=sys.stderr)
    print(f"pix2pix train step, batch 1, 3 channels, {os.cpu_count()} CPU threads, median of {args.steps} steps")
    print("| size | mode | generator params (M) | first step (s) | ms/step | min ms/step | peak RSS (GB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if "failed" in r:
            print(f"| {r['size']} | {r['mode']} | failed: {r['failed']} | | | | |")
            continue
        print(f"| {r['size']} | {r['mode']} | {r['params_m']:.1f} | {r['first_s']:.1f} | {r['ms_per_step']:.0f} "
              f"| {r['ms_min']:.0f} | {r['peak_rss_gb']:.2f} |")


if __name__ == "__main__":
    main()
