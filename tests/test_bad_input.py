"""Bad input: one table of mistakes across the Python API, the CLI, sweep specs and CSV files.

Every entry must fail with ``ValueError`` (the CLI: exit status 2 and exactly one line on
stderr, no traceback) whose message names the culprit — the argument, the setting, the
spec key, or the file with its line and column — and must leave every file as it was:
the working folder is snapshotted (paths, bytes, mtimes) before and after each entry.
"""

from __future__ import annotations

import copy
import math
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from swarmreg import conventions, sweep
from swarmreg.backprop import BackpropTrainer
from swarmreg.cli import main
from swarmreg.data import load_csv, load_dataset
from swarmreg.model import MLP
from swarmreg.objective import L1, L2, ElasticNet, RegularizedError, make_penalty
from swarmreg.reference import LBFGSTrainer
from swarmreg.report import make_report
from swarmreg.swarm import SwarmTrainer

# ------------------------------------------------------------------ fixtures of the table
X4 = np.array([[0.0, 1.0], [1.0, -1.0], [2.0, 0.5], [-1.0, 3.0]])
Y4 = np.array([0.5, -0.2, 1.0, 0.0])
LABELS4 = np.array([0, 1, 2, 1])


def net(output="identity", k=1):
    return MLP((2, 3, k), hidden="tanh", output=output)


def objective(output="identity", k=1, y=Y4, **kw):
    return RegularizedError(net(output, k), X4, y, **kw)


def theta(model):
    return model.init(0)


# A spec that is valid and quick: every bad spec below is one edit of it.
SPEC = """\
name = "tiny"
datasets = ["iris"]
seeds = [0]
penalty = "l2"
lambdas = [0.0, 1e-2]

[model]
hidden = [2]
activation = "tanh"

[[trainers]]
name = "bp"
kind = "backprop"
lr = 0.1
epochs = 2

[[trainers]]
name = "pso"
kind = "swarm"
particles = 4
iterations = 2
"""

CSV_GOOD = "a,b,y\n1,2,x\n3,4,z\n5,6,x\n7,8,z\n9,10,x\n11,12,z\n"
RESULTS_LINE = '{"id": "0123456789abcdef", "status": "max_iter"}\n'


def edited(old: str, new: str) -> str:
    assert old in SPEC, old
    return SPEC.replace(old, new, 1)


def dict_spec(**changes) -> dict:
    spec = {"datasets": ["iris"], "seeds": [0], "lambdas": [0.0], "model": {"hidden": [2]},
            "trainers": [{"name": "pso", "kind": "swarm", "particles": 4, "iterations": 2}]}
    spec.update(changes)
    return spec


# ------------------------------------------------------------------ the table
@dataclass(frozen=True)
class Bad:
    """One bad input.

    ``call(work)`` runs it in the folder ``work`` (the current directory): for the API it
    must raise, for the CLI it returns the argument list of ``swarmreg``.  ``match`` is a
    regular expression the message (or the stderr line) must contain; ``files`` are
    (name, bytes) written into ``work`` before the snapshot.
    """

    id: str
    call: Callable[[Path], object]
    match: str
    files: tuple = ()
    cli: bool = False


def api(id, call, match, files=()):
    return Bad(id, call, match, tuple(files))


def cli(id, argv, match, files=()):
    return Bad(id, lambda w: [a.format(w=w) for a in argv], match, tuple(files), cli=True)


def csv_case(id, content, match, **kw):
    name = f"{id.replace(' ', '_')}.csv"
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    return Bad(f"csv: {id}", lambda w: load_csv(w / name, "y", **kw), match, ((name, data),))


def spec_case(id, text, match):
    """A bad spec file given to run_sweep: it must fail before ``out`` exists."""
    return Bad(f"spec: {id}", lambda w: sweep.run_sweep(w / "spec.toml", w / "out", progress=False),
               match, (("spec.toml", text if isinstance(text, bytes) else text.encode("utf-8")),))


TRAIN = ["train", "--dataset", "iris", "--trainer", "swarm", "--hidden", "2",
         "--set", "particles=4", "--set", "iterations=2"]
BLOCKER = ("blocker", b"a regular file where a folder is expected\n")

