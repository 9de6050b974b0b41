"""The ``swarmreg`` command: sweeps, single runs, data sets and the report.

User mistakes print one line on stderr and exit with status 2; a sweep that
cannot go on (a worker that keeps dying, a Dask scheduler that went away)
prints one line and exits with status 1; Ctrl-C and SIGTERM stop every worker,
print one line and exit with 130 and 143.  Finished runs are always kept: the
same command resumes.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import math
import os
import re
import signal
import sys
import textwrap
import threading
import tomllib

from .errors import ExecutorLost, WorkerLost

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def format_help(self) -> str:
        """The help; `swarmreg train`'s also lists every trainer's --set keys and the values it starts from."""
        text = super().format_help()
        if self.prog.partition(" ")[2] != "train":
            return text
        from .sweep.runs import TRAINER_KINDS

        lines = ["--set keys of each trainer (KEY=the value train uses unless set; the report's settings",
                 "where it has them, else the trainer's default):"]
        for kind, cls in TRAINER_KINDS.items():
            values = {**cls.defaults(), **_report_settings(kind)}
            keys = ", ".join(f"{k}={_shown(v)}" for k, v in values.items())
            lines.append(textwrap.fill(keys, 79, initial_indent=f"  {kind}: ", subsequent_indent="    "))
        return text + "\n" + "\n".join(lines) + "\n"

    def error(self, message):  # one line, status 2, no usage dump
        command = self.prog.partition(" ")[2]  # "train" in "swarmreg train"; main() adds "swarmreg: error:"
        message = _suggest(message)
        raise _UsageError(f"{command}: {message}" if command else message)


#: How the messages name what an option chooses.
OPTION_WORDS = {"command": "command", "--dataset": "data set", "--trainer": "trainer", "--penalty": "penalty",
                "--activation": "activation"}


def _suggest(message: str) -> str:
    """argparse's "invalid choice" in the user's words, with the closest valid choice when one is close."""
    m = re.match(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if m is None:
        return message
    flag, given, choices = m.group(1), m.group(2), re.findall(r"'([^']*)'", m.group(3))
    close = difflib.get_close_matches(given, choices, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    said = f"unknown {OPTION_WORDS.get(flag.lower(), 'value')} {given!r}{hint} (valid: {', '.join(choices)})"
    return said if flag.lower() == "command" else f"{flag.split('/')[-1]}: {said}"


def _shown(value) -> str:
    return "none" if value is None else str(list(value)) if isinstance(value, tuple) else str(value)


class _UsageError(Exception):
    pass


class _Terminated(BaseException):
    """SIGTERM, raised where the main thread is so that every ``finally`` runs."""


def _parse_value(text: str):
    """A --set value as TOML (numbers, bools, lists, quoted strings), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
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


