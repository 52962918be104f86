"""Tests of voxlib.gan.clips: pitch conversion on the training sentences, time maps, the clip settings."""
from __future__ import annotations

import numpy as np
import pytest
from gan_toys import shared_corpus

from voxlib import audio, gan, pitch
from voxlib.gan import clips as gan_clips


def test_prepare_clips_converts_pitch_on_training_statistics_and_warps_targets(tmp_path):
    rows = shared_corpus()
    clips = gan.prepare_clips(rows, "es-mx_allison", "es-co_july", tmp_path / "clips", progress=False)
    assert set(clips["role"]) == {"source", "target"} and len(clips) == 2 * 8
    stats = gan.load_pitch_stats(tmp_path / "clips")
    train = rows[rows["split"] == "train"]
    expected = {who: pitch.log_f0_stats([gan_clips._aligned_clip(p, 8000, 60.0, 3.0, 0.5)
                                         for p in train.loc[train["speaker"] == spk, "path"]], 8000)
                for who, spk in (("source", "es-mx_allison"), ("target", "es-co_july"))}
    assert stats == expected                                  # estimated on the training sentences only
    src = clips[clips["role"] == "source"]
    converted = pitch.log_f0_stats([audio.load(p, sr=8000)[0] for p in src["path"]], 8000)
    plain = pitch.log_f0_stats([audio.load(p, sr=8000)[0] for p in src["plain_path"]], 8000)
    # the converted source's log-F0 mean moved (most of the way) to the target's
    assert abs(converted.mean - stats["target"].mean) < 0.4 * abs(plain.mean - stats["target"].mean) + 0.02
    tgt = clips[clips["role"] == "target"]
    for path, clip in zip(tgt["time_map"], tgt["path"]):
        warp = np.load(path)
        n = audio.load(clip, sr=8000)[0].size
        assert warp.shape == (n,) and np.all(np.diff(warp) >= 0) and 0 <= warp.min() and warp.max() < n
    kept = gan.prepare_clips(rows, "es-mx_allison", "es-co_july", tmp_path / "kept",
                             gan.ClipSettings(pitch_mode="keep", pair_alignment="vad"), progress=False)
    assert gan.load_pitch_stats(tmp_path / "kept") is None and (kept["time_map"] == "").all()
    np.testing.assert_array_equal(audio.load(kept["path"].iloc[0], sr=8000)[0],
                                  audio.load(kept["plain_path"].iloc[0], sr=8000)[0])


@pytest.mark.parametrize("kw, name", [({"pair_alignment": "xcorr"}, "pair_alignment"),
                                      ({"pitch_mode": "shift"}, "pitch_mode"),
                                      ({"highpass_hz": 5000.0}, "highpass_hz"),
                                      ({"highpass_hz": "60"}, "highpass_hz")])
def test_clip_settings_reject_bad_values_by_name(tmp_path, kw, name):
    with pytest.raises(ValueError, match=name):
        gan.prepare_clips(shared_corpus(2, 0), "es-mx_allison", "es-co_july", tmp_path / "c", gan.ClipSettings(**kw))
    assert not (tmp_path / "c").exists()


def test_thesis_clips_are_the_thesiss_recipe():
    assert gan.THESIS_CLIPS == gan.ClipSettings(pair_alignment="vad", pitch_mode="keep", highpass_hz=None)
    assert gan.ClipSettings().sr == 8000 and gan.ClipSettings(sr=16000, highpass_hz=5000.0).highpass_hz == 5000.0
