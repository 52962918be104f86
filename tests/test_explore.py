"""voxlib.explore: the notebook 01 and 05 explorers driven with no browser (set a widget's
value, check what is rendered), their errors, and the static fallback in a real kernel
(nbclient, as papermill runs it): the default selection stays as outputs, and a later
selection updates those same outputs through their display ids.

Data: a few short synthetic WAVs in tmp_path, and a fake run folder with notebook 05's
files (reconstructions.csv, metrics.csv with its real columns, phase_choice.csv).
"""
from __future__ import annotations

import base64
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from IPython.display import Audio  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from signals import voiced  # noqa: E402
from voxlib import audio, explore, reconstruction  # noqa: E402
from voxlib.datasets import write_manifest  # noqa: E402

SR = 8000
TRANSFORMS = ["hamming", "amor"]   # one STFT, one CWT: enough to exercise both panel kinds, fast
#: notebook 05's metrics.csv header (reconstruction.measure), as a real run writes it
METRICS_COLUMNS = ["utterance", "target_speaker", "source_speaker", "split", "condition", "mcd_db", "lsd_db",
                   "rms_ratio_db", "snr_db", "spectral_convergence", "median_f0_hz", "has_f0", "log_f0_rmse_st",
                   "predicted", "classifier_accepts", "sim_target_centroid", "sim_source_centroid",
                   "verifier_accepts", "closer_to_target", "dvector_lr_accepts", "sim_target_utt", "sim_source_utt"]
CONDITIONS = ["source", "converted", "converted_refined", "null_flat", "control_channel", "oracle_source_phase",
              "oracle_own", "target"]
PAIRS = {"sp_a__sp_b": ["hello", "world"], "sp_c__sp_d": ["alpha", "beta", "gamma"]}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture()
def corpus(tmp_path):
    """Two speakers with two (and three) 0.4 s recordings each, with different pitches."""
    rows = []
    for i, (speaker, utts) in enumerate({"bob": ["u1", "u2"], "amy": ["u1", "u3", "u4"]}.items()):
        for j, utt in enumerate(utts):
            path = audio.write_wav(tmp_path / "corpus" / speaker / f"{utt}.wav",
                                   voiced(SR, 0.4, f0=110.0 + 40 * i + 25 * j, seed=10 * i + j), SR)
            rows.append({"speaker": speaker, "utterance": utt, "path": str(path),
                         "split": "test" if utt == "u2" else "train"})
    return pd.DataFrame(rows)


def _fake_run(run_dir):
    """Notebook 05's folders for two pairs; pair sp_a__sp_b chose the "refined" phase mode and has a
    generated manifest (morse); pair sp_c__sp_d has neither (converted, amor by default)."""
    rng = np.random.default_rng(0)
    for k, (pair, sentences) in enumerate(PAIRS.items()):
        source, target = pair.split("__")
        folder = run_dir / "reconstruction" / pair
        recon, metrics = [], []
        for s, utt in enumerate(sentences + ["trained"]):   # the last one is a training sentence
            for c, condition in enumerate(CONDITIONS):
                path = audio.write_wav(folder / "wav" / f"{utt}__{condition}.wav",
                                       voiced(SR, 0.3, f0=100.0 + 10 * c + 30 * s, seed=100 * k + 10 * s + c), SR)
                split = "train" if utt == "trained" else "test"
                recon.append({"utterance": utt, "split": split, "source_speaker": source, "target_speaker": target,
                              "condition": condition, "path": path, "sr": SR, "gain": 1.0})
                metrics.append({col: rng.uniform(1, 10) for col in METRICS_COLUMNS}
                               | {"utterance": utt, "target_speaker": target, "source_speaker": source,
                                  "split": split, "condition": condition, "predicted": target, "has_f0": True})
        write_manifest(pd.DataFrame(recon), folder / "reconstructions.csv")
        pd.DataFrame(metrics, columns=METRICS_COLUMNS).to_csv(folder / "metrics.csv", index=False)
        if k == 0:
            pd.DataFrame({"mode": ["source", "refined"], "chosen": [False, True]}).to_csv(
                folder / "phase_choice.csv", index=False)
            generated = run_dir / "cloning" / pair / "generated"
            generated.mkdir(parents=True)
            pd.DataFrame({"utterance": sentences, "transform": "morse"}).to_csv(generated / "manifest.csv",
                                                                               index=False)
    (run_dir / "reconstruction" / "half__done").mkdir()   # a pair notebook 05 never finished: not listed
    return run_dir


@pytest.fixture()
def run_dir(tmp_path):
    return _fake_run(tmp_path / "run")


def _panel_titles(fig):
    return [ax.get_title().split(" (")[0] for ax in fig.axes if ax.get_title()]


