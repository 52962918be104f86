"""Which numbers are there? The results tables: the thesis's published accuracies and our sweep,
read, validated, selected, tidied and summarised per level (notebook 03, which replaces
``Graficas.m``).

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

Our tidy table adds :data:`SPREAD_COLUMNS`: each accuracy is the **mean over
seeds** of one setting (the sweep runs several initialisation seeds on the run's
one split), with the seeds' number, standard deviation, minimum and maximum; its
CI is the mean of the seeds' Wilson bounds. :func:`seed_spread` gives the same
per (network, transform) from sweep rows.

**Baselines** (:data:`BASELINE_NETWORKS`, ``transform ==``
:data:`BASELINE_TRANSFORM`; written by :mod:`voxlib.transfer`) are rows of the
sweep and of our tidy table, but not the thesis's method: every mean, heatmap
and paired difference leaves them out, and the plots draw them as labelled
reference lines.

Several sweep rows may exist for one (network, transform) (other weights,
epochs, seeds, data): :func:`select_runs` keeps the rows matching ``where``,
then, per pair, every seed of the settings (:data:`SETTINGS_COLUMNS`) of its most
recent run (``finished_at``). :func:`load_runs` reads ``sweep.csv``
(:func:`voxlib.transfer.load_sweep`), validates it (:func:`validate_sweep`) and
selects.

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

from voxlib import transfer
from voxlib.transforms import TRANSFORMS

__all__ = [
    "TRANSFORM_NAMES",
    "RESULTS_COLUMNS",
    "THESIS_COLUMNS",
    "SWEEP_REQUIRED",
    "BASELINE_NETWORKS",
    "BASELINE_TRANSFORM",
    "SETTINGS_COLUMNS",
    "SPREAD_COLUMNS",
    "SEED_SPREAD_COLUMNS",
    "is_baseline",
    "split_baselines",
    "thesis_results_path",
    "validate_results",
    "load_thesis_results",
    "validate_sweep",
    "select_runs",
    "load_runs",
    "seed_spread",
    "tidy_sweep",
    "results_tables",
    "compare_with_thesis",
    "mean_accuracy",
    "best_run",
    "load_history",
    "load_confusion",
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
#: The non-image baselines of the sweep (the contract lives in :mod:`voxlib.transfer`).
BASELINE_NETWORKS = transfer.BASELINES
#: The ``transform`` of a baseline row: it reads the audio, not an image.
BASELINE_TRANSFORM = transfer.BASELINE_TRANSFORM
#: Sweep columns that make a run's settings, besides its seed: :func:`select_runs` keeps
#: every seed of one setting per (network, transform) (those present in the table).
SETTINGS_COLUMNS = ("weights", "image_size", "epochs", "batch_size", "precision", "data_fingerprint")
#: Seed spread of each accuracy in our tidy table: seeds averaged, their standard deviation
#: (NaN with one seed), lowest and highest accuracy.
SPREAD_COLUMNS = ("n_seeds", "seed_sd", "seed_min", "seed_max")
#: Columns of :func:`seed_spread`.
SEED_SPREAD_COLUMNS = ("network", "transform", "n_seeds", "mean", "sd", "min", "max", "train_mean",
                       "ci_low", "ci_high")
_PAIR = ["network", "transform"]


def is_baseline(table: pd.DataFrame) -> pd.Series:
    """True for the baseline rows (:data:`BASELINE_NETWORKS`) of a sweep or tidy table
    (:func:`voxlib.transfer.is_baseline`); all False for a table without ``network``."""
    if "network" not in table.columns:
        return pd.Series(False, index=table.index)
    return transfer.is_baseline(table)


def split_baselines(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(thesis-method rows, baseline rows)`` of a sweep or tidy table."""
    base = is_baseline(table)
    return table[~base], table[base]


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
    transform = df["transform"].astype(str)
    base = is_baseline(df)
    unknown = sorted(set(transform) - set(TRANSFORM_NAMES) - {BASELINE_TRANSFORM})
    if unknown:
        raise ValueError(
            f"{name}: unknown transform(s) {', '.join(map(repr, unknown))} in column "
            f"'transform'; allowed: {', '.join(TRANSFORM_NAMES)} "
            f"(and {BASELINE_TRANSFORM!r} for the baselines {', '.join(BASELINE_NETWORKS)})"
        )
    wrong = df[base != (transform == BASELINE_TRANSFORM)]
    if len(wrong):
        row = wrong.iloc[0]
        raise ValueError(
            f"{name}: network {row['network']!r} with transform {row['transform']!r}; transform "
            f"{BASELINE_TRANSFORM!r} is for the baselines ({', '.join(BASELINE_NETWORKS)}) and only them"
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
    """Every seed of one setting per (network, transform), among the rows matching ``where``.

    For each pair, the setting (the :data:`SETTINGS_COLUMNS` present) of its most
    recent run (``finished_at``) is chosen, and every seed of that setting is
    kept; a seed run twice keeps its latest row. Without a ``seed`` column each
    pair keeps its latest run (one seed).

    Parameters
    ----------
    sweep : pd.DataFrame
        From :func:`validate_sweep`.
    where : dict, optional
        ``{column: value or list of values}`` to keep, e.g.
        ``{"weights": "imagenet", "epochs": 10}``. Applied before choosing.

    Returns
    -------
    pd.DataFrame
        The kept rows: pairs in order of first appearance, seeds ascending.
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
    order = df.drop_duplicates(_PAIR)[_PAIR]
    latest = df.assign(_setting=_settings_key(df)).sort_values(
        "finished_at", kind="stable", na_position="first")
    chosen = latest.drop_duplicates(_PAIR, keep="last")[_PAIR + ["_setting"]]
    kept = latest.merge(chosen, on=_PAIR + ["_setting"], how="inner")
    if "seed" in kept.columns:
        kept = kept.drop_duplicates(_PAIR + ["seed"], keep="last").sort_values("seed", kind="stable")
    return order.merge(kept.drop(columns="_setting"), on=_PAIR, how="left").reset_index(drop=True)


def _settings_key(df: pd.DataFrame) -> pd.Series:
    """One string per row naming its settings (:data:`SETTINGS_COLUMNS` present)."""
    key = pd.Series("", index=df.index, dtype=object)
    for c in SETTINGS_COLUMNS:
        if c in df.columns:
            key = key + "|" + df[c].astype(str)
    return key


def load_runs(
    path: str | os.PathLike, *, where: dict | None = None, required: bool = False
) -> pd.DataFrame | None:
    """The sweep's runs to draw: read, validated, every seed of one setting per (network, transform).

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


def _check_one_setting(runs: pd.DataFrame, name: str) -> None:
    """Each (network, transform) of ``runs`` has one setting and each seed once."""
    _check_columns(runs, SWEEP_REQUIRED, name)
    settings = runs.assign(_setting=_settings_key(runs)).groupby(_PAIR, sort=False)["_setting"].unique()
    mixed = settings[settings.map(len) > 1]
    if len(mixed):
        (net, tr), values = mixed.index[0], mixed.iloc[0]
        cols = [c for c in SETTINGS_COLUMNS if c in runs.columns]
        raise ValueError(
            f"{name}: ({net!r}, {tr!r}) has runs with different settings ({'|'.join(cols)}: "
            f"{', '.join(map(repr, values))}); seeds are averaged within one setting: pick one with "
            "select_runs (or load_runs) and where={column: value}"
        )
    key = _PAIR + (["seed"] if "seed" in runs.columns else [])
    dup = runs[runs.duplicated(key, keep=False)]
    if len(dup):
        what = f"seed {dup['seed'].iloc[0]} of " if "seed" in runs.columns else ""
        raise ValueError(
            f"{name}: {what}({dup['network'].iloc[0]!r}, {dup['transform'].iloc[0]!r}) appears more than once; "
            "select_runs keeps the latest run of each seed"
        )


def _spread(runs: pd.DataFrame, column: str) -> pd.DataFrame:
    """Seeds, mean, sd (ddof 1; NaN for one seed), min, max of ``column`` per (network, transform)."""
    g = runs.assign(**{column: runs[column].astype(float)}).groupby(_PAIR, sort=False)[column]
    return pd.DataFrame({"n_seeds": g.size(), "mean": g.mean(), "sd": g.std(ddof=1), "min": g.min(),
                         "max": g.max()})


def seed_spread(runs: pd.DataFrame) -> pd.DataFrame:
    """Held-out accuracy over seeds, per (network, transform).

    Parameters
    ----------
    runs : pd.DataFrame
        Sweep rows with one setting per pair (:func:`select_runs`), one row per seed.

    Returns
    -------
    pd.DataFrame
        Columns :data:`SEED_SPREAD_COLUMNS`: ``n_seeds``; ``mean``, ``sd`` (NaN
        with one seed), ``min``, ``max`` of ``test_accuracy``; ``train_mean``
        (mean ``train_accuracy``); ``ci_low``, ``ci_high``, the means of the seeds'
        95 % Wilson bounds. Percent; pairs in order of first appearance.

    Raises
    ------
    ValueError
        A pair with runs of different settings, or a seed twice.
    """
    _check_one_setting(runs, "runs")
    g = runs.groupby(_PAIR, sort=False)
    out = _spread(runs, "test_accuracy").assign(
        train_mean=g["train_accuracy"].mean(), ci_low=g["test_ci_low"].mean(), ci_high=g["test_ci_high"].mean())
    return out.reset_index().loc[:, list(SEED_SPREAD_COLUMNS)]


def tidy_sweep(sweep: pd.DataFrame, *, evaluated_on: str = "test", seeds: str = "mean") -> pd.DataFrame:
    """Our sweep as a tidy results table, baselines included (transform ``"audio"``).

    Parameters
    ----------
    sweep : pd.DataFrame
        Usually :func:`load_runs` (or :func:`select_runs` of :func:`validate_sweep`):
        one setting per (network, transform), any number of seeds.
    evaluated_on : {"test", "train"}
        ``"test"``: held-out accuracy with its 95 % CI; ``"train"``: training
        accuracy (no CI), the number comparable to the thesis's.
    seeds : {"mean", "each"}
        ``"mean"``: one row per (network, transform), the mean over its seeds,
        with :data:`SPREAD_COLUMNS` and the mean of the seeds' CI bounds.
        ``"each"``: one row per run, with a ``seed`` column (0 when the sweep has
        none); several rows per pair, so not a table to plot.

    Raises
    ------
    ValueError
        A bad option, or (``"mean"``) a pair with runs of different settings.
    """
    columns = {"test": ("test_accuracy", "test_ci_low", "test_ci_high"), "train": ("train_accuracy", None, None)}
    if evaluated_on not in columns:
        raise ValueError(f"evaluated_on={evaluated_on!r}; allowed: {', '.join(columns)}")
    if seeds not in ("mean", "each"):
        raise ValueError(f"seeds={seeds!r}; allowed: 'mean', 'each'")
    acc, lo, hi = columns[evaluated_on]
    if seeds == "each":
        rows = sweep.assign(seed=sweep["seed"] if "seed" in sweep.columns else 0)
        extra = {"seed": rows["seed"].to_numpy()}
    else:
        _check_one_setting(sweep, "sweep table")
        g = sweep.groupby(_PAIR, sort=False)
        spread = _spread(sweep, acc)
        rows = spread.assign(**{acc: spread["mean"]},
                             **{c: g[c].mean() for c in (lo, hi) if c}).reset_index()
        extra = {"n_seeds": rows["n_seeds"].to_numpy(), "seed_sd": rows["sd"].to_numpy(),
                 "seed_min": rows["min"].to_numpy(), "seed_max": rows["max"].to_numpy()}
    return pd.DataFrame({
        "model": rows["network"].astype(str).to_numpy(),
        "network": rows["network"].astype(str).to_numpy(),
        "variant": "",
        "transform": rows["transform"].astype(str).to_numpy(),
        "accuracy": rows[acc].astype(float).to_numpy(),
        "ci_low": rows[lo].astype(float).to_numpy() if lo else np.nan,
        "ci_high": rows[hi].astype(float).to_numpy() if hi else np.nan,
        "source": "ours",
        "evaluated_on": evaluated_on,
        **extra,
    })


def results_tables(runs: pd.DataFrame | None = None, *, include_thesis: bool = True) -> dict[str, pd.DataFrame]:
    """The tidy tables notebook 03 draws: ``{"ours": ..., "thesis": ...}``.

    Parameters
    ----------
    runs : pd.DataFrame or None
        Selected sweep rows (:func:`select_runs`); None when no sweep has run.
        ``"ours"`` holds their held-out accuracies (mean over seeds, with
        :data:`SPREAD_COLUMNS`) and 95 % CIs, baselines included.
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
    """Thesis beside ours for each (network, transform) present in both, each of ours once.

    Our accuracies are the means over seeds (:func:`seed_spread`); baselines are
    not in the thesis and drop out. Where the thesis has several columns for one
    network (its SequentialCNN on data sets hablanteA and hablanteB) their
    accuracies are **averaged** into one row, labelled
    ``"SequentialCNN (mean of hablanteA, hablanteB)"``, so each of our
    (network, transform) cells is compared once.

    Parameters
    ----------
    runs : pd.DataFrame
        Selected sweep rows (:func:`select_runs`), one setting per pair.
    thesis : pd.DataFrame
        :func:`load_thesis_results`.

    Returns
    -------
    pd.DataFrame
        Columns ``model`` (the thesis's label), ``network``, ``transform``,
        ``thesis_train``, ``thesis_n`` (thesis columns averaged), ``ours_train``,
        ``ours_test``, ``ours_ci_low``, ``ours_ci_high``, ``n_seeds``,
        ``ours_test_min``, ``ours_test_max`` (percent); empty when nothing is shared.
    """
    ours = seed_spread(split_baselines(runs)[0]).rename(columns={
        "train_mean": "ours_train", "mean": "ours_test", "ci_low": "ours_ci_low", "ci_high": "ours_ci_high",
        "min": "ours_test_min", "max": "ours_test_max"}).drop(columns="sd")
    g = thesis.groupby(_PAIR, sort=False)
    th = pd.DataFrame({"model": g["model"].agg(_thesis_label), "thesis_train": g["accuracy"].mean(),
                       "thesis_n": g.size()}).reset_index()
    out = th.merge(ours, on=_PAIR, how="inner")
    cols = ["model", "network", "transform", "thesis_train", "thesis_n", "ours_train", "ours_test",
            "ours_ci_low", "ours_ci_high", "n_seeds", "ours_test_min", "ours_test_max"]
    return _ordered(out.loc[:, cols]).reset_index(drop=True)


def _thesis_label(models: pd.Series) -> str:
    """One label for a network's thesis columns: the model, or the mean of its variants."""
    labels = list(dict.fromkeys(models))
    if len(labels) == 1:
        return labels[0]
    variants = [m.split("(", 1)[1].rstrip(")") if "(" in m else m for m in labels]
    return f"{labels[0].split(' (')[0]} (mean of {', '.join(variants)})"


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by model (first appearance) then transform (registry order)."""
    models = {m: i for i, m in enumerate(dict.fromkeys(df["model"]))}
    transforms = {t: i for i, t in enumerate(TRANSFORM_NAMES)}
    key = {"model": models, "transform": transforms}
    return df.sort_values(["model", "transform"], key=lambda s: s.map(key[s.name]), kind="stable")


def mean_accuracy(results: pd.DataFrame, *, by: str = "transform", seeds: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean accuracy per transform or per model, baselines left out.

    Parameters
    ----------
    results : pd.DataFrame
        Tidy table (:data:`RESULTS_COLUMNS`).
    by : {"transform", "model"}
    seeds : pd.DataFrame, optional
        The same runs one row per seed (:func:`tidy_sweep` with ``seeds="each"``):
        adds the spread of the level's mean over seeds.

    Returns
    -------
    pd.DataFrame
        Columns ``by``, ``mean``, ``std``, ``min``, ``max``, ``n`` (number of
        accuracies averaged; std/min/max are across them), ``rank`` (1 = best);
        with ``seeds`` also ``n_seeds``, ``seed_min``, ``seed_max``: the lowest
        and highest of the per-seed means (mean over the level's cells of seed s).
        Rows in transform registry order or model order of appearance.
    """
    if by not in ("transform", "model"):
        raise ValueError(f"by={by!r}; allowed: 'transform', 'model'")
    validate_results(results, required=("model", "transform", "accuracy"))
    results = split_baselines(results)[0]
    levels = _levels(results, by)
    g = results.groupby(by, sort=False)["accuracy"]
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "min": g.min(), "max": g.max(), "n": g.size()})
    if seeds is not None:
        per_seed = split_baselines(seeds)[0].groupby([by, "seed"], sort=False)["accuracy"].mean().groupby(level=0)
        out = out.assign(n_seeds=per_seed.size(), seed_min=per_seed.min(), seed_max=per_seed.max())
    out = out.reindex(levels).rename_axis(by).reset_index()
    out["rank"] = out["mean"].rank(ascending=False, method="min").astype(int)
    return out


