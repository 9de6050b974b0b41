"""The runs of a sweep: their ids and seeds, their problems, and one run trained into a record.

A run is a plain dict — data set, seed, λ, split fractions, model, loss,
penalty and one trainer configuration — with an ``id``: the first 16 hex
digits of the SHA-256 of its canonical JSON.  Its training seed is drawn from
that id, so a record does not depend on which worker ran it, in what order,
or how many workers there were.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from typing import Iterator

import numpy as np

from .. import backend, records
from ..backprop import BackpropTrainer
from ..cmaes import CMAESTrainer
from ..conventions import effective_l2
from ..data import load_dataset
from ..measures import effective_weights, saturation, trivial_theta
from ..model import MLP
from ..objective import DEFAULT_LOSS, RegularizedError
from ..reference import LBFGSTrainer
from ..result import weight_stats
from ..swarm import SwarmTrainer
from .meaning import MEANINGS, Problem

__all__ = ["TRAINER_KINDS", "run_id", "run_seed", "expand_runs", "build_problem", "build_trainer", "run_one",
           "check_loss", "problem_of", "memory_estimate", "record_bytes", "network_size", "dataset", "HISTORY_ROWS",
           "NEAR_ZERO"]

#: The trainer kinds a spec may name, and the class each one builds.
TRAINER_KINDS = {"backprop": BackpropTrainer, "swarm": SwarmTrainer, "lbfgs": LBFGSTrainer, "cmaes": CMAESTrainer}
NEAR_ZERO = 1e-3     # |w| below this counts as near zero in a record
HISTORY_ROWS = 200   # a record keeps at most this many rows of the trainer's history


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=list)


def run_id(run: dict) -> str:
    """A stable id: the first 16 hex digits of the SHA-256 of the run's canonical JSON."""
    return hashlib.sha256(_canonical(run).encode()).hexdigest()[:16]


def run_seed(rid: str) -> int:
    """The run's training seed, drawn from its id with numpy's SeedSequence."""
    return int(np.random.SeedSequence(int(rid, 16)).generate_state(1, np.uint64)[0])


def expand_runs(spec) -> Iterator[dict]:
    """Every (data set, trainer configuration, λ, seed) of a :class:`~swarmreg.sweep.spec.Spec`,
    each with its ``id`` and the sweep's name, one at a time (a sweep of millions of
    runs is never held in memory).  With ``cv = k`` each comes k + 1 times, with ``cv`` and ``fold``:
    folds 0..k − 1 (trained without that fold, validated on it), then None (the whole training
    part, scored on the test part)."""
    model = spec.model.to_toml()
    for dataset in spec.datasets:
        for trainer in spec.trainers:
            config = trainer.to_json()
            for lam in spec.lambdas:
                for seed in spec.seeds:
                    run = {
                        "dataset": dataset, "seed": seed, "lam": lam,
                        "test_fraction": spec.test_fraction, "validation_fraction": spec.validation_fraction,
                        "model": model, "loss": spec.loss, "penalty": spec.penalty, "l1_ratio": spec.l1_ratio,
                        "trainer": config,
                    }
                    if spec.penalty == "weight_elimination":
                        run["w0"] = spec.w0  # only there: the ids of every other sweep stay as they were
                    for fold in (range(spec.cv) if spec.cv else ()):
                        yield _identified({**run, "cv": spec.cv, "fold": fold}, spec.name)
                    yield _identified({**run, "cv": spec.cv, "fold": None} if spec.cv else run, spec.name)


def _identified(run: dict, sweep: str) -> dict:
    run["id"] = run_id(run)
    run["sweep"] = sweep  # a label, not part of the id
    return run


@functools.lru_cache(maxsize=16)
def dataset(name: str, seed: int, test_fraction: float, validation_fraction: float):
    """The split data set of a run (the last few are kept: a sweep loads each one many times)."""
    return load_dataset(name, seed=seed, test_fraction=test_fraction, validation_fraction=validation_fraction)


def _network(ds, hidden, activation) -> MLP:
    classification = ds.task == "classification"
    return MLP((ds.n_features, *hidden, ds.n_classes if classification else 1), hidden=activation,
               output="softmax" if classification else "identity")


def network_size(ds, model_spec) -> int:
    """Parameters of a run's network, counted without building it."""
    widths = (ds.n_features, *model_spec.hidden, ds.n_classes if ds.task == "classification" else 1)
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def check_loss(ds, loss: str) -> None:
    """Raise ValueError when the loss does not suit the data set's network."""
    RegularizedError(_network(ds, (), "tanh"), ds.X_train, ds.y_train, loss=None if loss == "auto" else loss)


def build_problem(run: dict):
    """The data set, model and training objective of a run."""
    ds = dataset(run["dataset"], run["seed"], run["test_fraction"], run["validation_fraction"])
    if run.get("cv"):
        ds = ds.cross_validation(run["cv"], run["fold"])
    model = _network(ds, run["model"]["hidden"], run["model"]["activation"])
    loss = DEFAULT_LOSS[model.output] if run["loss"] == "auto" else run["loss"]
    meaning = MEANINGS[run["trainer"]["lam_as"]]
    penalty = meaning.penalty(run["lam"], run["penalty"], run["l1_ratio"], run.get("w0", 1.0),
                              Problem(ds.n_train, loss, model.n_outputs))
    objective = RegularizedError(model, ds.X_train, ds.y_train, loss=loss, penalty=penalty)
    return ds, model, objective


