"""Benchmark: the six MATLAB-faithful transforms against other libraries, one thread.

Prints milliseconds per 3 s clip at 8 kHz and 16 kHz (best and median of
``--repeat`` round-robin runs after one warm-up), for each transform's coefficients, each
transform's 512 x 512 image (coefficients + resize + log + 8 bits), all six
images together, and beside them: ssqueezepy's CWT given MATLAB's scales (same
wavelets), PyWavelets' ``cwt`` with ``cmor`` on as many scales, librosa's
``stft`` with the same frame settings, and fCWT if it is installed.

ssqueezepy is given float32 (as voxlib computes by default) and float64
input; it pads to a power of two, voxlib pads as MATLAB does (floor(n/2)
reflected samples each side), so voxlib's FFTs are longer.

Targets (issue 3): all six images of a 3 s 16 kHz clip under 500 ms on one
core; each CWT at least 2x faster than ssqueezepy on the same scales.

Usage: ``python bench/transforms.py [--repeat 5] [--rates 8000 16000]``
"""
from __future__ import annotations

import os

# one thread everywhere, before NumPy/SciPy/numba load
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["SSQ_PARALLEL"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pywt  # noqa: E402  (the bench extra: pip install -e ".[bench]")
from threadpoolctl import threadpool_limits  # noqa: E402

from voxlib import audio, images, transforms  # noqa: E402
from voxlib.run import project_root  # noqa: E402

try:  # optional comparisons: skipped when not installed
    import ssqueezepy as ssq  # noqa: E402
except ImportError:
    ssq = None
try:
    import fcwt  # noqa: E402
except ImportError:
    fcwt = None

SSQ_WAVELETS = {"morse": ("gmw", {"gamma": 3, "beta": 20, "norm": "bandpass"}),
                "amor": ("morlet", {"mu": 6}),
                "bump": ("bump", {"mu": 5, "s": 0.6})}


def clip(sr: int, seconds: float = 3.0) -> np.ndarray:
    """3 s of real speech from the embedded corpus (a speech-like synthetic signal if absent)."""
    n = int(seconds * sr)
    index = project_root() / "data" / "embedded" / "index.csv"
    if index.is_file():
        table = pd.read_csv(index)
        row = table[table["duration_s"] >= seconds].iloc[0]
        y, _ = audio.load(index.parent / row["path"], sr=sr)
        return y[:n]
    t = np.arange(n) / sr
    f0 = 120 + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, int(0.45 * sr / 140)))
    return (0.3 * y * np.sin(np.pi * t / seconds) ** 2).astype(np.float32)


def timed(fns: dict, repeat: int) -> dict:
    """Best and median ms of each callable, measured round-robin so that load from
    other processes falls on every method alike."""
    for fn in fns.values():
        fn()  # warm-up: caches, JIT, FFT plans
    runs = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            runs[name].append(1e3 * (time.perf_counter() - t0))
    return {name: (min(r), statistics.median(r)) for name, r in runs.items()}


def cases(y: np.ndarray, sr: int) -> dict:
    """name -> zero-argument callable, all on the same clip."""
    out = {}
    for name in transforms.TRANSFORMS:
        out[f"voxlib {name} (coefficients)"] = lambda name=name: transforms.compute(y, sr, name)

    def image(name):  # the one image recipe write_images uses: |C| reduced block by block, log, 8 bits
        return images.audio_to_image(y, sr, name, image_size=(512, 512))

    for name in transforms.TRANSFORMS:
        out[f"voxlib {name} (512x512 image)"] = lambda name=name: image(name)
    out["voxlib all six images"] = lambda: [image(n) for n in transforms.TRANSFORMS]
    if ssq is not None:
        y64 = y.astype(np.float64)
        for name, spec in SSQ_WAVELETS.items():
            scales = transforms.cwt_scales(y.size, name)
            wav = ssq.Wavelet(spec)
            out[f"ssqueezepy cwt {name} (MATLAB scales)"] = (
                lambda wav=wav, scales=scales: ssq.cwt(y, wav, scales=scales, padtype="reflect", l1_norm=True))
            out[f"ssqueezepy cwt {name} (MATLAB scales, float64)"] = (
                lambda wav=wav, scales=scales: ssq.cwt(y64, wav, scales=scales, padtype="reflect", l1_norm=True))
            out[f"voxlib {name} (coefficients, double)"] = (
                lambda name=name: transforms.cwt(y, sr, name, precision="double"))
    else:
        warnings.warn("ssqueezepy not installed: pip install ssqueezepy", stacklevel=1)
    n_scales = transforms.cwt_scales(y.size, "amor").size
    pw_scales = np.geomspace(1.0, 2 ** (n_scales / 10), n_scales)
    out["PyWavelets cwt cmor1.5-1.0 (as many scales, fft)"] = (
        lambda: pywt.cwt(y, pw_scales, "cmor1.5-1.0", method="fft"))
    out["librosa stft (512 FFT, hop 192, win 256)"] = (
        lambda: librosa.stft(y, n_fft=512, hop_length=192, win_length=256, window="hamming", center=False))
    if fcwt is not None:
        out["fCWT morlet (forward only)"] = lambda: fcwt.cwt(y.astype(np.float32), sr, 1, sr / 2, n_scales)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rates", type=int, nargs="+", default=[8000, 16000])
    args = parser.parse_args(argv)
    results = {}
    with threadpool_limits(1):
        for sr in args.rates:
            for name, t in timed(cases(clip(sr), sr), args.repeat).items():
                results.setdefault(name, {})[sr] = t
    width = max(map(len, results)) + 2
    head = "".join(f"{f'{sr // 1000} kHz best/median':>26}" for sr in args.rates)
    print(f"\nms per 3 s clip, one thread, best/median of {args.repeat} round-robin runs\n")
    print(f"{'method':<{width}}{head}")
    for name, by_rate in results.items():
        print(f"{name:<{width}}" + "".join(f"{by_rate[sr][0]:>14.1f} /{by_rate[sr][1]:>8.1f}  " if sr in by_rate
                                          else f"{'-':>26}" for sr in args.rates))
    print()
    for sr in args.rates:
        six = results["voxlib all six images"][sr][0]
        line = [f"{sr // 1000} kHz: all six images {six:.0f} ms; CWT speed-up over ssqueezepy (best times)"]
        for name in SSQ_WAVELETS:
            single = results.get(f"ssqueezepy cwt {name} (MATLAB scales)", {}).get(sr)
            double = results.get(f"ssqueezepy cwt {name} (MATLAB scales, float64)", {}).get(sr)
            if single and double:
                ours = results[f"voxlib {name} (coefficients)"][sr][0]
                ours64 = results[f"voxlib {name} (coefficients, double)"][sr][0]
                line.append(f"{name} x{single[0] / ours:.1f} (single) x{double[0] / ours64:.1f} (double)")
        print("; ".join(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
