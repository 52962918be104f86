"""Paths, profiles and the headless notebook runner.

``python -m voxlib.run --profile quick`` executes every ``notebooks/NN_*.ipynb``
in order with papermill, injecting the profile's parameters
(``params/<profile>.yaml``, one section per notebook) plus ``run_dir`` and
``figures_dir``. Executed copies go to ``runs/<profile>/notebooks/``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

__all__ = [
    "project_root",
    "resolve",
    "list_notebooks",
    "load_profile",
    "run_notebooks",
    "NotebookFailed",
]


class NotebookFailed(RuntimeError):
    """A notebook failed under papermill; the message names the notebook and cell."""


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
    path = Path(profile)
    if path.suffix not in (".yaml", ".yml"):
        path = project_root() / "params" / f"{profile}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in (project_root() / "params").glob("*.yaml"))
        raise FileNotFoundError(
            f"profile {profile!r}: no file {path}; available profiles: {', '.join(names)}"
        )
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or not all(isinstance(v, (dict, type(None))) for v in data.values()):
        raise ValueError(f"{path}: expected a mapping notebook_stem -> mapping of parameters")
    return {k: dict(v or {}) for k, v in data.items()}


def _failed_cell(exc: Exception) -> str:
    name = getattr(exc, "ename", type(exc).__name__)
    value = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f"cell [{cell}]" if cell is not None else "a cell"
    return f"{where} raised {name}: {value}"


def run_notebooks(
    profile: str = "quick",
    *,
    only: list[str] | None = None,
    run_dir: str | os.PathLike | None = None,
    figures_dir: str | os.PathLike | None = None,
    overrides: dict[str, dict] | None = None,
    kernel_name: str = "python3",
    progress: bool = True,
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
        Where notebooks save figures (default ``figures/``).
    overrides : dict, optional
        ``{notebook_stem: {name: value}}`` applied over the profile.

    Returns
    -------
    list of Path
        The executed notebooks, in ``<run_dir>/notebooks/``.

    Raises
    ------
    NotebookFailed
        Naming the notebook, the failing cell and the executed copy to open.
    """
    import papermill as pm

    params = load_profile(profile)
    stem = Path(profile).stem
    run_dir = resolve(run_dir or Path("runs") / stem)
    figures_dir = resolve(figures_dir or "figures")
    out_dir = run_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    used = {}
    done = []
    for nb in list_notebooks(only):
        p = dict(params.get(nb.stem, {}))
        p.update((overrides or {}).get(nb.stem, {}))
        p.update(run_dir=str(run_dir), figures_dir=str(figures_dir))
        used[nb.stem] = p
        out = out_dir / nb.name
        print(f"[voxlib.run] {nb.name} -> {out}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(
                str(nb),
                str(out),
                parameters=p,
                kernel_name=kernel_name,
                cwd=str(project_root()),
                progress_bar=progress,
            )
        except Exception as exc:  # papermill's PapermillExecutionError and kernel deaths
            raise NotebookFailed(
                f"notebook {nb.name} failed: {_failed_cell(exc)}. "
                f"Open the executed copy {out} to see the traceback."
            ) from exc
        print(f"[voxlib.run] {nb.name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        done.append(out)
    (run_dir / "params.yaml").write_text(yaml.safe_dump(used, sort_keys=True))
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m voxlib.run", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick", help="quick, full, or a YAML file (default quick)")
    ap.add_argument("--only", nargs="*", help="notebook numbers or stems, e.g. 01 03")
    ap.add_argument("--run-dir", help="output folder (default runs/<profile>)")
    ap.add_argument("--figures-dir", help="figure folder (default figures/)")
    ap.add_argument(
        "-p", "--param", nargs=3, action="append", default=[], metavar=("NOTEBOOK", "NAME", "VALUE"),
        help="override one parameter, value parsed as YAML (e.g. -p 02 epochs 3)",
    )
    args = ap.parse_args(argv)
    overrides: dict[str, dict] = {}
    for key, name, value in args.param:
        (nb,) = list_notebooks([key])
        overrides.setdefault(nb.stem, {})[name] = yaml.safe_load(value)
    try:
        run_notebooks(
            args.profile, only=args.only, run_dir=args.run_dir,
            figures_dir=args.figures_dir, overrides=overrides,
        )
    except (NotebookFailed, FileNotFoundError, ValueError) as exc:
        print(f"[voxlib.run] ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
