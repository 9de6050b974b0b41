"""λ sweeps: every trainer configuration × λ × seed × data set, reproducible,
resumable and parallel.

The pieces, one file each:

* :mod:`~swarmreg.sweep.spec` — a TOML spec checked into one frozen :class:`Spec`;
* :mod:`~swarmreg.sweep.meaning` — what λ means for a run (a penalty, a decay fraction, …);
* :mod:`~swarmreg.sweep.runs` — run ids and seeds, the problem of a run, one run trained into a record;
* :mod:`~swarmreg.sweep.store` — the results folder: ``results.jsonl`` read, checked and appended under a lock;
* :mod:`~swarmreg.sweep.executors` — serial, a process pool or Dask, behind one ``map_unordered``.

:func:`run_sweep` joins them: it appends the record of every run of a spec
that its folder does not hold yet, one whole fsynced line per run, so a sweep
killed at any moment resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from .. import checks
from .executors import (CONNECT_TIMEOUT, DaskExecutor, ExecutorLost, ProcessExecutor, SerialExecutor, WorkerLost,
                        as_executor, open_executor)
from .meaning import MEANINGS
from .runs import (HISTORY_ROWS, NEAR_ZERO, TRAINER_KINDS, build_problem, dataset, expand_runs, memory_estimate,
                   network_size, record_bytes, run_id, run_one, run_seed)
from .spec import MAX_GRID, Spec, TrainerSpec, load_spec, parse_spec
from .store import (ON_CHANGE, RESULTS_FILE, ResultsStore, Table, check_change, check_out, free_bytes, load_results,
                    read_records, records_table, scan)

__all__ = ["run_sweep", "execute_sweep", "SweepCounts", "Spec", "TrainerSpec", "load_spec", "parse_spec",
           "expand_runs", "run_one", "run_id", "run_seed", "build_problem", "load_results", "records_table", "Table",
           "read_records", "open_executor", "as_executor", "SerialExecutor", "ProcessExecutor", "DaskExecutor",
           "WorkerLost", "ExecutorLost", "RESULTS_FILE", "ON_CHANGE", "TRAINER_KINDS", "MEANINGS", "check_out",
           "HISTORY_ROWS", "NEAR_ZERO", "MAX_GRID", "CONNECT_TIMEOUT", "WORKER_BYTES"]


@dataclass(frozen=True)
class SweepCounts:
    """What :func:`execute_sweep` did: ``total`` runs in the spec, ``done_before`` of them
    already in the folder, ``ran`` now."""

    total: int
    done_before: int
    ran: int
    folder: Path


def _label(run: dict) -> str:
    t = run["trainer"]
    return f"{run['id']} ({run['dataset']}, {t['name']}, λ = {run['lam']:g}, seed {run['seed']})"


def _as_spec(spec) -> Spec:
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return load_spec(spec)
    return parse_spec(spec)


#: Memory a worker process takes before its first run (an interpreter with numpy, scipy and swarmreg; ~70 MB measured).
WORKER_BYTES = 100 * 2**20


def _check_room(spec: Spec, folder: Path, executor, pending: int) -> None:
    """Refuse in one line, before any file is made or changed, what cannot fit: one run, or the runs that
    execute at once, in this machine's memory (when they execute here), and the records on the folder's disk."""
    available = checks.available_memory() if getattr(executor, "local", False) else None
    workers = executor.workers or 1
    processes = workers if not isinstance(executor, SerialExecutor) else 0
    largest, where, per_record = 0, "", []
    for d in spec.datasets:
        ds = dataset(d, spec.seeds[0], spec.test_fraction, spec.validation_fraction)
        n_params = network_size(ds, spec.model)
        if available is not None and 9 * n_params > available:  # its parameters and weight mask, once
            raise ValueError(f"{spec.source}: the network on {d} has {n_params:,} parameters: one copy of them "
                             f"needs about {checks.format_bytes(9 * n_params)}, more than the "
                             f"{checks.format_bytes(available)} of memory this machine has available")
        for i, t in enumerate(spec.trainers):
            if available is not None:
                need = memory_estimate(ds, spec.model, t)
                if need > available:
                    raise ValueError(f"{spec.source}: trainers[{i}] ({t.name}) on {d}: one run needs about "
                                     f"{checks.format_bytes(need)}, more than the {checks.format_bytes(available)}"
                                     " of memory this machine has available")
                if need > largest:
                    largest, where = need, f"{t.name} on {d}"
            per_record.append(record_bytes(ds, spec.model, t))
    at_once = workers * largest + processes * WORKER_BYTES
    if available is not None and workers > 1 and at_once > available:
        raise ValueError(f"{spec.source}: {workers} runs at once on {executor!r} need about "
                         f"{checks.format_bytes(at_once)} ({checks.format_bytes(largest)} for the largest, {where}, "
                         f"and {checks.format_bytes(WORKER_BYTES)} a worker process), more than the "
                         f"{checks.format_bytes(available)} of memory available; use fewer workers")
    need = pending * sum(per_record) / len(per_record)
    free = free_bytes(folder)
    if need > free:
        raise ValueError(f"out {folder}: {pending} records need about {checks.format_bytes(need)} on disk, "
                         f"more than the {checks.format_bytes(free)} free there")


def _progress(total: int, initial: int, enabled: bool, name: str = "sweep"):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="run", desc=name, smoothing=0.1)


def execute_sweep(spec, out, executor=None, progress: bool = True, on_change: str = "refuse") -> SweepCounts:
    """Run every run of a spec that ``out`` does not hold yet and append its record to ``out/results.jsonl``.

    Parameters
    ----------
    spec : Spec, dict or path
        A :class:`Spec`, a TOML-shaped dict (checked with :func:`parse_spec`) or a TOML file.
    out : path
        Output folder (created).  Records already there are kept and their runs skipped.
    executor : None, Executor, concurrent.futures.Executor or distributed.Client
        None runs serially in this process (see :func:`open_executor`).  Only
        this process writes the results file.
    progress : bool
        Show a progress bar (runs done, total, time left).
    on_change : {"refuse", "add", "restart"}
        What to do when ``out`` holds records of another spec (see
        :class:`~swarmreg.sweep.store.ResultsStore`).

    Returns
    -------
    SweepCounts
    """
    spec = _as_spec(spec)
    out = check_out(out)
    executor = as_executor(executor)
    found = scan(out / RESULTS_FILE)  # read only: every refusal comes before a file is made or changed
    check_change(out, found, spec.hash, on_change)
    own = set() if on_change == "restart" else found.ids.get(spec.hash, set())
    _check_room(spec, out, executor, spec.n_runs - len(own))
    with ResultsStore(out, spec.hash, on_change) as store:
        done_before = len(store.this_spec)
        bar = _progress(spec.n_runs, done_before, progress, spec.name)

        def pending():
            for run in expand_runs(spec):
                if run["id"] not in store.done:
                    yield run
                elif run["id"] not in store.this_spec:  # done by another spec's record (--add)
                    bar.update(1)

        ran = 0
        try:
            with contextlib.closing(executor.map_unordered(run_one, pending(), label=_label)) as results:
                for record in results:
                    record["spec_hash"] = spec.hash
                    store.append(record)
                    ran += 1
                    bar.update(1)
        finally:
            bar.close()
    return SweepCounts(total=spec.n_runs, done_before=done_before, ran=ran, folder=out)


def run_sweep(spec, out, executor=None, progress: bool = True, on_change: str = "refuse") -> list[dict]:
    """:func:`execute_sweep`, then every record of the spec's runs, in the spec's run order.

    For a sweep too large to hold its records in memory, use :func:`execute_sweep`
    and read ``results.jsonl`` line by line.
    """
    spec = _as_spec(spec)
    counts = execute_sweep(spec, out, executor=executor, progress=progress, on_change=on_change)
    records, _ = read_records(counts.folder / RESULTS_FILE)
    by_id = {r["id"]: r for r in records}
    return [by_id[run["id"]] for run in expand_runs(spec)]
