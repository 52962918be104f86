"""voxlib.reconstruction.judges: the classifier sees notebook 01's images pixel for pixel, the speaker
verifier accepts real target clips and not source ones, the control rule, and the judges' training clips."""
from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from reconstruction_fakes import ALIGN, SOURCE, SR, TARGET, _pair_utterances
from voxlib import audio, images, metrics, transforms
from voxlib import reconstruction as R


@pytest.mark.parametrize("transform", ["amor", "hamming"])
def test_classifier_images_are_the_pngs_notebook_01_writes(embedded_root, tmp_path, transform):
    corpus = pd.DataFrame([{"path": embedded_root / sp / "agent-loggedoff.flac", "speaker": sp,
                            "utterance": "agent-loggedoff"} for sp in ("es-mx_allison", "es-co_july")])
    size = (64, 128)
    written = images.write_images(corpus, tmp_path / "transforms", transforms=(transform,), image_size=size,
                                  sr=SR, progress=False)
    assert len(written) == 2
    fake = types.SimpleNamespace(transform=transform)
    for _, row in written.iterrows():
        png, _ = images.load_image(row["path"])
        fed = R.classifier_images(fake, [audio.load(row["source_path"], sr=SR)[0]], SR, image_size=size,
                                  trim=False)
        assert fed.shape == (1, *size) and fed.dtype == np.uint8
        assert np.array_equal(fed[0], png), (row["path"], np.abs(fed[0].astype(int) - png).max())
    with pytest.raises(R.ReconstructionError, match="classifier.transform"):
        R.classifier_images(types.SimpleNamespace(transform="mel"), [np.zeros(800)], SR)


def test_verifier_accepts_real_target_clips_not_source_ones_and_the_control_rule(embedded_root):
    """Fitted on 16 training sentences per speaker, judged on 10 other sentences: the CAM++ verifier
    accepts the real target and rejects the source and the flat-image control (issue 22's targets: calibration
    EER <= 5 %, real target >= 9/10, each control rejected in >= 9/10). The d-vector verifier, the same rule on a
    weaker encoder, is held to the same controls and its own calibration; a judge that fails either is flagged.
    (Measured here: CAM++ training EER 0 %, target 10/10, source 0/10, flat image 0/10; d-vector EER ~40 %.)"""
    utts = _pair_utterances(embedded_root, 26, seed=1)
    train, test = utts[:16], utts[16:]

    def aligned(sp, u):
        return R.load_aligned(embedded_root / sp / f"{u}.flac", SR, **ALIGN)

    clips = R.TrainingClips(source={u: aligned(SOURCE, u) for u in train},
                            target={u: aligned(TARGET, u) for u in train}, sr=SR)
    judges = R.fit_judges(clips, target=TARGET, source=SOURCE)
    v = judges.verifier
    assert v.n_target == v.n_source == 16 and v.eer <= 0.05
    assert set(judges.calibration()) == set(R.JUDGE_ENCODERS)
    rows = []
    for u in test:
        tf = transforms.cwt(aligned(SOURCE, u), SR, "amor")
        sentence = {"target": aligned(TARGET, u), "source": aligned(SOURCE, u),
                    "null_flat": R.reconstruct(np.full(tf.coefs.shape, np.abs(tf.coefs).mean()), tf)}
        rows.append(judges.judge(sentence, SR).assign(utterance=u).rename_axis("condition").reset_index())
    table = pd.concat(rows, ignore_index=True)
    for judge, eer in judges.calibration().items():
        table[f"{judge}_eer"] = eer
    summary = R.summarize_conditions(table)
    rates = summary["verifier_rate"]
    print(f"\nthreshold {v.threshold:.3f}, training EER {100 * v.eer:.0f}%, acceptance {rates.to_dict()}, "
          f"d-vector {summary['dvector_verifier_rate'].to_dict()}, calibration {judges.calibration()}")
    assert rates["target"] >= 0.9 and rates["source"] <= 0.1 and rates["null_flat"] <= 0.1
    assert (table.loc[table["condition"] == "target", "sim_target_utt"] > 0.999).all()
    low, high = metrics.wilson_interval(round(rates["target"] * 10), 10)
    assert summary.loc["target", "verifier_ci_low"] == pytest.approx(low)
    assert summary.loc["target", "verifier_ci_high"] == pytest.approx(high)
    check = R.control_check(summary)
    assert {"role", "null_flat", "calibration_eer", "reliable", "why"} <= set(check.columns)
    assert check.loc["verifier", "reliable"] and check.loc["verifier", "calibration_eer"] == pytest.approx(v.eer)
    for judge, row in check.iterrows():
        expected = (summary.loc["null_flat", f"{judge}_rate"] <= R.CONTROL_MAX_RATE
                    and not row["calibration_eer"] > R.CALIBRATION_MAX_EER)
        assert row["reliable"] == expected, (judge, row.to_dict())