TABLE = [
    # --- the model
    api("MLP: one width only", lambda w: MLP((3,)), r"sizes needs at least an input and an output"),
    api("MLP: zero width", lambda w: MLP((3, 0, 1)), r"sizes must all be >= 1"),
    api("MLP: fractional width", lambda w: MLP((2.5, 3)), r"sizes"),
    api("MLP: sizes not numbers", lambda w: MLP("wide"), r"sizes must be a sequence of positive integers"),
    api("MLP: unknown hidden", lambda w: MLP((2, 1), hidden="swish"), r"hidden='swish'.*valid: tanh"),
    api("MLP: unknown output", lambda w: MLP((2, 1), output="softplus"), r"output='softplus'.*valid"),
    api("MLP: softmax with one output", lambda w: MLP((2, 1), output="softmax"), r"output='softmax'.*at least 2"),
    api("MLP: theta too long", lambda w: net().forward(np.zeros(net().n_params + 1), X4),
        r"theta must have shape \(13,\)"),
    api("MLP: theta of strings", lambda w: net().predict(np.array(["a"] * 13), X4), r"theta must be numeric"),
    api("MLP: X 1-D", lambda w: net().forward(theta(net()), X4[0]), r"X must be 2-D"),
    api("MLP: X wrong width", lambda w: net().forward(theta(net()), np.ones((3, 5))), r"X has 5 columns.*2 inputs"),
    api("MLP: X with NaN", lambda w: net().forward(theta(net()), np.array([[0.0, 1.0], [np.nan, 2.0]])),
        r"X holds 1 NaN/inf value\(s\); the first at index \(1, 0\)"),
    # --- the regularized error
    api("objective: row counts differ", lambda w: RegularizedError(net(), X4, Y4[:3]), r"X has 4 rows but y has 3"),
    api("objective: y with inf", lambda w: objective(y=np.array([0.0, np.inf, 1.0, 2.0])),
        r"y holds 1 NaN/inf value\(s\); the first at index 1"),
    api("objective: label out of range", lambda w: objective("softmax", 3, y=np.array([0, 1, 3, 1])),
        r"y labels must lie in 0\.\.2.*y\[2\] = 3"),
    api("objective: label not an integer", lambda w: objective("softmax", 3, y=np.array([0.0, 1.5, 2.0, 1.0])),
        r"integer labels; y\[1\] = 1\.5"),
    api("objective: y width", lambda w: objective(y=np.ones((4, 2))), r"y has width 2 but the model has 1 outputs"),
    api("objective: unknown loss", lambda w: objective(loss="hinge"), r"loss='hinge'.*valid: mse"),
    api("objective: cross_entropy on identity", lambda w: objective(loss="cross_entropy"),
        r"loss='cross_entropy' needs output='softmax'"),
    api("objective: bce target outside [0, 1]", lambda w: objective("sigmoid", 1, y=Y4),
        r"binary_cross_entropy must lie in \[0, 1\]"),
    api("objective: penalty by name", lambda w: objective(penalty="l2"), r"penalty must be L2, L1, ElasticNet"),
    api("objective: dtype unknown", lambda w: objective(dtype="banana"), r"dtype"),
    api("objective: max_memory not a number", lambda w: objective(max_memory="big"), r"max_memory"),
    api("objective: regularize_bias not a bool", lambda w: objective(regularize_bias="no"), r"regularize_bias"),
    api("objective: no rows", lambda w: RegularizedError(net(), np.zeros((0, 2)), np.zeros(0)), r"X has no rows"),
    api("objective: batch of one theta", lambda w: objective().batch(theta(net())), r"thetas must have shape \(P, 13\)"),
    api("objective: rows out of range", lambda w: objective().value_and_grad(theta(net()), rows=[0, 4]),
        r"rows must be sample indices in 0\.\.3"),
    api("objective: rows of floats", lambda w: objective().value_and_grad(theta(net()), rows=[0.5]), r"rows"),
    api("objective: rows 2-D", lambda w: objective().value_and_grad(theta(net()), rows=[[0, 1], [2, 3]]), r"rows"),
    api("objective: rows empty", lambda w: objective().value_and_grad(theta(net()), rows=np.array([], int)),
        r"rows selects no samples"),
    # --- penalties
    api("L2: negative lam", lambda w: L2(-0.1), r"lam must be finite and >= 0, got -0\.1"),
    api("L1: NaN lam", lambda w: L1(float("nan")), r"lam must be finite and >= 0, got nan"),
    api("L2: lam not a number", lambda w: L2("big"), r"lam must be a real number, got 'big'"),
    api("ElasticNet: infinite l1", lambda w: ElasticNet(l1=math.inf, l2=0.1), r"l1 must be finite"),
    api("make_penalty: unknown kind", lambda w: make_penalty("l3", 0.1), r"penalty='l3'.*valid: l2, l1, elastic"),
    api("make_penalty: l1_ratio above 1", lambda w: make_penalty("elastic", 0.1, l1_ratio=1.5), r"l1_ratio"),
    api("make_penalty: l1_ratio not a number", lambda w: make_penalty("elastic", 0.1, l1_ratio="half"), r"l1_ratio"),
    # --- trainers: settings and fit arguments
    api("backprop: lr 0", lambda w: BackpropTrainer(lr=0), r"lr must be finite and > 0"),
    api("backprop: lr NaN", lambda w: BackpropTrainer(lr=float("nan")), r"lr must be finite"),
    api("backprop: epochs 0", lambda w: BackpropTrainer(epochs=0), r"epochs must be >= 1"),
    api("backprop: fractional batch_size", lambda w: BackpropTrainer(batch_size=2.5), r"batch_size must be an integer"),
    api("backprop: momentum 1", lambda w: BackpropTrainer(momentum=1.0), r"momentum must be a number in \[0, 1\)"),
    api("backprop: unknown decay", lambda w: BackpropTrainer(decay="adamw"), r"decay='adamw'.*valid: coupled"),
    api("backprop: unknown l1 mode", lambda w: BackpropTrainer(l1="lasso"), r"l1='lasso'.*valid: subgradient"),
    api("backprop: negative decay_fraction", lambda w: BackpropTrainer(decay_fraction=-0.1), r"decay_fraction must be"),
    api("backprop: shuffle not a bool", lambda w: BackpropTrainer(shuffle="yes"), r"shuffle must be True or False"),
    api("backprop: theta0 wrong shape", lambda w: BackpropTrainer(epochs=1).fit(objective(), np.zeros(3)),
        r"theta0 must have shape \(13,\)"),
    api("backprop: theta0 NaN", lambda w: BackpropTrainer(epochs=1).fit(objective(), np.full(13, np.nan)),
        r"theta0 holds NaN"),
    api("backprop: objective not one", lambda w: BackpropTrainer(epochs=1).fit(lambda t: 0.0),
        r"objective must be a RegularizedError"),
    api("backprop: callback not callable", lambda w: BackpropTrainer(epochs=1).fit(objective(), callback=3),
        r"callback must be callable"),
    api("backprop: negative seed", lambda w: BackpropTrainer(epochs=1).fit(objective(), seed=-1), r"seed"),
    api("swarm: one particle", lambda w: SwarmTrainer(particles=1), r"particles must be >= 2"),
    api("swarm: unknown topology", lambda w: SwarmTrainer(topology="star"), r"topology='star'.*valid: global, ring"),
    api("swarm: ring too large", lambda w: SwarmTrainer(particles=4, topology="ring", neighbors=2),
        r"neighbors=2 is too large for 4 particles"),
    api("swarm: bounds reversed", lambda w: SwarmTrainer(bounds=(1.0, -1.0)), r"bounds needs low < high"),
    api("swarm: init_range outside bounds", lambda w: SwarmTrainer(init_range=(-20.0, 20.0)),
        r"init_range=\(-20\.0, 20\.0\) must lie within bounds"),
    api("swarm: init_range wider than floats", lambda w: SwarmTrainer(
        bounds=None, init_range=(-1e308, 1e308), particles=2, iterations=1).fit(objective(), seed=0), r"init_range"),
    api("swarm: v_max 0", lambda w: SwarmTrainer(v_max=0.0), r"v_max must be finite and > 0"),
    api("swarm: patience 0", lambda w: SwarmTrainer(patience=0), r"patience must be >= 1"),
    api("swarm: theta0 outside bounds", lambda w: SwarmTrainer(iterations=1).fit(objective(), np.full(13, 50.0)),
        r"theta0 lies outside bounds"),
    api("lbfgs: max_iter 0", lambda w: LBFGSTrainer(max_iter=0), r"max_iter must be >= 1"),
    api("lbfgs: negative tol", lambda w: LBFGSTrainer(tol=-1e-3), r"tol must be finite and > 0"),
    api("lbfgs: theta0 inf", lambda w: LBFGSTrainer().fit(objective(), np.full(13, np.inf)), r"theta0 holds NaN/inf"),
    # --- conventions
    api("conventions: negative Nielsen lam", lambda w: conventions.from_nielsen(-1.0, 100), r"lam must be finite"),
    api("conventions: zero samples", lambda w: conventions.from_nielsen(1.0, 0), r"\bn must be >= 1"),
    api("conventions: batch_size 0", lambda w: conventions.to_minibatch_items(1.0, 0), r"batch_size must be >= 1"),
    api("conventions: sklearn loss unknown", lambda w: conventions.from_sklearn_mlp(1e-3, 100, "hinge"),
        r"loss='hinge'"),
    api("conventions: decay fraction with lr 0", lambda w: conventions.from_decoupled_fraction(0.1, 0.0),
        r"lr must be finite and > 0"),
    api("conventions: decay fraction with momentum 1", lambda w: conventions.to_decoupled_fraction(0.1, 0.1, 1.0),
        r"momentum"),
    # --- data sets
    api("load_dataset: unknown name", lambda w: load_dataset("mnist"), r"unknown data set 'mnist'; valid names: iris"),
    api("load_dataset: negative seed", lambda w: load_dataset("iris", seed=-1), r"seed must be a non-negative integer"),
    api("load_dataset: test_fraction 0", lambda w: load_dataset("iris", test_fraction=0.0),
        r"test_fraction must be a number in \(0, 1\)"),
    api("load_dataset: validation_fraction 1", lambda w: load_dataset("iris", validation_fraction=1.0),
        r"validation_fraction must be a number in \[0, 1\)"),
    api("load_dataset: n_samples on a real set", lambda w: load_dataset("iris", n_samples=10),
        r"n_samples applies only to the synthetic"),
    api("load_dataset: too few samples", lambda w: load_dataset("sine", n_samples=2), r"n_samples must be an integer"),
    api("load_dataset: negative noise", lambda w: load_dataset("moons", noise=-0.1), r"noise must be a finite number"),
    api("load_dataset: fractions leave no training", lambda w: load_dataset("iris", test_fraction=0.9,
                                                                          validation_fraction=0.95),
        r"test_fraction=0\.9 and validation_fraction=0\.95 leave no training sample"),
    # --- CSV files
    csv_case("ragged", "a,b,y\n1,2,x\n3,4\n", r"ragged\.csv: line 3: ragged row: expected 3 fields"),
    csv_case("empty", "", r"empty\.csv: the file is empty"),
    csv_case("header only", "a,b,y\n", r"header_only\.csv: no data rows after the header \(line 1\)"),
    csv_case("non-numeric", CSV_GOOD.replace("3,4,z", "3,four,z"),
             r"non-numeric\.csv: line 3, column 'b': non-numeric value 'four'"),
    csv_case("NaN cell", CSV_GOOD.replace("5,6,x", "NaN,6,x"), r"NaN_cell\.csv: line 4, column 'a': NaN/inf value"),
    csv_case("overflowing cell", CSV_GOOD.replace("7,8", "7,1e999"),
             r"line 5, column 'b': value '1e999' overflows to infinity"),
    csv_case("empty cell", CSV_GOOD.replace("9,10,x", "9,,x"), r"line 6, column 'b': empty cell"),
    csv_case("missing target", CSV_GOOD.replace("a,b,y", "a,b,label"),
             r"missing_target\.csv: line 1: target column 'y' not found; the columns are: a, b, label"),
    csv_case("single class", "a,b,y\n1,2,x\n3,4,x\n5,6,x\n", r"single_class\.csv: column 'y': a single class 'x'"),
    csv_case("duplicate column", CSV_GOOD.replace("a,b,y", "a,a,y"), r"line 1: duplicate column name 'a'"),
    csv_case("not UTF-8", b"a,b,y\n1,2,x\n3,\xff,z\n", r"not_UTF-8\.csv: line 3: not UTF-8"),
    csv_case("unclosed quote", 'a,b,y\n1,2,x\n3,"4,z\n', r"unclosed_quote\.csv: line 3: malformed CSV"),
    csv_case("text target as regression", CSV_GOOD, r"line 2, column 'y': non-numeric value 'x' in a regression",
             task="regression"),
    csv_case("NA in a numeric target", "a,b,y\n1,2,0.5\n3,4,1.5\n5,6,0.5\n7,8,NA\n9,10,1.5\n11,12,0.5\n",
             r"NA_in_a_numeric_target\.csv: line 5, column 'y': non-numeric value 'NA' in a target .*"
             r"task=\"classification\""),
    api("csv: missing file", lambda w: load_csv(w / "nope.csv", "y"), r"nope\.csv: cannot read the file"),
    api("csv: empty target name", lambda w: load_csv(w / "good.csv", " "), r"target must be a non-empty column name",
        files=[("good.csv", CSV_GOOD.encode())]),
    api("csv: unknown task", lambda w: load_csv(w / "good.csv", "y", task="clustering"), r"task must be None",
        files=[("good.csv", CSV_GOOD.encode())]),
    # --- sweep specs (files through run_sweep, and dicts through parse_spec)
    spec_case("malformed TOML", edited("seeds = [0]", "seeds = = [0]"),
              r"spec .*spec\.toml: malformed TOML: .*\(at line 3, column 9\)"),
    spec_case("not UTF-8", SPEC.encode().replace(b"tiny", b"t\xffny"), r"spec .*spec\.toml: not UTF-8"),
    spec_case("unknown top key", "lambda = 0.1\n" + SPEC, r"spec .*: unknown key 'lambda'; valid keys: name"),
    spec_case("unknown trainer key", edited("lr = 0.1", "learning_rate = 0.1"),
              r"trainer 'bp': unknown key 'learning_rate'; valid keys"),
    spec_case("unknown model key", edited('activation = "tanh"', 'activation = "tanh"\ndropout = 0.5'),
              r"model: unknown key 'dropout'"),
    spec_case("seeds of the wrong type", edited("seeds = [0]", 'seeds = "three"'), r"seeds must be"),
    spec_case("negative lambda", edited("lambdas = [0.0, 1e-2]", "lambdas = [0.0, -1e-2]"),
              r"lambdas must be a non-empty list of finite numbers >= 0"),
    spec_case("lambda too large for a float", edited("lambdas = [0.0, 1e-2]", "lambdas = [0.0, 1" + "0" * 400 + "]"),
              r"lambdas must be"),
    spec_case("NaN lambda", edited("lambdas = [0.0, 1e-2]", "lambdas = [nan]"), r"lambdas must be"),
    spec_case("lambda_range stop below start", edited("lambdas = [0.0, 1e-2]",
                                                      "lambda_range = {start = 1.0, stop = 0.1, num = 3}"),
              r"lambda_range\.stop must be a number >= start"),
    spec_case("impossible swarm", edited("particles = 4", "particles = 1"), r"trainer 'pso': particles must be >= 2"),
    spec_case("impossible ring", edited("particles = 4", 'particles = 4\ntopology = "ring"\nneighbors = 2'),
              r"trainer 'pso': neighbors=2 is too large for 4 particles"),
    spec_case("impossible momentum", edited("lr = 0.1", "lr = 0.1\nmomentum = 1.5"),
              r"trainer 'bp': momentum must be a number in \[0, 1\)"),
    spec_case("setting of the wrong type", edited("epochs = 2", 'epochs = "two"'), r"trainer 'bp': epochs must be"),
    spec_case("setting too large for a float", edited("lr = 0.1", "lr = " + "9" * 400), r"trainer 'bp': lr"),
    spec_case("unknown trainer kind", edited('kind = "swarm"', 'kind = "adam"'),
              r"trainer 'pso': kind must be one of backprop, swarm, lbfgs, cmaes, got 'adam'"),
    spec_case("trainer kind a list", edited('kind = "swarm"', 'kind = ["swarm"]'), r"trainer 'pso': kind"),
    spec_case("unknown data set", edited('datasets = ["iris"]', 'datasets = ["mnist"]'),
              r"datasets: unknown data set 'mnist'; valid: iris"),
    spec_case("unknown activation", edited('activation = "tanh"', 'activation = "swish"'),
              r"model\.activation must be one of tanh"),
    spec_case("unknown penalty", edited('penalty = "l2"', 'penalty = "l0"'), r"penalty must be one of"),
    spec_case("decay_fraction on lbfgs", edited('kind = "swarm"\nparticles = 4\niterations = 2',
                                                'kind = "lbfgs"\nlam_as = "decay_fraction"'),
              r"trainer 'pso': lam_as = \"decay_fraction\" needs kind = 'backprop'"),
    spec_case("test_fraction 0", "test_fraction = 0.0\n" + SPEC, r"test_fraction"),
    spec_case("loss the network cannot have", 'loss = "binary_cross_entropy"\n' + SPEC, r"loss"),
    api("spec: not a table", lambda w: sweep.parse_spec(["iris"]), r"a spec must be a table, got list"),
    api("spec: missing trainers", lambda w: sweep.parse_spec({"datasets": ["iris"], "lambdas": [0.0]}),
        r"missing key 'trainers'"),
    api("spec: duplicate trainer names", lambda w: sweep.parse_spec(dict_spec(trainers=[
        {"name": "a", "kind": "swarm"}, {"name": "a", "kind": "lbfgs"}])), r"name 'a' is used twice"),
    api("spec: infinite init_range", lambda w: sweep.parse_spec(dict_spec(trainers=[
        {"kind": "swarm", "bounds": "none", "init_range": [-math.inf, 1.0]}])),
        r"trainer 'swarm': init_range must be finite"),
    api("load_spec: missing file", lambda w: sweep.load_spec(w / "nope.toml"), r"spec .*nope\.toml: no such file"),
    # --- output folders that cannot be written
    api("run_sweep: out under a regular file", lambda w: sweep.run_sweep(
        w / "spec.toml", w / "blocker" / "out", progress=False), r"out .*blocker/out: .*blocker is not a folder",
        files=[("spec.toml", SPEC.encode()), BLOCKER]),
    api("run_sweep: out is a regular file", lambda w: sweep.run_sweep(
        w / "spec.toml", w / "blocker", progress=False), r"out .*blocker: exists and is not a folder",
        files=[("spec.toml", SPEC.encode()), BLOCKER]),
    api("make_report: no results", lambda w: make_report(results=w / "empty", out=w / "fig", progress=False),
        r"results .*empty: no results\.jsonl", files=[("empty/.keep", b"")]),
    api("make_report: jobs 0", lambda w: make_report(results=w / "res", out=w / "fig", jobs=0, progress=False),
        r"jobs must be an integer >= 1", files=[("res/results.jsonl", RESULTS_LINE.encode())]),
    api("make_report: out is a regular file", lambda w: make_report(results=w / "res", out=w / "blocker",
                                                                    progress=False),
        r"out .*blocker: exists and is not a folder", files=[("res/results.jsonl", RESULTS_LINE.encode()), BLOCKER]),
    api("make_report: out under a regular file", lambda w: make_report(results=w / "res", out=w / "blocker" / "fig",
                                                                       progress=False),
        r"out .*blocker/fig", files=[("res/results.jsonl", RESULTS_LINE.encode()), BLOCKER]),
    # --- the command line
    cli("cli: unknown command", ["frobnicate"], r"unknown command 'frobnicate'"),
    cli("cli: unknown trainer", ["train", "--dataset", "iris", "--trainer", "adam"],
        r"unknown trainer 'adam'"),
    cli("cli: missing --dataset", ["train", "--trainer", "swarm"], r"required: --dataset"),
    cli("cli: unknown data set", ["train", "--dataset", "mnist", "--trainer", "swarm"], r"unknown data set 'mnist'"),
    cli("cli: lam not a number", [*TRAIN, "--lam", "big"], r"--lam: invalid float value: 'big'"),
    cli("cli: negative lam", [*TRAIN, "--lam", "-0.5"], r"--lam must be a finite number >= 0"),
    cli("cli: NaN lam", [*TRAIN, "--lam", "nan"], r"--lam must be a finite number >= 0"),
    cli("cli: unknown penalty", [*TRAIN, "--penalty", "l0"], r"unknown penalty 'l0'"),
    cli("cli: impossible setting", [*TRAIN, "--set", "particles=1"], r"trainer 'swarm': particles must be >= 2"),
    cli("cli: setting of the wrong type", [*TRAIN, "--set", "c1=true"], r"trainer 'swarm': c1 must be a number"),
    cli("cli: unknown setting", [*TRAIN, "--set", "warp=9"], r"trainer 'swarm': unknown key 'warp'"),
    cli("cli: --set without a key", [*TRAIN, "--set", "=3"], r"--set takes KEY=VALUE"),
    cli("cli: init_range wider than floats", [*TRAIN, "--set", 'bounds="none"', "--set", "init_range=[-1e308, 1e308]"],
        r"init_range"),
    cli("cli: malformed spec", ["sweep", "{w}/spec.toml", "--out", "{w}/out", "--jobs", "1"],
        r"malformed TOML: .*\(at line 1, column 8\)", files=[("spec.toml", b"name = = 'x'\n")]),
    cli("cli: spec with a bad value", ["sweep", "{w}/spec.toml", "--out", "{w}/out", "--jobs", "1"],
        r"spec .*: trainer 'bp': epochs must be >= 1", files=[("spec.toml", edited("epochs = 2", "epochs = 0").encode())]),
    cli("cli: spec the run rejects", ["sweep", "{w}/spec.toml", "--out", "{w}/out", "--jobs", "1"],
        r"test_fraction", files=[("spec.toml", ("test_fraction = 0.0\n" + SPEC).encode())]),
    cli("cli: out under a regular file", ["sweep", "{w}/spec.toml", "--out", "{w}/blocker/out", "--jobs", "1"],
        r"out .*blocker/out: .*blocker is not a folder", files=[("spec.toml", SPEC.encode()), BLOCKER]),
    cli("cli: jobs 0", ["sweep", "{w}/spec.toml", "--out", "{w}/out", "--jobs", "0"], r"--jobs must be >= 1",
        files=[("spec.toml", SPEC.encode())]),
    cli("cli: report from nothing", ["report", "--results", "{w}/nothing", "--out", "{w}/fig"],
        r"results .*nothing: no results\.jsonl"),
    cli("cli: report out under a regular file", ["report", "--results", "{w}/res", "--out", "{w}/blocker/fig"],
        r"out .*blocker/fig: .*blocker is not a folder", files=[("res/results.jsonl", RESULTS_LINE.encode()), BLOCKER]),
]


