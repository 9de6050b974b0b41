"""λ sweeps: every trainer configuration × λ × seed × data set, reproducible,
resumable and parallel.

A sweep is described by a TOML spec (see ``swarmreg/specs/example.toml``)::

    name = "example"
    datasets = ["iris"]
    seeds = [0, 1, 2]                 # or a count: seeds = 3 → 0, 1, 2
    penalty = "l2"                    # "l2", "l1" or "elastic" (then l1_ratio)
    lambdas = [0.0, 1e-3, 1e-2]       # or a [lambda_range] table
    [model]
    hidden = [20]
    activation = "tanh"
    [[trainers]]
    name = "backprop-coupled"
    kind = "backprop"                 # "backprop", "swarm" or "lbfgs"
    lr = 0.1

Each run has a stable id (a hash of its full configuration) and a seed drawn
from that id, so its record does not depend on which worker ran it, in what
order, or how many workers there were.  Records are appended to
``results.jsonl``, one whole fsynced line per run; rerunning a spec on the same
folder skips finished ids.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import functools
import hashlib
import inspect
import json
import math
import os
import tomllib
import warnings
from pathlib import Path

import numpy as np

from .backprop import BackpropTrainer
from .conventions import from_decoupled_fraction
from .data import available, load_dataset
from .model import HIDDEN_ACTIVATIONS, MLP
from .objective import RegularizedError, make_penalty
from .reference import LBFGSTrainer
from .result import weight_stats
from .swarm import SwarmTrainer

__all__ = ["load_spec", "parse_spec", "expand_runs", "run_one", "run_sweep", "load_results",
           "records_table", "TRAINER_KINDS", "RESULTS_FILE"]

RESULTS_FILE = "results.jsonl"
TRAINER_KINDS = {"backprop": BackpropTrainer, "swarm": SwarmTrainer, "lbfgs": LBFGSTrainer}
NEAR_ZERO = 1e-3
HISTORY_ROWS = 200
MAX_GRID = 10_000  # most seeds (as a count) or log-spaced λ values a spec may ask for

_TOP_KEYS = {
    "name": "a label for the sweep (str)",
    "datasets": "data set names (list of str)",
    "seeds": "replicate seeds (list of int, or a count)",
    "penalty": '"l2", "l1" or "elastic"',
    "l1_ratio": "share of λ on the L1 part for penalty = \"elastic\" (number in [0, 1])",
    "lambdas": "the λ grid (list of numbers >= 0)",
    "lambda_range": "a log-spaced λ grid: {start, stop, num, zero}",
    "loss": '"auto", "mse", "cross_entropy" or "binary_cross_entropy"',
    "test_fraction": "share of each data set held out for testing",
    "validation_fraction": "share of the rest used to choose λ",
    "model": "the network: {hidden, activation}",
    "trainers": "the trainer configurations ([[trainers]] tables)",
}
_RANGE_KEYS = {"start": "smallest λ > 0", "stop": "largest λ", "num": "number of log-spaced values",
               "zero": "also include λ = 0 (bool)"}
_MODEL_KEYS = {"hidden": "hidden layer widths (list of int)", "activation": "hidden activation (str)"}
_TRAINER_META = {"name": "a unique label (str)", "kind": "backprop, swarm or lbfgs",
                 "lam_as": '"penalty" (λ is the penalty strength, default) or "weight_decay" '
                           '(backprop only: λ is the fixed decay fraction d per step, no penalty)'}


def _fail(msg: str):
    raise ValueError(msg)


def _check_keys(table: dict, valid: dict, where: str) -> None:
    for key in table:
        if key not in valid:
            _fail(f"{where}: unknown key {key!r}; valid keys: {', '.join(valid)}")


def _is_number(v) -> bool:
    """An int or float that a float can hold (TOML integers are unbounded)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        float(v)
    except OverflowError:
        return False
    return True


