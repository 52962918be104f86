"""The sweep's jobs on a Dask cluster (notebook 02's ``scheduler`` parameter).

:func:`voxlib.transfer.run_sweep` cuts a sweep into jobs, one per (network,
transform). With ``scheduler=None`` it runs them one after the other in its
own process. Otherwise this module runs them as Dask tasks:

* ``scheduler="local"`` starts a :class:`distributed.LocalCluster` on this
  machine: ``n_workers`` worker processes, each running one job at a time.
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
thread is in flight (:func:`run_tasks`), each pinned to a worker chosen here. A
worker that dies mid-job is started again by its nanny and the job is retried.
How many threads TensorFlow uses inside a job is the sweep's ``threads``
(:func:`voxlib.devices.set_threads`), the same as in-process.

The restart policy: Keras/TensorFlow memory grows with every model a process
builds and fits (tensorflow#43702, keras#17458), so a worker whose job ends above
``max_worker_memory`` of resident memory gets no further job until it has been
restarted (a fresh process, by its nanny) and its replacement has joined
(:func:`restart_worker`; a cluster manager of this process that lost the worker,
such as a ``LocalCluster``, is asked to start one again). That wait is bounded by
``restart_timeout`` (default :data:`DEFAULT_RESTART_TIMEOUT`, generous for a busy
machine); when no replacement comes, or a worker has no nanny, a
:class:`ClusterError` names the timeout and the fixes. The bound never lapses
silently.

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

from voxlib._heavy import distributed

__all__ = [
    "ClusterError",
    "DEFAULT_MAX_WORKER_MEMORY",
    "check_scheduler",
    "connect",
    "run_tasks",
    "restart_worker",
    "worker_info",
    "DEFAULT_RESTART_TIMEOUT",
]

#: Resident memory (bytes) above which a worker is restarted after a job; ``None`` never restarts.
DEFAULT_MAX_WORKER_MEMORY = 3 * 2 ** 30
#: Seconds to wait for a restarted worker's replacement to join. One joins in 1-3 s here, also
#: beside a CPU-bound process; the 120 s that Dask's own restart once waited in vain (issue 24) were
#: two Dask races, not a slow start (see :func:`_nanny_restart` and :data:`_LOCAL_CONFIG`).
DEFAULT_RESTART_TIMEOUT = 300.0


class ClusterError(ConnectionError):
    """No Dask cluster to run on: the address did not answer, a local cluster did not start, or a
    worker to restart has no nanny or no replacement."""


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


def _check_workers(n_workers, job_threads: int = 1) -> int:
    n = max(1, (os.cpu_count() or 1) // job_threads) if n_workers is None else n_workers
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n_workers={n_workers!r}; expected a number of worker processes >= 1 (or None: one "
                         "per core, or per `threads` cores)")
    return n


@contextlib.contextmanager
def connect(scheduler, *, n_workers: int | None = None, timeout: float = 5.0, progress: bool = False,
            job_threads: int = 1):
    """A :class:`distributed.Client` for ``scheduler`` (see :func:`check_scheduler`), closed on exit.

    Parameters
    ----------
    scheduler : "local", address or Client
    n_workers : int or None
        Worker processes of a ``"local"`` cluster, each running one job at a time; ``None``:
        one per ``job_threads`` cores (at least one).
    timeout : float
        Seconds to wait for an address to answer.
    progress : bool
        Print the dashboard's link (when ``bokeh`` is installed).
    job_threads : int
        The threads each job's TensorFlow uses (the sweep's ``threads``); only sets the
        default ``n_workers``.

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
            n = _check_workers(n_workers, job_threads)
            import dask.config  # dask is there whenever distributed is
            stack.enter_context(dask.config.set(_LOCAL_CONFIG))
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


def _check_restart_timeout(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"restart_timeout={value!r}; expected seconds > 0 to wait for a restarted worker's "
                         "replacement")
    return float(value)


_NO_RESTART_FIX = ("or pass max_worker_memory=None to never restart workers (their memory then grows with "
                   "every model they fit)")


def _require_nannies(client, limit) -> None:
    """Before any job: with a memory limit, every worker must have a nanny to restart it."""
    if limit is None:
        return
    workers = client.scheduler_info()["workers"]
    bare = sorted(a for a, meta in workers.items() if not meta.get("nanny"))
    if bare:
        raise ClusterError(f"max_worker_memory={limit} restarts a worker whose memory ends a job above it, but "
                           f"worker(s) {', '.join(bare)} have no nanny to restart them: start workers with a "
                           f"nanny (the default of `dask worker`, without --no-nanny), {_NO_RESTART_FIX}")


def _worker_pids(client) -> dict:
    """``{address: pid}`` of the workers that answer now (a worker shutting down does not)."""
    answers = client.run(os.getpid, on_error="return")
    return {a: p for a, p in answers.items() if isinstance(p, int)}


