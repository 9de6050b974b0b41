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
                   record_bytes, run_id, run_one, run_seed)
from .spec import MAX_GRID, Spec, TrainerSpec, load_spec, parse_spec
from .store import ON_CHANGE, RESULTS_FILE, ResultsStore, Table, check_out, load_results, read_records, records_table

__all__ = ["run_sweep", "execute_sweep", "SweepCounts", "Spec", "TrainerSpec", "load_spec", "parse_spec",
           "expand_runs", "run_one", "run_id", "run_seed", "build_problem", "load_results", "records_table", "Table",
           "read_records", "open_executor", "as_executor", "SerialExecutor", "ProcessExecutor", "DaskExecutor",
           "WorkerLost", "ExecutorLost", "RESULTS_FILE", "ON_CHANGE", "TRAINER_KINDS", "MEANINGS", "check_out",
           "HISTORY_ROWS", "NEAR_ZERO", "MAX_GRID", "CONNECT_TIMEOUT"]

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


def _check_room(spec: Spec, store: ResultsStore, executor, pending: int) -> None:
    """Refuse in one line what cannot fit: the runs at once in memory, the records on disk."""
    largest, where, per_run = 0, "", []
    for d in spec.datasets:
        ds = dataset(d, spec.seeds[0], spec.test_fraction, spec.validation_fraction)
        for t in spec.trainers:
            need = memory_estimate(ds, spec.model, t)
            if need > largest:
                largest, where = need, f"{t.name} on {d}"
            per_run.append(record_bytes(ds, spec.model, t))
    workers = executor.workers or 1
    available = checks.available_memory()
    if getattr(executor, "local", False) and workers > 1 and available is not None \
            and largest * workers > available:
        raise ValueError(f"out {store.folder}: {workers} runs at once need about "
                         f"{checks.format_bytes(largest * workers)} ({checks.format_bytes(largest)} each, "
                         f"{where}), more than the {checks.format_bytes(available)} of memory available; "
                         "use fewer jobs")
    need = pending * sum(per_run) / len(per_run)
    free = store.free_bytes()
    if need > free:
        raise ValueError(f"out {store.folder}: {pending} records need about {checks.format_bytes(need)} on disk, "
                         f"more than the {checks.format_bytes(free)} free there")


def _progress(total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="run", desc="sweep", smoothing=0.1)


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
    with ResultsStore(out, spec.hash, on_change) as store:
        done_before = store.this_spec
        _check_room(spec, store, executor, spec.n_runs - done_before)
        pending = (run for run in expand_runs(spec) if run["id"] not in store.done)
        ran = 0
        bar = _progress(spec.n_runs, done_before, progress)
        try:
            with contextlib.closing(executor.map_unordered(run_one, pending, label=_label)) as results:
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
