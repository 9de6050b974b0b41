"""A sweep record: its fields, declared once, and what is computed from records.

A record is the plain JSON object one run leaves in ``results.jsonl``.  Its
fields are declared here, in :data:`FIELDS`, and nowhere else: the sweep
builds records with :func:`new_record`, which refuses a missing or unknown
field, and the store checks every record it reads with :func:`problem`.
Figures (:mod:`swarmreg.plots`) and the report (:mod:`swarmreg.report`) read
records only, through the selections and summaries below.

The analysis: which runs finished (:func:`finished`), which records measure
a penalty strength λ and which a convention (:func:`main_records`,
:func:`convention_records`), medians and quartiles over seeds by λ
(:func:`summarize`), the best λ chosen on validation error only
(:func:`best_lambda`, :func:`best_lambda_rows`), the gap to the L-BFGS
reference on the same problem (:func:`objective_gaps`), and paired
comparisons of the trainers across seeds (:func:`comparisons`, with :mod:`swarmreg.stats`).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from . import checks
from .result import STATUSES

__all__ = ["FIELDS", "FIELD_NAMES", "SPLITS", "SPLIT_SCORES", "Field", "new_record", "problem", "with_defaults",
           "REFERENCE_KIND", "PENALTY", "finished", "convention_sweeps", "main_records", "trainer_names",
           "kind_of", "summarize", "best_lambda", "objective_gaps", "best_lambda_rows", "comparisons", "paired_test_loss",
           "transition_lambda", "quartiles", "median_curve", "median_curve_on_log_grid", "median", "middle_lambda",
           "decay_envelope", "datasets", "fit_curves", "convention_records", "convention_crossings",
           "box_edge_fractions", "TASKS", "GRADIENT_FREE", "VARIANT_SWEEP", "ADAPTIVE_SWEEP", "adaptive_records",
           "optimizer_of", "effective_lambda_rows", "ON_DIAGONAL_FACTOR", "GAP_SHARE", "GAP_FLOOR",
           "variant_records", "gap_allowed", "reference_failures", "BEATEN", "failing_lambdas", "judged_lambdas", "reference_medians", "diversity_curves", "EFFECTIVE_WEIGHT", "SATURATED_TANH", "SATURATED_SIGMOID"]

TASKS = ("classification", "regression")
SPLITS = ("train", "val", "test")
SPLIT_SCORES = ("loss", "accuracy", "rmse")
REFERENCE_KIND = "lbfgs"
#: Trainers that see only values of E.
GRADIENT_FREE = ("swarm", "cmaes")
#: The built-in sweep of swarm variants: drawn in its own figure, kept out of the others.
VARIANT_SWEEP = "report-swarm"
VARIANT_SWEEPS = (VARIANT_SWEEP, VARIANT_SWEEP + "-quick")  # and its quick version (see swarmreg.report)
#: The built-in sweep of λ conventions: drawn in the convention figure only.
CONVENTION_SWEEP = "report-conventions"
CONVENTION_SWEEPS = (CONVENTION_SWEEP, CONVENTION_SWEEP + "-quick")
#: The built-in sweep of SGD, Adam and AdamW under L2: drawn in its own figure, kept out of the others.
ADAPTIVE_SWEEP = "report-adaptive"
ADAPTIVE_SWEEPS = (ADAPTIVE_SWEEP, ADAPTIVE_SWEEP + "-quick")
#: An effective λ is "the nominal one" (on the diagonal) when its median is within this factor of it.
ON_DIAGONAL_FACTOR = 1.1
#: A trainer minimizes E when its median E is within max(GAP_SHARE · E_ref, GAP_FLOOR) of the reference's.
GAP_SHARE = 0.05
GAP_FLOOR = 0.01
#: A trainer beats the reference when its E is lower by more than this, relative to max(1, |E|).
BEATEN = 1e-6
#: The ``lam_as`` of records whose λ is the canonical penalty strength.
PENALTY = "penalty"

_HEX16 = re.compile(r"[0-9a-f]{16}\Z")
#: A weight counts towards the effective size of a network above this |w|
#: (inputs are standardized, so such a weight moves its unit by 1 % of a
#: standard deviation of its input).
EFFECTIVE_WEIGHT = 0.01
#: A hidden activation is saturated beyond these (Rakitianskaia & Engelbrecht,
#: "Saturation in PSO neural network training: good or evil?", IEEE CEC 2015,
#: measure the share of such activations).
SATURATED_TANH = 0.95
SATURATED_SIGMOID = 0.05


@dataclass(frozen=True)
class Field:
    """One field of a record: its name, the JSON type it holds, what it means.

    ``type`` is one of: "id" (16 hex digits), "id?" (the same or null), "str",
    "task", "status", "int" (>= 0), "number" (finite), "number?" (finite or
    null: a non-finite result is stored as null), "fraction" (in [0, 1]),
    "table" (an object), "config" (a run's configuration: an object with at least
    seed, test_fraction, validation_fraction, model {hidden, activation} and
    trainer {settings}), "numbers" (a list of "number?"), "columns" (an object
    of equal-length lists of "number?").  Integers are below 2**64 (a run seed is a uint64).
    """

    name: str
    type: str
    doc: str
    #: The value a record read from disk takes when it lacks the field (only for fields added
    #: after records were first written); fields without one are required.
    default: object = "required"


FIELDS = (
    Field("id", "id", "the run's identity: a hash of its whole configuration"),
    Field("spec_hash", "id?", "hash of the sweep spec the run belongs to (null outside a sweep)", default=None),
    Field("sweep", "str", "the sweep's name (a label, not part of the id)"),
    Field("dataset", "str", "the data set"),
    Field("task", "task", "classification or regression"),
    Field("trainer", "str", "the trainer configuration's name"),
    Field("kind", "str", "backprop, swarm, lbfgs or cmaes"),
    Field("lam", "number", "λ as the spec gives it (in the convention ``lam_as`` names)"),
    Field("lam_as", "str", "what λ means for this run (see swarmreg.sweep.meaning)"),
    Field("canonical_lam", "number?", "λ in swarmreg's canonical convention"),
    Field("penalty", "str", "what canonical_lam is the strength of: the spec's penalty (l2, l1 or elastic), "
                            "or l2 where λ is a decay fraction"),
    Field("seed", "int", "the replicate seed (the data split)"),
    Field("cv", "int", "folds of the sweep's cross-validation (0: none; λ chosen on the validation part)",
          default=0),
    Field("fold", "int?", "with cv: the fold this run left out and was validated on, or null for the run on "
                          "the whole training part (scored on the test part)", default=None),
    Field("run_seed", "int", "the training seed, drawn from the id"),
    Field("config", "config", "the run's whole configuration (what the id hashes)"),
    Field("trainer_config", "table", "every setting of the trainer, defaults included"),
    Field("value", "number?", "E = D + R at the solution, training data"),
    Field("data_loss", "number?", "D at the solution, training data"),
    Field("penalty_value", "number?", "R at the solution"),
    Field("weight_sq_norm", "number?", "Σw² of the solution (weights only)"),
    Field("zero_fraction", "fraction", "share of weights exactly 0"),
    Field("near_zero_fraction", "fraction", "share of weights with |w| < 1e-3"),
    Field("effective_weights", "number?", f"weights with |w| > {EFFECTIVE_WEIGHT:g}: the effective size of the "
                                          "network", default=None),
    Field("saturation", "number?", "share of hidden activations on the training data that are saturated: "
                                   f"|tanh| > {SATURATED_TANH:g}, a sigmoid within {SATURATED_SIGMOID:g} of 0 or 1 "
                                   "(null for other activations or no hidden layer)", default=None),
    Field("final_diversity", "number?", "a swarm's last diversity: mean distance of the particles to their "
                                        "centroid (null for other trainers)", default=None),
    Field("zero_value", "number?", "E of the all-zero network θ = 0 on the training data", default=None),
    Field("trivial_test_loss", "number?", "test data loss of the trivial predictor: every weight 0 and the "
                                          "output bias fitted on the training part (class prior or mean)",
          default=None),
    Field("effective_lam", "number?", "the L2 strength the solution is closest to being stationary for: "
                                      "λ* = −(∇_w D·w)/(w·w) on the training data "
                                      "(swarmreg.conventions.effective_l2; null without weights)", default=None),
    Field("effective_lam_residual", "number?", "how far the solution is from stationary at effective_lam: "
                                               "‖∇_w D + λ*·w‖ / ‖∇_w D‖", default=None),
    Field("forward_samples", "int", "single-sample forward passes spent"),
    Field("backward_samples", "int", "single-sample backward passes spent"),
    Field("iterations", "int", "epochs, swarm iterations or L-BFGS iterations"),
    Field("seconds", "number", "wall time of the fit"),
    Field("backend", "str", "what ran the hot loops: numpy, or numba (the fast extra); a seed gives one result "
                            "per backend", default="numpy"),
    Field("status", "status", "max_iter, converged, stalled, diverged or stopped"),
    Field("theta", "numbers", "the solution's parameter vector"),
    Field("history", "columns", "at most 200 evenly spaced rows of the trainer's history"),
    *(Field(f"{split}_{score}", "number?", f"{what} on the {split} part")
      for split in SPLITS for score, what in (("loss", "data loss D"), ("accuracy", "accuracy"),
                                              ("rmse", "RMSE in the target's units"))),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
_TYPES = {f.name: f.type for f in FIELDS}


def new_record(**fields) -> dict:
    """A record from exactly the declared fields (a missing or unknown name is a bug)."""
    missing = [n for n in FIELD_NAMES if n not in fields]
    unknown = [n for n in fields if n not in _TYPES]
    if missing or unknown:
        raise TypeError(f"record fields: missing {missing}, unknown {unknown}")
    return {n: fields[n] for n in FIELD_NAMES}


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _type_problem(kind: str, v) -> str | None:
    """Why ``v`` is not of the field type ``kind``, or None."""
    if kind == "id":
        ok = isinstance(v, str) and _HEX16.match(v)
    elif kind == "id?":
        ok = v is None or (isinstance(v, str) and _HEX16.match(v))
    elif kind == "str":
        ok = isinstance(v, str)
    elif kind == "task":
        ok = v in TASKS
    elif kind == "status":
        ok = v in STATUSES
    elif kind == "int":
        ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64
    elif kind == "int?":
        ok = v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64)
    elif kind == "number":
        ok = _is_number(v)
    elif kind == "number?":
        ok = v is None or _is_number(v)
    elif kind == "fraction":
        ok = _is_number(v) and 0.0 <= v <= 1.0
    elif kind == "table":
        ok = isinstance(v, dict)
    elif kind == "config":
        return _config_problem(v)
    elif kind == "numbers":
        ok = isinstance(v, list) and all(x is None or _is_number(x) for x in v)
    elif kind == "columns":
        ok = (isinstance(v, dict) and all(isinstance(c, list) for c in v.values())
              and len({len(c) for c in v.values()}) <= 1
              and all(x is None or _is_number(x) for c in v.values() for x in c))
    else:  # pragma: no cover - a field declared with an unknown type
        raise AssertionError(kind)
    return None if ok else f"{kind} expected"


def _config_problem(v) -> str | None:
    """Why ``v`` is not a run's configuration, or None."""
    if not isinstance(v, dict):
        return "config expected"
    model, trainer = v.get("model"), v.get("trainer")
    if not (_type_problem("int", v.get("seed")) is None and _is_number(v.get("test_fraction"))
            and _is_number(v.get("validation_fraction"))):
        return "config with seed, test_fraction and validation_fraction expected"
    if not (isinstance(model, dict) and isinstance(model.get("hidden"), list)
            and all(isinstance(h, int) and not isinstance(h, bool) and 0 < h < 2**63 for h in model["hidden"])
            and isinstance(model.get("activation"), str)):
        return "config with model {hidden, activation} expected"
    if not (isinstance(trainer, dict) and isinstance(trainer.get("settings"), dict)):
        return "config with trainer {settings} expected"
    return None


