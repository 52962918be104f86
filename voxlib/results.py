"""Results tables: the thesis's published accuracies and our sweep, tidied,
validated, summarised and described (notebook 03, which replaces ``Graficas.m``).

Every table the plots take is *tidy*: one row per (model, transform) with the
columns of :data:`RESULTS_COLUMNS`, accuracies in percent (0-100).

- ``model``: the label of a bar. For the thesis's two from-scratch columns
  ("hablanteA", "hablanteB": its sequential CNN on two data set variants) the
  label is ``"SequentialCNN (hablanteA)"`` / ``"SequentialCNN (hablanteB)"`` so
  the two stay apart; ``network`` holds the registry name (``SequentialCNN``)
  that joins the thesis to our sweep, and ``variant`` the thesis's column name.
- ``evaluated_on``: ``"train"`` for every thesis number (the thesis tested on
  its training folder), ``"test"`` (held-out utterances) or ``"train"`` for ours.
- ``ci_low``, ``ci_high``: 95 % confidence interval of the accuracy, NaN when
  the source gives none (the thesis).

Several sweep rows may exist for one (network, transform) (other weights,
epochs, seeds, data): :func:`select_runs` keeps the rows matching ``where`` and
then the most recent (``finished_at``) of each pair. :func:`load_runs` reads
``sweep.csv`` (:func:`voxlib.transfer.load_sweep`), validates it
(:func:`validate_sweep`) and selects.

The thesis's table ships inside the package (``voxlib/data/thesis_results.csv``,
read with :mod:`importlib.resources`), so notebook 03 works from any install.
"""
from __future__ import annotations

import os
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from voxlib import transfer
from voxlib.transforms import TRANSFORMS

__all__ = [
    "TRANSFORM_NAMES",
    "RESULTS_COLUMNS",
    "THESIS_COLUMNS",
    "SWEEP_REQUIRED",
    "thesis_results_path",
    "validate_results",
    "load_thesis_results",
    "validate_sweep",
    "select_runs",
    "load_runs",
    "tidy_sweep",
    "results_tables",
    "compare_with_thesis",
    "mean_accuracy",
    "paired_difference",
    "best_run",
    "load_history",
    "load_confusion",
    "commentary",
    "write_results_tables",
]

#: The six time-frequency images (``voxlib.transforms.TRANSFORMS``), in the order the plots use.
TRANSFORM_NAMES = tuple(TRANSFORMS)
#: Columns of a tidy results table (what every plot of notebook 03 takes).
RESULTS_COLUMNS = (
    "model", "network", "variant", "transform", "accuracy", "ci_low", "ci_high",
    "source", "evaluated_on",
)
#: Columns of ``voxlib/data/thesis_results.csv``.
THESIS_COLUMNS = ("model", "network", "variant", "transform", "accuracy", "source", "evaluated_on")
#: Columns of ``sweep/sweep.csv`` this module reads (the file has more; see ARCHITECTURE.md).
SWEEP_REQUIRED = (
    "network", "transform", "train_accuracy", "test_accuracy", "test_ci_low", "test_ci_high",
    "finished_at",
)
_SWEEP_ACCURACY = ("train_accuracy", "test_accuracy", "test_ci_low", "test_ci_high")


def thesis_results_path() -> Path:
    """The thesis's published table, shipped as package data
    (``voxlib/data/thesis_results.csv``): found wherever voxlib is installed."""
    return Path(str(resources.files("voxlib").joinpath("data", "thesis_results.csv")))


