"""Every figure the notebooks show.

Each function takes tables or arrays, returns a :class:`matplotlib.figure.Figure`
and, when given ``path``, saves it there (PNG; SVG too where asked). Sections
follow the notebooks' order.

The figures compute nothing of the stages: a results figure takes the tables
:mod:`voxlib.results` made (tidy rows of the thesis's method, the baseline rows apart,
level means, the seed spread) and draws them, so this module imports no stage module.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Patch

from voxlib import images
from voxlib.transforms import TRANSFORMS

# --- 01 transforms ---


def plot_transforms(tfs, *, title=None, ncols: int = 3, max_columns: int = 800, fmin: float = 20.0,
                    cmap: str = "magma", path=None, formats=("png",)):
    """One panel per time-frequency transform, with time (s) and frequency (Hz) axes.

    Colour is the thesis's image level ``50 log10(|C| + 1)``. STFT panels show
    the non-negative half of MATLAB's two-sided spectrum (the image also holds
    the mirrored negative half) on a linear axis; CWT panels use a logarithmic
    frequency axis from ``fmin`` up, as MATLAB plots scalograms.

    Parameters
    ----------
    tfs : dict name -> voxlib.transforms.TimeFrequency (or a sequence of them)
    max_columns : int
        Time columns drawn per panel (antialiased resize; a CWT has one per sample).
    fmin : float
        Lowest frequency drawn on the CWT panels, Hz.
    """
    items = list(tfs.items()) if isinstance(tfs, dict) else [(tf.transform, tf) for tf in tfs]
    nrows = -(-len(items) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols, 3.0 * nrows), squeeze=False)
    for ax, (name, tf) in zip(axes.flat, items):
        _tf_panel(fig, ax, name, tf, max_columns=max_columns, fmin=fmin, cmap=cmap)
    for ax in list(axes.flat)[len(items):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path, formats)


_FREQUENCY_TICKS = (20, 50, 100, 200, 500, 1000, 2000, 4000, 8000, 16000)  # Hz, on log CWT axes


def _tf_panel(fig, ax, name, tf, *, max_columns, fmin, cmap):
    """One transform of :func:`plot_transforms`: level image, axes, colour bar."""
    keep = tf.freqs >= 0
    freqs = tf.freqs[keep]
    mag = np.abs(tf.coefs[keep])
    n_cols = min(max_columns, mag.shape[1])
    level = images.log_magnitude(images.resize(mag, (mag.shape[0], n_cols)))
    times = np.linspace(tf.times[0], tf.times[-1], n_cols)
    mesh = ax.pcolormesh(times, freqs, level, shading="nearest", cmap=cmap, rasterized=True)
    if tf.scales is not None:
        low = max(fmin, freqs.min())
        ax.set_yscale("log")
        ax.set_ylim(low, freqs.max())
        ticks = [f for f in _FREQUENCY_TICKS if low <= f <= freqs.max()]
        ax.set_yticks(ticks, [f"{f:g}" for f in ticks])
        ax.minorticks_off()
    else:
        ax.set_ylim(0, freqs.max())
    kind = "CWT" if tf.scales is not None else "STFT"
    ax.set_title(f"{name} ({kind}, {tf.coefs.shape[0]}×{tf.coefs.shape[1]})", fontsize=10)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.05).set_label("50·log10(|C|+1)", fontsize=8)


def plot_image_grid(imgs, titles=None, *, ncols: int = 3, path=None, formats=("png",)):
    """The stored 8-bit images as a network sees them (row 0 at the top), gray.

    Parameters
    ----------
    imgs : sequence of np.ndarray [shape=(H, W) or (H, W, 3)], uint8
    titles : sequence of str, optional
    """
    nrows = -(-len(imgs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.8 * ncols, 2.9 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(imgs):
            img = imgs[i][..., 0] if imgs[i].ndim == 3 else imgs[i]
            ax.imshow(img, cmap="gray", vmin=0, vmax=255, aspect="auto", interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=10)
    fig.tight_layout()
    return _finish(fig, path, formats)


def plot_icwt_roundtrip(y, y_rec, sr, *, snr=None, zoom=0.04, title=None, path=None, formats=("png",)):
    """A signal and its inverse-CWT reconstruction: the whole clip and a ``zoom``-second window.

    Parameters
    ----------
    y, y_rec : np.ndarray [shape=(n,)]
        Original and reconstruction.
    sr : float
        Sample rate, Hz.
    snr : float, optional
        Reconstruction SNR in dB, printed in the title.
    """
    t = np.arange(len(y)) / sr
    centre = int(np.argmax(np.abs(y)))
    half = int(zoom * sr / 2)
    lo, hi = max(0, centre - half), min(len(y), centre + half)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3), gridspec_kw={"width_ratios": [2, 1]})
    for ax, sl in ((axes[0], slice(None)), (axes[1], slice(lo, hi))):
        ax.plot(t[sl], y[sl], lw=0.8, label="original")
        ax.plot(t[sl], y_rec[sl], lw=0.8, ls="--", label="icwt(cwt(y))")
        ax.plot(t[sl], np.asarray(y[sl]) - np.asarray(y_rec[sl]), lw=0.6, color="0.5", label="error")
        ax.set_xlabel("time (s)")
        ax.grid(alpha=0.3)
    axes[0].axvspan(t[lo], t[hi - 1], color="0.85", zorder=0)
    axes[0].set_ylabel("amplitude")
    axes[1].legend(fontsize=8, loc="upper right")
    head = title or "inverse CWT round trip"
    fig.suptitle(head if snr is None else f"{head}: SNR {snr:.1f} dB")
    fig.tight_layout()
    return _finish(fig, path, formats)


# --- 02 transfer learning ---


def plot_confusion(confusion, *, title=None, cmap="Blues", path=None, formats=("png",)):
    """Annotated heatmap of a confusion matrix, rows predicted and columns true
    (as the thesis drew it).

    Parameters
    ----------
    confusion : DataFrame (n_classes, n_classes) of counts, or a path to its CSV
        (:func:`voxlib.transfer.run_one` writes them with the predicted class
        as index).
    """
    if not isinstance(confusion, pd.DataFrame):
        confusion = pd.read_csv(confusion, index_col=0)
    n = len(confusion)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * n, 0.9 + 0.5 * n))
    sns.heatmap(confusion, annot=True, fmt="d", cmap=cmap, cbar=False, square=True, ax=ax)
    ax.set_xlabel("true speaker")
    ax.set_ylabel("predicted speaker")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _finish(fig, path, formats)


def plot_history(history, *, title=None, path=None, formats=("png",)):
    """Accuracy and loss per epoch (training, and held-out when ``val_*`` columns exist).

    Parameters
    ----------
    history : DataFrame with ``epoch, accuracy, loss[, val_accuracy, val_loss]``
        (accuracy a fraction), or a path to its CSV.
    """
    if not isinstance(history, pd.DataFrame):
        history = pd.read_csv(history)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, metric, scale in ((axes[0], "accuracy", 100), (axes[1], "loss", 1)):
        for col, label in ((metric, "training"), (f"val_{metric}", "held-out")):
            if col in history:
                ax.plot(history["epoch"], scale * history[col], marker="o", ms=3, label=label)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    _accuracy_axis(axes[0], top=101)
    axes[1].set_ylabel("cross-entropy")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path, formats)


def plot_sweep(spread, baselines=None, *, n_classes=None, path=None, formats=("png",)):
    """Held-out accuracy (95 % Wilson CI) beside training accuracy for every
    (network, transform) of a sweep, one panel per image network, the baselines
    as labelled horizontal lines.

    Parameters
    ----------
    spread : pd.DataFrame
        The image networks' rows of :func:`voxlib.results.seed_spread` (several
        seeds of one (network, transform) averaged): bars are the means, the thin
        capped error bar the mean Wilson interval, the thick black segment the
        seeds' min-max range (drawn from 2 seeds on).
    baselines : pd.DataFrame, optional
        The baselines' rows of the same table (``network``, ``mean``), each drawn
        as a dashed line (:func:`voxlib.results.split_baselines` splits the two).
    n_classes : int, optional
        Number of speakers (the sweep's ``n_classes``): draws chance, ``100 / n_classes`` %.
    path, formats : optional
        Save the figure (:func:`save_figure`).
    """
    networks = list(dict.fromkeys(spread["network"])) or ["(no image network)"]
    fig, axes = plt.subplots(1, len(networks), figsize=(4.5 * len(networks), 3.4), squeeze=False,
                             sharey=True)
    order = {t: i for i, t in enumerate(TRANSFORMS)}
    for ax, net in zip(axes[0], networks):
        sub = spread[spread["network"] == net].sort_values("transform", key=lambda t: t.map(order))
        x = np.arange(len(sub))
        ax.bar(x - 0.2, sub["train_mean"], 0.4, label="training (thesis's measure)", color="#56B4E9")
        ax.bar(x + 0.2, sub["mean"], 0.4, label="held-out utterances (95 % CI)", color="#009E73",
               yerr=_ci_errors(sub["mean"], sub["ci_low"], sub["ci_high"]), capsize=3, ecolor=CI_COLOR)
        _seed_ranges(ax, x + 0.2, sub["min"], sub["max"], sub["n_seeds"])
        if n_classes is not None:
            chance = 100 / float(n_classes)
            ax.axhline(chance, color="k", ls=":", lw=1, label=f"chance ({chance:.0f} %)")
        if baselines is not None:
            _baseline_lines(ax, baselines["network"], baselines["mean"], "held-out")
        ax.set_xticks(x, sub["transform"], rotation=30)
        ax.set_title(net)
        _accuracy_axis(ax, top=105)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, 0.0))
    return _finish(fig, path, formats)

# --- 03 results ---
#: Okabe-Ito colours (colour-blind safe): the best bar, the worst bar, the others.
BEST_COLOR = "#0072B2"
WORST_COLOR = "#D55E00"
BAR_COLOR = "#A6A6A6"
#: Reference lines of the baselines (Okabe-Ito reddish purple, black, then brown: one colour each of the three), dashed.
BASELINE_COLORS = ("#CC79A7", "#000000", "#8C510A")
BASELINE_STYLE = "--"
#: The seeds' min-max range: a thick black segment over each bar; the 95 % CI beside it is the
#: thin capped bar in :data:`CI_COLOR`.
SEED_RANGE_COLOR = "#000000"
CI_COLOR = "#808080"
SEED_RANGE_LABEL = "seed range (min-max)"
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
    acc, lo, hi = (np.asarray(v, float) for v in (acc, lo, hi))
    if not (np.isfinite(lo) | np.isfinite(hi)).any():
        return None
    return np.vstack([np.nan_to_num(acc - lo), np.nan_to_num(hi - acc)]).clip(min=0)


def _baseline_lines(ax, names, accuracies, measure):
    """One dashed horizontal line per baseline, labelled with its name and accuracy."""
    for i, (name, acc) in enumerate(zip(names, accuracies)):
        ax.axhline(float(acc), color=BASELINE_COLORS[i % len(BASELINE_COLORS)], ls=BASELINE_STYLE, lw=1.3,
                   label=f"{name} baseline: {float(acc):.1f} % {measure}", zorder=4)


def _seed_ranges(ax, x, lo, hi, n_seeds):
    """The seeds' min-max range as thick segments at ``x`` (where there are >= 2 seeds)."""
    x, lo, hi, n = (np.asarray(v, float) for v in (x, lo, hi, n_seeds))
    keep = (n >= 2) & np.isfinite(lo) & np.isfinite(hi)
    if keep.any():
        ax.vlines(x[keep], lo[keep], hi[keep], colors=SEED_RANGE_COLOR, lw=6, label=SEED_RANGE_LABEL, zorder=3)


def _spread_of(table):
    """``(seed_min, seed_max, n_seeds)`` columns of a table, NaN where it has none (the thesis)."""
    nan = pd.Series(np.nan, index=table.index)
    return tuple(table[c] if c in table.columns else nan for c in ("seed_min", "seed_max", "n_seeds"))


def _measure(results):
    """How a table's accuracies were measured, for a baseline's label."""
    return " / ".join({"test": "held-out", "train": "training"}.get(e, e)
                      for e in dict.fromkeys(results["evaluated_on"]))


def _reference_legend(fig, ax):
    """A figure legend for the baselines and seed range of ``ax``, when it has any."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=min(3, len(handles)), fontsize=8,
                   bbox_to_anchor=(0.5, 0.0))


def _levels(table, by):
    """The levels of ``by`` to draw: transforms in registry order, models in order of appearance."""
    present = list(dict.fromkeys(table[by].astype(str)))
    return [t for t in TRANSFORMS if t in present] if by == "transform" else present


def _accuracy_axis(ax, label="accuracy (%)", top=100):
    ax.set_ylim(0, top)
    ax.set_ylabel(label)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def plot_transform_bars(results, baselines=None, *, transforms=None, ncols: int = 2, path=None,
                        formats=("png",)):
    """One bar chart per transform: accuracy of each model (the thesis's per-transform charts).

    Parameters
    ----------
    results : pd.DataFrame
        Tidy results of the thesis's method (``voxlib.results.RESULTS_COLUMNS``;
        :func:`voxlib.results.split_baselines` gives them): one panel per
        transform, one bar per model in order of appearance, y axis 0-100 %
        (the thesis mislabelled it "error %"), 95 % CI error bars (thin, capped)
        where ``ci_low``/``ci_high`` are known, the seeds' min-max range (thick
        black segment) where ``seed_min``/``seed_max`` come from 2 seeds or more.
    baselines : pd.DataFrame, optional
        Tidy baseline rows of the same table, each drawn as a labelled dashed line
        in every panel.
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
    transforms = list(transforms) if transforms is not None else _levels(results, "transform")
    models = _levels(results, "model")
    ncols = max(1, min(int(ncols), len(transforms)))
    nrows = -(-len(transforms) // ncols)
    width = max(3.0, 0.38 * len(models) + 1.2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.6 * nrows), squeeze=False, sharey=True)
    for ax, name in zip(axes.flat, transforms):
        sub = results[results["transform"] == name].set_index("model").reindex(models).dropna(subset=["accuracy"])
        x = np.arange(len(sub))
        ax.bar(x, sub["accuracy"], color=BAR_COLOR, edgecolor="black", linewidth=0.5,
               yerr=_ci_errors(sub["accuracy"], sub["ci_low"], sub["ci_high"]), capsize=2, ecolor=CI_COLOR)
        _seed_ranges(ax, x, *_spread_of(sub))
        if baselines is not None:
            _baseline_lines(ax, baselines["model"], baselines["accuracy"], _measure(baselines))
        ax.set_xticks(list(x), sub.index, rotation=90, fontsize=8)
        ax.set_title(name)
        _accuracy_axis(ax, "accuracy (%)" if ax.get_subplotspec().is_first_col() else "")
    for ax in list(axes.flat)[len(transforms):]:
        ax.set_visible(False)
    source = ", ".join(f"{s} ({e})" for s, e in results[["source", "evaluated_on"]].drop_duplicates().to_numpy())
    fig.suptitle(f"Accuracy per model for each transform: {source}")
    fig.tight_layout()
    _reference_legend(fig, axes.flat[0])
    return _finish(fig, path, formats)


