"""voxlib.transfer: registry, cached-trunk training, weights, sweep, evaluation."""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voxlib import datasets, transfer
from voxlib.datasets import split
from voxlib.images import save_image

N_SPEAKERS = 4


def synthetic_images(speakers=N_SPEAKERS, utterances=6, size=48, seed=0):
    """Speaker k: a bright horizontal band (a 'formant') at its own height plus
    noise; utterances differ in noise, band jitter and pauses. uint8 (N, size, size)."""
    rng = np.random.default_rng(seed)
    imgs, spk, utt = [], [], []
    rows = np.arange(size)[:, None]
    for k in range(speakers):
        centre = (k + 1) * size / (speakers + 1)
        for u in range(utterances):
            c = centre + rng.uniform(-1.5, 1.5)
            band = np.exp(-0.5 * ((rows - c) / 1.5) ** 2) * (rng.uniform(size=(1, size)) > 0.25)
            img = 60 * rng.uniform(size=(size, size)) + 180 * band
            imgs.append(np.clip(img, 0, 255).astype(np.uint8))
            spk.append(f"spk{k}")
            utt.append(f"u{u:02d}")
    return np.stack(imgs), spk, utt


def write_synthetic(folder, transforms=("hamming", "morse"), **kw):
    """PNG files + a manifest DataFrame shaped like notebook 01's."""
    imgs, spk, utt = synthetic_images(**kw)
    rows = []
    for t_i, t in enumerate(transforms):
        for img, s, u in zip(imgs, spk, utt):
            img = np.roll(img, t_i, axis=1)  # the transforms differ a little
            path = save_image(folder / t / s / f"{u}.png", img, {"scale": 1.0})
            rows.append({"speaker": s, "utterance": u, "transform": t, "aligned": False, "path": str(path),
                         "scale": 1.0})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("images"))


# ----------------------------------------------------------------------------- registry

def test_registry_has_the_thesis_networks():
    assert set(transfer.NETWORKS) == {
        "ResNet152", "InceptionV3", "InceptionResNetV2", "DenseNet201", "Xception", "ResNet101", "MobileNet",
        "MobileNetV2", "NASNetMobile", "EfficientNetB0", "EfficientNetB3", "EfficientNetB7", "SequentialCNN"}
    sizes = {n: s.input_size for n, s in transfer.NETWORKS.items()}
    assert sizes["InceptionV3"] == sizes["Xception"] == sizes["InceptionResNetV2"] == 299
    assert sizes["ResNet152"] == sizes["EfficientNetB7"] == 224 and sizes["SequentialCNN"] == 256
    assert (transfer.NETWORKS["MobileNet"].epochs, transfer.NETWORKS["MobileNet"].batch_size) == (10, 10)


@pytest.mark.slow
@pytest.mark.parametrize("network", list(transfer.NETWORKS))
def test_every_network_builds_with_thesis_head_and_five_trainable_layers(network):
    import keras
    spec = transfer.NETWORKS[network]
    model, label = transfer.build_model(network, 3, image_size=max(spec.min_size, 75), weights="none")
    head = model.layers[-1]
    assert label == "none"
    assert isinstance(head, keras.layers.Dense) and head.units == 3
    assert head.activation is keras.activations.softmax
    trainable = {id(w) for w in model.trainable_weights}
    if spec.trainable_layers is None:  # the from-scratch CNN trains everything
        assert len(trainable) == len(model.weights) == 8
    else:
        # the head reads the base network's second-to-last layer
        assert model.layers[-2].output.shape[1:] == head.input.shape[1:]
        tail = {id(w) for lay in model.layers[-5:] for w in lay.trainable_weights}
        assert trainable == tail and len(trainable) >= 2
        assert not any(lay.trainable_weights for lay in model.layers[:-5])
    keras.backend.clear_session()


# ----------------------------------------------------------------------------- cached trunk

