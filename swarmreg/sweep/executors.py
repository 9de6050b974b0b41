"""Where a sweep's runs execute: in this process, in worker processes, or on a Dask cluster.

Every executor has one method a sweep needs::

    for result in executor.map_unordered(fn, items, label=str):
        ...                       # results in the order they finish

``items`` is consumed lazily (a few per worker at a time), so a sweep of
millions of runs never lists them.  Each executor runs ``fn`` with BLAS held
to one thread (several runs at once would otherwise fight over the cores,
and the same settings everywhere keep records identical across executors).

A run whose worker dies (killed by the out-of-memory killer, a crash) is run
again on a fresh worker, once (:data:`RESUBMIT`); when it kills its worker
again, :class:`WorkerLost` is raised.  :func:`open_executor` builds the
executor the command line, the report and the benchmark ask for.

Workers never outlive the sweep: :meth:`close` (or leaving a ``with`` block,
also on Ctrl-C) stops them; a worker process whose parent died — even by
SIGKILL — exits by itself within a second; workers ignore Ctrl-C, which is
the parent's to handle.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from typing import Callable, Iterable, Iterator, Protocol

from .. import checks
from ..errors import ExecutorLost, WorkerLost

__all__ = ["check_jobs", "Executor", "SerialExecutor", "ProcessExecutor", "DaskExecutor", "FuturesExecutor", "open_executor",
           "as_executor", "WorkerLost", "ExecutorLost", "RESUBMIT", "CONNECT_TIMEOUT"]

#: How many times a run is run again after its worker died.
RESUBMIT = 1
#: Seconds to wait for a Dask scheduler to answer before giving up, by default and at most.
CONNECT_TIMEOUT = 3.0
MAX_CONNECT_TIMEOUT = 3600.0


def check_jobs(jobs, name: str = "jobs") -> int:
    """A count of workers: an integer >= 1 (the one check of it)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {jobs!r}")
    return jobs


class Executor(Protocol):
    """What a sweep needs of an executor."""

    #: How many runs execute at once (None: not known, e.g. a remote cluster).
    workers: int | None
    #: True when the runs execute on this machine (their memory is this machine's).
    local: bool

    def map_unordered(self, fn: Callable, items: Iterable, label: Callable = str) -> Iterator: ...

    def close(self) -> None: ...


class _Closing:
    """``with executor: ...`` closes it."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _pin_blas() -> None:
    """Hold BLAS, and every computation of swarmreg's, to one thread in this worker process."""
    from threadpoolctl import threadpool_limits

    from ..backend import ENV_THREADS, load_blas

    os.environ[ENV_THREADS] = "1"
    load_blas()   # scipy's BLAS too, which a worker would otherwise load later, with a thread per core
    threadpool_limits(1)


class _SigintImmune:
    """Start spawned processes that ignore Ctrl-C from their first instruction.

    :meth:`spawning` has multiprocessing start its processes through a two-line
    shell wrapper of the interpreter that ignores SIGINT and execs it: an ignored
    signal stays ignored across exec, and Python then leaves it so.  This
    process's own Ctrl-C is untouched (it stops the sweep).  The wrapper lives
    until :meth:`remove` (a process may exec it after ``start`` returned).  Where
    it cannot run (a temporary folder mounted noexec), this process ignores
    Ctrl-C while the processes start instead.
    """

    def __init__(self):
        import multiprocessing.spawn as mp_spawn
        import shlex
        import subprocess
        import tempfile

        self._spawn = mp_spawn
        self.real = mp_spawn.get_executable()
        self.folder = tempfile.mkdtemp(prefix="swarmreg-")
        self.path = os.path.join(self.folder, "python")
        try:
            with open(self.path, "w") as f:
                f.write(f"#!/bin/sh\ntrap '' INT\nexec {shlex.quote(os.fsdecode(self.real))} \"$@\"\n")
            os.chmod(self.path, 0o700)
            self.works = subprocess.run([self.path, "-c", "pass"], capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.SubprocessError):
            self.works = False

    @contextlib.contextmanager
    def spawning(self):
        """Inside, spawned processes ignore Ctrl-C; this thread's own Ctrl-C is held back until the
        end (so that what is being started is complete, and can be stopped, when it arrives)."""
        if self.works:
            self._spawn.set_executable(self.path)
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                yield
            finally:
                self._spawn.set_executable(self.real)
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            return
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            yield
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


