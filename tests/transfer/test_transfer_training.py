"""voxlib.transfer.training: images in, cached-trunk training, seeded restarts, scores."""
from __future__ import annotations

import numpy as np
import pytest

from voxlib import transfer
from voxlib.images import save_image


# ----------------------------------------------------------------------------- images

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


def test_images_of_mixed_sizes_are_refused(tmp_path):
    a = save_image(tmp_path / "a.png", np.zeros((32, 32), np.uint8), {"scale": 1.0})
    b = save_image(tmp_path / "b.png", np.zeros((32, 40), np.uint8), {"scale": 1.0})
    with pytest.raises(ValueError, match="mixed sizes.*b.png is 40x32"):
        transfer.load_images([a, b])


def test_prepare_images_wants_uint8():
    """(Moved from test_bad_parameters, whose other checks are in test_transfer_networks.py.)"""
    with pytest.raises(ValueError, match="uint8"):
        transfer.prepare_images(np.zeros((2, 8, 8)), size=8, preprocess="scale01")


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


# ----------------------------------------------------------------------------- seeded restarts

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
            transfer.training._reinitialise(layer, 0, i)
        return before, [w.numpy() for layer in layers for w in layer.weights]

    drawn_a, a = build(1)
    drawn_b, b = build(2)
    assert len(a) == 9
    assert any(not np.array_equal(x, y) for x, y in zip(drawn_a, drawn_b))  # the builds differed
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)                                   # the redraws do not


# ----------------------------------------------------------------------------- scores and their plots

def test_score_predictions_confusion_rows_are_predictions():
    proba = np.eye(3)[[0, 0, 2, 2]]  # true 0, 1, 2, 2 -> predicted 0, 0, 2, 2
    ev = transfer.score_predictions(np.array([0, 1, 2, 2]), proba, ["a", "b", "c"])
    assert ev["confusion"].loc["a", "b"] == 1 and ev["confusion"].loc["b", "a"] == 0
    assert ev["accuracy"] == 75.0
    # log loss of the true class: three certain answers and one at the 1e-7 floor
    assert ev["loss"] == pytest.approx(-np.log(1e-7) / 4)
