"""Sweeps under faults: repeated SIGKILLs with resumes, a Dask worker dying mid-sweep,
diverging runs, hostile names and arbitrary spec input."""

import copy
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from swarmreg import sweep
from swarmreg.sweep import spec as spec_module

# 30 runs of about 0.1 s each (two trainers × five λ × three seeds).
FAULTS = """\
name = "faults"
datasets = ["iris"]
seeds = [0, 1, 2]
lambdas = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]
[model]
hidden = [4]
[[trainers]]
name = "swarm"
kind = "swarm"
particles = 20
iterations = 1200
[[trainers]]
name = "backprop"
kind = "backprop"
epochs = 300
batch_size = 16
momentum = 0.9
"""
FAULTS_RUNS = 30
KILLS = 5

# 12 runs of about 0.2 s each, for a Dask worker to die in the middle of.
DASK = """\
name = "dask-faults"
datasets = ["iris"]
seeds = [0, 1]
lambdas = [0.0, 1e-3, 1e-2, 3e-2, 1e-1, 0.3]
[model]
hidden = [4]
[[trainers]]
name = "swarm"
kind = "swarm"
particles = 20
iterations = 2500
"""
DASK_RUNS = 12


def untimed_lines(folder):
    """{id: canonical JSON without wall-clock fields}; fails on an incomplete line or a duplicate id."""
    out = {}
    for line in (Path(folder) / sweep.RESULTS_FILE).read_bytes().splitlines(keepends=True):
        assert line.endswith(b"\n"), "incomplete line"
        rec = json.loads(line)
        rec.pop("seconds")
        rec["history"].pop("seconds")
        assert rec["id"] not in out, "duplicate record"
        out[rec["id"]] = json.dumps(rec, sort_keys=True)
    return out


def count_lines(path):
    return path.read_bytes().count(b"\n") if path.exists() else 0


# ------------------------------------------------------------------ SIGKILL at random moments, resume each time
@pytest.mark.slow
def test_repeated_kills_and_resumes_lose_and_duplicate_nothing(tmp_path):
    spec = tmp_path / "faults.toml"
    spec.write_text(FAULTS)
    reference = tmp_path / "reference"
    sweep.run_sweep(spec, reference, progress=False)
    expected = untimed_lines(reference)
    assert len(expected) == FAULTS_RUNS

    out = tmp_path / "out"
    path = out / sweep.RESULTS_FILE
    cmd = [sys.executable, "-m", "swarmreg.cli", "sweep", str(spec), "--out", str(out), "--jobs", "1", "--quiet"]
    rng = np.random.default_rng(20240805)
    done_at_kill, partial_lines, left_partial = [], 0, False
    for _ in range(KILLS):
        start = count_lines(path)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while count_lines(path) <= start:  # this start has finished at least one run
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.25))  # then a random moment: mid-run, mid-write, mid-fsync
        assert proc.poll() is None, "the sweep finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert b"Traceback" not in err
        assert (b"partial last line" in err) == left_partial  # a crash's partial line is noticed on restart
        data = path.read_bytes()
        left_partial = not data.endswith(b"\n")
        partial_lines += left_partial
        done_at_kill.append(data.count(b"\n"))
    assert done_at_kill == sorted(done_at_kill) and done_at_kill[-1] < FAULTS_RUNS  # progress, never done
    final = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert ("partial last line" in final.stderr) == left_partial
    assert untimed_lines(out) == expected  # every run once, numbers as if never interrupted
    print(f"records at each kill: {done_at_kill}; kills that left a partial line: {partial_lines}")


# ------------------------------------------------------------------ a Dask worker dies mid-sweep
@pytest.fixture(scope="module")
def fragile_cluster():
    """Two single-thread worker processes on loopback; a task on a dying worker fails at once
    (allowed-failures = 0), the harshest setting for the sweep's resubmission."""
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                           dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _wait_for_workers(client, n, timeout=60):
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info()["workers"]) < n:
        assert time.monotonic() < deadline, "workers did not come back"
        time.sleep(0.1)


@pytest.mark.slow
def test_sweep_survives_a_worker_killed_mid_sweep(tmp_path, fragile_cluster):
    client = fragile_cluster
    _wait_for_workers(client, 2)
    spec = tmp_path / "dask.toml"
    spec.write_text(DASK)
    out = tmp_path / "out"
    path = out / sweep.RESULTS_FILE
    result = {}

    def run():
        try:
            result["records"] = sweep.run_sweep(spec, out, executor=client, progress=False)
        except BaseException as exc:  # handed to the test thread
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while count_lines(path) < 3:
        assert thread.is_alive(), result
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pids = client.run(os.getpid)  # {worker address: pid}
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    assert count_lines(path) < DASK_RUNS  # killed in the middle
    thread.join(180)
    assert not thread.is_alive()
    assert "error" not in result, repr(result.get("error"))
    assert len(result["records"]) == DASK_RUNS
    sweep.run_sweep(spec, tmp_path / "serial", progress=False)
    assert untimed_lines(out) == untimed_lines(tmp_path / "serial")
    _wait_for_workers(client, 2)  # the nanny brought the worker back
    assert victim not in client.run(os.getpid).values()


