"""Who says a clip is the target's voice, and that it still says its sentence: the judges and their controls.

- :data:`JUDGES`: CAM++ speaker verification (primary, :class:`voxlib.speaker.Verifier` on
  :class:`voxlib.speaker.CampplusEncoder` embeddings), the same rule on the weaker d-vector (a
  comparison row), notebook 02's image classifier (secondary), the centroid comparison (shown only) and
  the content check (:mod:`voxlib.reconstruction.content`: does the clip align best to its own sentence?);
- :func:`training_clips`, :func:`fit_judges`: the judges fitted on the pair's training sentences,
  aligned as the judged clips are (the verifiers' thresholds, the content check's references and features);
- :func:`acceptance`, :func:`acceptance_table`: each judge's acceptance rate per condition with Wilson
  intervals; :func:`control_check`: a judge that accepts a control built for it (:data:`JUDGE_CONTROLS`),
  or whose own calibration EER on the training clips is above :data:`CALIBRATION_MAX_EER`, is not used;
- :func:`classifier_images`, :func:`classify_audio`: clips → notebook 01's images
  (:func:`voxlib.images.audio_to_image`) → the speaker a notebook-02 classifier hears.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from voxlib import audio, images, metrics, speaker, transforms
from voxlib.reconstruction import content
from voxlib.reconstruction.conditions import CONDITIONS, _as_generated, _row_clips
from voxlib.reconstruction.errors import PRODUCERS, ReconstructionError

__all__ = [
    "JUDGES",
    "PRIMARY_JUDGE",
    "JUDGE_ENCODERS",
    "CONTROLS",
    "CONTENT_CONTROLS",
    "JUDGE_CONTROLS",
    "CONTROL_MAX_RATE",
    "CALIBRATION_MAX_EER",
    "TrainingClips",
    "SpeakerJudges",
    "training_clips",
    "fit_judges",
    "acceptance",
    "acceptance_table",
    "control_check",
    "classifier_images",
    "classify_audio",
]


#: The judges of a cloned clip: name -> (column of :func:`measure`'s table, what it is). The CAM++ verifier
#: is the primary judge of the voice, the content check of the sentence; a judge that accepts a control
#: built for it, or whose calibration EER is too high, is set aside (:func:`control_check`).
JUDGES = {
    "verifier": ("verifier_accepts", "CAM++ speaker verification: similarity to the target's centroid above the "
                                     "training clips' equal-error threshold and above the similarity to the "
                                     "source's centroid (primary judge of the voice)"),
    "dvector_verifier": ("dvector_verifier_accepts", "the same verification rule on the d-vector encoder "
                                                     "(a weaker encoder, shown for comparison)"),
    "classifier": ("classifier_accepts", "notebook 02's image classifier (secondary judge)"),
    "closer_centroid": ("closer_to_target", "closer to the target's CAM++ centroid than to the source's "
                                            "(shown, not a verdict)"),
    "content": ("content_kept", "content check: among the real recordings of every held-out sentence, the clip "
                                "aligns best (MFCC-DTW) to its own (primary judge of the content)"),
}
PRIMARY_JUDGE = "verifier"
#: The verifiers and the speaker encoder each uses (:data:`voxlib.speaker.ENCODERS`); the first is primary.
JUDGE_ENCODERS = {"verifier": "campplus", "dvector_verifier": "dvector"}
#: Conditions that are not the target's voice and that every voice judge must reject.
CONTROLS = ("null_flat", "control_channel")
#: Conditions that keep a voice but not the sentence: the content check must reject them.
CONTENT_CONTROLS = ("control_scrambled",)
#: The controls each judge is held to (the voice judges: :data:`CONTROLS`).
JUDGE_CONTROLS = {"content": CONTENT_CONTROLS}
#: A judge that accepts a control (as the target) in more than this share of sentences is unreliable for
#: the pair (issue 11's rule: a convention, not a measurement).
CONTROL_MAX_RATE = 0.10
#: A verifier whose equal error rate on the pair's own training clips (target vs source) is above this
#: cannot tell the two voices apart well enough to judge them (issue 22's rule, a convention).
CALIBRATION_MAX_EER = 0.10


@dataclass
class TrainingClips:
    """The real recordings of a pair's training sentences, aligned as the judged clips are.

    ``source`` and ``target``: sentence id -> mono clip (float32) at ``sr`` Hz, the same ids on both sides.
    """

    source: dict
    target: dict
    sr: int

    @property
    def signals(self) -> list:
        return [*self.source.values(), *self.target.values()]

    def speakers(self, source: str, target: str) -> list:
        return [source] * len(self.source) + [target] * len(self.target)


@dataclass
class SpeakerJudges:
    """The judges of one pair, fitted on its training sentences (:func:`fit_judges`).

    Attributes: ``target``, ``source`` (names); ``encoders`` and ``verifiers`` (judge name of
    :data:`JUDGE_ENCODERS` -> :class:`voxlib.speaker.Verifier` / its encoder; each verifier's ``eer`` is its
    calibration on the training clips); ``content`` (the :class:`~voxlib.reconstruction.content.ContentCheck`
    chosen on the training sentences) and ``content_choice`` (the table it was chosen from).
    """

    target: str
    source: str
    encoders: dict
    verifiers: dict
    content: content.ContentCheck = field(default_factory=content.ContentCheck)
    content_choice: pd.DataFrame | None = None

    @property
    def verifier(self) -> speaker.Verifier:
        """The primary verifier (CAM++)."""
        return self.verifiers[PRIMARY_JUDGE]

    def describe(self) -> pd.DataFrame:
        """One row per verifier: its encoder, training clips per speaker, threshold (cosine) and calibration
        EER (0-1; above :data:`CALIBRATION_MAX_EER` it is too weak for the pair)."""
        return pd.DataFrame([{"judge": judge, "encoder": JUDGE_ENCODERS.get(judge, type(self.encoders[judge]).__name__),
                              "target clips": v.n_target, "source clips": v.n_source, "threshold": v.threshold,
                              "calibration EER": v.eer, "too weak": v.eer > CALIBRATION_MAX_EER}
                             for judge, v in self.verifiers.items()]).set_index("judge")

    def calibration(self) -> dict:
        """Each verifier's equal error rate on the training clips: ``{judge: eer}`` (0-1)."""
        return {judge: float(v.eer) for judge, v in self.verifiers.items()}

    def judge(self, signals: dict, sr) -> pd.DataFrame:
        """Every voice judge's view of one sentence's clips (``{condition: clip}``): the primary verifier's
        ``sim_target_centroid, sim_source_centroid, verifier_accepts, closer_to_target`` (and
        ``sim_target_utt``, ``sim_source_utt``: cosine to the real ``target`` / ``source`` clip of the
        sentence, when ``signals`` has it), and each other verifier's ``<judge>_accepts`` and
        ``<judge>_sim_target``. One row per condition."""
        names = list(signals)
        out = None
        for judge, verifier in self.verifiers.items():
            emb = self.encoders[judge].embed_many([signals[c] for c in names], sr)
            scores = verifier.scores(emb)
            if judge == PRIMARY_JUDGE:
                out = pd.DataFrame({"sim_target_centroid": scores["sim_target"],
                                    "sim_source_centroid": scores["sim_source"],
                                    "verifier_accepts": scores["accepted"],
                                    "closer_to_target": scores["sim_target"] > scores["sim_source"]})
                for who in ("target", "source"):   # the real utterances of the same sentence, when given
                    if who in names:
                        out[f"sim_{who}_utt"] = speaker.cosine(emb, emb[names.index(who)])
            else:
                out[f"{JUDGES[judge][0]}"] = scores["accepted"].to_numpy()
                out[f"{judge}_sim_target"] = scores["sim_target"].to_numpy()
        return out.set_axis(names)


