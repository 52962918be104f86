"""float32 or mixed_bfloat16 for pix2pix? Validation L1 on a split of the *training* sentences only.

    .venv/bin/python scripts/precision_study.py [--images DIR] [--seeds 0 1]   # about 5 minutes on 2 cores

The quick profile's Allison -> July pix2pix (params/quick.yaml, section 04_gan_cloning: its image size,
channels, epochs, residual U-Net, pairs). The pairs are read from ``--images`` (an images folder notebook 04
wrote with these settings, read only; default the quick run's) or, when that folder has no manifest, rebuilt
in a temporary folder with the quick profile's settings. The held-out sentences are never used: of the 30
training sentences 22 train and 8 validate (seed 1), as scripts/residual_study.py does. Each precision trains
once per seed (the seed sets the initialisation, the dropout and the batch order); the float32 runs' spread
over seeds is the noise the bfloat16 runs are compared with. Prints the validation image L1 and the seconds of
each run, then the float32 range and the bfloat16 values.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from voxlib import datasets, gan, metrics

ROOT = Path(__file__).resolve().parents[1]
SOURCE, TARGET = "es-mx_allison", "es-co_july"
DEFAULT_IMAGES = ROOT / "runs" / "quick" / "cloning" / f"{SOURCE}__{TARGET}" / "images"
PRECISIONS = ("float32", "mixed_bfloat16")


def quick_settings() -> dict:
    """The 04_gan_cloning section of params/quick.yaml."""
    return yaml.safe_load((ROOT / "params" / "quick.yaml").read_text())["04_gan_cloning"]


def load_pairs(images_dir: Path, work: Path, p: dict) -> gan.PairedImages:
    """The pairs of ``images_dir`` (notebook 04's ``images/``) or, without a manifest there, rebuilt in ``work``."""
    manifest = images_dir / "manifest.csv"
    if manifest.is_file():
        return gan.load_manifest_pairs(manifest, SOURCE, TARGET, channels=p["channels"])
    corpus = datasets.run_split(datasets.discover(ROOT / "data" / "embedded"), work / "run",
                                test_size=p["test_size"], seed=0)
    clip_settings = gan.ClipSettings(pair_alignment=p["pair_alignment"], pitch_mode=p["pitch_mode"],
                                     highpass_hz=p["highpass_hz"])
    return gan.write_paired_images(corpus, SOURCE, TARGET, work / "images", clip_settings=clip_settings,
                                   image_size=tuple(p["image_size"]), channels=p["channels"],
                                   max_pairs=p["max_pairs"], seed=0, test_size=p["test_size"],
                                   frequency_limits=p["frequency_limits"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="notebook 04's images folder (read only)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args(argv)
    p = quick_settings()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        pairs = load_pairs(args.images, d, p)
        train, _ = gan.split_pairs(pairs, test_size=p["test_size"])     # the held-out sentences are never used
        plain = gan.PairedImages(train.names, train.source, train.target, train.meta.drop(columns="split"))
        fit, val = gan.split_pairs(plain, test_size=0.25, seed=1)
        print(f"{len(fit)} training / {len(val)} validation pairs (all from the training sentences), "
              f"{p['epochs']} epochs, residual={p['residual']}; validation L1, copy the source: "
              f"{metrics.image_l1(val.target, val.source):.3f}")
        l1 = {precision: [] for precision in PRECISIONS}
        for seed in args.seeds:
            for precision in PRECISIONS:   # alternating, so both see the same machine load
                t0 = time.perf_counter()
                model = gan.Pix2Pix(fit.source.shape[1:3], in_channels=fit.source.shape[-1],
                                    out_channels=fit.target.shape[-1], seed=seed, residual=p["residual"],
                                    precision=precision)
                model.fit(fit.source, fit.target, d / f"gan_{precision}_{seed}", epochs=p["epochs"],
                          checkpoint_every=p["epochs"], progress=False)
                seconds = time.perf_counter() - t0
                l1[precision].append(metrics.image_l1(val.target, gan.generate(model.generator, val.source)))
                print(f"{precision:>15} seed {seed}: validation L1 {l1[precision][-1]:.3f} ({seconds:.0f} s)")
    lo, hi = min(l1["float32"]), max(l1["float32"])
    print(f"float32 over seeds {args.seeds}: {lo:.3f} .. {hi:.3f} (spread {hi - lo:.3f}, mean "
          f"{np.mean(l1['float32']):.3f}); mixed_bfloat16: {', '.join(f'{v:.3f}' for v in l1['mixed_bfloat16'])} "
          f"(mean {np.mean(l1['mixed_bfloat16']):.3f}; "
          f"{sum(lo <= v <= hi for v in l1['mixed_bfloat16'])} of {len(args.seeds)} inside the float32 range)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
