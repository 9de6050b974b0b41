"""The ``swarmreg`` command: sweeps, single runs, data sets and the report.

User mistakes print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, no usage dump
        command = self.prog.partition(" ")[2]  # "train" in "swarmreg train"; main() adds "swarmreg: error:"
        raise _UsageError(f"{command}: {message}" if command else message)


class _UsageError(Exception):
    pass


def _parse_value(text: str):
    """A --set value as TOML (numbers, bools, lists, quoted strings), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _settings(pairs) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, got {pair!r}")
        key = key.strip()
        if key in ("name", "kind"):
            raise ValueError(f"--set {key}: not a trainer setting (the trainer is chosen with --trainer)")
        out[key] = _parse_value(value.strip())
    return out


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="swarmreg", description="Backprop vs particle swarm under L2/L1 regularization.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("sweep", help="run a sweep spec (TOML) into a folder; resumes")
    s.add_argument("spec", help="the sweep spec (TOML)")
    s.add_argument("--out", required=True, help="output folder (results.jsonl)")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, default=None, help="local worker processes (default: all cores)")
    where.add_argument("--scheduler", help="a Dask scheduler address, e.g. tcp://HOST:8786")
    where.add_argument("--dask-workers", type=int, help="start a local Dask cluster with N workers")
    s.add_argument("--quiet", action="store_true", help="no progress bar")

    t = sub.add_parser("train", help="train once and print a summary")
    t.add_argument("--dataset", required=True)
    t.add_argument("--trainer", required=True, choices=["backprop", "swarm", "lbfgs"])
    t.add_argument("--penalty", default="l2", choices=["l2", "l1", "elastic"])
    t.add_argument("--lam", type=float, default=0.0, help="regularization strength λ (canonical convention)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--hidden", type=int, nargs="*", default=[20], help="hidden widths (none: a linear model)")
    t.add_argument("--activation", default="tanh")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="a trainer setting, e.g. --set lr=0.05")

    sub.add_parser("datasets", help="list the data sets")

    r = sub.add_parser("report", help="run the default sweep (or read one) and write figures + REPORT.md")
    r.add_argument("--results", help="draw from an existing sweep folder instead of running the default sweep")
    r.add_argument("--out", default="figures", help="folder for the figures and REPORT.md (default: figures)")
    r.add_argument("--quick", action="store_true", help="a small sweep (under a minute)")
    r.add_argument("--jobs", type=int, default=None, help="local worker processes (default: all cores)")
    r.add_argument("--work", help="folder for the built-in sweeps' results (default: runs/report, or runs/report-quick)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _cmd_sweep(args) -> int:
    from . import experiment

    spec = experiment.load_spec(args.spec)  # check before any work or file
    experiment.check_out(args.out)
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    if args.dask_workers is not None and args.dask_workers < 1:
        raise ValueError(f"--dask-workers must be >= 1, got {args.dask_workers}")
    if args.scheduler or args.dask_workers:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("Dask is not installed: pip install 'swarmreg[dask]'") from None
        if args.scheduler:
            try:
                client = Client(args.scheduler)
            except (OSError, ValueError) as exc:
                raise ValueError(f"--scheduler {args.scheduler}: {exc}") from None
            cluster = None
        else:
            cluster = LocalCluster(n_workers=args.dask_workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        try:
            client.run(experiment._worker_init)
            records = experiment.run_sweep(spec, args.out, executor=client, progress=not args.quiet)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    elif args.jobs == 1:
        records = experiment.run_sweep(spec, args.out, progress=not args.quiet)
    else:
        with experiment.process_pool(args.jobs) as pool:
            records = experiment.run_sweep(spec, args.out, executor=pool, progress=not args.quiet)
    print(f"{len(records)} runs in {args.out}/{experiment.RESULTS_FILE}")
    return 0


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _cmd_train(args) -> int:
    from . import experiment

    if not (math.isfinite(args.lam) and args.lam >= 0):
        raise ValueError(f"--lam must be a finite number >= 0, got {args.lam}")
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    trainer = {"name": args.trainer, "kind": args.trainer, **_settings(args.set)}
    spec = experiment.parse_spec({
        "datasets": [args.dataset], "seeds": [args.seed], "penalty": args.penalty, "lambdas": [args.lam],
        "model": {"hidden": args.hidden, "activation": args.activation}, "trainers": [trainer],
    }, source="train")
    (run,) = experiment.expand_runs(spec)
    rec = experiment.run_one(run)
    rows = [("trainer", rec["trainer"]), ("dataset", rec["dataset"]), ("penalty", f"{rec['penalty']} λ={rec['lam']:g}"),
            ("status", rec["status"]), ("E = D + R", rec["value"]), ("D (train)", rec["data_loss"]),
            ("R", rec["penalty_value"]), ("Σw²", rec["weight_sq_norm"]), ("zero weights", rec["zero_fraction"]),
            ("|w| < 1e-3", rec["near_zero_fraction"])]
    for split in ("train", "val", "test"):
        rows.append((f"{split} loss", rec[f"{split}_loss"]))
        rows.append((f"{split} accuracy" if rec["task"] == "classification" else f"{split} RMSE",
                     rec[f"{split}_accuracy"] if rec["task"] == "classification" else rec[f"{split}_rmse"]))
    rows += [("iterations", rec["iterations"]), ("forward samples", rec["forward_samples"]),
             ("backward samples", rec["backward_samples"]), ("seconds", rec["seconds"])]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {_fmt(v)}")
    return 0


def _cmd_datasets(args) -> int:
    from .data import describe

    rows = describe()
    print(f"{'name':<14} {'task':<15} {'samples':>8} {'features':>9} {'classes':>8}")
    for r in rows:
        print(f"{r['name']:<14} {r['task']:<15} {r['n_samples']:>8} {r['n_features']:>9} {r['n_classes'] or '-':>8}")
    return 0


def _cmd_report(args) -> int:
    from .experiment import check_out
    from .report import make_report

    for folder in (args.out, args.work):  # fail before the sweeps run, not after
        if folder is not None:
            check_out(folder)
    make_report(results=args.results, out=args.out, quick=args.quick, jobs=args.jobs, work=args.work,
                progress=not args.quiet)
    return 0


def main(argv=None) -> int:
    """Entry point of the ``swarmreg`` console script; returns the exit status."""
    try:
        args = _build_parser().parse_args(argv)
        return {"sweep": _cmd_sweep, "train": _cmd_train, "datasets": _cmd_datasets,
                "report": _cmd_report}[args.command](args)
    except (_UsageError, ValueError, OSError) as exc:  # OSError: a file or folder the user named
        print(f"swarmreg: error: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("swarmreg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
