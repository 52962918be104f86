"""The notebook runner: one notebook at a time, or two side by side (``voxlib.run --jobs``).

Runs one profile (default ``smoke``, about 5 minutes a run on 2 cores) twice into temporary folders, with
``jobs=1`` and ``jobs=2``, one after the other in this process (the notebooks run in their own kernels), and
prints a table: wall time, the speed-up over ``jobs=1``, and whether every CSV the two runs wrote holds the same
numbers (columns of times, paths and dates left out). Goal: the same numbers, and ``jobs=2`` faster on 2 cores.

Usage: python bench/runner.py [--profile smoke] [--jobs 1 2]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd  # noqa: E402

from voxlib import devices, run  # noqa: E402

#: Columns that say when, where or how long, not what was computed.
VOLATILE = ("seconds", "path", "finished_at", "time", "file")


def _numbers(csv: Path) -> pd.DataFrame:
    table = pd.read_csv(csv)
    return table.drop(columns=[c for c in table.columns if any(v in c for v in VOLATILE)])


def same_numbers(a: Path, b: Path) -> tuple[int, list[str]]:
    """How many CSVs under run folder ``a`` were compared with ``b``'s, and the relative paths that differ
    (or that ``b`` lacks)."""
    files = sorted(p.relative_to(a) for p in a.rglob("*.csv"))
    differ = []
    for rel in files:
        other = b / rel
        if not other.is_file() or not _numbers(a / rel).equals(_numbers(other)):
            differ.append(str(rel))
    return len(files), differ


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    rows, folders = [], {}
    with tempfile.TemporaryDirectory() as d:
        for jobs in args.jobs:
            folders[jobs] = Path(d) / f"jobs{jobs}"
            start = time.perf_counter()
            run.run_notebooks(args.profile, run_dir=folders[jobs], progress=False, jobs=jobs)
            rows.append({"jobs": jobs, "seconds": round(time.perf_counter() - start, 1)})
            print(f"jobs={jobs}: {rows[-1]['seconds']} s", flush=True)
        first = args.jobs[0]
        for row in rows:
            n, differ = same_numbers(folders[first], folders[row["jobs"]])
            row["speed-up"] = round(rows[0]["seconds"] / row["seconds"], 2)
            row[f"CSVs equal to jobs={first}"] = f"{n - len(differ)}/{n}" + (f" (differ: {', '.join(differ)})"
                                                                           if differ else "")
    print(f"\nprofile {args.profile}; CPU: {devices.cpu_model()}")
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
