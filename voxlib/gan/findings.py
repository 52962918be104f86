"""What notebook 04's numbers say: one sentence per result, written from the run's own numbers.

Each function reads what a notebook 04 cell returns (the pitch statistics, the alignment L1s, the
loss table, the GMM baseline's validation table, the image scores) and returns the finding as plain
text, with the comparison words chosen by the numbers, so the prose stays true when the parameters
change. The thresholds of the wording are named constants: :data:`TIE_PIXELS`, :data:`TIE_DB`,
:data:`TIE_RELATIVE` and :data:`CLOSE_PITCH_ST`.
"""
from __future__ import annotations

import math

import pandas as pd

__all__ = ["TIE_PIXELS", "TIE_DB", "TIE_RELATIVE", "CLOSE_PITCH_ST", "CHANCE_DISC_LOSS", "SOURCE_CANDIDATE",
           "BASELINE_CANDIDATES", "pitch_finding", "alignment_finding", "loss_finding", "gmm_finding",
           "image_score_finding"]

#: Smallest image-L1 difference (pixels on the 0-255 scale) worded as "better" or "worse"; smaller ones are
#: ties. A convention of this module (chosen by hand): it keeps rounding-level differences from being
#: reported as a gain.
TIE_PIXELS = 0.1
#: Smallest LSD / MCD difference (dB) worded as "closer" or "beats"; smaller ones are ties. A convention
#: (chosen by hand), shared with notebook 05's verdict (:mod:`voxlib.reconstruction.commentary`).
TIE_DB = 0.1
#: Smallest relative change of a loss over training worded as "fell" or "rose" (1 %, a convention).
TIE_RELATIVE = 0.01
#: Gap between the two speakers' median F0 (semitones) below which their pitches are called close
#: (a convention, chosen by hand: about the smallest pitch step listeners reliably hear in running speech).
CLOSE_PITCH_ST = 1.0
#: The discriminator's loss when it outputs 0.5 for every real and every generated pair:
#: BCE(real) + BCE(generated) = 2 ln 2. Below it, the discriminator still tells the two apart.
CHANCE_DISC_LOSS = 2 * math.log(2)
#: The image-score row of the trivial mapping "output = source image" (notebook 04's candidates).
SOURCE_CANDIDATE = "baseline: output = source"
#: The baseline rows of the image scores, candidate name -> words.
BASELINE_CANDIDATES = {"ridge baseline": "the ridge baseline", "GMM baseline": "the GMM baseline"}


def _semitones(ratio: float) -> float:
    return 12.0 * math.log2(ratio)


def pitch_finding(stats) -> str:
    """The two speakers' pitch and what the conversion does to the source's.

    Parameters
    ----------
    stats : dict or None
        ``{"source": LogF0Stats, "target": LogF0Stats}`` (:func:`voxlib.gan.load_pitch_stats`), or None
        when the pitch was kept.

    Returns
    -------
    str
    """
    if stats is None:
        return "The pitch was kept (pitch_mode = 'keep' or folder mode): the source's F0 is not moved."
    src, tgt = stats["source"], stats["target"]
    f_src, f_tgt = math.exp(src.mean), math.exp(tgt.mean)
    gap = _semitones(f_tgt / f_src)
    text = (f"Median F0 {f_src:.0f} Hz for the source and {f_tgt:.0f} Hz for the target, "
            f"{abs(gap):.1f} semitones apart: ")
    if abs(gap) < CLOSE_PITCH_ST:
        text += "the two pitches are close, so the conversion mostly reshapes the source's intonation"
    else:
        text += f"the conversion moves the source's pitch {'up' if gap > 0 else 'down'} by {abs(gap):.1f} semitones"
    spread = ("narrows" if tgt.std < src.std * (1 - TIE_RELATIVE) else
              "widens" if tgt.std > src.std * (1 + TIE_RELATIVE) else "keeps")
    return text + f" and {spread} its spread ({src.std:.3f} → {tgt.std:.3f} ln Hz)."


def alignment_finding(l1: dict) -> str:
    """What the run's pairing does to the distance between training source and target images.

    Parameters
    ----------
    l1 : dict
        :func:`voxlib.gan.alignment_l1`'s ``{"VAD only (the thesis)": float, "<alignment> (this run)": float}``.

    Returns
    -------
    str
    """
    (thesis_name, thesis), (run_name, ours) = list(l1.items())[:2]
    how = run_name.replace(" (this run)", "")
    text = (f"Mean pixel L1 between each training source image and its target: {thesis:.2f} with the thesis's "
            f"VAD-only pairing, {ours:.2f} with this run's ({how})")
    if how == "vad":
        return text + ": this run pairs the clips as the thesis did."
    if ours < thesis - TIE_PIXELS:
        return text + f": {how} brings the pairs {100 * (thesis - ours) / thesis:.0f}% closer."
    if ours > thesis + TIE_PIXELS:
        return text + f": {how} leaves the pairs further apart than the thesis's pairing does."
    return text + f": {how} brings the pairs no closer."