def _expect(cond: bool, where: str, key: str, what: str, value) -> None:
    if not cond:
        _fail(f"{where}: {key} must be {what}, got {value!r}")


def _trainer_params(kind: str) -> dict:
    """The trainer's settings and their defaults, read from its signature."""
    sig = inspect.signature(TRAINER_KINDS[kind].__init__)
    return {n: p.default for n, p in sig.parameters.items() if n != "self"}


def _check_setting(where: str, key: str, value, default):
    """Type-check one trainer setting against its default; TOML lists become tuples."""
    if isinstance(default, bool):
        _expect(isinstance(value, bool), where, key, "a bool", value)
    elif isinstance(default, int) and not isinstance(default, bool):
        _expect(isinstance(value, int) and not isinstance(value, bool), where, key, "an integer", value)
    elif isinstance(default, float):
        _expect(_is_number(value), where, key, "a number", value)
        value = float(value)
    elif isinstance(default, str):
        _expect(isinstance(value, str), where, key, "a string", value)
    elif isinstance(default, tuple) or default is None:
        if isinstance(value, list):
            _expect(all(_is_number(v) for v in value), where, key, "a list of numbers", value)
            value = tuple(float(v) for v in value)
        elif isinstance(value, str) and value == "none":
            value = None
        else:
            _expect(_is_number(value) or value is None, where, key, 'a number, a list of numbers or "none"', value)
    return value


