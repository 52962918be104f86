"""The notebooks: committed clean, one tagged parameters cell, and all of them run
headless in order on the quick profile (the same path as `make run`)."""
from __future__ import annotations

import json

import nbformat
import pytest

from voxlib import run

NOTEBOOKS = run.list_notebooks()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_with_one_parameters_cell(nb):
    book = nbformat.read(nb, as_version=4)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    first_code = next(c for c in book.cells if c.cell_type == "code")
    assert first_code is tagged[0], "the parameters cell must be the first code cell"
    for name in ("run_dir", "figures_dir", "seed"):
        assert f"{name} =" in tagged[0].source, f"parameters cell lacks {name}"
    for c in book.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, f"{nb.name} is committed with outputs"
    assert book.cells[0].cell_type == "markdown"


def _data_state():
    data = run.project_root() / "data"
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in data.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    before = _data_state()
    yield tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("figures")
    assert _data_state() == before, "a notebook wrote into data/"


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_quick_profile(nb, quick_run):
    run_dir, figures_dir = quick_run
    before = set(figures_dir.iterdir())
    (out,) = run.run_notebooks("quick", only=[nb.stem], run_dir=run_dir, figures_dir=figures_dir, progress=False)
    book = json.loads(out.read_text())
    errors = [o for c in book["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    new = set(figures_dir.iterdir()) - before
    assert any(p.name.startswith(nb.stem[:2]) and p.suffix == ".png" for p in new), \
        f"{nb.name} saved no figure named {nb.stem[:2]}_*.png"
