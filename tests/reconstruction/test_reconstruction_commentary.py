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


def test_verdict_uses_only_judges_that_reject_the_controls():
    good = _summary({"source": (0.0, 0.0), "converted": (0.1, 0.9), "null_flat": (0.0, 0.6),
                     "control_channel": (0.1, 0.2), "target": (0.9, 1.0)})
    check = R.control_check(good)
    assert check["reliable"].to_dict() == {"verifier": True, "dvector_lr": False, "closer_centroid": False}
    text = R.verdict(good)
    assert "Primary judge, speaker verification" in text and "accepts 1/10 (10%, 95% CI" in text
    assert "9/10 (90%" in text and "clearly less often than the real target" in text
    assert "no verdict on the voice" not in text
    assert "d-vector + logistic regression" in text and "unreliable for this pair, not used" in text
    assert "not a verdict" in text and "No classifier" in text
    fooled = _summary({"source": (0.0, 0.0), "converted": (0.0, 0.9), "null_flat": (0.3, 0.0),
                       "control_channel": (0.0, 0.0), "target": (0.9, 1.0)})
    text = R.verdict(fooled)
    assert "unreliable for this pair and no verdict on the voice is given" in text and "null_flat 30%" in text
    assert "No converted clip passes" not in text
    assert "(reliable: it rejects the controls)" in text
