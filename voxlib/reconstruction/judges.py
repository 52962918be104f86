"""Who says a clip is the target's voice: the speaker judges, their acceptance rates and the control rule.

- :data:`JUDGES`: the verifier (primary, :class:`voxlib.speaker.Verifier`), d-vector + logistic
  regression and notebook 02's image classifier (secondary), and the centroid comparison (shown only);
- :func:`training_clips`, :func:`fit_judges`: the embedding judges fitted on the pair's training
  sentences, aligned as the judged clips are;
- :func:`acceptance`, :func:`acceptance_table`: each judge's acceptance rate per condition with Wilson
  intervals; :func:`control_check`: a judge that accepts a control (:data:`CONTROLS`) is unreliable;
- :func:`classifier_images`, :func:`classify_audio`: clips → notebook 01's images
  (:func:`voxlib.images.audio_to_image`) → the speaker a notebook-02 classifier hears.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from voxlib import audio, images, metrics, speaker, transfer, transforms
from voxlib.reconstruction.conditions import CONDITIONS, _as_generated, _row_clips
from voxlib.reconstruction.errors import PRODUCERS, ReconstructionError

__all__ = [
    "JUDGES",
    "PRIMARY_JUDGE",
    "CONTROLS",
    "CONTROL_MAX_RATE",
    "SpeakerJudges",
    "training_clips",
    "fit_judges",
    "acceptance",
    "acceptance_table",
    "control_check",
    "classifier_images",
    "classify_audio",
]


#: The judges of a cloned clip: name -> (column of :func:`measure`'s table, what it is). The verifier is
#: the primary judge; a judge that accepts a control too often is set aside (:func:`control_check`).
JUDGES = {
    "verifier": ("verifier_accepts", "speaker verification: similarity to the target's centroid above the "
                                     "training clips' equal-error threshold and above the similarity to the "
                                     "source's centroid (primary judge)"),
    "dvector_lr": ("dvector_lr_accepts", "d-vector + logistic regression trained on the two speakers' "
                                         "training clips (secondary judge)"),
    "classifier": ("classifier_accepts", "notebook 02's image classifier (secondary judge)"),
    "closer_centroid": ("closer_to_target", "closer to the target's centroid than to the source's "
                                            "(shown, not a verdict)"),
}
PRIMARY_JUDGE = "verifier"
#: Conditions that are not the target's voice and that every judge must reject.
CONTROLS = ("null_flat", "control_channel")
#: A judge that accepts a control (as the target) in more than this share of sentences is unreliable for
#: the pair (issue 11's rule: a convention, not a measurement).
CONTROL_MAX_RATE = 0.10


@dataclass
class SpeakerJudges:
    """The embedding judges of one pair, fitted on its training-split recordings (:func:`fit_judges`).

    Attributes: ``encoder`` (:class:`voxlib.speaker.Encoder`), ``verifier``
    (:class:`voxlib.speaker.Verifier`: centroids, ``threshold``, ``eer``),
    ``dvector_lr`` (scikit-learn pipeline on d-vectors, classes = the two
    speakers), ``target``, ``source`` (names), ``train_embeddings`` (n, 256),
    ``train_speakers`` (n,).
    """

    encoder: object
    verifier: speaker.Verifier
    dvector_lr: object
    target: str
    source: str
    train_embeddings: np.ndarray
    train_speakers: np.ndarray

    def judge(self, embeddings) -> pd.DataFrame:
        """Every embedding judge's view of clips: ``sim_target_centroid, sim_source_centroid,
        verifier_accepts, closer_to_target, dvector_lr_accepts``, one row per embedding."""
        scores = self.verifier.scores(embeddings)
        return pd.DataFrame({"sim_target_centroid": scores["sim_target"], "sim_source_centroid": scores["sim_source"],
                             "verifier_accepts": scores["accepted"],
                             "closer_to_target": scores["sim_target"] > scores["sim_source"],
                             "dvector_lr_accepts": self.dvector_lr.predict(embeddings) == self.target})


def training_clips(generated, *, split="train") -> tuple[list, list, int]:
    """The source's and target's recordings of the training sentences, aligned as the images were.

    Each recording of a ``split == "train"`` row of notebook 04's manifest is
    loaded and VAD-aligned with the row's ``align_duration``/``align_lead``
    (:func:`load_aligned`), exactly as the clips notebook 05 writes, so the
    judges are calibrated on what they judge.

    Parameters
    ----------
    generated : pd.DataFrame or path
        Notebook 04's generated manifest with its training rows (load it without ``split``).
    split : str

    Returns
    -------
    signals : list of np.ndarray [shape=(n,)]
    speakers : list of str
    sr : int
    """
    generated = _as_generated(generated)
    rows = generated[generated["split"] == split] if "split" in generated.columns else generated.iloc[:0]
    if rows.empty:
        raise ReconstructionError(
            f"the generated manifest has no rows with split == {split!r}: the judges are fitted on the "
            f"training sentences' recordings. Pass the whole manifest (load_generated without split); "
            f"{PRODUCERS['generated']} with train and test rows.")
    signals, speakers = [], []
    for _, row in rows.iterrows():
        clips = _row_clips(row)
        for who in ("source", "target"):
            signals.append(clips[who])
            speakers.append(str(row[f"{who}_speaker"]))
    return signals, speakers, int(rows["sr"].iloc[0])


def fit_judges(signals, speakers, sr, *, target, source, encoder=None, seed=0) -> SpeakerJudges:
    """Fit the verifier and the d-vector + LR judge on real clips of both speakers.

    Parameters
    ----------
    signals : sequence of np.ndarray [shape=(n_i,)]
        Training clips (:func:`training_clips`), each prepared by the encoder
        (:func:`voxlib.speaker.prepare`: 60 Hz high-pass, speech crop, RMS, 16 kHz).
    speakers : sequence of str
    sr : int > 0, Hz
    target, source : str
    encoder : voxlib.speaker.Encoder or None
        ``None``: :func:`voxlib.speaker.get_encoder` (the packaged model, offline).
    seed : int
        Seeds the logistic regression.

    Returns
    -------
    SpeakerJudges
    """
    encoder = speaker.get_encoder() if encoder is None else encoder
    speakers = np.asarray(speakers).astype(str)
    emb = encoder.embed_many(signals, sr)
    verifier = speaker.Verifier.fit(emb, speakers, target=target, source=source)
    pair = np.isin(speakers, [target, source])
    lr = transfer.baseline_classifier(seed).fit(emb[pair], speakers[pair])
    return SpeakerJudges(encoder=encoder, verifier=verifier, dvector_lr=lr, target=str(target),
                         source=str(source), train_embeddings=emb, train_speakers=speakers)


def _judge_utterance(judges, signals, sr) -> pd.DataFrame:
    """The embedding judges' columns for one sentence's clips (internal): the centroid judges and
    each clip's similarity to the real target and source utterances of the sentence."""
    names = list(signals)
    emb = judges.encoder.embed_many([signals[c] for c in names], sr)
    out = judges.judge(emb)
    out["sim_target_utt"] = speaker.cosine(emb, emb[names.index("target")])
    out["sim_source_utt"] = speaker.cosine(emb, emb[names.index("source")])
    return out.set_axis(names)