def loss_finding(losses: pd.DataFrame) -> str:
    """How the generator's L1 term moved over training, and where the discriminator ended.

    Parameters
    ----------
    losses : pd.DataFrame
        One row per epoch with ``epoch``, ``gen_l1`` and ``disc`` (:data:`voxlib.gan.LOSS_COLUMNS`).

    Returns
    -------
    str
    """
    if len(losses) == 0:
        return "No epoch was trained, so there is no loss to read."
    first, last = losses.iloc[0], losses.iloc[-1]
    disc = (f"the discriminator's loss ended at {last['disc']:.2f} "
            + ("(below 2 ln 2 ≈ 1.39, the loss of a discriminator that cannot tell real from generated: it "
               "still tells them apart)." if last["disc"] < CHANCE_DISC_LOSS else
               "(at or above 2 ln 2 ≈ 1.39: it no longer tells real from generated better than a coin)."))
    if len(losses) == 1:
        return f"One epoch only (L1 term {first['gen_l1']:.3f}), so no trend yet; {disc}"
    change = (last["gen_l1"] - first["gen_l1"]) / first["gen_l1"]
    verb = "fell" if change < -TIE_RELATIVE else "rose" if change > TIE_RELATIVE else "stayed flat"
    return (f"The L1 term on the training sentences {verb} from {first['gen_l1']:.3f} after epoch "
            f"{int(first['epoch'])} to {last['gen_l1']:.3f} after epoch {int(last['epoch'])} "
            f"({100 * change:+.0f}%); {disc}")


def gmm_finding(choices: pd.DataFrame) -> str:
    """The GMM baseline's chosen setting against copying the source, on the validation sentences.

    Parameters
    ----------
    choices : pd.DataFrame
        :func:`voxlib.gan.gmm_baseline`'s table: a first row ``features == "copy source"``, then the settings
        tried, ``validation_lsd_db`` and a boolean ``chosen``.

    Returns
    -------
    str
    """
    copy = choices.iloc[0]["validation_lsd_db"]
    tried = choices.iloc[1:]
    best = tried[tried["chosen"].astype(bool)].iloc[0]
    gv = "with" if bool(best["global_variance"]) else "without"
    text = (f"On the validation sentences the chosen mapping ({best['features']}, {int(best['n_components'])} "
            f"component{'s' if int(best['n_components']) != 1 else ''}, {gv} the global-variance post-filter) is "
            f"{best['validation_lsd_db']:.2f} dB LSD from the target, against {copy:.2f} dB for copying the source")
    text += (": it moves the envelopes towards the target's" if best["validation_lsd_db"] < copy - TIE_DB else
             ": it does not beat copying the source")
    by_gv = tried.groupby(tried["global_variance"].astype(bool))["validation_lsd_db"].min()
    if len(by_gv) == 2:
        delta = by_gv[True] - by_gv[False]
        text += ("; the global-variance post-filter " + ("hurts" if delta > TIE_DB else "helps" if delta < -TIE_DB
                                                          else "changes nothing") +
                 f" (best {by_gv[True]:.2f} dB with it, {by_gv[False]:.2f} dB without)")
    return text + "."


def _compare(a: float, b: float) -> str:
    """``"better than"``, ``"worse than"`` or ``"tied with"`` for two L1s (lower is better) (internal)."""
    return "better than" if a < b - TIE_PIXELS else "worse than" if a > b + TIE_PIXELS else "tied with"


def image_score_finding(scores: pd.DataFrame, *, mode: str = "instance", split: str = "held-out") -> str:
    """pix2pix's held-out image distance against copying the source and the baselines, in words.

    Parameters
    ----------
    scores : pd.DataFrame
        :func:`voxlib.gan.write_image_scores`'s table: ``candidate`` (``"pix2pix, <mode> mode"``,
        :data:`SOURCE_CANDIDATE`, :data:`BASELINE_CANDIDATES`), ``n_images``, ``l1``, ``psnr_db``.
    mode : str
        The generate mode whose row is "pix2pix" (notebook 04's ``generate_mode``).
    split : str
        Which images were scored, in words (``"held-out"``; ``"training"`` when nothing was held out).

    Returns
    -------
    str
        One sentence with the numbers and the outcome: no better than copying the source; better than
        copying but a baseline at least as good (named); or better than every baseline. A second sentence
        compares Keras's inference mode when its row is present and ``mode`` is not it.
    """
    l1 = scores.set_index("candidate")["l1"]
    name = f"pix2pix, {mode} mode"
    missing = [c for c in (name, SOURCE_CANDIDATE) if c not in l1.index]
    if missing:
        raise ValueError(f"scores has no row {missing[0]!r}; its candidates are {list(l1.index)}")
    ours, copy = l1[name], l1[SOURCE_CANDIDATE]
    n = int(scores.set_index("candidate").loc[name, "n_images"])
    baselines = {c: w for c, w in BASELINE_CANDIDATES.items() if c in l1.index}
    against = [f"{copy:.2f} for copying the source"] + [f"{l1[c]:.2f} for {w}" for c, w in baselines.items()]
    text = (f"On the {n} {split} images pix2pix ({mode} mode) is {ours:.2f} pixels L1 from the target, against "
            + (", ".join(against[:-1]) + " and " if len(against) > 1 else "") + against[-1] + ": ")
    as_good = [w for c, w in baselines.items() if l1[c] <= ours + TIE_PIXELS]
    if ours >= copy - TIE_PIXELS:
        text += (f"pix2pix is {_compare(ours, copy)} copying the source: what it learnt does not carry over to "
                 "these sentences.")
    elif as_good:
        text += (f"it beats copying the source, but {' and '.join(as_good)} {'is' if len(as_good) == 1 else 'are'} "
                 "at least as good; on image distance the GAN adds nothing a simpler mapping does not give.")
    else:
        text += "it beats copying the source" + (" and every baseline." if baselines else ".")
    inference = "pix2pix, inference mode"
    if mode != "inference" and inference in l1.index:
        text += (f" Run in Keras's inference mode the same generator scores {l1[inference]:.2f}: "
                 f"{_compare(l1[inference], ours)} the {mode} mode.")
    return text
