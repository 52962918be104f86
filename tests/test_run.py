"""voxlib.run: paths, profiles and the papermill runner's loud failures."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

from voxlib import run


def _project(tmp_path, cells):
    (tmp_path / "voxlib").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("run_dir = 'x'\nfigures_dir = 'y'\ndivisor = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, tmp_path / "notebooks" / "01_demo.ipynb")
    (tmp_path / "params" / "quick.yaml").write_text(yaml.safe_dump({"01_demo": {"divisor": 2}}))
    return tmp_path


def test_resolve_is_relative_to_project_root(tmp_path, monkeypatch):
    root = _project(tmp_path, [])
    monkeypatch.chdir(root / "notebooks")
    monkeypatch.delenv("VOXLIB_ROOT", raising=False)
    assert run.project_root() == root
    assert run.resolve("data/x") == root / "data" / "x"
    assert run.resolve("/abs/p").as_posix() == "/abs/p"
    assert run.resolve(None) is None


def test_profiles_and_selection(tmp_path, monkeypatch):
    root = _project(tmp_path, [])
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    assert run.load_profile("quick") == {"01_demo": {"divisor": 2}}
    with pytest.raises(FileNotFoundError, match="available profiles: quick"):
        run.load_profile("nope")
    assert [p.stem for p in run.list_notebooks(["01"])] == ["01_demo"]
    with pytest.raises(ValueError, match="have: 01_demo"):
        run.list_notebooks(["07"])


def test_repository_profiles_name_existing_notebooks():
    stems = {p.stem for p in run.list_notebooks()}
    for profile in ("quick", "full"):
        sections = run.load_profile(profile)
        assert set(sections) >= stems, f"params/{profile}.yaml lacks a section for {stems - set(sections)}"


def test_runner_injects_parameters_and_records_them(tmp_path, monkeypatch):
    root = _project(tmp_path, ["import pathlib\npathlib.Path(run_dir, 'out.txt').write_text(str(10 // divisor))"])
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    out = run.run_notebooks("quick", run_dir=tmp_path / "r", figures_dir=tmp_path / "f", progress=False)
    assert out == [tmp_path / "r" / "notebooks" / "01_demo.ipynb"]
    assert (tmp_path / "r" / "out.txt").read_text() == "5"
    used = yaml.safe_load((tmp_path / "r" / "params.yaml").read_text())
    assert used["01_demo"]["divisor"] == 2 and used["01_demo"]["run_dir"] == str(tmp_path / "r")


def test_runner_failure_names_notebook_and_cell(tmp_path, monkeypatch):
    root = _project(tmp_path, ["x = 10 // divisor"])
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    with pytest.raises(run.NotebookFailed, match=r"01_demo.ipynb failed: cell \[\d+\] raised ZeroDivisionError"):
        run.run_notebooks("quick", run_dir=tmp_path / "r", overrides={"01_demo": {"divisor": 0}}, progress=False)


# ----------------------------------------------------------------------------- params.yaml and figures

def _fake_papermill(monkeypatch, calls, fail=()):
    """papermill.execute_notebook stand-in: records what it was given and what
    params.yaml said while it ran; raises for the stems in ``fail``."""
    import papermill

    def execute_notebook(src, out, parameters, **kw):
        stem = Path(src).stem
        record = yaml.safe_load((Path(parameters["run_dir"]) / "params.yaml").read_text())
        calls.append((stem, dict(parameters), record[stem]["status"]))
        if stem in fail:
            raise papermill.PapermillExecutionError(cell_index=2, exec_count=3, source="x = 1 / 0",
                                                    ename="ZeroDivisionError", evalue="division by zero",
                                                    traceback=[])
        Path(out).write_text("{}")
    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)


def _two_notebooks(tmp_path):
    root = _project(tmp_path, [])
    nb = nbformat.read(root / "notebooks" / "01_demo.ipynb", as_version=4)
    nbformat.write(nb, root / "notebooks" / "02_next.ipynb")
    (root / "params" / "quick.yaml").write_text(yaml.safe_dump({"01_demo": {"divisor": 2}, "02_next": {"k": 5}}))
    (root / "params" / "full.yaml").write_text(yaml.safe_dump({"01_demo": {"divisor": 3}, "02_next": {"k": 9}}))
    return root


def test_partial_run_merges_params_and_records_status(tmp_path, monkeypatch):
    root = _two_notebooks(tmp_path)
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    calls = []
    _fake_papermill(monkeypatch, calls)
    run.run_notebooks("quick", run_dir=tmp_path / "r", progress=False)
    run.run_notebooks("quick", only=["02"], run_dir=tmp_path / "r", overrides={"02_next": {"k": 7}},
                      progress=False)
    assert [(stem, status) for stem, _, status in calls] == [("01_demo", "running"), ("02_next", "running"),
                                                            ("02_next", "running")]
    record = yaml.safe_load((tmp_path / "r" / "params.yaml").read_text())
    assert record["01_demo"]["divisor"] == 2 and record["01_demo"]["status"] == "ok"  # kept from the first run
    assert record["02_next"]["k"] == 7 and record["02_next"]["status"] == "ok"
    assert record["02_next"]["seconds"] >= 0 and "error" not in record["02_next"]


def test_failed_notebook_is_recorded_with_its_error(tmp_path, monkeypatch):
    root = _two_notebooks(tmp_path)
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    calls = []
    _fake_papermill(monkeypatch, calls, fail={"02_next"})
    with pytest.raises(run.NotebookFailed, match="02_next.ipynb failed"):
        run.run_notebooks("quick", run_dir=tmp_path / "r", progress=False)
    record = yaml.safe_load((tmp_path / "r" / "params.yaml").read_text())
    assert record["01_demo"]["status"] == "ok"
    failed = record["02_next"]
    assert failed["status"] == "failed" and failed["k"] == 5
    assert "ZeroDivisionError: division by zero" in failed["error"] and "\n" not in failed["error"]


@pytest.mark.parametrize("profile, run_dir, figures_dir, expected", [
    ("quick", None, None, "runs/quick/figures"),           # the reference run too: figures/ is published by hand
    ("quick", "runs/quick", None, "runs/quick/figures"),   # the same folder, named
    ("quick", "runs/try", None, "runs/try/figures"),       # another folder
    ("full", None, None, "runs/full/figures"),             # another profile
    ("full", "runs/quick", None, "runs/quick/figures"),    # another profile into quick's folder
    ("full", None, "figures", "figures"),                  # explicit wins
    ("quick", None, "elsewhere/f", "elsewhere/f"),
])
def test_a_run_writes_its_figures_in_its_own_folder(tmp_path, monkeypatch, profile, run_dir, figures_dir, expected):
    root = _two_notebooks(tmp_path)
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    calls = []
    _fake_papermill(monkeypatch, calls)
    run.run_notebooks(profile, only=["01"], run_dir=run_dir, figures_dir=figures_dir, progress=False)
    (_, parameters, _), = calls
    assert parameters["figures_dir"] == str(root / expected)
    assert (root / expected).is_dir()
    assert run.figures_dir_for(profile, run_dir, figures_dir) == root / expected
    assert not (root / "figures").exists() or figures_dir == "figures"   # the README's figures are untouched


def test_publish_figures_copies_the_reference_runs_figures_and_only_when_asked(tmp_path, monkeypatch):
    root = _two_notebooks(tmp_path)
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    with pytest.raises(FileNotFoundError, match="make run"):
        run.publish_figures()
    made = root / "runs" / "quick" / "figures"
    made.mkdir(parents=True)
    (made / "01_a.png").write_bytes(b"new")
    (root / "figures").mkdir()
    (root / "figures" / "01_a.png").write_bytes(b"old")
    assert run.main(["--publish-figures"]) == 0
    assert (root / "figures" / "01_a.png").read_bytes() == b"new"


def test_output_dirs_resolves_and_creates_figures(tmp_path, monkeypatch):
    root = _project(tmp_path, [])
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    run_dir, figures = run.output_dirs("runs/x")
    assert (run_dir, figures) == (root / "runs" / "x", root / "runs" / "x" / "figures") and figures.is_dir()
    run_dir, figures = run.output_dirs(tmp_path / "abs", "figs")
    assert (run_dir, figures) == (tmp_path / "abs", root / "figs") and figures.is_dir()
    with pytest.raises(ValueError, match="run_dir=None"):
        run.output_dirs(None)


def test_a_section_with_pairs_runs_once_per_pair():
    nb = Path("notebooks/04_gan_cloning.ipynb")
    runs = run.notebook_runs(nb, {"pairs": [["a", "b"], ["c", "d"]], "epochs": 3})
    assert [(out, stem) for out, stem, _ in runs] == [("04_gan_cloning__a__b.ipynb", "04_gan_cloning[a__b]"),
                                                     ("04_gan_cloning__c__d.ipynb", "04_gan_cloning[c__d]")]
    assert runs[1][2] == {"epochs": 3, "source": "c", "target": "d"}
    assert run.notebook_runs(nb, {"epochs": 3}) == [(nb.name, nb.stem, {"epochs": 3})]
    for bad in ([["a"]], [], "a,b", [["a", ""]]):
        with pytest.raises(ValueError, match="pairs"):
            run.notebook_runs(nb, {"pairs": bad})


def _fake_papermill_writing_notebooks(monkeypatch, fail=()):
    """papermill.execute_notebook stand-in that writes a real executed copy (one stdout
    output naming the parameters) and raises for the stems in ``fail``."""
    import papermill

    def execute_notebook(src, out, parameters, **kw):
        nb = nbformat.read(src, as_version=4)
        nb.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"k = {parameters.get('k')}\n")]
        nbformat.write(nb, out)
        if Path(src).stem in fail:
            raise papermill.PapermillExecutionError(cell_index=1, exec_count=2, source="1 / 0",
                                                    ename="ZeroDivisionError", evalue="division by zero",
                                                    traceback=[])
    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)


def test_report_flag_writes_the_report_and_prints_its_path(tmp_path, monkeypatch, capsys):
    root = _two_notebooks(tmp_path)
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    _fake_papermill_writing_notebooks(monkeypatch)
    assert run.main(["--profile", "quick", "--run-dir", str(tmp_path / "r")]) == 0
    assert not (tmp_path / "r" / "report").exists()  # no flag, no report
    assert run.main(["--profile", "quick", "--run-dir", str(tmp_path / "r"), "--report"]) == 0
    index = tmp_path / "r" / "report" / "index.html"
    assert f"report: {index}" in capsys.readouterr().out
    assert {p.name for p in index.parent.iterdir()} == {"index.html", "01_demo.html", "02_next.html"}
    assert "k = 5" in (index.parent / "02_next.html").read_text()


def test_report_flag_still_reports_a_failed_run(tmp_path, monkeypatch, capsys):
    root = _two_notebooks(tmp_path)
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    _fake_papermill_writing_notebooks(monkeypatch, fail={"02_next"})
    assert run.main(["--profile", "quick", "--run-dir", str(tmp_path / "r"), "--report"]) == 1
    out = capsys.readouterr()
    assert "02_next.ipynb failed" in out.err and "report: " in out.out
    text = (tmp_path / "r" / "report" / "index.html").read_text()
    assert '<span class="failed">failed</span>: notebook 02_next.ipynb failed' in text


def test_an_unreadable_record_stops_the_runner_and_the_report_without_rewriting_it(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    for text in ("a: [unclosed", "- a list\n- not a mapping\n"):
        (run_dir / "params.yaml").write_text(text)
        with pytest.raises(run.RunRecordError, match="params.yaml"):
            run.read_record(run_dir)
        with pytest.raises(run.RunRecordError):
            run._record(run_dir / "params.yaml", "01_transforms", {"status": "ok"})
        assert (run_dir / "params.yaml").read_text() == text   # the user's file is left as it was
    assert run.read_record(tmp_path) == {}


def test_corpus_of_is_the_given_folder_else_the_one_the_runs_notebook_01_used(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert run.corpus_of(run_dir) == run.resolve(run.DEFAULT_DATA_DIR)   # nothing recorded: notebook 01's default
    (run_dir / run.RECORD_FILE).write_text(yaml.safe_dump({"01_transforms": {"data_dir": str(tmp_path / "mine"),
                                                                             "status": "ok"}}))
    assert run.corpus_of(run_dir) == tmp_path / "mine" == run.recorded_data_dir(run_dir)
    assert run.corpus_of(run_dir, tmp_path / "other") == tmp_path / "other"   # an explicit data_dir wins
    assert run.corpus_of(run_dir, "data/embedded") == run.project_root() / "data" / "embedded"
    (run_dir / run.RECORD_FILE).write_text(yaml.safe_dump({"01_transforms": {"status": "ok"}}))
    assert run.recorded_data_dir(run_dir) is None and run.corpus_of(run_dir) == run.resolve(run.DEFAULT_DATA_DIR)


# ----------------------------------------------------------------------------- notebooks side by side

def _five_notebooks(tmp_path):
    """A project shaped like the bundle's: 01-03 once, 04-05 once per pair."""
    root = _project(tmp_path, [])
    nb = nbformat.read(root / "notebooks" / "01_demo.ipynb", as_version=4)
    names = ["02_train", "03_plots", "04_gan", "05_listen"]
    for name in names:
        nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")
    pairs = [["a", "b"], ["c", "d"]]
    profile = {"01_demo": {}, "02_train": {}, "03_plots": {}, "04_gan": {"pairs": pairs}, "05_listen": {"pairs": pairs}}
    (root / "params" / "quick.yaml").write_text(yaml.safe_dump(profile))
    return root