def parse_spec(spec: dict, source: str = "spec") -> dict:
    """Check a sweep spec (a dict, as read from TOML) and return it normalized.

    Raises
    ------
    ValueError
        Naming the key at fault and listing the valid ones, before anything runs.
    """
    if not isinstance(spec, dict):
        _fail(f"{source}: a spec must be a table, got {type(spec).__name__}")
    _check_keys(spec, _TOP_KEYS, source)
    for key in ("datasets", "trainers"):
        if key not in spec:
            _fail(f"{source}: missing key {key!r}")
    out = {"name": spec.get("name", "sweep")}
    _expect(isinstance(out["name"], str), source, "name", "a string", out["name"])

    datasets = spec["datasets"]
    if isinstance(datasets, str):
        datasets = [datasets]
    _expect(isinstance(datasets, list) and datasets and all(isinstance(d, str) for d in datasets),
            source, "datasets", "a non-empty list of names", datasets)
    for d in datasets:
        if d not in available():
            _fail(f"{source}: datasets: unknown data set {d!r}; valid: {', '.join(available())}")
    out["datasets"] = list(dict.fromkeys(datasets))

    seeds = spec.get("seeds", 3)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        _expect(1 <= seeds <= MAX_GRID, source, "seeds", f"a count in [1, {MAX_GRID}] or a list of int", seeds)
        seeds = list(range(seeds))
    _expect(isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                       for s in seeds),
            source, "seeds", "a count >= 1 or a non-empty list of int >= 0", seeds)
    out["seeds"] = list(dict.fromkeys(seeds))

    penalty = spec.get("penalty", "l2")
    _expect(penalty in ("l2", "l1", "elastic"), source, "penalty", 'one of "l2", "l1", "elastic"', penalty)
    out["penalty"] = penalty
    l1_ratio = spec.get("l1_ratio", 0.5)
    _expect(_is_number(l1_ratio) and 0.0 <= l1_ratio <= 1.0, source, "l1_ratio", "a number in [0, 1]", l1_ratio)
    out["l1_ratio"] = float(l1_ratio)

    if ("lambdas" in spec) == ("lambda_range" in spec):
        _fail(f"{source}: give exactly one of 'lambdas' (a list) and 'lambda_range' (a table)")
    if "lambdas" in spec:
        lams = spec["lambdas"]
        _expect(isinstance(lams, list) and lams and all(_is_number(v) and math.isfinite(v) and v >= 0 for v in lams),
                source, "lambdas", "a non-empty list of finite numbers >= 0", lams)
        lams = [float(v) + 0.0 for v in lams]  # + 0.0: -0.0 becomes 0.0 (one id per λ)
    else:
        rng = spec["lambda_range"]
        _expect(isinstance(rng, dict), source, "lambda_range", "a table", rng)
        _check_keys(rng, _RANGE_KEYS, f"{source}: lambda_range")
        for key in ("start", "stop", "num"):
            if key not in rng:
                _fail(f"{source}: lambda_range: missing key {key!r}")
        start, stop, num = rng["start"], rng["stop"], rng["num"]
        _expect(_is_number(start) and 0 < start < math.inf, source, "lambda_range.start", "a number > 0", start)
        _expect(_is_number(stop) and start <= stop < math.inf, source, "lambda_range.stop", "a number >= start", stop)
        _expect(isinstance(num, int) and not isinstance(num, bool) and 1 <= num <= MAX_GRID, source,
                "lambda_range.num", f"an integer in [1, {MAX_GRID}]", num)
        zero = rng.get("zero", True)
        _expect(isinstance(zero, bool), source, "lambda_range.zero", "a bool", zero)
        lams = ([0.0] if zero else []) + [float(v) for v in np.geomspace(start, stop, num)]
    out["lambdas"] = sorted(set(lams))

    loss = spec.get("loss", "auto")
    _expect(loss in ("auto", "mse", "cross_entropy", "binary_cross_entropy"), source, "loss",
            'one of "auto", "mse", "cross_entropy", "binary_cross_entropy"', loss)
    out["loss"] = loss
    for key, default, low in (("test_fraction", 0.25, "("), ("validation_fraction", 0.2, "[")):
        v = spec.get(key, default)
        _expect(_is_number(v) and (0 < v < 1 if low == "(" else 0 <= v < 1), source, key, f"a number in {low}0, 1)", v)
        out[key] = float(v)

    model = spec.get("model", {})
    _expect(isinstance(model, dict), source, "model", "a table", model)
    _check_keys(model, _MODEL_KEYS, f"{source}: model")
    hidden = model.get("hidden", [20])
    _expect(isinstance(hidden, list) and all(isinstance(h, int) and not isinstance(h, bool) and h >= 1
                                             for h in hidden),
            source, "model.hidden", "a list of widths >= 1", hidden)
    activation = model.get("activation", "tanh")
    _expect(activation in HIDDEN_ACTIVATIONS, source, "model.activation", f"one of {', '.join(HIDDEN_ACTIVATIONS)}",
            activation)
    out["model"] = {"hidden": list(hidden), "activation": activation}

    trainers = spec["trainers"]
    _expect(isinstance(trainers, list) and trainers and all(isinstance(t, dict) for t in trainers),
            source, "trainers", "a non-empty array of tables ([[trainers]])", trainers)
    out["trainers"], names = [], set()
    for i, t in enumerate(trainers):
        where = f"{source}: trainers[{i}]"
        kind = t.get("kind")
        if not isinstance(kind, str) or kind not in TRAINER_KINDS:
            _fail(f"{where}: kind must be one of {', '.join(TRAINER_KINDS)}, got {kind!r}")
        params = _trainer_params(kind)
        _check_keys(t, {**_TRAINER_META, **params}, where)
        name = t.get("name", kind)
        _expect(isinstance(name, str) and name, where, "name", "a non-empty string", name)
        if name in names:
            _fail(f"{where}: name {name!r} is used twice; trainer names must be unique")
        names.add(name)
        lam_as = t.get("lam_as", "penalty")
        _expect(lam_as in ("penalty", "weight_decay"), where, "lam_as", '"penalty" or "weight_decay"', lam_as)
        if lam_as == "weight_decay" and kind != "backprop":
            _fail(f"{where}: lam_as = \"weight_decay\" needs kind = \"backprop\", got {kind!r}")
        settings = {k: _check_setting(where, k, v, params[k]) for k, v in t.items() if k in params}
        if lam_as == "weight_decay" and "decay_fraction" in settings:
            _fail(f"{where}: decay_fraction is set by λ when lam_as = \"weight_decay\"; remove the decay_fraction key")
        # with lam_as = "weight_decay" every λ of the grid becomes the trainer's decay_fraction: check each
        for extra in ([{"decay_fraction": lam} for lam in out["lambdas"]] if lam_as == "weight_decay" else [{}]):
            try:
                TRAINER_KINDS[kind](**settings, **extra)
            except (ValueError, TypeError, OverflowError) as exc:
                _fail(f"{where}: {exc}")
        out["trainers"].append({"name": name, "kind": kind, "lam_as": lam_as, "settings": settings})

    # each data set must split with these fractions and suit the loss: find out now, not mid-sweep
    for d in out["datasets"]:
        probe = {"dataset": d, "seed": out["seeds"][0], "lam": 0.0, "test_fraction": out["test_fraction"],
                 "validation_fraction": out["validation_fraction"], "loss": out["loss"], "penalty": out["penalty"],
                 "l1_ratio": out["l1_ratio"], "model": {"hidden": [], "activation": out["model"]["activation"]},
                 "trainer": {"lam_as": "penalty"}}
        try:
            _dataset(d, probe["seed"], probe["test_fraction"], probe["validation_fraction"])
        except ValueError as exc:
            _fail(f"{source}: datasets: {d!r}: {exc}")
        try:
            build_problem(probe)
        except ValueError as exc:
            _fail(f"{source}: loss {out['loss']!r} does not suit data set {d!r}: {exc}")
    return out


