"""voxlib.audio: loading any format, bad input, writing, the thesis's VAD alignment."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from signals import voiced
from voxlib import audio


@pytest.mark.parametrize("fmt,ext", [("WAV", "wav"), ("FLAC", "flac"), ("OGG", "ogg"), ("MP3", "mp3")])
def test_load_formats_resample_and_first_channel(tmp_path, fmt, ext):
    sr = 44100
    left = voiced(sr, 1.0, f0=150)
    right = np.zeros_like(left)
    f = tmp_path / f"x.{ext}"
    sf.write(f, np.stack([left, right], axis=1), sr, format=fmt)
    y, out_sr = audio.load(f, sr=8000)
    assert out_sr == 8000 and y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - 8000) <= 2 + (1200 if ext == "mp3" else 0)  # mp3 adds encoder padding
    # the first channel carries the signal: its 150 Hz harmonic must dominate the spectrum
    spec = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(y.size, 1 / out_sr)
    assert 100 < freqs[np.argmax(spec)] < 460
    ym, _ = audio.load(f, sr=8000, mono="mean")
    assert np.max(np.abs(ym)) < 0.75 * np.max(np.abs(y)) + 0.02  # the mean halves it


def test_load_keeps_native_rate(tmp_path):
    f = tmp_path / "a.wav"
    sf.write(f, voiced(48000, 0.5), 48000)
    y, sr = audio.load(f)
    assert sr == 48000 and y.size == 24000


@pytest.mark.parametrize(
    "make,err,words",
    [
        (lambda p: None, audio.AudioFileError, "no such file"),
        (lambda p: p.write_bytes(b""), audio.AudioFileError, "empty"),
        (lambda p: p.write_bytes(b"RIFF\x00\x01garbage" * 20), audio.AudioFileError, "cannot decode"),
        (lambda p: sf.write(p, np.zeros(8000, np.float32), 8000), audio.SilentAudioError, "silent"),
        (lambda p: sf.write(p, np.r_[voiced(8000, 0.5), np.nan].astype(np.float32), 8000, subtype="FLOAT"),
         audio.InvalidSamplesError, "NaN"),
        (lambda p: sf.write(p, np.r_[voiced(8000, 0.5), np.inf].astype(np.float32), 8000, subtype="FLOAT"),
         audio.InvalidSamplesError, "NaN/inf"),
    ],
    ids=["missing", "empty", "corrupt", "silent", "nan", "inf"],
)
def test_bad_files_raise_naming_file(tmp_path, make, err, words):
    f = tmp_path / "bad.wav"
    make(f)
    with pytest.raises(err) as info:
        audio.load(f)
    assert str(f) in str(info.value) and words in str(info.value)


def test_too_short_and_bad_arguments(tmp_path):
    f = tmp_path / "short.wav"
    sf.write(f, voiced(8000, 0.02), 8000)
    with pytest.raises(audio.AudioTooShortError, match="short.wav"):
        audio.load(f, min_duration=0.032)
    with pytest.raises(ValueError, match="mono="):
        audio.load(f, mono="left")
    with pytest.raises(ValueError, match="sr="):
        audio.load(f, sr=-1)


def test_write_wav_roundtrip_and_never_overwrites(tmp_path):
    y = voiced(8000, 0.5)
    f = audio.write_wav(tmp_path / "out" / "a.wav", y, 8000)
    back, sr = audio.load(f)
    assert sr == 8000 and np.max(np.abs(back - y)) < 1e-4
    with pytest.raises(FileExistsError, match="a.wav"):
        audio.write_wav(f, y, 8000)
    audio.write_wav(f, 0.5 * y, 8000, overwrite=True)
    assert np.max(np.abs(audio.load(f)[0])) == pytest.approx(0.5 * np.max(np.abs(y)), abs=1e-3)


def test_vad_align_places_speech_after_lead():
    sr = 8000
    y = np.zeros(int(2.2 * sr), np.float32)
    speech = voiced(sr, 0.8)
    y[int(0.9 * sr): int(0.9 * sr) + speech.size] = speech
    out = audio.vad_align(y, sr, duration=3.0, lead=0.5)
    assert out.shape == (3 * sr,) and out.dtype == np.float32
    loud = np.flatnonzero(np.abs(out) > 0.01 * np.abs(out).max())
    # speech starts within one 10 ms hop + one 25 ms frame after the 0.5 s lead
    assert 0.5 * sr <= loud[0] <= 0.5 * sr + 0.035 * sr
    assert np.all(out[: int(0.5 * sr)] == 0)
    assert (loud[-1] - loud[0]) / sr == pytest.approx(0.8, abs=0.08)


def test_vad_align_truncates_long_speech_and_works_at_any_rate():
    for sr in (8000, 16000, 22050):
        y = voiced(sr, 4.0)
        out = audio.vad_align(y, sr, duration=3.0, lead=0.5)
        assert out.size == round(3.0 * sr)
        assert np.all(out[: int(0.5 * sr)] == 0) and np.abs(out[-10:]).max() > 0


def test_vad_align_no_speech_is_a_clear_error():
    with pytest.raises(audio.NoSpeechError, match="no speech"):
        audio.vad_align(np.full(8000, 1e-5, np.float32), 8000)
    with pytest.raises(ValueError, match="lead="):
        audio.vad_align(voiced(8000, 1.0), 8000, duration=1.0, lead=1.0)


def test_highpass_removes_drift_and_keeps_speech_in_place():
    sr = 8000
    t = np.arange(sr) / sr
    speech, drift = 0.3 * np.sin(2 * np.pi * 300 * t), 0.5 * np.sin(2 * np.pi * 8 * t)
    out = audio.highpass(speech + drift, sr, 60.0)
    inner = slice(sr // 4, 3 * sr // 4)                     # away from the edges
    assert np.max(np.abs(out[inner] - speech[inner])) < 0.02  # drift gone, 300 Hz untouched and not delayed
    np.testing.assert_array_equal(audio.highpass(speech, sr, None), speech)
    with pytest.raises(ValueError, match="cutoff_hz"):
        audio.highpass(speech, sr, 5000.0)


def _session(sr, bursts, pauses, seed=0):
    """Voiced bursts (seconds) separated by silent pauses (seconds); returns the signal and burst bounds."""
    parts, bounds, at = [], [], 0
    for k, (b, p) in enumerate(zip(bursts, pauses)):
        burst = voiced(sr, b, f0=110 + 7 * k, seed=seed + k)
        bounds.append((at, at + burst.size))
        parts += [burst, np.zeros(int(p * sr), np.float32)]
        at += burst.size + int(p * sr)
    return np.concatenate(parts), np.array(bounds)


def test_speech_segments_cut_at_silences_within_the_duration_limits():
    sr = 8000
    rng = np.random.default_rng(0)
    y, bursts = _session(sr, rng.uniform(0.4, 3.0, 30), rng.uniform(0.6, 1.5, 30))
    seg = audio.speech_segments(y, sr, max_duration=4.0, min_duration=1.0)
    lengths = (seg[:, 1] - seg[:, 0]) / sr
    assert len(seg) >= 10 and lengths.min() >= 1.0 and lengths.max() <= 4.0
    assert (np.diff(seg.ravel()) >= 0).all()                     # in time order, never overlapping
    for a, b in bursts:          # never cut inside speech: a burst's loud middle lies within one segment (or none)
        core = (a + (b - a) // 4, b - (b - a) // 4)
        touching = seg[(seg[:, 1] > core[0]) & (seg[:, 0] < core[1])]
        assert len(touching) <= 1 and all(s <= core[0] and core[1] <= e for s, e in touching)
    kept = sum(((seg[:, 0] <= a + (b - a) // 4) & (b - (b - a) // 4 <= seg[:, 1])).any() for a, b in bursts)
    assert kept >= 25                                            # only short lone bursts are dropped
    # speech with no pause longer than max_duration is still cut, at its quietest frame
    long = np.concatenate([voiced(sr, 0.5, seed=k) for k in range(30)])     # 15 s, dips but no pause
    cut = audio.speech_segments(long, sr, max_duration=4.0)
    assert ((cut[:, 1] - cut[:, 0]) <= 4.0 * sr).all() and (cut[:, 1] - cut[:, 0]).sum() > 0.9 * long.size
    assert audio.speech_segments(np.full(sr, 1e-9, np.float32), sr).shape == (0, 2)   # no speech: no segment
    with pytest.raises(ValueError, match="max_duration"):
        audio.speech_segments(y, sr, max_duration=0)
    with pytest.raises(ValueError, match="min_duration=5"):
        audio.speech_segments(y, sr, max_duration=4.0, min_duration=5)
