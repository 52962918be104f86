"""voxlib.run: paths, profiles and the papermill runner's loud failures."""
from __future__ import annotations

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
