"""Fake inputs for the tests of voxlib.reconstruction (and of report): synthetic speech, a generated
manifest whose "generated" image is the target's own (CWT scalograms, or WORLD envelope images as notebook
04's envelope path writes them), a stand-in for notebook 02's classifier, prompts both embedded speakers
recorded, and a summarize_conditions-like table with every judge's rates."""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.signal

from voxlib import audio, datasets, frames, images, metrics, pitch, vocoder

SR = 8000
ALIGN = {"duration": 3.0, "lead": 0.5}
SYLLABLES = [(0.30, 1.0, (700, 1200)), (0.12, None, (1800, 2600)), (0.25, 1.15, (300, 2300)),
             (0.35, 0.9, (500, 900))]  # (seconds, f0 rise or None = fricative noise, formants Hz)
SOURCE, TARGET = "es-mx_allison", "es-co_july"
TEST_UTTS = ["agent-loggedoff", "vm-goodbye"]
TRAIN_UTTS = ["agent-incorrect", "conf-onlyperson", "vm-deleted", "vm-password", "vm-intro", "vm-options"]


def sentence(f0=110.0, formant_shift=1.0, seed=0, sr=SR) -> np.ndarray:
    """Synthetic speech: voiced syllables (f0 contour, two formants) and a fricative between
    pauses, float32 (n,); like telephone speech, little energy above 3 kHz."""
    rng = np.random.default_rng(seed)
    parts = [np.zeros(int(0.15 * sr))]
    for dur, rise, formants in SYLLABLES:
        t = np.arange(int(dur * sr)) / sr
        if rise is None:
            y = 0.3 * rng.standard_normal(t.size)
        else:
            f = f0 * (1 + (rise - 1) * t / dur) * (1 + 0.01 * rng.standard_normal())
            y = np.sign(np.sin(2 * np.pi * np.cumsum(f) / sr)) + 0.05 * rng.standard_normal(t.size)
        for fc in formants:
            b, a = scipy.signal.iirpeak(min(fc * formant_shift, 0.45 * sr), 8, fs=sr)
            y = scipy.signal.lfilter(b, a, y)
        parts += [y * np.hanning(t.size), np.zeros(int(0.1 * sr))]
    y = np.concatenate(parts)
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


def oracle_manifest(corpus, out, transform, utterances=TEST_UTTS):
    """A generated manifest in notebook 04's columns whose 'generated' image is the target's own,
    made with ``transform``; returns its path."""
    imgs = images.write_images(corpus[corpus["utterance"].isin(utterances)], out / "transforms",
                               transforms=(transform,), image_size=(64, 256), sr=SR, aligned=True,
                               align_duration=ALIGN["duration"], align_lead=ALIGN["lead"], progress=False)
    by = imgs.set_index(["speaker", "utterance"])
    rows = []
    for utt in utterances:
        s, t = by.loc[(SOURCE, utt)], by.loc[(TARGET, utt)]
        rows.append({"utterance": utt, "source_speaker": SOURCE, "target_speaker": TARGET, "split": "test",
                     "path": t["path"], "source_image_path": s["path"], "target_image_path": t["path"],
                     "source_audio_path": s["source_path"], "target_audio_path": t["source_path"],
                     "transform": transform, "scale": t["scale"], "sr": SR, "n_freq": t["n_freq"],
                     "n_time": t["n_time"], "height": t["height"], "width": t["width"],
                     "align_duration": ALIGN["duration"], "align_lead": ALIGN["lead"]})
    path = out / "cloning" / f"{SOURCE}__{TARGET}" / "generated" / "manifest.csv"
    datasets.write_manifest(pd.DataFrame(rows), path)
    return path


def _save_envelope(path, envelope, width, meta=None):
    """An envelope as notebook 04 saves it: vocoder.envelope_to_image, padded to ``width`` columns by repeating
    the last one, with the clip metadata."""
    img, info = vocoder.envelope_to_image(envelope, SR)
    img = np.pad(img, ((0, 0), (0, width - img.shape[1])), mode="edge")
    images.save_image(path, img, {**info, "width": width, **(meta or {})})
    return path