#: Seconds without a replacement after which a cluster manager of this process is asked to start one.
_START_ONE_AFTER = 10.0
#: Dask's SpecCluster (LocalCluster) closes a worker's nanny for good when, ``lost-worker-timeout``
#: after a worker left, no worker of its name is there: a restart in progress at that moment (jobs
#: shorter than that timeout) loses the worker. The local clusters started here never do that.
_LOCAL_CONFIG = {"distributed.deploy.lost-worker-timeout": "365 days"}


def _start_missing_workers(client) -> bool:
    """Start a worker again where a cluster manager of this process (``client.cluster``, a
    LocalCluster or another SpecCluster) closed one its spec still lists; False if there is none."""
    manager = getattr(client, "cluster", None)
    spec = getattr(manager, "worker_spec", None)
    if not isinstance(spec, dict) or not callable(getattr(manager, "scale", None)):
        return False
    manager.scale(len(spec))  # the same size: only re-creates the workers it lost
    return True


def _nanny_restart(client, worker: str, timeout: float) -> str:
    """Have ``worker``'s nanny replace its process; ``"OK"``, ``"timed out"`` (it did not end
    within ``timeout``; Dask then removes it) or ``"gone"`` (no longer in the cluster).

    This is Dask's own restart (``Client.restart_workers``) without its wait for the
    cluster's worker count to return: that count can include a worker that has already
    ended but is not yet removed, and then the wait lasts its whole timeout for a worker
    that never comes (issue 24's "did not come back within 120 s", seen even on an idle
    machine). :func:`restart_worker` waits for the replacement itself."""
    out = client.sync(client.scheduler.restart_workers, workers=[worker], timeout=timeout,
                      wait_for_workers=False, on_error="return", stimulus_id=f"voxlib-restart-{time.time()}")
    return out.get(worker, "gone")


def restart_worker(client, worker: str, pid: int, *, timeout: float = DEFAULT_RESTART_TIMEOUT,
                   why: str = "") -> None:
    """Restart ``worker`` (a fresh process, through its nanny) and wait until its replacement
    has joined: as many workers answer as before, none of them ``worker`` with ``pid``. After
    10 s without one, a cluster manager of this process that lost the worker (a LocalCluster)
    is asked to start one again.

    Parameters
    ----------
    client : distributed.Client
    worker : str
        The worker's address.
    pid : int
        Its process id now (the process that must end).
    timeout : float
        Seconds for the old process to end and the replacement to join.
    why : str
        Why it is restarted, for the error message.

    Raises
    ------
    ClusterError
        The worker has no nanny, did not shut down, or no replacement joined within
        ``timeout``; the message names the timeout and the fixes.
    """
    deadline = time.monotonic() + timeout
    meta = client.scheduler_info()["workers"].get(worker)
    if meta is not None and not meta.get("nanny"):
        raise ClusterError(f"worker {worker} {why} cannot be restarted: it has no nanny. Start workers with a "
                           f"nanny (the default of `dask worker`, without --no-nanny), {_NO_RESTART_FIX}")
    expected = len(_worker_pids(client))  # the workers that answer: one that has ended does not
    status = _nanny_restart(client, worker, timeout)
    fix = (f"Pass a longer restart_timeout (run_sweep's parameter; {timeout:g} s now) if the machine is busy, "
           f"{_NO_RESTART_FIX}")
    if status == "timed out":
        raise ClusterError(f"worker {worker} {why} was told to restart but did not shut down within "
                           f"restart_timeout={timeout:g} s (Dask removed it from the cluster). {fix}")
    started = time.monotonic()
    while True:
        alive = _worker_pids(client)
        if len(alive) >= expected and alive.get(worker) != pid:
            return
        if time.monotonic() - started > _START_ONE_AFTER:  # still none: have the cluster manager start one
            started = time.monotonic() if _start_missing_workers(client) else float("inf")
        if time.monotonic() > deadline:
            raise ClusterError(f"worker {worker} {why} was restarted, but no replacement joined the cluster "
                               f"within restart_timeout={timeout:g} s ({len(alive)} of {expected} workers "
                               f"answer). {fix}")
        time.sleep(0.2)


