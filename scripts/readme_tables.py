"""Print the README's result tables (Markdown) from one run folder.

    .venv/bin/python scripts/readme_tables.py runs/quick

Every number in the README's "Reference results" section comes from this
script run on the folder `make run` writes; nothing is typed in by hand.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from voxlib import reconstruction, results, transfer

PAIR = "es-mx_allison__es-co_july"


def _cell(row) -> str:
    if row["n_seeds"] > 1:
        return f"{row['mean']:.1f} ({row['min']:.1f}–{row['max']:.1f}) · {row['train_mean']:.0f}"
    return f"{row['mean']:.1f} · {row['train_mean']:.0f}"


def sweep_tables(run_dir: Path) -> str:
    sweep = transfer.load_sweep(run_dir / "sweep" / "sweep.csv")
    runs = results.load_runs(run_dir / "sweep" / "sweep.csv")
    spread = results.seed_spread(runs)
    images = spread[~results.is_baseline(spread)]
    base = spread[results.is_baseline(spread)]
    n_test = int(sweep["n_test"].iloc[0])
    lines = [f"Held-out accuracy in % over {n_test} test clips, mean over seeds (seed range) · training accuracy:", ""]
    nets = list(dict.fromkeys(images["network"]))
    lines += ["| transform | " + " | ".join(nets) + " |", "|---|" + "---|" * len(nets)]
    for t in results.TRANSFORM_NAMES:
        sub = images[images["transform"] == t].set_index("network")
        if sub.empty:
            continue
        lines.append(f"| {t} | " + " | ".join(_cell(sub.loc[n]) if n in sub.index else "—" for n in nets) + " |")
    for _, row in base.iterrows():
        lines.append(f"| **baseline: {row['network']}** (audio) | {row['mean']:.1f} "
                     f"(CI {row['ci_low']:.1f}–{row['ci_high']:.1f}) · {row['train_mean']:.0f} |" + " |" * (len(nets) - 1))
    seeds = sorted(sweep.loc[~transfer.is_baseline(sweep), "seed"].unique())
    ranges = images["max"] - images["min"]
    lines += ["", f"Seeds {', '.join(map(str, seeds))}; the seed range of a (network, transform) cell runs from "
              f"{ranges.min():.1f} to {ranges.max():.1f} points (median {ranges.median():.1f}); one test clip is "
              f"{100 / n_test:.1f} points."]
    return "\n".join(lines)


def commentary(run_dir: Path) -> str:
    runs = results.load_runs(run_dir / "sweep" / "sweep.csv")
    tables = results.results_tables(runs, include_thesis=True)
    comparison = results.compare_with_thesis(runs, tables["thesis"])
    return results.commentary(tables["ours"], comparison=comparison, seeds=results.tidy_sweep(runs, seeds="each"))


def cloning_tables(run_dir: Path) -> str:
    pair = run_dir / "cloning" / PAIR
    img = pd.read_csv(pair / "image_metrics.csv")
    lines = ["| candidate (held-out sentences) | L1 | PSNR (dB) |", "|---|---|---|"]
    lines += [f"| {r.candidate} | {r.l1:.2f} | {r.psnr_db:.1f} |" for r in img.itertuples()]
    rec = run_dir / "reconstruction" / PAIR
    summary = pd.read_csv(rec / "summary.csv", index_col=0)
    acc = pd.read_csv(rec / "acceptance.csv")
    lines += ["", "| condition | MCD | LSD | RMS (dB) | verifier accepts | d-vector+LR | image classifier |",
              "|---|---|---|---|---|---|---|"]
    for cond, row in summary.iterrows():
        def rate(judge):
            r = acc[(acc["judge"] == judge) & (acc["condition"] == cond)]
            return "—" if r.empty else f"{int(r['accepted'].iloc[0])}/{int(r['n'].iloc[0])}"
        lines.append(f"| {cond} | {row['mcd_db']:.2f} | {row['lsd_db']:.1f} | {row['rms_ratio_db']:+.1f} | "
                     f"{rate('verifier')} | {rate('dvector_lr')} | {rate('classifier')} |")
    check = reconstruction.control_check(summary)
    controls = [c for c in reconstruction.CONTROLS if c in check.columns]
    lines += ["", "Control check (share of sentences each judge accepts as the target): " + "; ".join(
        f"{judge} {', '.join(f'{c} {row[c]:.0%}' for c in controls)} → {'reliable' if row['reliable'] else 'unreliable'}"
        for judge, row in check.iterrows())]
    lines += ["", reconstruction.verdict(summary, converted="converted_refined", profile=run_dir.name)]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, nargs="?", default=Path("runs/quick"))
    args = ap.parse_args(argv)
    if not (args.run_dir / "sweep" / "sweep.csv").is_file():
        print(f"{args.run_dir}/sweep/sweep.csv not found: run `make run` (or voxlib.run --run-dir {args.run_dir}) "
              "first", file=sys.stderr)
        return 1
    for title, fn in (("Speaker identification (notebook 02)", sweep_tables),
                      ("Notebook 03's commentary", commentary), ("Cloning (notebooks 04-05)", cloning_tables)):
        print(f"## {title}\n\n{fn(args.run_dir)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
