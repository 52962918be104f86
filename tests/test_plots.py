"""voxlib.plots, notebook 03 section: bar counts and heights, best/worst colours,
CI error bars, heatmap annotations, files on disk; on the thesis table and on a
synthetic sweep table (built by tests/synthetic_sweep.py's writer). The figures take
the tables voxlib.results computes (the tests compute them the way notebooks 02/03 do)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import subprocess  # noqa: E402
import sys  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from synthetic_sweep import NETWORKS, TRANSFORMS, _sweep, write_synthetic_sweep  # noqa: E402
from voxlib import plots  # noqa: E402
from voxlib import results as R  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def thesis():
    return R.load_thesis_results()


@pytest.fixture()
def runs(tmp_path):
    write_synthetic_sweep(tmp_path / "sweep")
    return R.select_runs(_sweep(tmp_path / "sweep" / "sweep.csv"))


def _bars(ax):
    (container,) = [c for c in ax.containers if isinstance(c, matplotlib.container.BarContainer)]
    return container


@pytest.mark.parametrize("source", ["thesis", "ours"])
def test_transform_bars_one_panel_per_transform_one_bar_per_model(source, thesis, runs, tmp_path):
    table = thesis if source == "thesis" else R.tidy_sweep(runs)
    method, baselines = R.split_baselines(table)
    fig = plots.plot_transform_bars(method, baselines, path=tmp_path / "03_bars.png")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    transforms = [t for t in R.TRANSFORM_NAMES if t in set(table["transform"])]
    assert [ax.get_title() for ax in panels] == transforms
    for ax, name in zip(panels, transforms):
        bars = _bars(ax)
        sub = table[table["transform"] == name]
        assert len(bars) == len(sub) == table["model"].nunique()
        np.testing.assert_allclose([b.get_height() for b in bars], sub["accuracy"])
        assert ax.get_ylim() == (0, 100)
        has_ci = bars.errorbar is not None
        assert has_ci == (source == "ours")
        if has_ci:  # error bar segments span exactly the CI
            segs = bars.errorbar.lines[2][0].get_segments()
            np.testing.assert_allclose([s[:, 1] for s in segs], sub[["ci_low", "ci_high"]].to_numpy())
    assert panels[0].get_ylabel() == "accuracy (%)"
    assert (tmp_path / "03_bars.png").stat().st_size > 10_000


@pytest.mark.parametrize("by", ["transform", "model"])
@pytest.mark.parametrize("source", ["thesis", "ours"])
def test_mean_accuracy_highlights_best_and_worst(by, source, thesis, runs, tmp_path):
    table = thesis if source == "thesis" else R.tidy_sweep(runs)
    path = tmp_path / f"03_mean_{by}.png"
    fig = plots.plot_mean_accuracy(R.mean_accuracy(table, by=by), R.split_baselines(table)[1], by=by,
                                   source=source, path=path, formats="png,svg")
    bars = _bars(fig.axes[0])
    means = table.groupby(by)["accuracy"].mean()
    assert len(bars) == table[by].nunique()
    heights = np.array([b.get_height() for b in bars])
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    np.testing.assert_allclose(heights, means[labels])
    colours = [b.get_facecolor() for b in bars]
    best, worst = heights.argmax(), heights.argmin()
    assert colours[best] == to_rgba(plots.BEST_COLOR) and colours[worst] == to_rgba(plots.WORST_COLOR)
    others = [c for i, c in enumerate(colours) if i not in (best, worst)]
    assert all(c == to_rgba(plots.BAR_COLOR) for c in others)
    values = [t.get_text() for t in fig.axes[0].texts]
    assert values == [f"{h:.1f}" for h in heights]
    assert path.is_file() and path.with_suffix(".svg").is_file()
    assert fig.axes[0].get_title().startswith(f"Mean accuracy per {by} (over ") and source in fig.axes[0].get_title()


def test_heatmap_annotates_every_cell(thesis, tmp_path):
    fig = plots.plot_accuracy_heatmap(thesis, path=tmp_path / "03_heatmap.png")
    ax = fig.axes[0]
    texts = [float(t.get_text()) for t in ax.texts]
    assert len(texts) == 84
    grid = thesis.pivot(index="model", columns="transform", values="accuracy")
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    assert cols == list(R.TRANSFORM_NAMES) and rows[:2] == ["SequentialCNN (hablanteA)", "SequentialCNN (hablanteB)"]
    np.testing.assert_allclose(texts, grid.loc[rows, cols].to_numpy().ravel())
    assert (tmp_path / "03_heatmap.png").is_file()


def test_thesis_vs_ours_three_bars_per_pair(runs, thesis, tmp_path):
    cmp = R.compare_with_thesis(runs, thesis)
    fig = plots.plot_thesis_vs_ours(cmp, path=tmp_path / "03_vs.png")
    containers = [c for c in fig.axes[0].containers if isinstance(c, matplotlib.container.BarContainer)]
    assert len(containers) == 3 and all(len(c) == len(cmp) for c in containers)
    for c, col in zip(containers, ("thesis_train", "ours_train", "ours_test")):
        np.testing.assert_allclose([b.get_height() for b in c], cmp[col])
        assert c[0].get_facecolor() == to_rgba(plots.COMPARISON_COLORS[col])
    assert containers[2].errorbar is not None and containers[0].errorbar is None
    assert (tmp_path / "03_vs.png").is_file()
    with pytest.raises(ValueError, match="empty"):
        plots.plot_thesis_vs_ours(cmp.iloc[:0])


def test_save_figure_formats(tmp_path):
    fig, _ = plt.subplots()
    written = plots.save_figure(fig, tmp_path / "sub" / "x.png", formats=["png", "pdf"])
    assert [p.suffix for p in written] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in written)
    with pytest.raises(ValueError, match="jpeg"):
        plots.save_figure(fig, tmp_path / "x.png", formats="jpeg")


# --- baselines and seeds -----------------------------------------------------------------

@pytest.fixture()
def seeded(tmp_path):
    """A sweep with 3 seeds per (network, transform) and both baselines, selected."""
    write_synthetic_sweep(tmp_path / "seeded", seeds=(0, 1, 2), baselines=True)
    return R.select_runs(_sweep(tmp_path / "seeded" / "sweep.csv"))


def _baseline_lines(ax):
    """{label: y} of the horizontal baseline lines of ``ax``."""
    return {ln.get_label(): ln.get_ydata()[0] for ln in ax.get_lines() if "baseline" in ln.get_label()}


def _seed_segments(ax):
    """(low, high) of each seed-range segment of ``ax``."""
    cols = [c for c in ax.collections if c.get_label() == plots.SEED_RANGE_LABEL]
    return [tuple(seg[:, 1]) for c in cols for seg in c.get_segments()]


def test_transform_bars_baselines_are_reference_lines_and_seeds_a_range(seeded):
    table = R.tidy_sweep(seeded)
    fig = plots.plot_transform_bars(*R.split_baselines(table))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == list(TRANSFORMS)  # no panel for "audio"
    base = table[R.is_baseline(table)]
    expected = {f"{m} baseline: {a:.1f} % held-out": a for m, a in zip(base["model"], base["accuracy"])}
    for ax in panels:
        assert _baseline_lines(ax) == pytest.approx(expected)
        bars = _bars(ax)
        sub = table[(table["transform"] == ax.get_title()) & ~R.is_baseline(table)]
        assert len(bars) == len(NETWORKS)
        np.testing.assert_allclose([b.get_height() for b in bars], sub["accuracy"])  # seed means
        np.testing.assert_allclose(_seed_segments(ax), sub[["seed_min", "seed_max"]].to_numpy())
    assert any("MFCC+LR baseline" in t.get_text() for t in fig.legends[0].get_texts())


def test_mean_accuracy_colours_only_the_levels_it_is_given(thesis):
    means = R.mean_accuracy(thesis, by="transform")
    ax = plots.plot_mean_accuracy(means, by="transform", best=["amor", "morse"], worst=[]).axes[0]
    colours = dict(zip([t.get_text() for t in ax.get_xticklabels()], [b.get_facecolor() for b in _bars(ax)]))
    assert colours["amor"] == colours["morse"] == to_rgba(plots.BEST_COLOR)
    assert all(c == to_rgba(plots.BAR_COLOR) for t, c in colours.items() if t not in ("amor", "morse"))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["best"]
    tied = plots.plot_mean_accuracy(means, by="transform", best=[], worst=[]).axes[0]   # a tie: nothing stands out
    assert all(b.get_facecolor() == to_rgba(plots.BAR_COLOR) for b in _bars(tied))
    assert [t.get_text() for t in tied.get_legend().get_texts()] == ["tied: none stands out"]


def test_mean_accuracy_leaves_baselines_out_and_draws_them_as_lines(seeded):
    table, each = R.tidy_sweep(seeded), R.tidy_sweep(seeded, seeds="each")
    fig = plots.plot_mean_accuracy(R.mean_accuracy(table, by="model", seeds=each), R.split_baselines(table)[1],
                                   by="model")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(NETWORKS)
    method = table[~R.is_baseline(table)]
    np.testing.assert_allclose([b.get_height() for b in _bars(ax)],
                               method.groupby("model")["accuracy"].mean()[list(NETWORKS)])
    assert sorted(_baseline_lines(ax).values()) == sorted(table.loc[R.is_baseline(table), "accuracy"])
    # error bars: lowest to highest per-seed mean of each model
    per_seed = each[~R.is_baseline(each)].groupby(["model", "seed"])["accuracy"].mean().unstack()
    segs = _bars(ax).errorbar.lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segs],
                               np.c_[per_seed.min(axis=1), per_seed.max(axis=1)][[list(per_seed.index).index(m)
                                                                                   for m in NETWORKS]])


def test_heatmap_leaves_baselines_out(seeded):
    fig = plots.plot_accuracy_heatmap(R.split_baselines(R.tidy_sweep(seeded))[0])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(NETWORKS)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(TRANSFORMS)
    assert len(ax.texts) == len(NETWORKS) * len(TRANSFORMS)


def test_sweep_chart_averages_seeds_and_draws_baselines(seeded):
    spread = R.seed_spread(seeded)
    fig = plots.plot_sweep(*R.split_baselines(spread), n_classes=3)
    assert [ax.get_title() for ax in fig.axes] == list(NETWORKS)  # no panel for a baseline
    for ax in fig.axes:
        sub = spread[spread["network"] == ax.get_title()]
        train, test = [c for c in ax.containers if isinstance(c, matplotlib.container.BarContainer)]
        np.testing.assert_allclose([b.get_height() for b in test], sub["mean"])
        np.testing.assert_allclose([b.get_height() for b in train], sub["train_mean"])
        np.testing.assert_allclose(_seed_segments(ax), sub[["min", "max"]].to_numpy())
        assert set(_baseline_lines(ax)) == {"MFCC+LR baseline: 95.0 % held-out",
                                            "d-vector+LR baseline: 90.0 % held-out",
                                            "CAM++ +LR baseline: 88.3 % held-out"}
        chance = [ln for ln in ax.get_lines() if ln.get_label() == "chance (33 %)"]
        assert len(chance) == 1 and chance[0].get_ydata()[0] == pytest.approx(100 / 3)


def test_mean_accuracy_needs_the_level_column(thesis):
    with pytest.raises(ValueError, match="by='model'"):
        plots.plot_mean_accuracy(R.mean_accuracy(thesis, by="transform"), by="model")


def test_plots_imports_no_stage_module():
    """Figures take tables: importing voxlib.plots loads none of the stages that make them."""
    code = ("import sys, voxlib.plots; "
            "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
            "(['voxlib', 'results'], ['voxlib', 'transfer'], ['voxlib', 'gan'], ['voxlib', 'reconstruction'])))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_confusion_and_history_figures_of_one_run(tmp_path):
    cm = pd.DataFrame([[3, 1], [0, 4]], index=pd.Index(["A", "B"], name="predicted"),
                      columns=pd.Index(["A", "B"], name="true"))
    fig = plots.plot_confusion(cm, path=tmp_path / "cm.png")
    assert (tmp_path / "cm.png").is_file()
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0", "1", "3", "4"]
    hist = pd.DataFrame({"epoch": [1, 2], "accuracy": [0.5, 0.9], "loss": [1.0, 0.3],
                         "val_accuracy": [0.4, 0.6], "val_loss": [1.2, 0.9]})
    fig = plots.plot_history(hist)
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].lines[0].get_ydata()[1] == pytest.approx(90)