def test_the_content_check_is_chosen_on_training_sentences_and_judges_a_content_control():
    """A judge held to its own controls: the content judge's is the scrambled clip, and a verifier with a high
    calibration EER is unreliable even when it rejects every control."""
    summary = pd.DataFrame({"n": [10, 10, 10], "verifier_rate": [0.0, 0.0, 1.0], "content_rate": [0.2, 0.9, 0.0],
                            "verifier_eer": 0.25},
                           index=pd.Index(["control_channel", "null_flat", "control_scrambled"], name="condition"))
    check = R.control_check(summary)
    assert list(check.loc["content", ["control_scrambled"]]) == [0.0] and check.loc["content", "reliable"]
    assert "null_flat" not in check.columns or np.isnan(check.loc["content"].get("null_flat", np.nan))
    assert not check.loc["verifier", "reliable"] and "calibration EER 25.0%" in check.loc["verifier", "why"]
    assert "control_scrambled" not in R.JUDGE_CONTROLS.get("verifier", R.CONTROLS)


def test_training_clips_are_the_train_rows_aligned_as_the_images(generated):
    manifest = R.load_generated(generated)
    with pytest.raises(R.ReconstructionError, match="split == 'train'.*without split"):
        R.training_clips(manifest)  # the fixture's rows are all held out
    clips = R.training_clips(manifest.assign(split="train"))
    assert clips.sr == SR and list(clips.source) == list(clips.target) == list(manifest["utterance"].astype(str))
    assert clips.speakers(SOURCE, TARGET) == [SOURCE] * len(manifest) + [TARGET] * len(manifest)
    row = manifest.iloc[0]
    assert all(len(y) == int(ALIGN["duration"] * SR) for y in clips.signals)
    assert np.array_equal(clips.target[str(row["utterance"])], R.load_aligned(row["target_audio_path"], SR, **ALIGN))


def test_acceptance_table_reads_rate_and_interval_per_condition_and_judge():
    rows = [dict(utterance=f"u{k}", condition=c, verifier_accepts=k < n, dvector_verifier_accepts=True)
            for c, n in (("target", 8), ("converted", 2), ("source", 0)) for k in range(10)]
    accepted = R.acceptance(pd.DataFrame(rows))
    text = R.acceptance_table(accepted)
    assert list(text.index) == ["source", "converted", "target"]          # CONDITIONS order
    assert list(text.columns) == ["verifier", "dvector_verifier"]          # JUDGES order
    low, high = metrics.wilson_interval(8, 10)
    assert text.loc["target", "verifier"] == f"80% [{low:.0%}, {high:.0%}]"
    assert text.loc["source", "dvector_verifier"].startswith("100% [")


def test_a_nearly_silent_clip_is_still_shown_to_the_classifier():
    """A conversion can come out nearly silent (-75 dBFS seen on the quick run): the classifier judges it as
    it is instead of stopping the notebook."""
    fake = types.SimpleNamespace(transform="amor")
    quiet = (1e-4 * np.sin(2 * np.pi * 200 * np.arange(SR) / SR)).astype(np.float32)
    fed = R.classifier_images(fake, [quiet], SR, image_size=(32, 64))
    assert fed.shape == (1, 32, 64)
