"""Notebook 02's sweep: three benches, each printing a table.

``--bench cache`` (cached trunk vs plain ``model.fit``): same network, same
initial weights, same batches; the full graph runs the frozen trunk forward
every epoch, the cached trunk once. Target: >= 5x at 10 epochs.

``--bench engines``: the same small sweep (synthetic images, several
transforms, one job per (network, transform)) in one process with ``threads=1``,
in one process with ``threads=2``, and on a Dask ``LocalCluster`` of 2 workers
with ``threads=1`` (``run_sweep(scheduler="local")``), each in a fresh process;
wall time (cluster start included), the ratio to the 1-thread process, and
whether the rows are identical (they are for the same ``threads``). Goal:
>= 1.6x for 2 workers over one 1-thread process on a 2-core machine. Then the
worker memory after each of a dozen jobs on one worker, with and without the
restart policy (``max_worker_memory``).

``--bench precision``: float32 vs ``mixed_bfloat16`` for each network at its
thesis size: the frozen trunk's forward pass (ms per image, batch 8) and one
training epoch of the trainable tail, measured in one process one after the
other. ``voxlib.devices.BF16_FASTER`` lists the networks this measured faster, per kind of CPU unit.

Usage: python bench/sweep.py [--bench cache engines precision] [options]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from voxlib import cluster, datasets, devices, images, transfer  # noqa: E402

#: What a sweep row computes (the rest is where and when it ran).
COMPUTED = ["network", "transform", "weights", "image_size", "epochs", "batch_size", "precision", "threads", "seed",
            "n_train", "n_test", "train_accuracy", "test_accuracy", "train_loss", "test_loss"]


# ----------------------------------------------------------------------------- cache

def bench_cache(args) -> None:
    spec = transfer.NETWORKS[args.network]
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (args.images, 256, 256), dtype=np.uint8)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, args.images)]
    x = transfer.prepare_images(imgs, size=args.size, preprocess=spec.preprocess, channels=spec.channels)
    kw = dict(image_size=args.size, weights=args.weights, on_missing_weights="random", seed=0)
    fit = dict(epochs=args.epochs, batch_size=args.batch_size, seed=0)

    full, label = transfer.build_model(args.network, 4, **kw)
    t0 = time.perf_counter()
    transfer.fit_model(full, x, y, **fit)
    t_full = time.perf_counter() - t0

    cached, _ = transfer.build_model(args.network, 4, **kw)
    t0 = time.perf_counter()
    _, _, timing = transfer.train_cached(cached, x, y, trainable_layers=spec.trainable_layers, **fit)
    t_cached = time.perf_counter() - t0

    diff = float(np.abs(full.predict(x, verbose=0) - cached.predict(x, verbose=0)).max())
    print(f"\nCached trunk: {args.network} ({label} weights), {args.size} px, {args.images} images, "
          f"{args.epochs} epochs of batch {args.batch_size}, {os.cpu_count()} cores")
    print(f"{'method':<34}{'seconds':>9}")
    print(f"{'model.fit on the full graph':<34}{t_full:>9.1f}")
    print(f"{'cached trunk (total)':<34}{t_cached:>9.1f}")
    print(f"{'  trunk features, once':<34}{timing['features_seconds']:>9.1f}")
    print(f"{'  tail fit':<34}{timing['fit_seconds']:>9.1f}")
    print(f"{'speed-up':<34}{t_full / t_cached:>8.1f}x   (target >= 5x at 10 epochs)")
    print(f"{'max |p_full - p_cached|':<34}{diff:>9.1e}")


# ----------------------------------------------------------------------------- engines

def _synthetic_manifest(folder: Path, transforms: int, speakers: int, utterances: int) -> pd.DataFrame:
    """Speaker k's images carry a band at its own height: a learnable toy task."""
    rng = np.random.default_rng(0)
    rows, size = [], 128
    grid = np.arange(size)[:, None]
    for t in range(transforms):
        for k in range(speakers):
            for u in range(utterances):
                band = np.exp(-0.5 * ((grid - (k + 1) * size / (speakers + 1) - rng.uniform(-3, 3)) / 3) ** 2)
                img = np.clip(80 * rng.uniform(size=(size, size)) + 160 * band, 0, 255).astype(np.uint8)
                path = images.save_image(folder / f"t{t}" / f"s{k}" / f"u{u:02d}.png", img, {"scale": 1.0})
                rows.append({"speaker": f"s{k}", "utterance": f"u{u:02d}", "transform": f"t{t}", "path": str(path)})
    man = pd.DataFrame(rows)
    recordings = man.drop_duplicates(["speaker", "utterance"])
    return datasets.apply_split(man, datasets.content_split(recordings, test_size=0.25, seed=0))