def _where(p) -> None:
    """The options that choose where runs execute (at most one) and what to do with a folder of another spec."""
    where = p.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, default=None, help="local worker processes (default: all cores)")
    where.add_argument("--scheduler", help="a Dask scheduler address, e.g. tcp://HOST:8786")
    where.add_argument("--dask-workers", type=int, help="start a local Dask cluster with N workers")
    p.add_argument("--connect-timeout", type=float, default=None,
                   help="seconds to wait for --scheduler to answer (default: 3)")
    change = p.add_mutually_exclusive_group()
    change.add_argument("--add", action="store_const", const="add", dest="on_change",
                        help="the folder holds records of another spec: add this spec's runs to them")
    change.add_argument("--restart", action="store_const", const="restart", dest="on_change",
                        help="the folder holds records of another spec: set them aside and start over")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .data import available
    from .model import HIDDEN_ACTIVATIONS

    p = _Parser(prog="swarmreg", description="Backprop vs particle swarm under L2/L1 regularization.")
    p.add_argument("--version", action="version", version=f"swarmreg {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("sweep", help="run a sweep spec (TOML) into a folder; resumes")
    s.add_argument("spec", help="the sweep spec (TOML)")
    s.add_argument("--out", required=True, help="output folder (results.jsonl)")
    _where(s)

    t = sub.add_parser("train", help="train once and print a summary", )
    t.add_argument("--dataset", required=True, choices=available(), help="the data set (see `swarmreg datasets`)")
    t.add_argument("--trainer", required=True, choices=["backprop", "swarm", "lbfgs", "cmaes"],
                   help="how E is minimized, with the settings the report gives it (change them with --set; "
                        "keys listed below)")
    t.add_argument("--penalty", default="l2", choices=["l2", "l1", "elastic", "weight_elimination"],
                   help="the penalty R (default: l2)")
    t.add_argument("--w0", type=float, default=None, help="the scale of --penalty weight_elimination (default 1)")
    t.add_argument("--lam", type=float, default=0.0,
                   help="λ: the penalty's strength (canonical convention), or what --set lam_as=… says it is "
                        "(default: 0)")
    t.add_argument("--seed", type=int, default=0,
                   help="the seed of the data split and of the trainer: the same seed, the same numbers (default: 0)")
    t.add_argument("--hidden", type=int, nargs="*", default=None,
                   help="hidden widths (none: a linear model; default: the report's, 12)")
    t.add_argument("--activation", default="tanh", choices=HIDDEN_ACTIVATIONS,
                   help="the hidden units' activation (default: tanh)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a trainer setting, e.g. --set lr=0.05 (repeatable; keys listed below)")

    sub.add_parser("datasets", help="list the data sets")

    r = sub.add_parser("report", help="run the default sweep (or read one) and write figures + REPORT.md")
    r.add_argument("--results", help="draw from an existing sweep folder instead of running the default sweep")
    r.add_argument("--out", default=None, help="folder for the figures and REPORT.md (default: figures; with "
                                                "--quick a new temporary folder, so that the committed figures stay)")
    r.add_argument("--quick", action="store_true", help="a small sweep (under a minute)")
    r.add_argument("--work", help="folder for the built-in sweeps' results "
                                  "(default: runs/report, or runs/report-quick)")
    _where(r)
    return p


def _executor(args):
    """The executor the options ask for (checked here so that mistakes name the option)."""
    from .sweep import open_executor

    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    if args.dask_workers is not None and args.dask_workers < 1:
        raise ValueError(f"--dask-workers must be >= 1, got {args.dask_workers}")
    if args.connect_timeout is not None:
        if args.scheduler is None:
            raise ValueError("--connect-timeout applies only with --scheduler")
        if not (math.isfinite(args.connect_timeout) and 0 < args.connect_timeout <= 3600):
            raise ValueError(f"--connect-timeout must be a number of seconds in (0, 3600], got {args.connect_timeout}")
    return open_executor(jobs=args.jobs, scheduler=args.scheduler, dask_workers=args.dask_workers,
                         connect_timeout=args.connect_timeout)


def _cmd_sweep(args) -> int:
    from .sweep import RESULTS_FILE, check_out, execute_sweep, load_spec

    spec = load_spec(args.spec)  # check before any work or file
    check_out(args.out)
    with _executor(args) as executor:
        counts = execute_sweep(spec, args.out, executor=executor, progress=not args.quiet,
                               on_change=args.on_change or "refuse")
    print(f"{counts.total} runs in {args.out}/{RESULTS_FILE}")
    return 0


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _builtin_spec(name: str) -> dict:
    """A built-in report spec as TOML data (read directly: the report module loads matplotlib)."""
    from importlib import resources

    return tomllib.loads((resources.files("swarmreg") / "specs" / name).read_text())


def _report_settings(kind: str) -> dict:
    """The settings the report's built-in sweeps give a trainer kind (the first trainer of that kind in
    report-l2, else in report-swarm): `swarmreg train` starts from them, so that its trainers get the
    budgets the report compares them at."""
    for name in ("report-l2.toml", "report-swarm.toml"):
        for t in _builtin_spec(name)["trainers"]:
            if t["kind"] == kind:
                return {k: v for k, v in t.items() if k not in ("name", "kind", "lam_as")}
    return {}


def _report_hidden() -> list:
    """The report's hidden widths, `swarmreg train`'s default."""
    return list(_builtin_spec("report-l2.toml")["model"]["hidden"])


def _cmd_train(args) -> int:
    from .result import STATUS_WORDS
    from .sweep import expand_runs, parse_spec, run_one
    from .sweep.runs import build_problem

    if not (math.isfinite(args.lam) and args.lam >= 0):
        raise ValueError(f"--lam must be a finite number >= 0, got {args.lam}")
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    given = _settings(args.set)
    settings = {**_report_settings(args.trainer), **given}
    trainer = {"name": args.trainer, "kind": args.trainer, **settings}
    hidden = _report_hidden() if args.hidden is None else args.hidden
    spec = parse_spec({
        "datasets": [args.dataset], "seeds": [args.seed], "penalty": args.penalty,
        **({} if args.w0 is None else {"w0": args.w0}), "lambdas": [args.lam],
        "model": {"hidden": hidden, "activation": args.activation}, "trainers": [trainer],
    }, source="train")
    run = next(expand_runs(spec))
    ds, model, objective = build_problem(run)
    with _progress_bar(args.trainer, spec.trainers[0].settings) as tick:
        rec = run_one(run, callback=tick)
    if rec["lam_as"] == "penalty":
        lam_row = ("penalty", f"{rec['penalty']} λ={rec['lam']:g}")
    else:
        lam_row = ("λ", f"{rec['lam']:g} as {rec['lam_as']} (no penalty; canonical {rec['penalty']} "
                         f"λ={_fmt(rec['canonical_lam'])})")
    shown = {k: v for k, v in settings.items() if k != "lam_as"}
    rows = [("trainer", rec["trainer"]),
            ("settings", ", ".join(f"{k}={_shown(v)}" for k, v in shown.items()) or "its defaults"),
            ("dataset", f"{rec['dataset']} ({rec['task']})"),
            ("split", f"{ds.n_train} train, {ds.X_val.shape[0]} validation, {ds.X_test.shape[0]} test samples "
                      f"(seed {args.seed}); " + ("features and target standardized with the training part's "
                                                 "statistics: losses on the standardized target, RMSE in the data's "
                                                 "units" if rec["task"] != "classification" else
                                                 "features standardized with the training part's statistics")),
            ("network", f"{'-'.join(map(str, model.sizes))}, {model.hidden} hidden, {model.output} output, "
                        f"{model.n_params} parameters"),
            ("loss", objective.loss), lam_row,
            ("status", STATUS_WORDS.get(rec["status"], rec["status"])),
            ("E = D + R", rec["value"]), ("D (train)", rec["data_loss"]),
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


#: The setting that bounds each trainer's iterations (CMA-ES counts evaluations, not generations).
BUDGET_SETTING = {"backprop": "epochs", "swarm": "iterations", "lbfgs": "max_iter"}


@contextlib.contextmanager
def _progress_bar(kind: str, settings: dict):
    """A callback that advances a bar on stderr, shown once a fit has run a second (and only on a terminal)."""
    from tqdm.auto import tqdm

    from .sweep.runs import TRAINER_KINDS

    budget = {**TRAINER_KINDS[kind].defaults(), **settings}.get(BUDGET_SETTING.get(kind))
    unit = {"backprop": "epoch", "lbfgs": "iteration", "swarm": "iteration"}.get(kind, "generation")
    with tqdm(total=budget, delay=1.0, unit=unit, desc=kind, leave=False, file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:
        def tick(info):
            bar.update(1)

        yield tick


def _cmd_datasets(args) -> int:
    from .data import describe

    rows = describe()
    print(f"{'name':<14} {'task':<15} {'samples':>8} {'features':>9} {'classes':>8}")
    for row in rows:
        print(f"{row['name']:<14} {row['task']:<15} {row['n_samples']:>8} {row['n_features']:>9} "
              f"{row['n_classes'] or '-':>8}")
    return 0


def _cmd_report(args) -> int:
    from .report import make_report
    from .sweep import check_out

    for folder in (args.out, args.work):  # fail before the sweeps run, not after
        if folder is not None:
            check_out(folder)
    if args.out is None:
        import tempfile

        args.out = tempfile.mkdtemp(prefix="swarmreg-quick-") if args.quick and args.results is None else "figures"
    if args.results is not None:
        given = [flag for flag, value in (("--jobs", args.jobs), ("--scheduler", args.scheduler),
                                          ("--dask-workers", args.dask_workers), ("--connect-timeout",
                                          args.connect_timeout), ("--work", args.work), ("--quick", args.quick or None),
                                          ("--add/--restart", args.on_change)) if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: these choose how the report runs its own sweeps; "
                             "with --results it runs none")
        _wrote(make_report(results=args.results, out=args.out, progress=not args.quiet))
        return 0
    with _executor(args) as executor:
        _wrote(make_report(out=args.out, quick=args.quick, work=args.work, progress=not args.quiet,
                           executor=executor, on_change=args.on_change or "refuse"))
    return 0


def _wrote(path) -> None:
    """Say where the report went, and its findings."""
    from .report import FIGURES

    print(f"swarmreg report: wrote {path} and {len(FIGURES)} figures into {path.parent}")
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if "## Findings\n" in text:  # its top findings, as the report states them
        block = text.split("## Findings\n", 1)[1].split("\n## ", 1)[0]
        for line in block.strip().splitlines():
            print(line.replace("\\", ""))


@contextlib.contextmanager
def _warnings_as_lines():
    """A warning is one line on stderr, ``swarmreg: warning: …`` (not Python's two-line form)."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"swarmreg: warning: {message}".replace("\n", " "), file=sys.stderr)

    old = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = old


@contextlib.contextmanager
def _sigterm_raises():
    """While inside, SIGTERM raises _Terminated in the main thread (so workers are stopped
    and temporary files removed on the way out)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminated()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _resume_hint(args) -> str:
    folder = getattr(args, "out", None) if getattr(args, "command", None) == "sweep" else getattr(args, "work", None)
    if getattr(args, "command", None) in ("sweep", "report"):
        return "; finished runs are kept" + (f" in {folder}" if folder else "") + ", run the same command to resume"
    return ""


#: What each command imports on its way, loaded up front with Ctrl-C held back (see :func:`_loading`).
# scipy's modules are imported by swarmreg only where they are used (a fit, the BLAS limit):
# a command loads them here, with Ctrl-C held back, like the rest
_SCIPY = ("scipy.linalg", "scipy.special", "scipy.optimize")
_MODULES = {"sweep": ("swarmreg.sweep", *_SCIPY, "tqdm.auto", "threadpoolctl", "multiprocessing.connection",
                      "multiprocessing.spawn"),
            "train": ("swarmreg.sweep", *_SCIPY), "datasets": ("swarmreg.data", "scipy.linalg"),
            "report": ("swarmreg.report", *_SCIPY, "tqdm.auto", "threadpoolctl", "multiprocessing.connection",
                       "multiprocessing.spawn")}


@contextlib.contextmanager
def _held_sigint():
    """Ctrl-C held back on this (the main) thread until the block ends, when a pending one
    arrives at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _loading(args) -> None:
    """Import what the command needs with Ctrl-C held back: Python raises KeyboardInterrupt
    wherever it happens to be, and one raised inside the import machinery's cleanup callbacks
    is printed as "ignored" and lost (the command then runs to its end), or escapes after the
    command's own handler.  Held back while only this thread runs, it arrives when the imports
    are done, at a point where it stops the command cleanly."""
    import importlib

    names = list(_MODULES.get(args.command, ()))
    if getattr(args, "dask_workers", None) is not None or getattr(args, "scheduler", None) is not None:
        names.append("distributed")
    with _held_sigint():
        for name in names:
            with contextlib.suppress(ImportError):  # an optional extra: its own error comes later
                importlib.import_module(name)


def main(argv=None) -> int:
    """Entry point of the ``swarmreg`` console script; returns the exit status."""
    args = None
    try:
        with _sigterm_raises(), _warnings_as_lines():
            with _held_sigint():  # the parser's choices import numpy (see _loading)
                parser = _build_parser()
            if not (sys.argv[1:] if argv is None else list(argv)):  # a bare `swarmreg`: how to use it
                parser.print_help()
                return 0
            args = parser.parse_args(argv)
            _loading(args)
            from .backend import limit_process

            limit_process()  # small products run on one thread (SWARMREG_THREADS to change it)
            return {"sweep": _cmd_sweep, "train": _cmd_train, "datasets": _cmd_datasets,
                    "report": _cmd_report}[args.command](args)
    except BrokenPipeError:  # the reader of stdout went away (`swarmreg train … | head`): stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except (_UsageError, ValueError, OSError) as exc:  # OSError: a file or folder the user named
        print(f"swarmreg: error: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    except (WorkerLost, ExecutorLost) as exc:
        print(f"swarmreg: error: {exc}{_resume_hint(args)}".replace("\n", " "), file=sys.stderr)
        return 1
    except MemoryError as exc:  # beyond the estimates (another process took the memory meanwhile)
        where = next((n for n in getattr(exc, "__notes__", ()) if n.startswith("in run")), "")
        print(f"swarmreg: error: out of memory{' ' + where if where else ''}{_resume_hint(args)}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"swarmreg: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"swarmreg: terminated (SIGTERM){_resume_hint(args)}", file=sys.stderr)
        return 143
    except Exception as exc:
        # Ctrl-C inside an extension module's import surfaces as that import failing
        if _caused_by(exc, KeyboardInterrupt):
            print(f"swarmreg: interrupted{_resume_hint(args)}", file=sys.stderr)
            return 130
        if _caused_by(exc, _Terminated):
            print(f"swarmreg: terminated (SIGTERM){_resume_hint(args)}", file=sys.stderr)
            return 143
        raise


def _caused_by(exc: BaseException, kind) -> bool:
    """Whether ``kind`` is in the chain of exceptions that led to ``exc``."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