def problem(obj) -> str | None:
    """What makes ``obj`` not a record (the first missing or mistyped field), or None."""
    if not isinstance(obj, dict):
        return f"a JSON object expected, got {type(obj).__name__}"
    for f in FIELDS:
        if f.name not in obj:
            if f.default != "required":
                continue
            return f"no field {f.name!r}"
        why = _type_problem(f.type, obj[f.name])
        if why:
            return f"field {f.name!r}: {why}, got {checks.short(obj[f.name], 40)}"
    return None


def with_defaults(record: dict) -> dict:
    """A record read from disk with the fields it predates filled in (see :attr:`Field.default`)."""
    for f in FIELDS:
        if f.name not in record:
            record[f.name] = f.default
    return record


# ------------------------------------------------------------------ cross-validation
VAL_METRICS = ("val_loss", "val_accuracy", "val_rmse")


def cross_validated(records: list) -> list:
    """The records a report draws from: those of a sweep without ``cv`` as they are; of a sweep with
    ``cv = k``, the run on the whole training part of each (data set, trainer, λ, seed), its validation
    numbers replaced by their mean over its k folds (so that λ is chosen by cross-validation; the fold
    runs, which keep each fold's numbers, are left out).  A run whose folds are not all there, or
    not all finite, gets no validation numbers (null).  Records already drawn this way pass through.

    Parameters
    ----------
    records : list of dict

    Returns
    -------
    list of dict
        New dicts where numbers changed; the others as given, in the given order.
    """
    def key(r):
        config = {k: v for k, v in r["config"].items() if k != "fold"}
        return r["spec_hash"], json.dumps(config, sort_keys=True)

    folds = {}
    for r in records:
        if r.get("cv") and r.get("fold") is not None:
            folds.setdefault(key(r), []).append(r)
    out = []
    for r in records:
        if not r.get("cv"):
            out.append(r)
        elif r.get("fold") is None:
            fs = folds.get(key(r))
            if fs is not None:
                r = dict(r)
                for m in VAL_METRICS:
                    vals = [f[m] for f in fs]
                    whole = len({f["fold"] for f in fs}) == r["cv"] and all(v is not None for v in vals)
                    r[m] = float(np.mean(vals)) if whole else None
            out.append(r)
    return out


