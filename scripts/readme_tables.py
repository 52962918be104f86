"""Print the result tables of the README's headline and docs/results.md (Markdown) from one run folder.

    .venv/bin/python scripts/readme_tables.py runs/quick

Every number in the README's headline table and in docs/results.md's reference results comes from this
script run on the folder `make run` writes; nothing is typed in by hand.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from voxlib import reconstruction, results, run, transfer
from voxlib.report import findings

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


def _rate(acc, judge, cond) -> str:
    r = acc[(acc["judge"] == judge) & (acc["condition"] == cond)]
    return "—" if r.empty else f"{int(r['accepted'].iloc[0])}/{int(r['n'].iloc[0])}"


def _accepted(acc, judge, cond) -> float:
    r = acc[(acc["judge"] == judge) & (acc["condition"] == cond)]
    return float("nan") if r.empty else float(r["accepted"].iloc[0])


def _targets(summary, acc, img, converted) -> list:
    """The judge and cloning issues' targets, each checked from the numbers (held-out sentences)."""
    k = {c: _accepted(acc, "verifier", c) for c in summary.index}
    content = {c: _accepted(acc, "content", c) for c in summary.index}
    n = int(summary.loc["target", "n"])
    l1 = img.set_index("candidate")["l1"]
    pix = l1.get("pix2pix, instance mode", float("nan"))
    copy = l1.get("baseline: output = source", float("nan"))
    conv, src = summary.loc[converted], summary.loc["source"]
    eer = float(summary["verifier_eer"].iloc[0]) if "verifier_eer" in summary else float("nan")
    rows = [
        (f"CAM++ calibration EER ≤ 5 % ({100 * eer:.1f} %)", eer <= 0.05),
        (f"real held-out target accepted ≥ 9/10 ({k['target']:.0f}/{n})", k["target"] >= 0.9 * n),
        ("flat-image and channel controls rejected by the verifier in ≥ 9/10 ("
         + ", ".join(f"{c} accepted {k[c]:.0f}/{n}" for c in reconstruction.CONTROLS if c in k) + ")",
         all(k[c] <= 0.1 * n for c in reconstruction.CONTROLS if c in k)),
        (f"content-destroying control rejected by the content check in ≥ 9/10 (control_scrambled kept "
         f"{content.get('control_scrambled', float('nan')):.0f}/{n})", content.get("control_scrambled", n) <= 0.1 * n),
        (f"converted accepted as the target in ≥ 5/10 ({k[converted]:.0f}/{n})", k[converted] >= 0.5 * n),
        (f"content kept: ≥ the source's own rate minus one sentence ({content[converted]:.0f} vs "
         f"{content['source']:.0f} − 1)", content[converted] >= content["source"] - 1),
        (f"pix2pix beats output = source on image L1 ({pix:.2f} vs {copy:.2f})", pix < copy),
        (f"F0 detectable in ≥ 90 % of converted clips ({conv['has_f0']:.0%})", conv["has_f0"] >= 0.9),
        (f"LSD below the source's ({conv['lsd_db']:.1f} vs {src['lsd_db']:.1f} dB)", conv["lsd_db"] < src["lsd_db"]),
    ]
    for base in ("gmm", "ridge"):
        if base in summary.index:
            rows.append((f"pix2pix at least matches the {base} baseline on acceptance ({k[converted]:.0f} vs "
                         f"{k[base]:.0f})", k[converted] >= k[base]))
    return [f"- {'met' if ok else '**missed**'}: {text}" for text, ok in rows]


CONDITION_ROWS = ["source", "source_pitch", "converted", "converted_refined", "converted_confident",
                  "converted_thesis", "ridge", "gmm", "null_flat", "control_channel", "control_scrambled",
                  "oracle_source_phase", "oracle_refined", "oracle_own", "oracle_world", "oracle_filter", "world_copy",
                  "target"]


def cloning_tables(run_dir: Path) -> str:
    lines = []
    for rec in sorted(p.parent for p in (run_dir / "reconstruction").glob("*__*/summary.csv")):
        pair = rec.name
        img = pd.read_csv(run_dir / "cloning" / pair / "image_metrics.csv")
        summary = pd.read_csv(rec / "summary.csv", index_col=0)
        acc = pd.read_csv(rec / "acceptance.csv")
        converted, synthesis, mode = findings.pair_choice(run_dir, pair, run.read_record(run_dir))
        envelope = synthesis is not None
        n = int(summary.loc["target", "n"])
        lines += [f"### {pair.replace('__', ' → ')}", "",
                  f"Image distance on the {n} held-out sentences (pixels 0–255):", "",
                  "| candidate | L1 | PSNR (dB) |", "|---|---|---|"]
        lines += [f"| {r.candidate} | {r.l1:.2f} | {r.psnr_db:.1f} |" for r in img.itertuples()]
        chosen = f"Synthesis `{synthesis.name}`" if envelope else f"Phase mode `{mode}` (condition `{converted}`)"
        lines += ["", f"{chosen}, chosen on the training sentences.", "",
                  "| condition | MCD (dB) | LSD (dB) | mean of median F0 (Hz) | log-F0 RMSE (st) | F0 kept | CAM++ verifier "
                  "| content kept | d-vector verifier |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for cond in [c for c in CONDITION_ROWS if c in summary.index]:
            row = summary.loc[cond]
            name = f"**{cond}**" if cond == converted else cond
            lines.append(f"| {name} | {row['mcd_db']:.2f} | {row['lsd_db']:.1f} | {row['median_f0_hz']:.0f} | "
                         f"{row['log_f0_rmse_st']:.2f} | {row['has_f0']:.0%} | {_rate(acc, 'verifier', cond)} | "
                         f"{_rate(acc, 'content', cond)} | {_rate(acc, 'dvector_verifier', cond)} |")
        lines += ["", "Targets (held-out sentences):"] + _targets(summary, acc, img, converted)
        lines += ["", "Verdict (notebook 05's generated paragraph):", "",
                  reconstruction.verdict(summary, converted=converted, profile=run_dir.name, synthesis=synthesis), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, nargs="?", default=Path("runs/quick"))
    args = ap.parse_args(argv)
    sections = [("Cloning (notebooks 04-05)", cloning_tables)]
    if (args.run_dir / "sweep" / "sweep.csv").is_file():
        sections = [("Speaker identification (notebook 02)", sweep_tables),
                    ("Notebook 03's commentary", commentary)] + sections
    elif not (args.run_dir / "reconstruction").is_dir():
        print(f"{args.run_dir} has neither sweep/sweep.csv nor reconstruction/: run `make run` (or voxlib.run "
              f"--run-dir {args.run_dir}) first", file=sys.stderr)
        return 1
    for title, fn in sections:
        print(f"## {title}\n\n{fn(args.run_dir)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
