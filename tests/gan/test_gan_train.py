"""Tests of voxlib.gan.train: Pix2Pix(...).fit, resume, the run's parameters, precision, the saved generator."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gan_toys import toy_pairs

from voxlib import devices, gan, metrics, plots


def model_for(src, tgt, **hyperparameters):
    """A Pix2Pix for the toy pairs' size and channels."""
    return gan.Pix2Pix(src.shape[1:3], in_channels=src.shape[-1], out_channels=tgt.shape[-1], **hyperparameters)


def test_fit_learns_inversion(tmp_path):
    src, tgt = toy_pairs(8, size=32)
    model = model_for(src, tgt, seed=0).fit(src, tgt, tmp_path / "run", epochs=6, checkpoint_every=3,
                                            panels=gan.Panels(plots.plot_gan_panel, [6]), progress=False)
    losses = model.losses_
    assert list(losses["epoch"]) == list(range(1, 7))
    assert losses["gen_l1"].iloc[-1] < 0.6 * losses["gen_l1"].iloc[0]
    out = model.generate(src)
    assert metrics.image_l1(out, tgt) < metrics.image_l1(src, tgt)        # beats "output = input"
    for name in ("generator.keras", "losses.csv", "train_params.json", "panels/epoch_0006.png"):
        assert (tmp_path / "run" / name).exists(), name
    reloaded = gan.load_generator(tmp_path / "run" / "generator.keras")
    np.testing.assert_array_equal(gan.generate(reloaded, src), out)
    fig = plots.plot_gan_losses(losses, path=tmp_path / "losses.png")
    assert len(fig.axes) == 3 and fig.axes[0].get_yscale() == "log" and (tmp_path / "losses.png").exists()
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), losses["gen_l1"])


def test_panels_are_drawn_by_the_callers_figure_function(tmp_path):
    """Training imports no plotting: the panel is whatever ``Panels.figure`` draws, with the epoch as title."""
    src, tgt = toy_pairs(3, size=32)
    calls = []

    def figure(source, target, generated, *, path, title):
        calls.append((source.shape, target.shape, generated.shape, path.name, title))
        return plots.plot_gan_panel(source, target, generated, path=path, title=title)

    model_for(src, tgt).fit(src, tgt, tmp_path / "run", epochs=3, panels=gan.Panels(figure, 2), progress=False)
    assert [c[3:] for c in calls] == [("epoch_0002.png", "epoch 2"), ("epoch_0003.png", "epoch 3")]
    assert calls[0][:3] == ((2, 32, 32, 1),) * 3                       # the first two training pairs by default
    assert sorted(p.name for p in (tmp_path / "run" / "panels").iterdir()) == ["epoch_0002.png", "epoch_0003.png"]