def raw_spec(spec: dict) -> dict:
    """The TOML-shaped form of a parsed spec (trainer settings back inline), so
    that ``parse_spec(raw_spec(parse_spec(x))) == parse_spec(x)``."""
    raw = {k: copy.deepcopy(v) for k, v in spec.items() if k != "trainers"}
    raw["trainers"] = [{"name": t["name"], "kind": t["kind"], "lam_as": t["lam_as"],
                        **{k: list(v) if isinstance(v, tuple) else ("none" if v is None else v)
                           for k, v in t["settings"].items()}}
                       for t in spec["trainers"]]
    return raw


def load_spec(path) -> dict:
    """Read and check a TOML sweep spec file (see :func:`parse_spec`)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ValueError(f"spec {path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"spec {path}: is a folder, not a TOML file") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"spec {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"spec {path}: malformed TOML: {exc}") from None
    return parse_spec(spec, source=f"spec {path}")


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=list)


def run_id(run: dict) -> str:
    """A stable id: the first 16 hex digits of the SHA-256 of the run's canonical JSON."""
    return hashlib.sha256(_canonical(run).encode()).hexdigest()[:16]


def run_seed(rid: str) -> int:
    """The run's training seed, drawn from its id with numpy's SeedSequence."""
    return int(np.random.SeedSequence(int(rid, 16)).generate_state(1, np.uint64)[0])


def expand_runs(spec: dict) -> list[dict]:
    """Every (data set, trainer configuration, λ, seed) of a parsed spec, each with its ``id``."""
    runs = []
    for dataset in spec["datasets"]:
        for trainer in spec["trainers"]:
            for lam in spec["lambdas"]:
                for seed in spec["seeds"]:
                    run = {
                        "dataset": dataset, "seed": seed, "lam": lam,
                        "test_fraction": spec["test_fraction"], "validation_fraction": spec["validation_fraction"],
                        "model": spec["model"], "loss": spec["loss"],
                        "penalty": spec["penalty"], "l1_ratio": spec["l1_ratio"],
                        "trainer": copy.deepcopy(trainer),
                    }
                    run["id"] = run_id(run)
                    run["sweep"] = spec["name"]  # a label, not part of the id
                    runs.append(run)
    return runs