def envelope_manifest(corpus, out, splits=None, *, width=640, pitch_ratio=1.15):
    """A generated manifest of notebook 04's envelope path (``transform == "world_envelope"``) whose
    'generated' envelope is the target's own, DTW-warped onto the source's timeline; returns its path.

    ``splits``: utterance -> split (default: TEST_UTTS held out). The clips are written VAD-aligned
    (``clip_aligned``): the source with its own pitch, the source with its F0 raised by ``pitch_ratio``
    (PSOLA, ``pitch_mode == "convert"``) and the target; the originals stay the corpus files."""
    splits = {u: "test" for u in TEST_UTTS} if splits is None else splits
    by = corpus.set_index(["speaker", "utterance"])["path"]
    hop = int(SR * vocoder.FRAME_PERIOD / 1000)
    rows = []
    for utt, split in splits.items():
        clips = {who: audio.vad_align(audio.load(by[(sp, utt)], sr=SR)[0], SR, **ALIGN)
                 for who, sp in (("source", SOURCE), ("target", TARGET))}
        stats = pitch.log_f0_stats([clips["source"]], SR)
        clips["pitched"] = pitch.convert_pitch(clips["source"], SR, stats,
                                               pitch.LogF0Stats(stats.mean + np.log(pitch_ratio), stats.std, 1))
        paths = {who: audio.write_wav(out / "clips" / who / f"{utt}.wav", y, SR, overwrite=True)
                 for who, y in clips.items()}
        time_map = frames.dtw_time_map(clips["source"], clips["target"], SR)
        np.save(out / "clips" / f"{utt}.npy", time_map)
        env_s, env_t = (vocoder.analyse(clips[who], SR).envelope for who in ("source", "target"))
        n_frames = env_s.shape[0]
        take = np.clip(np.rint(time_map[np.minimum(np.arange(n_frames) * hop, time_map.size - 1)] / hop),
                       0, env_t.shape[0] - 1).astype(int)
        meta = {"transform": vocoder.ENVELOPE_IMAGE, "n_time": n_frames, "clip_aligned": True}
        src_img = _save_envelope(out / "images" / "source" / f"{utt}.png", env_s, width, meta)
        tgt_img = _save_envelope(out / "images" / "target" / f"{utt}.png", env_t[take], width, meta)
        rows.append({"utterance": utt, "source_speaker": SOURCE, "target_speaker": TARGET,
                     "transform": vocoder.ENVELOPE_IMAGE, "split": split, "path": tgt_img,
                     "source_image_path": src_img, "target_image_path": tgt_img,
                     "source_audio_path": paths["pitched"], "target_audio_path": paths["target"],
                     "scale": vocoder.DB_CEILING - vocoder.DB_FLOOR, "sr": SR, "n_freq": vocoder.N_BANDS,
                     "n_time": n_frames, "height": vocoder.N_BANDS, "width": width,
                     "align_duration": ALIGN["duration"], "align_lead": ALIGN["lead"], "clip_aligned": True,
                     "source_plain_path": paths["source"], "source_original_path": by[(SOURCE, utt)],
                     "target_original_path": by[(TARGET, utt)], "f_lo": np.nan, "f_hi": np.nan,
                     "pair_alignment": "dtw", "pitch_mode": "convert", "generated_by": "pix2pix",
                     "time_map_path": out / "clips" / f"{utt}.npy"})
    path = out / "cloning" / f"{SOURCE}__{TARGET}" / "generated" / "manifest.csv"
    datasets.write_manifest(pd.DataFrame(rows), path)
    return path


class NearestCentroid:
    """Stand-in for voxlib.transfer's Classifier (same interface): nearest class mean of the
    images shrunk to 32 x 32, trained on notebook-01 images of unaligned recordings."""

    transform = "amor"

    def __init__(self, clips_by_speaker):
        self.classes = sorted(clips_by_speaker)
        self.centroids = np.stack([self._features(np.stack(
            [images.audio_to_image(y, SR, self.transform, image_size=(512, 512))[0] for y in clips]))
            .mean(axis=0) for _, clips in sorted(clips_by_speaker.items())])

    @staticmethod
    def _features(imgs):
        return np.stack([images.resize(im.astype(np.float32), (32, 32)).ravel() / 255.0 for im in imgs])

    def predict_images(self, imgs):
        d = ((self._features(imgs)[:, None, :] - self.centroids[None]) ** 2).sum(-1)
        p = np.exp(-(d - d.min(axis=1, keepdims=True)))
        return p / p.sum(axis=1, keepdims=True)


def _pair_utterances(embedded_root, n, seed=0):
    """``n`` seeded prompt ids recorded by both Allison and July, sorted."""
    ids = sorted({p.stem for p in (embedded_root / SOURCE).glob("*.flac")}
                 & {p.stem for p in (embedded_root / TARGET).glob("*.flac")})
    return sorted(np.random.default_rng(seed).choice(ids, n, replace=False))


def _summary(rates, n=10, *, content=None, eer=None):
    """A summarize_conditions-like table: per condition ``(verifier rate, d-vector verifier rate)``, the
    closer-centroid rate (1.0), the content check's rate (``content``: condition -> rate, default 0.9, and 0.0
    for the scrambled control) and each verifier's calibration EER (``eer``: judge -> rate, default 0.0 for
    CAM++ and 0.05 for the d-vector)."""
    content = {} if content is None else content
    eer = {"verifier": 0.0, "dvector_verifier": 0.05} | ({} if eer is None else eer)
    rows = {}
    for condition, (verifier, dvector) in rates.items():
        rec = {"n": n, "mcd_db": 4.0, "lsd_db": 15.0, "rms_ratio_db": 0.0, "snr_db": np.nan}
        kept = content.get(condition, 0.0 if condition == "control_scrambled" else 0.9)
        for judge, rate in (("verifier", verifier), ("dvector_verifier", dvector), ("closer_centroid", 1.0),
                            ("content", kept)):
            low, high = metrics.wilson_interval(round(rate * n), n)
            rec.update({f"{judge}_rate": rate, f"{judge}_ci_low": low, f"{judge}_ci_high": high})
        rec.update({f"{judge}_eer": value for judge, value in eer.items()})
        rows[condition] = rec
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("condition")