def fold_runs(records) -> int:
    """How many of the records are cross-validation folds."""
    return sum(1 for r in records if r.get("cv") and r.get("fold") is not None)


# ------------------------------------------------------------------ selection
def finished(r: dict) -> bool:
    """A record that finished with a finite E (diverged runs are left out of curves)."""
    return r["status"] != "diverged" and r["value"] is not None


def convention_sweeps(records) -> set:
    """Names of the sweeps that study conventions: those with records whose λ is not a penalty strength."""
    return {r["sweep"] for r in records if r["lam_as"] != PENALTY}


def main_records(records, penalty: str = "l2") -> list[dict]:
    """Records whose λ is a penalty strength of the given kind, outside the built-in sweeps drawn in
    figures of their own (conventions, swarm variants, adaptive optimizers).

    In any other sweep a trainer whose λ means something else (a decay fraction, say) is left out
    here and drawn by the convention figure, and the sweep's other trainers stay in."""
    skip = set(CONVENTION_SWEEPS) | set(VARIANT_SWEEPS) | set(ADAPTIVE_SWEEPS)
    return [r for r in records if r["penalty"] == penalty and r["lam_as"] == PENALTY and r["sweep"] not in skip]


def variant_records(records) -> list[dict]:
    """The records the swarm-variant figure compares: those of the sweep named
    :data:`VARIANT_SWEEP` when there is one, else the gradient-free trainers
    and the reference of the L2 records."""
    mine = [r for r in records if r["sweep"] in VARIANT_SWEEPS and r["lam_as"] == PENALTY]
    if mine:
        return mine
    return [r for r in main_records(records) if r["kind"] in GRADIENT_FREE + (REFERENCE_KIND,)]


