"""Tests of swarmreg.sweep: sweep specs, run ids and seeds, records, the results
file (resume, partial lines, lock) and identical records on every executor."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from swarmreg import sweep
from swarmreg.backprop import BackpropTrainer
from swarmreg.data import load_dataset
from swarmreg.model import MLP
from swarmreg.objective import RegularizedError, make_penalty
from swarmreg.swarm import SwarmTrainer

EXAMPLE = Path(str(resources.files("swarmreg") / "specs" / "example.toml"))

# A sweep of 8 quick runs touching every trainer kind and both uses of λ.
TINY = """\
name = "tiny"
datasets = ["iris"]
seeds = [0]
penalty = "l2"
lambdas = [0.0, 1e-2]

[model]
hidden = [3]
activation = "tanh"

[[trainers]]
name = "bp"
kind = "backprop"
lr = 0.1
epochs = 3
batch_size = 32
momentum = 0.9

[[trainers]]
name = "bp-fraction"
kind = "backprop"
lam_as = "decay_fraction"
epochs = 3

[[trainers]]
name = "swarm-ring"
kind = "swarm"
particles = 6
iterations = 5
topology = "ring"

[[trainers]]
name = "lbfgs"
kind = "lbfgs"
max_iter = 10
"""
TINY_RUNS = 8

# 12 runs of roughly 0.1 s each: long enough to kill a sweep part way.
SLOW = """\
name = "slow"
datasets = ["iris"]
seeds = [0, 1]
lambdas = [0.0, 1e-3, 1e-2, 1e-1, 0.3, 1.0]
[model]
hidden = [4]
[[trainers]]
name = "swarm"
kind = "swarm"
particles = 20
iterations = 1500
"""
SLOW_RUNS = 12


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def untimed(rec):
    """A record without its wall-clock fields, as canonical JSON text."""
    rec = json.loads(json.dumps(rec))
    rec.pop("seconds")
    rec["history"].pop("seconds", None)
    return json.dumps(rec, sort_keys=True)


def file_lines(folder):
    return (Path(folder) / sweep.RESULTS_FILE).read_bytes().splitlines(keepends=True)


def untimed_file(folder):
    """{id: untimed record} of a results file; fails on a duplicate id or an incomplete line."""
    out = {}
    for line in file_lines(folder):
        assert line.endswith(b"\n")
        rec = json.loads(line)
        assert rec["id"] not in out, "duplicate record"
        out[rec["id"]] = untimed(rec)
    return out


def tree(root):
    """Every path under root with its size and mtime (to see that nothing changed)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None
            for p in Path(root).rglob("*")}


# ------------------------------------------------------------------ spec parsing
def test_example_spec_parses_and_expands():
    spec = sweep.load_spec(EXAMPLE)
    assert spec.datasets == ("iris",)
    assert spec.seeds == (0, 1)  # seeds = 2 is a count
    assert spec.lambdas == (0.0, 1e-3, 1e-1)
    assert spec.model.to_toml() == {"hidden": [8], "activation": "tanh"}
    assert [t.name for t in spec.trainers] == ["backprop-coupled", "backprop-fraction", "swarm-global", "lbfgs"]
    assert [t.lam_as for t in spec.trainers] == ["penalty", "decay_fraction", "penalty", "penalty"]
    assert spec.trainers[0].settings == {"lr": 0.1, "epochs": 40, "batch_size": 16, "momentum": 0.9}
    assert spec.n_runs == 1 * 4 * 3 * 2
    runs = list(sweep.expand_runs(spec))
    assert len(runs) == 1 * 4 * 3 * 2
    assert len({r["id"] for r in runs}) == len(runs)
    combos = {(r["dataset"], r["trainer"]["name"], r["lam"], r["seed"]) for r in runs}
    assert len(combos) == len(runs)
    # the parsed spec survives its TOML-shaped form unchanged
    assert sweep.parse_spec(spec.to_toml()) == spec
    assert sweep.parse_spec(spec.to_toml()).hash == spec.hash


@pytest.mark.parametrize("zero", [True, False])
def test_lambda_range_is_log_spaced(tmp_path, zero):
    text = TINY.replace("lambdas = [0.0, 1e-2]",
                        f"[lambda_range]\nstart = 1e-4\nstop = 1.0\nnum = 5\nzero = {str(zero).lower()}")
    lams = list(sweep.load_spec(write(tmp_path, text)).lambdas)
    expected = [10.0 ** k for k in range(-4, 1)]  # five decades from 1e-4 to 1
    assert lams[:1] == ([0.0] if zero else [1e-4])
    np.testing.assert_allclose(lams[1:] if zero else lams, expected, rtol=1e-12)
    assert lams == sorted(lams)


def test_lambda_range_zero_defaults_to_true_and_seed_count():
    spec = sweep.parse_spec({"datasets": ["sine"], "seeds": 3, "lambda_range": {"start": 0.5, "stop": 0.5,
                                                                                     "num": 1},
                                  "trainers": [{"kind": "lbfgs"}]})
    assert spec.lambdas == (0.0, 0.5)
    assert spec.seeds == (0, 1, 2)
    assert [t.to_json() for t in spec.trainers] == [{"name": "lbfgs", "kind": "lbfgs", "lam_as": "penalty",
                                                     "settings": {}}]


def _edit(text, old, new):
    assert old in text
    return text.replace(old, new, 1)