def validate_results(
    df: pd.DataFrame,
    *,
    required=RESULTS_COLUMNS,
    accuracy_columns=("accuracy",),
    name: str = "results table",
) -> pd.DataFrame:
    """Check a results table and return it unchanged.

    Parameters
    ----------
    df : pd.DataFrame
    required : sequence of str
        Columns that must be present.
    accuracy_columns : sequence of str
        Columns holding percentages: numeric, in [0, 100] or NaN.
    name : str
        What to call the table in error messages (a file name, usually).

    Raises
    ------
    ValueError
        Naming the table and the missing column, the unknown transform (with the
        allowed names) or the accuracy column out of range (fractions instead of
        percent, say).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(df).__name__}")
    _check_columns(df, required, name)
    _check_transforms(df, name)
    _check_one_row_per_pair(df, name)
    for col in accuracy_columns:
        if col in df.columns:
            _check_percent(df, col, name)
    return df


def _check_columns(df: pd.DataFrame, required, name: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(
            f"{name}: missing column(s) {', '.join(map(repr, missing))}; "
            f"required: {', '.join(required)}; found: {', '.join(map(str, df.columns))}"
        )


def _check_transforms(df: pd.DataFrame, name: str) -> None:
    if "transform" not in df.columns:
        return
    unknown = sorted(set(df["transform"].astype(str)) - set(TRANSFORM_NAMES))
    if unknown:
        raise ValueError(
            f"{name}: unknown transform(s) {', '.join(map(repr, unknown))} in column "
            f"'transform'; allowed: {', '.join(TRANSFORM_NAMES)}"
        )


def _check_one_row_per_pair(df: pd.DataFrame, name: str) -> None:
    if not {"model", "transform"} <= set(df.columns):
        return
    dup = df[df.duplicated(["model", "transform"], keep=False)]
    if len(dup):
        raise ValueError(
            f"{name}: more than one row for (model, transform) "
            f"({dup['model'].iloc[0]!r}, {dup['transform'].iloc[0]!r}); a results table has one "
            "row per pair (draw each source separately; pick sweep runs with select_runs)"
        )


def _check_percent(df: pd.DataFrame, col: str, name: str) -> None:
    """``col`` numeric, in [0, 100] or NaN, and not fractions."""
    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna() & df[col].notna()
    if bad.any():
        raise ValueError(f"{name}: column {col!r} must be numeric (percent), got {df[col][bad].iloc[0]!r}")
    finite = values.dropna()
    if len(finite) and (finite.min() < 0 or finite.max() > 100):
        raise ValueError(
            f"{name}: column {col!r} must be a percentage in [0, 100], "
            f"got values from {finite.min():g} to {finite.max():g}"
        )
    if "ci" not in col and len(finite) > 1 and 0 < finite.max() <= 1:
        # 0-1 fractions would plot as near-zero bars: say so rather than draw nonsense
        # (CI bounds are exempt: a poor run's lower bound is legitimately below 1 %)
        raise ValueError(
            f"{name}: column {col!r} looks like fractions (all values <= 1); "
            "write accuracies in percent (0-100)"
        )


def _read_csv(path, what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist; {_HOW_TO_MAKE.get(what, '')}".rstrip("; "))
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} {path} is not a readable CSV file ({exc})") from exc


_HOW_TO_MAKE = {
    "thesis results": "it ships inside the voxlib package as voxlib/data/thesis_results.csv "
                      "(reinstall voxlib, or restore the file with git)",
    "history": "it is written by notebook 02 next to sweep.csv (sweep/history/)",
    "confusion matrix": "it is written by notebook 02 next to sweep.csv (sweep/confusion/)",
}


def load_thesis_results(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The thesis's published accuracies (THESIS.md section 3), tidy.

    Parameters
    ----------
    path : path, optional
        Default :func:`thesis_results_path`.

    Returns
    -------
    pd.DataFrame
        84 rows (14 models x 6 transforms), columns :data:`RESULTS_COLUMNS`;
        ``evaluated_on`` is ``"train"`` and ``ci_low``/``ci_high`` are NaN.
    """
    path = Path(path) if path is not None else thesis_results_path()
    df = _read_csv(path, "thesis results")
    validate_results(df, required=THESIS_COLUMNS, name=str(path))
    df = df.assign(ci_low=np.nan, ci_high=np.nan, variant=df["variant"].fillna(""))
    return df.loc[:, list(RESULTS_COLUMNS)].reset_index(drop=True)


def validate_sweep(sweep: pd.DataFrame, *, name: str = "sweep table") -> pd.DataFrame:
    """Check a sweep table (:func:`voxlib.transfer.load_sweep`) and parse its dates.

    Parameters
    ----------
    sweep : pd.DataFrame
        Every row of ``sweep.csv``, as notebook 02 wrote it.
    name : str
        What to call the table in error messages (its file, usually).

    Returns
    -------
    pd.DataFrame
        A copy with ``finished_at`` parsed as a UTC date (NaT where unreadable).

    Raises
    ------
    ValueError
        Naming the table: a missing column of :data:`SWEEP_REQUIRED`, an
        unknown transform or accuracies not in percent.
    """
    validate_results(sweep, required=SWEEP_REQUIRED, accuracy_columns=_SWEEP_ACCURACY, name=name)
    out = sweep.copy()
    out["finished_at"] = pd.to_datetime(out["finished_at"], errors="coerce", utc=True, format="mixed")
    return out


