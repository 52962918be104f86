"""How a sweep runs: every (network, transform, seed) and the baselines, resumable, here or on Dask.

:func:`run_sweep` checks its arguments (:data:`_SWEEP_CONSTRAINTS`, then the manifest), fails early
when ImageNet weights are missing, plans one job per (network, transform) (:func:`_plan_jobs`),
skips the runs ``sweep.csv`` already has and runs the others in this process (:func:`_sweep_here`)
or as Dask tasks on a cluster (:func:`_sweep_on_dask`, :func:`_sweep_task`, :mod:`voxlib.cluster`),
appending one row per finished run (:mod:`voxlib.transfer.table`). :func:`run_one` is one run: a
network trained on one transform's images with one seed, under a :class:`SweepSettings`; its
``precision`` computes in bfloat16 where that is faster (:mod:`voxlib.devices`).

One sweep, whatever the engine: every run computes with ``threads`` TensorFlow threads
(:func:`voxlib.devices.set_threads`), in this process (set before its first TensorFlow work,
refused if TensorFlow already runs with others) and on each Dask worker (set in the worker
before its first job), so ``scheduler`` changes where the runs compute, not what.
"""
from __future__ import annotations

import dataclasses
import gc
import os
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from voxlib import cluster, datasets, devices
from voxlib._heavy import keras
from voxlib.checks import Interval, Satisfies, check_params
from voxlib.transfer.baselines import BASELINES, _baseline_key, run_baseline
from voxlib.transfer.classifier import _model_bytes, _write_classifier
from voxlib.transfer.networks import (NETWORKS, WEIGHTS_CONSTRAINTS, MissingWeightsError, _per_network,
                                      _require_weights, _resolve_weights, _size_for, _spec, keras_cache_dir)
from voxlib.transfer.table import (_append_row, _done, _key_hash, _path_fields, _rows_of, _sweep_row,
                                   load_sweep)
from voxlib.transfer.training import _Built, _train_and_score, load_images, prepare_images

__all__ = ["SweepSettings", "run_one", "run_sweep"]


@dataclasses.dataclass(frozen=True)
class SweepSettings:
    """The settings of a sweep's runs that do not depend on the network or the data.

    :func:`run_sweep` makes one from its keywords for all its (network, transform) jobs; a run
    (:func:`run_one`) takes it with its own ``seed``.

    Attributes
    ----------
    image_size, epochs, batch_size : int, dict {network: int} or None
        ``None``: each network's thesis value (:data:`voxlib.transfer.NETWORKS`).
    weights : "imagenet", "none" or path
    on_missing_weights : "error" or "random"
        See :func:`voxlib.transfer.build_model`.
    precision : {"float32", "mixed_bfloat16", "auto"}
        Keras's dtype policy (:func:`voxlib.transfer.build_model`).
    threads : int >= 1
        TensorFlow's intra- and inter-op threads in the process that computes a run
        (:func:`voxlib.devices.set_threads`); recorded in ``sweep.csv``.
    seed : int >= 0
        Draws the trained layers' initial weights and the batch order.
    """

    image_size: int | dict | None = None
    epochs: int | dict | None = None
    batch_size: int | dict | None = None
    weights: str | os.PathLike | None = "imagenet"
    on_missing_weights: str = "error"
    precision: str = "float32"
    threads: int = devices.DEFAULT_THREADS
    seed: int = 0


def _build(network: str, n_classes: int, settings: SweepSettings, size: int) -> _Built:
    """``network`` built at ``size`` px for ``settings``, ready to be reset for each seed."""
    return _Built(network, n_classes, image_size=size, weights=settings.weights,
                  on_missing_weights=settings.on_missing_weights, precision=settings.precision)


# ----------------------------------------------------------------------------- one run