# ------------------------------------------------------------------ serial
class SerialExecutor(_Closing):
    """Every run in this process, one after the other."""

    workers = 1
    local = True

    def map_unordered(self, fn, items, label=str):
        from threadpoolctl import threadpool_limits

        for item in items:
            try:
                with threadpool_limits(1):
                    result = fn(item)
            except Exception as exc:
                exc.add_note(f"in run {label(item)}")
                raise
            yield result

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "SerialExecutor()"


# ------------------------------------------------------------------ processes
def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.2)
        if os.getppid() != parent:
            os._exit(1)


def _die_with_parent(parent: int, pdeathsig: bool) -> None:
    """Exit when the parent process dies: at once through Linux's PR_SET_PDEATHSIG
    when asked, and through a thread that polls the parent's pid everywhere."""
    if pdeathsig:
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # died before we got here
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="swarmreg-parent-watch").start()


def _worker_main(conn, parent: int, pdeathsig: bool) -> None:
    """A worker process: receive (fn, item), send back ("ok", result) or ("error", exception, traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent(parent, pdeathsig)
    _pin_blas()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent closed the pipe or died
            return
        if message is None:  # asked to stop: end now, without the interpreter's slow teardown
            try:
                for stream in (sys.stdout, sys.stderr):
                    if stream is not None:
                        with contextlib.suppress(Exception):
                            stream.flush()
                with contextlib.suppress(Exception):
                    conn.close()
            finally:
                os._exit(0)
        fn, item = message
        try:
            reply = ("ok", fn(item), None)
        except BaseException as exc:  # sent to the parent, which raises it
            reply = ("error", exc, traceback.format_exc())
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # the result or the exception cannot be sent: say so, in what can be
            what = "its result" if reply[0] == "ok" else f"its {type(reply[1]).__name__}: {reply[1]}"
            conn.send(("error", RuntimeError(f"the run finished but {what} could not be sent back from the "
                                             f"worker ({type(exc).__name__}: {exc})"), reply[2]))


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(self, context, immune: _SigintImmune):
        parent_end, child_end = context.Pipe()
        main = threading.current_thread() is threading.main_thread()
        # PR_SET_PDEATHSIG fires when the starting THREAD ends: only use it from the main thread
        self.process = context.Process(target=_worker_main, args=(child_end, os.getpid(), main), daemon=True,
                                       name="swarmreg-worker")
        try:
            with immune.spawning():
                self.process.start()
        except BaseException:  # Ctrl-C during the start: no orphan is left
            if self.process.pid is not None:
                self.process.kill()
                self.process.join(5)
            raise
        finally:
            child_end.close()
        self.conn = parent_end
        self.asked = False

    def died(self) -> str:
        """How the process ended, in words."""
        self.process.join(1)
        code = self.process.exitcode
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            return f"killed by {name}" + (" — out of memory?" if code == -signal.SIGKILL else "")
        return f"exit status {code}"

    def ask_to_stop(self) -> None:
        """Tell the worker to finish after its current run (once)."""
        if not self.asked:
            self.asked = True
            with contextlib.suppress(OSError):
                self.conn.send(None)

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the worker to finish; terminate, then kill, what does not."""
        self.ask_to_stop()
        self.process.join(timeout)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