def optimizer_of(r: dict) -> str:
    """A backprop record's step rule ("sgd" for records that predate Adam); "" for other kinds."""
    return r["trainer_config"].get("optimizer", "sgd") if r["kind"] == "backprop" else ""


def adaptive_records(records) -> list[dict]:
    """The records the adaptive-decay figure compares: the backprop L2 records (λ a penalty strength)
    of the sweep named :data:`ADAPTIVE_SWEEP` when there is one, else of every sweep that has an
    Adam record."""
    def l2_backprop(r):
        return r["kind"] == "backprop" and r["penalty"] == "l2" and r["lam_as"] == PENALTY

    mine = [r for r in records if r["sweep"] in ADAPTIVE_SWEEPS and l2_backprop(r)]
    if mine:
        return mine
    sweeps = {r["sweep"] for r in records if optimizer_of(r) == "adam"}
    return [r for r in records if r["sweep"] in sweeps and l2_backprop(r)]


def effective_lambda_rows(records) -> list[dict]:
    """Per data set and trainer: how the effective L2 strength of its solutions
    (``effective_lam``, :func:`swarmreg.conventions.effective_l2`) compares with the nominal λ,
    over the λ > 0 with finished runs.

    Each row: "dataset", "trainer", "optimizer", "decay", "momentum", "lams" (nominal λ), "ratio" (median
    effective/nominal per λ), "residual" (median residual per λ), "worst_factor" (the largest
    max(ratio, 1/ratio) over λ; inf where a ratio is not positive), "on_diagonal" (every λ within
    :data:`ON_DIAGONAL_FACTOR`)."""
    rows = []
    for ds in datasets(records):
        drecs = [r for r in records if r["dataset"] == ds and r["lam"] > 0]
        for name in trainer_names(drecs):
            mine = [r for r in drecs if r["trainer"] == name and finished(r)
                    and r.get("effective_lam") is not None and r.get("effective_lam_residual") is not None]
            lams = sorted({r["lam"] for r in mine})
            if not lams:
                continue
            ratio = [median([r["effective_lam"] / r["lam"] for r in mine if r["lam"] == lam]) for lam in lams]
            residual = [median([r["effective_lam_residual"] for r in mine if r["lam"] == lam]) for lam in lams]
            factors = [max(x, 1 / x) if x is not None and x > 0 else math.inf for x in ratio]
            first = next(r for r in mine)
            rows.append({"dataset": ds, "trainer": name, "optimizer": optimizer_of(first),
                         "decay": first["trainer_config"].get("decay", ""),
                         "momentum": first["trainer_config"].get("momentum", 0.0), "lams": lams, "ratio": ratio,
                         "residual": residual, "worst_factor": max(factors),
                         "on_diagonal": all(f <= ON_DIAGONAL_FACTOR for f in factors)})
    return rows


