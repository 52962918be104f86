"""voxlib.reconstruction.measures: the notebook-05 pipeline on a fake generated manifest ("generated" = the
target's own image), the phase-mode rule, the t intervals of the similarities, and notebook 05's tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from reconstruction_fakes import TEST_UTTS
from voxlib import reconstruction as R


def test_pipeline_on_the_oracle_manifest(generated, classifier, judges, tmp_path):
    manifest = R.load_generated(generated, split="test")
    recon = R.write_reconstructions(manifest, tmp_path / "rec", phase="refined", n_iter=8, progress=False)
    assert (tmp_path / "rec" / "reconstructions.csv").is_file()
    # an older manifest (VAD-aligned recordings, no pitch-converted clip, no ridge images): all other conditions
    # of a scalogram row (the envelope rows' baseline and ceilings are not made for it)
    assert set(recon["condition"]) == set(R.CONDITIONS) - {"source_pitch", "ridge", "converted_confident", "gmm",
                                                            "oracle_world", "oracle_filter", "world_copy"}
    assert all(p.is_file() for p in recon["path"])
    table = R.measure(recon, classifier=classifier, judges=judges, progress=False, similarity=False)
    # every judge scores every clip; each clip's similarity to its own sentence's real utterances
    for column, _ in R.JUDGES.values():
        assert table[column].dtype == bool
    by = table.set_index("condition")
    assert np.allclose(by.loc["target", "sim_target_utt"], 1.0, atol=1e-5)
    assert np.allclose(by.loc["source", "sim_source_utt"], 1.0, atol=1e-5)
    assert (by.loc["control_channel", "sim_source_utt"] > by.loc["control_channel", "sim_target_utt"]).all()
    with pytest.raises(R.ReconstructionError, match="fit_judges on this pair"):
        R.measure(recon.assign(target_speaker="fr-fr_armelle"), judges=judges, progress=False, similarity=False)
    summary = R.summarize_conditions(table)
    print("\n" + summary.round(3).to_string())
    # the generated image is the target's own, so 'converted' is the source-phase oracle exactly
    assert summary.loc["converted", "mcd_db"] == pytest.approx(summary.loc["oracle_source_phase", "mcd_db"], abs=1e-6)
    assert summary.loc["target", "mcd_db"] == 0.0
    assert summary.loc["oracle_own", "snr_db"] > 5.0  # a 256-column image: far from the full-width SNR
    assert summary.loc["oracle_own", "mcd_db"] < summary.loc["converted", "mcd_db"]
    assert summary.loc["converted", "mcd_db"] < summary.loc["source", "mcd_db"]
    assert summary.loc["converted_refined", "mcd_db"] < summary.loc["source", "mcd_db"]
    assert abs(summary.loc["converted", "rms_ratio_db"]) < 3.0
    assert summary.loc["converted_thesis", "rms_ratio_db"] < -6.0
    # a perfect image beats a flat one under the same phase on the log spectrum (MCD alone cannot tell)
    assert summary.loc["converted", "lsd_db"] < summary.loc["null_flat", "lsd_db"] - 2.0
    # a good classifier: real target clips are the target, real source clips are not
    assert summary.loc["target", "target_rate"] == 1.0 and summary.loc["source", "target_rate"] == 0.0
    rates = R.acceptance(table)
    assert set(rates["judge"]) == set(R.JUDGES) and (rates["n"] == len(TEST_UTTS)).all()
    assert (rates["ci_low"] <= rates["rate"]).all() and (rates["rate"] <= rates["ci_high"]).all()
    assert set(R.control_check(summary).columns) == {"role", "null_flat", "control_channel", "control_scrambled",
                                                     "calibration_eer", "reliable", "why"}
    # the content check scores every clip, and the real recordings it is matched against find themselves; the
    # verifiers' calibration travels with the table (and so with summary.csv, which the report reads)
    assert table["content_kept"].notna().all() and by.loc[judges.content.references, "content_kept"].all()
    assert summary.loc["target", "verifier_eer"] == pytest.approx(judges.verifier.eer)
    text = R.verdict(summary, profile="quick")
    assert f"{summary.loc['converted', 'mcd_db']:.2f} dB MCD" in text and "closing" in text
    assert "quick profile" in text and "image classifier" in text and "beats a flat image" in text
    assert "Primary judge of the voice, CAM++ speaker verification" in text and "calibration EER" in text
    with pytest.raises(FileExistsError):  # a second run refuses to clobber without overwrite=True
        R.write_reconstructions(manifest, tmp_path / "rec", progress=False)


def _study(rows):
    return pd.DataFrame([dict(utterance=f"u{k}", mode=mode, verifier_accepts=acc, sim_target_centroid=st,
                              sim_source_centroid=0.5, has_f0=voiced, log_f0_rmse_st=1.0, lsd_db=10.0)
                         for mode, per in rows.items() for k, (acc, st, voiced) in enumerate(per)])


def test_choose_phase_keeps_voicing_first_then_the_verifier_then_the_margin():
    # "refined" is accepted most often but loses F0 in half the clips: not eligible
    study = _study({"source": [(False, 0.6, True)] * 4,
                    "refined": [(True, 0.9, k % 2 == 0) for k in range(4)],
                    "refined_confident": [(k < 2, 0.7, True) for k in range(4)]})
    mode, table = R.choose_phase(study)
    assert mode == "refined_confident" and table.loc["refined_confident", "chosen"]
    assert not table.loc["refined", "eligible"] and table.loc["refined", "verifier_rate"] == 1.0
    # equal acceptance: a clearly larger margin toward the target's centroid wins ...
    tie = _study({"source": [(True, 0.6, True)] * 4, "refined": [(True, 0.8, True)] * 4})
    assert R.choose_phase(tie)[0] == "refined"
    # ... a margin within the noise is a tie, broken by the lower LSD
    close = _study({"source": [(False, 0.60, True)] * 4, "refined": [(False, 0.62, True)] * 4})
    close.loc[close["mode"] == "refined", "lsd_db"] = 14.0
    assert R.choose_phase(close)[0] == "source"
    # nothing keeps its voicing: the source's phase, unrefined
    assert R.choose_phase(_study({"refined": [(True, 0.9, False)] * 4}))[0] == "source"


def test_similarity_intervals_are_t_intervals_over_sentences():
    rng = np.random.default_rng(0)
    rows = [dict(utterance=f"u{k}", condition=c, sim_target_centroid=base + rng.normal(0, 0.05),
                 sim_source_centroid=0.7, sim_target_utt=0.5, sim_source_utt=0.6)
            for c, base in (("source", 0.6), ("converted", 0.8)) for k in range(10)]
    out = R.similarity_intervals(pd.DataFrame(rows))
    v = pd.DataFrame(rows).query("condition == 'converted'")["sim_target_centroid"]
    half = scipy.stats.t.ppf(0.975, 9) * v.std(ddof=1) / np.sqrt(10)
    assert out.loc["converted", "sim_target_centroid_hi"] == pytest.approx(v.mean() + half)
    assert out.loc["converted", "margin"] == pytest.approx(v.mean() - 0.7)
    assert out.loc["source", "margin_hi"] < out.loc["converted", "margin_lo"]    # 0.2 apart: clearly different
    assert list(out.index) == ["source", "converted"]


def test_similarity_intervals_equal_the_hand_written_t_formula():
    """metrics.mean_interval gives the interval the module wrote by hand (t.ppf · s / √n), to float rounding."""
    values = {"source": [0.61, 0.58, 0.66, 0.55, 0.63], "converted": [0.72, 0.81, np.nan, 0.77, 0.69, 0.80],
              "target": [0.9]}
    rows = [dict(utterance=f"u{k}", condition=c, sim_target_centroid=v, sim_source_centroid=0.5 + 0.01 * k)
            for c, vs in values.items() for k, v in enumerate(vs)]
    table = pd.DataFrame(rows)
    out = R.similarity_intervals(table, confidence=0.9)
    for condition, g in table.groupby("condition"):
        for name in ("sim_target_centroid", "sim_source_centroid", "margin"):
            col = g[name] if name != "margin" else g["sim_target_centroid"] - g["sim_source_centroid"]
            v = col.dropna().to_numpy(float)
            mean = v.mean()
            half = scipy.stats.t.ppf(0.95, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan
            assert out.loc[condition, name] == pytest.approx(mean, rel=1e-12)
            for suffix, bound in (("_lo", mean - half), ("_hi", mean + half)):
                got = out.loc[condition, name + suffix]
                assert (np.isnan(got) and np.isnan(bound)) or got == pytest.approx(bound, rel=1e-12), (condition, name)
    assert np.isnan(out.loc["target", "sim_target_centroid_lo"])      # one sentence: no interval


def test_resolve_phase_mode_takes_the_chosen_mode_only_for_auto(tmp_path):
    study = _study({"source": [(False, 0.6, True)] * 4, "refined": [(True, 0.9, True)] * 4})
    chosen, table = R.choose_phase(study)
    assert R.resolve_phase_mode("auto", table) == chosen == "refined"
    assert R.resolve_phase_mode("refined_confident", table) == "refined_confident"
    # the file notebook 05 writes, read back, gives the same answer
    read = pd.read_csv(R.write_table(table, tmp_path, name="phase_choice"), index_col=0)
    assert R.resolve_phase_mode("auto", read) == "refined"
    assert R.chosen_phase_mode(tmp_path) == "refined"                 # what the report and explorer read
    assert R.chosen_phase_mode(tmp_path / "no-such-pair") == "source"
    # nothing eligible and "source" not studied: choose_phase's answer, the source's phase
    none = R.choose_phase(_study({"refined": [(True, 0.9, False)] * 4}))
    assert R.resolve_phase_mode("auto", none[1]) == none[0] == "source"
    with pytest.raises(R.ReconstructionError, match="phase_mode='griffin'.*'auto'"):
        R.resolve_phase_mode("griffin", table)


def test_write_table_writes_notebook_05s_files_as_to_csv_did(tmp_path):
    table = pd.DataFrame({"utterance": ["a", "b"], "condition": ["source", "converted"], "mcd_db": [4.0, 3.5]})
    summary = table.set_index("condition")
    expected = {"metrics": table.to_csv(index=False), "acceptance": table.to_csv(index=False),
                "summary": summary.to_csv(), "phase_choice": summary.to_csv(), "synthesis_choice": summary.to_csv()}
    for name, text in expected.items():
        path = R.write_table(summary if name in ("summary", "phase_choice", "synthesis_choice") else table,
                             tmp_path / "new", name=name)
        assert path == tmp_path / "new" / f"{name}.csv" and path.read_text() == text
    assert set(R.TABLES) == set(expected)
    with pytest.raises(R.ReconstructionError, match="name='sweep'"):
        R.write_table(table, tmp_path, name="sweep")


def test_phase_study_measures_a_mode_as_measure_does(generated, judges, tmp_path):
    """The phase study's numbers for the source's phase are measure's for the 'converted' condition (through a
    16-bit WAV there, hence the tolerances)."""
    manifest = R.load_generated(generated).head(1)
    study = R.phase_study(manifest.assign(split="train"), judges, modes=("source",), n_sentences=1, progress=False)
    assert list(study.columns) == ["utterance", "mode", "verifier_accepts", "sim_target_centroid",
                                   "sim_source_centroid", "has_f0", "log_f0_rmse_st", "lsd_db"]
    recon = R.write_reconstructions(manifest, tmp_path / "rec", progress=False)
    table = R.measure(recon, judges=judges, similarity=False, progress=False).set_index("condition")
    got, want = study.iloc[0], table.loc["converted"]
    assert got["mode"] == "source" and got["has_f0"] == want["has_f0"]
    assert got["lsd_db"] == pytest.approx(want["lsd_db"], abs=0.05)
    assert got["log_f0_rmse_st"] == pytest.approx(want["log_f0_rmse_st"], abs=0.05)
    assert got["sim_target_centroid"] == pytest.approx(want["sim_target_centroid"], abs=2e-3)
    with pytest.raises(R.ReconstructionError, match="modes='griffin'"):
        R.phase_study(manifest, judges, modes=("griffin",), progress=False)



# --------------------------------------------------------------------------
# The synthesis of envelope rows, chosen on training sentences
# --------------------------------------------------------------------------
WORLD, WORLD_GV, FILTER, FILTER_GV = R.SYNTHESIS_CANDIDATES


def _synthesis_study(rows, source_kept=4):
    """A synthesis_study-like table: per setting, four sentences of (accepted, sim_target, voiced, content kept)."""
    recs = [dict(utterance=f"u{k}", setting=R.SOURCE_SETTING, mode="source", aperiodicity="", global_variance=False,
                 verifier_accepts=False, sim_target_centroid=0.4, sim_source_centroid=0.5, has_f0=True,
                 log_f0_rmse_st=3.0, lsd_db=14.0, content_kept=k < source_kept) for k in range(4)]
    for settings, per in rows.items():
        recs += [dict(utterance=f"u{k}", setting=settings.name, **settings.record(), verifier_accepts=acc,
                      sim_target_centroid=st, sim_source_centroid=0.5, has_f0=voiced, log_f0_rmse_st=1.0,
                      lsd_db=10.0, content_kept=kept) for k, (acc, st, voiced, kept) in enumerate(per)]
    return pd.DataFrame(recs)


def test_choose_synthesis_keeps_content_and_voicing_then_the_verifier_then_margin_then_lsd():
    study = _synthesis_study({
        WORLD: [(True, 0.9, k % 2 == 0, True) for k in range(4)],        # accepted always, F0 lost in half
        FILTER: [(k < 3, 0.9, True, k < 1) for k in range(4)],           # content kept in 1 of 4 (source: 4)
        WORLD_GV: [(k < 2, 0.7, True, k < 3) for k in range(4)],         # 3 of 4: the source's minus one
        FILTER_GV: [(k < 2, 0.71, True, True) for k in range(4)]})
    study.loc[study["setting"] == FILTER_GV.name, "lsd_db"] = 12.0
    chosen, table = R.choose_synthesis(study)
    assert chosen == WORLD_GV and table.loc[WORLD_GV.name, "chosen"] and table["chosen"].sum() == 1
    assert table.loc[WORLD.name, "verifier_rate"] == 1.0 and not table.loc[WORLD.name, "eligible"]
    assert not table.loc[FILTER.name, "eligible"] and table.loc[FILTER.name, "content_kept"] == 1
    assert list(table.index)[0] == R.SOURCE_SETTING and not table.loc[R.SOURCE_SETTING, "eligible"]
    # a clearly larger margin beats the lower LSD; a lower verifier rate loses whatever its LSD
    clear = study.copy()
    clear.loc[clear["setting"] == FILTER_GV.name, "sim_target_centroid"] = 0.8
    assert R.choose_synthesis(clear)[0] == FILTER_GV
    fewer = study.copy()
    fewer.loc[(fewer["setting"] == FILTER_GV.name) & (fewer["utterance"] == "u1"), "verifier_accepts"] = False
    assert R.choose_synthesis(fewer.assign(lsd_db=np.where(fewer["setting"] == FILTER_GV.name, 1.0, 10.0)))[0] == WORLD_GV
    # nothing eligible: the default synthesis, marked chosen when it was studied
    none, table = R.choose_synthesis(_synthesis_study({WORLD: [(True, 0.9, False, True)] * 4}))
    assert none == R.DEFAULT_SYNTHESIS and table.loc[WORLD.name, "chosen"]
    with pytest.raises(R.ReconstructionError, match="lacks the source's rows"):
        R.choose_synthesis(study[study["setting"] != R.SOURCE_SETTING])


def test_resolve_synthesis_reads_the_choice_and_names_bad_values(tmp_path):
    study = _synthesis_study({WORLD: [(k < 2, 0.7, True, True) for k in range(4)],
                              WORLD_GV: [(k < 1, 0.7, True, True) for k in range(4)],
                              FILTER: [(k < 3, 0.7, True, True) for k in range(4)],
                              FILTER_GV: [(True, 0.7, False, True) for k in range(4)]})
    _, table = R.choose_synthesis(study)
    read = pd.read_csv(R.write_table(table, tmp_path, name="synthesis_choice"), index_col=0)
    for choice in (table, read):
        assert R.resolve_synthesis("auto", choice) == FILTER
        assert R.resolve_synthesis("world", choice) == WORLD          # the rule, among the WORLD settings
        assert R.resolve_synthesis("filter", choice) == FILTER
        assert R.resolve_synthesis("source_phase", choice) == "source_phase"
    assert R.chosen_synthesis(tmp_path) == FILTER                     # what write_reconstructions defaults to
    assert R.resolve_synthesis("auto", None) == "source_phase"        # a scalogram run has no synthesis study
    assert R.resolve_synthesis("world", None) == R.SynthesisSettings("world")
    with pytest.raises(R.ReconstructionError, match="synthesis must be one of 'auto', 'filter', 'source_phase', "
                                                    "'world'; got 'griffin'"):
        R.resolve_synthesis("griffin", table)


def test_synthesis_study_judges_each_setting_on_training_sentences(envelope_generated, envelope_statistics, judges,
                                                                  generated):
    settings = (WORLD, FILTER)
    study = R.synthesis_study(envelope_generated, judges, settings, statistics=envelope_statistics, progress=False)
    assert list(study.columns) == ["utterance", "setting", "mode", "aperiodicity", "global_variance",
                                   "verifier_accepts", "sim_target_centroid", "sim_source_centroid", "has_f0",
                                   "log_f0_rmse_st", "lsd_db", "content_kept"]
    train = sorted(R.load_generated(envelope_generated).query("split == 'train'")["utterance"])
    assert sorted(study["utterance"].unique()) == train                 # training sentences only
    assert list(study["setting"].unique()) == [R.SOURCE_SETTING, WORLD.name, FILTER.name]
    assert study["has_f0"].all() and study["content_kept"].dtype == bool
    # the 'generated' envelope is the target's: closer to the target than the source clip is
    by = study.groupby("setting")[["lsd_db", "sim_target_centroid"]].mean()
    assert by.loc[WORLD.name, "lsd_db"] < by.loc[R.SOURCE_SETTING, "lsd_db"] - 3.0
    assert by.loc[WORLD.name, "sim_target_centroid"] > by.loc[R.SOURCE_SETTING, "sim_target_centroid"]
    chosen, table = R.choose_synthesis(study)
    assert chosen in settings and table.loc[chosen.name, "eligible"]
    with pytest.raises(R.ReconstructionError, match="synthesis_study needs envelope images"):
        R.synthesis_study(generated, judges, settings, progress=False)
    with pytest.raises(R.ReconstructionError, match="the content check needs at least 2"):
        R.synthesis_study(envelope_generated, judges, settings, statistics=envelope_statistics, n_sentences=1)
    with pytest.raises(R.ReconstructionError, match="phase modes invert scalograms.*synthesis_study"):
        R.phase_study(envelope_generated, judges, progress=False)
