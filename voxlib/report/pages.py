"""One executed notebook as an HTML page that reads offline, without its noise.

:func:`notebook_page` exports a notebook with nbconvert's lab template minus its four network
loads (require.js, MathJax, mermaid.js, the widget manager) and with a link back to the index.
Before the export :func:`clean_outputs` leaves out what only made sense while the notebook ran:

- **stderr streams** (TensorFlow's start-up log, tqdm text bars): left out, except the lines of
  Python warnings (``<file>:<line>: <Name>Warning: <message>``), which say something about the run;
  and on stdout, the lines of TensorFlow's own logger (``WARNING:tensorflow:...`` retracing notes);
- **widget views** whose only static text is a widget's repr (``HBox(children=(Dropdown(...``, the
  explorers' controls) or a progress bar frozen before 100 % (a tqdm bar's text is the one it had
  when it was first drawn, ``0%|``): left out. The explorers publish their selection as ordinary
  outputs below their controls (PNG figures, audio players, HTML tables); those stay.

Math is shown as its TeX source; Mermaid diagrams stay as their source text. Plain ``<a href>``
links stay links (reading does not load them); any other reference to the network a notebook's
own output carries is found by :func:`external_references`.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter

__all__ = ["WIDGET_VIEW", "offline_exporter", "clean_outputs", "notebook_page", "error_outputs",
           "external_references"]

#: The MIME type of an output that displays an ipywidget (its static text rides along as text/plain).
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

_TEMPLATE = "voxlib_offline.html.j2"
# nbconvert's lab page without its four network loads, and with a link back to the index.
_TEMPLATE_TEXT = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block body_header -%}{{ super() }}
<nav style="padding: 0.5em 1em; font-family: sans-serif"><a href="index.html">&larr; run report</a></nav>
{%- if resources.voxlib_dropped %}
<p class="voxlib-dropped" style="padding: 0 1em; color: #555; font-family: sans-serif; font-size: 0.9em">
{{ resources.voxlib_dropped }} output(s) of the run are left out or shortened here: progress bars, TensorFlow's
log lines and the live controls of widgets (the selection they show is below them).</p>
{%- endif %}
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
# A Python warning as warnings.showwarning prints it: "<file>:<line>: <Category>: <message>".
_WARNING_LINE = re.compile(r"^.*:\d+: [A-Z]\w*Warning: .*$", re.M)
# TensorFlow's Python logger on stdout ("WARNING:tensorflow:5 out of the last 12 calls ... retracing").
_TF_LOG_LINE = re.compile(r"^(?:WARNING|INFO|ERROR):(?:tensorflow|absl):.*(?:\n|$)", re.M)
# A widget's repr ("HBox(children=(...", "FloatProgress(value=0.0, ...") and a tqdm bar's text ("  0%|").
_WIDGET_REPR = re.compile(r"^\s*[A-Z]\w*\(\w+=")
_PROGRESS = re.compile(r"(\d{1,3})%\|")


def offline_exporter() -> HTMLExporter:
    """nbconvert's HTML exporter with the report's offline template (reuse it between pages)."""
    return HTMLExporter(template_name="lab", template_file=_TEMPLATE,
                        extra_loaders=[DictLoader({_TEMPLATE: _TEMPLATE_TEXT})])


def _noise(text: str) -> bool:
    """Whether a widget view's static text is a widget repr, empty, or a bar that never reached 100 %."""
    bars = [int(p) for p in _PROGRESS.findall(text)]
    return not text.strip() or bool(_WIDGET_REPR.match(text)) or (bool(bars) and max(bars) < 100)


def _clean(output) -> nbformat.NotebookNode | None:
    """The output as the page shows it, or None to leave it out (internal)."""
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        kept = ("\n".join(_WARNING_LINE.findall(text)) + "\n" if output.get("name") == "stderr"
                else _TF_LOG_LINE.sub("", text))
        if kept == text:
            return output
        return nbformat.v4.new_output("stream", name=output["name"], text=kept) if kept.strip() else None
    data = output.get("data", {})
    if WIDGET_VIEW in data and _noise(str(data.get("text/plain", ""))):
        return None
    return output


def clean_outputs(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of an executed notebook without the outputs that only made sense while it ran.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook (not modified).

    Returns
    -------
    notebook : nbformat.NotebookNode
        A deep copy without its widget state (``metadata.widgets``), without stderr streams other
        than Python warnings' lines, without TensorFlow's log lines on stdout, and without widget views
        whose static text is a widget repr or a progress bar short of 100 % (see the module docstring).
        Every other output is kept as it is.
    dropped : int
        How many outputs were left out or shortened.
    """
    nb = nbformat.from_dict(nb)  # a deep copy
    nb.metadata.pop("widgets", None)
    dropped = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = [_clean(out) for out in cell.get("outputs", [])]
        dropped += sum(new is not old for new, old in zip(kept, cell.outputs))
        cell.outputs = [out for out in kept if out is not None]
    return nb, dropped


def notebook_page(nb: nbformat.NotebookNode, *, title: str = "notebook",
                  exporter: HTMLExporter | None = None) -> str:
    """One executed notebook as a self-contained HTML page that reads offline.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook (not modified: the page is made from :func:`clean_outputs`'s copy).
    title : str
        The page's ``<title>``.
    exporter : HTMLExporter, optional
        Reused between pages (:func:`offline_exporter`; building one costs a fraction of a second).

    Returns
    -------
    str
        The page: nbconvert's lab template without require.js, MathJax, mermaid.js or the
        widget manager, a line saying how many outputs were left out, and error outputs framed
        in red and listed at the top.
    """
    errors = error_outputs(nb)
    nb, dropped = clean_outputs(nb)
    body, _ = (exporter or offline_exporter()).from_notebook_node(
        nb, resources={"metadata": {"name": title}, "voxlib_errors": errors, "voxlib_dropped": dropped})
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
