"""voxlib.report: the offline HTML report of a run folder."""
from __future__ import annotations

import base64
import html
import io
import re
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from IPython.display import Audio  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402

from reconstruction_fakes import _summary  # noqa: E402
from synthetic_sweep import write_synthetic_sweep  # noqa: E402
from voxlib import reconstruction, report, results  # noqa: E402

SR = 8000
WIDGET_ID = "0123456789abcdef"


class _Attributes(HTMLParser):
    """Every (tag, attribute, value) of src/href attributes, and the tags seen."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [(tag, k, v) for k, v in attrs if k in ("src", "href")]


class _Tables(HTMLParser):
    """The text of every cell of every <table>: a list of tables, each a list of rows."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(page: str) -> list[pd.DataFrame]:
    """Each <table> as a DataFrame of strings, its first row the header."""
    p = _Tables()
    p.feed(page)
    return [pd.DataFrame(rows[1:], columns=rows[0]) for rows in p.tables if rows]


def _row(page: str, first_cell: str) -> str:
    """The HTML of the table row whose first cell starts with ``first_cell``."""
    return re.search(r"<tr><td>(?:<a [^>]*>)?" + re.escape(first_cell) + r".*?</tr>", page, re.S).group(0)


def _parse(page: str) -> _Attributes:
    p = _Attributes()
    p.feed(page)
    return p


def _local(url: str) -> bool:
    return url.startswith(("data:", "#")) or not re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*:|//)", url)


def _png_output() -> nbformat.NotebookNode:
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot(np.sin(np.linspace(0, 6, 50)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(buf.getvalue()).decode(),
                                                        "text/plain": "<Figure size 100x75 with 1 Axes>"})


def _audio_output() -> nbformat.NotebookNode:
    t = np.arange(int(0.2 * SR)) / SR
    clip = Audio(0.3 * np.sin(2 * np.pi * 220 * t), rate=SR)
    return nbformat.v4.new_output("display_data", data={"text/html": clip._repr_html_(), "text/plain": repr(clip)})


def _notebook(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for source, outputs in cells:
        if outputs is None:
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source, outputs=outputs, execution_count=len(nb.cells)))
    return nb


def _fake_run(run_dir, *, broken=False):
    """Two executed notebooks (a figure, a text output, a saved widget, math; an audio
    player) and the runner's params.yaml; with ``broken`` a third that failed."""
    (run_dir / "notebooks").mkdir(parents=True)
    widget = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": WIDGET_ID, "version_major": 2, "version_minor": 0},
        "text/plain": "progress: 100%|##########| 3/3"})
    first = _notebook([("# Demo\nThe energy $E = \\sum_n x[n]^2$ of a clip.", None),
                       ("print('four clips')", [nbformat.v4.new_output("stream", name="stdout", text="four clips\n")]),
                       ("for _ in tqdm(range(3)): pass", [widget]),
                       ("plt.plot(y); plt.show()", [_png_output()])])
    first.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {WIDGET_ID: {"model_name": "HBoxModel", "model_module": "@jupyter-widgets/controls",
                              "model_module_version": "2.0.0", "state": {}}},
        "version_major": 2, "version_minor": 0}}
    nbformat.write(first, run_dir / "notebooks" / "01_demo.ipynb")
    nbformat.write(_notebook([("Audio(y, rate=sr)", [_audio_output()])]),
                   run_dir / "notebooks" / "02_sound__a__b.ipynb")
    record = {"01_demo": {"seed": 0, "run_dir": str(run_dir), "status": "ok", "seconds": 12.5},
              "02_sound[a__b]": {"source": "a", "target": "b", "status": "ok", "seconds": 3.5}}
    if broken:
        error = nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                       traceback=["ZeroDivisionError: division by zero"])
        nbformat.write(_notebook([("1 / 0", [error])]), run_dir / "notebooks" / "03_broken.ipynb")
        record["03_broken"] = {"status": "failed", "seconds": 0.5, "error": "notebook 03_broken.ipynb failed: "
                               "cell [0] raised ZeroDivisionError: division by zero. Open the executed copy"}
        record["04_never"] = {"status": "running"}
    (run_dir / "params.yaml").write_text(yaml.safe_dump(record))
    return run_dir


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    run_dir = _fake_run(tmp_path_factory.mktemp("run") / "quick")
    return run_dir, report.build_report(run_dir)


