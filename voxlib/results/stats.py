"""Is a gap real? Paired differences with a Student's t interval, and the seed-to-seed noise rule.

A gap between two transforms (or two models) is judged twice: against the variation across the
other factor (:func:`paired_difference`, paired over the models that have both transforms, with a
t interval from :data:`MIN_PAIRS_FOR_INTERVAL` pairs on) and against the seeds
(:func:`within_seed_noise`: no larger than the wider seed range of its two sides). Both leave the
baselines out. The thresholds are the named constants below; :mod:`voxlib.results.prose`
puts the verdicts into words.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from voxlib import metrics
from voxlib.results.tables import split_baselines

__all__ = [
    "CONFIDENCE",
    "MIN_PAIRS_FOR_INTERVAL",
    "SELECTION_WARNING_ABOVE",
    "paired_difference",
    "within_seed_noise",
]

#: Confidence level of every interval the commentary quotes; the sweep's accuracy intervals are
#: 95 % Wilson intervals too (``voxlib.metrics.accuracy_ci``'s default).
CONFIDENCE = 0.95
#: Fewest paired differences (models for a transform gap, transforms for a model gap) for an
#: interval: Student's t on the differences. With 2 the t interval has 1 degree of freedom
#: (t(0.975, 1) = 12.7 standard errors) and ignores how differently the two pairs behave, so
#: fewer than this give no interval ("too few models for an interval").
MIN_PAIRS_FOR_INTERVAL = 3
#: With more levels than this on either factor, the best and worst are picked after seeing the numbers
#: (with 2 levels they are simply both), so the commentary warns that their intervals are optimistic.
SELECTION_WARNING_ABOVE = 2


def paired_difference(
    results: pd.DataFrame, *, by: str = "transform", a: str, b: str, confidence: float = CONFIDENCE
) -> dict:
    """Mean accuracy difference ``a - b`` paired over the other factor, with an interval.

    For ``by="transform"`` the pairs are the models that have both transforms
    (so model-to-model spread cancels); for ``by="model"``, the transforms.
    Baselines are left out. With :data:`MIN_PAIRS_FOR_INTERVAL` or more pairs the
    interval is Student's t on the paired differences (``method="paired t"``,
    :func:`voxlib.metrics.mean_interval`);
    with fewer there is none (``method=None``, ``note`` says why).

    Returns
    -------
    dict
        ``diff`` (percentage points), ``ci_low``, ``ci_high``, ``method``,
        ``n`` pairs, ``wins`` (pairs where ``a`` beats ``b``), ``note``
        (``"too few models for an interval"`` or None).
    """
    if by not in ("transform", "model"):
        raise ValueError(f"by={by!r}; allowed: 'transform', 'model'")
    other = "model" if by == "transform" else "transform"
    results = split_baselines(results)[0]
    wide = results.pivot_table(index=other, columns=by, values="accuracy", aggfunc="mean")
    for level in (a, b):
        if level not in wide.columns:
            raise ValueError(f"{by} {level!r} is not in the table; have: {', '.join(map(str, wide.columns))}")
    both = wide[[a, b]].dropna()
    d = (both[a] - both[b]).to_numpy(float)
    n = len(d)
    diff, low, high = metrics.mean_interval(d, confidence=confidence)
    out = {"diff": diff, "ci_low": np.nan, "ci_high": np.nan,
           "method": None, "n": n, "wins": int((d > 0).sum()), "note": None}
    if n < MIN_PAIRS_FOR_INTERVAL:
        out["note"] = f"too few {other}s for an interval"
        return out
    out.update(method="paired t", ci_low=low, ci_high=high)
    return out


def within_seed_noise(diff: float, range_a: float, range_b: float) -> bool | None:
    """Whether a difference is within seed-to-seed noise.

    The rule of the commentary: a difference between two (model, transform)
    cells, or two transforms' (models') means, is *within seed-to-seed noise*
    when its size is no larger than the wider of the two sides' seed ranges
    (max - min over seeds; for a mean over cells, the range of its per-seed
    means). Seeds change only initialisation and batch order, so a gap the
    seeds alone can produce is not a finding.

    Parameters
    ----------
    diff : float
        Difference of the two means, percentage points.
    range_a, range_b : float
        Seed ranges of the two sides (NaN when a side has fewer than 2 seeds).

    Returns
    -------
    bool or None
        None when either range is unknown (one seed: spread n/a).
    """
    ranges = np.array([range_a, range_b], float)
    if not np.isfinite(ranges).all() or not np.isfinite(diff):
        return None
    return bool(abs(diff) <= ranges.max())

