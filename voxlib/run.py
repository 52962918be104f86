"""Paths, profiles and the headless notebook runner.

``python -m voxlib.run --profile quick`` executes every ``notebooks/NN_*.ipynb``
in order with papermill (``--jobs 2``: two at a time, each once what it reads has finished, :data:`NEEDS`), injecting the profile's parameters
(``params/<profile>.yaml``, one section per notebook) plus ``run_dir`` and
``figures_dir``. Executed copies go to ``<run_dir>/notebooks/``.

``<run_dir>/params.yaml`` records, per notebook, the parameters it ran with and
its ``status`` (``running`` before it starts, then ``ok`` with ``seconds`` or
``failed`` with ``error``); a partial run (``--only 02``) updates its notebooks'
entries and keeps the others'.

``--report`` then writes the run's offline HTML report (:func:`voxlib.report.build_report`,
``<run_dir>/report/index.html``), also after a failed notebook (flagged in it), and prints its path.

Figures: every run writes ``<run_dir>/figures`` (an explicit ``figures_dir`` wins,
:func:`figures_dir_for`), so a run changes no file that git tracks. The README's
``figures/`` are refreshed from the reference run only by an explicit maintainer command,
``python -m voxlib.run --publish-figures`` (``make figures``: :func:`publish_figures`).
Notebooks resolve their folders with :func:`output_dirs`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import yaml

from voxlib._heavy import Heavy, papermill as pm

# The HTML report (nbconvert) is imported only when asked for (--report): ``import voxlib.run`` stays light.
report = Heavy("voxlib.report", hint="The report needs nbconvert: pip install -e .")


__all__ = [
    "project_root",
    "resolve",
    "output_dirs",
    "figures_dir_for",
    "publish_figures",
    "list_notebooks",
    "load_profile",
    "run_notebooks",
    "notebook_runs",
    "NotebookFailed",
    "RunRecordError",
    "read_record",
    "corpus_of",
    "recorded_data_dir",
    "DEFAULT_DATA_DIR",
    "REFERENCE_PROFILE",
]

#: The profile whose run (into its default folder, ``runs/quick``) the README's ``figures/`` are published from.
REFERENCE_PROFILE = "quick"


class NotebookFailed(RuntimeError):
    """A notebook failed under papermill; the message names the notebook and cell."""


class RunRecordError(ValueError):
    """A run's ``params.yaml`` cannot be read; the message names the file and the fix."""


#: The runner's record of a run, in its folder: the parameters and status of each notebook.
RECORD_FILE = "params.yaml"

#: What each numbered notebook reads from the notebooks before it: with ``jobs > 1`` a notebook starts once these
#: (when they are in the same run) have finished, a per-pair notebook once the same pair's have. 02 trains on
#: 01's images and split; 03 plots 02's sweep; 04 reads 01's split and corpus; 05 reads 04's generated images and
#: 02's classifier. A notebook not listed waits for every earlier one.
NEEDS = {"02": ("01",), "03": ("02",), "04": ("01",), "05": ("02", "04")}

_RECORD_LOCK = threading.Lock()

#: Notebook 01's default corpus (its ``data_dir``), used when a run recorded none.
DEFAULT_DATA_DIR = "data/embedded"


