"""What do the numbers say? The generated commentary of notebook 03, written from the tables.

:func:`commentary` turns a tidy results table (and optionally the thesis comparison and the
per-seed table) into Markdown: best and worst transform and model, their paired gap and its
interval (:func:`voxlib.results.stats.paired_difference`), the seed-to-seed noise verdict
(:func:`voxlib.results.stats.within_seed_noise`), the best pair, the baselines and the comparison
with the thesis. Each ``_describe_*`` helper writes one bullet.

The ``*_finding`` functions write the one or two sentences that follow a single result in
notebooks 02 and 03 (this run's finding, not how to read the figure): the image models against
the baselines (:func:`baselines_finding`), what the seeds move (:func:`seed_finding`), training
against held-out accuracy (:func:`train_gap_finding`, :func:`memorisation_finding`), the
confusions (:func:`confusion_finding`), the ranking of transforms or models
(:func:`ranking_finding`, with :func:`standouts` choosing which bars may be coloured best or
worst), how much each model cares which image it gets (:func:`sensitivity_finding`) and the
thesis beside ours (:func:`comparison_finding`).
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
from voxlib.results.tables import mean_accuracy, seed_spread, split_baselines, validate_results

__all__ = [
    "commentary",
    "baselines_finding",
    "comparison_finding",
    "confusion_finding",
    "memorisation_finding",
    "ranking_finding",
    "seed_finding",
    "sensitivity_finding",
    "standouts",
    "train_gap_finding",
]

def _fmt_ci(lo: float, hi: float) -> str:
    return f" (95 % CI {lo:.1f}-{hi:.1f})" if np.isfinite(lo) and np.isfinite(hi) else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _seed_range(row) -> float:
    """max - min over seeds of a row with ``seed_min``/``seed_max`` (and ``n_seeds``); NaN below 2 seeds."""
    if not {"seed_min", "seed_max", "n_seeds"} <= set(row.index) or not row["n_seeds"] >= 2:
        return np.nan
    return float(row["seed_max"] - row["seed_min"])


def _range_words(ranges: pd.Series) -> str:
    """``"a to b points (median m)"`` for a series of seed ranges."""
    return f"{ranges.min():.1f} to {ranges.max():.1f} points (median {ranges.median():.1f})"


def _apart(a: float, b: float) -> str:
    """``a - b`` in points as the reader can check it: the difference of the two values as printed (one decimal)."""
    return f"{abs(round(float(a), 1) - round(float(b), 1)):.1f}"


def _join(items: list[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"`` (``""`` for none)."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _noise_words(diff: float, range_a: float, range_b: float) -> str:
    """The seed verdict on a gap, as a sentence ("" when the spread is n/a)."""
    verdict = within_seed_noise(diff, range_a, range_b)
    if verdict is None:
        return ""
    wider = max(range_a, range_b)
    if verdict:
        return (f" The gap is **within seed-to-seed noise** (no larger than the wider seed range, {wider:.1f} points): "
                "the two are tied, and best and worst here only name the order of the means.")
    return f" The gap is larger than either seed range ({wider:.1f} points at most): the seeds do not explain it."


def _describe_factor(results: pd.DataFrame, by: str, seeds: pd.DataFrame | None) -> list[str]:
    s = mean_accuracy(results, by=by, seeds=seeds)
    if len(s) < 2:
        return [f"- Only one {by} ({s[by].iloc[0]}): nothing to rank."]
    best, worst = s.loc[s["mean"].idxmax()], s.loc[s["mean"].idxmin()]
    other = "models" if by == "transform" else "transforms"
    line = (
        f"- Best {by}: **{best[by]}** (mean {best['mean']:.1f} % over {_plural(best['n'], other[:-1])}); "
        f"worst: **{worst[by]}** ({worst['mean']:.1f} %), {_apart(best['mean'], worst['mean'])} points apart."
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
                 f"{_apart(best['accuracy'], runner['accuracy'])} points behind ({judged[noisy[runner.name]]});"
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
            f"and the batch order); the seed range (max - min) of a pair runs from {_range_words(ranges)}. "
            "A gap no larger than the wider seed range of its two sides is called within seed-to-seed noise."]


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
                 f"**{_apart(ref['accuracy'], top['accuracy'])} points {side}** the best baseline, "
                 f"{ref['model']} ({ref['accuracy']:.1f} %).")
    return [line]


def _describe_comparison(comparison: pd.DataFrame) -> list[str]:
    return ["- " + comparison_finding(comparison)]


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



# --- findings: one result of notebooks 02-03, in a sentence or two, from this run's numbers ---

def _cell(row) -> str:
    """``"MobileNetV2 on amor, 71.2 % held-out over 3 seeds (69.1-74.5 %)"`` for a seed-spread row."""
    seeds = (f" over {int(row['n_seeds'])} seeds ({row['min']:.1f}-{row['max']:.1f} %)"
             if row["n_seeds"] >= 2 else "")
    return f"**{row['network']} on {row['transform']}**, {row['mean']:.1f} % held-out{seeds}"


def _check_spread(spread: pd.DataFrame) -> pd.DataFrame:
    missing = {"network", "transform", "n_seeds", "mean", "min", "max"} - set(spread.columns)
    if missing:
        raise ValueError(f"spread: not a seed_spread table, missing {', '.join(sorted(missing))}")
    return spread


def _baseline_groups(top, baselines: pd.DataFrame) -> list[str]:
    """Sentences for the baselines above, within and below the best image cell's seed range."""
    b = baselines.sort_values("mean", ascending=False)
    groups = {"above": b[b["mean"] > top["max"]], "below": b[b["mean"] < top["min"]],
              "tied": b[(b["mean"] <= top["max"]) & (b["mean"] >= top["min"])]}
    names = {k: _join([f"{r['network']} ({r['mean']:.1f} %)" for _, r in g.iterrows()]) for k, g in groups.items()}
    verb = {k: "is" if len(g) == 1 else "are" for k, g in groups.items()}
    one_seed = top["n_seeds"] < 2
    best, worst = ("it", "it") if one_seed else ("its best seed", "its worst seed")
    out = []
    if len(groups["above"]) == len(b):
        out.append(f"{'The baseline lies' if len(b) == 1 else f'All {len(b)} baselines lie'} above {best}: "
                   f"{names['above']}. {'It beats' if len(b) == 1 else 'Every baseline beats'} every image model.")
    elif len(groups["above"]):
        out.append(f"{names['above']} {verb['above']} above {best}: "
                   f"{'it beats' if len(groups['above']) == 1 else 'they beat'} every image model.")
    if len(groups["tied"]):
        out.append(f"{names['tied']} {'equals it' if one_seed else 'falls within its seed range'}: tied.")
    if len(groups["below"]):
        every = len(groups["below"]) == len(b)
        out.append(f"{names['below']} {verb['below']} below {worst}"
                   + (": the image route beats every baseline." if every else "."))
    return out


