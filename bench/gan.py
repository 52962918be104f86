"""pix2pix train-step speed on this CPU: milliseconds per step at 64/128/256 pixels,
eager vs compiled (``tf.function``) vs XLA (``jit_compile=True``), float32 vs
``mixed_bfloat16`` (Keras's policy: bfloat16 compute, float32 weights), batch 1,
3 channels (the thesis's network), and the peak memory of each run.

Each configuration runs in its own process so that its first step (tracing) and
peak RSS are its own; the two precisions of one size and mode run one after the
other, so they see the same machine load. Usage::

    .venv/bin/python bench/gan.py [--sizes 64 128 256] [--modes compiled xla [eager]] [--steps 5]
                                  [--precisions float32 mixed_bfloat16]
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
PRECISIONS = ("float32", "mixed_bfloat16")
SHORT = {"float32": "f32", "mixed_bfloat16": "bf16"}


def measure(size: int, mode: str, steps: int, channels: int = 3, precision: str = "float32") -> dict:
    """Train steps on random images in this process; times in seconds."""
    model = gan.Pix2Pix((size, size), in_channels=channels, out_channels=channels, seed=0, precision=precision,
                        **MODES[mode])
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
    return dict(size=size, mode=mode, precision=precision, params_m=model.generator.count_params() / 1e6, first_s=first,
                ms_per_step=1000 * float(np.median(times)), ms_min=1000 * float(np.min(times)),
                peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--modes", nargs="+", default=["compiled", "xla"], choices=list(MODES),
                   help="default compiled and xla (what fit can run); eager doubles the run time")
    p.add_argument("--steps", type=int, default=5, help="timed steps after two warm-up steps")
    p.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=list(PRECISIONS))
    p.add_argument("--one", help=argparse.SUPPRESS)      # internal: size,mode,precision -> JSON on stdout
    args = p.parse_args(argv)
    if args.one:
        size, mode, precision = args.one.split(",")
        print(json.dumps(measure(int(size), mode, args.steps, precision=precision)))
        return
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    rows = []
    for size in args.sizes:
        for mode in args.modes:
            row = dict(size=size, mode=mode)
            for precision in args.precisions:       # side by side: the precisions of one size and mode in a row
                out = subprocess.run([sys.executable, __file__, "--one", f"{size},{mode},{precision}",
                                      "--steps", str(args.steps)], capture_output=True, text=True, env=env)
                if out.returncode:
                    print(f"{size} {mode} {precision}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                    row[precision] = dict(failed=out.stderr.strip().splitlines()[-1][:80])
                    continue
                row[precision] = json.loads(out.stdout.strip().splitlines()[-1])
                row["params_m"] = row[precision]["params_m"]
                print(".", end="", flush=True, file=sys.stderr)
            rows.append(row)
    print(file=sys.stderr)
    _print_table(rows, args.precisions, args.steps)


def _print_table(rows, precisions, steps):
    """One markdown row per size and mode: each precision's median ms/step, the speed-up of bf16
    (float32 ms / bf16 ms; > 1 is faster) when both ran, then min ms/step, first step and peak RSS
    as ``float32 / bf16``."""
    both = all(p in precisions for p in PRECISIONS)
    names = " / ".join(SHORT[p] for p in precisions)
    print(f"pix2pix train step, batch 1, 3 channels, {os.cpu_count()} CPU threads, median of {steps} steps")
    cols = ["size", "mode", "generator params (M)", *(f"ms/step {SHORT[p]}" for p in precisions),
            *(["speed-up f32 / bf16"] if both else []),
            f"min ms/step ({names})", f"first step, s ({names})", f"peak RSS, GB ({names})"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        runs = [row.get(p, dict(failed="not run")) for p in precisions]
        cells = [str(row["size"]), row["mode"], format(row["params_m"], ".1f") if "params_m" in row else ""]
        cells += [f"failed: {r['failed']}" if "failed" in r else f"{r['ms_per_step']:.0f}" for r in runs]
        if both:
            f32, bf16 = row["float32"], row["mixed_bfloat16"]
            ok = "ms_per_step" in f32 and "ms_per_step" in bf16
            cells.append(f"{f32['ms_per_step'] / bf16['ms_per_step']:.2f}" if ok else "")
        for key, fmt in (("ms_min", ".0f"), ("first_s", ".1f"), ("peak_rss_gb", ".2f")):
            cells.append(" / ".join("-" if "failed" in r else format(r[key], fmt) for r in runs))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