class _Dispatch:
    """Which worker runs which task. Each task is pinned to a worker with a free thread
    (``workers=[address]``; it moves elsewhere only if that worker leaves), so a worker
    waiting for its restart is never handed a job, whatever the order results arrive in."""

    def __init__(self, client, fn, payloads, *, retries: int):
        self.client, self.fn, self.payloads, self.retries = client, fn, payloads, retries
        self.todo = collections.deque(range(len(payloads)))
        self.running: dict = {}  # future -> (payload index, worker it was pinned to)
        self.done = distributed.as_completed()
        self.tag = f"{time.time_ns():x}"
        self.held: dict = {}  # worker -> (pid, why): ended above the memory limit, waits for its restart

    def busy(self) -> collections.Counter:
        return collections.Counter(worker for _, worker in self.running.values())

    def fill(self) -> None:
        """Submit tasks to every free thread of the workers not held for a restart."""
        busy = self.busy()
        for worker, n in sorted(self.client.nthreads().items()):
            while self.todo and worker not in self.held and busy[worker] < n:
                i = self.todo.popleft()
                fut = self.client.submit(self.fn, self.payloads[i], key=f"voxlib-job-{i}-{self.tag}", pure=False,
                                         retries=self.retries, workers=[worker], allow_other_workers=True)
                self.running[fut] = (i, worker)
                busy[worker] += 1
                self.done.add(fut)

    def refill(self, limit, restart_timeout: float, result=None) -> None:
        """After ``result``: hold its worker if it ended above ``limit``, restart the held
        workers that have no task left, then hand out tasks (waiting for a worker if none is left)."""
        if limit is not None and isinstance(result, dict) and result.get("worker") and result.get("rss", 0) > limit:
            self.held[result["worker"]] = (result.get("pid"), f"(its memory ended a job at {result['rss']} bytes, "
                                                              f"above max_worker_memory={limit})")
        busy = self.busy()
        for worker in [w for w in self.held if not busy[w]]:
            pid, why = self.held.pop(worker)
            restart_worker(self.client, worker, pid, timeout=restart_timeout, why=why)
        self.fill()
        if self.todo and not self.running:  # no worker to give a task to: wait for one
            _wait_for_any(self.client, restart_timeout)
            self.fill()
            if not self.running:
                raise ClusterError("no Dask worker takes the sweep's tasks (every worker left the cluster)")

    def cancel(self) -> None:
        for fut in self.running:
            fut.cancel()


def run_tasks(client, fn, payloads, *, max_worker_memory=DEFAULT_MAX_WORKER_MEMORY, retries: int = 2,
              progress: bool = True, desc: str = "sweep on dask", label=None, wait_for_workers: float = 60.0,
              restart_timeout: float = DEFAULT_RESTART_TIMEOUT):
    """Run ``fn(payload)`` for every payload on ``client``'s workers; yield ``(index, result)``
    as each finishes.

    At most one task per worker thread is in flight, so a sweep stopped or killed
    loses only those. A task whose worker dies is rescheduled by Dask and, on
    failure, retried ``retries`` times; an exception it still raises is raised here
    (results already yielded are kept by the caller).

    The restart policy: a worker whose result reports a resident memory above
    ``max_worker_memory`` gets no further task; once its tasks in flight are done it is
    restarted (:func:`restart_worker`), and the next tasks are handed out only when
    its replacement has joined, or a :class:`ClusterError` says why none did within
    ``restart_timeout``. The memory bound never lapses silently.

    Parameters
    ----------
    client : distributed.Client
    fn : callable
        A module-level function (pickled by reference; the workers import it).
        Its result must be a dict; when it has ``worker``, ``pid`` and ``rss`` (see
        :func:`worker_info`), the restart policy applies.
    payloads : sequence
    max_worker_memory : int, str or None
        Bytes or a size (``"3GiB"``); ``None`` never restarts. With a limit, every
        worker must have a nanny (checked before the first task).
    label : callable, optional
        ``label(payload)`` shown on the progress bar.
    wait_for_workers : float
        Seconds to wait for a first worker to join.
    restart_timeout : float
        Seconds to wait for a restarted worker's replacement.

    Raises
    ------
    ClusterError
        A worker to restart has no nanny, or no replacement joined within ``restart_timeout``.
    """
    limit = _memory_limit(max_worker_memory)
    restart_timeout = _check_restart_timeout(restart_timeout)
    if not client.nthreads():
        _start_missing_workers(client)
        client.wait_for_workers(1, timeout=wait_for_workers)
    _require_nannies(client, limit)
    jobs = _Dispatch(client, fn, payloads, retries=retries)
    bar = tqdm(total=len(payloads), desc=desc, unit="job", disable=not progress)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*large graph.*")  # images travel with their task
        try:
            jobs.refill(limit, restart_timeout)
            for fut in jobs.done:
                i, _ = jobs.running.pop(fut)
                result = fut.result()
                fut.release()
                if label is not None:
                    bar.set_postfix_str(str(label(payloads[i])), refresh=False)
                bar.update(1)
                yield i, result
                jobs.refill(limit, restart_timeout, result)
        finally:
            jobs.cancel()
            bar.close()


def _wait_for_any(client, timeout: float) -> None:
    _start_missing_workers(client)
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as exc:
        raise ClusterError(f"no Dask worker left in the cluster, and none joined within restart_timeout="
                           f"{timeout:g} s; start workers (`dask worker <address>`) or pass a longer "
                           "restart_timeout") from exc


def worker_info() -> dict:
    """``worker`` (this Dask worker's address, ``""`` outside one), ``pid``, ``rss`` (resident bytes)."""
    import psutil  # a dependency of distributed
    try:
        address = distributed.get_worker().address
    except ValueError:
        address = ""
    return {"worker": address, "pid": os.getpid(), "rss": int(psutil.Process().memory_info().rss)}