# ------------------------------------------------------------------ the checks
def snapshot(root: Path) -> dict:
    """Every path under root (root included): its type, mtime and, for files, bytes."""
    out = {}
    for p in [root, *sorted(root.rglob("*"))]:
        s = p.lstat()
        content = p.read_bytes() if stat.S_ISREG(s.st_mode) else None
        out[p.relative_to(root).as_posix()] = (stat.S_IFMT(s.st_mode), s.st_mtime_ns, content)
    return out


@pytest.mark.parametrize("case", TABLE, ids=[c.id for c in TABLE])
def test_bad_input_is_refused_and_changes_nothing(case, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    for name, data in case.files:
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    monkeypatch.chdir(work)  # a default output folder would land here, inside the snapshot
    before = snapshot(work)
    if case.cli:
        argv = case.call(work)
        capsys.readouterr()
        try:
            status = main(argv)
        except BaseException as exc:  # noqa: BLE001 - any escape is the failure being tested
            pytest.fail(f"swarmreg {' '.join(argv)} raised {type(exc).__name__}: {exc}")
        captured = capsys.readouterr()
        assert status == 2, (status, captured.err)
        assert "Traceback" not in captured.err
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].strip(), f"expected one line on stderr, got {captured.err!r}"
        message = lines[0]
    else:
        try:
            case.call(work)
        except Exception as exc:  # noqa: BLE001 - the type is checked below
            error = exc
        else:
            pytest.fail("no error raised")
        assert isinstance(error, ValueError), f"{type(error).__name__}: {error}"
        message = str(error)
        assert message.strip()
    assert re.search(case.match, message), f"{case.match!r} not found in {message!r}"
    assert snapshot(work) == before, "a file was created or changed"


