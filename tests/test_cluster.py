"""voxlib.cluster and run_sweep(scheduler=...): the sweep on a Dask LocalCluster."""
from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from voxlib import cluster, transfer
from voxlib.datasets import split

from speaker_images import write_synthetic

distributed = pytest.importorskip("distributed")

TINY = dict(networks=["SequentialCNN"], image_size=32, epochs=2, batch_size=8, seeds=[0, 1], progress=False)
#: What a run computes; the rest of a row is where and when it ran.
COMPUTED = ["network", "transform", "weights", "image_size", "epochs", "batch_size", "precision", "seed",
            "data_fingerprint", "n_classes", "n_train", "n_test", "train_accuracy", "test_accuracy", "test_ci_low",
            "test_ci_high", "macro_f1", "train_loss", "test_loss"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return split(write_synthetic(tmp_path_factory.mktemp("images"), utterances=4, size=32), test_size=0.25, seed=0)


@pytest.fixture(scope="module")
def client():
    with cluster.connect("local", n_workers=2) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def _computed(table):
    return table[COMPUTED].sort_values(["network", "transform", "seed"], ignore_index=True)


def test_local_cluster_gives_the_in_process_rows(manifest, tmp_path, client):
    here = transfer.run_sweep(manifest, tmp_path / "here", **TINY)
    there = transfer.run_sweep(manifest, tmp_path / "there", scheduler=client, **TINY)
    assert len(there) == 4 and set(there["transform"]) == {"hamming", "morse"}
    pd.testing.assert_frame_equal(_computed(there), _computed(here), check_exact=False, rtol=1e-4)
    # the client wrote every file under its own folder, and the models load
    for row in there.itertuples():
        assert str(row.model_path).startswith(str(tmp_path / "there"))
        clf = transfer.load_classifier(row.model_path)
        assert sorted(clf.classes) == sorted(manifest["speaker"].unique())
    assert len(transfer.load_sweep(tmp_path / "there" / "sweep.csv")) == 4


def test_resumed_sweep_on_dask_submits_only_missing_jobs(manifest, tmp_path, client, monkeypatch):
    out = tmp_path / "sweep"
    first = transfer.run_sweep(manifest, out, transforms=["hamming"], **TINY)  # in-process, one transform
    submitted = []
    real = cluster.run_tasks

    def spy(c, fn, payloads, **kw):
        submitted.extend((p["network"], p["rows"]["transform"].iloc[0], tuple(p["seeds"])) for p in payloads)
        return real(c, fn, payloads, **kw)
    monkeypatch.setattr(cluster, "run_tasks", spy)
    both = transfer.run_sweep(manifest, out, scheduler=client, **TINY)
    assert submitted == [("SequentialCNN", "morse", (0, 1))]
    assert len(both) == 4
    kept = both[both["transform"] == "hamming"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, first)  # the finished rows, untouched
    submitted.clear()
    again = transfer.run_sweep(manifest, out, scheduler=client, **TINY)
    assert submitted == [] and len(again) == 4


def test_a_worker_killed_mid_sweep_loses_no_row(manifest, tmp_path, client):
    pids = client.run(os.getpid)  # {worker address: pid}
    killed = []

    def kill_a_busy_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy and busy[0] in pids:
                time.sleep(0.5)  # inside the job
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_a_busy_worker)
    watcher.start()
    table = transfer.run_sweep(manifest, tmp_path, scheduler=client, **{**TINY, "epochs": 3})
    watcher.join()
    assert killed, "no worker was killed: the test did not test anything"
    assert len(table) == 4 and len(transfer.load_sweep(tmp_path / "sweep.csv")) == 4
    assert table["test_accuracy"].notna().all()


def test_restart_policy_gives_each_job_a_fresh_process(client):
    def info(_):
        return cluster.worker_info()
    fresh = [r["pid"] for _, r in cluster.run_tasks(client, info, range(4), max_worker_memory=1, progress=False)]
    reused = [r["pid"] for _, r in cluster.run_tasks(client, info, range(4), max_worker_memory=None,
                                                     progress=False)]
    assert len(set(fresh)) == 4  # every job above 1 byte: its worker restarted before the next
    assert len(set(reused)) <= 2  # two workers, never restarted


def test_an_unreachable_address_fails_fast_and_names_it(manifest, tmp_path):
    address = "tcp://127.0.0.1:9"
    t0 = time.monotonic()
    with pytest.raises(cluster.ClusterError, match="127.0.0.1:9"):
        transfer.run_sweep(manifest, tmp_path, scheduler=address, **TINY)
    assert time.monotonic() - t0 < 20
    assert not (tmp_path / "sweep.csv").exists() or transfer.load_sweep(tmp_path / "sweep.csv").empty


@pytest.mark.parametrize("bad", ["cluster", "tcp://host", 8786, "host:port"])
def test_a_malformed_scheduler_is_refused_before_any_work(manifest, tmp_path, bad):
    with pytest.raises(ValueError, match="scheduler="):
        transfer.run_sweep(manifest, tmp_path, scheduler=bad, **TINY)
    assert not (tmp_path / "sweep.csv").exists()


def test_n_workers_must_be_a_positive_count():
    with pytest.raises(ValueError, match="n_workers"):
        with cluster.connect("local", n_workers=0):
            pass


def test_limit_threads_outside_a_worker_does_nothing():
    assert cluster.limit_threads() is None
    assert cluster.worker_info()["worker"] == "" and cluster.worker_info()["rss"] > 0
    assert np.isfinite(cluster.worker_info()["pid"])
