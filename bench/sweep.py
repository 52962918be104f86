"""Cached-trunk training vs plain ``model.fit`` on the full graph (notebook 02).

Same network, same initial weights, same batches: the full graph runs the
frozen trunk forward every epoch; the cached trunk runs it once and then trains
only the last five layers. Prints a table (seconds, speed-up, agreement of the
two models' predictions). Target: >= 5x at 10 epochs.

Usage: python bench/sweep.py [--network MobileNetV2] [--size 224] [--images 160] [--epochs 10]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from voxlib import transfer  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="MobileNetV2")
    ap.add_argument("--size", type=int, default=224, help="input size, px (thesis: 224)")
    ap.add_argument("--images", type=int, default=160, help="training images")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--weights", default="imagenet", help="imagenet | none (random if not cached)")
    args = ap.parse_args(argv)

    spec = transfer.NETWORKS[args.network]
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (args.images, 256, 256), dtype=np.uint8)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, args.images)]
    x = transfer.prepare_images(imgs, size=args.size, preprocess=spec.preprocess, channels=spec.channels)
    kw = dict(image_size=args.size, weights=args.weights, on_missing_weights="random", seed=0)
    fit = dict(epochs=args.epochs, batch_size=args.batch_size, seed=0)

    full, label = transfer.build_model(args.network, 4, **kw)
    t0 = time.perf_counter()
    transfer.fit_model(full, x, y, **fit)
    t_full = time.perf_counter() - t0

    cached, _ = transfer.build_model(args.network, 4, **kw)
    t0 = time.perf_counter()
    _, _, timing = transfer.train_cached(cached, x, y, trainable_layers=spec.trainable_layers, **fit)
    t_cached = time.perf_counter() - t0

    diff = float(np.abs(full.predict(x, verbose=0) - cached.predict(x, verbose=0)).max())
    print(f"\n{args.network} ({label} weights), {args.size} px, {args.images} images, "
          f"{args.epochs} epochs of batch {args.batch_size}, {os.cpu_count()} cores")
    print(f"{'method':<34}{'seconds':>9}")
    print(f"{'model.fit on the full graph':<34}{t_full:>9.1f}")
    print(f"{'cached trunk (total)':<34}{t_cached:>9.1f}")
    print(f"{'  trunk features, once':<34}{timing['features_seconds']:>9.1f}")
    print(f"{'  tail fit':<34}{timing['fit_seconds']:>9.1f}")
    print(f"{'speed-up':<34}{t_full / t_cached:>8.1f}x   (target >= 5x at 10 epochs)")
    print(f"{'max |p_full - p_cached|':<34}{diff:>9.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