TRAINER_BP = 'name = "bp"\nkind = "backprop"\n'
# (label, edit of TINY, words the message must contain)
BAD_SPECS = [
    ("unknown top key", lambda s: "lamdas = [0.1]\n" + s, ["'lamdas'", "valid keys", "lambdas", "trainers"]),
    ("unknown model key", lambda s: _edit(s, "hidden = [3]", "width = [3]"), ["'width'", "hidden, activation"]),
    ("unknown trainer key", lambda s: _edit(s, "lr = 0.1", "learning_rate = 0.1"),
     ["trainer 'bp'", "'learning_rate'", "lr", "epochs", "momentum"]),
    ("unknown lambda_range key", lambda s: _edit(s, "lambdas = [0.0, 1e-2]",
                                                 "[lambda_range]\nstart = 1e-3\nstop = 1.0\nnum = 3\nsteps = 4"),
     ["'steps'", "start, stop, num, zero"]),
    ("missing trainers", lambda s: s[:s.index("[[trainers]]")], ["missing key 'trainers'"]),
    ("missing datasets", lambda s: _edit(s, 'datasets = ["iris"]\n', ""), ["missing key 'datasets'"]),
    ("seeds wrong type", lambda s: _edit(s, "seeds = [0]", 'seeds = "two"'), ["seeds"]),
    ("seeds negative", lambda s: _edit(s, "seeds = [0]", "seeds = [-1]"), ["seeds"]),
    ("seeds count too large", lambda s: _edit(s, "seeds = [0]", "seeds = 1000000000000"), ["seeds"]),
    ("lambdas wrong type", lambda s: _edit(s, "lambdas = [0.0, 1e-2]", 'lambdas = "0.1"'), ["lambdas"]),
    ("negative lambda", lambda s: _edit(s, "lambdas = [0.0, 1e-2]", "lambdas = [0.0, -1e-3]"), ["lambdas", ">= 0"]),
    ("infinite lambda", lambda s: _edit(s, "lambdas = [0.0, 1e-2]", "lambdas = [inf]"), ["lambdas", "finite"]),
    ("nan lambda", lambda s: _edit(s, "lambdas = [0.0, 1e-2]", "lambdas = [nan]"), ["lambdas"]),
    ("empty lambdas", lambda s: _edit(s, "lambdas = [0.0, 1e-2]", "lambdas = []"), ["lambdas"]),
    ("both lambda grids", lambda s: _edit(s, "lambdas = [0.0, 1e-2]",
                                          "lambdas = [0.1]\n[lambda_range]\nstart = 1e-3\nstop = 1.0\nnum = 3"),
     ["exactly one", "lambdas", "lambda_range"]),
    ("lambda_range start 0", lambda s: _edit(s, "lambdas = [0.0, 1e-2]",
                                             "[lambda_range]\nstart = 0.0\nstop = 1.0\nnum = 3"),
     ["lambda_range.start"]),
    ("lambda_range stop < start", lambda s: _edit(s, "lambdas = [0.0, 1e-2]",
                                                  "[lambda_range]\nstart = 1.0\nstop = 0.1\nnum = 3"),
     ["lambda_range.stop"]),
    ("lambda_range num huge", lambda s: _edit(s, "lambdas = [0.0, 1e-2]",
                                              "[lambda_range]\nstart = 1e-3\nstop = 1.0\nnum = 1000000000000"),
     ["lambda_range.num"]),
    ("penalty unknown", lambda s: _edit(s, 'penalty = "l2"', 'penalty = "l3"'), ["penalty", "'l3'"]),
    ("l1_ratio out of range", lambda s: _edit(s, 'penalty = "l2"', 'penalty = "elastic"\nl1_ratio = 1.5'),
     ["l1_ratio"]),
    ("loss unknown", lambda s: "loss = \"hinge\"\n" + s, ["loss", "'hinge'"]),
    ("test_fraction 1", lambda s: "test_fraction = 1.0\n" + s, ["test_fraction"]),
    ("hidden wrong type", lambda s: _edit(s, "hidden = [3]", "hidden = 3"), ["model.hidden"]),
    ("hidden zero width", lambda s: _edit(s, "hidden = [3]", "hidden = [0]"), ["model.hidden"]),
    ("activation unknown", lambda s: _edit(s, 'activation = "tanh"', 'activation = "swish"'),
     ["model.activation", "'swish'"]),
    ("setting wrong type", lambda s: _edit(s, "epochs = 3\nbatch_size", "epochs = 2.5\nbatch_size"),
     ["trainer 'bp'", "epochs", "integer"]),
    ("setting string for number", lambda s: _edit(s, "lr = 0.1", 'lr = "fast"'), ["trainer 'bp'", "lr"]),
    ("setting bool for number", lambda s: _edit(s, "momentum = 0.9", "momentum = true"), ["momentum"]),
    ("setting bad value", lambda s: _edit(s, "lr = 0.1", "lr = -0.1"), ["trainer 'bp'", "lr"]),
    ("ring too small", lambda s: _edit(s, 'topology = "ring"', 'topology = "ring"\nneighbors = 3'),
     ["trainer 'swarm-ring'", "neighbors"]),
    ("duplicate trainer names", lambda s: _edit(s, 'name = "bp-fraction"', 'name = "bp"'), ["'bp'", "twice"]),
    ("unknown data set", lambda s: _edit(s, 'datasets = ["iris"]', 'datasets = ["irises"]'),
     ["unknown data set 'irises'", "iris, wine"]),
    ("data set path", lambda s: _edit(s, 'datasets = ["iris"]', 'datasets = ["../../x"]'), ["'../../x'"]),
    ("unknown kind", lambda s: _edit(s, 'kind = "lbfgs"', 'kind = "adam"'), ["kind", "backprop, swarm, lbfgs",
                                                                              "'adam'"]),
    ("missing kind", lambda s: _edit(s, 'kind = "lbfgs"\n', ""), ["trainer 'lbfgs'", "kind"]),
    ("decay_fraction on a swarm", lambda s: _edit(s, 'kind = "swarm"', 'kind = "swarm"\nlam_as = "decay_fraction"'),
     ["lam_as", "backprop"]),
    ("lam_as unknown", lambda s: _edit(s, 'lam_as = "decay_fraction"', 'lam_as = "decay"'), ["lam_as"]),
    ("decay_fraction twice", lambda s: _edit(s, 'lam_as = "decay_fraction"',
                                             'lam_as = "decay_fraction"\ndecay_fraction = 0.1'),
     ["decay_fraction", "set by λ"]),
    ("lam_as by its former name", lambda s: _edit(s, 'lam_as = "decay_fraction"', 'lam_as = "weight_decay"'),
     ["lam_as", '"weight_decay" is now called "decay_fraction"']),
    ("weight_decay by its former name", lambda s: _edit(s, "lr = 0.1", "lr = 0.1\nweight_decay = 0.1"),
     ["trainer 'bp'", "weight_decay is now called decay_fraction"]),
    ("validation_fraction 0", lambda s: "validation_fraction = 0.0\n" + s,
     ["validation_fraction must be > 0", "best λ is chosen on the validation part"]),
    ("nested 500 levels deep", lambda s: _edit(s, "lambdas = [0.0, 1e-2]", "lambdas = " + "[" * 500 + "]" * 500),
     ["nest too deeply"]),
    ("nested 7 levels deep", lambda s: _edit(s, "lambdas = [0.0, 1e-2]", "lambdas = [[[[[[[0.1]]]]]]]"),
     ["nest more than"]),
    ("control character in a name", lambda s: _edit(s, 'name = "bp"', 'name = "bp\\u001b[31m"'),
     ["the 1st [[trainers]] table", "printable"]),
    ("malformed TOML", lambda s: s.replace("lambdas = [0.0, 1e-2]", "lambdas = [0.0, 1e-2"), ["malformed TOML"]),
    ("duplicate TOML key", lambda s: 'name = "a"\n' + s, ["malformed TOML"]),
    ("name wrong type", lambda s: _edit(s, 'name = "tiny"', "name = 3"), ["name"]),
    ("lambda too large for a float", lambda s: _edit(s, "lambdas = [0.0, 1e-2]", "lambdas = [1" + "0" * 400 + "]"),
     ["lambdas"]),
    ("setting too large for a float", lambda s: _edit(s, "lr = 0.1", "lr = " + "9" * 400), ["trainer 'bp'", "lr"]),
    ("kind a list", lambda s: _edit(s, 'kind = "lbfgs"', 'kind = ["lbfgs"]'), ["trainer 'lbfgs'", "kind"]),
    ("test_fraction 0", lambda s: "test_fraction = 0.0\n" + s, ["test_fraction", "(0, 1)"]),
    ("fractions leave no training rows", lambda s: "test_fraction = 0.9\nvalidation_fraction = 0.95\n" + s,
     ["'iris'", "no training sample"]),
    ("loss the network cannot have", lambda s: 'loss = "binary_cross_entropy"\n' + s,
     ["loss 'binary_cross_entropy'", "'iris'"]),
    ("regression loss on classes", lambda s: 'loss = "mse"\n' + s, ["loss 'mse'", "'iris'"]),
    ("class loss on a regression set", lambda s: 'loss = "cross_entropy"\n' + _edit(s, '["iris"]', '["sine"]'),
     ["loss 'cross_entropy'", "'sine'"]),
]