@functools.lru_cache(maxsize=16)
def _dataset(name: str, seed: int, test_fraction: float, validation_fraction: float):
    return load_dataset(name, seed=seed, test_fraction=test_fraction, validation_fraction=validation_fraction)


def _thin(history: dict, rows: int = HISTORY_ROWS) -> dict:
    """At most ``rows`` evenly spaced rows, always keeping the first and the last."""
    n = len(next(iter(history.values()))) if history else 0
    keep = np.unique(np.linspace(0, n - 1, min(n, rows)).round().astype(int)) if n else np.arange(0)
    return {k: np.asarray(v)[keep] for k, v in history.items()}


def _number(x):
    """A JSON number, or None for NaN/inf (records never carry a silent NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _split_scores(model: MLP, theta, X, y, loss: str, task: str, target_scale: float = 1.0) -> dict:
    """Data loss (standardized units), and accuracy (classification) or RMSE in the
    target's original units (regression), on one split."""
    if X.shape[0] == 0:
        return {"loss": None, "accuracy": None, "rmse": None}
    with np.errstate(all="ignore"):
        d = RegularizedError(model, X, y, loss=loss).data_loss(theta)
        out = {"loss": _number(d), "accuracy": None, "rmse": None}
        if task == "classification":
            out["accuracy"] = float(np.mean(model.predict(theta, X) == y))
        else:
            out["rmse"] = _number(math.sqrt(d) * target_scale) if loss == "mse" and math.isfinite(d) else None
    return out


def build_problem(run: dict):
    """The data set, model and training objective of a run."""
    ds = _dataset(run["dataset"], run["seed"], run["test_fraction"], run["validation_fraction"])
    classification = ds.task == "classification"
    n_out = ds.n_classes if classification else 1
    output = "softmax" if classification else "identity"
    model = MLP((ds.n_features, *run["model"]["hidden"], n_out), hidden=run["model"]["activation"], output=output)
    loss = None if run["loss"] == "auto" else run["loss"]
    weight_decay_knob = run["trainer"]["lam_as"] == "weight_decay"
    penalty = None if weight_decay_knob else make_penalty(run["penalty"], run["lam"], run["l1_ratio"])
    objective = RegularizedError(model, ds.X_train, ds.y_train, loss=loss, penalty=penalty)
    return ds, model, objective


def canonical_lam(run: dict) -> float:
    """The run's λ in swarmreg's canonical convention (see swarmreg.conventions)."""
    t = run["trainer"]
    if t["lam_as"] == "weight_decay":
        s = t["settings"]
        lr = s.get("lr", _trainer_params("backprop")["lr"])
        momentum = s.get("momentum", _trainer_params("backprop")["momentum"])
        return from_decoupled_fraction(run["lam"], lr, momentum)
    return run["lam"]


def run_one(run: dict) -> dict:
    """Train one run and return its record (plain JSON-safe data)."""
    ds, model, objective = build_problem(run)
    t = run["trainer"]
    settings = dict(t["settings"])
    if t["lam_as"] == "weight_decay":
        settings["decay_fraction"] = run["lam"]
    trainer = TRAINER_KINDS[t["kind"]](**settings)
    res = trainer.fit(objective, seed=run_seed(run["id"]))
    theta = res.theta
    w = theta[model.weight_mask]
    sq, zeros = weight_stats(theta, model.weight_mask)
    scale = ds.target_scale if ds.task == "regression" else 1.0
    scores = {name: _split_scores(model, theta, X, y, objective.loss, ds.task, scale)
              for name, X, y in (("train", ds.X_train, ds.y_train), ("val", ds.X_val, ds.y_val),
                                 ("test", ds.X_test, ds.y_test))}
    record = {
        "id": run["id"], "sweep": run.get("sweep", ""), "dataset": run["dataset"], "task": ds.task,
        "trainer": t["name"], "kind": t["kind"],
        "lam": run["lam"], "lam_as": t["lam_as"], "canonical_lam": _number(canonical_lam(run)),
        "penalty": run["penalty"], "seed": run["seed"], "run_seed": run_seed(run["id"]),
        "config": {k: v for k, v in run.items() if k not in ("id", "sweep")},
        "value": _number(res.value), "data_loss": _number(res.data_loss), "penalty_value": _number(res.penalty),
        "trainer_config": res.config,
        "weight_sq_norm": _number(sq), "zero_fraction": zeros,
        "near_zero_fraction": float(np.mean(np.abs(w) < NEAR_ZERO)) if w.size else 0.0,
        "forward_samples": int(res.forward_samples), "backward_samples": int(res.backward_samples),
        "iterations": int(res.iterations), "seconds": float(res.seconds), "status": res.status,
        "theta": [_number(x) for x in theta.tolist()],
        "history": {k: [_number(x) for x in np.asarray(v).tolist()] for k, v in _thin(res.history).items()},
    }
    for split, s in scores.items():
        for key, v in s.items():
            record[f"{split}_{key}"] = v
    return json.loads(json.dumps(record, default=list))  # plain JSON types only


