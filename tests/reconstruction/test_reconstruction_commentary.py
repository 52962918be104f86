"""voxlib.reconstruction.commentary: the verdict (the generated paragraph), its named thresholds, and the
judges it trusts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reconstruction_fakes import _summary
from voxlib import reconstruction as R


def test_verdict_without_classifier_and_with_a_useless_generator():
    summary = pd.DataFrame({"mcd_db": [6.0, 7.5, 4.0], "rms_ratio_db": [0.0, -1.0, 0.0],
                            "snr_db": [np.nan] * 3},
                           index=pd.Index(["source", "converted", "oracle_source_phase"], name="condition"))
    text = R.verdict(summary)
    assert "no closer to the target" in text and "not learnt" in text
    assert "No classifier" in text


def test_verdict_pipeline_check_turns_at_its_named_threshold():
    def text(snr):
        summary = pd.DataFrame({"mcd_db": [2.0], "rms_ratio_db": [0.0], "snr_db": [snr]},
                               index=pd.Index(["oracle_own"], name="condition"))
        return R.verdict(summary)

    assert "pipeline is sound" in text(R.PIPELINE_SNR_DB + 0.5)
    assert "squeezes the time axis" in text(R.PIPELINE_SNR_DB - 0.5)


def test_verdict_doubts_a_target_rate_the_spectrum_does_not_support():
    idx = pd.Index(["source", "converted", "target"], name="condition")
    base = {"mcd_db": [4.5, 3.7, 0.0], "rms_ratio_db": [2.0, -0.5, 0.0], "snr_db": [np.nan] * 3,
            "target_rate": [0.1, 1.0, 0.8], "source_rate": [0.7, 0.0, 0.0]}
    doubtful = R.verdict(pd.DataFrame({**base, "lsd_db": [15.0, 15.7, 0.0]}, index=idx))
    assert "labels 100% of the converted clips as the target" in doubtful
    assert "recording channel" in doubtful and "too low" not in doubtful
    closer = R.verdict(pd.DataFrame({**base, "lsd_db": [15.0, 9.0, 0.0]}, index=idx))
    assert "recording channel" not in closer
    weak_judge = R.verdict(pd.DataFrame({**base, "lsd_db": [15.0, 9.0, 0.0],
                                         "target_rate": [0.1, 1.0, R.RELIABLE_JUDGE_RATE - 0.1]}, index=idx))
    assert "too low for this rate to mean much" in weak_judge


def test_verdict_uses_only_judges_that_reject_their_controls_and_pass_their_calibration():
    good = _summary({"source": (0.0, 0.0), "converted": (0.1, 0.9), "null_flat": (0.0, 0.6),
                     "control_channel": (0.1, 0.2), "control_scrambled": (0.8, 0.9), "target": (0.9, 1.0)})
    check = R.control_check(good)
    assert check["reliable"].to_dict() == {"verifier": True, "dvector_verifier": False, "closer_centroid": False,
                                           "content": True}
    text = R.verdict(good)
    assert "Primary judge of the voice, CAM++ speaker verification" in text and "calibration EER 0.0%" in text
    assert "accepts 1/10 (10%, 95% CI" in text and "9/10 (90%" in text
    assert "clearly less often than the real target" in text and "no verdict on the voice" not in text
    # the d-vector verifier accepts the flat image in 60 % of sentences: named, and none of its counts quoted
    assert "The d-vector verifier (the bundle's earlier judge) is not used for this pair: accepts null_flat in 60%" in text
    assert "6/10" not in text and "the d-vector verifier (calibration" not in text.lower()
    # the content check, beside the source's own rate and its scrambled control
    assert "Content check" in text and "the stitched-target control (its voice on its other sentences) in 0/10" in text and "content is kept" in text
    # the verifier accepts the scrambled target (it keeps the voice): not a control it is held to
    assert "control_scrambled" not in check.columns or np.isnan(check.loc["verifier"].get("control_scrambled", np.nan))
    fooled = _summary({"source": (0.0, 0.0), "converted": (0.0, 0.0), "null_flat": (0.3, 0.0),
                       "control_channel": (0.0, 0.0), "target": (0.9, 1.0)})
    text = R.verdict(fooled)
    assert "accepts null_flat in 30% of sentences" in text and "no verdict on the voice is given" in text
    assert "No converted clip passes" not in text and "0/10 (0%" not in text.split("For comparison")[0]
    assert "For comparison, the d-vector verifier (calibration EER 5.0%" in text
    weak = _summary({"source": (0.0, 0.0), "converted": (0.5, 0.0), "null_flat": (0.0, 0.0),
                     "control_channel": (0.0, 0.0), "target": (1.0, 1.0)}, eer={"verifier": 0.2})
    text = R.verdict(weak)
    assert "calibration EER 20.0% on the training clips (above 10%)" in text and "5/10" not in text
    lost = _summary({"source": (0.0, 0.0), "converted": (0.6, 0.0), "null_flat": (0.0, 0.0),
                     "control_channel": (0.0, 0.0), "control_scrambled": (1.0, 1.0), "target": (1.0, 1.0)},
                    content={"converted": 0.3, "source": 0.9})
    assert "the content is partly lost (6 sentences fewer than the source)" in R.verdict(lost)
    unscored = R.verdict(lost.drop(index="control_scrambled"))      # a judge without its control is not trusted
    assert "The content check is not used for this pair: none of its controls was scored" in unscored


def test_a_ridge_comparison_within_noise_is_a_tie_and_counts_only_a_reliable_judge():
    rates = {"source": (0.0, 0.0), "converted": (0.0, 0.0), "ridge": (0.1, 0.0), "null_flat": (0.0, 0.0),
             "control_channel": (0.0, 0.0), "target": (1.0, 1.0)}
    text = R.verdict(_summary(rates))
    assert "CAM++ verifier acceptance 0/10" in text and "tied within noise" in text
    assert "does not match" not in text
    separated = R.verdict(_summary(rates | {"ridge": (0.9, 0.0)}))
    assert "pix2pix does not match a linear frame mapping" in separated
    unreliable = R.verdict(_summary(rates | {"null_flat": (0.5, 0.0)}))
    assert "Against the ridge-regression baseline" in unreliable and "verifier acceptance" not in unreliable


def test_every_number_names_its_measure():
    summary = _summary({"source": (0.0, 0.0), "converted": (0.0, 0.0), "converted_refined": (0.0, 0.0),
                        "target": (1.0, 1.0)})
    summary["median_f0_hz"], summary["has_f0"], summary["log_f0_rmse_st"] = 180.0, 1.0, 2.0
    text = R.verdict(summary)
    assert "Phase refinement gives an MCD of 4.00 dB" in text
    assert "mean over the clips of each clip's median F0" in text


ENVELOPE_RATES = {"source": (0.0, 0.0), "source_pitch": (0.0, 0.0), "converted": (0.3, 0.0), "gmm": (0.4, 0.0),
                  "ridge": (0.2, 0.0), "null_flat": (0.0, 0.0), "control_channel": (0.0, 0.0),
                  "control_scrambled": (0.8, 0.0), "oracle_world": (0.3, 0.0), "oracle_filter": (0.5, 0.0),
                  "world_copy": (1.0, 0.0), "target": (1.0, 1.0)}


def test_the_verdict_names_the_synthesis():
    summary = _summary(ENVELOPE_RATES)
    text = R.verdict(summary, synthesis=R.SynthesisSettings("world", global_variance=True))
    assert "Synthesis of the envelope images: world, converted aperiodicity, GV (WORLD synthesis" in text
    assert "global-variance post-filter" in text and "a flat envelope through the same synthesis" in text
    scalogram = _summary({c: ENVELOPE_RATES[c] for c in ("source", "converted", "null_flat", "control_channel",
                                                          "target")})
    assert "inverse CWT of each image with the source's phase" in R.verdict(scalogram, synthesis="source_phase")
    assert "Synthesis" not in R.verdict(scalogram) and "flat image with the source's phase" in R.verdict(scalogram)


def test_the_verdict_says_which_ceiling_the_conversion_ran_into():
    world = R.SynthesisSettings("world")
    text = R.verdict(_summary(ENVELOPE_RATES), synthesis=world)
    # converted 3/10 tied with the true envelope through WORLD (3/10), which is clearly below WORLD copy (10/10)
    assert "CAM++ verifier acceptance: converted 3/10 (30%" in text and "world_copy 10/10 (100%" in text
    assert "The conversion ran into the synthesis: it is tied within noise with the true target envelope through " \
           "the same synthesis (oracle_world)" in text
    generator = R.verdict(_summary(ENVELOPE_RATES | {"converted": (0.0, 0.0), "oracle_world": (0.8, 0.0)}),
                          synthesis=world)
    assert "The conversion ran into the generator" in generator
    vocoder = R.verdict(_summary(ENVELOPE_RATES | {"converted": (0.8, 0.0)}), synthesis=world)
    assert "The conversion ran into the vocoder's own ceiling" in vocoder
    # a filter run is held to the filter's own oracle: 5/10, tied with converted (3/10) and with WORLD copy
    filtered = R.verdict(_summary(ENVELOPE_RATES), synthesis=R.SynthesisSettings("filter"))
    assert "Synthesis of the envelope images: filter (the pitch-converted" in filtered
    assert "ran into no single ceiling" in filtered
    filtered = R.verdict(_summary(ENVELOPE_RATES | {"converted": (0.0, 0.0), "oracle_filter": (0.8, 0.0)}),
                         synthesis=R.SynthesisSettings("filter"))
    assert "ran into the generator: the true target envelope through the same synthesis (oracle_filter)" in filtered
    # a verifier that accepts a control counts nothing: the ceiling is read from LSD alone
    fooled = _summary(ENVELOPE_RATES | {"null_flat": (0.5, 0.0)})
    fooled["lsd_db"] = fooled.index.map({"converted": 9.0, "oracle_world": 7.0}).fillna(6.0)
    text = R.verdict(fooled, synthesis=world)
    assert "CAM++ verifier acceptance" not in text and "ceiling is read from LSD alone" in text
    assert "the conversion ran into the generator" in text and "3/10" not in text


def test_pix2pix_is_held_to_the_baselines_on_acceptance_within_noise():
    world = R.SynthesisSettings("world")
    tied = R.verdict(_summary(ENVELOPE_RATES), synthesis=world)
    assert "Against the baselines on the same envelopes and synthesis" in tied
    assert "the joint-density GMM baseline LSD 15.0 dB, CAM++ acceptance 4/10" in tied
    assert "(pix2pix: tied within noise)" in tied and "trails the joint-density GMM baseline by 1 of 10" in tied
    assert "Against the ridge-regression baseline" not in tied                  # the scalogram run's sentence
    behind = R.verdict(_summary(ENVELOPE_RATES | {"gmm": (1.0, 0.0), "converted": (0.1, 0.0)}), synthesis=world)
    assert "pix2pix falls short of the joint-density GMM baseline by 9 of 10 sentences" in behind
    ahead = R.verdict(_summary(ENVELOPE_RATES | {"converted": (0.9, 0.0)}), synthesis=world)
    assert "pix2pix is accepted at least as often as every baseline" in ahead
    unreliable = R.verdict(_summary(ENVELOPE_RATES | {"control_channel": (0.4, 0.0)}), synthesis=world)
    assert "acceptance is not compared" in unreliable and "4/10" not in unreliable


# --- the verdict's finding first, and the finding after each of notebook 05's results ---

def test_the_verdict_opens_with_its_finding_in_one_or_two_sentences():
    world = R.SynthesisSettings("world")
    text = R.verdict(_summary(ENVELOPE_RATES), synthesis=world)
    head, details = text.split("\n\n")
    assert head == R.finding(_summary(ENVELOPE_RATES)) and head.startswith("Finding: ")
    assert head.count(". ") + 1 <= 2 and details.startswith("Synthesis of the envelope images")
    assert ("accepts 3/10 converted clips as the target's voice, clearly less often than the real target clips "
            "(10/10)") in head
    assert "pix2pix is tied within noise with the joint-density GMM baseline and the ridge baseline" in head
    as_often = R.finding(_summary(ENVELOPE_RATES | {"converted": (0.9, 0.0), "gmm": (0.1, 0.0), "ridge": (0.7, 0.0)}))
    assert "about as often as the real target clips (10/10; the intervals overlap)" in as_often
    assert ("on CAM++ acceptance, pix2pix is ahead of the joint-density GMM baseline; tied within noise with the "
            "ridge") in as_often
    none = R.finding(_summary(ENVELOPE_RATES | {"converted": (0.0, 0.0), "gmm": (1.0, 0.0)}))
    assert "0/10 converted clips" in none and "does not pass as the target" in none
    assert "behind the joint-density" in none


def test_the_finding_quotes_no_count_of_an_unreliable_verifier_and_reads_the_spectrum():
    fooled = _summary(ENVELOPE_RATES | {"null_flat": (0.5, 0.0)})
    fooled["lsd_db"] = fooled.index.map({"converted": 9.0, "source": 12.0, "ridge": 10.0}).fillna(6.0)
    text = R.finding(fooled)
    assert "cannot judge this pair (accepts null_flat in 50% of sentences)" in text and "3/10" not in text
    assert "closer to the target's than the source's on LSD only" in text            # MCD 4.0 everywhere: a tie
    assert "on LSD, pix2pix is behind the joint-density GMM baseline; ahead of the ridge baseline" in text
    plain = pd.DataFrame({"mcd_db": [6.0, 5.0], "lsd_db": [12.0, 10.0]}, index=pd.Index(["source", "converted"]))
    assert R.finding(plain) == ("Finding: no verifier was run, and the converted spectrum is closer to the "
                                "target's than the source's on both MCD and LSD.")
    assert "no 'converted' row" in R.finding(plain.drop(index="converted"))


def test_judges_and_choice_findings():
    described = pd.DataFrame({"encoder": ["campplus", "dvector"], "threshold": [0.594, 0.855],
                              "calibration EER": [0.0, 1 / 3], "too weak": [False, True]},
                             index=pd.Index(["verifier", "dvector_verifier"], name="judge"))
    text = R.judges_finding(described)
    assert text.startswith("The CAM++ verifier has a calibration EER of 0.0% (threshold 0.594)")
    assert "the d-vector verifier (dvector_verifier) has a calibration EER of 33.3%" in text and "set aside" in text
    table = pd.DataFrame({"n": 8, "verifier_rate": [0.0, 0.875, 1.0, 1.0], "lsd_db": [14.4, 11.6, 11.6, 11.7],
                          "eligible": [False, True, True, True], "chosen": [False, False, True, False]},
                         index=["source", "filter", "filter, GV", "world, GV"])
    chose = R.choice_finding(table)
    assert "source 0/8 (LSD 14.4 dB); filter 7/8" in chose and "The rule chose the synthesis 'filter, GV'" in chose
    assert "tied on acceptance with 'world, GV'; the rule broke the tie by the centroid margin" in chose
    three = R.choice_finding(table.assign(verifier_rate=[0.0, 1.0, 1.0, 1.0]))
    assert "tied on acceptance with 'filter' and 'world, GV';" in three
    clear = R.choice_finding(table.drop(index="world, GV"), what="phase mode")
    assert "the phase mode 'filter, GV', the eligible one the verifier accepts most often" in clear
    nothing = R.choice_finding(table.assign(eligible=False))
    assert "no synthesis was eligible" in nothing


def _sentences(converted, source):
    rows = [{"utterance": f"u{i}", "condition": c, "mcd_db": v}
            for i, (a, b) in enumerate(zip(converted, source)) for c, v in (("converted", a), ("source", b))]
    return pd.DataFrame(rows)


def test_sentence_finding_counts_the_sentences_a_mean_hides():
    carried = _sentences([1.0, 5.0, 5.0, 5.0], [5.0, 5.05, 5.0, 4.0])   # mean 4.0 < 4.76, one sentence carries it
    text = R.sentence_finding(carried)
    assert text.startswith("On MCD, the converted clip is closer to the target than the source on 1 of the 4 "
                           "sentences, further on 1") and "no gain that holds" in text
    assert "holds sentence by sentence" in R.sentence_finding(_sentences([3.0, 3.0, 3.0], [4.0, 4.0, 2.0]))


def test_summary_and_acceptance_findings_reuse_the_verdicts_sentences():
    summary = _summary({"source": (0.0, 0.0), "converted": (0.9, 0.0), "null_flat": (0.0, 0.0),
                        "control_channel": (0.0, 0.0), "control_scrambled": (0.0, 0.0), "target": (1.0, 1.0)})
    summary["lsd_db"] = summary.index.map({"converted": 9.0, "source": 12.0, "null_flat": 13.0}).fillna(0.0)
    summary["mcd_db"] = summary.index.map({"converted": 3.8, "source": 4.6, "null_flat": 5.3}).fillna(0.0)
    text = R.summary_finding(summary)
    assert "3.80 dB MCD from the target against 4.60 dB" in text and "closer to the target on both measures" in text
    assert "It beats a flat image with the source's phase on MCD and LSD" in text
    accepted = R.acceptance_finding(summary)
    assert accepted.startswith("Reliable for this pair: verifier, dvector_verifier, content; set aside: "
                               "closer_centroid — accepts null_flat in 100% of sentences")
    assert "accepts 9/10 converted clips" in accepted and "the content is kept" in accepted
    fooled = R.acceptance_finding(summary.assign(verifier_rate=summary["verifier_rate"].where(
        summary.index != "control_channel", 0.4)))
    assert "verifier — accepts control_channel in 40% of sentences" in fooled and "accepts 9/10" not in fooled


def test_similarity_finding_reads_the_t_intervals():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(10):
        for condition, margin in (("source", -0.34), ("converted", 0.12), ("null_flat", -0.33)):
            noise = 0.02 * rng.standard_normal()
            rows.append({"utterance": f"u{i}", "condition": condition, "sim_target_centroid": 0.5 + margin / 2 + noise,
                         "sim_source_centroid": 0.5 - margin / 2})
    intervals = R.similarity_intervals(pd.DataFrame(rows))
    moved = R.similarity_finding(intervals)
    assert "the intervals separate, so the converted clips moved toward the target's voice, and past the" in moved
    assert "overlap" in R.similarity_finding(intervals, converted="null_flat")
    assert "No margin" in R.similarity_finding(intervals.drop(columns="margin"))


def test_width_summary_and_finding_apply_to_scalogram_runs_only():
    table = pd.concat([pd.DataFrame({"image": ["none", "8-bit", "8-bit", "8-bit"], "width": [24000, 128, 512, 24000],
                                     "snr_db": [23.0 + k, 8.0 + k, 12.0 + k, 20.0 + k], "spectral_convergence": 0.1,
                                     "mcd_db": 1.0, "lsd_db": [1.0, 6.0, 4.0, 2.0], "utterance": f"u{k}"})
                       for k in (0, 2)])
    summary = R.width_summary(table)
    assert list(summary.index) == [("none", 24000), ("8-bit", 128), ("8-bit", 512), ("8-bit", 24000)]
    assert summary.loc[("8-bit", 128), "snr_db"] == 9.0
    text = R.width_finding(summary, width=128)
    assert "reaches 24.0 dB SNR" in text and "128 columns wide, the generated images' width, gives 9.0 dB" in text
    assert "no 640-column image" in R.width_finding(summary, width=640)
    with pytest.raises(ValueError, match="scalogram runs only"):
        R.width_summary(pd.DataFrame({"width": [640], "snr_db": [1.0]}))
