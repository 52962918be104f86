"""How well the offline speaker encoder separates the corpus's speakers.

Embeds every clip of the corpus (default ``data/embedded``, 7 speakers) with
``voxlib.speaker`` three times: prepared as the judges prepare clips
(``speaker.prepare`` defaults: 60 Hz zero-phase high-pass, crop to the speech
span, RMS-normalised, 16 kHz, a clip shorter than one encoder window repeated to
fill it); the same with short clips left to the package's zero padding of the
features; and raw (no high-pass, no crop; still RMS-normalised, resampled and
repeated). Prints, per condition,
mean ± sd cosine of all same-speaker and different-speaker pairs, the pairwise
equal error rate with its threshold, and leave-one-out nearest-centroid
identification accuracy. These are the figures the README cites.

Usage: ``python scripts/encoder_eer.py [--data-dir data/embedded] [--threads 1]``
(about 3-4 minutes on this project's 2-core machine).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from voxlib import audio, datasets, speaker  # noqa: E402
from voxlib.run import resolve  # noqa: E402

CONDITIONS = {  # name -> prepare's keyword arguments
    "prepared": {},
    "prepared, short clips zero-padded": {"repeat_short": False},
    "raw (no high-pass, no crop)": {"highpass": None, "crop": False},
}


def embed_clips(encoder: speaker.Encoder, clips, **prepare_kwargs) -> tuple[np.ndarray, float]:
    """Embeddings of ``clips`` (a list of ``(y, sr)``) and the seconds spent preparing and embedding them."""
    out = np.zeros((len(clips), speaker.EMBEDDING_DIM), dtype=np.float32)
    start = time.perf_counter()
    for k, (y, sr) in enumerate(clips):
        out[k] = encoder.embed(speaker.prepare(y, sr, **prepare_kwargs), speaker.SAMPLE_RATE, prepared=True)
    return out, time.perf_counter() - start


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="data/embedded", help="corpus root (root/<speaker>/<utterance>.flac)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    args = parser.parse_args(argv)
    corpus = datasets.discover(resolve(args.data_dir))
    encoder = speaker.Encoder(threads=args.threads)
    print(f"{len(corpus)} clips of {corpus['speaker'].nunique()} speakers under {args.data_dir}; "
          f"model {encoder.model_path.name}, {args.threads} thread(s)\n")
    clips = [audio.load(path) for path in corpus["path"]]
    seconds = sum(y.size / sr for y, sr in clips)
    rows = []
    for name, kwargs in CONDITIONS.items():
        emb, spent = embed_clips(encoder, clips, **kwargs)
        res = speaker.evaluate(emb, corpus["speaker"])
        rows.append({
            "clips": name,
            "same speaker": f"{res['same_mean']:.3f} ± {res['same_sd']:.3f}",
            "different speakers": f"{res['different_mean']:.3f} ± {res['different_sd']:.3f}",
            "pairwise EER %": f"{100 * res['eer']:.1f}",
            "EER threshold": f"{res['threshold']:.3f}",
            "LOO identification %": f"{100 * res['identification']:.1f}",
            "ms per clip": f"{1000 * spent / len(corpus):.0f}",
            "real-time factor": f"{spent / seconds:.3f}",
        })
    table = pd.DataFrame(rows).set_index("clips")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.T.to_string())
    print("\n(cosine mean ± sd over all pairs; EER of all pairwise trials; identification: nearest speaker "
          "centroid, leave-one-out; time: prepare + embed, per clip of the corpus's own length)")
    return table


if __name__ == "__main__":
    main()
