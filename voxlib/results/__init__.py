"""Results of the sweep beside the thesis's (notebook 03): which module answers which question.

- :mod:`voxlib.results.tables`: *which numbers are there?* The thesis's table and our sweep,
  read, validated, selected (every seed of one setting per (network, transform)), tidied,
  summarised per pair (:func:`seed_spread`) and per level (:func:`mean_accuracy`), compared
  (:func:`compare_with_thesis`) and written; the best run's history and confusion matrix.
- :mod:`voxlib.results.stats`: *is a gap real?* Paired differences with a Student's t interval
  and the seed-to-seed noise rule, with their thresholds as named constants.
- :mod:`voxlib.results.prose`: *what do the numbers say?* The Markdown commentary generated
  from the tables, and the one-result findings (``*_finding``) notebooks 02 and 03 print.

Every name below is importable from ``voxlib.results`` as before the split.
"""
from voxlib.results import prose, stats, tables
from voxlib.results.prose import (
    baselines_finding,
    commentary,
    comparison_finding,
    confusion_finding,
    memorisation_finding,
    ranking_finding,
    seed_finding,
    sensitivity_finding,
    standouts,
    train_gap_finding,
)
from voxlib.results.stats import (
    CONFIDENCE,
    MIN_PAIRS_FOR_INTERVAL,
    SELECTION_WARNING_ABOVE,
    paired_difference,
    within_seed_noise,
)
from voxlib.results.tables import (
    BASELINE_NETWORKS,
    BASELINE_TRANSFORM,
    RESULTS_COLUMNS,
    SEED_SPREAD_COLUMNS,
    SETTINGS_COLUMNS,
    SPREAD_COLUMNS,
    SWEEP_REQUIRED,
    THESIS_COLUMNS,
    TRANSFORM_NAMES,
    best_run,
    compare_with_thesis,
    is_baseline,
    load_confusion,
    load_history,
    load_runs,
    load_thesis_results,
    mean_accuracy,
    results_tables,
    seed_spread,
    select_runs,
    split_baselines,
    thesis_results_path,
    tidy_sweep,
    validate_results,
    validate_sweep,
    write_results_tables,
)

__all__ = [*tables.__all__, *stats.__all__, *prose.__all__]