class ProcessExecutor(_Closing):
    """Runs in ``jobs`` worker processes (started with "spawn", on demand, and reused).

    A run whose worker dies runs again on a new worker, once; raising in a run
    raises the same exception here (with the worker's traceback as a note).
    """

    local = True

    def __init__(self, jobs: int):
        import multiprocessing

        self.workers = check_jobs(jobs)
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._immune = None

    def __repr__(self) -> str:
        return f"ProcessExecutor(jobs={self.workers})"

    def _worker(self) -> _Worker:
        if self._idle:
            return self._idle.pop()
        if self._immune is None:
            self._immune = _SigintImmune()
        w = _Worker(self._context, self._immune)
        self._all.append(w)
        return w

    def _drop(self, w: _Worker) -> None:
        w.kill()
        self._all.remove(w)

    def _send(self, fn, item) -> _Worker:
        """Hand ``item`` to an idle (or a new) worker; a worker that died while idle is replaced."""
        while True:
            w = self._worker()
            try:
                w.conn.send((fn, item))
                return w
            except OSError:
                self._drop(w)

    def map_unordered(self, fn, items, label=str):
        from multiprocessing.connection import wait

        items = iter(items)
        again: deque = deque()   # (item, tries) of runs whose worker died
        busy: dict = {}          # worker -> (item, tries)
        ended = False
        try:
            while True:
                while len(busy) < self.workers:
                    if again:
                        job = again.popleft()
                    elif not ended:
                        try:
                            job = (next(items), 0)
                        except StopIteration:
                            ended = True
                            continue
                    else:
                        break
                    busy[self._send(fn, job[0])] = job
                if not busy:
                    return
                ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
                for w in [w for w in busy if w.conn in ready or w.process.sentinel in ready]:
                    try:
                        reply = w.conn.recv() if w.conn.poll() else None
                    except (EOFError, OSError):
                        reply = None
                    except Exception as exc:  # a reply this process cannot rebuild (an odd exception type)
                        reply = ("error", RuntimeError(f"a worker's reply could not be read "
                                                       f"({type(exc).__name__}: {exc})"), "")
                    item, tries = busy.pop(w)
                    if reply is None:  # the worker died with the run
                        how = w.died()
                        self._drop(w)
                        if tries >= RESUBMIT:
                            raise WorkerLost(f"run {label(item)}: its worker process died {tries + 1} times "
                                             f"({how})")
                        again.append((item, tries + 1))
                        continue
                    if w.process.is_alive():
                        self._idle.append(w)
                    else:
                        self._drop(w)
                    status, value, where = reply
                    if status == "error":
                        value.add_note(f"in run {label(item)}")
                        value.add_note(f"in a worker process:\n{where}")
                        raise value
                    yield value
        finally:
            for w in list(busy):  # abandoned runs: stop their workers now
                self._drop(w)

    def close(self) -> None:
        """Stop every worker (finished ones are asked, busy ones terminated)."""
        for w in self._idle:  # every idle worker is asked first, so that they end side by side
            w.ask_to_stop()
        for w in list(self._all):
            w.stop(timeout=2.0 if w in self._idle else 0.0)
        self._all.clear()
        self._idle.clear()
        if self._immune is not None:
            self._immune.remove()
            self._immune = None


# ------------------------------------------------------------------ concurrent.futures
class FuturesExecutor(_Closing):
    """Any ``concurrent.futures.Executor`` a caller brings (it is not closed here; no resubmission).

    ``workers``: how many runs it executes at once, if known (it sets how many are submitted ahead).
    """

    local = True

    def __init__(self, pool: cf.Executor, workers: int | None = None):
        self.pool = pool
        self.workers = workers

    def map_unordered(self, fn, items, label=str):
        window = 2 * (self.workers or os.cpu_count() or 1)
        items = iter(items)
        pending = set()
        try:
            for item in items:
                pending.add(self.pool.submit(_pinned_call, fn, item))
                if len(pending) >= window:
                    done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        yield fut.result()
            for fut in cf.as_completed(pending):
                pending.discard(fut)
                yield fut.result()
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        pass


_PINNED = False


def _pinned_call(fn, item):
    """``fn(item)`` with BLAS held to one thread in this (worker) process, pinned once."""
    global _PINNED
    if not _PINNED:
        _pin_blas()
        _PINNED = True
    return fn(item)


# ------------------------------------------------------------------ Dask
_END = object()