def test_a_run_whose_worker_dies_is_resubmitted_once(tmp_path, fragile_cluster):
    client = fragile_cluster
    _wait_for_workers(client, 2)
    spec = tmp_path / "dask.toml"
    spec.write_text(DASK.replace("iterations = 2500", "iterations = 20"))
    first = next(sweep.expand_runs(sweep.load_spec(spec)))["id"]
    submitted = []
    real_submit = client.submit

    def die(run):  # the worker process dies in the middle of this run
        os._exit(1)

    def submit(fn, run, **kwargs):
        submitted.append(run["id"])
        doomed = run["id"] == first and submitted.count(first) == 1
        return real_submit(die if doomed else fn, run, **kwargs)

    client.submit = submit
    try:
        records = sweep.run_sweep(spec, tmp_path / "out", executor=client, progress=False)
    finally:
        del client.submit
    # the doomed run came back once; runs queued on the dead worker may have been resubmitted too, never twice
    assert submitted.count(first) == 2
    assert set(submitted) == {r["id"] for r in records} and max(map(submitted.count, submitted)) == 2
    assert len(records) == DASK_RUNS
    sweep.run_sweep(spec, tmp_path / "serial", progress=False)
    assert untimed_lines(tmp_path / "out") == untimed_lines(tmp_path / "serial")


def test_a_run_whose_worker_keeps_dying_fails_the_sweep_but_keeps_the_rest(tmp_path, fragile_cluster):
    from distributed import KilledWorker

    client = fragile_cluster
    _wait_for_workers(client, 2)
    spec = tmp_path / "dask.toml"
    spec.write_text(DASK.replace("iterations = 2500", "iterations = 20").replace("seeds = [0, 1]", "seeds = [0]"))
    first = next(sweep.expand_runs(sweep.load_spec(spec)))["id"]
    real_submit = client.submit

    def die(run):
        os._exit(1)

    client.submit = lambda fn, run, **kw: real_submit(die if run["id"] == first else fn, run, **kw)
    try:
        with pytest.raises(KilledWorker):
            sweep.run_sweep(spec, tmp_path / "out", executor=client, progress=False)
    finally:
        del client.submit
    ids = set(untimed_lines(tmp_path / "out"))
    assert first not in ids  # every line is whole; the other finished runs are kept
    _wait_for_workers(client, 2)
    sweep.run_sweep(spec, tmp_path / "out", executor=client, progress=False)  # resume completes it
    assert len(untimed_lines(tmp_path / "out")) == 6


# ------------------------------------------------------------------ numbers that blow up
def test_a_diverging_run_is_recorded_as_diverged_without_nan(tmp_path):
    spec = {"name": "diverge", "datasets": ["sine"], "seeds": [0], "lambdas": [0.0, 1e-2], "model": {"hidden": [8]},
            "trainers": [{"name": "huge-lr", "kind": "backprop", "lr": 1e4, "epochs": 60}]}
    records = sweep.run_sweep(spec, tmp_path / "out", progress=False)
    assert [r["status"] for r in records] == ["diverged", "diverged"]
    text = (tmp_path / "out" / sweep.RESULTS_FILE).read_text()
    assert "NaN" not in text and "Infinity" not in text

    def numbers(x):
        if isinstance(x, dict):
            for v in x.values():
                yield from numbers(v)
        elif isinstance(x, list):
            for v in x:
                yield from numbers(v)
        elif isinstance(x, float):
            yield x

    for rec in records:
        assert all(math.isfinite(v) for v in numbers(rec))


# ------------------------------------------------------------------ safety
def test_hostile_names_never_write_outside_the_output_folder(tmp_path):
    spec = {"name": "../../../escape", "datasets": ["sine"], "seeds": [0], "lambdas": [0.0],
            "model": {"hidden": [2]},
            "trainers": [{"name": "../../../../tmp/evil", "kind": "lbfgs", "max_iter": 3},
                         {"name": "/etc/passwd", "kind": "swarm", "particles": 4, "iterations": 2}]}
    out = tmp_path / "a" / "b" / "out"
    records = sweep.run_sweep(spec, out, progress=False)
    assert {r["trainer"] for r in records} == {"../../../../tmp/evil", "/etc/passwd"}
    assert {r["sweep"] for r in records} == {"../../../escape"}
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert written == ["a", "a/b", "a/b/out", "a/b/out/.lock", "a/b/out/results.jsonl"]
    assert not (tmp_path / "escape").exists() and not Path("/tmp/evil").exists()
    for bad in ("../x", "../../x", "/tmp/x", "iris/../wine"):
        with pytest.raises(ValueError, match="unknown data set"):
            sweep.parse_spec(dict(spec, datasets=[bad]))