def gap_allowed(reference_value: float) -> float:
    """How far above the reference's E a trainer may end and still count as
    minimizing E: max(5 % of it, 0.01)."""
    return max(GAP_SHARE * abs(reference_value), GAP_FLOOR)


def judged_lambdas(records, reference: dict, trainer: str, dataset: str) -> list[float]:
    """The λ of a trainer's records on a data set at which the reference has a finished run."""
    return sorted({float(r["lam"]) for r in records if r["trainer"] == trainer and r["dataset"] == dataset
                   and reference.get((dataset, float(r["lam"]))) is not None})


def failing_lambdas(records, gaps, reference: dict, trainer: str, dataset: str) -> list[float]:
    """The λ (of :func:`judged_lambdas`) at which a trainer fails to minimize E: its
    median objective gap over seeds exceeds :func:`gap_allowed` of the reference's
    median E there, or none of its runs finished.  Never any λ for the reference itself.

    Parameters
    ----------
    records : the records the gaps were computed from
    gaps : records with "gap" (see :func:`objective_gaps`)
    reference : {(dataset, λ): median E of the reference} (:func:`reference_medians`)
    """
    if any(r["trainer"] == trainer and r["kind"] == REFERENCE_KIND for r in records):
        return []  # the reference is what the others are judged against (see reference_failures)
    mine = [r for r in gaps if r["trainer"] == trainer and r["dataset"] == dataset]
    xs, med, _, _ = summarize(mine, "gap")
    gap = {float(x): m for x, m in zip(xs, med)}
    return [lam for lam in judged_lambdas(records, reference, trainer, dataset)
            if lam not in gap or gap[lam] > gap_allowed(reference[dataset, lam])]


def reference_medians(records) -> dict:
    """{(dataset, λ): median E of the reference over seeds}."""
    groups = defaultdict(list)
    for r in records:
        if r["kind"] == REFERENCE_KIND and finished(r):
            groups[r["dataset"], r["lam"]].append(r["value"])
    return {k: median(v) for k, v in groups.items()}


def reference_failures(records) -> list[dict]:
    """Where the L-BFGS reference itself falls short, per data set: runs that stopped at their
    iteration limit, and problems (λ, seed) on which another trainer reached a lower E by more
    than :data:`BEATEN` relative — there the reference is not the optimum it stands for.

    Returns
    -------
    list of dict
        ``dataset``, ``runs`` (reference runs), ``limit`` ({λ: runs at the iteration limit}),
        ``problems`` (reference runs another trainer also ran), ``beaten`` ({trainer: problems it beat
        the reference on}), ``beaten_problems`` (problems beaten by anyone) and ``worst`` (the
        record with the most negative gap, or None).
    """
    gaps = objective_gaps(records)
    ref = [r for r in records if r["kind"] == REFERENCE_KIND and finished(r)]
    out = []
    for ds in datasets(ref):
        mine = [r for r in ref if r["dataset"] == ds]
        limit = defaultdict(int)
        for r in mine:
            if r["status"] == "max_iter":
                limit[r["lam"]] += 1
        others = [g for g in gaps if g["dataset"] == ds]
        beaten = [g for g in others if g["gap"] < -BEATEN * max(1.0, abs(g["value"] - g["gap"]))]
        by = defaultdict(int)
        for g in beaten:
            by[g["trainer"]] += 1
        out.append({"dataset": ds, "runs": len(mine), "limit": dict(sorted(limit.items())),
                    "problems": len({(g["penalty"], g["lam"], g["seed"]) for g in others}), "beaten": dict(by),
                    "beaten_problems": len({(g["penalty"], g["lam"], g["seed"]) for g in beaten}),
                    "worst": min(beaten, key=lambda g: g["gap"]) if beaten else None})
    return out


def trainer_names(records) -> list[str]:
    """Trainer configuration names in order of first appearance, the reference last."""
    names = list(dict.fromkeys(r["trainer"] for r in records))
    reference = {r["trainer"] for r in records if r["kind"] == REFERENCE_KIND}
    return sorted(names, key=lambda n: n in reference)


def convention_records(records, dataset: str | None = None):
    """The records the convention figure compares, on one data set (the first one by default):
    backprop records of the convention sweeps, L2.  Returns (dataset, records); the records are
    empty when no record there measures a λ other than a penalty strength."""
    sweeps = convention_sweeps(records)
    recs = [r for r in records if r["sweep"] in sweeps and r["kind"] == "backprop" and r["penalty"] == "l2"]
    if dataset is None and recs:
        dataset = datasets(recs)[0]
    recs = [r for r in recs if r["dataset"] == dataset]
    return dataset, recs if any(r["lam_as"] != PENALTY for r in recs) else []