def plot_mean_accuracy(means, baselines=None, *, by: str = "transform", source=None, best=None, worst=None,
                       path=None, formats=("png",)):
    """Mean accuracy per transform (or per model), best bar and worst bar highlighted.

    Parameters
    ----------
    means : pd.DataFrame
        :func:`voxlib.results.mean_accuracy` of a tidy table (baselines left
        out), with ``by`` its first column. When it has ``seed_min``/``seed_max``
        (``mean_accuracy(..., seeds=...)``), error bars span the lowest to highest
        per-seed mean (from 2 seeds on).
    baselines : pd.DataFrame, optional
        The table's tidy baseline rows, each drawn as a labelled dashed line.
    by : {"transform", "model"}
    source : str, optional
        Where the numbers come from (the table's ``source``, e.g. ``"ours"``), for the title.
    best, worst : list of str, optional
        The levels to colour best and worst (:func:`voxlib.results.standouts` keeps
        gaps within seed-to-seed noise uncoloured); None: the highest and the lowest mean.
    path, formats : optional
        Save the figure (:func:`save_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        One bar per level with its value written on it; ``best`` in
        :data:`BEST_COLOR`, ``worst`` in :data:`WORST_COLOR`, the rest
        :data:`BAR_COLOR`.
    """
    if by not in means.columns:
        raise ValueError(f"by={by!r} is not a column of the means table; have: {', '.join(means.columns)}")
    levels = means[by].astype(str).tolist()
    best = [levels[int(means["mean"].to_numpy().argmax())]] if best is None else list(best)
    worst = [levels[int(means["mean"].to_numpy().argmin())]] if worst is None else list(worst)
    colors = [BEST_COLOR if lv in best else WORST_COLOR if lv in worst else BAR_COLOR for lv in levels]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.55 * len(means) + 2.5), 4.2))
    spread = "seed_min" in means.columns and (means["n_seeds"] >= 2).any()
    yerr = _ci_errors(means["mean"], means["seed_min"], means["seed_max"]) if spread else None
    bars = ax.bar(range(len(means)), means["mean"], color=colors, edgecolor="black", linewidth=0.5, yerr=yerr,
                  capsize=3)
    ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
    ax.set_xticks(range(len(means)), means[by], rotation=90 if by == "model" else 30,
                  fontsize=8 if by == "model" else 10, ha="center" if by == "model" else "right")
    _accuracy_axis(ax, "mean accuracy (%)", top=105)
    if baselines is not None:
        _baseline_lines(ax, baselines["model"], baselines["accuracy"], _measure(baselines))
    legend = [Patch(color=c, label=k) for c, k, on in ((BEST_COLOR, "best", best), (WORST_COLOR, "worst", worst)) if on]
    legend += [] if best or worst else [Patch(color=BAR_COLOR, label="tied: none stands out")]
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles=legend + handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    other = "models" if by == "transform" else "transforms"
    note = f"; error bars: min-max of the {int(means['n_seeds'].max())} per-seed means" if spread else ""
    sources = f": {source}" if source else ""
    ax.set_title(f"Mean accuracy per {by} (over {other}){sources}{note}", fontsize=10)
    fig.tight_layout()
    return _finish(fig, path, formats)