def test_package_reads_data_without_pickle_or_eval():
    """A static check: no module of swarmreg can unpickle or evaluate text read from disk."""
    root = Path(str(resources.files("swarmreg")))
    pattern = re.compile(r"\bpickle\b|\bmarshal\b|\bshelve\b|allow_pickle\s*=\s*True|yaml\.load|"
                         r"(?<![\w.])(?:eval|exec|compile|__import__)\s*\(|literal_eval")
    sources = sorted(root.rglob("*.py"))
    assert len(sources) >= 8
    hits = [f"{p.name}:{i}: {line.strip()}" for p in sources
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert hits == []
    # results are read with json: a record is plain data, whatever it holds
    assert "json.loads" in (root / "sweep" / "store.py").read_text(encoding="utf-8")


def test_results_file_with_hostile_content_is_just_data(tmp_path):
    out = tmp_path / "out"
    sweep.run_sweep({"datasets": ["sine"], "seeds": [0], "lambdas": [0.0], "model": {"hidden": [2]},
                     "trainers": [{"kind": "lbfgs", "max_iter": 3}]}, out, progress=False)
    path = out / sweep.RESULTS_FILE
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    line = {**record, "__reduce__": "os.system", "py/object": "os.system",
            "config": {**record["config"], "dataset": "../../x", "__class__": "os.system"}}
    path.write_text(json.dumps(line) + "\n")
    records, _ = sweep.load_results(out)
    assert records == [line]  # extra keys are data, never code


# ------------------------------------------------------------------ any spec input: a spec or a ValueError
BASE = tomllib.loads((resources.files("swarmreg") / "specs" / "example.toml").read_text("utf-8"))
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.floats(allow_nan=True),
                 st.text(max_size=6),
                 st.sampled_from(["none", "ring", "global", "l1", "elastic", "iris", "sine", "backprop", "swarm",
                                  "lbfgs", "weight_decay", "decay_fraction", "relu", "decoupled"]))
VALUE = st.recursive(LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                     max_leaves=6)
TOP_KEYS = sorted(spec_module.TOP_KEYS) + ["other"]
TRAINER_KEYS = ["particles", "iterations", "bounds", "init_range", "v_max", "patience", "batch_size", "epochs",
                "lr", "momentum", "decay", "l1", "max_iter", "tol", "neighbors", "topology", "weight_decay",
                "decay_fraction", "kind", "lam_as", "name", "inertia", "shuffle", "other"]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@example("seeds", 10**12, 0, "lr", 0.1, "hidden", [3])  # a count too large to list
@example("lambda_range", {"start": 1e-3, "stop": 1.0, "num": 10**12}, 0, "lr", 0.1, "hidden", [3])
@example("lambdas", [-0.0], 1, "decay_fraction", 0.5, "hidden", [3])  # λ given twice for a lam_as trainer
@example("trainers", [{"kind": "swarm", "patience": [1, 2]}], 0, "v_max", [1], "activation", "relu")
@given(st.sampled_from(TOP_KEYS), VALUE, st.integers(0, 3), st.sampled_from(TRAINER_KEYS), VALUE,
       st.sampled_from(["hidden", "activation"]), VALUE)
def test_fuzz_parse_spec_gives_a_spec_or_a_value_error(top, top_value, which, tkey, tvalue, mkey, mvalue):
    spec = copy.deepcopy(BASE)
    spec[top] = top_value
    trainers = spec.get("trainers")
    if isinstance(trainers, list) and trainers and isinstance(trainers[which % len(trainers)], dict):
        trainers[which % len(trainers)][tkey] = tvalue
    if isinstance(spec.get("model"), dict):
        spec["model"][mkey] = mvalue
    try:
        parsed = sweep.parse_spec(spec)
    except ValueError as exc:
        assert str(exc)
        return
    runs = list(sweep.expand_runs(parsed))  # a valid spec always expands to runs with ids
    assert len({r["id"] for r in runs}) == len(runs) > 0


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                 st.integers(0, len(FAULTS)).flatmap(
                     lambda i: st.text(max_size=20).map(lambda t: FAULTS[:i] + t + FAULTS[i:]))))
def test_fuzz_spec_text_gives_a_spec_or_a_value_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "spec.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        sweep.load_spec(path)
    except ValueError as exc:
        assert str(path) in str(exc)
