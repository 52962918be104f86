"""Residual or plain U-Net? Measured on a validation split of the *training* sentences only.

    .venv/bin/python scripts/residual_study.py      # about 5 minutes on 2 cores

The quick profile's Allison -> July pairs (40 sentences, the run's split drawn with seed 0, DTW pairs, pitch
converted, 60 Hz high-pass, MATLAB's full CWT band as when this was measured); of its 30 training sentences 22
train pix2pix for 10 epochs and 8 validate (seed 1). Prints the validation image L1 of copying the source, of the
thesis's U-Net and of the residual one.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from voxlib import datasets, gan, metrics


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        corpus = datasets.run_split(datasets.discover("data/embedded"), d / "run", test_size=0.25, seed=0)
        pairs = gan.write_paired_images(corpus, "es-mx_allison", "es-co_july", d / "images", image_size=(64, 128),
                                        max_pairs=40, seed=0, test_size=0.25, frequency_limits=None)
        train, _ = gan.split_pairs(pairs, test_size=0.25)          # the held-out sentences are never used
        plain = gan.PairedImages(train.names, train.source, train.target, train.meta.drop(columns="split"))
        fit, val = gan.split_pairs(plain, test_size=0.25, seed=1)
        print(f"validation L1, copy the source: {metrics.image_l1(val.target, val.source):.2f}")
        for residual in (False, True):
            model = gan.Pix2Pix(fit.source.shape[1:3], in_channels=fit.source.shape[-1],
                                out_channels=fit.target.shape[-1], seed=0, residual=residual)
            model.fit(fit.source, fit.target, d / f"gan_{residual}", epochs=10, checkpoint_every=10, progress=False)
            l1 = metrics.image_l1(val.target, gan.generate(model.generator, val.source))
            print(f"validation L1, {'residual' if residual else 'thesis'} U-Net after 10 epochs: {l1:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
