"""The notebooks: committed clean with one tagged parameters cell, and the whole
pipeline run headless once on the smoke profile (params/smoke.yaml: the quick
profile's path, as `make run` takes it, on tiny settings), then checked through the
tables each notebook writes.

The run is one session-scoped fixture, so every test is independent of the order
(``pytest -k 05`` alone runs the pipeline it needs first).
"""
from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest
import yaml

from voxlib import run

NOTEBOOKS = run.list_notebooks()
PAIR = "es-mx_allison__es-co_july"  # the smoke (and quick) profile's cloning pair
PROFILE = "smoke"
N_SPEAKERS = 7                      # embedded corpus


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_with_one_parameters_cell(nb):
    book = nbformat.read(nb, as_version=4)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    first_code = next(c for c in book.cells if c.cell_type == "code")
    assert first_code is tagged[0], "the parameters cell must be the first code cell"
    for name in ("run_dir", "figures_dir"):
        assert f"{name} =" in tagged[0].source, f"parameters cell lacks {name}"
    for c in book.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, f"{nb.name} is committed with outputs"
    assert book.cells[0].cell_type == "markdown"


def test_every_profile_parameter_exists_in_its_notebook():
    """A profile key the notebook does not declare would be injected and silently unused."""
    for profile in ("smoke", "quick", "medium", "full"):
        params = run.load_profile(profile)
        for nb in NOTEBOOKS:
            source = next(c for c in nbformat.read(nb, as_version=4).cells
                          if "parameters" in c.metadata.get("tags", [])).source
            for _, _, injected in run.notebook_runs(nb, params.get(nb.stem, {})):   # `pairs` -> source, target
                for name in injected:
                    assert f"{name} =" in source, f"{profile}.yaml sets {nb.stem}.{name}, which the notebook lacks"


def _data_state():
    data = run.project_root() / "data"
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in data.rglob("*") if p.is_file()}


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """Every notebook once on the smoke profile, into a temporary run folder, two at a time as `make run`
    runs them (each once what it reads has finished)."""
    before = _data_state()
    run_dir = tmp_path_factory.mktemp("runs") / PROFILE
    figures_dir = run_dir / "figures"
    outs = run.run_notebooks(PROFILE, run_dir=run_dir, figures_dir=figures_dir, progress=False, jobs=2)
    assert _data_state() == before, "a notebook wrote into data/"
    return run_dir, figures_dir, {p.stem: p for p in outs}


