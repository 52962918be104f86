"""Copy the listening examples of docs/results.md out of a run (by default the medium profile's).

    .venv/bin/python scripts/listening_examples.py runs/medium

Per speaker pair, the sentence notebook 05 plays (its seeded choice among the held-out sentences, seed 0, not
picked by ear) in five versions: the source, the converted voice (the synthesis or phase mode notebook 05 chose on
training sentences), the ridge and GMM baselines (GMM: envelope runs only) and the real target. They go to docs/listening/<source>__<target>/ (8 kHz 16-bit
WAV, about 48 kB each) with a small index.csv; existing files there are replaced only by this script's own.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd

from voxlib import run
from voxlib.report import findings

OUT = Path("docs/listening")
KEEP = ("source", "converted", "ridge", "gmm", "target")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, nargs="?", default=Path("runs/medium"))
    ap.add_argument("--seed", type=int, default=0, help="notebook 05's seed (the sentence it plays)")
    args = ap.parse_args(argv)
    rows = []
    for rec in sorted((args.run_dir / "reconstruction").glob("*__*")):
        table = pd.read_csv(rec / "reconstructions.csv")
        utterance = findings.played_sentence(table, seed=args.seed)
        clips = table[table["utterance"] == utterance].set_index("condition")["path"]
        converted = findings.pair_choice(args.run_dir, rec.name, run.read_record(args.run_dir)).converted
        dest = OUT / rec.name
        dest.mkdir(parents=True, exist_ok=True)
        for name in KEEP:
            condition = converted if name == "converted" else name
            if condition not in clips.index:
                continue
            target = dest / f"{utterance}__{name}.wav"
            shutil.copyfile(rec / clips[condition] if not Path(clips[condition]).is_absolute() else clips[condition],
                            target)
            rows.append({"pair": rec.name, "utterance": utterance, "version": name, "condition": condition,
                         "file": str(target)})
    pd.DataFrame(rows).to_csv(OUT / "index.csv", index=False)
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