@pytest.mark.parametrize("label, edit, words", BAD_SPECS, ids=[b[0] for b in BAD_SPECS])
def test_bad_spec_raises_and_writes_nothing(tmp_path, fake_executor, label, edit, words):
    spec = write(tmp_path, edit(TINY))
    before = tree(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        sweep.run_sweep(spec, out, progress=False, executor=fake_executor(lambda run: pytest.fail("a run started")))
    for word in words:
        assert word in str(err.value), (word, str(err.value))
    assert str(spec) in str(err.value)  # names the file
    assert not out.exists()
    assert tree(tmp_path) == before
    with pytest.raises(ValueError):  # the same from the dict-level parser or the file reader
        sweep.load_spec(spec)


TOO_BIG = [  # (edit of TINY, words of the refusal)
    (lambda s: _edit(s, "particles = 6", "particles = 1000000000"), ["trainers[2] (swarm-ring) on iris",
                                                                     "one run needs about", "GB", "available"]),
    (lambda s: _edit(s, "hidden = [3]", "hidden = [1000000000]"), ["network on iris has 8,000,000,003 parameters",
                                                                    "GB", "available"]),
]


@pytest.mark.parametrize("edit, words", TOO_BIG, ids=["a billion particles", "a billion hidden units"])
def test_runs_too_big_for_memory_are_refused_before_anything_is_written(tmp_path, fake_executor, edit, words):
    spec = write(tmp_path, edit(TINY))
    before = tree(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        sweep.run_sweep(spec, out, progress=False, executor=fake_executor(lambda run: pytest.fail("a run started")))
    for word in words:
        assert word in str(err.value), (word, str(err.value))
    assert str(spec) in str(err.value)
    assert not out.exists() and tree(tmp_path) == before


def test_more_workers_than_memory_for_them_are_refused(tmp_path, fake_executor, monkeypatch):
    from swarmreg import checks

    spec = write(tmp_path, TINY)
    monkeypatch.setattr(checks, "available_memory", lambda: 2 * sweep.WORKER_BYTES)
    many = fake_executor(lambda run: pytest.fail("a run started"))
    many.workers = 8  # a pool of 8 processes: 8 interpreters before any run
    with pytest.raises(ValueError, match=r"8 runs at once .* need about .*use fewer workers"):
        sweep.run_sweep(spec, tmp_path / "out", progress=False, executor=many)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("what", ["missing", "folder", "not utf-8"])
def test_bad_spec_file(tmp_path, what):
    path = tmp_path / "spec.toml"
    if what == "folder":
        path.mkdir()
    elif what == "not utf-8":
        path.write_bytes(TINY.encode("utf-8").replace(b'"tiny"', b'"\xff\xfe"'))
    out = tmp_path / "out"
    with pytest.raises(ValueError, match={"missing": "no such file", "folder": "is a folder",
                                          "not utf-8": "not UTF-8"}[what]):
        sweep.run_sweep(path, out, progress=False)
    assert not out.exists()


def test_spec_dict_that_is_not_a_table():
    with pytest.raises(ValueError, match="must be a table"):
        sweep.parse_spec(["iris"])


# ------------------------------------------------------------------ ids and seeds
IDS_CODE = ("import json, sys; from swarmreg import sweep as e; "
            "print(json.dumps([[r['id'], e.run_seed(r['id'])] for r in e.expand_runs(e.load_spec(sys.argv[1]))]))")


def test_ids_are_stable_across_processes(tmp_path):
    spec = write(tmp_path, TINY)
    here = [[r["id"], sweep.run_seed(r["id"])] for r in sweep.expand_runs(sweep.load_spec(spec))]
    for hashseed in ("1", "12345"):  # a different str-hash salt in each process
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        out = subprocess.run([sys.executable, "-c", IDS_CODE, str(spec)], capture_output=True, text=True,
                             env=env, check=True, timeout=60)
        assert json.loads(out.stdout) == here
    assert len({i for i, _ in here}) == TINY_RUNS


def test_id_is_the_hash_of_the_configuration_and_seed_comes_from_it():
    (run,) = sweep.expand_runs(sweep.parse_spec(
        {"datasets": ["sine"], "seeds": [4], "lambdas": [0.25], "trainers": [{"kind": "swarm", "particles": 4}]}))
    config = {k: v for k, v in run.items() if k not in ("id", "sweep")}
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    assert run["id"] == hashlib.sha256(text.encode()).hexdigest()[:16]
    expected_seed = int(np.random.SeedSequence(int(run["id"], 16)).generate_state(1, np.uint64)[0])
    assert sweep.run_seed(run["id"]) == expected_seed
    assert expected_seed != 4  # not the data seed


def test_ids_differ_when_any_config_value_differs():
    base = {"name": "a", "datasets": ["sine"], "seeds": [0], "lambdas": [1e-3], "penalty": "elastic",
            "l1_ratio": 0.5, "loss": "auto", "test_fraction": 0.25, "validation_fraction": 0.2,
            "model": {"hidden": [4], "activation": "tanh"},
            "trainers": [{"name": "bp", "kind": "backprop", "lr": 0.1, "epochs": 3}]}
    variants = {
        "datasets": ["quadratic"], "seeds": [1], "lambdas": [2e-3], "penalty": "l1", "l1_ratio": 0.25,
        "loss": "mse", "test_fraction": 0.3, "validation_fraction": 0.1,
        "model": [{"hidden": [5], "activation": "tanh"}, {"hidden": [4], "activation": "relu"},
                  {"hidden": [4, 4], "activation": "tanh"}],
        "trainers": [[{"name": "bp2", "kind": "backprop", "lr": 0.1, "epochs": 3}],
                     [{"name": "bp", "kind": "backprop", "lr": 0.2, "epochs": 3}],
                     [{"name": "bp", "kind": "backprop", "lr": 0.1, "epochs": 4}],
                     [{"name": "bp", "kind": "backprop", "lr": 0.1, "epochs": 3, "momentum": 0.5}],
                     [{"name": "bp", "kind": "backprop", "lr": 0.1, "epochs": 3, "lam_as": "decay_fraction"}],
                     [{"name": "bp", "kind": "lbfgs"}]],
    }

    def the_id(spec):
        (run,) = sweep.expand_runs(sweep.parse_spec(spec))
        return run["id"]

    ids = {"base": the_id(base)}
    for key, values in variants.items():
        for i, value in enumerate(values if isinstance(values, list) and key in ("model", "trainers") else [values]):
            ids[f"{key}[{i}]"] = the_id({**base, key: value})
    assert len(set(ids.values())) == len(ids), ids
    assert the_id({**base, "name": "another label"}) == ids["base"]  # the sweep name is only a label


def test_ids_do_not_depend_on_spec_order():
    spec = sweep.load_spec(EXAMPLE)
    shuffled = spec.replace(trainers=[t.to_toml() for t in spec.trainers[::-1]], lambdas=list(spec.lambdas[::-1]),
                            seeds=list(spec.seeds[::-1]))
    ids = {r["id"] for r in sweep.expand_runs(spec)}
    assert ids == {r["id"] for r in sweep.expand_runs(shuffled)}


# ------------------------------------------------------------------ a run's record
def test_record_matches_an_independent_swarm_run():
    spec = sweep.parse_spec({"datasets": ["iris"], "seeds": [1], "lambdas": [1e-2], "model": {"hidden": [3]},
                                  "trainers": [{"kind": "swarm", "particles": 8, "iterations": 30}]})
    (run,) = sweep.expand_runs(spec)
    rec = sweep.run_one(run)
    # the same training, built by hand from the parts
    ds = load_dataset("iris", seed=1)
    model = MLP((4, 3, 3), hidden="tanh", output="softmax")
    obj = RegularizedError(model, ds.X_train, ds.y_train, penalty=make_penalty("l2", 1e-2))
    seed = int(np.random.SeedSequence(int(rec["id"], 16)).generate_state(1, np.uint64)[0])
    res = SwarmTrainer(particles=8, iterations=30).fit(obj, seed=seed)
    assert rec["theta"] == res.theta.tolist()
    assert rec["run_seed"] == seed
    w = res.theta[model.weight_mask]
    assert rec["value"] == res.value and rec["data_loss"] == res.data_loss
    assert rec["penalty_value"] == pytest.approx(0.5 * 1e-2 * np.sum(w * w), rel=1e-12)
    assert rec["value"] == pytest.approx(rec["data_loss"] + rec["penalty_value"], rel=1e-12)
    assert rec["weight_sq_norm"] == pytest.approx(np.sum(w * w), rel=1e-12)
    assert rec["zero_fraction"] == np.mean(w == 0)
    assert rec["near_zero_fraction"] == np.mean(np.abs(w) < 1e-3)
    for split in ("train", "val", "test"):
        X, y = getattr(ds, f"X_{split}"), getattr(ds, f"y_{split}")
        logits = model.logits(res.theta, X)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        assert rec[f"{split}_loss"] == pytest.approx(-np.mean(np.log(p[np.arange(len(y)), y])), rel=1e-10)
        assert rec[f"{split}_accuracy"] == np.mean(np.argmax(logits, axis=1) == y)
        assert rec[f"{split}_rmse"] is None
    assert (rec["dataset"], rec["task"], rec["trainer"], rec["kind"], rec["lam"], rec["seed"]) == \
        ("iris", "classification", "swarm", "swarm", 1e-2, 1)
    assert rec["forward_samples"] == res.forward_samples and rec["iterations"] == 29  # 30 evaluations, 29 moves
    assert rec["config"]["trainer"]["settings"] == {"particles": 8, "iterations": 30}
    json.dumps(rec, allow_nan=False)  # plain JSON


def test_record_regression_rmse_and_thinned_history():
    spec = sweep.parse_spec({"datasets": ["sine"], "seeds": [0], "lambdas": [0.0], "model": {"hidden": [3]},
                                  "trainers": [{"kind": "backprop", "lam_as": "decay_fraction", "lr": 0.05,
                                                "epochs": 450}]})
    (run,) = sweep.expand_runs(spec)
    rec = sweep.run_one(run)
    ds = load_dataset("sine", seed=0)
    model = MLP((1, 3, 1))
    theta = np.array(rec["theta"])
    for split in ("train", "val", "test"):
        pred = ds.unscale_target(model.forward(theta, getattr(ds, f"X_{split}"))[:, 0])
        raw = getattr(ds, f"raw_y_{split}")
        assert rec[f"{split}_rmse"] == pytest.approx(np.sqrt(np.mean((pred - raw) ** 2)), rel=1e-9)
        assert rec[f"{split}_accuracy"] is None
    hist = rec["history"]
    n = len(hist["iteration"])
    assert 150 <= n <= sweep.HISTORY_ROWS
    assert hist["iteration"][0] == 0 and hist["iteration"][-1] == 450  # the ends are kept
    assert all(len(col) == n for col in hist.values())
    assert np.all(np.diff(hist["iteration"]) > 0)
    assert rec["canonical_lam"] == 0.0 and rec["penalty_value"] == 0.0


def test_decay_fraction_runs_use_lambda_as_the_fraction():
    spec = sweep.parse_spec({"datasets": ["sine"], "seeds": [0], "lambdas": [0.01], "model": {"hidden": [3]},
                                  "trainers": [{"kind": "backprop", "lam_as": "decay_fraction", "lr": 0.05,
                                                "momentum": 0.5, "epochs": 5}]})
    (run,) = sweep.expand_runs(spec)
    rec = sweep.run_one(run)
    ds = load_dataset("sine", seed=0)
    obj = RegularizedError(MLP((1, 3, 1)), ds.X_train, ds.y_train)
    res = BackpropTrainer(lr=0.05, momentum=0.5, epochs=5, decay_fraction=0.01).fit(
        obj, seed=sweep.run_seed(rec["id"]))
    assert rec["theta"] == res.theta.tolist()
    assert rec["canonical_lam"] == pytest.approx(0.01 * (1 - 0.5) / 0.05, rel=1e-12)  # λ = d(1 − μ)/η


@pytest.mark.parametrize("lam_as, penalty, dataset, canonical", [
    # iris: 3 classes, softmax + cross-entropy; n_train = 90 with the default fractions
    ("sklearn_alpha", "l2", "iris", lambda a, n, k: a / n),
    ("nielsen", "l2", "iris", lambda a, n, k: a / n),             # his log-likelihood cost
    ("nielsen", "l2", "sine", lambda a, n, k: 2 * a / (k * n)),   # his quadratic cost, k = 1
    ("sklearn_alpha", "l2", "sine", lambda a, n, k: 2 * a / (k * n)),
    ("keras_l2", "l2", "iris", lambda a, n, k: 2 * a),
    ("keras_l1", "l1", "iris", lambda a, n, k: a),
])
def test_lambda_in_another_codes_convention_is_translated_for_the_run(lam_as, penalty, dataset, canonical):
    spec = sweep.parse_spec({"datasets": [dataset], "seeds": [0], "lambdas": [0.3], "penalty": penalty,
                             "model": {"hidden": [3]},
                             "trainers": [{"kind": "lbfgs", "lam_as": lam_as, "max_iter": 5}]})
    (run,) = sweep.expand_runs(spec)
    rec = sweep.run_one(run)
    ds = load_dataset(dataset, seed=0)
    k = ds.n_classes if ds.task == "classification" else 1
    lam = canonical(0.3, ds.n_train, k)
    assert rec["lam"] == 0.3 and rec["lam_as"] == lam_as and rec["penalty"] == penalty
    assert rec["canonical_lam"] == pytest.approx(lam, rel=1e-12)
    # the objective the run minimized carries the canonical λ: R at the solution says so
    w = np.array(rec["theta"])[MLP((ds.n_features, 3, k)).weight_mask]
    expected = lam * np.abs(w).sum() if penalty == "l1" else lam / 2 * (w @ w)
    assert rec["penalty_value"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("lam_as, penalty", [("keras_l1", "l2"), ("sklearn_alpha", "l1"), ("nielsen", "elastic"),
                                             ("keras_l2", "weight_elimination")])
def test_a_convention_of_another_penalty_is_refused(lam_as, penalty):
    with pytest.raises(ValueError, match=f'lam_as = "{lam_as}" is a strength of penalty'):
        sweep.parse_spec({"datasets": ["iris"], "lambdas": [0.1], "penalty": penalty,
                          "trainers": [{"kind": "backprop", "lam_as": lam_as}]})


def test_records_carry_the_effective_lambda_of_their_solution():
    spec = sweep.parse_spec({"datasets": ["iris"], "seeds": [0], "lambdas": [0.1], "model": {"hidden": [3]},
                             "trainers": [{"kind": "lbfgs", "max_iter": 500},
                                          {"name": "adamw", "kind": "backprop", "optimizer": "adam",
                                           "decay": "decoupled", "lr": 0.01, "epochs": 300}]})
    ref, adamw = (sweep.run_one(run) for run in sweep.expand_runs(spec))
    # at the reference optimum the effective λ is the nominal one
    assert ref["effective_lam"] == pytest.approx(0.1, rel=1e-4) and ref["effective_lam_residual"] < 1e-3
    # by hand, for the AdamW solution: λ* = −(∇_w D · w)/(w · w)
    ds = load_dataset("iris", seed=0)
    obj = RegularizedError(MLP((4, 3, 3), output="softmax"), ds.X_train, ds.y_train)
    theta = np.array(adamw["theta"])
    g = obj.data_value_and_grad(theta)[1][obj.model.weight_mask]
    w = theta[obj.model.weight_mask]
    lam = -(g @ w) / (w @ w)
    assert adamw["effective_lam"] == pytest.approx(lam, rel=1e-9)
    assert adamw["effective_lam_residual"] == pytest.approx(np.linalg.norm(g + lam * w) / np.linalg.norm(g),
                                                            rel=1e-9)
    assert adamw["canonical_lam"] == 0.1 and adamw["effective_lam"] < 0.05


# ------------------------------------------------------------------ results file
def test_sweep_writes_records_resumes_and_loads(tmp_path, fake_executor):
    spec = write(tmp_path, TINY)
    out = tmp_path / "out"
    records = sweep.run_sweep(spec, out, progress=False)
    assert len(records) == TINY_RUNS
    assert [r["id"] for r in records] == [r["id"] for r in sweep.expand_runs(sweep.load_spec(spec))]
    assert {r["spec_hash"] for r in records} == {sweep.load_spec(spec).hash}
    lines = file_lines(out)
    assert len(lines) == TINY_RUNS and all(line.endswith(b"\n") for line in lines)
    assert {json.loads(line)["id"] for line in lines} == {r["id"] for r in records}
    # a second start finds everything done: nothing runs, nothing is appended
    before = (out / sweep.RESULTS_FILE).read_bytes()
    again = sweep.run_sweep(spec, out, progress=False, executor=fake_executor(lambda run: pytest.fail("a run")))
    assert (out / sweep.RESULTS_FILE).read_bytes() == before
    assert again == records
    loaded, table = sweep.load_results(out)
    assert loaded == json.loads(json.dumps(records))
    assert isinstance(table, dict) or hasattr(table, "columns")
    columns = list(table.keys()) if isinstance(table, dict) else list(table.columns)
    for col in ("id", "dataset", "trainer", "lam", "seed", "value", "test_accuracy", "weight_sq_norm"):
        assert col in columns
    for col in ("config", "history", "theta"):
        assert col not in columns
    assert list(table["id"]) == [r["id"] for r in loaded]
    assert list(table["lam"]) == [r["lam"] for r in loaded]


def test_load_results_of_a_folder_without_results(tmp_path):
    with pytest.raises(ValueError, match="no results.jsonl"):
        sweep.load_results(tmp_path)


def test_sweep_adds_only_missing_runs(tmp_path, fake_executor):
    out = tmp_path / "out"
    first = sweep.run_sweep(write(tmp_path, TINY), out, progress=False)
    wider = TINY.replace("lambdas = [0.0, 1e-2]", "lambdas = [0.0, 1e-2, 0.1]")
    calls = []
    counting = fake_executor(lambda run: calls.append(run["lam"]))
    second = sweep.run_sweep(write(tmp_path, wider, "wider.toml"), out, progress=False, executor=counting,
                             on_change="add")
    assert calls == [0.1] * 4  # only the new λ runs
    assert len(second) == 12 and len(file_lines(out)) == 12
    kept = {r["id"]: r for r in second}
    assert all(kept[r["id"]] == r for r in first)


def test_partial_last_line_is_ignored_with_a_warning_and_recomputed(tmp_path):
    spec = write(tmp_path, TINY)
    out = tmp_path / "out"
    sweep.run_sweep(spec, out, progress=False)
    reference = untimed_file(out)
    path = out / sweep.RESULTS_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    lost = json.loads(lines[-1])["id"]
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # a crash mid-write
    records, _ = sweep.load_results(out)  # readers skip the partial line
    assert len(records) == TINY_RUNS - 1 and lost not in {r["id"] for r in records}
    with pytest.warns(UserWarning, match="partial last line"):
        sweep.run_sweep(spec, out, progress=False)
    data = path.read_bytes()
    assert data.endswith(b"\n")
    assert untimed_file(out) == reference  # every line complete, no duplicate, same numbers


def test_corrupt_line_in_the_middle_is_an_error(tmp_path):
    spec = write(tmp_path, TINY)
    out = tmp_path / "out"
    sweep.run_sweep(spec, out, progress=False)
    path = out / sweep.RESULTS_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"not": "a record"}\n'
    path.write_bytes(b"".join(lines))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="line 3 is not a valid record"):
        sweep.run_sweep(spec, out, progress=False)
    assert path.read_bytes() == before


def test_lock_keeps_a_second_sweep_out(tmp_path, fake_executor):
    spec = write(tmp_path, TINY)
    out = tmp_path / "out"
    started, release = threading.Event(), threading.Event()

    def held(run):  # the first sweep pauses before its first run, holding the folder
        started.set()
        assert release.wait(30)

    errors = []
    first = threading.Thread(target=lambda: _catch(errors, sweep.run_sweep, spec, out, progress=False,
                                                   executor=fake_executor(held)))
    first.start()
    try:
        assert started.wait(30)
        before = tree(out)
        with pytest.raises(ValueError, match="another sweep is writing to this folder"):
            sweep.run_sweep(spec, out, progress=False)
        assert tree(out) == before
    finally:
        release.set()
        first.join(60)
    assert not errors
    assert len(file_lines(out)) == TINY_RUNS
    sweep.run_sweep(spec, out, progress=False)  # the lock is gone with the first sweep


def _catch(errors, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)


def test_output_folder_that_cannot_be_written(tmp_path):
    spec = write(tmp_path, TINY)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    before = tree(tmp_path)
    for out in (a_file, a_file / "sub", a_file / "sub" / "deeper"):
        with pytest.raises(ValueError, match="not a folder") as err:
            sweep.run_sweep(spec, out, progress=False)
        assert str(out) in str(err.value)
    assert tree(tmp_path) == before


def test_failed_run_keeps_finished_records(tmp_path, fake_executor):
    spec = write(tmp_path, TINY)
    out = tmp_path / "out"
    seen = []

    def flaky(run):
        if len(seen) == 3:
            raise RuntimeError("boom")
        seen.append(run["id"])

    with pytest.raises(RuntimeError, match="boom"):
        sweep.run_sweep(spec, out, progress=False, executor=fake_executor(flaky))
    assert [json.loads(line)["id"] for line in file_lines(out)] == seen
    assert len(sweep.run_sweep(spec, out, progress=False)) == TINY_RUNS
    assert len(untimed_file(out)) == TINY_RUNS


# ------------------------------------------------------------------ a real kill, then resume
@pytest.mark.slow
def test_resume_after_a_real_kill(tmp_path):
    spec = write(tmp_path, SLOW)
    reference = tmp_path / "reference"
    sweep.run_sweep(spec, reference, progress=False)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "swarmreg.cli", "sweep", str(spec), "--out", str(out), "--jobs", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    path = out / sweep.RESULTS_FILE
    deadline = time.monotonic() + 60
    while not (path.exists() and path.read_bytes().count(b"\n") >= 1):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done_at_kill = path.read_bytes().count(b"\n")
    assert 1 <= done_at_kill < SLOW_RUNS  # killed part way
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert untimed_file(out) == untimed_file(reference)  # same ids, same numbers, no duplicate


# ------------------------------------------------------------------ executors
def test_identical_records_serial_pool_and_dask(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec = write(tmp_path, TINY)
    serial = tmp_path / "serial"
    records = sweep.run_sweep(spec, serial, progress=False)
    with sweep.open_executor(jobs=2) as pool:
        pooled = sweep.run_sweep(spec, tmp_path / "pool", executor=pool, progress=False)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        dasked = sweep.run_sweep(spec, tmp_path / "dask", executor=client, progress=False)
    expected = untimed_file(serial)
    assert len(expected) == TINY_RUNS
    assert untimed_file(tmp_path / "pool") == expected
    assert untimed_file(tmp_path / "dask") == expected
    # the returned lists are in spec order whatever the completion order
    assert [untimed(r) for r in pooled] == [untimed(r) for r in records]
    assert [untimed(r) for r in dasked] == [untimed(r) for r in records]


def test_executors_reject_bad_jobs():
    for jobs in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="jobs"):
            sweep.open_executor(jobs=jobs)
        with pytest.raises(ValueError, match="jobs"):
            sweep.ProcessExecutor(jobs)
    with pytest.raises(ValueError, match="at most one"):
        sweep.open_executor(jobs=2, dask_workers=2)


def test_open_executor_gives_what_was_asked():
    assert isinstance(sweep.open_executor(jobs=1), sweep.SerialExecutor)
    with sweep.open_executor(jobs=3) as pool:
        assert isinstance(pool, sweep.ProcessExecutor) and pool.workers == 3
    with sweep.open_executor() as pool:  # one per core
        assert pool.workers == (os.cpu_count() or 1)
    with pytest.raises(ValueError, match="connect_timeout applies only with a scheduler"):
        sweep.open_executor(jobs=2, connect_timeout=1.0)


def test_a_pool_raises_a_runs_exception_with_the_workers_traceback(tmp_path):
    with sweep.ProcessExecutor(2) as pool, pytest.raises(ZeroDivisionError) as err:
        list(pool.map_unordered(_reciprocal, [1, 2, 0, 4]))
    assert any("in a worker process" in note for note in err.value.__notes__)
    with sweep.ProcessExecutor(2) as pool:  # and a pool gives every result once, whatever the order
        assert sorted(pool.map_unordered(_reciprocal, [1, 2, 4, 5, 8])) == sorted([1, 0.5, 0.25, 0.2, 0.125])


def _reciprocal(x):
    return 1 / x


def test_restart_sets_the_old_records_aside_and_never_over_an_earlier_backup(tmp_path):
    out = tmp_path / "out"
    a, b = write(tmp_path, TINY, "a.toml"), write(tmp_path, TINY.replace("epochs = 3\nbatch_size", "epochs = 2\n"
                                                                                                  "batch_size"), "b.toml")
    sweep.run_sweep(a, out, progress=False)
    first = (out / sweep.RESULTS_FILE).read_bytes()
    sweep.run_sweep(b, out, progress=False, on_change="restart")
    second = (out / sweep.RESULTS_FILE).read_bytes()
    sweep.run_sweep(a, out, progress=False, on_change="restart")  # within the same second as the first restart
    sweep.run_sweep(a, out, progress=False, on_change="restart")  # the same spec: it starts over too
    asides = sorted(out.glob("results.replaced-*.jsonl"))
    assert len(asides) == 3
    assert {p.read_bytes() for p in asides} >= {first, second}
    assert len(file_lines(out)) == TINY_RUNS


def test_a_refused_sweep_changes_nothing_in_its_folder(tmp_path, monkeypatch):
    out = tmp_path / "out"
    sweep.run_sweep(write(tmp_path, TINY), out, progress=False)
    other = write(tmp_path, TINY.replace("seeds = [0]", "seeds = [1]"), "other.toml")
    before = tree(tmp_path)
    with pytest.raises(ValueError, match="another spec"):
        sweep.run_sweep(other, out, progress=False)
    from swarmreg import checks

    monkeypatch.setattr(checks, "available_memory", lambda: 10**4)  # and one refused for memory, with --restart
    with pytest.raises(ValueError, match="available"):
        sweep.run_sweep(other, out, progress=False, on_change="restart")
    assert tree(tmp_path) == before


def test_records_written_before_spec_hashes_read_as_records_of_no_spec(tmp_path):
    out = tmp_path / "out"
    sweep.run_sweep(write(tmp_path, TINY), out, progress=False)
    path = out / sweep.RESULTS_FILE
    old = [json.loads(line) for line in path.read_bytes().splitlines()]
    for rec in old:
        del rec["spec_hash"]
    path.write_text("".join(json.dumps(r) + "\n" for r in old))
    records, table = sweep.load_results(out)
    assert [r["id"] for r in records] == [r["id"] for r in old] and {r["spec_hash"] for r in records} == {None}
    with pytest.raises(ValueError, match="8 records of another spec"):
        sweep.run_sweep(write(tmp_path, TINY, "again.toml"), out, progress=False)


def test_blank_lines_are_skipped(tmp_path):
    out = tmp_path / "out"
    sweep.run_sweep(write(tmp_path, TINY), out, progress=False)
    path = out / sweep.RESULTS_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"\n".join([b"".join(lines[:3]), b"   \r\n", b"".join(lines[3:])]) + b"\n")
    records, _ = sweep.load_results(out)
    assert len(records) == TINY_RUNS
    assert len(sweep.run_sweep(write(tmp_path, TINY), out, progress=False)) == TINY_RUNS