def baselines_finding(spread: pd.DataFrame) -> str:
    """This run's finding on the image models against the baselines.

    The best image cell (highest mean over seeds) is held against each
    baseline: a baseline above its best seed beats every image model, one
    below its worst seed is beaten, one within its seed range is tied.

    Parameters
    ----------
    spread : pd.DataFrame
        :func:`voxlib.results.seed_spread` of the sweep, baselines included.

    Returns
    -------
    str
        Markdown, one to four sentences.
    """
    images, baselines = split_baselines(_check_spread(spread))
    if images.empty:
        listed = "; ".join(f"{r['network']} {r['mean']:.1f} %" for _, r in baselines.iterrows())
        return f"Only the baselines ran ({listed or 'none'}): no image model to hold against them."
    top = images.loc[images["mean"].idxmax()]
    lead = f"The best image model is {_cell(top)}."
    if baselines.empty:
        return lead + " No baseline ran (`baselines = []`), so nothing but chance to hold it against."
    return " ".join([lead, *_baseline_groups(top, baselines)])


def seed_finding(runs: pd.DataFrame) -> str:
    """How far the seeds move one image cell's held-out accuracy, and what one test recording is worth.

    Parameters
    ----------
    runs : pd.DataFrame
        Sweep rows, one setting per (network, transform) (:func:`voxlib.results.load_runs`),
        with ``n_test`` when the sweep recorded it.

    Returns
    -------
    str
        Markdown, one or two sentences.
    """
    images = split_baselines(runs)[0]
    if images.empty:
        return "No image model ran: there is no seed-to-seed spread to report."
    spread = seed_spread(images)
    n_test = int(images["n_test"].median()) if "n_test" in images.columns and images["n_test"].notna().any() else 0
    worth = f" With {n_test} held-out recordings, one recording is {100 / n_test:.1f} points." if n_test else ""
    if spread["n_seeds"].max() < 2:
        return "One seed per image cell: the seed-to-seed spread is n/a, so no gap can be judged against it." + worth
    ranges = spread["max"] - spread["min"]
    widest = spread.loc[ranges.idxmax()]
    return (f"The seeds move one (network, transform) cell's held-out accuracy by {_range_words(ranges)}; "
            "the widest is "
            f"{widest['network']} on {widest['transform']} ({widest['min']:.1f}-{widest['max']:.1f} %).{worth}")