def project_root() -> Path:
    """Repository root: ``$VOXLIB_ROOT``, else the first parent of the current
    directory (or of this package) that holds ``pyproject.toml`` and ``voxlib/``."""
    env = os.environ.get("VOXLIB_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "voxlib").is_dir():
                return folder
    return Path.cwd().resolve()


def resolve(path: str | os.PathLike | None) -> Path | None:
    """Absolute path for a notebook parameter; relative paths are taken from
    the project root so that JupyterLab (cwd ``notebooks/``) and papermill
    (cwd = root) agree. ``None`` stays ``None``."""
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p


def output_dirs(run_dir: str | os.PathLike, figures_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """A notebook's two output folders, absolute; the figures folder is created.

    Parameters
    ----------
    run_dir : path
        The run's folder (relative paths are taken from the project root, see :func:`resolve`).
    figures_dir : path or None
        Where figures go; ``None`` means ``<run_dir>/figures``. The runner passes
        the folder its rule chose (:func:`figures_dir_for`).

    Returns
    -------
    (Path, Path)
        ``(run_dir, figures_dir)``.
    """
    if run_dir is None:
        raise ValueError("run_dir=None: give the run's folder, e.g. 'runs/quick'")
    run_dir = resolve(run_dir)
    figures_dir = run_dir / "figures" if figures_dir is None else resolve(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    return run_dir, figures_dir


def _default_run_dir(profile: str) -> Path:
    return resolve(Path("runs") / Path(profile).stem)


def figures_dir_for(profile: str, run_dir: str | os.PathLike | None,
                    figures_dir: str | os.PathLike | None = None) -> Path:
    """Where a run's figures go, absolute: ``figures_dir`` if given, else ``<run_dir>/figures``
    (``run_dir`` defaulting to ``runs/<profile>``). No run writes the repository's ``figures/``
    unless asked to: :func:`publish_figures` copies the reference run's there."""
    if figures_dir is not None:
        return resolve(figures_dir)
    return (resolve(run_dir) if run_dir is not None else _default_run_dir(profile)) / "figures"


#: Where the README's figures live (committed), refreshed only by :func:`publish_figures`.
README_FIGURES = "figures"


def publish_figures(run_dir: str | os.PathLike | None = None, dest: str | os.PathLike | None = None) -> list[Path]:
    """Copy a finished run's figures (``<run_dir>/figures/*.png``) over the README's ``figures/``.

    A maintainer's command (``make figures``), never part of a run: the figures differ from CPU to CPU,
    and a newcomer's ``make run`` must leave their clone clean. ``run_dir`` defaults to the reference run
    (``runs/quick``). Returns the files written.

    Raises
    ------
    FileNotFoundError
        The run has no figures: run it first (``make run``).
    """
    run = resolve(run_dir) if run_dir is not None else _default_run_dir(REFERENCE_PROFILE)
    pngs = sorted((run / "figures").glob("*.png"))
    if not pngs:
        raise FileNotFoundError(f"{run / 'figures'} holds no figure: run the reference profile first (make run)")
    out = resolve(dest if dest is not None else README_FIGURES)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for png in pngs:
        target = out / png.name
        shutil.copyfile(png, target)
        written.append(target)
    return written


def list_notebooks(only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks ``notebooks/NN_*.ipynb`` in order.

    ``only`` selects by number or stem (``["01", "03_results"]``); an unknown
    selection raises ``ValueError`` listing what exists.
    """
    books = sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return books
    picked = []
    for key in only:
        match = [b for b in books if b.stem == key or b.stem.split("_", 1)[0] == key]
        if not match:
            raise ValueError(
                f"only={key!r} matches no notebook; have: {', '.join(b.stem for b in books)}"
            )
        picked.extend(m for m in match if m not in picked)
    return sorted(picked)


def load_profile(profile: str) -> dict[str, dict]:
    """Parameters of a profile: ``{notebook_stem: {name: value}}``.

    ``profile`` is a name in ``params/`` (``quick``, ``full``) or a YAML path.
    """
    path = _profile_path(profile)
    if not path.is_file():
        names = sorted(p.stem for p in (project_root() / "params").glob("*.yaml"))
        raise FileNotFoundError(
            f"profile {profile!r}: no file {path}; available profiles: {', '.join(names)}"
        )
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or not all(isinstance(v, (dict, type(None))) for v in data.values()):
        raise ValueError(f"{path}: expected a mapping notebook_stem -> mapping of parameters")
    return {k: dict(v or {}) for k, v in data.items()}


def _profile_path(profile: str) -> Path:
    path = Path(profile)
    if path.suffix not in (".yaml", ".yml"):
        return project_root() / "params" / f"{profile}.yaml"
    return path.expanduser().resolve()


def _failed_cell(exc: Exception) -> str:
    name = getattr(exc, "ename", type(exc).__name__)
    value = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f"cell [{cell}]" if cell is not None else "a cell"
    return f"{where} raised {name}: {value}"


def read_record(run_dir) -> dict[str, dict]:
    """The run's ``params.yaml``: notebook entry -> its parameters and status (empty if absent).

    Raises
    ------
    RunRecordError
        The file is not YAML, or not a mapping: the message names it and the fix. The runner never
        rewrites such a file (it may hold a user's record), it stops instead.
    """
    path = Path(run_dir) / RECORD_FILE
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RunRecordError(f"{path} is not valid YAML ({exc}); fix or move it, then rerun") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RunRecordError(f"{path}: expected a mapping notebook -> parameters (the runner's record); "
                             "move it away and rerun the notebooks with python -m voxlib.run to rewrite it")
    return {str(k): dict(v or {}) for k, v in data.items()}


def corpus_of(run_dir, data_dir=None) -> Path:
    """The corpus a notebook of this run reads: ``data_dir`` if given, else the run's.

    Parameters
    ----------
    run_dir : path
        The run's folder; its ``params.yaml`` (:func:`read_record`) holds notebook 01's ``data_dir``.
    data_dir : path or None
        A corpus root chosen for this notebook; None means the one notebook 01 used in this run
        (its recorded ``data_dir``), else :data:`DEFAULT_DATA_DIR` (notebook 01's default) when the
        run recorded none (notebook 01 not run by the runner, or run with its default).

    Returns
    -------
    Path
        Absolute (relative paths are taken from the project root, :func:`resolve`).
    """
    if data_dir is not None:
        return resolve(data_dir)
    recorded = recorded_data_dir(run_dir)
    return recorded if recorded is not None else resolve(DEFAULT_DATA_DIR)


def recorded_data_dir(run_dir) -> Path | None:
    """Notebook 01's ``data_dir`` as the run recorded it (:func:`read_record`), absolute; None if not recorded."""
    record = read_record(resolve(run_dir))
    first = [entry for stem, entry in sorted(record.items()) if stem.startswith("01_")]
    recorded = first[0].get("data_dir") if first else None
    return resolve(recorded) if recorded is not None else None


def _record(path: Path, stem: str, entry: dict) -> None:
    """Merge one notebook's entry into ``params.yaml`` (atomic rewrite, one writer at a time); other
    notebooks' stay."""
    with _RECORD_LOCK:
        record = read_record(path.parent)
        record[stem] = entry
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(yaml.safe_dump(record, sort_keys=True))
        os.replace(tmp, path)


def _execute(nb: Path, out: Path, parameters: dict, *, kernel_name: str, progress: bool) -> None:
    """One notebook under papermill; :class:`NotebookFailed` naming the cell on failure."""
    try:
        pm.execute_notebook(str(nb), str(out), parameters=parameters, kernel_name=kernel_name,
                            cwd=str(project_root()), progress_bar=progress)
    except Exception as exc:  # papermill's PapermillExecutionError and kernel deaths
        raise NotebookFailed(
            f"notebook {nb.name} failed: {_failed_cell(exc)}. "
            f"Open the executed copy {out} to see the traceback."
        ) from exc


class _KernelEnvironment:
    """The kernels inherit this process's environment except ``MPLBACKEND``: a non-interactive backend
    there (``make`` exports ``Agg``) would keep ``plt.show()`` from leaving its figure in the executed
    notebook. Removed once around all the executions (not per notebook, which would race between
    notebooks running side by side), restored after."""

    def __enter__(self):
        self.saved = os.environ.pop("MPLBACKEND", None)

    def __exit__(self, *exc):
        if self.saved is not None:
            os.environ["MPLBACKEND"] = self.saved


def _run_one_notebook(nb: Path, out: Path, parameters: dict, record: Path, *, stem=None, **kw) -> None:
    """Record ``status: running``, execute, then record ``ok`` + seconds or ``failed`` + the error
    (under ``stem``, default the notebook's)."""
    stem = nb.stem if stem is None else stem
    _record(record, stem, {**parameters, "status": "running"})
    print(f"[voxlib.run] {nb.name} -> {out}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        _execute(nb, out, parameters, **kw)
    except NotebookFailed as exc:
        _record(record, stem, {**parameters, "status": "failed", "error": str(exc).splitlines()[0],
                                  "seconds": round(time.perf_counter() - t0, 1)})
        raise
    seconds = round(time.perf_counter() - t0, 1)
    _record(record, stem, {**parameters, "status": "ok", "seconds": seconds})
    print(f"[voxlib.run] {nb.name} done in {seconds:.1f} s", file=sys.stderr)


@dataclass(frozen=True)
class _Job:
    """One execution of a notebook: its file, executed copy, record key, parameters and pair (if any)."""
    nb: Path
    out: Path
    stem: str
    parameters: dict
    pair: tuple | None

    @property
    def number(self) -> str:
        return self.nb.stem.split("_", 1)[0]


def _needs(jobs: list[_Job]) -> list[set]:
    """For each job, the earlier jobs of this run it waits for (:data:`NEEDS`; pairs wait for their own pair)."""
    needs = []
    for i, job in enumerate(jobs):
        wanted = NEEDS.get(job.number)
        needs.append({k for k, other in enumerate(jobs[:i])
                      if other.number != job.number and (wanted is None or other.number in wanted)
                      and (other.pair is None or job.pair is None or other.pair == job.pair)})
    return needs


def _schedule(jobs: list[_Job], execute, workers: int) -> list[_Job]:
    """Run ``execute(job)`` for every job, at most ``workers`` at a time, each once the jobs it needs finished.

    With one worker this is the plain order of ``jobs``. After a failure no new job starts; the running ones
    finish, then the first failure is raised. Returns the finished jobs in the order of ``jobs``.
    """
    needs, pending, running, done, failures = _needs(jobs), list(range(len(jobs))), {}, set(), []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while pending or running:
            ready = [i for i in pending if needs[i] <= done] if not failures else []
            for i in ready[:workers - len(running)]:
                pending.remove(i)
                running[pool.submit(execute, jobs[i])] = i
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                i = running.pop(future)
                if future.exception() is not None:
                    failures.append(future.exception())
                else:
                    done.add(i)
    if failures:
        raise failures[0]
    return [jobs[i] for i in sorted(done)]


def run_notebooks(
    profile: str = REFERENCE_PROFILE,
    *,
    only: list[str] | None = None,
    run_dir: str | os.PathLike | None = None,
    figures_dir: str | os.PathLike | None = None,
    overrides: dict[str, dict] | None = None,
    kernel_name: str = "python3",
    progress: bool = True,
    jobs: int = 1,
) -> list[Path]:
    """Execute the numbered notebooks headless with papermill.

    Parameters
    ----------
    profile : str
        ``quick`` (minutes on a CPU), ``full`` (the thesis's values) or a YAML path.
    only : list of str, optional
        Notebook numbers or stems to run (default: all, in order).
    run_dir : path, optional
        Output folder of the run (default ``runs/<profile>``).
    figures_dir : path, optional
        Where notebooks save figures; default by :func:`figures_dir_for`:
        ``figures/`` for the reference run only, else ``<run_dir>/figures``.
    overrides : dict, optional
        ``{notebook_stem: {name: value}}`` applied over the profile.
    jobs : int
        Notebooks executed side by side, each once what it reads (:data:`NEEDS`) has finished: with 2,
        notebook 02 trains while 04 prepares a pair, and the two pairs of 04-05 overlap. Every notebook
        computes exactly what it computes alone (each is its own kernel, seeded); only the recorded
        ``seconds`` of each grow, since they share the cores. Progress bars are off when ``jobs > 1``.

    Returns
    -------
    list of Path
        The executed notebooks, in ``<run_dir>/notebooks/``, in notebook order.

    Raises
    ------
    NotebookFailed
        Naming the notebook, the failing cell and the executed copy to open
        (``params.yaml`` then says ``status: failed`` for it).
    """
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs={jobs!r}: expected a whole number of notebooks to run at once, 1 or more")
    params = load_profile(profile)
    figures = figures_dir_for(profile, run_dir, figures_dir)
    run_dir, figures = output_dirs(run_dir if run_dir is not None else _default_run_dir(profile), figures)
    out_dir = run_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    planned = []
    for nb in list_notebooks(only):
        p = {**params.get(nb.stem, {}), **(overrides or {}).get(nb.stem, {}),
             "run_dir": str(run_dir), "figures_dir": str(figures)}
        for out, stem, q in notebook_runs(nb, p):
            pair = (q["source"], q["target"]) if "pairs" in p else None
            planned.append(_Job(nb, out_dir / out, stem, q, pair))

    def execute(job):
        _run_one_notebook(job.nb, job.out, job.parameters, run_dir / "params.yaml", kernel_name=kernel_name,
                          progress=progress and jobs == 1, stem=job.stem)

    with _KernelEnvironment():
        return [job.out for job in _schedule(planned, execute, jobs)]


def _check_pairs(pairs, stem):
    ok = isinstance(pairs, (list, tuple)) and pairs and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(s, str) and s for s in p) for p in pairs)
    if not ok:
        raise ValueError(f"{stem}: pairs={pairs!r}; expected a list of [source, target] speaker pairs, "
                         "e.g. [[es-mx_allison, es-co_july], [it_carlo, it_menardi]]")
    return [tuple(p) for p in pairs]


def notebook_runs(nb: Path, parameters: dict) -> list[tuple[str, str, dict]]:
    """The executions of one notebook: ``(output file name, record key, parameters)``.

    A notebook section with ``pairs: [[source, target], ...]`` (notebooks 04 and
    05) runs once per pair, with ``source`` and ``target`` set and ``pairs``
    removed, into ``<stem>__<source>__<target>.ipynb``; any other section runs once.
    """
    if "pairs" not in parameters:
        return [(nb.name, nb.stem, parameters)]
    rest = {k: v for k, v in parameters.items() if k != "pairs"}
    return [(f"{nb.stem}__{s}__{t}.ipynb", f"{nb.stem}[{s}__{t}]", {**rest, "source": s, "target": t})
            for s, t in _check_pairs(parameters["pairs"], nb.stem)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m voxlib.run", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick", help="quick, full, or a YAML file (default quick)")
    ap.add_argument("--only", nargs="*", help="notebook numbers or stems, e.g. 01 03")
    ap.add_argument("--run-dir", help="output folder (default runs/<profile>)")
    ap.add_argument("--figures-dir", help="figure folder (default <run-dir>/figures)")
    ap.add_argument("--publish-figures", action="store_true",
                    help="copy the run's figures (default runs/quick) over the README's figures/ and stop "
                         "(a maintainer's command: make figures)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="notebooks to execute side by side, each once what it reads has finished (default 1; "
                         "make run uses 2): the same results, sooner on a machine with spare cores")
    ap.add_argument("--report", action="store_true",
                    help="then write the offline HTML report <run-dir>/report/index.html and print its path")
    ap.add_argument(
        "-p", "--param", nargs=3, action="append", default=[], metavar=("NOTEBOOK", "NAME", "VALUE"),
        help="override one parameter, value parsed as YAML (e.g. -p 02 epochs 3)",
    )
    args = ap.parse_args(argv)
    if args.publish_figures:
        written = publish_figures(args.run_dir)
        print(f"[voxlib.run] {len(written)} figures copied to {written[0].parent}")
        return 0
    overrides: dict[str, dict] = {}
    for key, name, value in args.param:
        (nb,) = list_notebooks([key])
        overrides.setdefault(nb.stem, {})[name] = yaml.safe_load(value)
    status = 0
    try:
        run_notebooks(
            args.profile, only=args.only, run_dir=args.run_dir,
            figures_dir=args.figures_dir, overrides=overrides, jobs=args.jobs,
        )
    except (NotebookFailed, FileNotFoundError, ValueError) as exc:
        print(f"[voxlib.run] ERROR: {exc}", file=sys.stderr)
        if not (args.report and isinstance(exc, NotebookFailed)):
            return 1
        status = 1  # still report what ran: the failed notebook is flagged in it
    if args.report:
        run_dir = resolve(args.run_dir) if args.run_dir is not None else _default_run_dir(args.profile)
        print(f"[voxlib.run] report: {report.build_report(run_dir)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