def _die(run):
    os._exit(3)


def test_a_run_that_kills_its_pool_worker_twice_stops_the_sweep_and_names_the_run():
    with sweep.ProcessExecutor(2) as pool, pytest.raises(sweep.WorkerLost, match=r"run 7: its worker process died "
                                                                                 r"2 times \(exit status 3\)"):
        list(pool.map_unordered(_die, [7], label=str))


def test_a_runs_exception_names_the_run_on_every_executor(tmp_path):
    for executor in (sweep.SerialExecutor(), sweep.ProcessExecutor(1)):
        with executor, pytest.raises(ZeroDivisionError) as err:
            list(executor.map_unordered(_reciprocal, [2, 0], label=lambda x: f"x={x}"))
        assert "in run x=0" in err.value.__notes__


def test_the_command_says_in_one_line_when_a_sweep_cannot_go_on(tmp_path, capsys, monkeypatch):
    import swarmreg.sweep as package
    from swarmreg.cli import main

    class Dying:
        workers, local = 1, True

        def map_unordered(self, fn, items, label=str):
            raise sweep.WorkerLost(f"run {label(next(iter(items)))}: its worker process died 2 times")
            yield

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(package, "open_executor", lambda **kw: Dying())
    spec = write(tmp_path, TINY)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "died 2 times" in err and "resume" in err and "(iris, bp," in err