def _timed_papermill(monkeypatch, spans, fail=(), seconds=0.3):
    """papermill stand-in that sleeps and records each execution's (start, end) under its output name."""
    import threading
    import time

    import papermill
    lock = threading.Lock()

    def execute_notebook(src, out, parameters, **kw):
        start = time.monotonic()
        time.sleep(seconds)
        with lock:
            spans[Path(out).stem] = (start, time.monotonic())
        if Path(out).stem in fail:
            raise papermill.PapermillExecutionError(cell_index=1, exec_count=2, source="1 / 0",
                                                    ename="ZeroDivisionError", evalue="division by zero",
                                                    traceback=[])
        Path(out).write_text("{}")
    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)


def _overlap(a, b):
    return a[0] < b[1] and b[0] < a[1]


def test_two_jobs_overlap_notebooks_only_once_what_they_read_has_finished(tmp_path, monkeypatch):
    root = _five_notebooks(tmp_path)
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    monkeypatch.setattr(run, "NEEDS", {"02": ("01",), "03": ("02",), "04": ("01",), "05": ("02", "04")})
    spans = {}
    _timed_papermill(monkeypatch, spans)
    out = run.run_notebooks("quick", run_dir=tmp_path / "r", progress=False, jobs=2)
    names = ["01_demo", "02_train", "03_plots", "04_gan__a__b", "04_gan__c__d", "05_listen__a__b", "05_listen__c__d"]
    assert [p.stem for p in out] == names                                  # notebook order, whatever ran first
    for later, earlier in [("02_train", "01_demo"), ("04_gan__a__b", "01_demo"), ("03_plots", "02_train"),
                           ("05_listen__a__b", "04_gan__a__b"), ("05_listen__a__b", "02_train"),
                           ("05_listen__c__d", "04_gan__c__d")]:
        assert spans[later][0] >= spans[earlier][1], f"{later} started before {earlier} finished"
    assert _overlap(spans["02_train"], spans["04_gan__a__b"])              # 02 trains while 04 runs a pair
    assert not any(_overlap(spans[x], spans[y]) and _overlap(spans[x], spans[z]) and _overlap(spans[y], spans[z])
                   for x in names for y in names for z in names if len({x, y, z}) == 3)   # never three at once
    record = yaml.safe_load((tmp_path / "r" / "params.yaml").read_text())
    assert {record[k]["status"] for k in record} == {"ok"} and len(record) == 7   # every writer's entry kept