def test_report_has_every_notebook_with_embedded_figure_and_audio(built):
    run_dir, index = built
    assert index == run_dir / "report" / "index.html"
    pages = {p.name: p.read_text() for p in (run_dir / "report").glob("*.html")}
    assert set(pages) == {"index.html", "01_demo.html", "02_sound__a__b.html"}
    links = {v for t, k, v in _parse(pages["index.html"]).refs if t == "a"}
    assert links == {"01_demo.html", "02_sound__a__b.html"}

    demo, sound = _parse(pages["01_demo.html"]), _parse(pages["02_sound__a__b.html"])
    (png,) = [v for t, k, v in demo.refs if t == "img"]
    assert base64.b64decode(png.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "four clips" in pages["01_demo.html"] and "E = \\sum_n x[n]^2" in pages["01_demo.html"]
    assert "progress: 100%" in pages["01_demo.html"]  # the widget's static output
    assert "audio" in sound.tags
    (wav,) = [v for t, k, v in sound.refs if t == "source"]
    assert wav.startswith("data:audio/wav;base64,") and base64.b64decode(wav.split(",", 1)[1])[:4] == b"RIFF"
    for name, page in pages.items():
        assert "voxlib-error" not in page and "Traceback" not in page, name
        assert [r for r in _parse(page).refs if not _local(r[2])] == [], name
        assert report.external_references(page) == [], name


def test_the_fixture_needs_the_network_under_nbconvert_defaults(built):
    run_dir, _ = built
    page, _ = HTMLExporter(template_name="lab").from_filename(str(run_dir / "notebooks" / "01_demo.ipynb"))
    remote = {v for t, k, v in _parse(page).refs if t == "script" and not _local(v)}
    assert len(remote) == 2  # require.js and MathJax, as <script src>
    assert "unpkg.com/@jupyter-widgets/html-manager" in page  # the widget manager, by a script
    assert len(report.external_references(page)) == 2
    for page in (run_dir / "report").glob("*.html"):
        assert not re.search(r"unpkg\.com|cdnjs|cdn\.jsdelivr|mathjax", page.read_text(), re.I), page.name


def test_index_shows_parameters_timings_and_says_what_is_missing(built):
    run_dir, index = built
    text = index.read_text()
    assert "<td>12.5</td>" in text and "<td>3.5</td>" in text and "Recorded time: 16.0 s" in text
    assert "seed: 0" in text and "source: a" in text
    assert "No speaker-identification sweep in this run" in text
    assert "No cloning results in this run" in text
    assert 'class="failed"' not in text and 'class="errors"' not in text


def test_failed_and_erroring_notebooks_are_flagged(tmp_path):
    run_dir = _fake_run(tmp_path / "run", broken=True)
    text = report.build_report(run_dir).read_text()
    row = _row(text, "03_broken.ipynb")
    assert '<span class="failed">failed</span>' in row and "1 error output(s)" in row
    assert "ZeroDivisionError: division by zero" in row
    never = _row(text, "04_never.ipynb")
    assert "did not finish" in never
    demo = _row(text, "01_demo.ipynb")
    assert "class=\"failed\"" not in demo and "error output" not in demo
    page = (run_dir / "report" / "03_broken.html").read_text()
    assert page.count('class="voxlib-error"') == 1 and "This notebook has\n1 error output(s)" in page
    assert "voxlib-error" not in (run_dir / "report" / "01_demo.html").read_text()


def test_sweep_rows_best_first_beside_the_baselines(tmp_path):
    run_dir = _fake_run(tmp_path / "run")
    write_synthetic_sweep(run_dir / "sweep", seeds=(0, 1), baselines=True)
    text = report.build_report(run_dir).read_text()
    table = _tables(text[text.index("Speaker identification"):])[0]
    table["mean"] = table["mean"].astype(float)
    runs = results.load_runs(run_dir / "sweep" / "sweep.csv")
    best = results.best_run(runs)
    spread = results.seed_spread(runs)
    images = spread[~results.is_baseline(spread)]
    assert (table.loc[0, "network"], table.loc[0, "transform"]) == (best["network"], best["transform"])
    assert len(table) == min(report.TOP_ROWS, len(images)) + len(results.BASELINE_NETWORKS)
    assert list(table["kind"]).count("baseline (audio)") == len(results.BASELINE_NETWORKS)
    assert table["mean"].iloc[:report.TOP_ROWS].is_monotonic_decreasing
    assert set(table.loc[table["kind"] == "image", "mean"].round(1)) <= set(images["mean"].round(1))


def test_cloning_verdict_per_pair_uses_the_chosen_phase(tmp_path):
    run_dir = _fake_run(tmp_path / "quick")
    summary = _summary({"source": (0.0, 0.0), "converted": (0.1, 0.2), "converted_refined": (0.6, 0.8),
                        "null_flat": (0.0, 0.0), "control_channel": (0.0, 0.1), "target": (0.9, 1.0)})
    rec = run_dir / "reconstruction" / "a__b"
    rec.mkdir(parents=True)
    summary.to_csv(rec / "summary.csv")
    pd.DataFrame({"mode": ["source", "refined"], "chosen": [False, True]}).to_csv(rec / "phase_choice.csv",
                                                                                  index=False)
    text = report.build_report(run_dir).read_text()
    assert "a → b" in text and "condition <code>converted_refined</code>" in text
    expected = reconstruction.verdict(summary, converted="converted_refined", profile="quick")
    assert expected != reconstruction.verdict(summary, converted="converted", profile="quick")
    assert list(_tables(text)[-1].iloc[1:, 0]) == list(summary.index)  # header rows: columns, index name
    assert html.escape(expected) in text


def test_writes_only_under_report_and_refuses_other_places(tmp_path):
    run_dir = _fake_run(tmp_path / "run")
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    report.build_report(run_dir)
    after = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    changed = {p for p in after if before.get(p) != after[p]}
    assert changed and all(p == run_dir / "report" or run_dir / "report" in p.parents for p in changed)
    for bad in (run_dir, run_dir / "notebooks", tmp_path):
        with pytest.raises(report.ReportError, match="out_dir="):
            report.build_report(run_dir, out_dir=bad)
    with pytest.raises(report.ReportError, match="no executed notebook"):
        report.build_report(tmp_path / "run" / "notebooks")
    with pytest.raises(FileNotFoundError, match="run_dir="):
        report.build_report(tmp_path / "nowhere")


def test_external_references_counts_loads_not_links():
    page = ('<a href="https://example.org/thesis">thesis</a><a href="#top">top</a><img src="data:image/png;base64,AA">'
            '<img src="figures/x.png"><script src="//cdn.example.org/x.js"></script>'
            '<link rel="stylesheet" href="https://cdn.example.org/x.css"><img src="http://example.org/y.png">')
    found = report.external_references(page)
    assert len(found) == 3 and all("example.org" in f for f in found)
    assert not any("thesis" in f for f in found)


def test_command_line(built, tmp_path, capsys):
    run_dir, _ = built
    assert report.main([str(run_dir), "--out-dir", str(tmp_path / "elsewhere")]) == 0
    assert str(tmp_path / "elsewhere" / "index.html") in capsys.readouterr().out
    assert (tmp_path / "elsewhere" / "01_demo.html").is_file()
    assert report.main([str(tmp_path / "nowhere")]) == 1
    assert "run_dir=" in capsys.readouterr().err