def train_gap_finding(spread: pd.DataFrame, *, n_classes: int | None = None) -> str:
    """Training accuracy (the thesis's measure) against held-out accuracy, over the image cells.

    Parameters
    ----------
    spread : pd.DataFrame
        :func:`voxlib.results.seed_spread` (with ``train_mean``); baselines are left out.
    n_classes : int, optional
        Number of speakers: adds how many cells clear chance (100 / n_classes %).

    Returns
    -------
    str
        Markdown, one or two sentences.
    """
    images = split_baselines(_check_spread(spread))[0]
    if images.empty or "train_mean" not in images.columns:
        return "No image model with a training accuracy ran: nothing to compare."
    gap = images["train_mean"] - images["mean"]
    text = (f"On their training images (the thesis's measure) the image cells score "
            f"{images['train_mean'].min():.1f}-{images['train_mean'].max():.1f} %; on held-out sentences "
            f"{images['mean'].min():.1f}-{images['mean'].max():.1f} %.")
    lose = int((gap > 0).sum())
    low, high = f"{gap.min():.1f}", f"{gap.max():.1f}"
    by = low if low == high else f"between {low} and {high}"
    text += (f" Every cell loses {by} points on new sentences." if lose == len(gap)
             else f" {lose} of {len(gap)} cells lose accuracy on new sentences (by up to {gap.max():.1f} points).")
    if n_classes:
        chance = 100 / n_classes
        above = int((images["min"] > chance).sum())
        text += (f" {'Every' if above == len(images) else f'{above} of {len(images)}'} "
                 f"{'cell' if above == len(images) else 'cells'} stays above chance ({chance:.1f} %) on every seed.")
    return text


def memorisation_finding(run: pd.Series) -> str:
    """One run's training accuracy against its held-out accuracy and 95 % interval.

    Parameters
    ----------
    run : pd.Series
        A sweep row (``network``, ``transform``, ``train_accuracy``, ``test_accuracy``,
        ``test_ci_high``; ``seed`` optional), e.g. :func:`voxlib.results.best_run`.

    Returns
    -------
    str
        Markdown, one sentence.
    """
    seed = f" (seed {int(run['seed'])})" if "seed" in run.index and pd.notna(run["seed"]) else ""
    train, test, high = float(run["train_accuracy"]), float(run["test_accuracy"]), float(run["test_ci_high"])
    text = (f"{run['network']} on {run['transform']}{seed} scores {train:.1f} % on its training images and "
            f"{test:.1f} % on held-out sentences")
    if train > high:
        return (text + f": {_apart(train, test)} points of memorisation, beyond the held-out 95 % interval "
                f"(up to {high:.1f} %), which the thesis's measure could not see.")
    return (text + f": the training score lies within the held-out 95 % interval (up to {high:.1f} %), "
            "so no memorisation shows.")


