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
import soundfile as sf  # noqa: E402
import yaml  # noqa: E402
from IPython.display import Audio  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402

from reconstruction_fakes import _summary  # noqa: E402
from synthetic_sweep import write_synthetic_sweep  # noqa: E402
from voxlib import audio, reconstruction, report, results  # noqa: E402
from voxlib.report import findings  # noqa: E402

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


def _png_bytes(cycles: float = 1.0) -> bytes:
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot(np.sin(np.linspace(0, 6 * cycles, 50)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _png_output() -> nbformat.NotebookNode:
    return nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(_png_bytes()).decode(),
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


# --------------------------------------------------------------------------
# Cleaned notebook pages, the headline, the figures and the players
# --------------------------------------------------------------------------
PAIR = "src__tgt"
FIGURES = ("02_sweep_accuracy.png", "03_thesis_vs_ours.png", f"04_heldout_{PAIR}.png", f"05_summary_{PAIR}.png")
PLAYED = ("source", "converted", "target", "gmm")


def _widget(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("display_data", data={
        report.pages.WIDGET_VIEW: {"model_id": WIDGET_ID, "version_major": 2, "version_minor": 0}, "text/plain": text})


def _stream(name: str, text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name=name, text=text)


def _noisy_notebook() -> nbformat.NotebookNode:
    """What papermill saves: TensorFlow's log on stderr and stdout, a tqdm bar frozen at 0 %, a Python
    warning, an explorer's controls above its static selection, and a finished bar."""
    tf_log = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
              "I0000 00:00:1796651548.306335   26439 port.cc:153] oneDNN custom operations are on.\n")
    warning = ("/x/voxlib/gan/pairs.py:375: UserWarning: 3 utterance(s) have no partner\n"
               "  pairs = datasets.pair_speakers(corpus, source, target)\n")
    caption = nbformat.v4.new_output("display_data", data={"text/html": "<b>a__b</b> · held-out sentence <b>u1</b>",
                                                           "text/plain": "<IPython.core.display.HTML object>"})
    return _notebook([
        ("train()", [_stream("stderr", tf_log), _widget("epochs:   0%|          | 0/10 [00:00<?, ?it/s]"),
                     _stream("stdout", "WARNING:tensorflow:5 out of the last 12 calls to <function f> triggered "
                                       "tf.function retracing.\n40 pairs of images\n")]),
        ("pairs()", [_stream("stderr", warning)]),
        ("explore()", [_widget("HBox(children=(Dropdown(description='pair', options=('a__b',), value='a__b'),))"),
                       caption, _audio_output(), _png_output()]),
        ("finish()", [_widget("done: 100%|##########| 3/3 [00:01<00:00]")]),
    ])


def test_clean_outputs_leaves_out_progress_bars_logs_and_widget_text():
    nb = _noisy_notebook()
    before = nbformat.writes(nb)
    clean, dropped = report.clean_outputs(nb)
    assert nbformat.writes(nb) == before  # the notebook itself is not touched
    assert dropped == 5  # the log, the 0 % bar, the retracing line, the warning's code line, the controls
    train, pairs, explore, finish = (c.outputs for c in clean.cells)
    assert [(o.name, o.text) for o in train] == [("stdout", "40 pairs of images\n")]
    assert [(o.name, o.text) for o in pairs] == [("stderr", "/x/voxlib/gan/pairs.py:375: UserWarning: 3 utterance(s) "
                                                            "have no partner\n")]
    assert explore == nb.cells[2].outputs[1:]  # the explorer's static selection: caption, audio, figure
    assert finish == nb.cells[3].outputs
    page = report.notebook_page(nb, title="noisy")
    assert not re.search(r"(?<!\d)0%\|", page)  # the frozen bar (the finished one says 100%|)
    for noise in ("HBox(children", "absl::InitializeLog", "oneDNN", "retracing", "pair_speakers"):
        assert noise not in page, noise
    for kept in ("40 pairs of images", "UserWarning: 3 utterance(s)", "held-out sentence <b>u1</b>", "done: 100%"):
        assert kept in page, kept
    tags = _parse(page)
    assert "audio" in tags.tags and any(v.startswith("data:image/png") for t, k, v in tags.refs if t == "img")
    assert "\n5 output(s) of the run are left out or shortened here" in page


def _tie(runs: pd.DataFrame, best, other) -> pd.DataFrame:
    """``runs`` with the (network, transform) ``other`` given ``best``'s held-out accuracies, seed by seed."""
    runs = runs.copy()
    pick = (runs["network"] == other[0]) & (runs["transform"] == other[1])
    source = runs[(runs["network"] == best[0]) & (runs["transform"] == best[1])].set_index("seed")["test_accuracy"]
    runs.loc[pick, "test_accuracy"] = runs.loc[pick, "seed"].map(source).to_numpy()
    return runs


def test_sweep_finding_names_the_best_model_beside_the_best_baseline(tmp_path):
    write_synthetic_sweep(tmp_path / "sweep", seeds=(0, 1, 2), baselines=True)
    runs = results.load_runs(tmp_path / "sweep" / "sweep.csv")
    base = runs[results.is_baseline(runs)].sort_values("test_accuracy").iloc[-1]
    acc = runs[~results.is_baseline(runs)].groupby(["network", "transform"])["test_accuracy"]
    best = acc.mean().idxmax()
    mean, low, high = acc.mean()[best], acc.min()[best], acc.max()[best]
    text = findings.sweep_finding(runs)
    assert f"({int(runs['n_test'].iloc[0])} held-out clips, notebook 02)" in text
    assert (f"{best[0]} on {best[1]} images, reaches {mean:.1f} % (mean of 3 seeds, range {low:.1f}–{high:.1f} %)"
            in text)
    assert f"the best baseline, {base['network']} on the audio, reaches {base['test_accuracy']:.1f} %" in text
    gap = base["test_accuracy"] - mean
    assert text.endswith(f": {abs(gap):.1f} points {'above' if gap > 0 else 'below'} it.") and "tied" not in text
    other = next(k for k in acc.mean().index if k != best)
    assert f"tied with {other[0]} on {other[1]};" in findings.sweep_finding(_tie(runs, best, other))


def _cloning_summary(**changes) -> pd.DataFrame:
    rates = {"source": (0.0, 0.0), "converted": (0.6, 0.2), "ridge": (0.3, 0.0), "gmm": (0.5, 0.1),
             "null_flat": (0.0, 0.0), "control_channel": (0.1, 0.0), "control_scrambled": (0.9, 0.5),
             "target": (0.9, 0.8)}
    content = changes.pop("content", {"converted": 0.7, "source": 0.8})
    return _summary(rates | changes, content=content)


def test_cloning_finding_counts_what_the_verifier_and_the_content_check_accept():
    summary = _cloning_summary()
    text = findings.cloning_finding(summary, converted="converted")
    assert text == ("CAM++ accepts 6/10 converted clips as the target (real target 9/10; source 0/10; controls flat "
                    "image 0/10, channel control 1/10; baselines gmm 5/10, ridge 3/10). Content check: the converted "
                    "clips find their own sentence in 7/10, the source in 8/10.")
    assert "accepts 6/10 (60%" in reconstruction.verdict(summary, converted="converted")  # the verdict's counts
    assert findings.cloning_finding(summary, converted="ridge").startswith("CAM++ accepts 3/10 converted clips")


def test_cloning_finding_gives_no_counts_of_an_unreliable_judge():
    text = findings.cloning_finding(_cloning_summary(null_flat=(0.3, 0.0)), converted="converted")
    assert text.startswith("The CAM++ verifier cannot judge this pair (accepts null_flat in 30% of sentences): "
                           "no verdict on the voice.")
    assert "6/10" not in text and "Content check: the converted clips find their own sentence in 7/10" in text
    text = findings.cloning_finding(_cloning_summary(content={"control_scrambled": 0.5}), converted="converted")
    assert text.endswith("The content check cannot judge this pair (accepts control_scrambled in 50% of sentences).")
    no_judges = _cloning_summary().drop(columns=[c for c in _cloning_summary() if c.startswith(("verifier",
                                                                                                 "content"))])
    assert findings.cloning_finding(no_judges) == "No speaker verifier was run: no verdict on the voice."


def test_best_baseline_is_the_most_accepted_then_the_closest():
    summary = _cloning_summary()
    assert findings.best_baseline(summary) == "gmm"
    tied = _cloning_summary(ridge=(0.5, 0.0))
    tied.loc["ridge", "mcd_db"] = 3.0
    assert findings.best_baseline(tied) == "ridge"
    assert findings.best_baseline(summary.drop(index=["gmm", "ridge"])) is None


def test_played_sentence_is_notebook_05s_seeded_choice():
    table = pd.DataFrame({"utterance": ["u3", "u3", "u1", "u1", "u2", "u2"], "condition": ["source", "target"] * 3})
    picks = [findings.played_sentence(table, seed=s) for s in range(8)]
    assert set(picks) <= {"u1", "u2", "u3"} and len(set(picks)) > 1
    assert picks == [findings.played_sentence(table.copy(), seed=s) for s in range(8)]
    # notebook 05: utterance = np.random.default_rng(seed).choice(recon["utterance"].unique())
    assert picks == [np.random.default_rng(s).choice(table["utterance"].unique()) for s in range(8)]


def _update_record(run_dir, **entries) -> None:
    record = yaml.safe_load((run_dir / "params.yaml").read_text())
    (run_dir / "params.yaml").write_text(yaml.safe_dump({**record, **entries}))


def _tone(seconds: float, hz: float) -> np.ndarray:
    return 0.3 * np.sin(2 * np.pi * hz * np.arange(int(seconds * SR)) / SR)


def _fake_cloning(run_dir, *, seed=2, float_target=False):
    """Notebook 05's outputs for PAIR (a summary, three held-out sentences of WAVs, some 16-bit PCM and
    with ``float_target`` the targets as 32-bit float), notebook 05's executed copy with its verdict cell,
    the figures of notebooks 02-05, and the runner's record with seed ``seed``; returns the summary."""
    folder = run_dir / "reconstruction" / PAIR
    summary = _cloning_summary()
    folder.mkdir(parents=True)
    summary.to_csv(folder / "summary.csv")
    rows = []
    for i, utt in enumerate(("u2", "u0", "u1")):
        for j, cond in enumerate(("source", "converted", "ridge", "gmm", "null_flat", "target")):
            path = folder / "wav" / f"{utt}__{cond}.wav"
            y = _tone(0.2 + 0.1 * i, 200 + 50 * j)
            if float_target and cond == "target":
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(path), y, SR, subtype="FLOAT")
            else:
                audio.write_wav(path, y, SR)
            rows.append({"utterance": utt, "split": "test", "condition": cond, "path": f"wav/{path.name}", "sr": SR})
    pd.DataFrame(rows).to_csv(folder / "reconstructions.csv", index=False)
    (run_dir / "figures").mkdir()
    for k, name in enumerate(FIGURES):
        (run_dir / "figures" / name).write_bytes(_png_bytes(1 + k))
    nb = _notebook([("# 05\nThe verdict, written from the numbers:", None),
                    ("print(reconstruction.verdict(summary))", [_stream("stdout", "The verdict.\n")])])
    nbformat.write(nb, run_dir / "notebooks" / f"05_reconstruction__{PAIR}.ipynb")
    _update_record(run_dir, **{f"05_reconstruction[{PAIR}]": {"status": "ok", "seed": seed, "seconds": 1.0}})
    return summary


@pytest.fixture(scope="module")
def cloning_run(tmp_path_factory):
    """A run with a sweep, one cloned pair with everything, and a pair whose notebook 05 failed."""
    run_dir = _fake_run(tmp_path_factory.mktemp("cloning") / "quick")
    write_synthetic_sweep(run_dir / "sweep", seeds=(0, 1), baselines=True)
    summary = _fake_cloning(run_dir, float_target=True)
    _update_record(run_dir, **{"05_reconstruction[x__y]": {"status": "failed", "seconds": 2.0, "error": "boom"}})
    return run_dir, summary, report.build_report(run_dir)


def test_headline_says_the_runs_findings_from_its_tables(cloning_run):
    run_dir, summary, index = cloning_run
    text = index.read_text()
    assert text.index('<div class="headline">') < text.index("<h2>Notebooks")
    box = text[text.index('<div class="headline">'):text.index("</div>")]
    lines = re.findall(r"<li>(.*?)</li>", box, re.S)
    assert len(lines) == 3
    assert lines[0] == html.escape(findings.sweep_finding(results.load_runs(run_dir / "sweep" / "sweep.csv")))
    assert lines[1] == (f"<strong>src → tgt</strong> (phase mode source): "
                        + html.escape(findings.cloning_finding(summary, converted="converted")))
    assert lines[2] == "<strong>x → y</strong>: no cloning verdict: notebook 05_reconstruction failed (see its page)."
    section = text[text.index("<h3>src → tgt</h3>"):]
    assert section.startswith(f"<h3>src → tgt</h3><p>{html.escape(reconstruction.finding(summary))} <a href=")
    assert html.escape(reconstruction.verdict(summary, converted="converted", profile="quick")) in section


def test_key_figures_are_copied_next_to_the_index(cloning_run):
    run_dir, _, index = cloning_run
    shown = [v for t, k, v in _parse(index.read_text()).refs if t == "img"]
    assert shown == ["figures/02_sweep_accuracy.png", "figures/03_thesis_vs_ours.png", f"figures/04_heldout_{PAIR}.png"]
    for href in shown:
        assert (index.parent / href).read_bytes() == (run_dir / href).read_bytes()
    assert report.external_references(index.read_text()) == []


def test_players_copy_notebook_05s_sentence_as_16_bit_wavs(cloning_run):
    run_dir, _, index = cloning_run
    text = index.read_text()
    table = pd.read_csv(run_dir / "reconstruction" / PAIR / "reconstructions.csv")
    utt = findings.played_sentence(table, seed=2)
    srcs = [v for t, k, v in _parse(text).refs if t == "audio"]
    assert srcs == [f"audio/{PAIR}/{utt}__{c}.wav" for c in PLAYED]
    assert f"Held-out sentence <code>{utt}</code>, the one notebook 05 plays (seed 2)" in text
    for href, cond in zip(srcs, PLAYED):
        original = run_dir / "reconstruction" / PAIR / "wav" / f"{utt}__{cond}.wav"
        assert sf.info(str(index.parent / href)).subtype == "PCM_16"
        if cond == "target":  # written as 32-bit float: converted, same samples to 16-bit precision
            np.testing.assert_allclose(sf.read(str(index.parent / href))[0], sf.read(str(original))[0], atol=1e-4)
        else:
            assert (index.parent / href).read_bytes() == original.read_bytes()
    page = re.search(r'href="(05_reconstruction__src__tgt\.html#cell-id=[^"]+)"', text).group(1)
    cell_id = nbformat.read(run_dir / "notebooks" / f"05_reconstruction__{PAIR}.ipynb", as_version=4).cells[0].id
    assert page.endswith(f"#cell-id={cell_id}")
    assert f'id="cell-id={cell_id}"' in (index.parent / page.split("#")[0]).read_text()


def test_missing_figures_and_clips_are_left_out_without_error(tmp_path):
    run_dir = _fake_run(tmp_path / "quick")
    write_synthetic_sweep(run_dir / "sweep")
    _fake_cloning(run_dir, seed=0)
    table = pd.read_csv(run_dir / "reconstruction" / PAIR / "reconstructions.csv")
    utt = findings.played_sentence(table, seed=0)
    (run_dir / "reconstruction" / PAIR / "wav" / f"{utt}__converted.wav").unlink()
    for name in ("03_thesis_vs_ours.png", f"04_heldout_{PAIR}.png"):
        (run_dir / "figures" / name).unlink()
    text = report.build_report(run_dir).read_text()
    refs = _parse(text).refs
    assert [v for t, k, v in refs if t == "img"] == ["figures/02_sweep_accuracy.png", f"figures/05_summary_{PAIR}.png"]
    played = [f"audio/{PAIR}/{utt}__{c}.wav" for c in PLAYED if c != "converted"]
    assert [v for t, k, v in refs if t == "audio"] == played
    assert re.search(r"<td>converted by pix2pix</td><td><code>converted</code></td><td>not in this run</td>", text)
    assert not (run_dir / "report" / "audio" / PAIR / f"{utt}__converted.wav").exists()