def plot_accuracy_heatmap(results, *, cmap: str = "viridis", path=None, formats=("png",)):
    """Model x transform heatmap of accuracy, each cell annotated (percent, one decimal).

    Parameters
    ----------
    results : pd.DataFrame
        Tidy results of the thesis's method (baselines have no image: leave them
        out with :func:`voxlib.results.split_baselines`).

    Returns
    -------
    matplotlib.figure.Figure
        Rows models (order of appearance), columns transforms (registry order).
    """
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
        per (model, transform); the held-out bar carries its 95 % CI (thin,
        capped) and, from 2 seeds on, the seeds' min-max range (thick).

    Returns
    -------
    matplotlib.figure.Figure
        Three bar containers (thesis_train, ours_train, ours_test), one bar per row.
    """
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
        ax.bar(x + (i - 1) * 0.27, comparison[col], width=0.27, color=COMPARISON_COLORS[col],
               edgecolor="black", linewidth=0.5, yerr=yerr, capsize=2, ecolor=CI_COLOR, label=label)
    if {"ours_test_min", "ours_test_max", "n_seeds"} <= set(comparison.columns):
        _seed_ranges(ax, x + 0.27, comparison["ours_test_min"], comparison["ours_test_max"], comparison["n_seeds"])
    ticks = [m.replace(" (", "\n(") + "\n" + t for m, t in zip(comparison["model"], comparison["transform"])]
    ax.set_xticks(x, ticks, rotation=90 if n > 8 else 0, fontsize=8)
    _accuracy_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title("Thesis vs ours (different data: compare trends, not values)")
    fig.tight_layout()
    return _finish(fig, path, formats)


# --- 04 gan cloning ---


def plot_gan_panel(source, target, generated=None, *, names=None, title=None, path=None,
                   labels=("input (source)", "target", "generated")):
    """Input / target / generated images side by side, one row per pair.

    Parameters
    ----------
    source, target, generated : uint8 array (k, H, W, C)
        Drawn in gray (low = dark; ``C`` = 3 through :func:`voxlib.images.to_gray`); rows are pairs;
        ``generated=None`` draws only the pairs. Gray levels are stretched to
        the brightest pixel shown, the same for every panel (scalograms on a
        fixed scale are dark).
    names : list of str or None
        Row labels (e.g. utterance ids).
    title : str or None
    path : path or None
        Save a PNG there.
    labels : three str
        Column titles.

    Returns
    -------
    matplotlib.figure.Figure
    """
    k = len(source)
    h, w = source.shape[1:3]
    columns = [(source, labels[0]), (target, labels[1])] + ([] if generated is None else [(generated, labels[2])])
    fig, axes = plt.subplots(k, len(columns), figsize=(3 * len(columns), max(1.2, 3 * h / w) * k + 0.6),
                             squeeze=False)
    vmax = max(1, max(int(stack[:k].max()) for stack, _ in columns))
    for i in range(k):
        for j, (stack, label) in enumerate(columns):
            img = stack[i]
            ax = axes[i, j]
            ax.imshow(images.to_gray(img), cmap="gray", vmin=0, vmax=vmax, aspect="auto", origin="upper")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(label)
        if names is not None:
            axes[i, 0].set_ylabel(str(names[i]))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, formats=("png",))
    return fig


def plot_gan_losses(losses, *, path=None):
    """Loss curves of a pix2pix run: generator GAN and L1 terms, discriminator.

    Parameters
    ----------
    losses : pandas.DataFrame
        ``losses.csv`` of :meth:`voxlib.gan.Pix2Pix.fit` (``epoch, gen_total, gen_gan,
        gen_l1, disc``).
    path : path or None

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, col, label in zip(axes, ("gen_l1", "gen_gan", "disc"),
                              ("generator L1 (on [-1, 1])", "generator GAN (BCE)", "discriminator (BCE real + fake)")):
        ax.plot(losses["epoch"], losses[col], marker="o" if len(losses) < 30 else None)
        if col == "gen_l1" and (losses[col] > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, formats=("png",))
    return fig