def select_runs(sweep: pd.DataFrame, *, where: dict | None = None) -> pd.DataFrame:
    """One sweep row per (network, transform): the latest of those matching ``where``.

    Parameters
    ----------
    sweep : pd.DataFrame
        From :func:`validate_sweep`.
    where : dict, optional
        ``{column: value or list of values}`` to keep, e.g.
        ``{"weights": "imagenet", "epochs": 10}``. Applied before picking the
        most recent ``finished_at`` of each pair.

    Returns
    -------
    pd.DataFrame
        The kept rows, in the order of first appearance of each pair.
    """
    df = sweep
    for col, value in (where or {}).items():
        if col not in df.columns:
            raise ValueError(
                f"where: no column {col!r} in the sweep table; columns: {', '.join(df.columns)}"
            )
        allowed = value if isinstance(value, (list, tuple, set)) else [value]
        df = df[df[col].isin(allowed)]
    if df.empty and len(sweep):
        raise ValueError(f"where={where!r} keeps none of the {len(sweep)} sweep rows")
    order = df.drop_duplicates(["network", "transform"])[["network", "transform"]]
    latest = df.sort_values("finished_at", kind="stable", na_position="first").drop_duplicates(
        ["network", "transform"], keep="last"
    )
    return order.merge(latest, on=["network", "transform"], how="left").reset_index(drop=True)


def load_runs(
    path: str | os.PathLike, *, where: dict | None = None, required: bool = False
) -> pd.DataFrame | None:
    """The sweep's runs to draw: read, validated, one per (network, transform).

    :func:`voxlib.transfer.load_sweep`, then :func:`validate_sweep`, then
    :func:`select_runs`; None when there is nothing to draw.

    Parameters
    ----------
    path : path
        ``sweep/sweep.csv``.
    where : dict, optional
        Passed to :func:`select_runs`.
    required : bool
        If True a missing file raises ``FileNotFoundError`` (the user named it);
        if False a missing file or a table without rows gives None (with a
        warning for the empty table), so notebook 03 falls back to the thesis.

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the file: missing (with ``required``), unreadable, or failing
        :func:`validate_sweep`.
    """
    path = Path(path)
    if not path.is_file():
        if required:
            raise FileNotFoundError(f"sweep table {path} does not exist; run notebook 02 "
                                    "(python -m voxlib.run --only 02), or set results to an existing sweep.csv")
        return None
    runs = select_runs(validate_sweep(transfer.load_sweep(path), name=str(path)), where=where)
    if runs.empty:
        warnings.warn(f"sweep table {path} has no rows yet: drawing the thesis table only", stacklevel=2)
        return None
    return runs


def tidy_sweep(sweep: pd.DataFrame, *, evaluated_on: str = "test") -> pd.DataFrame:
    """Our sweep as a tidy results table (one row per sweep row).

    Parameters
    ----------
    sweep : pd.DataFrame
        Usually :func:`load_runs` (or :func:`select_runs` of :func:`validate_sweep`).
    evaluated_on : {"test", "train"}
        ``"test"``: held-out accuracy with its 95 % CI; ``"train"``: training
        accuracy (no CI), the number comparable to the thesis's.
    """
    columns = {"test": ("test_accuracy", "test_ci_low", "test_ci_high"), "train": ("train_accuracy", None, None)}
    if evaluated_on not in columns:
        raise ValueError(f"evaluated_on={evaluated_on!r}; allowed: {', '.join(columns)}")
    acc, lo, hi = columns[evaluated_on]
    return pd.DataFrame({
        "model": sweep["network"].astype(str),
        "network": sweep["network"].astype(str),
        "variant": "",
        "transform": sweep["transform"].astype(str),
        "accuracy": sweep[acc].astype(float),
        "ci_low": sweep[lo].astype(float) if lo else np.nan,
        "ci_high": sweep[hi].astype(float) if hi else np.nan,
        "source": "ours",
        "evaluated_on": evaluated_on,
    }).reset_index(drop=True)


