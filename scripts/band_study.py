"""Which CWT band should the images use? Measured on training sentences only (issue: choose on training/validation).

    .venv/bin/python scripts/band_study.py            # cloning part (about 3 min)
    .venv/bin/python scripts/band_study.py --classification   # + notebook 02's effect (SequentialCNN, 3 CWTs)

Cloning: the quick profile's Allison -> July pairs (40 sentences, the run's split drawn with seed 0); only its 30
*training* sentences are used, split again (seed 1) into 22 for fitting and 8 for validation. For each band the
pairs' images are remade, the ridge baseline is fitted on the 22 and applied to the 8, and every validation
sentence is turned into sound (pitch-converted source's phase): LSD to the target (60 Hz high-pass, DTW), the
verifier's acceptance (fitted on the 22), and the oracle with the target's own image and phase (the pipeline's
ceiling: SNR). Classification (optional): notebook 01's images of the quick profile's sample remade with each
band, SequentialCNN (64 px, seed 0) on bump, morse, amor; held-out accuracy of the run's split. That part looks
at held-out recordings, so it is reported, not used to choose.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from voxlib import datasets, gan, metrics, reconstruction as R, transforms, images, transfer

BANDS = {"MATLAB full range": None, "50-4000 Hz (speech)": (50.0, 4000.0)}
SOURCE, TARGET = "es-mx_allison", "es-co_july"


def cloning(tmp: Path) -> pd.DataFrame:
    corpus = datasets.run_split(datasets.discover("data/embedded"), tmp / "run", test_size=0.25, seed=0)
    rows = []
    for label, band in BANDS.items():
        pairs = gan.write_paired_images(corpus, SOURCE, TARGET, tmp / label.split()[0] / "images", image_size=(64, 128),
                                        max_pairs=40, seed=0, test_size=0.25, frequency_limits=band)
        train, _ = gan.split_pairs(pairs, test_size=0.25)           # the run's held-out sentences: never used
        plain = gan.PairedImages(train.names, train.source, train.target, train.meta.drop(columns="split"))
        fit, val = gan.split_pairs(plain, test_size=0.27, seed=1)   # 22 + 8 training sentences
        _, _, manifest = gan.ridge_baseline(fit, gan.join_pairs(fit, val), tmp / label.split()[0] / "ridge",
                                            source=SOURCE, target=TARGET)
        manifest["split"] = ["train"] * len(fit) + ["test"] * len(val)
        judges = R.fit_judges(R.training_clips(manifest), target=TARGET, source=SOURCE)
        recon = R.write_reconstructions(manifest[manifest["split"] == "test"], tmp / label.split()[0] / "rec",
                                        phase="source", overwrite=True, progress=False)
        table = R.measure(recon, judges=judges, similarity=False, progress=False)
        s = R.summarize_conditions(table)
        rows.append({"band": label, "rows": int(pairs.meta["n_freq"].iloc[0]),
                     "ridge LSD (dB)": s.loc["converted", "lsd_db"], "source LSD (dB)": s.loc["source", "lsd_db"],
                     "ridge verifier": s.loc["converted", "verifier_rate"],
                     "oracle_own SNR (dB)": s.loc["oracle_own", "snr_db"],
                     "oracle_source_phase LSD (dB)": s.loc["oracle_source_phase", "lsd_db"]})
    return pd.DataFrame(rows).set_index("band")


def classification(tmp: Path) -> pd.DataFrame:
    corpus = datasets.discover("data/embedded")
    corpus = datasets.run_split(corpus, tmp / "cls", test_size=0.25, seed=0)
    corpus = datasets.sample_per_speaker(corpus, 30, seed=0)
    out = {}
    for label, band in BANDS.items():
        man = images.write_images(corpus, tmp / "cls" / label.split()[0], transforms=("bump", "morse", "amor"),
                                  image_size=(512, 512), frequency_limits=band, progress=False)
        sweep = transfer.run_sweep(man, tmp / "cls" / label.split()[0] / "sweep", networks=["SequentialCNN"],
                                   image_size={"SequentialCNN": 64}, seeds=(0,), progress=False)
        out[label] = sweep.set_index("transform")["test_accuracy"]
    return pd.DataFrame(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classification", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        print(cloning(Path(d)).round(2).to_string())
        if args.classification:
            print()
            print(classification(Path(d)).round(1).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
