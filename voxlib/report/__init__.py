"""An offline HTML report of a run: ``<run_dir>/report/index.html`` and one page per executed notebook.

``python -m voxlib.report runs/quick`` (``make report``, or ``python -m voxlib.run --report``)
writes, under ``<run_dir>/report/`` only:

- ``index.html`` (:mod:`~voxlib.report.index`): a headline box with the run's findings, each
  generated from the tables the stages wrote (:mod:`~voxlib.report.findings`: the best image model
  beside the best baseline; per speaker pair, the converted clips the CAM++ verifier accepts as the
  target beside the real target clips and the controls, and the content check); the notebook pages
  with their parameters and timings (``params.yaml``, the runner's record; failed notebooks and
  error outputs flagged); notebook 02-03's key figures and best sweep rows beside the baselines; per
  pair the verdict's finding (:func:`voxlib.reconstruction.finding`) linked to the verdict in
  notebook 05's page, a cloning figure, players for the held-out sentence notebook 05 plays (source,
  converted, real target, best baseline), the full verdict and its per-condition table. Figures and
  WAVs are copied next to it (``figures/``, ``audio/<pair>/``); a part whose inputs are absent is
  left out or replaced by a sentence saying so;
- one page per executed notebook ``<run_dir>/notebooks/*.ipynb`` (:mod:`~voxlib.report.pages`),
  named like the notebook with ``.html``, figures and audio inside it as ``data:`` URIs, without
  progress bars, stderr log lines or widget controls.

Reading needs no network: nbconvert's template loads require.js, MathJax, mermaid.js and the widget
manager from CDNs; the report's template leaves all four out. What degrades: math is shown as its TeX
source; widgets show the selection they saved, not live controls; Mermaid diagrams stay as their
source text. Any other reference to the network a notebook's own output carries (an
``<img src="https://...">``) is listed on the index under the page's name (:func:`external_references`).
"""
from __future__ import annotations

import argparse
import sys

from voxlib.report import findings, index, pages
from voxlib.report.findings import cloning_finding, sweep_finding
from voxlib.report.index import REPORT_DIR, TOP_ROWS, ReportError, build_report
from voxlib.report.pages import clean_outputs, error_outputs, external_references, notebook_page

__all__ = [
    "ReportError",
    "REPORT_DIR",
    "TOP_ROWS",
    "build_report",
    "notebook_page",
    "clean_outputs",
    "error_outputs",
    "external_references",
    "sweep_finding",
    "cloning_finding",
    "findings",
    "index",
    "pages",
    "main",
]


def main(argv: list[str] | None = None) -> int:
    """``python -m voxlib.report RUN_DIR [--out-dir DIR]``: build the report and print its path."""
    ap = argparse.ArgumentParser(prog="python -m voxlib.report", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="the run folder, e.g. runs/quick")
    ap.add_argument("--out-dir", help="where the report goes (default <run_dir>/report)")
    args = ap.parse_args(argv)
    try:
        index_path = build_report(args.run_dir, out_dir=args.out_dir)
    except (ReportError, FileNotFoundError) as exc:
        print(f"[voxlib.report] ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"[voxlib.report] report: {index_path}")
    return 0
