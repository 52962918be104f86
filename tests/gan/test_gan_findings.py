"""Tests of voxlib.gan.findings: notebook 04's findings, each outcome worded from the numbers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from voxlib import gan, metrics, pitch


def _scores(l1: dict, n=4, size=(8, 16)):
    """Image scores computed by voxlib.metrics on constant images whose L1 to the target is ``l1[name]``."""
    target = np.full((n, *size, 1), 100, dtype=np.uint8)
    return metrics.image_scores(target, {name: (target + np.uint8(round(v))) for name, v in l1.items()})


COPY, INSTANCE, INFERENCE = gan.SOURCE_CANDIDATE, "pix2pix, instance mode", "pix2pix, inference mode"


def test_image_scores_name_each_outcome_from_the_numbers():
    worse = gan.image_score_finding(_scores({COPY: 12, INSTANCE: 14, "ridge baseline": 11}))
    assert "pix2pix (instance mode) is 14.00 pixels L1 from the target, against 12.00 for copying" in worse
    assert "12.00 for copying the source and 11.00 for the ridge baseline" in worse
    assert "worse than copying the source" in worse
    tied = gan.image_score_finding(_scores({COPY: 12, INSTANCE: 12}))
    assert "tied with copying the source" in tied
    ridge = gan.image_score_finding(_scores({COPY: 18, INSTANCE: 15, "ridge baseline": 14, "GMM baseline": 16}))
    assert "it beats copying the source, but the ridge baseline is at least as good" in ridge
    assert "GMM baseline is" not in ridge
    both = gan.image_score_finding(_scores({COPY: 18, INSTANCE: 15, "ridge baseline": 15, "GMM baseline": 13}))
    assert "the ridge baseline and the GMM baseline are at least as good" in both      # a tie counts as "as good"
    ahead = gan.image_score_finding(_scores({COPY: 18, INSTANCE: 10, "ridge baseline": 14, "GMM baseline": 13}))
    assert ahead.endswith("it beats copying the source and every baseline.")
    alone = gan.image_score_finding(_scores({COPY: 18, INSTANCE: 10}))
    assert alone.endswith("it beats copying the source.")


def test_image_scores_compare_the_inference_mode_and_refuse_a_missing_row():
    text = gan.image_score_finding(_scores({COPY: 18, INSTANCE: 10, INFERENCE: 16}))
    assert "On the 4 held-out images" in text
    assert "Keras's inference mode the same generator scores 16.00: worse than the instance mode" in text
    thesis = gan.image_score_finding(_scores({COPY: 18, "pix2pix, thesis mode": 10, INFERENCE: 9}), mode="thesis",
                                     split="training")
    assert "On the 4 training images pix2pix (thesis mode)" in thesis and "9.00: better than the thesis mode" in thesis
    with pytest.raises(ValueError, match="pix2pix, instance mode"):
        gan.image_score_finding(_scores({COPY: 18}))


def test_alignment_finding_reads_the_pairing():
    assert "dtw brings the pairs 34% closer" in gan.alignment_finding(
        {"VAD only (the thesis)": 29.4, "dtw (this run)": 19.39})
    assert "no closer" in gan.alignment_finding({"VAD only (the thesis)": 10.0, "dtw (this run)": 10.05})
    assert "further apart" in gan.alignment_finding({"VAD only (the thesis)": 10.0, "dtw (this run)": 11.0})
    assert "as the thesis did" in gan.alignment_finding({"VAD only (the thesis)": 10.0, "vad (this run)": 10.0})


def _losses(l1, disc):
    return pd.DataFrame({"epoch": np.arange(1, len(l1) + 1), "gen_l1": l1, "disc": disc})


def test_loss_finding_words_the_trend_and_the_discriminator():
    fell = gan.loss_finding(_losses([0.139, 0.12, 0.096], [1.7, 1.2, 1.2]))
    assert "fell from 0.139 after epoch 1 to 0.096 after epoch 3 (-31%)" in fell
    assert "ended at 1.20 (below 2 ln 2" in fell and "still tells them apart" in fell
    assert gan.CHANCE_DISC_LOSS == pytest.approx(1.3863, abs=1e-4)
    rose = gan.loss_finding(_losses([0.1, 0.12], [1.5, 1.45]))
    assert "rose from 0.100" in rose and "no longer tells real from generated" in rose
    assert "stayed flat" in gan.loss_finding(_losses([0.1, 0.1005], [1.0, 1.0]))
    assert "One epoch only" in gan.loss_finding(_losses([0.1], [1.0]))
    assert "No epoch" in gan.loss_finding(_losses([], []))


def _choices(copy, rows):
    table = pd.DataFrame([dict(features="copy source", n_components=0, global_variance=False, validation_lsd_db=copy)]
                         + [dict(features=f, n_components=k, global_variance=gv, validation_lsd_db=v)
                            for f, k, gv, v in rows])
    table["chosen"] = False
    table.loc[table.index[1:][np.argmin(table["validation_lsd_db"].to_numpy()[1:])], "chosen"] = True
    return table


def test_gmm_finding_names_the_chosen_setting_and_the_post_filter():
    text = gan.gmm_finding(_choices(14.80, [("bands", 1, False, 10.39), ("bands", 1, True, 12.0),
                                            ("mcep", 1, False, 10.36), ("mcep", 2, True, 12.4)]))
    assert "(mcep, 1 component, without the global-variance post-filter) is 10.36 dB LSD" in text
    assert "against 14.80 dB for copying the source: it moves the envelopes towards the target's" in text
    assert "post-filter hurts (best 12.00 dB with it, 10.36 dB without)" in text
    helps = gan.gmm_finding(_choices(11.0, [("bands", 2, False, 11.5), ("bands", 2, True, 10.95)]))
    assert "2 components, with the global-variance post-filter" in helps and "does not beat copying" in helps
    assert "post-filter helps" in helps
    single = gan.gmm_finding(_choices(11.0, [("bands", 1, False, 9.0)]))
    assert "post-filter" in single and "hurts" not in single and "helps" not in single


def test_pitch_finding_reads_the_log_f0_statistics():
    def stats(f_src, f_tgt, s_src=0.25, s_tgt=0.2):
        return {"source": pitch.LogF0Stats(math.log(f_src), s_src, 100),
                "target": pitch.LogF0Stats(math.log(f_tgt), s_tgt, 100)}

    up = gan.pitch_finding(stats(110, 220))
    assert "Median F0 110 Hz for the source and 220 Hz for the target, 12.0 semitones apart" in up
    assert "moves the source's pitch up by 12.0 semitones and narrows its spread (0.250 → 0.200 ln Hz)" in up
    assert "down by" in gan.pitch_finding(stats(220, 180, 0.2, 0.25)) and "widens" in gan.pitch_finding(
        stats(220, 180, 0.2, 0.25))
    close = gan.pitch_finding(stats(211, 220, 0.2, 0.2))       # 0.7 semitones: below CLOSE_PITCH_ST
    assert "the two pitches are close" in close and "keeps its spread" in close
    assert "not moved" in gan.pitch_finding(None)
