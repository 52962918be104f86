"""The run's findings, a line each, read from the tables the stages wrote (nothing is measured again).

- :func:`sweep_finding`: notebook 02's best image model (network, transform, held-out accuracy over
  seeds) beside the best baseline, from ``sweep/sweep.csv`` (:func:`voxlib.results.seed_spread`);
- :func:`cloning_finding`: per speaker pair, how many converted clips the CAM++ verifier accepts as
  the target against the real target clips, the source, the controls and the baselines, and what the
  content check finds, from notebook 05's ``summary.csv``, with each judge set aside when
  :func:`voxlib.reconstruction.control_check` finds it unreliable (as notebook 05's verdict does);
- :func:`pair_choice`, :func:`best_baseline` and :func:`played_sentence`: which clips stand for a
  pair (the converted condition notebook 05 used, the baseline the verifier accepts most often, the
  held-out sentence notebook 05 plays).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from voxlib import reconstruction, results

__all__ = ["RECONSTRUCTION_NOTEBOOK", "PairChoice", "ranked_spread", "sweep_finding", "pair_choice",
           "cloning_finding", "best_baseline", "played_sentence"]

#: The name under which the runner records notebook 05 (``params.yaml`` keys ``05_reconstruction[<pair>]``).
RECONSTRUCTION_NOTEBOOK = "05_reconstruction"
# How the one-line findings name the controls.
_CONTROL_NAMES = {"null_flat": "flat image", "control_channel": "channel control"}


def ranked_spread(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`voxlib.results.seed_spread` of the sweep's runs split into the image models and the
    baselines, each best first (held-out mean, then training mean)."""
    images, base = results.split_baselines(results.seed_spread(runs))
    order = {"by": ["mean", "train_mean"], "ascending": False, "kind": "stable"}
    return images.sort_values(**order), base.sort_values(**order)


def _accuracy(row) -> str:
    if row["n_seeds"] > 1:
        return f"{row['mean']:.1f} % (mean of {row['n_seeds']} seeds, range {row['min']:.1f}–{row['max']:.1f} %)"
    return f"{row['mean']:.1f} % (one seed, 95 % CI {row['ci_low']:.1f}–{row['ci_high']:.1f} %)"


def sweep_finding(runs: pd.DataFrame) -> str:
    """One sentence: the best image model of notebook 02's sweep beside the best baseline.

    Parameters
    ----------
    runs : pd.DataFrame
        :func:`voxlib.results.load_runs`'s table (one setting per pair, one row per seed).

    Returns
    -------
    str
        The network and transform with the highest held-out accuracy (mean over seeds, with the
        seed range; ties named), and the best baseline's accuracy with its 95 % interval and the
        gap in points.
    """
    images, base = ranked_spread(runs)
    n_test = ", ".join(str(int(n)) for n in sorted(runs["n_test"].unique()))
    head = f"Telling the speakers apart ({n_test} held-out clips, notebook 02): "
    if images.empty:
        text = head + "no image model in the sweep"
    else:
        best = images.iloc[0]
        ties = images.iloc[1:][np.isclose(images["mean"].iloc[1:], best["mean"])]
        text = (head + f"the best image model, {best['network']} on {best['transform']} images, reaches "
                + _accuracy(best)
                + "".join(f", tied with {r.network} on {r.transform}" for r in ties.itertuples()))
    if base.empty:
        return text + "; no baseline ran."
    top = base.iloc[0]
    text += (f"; the best baseline, {top['network']} on the audio, reaches {top['mean']:.1f} % "
             f"(95 % CI {top['ci_low']:.1f}–{top['ci_high']:.1f} %)")
    if images.empty:
        return text + "."
    gap = top["mean"] - images.iloc[0]["mean"]
    return text + (f": {abs(gap):.1f} points {'above' if gap > 0 else 'below'} it." if round(gap, 1) else
                   ": the same.")


class PairChoice(NamedTuple):
    """How notebook 05 made a pair's converted clips."""

    converted: str
    """The condition that is "the" converted voice (``converted`` for envelope runs)."""
    synthesis: reconstruction.SynthesisSettings | None
    """The synthesis chosen on training sentences (envelope runs), else None."""
    phase_mode: str | None
    """The phase mode (scalogram runs), else None."""

    def describe(self) -> str:
        """``synthesis <name>`` or ``phase mode <mode>``."""
        return f"synthesis {self.synthesis.name}" if self.synthesis is not None else f"phase mode {self.phase_mode}"


