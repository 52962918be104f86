"""The sweep's jobs on a Dask cluster (notebook 02's ``scheduler`` parameter).

:func:`voxlib.transfer.run_sweep` cuts a sweep into jobs, one per (network,
transform). With ``scheduler=None`` it runs them one after the other in its
own process. Otherwise this module runs them as Dask tasks:

* ``scheduler="local"`` starts a :class:`distributed.LocalCluster` on this
  machine: ``n_workers`` worker processes of one thread each.
* ``scheduler="tcp://host:8786"`` joins a running cluster: one started by
  ``dask scheduler`` and ``dask worker tcp://host:8786`` on machines with the
  same environment (this project installed), or by dask-jobqueue /
  dask-kubernetes. An address nobody answers fails within ``timeout`` seconds
  with an error naming it.
* A :class:`distributed.Client` you made yourself is used as it is.

The client process stays the only writer of the results: each task gets its
images as data and returns its models, histories and confusion matrices as
data, so workers need no shared filesystem, ``sweep.csv`` stays resumable, and
a killed sweep loses only the jobs in flight. At most one task per worker
thread is in flight (:func:`run_tasks`). A worker that dies mid-job is started
again by its nanny and the job is retried. Keras/TensorFlow memory grows with
every model a process builds and fits (tensorflow#43702, keras#17458): after a
job whose worker ends above ``max_worker_memory`` of resident memory, that
worker is restarted (a fresh process) before it gets the next job.

Starting a ``LocalCluster`` spawns processes that re-import the main module:
from a script, put the sweep under ``if __name__ == "__main__":``; from a
heredoc or standard input it cannot work (save the code to a file). Notebooks
and ``python -m voxlib.run`` work as they are.
"""
from __future__ import annotations

import collections
import contextlib
import importlib.util
import logging
import os
import time
import warnings

from tqdm.auto import tqdm

from voxlib._heavy import distributed, tf

__all__ = [
    "ClusterError",
    "DEFAULT_MAX_WORKER_MEMORY",
    "check_scheduler",
    "connect",
    "run_tasks",
    "worker_info",
    "limit_threads",
]

#: Resident memory (bytes) above which a worker is restarted after a job; ``None`` never restarts.
DEFAULT_MAX_WORKER_MEMORY = 3 * 2 ** 30


class ClusterError(ConnectionError):
    """No Dask cluster to run on: the address did not answer, or a local cluster did not start."""


_GUARD_HINT = ("Worker processes start by spawn and re-import the main module: in a script, put the sweep under "
               "`if __name__ == \"__main__\":`; code from a heredoc or standard input cannot start them (save it "
               "to a file), notebooks and `python -m voxlib.run` can.")


def check_scheduler(scheduler):
    """``scheduler`` if it is ``None``, ``"local"``, a scheduler address (``"tcp://host:8786"``,
    ``"host:8786"``) or a :class:`distributed.Client`; else a ValueError naming it."""
    if scheduler is None or scheduler == "local":
        return scheduler
    if isinstance(scheduler, str):
        address = scheduler.strip()
        host_port = address.split("://", 1)[-1]
        if address and ":" in host_port and host_port.rsplit(":", 1)[1].isdigit():
            return address
    elif type(scheduler).__name__ == "Client" and hasattr(scheduler, "submit"):
        return scheduler
    raise ValueError(f"scheduler={scheduler!r}; expected None (this process), 'local' (a LocalCluster on this "
                     "machine) or a Dask scheduler's address such as 'tcp://10.0.0.5:8786'")


def _check_workers(n_workers) -> int:
    n = (os.cpu_count() or 1) if n_workers is None else n_workers
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n_workers={n_workers!r}; expected a number of worker processes >= 1 (or None: one "
                         "per core)")
    return n


@contextlib.contextmanager
def connect(scheduler, *, n_workers: int | None = None, timeout: float = 5.0, progress: bool = False):
    """A :class:`distributed.Client` for ``scheduler`` (see :func:`check_scheduler`), closed on exit.

    Parameters
    ----------
    scheduler : "local", address or Client
    n_workers : int or None
        Worker processes of a ``"local"`` cluster (one thread each); ``None``: one per core.
    timeout : float
        Seconds to wait for an address to answer.
    progress : bool
        Print the dashboard's link (when ``bokeh`` is installed).

    Raises
    ------
    ClusterError
        Naming the address that did not answer, or why the local cluster did not start.
    """
    scheduler = check_scheduler(scheduler)
    if scheduler is None:
        raise ValueError("connect(None): scheduler=None runs in this process, there is nothing to connect to")
    if not isinstance(scheduler, str):
        yield scheduler
        return
    dashboard = importlib.util.find_spec("bokeh") is not None
    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            n = _check_workers(n_workers)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # "Port 8787 is already in use"
                    local = distributed.LocalCluster(
                        n_workers=n, threads_per_worker=1, processes=True, silence_logs=logging.ERROR,
                        dashboard_address=":0" if dashboard else None)
            except Exception as exc:  # noqa: BLE001 - Dask raises several types here
                raise ClusterError(f"scheduler='local': the LocalCluster of {n} workers did not start ({exc}). "
                                   f"{_GUARD_HINT}") from exc
            stack.enter_context(local)
            client = stack.enter_context(distributed.Client(local))
        else:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout=timeout))
            except (OSError, TimeoutError) as exc:
                raise ClusterError(
                    f"scheduler={scheduler!r}: no Dask scheduler answered there within {timeout:g} s ({exc}). "
                    "Start one (`dask scheduler`, then `dask worker <address>` on each machine) and pass its "
                    "address, or use scheduler='local' for this machine") from exc
        if progress and dashboard:
            tqdm.write(f"Dask dashboard: {client.dashboard_link}")
        yield client


