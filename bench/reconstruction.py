"""Reconstruction and cloning-metric speed: real-time factor per 3 s clip on one core.

Real-time factor (RTF) = clip duration / processing time; the target is >= 20x for
the reconstruction of one generated image (the source's CWT, the image inverted
to magnitudes, the phase applied, the inverse CWT). Also timed: the thesis's
rescale path, the phase refinement, and each metric of notebook 05.

Runs on real embedded speech (Allison -> July, one prompt, VAD-aligned, 8 kHz)
with BLAS/FFT threads pinned to one. The RTF is computed from the process's CPU
time (one thread, so CPU time = wall time on an idle machine; on a shared one
the wall time printed beside it is inflated by waiting). Usage::

    .venv/bin/python bench/reconstruction.py [--repeats 5] [--sizes 64x128 256x256 512x512]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from voxlib import audio, images, metrics, reconstruction, transforms  # noqa: E402
from voxlib.run import project_root  # noqa: E402

SR = 8000
UTTERANCE = "agent-loggedoff"


def _clips():
    root = project_root() / "data" / "embedded"
    return [audio.vad_align(audio.load(root / sp / f"{UTTERANCE}.flac", sr=SR)[0], SR)
            for sp in ("es-mx_allison", "es-co_july")]


def _time(fn, repeats):
    """Median (CPU seconds, wall seconds) of ``repeats`` calls after a warm-up."""
    fn()  # warm-up (numba, caches)
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return float(np.median(cpu)), float(np.median(wall))


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--sizes", nargs="+", default=["64x128", "256x256", "512x512"],
                   help="generated image sizes HEIGHTxWIDTH")
    p.add_argument("--refine-iterations", type=int, default=16)
    return p.parse_args(argv)


def _image_tasks(src, mag_t, sizes):
    """(task, size, fn): our inversion and the thesis's, per generated image size."""
    for spec in sizes:
        size = tuple(int(v) for v in spec.split("x"))
        img, scale = images.to_image(mag_t, size)

        def ours(img=img, scale=scale):
            tf = transforms.cwt(src, SR, "amor")
            return reconstruction.reconstruct(reconstruction.image_to_magnitude(img, scale, tf.coefs.shape), tf)

        def thesis(img=img):
            tf = transforms.cwt(src, SR, "amor")
            mag = reconstruction.image_to_magnitude(img, None, tf.coefs.shape, thesis_rescale=True)
            return reconstruction.reconstruct(mag, tf)

        yield "reconstruct (source phase)", spec, ours
        yield "reconstruct, thesis rescale", spec, thesis


def _timings(args) -> pd.DataFrame:
    src, tgt = _clips()
    seconds = src.size / SR
    mag_t = np.abs(transforms.cwt(tgt, SR, "amor").coefs)
    rows = []

    def add(task, fn, size="", repeats=args.repeats):
        cpu, wall = _time(fn, repeats)
        rows.append({"task": task, "image": size, "cpu_ms": 1000 * cpu, "wall_ms": 1000 * wall,
                     "rtf": seconds / cpu})

    for task, spec, fn in _image_tasks(src, mag_t, args.sizes):
        add(task, fn, spec)
    tf_src = transforms.cwt(src, SR, "amor")
    add("  of which: CWT of the source", lambda: transforms.cwt(src, SR, "amor"))
    add("  of which: apply phase + ICWT", lambda: reconstruction.reconstruct(mag_t, tf_src))
    add(f"refine phase ({args.refine_iterations} iterations)",
        lambda: reconstruction.reconstruct(mag_t, tf_src, phase="refined", n_iter=args.refine_iterations),
        repeats=max(1, args.repeats // 2))
    conv = reconstruction.reconstruct(mag_t, tf_src)
    add("metric: MCD (DTW)", lambda: metrics.mel_cepstral_distortion(tgt, conv, SR))
    add("metric: LSD (DTW)", lambda: metrics.log_spectral_distance(tgt, conv, align="dtw"))
    add("metric: SNR", lambda: metrics.snr(tgt, conv))
    add("metric: spectral convergence", lambda: metrics.spectral_convergence(tgt, conv))
    return pd.DataFrame(rows)


def main(argv=None):
    args = _parse(argv)
    table = _timings(args)
    print(f"3 s clips at {SR} Hz ({UTTERANCE}), one thread, median of {args.repeats}; "
          "rtf = clip duration / CPU time (one thread; wall time is inflated when the machine is shared), "
          "target >= 20 for 'reconstruct'")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    worst = table[table["task"] == "reconstruct (source phase)"]["rtf"].min()
    print(f"\nreconstruction: {'meets' if worst >= 20 else 'MISSES'} the 20x real-time target "
          f"(slowest image size: {worst:.1f}x)")


if __name__ == "__main__":
    main()