def tiny_residual_model(n_classes=3, seed=1):
    """A small ResNet-like network frozen by the thesis rule (all but the last five
    layers): BatchNorm in the frozen part and in the tail, and a tail that reads
    two frozen tensors (a residual Add)."""
    import keras
    from keras import layers
    keras.utils.set_random_seed(seed)
    inp = keras.Input((24, 24, 3))
    x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(8, 3, strides=2)(inp)))
    skip = layers.Conv2D(8, 1)(x)
    y = layers.Conv2D(8, 3, padding="same")(x)
    y = layers.BatchNormalization()(y)  # tail starts here
    y = layers.ReLU()(layers.Add()([y, skip]))
    out = layers.Dense(n_classes, activation="softmax")(layers.GlobalAveragePooling2D()(y))
    model = keras.Model(inp, out)
    for layer in model.layers[:-5]:
        layer.trainable = False
    model.compile(optimizer=keras.optimizers.RMSprop(), loss="categorical_crossentropy", metrics=["accuracy"])
    # non-trivial frozen BatchNorm statistics, so inference mode differs from training mode
    bn = model.layers[2]
    bn.moving_mean.assign(np.full(8, 0.3, np.float32))
    bn.moving_variance.assign(np.full(8, 2.0, np.float32))
    return model


def test_cached_trunk_training_equals_full_graph_training():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(22, 24, 24, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 22)]
    full, cached = tiny_residual_model(), tiny_residual_model()
    start = [w.copy() for w in full.get_weights()]
    for a, b in zip(start, cached.get_weights()):
        np.testing.assert_array_equal(a, b)
    h_full = transfer.fit_model(full, x, y, epochs=4, batch_size=5, seed=5)
    h_cached, (trunk, tail, feats, _), _ = transfer.train_cached(cached, x, y, epochs=4, batch_size=5, seed=5)
    assert len(trunk.outputs) == 2 and len(tail.layers) == 7  # 2 inputs + 5 trainable layers
    tail_vars = {w.path for lay in full.layers[-5:] for w in lay.weights}
    moved = {w.path for w, a in zip(full.weights, start) if not np.allclose(a, w.numpy())}
    assert {w.path for w in full.trainable_weights} <= moved <= tail_vars  # only the tail was trained
    for a, b in zip(full.get_weights(), cached.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(full.predict(x, verbose=0), cached.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(h_full["loss"], h_cached["loss"], rtol=1e-5)
    np.testing.assert_allclose(tail.predict(tuple(feats), verbose=0), cached.predict(x, verbose=0), atol=1e-6)


def test_split_trunk_feeds_residual_tails():
    """ResNet101's tail reads two tensors of the frozen part (the last Add's branches)."""
    model, _ = transfer.build_model("ResNet101", 2, image_size=32, weights="none")
    trunk, tail = transfer.split_trunk(model)
    assert len(trunk.outputs) == 2
    x = transfer.prepare_images(np.full((2, 32, 32), 100, np.uint8), size=32, preprocess="resnet")
    np.testing.assert_allclose(tail.predict(tuple(trunk.predict(x, verbose=0)), verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)


# ----------------------------------------------------------------------------- weights

def test_weights_from_a_file(tmp_path):
    import keras
    base = keras.applications.MobileNetV2(include_top=True, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "mine.weights.h5"
    base.save_weights(path)
    model, label = transfer.build_model("MobileNetV2", 2, image_size=32, weights=path, seed=7)
    assert label == "mine.weights.h5"
    expected = base.get_weights()[:-2]  # all but the ImageNet top, which the head replaces
    for a, b in zip(expected, model.get_weights()[: len(expected)]):
        np.testing.assert_array_equal(a, b)
    other, _ = transfer.build_model("MobileNetV2", 2, image_size=32, weights="none", seed=7)
    assert not np.array_equal(other.get_weights()[0], expected[0])


def test_missing_imagenet_weights_error_or_random(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(transfer.MissingWeightsError, match="nasnet_mobile.h5.*" + str(tmp_path)):
        transfer.build_model("NASNetMobile", 2, image_size=32)
    monkeypatch.setattr(transfer, "_WARNED_RANDOM", set())
    with pytest.warns(UserWarning, match="RANDOM weights"):
        _, label = transfer.build_model("NASNetMobile", 2, image_size=32, on_missing_weights="random")
    assert label == "random"
    with pytest.raises(transfer.MissingWeightsError, match="resnet152.*nasnet_mobile.h5"):
        transfer.run_sweep(pd.DataFrame({"speaker": ["a", "b"], "utterance": ["1", "2"], "transform": "t",
                                         "path": ["x", "y"]}), tmp_path / "out",
                           networks=["ResNet152", "NASNetMobile", "SequentialCNN"])
    # a corrupt file with a known Keras hash counts as missing
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "nasnet_mobile.h5").write_bytes(b"not weights")
    with pytest.raises(transfer.MissingWeightsError, match="hash"):
        transfer.build_model("NASNetMobile", 2, image_size=32)


def test_tampered_mobilenet_v2_file_is_refused_at_load(tmp_path, monkeypatch):
    """Keras checks no hash for MobileNetV2's file; voxlib checks the SHA-256 the seeding script pins."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    spec = transfer.NETWORKS["MobileNetV2"]
    path = tmp_path / "models" / spec.weights_file
    path.parent.mkdir()
    path.write_bytes(b"a tampered file of the right name")
    with pytest.raises(transfer.MissingWeightsError) as info:
        transfer.build_model("MobileNetV2", 2, image_size=32)
    message = str(info.value)
    assert str(path) in message and "sha256" in message and "scripts/seed_keras_cache.py" in message
    toy = pd.DataFrame({"speaker": ["a", "b"], "utterance": ["1", "2"], "transform": "t", "path": ["x", "y"]})
    with pytest.raises(transfer.MissingWeightsError, match=spec.weights_file + ".*hash.*seed_keras_cache"):
        transfer.run_sweep(toy, tmp_path / "out", networks=["MobileNetV2"])
    monkeypatch.setattr(transfer, "_WARNED_RANDOM", set())
    with pytest.warns(UserWarning, match="RANDOM weights"):
        assert transfer.build_model("MobileNetV2", 2, image_size=32, on_missing_weights="random")[1] == "random"
    # the same bytes pass once they are what the registry pins
    pinned = dataclasses.replace(spec, weights_hash=hashlib.sha256(path.read_bytes()).hexdigest())
    assert transfer._resolve_weights(pinned, "imagenet", "error")[:2] == ("imagenet", path)


def test_registry_pins_the_seeding_scripts_file():
    spec = transfer.NETWORKS["MobileNetV2"]
    assert spec.weights_hash == transfer.MOBILENET_V2_SHA256 and len(spec.weights_hash) == 64
    script = (Path(__file__).resolve().parents[1] / "scripts" / "seed_keras_cache.py").read_text()
    assert transfer.MOBILENET_V2_SHA256 not in script  # the script reads the hash from voxlib, not a copy


@pytest.mark.skipif(not transfer.imagenet_weights_path("MobileNetV2").is_file(),
                    reason="MobileNetV2 ImageNet file not seeded (scripts/seed_keras_cache.py)")
def test_imagenet_mobilenet_v2_at_another_size_copies_the_224_weights():
    import keras
    small, label = transfer.build_model("MobileNetV2", 2, image_size=96)
    ref = keras.applications.MobileNetV2(weights=str(transfer.imagenet_weights_path("MobileNetV2")))
    assert label == "imagenet"
    n = len(ref.weights) - 2
    for a, b in zip(ref.get_weights()[:n], small.get_weights()[:n]):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- sweep

def test_sweep_beats_chance_on_held_out_utterances_and_resumes(manifest, tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    manifest = split(manifest, test_size=0.34, seed=0)  # the run's split, as notebook 01 writes it
    kw = dict(networks=["SequentialCNN"], image_size=48, epochs=12, batch_size=8, seeds=[0], progress=False)
    table = transfer.run_sweep(manifest, out, **kw)
    assert len(table) == 2 and set(table["transform"]) == {"hamming", "morse"}
    assert list(table.columns) == transfer.SWEEP_COLUMNS
    chance = 100 / N_SPEAKERS
    # the lower end of the 95 % interval of held-out accuracy is above chance
    assert (table["test_ci_low"] > chance).all(), table[["transform", "test_accuracy", "test_ci_low"]]
    assert (table["n_test"] == 2 * N_SPEAKERS).all() and (table["weights"] == "none").all()

    # the saved model, reloaded with safe_mode, reproduces the held-out accuracy
    row = table.iloc[0]
    clf = transfer.load_classifier(row["model_path"])
    test = manifest[(manifest["split"] == "test") & (manifest["transform"] == row["transform"])]
    proba = clf.predict_images(transfer.load_images(test["path"]))
    acc = 100 * np.mean(np.array(clf.classes)[proba.argmax(1)] == test["speaker"].to_numpy())
    assert acc == pytest.approx(row["test_accuracy"])
    cm = pd.read_csv(row["confusion_path"], index_col=0)
    assert cm.index.name == "predicted" and cm.to_numpy().sum() == row["n_test"]
    assert np.trace(cm.to_numpy()) == round(row["test_accuracy"] * row["n_test"] / 100)

    # a rerun skips finished rows; a changed parameter adds one
    def boom(*a, **k):
        raise AssertionError("a finished run was recomputed")
    monkeypatch.setattr(transfer, "run_one", boom)
    again = transfer.run_sweep(manifest, out, **kw)
    pd.testing.assert_frame_equal(again, table)
    monkeypatch.undo()
    more = transfer.run_sweep(manifest, out, **{**kw, "epochs": 2, "transforms": ["morse"]})
    assert len(more) == 1 and more["epochs"].tolist() == [2]
    everything = transfer.load_sweep(out / "sweep.csv")
    assert everything["epochs"].tolist() == [12, 12, 2]

    # notebook 05's classifier: the best held-out accuracy among models knowing the speakers
    clf, best = transfer.load_best_classifier(out, speakers=["spk0", "spk3"])
    assert best["test_accuracy"] == everything["test_accuracy"].max()
    assert best["model_path"] in set(everything["model_path"]) and sorted(clf.classes) == sorted(
        f"spk{k}" for k in range(N_SPEAKERS))
    none, why = transfer.load_best_classifier(out, speakers=["spk0", "stranger"])
    assert none is None and "stranger" in why and "trained on the speakers" in why


def test_killed_sweep_keeps_finished_rows(manifest, tmp_path, monkeypatch):
    calls = []
    real = transfer.run_one

    def second_dies(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(transfer, "run_one", second_dies)
    with pytest.raises(KeyboardInterrupt):
        transfer.run_sweep(manifest, tmp_path, networks=["SequentialCNN"], image_size=32, epochs=1,
                           progress=False)
    table = transfer.load_sweep(tmp_path / "sweep.csv")
    assert len(table) == 1 and not list(tmp_path.glob("*.tmp"))


def test_best_classifier_absent_says_why(tmp_path):
    clf, why = transfer.load_best_classifier(tmp_path / "sweep", speakers=["a", "b"])
    assert clf is None and "sweep.csv does not exist" in why and "notebook 02" in why
    sweep = tmp_path / "sweep"
    rows = pd.DataFrame([{"network": "MobileNet", "transform": "amor", "test_accuracy": 90.0,
                          "model_path": sweep / "models" / "gone.keras"},
                         {"network": "SequentialCNN", "transform": "amor", "test_accuracy": 80.0,
                          "model_path": ""}])
    datasets.write_manifest(rows, sweep / "sweep.csv")
    clf, why = transfer.load_best_classifier(sweep, speakers=["a", "b"])
    assert clf is None and "exists on disk" in why and str(sweep / "sweep.csv") in why


def test_classifier_image_size_reads_notebook_01s_manifest(tmp_path):
    m = tmp_path / "manifest.csv"
    pd.DataFrame({"transform": ["hamming", "hamming", "amor"], "height": [256, 256, 128],
                  "width": [300, 300, 96], "path": ["a.png", "b.png", "c.png"]}).to_csv(m, index=False)
    assert transfer.classifier_image_size(m, "hamming") == (256, 300)
    assert transfer.classifier_image_size(m, "amor") == (128, 96)
    assert transfer.classifier_image_size(m, "bump") == (512, 512)  # transform absent: the default
    assert transfer.classifier_image_size(tmp_path / "none.csv", "amor", default=(64, 64)) == (64, 64)
    old = tmp_path / "old.csv"
    pd.DataFrame({"transform": ["amor"], "path": ["c.png"]}).to_csv(old, index=False)
    assert transfer.classifier_image_size(old, "amor", default=(32, 48)) == (32, 48)  # no size columns


def test_load_sweep_is_the_raw_table(tmp_path):
    empty = transfer.load_sweep(tmp_path / "absent.csv")
    assert empty.empty and list(empty.columns) == transfer.SWEEP_COLUMNS
    model = tmp_path / "s" / "models" / "m.keras"
    datasets.write_manifest(pd.DataFrame({"network": ["x"], "model_path": [str(model)]}), tmp_path / "s" / "sweep.csv")
    assert "models/m.keras" in (tmp_path / "s" / "sweep.csv").read_text()  # stored relative
    table = transfer.load_sweep(tmp_path / "s" / "sweep.csv")
    assert table["model_path"].iloc[0] == str((tmp_path / "s" / "models" / "m.keras").resolve())
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(ValueError, match="bad.csv is not a readable CSV"):
        transfer.load_sweep(bad)


def test_layer_table_on_a_classifier_and_a_pix2pix_generator():
    from voxlib import gan
    model, _ = transfer.build_model("SequentialCNN", 3, image_size=32, weights="none")
    table = transfer.layer_table(model, last=3)
    assert table["layer"].tolist() == [lay.name for lay in model.layers[-3:]]
    assert table["parameters"].iloc[-1] == 100 * 3 + 3 and table["output"].iloc[-1] == "(3,)"
    gen = gan.build_generator((32, 32), in_channels=1, out_channels=1)
    full = transfer.layer_table(gen, last=None)
    assert len(full) == len(gen.layers) and full["parameters"].sum() == gen.count_params()
    assert full["output"].iloc[-1] == "(32, 32, 1)"
    with pytest.raises(ValueError, match="last=0"):
        transfer.layer_table(gen, last=0)


def test_images_without_metadata_and_in_colour_load_as_gray(tmp_path):
    from PIL import Image
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(gray).save(tmp_path / "plain.png")  # no voxlib metadata
    rgb = np.stack([gray, gray // 2, np.zeros_like(gray)], axis=-1)
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    out = transfer.load_images([tmp_path / "plain.png", tmp_path / "colour.png"])
    assert out.dtype == np.uint8 and out.shape == (2, 8, 8)
    np.testing.assert_array_equal(out[0], gray)
    expected = np.rint(0.2989 * gray + 0.5870 * (gray // 2)).astype(np.uint8)  # MATLAB rgb2gray weights
    assert np.abs(out[1].astype(int) - expected).max() <= 1


# ----------------------------------------------------------------------------- bad input

def test_unknown_network_lists_the_registry(manifest, tmp_path):
    with pytest.raises(ValueError, match="ResNet152.*SequentialCNN"):
        transfer.run_sweep(manifest, tmp_path, networks=["VGG16"])


def test_one_speaker_is_refused(manifest, tmp_path):
    with pytest.raises(ValueError, match="1 speaker.*at least 2"):
        transfer.run_sweep(manifest[manifest["speaker"] == "spk0"], tmp_path, networks=["SequentialCNN"])


def test_images_of_mixed_sizes_are_refused(tmp_path):
    a = save_image(tmp_path / "a.png", np.zeros((32, 32), np.uint8), {"scale": 1.0})
    b = save_image(tmp_path / "b.png", np.zeros((32, 40), np.uint8), {"scale": 1.0})
    with pytest.raises(ValueError, match="mixed sizes.*b.png is 40x32"):
        transfer.load_images([a, b])


def test_bad_parameters():
    with pytest.raises(ValueError, match="on_missing_weights"):
        transfer.build_model("MobileNetV2", 2, image_size=32, on_missing_weights="ignore")
    with pytest.raises(FileNotFoundError, match="no such file"):
        transfer.build_model("MobileNetV2", 2, image_size=32, weights="/nonexistent/w.h5")
    with pytest.raises(ValueError, match="minimum of 75"):
        transfer.build_model("InceptionV3", 2, image_size=64, weights="none")
    with pytest.raises(ValueError, match="uint8"):
        transfer.prepare_images(np.zeros((2, 8, 8)), size=8, preprocess="scale01")


# ----------------------------------------------------------------------------- metrics and plots

def test_wilson_interval_and_macro_f1():
    from voxlib.metrics import accuracy_ci, macro_f1, wilson_interval
    low, high = wilson_interval(8, 10)  # textbook value: (0.490, 0.943)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    acc, lo, hi = accuracy_ci([0, 1, 1, 2], [0, 1, 2, 2])
    assert acc == 0.75 and lo < 0.75 < hi
    assert macro_f1([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert macro_f1([0, 0, 1, 1], [0, 0, 0, 0]) == pytest.approx((2 / 3 + 0) / 2)


def test_score_predictions_confusion_rows_are_predictions():
    proba = np.eye(3)[[0, 0, 2, 2]]  # true 0, 1, 2, 2 -> predicted 0, 0, 2, 2
    ev = transfer.score_predictions(np.array([0, 1, 2, 2]), proba, ["a", "b", "c"])
    assert ev["confusion"].loc["a", "b"] == 1 and ev["confusion"].loc["b", "a"] == 0
    assert ev["accuracy"] == 75.0
    # log loss of the true class: three certain answers and one at the 1e-7 floor
    assert ev["loss"] == pytest.approx(-np.log(1e-7) / 4)


def test_plots(tmp_path):
    from voxlib.plots import plot_confusion, plot_history
    cm = pd.DataFrame([[3, 1], [0, 4]], index=pd.Index(["A", "B"], name="predicted"),
                      columns=pd.Index(["A", "B"], name="true"))
    fig = plot_confusion(cm, path=tmp_path / "cm.png")
    assert (tmp_path / "cm.png").is_file()
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0", "1", "3", "4"]
    hist = pd.DataFrame({"epoch": [1, 2], "accuracy": [0.5, 0.9], "loss": [1.0, 0.3],
                         "val_accuracy": [0.4, 0.6], "val_loss": [1.2, 0.9]})
    fig = plot_history(hist)
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].lines[0].get_ydata()[1] == pytest.approx(90)


# ----------------------------------------------------------------------------- seeds and baselines

def _split_manifest(manifest):
    return split(manifest, test_size=0.34, seed=0)


def test_seeds_are_runs_on_one_split_that_rerun_bit_identically(manifest, tmp_path):
    data = _split_manifest(manifest[manifest["transform"] == "hamming"])
    kw = dict(networks=["SequentialCNN"], image_size=32, epochs=3, batch_size=8, progress=False)
    both = transfer.run_sweep(data, tmp_path / "a", seeds=[0, 1], **kw)
    assert both["seed"].tolist() == [0, 1]
    assert both["n_test"].nunique() == 1                          # the same held-out recordings
    assert both["train_loss"].iloc[0] != both["train_loss"].iloc[1]  # but another start and batch order
    # one seed alone, in a fresh folder and process state, gives that seed's row exactly
    alone = transfer.run_sweep(data, tmp_path / "b", seeds=[1], **kw)
    cols = ["train_accuracy", "test_accuracy", "train_loss", "test_loss", "macro_f1"]
    pd.testing.assert_frame_equal(alone[cols], both[both["seed"] == 1][cols].reset_index(drop=True))
    h_a = pd.read_csv(both["history_path"].iloc[1])
    h_b = pd.read_csv(alone["history_path"].iloc[0])
    pd.testing.assert_frame_equal(h_a, h_b)


def test_reinitialise_redraws_every_kernel_whatever_pythons_random_did():
    """Depthwise and separable kernels too (Keras names their variables unlike their
    initialisers): a Dask worker's threads draw from Python's ``random`` between
    builds, and a random trunk must not depend on it."""
    import random
    from voxlib._heavy import keras

    def build(state):
        random.seed(state)  # what Keras's unseeded initialisers draw their seeds from
        layers = [keras.layers.Conv2D(2, 3), keras.layers.DepthwiseConv2D(3), keras.layers.SeparableConv2D(2, 3),
                  keras.layers.Dense(3)]
        for layer in layers:
            layer.build((None, 8, 8, 2) if not isinstance(layer, keras.layers.Dense) else (None, 4))
        before = [w.numpy().copy() for layer in layers for w in layer.weights]
        for i, layer in enumerate(layers):
            transfer._reinitialise(layer, 0, i)
        return before, [w.numpy() for layer in layers for w in layer.weights]

    drawn_a, a = build(1)
    drawn_b, b = build(2)
    assert len(a) == 9
    assert any(not np.array_equal(x, y) for x, y in zip(drawn_a, drawn_b))  # the builds differed
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)                                   # the redraws do not


def test_the_frozen_trunk_runs_once_for_all_seeds(manifest, tmp_path, monkeypatch):
    calls = []
    real = transfer.extract_features

    def counted(trunk, x, **k):
        calls.append(len(x))
        return real(trunk, x, **k)
    monkeypatch.setattr(transfer, "extract_features", counted)
    data = _split_manifest(manifest[manifest["transform"] == "hamming"])
    table = transfer.run_sweep(data, tmp_path, networks=["MobileNetV2"], image_size=32, epochs=1, weights="none",
                               seeds=[0, 1, 2], progress=False)
    assert len(table) == 3 and sum(calls) == len(data)  # train + held-out images, once
    assert table["test_loss"].nunique() == 3


def test_bad_seeds_are_refused(manifest, tmp_path):
    for bad in ([], [0, 0], [-1], ["a"]):
        with pytest.raises(ValueError, match="seeds"):
            transfer.run_sweep(manifest, tmp_path, networks=["SequentialCNN"], seeds=bad, progress=False)


@pytest.fixture(scope="module")
def embedded_recordings(embedded_root):
    """12 recordings of each of the seven embedded speakers, with the run's content-grouped split."""
    corpus = datasets.discover(embedded_root)
    corpus = corpus.groupby("speaker", group_keys=False).sample(frac=1, random_state=0).groupby("speaker").head(12)
    data = datasets.apply_split(corpus, datasets.content_split(corpus, test_size=0.25, seed=0))
    return data.assign(source_path=data["path"], sr=8000)


@pytest.mark.parametrize("name", transfer.BASELINES)
def test_baselines_recognise_the_embedded_speakers_on_held_out_recordings(name, embedded_recordings, tmp_path):
    row = transfer.run_baseline(name, embedded_recordings, tmp_path)
    chance = 100 / 7
    assert row["network"] == name and row["transform"] == transfer.BASELINE_TRANSFORM and row["model_path"] == ""
    assert row["n_test"] == (embedded_recordings["split"] == "test").sum()
    # measured here: MFCC+LR 95.2 %, d-vector+LR 95.2 % of 21 held-out clips (CI low 77.3 for both); chance 14.3 %
    assert row["test_ci_low"] > 2 * chance, row
    cm = pd.read_csv(row["confusion_path"], index_col=0)
    assert cm.to_numpy().sum() == row["n_test"]
    if name == "MFCC+LR":  # deterministic (the encoder's repeatability is tests/test_speaker.py's)
        again = transfer.run_baseline(name, embedded_recordings, tmp_path / "again")
        assert again["test_accuracy"] == row["test_accuracy"] and again["test_loss"] == row["test_loss"]


def test_baseline_rows_join_the_sweep_and_are_not_a_classifier_for_notebook_05(embedded_recordings, tmp_path):
    table = transfer.run_sweep(embedded_recordings.assign(transform="hamming"), tmp_path, networks=[],
                               baselines=["MFCC+LR"], progress=False)
    assert list(table.columns) == transfer.SWEEP_COLUMNS and transfer.is_baseline(table).all()
    clf, why = transfer.load_best_classifier(tmp_path, speakers=["es-co_july"])
    assert clf is None and "exists on disk" in why
