"""An offline HTML report of a run: ``<run_dir>/report/index.html`` and one page per executed notebook.

``python -m voxlib.report runs/quick`` (``make report``, or ``python -m voxlib.run --report``)
writes, under ``<run_dir>/report/`` only:

- one page per executed notebook ``<run_dir>/notebooks/*.ipynb`` (nbconvert's lab
  template), named like the notebook with ``.html``; figures (PNG outputs) and audio
  (``IPython.display.Audio``, base64 WAV) are already inside the notebook, so they are
  inside the page as ``data:`` URIs;
- ``index.html``: the run's parameters and timings (``<run_dir>/params.yaml``, the
  runner's record), the best sweep rows beside the baselines (notebook 02's
  ``sweep/sweep.csv``), the cloning verdict per pair (notebook 05's
  ``reconstruction/<pair>/summary.csv``) and a relative link to each page. A part whose
  inputs are absent is replaced by a sentence saying so. Failed notebooks
  (``status: failed``) and executed notebooks holding error outputs are flagged.

Reading needs no network. nbconvert's template loads require.js, MathJax and (for
Mermaid diagrams) mermaid.js from a CDN, and the widget manager from unpkg when the
notebook saved widget state; the report's template leaves all four out and the pages
are built from a copy of each notebook without its widget state. What degrades:
math is shown as its TeX source; widgets (tqdm bars, the notebooks' selectors) show the
static output saved beside them (text or HTML), not live controls; Mermaid diagrams
stay as their source text. Plain ``<a href>`` links that notebooks' authors wrote to
web pages stay links (reading does not load them); any other reference to the network
a notebook's own output carries (an ``<img src="https://...">``) is listed on the index
under the page's name (:func:`external_references`).
"""
from __future__ import annotations

import argparse
import html
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import yaml
from jinja2 import DictLoader
from nbconvert import HTMLExporter

from voxlib import reconstruction, results, run

__all__ = [
    "ReportError",
    "REPORT_DIR",
    "TOP_ROWS",
    "build_report",
    "notebook_page",
    "error_outputs",
    "external_references",
    "main",
]

#: The report's folder inside a run folder.
REPORT_DIR = "report"
#: How many (network, transform) rows of the sweep the index shows, best first, beside the baselines.
TOP_ROWS = 5