def _engine_run(args) -> None:
    """Internal (a subprocess per engine): one sweep, its wall time and rows as JSON on stdout."""
    folder = Path(args.workdir)
    man = pd.read_csv(folder / "manifest.csv")
    t0 = time.perf_counter()
    table = transfer.run_sweep(man, folder / args.one, networks=args.networks, image_size={"SequentialCNN": 64},
                               epochs=args.epochs, weights="none", seeds=[0, 1], progress=False,
                               threads=args.threads, scheduler="local" if args.one == "dask" else None, n_workers=2)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "rows": table[COMPUTED].to_dict("records")}))


def _command(args, engine: str, threads: int, workdir: str):
    """A fresh process running one sweep with ``threads`` (run_sweep's; in-process or per Dask job)."""
    env = {k: v for k, v in os.environ.items() if k not in devices.THREADS_ENV}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", OMP_NUM_THREADS=str(threads))  # OMP: BLAS outside TensorFlow
    cmd = [sys.executable, __file__, "--one", engine, "--workdir", workdir, "--epochs", str(args.epochs),
           "--threads", str(threads), "--networks", *args.networks]
    return cmd, env


def _result(engine: str, out) -> dict:
    if out.returncode:
        raise RuntimeError(f"{engine} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _subprocess(args, engine: str, threads: int) -> dict:
    cmd, env = _command(args, engine, threads, args.workdir)
    return _result(engine, subprocess.run(cmd, capture_output=True, text=True, env=env))


def _side_by_side(args) -> dict:
    """Two 1-thread processes, each running the whole sweep at the same time: what two
    cores give two independent jobs here (shared caches and memory bandwidth), the
    ceiling of any engine. Its wall time is per sweep: speed-up = 2 x t1 / t_pair."""
    procs = []
    for k in range(2):
        work = Path(args.workdir) / f"pair{k}"
        work.mkdir()
        (work / "manifest.csv").write_text((Path(args.workdir) / "manifest.csv").read_text())
        cmd, env = _command(args, "here1", 1, str(work))
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    t0 = time.perf_counter()
    outs = [p.communicate() for p in procs]
    seconds = time.perf_counter() - t0
    for p, (so, se) in zip(procs, outs):
        _result("side by side", subprocess.CompletedProcess(p.args, p.returncode, so, se))
    first = json.loads(outs[0][0].strip().splitlines()[-1])
    return {"seconds": seconds / 2, "rows": first["rows"]}


def _same_rows(rows: pd.DataFrame, ref: pd.DataFrame) -> str:
    keys = ["network", "transform", "seed"]
    a, b = (t.sort_values(keys, ignore_index=True) for t in (rows, ref))
    if a.equals(b):
        return "yes"
    acc = a[["train_accuracy", "test_accuracy"]].equals(b[["train_accuracy", "test_accuracy"]])
    dloss = float(np.abs(a[["train_loss", "test_loss"]].to_numpy() - b[["train_loss", "test_loss"]].to_numpy()).max())
    return f"no: accuracies {'equal' if acc else 'DIFFER'}, max |loss diff| {dloss:.1e}"


def _memory_task(payload):
    """One job's worth of Keras work on a worker: build a model, fit it, report the RSS."""
    transfer.sweep._sweep_task(payload)
    return cluster.worker_info()


def bench_engines(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        args.workdir = tmp
        man = _synthetic_manifest(Path(tmp), args.transforms, speakers=4, utterances=args.utterances)
        man.to_csv(Path(tmp) / "manifest.csv", index=False)
        runs = {"in-process, 1 thread": _subprocess(args, "here1", 1),
                "in-process, 2 threads": _subprocess(args, "here2", 2),
                "LocalCluster, 2 workers x 1 thread": _subprocess(args, "dask", 1),
                "ceiling: 2 x 1-thread side by side": _side_by_side(args)}
        ref = pd.DataFrame(runs["in-process, 1 thread"]["rows"])
        base = runs["in-process, 1 thread"]["seconds"]
        jobs = len(args.networks) * args.transforms
        print(f"\nEngines: {jobs} jobs ({', '.join(args.networks)} x {args.transforms} synthetic transforms, "
              f"{len(man) // args.transforms} images each, 2 seeds, {args.epochs} epochs), {os.cpu_count()} cores")
        print(f"{'engine':<38}{'seconds':>9}{'speed-up':>10}  rows identical to 1 thread")
        for name, r in runs.items():
            print(f"{name:<38}{r['seconds']:>9.1f}{base / r['seconds']:>9.2f}x  {_same_rows(pd.DataFrame(r['rows']), ref)}")
        print("seconds: wall time of the sweep, the cluster's start included; the ceiling row: per sweep of two run "
              "at once.\n2 threads in one process sum in another order, so its losses differ in the last digits.")
        print("goal: >= 1.6x for 2 workers over one 1-thread process")
        _bench_memory(man, args)


def _bench_memory(man, args) -> None:
    data = transfer.sweep._run_split(man, 0.25)
    settings = transfer.SweepSettings(image_size=64, epochs=args.epochs, weights="none")
    job = transfer.sweep._plan_jobs(data, ["SequentialCNN"], ["t0"], settings, seeds=[0])[0]
    payload = dict(settings=job.settings, n_classes=4, network="SequentialCNN", rows=job.rows,
                   images=transfer.load_images(job.rows["path"]), seeds=[0])
    n = 12
    table = {}
    for label, limit in (("no restarts", None), ("restart above 1 GiB", 2 ** 30)):
        with cluster.connect("local", n_workers=1) as client:
            rss = [r["rss"] / 2 ** 20 for _, r in cluster.run_tasks(client, _memory_task, [payload] * n,
                                                                     max_worker_memory=limit, progress=False)]
        table[label] = rss
    print(f"\nWorker memory: one worker, {n} SequentialCNN jobs in a row, resident MiB after each job")
    print(f"{'policy':<24}" + "".join(f"{i + 1:>7}" for i in range(n)))
    for label, rss in table.items():
        print(f"{label:<24}" + "".join(f"{v:>7.0f}" for v in rss))


# ----------------------------------------------------------------------------- precision

def _time(fn, repeats: int) -> float:
    fn()  # warm-up (tracing)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _precision_one(network: str, policy: str, batch: int, repeats: int) -> dict:
    spec = transfer.NETWORKS[network]
    size = spec.input_size
    model, _ = transfer.build_model(network, 4, image_size=size, weights="none", precision=policy)
    trunk, tail = transfer.split_trunk(model, trainable_layers=spec.trainable_layers)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (batch, size, size, spec.channels)).astype(np.float32)
    if trunk is None:
        forward = _time(lambda: model.predict(x, batch_size=batch, verbose=0), repeats)
        feats = [x]
    else:
        forward = _time(lambda: trunk.predict(x, batch_size=batch, verbose=0), repeats)
        feats = transfer.extract_features(trunk, x, batch_size=batch)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, batch)]
    fit = _time(lambda: transfer.fit_model(tail, feats, y, epochs=1, batch_size=spec.batch_size), repeats)
    transfer.keras.backend.clear_session()
    return {"ms_per_image": 1000 * forward / batch, "tail_epoch_ms": 1000 * fit}