def _levels(results: pd.DataFrame, by: str) -> list[str]:
    """The thesis-method levels of ``by`` (no baselines): registry order or appearance."""
    present = list(dict.fromkeys(split_baselines(results)[0][by].astype(str)))
    if by == "transform":
        return [t for t in TRANSFORM_NAMES if t in present]
    return present



def best_run(runs: pd.DataFrame, *, metric: str = "test_accuracy", include_baselines: bool = False) -> pd.Series:
    """A representative run of the best (network, transform).

    The pair with the highest mean ``metric`` over its seeds (ties: higher mean
    training accuracy, then first); of its seeds, the run whose ``metric`` is
    closest to that mean (ties: the first), so its confusion matrix and training
    curves show a typical draw, not the luckiest. Baselines (no training
    history) are left out unless ``include_baselines``.
    """
    if metric not in runs.columns:
        raise ValueError(f"metric={metric!r} is not a sweep column; have: {', '.join(runs.columns)}")
    pool = runs if include_baselines else split_baselines(runs)[0]
    if pool.empty:
        raise ValueError("best_run: the sweep table has no rows" + ("" if runs.empty else " besides baselines"))
    means = pool.groupby(_PAIR, sort=False)[[metric, "train_accuracy"]].mean()
    top = means.sort_values([metric, "train_accuracy"], ascending=False, kind="stable").index[0]
    cands = pool[(pool["network"] == top[0]) & (pool["transform"] == top[1])]
    return cands.loc[(cands[metric] - means.loc[top, metric]).abs().idxmin()]


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
