"""Former home of the sweep engine, kept one release as a re-export of :mod:`swarmreg.sweep`."""

import warnings

import os

from . import sweep as _sweep
from .sweep import (RESULTS_FILE, TRAINER_KINDS, build_problem, check_out, load_results, load_spec, parse_spec,
                    records_table, run_id, run_one, run_seed, run_sweep)

warnings.warn("swarmreg.experiment is now swarmreg.sweep (parse_spec gives a frozen Spec with attributes, "
              "expand_runs a generator); this alias goes in the next release", DeprecationWarning, stacklevel=2)


def expand_runs(spec) -> list:
    """The runs of a spec, as a list (see :func:`swarmreg.sweep.expand_runs`, a generator)."""
    return list(_sweep.expand_runs(spec))


def process_pool(jobs: int | None = None):
    """A pool of worker processes (default: one per core), now a :class:`swarmreg.sweep.ProcessExecutor`."""
    return _sweep.ProcessExecutor((os.cpu_count() or 1) if jobs is None else jobs)

__all__ = ["load_spec", "parse_spec", "expand_runs", "run_one", "run_sweep", "load_results", "records_table",
           "TRAINER_KINDS", "RESULTS_FILE", "run_id", "run_seed", "build_problem", "check_out", "process_pool"]