_PINNED = False


def _worker_init() -> None:
    """Pin BLAS to one thread in this worker process (once) so workers do not fight over cores."""
    global _PINNED
    if not _PINNED:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        _PINNED = True


def run_pinned(run: dict) -> dict:
    """:func:`run_one` in a worker with BLAS pinned to one thread; a worker that
    was restarted mid-sweep (Dask) pins itself at its first run."""
    _worker_init()
    return run_one(run)


def read_records(path: Path) -> tuple[list[dict], int]:
    """Complete records of a results file, and the byte length of its complete part.

    A partial last line (a crash mid-write) is ignored with a warning.
    """
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    records, good = [], 0
    for line in data.splitlines(keepends=True):
        try:
            if not line.endswith(b"\n"):
                raise ValueError("no line end")
            rec = json.loads(line)
            if not isinstance(rec, dict) or "id" not in rec:
                raise ValueError("not a record")
        except ValueError:
            if good + len(line) == len(data):
                warnings.warn(f"{path}: ignoring a partial last line ({len(line)} bytes); its run is recomputed",
                              stacklevel=2)
                break
            raise ValueError(f"{path}: line {len(records) + 1} is not a valid record") from None
        records.append(rec)
        good += len(line)
    return records, good


class _ResultsWriter:
    """Appends whole records to results.jsonl, fsynced, holding an exclusive lock."""

    def __init__(self, folder: Path):
        import fcntl

        self.path = folder / RESULTS_FILE
        self._lock = open(folder / ".lock", "a")  # "a": a refused second sweep changes nothing
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise ValueError(f"out {folder}: another sweep is writing to this folder") from None
        try:
            self.records, good = read_records(self.path)
        except BaseException:
            self._lock.close()
            raise
        self._file = open(self.path, "ab")
        if self._file.tell() != good:  # drop a partial last line before appending
            self._file.truncate(good)
            self._file.seek(good)

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        self._file.write(line.encode())
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
        self._lock.close()