def convention_crossings(recs):
    """Where each configuration's median test-loss curve first reaches a level every curve reaches
    (halfway from the lowest minimum to the lowest maximum), against the raw knob λ and against the
    canonical λ.

    Returns
    -------
    level : float or None
    crossings : dict of (trainer, "lam" or "canonical_lam") to float or None
    """
    names = trainer_names(recs)
    curves = {(n, x): summarize([r for r in recs if r["trainer"] == n], "test_loss", x=x)[:2]
              for n in names for x in ("lam", "canonical_lam")}
    curves = {k: v for k, v in curves.items() if len(v[0])}
    if not curves:
        return None, {}
    low = min(float(m.min()) for _, m in curves.values())
    level = low + 0.5 * min(float(m.max()) for _, m in curves.values()) - 0.5 * low  # halves first: no overflow
    return level, {k: transition_lambda(xs, med, level) for k, (xs, med) in curves.items()}


def box_edge_fractions(records) -> list[float]:
    """For each finished swarm record at λ = 0: the share of its parameters on the edge of its box."""
    out = []
    for r in records:
        bounds = r["trainer_config"].get("bounds")
        if r["kind"] == "swarm" and isinstance(bounds, list) and len(bounds) == 2 and r["lam"] == 0 \
                and r["theta"] and finished(r):
            theta = _floats(r["theta"])
            out.append(float(np.mean((theta <= bounds[0]) | (theta >= bounds[1]))))
    return out


def diversity_curves(records, trainer: str, dataset: str) -> dict:
    """{λ: (iterations, median diversity over seeds)} of one swarm configuration
    on one data set, from the histories (seeds with the same rows only)."""
    out = {}
    for lam in sorted({r["lam"] for r in records if r["trainer"] == trainer and r["dataset"] == dataset}):
        rows = [r["history"] for r in records if r["trainer"] == trainer and r["dataset"] == dataset
                and r["lam"] == lam and finished(r) and r["history"].get("diversity")]
        if not rows:
            continue
        it = rows[0].get("iteration", [])
        same = [_floats(h["diversity"]) for h in rows if h.get("iteration") == it and len(h["diversity"]) == len(it)]
        if same and len(it):
            out[lam] = (_floats(it), np.nanmedian(np.vstack(same), axis=0))
    return out


def kind_of(records, name: str) -> str:
    """The trainer kind of the configuration ``name``."""
    return next(r["kind"] for r in records if r["trainer"] == name)


def datasets(records) -> list[str]:
    """Data set names in order of first appearance."""
    return list(dict.fromkeys(r["dataset"] for r in records))


# ------------------------------------------------------------------ summaries
def median(values):
    """Median of the finite values, or None."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    return quartiles(v)[0] if v else None


def quartiles(values) -> tuple[float, float, float]:
    """Median, Q1, Q3 of finite values, computed so that no huge value overflows."""
    v = np.sort(np.asarray(values, dtype=float))
    if not v.size:
        raise ValueError("quartiles of no values")
    scale = float(np.max(np.abs(v))) or 1.0
    q = np.percentile(v / scale, [50, 25, 75]) * scale
    return float(q[0]), float(q[1]), float(q[2])


def summarize(records, key: str, x: str = "lam"):
    """Median and quartiles of ``key`` over seeds, per value of ``x``.

    Returns
    -------
    xs, median, q1, q3 : ndarray, each of shape (m,)
        Sorted x values with at least one finished record whose ``key`` is finite.
    """
    groups = defaultdict(list)
    for r in records:
        v, at = r.get(key), r.get(x)
        if finished(r) and v is not None and math.isfinite(v) and at is not None and math.isfinite(at):
            groups[at].append(v)
    xs = np.array(sorted(groups), dtype=float)
    if not len(xs):
        return xs, xs, xs, xs
    q = np.array([quartiles(groups[v]) for v in xs])
    return xs, q[:, 0], q[:, 1], q[:, 2]


def best_lambda(records, trainer: str, dataset: str, key: str = "val_loss"):
    """The λ with the smallest median validation error of one trainer on one data set
    (never chosen on test error); None when nothing finished."""
    xs, med, _, _ = summarize([r for r in records if r["trainer"] == trainer and r["dataset"] == dataset], key)
    return None if not len(xs) else float(xs[int(np.argmin(med))])


def objective_gaps(records) -> list[dict]:
    """E reached minus the reference's E on the same data set, penalty, λ and seed, per record."""
    ref = {(r["dataset"], r["penalty"], r["lam"], r["seed"]): r["value"]
           for r in records if r["kind"] == REFERENCE_KIND and finished(r)}
    out = []
    for r in records:
        key = (r["dataset"], r["penalty"], r["lam"], r["seed"])
        if r["kind"] != REFERENCE_KIND and finished(r) and key in ref:
            gap = r["value"] - ref[key]
            if math.isfinite(gap):
                out.append({**r, "gap": gap})
    return out