# --- notebook 01 ---
def test_transforms_explorer_renders_the_default_selection(corpus):
    open_before = set(plt.get_fignums())          # figures other tests left open are not the explorer's
    ex = explore.transforms_explorer(corpus, TRANSFORMS, sr=SR)
    assert ex.selection == {"speaker": "amy", "utterance": "u1", "transform": "hamming"}  # first of each, sorted
    y, _ = audio.load(corpus.query("speaker == 'amy' and utterance == 'u1'")["path"].iloc[0], sr=SR)
    assert ex.outputs["audio"].data == Audio(y, rate=SR).data
    assert ex.figures["image"].get_suptitle() == "amy/u1 · hamming"
    assert _panel_titles(ex.figures["image"]) == ["hamming"]
    assert _panel_titles(ex.figures["all"]) == TRANSFORMS
    assert ex.figures["image"].axes[0].get_xlabel() == "time (s)"
    assert ex.figures["image"].axes[0].get_ylabel() == "frequency (Hz)"
    for slot in ("image", "all"):
        assert ex.outputs[slot].data[:8] == b"\x89PNG\r\n\x1a\n"
    assert "amy/u1" in ex.outputs["caption"].data
    assert set(plt.get_fignums()) <= open_before   # the explorer's figures are closed once rendered


def test_transforms_explorer_callbacks_change_the_output(corpus):
    ex = explore.transforms_explorer(corpus, TRANSFORMS, sr=SR, speaker="bob", utterance="u1")
    first_audio, first_all = ex.outputs["audio"], ex.outputs["all"].data
    ex.transform.value = "amor"
    assert ex.figures["image"].get_suptitle() == "bob/u1 · amor"
    assert ex.figures["image"].axes[0].get_yscale() == "log"     # the CWT panel
    assert ex.outputs["audio"] is first_audio                     # same utterance: nothing else redrawn
    ex.utterance.value = "u2"
    assert ex.figures["image"].get_suptitle() == "bob/u2 · amor"
    assert ex.outputs["audio"].data != first_audio.data
    assert ex.outputs["all"].data != first_all
    assert ex.figures["all"].get_suptitle().startswith("bob/u2")
    ex.speaker.value = "amy"                                       # u2 is bob's: falls back to amy's first
    assert [v for _, v in ex.utterance.options] == ["u1", "u3", "u4"]
    assert ex.selection == {"speaker": "amy", "utterance": "u1", "transform": "amor"}
    assert ex.figures["image"].get_suptitle() == "amy/u1 · amor"
    out = ex.render(speaker="bob", utterance="u2", transform="hamming")   # render moves the widgets
    assert ex.selection == {"speaker": "bob", "utterance": "u2", "transform": "hamming"}
    assert "bob/u2" in out["caption"].data
    assert dict(ex.utterance.options)["u2 (held out)"] == "u2"


def test_transforms_explorer_names_an_unknown_selection(corpus):
    ex = explore.transforms_explorer(corpus, TRANSFORMS, sr=SR)
    for kwargs, name in [({"speaker": "zed"}, "speaker"), ({"speaker": "bob", "utterance": "u3"}, "utterance"),
                         ({"transform": "kaiser"}, "transform")]:
        with pytest.raises(explore.ExploreError, match=f"{name}="):
            explore.transforms_explorer(corpus, TRANSFORMS, sr=SR, **kwargs)
        with pytest.raises(explore.ExploreError, match=f"{name}="):
            ex.render(**kwargs)
    assert ex.selection == {"speaker": "amy", "utterance": "u1", "transform": "hamming"}   # left as it was
    with pytest.raises(explore.ExploreError, match="transforms="):
        explore.transforms_explorer(corpus, ["hamming", "wigner"], sr=SR)
    with pytest.raises(explore.ExploreError, match="corpus lacks"):
        explore.transforms_explorer(corpus.drop(columns="path"), TRANSFORMS, sr=SR)


# --- notebook 05 ---
def _wav_bytes(run_dir, pair, utt, condition):
    return (run_dir / "reconstruction" / pair / "wav" / f"{utt}__{condition}.wav").read_bytes()


def test_reconstruction_explorer_renders_the_default_selection(run_dir):
    assert explore.reconstruction_pairs(run_dir) == sorted(PAIRS)
    ex = explore.reconstruction_explorer(run_dir)
    assert ex.selection == {"pair": "sp_a__sp_b", "utterance": "hello"}
    assert list(ex.utterance.options) == sorted(PAIRS["sp_a__sp_b"])      # held-out sentences only
    assert list(ex.players) == [c for c in reconstruction.CONDITIONS if c in CONDITIONS]
    for condition, player in ex.players.items():
        assert player.data == _wav_bytes(run_dir, "sp_a__sp_b", "hello", condition)
        assert base64.b64encode(player.data).decode() in ex.outputs["players"].data
    assert ex.outputs["players"].data.count("<audio") == len(CONDITIONS)
    metrics = ex.outputs["metrics"]
    assert set(metrics["utterance"]) == {"hello"} and sorted(metrics.index) == sorted(CONDITIONS)
    written = pd.read_csv(run_dir / "reconstruction" / "sp_a__sp_b" / "metrics.csv")
    assert metrics.loc["target", "mcd_db"] == pytest.approx(
        written.query("utterance == 'hello' and condition == 'target'")["mcd_db"].iloc[0], abs=1e-3)
    # phase_choice.csv chose "refined": its condition is the converted scalogram; the wavelet is the manifest's
    assert _panel_titles(ex.figures["scalograms"]) == ["source", "target", "converted_refined",
                                                       "oracle_source_phase", "oracle_own", "null_flat",
                                                       "control_channel"]
    assert "(morse)" in ex.figures["scalograms"].get_suptitle()
    assert ex.outputs["scalograms"].data[:8] == b"\x89PNG\r\n\x1a\n"


