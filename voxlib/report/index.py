"""The report's front page, ``index.html``, and :func:`build_report`, which writes the whole report.

The index opens with a headline box (:mod:`~voxlib.report.findings`: the best image model beside the
best baseline, and per speaker pair the CAM++ verifier's and the content check's counts), then lists
the notebook pages with their parameters and timings, then shows notebook 02-03's key figures and
best rows, and per pair the verdict's finding (:func:`voxlib.reconstruction.finding`) with a link to
the verdict in notebook 05's page, a cloning figure, players for one held-out sentence (source,
converted, real target, best baseline) and the full verdict. Figures and WAVs are copied next
to the index (``figures/``, ``audio/<pair>/``) and referenced by relative paths; a file that is
missing is left out with no error.
"""
from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import soundfile as sf
import yaml

from voxlib import reconstruction, results, run
from voxlib.report import findings
from voxlib.report.pages import error_outputs, external_references, notebook_page, offline_exporter

__all__ = ["ReportError", "REPORT_DIR", "TOP_ROWS", "SWEEP_FIGURES", "PAIR_FIGURES", "FIGURE_SUFFIXES",
           "CLONING_NOTEBOOKS", "copy_figure", "copy_clip", "build_report"]

#: The report's folder inside a run folder.
REPORT_DIR = "report"
#: How many (network, transform) rows of the sweep the index shows, best first, beside the baselines.
TOP_ROWS = 5
#: The key figures of speaker identification, from ``<run_dir>/figures``: caption -> file stems tried in order.
SWEEP_FIGURES = {
    "Held-out accuracy per transform and network, with the baselines (notebook 02)":
        ("02_sweep_accuracy", "03_ours_per_transform"),
    "The thesis's accuracies beside this run's (notebook 03; different data: compare trends)": ("03_thesis_vs_ours",),
}
#: One cloning figure per pair, from ``<run_dir>/figures``: file stem (``{pair}`` filled in) -> caption,
#: the first one present is shown; else the generator's last training panel (``cloning/<pair>/panels/``).
PAIR_FIGURES = {
    "04_heldout_{pair}": "Held-out sentences: the source's image, the target's and the generated one (notebook 04)",
    "05_summary_{pair}": "Distance of each condition to the real target, MCD and LSD (notebook 05)",
    "05_scalograms_{pair}": "Scalograms of the source, the target and the converted clip (notebook 05)",
}
#: The figure files looked for, in this order of preference.
FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")
#: The notebooks that run once per speaker pair (``params.yaml`` keys ``<name>[<source>__<target>]``).
CLONING_NOTEBOOKS = ("04_gan_cloning", findings.RECONSTRUCTION_NOTEBOOK)

_RECORD_KEY = re.compile(r"(?P<stem>[^\[\]]+)\[(?P<pair>[^\[\]]+)\]")
_CSS = """body { font-family: sans-serif; max-width: 72em; margin: 1em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
.failed, .errors { color: #b00020; font-weight: bold; }
.headline { border: 2px solid #1a5fb4; background: #f2f6fc; padding: 0.3em 1em; margin: 1em 0; }
.headline li { margin: 0.3em 0; }
figure { margin: 0.5em 0 1em; } figure img { max-width: 100%; max-height: 36em; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
pre { margin: 0; white-space: pre-wrap; }
details > summary { cursor: pointer; }
blockquote { white-space: pre-line; }"""


class ReportError(ValueError):
    """The run folder has nothing to report, or ``out_dir`` points where the report must not write."""


def _esc(value) -> str:
    return html.escape(str(value))


def _table(df: pd.DataFrame, *, index: bool = False, digits: int = 1) -> str:
    return df.to_html(index=index, escape=True, border=0, na_rep="—", float_format=lambda v: f"{v:.{digits}f}")


def _page_name(notebook: Path) -> str:
    return f"{notebook.stem}.html"


def _record_file(key: str) -> str:
    """The executed copy of a ``params.yaml`` entry: ``04_x[a__b]`` -> ``04_x__a__b.ipynb``
    (the names :func:`voxlib.run.notebook_runs` gives)."""
    m = _RECORD_KEY.fullmatch(key)
    return f"{m['stem']}__{m['pair']}.ipynb" if m else f"{key}.ipynb"


# --------------------------------------------------------------------------
# Figures and sound, copied next to the index
# --------------------------------------------------------------------------
def _find(folder: Path, stem: str) -> Path | None:
    return next((folder / f"{stem}{s}" for s in FIGURE_SUFFIXES if (folder / f"{stem}{s}").is_file()), None)


def copy_figure(path: Path, out_dir: Path, *, name: str | None = None) -> str:
    """Copy a figure to ``<out_dir>/figures/<name>`` (default its own name); returns the relative href."""
    dest = out_dir / "figures" / (name or path.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dest)
    return dest.relative_to(out_dir).as_posix()