def test_fit_refuses_images_the_model_was_not_made_for(tmp_path):
    src, tgt = toy_pairs(2, size=32)
    with pytest.raises(ValueError, match="image_size"):
        gan.Pix2Pix(64, in_channels=1, out_channels=1).fit(src, tgt, tmp_path / "a", epochs=1, progress=False)
    with pytest.raises(ValueError, match="in_channels=1, out_channels=1"):
        gan.Pix2Pix(32).fit(src, tgt, tmp_path / "b", epochs=1, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        model_for(src, tgt).fit(src, tgt, tmp_path / "c", epochs=0, progress=False)
    assert not any((tmp_path / d).exists() for d in "abc")


def test_resume_equals_uninterrupted(tmp_path):
    src, tgt = toy_pairs(4, size=32)
    kw = dict(checkpoint_every=2, progress=False)
    straight = model_for(src, tgt, seed=0).fit(src, tgt, tmp_path / "a", epochs=4, **kw)
    losses4 = straight.losses_
    model_for(src, tgt, seed=0).fit(src, tgt, tmp_path / "b", epochs=2, **kw)
    resumed = model_for(src, tgt, seed=0).fit(src, tgt, tmp_path / "b", epochs=4, **kw)
    losses22 = resumed.losses_
    assert list(losses22["epoch"]) == [1, 2, 3, 4]                       # nothing redone or lost
    np.testing.assert_allclose(losses22[list(gan.LOSS_COLUMNS)], losses4[list(gan.LOSS_COLUMNS)], rtol=1e-4)
    for a, b in zip(straight.generator.get_weights(), resumed.generator.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    again = model_for(src, tgt, seed=0).fit(src, tgt, tmp_path / "b", epochs=4, **kw).losses_  # finished: no new epoch
    assert len(again) == 4
    with pytest.raises(ValueError, match="l1_weight"):
        model_for(src, tgt, seed=0, l1_weight=10.0).fit(src, tgt, tmp_path / "b", epochs=6, **kw)
    with pytest.raises(ValueError, match="data_fingerprint"):
        model_for(tgt, src, seed=0).fit(tgt, src, tmp_path / "b", epochs=6, **kw)


def test_a_rerun_is_bit_identical(tmp_path):
    """The same data, seed and settings in a new folder give the same losses and weights, bit for bit."""
    src, tgt = toy_pairs(3, size=32)
    kw = dict(epochs=1, checkpoint_every=1, progress=False)
    a = model_for(src, tgt, seed=3).fit(src, tgt, tmp_path / "a", **kw)
    b = model_for(src, tgt, seed=3).fit(src, tgt, tmp_path / "b", **kw)
    losses_a, losses_b = a.losses_, b.losses_
    pd.testing.assert_frame_equal(losses_a[list(gan.LOSS_COLUMNS)], losses_b[list(gan.LOSS_COLUMNS)])
    for wa, wb in zip(a.generator.get_weights(), b.generator.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.generate(src), b.generate(src))


def test_residual_is_part_of_a_runs_parameters(tmp_path):
    src, tgt = toy_pairs(2, size=32)
    model_for(src, tgt, residual=True).fit(src, tgt, tmp_path / "r", epochs=1, progress=False)
    with pytest.raises(ValueError):
        model_for(src, tgt, residual=False).fit(src, tgt, tmp_path / "r", epochs=1, progress=False)


def test_train_params_hold_the_parameters_as_given(tmp_path):
    """train_params.json reads as the module-level fit wrote it: an int lambda stays an int."""
    src, tgt = toy_pairs(2, size=32)
    model_for(src, tgt, l1_weight=100, seed=2).fit(src, tgt, tmp_path / "run", epochs=1, progress=False)
    stored = (tmp_path / "run" / gan.PARAMS_FILE).read_text()
    assert '"l1_weight": 100,' in stored and '"depth": 5,' in stored and '"residual"' not in stored
    assert sorted(pd.read_json(tmp_path / "run" / gan.PARAMS_FILE, typ="series").index) == sorted([
        "augment", "batch_size", "beta_1", "data_fingerprint", "depth", "flip", "image_size", "in_channels",
        "jitter", "l1_weight", "learning_rate", "n_pairs", "out_channels", "precision", "seed"])


# ---------------------------------------------------------------- precision

def _compute_dtypes(model):
    return {layer.dtype_policy.compute_dtype for layer in model.layers if layer.weights}


def test_mixed_bfloat16_training_is_finite_float32_out_and_recorded(tmp_path):
    src, tgt = toy_pairs(2, size=32)
    model = model_for(src, tgt, residual=True, precision="mixed_bfloat16").fit(
        src, tgt, tmp_path / "bf16", epochs=2, checkpoint_every=2, progress=False)
    losses = model.losses_
    assert model.precision == "mixed_bfloat16"
    assert "bfloat16" in _compute_dtypes(model.generator) and "bfloat16" in _compute_dtypes(model.discriminator)
    assert np.isfinite(losses[list(gan.LOSS_COLUMNS)].to_numpy()).all() and len(losses) == 2
    x = gan.to_unit(src)
    assert model.generator(x, training=False).dtype == "float32"
    assert model.discriminator([x, x], training=False).dtype == "float32"
    loaded = gan.load_generator(tmp_path / "bf16" / gan.GENERATOR_FILE)
    assert loaded(x, training=False).dtype == "float32"
    np.testing.assert_array_equal(gan.generate(loaded, src), model.generate(src))
    stored = pd.read_json(tmp_path / "bf16" / gan.PARAMS_FILE, typ="series")
    assert stored["precision"] == "mixed_bfloat16"
    with pytest.raises(ValueError, match="precision: stored 'mixed_bfloat16', now 'float32'"):
        model_for(src, tgt, residual=True, precision="float32").fit(src, tgt, tmp_path / "bf16", epochs=2,
                                                                    progress=False)


def test_float32_is_recorded_and_a_run_from_before_precision_resumes(tmp_path):
    src, tgt = toy_pairs(2, size=32)
    out = tmp_path / "f32"
    model = model_for(src, tgt).fit(src, tgt, out, epochs=1, progress=False)
    assert model.precision == "float32" and _compute_dtypes(model.generator) == {"float32"}
    params = pd.read_json(out / gan.PARAMS_FILE, typ="series").to_dict()
    assert params["precision"] == "float32"
    del params["precision"]                           # a run folder written before the parameter existed
    (out / gan.PARAMS_FILE).write_text(pd.Series(params).to_json())
    losses = model_for(src, tgt).fit(src, tgt, out, epochs=1, progress=False).losses_
    assert len(losses) == 1
    with pytest.raises(ValueError, match="precision"):
        model_for(src, tgt, precision="mixed_bfloat16").fit(src, tgt, out, epochs=1, progress=False)


def test_a_bad_precision_fails_before_fit_writes(tmp_path):
    src, tgt = toy_pairs(1, size=32)
    with pytest.raises(ValueError, match="precision="):
        model_for(src, tgt, precision="bf16").fit(src, tgt, tmp_path / "run", epochs=1, progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags, policy", [({"amx_bf16", "avx512f"}, "mixed_bfloat16"), ({"avx2"}, "float32")])
def test_auto_precision_follows_resolve_precision(monkeypatch, flags, policy):
    monkeypatch.setattr(devices, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(devices, "gpus", lambda: [])
    assert devices.resolve_precision("auto", "pix2pix") == policy
    model = gan.Pix2Pix(32, in_channels=1, out_channels=1, precision="auto", compiled=False)
    assert model.precision == model.config["precision"] == policy
    expected = {"float32": {"float32"}, "mixed_bfloat16": {"bfloat16", "float32"}}[policy]
    assert _compute_dtypes(model.generator) == expected