def confusion_finding(confusion: pd.DataFrame) -> str:
    """Which voice is taken for which, from a confusion matrix (rows predicted, columns true).

    Parameters
    ----------
    confusion : pd.DataFrame [shape=(n_classes, n_classes)]
        Counts, :func:`voxlib.results.load_confusion`.

    Returns
    -------
    str
        Markdown, one or two sentences.
    """
    cm = confusion.to_numpy(dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.sum() <= 0:
        raise ValueError(f"confusion: expected a square table of counts with at least one, got shape {cm.shape}")
    true_n, correct = cm.sum(axis=0), np.diag(cm)
    text = (f"{int(correct.sum())} of {int(cm.sum())} held-out recordings are recognised "
            f"({100 * correct.sum() / cm.sum():.1f} %).")
    off = cm - np.diag(correct)
    if off.sum() == 0:
        return text + " No recording is taken for another speaker."
    labels = [str(c) for c in confusion.columns]
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(true_n > 0, correct / true_n, np.nan)
    return (text + _most_confused(off, true_n, labels) + f" The errors fall on {int((off.sum(axis=0) > 0).sum())} of "
            f"{len(labels)} speakers; recall per speaker runs from {100 * np.nanmin(recall):.0f} % "
            f"({labels[int(np.nanargmin(recall))]}) to {100 * np.nanmax(recall):.0f} %.")


def _most_confused(off: np.ndarray, true_n: np.ndarray, labels: list[str]) -> str:
    """The most frequent off-diagonal cell(s) of a confusion matrix (rows predicted, columns true), as a sentence."""
    top = int(off.max())
    cells = list(zip(*np.nonzero(off == top)))
    if top == 1:
        return f" No confusion repeats: each of the {int(off.sum())} errors is a different pair of voices."
    named = _join([f"{labels[t]} taken for {labels[p]}" for p, t in cells[:3]]) + (", ..." if len(cells) > 3 else "")
    if len(cells) == 1:
        return f" The most frequent confusion: {named} ({top} of {int(true_n[cells[0][1]])})."
    return f" The most frequent confusions, {top} recordings each: {named}."


def standouts(means: pd.DataFrame) -> dict[str, list[str]]:
    """Which levels of a mean-accuracy table may be called best and worst.

    The highest and lowest mean are best and worst unless their gap is within
    seed-to-seed noise (:func:`voxlib.results.stats.within_seed_noise`), in
    which case no level is (they are tied). Levels within noise of the best
    (but not of the worst) share "best", and likewise "worst". Without seed
    ranges (one seed, or the thesis's table) the highest and lowest are best
    and worst, as the thesis drew them.

    Parameters
    ----------
    means : pd.DataFrame
        :func:`voxlib.results.mean_accuracy` (with ``seeds=`` for the seed ranges);
        its first column names the levels.

    Returns
    -------
    dict
        ``{"best": [...], "worst": [...]}``, level names (possibly empty), the
        keyword arguments of :func:`voxlib.plots.plot_mean_accuracy`.
    """
    by = means.columns[0]
    if len(means) < 2 or means["mean"].max() == means["mean"].min():
        return {"best": [], "worst": []}
    rows = [r for _, r in means.iterrows()]
    top, bottom = means.loc[means["mean"].idxmax()], means.loc[means["mean"].idxmin()]

    def near(a, b):
        return within_seed_noise(a["mean"] - b["mean"], _seed_range(a), _seed_range(b))

    verdict = near(top, bottom)
    if verdict is None:
        return {"best": [top[by]], "worst": [bottom[by]]}
    if verdict:
        return {"best": [], "worst": []}
    return {"best": [r[by] for r in rows if near(top, r) and not near(r, bottom)],
            "worst": [r[by] for r in rows if near(r, bottom) and not near(top, r)]}


def _versus_baseline(top, baselines: pd.DataFrame | None) -> str:
    """`` The best baseline, X (a %), is g points above the highest bar.`` ("" without baselines)."""
    if baselines is None or baselines.empty:
        return ""
    ref = baselines.loc[baselines["accuracy"].idxmax()]
    gap = ref["accuracy"] - top["mean"]
    return (f" The best baseline, {ref['model']} ({ref['accuracy']:.1f} %), is "
            f"{_apart(ref['accuracy'], top['mean'])} points {'above' if gap > 0 else 'below'} the highest bar.")


def ranking_finding(means: pd.DataFrame, baselines: pd.DataFrame | None = None) -> str:
    """This run's ranking of the transforms (or models) by mean accuracy, judged against the seeds.

    Parameters
    ----------
    means : pd.DataFrame
        :func:`voxlib.results.mean_accuracy`; its first column names the levels.
    baselines : pd.DataFrame, optional
        Tidy baseline rows (``model``, ``accuracy``): adds how far the best of them is from
        the highest bar.

    Returns
    -------
    str
        Markdown: highest and lowest, their gap, whether the seeds explain it (the
        colouring :func:`standouts` allows), and the best baseline against the highest bar.
    """
    by = means.columns[0]
    if len(means) < 2:
        return f"Only one {by} ({means[by].iloc[0]}): nothing to rank." if len(means) else f"No {by} to rank."
    top, bottom = means.loc[means["mean"].idxmax()], means.loc[means["mean"].idxmin()]
    gap, wider = top["mean"] - bottom["mean"], np.nanmax([_seed_range(top), _seed_range(bottom)] + [-np.inf])
    text = (f"Highest mean: **{top[by]}** ({top['mean']:.1f} %); lowest: **{bottom[by]}** ({bottom['mean']:.1f} %), "
            f"{_apart(top['mean'], bottom['mean'])} points apart")
    verdict = within_seed_noise(gap, _seed_range(top), _seed_range(bottom))
    if verdict is None:
        text += ("; one run each, so no seed spread to judge the gap (the highest and lowest bars are coloured, "
                 "as the thesis did).")
    elif verdict:
        text += (f", within the seed range ({wider:.1f} points): this run cannot rank these {by}s, so no bar "
                 "is coloured best or worst.")
    else:
        marked = standouts(means)
        text += f", more than either side's seed range ({wider:.1f} points at most): the seeds do not explain the gap."
        for kind, head in (("best", top[by]), ("worst", bottom[by])):
            others = [m for m in marked[kind] if m != head]
            if others:
                text += (f" {_join(others)} {'is' if len(others) == 1 else 'are'} within the seed range of the {kind}, "
                         f"so {'it shares' if len(others) == 1 else 'they share'} its colour.")
    return text + _versus_baseline(top, baselines)


def sensitivity_finding(results: pd.DataFrame) -> str:
    """How much each model's accuracy depends on the transform, against its seed ranges.

    Parameters
    ----------
    results : pd.DataFrame
        Tidy table (:func:`voxlib.results.tidy_sweep` or the thesis's), baselines
        left out here; with ``seed_min``/``seed_max`` a swing no larger than the
        model's widest seed range is called noise.

    Returns
    -------
    str
        Markdown: every model when there are at most three, else the most and
        the least sensitive.
    """
    method = split_baselines(validate_results(results, required=("model", "transform", "accuracy")))[0]
    if method["transform"].nunique() < 2:
        return "One transform per model: nothing to compare across images."
    lines = []
    for model, g in method.groupby("model", sort=False):
        hi, lo = g.loc[g["accuracy"].idxmax()], g.loc[g["accuracy"].idxmin()]
        swing = hi["accuracy"] - lo["accuracy"]
        line = (f"{model} spans {lo['accuracy']:.1f}-{hi['accuracy']:.1f} % across the transforms "
                f"({_apart(hi['accuracy'], lo['accuracy'])} points, best on {hi['transform']}, "
                f"worst on {lo['transform']})")
        if {"seed_min", "seed_max"} <= set(g.columns) and (g["seed_max"] > g["seed_min"]).any():
            widest = float((g["seed_max"] - g["seed_min"]).max())
            line += (f", more than its seeds move one cell ({widest:.1f} points): the image matters to it"
                     if swing > widest else
                     f", no more than its seeds move one cell ({widest:.1f} points): no transform stands out for it")
        lines.append((swing, line))
    lines.sort(key=lambda x: -x[0])
    if len(lines) > 3:
        lines = [lines[0], lines[-1]]
        return f"Most sensitive: {lines[0][1]}. Least: {lines[1][1]}."
    return " ".join(f"{line}." for _, line in lines)


def comparison_finding(comparison: pd.DataFrame | None) -> str:
    """The thesis's training accuracy beside ours (training and held-out), from :func:`compare_with_thesis`."""
    if comparison is None or comparison.empty:
        return "No (model, transform) pair is in both the thesis's table and ours."
    c = comparison
    above = int((c["thesis_train"] > c["ours_ci_high"]).sum())
    runs = int(c["n_seeds"].sum()) if "n_seeds" in c.columns else len(c)
    averaged = c.loc[c["thesis_n"] > 1, "model"].unique() if "thesis_n" in c.columns else []
    note = (f" Where the thesis has two columns for one network their mean is used ({'; '.join(averaged)}), so "
            "each of our pairs counts once." if len(averaged) else "")
    return (f"On the {len(c)} (network, transform) pair(s) both tables have ({_plural(runs, 'run')} of ours), the "
            f"thesis's training accuracy averages {c['thesis_train'].mean():.1f} %; ours averages "
            f"{c['ours_train'].mean():.1f} % on training data and {c['ours_test'].mean():.1f} % on held-out "
            "utterances. "
            f"The thesis's number lies above our held-out 95 % CI in {above} of {len(c)} pairs.{note} Different "
            "speakers and data: compare trends, not values.")