def test_one_job_keeps_the_notebook_order_and_a_failure_starts_nothing_that_needs_it(tmp_path, monkeypatch):
    root = _five_notebooks(tmp_path)
    monkeypatch.setenv("VOXLIB_ROOT", str(root))
    spans = {}
    _timed_papermill(monkeypatch, spans, seconds=0.05)
    run.run_notebooks("quick", run_dir=tmp_path / "one", progress=False, jobs=1)
    order = sorted(spans, key=lambda k: spans[k][0])
    assert order == ["01_demo", "02_train", "03_plots", "04_gan__a__b", "04_gan__c__d", "05_listen__a__b",
                     "05_listen__c__d"]
    spans.clear()
    _timed_papermill(monkeypatch, spans, fail={"04_gan__a__b"}, seconds=0.05)
    with pytest.raises(run.NotebookFailed, match="04_gan.ipynb failed"):
        run.run_notebooks("quick", run_dir=tmp_path / "two", progress=False, jobs=2)
    assert "05_listen__a__b" not in spans and "05_listen__c__d" not in spans   # nothing new after a failure
    record = yaml.safe_load((tmp_path / "two" / "params.yaml").read_text())
    assert record["04_gan[a__b]"]["status"] == "failed"
    with pytest.raises(ValueError, match="jobs=0"):
        run.run_notebooks("quick", run_dir=tmp_path / "three", jobs=0)