_TEMPLATE = "voxlib_offline.html.j2"
# nbconvert's lab page without its four network loads, and with a link back to the index.
_TEMPLATE_TEXT = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block body_header -%}{{ super() }}
<nav style="padding: 0.5em 1em"><a href="index.html">&larr; run report</a></nav>
{%- if resources.voxlib_errors %}
<p class="voxlib-errors" style="padding: 0.5em 1em; color: #b00020"><strong>This notebook has
{{ resources.voxlib_errors | length }} error output(s)</strong>, framed in red below:
{{ resources.voxlib_errors | join('; ') | escape }}</p>
{%- endif %}
{%- endblock body_header -%}
{% block error -%}
<div class="voxlib-error" style="border: 2px solid #b00020">{{ super() }}</div>
{%- endblock error %}
"""
_RECORD_KEY = re.compile(r"(?P<stem>[^\[\]]+)\[(?P<pair>[^\[\]]+)\]")
_CSS = """body { font-family: sans-serif; max-width: 72em; margin: 1em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
.failed, .errors { color: #b00020; font-weight: bold; }
pre { margin: 0; white-space: pre-wrap; }
details > summary { cursor: pointer; }"""


class ReportError(ValueError):
    """The run folder has nothing to report, or ``out_dir`` points where the report must not write."""


def _exporter() -> HTMLExporter:
    return HTMLExporter(template_name="lab", template_file=_TEMPLATE,
                        extra_loaders=[DictLoader({_TEMPLATE: _TEMPLATE_TEXT})])


def notebook_page(nb: nbformat.NotebookNode, *, title: str = "notebook",
                  exporter: HTMLExporter | None = None) -> str:
    """One executed notebook as a self-contained HTML page that reads offline.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook (not modified: its widget state is dropped from a copy).
    title : str
        The page's ``<title>``.
    exporter : HTMLExporter, optional
        Reused between pages (building one costs a fraction of a second).

    Returns
    -------
    str
        The page: nbconvert's lab template without require.js, MathJax, mermaid.js
        or the widget manager (see the module docstring for what degrades); error
        outputs are framed in red and listed at the top.
    """
    errors = error_outputs(nb)
    nb = nbformat.from_dict(nb)  # a deep copy
    nb.metadata.pop("widgets", None)
    body, _ = (exporter or _exporter()).from_notebook_node(
        nb, resources={"metadata": {"name": title}, "voxlib_errors": errors})
    return body


def error_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """``"ename: evalue"`` of each error output of a notebook, in cell order (empty when none)."""
    return [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
            for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


class _References(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value and not (tag == "a" and name == "href") and _external(value):
                self.found.append(f"<{tag} {name}={value[:80]!r}>")


def _external(url: str) -> bool:
    """Whether a src/href needs the network: anything but a relative path, ``data:`` or ``#...``."""
    url = url.strip()
    if url.startswith(("#", "data:")):
        return False
    return url.startswith("//") or bool(re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", url))


def external_references(page: str) -> list[str]:
    """The ``src``/``href`` attributes of a page that load something from outside it.

    Relative paths, ``data:`` URIs and ``#`` anchors are local; an ``<a href>`` is a
    link the reader may follow, not a load, and is not counted.

    Returns
    -------
    list of str
        ``<tag attribute='url'>`` for each, in document order (empty for a page that reads offline).
    """
    parser = _References()
    parser.feed(page)
    parser.close()
    return parser.found


def _page_name(notebook: Path) -> str:
    return f"{notebook.stem}.html"


def _record_file(key: str) -> str:
    """The executed copy of a ``params.yaml`` entry: ``04_x[a__b]`` -> ``04_x__a__b.ipynb``
    (the names :func:`voxlib.run.notebook_runs` gives)."""
    m = _RECORD_KEY.fullmatch(key)
    return f"{m['stem']}__{m['pair']}.ipynb" if m else f"{key}.ipynb"


def _check_out_dir(run_dir: Path, out_dir: Path) -> None:
    report = run_dir / REPORT_DIR
    if out_dir == run_dir or out_dir in run_dir.parents:
        raise ReportError(f"out_dir={str(out_dir)!r} holds the run folder {run_dir}: give a folder of its own "
                          f"(default {report})")
    if run_dir in out_dir.parents and report != out_dir and report not in out_dir.parents:
        raise ReportError(f"out_dir={str(out_dir)!r} is inside the run folder but not under {report}: "
                          f"the report writes only there; give out_dir=None or a folder outside {run_dir}")


def _table(df: pd.DataFrame, *, index: bool = False, digits: int = 1) -> str:
    return df.to_html(index=index, escape=True, border=0, na_rep="—", float_format=lambda v: f"{v:.{digits}f}")


def _esc(value) -> str:
    return html.escape(str(value))


def _notebooks_section(run_dir: Path, record: dict, pages: dict[str, dict]) -> str:
    files = {_record_file(k): k for k in record}
    names = list(dict.fromkeys(sorted(pages) + sorted(files)))
    rows = []
    for name in names:
        entry = record.get(files.get(name, ""), {})
        page = pages.get(name)
        status = entry.get("status", "not in params.yaml")
        label = (f'<a href="{_esc(page["href"])}">{_esc(name)}</a>' if page
                 else f"{_esc(name)} (no executed copy in {_esc(run_dir / 'notebooks')})")
        flags = []
        if status == "failed":
            flags.append(f'<span class="failed">failed</span>: {_esc(entry.get("error", ""))}')
        elif status == "running":
            flags.append('<span class="failed">did not finish</span> (status running: the run was interrupted)')
        else:
            flags.append(_esc(status))
        if page and page["errors"]:
            flags.append(f'<span class="errors">{len(page["errors"])} error output(s)</span>: '
                         + "; ".join(_esc(e) for e in page["errors"][:3]))
        if page and page["external"]:
            flags.append(f'<span class="errors">needs the network for {len(page["external"])} '
                         "reference(s)</span>: " + ", ".join(_esc(e) for e in page["external"][:3]))
        params = {k: v for k, v in entry.items() if k not in ("status", "seconds", "error")}
        seconds = entry.get("seconds")
        rows.append(
            f"<tr><td>{label}</td><td>{'<br>'.join(flags)}</td>"
            f"<td>{'' if seconds is None else _esc(f'{float(seconds):.1f}')}</td>"
            + (f"<td><details><summary>{len(params)} parameters</summary>"
               f"<pre>{_esc(yaml.safe_dump(params, sort_keys=True))}</pre></details></td></tr>"
               if params else "<td>none recorded</td></tr>"))
    if not rows:
        return "<p>No notebook was executed in this run folder.</p>"
    total = sum(float(e["seconds"]) for e in record.values() if e.get("seconds") is not None)
    return ("<table><thead><tr><th>notebook</th><th>status</th><th>seconds</th><th>parameters</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table><p>Recorded time: {total:.1f} s in all.</p>")


def _sweep_section(run_dir: Path) -> str:
    path = run_dir / "sweep" / "sweep.csv"
    try:
        runs = results.load_runs(path)
    except ValueError as exc:
        return f'<p class="errors">The sweep table could not be read: {_esc(exc)}</p>'
    if runs is None:
        return (f"<p>No speaker-identification sweep in this run ({_esc(path)} is absent or empty): "
                "notebook 02 did not run.</p>")
    images, base = results.split_baselines(results.seed_spread(runs))
    best = images.sort_values(["mean", "train_mean"], ascending=False, kind="stable").head(TOP_ROWS)
    table = pd.concat([best.assign(kind="image"), base.assign(kind="baseline (audio)")], ignore_index=True)
    cols = ["kind", "network", "transform", "n_seeds", "mean", "min", "max", "ci_low", "ci_high", "train_mean"]
    n_test = ", ".join(str(int(n)) for n in sorted(runs["n_test"].unique())) if "n_test" in runs else "?"
    return (f"<p>Held-out accuracy (%) over {_esc(n_test)} test clips: mean, lowest and highest over seeds, "
            f"mean 95 % CI bounds, and mean training accuracy. The {len(best)} best of {len(images)} "
            "(network, transform) pairs, beside the baselines:</p>" + _table(table[cols]))


def _phase_mode(run_dir: Path, pair: str, record: dict) -> str:
    """Notebook 05's phase mode for a pair: its ``phase_mode`` parameter, or with ``"auto"``
    the mode ``phase_choice.csv`` marks as chosen (``"source"`` if neither says)."""
    mode = record.get(f"05_reconstruction[{pair}]", {}).get("phase_mode", "auto")
    return str(mode) if mode != "auto" else reconstruction.chosen_phase_mode(run_dir / "reconstruction" / pair)


def _cloning_section(run_dir: Path, record: dict) -> str:
    summaries = sorted((run_dir / "reconstruction").glob("*__*/summary.csv"))
    if not summaries:
        return ("<p>No cloning results in this run (no reconstruction/&lt;pair&gt;/summary.csv): "
                "notebooks 04 and 05 did not run.</p>")
    parts = []
    for path in summaries:
        pair = path.parent.name
        summary = pd.read_csv(path, index_col=0)
        envelope = (path.parent / reconstruction.synthesis.CHOICE_FILE).is_file()
        mode = "" if envelope else _phase_mode(run_dir, pair, record)
        converted = "converted" if envelope else reconstruction.PHASE_CONDITIONS.get(mode, "converted")
        synthesis = reconstruction.chosen_synthesis(path.parent) if envelope else None
        cols = [c for c in ("n", "mcd_db", "lsd_db", "log_f0_rmse_st", "has_f0", "verifier_rate", "content_rate")
                if c in summary]
        try:
            text = reconstruction.verdict(summary, converted=converted, profile=run_dir.name, synthesis=synthesis)
        except (KeyError, ValueError) as exc:
            text = f"(no verdict: {path} lacks what reconstruction.verdict reads: {exc})"
        how = (f"Synthesis <code>{_esc(synthesis.name)}</code>" if envelope else f"Phase mode <code>{_esc(mode)}</code>")
        parts.append(f"<h3>{_esc(pair.replace('__', ' → '))}</h3>"
                     f"<p>{how}, condition <code>{_esc(converted)}</code>. "
                     f"Verdict (notebook 05's paragraph):</p><blockquote>{_esc(text)}</blockquote>"
                     "<details><summary>Per-condition means on the held-out sentences</summary>"
                     + _table(summary[cols], index=True, digits=2) + "</details>")
    return "".join(parts)


def _index(run_dir: Path, record: dict, pages: dict[str, dict]) -> str:
    sections = [("Notebooks: parameters and timings", _notebooks_section(run_dir, record, pages)),
                ("Speaker identification (notebook 02): best rows and baselines", _sweep_section(run_dir)),
                ("Voice cloning (notebooks 04-05): verdict per pair", _cloning_section(run_dir, record))]
    title = f"voxlib run report: {run_dir.name}"
    body = "".join(f"<h2>{_esc(h)}</h2>{s}" for h, s in sections)
    note = ("<p>Reads offline: figures and audio are embedded in each page; math shows as TeX source and "
            "widgets show their saved static output.</p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{_esc(title)}</h1><p>Run folder: <code>{_esc(run_dir)}</code>"
            f"</p>{note}{body}</body></html>\n")


def build_report(run_dir, *, out_dir=None) -> Path:
    """Write the offline HTML report of a run folder.

    Parameters
    ----------
    run_dir : path
        The run's folder (``runs/<profile>``): ``notebooks/*.ipynb`` (executed copies),
        ``params.yaml`` (the runner's record), and optionally ``sweep/sweep.csv`` and
        ``reconstruction/<pair>/summary.csv``.
    out_dir : path, optional
        Where the report goes; default ``<run_dir>/report``. Inside the run folder only
        that folder is allowed; only ``index.html`` and the pages are written there.

    Returns
    -------
    Path
        ``<out_dir>/index.html``.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` is not a folder.
    ReportError
        No executed notebook and no ``params.yaml``, or an ``out_dir`` that would write outside
        the report's folder of the run.
    voxlib.run.RunRecordError
        An unreadable ``params.yaml``.

    Notes
    -----
    Reading needs no network; math is shown as TeX source and widgets as their static
    output (see the module docstring).
    """
    run_dir = Path(run_dir).expanduser().resolve()
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run_dir={str(run_dir)!r} is not a folder; run the notebooks first "
                                "(make run, or python -m voxlib.run --run-dir <folder>)")
    out_dir = run_dir / REPORT_DIR if out_dir is None else Path(out_dir).expanduser().resolve()
    _check_out_dir(run_dir, out_dir)
    record = run.read_record(run_dir)
    notebooks = sorted((run_dir / "notebooks").glob("*.ipynb"))
    if not notebooks and not record:
        raise ReportError(f"run_dir={str(run_dir)!r} has no executed notebook (notebooks/*.ipynb) and no "
                          "params.yaml: run the notebooks into it first (python -m voxlib.run --run-dir ...)")
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = _exporter()
    pages = {}
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        page = notebook_page(nb, title=path.stem, exporter=exporter)
        (out_dir / _page_name(path)).write_text(page, encoding="utf-8")
        pages[path.name] = {"href": _page_name(path), "errors": error_outputs(nb),
                            "external": external_references(page)}
    index = out_dir / "index.html"
    index.write_text(_index(run_dir, record, pages), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    """``python -m voxlib.report RUN_DIR [--out-dir DIR]``: build the report and print its path."""
    ap = argparse.ArgumentParser(prog="python -m voxlib.report", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="the run folder, e.g. runs/quick")
    ap.add_argument("--out-dir", help="where the report goes (default <run_dir>/report)")
    args = ap.parse_args(argv)
    try:
        index = build_report(args.run_dir, out_dir=args.out_dir)
    except (ReportError, FileNotFoundError) as exc:
        print(f"[voxlib.report] ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"[voxlib.report] report: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
