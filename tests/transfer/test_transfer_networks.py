"""voxlib.transfer.networks: the registry, the ImageNet weights, building and splitting a model."""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voxlib import transfer
from voxlib.run import load_profile, project_root

from speaker_images import synthetic_images


def test_registry_has_the_thesis_networks():
    assert set(transfer.NETWORKS) == {
        "ResNet152", "InceptionV3", "InceptionResNetV2", "DenseNet201", "Xception", "ResNet101", "MobileNet",
        "MobileNetV2", "NASNetMobile", "EfficientNetB0", "EfficientNetB3", "EfficientNetB7", "SequentialCNN"}
    sizes = {n: s.input_size for n, s in transfer.NETWORKS.items()}
    assert sizes["InceptionV3"] == sizes["Xception"] == sizes["InceptionResNetV2"] == 299
    assert sizes["ResNet152"] == sizes["EfficientNetB7"] == 224 and sizes["SequentialCNN"] == 256
    assert (transfer.NETWORKS["MobileNet"].epochs, transfer.NETWORKS["MobileNet"].batch_size) == (10, 10)


#: Notebook 02's section of the full profile: the thesis's networks, sizes and head.
FULL = load_profile("full")["02_transfer_learning"]


def test_the_full_profile_runs_every_network_at_its_thesis_size():
    assert sorted(FULL["networks"]) == sorted(transfer.NETWORKS)
    assert FULL["image_size"] is None and FULL["epochs"] is None and FULL["batch_size"] is None


def _two_speakers_two_images_each():
    """Rows and uint8 images for one training and one held-out image per speaker."""
    imgs, speakers, utterances = synthetic_images(speakers=2, utterances=2, size=64)
    rows = pd.DataFrame({"speaker": speakers, "utterance": utterances, "transform": "morse",
                         "path": [f"{s}/{u}.png" for s, u in zip(speakers, utterances)],
                         "split": ["train", "test"] * 2})
    return rows, imgs


@pytest.mark.slow
@pytest.mark.parametrize("network", FULL["networks"])
def test_every_network_of_the_full_profile_builds_at_its_thesis_size_and_trains_one_step(network, tmp_path):
    """The full profile's code path, one step (issue 24): the network at the profile's size (the
    thesis's 224/299 px, 256 for SequentialCNN) with the thesis's head and freeze rule, random
    weights (no download), one training step of the sweep's run on two images, saved."""
    import keras
    spec = transfer.NETWORKS[network]
    settings = transfer.SweepSettings(image_size=FULL["image_size"], epochs=1, batch_size=2, weights="none",
                                      precision=FULL["precision"], threads=FULL["threads"])
    built = transfer.sweep._build(network, 2, settings, spec.input_size)
    model = built.model
    head = model.layers[-1]
    assert built.label == "none" and model.input_shape[1:3] == (spec.input_size, spec.input_size)
    assert isinstance(head, keras.layers.Dense) and head.units == 2
    assert head.activation is keras.activations.softmax
    trainable = {id(w) for w in model.trainable_weights}
    if spec.trainable_layers is None:  # the from-scratch CNN trains everything
        assert len(trainable) == len(model.weights) == 8
        frozen = []
    else:
        # the head reads the base network's second-to-last layer
        assert model.layers[-2].output.shape[1:] == head.input.shape[1:]
        tail = {id(w) for lay in model.layers[-5:] for w in lay.trainable_weights}
        assert trainable == tail and len(trainable) >= 2
        assert not any(lay.trainable_weights for lay in model.layers[:-5])
        frozen = [w for lay in model.layers[:-5] for w in lay.weights]
    before = [w.numpy() for w in frozen]
    rows, imgs = _two_speakers_two_images_each()
    row = transfer.run_one(rows, network, tmp_path, settings, images=imgs, built=built)
    assert (row["image_size"], row["epochs"], row["n_train"], row["n_test"]) == (spec.input_size, 1, 2, 2)
    assert np.isfinite(row["train_loss"]) and np.isfinite(row["test_loss"]) and row["threads"] == FULL["threads"]
    assert int(built.parts[1].optimizer.iterations.numpy()) == 1  # one step
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, frozen))  # the frozen part did not move
    assert pd.read_csv(row["history_path"])["epoch"].tolist() == [1]
    assert Path(row["model_path"]).stat().st_size > 0
    keras.backend.clear_session()


def test_split_trunk_feeds_residual_tails():
    """ResNet101's tail reads two tensors of the frozen part (the last Add's branches)."""
    model, _ = transfer.build_model("ResNet101", 2, image_size=32, weights="none")
    trunk, tail = transfer.split_trunk(model)
    assert len(trunk.outputs) == 2
    x = transfer.prepare_images(np.full((2, 32, 32), 100, np.uint8), size=32, preprocess="resnet")
    np.testing.assert_allclose(tail.predict(tuple(trunk.predict(x, verbose=0)), verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)


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
    monkeypatch.setattr(transfer.networks, "_WARNED_RANDOM", set())
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
    monkeypatch.setattr(transfer.networks, "_WARNED_RANDOM", set())
    with pytest.warns(UserWarning, match="RANDOM weights"):
        assert transfer.build_model("MobileNetV2", 2, image_size=32, on_missing_weights="random")[1] == "random"
    # the same bytes pass once they are what the registry pins
    pinned = dataclasses.replace(spec, weights_hash=hashlib.sha256(path.read_bytes()).hexdigest())
    assert transfer.networks._resolve_weights(pinned, "imagenet", "error")[:2] == ("imagenet", path)


def test_registry_pins_the_seeding_scripts_file():
    spec = transfer.NETWORKS["MobileNetV2"]
    assert spec.weights_hash == transfer.MOBILENET_V2_SHA256 and len(spec.weights_hash) == 64
    script = (project_root() / "scripts" / "seed_keras_cache.py").read_text()
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


# ----------------------------------------------------------------------------- bad input

def test_bad_parameters():
    """(The check of prepare_images that this test held is in test_transfer_training.py.)"""
    with pytest.raises(ValueError, match="on_missing_weights"):
        transfer.build_model("MobileNetV2", 2, image_size=32, on_missing_weights="ignore")
    with pytest.raises(FileNotFoundError, match="no such file"):
        transfer.build_model("MobileNetV2", 2, image_size=32, weights="/nonexistent/w.h5")
    with pytest.raises(ValueError, match="minimum of 75"):
        transfer.build_model("InceptionV3", 2, image_size=64, weights="none")
