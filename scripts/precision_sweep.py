"""Notebook 02's sweep in bfloat16 beside its float32 run: is the accuracy within noise?

Runs the profile's notebook-02 settings (networks, transforms, seeds, sizes) on
the run's own images (``<run_dir>/transforms/manifest.csv``, the run's split)
with ``precision="mixed_bfloat16"`` into ``<run_dir>-bf16/sweep`` (resumable),
then prints, per (network, transform), the held-out accuracy over the seeds in
float32 (the run's ``sweep/sweep.csv``, written by notebook 02) and in bfloat16,
their difference, and the seed spread, plus the sweep's wall time per precision.

Usage: python scripts/precision_sweep.py [--profile quick] [--run-dir runs/quick]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd  # noqa: E402

from voxlib import results, run, transfer  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--run-dir", help="default runs/<profile>")
    args = ap.parse_args(argv)
    run_dir = run.resolve(args.run_dir or f"runs/{args.profile}")
    p = run.load_profile(args.profile)["02_transfer_learning"]
    out = run_dir.with_name(run_dir.name + "-bf16") / "sweep"
    t0 = time.perf_counter()
    transfer.run_sweep(run_dir / "transforms" / "manifest.csv", out, networks=p["networks"],
                       transforms=p.get("transforms"), image_size=p.get("image_size"), epochs=p.get("epochs"),
                       batch_size=p.get("batch_size"), weights=p.get("weights", "imagenet"),
                       on_missing_weights=p.get("on_missing_weights", "error"), seeds=p.get("seeds", [0]),
                       precision="mixed_bfloat16", progress=True)
    print(f"bfloat16 sweep: {time.perf_counter() - t0:.0f} s (resumed rows cost nothing)")
    tables = {}
    for label, folder in (("float32", run_dir / "sweep"), ("bf16", out)):
        sweep = transfer.load_sweep(folder / "sweep.csv")
        sweep = sweep[~transfer.is_baseline(sweep)]
        sweep = sweep[sweep["precision"] == ("float32" if label == "float32" else "mixed_bfloat16")]
        runs = results.select_runs(sweep)
        tables[label] = results.seed_spread(runs).set_index(["network", "transform"])
        print(f"{label}: fit + features {runs['fit_seconds'].sum() + runs['features_seconds'].sum():.0f} s "
              f"over {len(runs)} runs")
    both = tables["float32"][["mean", "sd"]].join(tables["bf16"][["mean", "sd"]], lsuffix="_f32", rsuffix="_bf16")
    both["bf16_minus_f32"] = both["mean_bf16"] - both["mean_f32"]
    pd.set_option("display.width", 140)
    print("\nheld-out accuracy (%), mean over seeds; sd = seed spread")
    print(both.round(2).to_string())
    diff = both["bf16_minus_f32"]
    print(f"\nmean difference {diff.mean():+.2f} points (|max| {diff.abs().max():.2f}); "
          f"mean seed sd float32 {both['sd_f32'].mean():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