@contextlib.contextmanager
def _quiet_dask_logs():
    """distributed logs every reconnection attempt and every worker it stops, with tracebacks; while a
    sweep runs (or stops) the sweep itself says, in one line, what went wrong."""
    import logging

    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("distributed", "tornado", "asyncio")]
    quiet = [logging.getLogger(n) for n in {"distributed", "tornado", "asyncio", *names}]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for log, level in zip(quiet, levels):
            log.setLevel(level)


def _dask_errors():
    from distributed import KilledWorker

    class DaskWorkerLost(WorkerLost, KilledWorker):
        """A run killed its Dask worker more than RESUBMIT + 1 times (also a distributed.KilledWorker)."""

        def __init__(self, message):
            RuntimeError.__init__(self, message)

        def __str__(self):
            return self.args[0]

    return KilledWorker, DaskWorkerLost


def _connect(Client, scheduler: str, timeout: float):
    """A Client of ``scheduler``, or a ValueError after ``timeout`` seconds.

    distributed's own timeout does not cover a peer that accepts the connection and
    never answers, so the connection is made in a daemon thread this one stops waiting for.
    """
    box = {}

    def connect():
        try:
            box["client"] = Client(scheduler, timeout=timeout)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=connect, daemon=True, name="swarmreg-dask-connect")
    thread.start()
    thread.join(timeout + 1.0)
    if "client" in box:
        return box["client"]
    exc = box.get("error")
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        raise exc
    if exc is None or isinstance(exc, TimeoutError) or "Timed out" in str(exc):
        raise ValueError(f"--scheduler {scheduler}: no Dask scheduler answered within {timeout:g} s")
    # anything else a peer or an address can cause (a refusal, a service that is not Dask, a malformed
    # address) is what the user asked for, in one line
    why = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
    raise ValueError(f"--scheduler {scheduler}: cannot use it as a Dask scheduler ({type(exc).__name__}: {why})")


class DaskExecutor(_Closing):
    """Runs as tasks of a Dask cluster: an existing ``distributed.Client``, a scheduler's
    address, or a local cluster of ``workers`` single-threaded worker processes.

    Parameters
    ----------
    client : distributed.Client, optional
        Used as it is (and not closed here).
    scheduler : str, optional
        Address of a running scheduler, e.g. "tcp://10.0.0.5:8786".
    workers : int, optional
        Start a local cluster with this many worker processes.
    connect_timeout : float
        Seconds to wait for the scheduler before a ValueError.
    """

    def __init__(self, client=None, scheduler: str | None = None, workers: int | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("Dask is not installed: pip install 'swarmreg[dask]'") from None
        self._cluster = None
        self._own = client is None
        self.local = False
        if client is not None:
            self.client = client
        elif scheduler is not None:
            timeout = checks.real("connect_timeout", connect_timeout, positive=True)
            if timeout > MAX_CONNECT_TIMEOUT:
                raise ValueError(f"connect_timeout must be at most {MAX_CONNECT_TIMEOUT:g} s, got {timeout!r}")
            self.client = _connect(Client, scheduler, timeout)
        else:
            workers = check_jobs(workers, "dask_workers")
            import logging

            self.client = None
            self._immune = _SigintImmune()
            # silence_logs: the workers' own logs, whose heartbeats print a traceback when Ctrl-C closes
            # their connections; a failed run reaches the sweep through its future and is said in one line
            try:  # Ctrl-C while the cluster starts: close what was started
                with self._immune.spawning(), _quiet_dask_logs():
                    self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                 host="127.0.0.1", dashboard_address=None,
                                                 silence_logs=logging.CRITICAL)
                self.client = Client(self._cluster)
            except BaseException:
                self.close()
                raise
            self.local = True
        self.address = getattr(self.client.scheduler, "address", str(scheduler))

    @property
    def workers(self) -> int | None:
        try:
            return len(self.client.scheduler_info()["workers"]) or None
        except Exception:  # noqa: BLE001 - a cluster that cannot say
            return None

    def map_unordered(self, fn, items, label=str):
        from distributed import as_completed

        KilledWorker, DaskWorkerLost = _dask_errors()
        task = functools.partial(_pinned_call, fn)
        window = 2 * (self.workers or 2)
        items = iter(items)
        futures: dict = {}
        arrivals = as_completed()

        def submit(item, tries):  # pure=False: a resubmitted run gets a fresh task key
            fut = self.client.submit(task, item, pure=False)
            futures[fut] = (item, tries)
            arrivals.add(fut)

        with _quiet_dask_logs():
            try:
                for item in items:
                    submit(item, 0)
                    if len(futures) >= window:
                        break
                for fut in arrivals:
                    item, tries = futures.pop(fut)
                    try:
                        result = fut.result()
                    except KilledWorker:
                        if tries >= RESUBMIT:
                            raise DaskWorkerLost(f"run {label(item)}: its Dask worker died {tries + 1} times") \
                                from None
                        submit(item, tries + 1)
                        continue
                    except (cf.CancelledError, OSError, TimeoutError) as exc:
                        raise ExecutorLost(f"the Dask scheduler at {self.address} went away "
                                           f"({type(exc).__name__})") from None
                    following = next(items, _END)
                    if following is not _END:
                        submit(following, 0)
                    yield result
            finally:
                for fut in futures:
                    fut.cancel()

    def close(self) -> None:
        with _quiet_dask_logs():
            if self._own and getattr(self, "client", None) is not None:
                with contextlib.suppress(Exception):
                    self.client.close()
            if self._cluster is not None:
                with contextlib.suppress(Exception):
                    self._cluster.close()
            if getattr(self, "_immune", None) is not None:
                self._immune.remove()

    def __repr__(self) -> str:
        return f"DaskExecutor({self.address})"