def problem_of(objective) -> Problem:
    """What a λ convention needs to know of a run's objective."""
    return Problem(objective.n_samples, objective.loss, objective.model.n_outputs)


def build_trainer(trainer: dict, lam: float):
    """The trainer of a run's trainer configuration (``run["trainer"]``) at λ."""
    settings = {k: tuple(v) if isinstance(v, list) else v for k, v in trainer["settings"].items()}
    return TRAINER_KINDS[trainer["kind"]](**settings, **MEANINGS[trainer["lam_as"]].settings(lam))


def memory_estimate(ds, model_spec, trainer_spec) -> int:
    """Bytes one run of this trainer configuration on this data set needs at its peak (an upper estimate)."""
    model = _network(ds, model_spec.hidden, model_spec.activation)
    trainer = build_trainer(trainer_spec.to_json(), 0.0)
    # the fit, plus the record's forward passes over each split (activations of every layer)
    scores = 2 * 8 * max(ds.n_train, ds.n_val, ds.n_test) * sum(model.sizes)
    return int(trainer.memory_bytes(model, ds.n_train)) + scores


def record_bytes(ds, model_spec, trainer_spec) -> int:
    """Bytes one record of this trainer configuration on this data set takes in results.jsonl (an upper
    estimate: about 21 bytes a JSON number, for θ and for the history's rows of about ten columns)."""
    config = build_trainer(trainer_spec.to_json(), 0.0).config
    steps = next((config[k] for k in ("epochs", "iterations", "max_iter") if k in config), HISTORY_ROWS)
    rows = min(HISTORY_ROWS, int(steps) + 1)
    return 2000 + 24 * (network_size(ds, model_spec) + 12 * rows)


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


def run_one(run: dict, callback=None) -> dict:
    """Train one run and return its record (plain JSON data, the fields of :data:`swarmreg.records.FIELDS`;
    ``spec_hash`` is None: a sweep stamps it).  ``callback`` goes to the trainer's ``fit`` (progress)."""
    ds, model, objective = build_problem(run)
    t = run["trainer"]
    trainer = build_trainer(t, run["lam"])
    # a huge λ overflows E = D + R to inf: the record says so (null, "diverged"), not a numpy warning;
    # runs are the sweep's unit of parallel work, so each one keeps to one thread
    with np.errstate(over="ignore", invalid="ignore"), backend.use(threads=1):
        res = trainer.fit(objective, seed=run_seed(run["id"]), callback=callback)
    theta = res.theta
    w = theta[model.weight_mask]
    sq, zeros = weight_stats(theta, model.weight_mask)
    scale = ds.target_scale if ds.task == "regression" else 1.0
    scores = {}
    for split, X, y in (("train", ds.X_train, ds.y_train), ("val", ds.X_val, ds.y_val),
                        ("test", ds.X_test, ds.y_test)):
        for key, v in _split_scores(model, theta, X, y, objective.loss, ds.task, scale).items():
            scores[f"{split}_{key}"] = v
    history = res.history
    diversity = history.get("diversity")
    zero = np.zeros(model.n_params)
    trivial = _split_scores(model, trivial_theta(model, ds.y_train, objective.loss), ds.X_test, ds.y_test,
                            objective.loss, ds.task)["loss"]
    with np.errstate(all="ignore"):  # a diverged run's θ: no number rather than a warning
        lam_eff, residual = effective_l2(objective, theta)
    record = records.new_record(
        id=run["id"], spec_hash=None, sweep=run.get("sweep", ""), dataset=run["dataset"], task=ds.task,
        trainer=t["name"], kind=t["kind"], lam=run["lam"], lam_as=t["lam_as"],
        canonical_lam=_number(MEANINGS[t["lam_as"]].canonical(run["lam"], trainer.config, problem_of(objective))),
        penalty=MEANINGS[t["lam_as"]].canonical_penalty(run["penalty"]), seed=run["seed"],
        cv=run.get("cv", 0), fold=run.get("fold"),
        run_seed=run_seed(run["id"]),
        config={k: v for k, v in run.items() if k not in ("id", "sweep")},
        trainer_config=res.config,
        value=_number(res.value), data_loss=_number(res.data_loss), penalty_value=_number(res.penalty),
        weight_sq_norm=_number(sq), zero_fraction=zeros,
        near_zero_fraction=float(np.mean(np.abs(w) < NEAR_ZERO)) if w.size else 0.0,
        effective_weights=effective_weights(theta, model.weight_mask),
        saturation=_number(saturation(model, theta, ds.X_train)),
        final_diversity=_number(diversity[-1]) if diversity is not None and len(diversity) else None,
        zero_value=_number(objective(zero)), trivial_test_loss=trivial,
        effective_lam=_number(lam_eff), effective_lam_residual=_number(residual),
        forward_samples=int(res.forward_samples), backward_samples=int(res.backward_samples),
        iterations=int(res.iterations), seconds=float(res.seconds), status=res.status, backend=backend.resolve(),
        theta=[_number(x) for x in theta.tolist()],
        history={k: [_number(x) for x in np.asarray(v).tolist()] for k, v in _thin(res.history).items()},
        **scores,
    )
    return json.loads(json.dumps(record, default=list))  # plain JSON types only