def _threads(client) -> int:
    return sum(client.nthreads().values())


def _memory_limit(value):
    if value is None:
        return None
    if isinstance(value, str):
        from dask.utils import parse_bytes  # dask is there whenever distributed is
        value = parse_bytes(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"max_worker_memory={value!r}; expected bytes > 0, a size such as '3GiB', or None "
                         "(never restart a worker)")
    return int(value)


def run_tasks(client, fn, payloads, *, max_worker_memory=DEFAULT_MAX_WORKER_MEMORY, retries: int = 2,
              progress: bool = True, desc: str = "sweep on dask", label=None, wait_for_workers: float = 60.0):
    """Run ``fn(payload)`` for every payload on ``client``'s workers; yield ``(index, result)``
    as each finishes.

    At most one task per worker thread is in flight, so a sweep stopped or killed
    loses only those. A task whose worker dies is rescheduled by Dask and, on
    failure, retried ``retries`` times; an exception it still raises is raised here
    (results already yielded are kept by the caller).

    Parameters
    ----------
    client : distributed.Client
    fn : callable
        A module-level function (pickled by reference; the workers import it).
        Its result must be a dict; when it has ``worker`` and ``rss`` (see
        :func:`worker_info`), the worker is restarted after a result with ``rss``
        above ``max_worker_memory``.
    payloads : sequence
    max_worker_memory : int, str or None
        Bytes or a size (``"3GiB"``); ``None`` never restarts.
    label : callable, optional
        ``label(payload)`` shown on the progress bar.
    wait_for_workers : float
        Seconds to wait for a first worker to join.
    """
    limit = _memory_limit(max_worker_memory)
    if _threads(client) == 0:
        client.wait_for_workers(1, timeout=wait_for_workers)
    todo = collections.deque(range(len(payloads)))
    running: dict = {}
    done = distributed.as_completed()
    tag = f"{time.time_ns():x}"
    restarts_work = True

    def fill():
        while todo and len(running) < max(1, _threads(client)):
            i = todo.popleft()
            fut = client.submit(fn, payloads[i], key=f"voxlib-job-{i}-{tag}", pure=False, retries=retries)
            running[fut] = i
            done.add(fut)

    bar = tqdm(total=len(payloads), desc=desc, unit="job", disable=not progress)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*large graph.*")  # images travel with their task
        try:
            fill()
            for fut in done:
                i = running.pop(fut)
                result = fut.result()
                fut.release()
                if label is not None:
                    bar.set_postfix_str(str(label(payloads[i])), refresh=False)
                bar.update(1)
                yield i, result
                worker = result.get("worker") if isinstance(result, dict) else None
                if restarts_work and limit is not None and worker and result.get("rss", 0) > limit:
                    try:
                        client.restart_workers([worker], timeout=120)
                    except Exception as exc:  # noqa: BLE001 - a worker without a nanny cannot be restarted
                        restarts_work = False
                        warnings.warn(f"worker {worker} could not be restarted ({exc}); its memory is no longer "
                                      "bounded (start workers with a nanny, the default of `dask worker`)")
                fill()
        finally:
            for fut in running:
                fut.cancel()
            bar.close()


def worker_info() -> dict:
    """``worker`` (this Dask worker's address, ``""`` outside one), ``pid``, ``rss`` (resident bytes)."""
    import psutil  # a dependency of distributed
    try:
        address = distributed.get_worker().address
    except ValueError:
        address = ""
    return {"worker": address, "pid": os.getpid(), "rss": int(psutil.Process().memory_info().rss)}


def limit_threads() -> int | None:
    """On a Dask worker, make TensorFlow use as many threads as the worker has (one
    for a ``"local"`` cluster) instead of every core; returns that number, or
    ``None`` outside a worker. Has effect before TensorFlow's first computation in
    the process (later calls leave it as set)."""
    try:
        worker = distributed.get_worker()
    except ValueError:
        return None
    n = int(getattr(worker.state, "nthreads", 1)) if hasattr(worker, "state") else int(worker.nthreads)
    with contextlib.suppress(RuntimeError):  # already initialised: it was set by this worker's first job
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    return n