def check_out(out) -> Path:
    """The output folder as a Path, if it is (or can be created as) a writable folder.

    Nothing is created here; ``ValueError`` names the folder and what is wrong.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        _fail(f"out {out}: exists and is not a folder")
    parent = out
    while not parent.exists() and not parent.is_symlink():
        parent = parent.parent
    if not parent.is_dir():
        _fail(f"out {out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        _fail(f"out {out}: cannot write in {parent}")
    return out


def _make_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"out {out}: cannot create the folder ({exc.strerror or exc})") from None


#: How many times a run is resubmitted after its Dask worker died (distributed's KilledWorker).
RESUBMIT = 1


def _dask_client_type():
    try:
        from distributed import Client
    except ImportError:
        return None
    return Client


def _run_on(executor, pending: list, record) -> None:
    """Submit every pending run to the executor and pass each record to ``record``
    as it arrives (in this process); unfinished runs are cancelled on an error."""
    Client = _dask_client_type()
    if Client is not None and isinstance(executor, Client):
        from distributed import KilledWorker, as_completed

        def submit(run):  # pure=False: a resubmitted run gets a fresh task key
            return executor.submit(run_pinned, run, pure=False)

        futures = {submit(run): (run, 0) for run in pending}
        arrivals = as_completed(list(futures))
        try:
            for fut in arrivals:
                run, tries = futures.pop(fut)
                try:
                    rec = fut.result()
                except KilledWorker:
                    if tries >= RESUBMIT:
                        raise
                    again = submit(run)
                    futures[again] = (run, tries + 1)
                    arrivals.add(again)
                    continue
                record(rec)
        finally:
            for fut in futures:
                fut.cancel()
        return
    futures = [executor.submit(run_pinned, run) for run in pending]
    try:
        for fut in cf.as_completed(futures):
            record(fut.result())
    finally:
        for fut in futures:
            fut.cancel()


def run_sweep(spec, out, executor=None, progress: bool = True) -> list[dict]:
    """Run every pending run of a spec and append its record to ``out/results.jsonl``.

    Parameters
    ----------
    spec : dict or path
        A spec dict (checked with :func:`parse_spec`) or a TOML file.
    out : path
        Output folder (created). Records already there are kept and their runs skipped.
    executor : None, concurrent.futures.Executor or distributed.Client
        None runs serially in this process; otherwise each run is submitted to the
        executor, and only this process writes the results file.  On Dask, a run
        whose worker died too often (``KilledWorker``) is resubmitted once.
    progress : bool
        Show a progress bar (runs done, total, time left).

    Returns
    -------
    list of dict
        All records of the spec's runs, in the spec's run order.
    """
    if isinstance(spec, (str, os.PathLike)):
        spec = load_spec(spec)
    else:
        spec = parse_spec(raw_spec(spec) if any("settings" in t for t in spec.get("trainers", [])) else spec)
    out = check_out(out)
    runs = expand_runs(spec)
    _make_out(out)
    writer = _ResultsWriter(out)
    done = {r["id"]: r for r in writer.records}
    pending = [r for r in runs if r["id"] not in done]
    bar = _progress(len(runs), len(runs) - len(pending), progress)

    def record(rec: dict) -> None:
        writer.append(rec)
        done[rec["id"]] = rec
        bar.update(1)

    try:
        if executor is None:
            for run in pending:
                record(run_one(run))
        else:
            _run_on(executor, pending, record)
    finally:
        bar.close()
        writer.close()
    return [done[r["id"]] for r in runs]


def _progress(total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="run", desc="sweep", smoothing=0.1)


def process_pool(jobs: int | None = None) -> cf.ProcessPoolExecutor:
    """A local process pool (default: all cores), one BLAS thread per worker."""
    import multiprocessing as mp

    if jobs is None:
        jobs = os.cpu_count() or 1
    if not isinstance(jobs, int) or jobs < 1:
        _fail(f"jobs must be an integer >= 1, got {jobs!r}")
    return cf.ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init)


def load_results(folder):
    """The records of a sweep folder, and a flat table of their scalar fields.

    Returns
    -------
    records : list of dict
    table : pandas.DataFrame or dict of lists
        One row per record (nested fields left out); a DataFrame when pandas is installed.
    """
    folder = Path(folder)
    path = folder / RESULTS_FILE
    if not path.exists():
        _fail(f"results {folder}: no {RESULTS_FILE} there")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        records, _ = read_records(path)
    return records, records_table(records)


def records_table(records):
    """Scalar fields of the records as columns (a pandas DataFrame when pandas is present)."""
    keys = [k for k in (records[0] if records else {}) if not isinstance(records[0][k], (dict, list))]
    table = {k: [r.get(k) for r in records] for k in keys}
    try:
        import pandas as pd
    except ImportError:
        return table
    return pd.DataFrame(table)