# --- 05 reconstruction ---


def plot_quality_vs_width(table, *, path=None, formats=("png",)):
    """Oracle reconstruction quality against image width (time columns).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`voxlib.reconstruction.quality_vs_width` (one or several clips;
        several are averaged per width): ``image, width, snr_db, mcd_db``.
    path : path or None
        Save there (PNG by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    img = table[table["image"] != "none"].groupby("width")[["snr_db", "mcd_db"]].mean()
    ceiling = table[table["image"] == "none"][["snr_db", "mcd_db"]].mean()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, col, label in zip(axes, ("snr_db", "mcd_db"), ("SNR (dB, higher is better)",
                                                            "MCD (dB, lower is better)")):
        ax.plot(img.index, img[col], marker="o", label="through an 8-bit image")
        if ceiling.notna().all():
            ax.axhline(ceiling[col], color="0.4", ls="--", label="float magnitude: icwt(cwt(x))")
        ax.set_xscale("log")
        ax.set_xlabel("image width (time columns)")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Own magnitude + own phase through images of growing width", fontsize=10)
    fig.tight_layout()
    return _finish(fig, path, formats)


def plot_reconstruction_summary(summary, *, measures=("mcd_db", "lsd_db"), path=None, formats=("png",)):
    """Mean distance to the real target per condition, one panel per measure.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`voxlib.reconstruction.summarize_conditions` (index = condition).
    measures : sequence of str
        Columns to draw (dB, lower is closer to the target).
    path : path or None

    Returns
    -------
    matplotlib.figure.Figure
    """
    measures = [m for m in measures if m in summary.columns]
    rows = [c for c in summary.index if c != "target"]
    fig, axes = plt.subplots(1, len(measures), figsize=(4.6 * len(measures), 0.45 * len(rows) + 1.2),
                             squeeze=False)
    # controls are named null_* / control_* (voxlib.reconstruction.CONTROLS)
    colors = [WORST_COLOR if c == "source" or c.startswith(("null_", "control_")) else BEST_COLOR
              if c.startswith("oracle") else BAR_COLOR for c in rows]
    for ax, m in zip(axes[0], measures):
        ax.barh(rows, summary.loc[rows, m], color=colors)
        ax.invert_yaxis()
        ax.set_xlabel(f"{m.replace('_db', '').upper()} to the real target (dB)")
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0, 0].set_title("orange: baseline (source) and controls; blue: oracles", fontsize=9, loc="left")
    fig.tight_layout()
    return _finish(fig, path, formats)