def best_lambda_rows(records) -> list[dict]:
    """Per data set and trainer: the best λ (validation), and the test numbers, gap and cost there."""
    recs = main_records(records)
    gaps = {r["id"]: r["gap"] for r in objective_gaps(recs)}
    rows = []
    for ds in datasets(recs):
        drecs = [r for r in recs if r["dataset"] == ds]
        for name in trainer_names(drecs):
            lam = best_lambda(drecs, name, ds)
            at = [r for r in drecs if r["trainer"] == name and r["lam"] == lam and finished(r)]
            if lam is None or not at:
                continue
            task = at[0]["task"]
            score = "test_accuracy" if task == "classification" else "test_rmse"
            rows.append({
                "dataset": ds, "trainer": name, "kind": at[0]["kind"], "lam": lam, "task": task,
                "test_loss": [r["test_loss"] for r in at], "score": [r[score] for r in at],
                "trivial_test_loss": [r.get("trivial_test_loss") for r in at],
                "gap": [gaps.get(r["id"]) for r in at], "seconds": [r["seconds"] for r in at],
                "forward": [r["forward_samples"] for r in at], "backward": [r["backward_samples"] for r in at],
                "n": len(at),
                "diverged": sum(r["status"] == "diverged" for r in drecs if r["trainer"] == name),
            })
    return rows


def paired_test_loss(records, row) -> dict:
    """Test loss by seed of one best-λ row's trainer at its λ: {seed: loss} (finite values only)."""
    return {r["seed"]: r["test_loss"] for r in records
            if r["dataset"] == row["dataset"] and r["trainer"] == row["trainer"] and r["lam"] == row["lam"]
            and finished(r) and r["test_loss"] is not None and math.isfinite(r["test_loss"])}


def comparisons(records, best_rows) -> list:
    """Every pair of trainers on every data set, each at its own validation-chosen λ, compared on test
    loss paired by seed (:func:`swarmreg.stats.compare`); the list is one family, Holm-adjusted."""
    from . import stats

    recs = main_records(records)
    out = []
    for ds in dict.fromkeys(r["dataset"] for r in best_rows):
        rows = [r for r in best_rows if r["dataset"] == ds]
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                x, y = paired_test_loss(recs, a), paired_test_loss(recs, b)
                seeds = sorted(set(x) & set(y))
                if len(seeds) >= 2:
                    out.append(stats.compare(ds, a["trainer"], b["trainer"], a["lam"], b["lam"],
                                             [x[s] for s in seeds], [y[s] for s in seeds]))
    return stats.adjust(out)


def transition_lambda(xs, med, level):
    """Where a median curve first reaches ``level``: log-linear interpolation
    between the grid points around the crossing (None if it never does, or
    already does at λ = 0)."""
    xs, med = np.asarray(xs, float), np.asarray(med, float)
    above = med >= level
    if not above.any():
        return None
    k = int(np.argmax(above))
    if k == 0:
        return float(xs[0]) if xs[0] > 0 else None
    if xs[k - 1] <= 0:
        return float(xs[k])
    with np.errstate(all="ignore"):  # curves of huge values: a crossing that overflows is not found
        t = (level - med[k - 1]) / (med[k] - med[k - 1])
        at = float(np.exp(np.log(xs[k - 1]) + t * (np.log(xs[k]) - np.log(xs[k - 1]))))
    return at if math.isfinite(at) else None


def median_curve(curves, grid):
    """Median and quartiles of step curves (x, y) evaluated on a common x grid.

    Before its first row a run has no value; after its last it stays where it
    stopped.  Returns (grid, median, q1, q3) restricted to grid points some
    curve covers, or None.
    """
    ys = []
    for x, y in curves:
        x, y = np.asarray(x, float), np.asarray(y, float)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any():
            ys.append(np.interp(grid, x[ok], y[ok], left=np.nan, right=y[ok][-1]))
    if not ys:
        return None
    ys = np.array(ys)
    ok = np.isfinite(ys).sum(axis=0) > 0
    if not ok.any():
        return None
    with np.errstate(all="ignore"):
        q = np.nanpercentile(ys[:, ok], [50, 25, 75], axis=0)
    return grid[ok], q[0], q[1], q[2]


