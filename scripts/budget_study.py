"""More sentences or more epochs? The quick profile's training budget split, measured on validation sentences.

    .venv/bin/python scripts/budget_study.py            # about 30 minutes on 2 cores

For each of the quick profile's pairs, envelope images (the default representation, 64 mel bands, one column per
5 ms frame) are made for 100 shared sentences with the run's split (seed 0); the 25 held-out sentences are never
touched. Of the 75 training sentences, 15 are set aside for validation (seed 1) and the others train pix2pix
(residual U-Net, the quick profile's settings) with the same budget of image-epochs as the quick profile
(30 sentences x 10 epochs = 300 images seen), split differently: 15 x 20, 30 x 10, 60 x 5. The table gives each
split's validation image L1 (pixel units; one level = 100/255 dB of envelope), the same for copying the source,
and the training seconds (they name the CPU). Training time depends on the images seen, not on how they split;
more sentences also cost their WORLD analysis (about 1 s per pair of clips on 2 cores) and 05's synthesis.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from voxlib import datasets, devices, gan, metrics

PAIRS = [("es-mx_allison", "es-co_july"), ("it_carlo", "it_menardi")]
SPLITS = [(15, 20), (30, 10), (60, 5)]          # (training sentences, epochs): 300 images seen each
N_VALIDATION = 15


def _validation_split(train, n_val, seed=1):
    """A seeded validation set of ``n_val`` training sentences, and the rest in a seeded order (nested subsets)."""
    order = np.random.default_rng(seed).permutation(len(train))
    return train.subset(np.sort(order[:n_val])), train.subset(order[n_val:])


def study_pair(corpus, source, target, work: Path, splits=SPLITS) -> list[dict]:
    pairs = gan.write_paired_images(corpus, source, target, work / "images", image_size=(64, 128), max_pairs=100,
                                    seed=0, test_size=0.25, representation="envelope")
    train, _ = gan.split_pairs(pairs, test_size=0.25)          # the held-out sentences are never used
    val, pool = _validation_split(train, N_VALIDATION)
    rows = [dict(pair=f"{source} -> {target}", sentences=0, epochs=0, candidate="copy the source",
                 validation_l1=metrics.image_l1(val.target, val.source), seconds=0.0)]
    print(f"{source} -> {target}: copy the source: validation L1 {rows[0]['validation_l1']:.2f}", flush=True)
    for n, epochs in splits:
        if n > len(pool):
            print(f"{source} -> {target}: only {len(pool)} training sentences, skipping {n} x {epochs}")
            continue
        fit = pool.subset(np.arange(n))
        model = gan.Pix2Pix(fit.source.shape[1:3], in_channels=1, out_channels=1, seed=0, residual=True)
        start = time.perf_counter()
        model.fit(fit.source, fit.target, work / f"gan_{n}x{epochs}", epochs=epochs, checkpoint_every=epochs,
                  progress=False)
        seconds = time.perf_counter() - start
        l1 = metrics.image_l1(val.target, gan.generate(model.generator, val.source))
        rows.append(dict(pair=f"{source} -> {target}", sentences=n, epochs=epochs, candidate="pix2pix",
                         validation_l1=l1, seconds=seconds))
        print(f"{source} -> {target}: {n} sentences x {epochs} epochs: validation L1 {l1:.2f} ({seconds:.0f} s)",
              flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data/embedded")
    parser.add_argument("--out", default=None, help="also write the table to this CSV")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        corpus = datasets.run_split(datasets.discover(args.data_dir), d / "run", test_size=0.25, seed=0)
        for source, target in PAIRS:
            rows += study_pair(corpus, source, target, d / f"{source}__{target}")
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    print(f"\nCPU: {devices.cpu_model()}")
    print(table.round(2).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
