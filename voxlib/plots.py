"""Every figure the notebooks show.

Each function takes tables or arrays, returns a :class:`matplotlib.figure.Figure`
and, when given ``path``, saves it there (PNG; SVG too where asked). Sections
follow the notebooks' order.
"""
from __future__ import annotations

# --- 01 transforms ---

# --- 02 transfer learning ---

# --- 03 results ---
#: Okabe-Ito colours (colour-blind safe): the best bar, the worst bar, the others.
BEST_COLOR = "#0072B2"
WORST_COLOR = "#D55E00"
BAR_COLOR = "#A6A6A6"
#: Thesis (training) / ours (training) / ours (held-out) in the comparison chart.
COMPARISON_COLORS = {"thesis_train": "#E69F00", "ours_train": "#56B4E9", "ours_test": "#009E73"}
FIGURE_FORMATS = ("png", "svg", "pdf")


def save_figure(fig, path, *, formats=("png",), dpi: int = 150) -> list:
    """Save ``fig`` as ``path`` with each suffix in ``formats`` (folders created).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path
        File name; its suffix is replaced by each format (``03_heatmap.png``,
        ``03_heatmap.svg``).
    formats : str or sequence of {"png", "svg", "pdf"}
        A single name, a comma-separated string (``"png,svg"``) or a sequence.

    Returns
    -------
    list of Path
        The files written.
    """
    from pathlib import Path

    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in FIGURE_FORMATS]
    if bad or not formats:
        raise ValueError(f"formats={formats!r}: allowed {', '.join(FIGURE_FORMATS)} (one or several)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in dict.fromkeys(formats):
        out = path.with_suffix(f".{fmt}")
        fig.savefig(out, dpi=dpi, bbox_inches="tight")
        written.append(out)
    return written


def _finish(fig, path, formats):
    if path is not None:
        save_figure(fig, path, formats=formats)
    return fig


def _ci_errors(acc, lo, hi):
    """Asymmetric error bars (2, n) from CI bounds; None when no bound is known."""
    import numpy as np

    acc, lo, hi = (np.asarray(v, float) for v in (acc, lo, hi))
    if not (np.isfinite(lo) | np.isfinite(hi)).any():
        return None
    return np.vstack([np.nan_to_num(acc - lo), np.nan_to_num(hi - acc)]).clip(min=0)


def _accuracy_axis(ax, label="accuracy (%)", top=100):
    ax.set_ylim(0, top)
    ax.set_ylabel(label)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def plot_transform_bars(results, *, transforms=None, ncols: int = 3, path=None, formats=("png",)):
    """One bar chart per transform: accuracy of each model (the thesis's per-transform charts).

    Parameters
    ----------
    results : pd.DataFrame
        Tidy results (``voxlib.results.RESULTS_COLUMNS``): one panel per
        transform, one bar per model in order of appearance, y axis 0-100 %
        (the thesis mislabelled it "error %"), 95 % CI error bars where
        ``ci_low``/``ci_high`` are known.
    transforms : list of str, optional
        Panels to draw (default: those present, in registry order).
    ncols : int > 0
    path, formats : optional
        Save the figure (:func:`save_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[:n_transforms]`` each hold one bar container.
    """
    import matplotlib.pyplot as plt
    from voxlib.results import _levels, validate_results

    validate_results(results)
    transforms = list(transforms) if transforms is not None else _levels(results, "transform")
    models = _levels(results, "model")
    ncols = max(1, min(int(ncols), len(transforms)))
    nrows = -(-len(transforms) // ncols)
    width = max(3.0, 0.38 * len(models) + 1.2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.6 * nrows), squeeze=False, sharey=True)
    for ax, name in zip(axes.flat, transforms):
        sub = results[results["transform"] == name].set_index("model").reindex(models).dropna(subset=["accuracy"])
        x = range(len(sub))
        ax.bar(x, sub["accuracy"], color=BAR_COLOR, edgecolor="black", linewidth=0.5,
               yerr=_ci_errors(sub["accuracy"], sub["ci_low"], sub["ci_high"]), capsize=2)
        ax.set_xticks(list(x), sub.index, rotation=90, fontsize=8)
        ax.set_title(name)
        _accuracy_axis(ax)
    for ax in list(axes.flat)[len(transforms):]:
        ax.set_visible(False)
    source = ", ".join(f"{s} ({e})" for s, e in results[["source", "evaluated_on"]].drop_duplicates().to_numpy())
    fig.suptitle(f"Accuracy per model for each transform: {source}")
    fig.tight_layout()
    return _finish(fig, path, formats)


def plot_mean_accuracy(results, *, by: str = "transform", path=None, formats=("png",)):
    """Mean accuracy per transform (or per model), best bar and worst bar highlighted.

    Parameters
    ----------
    results : pd.DataFrame
        Tidy results (``voxlib.results.RESULTS_COLUMNS``).
    by : {"transform", "model"}
    path, formats : optional
        Save the figure (:func:`save_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        One bar per level with its value written on it; the highest mean is
        :data:`BEST_COLOR`, the lowest :data:`WORST_COLOR`, the rest
        :data:`BAR_COLOR`.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from voxlib.results import summarize

    s = summarize(results, by=by)
    colors = [BAR_COLOR] * len(s)
    colors[int(s["mean"].to_numpy().argmin())] = WORST_COLOR
    colors[int(s["mean"].to_numpy().argmax())] = BEST_COLOR
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(s) + 1.5), 4.2))
    bars = ax.bar(range(len(s)), s["mean"], color=colors, edgecolor="black", linewidth=0.5)
    ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
    ax.set_xticks(range(len(s)), s[by], rotation=90 if by == "model" else 0, fontsize=8 if by == "model" else 10)
    _accuracy_axis(ax, "mean accuracy (%)", top=105)
    ax.legend(handles=[Patch(color=BEST_COLOR, label="best"), Patch(color=WORST_COLOR, label="worst")],
              loc="lower right", fontsize=8)
    other = "models" if by == "transform" else "transforms"
    ax.set_title(f"Mean accuracy per {by} (over {other}): {', '.join(results['source'].unique())}")
    fig.tight_layout()
    return _finish(fig, path, formats)


def plot_accuracy_heatmap(results, *, cmap: str = "viridis", path=None, formats=("png",)):
    """Model x transform heatmap of accuracy, each cell annotated (percent, one decimal).

    Returns
    -------
    matplotlib.figure.Figure
        Rows models (order of appearance), columns transforms (registry order).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns
    from voxlib.results import _levels, validate_results

    validate_results(results)
    grid = results.pivot_table(index="model", columns="transform", values="accuracy", aggfunc="mean")
    grid = grid.reindex(index=_levels(results, "model"), columns=_levels(results, "transform"))
    fig, ax = plt.subplots(figsize=(1.1 * grid.shape[1] + 3.5, 0.42 * grid.shape[0] + 1.6))
    sns.heatmap(grid, annot=True, fmt=".1f", cmap=cmap, ax=ax, linewidths=0.5,
                cbar_kws={"label": "accuracy (%)"}, annot_kws={"fontsize": 8})
    ax.set_xlabel("transform")
    ax.set_ylabel("model")
    ax.set_title(f"Accuracy (%): {', '.join(results['source'].unique())}")
    fig.tight_layout()
    return _finish(fig, path, formats)


def plot_thesis_vs_ours(comparison, *, path=None, formats=("png",)):
    """Thesis (training accuracy) beside our training and held-out accuracy.

    Parameters
    ----------
    comparison : pd.DataFrame
        ``voxlib.results.compare_with_thesis`` output: one group of three bars
        per (model, transform); the held-out bar carries its 95 % CI.

    Returns
    -------
    matplotlib.figure.Figure
        Three bar containers (thesis_train, ours_train, ours_test), one bar per row.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if comparison is None or comparison.empty:
        raise ValueError("comparison is empty: no (model, transform) pair is in both the thesis's table and ours")
    n = len(comparison)
    x = np.arange(n)
    fig, ax = plt.subplots(figsize=(min(max(5.0, 1.1 * n + 2), 28), 4.4))
    labels = {"thesis_train": "thesis (training set)", "ours_train": "ours (training set)",
              "ours_test": "ours (held-out, 95 % CI)"}
    for i, (col, label) in enumerate(labels.items()):
        yerr = (_ci_errors(comparison[col], comparison["ours_ci_low"], comparison["ours_ci_high"])
                if col == "ours_test" else None)
        bars = ax.bar(x + (i - 1) * 0.27, comparison[col], width=0.27, color=COMPARISON_COLORS[col],
                      edgecolor="black", linewidth=0.5, yerr=yerr, capsize=2, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    ax.set_xticks(x, [f"{m}\n{t}" for m, t in zip(comparison["model"], comparison["transform"])],
                  rotation=90 if n > 8 else 0, fontsize=8)
    _accuracy_axis(ax, top=112)
    ax.legend(loc="upper center", ncol=3, fontsize=8)
    ax.set_title("Thesis vs ours (different data: compare trends, not values)")
    fig.tight_layout()
    return _finish(fig, path, formats)


# --- 04 gan cloning ---

# --- 05 reconstruction ---