def bench_precision(args) -> None:
    nets = args.precision_networks or list(transfer.NETWORKS)
    print(f"\nPrecision: float32 vs mixed_bfloat16, frozen trunk forward (batch {args.batch}) and one tail epoch "
          f"(batch {args.batch}); CPU bf16 units: {devices.cpu_has_bf16()}")
    print(f"{'network':<20}{'px':>5}{'fwd f32':>9}{'fwd bf16':>10}{'ratio':>7}{'tail f32':>10}{'tail bf16':>11}"
          f"{'ratio':>7}  auto")
    for net in nets:
        r = {p: _precision_one(net, p, args.batch, args.repeats) for p in ("float32", "mixed_bfloat16")}
        f, b = r["float32"], r["mixed_bfloat16"]
        print(f"{net:<20}{transfer.NETWORKS[net].input_size:>5}{f['ms_per_image']:>9.1f}"
              f"{b['ms_per_image']:>10.1f}{f['ms_per_image'] / b['ms_per_image']:>6.2f}x"
              f"{f['tail_epoch_ms']:>10.1f}{b['tail_epoch_ms']:>11.1f}{f['tail_epoch_ms'] / b['tail_epoch_ms']:>6.2f}x"
              f"  {devices.resolve_precision('auto', net)}", flush=True)
    print("ratio > 1: bfloat16 faster. fwd: ms per image; tail: ms per epoch of the tail on one batch")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", nargs="+", default=["cache", "engines", "precision"],
                    choices=["cache", "engines", "precision"])
    ap.add_argument("--network", default="MobileNetV2", help="cache bench: the network")
    ap.add_argument("--size", type=int, default=224, help="cache bench: input size, px (thesis: 224)")
    ap.add_argument("--images", type=int, default=160, help="cache bench: training images")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--weights", default="imagenet", help="cache bench: imagenet | none (random if not cached)")
    ap.add_argument("--networks", nargs="+", default=["MobileNetV2", "SequentialCNN"], help="engines bench")
    ap.add_argument("--transforms", type=int, default=4, help="engines bench: synthetic transforms")
    ap.add_argument("--utterances", type=int, default=24, help="engines bench: per speaker (4 speakers)")
    ap.add_argument("--precision-networks", nargs="*", help="precision bench (default: every network)")
    ap.add_argument("--batch", type=int, default=8, help="precision bench: images per forward batch")
    ap.add_argument("--repeats", type=int, default=3, help="precision bench: timed repeats (median)")
    ap.add_argument("--one", help=argparse.SUPPRESS)      # internal: one engine run
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)  # internal: run_sweep's threads
    args = ap.parse_args(argv)
    if args.one:
        _engine_run(args)
        return 0
    for bench in args.bench:
        {"cache": bench_cache, "engines": bench_engines, "precision": bench_precision}[bench](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