def acceptance(table, *, confidence=0.95) -> pd.DataFrame:
    """How often each judge accepts each condition's clips as the target, with Wilson intervals.

    Parameters
    ----------
    table : pd.DataFrame
        :func:`measure`'s table (one row per sentence and condition); judges whose
        column (:data:`JUDGES`) is absent are skipped.
    confidence : float in (0, 1)

    Returns
    -------
    pd.DataFrame
        Columns ``judge, condition, accepted, n, rate, ci_low, ci_high`` (rates 0-1),
        conditions in :data:`CONDITIONS` order.
    """
    rows = []
    for judge, (column, _) in JUDGES.items():
        if column not in table.columns:
            continue
        for condition in [c for c in CONDITIONS if c in set(table["condition"])]:
            hits = table.loc[table["condition"] == condition, column].astype(bool)
            k, n = int(hits.sum()), int(hits.size)
            low, high = metrics.wilson_interval(k, n, confidence=confidence)
            rows.append({"judge": judge, "condition": condition, "accepted": k, "n": n, "rate": k / n,
                         "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["judge", "condition", "accepted", "n", "rate", "ci_low", "ci_high"])


def acceptance_table(accepted) -> pd.DataFrame:
    """:func:`acceptance` as a condition × judge table of ``"rate [ci_low, ci_high]"`` strings, for reading.

    Parameters
    ----------
    accepted : pd.DataFrame
        :func:`acceptance`'s table.

    Returns
    -------
    pd.DataFrame
        Index ``condition`` (in :data:`CONDITIONS` order), one column per judge (in :data:`JUDGES` order),
        cells such as ``"80% [49%, 94%]"``.
    """
    def percent(column):
        return accepted[column].map("{:.0%}".format)

    text = accepted.assign(rate=percent("rate") + " [" + percent("ci_low") + ", " + percent("ci_high") + "]")
    return (text.pivot(index="condition", columns="judge", values="rate")
            .loc[[c for c in CONDITIONS if c in set(accepted["condition"])],
                 [j for j in JUDGES if j in set(accepted["judge"])]])


def control_check(summary) -> pd.DataFrame:
    """Which judges can be trusted for this pair: the share of each control they accept as the target.

    A judge that accepts any control of :data:`CONTROLS` in more than
    :data:`CONTROL_MAX_RATE` of the sentences is unreliable for the pair (it hears
    the channel or the source's phase, not the voice), and :func:`verdict` does not use it.

    Parameters
    ----------
    summary : pd.DataFrame
        :func:`summarize_conditions` (index = condition, ``<judge>_rate`` columns).

    Returns
    -------
    pd.DataFrame
        Index ``judge``; columns ``role`` (what the judge is), one rate column per
        control present, and ``reliable`` (bool; False when no control was scored).
    """
    controls = [c for c in CONTROLS if c in summary.index]
    rows = []
    for judge, (_, role) in JUDGES.items():
        column = f"{judge}_rate"
        if column not in summary.columns:
            continue
        rates = {c: float(summary.loc[c, column]) for c in controls}
        rows.append({"judge": judge, "role": role, **rates,
                     "reliable": bool(controls) and all(r <= CONTROL_MAX_RATE for r in rates.values())})
    return pd.DataFrame(rows).set_index("judge") if rows else pd.DataFrame(columns=["role", "reliable"])


# --------------------------------------------------------------------------
# Notebook 02's image classifier: clips -> notebook 01's images -> a speaker
# --------------------------------------------------------------------------
def _speech_only(y, sr, margin=0.1) -> np.ndarray:
    """The detected speech span of ``y`` with ``margin`` s of context (internal)."""
    start, stop = audio.speech_span(y, sr)
    pad = int(margin * sr)
    return y[max(0, start - pad):stop + pad]


def classifier_images(classifier, signals, sr, *, image_size=(512, 512), trim=True) -> np.ndarray:
    """The images a classifier is shown for audio clips: notebook 01's recipe, exactly.

    Each clip is (optionally) cut to its speech span, as notebook 01's unaligned
    recordings are, then made into an image by :func:`voxlib.images.audio_to_image`
    with the classifier's transform at ``image_size`` (own-maximum scale,
    notebook 01's default): the same pixels notebook 01 writes as PNG for that clip.

    Parameters
    ----------
    classifier : object
        With ``.transform``, a :data:`voxlib.transforms.TRANSFORMS` name
        (``voxlib.transfer.load_classifier``).
    signals : sequence of np.ndarray [shape=(n,)]
    sr : int > 0, Hz
    image_size : (int, int)
        Notebook 01's image size (``voxlib.transfer.classifier_image_size``; the thesis's 512 x 512).
    trim : bool
        Drop the VAD-aligned clips' padding silence (0.1 s of context kept).

    Returns
    -------
    np.ndarray [shape=(N, H, W), dtype=uint8]
    """
    transform = getattr(classifier, "transform", None)
    if transform not in transforms.TRANSFORMS:
        raise ReconstructionError(f"classifier.transform={transform!r}; expected one of "
                                  f"{', '.join(transforms.TRANSFORMS)} (voxlib.transfer.load_classifier sets it)")
    if len(signals) == 0:
        raise ReconstructionError("signals is empty; pass at least one clip")
    clips = [_speech_only(np.asarray(y), sr) if trim else np.asarray(y) for y in signals]
    return np.stack([images.audio_to_image(y, sr, transform, image_size=tuple(image_size))[0] for y in clips])


def classify_audio(classifier, signals, sr, *, image_size=(512, 512), trim=True) -> list:
    """Speaker labels for audio clips, through the classifier's own transform and image recipe.

    The images are :func:`classifier_images`'s; ``classifier.predict_images``
    resizes them to its input.

    Parameters
    ----------
    classifier : object
        With ``.classes``, ``.transform`` and ``.predict_images(uint8 (N, H, W))``
        (``voxlib.transfer.load_classifier``).
    signals, sr, image_size, trim :
        As in :func:`classifier_images`.

    Returns
    -------
    list of str
        The predicted speaker of each clip.
    """
    imgs = classifier_images(classifier, signals, sr, image_size=image_size, trim=trim)
    probs = np.asarray(classifier.predict_images(imgs))
    return [str(classifier.classes[i]) for i in probs.argmax(axis=1)]
