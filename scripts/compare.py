"""Backprop, the swarm and the L-BFGS reference on one data set at one λ, over a few seeds.

    python scripts/compare.py --dataset iris --penalty l2 --lam 1e-3 --seeds 3

Prints one row per trainer: medians over the seeds of E = D + R, its parts,
Σw², test loss and accuracy (or RMSE), seconds and forward samples.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

import numpy as np

from swarmreg import backend
from swarmreg.data import available
from swarmreg.report import default_specs
from swarmreg.result import STATUS_WORDS
from swarmreg.sweep import expand_runs, parse_spec, run_one

# the trainer configurations and network of the report's main sweep (swarmreg/specs/report-l2.toml)
MAIN = default_specs()[0]
TRAINERS = [t.to_toml() for t in MAIN.trainers]
HIDDEN = list(MAIN.model.hidden)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="iris", choices=available(), help="the data set (default: iris)")
    p.add_argument("--penalty", default="l2", choices=["l2", "l1", "elastic"], help="the penalty R (default: l2)")
    p.add_argument("--lam", type=float, default=1e-3, help="λ, the canonical strength (default: 1e-3)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1, each a split and a start (default: 3)")
    p.add_argument("--hidden", type=int, nargs="*", default=HIDDEN,
                   help=f"hidden widths (default: the report's, {' '.join(map(str, HIDDEN))})")

    def refuse(message):  # one line, status 2, like the swarmreg command
        print(f"compare: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    p.error = refuse
    args = p.parse_args(argv)
    backend.limit_process()  # small products on one thread (SWARMREG_THREADS to change it)
    try:
        model = {"hidden": args.hidden, "activation": MAIN.model.activation}
        spec = parse_spec({"datasets": [args.dataset], "seeds": args.seeds, "penalty": args.penalty,
                           "lambdas": [args.lam], "model": model, "trainers": TRAINERS}, source="compare")
    except ValueError as exc:
        print(f"compare: error: {str(exc).removeprefix('compare: ')}", file=sys.stderr)  # the spec names it once
        return 2
    records = [run_one(run) for run in expand_runs(spec)]
    task = records[0]["task"]
    score = "test_accuracy" if task == "classification" else "test_rmse"
    cols = ["value", "data_loss", "penalty_value", "weight_sq_norm", "test_loss", score, "seconds", "forward_samples"]
    heads = ["E", "D", "R", "Σw²", "test loss", "test acc" if task == "classification" else "test RMSE",
             "seconds", "fwd samples"]
    print(f"{args.dataset}, {args.penalty} λ = {args.lam:g}, medians over {args.seeds} seed{'s' * (args.seeds != 1)}")
    print(f"{'trainer':<14}" + "".join(f"{h:>12}" for h in heads) + "  status")
    for t in TRAINERS:
        rs = [r for r in records if r["trainer"] == t["name"]]
        meds = [np.median([r[c] for r in rs if r[c] is not None]) if any(r[c] is not None for r in rs) else np.nan
                for c in cols]
        status = ", ".join(f"{n} {STATUS_WORDS.get(s, s)}" for s, n in Counter(r["status"] for r in rs).items())
        print(f"{t['name']:<14}" + "".join(f"{m:>12.4g}" for m in meds) + f"  {status}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the reader closed the pipe (`| head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