def results_tables(runs: pd.DataFrame | None = None, *, include_thesis: bool = True) -> dict[str, pd.DataFrame]:
    """The tidy tables notebook 03 draws: ``{"ours": ..., "thesis": ...}``.

    Parameters
    ----------
    runs : pd.DataFrame or None
        Selected sweep rows (:func:`select_runs`); None when no sweep has run.
        ``"ours"`` holds their held-out accuracies with 95 % CIs.
    include_thesis : bool
        Add ``"thesis"`` (:func:`load_thesis_results`).

    Raises
    ------
    ValueError
        When neither table is asked for (nothing to draw).
    """
    tables = {}
    if runs is not None:
        tables["ours"] = tidy_sweep(runs, evaluated_on="test")
    if include_thesis:
        tables["thesis"] = load_thesis_results()
    if not tables:
        raise ValueError(
            "nothing to draw: no sweep table (run notebook 02, or set results to a sweep.csv) "
            "and include_thesis=False"
        )
    return tables


def compare_with_thesis(runs: pd.DataFrame, thesis: pd.DataFrame) -> pd.DataFrame:
    """Thesis beside ours for each (network, transform) present in both.

    Parameters
    ----------
    runs : pd.DataFrame
        Selected sweep rows (:func:`select_runs`).
    thesis : pd.DataFrame
        :func:`load_thesis_results`. Its two SequentialCNN variants each get a row.

    Returns
    -------
    pd.DataFrame
        Columns ``model`` (the thesis's label), ``network``, ``transform``,
        ``thesis_train``, ``ours_train``, ``ours_test``, ``ours_ci_low``,
        ``ours_ci_high`` (percent); empty when nothing is shared.
    """
    ours = runs.loc[:, ["network", "transform", "train_accuracy", "test_accuracy", "test_ci_low", "test_ci_high"]]
    ours = ours.rename(columns={
        "train_accuracy": "ours_train", "test_accuracy": "ours_test",
        "test_ci_low": "ours_ci_low", "test_ci_high": "ours_ci_high",
    })
    th = thesis.loc[:, ["model", "network", "transform", "accuracy"]].rename(columns={"accuracy": "thesis_train"})
    out = th.merge(ours, on=["network", "transform"], how="inner")
    return _ordered(out).reset_index(drop=True)


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by model (first appearance) then transform (registry order)."""
    models = {m: i for i, m in enumerate(dict.fromkeys(df["model"]))}
    transforms = {t: i for i, t in enumerate(TRANSFORM_NAMES)}
    key = {"model": models, "transform": transforms}
    return df.sort_values(["model", "transform"], key=lambda s: s.map(key[s.name]), kind="stable")


def mean_accuracy(results: pd.DataFrame, *, by: str = "transform") -> pd.DataFrame:
    """Mean accuracy per transform or per model.

    Parameters
    ----------
    results : pd.DataFrame
        Tidy table (:data:`RESULTS_COLUMNS`).
    by : {"transform", "model"}

    Returns
    -------
    pd.DataFrame
        Columns ``by``, ``mean``, ``std``, ``min``, ``max``, ``n`` (number of
        accuracies averaged), ``rank`` (1 = best); rows in transform registry
        order or model order of appearance.
    """
    if by not in ("transform", "model"):
        raise ValueError(f"by={by!r}; allowed: 'transform', 'model'")
    validate_results(results, required=("model", "transform", "accuracy"))
    levels = _levels(results, by)
    g = results.groupby(by, sort=False)["accuracy"]
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "min": g.min(), "max": g.max(), "n": g.size()})
    out = out.reindex(levels).rename_axis(by).reset_index()
    out["rank"] = out["mean"].rank(ascending=False, method="min").astype(int)
    return out


def _levels(results: pd.DataFrame, by: str) -> list[str]:
    present = list(dict.fromkeys(results[by].astype(str)))
    if by == "transform":
        return [t for t in TRANSFORM_NAMES if t in present]
    return present


#: Confidence level of every interval the commentary quotes; the sweep's accuracy intervals are
#: 95 % Wilson intervals too (``voxlib.metrics.accuracy_ci``'s default), so a CI read back as
#: +-z standard errors uses the same z.
CONFIDENCE = 0.95
#: Fewest paired differences for a Student-t interval when each accuracy has its own CI. With 2
#: pairs the t interval has 1 degree of freedom, t(0.975, 1) = 12.7 standard errors wide, so the
#: test-set sampling error (from the CIs) is the better interval; from 3 pairs (t(0.975, 2) = 4.3)
#: the spread of the differences themselves is used.
MIN_PAIRS_FOR_T = 3
#: Without per-accuracy CIs (the thesis's table) the t interval is the only one: it needs 2 pairs,
#: the least that gives a standard deviation (1 degree of freedom).
MIN_PAIRS_FOR_T_WITHOUT_CI = 2
#: With more levels than this on either factor, the best and worst are picked after seeing the numbers
#: (with 2 levels they are simply both), so the commentary warns that their intervals are optimistic.
SELECTION_WARNING_ABOVE = 2


def _has_ci(results: pd.DataFrame) -> bool:
    return {"ci_low", "ci_high"} <= set(results.columns) and bool(results[["ci_low", "ci_high"]].notna().all(axis=None))


def _sampling_half_width(results, *, by, other, a, b, pairs, z) -> float:
    """Half-width of the mean gap's interval from the test-set sampling error alone:
    each CI read as +-z standard errors, errors independent; NaN when one is missing."""
    se = results.assign(se=(results["ci_high"] - results["ci_low"]) / (2 * z)).pivot_table(
        index=other, columns=by, values="se", aggfunc="mean", dropna=False).reindex(columns=[a, b])
    var = (se[a] ** 2 + se[b] ** 2).reindex(pairs).to_numpy(float)
    return z * np.sqrt(var.sum()) / len(pairs) if np.isfinite(var).all() else np.nan


def paired_difference(
    results: pd.DataFrame, *, by: str = "transform", a: str, b: str, confidence: float = CONFIDENCE
) -> dict:
    """Mean accuracy difference ``a - b`` paired over the other factor, with an interval.

    For ``by="transform"`` the pairs are the models that have both transforms
    (so model-to-model spread cancels); for ``by="model"``, the transforms.
    With :data:`MIN_PAIRS_FOR_T` or more pairs (or :data:`MIN_PAIRS_FOR_T_WITHOUT_CI`
    without CIs) the interval is Student's t on the paired differences
    (``method="paired t"``); with fewer pairs and known per-accuracy CIs it comes
    from the test-set sampling error alone, each CI read as +-z standard errors,
    errors taken as independent (``method="sampling"``); otherwise it is NaN.

    Returns
    -------
    dict
        ``diff`` (percentage points), ``ci_low``, ``ci_high``, ``method``,
        ``n`` pairs, ``wins`` (pairs where ``a`` beats ``b``).
    """
    other = "model" if by == "transform" else "transform"
    wide = results.pivot_table(index=other, columns=by, values="accuracy", aggfunc="mean")
    for level in (a, b):
        if level not in wide.columns:
            raise ValueError(f"{by} {level!r} is not in the table; have: {', '.join(map(str, wide.columns))}")
    both = wide[[a, b]].dropna()
    d = (both[a] - both[b]).to_numpy(float)
    n = len(d)
    out = {"diff": float(d.mean()) if n else np.nan, "ci_low": np.nan, "ci_high": np.nan,
           "method": None, "n": n, "wins": int((d > 0).sum())}
    has_ci = _has_ci(results)
    if n >= MIN_PAIRS_FOR_T or (n >= MIN_PAIRS_FOR_T_WITHOUT_CI and not has_ci):
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / np.sqrt(n)
        method = "paired t"
    elif n >= 1 and has_ci:
        half = _sampling_half_width(results, by=by, other=other, a=a, b=b, pairs=both.index,
                                    z=stats.norm.ppf(0.5 + confidence / 2))
        method = "sampling"
    else:
        return out
    if np.isfinite(half):
        out.update(method=method, ci_low=out["diff"] - half, ci_high=out["diff"] + half)
    return out


def best_run(runs: pd.DataFrame, *, metric: str = "test_accuracy") -> pd.Series:
    """The sweep row with the highest ``metric`` (ties: higher training accuracy, then first)."""
    if runs.empty:
        raise ValueError("best_run: the sweep table has no rows")
    if metric not in runs.columns:
        raise ValueError(f"metric={metric!r} is not a sweep column; have: {', '.join(runs.columns)}")
    order = runs.sort_values([metric, "train_accuracy"], ascending=False, kind="stable")
    return order.iloc[0]


def load_history(path: str | os.PathLike) -> pd.DataFrame:
    """Per-epoch training metrics written by notebook 02.

    Returns
    -------
    pd.DataFrame
        Columns ``epoch`` (1-based if the file has none) plus the file's metric
        columns (``loss``, ``accuracy``, ...); at least one metric is required.
    """
    df = _read_csv(path, "history")
    if "epoch" not in df.columns:
        df.insert(0, "epoch", np.arange(1, len(df) + 1))
    metrics = [c for c in df.columns if c != "epoch" and pd.api.types.is_numeric_dtype(df[c])]
    if df.empty or not metrics:
        raise ValueError(f"history {path}: expected per-epoch numeric columns (loss, accuracy), got {list(df.columns)}")
    return df


def load_confusion(path: str | os.PathLike) -> pd.DataFrame:
    """Confusion matrix written by notebook 02: rows predicted, columns true.

    Returns
    -------
    pd.DataFrame [shape=(n_classes, n_classes)]
        Integer counts, index and columns the class labels (as strings).
    """
    df = _read_csv(path, "confusion matrix")
    first = df.columns[0]
    if not pd.api.types.is_numeric_dtype(df[first]) or str(first).lower() in ("predicted", "unnamed: 0", "label", ""):
        df = df.set_index(first)
    df.index = df.index.astype(str)
    df.columns = df.columns.astype(str)
    if df.shape[0] != df.shape[1] or not all(pd.api.types.is_numeric_dtype(t) for t in df.dtypes):
        raise ValueError(
            f"confusion matrix {path}: expected a square table of counts with class labels "
            f"(rows predicted, columns true), got shape {df.shape}"
        )
    return df.rename_axis(index="predicted", columns="true")


def _fmt_ci(lo: float, hi: float) -> str:
    return f" (95 % CI {lo:.1f}-{hi:.1f})" if np.isfinite(lo) and np.isfinite(hi) else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _describe_factor(results: pd.DataFrame, by: str) -> list[str]:
    s = mean_accuracy(results, by=by)
    if len(s) < 2:
        return [f"- Only one {by} ({s[by].iloc[0]}): nothing to rank."]
    best, worst = s.loc[s["mean"].idxmax()], s.loc[s["mean"].idxmin()]
    other = "models" if by == "transform" else "transforms"
    line = (
        f"- Best {by}: **{best[by]}** (mean {best['mean']:.1f} % over {_plural(best['n'], other[:-1])}); "
        f"worst: **{worst[by]}** ({worst['mean']:.1f} %), {best['mean'] - worst['mean']:.1f} points apart."
    )
    p = paired_difference(results, by=by, a=best[by], b=worst[by])
    interval = f"{p['diff']:.1f} points ({100 * CONFIDENCE:g} % CI {p['ci_low']:.1f} to {p['ci_high']:.1f})"
    exceeds = "the interval excludes zero, so the gap is larger than"
    within = "the interval includes zero, so the gap is within"
    if p["method"] == "paired t":
        verdict = (f"{exceeds} the variation across {other}" if p["ci_low"] > 0 else
                   f"{within} the variation across {other}")
        line += (f" Paired over the {p['n']} {other} that have both, {best[by]} is ahead by {interval} "
                 f"and wins in {p['wins']} of {p['n']}: {verdict}.")
    elif p["method"] == "sampling":
        verdict = f"{exceeds} the test-set noise" if p["ci_low"] > 0 else f"{within} the test-set noise"
        line += (f" With {_plural(p['n'], other[:-1])} having both, from the test-set confidence intervals "
                 f"alone the gap is {interval}: {verdict}.")
    else:
        line += f" {_plural(p['n'], other[:-1]).capitalize()} with both and no CIs known: the gap has no interval."
    return [line]


def _describe_pairs(results: pd.DataFrame) -> list[str]:
    r = results.reset_index(drop=True)
    best, worst = r.loc[r["accuracy"].idxmax()], r.loc[r["accuracy"].idxmin()]
    line = (
        f"- Best pair: **{best['model']} + {best['transform']}**, {best['accuracy']:.1f} %"
        f"{_fmt_ci(best['ci_low'], best['ci_high'])}; worst: {worst['model']} + {worst['transform']}, "
        f"{worst['accuracy']:.1f} %{_fmt_ci(worst['ci_low'], worst['ci_high'])}."
    )
    if r[["ci_low", "ci_high"]].notna().all(axis=None) and len(r) > 1:
        overlap = r[(r.index != best.name) & (r["ci_high"] >= best["ci_low"])]
        if overlap.empty:
            line += " Its confidence interval overlaps no other pair's: it is clearly the best."
        else:
            line += (
                f" Its confidence interval overlaps those of {len(overlap)} of the other {len(r) - 1} "
                "pairs, so the test set cannot tell it apart from them."
            )
            if worst["ci_high"] < best["ci_low"]:
                line += " It is clearly better than the worst pair (the intervals do not overlap)."
    else:
        line += " No confidence intervals are available for these numbers."
    return [line]


def _describe_comparison(comparison: pd.DataFrame) -> list[str]:
    if comparison is None or comparison.empty:
        return ["- No (model, transform) pair is in both the thesis's table and ours."]
    c = comparison
    above = int((c["thesis_train"] > c["ours_ci_high"]).sum())
    return [
        f"- On the {len(c)} (model, transform) pair(s) both tables have, the thesis's training accuracy "
        f"averages {c['thesis_train'].mean():.1f} %; ours averages {c['ours_train'].mean():.1f} % on "
        f"training data and {c['ours_test'].mean():.1f} % on held-out utterances. The thesis's number lies "
        f"above our held-out 95 % CI in {above} of {len(c)}. Different speakers and data: compare trends, "
        "not values."
    ]


_EVALUATED = {
    "train": "on the training data (the thesis evaluated on the images it trained on, "
             "so these are training accuracies, not generalisation)",
    "test": "on held-out utterances, with 95 % confidence intervals",
}


def commentary(results: pd.DataFrame, *, comparison: pd.DataFrame | None = None, title: str | None = None) -> str:
    """Markdown summary of a results table, written from the numbers.

    Names the best and worst transform and model (means), the gap in points,
    whether that gap exceeds its paired 95 % interval, the best pair and
    whether its confidence interval separates it from the others; with
    ``comparison`` (:func:`compare_with_thesis`), one line on thesis vs ours.

    Parameters
    ----------
    results : pd.DataFrame
        Tidy table of one source (:data:`RESULTS_COLUMNS`).
    comparison : pd.DataFrame, optional
    title : str, optional
        Bold heading; default from the table's ``source``.

    Returns
    -------
    str
        Markdown (a heading line and bullet points).
    """
    validate_results(results)
    if results.empty:
        return "No results to describe."
    sources = ", ".join(dict.fromkeys(results["source"].astype(str)))
    where = "; ".join(_EVALUATED.get(e, e) for e in dict.fromkeys(results["evaluated_on"]))
    n_m, n_t = results["model"].nunique(), results["transform"].nunique()
    lines = [f"**{title or sources}**: {n_m} model(s) x {n_t} transform(s), accuracy {where}."]
    if len(results) < n_m * n_t:
        lines[0] += (f" The table is incomplete ({len(results)} of {n_m * n_t} pairs), so the means below "
                     "average different sets; the paired gaps compare like with like.")
    lines.append("")
    lines += _describe_factor(results, "transform")
    lines += _describe_factor(results, "model")
    lines += _describe_pairs(results)
    if comparison is not None:
        lines += _describe_comparison(comparison)
    if n_m > SELECTION_WARNING_ABOVE or n_t > SELECTION_WARNING_ABOVE:
        lines.append("- Best and worst are picked after seeing the numbers, so their intervals are optimistic: "
                     "confirm a winner on new data (another seed or speakers) before relying on it.")
    return "\n".join(lines)


def write_results_tables(tables: dict[str, pd.DataFrame], out_dir: str | os.PathLike) -> list[Path]:
    """Write each table as ``<out_dir>/<name>.csv`` (generated files, replaced on rerun).

    Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in tables.items():
        p = out_dir / f"{name}.csv"
        df.to_csv(p, index=False)
        written.append(p)
    return written