def copy_clip(path: Path, dest: Path) -> Path:
    """Copy a clip to ``dest`` as a 16-bit PCM WAV (every browser plays it): copied as it is when it is
    one already, else read and written again. Returns ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    info = sf.info(str(path))
    if info.format == "WAV" and info.subtype == "PCM_16":
        shutil.copyfile(path, dest)
    else:
        y, sr = sf.read(str(path), dtype="float32", always_2d=False)
        sf.write(str(dest), y, sr, format="WAV", subtype="PCM_16")
    return dest


def _figure(href: str, caption: str) -> str:
    return (f'<figure><img src="{_esc(href)}" alt="{_esc(caption)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _sweep_figures(run_dir: Path, out_dir: Path) -> str:
    shown = []
    for caption, stems in SWEEP_FIGURES.items():
        path = next((p for p in (_find(run_dir / "figures", s) for s in stems) if p), None)
        if path is not None:
            shown.append(_figure(copy_figure(path, out_dir), caption))
    return "".join(shown)


def _pair_figure(run_dir: Path, out_dir: Path, pair: str) -> str:
    for stem, caption in PAIR_FIGURES.items():
        path = _find(run_dir / "figures", stem.format(pair=pair))
        if path is not None:
            return _figure(copy_figure(path, out_dir), caption)
    panels = sorted((run_dir / "cloning" / pair / "panels").glob("*.png"))
    if panels:
        return _figure(copy_figure(panels[-1], out_dir, name=f"{pair}__{panels[-1].name}"),
                       f"The generator on training sentences at the end of training, {panels[-1].stem} (notebook 04)")
    return ""


def _players(run_dir: Path, out_dir: Path, pair: str, choice: findings.PairChoice, summary: pd.DataFrame,
             seed: int) -> str:
    """Players for notebook 05's held-out sentence of ``pair``: source, converted, real target, best baseline."""
    folder = run_dir / "reconstruction" / pair
    try:
        table = pd.read_csv(folder / "reconstructions.csv")
    except (OSError, pd.errors.EmptyDataError):
        return f"<p>No clips to play: {_esc(folder / 'reconstructions.csv')} is missing or empty.</p>"
    utterance = findings.played_sentence(table, seed=seed)
    clips = table[table["utterance"] == utterance].set_index("condition")["path"]
    baseline = findings.best_baseline(summary)
    wanted = [("source", "source"), ("converted by pix2pix", choice.converted), ("real target", "target")]
    wanted += [(f"best baseline ({baseline})", baseline)] if baseline else []
    rows = []
    for label, condition in wanted:
        path = Path(clips[condition]) if condition in clips.index else None
        path = path if path is None or path.is_absolute() else folder / path
        if path is None or not path.is_file():
            rows.append(f"<tr><td>{_esc(label)}</td><td><code>{_esc(condition)}</code></td>"
                        "<td>not in this run</td></tr>")
            continue
        href = copy_clip(path, out_dir / "audio" / pair / f"{utterance}__{condition}.wav").relative_to(out_dir)
        rows.append(f"<tr><td>{_esc(label)}</td><td><code>{_esc(condition)}</code></td>"
                    f'<td><audio controls preload="metadata" src="{_esc(href.as_posix())}"></audio></td></tr>')
    return (f"<p>Held-out sentence <code>{_esc(utterance)}</code>, the one notebook 05 plays (seed {seed}):</p>"
            "<table><thead><tr><th>clip</th><th>condition</th><th>listen</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


# --------------------------------------------------------------------------
# The sections of the index
# --------------------------------------------------------------------------
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


def _load_runs(run_dir: Path) -> tuple[pd.DataFrame | None, str]:
    """The sweep's runs, or None and a sentence saying why not (internal)."""
    path = run_dir / "sweep" / "sweep.csv"
    try:
        runs = results.load_runs(path)
    except ValueError as exc:
        return None, f'<span class="errors">The sweep table could not be read</span>: {_esc(exc)}'
    if runs is None:
        return None, (f"No speaker-identification sweep in this run ({_esc(path)} is absent or empty): "
                      "notebook 02 did not run.")
    return runs, ""


def _sweep_section(run_dir: Path, out_dir: Path, runs: pd.DataFrame | None, why: str) -> str:
    if runs is None:
        return f"<p>{why}</p>"
    images, base = findings.ranked_spread(runs)
    best = images.head(TOP_ROWS)
    table = pd.concat([best.assign(kind="image"), base.assign(kind="baseline (audio)")], ignore_index=True)
    cols = ["kind", "network", "transform", "n_seeds", "mean", "min", "max", "ci_low", "ci_high", "train_mean"]
    n_test = ", ".join(str(int(n)) for n in sorted(runs["n_test"].unique())) if "n_test" in runs else "?"
    return (_sweep_figures(run_dir, out_dir)
            + f"<p>Held-out accuracy (%) over {_esc(n_test)} test clips: mean, lowest and highest over seeds, "
            f"mean 95 % CI bounds, and mean training accuracy. The {len(best)} best of {len(images)} "
            "(network, transform) pairs, beside the baselines:</p>" + _table(table[cols]))


def _cloning_pairs(run_dir: Path, record: dict) -> list[str]:
    """Pairs with a notebook 05 summary or a per-pair notebook in the record, sorted (internal)."""
    pairs = {p.parent.name for p in (run_dir / "reconstruction").glob("*__*/summary.csv")}
    for key in record:
        m = _RECORD_KEY.fullmatch(key)
        if m and m["stem"] in CLONING_NOTEBOOKS:
            pairs.add(m["pair"])
    return sorted(pairs)


def _missing_verdict(run_dir: Path, pair: str, record: dict) -> str:
    """Why a pair has no summary: the first cloning notebook that did not finish (internal)."""
    for stem in CLONING_NOTEBOOKS:
        status = record.get(f"{stem}[{pair}]", {}).get("status")
        if status in ("failed", "running"):
            return f"notebook {stem} {'failed' if status == 'failed' else 'did not finish'} (see its page)"
    return f"no {run_dir.name}/reconstruction/{pair}/summary.csv (notebook 05 did not write it)"


def _verdict_anchor(nb: nbformat.NotebookNode) -> str:
    """``#cell-id=...`` of the cell that introduces the notebook's verdict (the markdown cell before the last
    code cell calling ``verdict(``, else that code cell; nbconvert gives each cell that id), or ""."""
    cells = nb.cells
    found = [i for i, c in enumerate(cells) if c.cell_type == "code" and "verdict(" in c.source]
    if not found:
        return ""
    i = found[-1] - 1 if found[-1] > 0 and cells[found[-1] - 1].cell_type == "markdown" else found[-1]
    return f"#cell-id={cells[i].id}" if cells[i].get("id") else ""


def _verdict_page(pair: str, pages: dict[str, dict]) -> str | None:
    """Notebook 05's page of ``pair``, at its verdict (internal)."""
    name = next((n for n in sorted(pages) if n.startswith(findings.RECONSTRUCTION_NOTEBOOK)
                 and n.endswith(f"__{pair}.ipynb")), None)
    return None if name is None else pages[name]["href"] + pages[name]["verdict"]


def _pair_section(run_dir: Path, out_dir: Path, pair: str, record: dict, pages: dict[str, dict]) -> str:
    folder = run_dir / "reconstruction" / pair
    summary = pd.read_csv(folder / "summary.csv", index_col=0)
    choice = findings.pair_choice(run_dir, pair, record)
    seed = int(record.get(f"{findings.RECONSTRUCTION_NOTEBOOK}[{pair}]", {}).get("seed", 0))
    cols = [c for c in ("n", "mcd_db", "lsd_db", "log_f0_rmse_st", "has_f0", "verifier_rate", "content_rate")
            if c in summary]
    try:
        text = reconstruction.verdict(summary, converted=choice.converted, profile=run_dir.name,
                                      synthesis=choice.synthesis)
        finding = reconstruction.finding(summary, converted=choice.converted)
    except (KeyError, ValueError) as exc:
        text = finding = f"(no verdict: {folder / 'summary.csv'} lacks what reconstruction.verdict reads: {exc})"
    how = (f"Synthesis <code>{_esc(choice.synthesis.name)}</code>" if choice.synthesis is not None
           else f"Phase mode <code>{_esc(choice.phase_mode)}</code>")
    page = _verdict_page(pair, pages)
    link = f' <a href="{_esc(page)}">The full verdict in notebook 05</a>.' if page else ""
    return (f"<h3>{_esc(pair.replace('__', ' → '))}</h3><p>{_esc(finding)}{link}</p>"
            + _pair_figure(run_dir, out_dir, pair) + _players(run_dir, out_dir, pair, choice, summary, seed)
            + f"<p>{how}, condition <code>{_esc(choice.converted)}</code>.</p>"
            "<details><summary>Full verdict (notebook 05's paragraph)</summary>"
            f"<blockquote>{_esc(text)}</blockquote></details>"
            "<details><summary>Per-condition means on the held-out sentences</summary>"
            + _table(summary[cols], index=True, digits=2) + "</details>")


def _cloning_section(run_dir: Path, out_dir: Path, record: dict, pages: dict[str, dict]) -> str:
    pairs = [p for p in _cloning_pairs(run_dir, record) if (run_dir / "reconstruction" / p / "summary.csv").is_file()]
    if not pairs:
        return ("<p>No cloning results in this run (no reconstruction/&lt;pair&gt;/summary.csv): "
                "notebooks 04 and 05 did not run.</p>")
    return "".join(_pair_section(run_dir, out_dir, pair, record, pages) for pair in pairs)


def _headline(run_dir: Path, record: dict, runs: pd.DataFrame | None, why: str) -> str:
    lines = [_esc(findings.sweep_finding(runs)) if runs is not None else why]
    for pair in _cloning_pairs(run_dir, record):
        name = f"<strong>{_esc(pair.replace('__', ' → '))}</strong>"
        summary_csv = run_dir / "reconstruction" / pair / "summary.csv"
        if not summary_csv.is_file():
            lines.append(f"{name}: no cloning verdict: {_esc(_missing_verdict(run_dir, pair, record))}.")
            continue
        choice = findings.pair_choice(run_dir, pair, record)
        try:
            finding = findings.cloning_finding(pd.read_csv(summary_csv, index_col=0), converted=choice.converted)
        except (KeyError, ValueError) as exc:
            finding = f"no cloning verdict: {summary_csv} lacks {exc}"
        lines.append(f"{name} ({_esc(choice.describe())}): {_esc(finding)}")
    if len(lines) == 1:
        lines.append("No voice cloning in this run (notebooks 04-05 did not run).")
    return ('<div class="headline"><h2>Headline</h2><ul>' + "".join(f"<li>{line}</li>" for line in lines)
            + "</ul></div>")


def _index(run_dir: Path, out_dir: Path, record: dict, pages: dict[str, dict]) -> str:
    runs, why = _load_runs(run_dir)
    sections = [("Notebooks: pages, parameters and timings", _notebooks_section(run_dir, record, pages)),
                ("Speaker identification (notebooks 02-03): key figures, best rows and baselines",
                 _sweep_section(run_dir, out_dir, runs, why)),
                ("Voice cloning (notebooks 04-05): per pair", _cloning_section(run_dir, out_dir, record, pages))]
    title = f"voxlib run report: {run_dir.name}"
    body = "".join(f"<h2>{_esc(h)}</h2>{s}" for h, s in sections)
    note = ("<p>Reads offline: the figures and sound files shown here are copied next to this page "
            "(<code>figures/</code>, <code>audio/</code>); each notebook page embeds its own. Math shows as TeX "
            "source and widgets show the selection they saved, not live controls.</p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{_esc(title)}</h1>{_headline(run_dir, record, runs, why)}"
            f"<p>Run folder: <code>{_esc(run_dir)}</code></p>{note}{body}</body></html>\n")


def _check_out_dir(run_dir: Path, out_dir: Path) -> None:
    report = run_dir / REPORT_DIR
    if out_dir == run_dir or out_dir in run_dir.parents:
        raise ReportError(f"out_dir={str(out_dir)!r} holds the run folder {run_dir}: give a folder of its own "
                          f"(default {report})")
    if run_dir in out_dir.parents and report != out_dir and report not in out_dir.parents:
        raise ReportError(f"out_dir={str(out_dir)!r} is inside the run folder but not under {report}: "
                          f"the report writes only there; give out_dir=None or a folder outside {run_dir}")


def build_report(run_dir, *, out_dir=None) -> Path:
    """Write the offline HTML report of a run folder.

    Parameters
    ----------
    run_dir : path
        The run's folder (``runs/<profile>``): ``notebooks/*.ipynb`` (executed copies),
        ``params.yaml`` (the runner's record), and optionally ``sweep/sweep.csv``,
        ``figures/``, ``reconstruction/<pair>/`` (``summary.csv``, ``reconstructions.csv`` and its
        WAVs, ``phase_choice.csv`` or ``synthesis_choice.csv``) and ``cloning/<pair>/panels/``.
    out_dir : path, optional
        Where the report goes; default ``<run_dir>/report``. Inside the run folder only
        that folder is allowed; only ``index.html``, the pages, ``figures/`` and ``audio/`` are
        written there.

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
    Reading needs no network (see :mod:`voxlib.report.pages` for what the notebook pages leave out).
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
    exporter = offline_exporter()
    pages = {}
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        page = notebook_page(nb, title=path.stem, exporter=exporter)
        (out_dir / _page_name(path)).write_text(page, encoding="utf-8")
        pages[path.name] = {"href": _page_name(path), "errors": error_outputs(nb),
                            "external": external_references(page), "verdict": _verdict_anchor(nb)}
    index = out_dir / "index.html"
    index.write_text(_index(run_dir, out_dir, record, pages), encoding="utf-8")
    return index