def training_clips(generated, *, split="train") -> TrainingClips:
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
    TrainingClips
    """
    generated = _as_generated(generated)
    rows = generated[generated["split"] == split] if "split" in generated.columns else generated.iloc[:0]
    if rows.empty:
        raise ReconstructionError(
            f"the generated manifest has no rows with split == {split!r}: the judges are fitted on the "
            f"training sentences' recordings. Pass the whole manifest (load_generated without split); "
            f"{PRODUCERS['generated']} with train and test rows.")
    source, target = {}, {}
    for _, row in rows.iterrows():
        clips = _row_clips(row)
        source[str(row["utterance"])], target[str(row["utterance"])] = clips["source"], clips["target"]
    return TrainingClips(source=source, target=target, sr=int(rows["sr"].iloc[0]))


def fit_judges(clips: TrainingClips, *, target, source, encoders=None, seed=0,
               content_options=content.CONTENT_OPTIONS) -> SpeakerJudges:
    """Fit the verifiers and choose the content check on real clips of the pair's training sentences.

    Parameters
    ----------
    clips : TrainingClips
        From :func:`training_clips`. Each clip is prepared by each encoder
        (:func:`voxlib.speaker.prepare`: 60 Hz high-pass, speech crop, RMS, 16 kHz).
    target, source : str
    encoders : dict or None
        Judge name of :data:`JUDGE_ENCODERS` -> encoder; ``None``: the packaged models, offline
        (:func:`voxlib.speaker.get_encoder`).
    seed : int
        Seeds the scrambled clips the content check is chosen against.
    content_options : sequence of ContentCheck
        The content-check settings compared (:func:`voxlib.reconstruction.content.choose_content_check`).

    Returns
    -------
    SpeakerJudges
    """
    if not isinstance(clips, TrainingClips):
        raise ReconstructionError(f"clips must be the TrainingClips of training_clips(generated); got "
                                  f"{type(clips).__name__}")
    if encoders is None:
        encoders = {judge: speaker.get_encoder(name) for judge, name in JUDGE_ENCODERS.items()}
    speakers = clips.speakers(source, target)
    verifiers = {judge: speaker.Verifier.fit(enc.embed_many(clips.signals, clips.sr), speakers,
                                             target=target, source=source)
                 for judge, enc in encoders.items()}
    check, choice = content.choose_content_check(clips.source, clips.target, clips.sr,
                                                 options=tuple(content_options), seed=seed)
    return SpeakerJudges(target=str(target), source=str(source), encoders=dict(encoders), verifiers=verifiers,
                         content=check, content_choice=choice)


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
    """Which judges can be trusted for this pair: the controls they accept, and their own calibration.

    A judge that accepts a control built for it (:data:`JUDGE_CONTROLS`; the voice judges:
    :data:`CONTROLS`) in more than :data:`CONTROL_MAX_RATE` of the sentences hears something else than
    what it judges (the channel, the source's phase, or a voice without its sentence); a verifier whose
    equal error rate on the pair's training clips (``<judge>_eer`` in the summary, from :func:`measure`)
    is above :data:`CALIBRATION_MAX_EER` cannot tell the two voices apart. Either is unreliable for
    the pair, and :func:`verdict` counts nothing of it.

    Parameters
    ----------
    summary : pd.DataFrame
        :func:`summarize_conditions` (index = condition, ``<judge>_rate`` columns).

    Returns
    -------
    pd.DataFrame
        Index ``judge``; columns ``role`` (what the judge is), one rate column per control present,
        ``calibration_eer`` (NaN for judges without one), ``reliable`` (bool; False when none of the
        judge's controls was scored) and ``why`` (what failed, empty when reliable).
    """
    rows = []
    for judge, (_, role) in JUDGES.items():
        column = f"{judge}_rate"
        if column not in summary.columns:
            continue
        controls = [c for c in JUDGE_CONTROLS.get(judge, CONTROLS) if c in summary.index]
        rates = {c: float(summary.loc[c, column]) for c in controls}
        eer = float(summary[f"{judge}_eer"].iloc[0]) if f"{judge}_eer" in summary.columns else np.nan
        why = [f"accepts {c} in {100 * r:.0f}% of sentences" for c, r in rates.items() if r > CONTROL_MAX_RATE]
        if not controls:
            why.append("none of its controls was scored")
        if eer > CALIBRATION_MAX_EER:
            why.append(f"calibration EER {100 * eer:.1f}% on the training clips (above "
                       f"{100 * CALIBRATION_MAX_EER:.0f}%)")
        rows.append({"judge": judge, "role": role, **rates, "calibration_eer": eer, "reliable": not why,
                     "why": "; ".join(why)})
    if not rows:
        return pd.DataFrame(columns=["role", "calibration_eer", "reliable", "why"])
    return pd.DataFrame(rows).set_index("judge")


# --------------------------------------------------------------------------
# Notebook 02's image classifier: clips -> notebook 01's images -> a speaker
# --------------------------------------------------------------------------
def _speech_only(y, sr, margin=0.1) -> np.ndarray:
    """The detected speech span of ``y`` with ``margin`` s of context; a clip without speech as it is, for the
    classifier to judge (a conversion can come out nearly silent) (internal)."""
    try:
        start, stop = audio.speech_span(y, sr)
    except audio.NoSpeechError:
        return y
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