def test_table_counts_at_least_40_bad_inputs():
    ids = [c.id for c in TABLE]
    assert len(set(ids)) == len(ids), "duplicate ids"
    assert len(TABLE) >= 40
    kinds = {"api": sum(not c.cli and not c.id.startswith(("csv:", "spec:")) for c in TABLE),
             "cli": sum(c.cli for c in TABLE), "csv": sum(c.id.startswith("csv:") for c in TABLE),
             "spec": sum(c.id.startswith("spec:") for c in TABLE)}
    assert all(n >= 5 for n in kinds.values()), kinds


# ------------------------------------------------------------------ spec parser fuzz
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.just(10**400), st.floats(allow_nan=True),
                     st.text(max_size=8), st.sampled_from(["iris", "sine", "swarm", "backprop", "lbfgs", "tanh",
                                                           "l2", "elastic", "none", "ring", "weight_decay",
                                                           "decay_fraction"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                       max_leaves=8)
_TRAINER_KEYS = ["name", "kind", "lam_as", "lr", "epochs", "batch_size", "momentum", "decay", "weight_decay",
                 "decay_fraction", "l1", "shuffle", "particles", "iterations", "inertia", "topology", "neighbors",
                 "bounds", "init_range", "v_max", "patience", "max_iter", "tol", "speed"]
_TOP_KEYS = ["name", "datasets", "seeds", "penalty", "l1_ratio", "lambdas", "lambda_range", "loss", "test_fraction",
             "validation_fraction", "model", "trainers", "extra"]


@st.composite
def spec_dicts(draw):
    """Spec-shaped dicts: mostly the right keys, with values of any TOML-like type."""
    spec = draw(st.dictionaries(st.sampled_from(_TOP_KEYS), _VALUES, max_size=6))
    if draw(st.booleans()):
        spec["datasets"] = draw(st.sampled_from([["iris"], ["sine"], "moons", ["iris", "nope"]]))
        spec["lambdas"] = draw(st.one_of(st.lists(st.floats(allow_nan=True), min_size=1, max_size=3), _VALUES))
        spec.pop("lambda_range", None)
    if draw(st.booleans()):
        spec["model"] = draw(st.fixed_dictionaries({}, optional={"hidden": st.one_of(
            st.lists(st.integers(-1, 4), max_size=2), _VALUES), "activation": _VALUES}))
    spec["trainers"] = draw(st.lists(st.dictionaries(st.sampled_from(_TRAINER_KEYS), _VALUES, max_size=5)
                                     .map(lambda t: t if "kind" in t else {**t, "kind": "swarm"}),
                                     min_size=0, max_size=2) | _VALUES)
    return spec


BASE_SPEC = tomllib.loads(SPEC)
_NASTY = st.sampled_from([10**400, [10**400], [0.0, 10**400], ["swarm"], {"a": 1}, -1, 0, [], {}, "none", "",
                          math.nan, [math.inf], [-1e-3], [2, 3], [[1]], True])


@st.composite
def mutated_specs(draw):
    """The valid SPEC with one to three keys replaced by any value, removed or added."""
    spec = copy.deepcopy(BASE_SPEC)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "model", "trainer"]))
        if where == "top":
            table, keys = spec, _TOP_KEYS
        elif where == "model" and isinstance(spec.get("model"), dict):
            table, keys = spec["model"], ["hidden", "activation", "width"]
        elif where == "trainer" and isinstance(spec.get("trainers"), list) and spec["trainers"] \
                and all(isinstance(t, dict) for t in spec["trainers"]):
            table, keys = draw(st.sampled_from(spec["trainers"])), _TRAINER_KEYS
        else:
            continue
        key = draw(st.sampled_from(keys))
        if draw(st.integers(0, 5)) == 0:
            table.pop(key, None)
        else:
            table[key] = draw(st.one_of(_VALUES, _NASTY))
    return spec


@settings(max_examples=200, deadline=None, derandomize=True)
@given(spec=st.one_of(spec_dicts(), mutated_specs()))
def test_fuzz_spec_dicts_give_a_spec_or_a_value_error(spec):
    note(f"spec = {spec!r}")
    try:
        out = sweep.parse_spec(spec)
    except ValueError as exc:
        assert str(exc).startswith("spec"), str(exc)
        return
    assert out.datasets and out.seeds and out.lambdas and out.trainers
    assert all(math.isfinite(lam) and lam >= 0 for lam in out.lambdas)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=200),
                      st.lists(st.sampled_from(SPEC.splitlines(keepends=True)), max_size=25).map("".join),
                      st.tuples(st.integers(0, len(SPEC)), st.integers(0, 40), st.text(max_size=6)).map(
                          lambda t: SPEC[:t[0]] + t[2] + SPEC[t[0] + t[1]:])))
def test_fuzz_spec_files_give_a_spec_or_a_value_error(tmp_path, text):
    path = tmp_path / "fuzz.toml"
    try:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return
    try:
        sweep.load_spec(path)
    except ValueError as exc:
        assert str(path) in str(exc), str(exc)
