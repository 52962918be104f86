"""What do the numbers say? The generated commentary of notebook 03, written from the tables.

:func:`commentary` turns a tidy results table (and optionally the thesis comparison and the
per-seed table) into Markdown: best and worst transform and model, their paired gap and its
interval (:func:`voxlib.results.stats.paired_difference`), the seed-to-seed noise verdict
(:func:`voxlib.results.stats.within_seed_noise`), the best pair, the baselines and the comparison
with the thesis. Each ``_describe_*`` helper writes one bullet.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from voxlib.results.stats import (
    CONFIDENCE,
    SELECTION_WARNING_ABOVE,
    paired_difference,
    within_seed_noise,
)
from voxlib.results.tables import mean_accuracy, split_baselines, validate_results

__all__ = ["commentary"]

def _fmt_ci(lo: float, hi: float) -> str:
    return f" (95 % CI {lo:.1f}-{hi:.1f})" if np.isfinite(lo) and np.isfinite(hi) else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _seed_range(row) -> float:
    """max - min over seeds of a row with ``seed_min``/``seed_max`` (and ``n_seeds``); NaN below 2 seeds."""
    if not {"seed_min", "seed_max", "n_seeds"} <= set(row.index) or not row["n_seeds"] >= 2:
        return np.nan
    return float(row["seed_max"] - row["seed_min"])


def _noise_words(diff: float, range_a: float, range_b: float) -> str:
    """The seed verdict on a gap, as a sentence ("" when the spread is n/a)."""
    verdict = within_seed_noise(diff, range_a, range_b)
    if verdict is None:
        return ""
    wider = max(range_a, range_b)
    if verdict:
        return f" The gap is **within seed-to-seed noise** (no larger than the wider seed range, {wider:.1f} points)."
    return f" The gap is larger than either seed range ({wider:.1f} points at most): the seeds do not explain it."


def _describe_factor(results: pd.DataFrame, by: str, seeds: pd.DataFrame | None) -> list[str]:
    s = mean_accuracy(results, by=by, seeds=seeds)
    if len(s) < 2:
        return [f"- Only one {by} ({s[by].iloc[0]}): nothing to rank."]
    best, worst = s.loc[s["mean"].idxmax()], s.loc[s["mean"].idxmin()]
    other = "models" if by == "transform" else "transforms"
    line = (
        f"- Best {by}: **{best[by]}** (mean {best['mean']:.1f} % over {_plural(best['n'], other[:-1])}); "
        f"worst: **{worst[by]}** ({worst['mean']:.1f} %), {best['mean'] - worst['mean']:.1f} points apart."
    )
    p = paired_difference(results, by=by, a=best[by], b=worst[by])
    if p["method"] == "paired t":
        interval = f"{p['diff']:.1f} points ({100 * CONFIDENCE:g} % CI {p['ci_low']:.1f} to {p['ci_high']:.1f})"
        verdict = ("the interval excludes zero, so the gap is larger than" if p["ci_low"] > 0 else
                   "the interval includes zero, so the gap is within")
        line += (f" Paired over the {p['n']} {other} that have both, {best[by]} is ahead by {interval} "
                 f"and wins in {p['wins']} of {p['n']}: {verdict} the variation across {other}.")
    else:
        line += (f" Paired over {_plural(p['n'], other[:-1])} with both, {best[by]} is ahead by "
                 f"{p['diff']:.1f} points (wins in {p['wins']} of {p['n']}): {p['note']}.")
    return [line + _noise_words(best["mean"] - worst["mean"], _seed_range(best), _seed_range(worst))]


def _describe_pairs(results: pd.DataFrame) -> list[str]:
    r = results.reset_index(drop=True)
    best, worst = r.loc[r["accuracy"].idxmax()], r.loc[r["accuracy"].idxmin()]
    line = (
        f"- Best pair: **{best['model']} + {best['transform']}**, {best['accuracy']:.1f} %"
        f"{_fmt_ci(best['ci_low'], best['ci_high'])}; worst: {worst['model']} + {worst['transform']}, "
        f"{worst['accuracy']:.1f} %{_fmt_ci(worst['ci_low'], worst['ci_high'])}."
    )
    if r[["ci_low", "ci_high"]].notna().all(axis=None) and len(r) > 1:
        overlap = r[(r.index != best.name) & (r["ci_high"] >= best["ci_low"])]
        if overlap.empty:
            line += " Its confidence interval overlaps no other pair's: it is clearly the best."
        else:
            line += (
                f" Its confidence interval overlaps those of {len(overlap)} of the other {len(r) - 1} "
                "pairs, so the test set cannot tell it apart from them."
            )
            if worst["ci_high"] < best["ci_low"]:
                line += " It is clearly better than the worst pair (the intervals do not overlap)."
    else:
        line += " No confidence intervals are available for these numbers."
    if len(r) > 1 and np.isfinite(_seed_range(best)):
        others = r[r.index != best.name]
        runner = others.loc[others["accuracy"].idxmax()]
        noisy = {i: within_seed_noise(best["accuracy"] - o["accuracy"], _seed_range(best), _seed_range(o))
                 for i, o in others.iterrows()}
        judged = {True: "within seed-to-seed noise", False: "more than the seeds explain", None: "seed spread n/a"}
        line += (f" The runner-up, {runner['model']} + {runner['transform']} ({runner['accuracy']:.1f} %), is "
                 f"{best['accuracy'] - runner['accuracy']:.1f} points behind ({judged[noisy[runner.name]]});"
                 f" {sum(v is True for v in noisy.values())} of the other {len(others)} pairs are within "
                 "seed-to-seed noise of the best.")
    return [line]


def _describe_seeds(results: pd.DataFrame) -> list[str]:
    if "n_seeds" not in results.columns or results["n_seeds"].isna().all():
        return []
    n = results["n_seeds"].astype(int)
    if n.max() < 2:
        return ["- One seed per pair: the seed-to-seed spread is n/a, so no gap below is judged against it."]
    ranges = results["seed_max"] - results["seed_min"]
    seeds = f"{n.min()}" if n.min() == n.max() else f"{n.min()} to {n.max()}"
    return [f"- Each accuracy is the mean of {seeds} seeds on one split (a seed changes only the initial weights "
            f"and the batch order); the seed range (max - min) of a pair runs from {ranges.min():.1f} to "
            f"{ranges.max():.1f} points (median {ranges.median():.1f}). A gap no larger than the wider seed range "
            "of its two sides is called within seed-to-seed noise."]


def _describe_baselines(method: pd.DataFrame, baselines: pd.DataFrame) -> list[str]:
    if baselines.empty:
        return []
    b = baselines.reset_index(drop=True)
    listed = "; ".join(f"{row['model']} {row['accuracy']:.1f} %{_fmt_ci(row['ci_low'], row['ci_high'])}"
                       for _, row in b.iterrows())
    line = f"- Baselines (not the thesis's method: features of the audio + logistic regression): {listed}."
    if not method.empty:
        top, ref = method.loc[method["accuracy"].idxmax()], b.loc[b["accuracy"].idxmax()]
        gap = ref["accuracy"] - top["accuracy"]
        side = "below" if gap > 0 else "above"
        line += (f" The best thesis-method model, {top['model']} + {top['transform']} ({top['accuracy']:.1f} %), is "
                 f"**{abs(gap):.1f} points {side}** the best baseline, {ref['model']} ({ref['accuracy']:.1f} %).")
    return [line]


def _describe_comparison(comparison: pd.DataFrame) -> list[str]:
    if comparison is None or comparison.empty:
        return ["- No (model, transform) pair is in both the thesis's table and ours."]
    c = comparison
    above = int((c["thesis_train"] > c["ours_ci_high"]).sum())
    runs = int(c["n_seeds"].sum()) if "n_seeds" in c.columns else len(c)
    averaged = c.loc[c["thesis_n"] > 1, "model"].unique() if "thesis_n" in c.columns else []
    note = (f" Where the thesis has two columns for one network their mean is used ({'; '.join(averaged)}), so "
            "each of our pairs counts once." if len(averaged) else "")
    return [
        f"- On the {len(c)} (network, transform) pair(s) both tables have ({_plural(runs, 'run')} of ours), the "
        f"thesis's training accuracy averages {c['thesis_train'].mean():.1f} %; ours averages "
        f"{c['ours_train'].mean():.1f} % on training data and {c['ours_test'].mean():.1f} % on held-out utterances. "
        f"The thesis's number lies above our held-out 95 % CI in {above} of {len(c)} pairs.{note} Different "
        "speakers and data: compare trends, not values."
    ]


_EVALUATED = {
    "train": "on the training data (the thesis evaluated on the images it trained on, "
             "so these are training accuracies, not generalisation)",
    "test": "on held-out utterances, with 95 % confidence intervals",
}


def commentary(results: pd.DataFrame, *, comparison: pd.DataFrame | None = None,
               seeds: pd.DataFrame | None = None, title: str | None = None) -> str:
    """Markdown summary of a results table, written from the numbers.

    Names the best and worst transform and model (means), the gap in points,
    whether that gap exceeds its paired 95 % interval (from
    :data:`MIN_PAIRS_FOR_INTERVAL` pairs) and the seed-to-seed noise
    (:func:`within_seed_noise`), the best pair and whether its confidence
    interval and seeds separate it from the others, the baselines and how far
    the best thesis-method model is from the best of them; with ``comparison``
    (:func:`compare_with_thesis`), one line on thesis vs ours.

    Parameters
    ----------
    results : pd.DataFrame
        Tidy table of one source (:data:`RESULTS_COLUMNS`, with
        :data:`SPREAD_COLUMNS` for ours), baselines included or not.
    comparison : pd.DataFrame, optional
    seeds : pd.DataFrame, optional
        The same runs one row per seed (:func:`tidy_sweep` with ``seeds="each"``):
        lets transform and model means be judged against seed-to-seed noise.
    title : str, optional
        Bold heading; default from the table's ``source``.

    Returns
    -------
    str
        Markdown (a heading line and bullet points).
    """
    validate_results(results)
    if results.empty:
        return "No results to describe."
    method, baselines = split_baselines(results)
    sources = ", ".join(dict.fromkeys(results["source"].astype(str)))
    where = "; ".join(_EVALUATED.get(e, e) for e in dict.fromkeys(results["evaluated_on"]))
    if method.empty:
        return "\n".join([f"**{title or sources}**: baselines only, accuracy {where}.", ""]
                         + _describe_baselines(method, baselines))
    n_m, n_t = method["model"].nunique(), method["transform"].nunique()
    lines = [f"**{title or sources}**: {n_m} model(s) x {n_t} transform(s), accuracy {where}."]
    if len(method) < n_m * n_t:
        lines[0] += (f" The table is incomplete ({len(method)} of {n_m * n_t} pairs), so the means below "
                     "average different sets; the paired gaps compare like with like.")
    lines.append("")
    lines += _describe_seeds(method)
    lines += _describe_factor(method, "transform", seeds)
    lines += _describe_factor(method, "model", seeds)
    lines += _describe_pairs(method)
    lines += _describe_baselines(method, baselines)
    if comparison is not None:
        lines += _describe_comparison(comparison)
    if n_m > SELECTION_WARNING_ABOVE or n_t > SELECTION_WARNING_ABOVE:
        lines.append("- Best and worst are picked after seeing the numbers, so their intervals are optimistic: "
                     "confirm a winner on new data (another seed or speakers) before relying on it.")
    return "\n".join(lines)