def test_reconstruction_explorer_callbacks_change_the_output(run_dir):
    ex = explore.reconstruction_explorer(run_dir, pair=("sp_a", "sp_b"), converted="converted",
                                         scalograms=("source", "converted", "target"))
    assert _panel_titles(ex.figures["scalograms"]) == ["source", "converted", "target"]   # explicit converted
    ex.utterance.value = "world"
    assert set(ex.outputs["metrics"]["utterance"]) == {"world"}
    assert ex.players["target"].data == _wav_bytes(run_dir, "sp_a__sp_b", "world", "target")
    assert "world" in ex.figures["scalograms"].get_suptitle()
    ex.pair.value = "sp_c__sp_d"                                     # a pair other than the notebook's own
    assert list(ex.utterance.options) == sorted(PAIRS["sp_c__sp_d"])
    assert ex.selection == {"pair": "sp_c__sp_d", "utterance": "alpha"}
    assert set(ex.outputs["metrics"]["utterance"]) == {"alpha"}
    assert ex.players["source"].data == _wav_bytes(run_dir, "sp_c__sp_d", "alpha", "source")
    assert "sp_c__sp_d" in ex.outputs["caption"].data
    assert "(amor)" in ex.figures["scalograms"].get_suptitle()       # no generated manifest: the default
    assert "converted" in _panel_titles(ex.figures["scalograms"])    # no phase_choice.csv: plain converted
    ex.pair.value = "sp_a__sp_b"                                     # back: the explicit converted again
    assert "<code>converted</code>" in ex.outputs["caption"].data


@pytest.mark.parametrize("kwargs, name", [({"pair": ("sp_a", "nobody")}, "pair"), ({"pair": "half__done"}, "pair"),
                                          ({"utterance": "trained"}, "utterance"),
                                          ({"utterance": "alpha"}, "utterance")])
def test_reconstruction_explorer_names_an_unknown_selection(run_dir, kwargs, name):
    with pytest.raises(explore.ExploreError, match=f"{name}="):
        explore.reconstruction_explorer(run_dir, **kwargs)
    with pytest.raises(explore.ExploreError, match="run_dir="):
        explore.reconstruction_explorer(run_dir / "reconstruction" / "half__done")


# --- under a kernel, as papermill runs a notebook ---
@pytest.mark.slow   # a kernel start and voxlib imports: ~6-12 s
def test_static_output_in_an_executed_notebook_and_in_place_updates(corpus, run_dir, tmp_path):
    corpus.to_csv(tmp_path / "corpus.csv", index=False)
    setup = ("import pandas as pd\nfrom voxlib import explore\n"
             f"corpus = pd.read_csv({str(tmp_path / 'corpus.csv')!r})")
    cells = [setup,
             f"explore.transforms_explorer(corpus, {TRANSFORMS!r}, sr={SR}, speaker='bob')",  # left at its default
             f"moved = explore.transforms_explorer(corpus, {TRANSFORMS!r}, sr={SR}, speaker='bob')\nmoved",
             "moved.transform.value = 'amor'",                 # a selection made after the display
             f"explore.reconstruction_explorer({str(run_dir)!r}, pair='sp_c__sp_d', scalograms=['source', 'target'])"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}},
                   ).execute()

    def data(cell, mime):
        return [o["data"][mime] for o in cell.outputs if o.get("output_type") == "display_data"
                and mime in o.get("data", {})]

    assert not [o for c in nb.cells for o in c.outputs if o["output_type"] in ("error", "stream")
                and o.get("name") != "stderr"]
    static, moved, recon = nb.cells[1], nb.cells[2], nb.cells[4]
    for cell in (static, moved):
        assert len(data(cell, "application/vnd.jupyter.widget-view+json")) == 1   # the drop-downs
        assert len(data(cell, "image/png")) == 2      # the chosen transform, all of them; no stray figure
        assert data(cell, "text/html")[1].count('src="data:audio/wav;base64,') == 1
    assert "bob/u1</b> · hamming" in data(static, "text/html")[0]
    assert "bob/u1</b> · amor" in data(moved, "text/html")[0]     # updated in place by the later cell
    assert data(static, "image/png")[0] != data(moved, "image/png")[0]
    assert data(static, "image/png")[1] == data(moved, "image/png")[1]   # same utterance: same six panels
    assert nb.cells[3].outputs == []
    html = data(recon, "text/html")
    assert "sp_c__sp_d</b> · held-out sentence <b>alpha" in html[0]
    assert html[1].count('src="data:audio/') == len(CONDITIONS)
    assert "alpha" in html[2] and "mcd_db" in html[2]              # the sentence's metrics rows
    assert len(data(recon, "image/png")) == 1
    json.dumps(nb)   # the executed notebook is plain JSON (what nbconvert turns into the HTML report)