def _errors(path):
    book = json.loads(path.read_text())
    return [o for c in book["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_ran_and_saved_its_figures(nb, smoke_run):
    run_dir, figures_dir, outs = smoke_run
    mine = [path for stem, path in outs.items() if stem.startswith(nb.stem)]   # notebooks 04-05: one per pair
    assert mine and not any(_errors(path) for path in mine)
    assert any(p.name.startswith(nb.stem[:2]) and p.suffix == ".png" for p in figures_dir.iterdir()), \
        f"{nb.name} saved no figure named {nb.stem[:2]}_*.png"
    for path in mine:  # and shows them inline (the kernel must not inherit make's MPLBACKEND=Agg)
        book = json.loads(path.read_text())
        shown = [o for c in book["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert shown, f"{path.name} has no inline figure"
    status = yaml.safe_load((run_dir / "params.yaml").read_text())
    entries = [entry for key, entry in status.items() if key.startswith(nb.stem)]
    assert len(entries) == len(mine) and all(e["status"] == "ok" for e in entries)


@pytest.mark.slow
def test_01_images_manifest(smoke_run):
    run_dir, _, _ = smoke_run
    manifest = pd.read_csv(run_dir / "transforms" / "manifest.csv")
    params = run.load_profile(PROFILE)["01_transforms"]
    assert set(manifest["transform"]) == set(params["transforms"])
    assert manifest["speaker"].nunique() == N_SPEAKERS
    rejected = pd.read_csv(run_dir / "rejected.csv")
    n_files = N_SPEAKERS * params["utterances_per_speaker"]
    assert len(manifest) == (n_files - len(rejected)) * len(params["transforms"])
    assert (manifest["scale"] > 0).all() and (manifest["height"] == params["image_size"][0]).all()


@pytest.mark.slow
def test_02_sweep_beats_chance_on_held_out_utterances(smoke_run):
    run_dir, _, _ = smoke_run
    sweep = pd.read_csv(run_dir / "sweep" / "sweep.csv")
    params = run.load_profile(PROFILE)["02_transfer_learning"]
    assert set(params["networks"]) <= set(sweep["network"])
    images = sweep[sweep["transform"] != "audio"]
    assert images.groupby("network")["transform"].nunique().min() == 6
    chance = 100.0 / N_SPEAKERS
    best = images.loc[images["test_accuracy"].idxmax()]
    assert best["test_ci_low"] > chance, f"best run's interval {best['test_ci_low']:.1f}% does not clear chance"
    seeds = images.groupby(["network", "transform"])["seed"].apply(lambda s: tuple(sorted(s)))
    assert (seeds == tuple(params["seeds"])).all(), seeds
    baselines = sweep[sweep["transform"] == "audio"]
    assert sorted(baselines["network"]) == sorted(params["baselines"])
    assert (baselines["test_ci_low"] > chance).all()
    assert (sweep["test_ci_low"] <= sweep["test_accuracy"]).all()
    assert (sweep["test_accuracy"] <= sweep["test_ci_high"]).all()


@pytest.mark.slow
def test_03_results_tables(smoke_run):
    run_dir, _, _ = smoke_run
    tables = {p.stem: p for p in (run_dir / "results").glob("*.csv")}
    assert tables, "notebook 03 wrote no table"
    sweep = pd.read_csv(run_dir / "sweep" / "sweep.csv")
    frames = [pd.read_csv(p) for p in tables.values()]
    assert any("accuracy" in f.columns and len(f) >= len(sweep) for f in frames)


@pytest.mark.slow
def test_04_generated_manifest_and_losses(smoke_run):
    run_dir, _, _ = smoke_run
    params = run.load_profile(PROFILE)["04_gan_cloning"]
    pair_dir = run_dir / "cloning" / PAIR
    losses = pd.read_csv(pair_dir / "losses.csv")
    assert len(losses) == params["epochs"] and losses.notna().all().all()
    generated = pd.read_csv(pair_dir / "generated" / "manifest.csv")
    assert len(generated) == params["max_pairs"]
    assert set(generated["split"]) == {"train", "test"}
    envelope = params.get("representation", "scalogram") == "envelope"
    assert (generated["transform"] == ("world_envelope" if envelope else params["transform"])).all()
    ridge = pd.read_csv(pair_dir / "ridge" / "manifest.csv")      # the baseline, on the same sentences
    assert list(ridge["utterance"]) == list(generated["utterance"]) and set(ridge["generated_by"]) == {"ridge"}
    if envelope:                                                   # the classic GMM baseline, same sentences
        gmm = pd.read_csv(pair_dir / "gmm" / "manifest.csv")
        assert list(gmm["utterance"]) == list(generated["utterance"]) and set(gmm["generated_by"]) == {"gmm"}
    assert set(generated["pair_alignment"]) == {params["pair_alignment"]}
    assert set(generated["pitch_mode"]) == {params["pitch_mode"]}


@pytest.mark.slow
def test_05_metrics_cover_every_held_out_sentence(smoke_run):
    run_dir, _, _ = smoke_run
    generated = pd.read_csv(run_dir / "cloning" / PAIR / "generated" / "manifest.csv")
    held_out = set(generated.loc[generated["split"] == "test", "utterance"].astype(str))
    metrics = pd.read_csv(run_dir / "reconstruction" / PAIR / "metrics.csv", dtype={"utterance": str})
    assert set(metrics["utterance"]) == held_out
    assert {"source", "target"} <= set(metrics["condition"])
    target = metrics[metrics["condition"] == "target"]
    assert (target["mcd_db"].abs() < 1e-6).all(), "the target against itself must measure 0 dB"
    source = metrics[metrics["condition"] == "source"]
    assert (source["mcd_db"] > 0).all()
    assert {"ridge", "source_pitch"} <= set(metrics["condition"])       # baseline and pitch-only rows
    assert {"median_f0_hz", "has_f0", "log_f0_rmse_st", "verifier_accepts", "content_kept"} <= set(metrics.columns)
    envelope = run.load_profile(PROFILE)["04_gan_cloning"].get("representation", "scalogram") == "envelope"
    if envelope:   # the baselines and the ceilings on the same sentences
        assert {"gmm", "world_copy", "oracle_world", "control_scrambled"} <= set(metrics["condition"])
    name = "synthesis_choice.csv" if envelope else "phase_choice.csv"
    choice = pd.read_csv(run_dir / "reconstruction" / PAIR / name, index_col=0)
    assert choice["chosen"].sum() == 1 and (choice["n"] > 0).all()   # chosen on training sentences


@pytest.mark.slow
def test_every_stage_uses_the_runs_one_split(smoke_run):
    """No sentence notebook 04 holds out (in anyone's voice) is a training sentence of notebook 02,
    and no identical audio is on both sides."""
    run_dir, _, _ = smoke_run
    split = pd.read_csv(run_dir / "split.csv", dtype={"utterance": str})
    manifest = pd.read_csv(run_dir / "transforms" / "manifest.csv", dtype={"utterance": str})
    generated = pd.read_csv(run_dir / "cloning" / PAIR / "generated" / "manifest.csv", dtype={"utterance": str})
    held_out_04 = set(generated.loc[generated["split"] == "test", "utterance"])
    trained_02 = set(manifest.loc[manifest["split"] == "train", "utterance"])
    assert held_out_04 and not held_out_04 & trained_02
    assert not held_out_04 & set(split.loc[split["split"] == "train", "utterance"])
    sides = split.groupby("source_hash")["split"].nunique()
    assert (sides == 1).all()
    recorded = manifest.drop_duplicates(["speaker", "utterance"]).merge(split, on=["speaker", "utterance"],
                                                                        suffixes=("", "_run"))
    assert len(recorded) and (recorded["split"] == recorded["split_run"]).all()


@pytest.mark.slow
def test_05_every_judge_scored_both_controls(smoke_run):
    run_dir, _, _ = smoke_run
    accepted = pd.read_csv(run_dir / "reconstruction" / PAIR / "acceptance.csv")
    for judge, rows in accepted.groupby("judge"):
        assert {"null_flat", "control_channel", "target", "source"} <= set(rows["condition"]), judge
    verifier = accepted[accepted["judge"] == "verifier"].set_index("condition")
    assert (verifier["n"] > 0).all() and verifier["rate"].between(0, 1).all()