def fit_curves(records, trainer: str, dataset: str, seed: int, points: int = 300):
    """The fitted functions of one trainer on a 1-input regression set, for one seed's split:
    at the smallest λ, at the best λ (validation) and at the largest λ.

    Returns
    -------
    dict or None
        "grid" (points,) raw inputs across the training range; "curves" [(label, y (points,))] in
        the target's units; "x_train", "y_train" the training data; "truth" the true curve of the
        synthetic set (None for others).  None when the trainer has no record of this seed or its
        network does not take one input.
    """
    from .data import load_dataset, sine_curve, quadratic_curve
    from .model import MLP

    rs = [r for r in records if r["trainer"] == trainer and r["dataset"] == dataset and r["seed"] == seed
          and finished(r)]
    if not rs:
        return None
    cfg = rs[0]["config"]
    ds = load_dataset(dataset, seed=seed, test_fraction=cfg["test_fraction"],
                      validation_fraction=cfg["validation_fraction"])  # the seed's split: the same for every λ
    if ds.task != "regression" or ds.n_features != 1:
        return None
    grid = np.linspace(ds.raw_X_train.min(), ds.raw_X_train.max(), points)
    lams = sorted({r["lam"] for r in rs})
    best = best_lambda(records, trainer, dataset)
    chosen = [(lams[0], f"λ = {lams[0]:.3g}"), (best, f"best λ = {best:.3g}" if best is not None else ""),
              (lams[-1], f"large λ = {lams[-1]:.3g}")]
    curves = []
    for lam, label in chosen:
        r = next((r for r in rs if r["lam"] == lam), None)
        if r is None or lam is None:
            continue
        model = MLP((1, *r["config"]["model"]["hidden"], 1), hidden=r["config"]["model"]["activation"])
        if len(r["theta"]) != model.n_params:  # a record edited by hand: nothing to draw
            continue
        theta = np.nan_to_num(_floats(r["theta"]))
        with np.errstate(all="ignore"):
            y = ds.unscale_target(model.forward(theta, ds.scale_features(grid[:, None]))[:, 0])
        curves.append((label, np.nan_to_num(y)))
    truth = {"sine": sine_curve, "quadratic": quadratic_curve}.get(dataset)
    return {"grid": grid, "curves": curves, "x_train": ds.raw_X_train[:, 0], "y_train": ds.unscale_target(ds.y_train),
            "truth": None if truth is None else truth(grid)}


def _floats(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def median_curve_on_log_grid(curves, points: int = 120):
    """:func:`median_curve` of curves [(x, y) lists, None for missing] on a log-spaced
    grid from the smallest positive x to the largest; None when no curve has one."""
    arrays = [(_floats(x), _floats(y)) for x, y in curves]
    xs = np.concatenate([x for x, _ in arrays]) if arrays else np.array([])
    xs = xs[np.isfinite(xs) & (xs > 0)]
    if not xs.size or xs.min() >= xs.max():
        return None
    return median_curve(arrays, np.geomspace(xs.min(), xs.max(), points))


def middle_lambda(records) -> float:
    """The middle positive λ of the records (0 when there is none): the one convergence is shown at."""
    pos = sorted({r["lam"] for r in records if r["lam"] > 0})
    return pos[len(pos) // 2] if pos else 0.0


#: Beyond this many steps the decay-alone curve is not drawn (it is computed one step at a time).
MAX_ENVELOPE_STEPS = 10**6


def decay_envelope(record):
    """Σw²(epoch)/Σw²(0) that a backprop record's own decay rules alone would give
    (data gradient zero), at the epochs of its history; None for other records.

    The rules are the trainer's (:func:`swarmreg.decay.pure_decay`), built from the
    record's trainer settings; steps per epoch follow from the samples it spent.
    """
    from .decay import STEP_SETTINGS, pure_decay

    settings = record["trainer_config"]
    if record["kind"] != "backprop" or record["penalty"] != "l2" or record["lam_as"] != PENALTY \
            or any(k not in settings for k in STEP_SETTINGS) \
            or (settings.get("optimizer") == "adam" and settings["decay"] == "coupled"):  # not linear in w
        return None
    epochs = np.asarray([0 if v is None else v for v in record["history"].get("iteration", [])], dtype=float)
    per_epoch = record["backward_samples"] / max(record["iterations"], 1)  # samples seen per epoch
    batch = settings.get("batch_size") or per_epoch
    per_step = int(math.ceil(per_epoch / batch)) if per_epoch else 1
    steps = epochs * per_step
    if not steps.size or steps.max() > MAX_ENVELOPE_STEPS:
        return None
    with np.errstate(over="ignore", invalid="ignore"):  # ηλ > 2: the decay alone explodes; drawn as far as finite
        try:
            return pure_decay(settings, record["lam"], steps.astype(np.int64), steps_per_epoch=per_step)
        except ValueError:  # settings a record was edited into: nothing to draw
            return None