def run_one(rows: pd.DataFrame, network: str, out_dir, settings: SweepSettings | None = None, *, images=None,
            progress=False, built=None, features=None) -> dict:
    """Train and evaluate one (network, transform, seed) on rows with a ``split``
    column; write model, history, confusion and report under ``out_dir``.

    Returns the sweep row (dict). ``settings``: the run's :class:`SweepSettings` (default: the
    thesis's values, ImageNet weights, float32, seed 0); ``images``: the rows' images already
    read (uint8 ``(N, H, W)``); ``built``: a reusable network; ``features``: a dict shared by
    the seeds of one (network, transform), holding the trunk's features (internal).
    TensorFlow must run with ``settings.threads`` here (:func:`voxlib.devices.set_threads`;
    a RuntimeError otherwise), so the row records what it computed with."""
    settings = settings or SweepSettings()
    devices.set_threads(settings.threads)
    row, artifacts = _compute_one(rows, network, settings, images=images, progress=progress,
                                  built=built, features=features)
    return _write_run(Path(out_dir), row, artifacts)


def _compute_one(rows: pd.DataFrame, network: str, settings: SweepSettings, *, images, progress, built,
                 features) -> tuple[dict, dict]:
    """:func:`run_one` without writing: ``(row without paths, artifacts)``, artifacts
    being the model's ``.keras`` bytes, its meta, history, confusion and report."""
    spec = _spec(network)
    classes = sorted(rows["speaker"].astype(str).unique())
    size = _size_for(spec, settings.image_size)
    epochs = _per_network(settings.epochs, spec, spec.epochs)
    batch_size = _per_network(settings.batch_size, spec, spec.batch_size)
    seed = settings.seed
    y = rows["speaker"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
    if features is not None and "x" in features:
        x = features["x"]
    else:
        imgs = load_images(rows["path"]) if images is None else images
        x = prepare_images(imgs, size=size, preprocess=spec.preprocess, channels=spec.channels)
        if features is not None:
            features["x"] = x
    train = (rows["split"] == "train").to_numpy()
    if built is None:
        built = _build(network, len(classes), settings, size)
    hist, ev_tr, ev_te, timing = _train_and_score(built, spec, x, y, train, classes, epochs=epochs,
                                                  batch_size=batch_size, seed=seed, progress=progress,
                                                  features=features)
    fields = {"network": network, "transform": str(rows["transform"].iloc[0]) if "transform" in rows else "",
                "weights": built.label, "image_size": size, "epochs": epochs, "batch_size": batch_size,
                "precision": built.precision, "threads": settings.threads, "seed": seed, "classes": classes}
    stem = (f"{network}__{fields['transform']}__"
            f"{_key_hash(rows, built.label, size, epochs, batch_size, seed, built.precision)}")
    meta = {"classes": classes, "network": network, "transform": fields["transform"], "image_size": size,
            "preprocess": spec.preprocess, "channels": spec.channels, "weights": built.label, "epochs": epochs,
            "batch_size": batch_size, "precision": built.precision, "seed": seed}
    artifacts = {"stem": stem, "model": _model_bytes(built.model), "meta": meta, "history": hist,
                 "confusion": ev_te["confusion"], "report": ev_te["report"], "report_text": ev_te["report_text"]}
    return _sweep_row(fields, rows, train, ev_tr, ev_te, timing), artifacts


def _write_run(out_dir: Path, row: dict, artifacts: dict) -> dict:
    """Write one run's model, history, confusion matrix and report (``artifacts`` of
    :func:`_compute_one`) under ``out_dir``; return ``row`` with their paths. Only the
    process that owns ``sweep.csv`` calls this (the client, on a Dask cluster)."""
    stem = artifacts["stem"]
    paths = {k: Path(out_dir) / k / f"{stem}{ext}" for k, ext in
             [("models", ".keras"), ("history", ".csv"), ("confusion", ".csv"), ("reports", ".csv")]}
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    _write_classifier(artifacts["model"], paths["models"], artifacts["meta"])
    artifacts["history"].to_csv(paths["history"], index=False)
    artifacts["confusion"].to_csv(paths["confusion"])
    artifacts["report"].to_csv(paths["reports"])
    paths["reports"].with_suffix(".txt").write_text(artifacts["report_text"])
    return {**row, **_path_fields(paths)}


# ----------------------------------------------------------------------------- checks

_MANIFEST_REQUIRED = ("speaker", "utterance", "transform", "path")


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def _distinct_seeds(seeds) -> bool:
    return (len(seeds) > 0 and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0
                                   for s in seeds) and len(set(seeds)) == len(seeds))