def pair_choice(run_dir, pair: str, record: dict) -> PairChoice:
    """The converted condition notebook 05 used for ``pair`` in the run folder ``run_dir``.

    Envelope runs (``synthesis_choice.csv`` present) use ``converted`` and the synthesis that file
    marks chosen (:func:`voxlib.reconstruction.chosen_synthesis`); scalogram runs use the condition of
    notebook 05's ``phase_mode`` parameter in the runner's ``record``, or with ``"auto"`` the mode
    ``phase_choice.csv`` marks chosen (:func:`voxlib.reconstruction.chosen_phase_mode`).
    """
    folder = Path(run_dir) / "reconstruction" / pair
    if (folder / reconstruction.CHOICE_FILE).is_file():
        return PairChoice("converted", reconstruction.chosen_synthesis(folder), None)
    mode = str(record.get(f"{RECONSTRUCTION_NOTEBOOK}[{pair}]", {}).get("phase_mode", "auto"))
    if mode == "auto":
        mode = reconstruction.chosen_phase_mode(folder)
    return PairChoice(reconstruction.PHASE_CONDITIONS.get(mode, "converted"), None, mode)


def _count(summary: pd.DataFrame, judge: str, condition: str) -> str:
    """``k/n`` of one judge on one condition, from the summary's rate (as notebook 05's verdict counts)."""
    n = int(summary.loc[condition, "n"])
    return f"{int(round(summary.loc[condition, f'{judge}_rate'] * n))}/{n}"


def _voice(summary: pd.DataFrame, converted: str, check: pd.DataFrame) -> str:
    judge = reconstruction.PRIMARY_JUDGE
    if judge not in check.index or converted not in summary.index:
        return "No speaker verifier was run: no verdict on the voice."
    if not check.loc[judge, "reliable"]:
        return f"The CAM++ verifier cannot judge this pair ({check.loc[judge, 'why']}): no verdict on the voice."
    groups = [("real target", ["target"]), ("source", ["source"]),
              ("controls", [c for c in reconstruction.CONTROLS]),
              ("baselines", list(reconstruction.commentary.ENVELOPE_BASELINES))]
    parts = []
    for label, conditions in groups:
        counts = [f"{_CONTROL_NAMES.get(c, c) if len(conditions) > 1 else ''} {_count(summary, judge, c)}".strip()
                  for c in conditions if c in summary.index]
        if counts:
            parts.append(f"{label} {', '.join(counts)}")
    return (f"CAM++ accepts {_count(summary, judge, converted)} converted clips as the target"
            + (f" ({'; '.join(parts)})." if parts else "."))


def _content(summary: pd.DataFrame, converted: str, check: pd.DataFrame) -> str:
    if "content" not in check.index or converted not in summary.index:
        return ""
    if not check.loc["content", "reliable"]:
        return f"The content check cannot judge this pair ({check.loc['content', 'why']})."
    source = f", the source in {_count(summary, 'content', 'source')}" if "source" in summary.index else ""
    return (f"Content check: the converted clips find their own sentence in "
            f"{_count(summary, 'content', converted)}{source}.")


def cloning_finding(summary: pd.DataFrame, *, converted: str = "converted") -> str:
    """One or two sentences on a pair's cloned voice, from notebook 05's summary.

    Parameters
    ----------
    summary : pd.DataFrame
        :func:`voxlib.reconstruction.summarize_conditions`'s table (``summary.csv``, index = condition).
    converted : str
        The condition that is the converted voice (:func:`pair_choice`).

    Returns
    -------
    str
        How many converted clips the CAM++ verifier accepts as the target, beside the real target
        clips, the source clips, the controls and the baselines present (``k/n``); then what the
        content check finds for the converted clips and the source. A judge that
        :func:`voxlib.reconstruction.control_check` finds unreliable is named with the reason and
        none of its counts is given.
    """
    check = reconstruction.control_check(summary)
    return " ".join(p for p in (_voice(summary, converted, check), _content(summary, converted, check)) if p)


def best_baseline(summary: pd.DataFrame) -> str | None:
    """The baseline condition (``gmm``, ``ridge``) the verifier accepts most often, ties to the lower MCD;
    None when the summary has neither."""
    present = [c for c in reconstruction.commentary.ENVELOPE_BASELINES if c in summary.index]
    if not present:
        return None
    rate = f"{reconstruction.PRIMARY_JUDGE}_rate"
    keys = {c: (-float(summary.loc[c, rate]) if rate in summary.columns else 0.0, float(summary.loc[c, "mcd_db"]))
            for c in present}
    return min(present, key=keys.__getitem__)


def played_sentence(reconstructions: pd.DataFrame, *, seed: int = 0) -> str:
    """The held-out sentence notebook 05 plays and its explorer opens on: its seeded choice
    (``numpy.random.default_rng(seed).choice``) among the utterances of ``reconstructions.csv``,
    in the table's order."""
    return str(np.random.default_rng(seed).choice(reconstructions["utterance"].unique()))
