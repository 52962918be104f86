"""voxlib.plots, notebook 03 section: bar counts and heights, best/worst colours,
CI error bars, heatmap annotations, files on disk; on the thesis table and on a
synthetic sweep table (built by tests/test_results.py's writer)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from test_results import _sweep, write_synthetic_sweep  # noqa: E402
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
    fig = plots.plot_transform_bars(table, path=tmp_path / "03_bars.png")
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
    fig = plots.plot_mean_accuracy(table, by=by, path=path, formats="png,svg")
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