# ------------------------------------------------------------------ choosing one
def open_executor(jobs: int | None = None, scheduler: str | None = None, dask_workers: int | None = None,
                  connect_timeout: float | None = None) -> Executor:
    """The executor for a sweep: at most one of the three may be given.

    Parameters
    ----------
    jobs : int, optional
        Local worker processes; 1 runs in this process; default: one per core.
    scheduler : str, optional
        A running Dask scheduler's address.
    dask_workers : int, optional
        Start a local Dask cluster with this many workers.
    connect_timeout : float, optional
        Seconds to wait for ``scheduler`` (default :data:`CONNECT_TIMEOUT`).
    """
    given = [n for n, v in (("jobs", jobs), ("scheduler", scheduler), ("dask_workers", dask_workers))
             if v is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one of jobs, scheduler and dask_workers, got {', '.join(given)}")
    if connect_timeout is not None and scheduler is None:
        raise ValueError("connect_timeout applies only with a scheduler")
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise ValueError(f"scheduler must be an address such as tcp://HOST:8786, got {scheduler!r}")
        return DaskExecutor(scheduler=scheduler, connect_timeout=CONNECT_TIMEOUT if connect_timeout is None
                            else connect_timeout)
    if dask_workers is not None:
        return DaskExecutor(workers=check_jobs(dask_workers, "dask_workers"))
    jobs = check_jobs((os.cpu_count() or 1) if jobs is None else jobs)
    return SerialExecutor() if jobs == 1 else ProcessExecutor(jobs)


def as_executor(executor) -> Executor:
    """An :class:`Executor` for what a caller passes: None (serial), an executor, a
    ``distributed.Client`` or a ``concurrent.futures.Executor``."""
    if executor is None:
        return SerialExecutor()
    if callable(getattr(executor, "map_unordered", None)):
        return executor
    if isinstance(executor, cf.Executor):
        return FuturesExecutor(executor)
    with contextlib.suppress(ImportError):
        from distributed import Client

        if isinstance(executor, Client):
            return DaskExecutor(client=executor)
    raise ValueError(f"executor must be None, a swarmreg executor, a concurrent.futures.Executor or a "
                     f"distributed.Client, got {type(executor).__name__}")
