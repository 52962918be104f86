"""voxlib.reconstruction.commentary: the verdict (the generated paragraph), its named thresholds, and the
judges it trusts."""
from __future__ import annotations

import numpy as np
import pandas as pd

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
    assert "Content check" in text and "the scrambled-target control in 0/10" in text and "content is kept" in text
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