#: The checks of :func:`run_sweep`'s settings. ``precision`` and ``scheduler`` are checked by
#: :mod:`voxlib.devices` and :mod:`voxlib.cluster`; the manifest and ``transforms``, which
#: depend on each other, by :func:`_check_manifest`.
_SWEEP_CONSTRAINTS = {
    "networks": [Satisfies(lambda names: all(n in NETWORKS for n in names),
                           f"a list of registry networks ({', '.join(NETWORKS)})")],
    "seeds": [Satisfies(_distinct_seeds, "a non-empty list of distinct integers >= 0 (each seed is one run), "
                                         "e.g. [0, 1, 2]")],
    "baselines": [Satisfies(lambda names: all(b in BASELINES for b in names),
                            f"a list of baselines from {list(BASELINES)}")],
    "threads": [Interval(int, 1, None)],
    **WEIGHTS_CONSTRAINTS,
}


def _check_manifest(manifest, transforms, baselines) -> tuple[pd.DataFrame, list[str]]:
    """Step 1 of :func:`run_sweep`, after its table: the manifest and the transforms and
    baselines it must serve, checked before anything is downloaded or trained. Returns the
    manifest as a DataFrame and the transforms as a list."""
    if not isinstance(manifest, pd.DataFrame):
        manifest = datasets.load_manifest(manifest, required=_MANIFEST_REQUIRED,
                                          producer="notebook 01 (01_transforms)")
    missing = [c for c in _MANIFEST_REQUIRED if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks column(s) {missing}; it has {list(manifest.columns)}")
    available = sorted(manifest["transform"].astype(str).unique())
    transforms = available if transforms is None else _as_list(transforms)
    unknown = [t for t in transforms if t not in available]
    if unknown:
        raise ValueError(f"transforms={unknown} not in the manifest; it has {available}")
    speakers = manifest["speaker"].astype(str).unique()
    if len(speakers) < 2:
        raise ValueError(f"the manifest has {len(speakers)} speaker ({', '.join(speakers)}); "
                         "speaker identification needs at least 2 — add another speaker's recordings")
    if baselines and "source_path" not in manifest.columns:
        raise ValueError("the baselines read each image's recording from the manifest's source_path column, which "
                         "this manifest lacks: add it (notebook 01 writes it) or pass baselines=[]")
    return manifest, transforms


def _run_split(manifest: pd.DataFrame, test_size: float) -> pd.DataFrame:
    """The manifest's own ``split`` column (the run's split, notebook 01), checked;
    without one, a content-grouped split of its recordings drawn here (seed 0)."""
    if "split" not in manifest.columns:
        recordings = manifest.drop_duplicates(["speaker", "utterance"])
        return datasets.apply_split(manifest, datasets.content_split(recordings, test_size=test_size, seed=0))
    sides = set(manifest["split"].astype(str))
    if not sides <= {"train", "test"}:
        raise ValueError(f"manifest column split has values {sorted(sides - {'train', 'test'})}; "
                         "expected 'train' or 'test' (notebook 01 writes the run's split)")
    for spk, sub in manifest.groupby("speaker"):
        if set(sub["split"]) != {"train", "test"}:
            raise ValueError(f"speaker {spk!r} has recordings only in {sorted(set(sub['split']))} of the "
                             "manifest's split; every speaker needs both (fix the split file)")
    return manifest


# ----------------------------------------------------------------------------- jobs

@dataclasses.dataclass
class _Job:
    """One (network, transform) of a sweep, with the key its sweep.csv rows get and its
    settings (``precision`` resolved for its network)."""

    network: str
    transform: str
    rows: pd.DataFrame
    key: dict
    seeds: list
    settings: SweepSettings

    def keys(self) -> list[dict]:
        """The sweep.csv key of each seed's row."""
        return [{**self.key, "seed": s} for s in self.seeds]


def _plan_jobs(data, networks, transforms, settings: SweepSettings, seeds) -> list[_Job]:
    """Step 3 of :func:`run_sweep`: resolve each network's weights once and key every
    (network, transform) as its sweep.csv rows will be keyed (one per seed)."""
    labels = {n: _resolve_weights(NETWORKS[n], settings.weights, settings.on_missing_weights)[2] for n in networks}
    jobs = []
    for network in networks:
        spec = NETWORKS[network]
        for transform in transforms:
            rows = data[data["transform"].astype(str) == transform].sort_values(["speaker", "utterance"],
                                                                                 ignore_index=True)
            key = {"network": network, "transform": transform, "weights": labels[network],
                   "image_size": _size_for(spec, settings.image_size),
                   "epochs": _per_network(settings.epochs, spec, spec.epochs),
                   "batch_size": _per_network(settings.batch_size, spec, spec.batch_size),
                   "precision": devices.resolve_precision(settings.precision, network),
                   "data_fingerprint": datasets.fingerprint(rows)}
            jobs.append(_Job(network, transform, rows, key, list(seeds),
                             dataclasses.replace(settings, precision=key["precision"])))
    return jobs


def _network_for(built: _Built | None, job: _Job, n_classes: int) -> _Built:
    """Step 4 of :func:`run_sweep`: the network of ``job``, rebuilt only when the
    network changes (the frozen trunk's features are then recomputed per transform)."""
    if built is not None and built.network == job.network:
        return built
    keras.backend.clear_session()
    return _build(job.network, n_classes, job.settings, job.key["image_size"])


# ----------------------------------------------------------------------------- the sweep

def run_sweep(
    manifest,
    out_dir,
    *,
    networks=("MobileNetV2", "SequentialCNN"),
    transforms=None,
    image_size=None,
    epochs=None,
    batch_size=None,
    weights="imagenet",
    on_missing_weights: str = "error",
    test_size: float = 0.25,
    seeds=(0,),
    baselines=(),
    precision: str = "float32",
    threads: int = devices.DEFAULT_THREADS,
    scheduler=None,
    n_workers: int | None = None,
    max_worker_memory=cluster.DEFAULT_MAX_WORKER_MEMORY,
    restart_timeout: float = cluster.DEFAULT_RESTART_TIMEOUT,
    progress: bool = True,
) -> pd.DataFrame:
    """Train and evaluate every (network, transform, seed), and the baselines; resumable.

    Parameters
    ----------
    manifest : DataFrame or path
        Notebook 01's manifest (columns ``speaker, utterance, transform, path``;
        its ``split`` column, the run's split, says which recordings are held out).
    out_dir : path
        Receives ``sweep.csv`` and ``models/ history/ confusion/ reports/``.
    networks : sequence of :data:`NETWORKS` keys
    transforms : sequence of str or None
        ``None``: every transform in the manifest.
    image_size, epochs, batch_size : int, dict {network: int} or None
        ``None``: each network's thesis value (224/299/256 px; 10 epochs of
        batch 10; 20 of batch 32 for ``SequentialCNN``).
    weights, on_missing_weights : see :func:`voxlib.transfer.build_model`
    test_size : float in (0, 1)
        Only for a manifest without a ``split`` column: the share of recordings
        a content-grouped split (:func:`voxlib.datasets.content_split`, seed 0)
        holds out.
    seeds : sequence of int
        One run per seed on the same split: the seed draws the trained layers'
        initial weights and the batch order. The frozen trunk's features are
        computed once per (network, transform), so a seed costs only training.
    baselines : sequence of :data:`BASELINES` names
        Non-image reference classifiers on the same recordings and split
        (:func:`voxlib.transfer.run_baseline`), written as rows with ``transform = "audio"``.
    precision : {"float32", "mixed_bfloat16", "auto"}
        The networks' dtype policy (:func:`voxlib.transfer.build_model`); each row records the
        one it ran with (``"auto"`` resolves per network).
    threads : int >= 1
        TensorFlow's intra- and inter-op threads for every run, wherever it computes
        (:func:`voxlib.devices.set_threads`); recorded in ``sweep.csv`` (not part of a
        run's key: a resumed sweep keeps rows computed with other threads). The thread
        count changes the order of sums, hence the rows' last digits and, for a small
        CNN on few test clips, a few accuracy points; one value gives the same rows
        in-process and on Dask. In this process it must be set before TensorFlow's first
        computation: this call sets it, and refuses (RuntimeError, before any run) when
        TensorFlow already runs with other threads.
    scheduler : None, "local", address or distributed.Client
        Where the (network, transform) jobs run (:mod:`voxlib.cluster`): ``None``
        in this process; ``"local"`` on a Dask ``LocalCluster`` of ``n_workers``
        processes running one job at a time; ``"tcp://host:8786"`` on a running Dask
        cluster (workers with this project installed; no shared filesystem needed). This
        process writes every file either way, so resuming works the same.
    n_workers : int or None
        Worker processes of ``scheduler="local"`` (``None``: one per ``threads`` cores).
    max_worker_memory : int, str or None
        On Dask: a worker whose resident memory exceeds this after a job is
        restarted before its next one (bounds Keras's growth across fits).
    restart_timeout : float
        On Dask: seconds to wait for a restarted worker's replacement; none within it
        raises :class:`voxlib.cluster.ClusterError` (finished rows are kept).
    progress : bool

    Returns
    -------
    DataFrame: the rows of ``sweep.csv`` (which may hold other runs too) for
    this call's runs, one row per (network, transform, weights, image_size,
    epochs, batch_size, seed, data_fingerprint); rows already there are
    skipped, not recomputed.
    """
    networks = _as_list(networks)
    seeds = [seeds] if np.isscalar(seeds) else list(seeds)
    baselines = [] if baselines is None else _as_list(baselines)
    check_params(_SWEEP_CONSTRAINTS, {"networks": networks, "seeds": seeds, "baselines": baselines,
                                      "threads": threads, "on_missing_weights": on_missing_weights})
    seeds = [int(s) for s in seeds]
    devices.check_precision(precision)
    scheduler = cluster.check_scheduler(scheduler)
    manifest, transforms = _check_manifest(manifest, transforms, baselines)
    # before anything here can start TensorFlow (a download builds a model); checked when there is work
    threads_set = scheduler is not None or devices.set_threads(threads, strict=False)
    _require_weights(networks, weights, on_missing_weights)
    data = _run_split(manifest, test_size)
    settings = SweepSettings(image_size=image_size, epochs=epochs, batch_size=batch_size, weights=weights,
                             on_missing_weights=on_missing_weights, precision=precision, threads=threads)
    jobs = _plan_jobs(data, networks, transforms, settings, seeds)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "sweep.csv"
    table = load_sweep(csv)
    todo = [(job, [s for s, k in zip(job.seeds, job.keys()) if not _done(table, k)]) for job in jobs]
    todo = [(job, left) for job, left in todo if left]  # resume: a finished row is never recomputed
    if todo and not threads_set:
        devices.set_threads(threads)  # raises, before any run: TensorFlow already runs here with other threads
    keys = [_baseline_key(name, data, seeds[0]) for name in baselines]
    for name, key in zip(baselines, keys):
        if not _done(load_sweep(csv), key):
            _append_row(csv, run_baseline(name, data, out_dir, seed=seeds[0], progress=progress))
    n_classes = manifest["speaker"].astype(str).nunique()
    if scheduler is None:
        _sweep_here(todo, csv, out_dir, n_classes, total=len(jobs) * len(seeds), progress=progress)
    else:
        _sweep_on_dask(todo, csv, out_dir, n_classes, scheduler=scheduler, n_workers=n_workers,
                       progress=progress, max_worker_memory=max_worker_memory, restart_timeout=restart_timeout)
    return _rows_of(load_sweep(csv), keys + [k for job in jobs for k in job.keys()])


def _sweep_here(todo, csv: Path, out_dir: Path, n_classes: int, *, total: int, progress: bool) -> None:
    """The sweep's jobs in this process, one row appended per finished seed; a network is
    built once for all its transforms."""
    image_cache: dict[str, np.ndarray] = {}  # uint8, read once per transform
    built = None
    bar = tqdm(total=total, initial=total - sum(len(left) for _, left in todo), desc="sweep", unit="run",
               disable=not progress)
    for job, left in todo:
        features: dict = {}  # this (network, transform)'s prepared images and trunk features, shared by its seeds
        for seed in left:
            bar.set_postfix_str(f"{job.network} / {job.transform} / seed {seed}", refresh=False)
            bar.update(1)
            if job.transform not in image_cache:
                image_cache[job.transform] = load_images(job.rows["path"])
            built = _network_for(built, job, n_classes)
            row = run_one(job.rows, job.network, out_dir, dataclasses.replace(job.settings, seed=seed),
                          images=image_cache[job.transform],
                          progress=f"{job.network}/{job.transform}/{seed}" if progress else False, built=built,
                          features=features)
            _append_row(csv, row)
    bar.close()


# ----------------------------------------------------------------------------- on Dask

def _sweep_on_dask(todo, csv: Path, out_dir: Path, n_classes: int, *, scheduler, n_workers, progress: bool,
                   **policy) -> None:
    """The sweep's jobs as Dask tasks (:func:`_sweep_task`), one per (network, transform):
    each gets its images as data and returns its runs; this process writes them. ``policy``:
    :func:`voxlib.cluster.run_tasks`'s ``max_worker_memory`` and ``restart_timeout``."""
    image_cache: dict[str, np.ndarray] = {}
    payloads = []
    for job, left in todo:
        if job.transform not in image_cache:
            image_cache[job.transform] = load_images(job.rows["path"])
        payloads.append({"settings": job.settings, "n_classes": n_classes, "network": job.network,
                         "rows": job.rows, "images": image_cache[job.transform], "seeds": left})
    if not payloads:
        return
    threads = payloads[0]["settings"].threads
    with cluster.connect(scheduler, n_workers=n_workers, progress=progress, job_threads=threads) as client:
        for i, result in cluster.run_tasks(client, _sweep_task, payloads, progress=progress, **policy,
                                           label=lambda p: f"{p['network']} / {p['rows']['transform'].iloc[0]}"):
            job = todo[i][0]
            for row, artifacts in result["runs"]:
                if row["weights"] != job.key["weights"]:
                    raise MissingWeightsError(
                        f"worker {result['worker'] or '?'} built {job.network} with {row['weights']} weights, this "
                        f"process with {job.key['weights']}: give every worker the same Keras cache "
                        f"({keras_cache_dir()} here; scripts/seed_keras_cache.py for MobileNetV2)")
                _append_row(csv, _write_run(out_dir, row, artifacts))


def _sweep_task(payload: dict) -> dict:
    """One (network, transform) job on a Dask worker: every seed of ``payload["seeds"]``
    under ``payload["settings"]`` (a :class:`SweepSettings`), on the worker's last network
    when the settings match (:data:`_WORKER_BUILT`).
    Returns ``{"runs": [(row, artifacts), ...], "worker", "pid", "rss"}`` (nothing written).
    TensorFlow's threads are set before the worker's first job; a worker whose TensorFlow
    already runs with others (a long-lived worker of another sweep) raises, naming them."""
    p, settings = payload, payload["settings"]
    try:
        devices.set_threads(settings.threads)
    except RuntimeError as exc:
        raise RuntimeError(f"on Dask worker {cluster.worker_info()['worker']}: {exc}. On a cluster, restart its "
                           "workers (`client.restart()`) to start them with the sweep's threads") from exc
    size = _size_for(NETWORKS[p["network"]], settings.image_size)
    key = (p["network"], p["n_classes"], size, settings.weights, settings.on_missing_weights, settings.precision)
    built = _WORKER_BUILT.get(key)
    if built is None:  # another network: drop the last one first
        _WORKER_BUILT.clear()
        keras.backend.clear_session()
        gc.collect()
        built = _WORKER_BUILT[key] = _build(p["network"], p["n_classes"], settings, size)
    features: dict = {}
    runs = [_compute_one(p["rows"], p["network"], dataclasses.replace(settings, seed=seed), images=p["images"],
                         progress=False, built=built, features=features)
            for seed in p["seeds"]]
    del features
    gc.collect()
    return {"runs": runs, **cluster.worker_info()}


#: On a Dask worker, the network its last job built, keyed by its settings: the next job
#: of the same network resets it (:meth:`_Built.reset`) instead of building it again, as
#: the in-process sweep does across transforms (the rows are the same either way).
_WORKER_BUILT: dict = {}
