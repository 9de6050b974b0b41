"""Former home of the sweep engine, kept one release as a re-export of :mod:`swarmreg.sweep`."""

import warnings

from .sweep import (RESULTS_FILE, TRAINER_KINDS, build_problem, check_out, expand_runs, load_results, load_spec,
                    parse_spec, records_table, run_id, run_one, run_seed, run_sweep)
from .sweep.executors import ProcessExecutor as process_pool

warnings.warn("swarmreg.experiment is now swarmreg.sweep; this alias goes in the next release",
              DeprecationWarning, stacklevel=2)

__all__ = ["load_spec", "parse_spec", "expand_runs", "run_one", "run_sweep", "load_results", "records_table",
           "TRAINER_KINDS", "RESULTS_FILE", "run_id", "run_seed", "build_problem", "check_out", "process_pool"]
