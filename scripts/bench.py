"""Benchmark swarmreg against PySwarms and scikit-learn, and against the machine's limit.

    python scripts/bench.py              # the full run (about 10 minutes on 2 cores), writes figures/
    python scripts/bench.py --quick      # a smoke run (a minute); writes to a temporary folder
    python scripts/bench.py --out DIR    # where BENCHMARKS.md and benchmarks.png go

Every comparison runs in this one process (the λ sweep also in worker
processes, the compile-time probes in fresh ones), alternating the
contenders and repeating each to quote medians, so the ratios hold on the
machine that printed them.  Speed is measured as a user meets it: in the
default environment (no thread variable set; swarmreg holds BLAS to one
thread inside its fits, the other libraries use their defaults) and again
with BLAS pinned to one thread for every contender.

1. The swarm on PySwarms' "train a neural network" example (Iris 4-20-3, 100
   particles), on a 30-16-2 network (300 samples) and with 1,000 particles,
   against PySwarms' ``GlobalBestPSO``: time per iteration, float64 and
   float32; the final loss over seeds on Iris.
2. The swarm iteration against the fused kernel that evaluates the swarm
   (the evaluation's floor on this machine), with where the rest goes.
3. A backprop epoch against scikit-learn's ``MLPClassifier(solver="sgd")``.
4. A λ sweep on 2 worker processes against 1.
5. The compiled kernels' first-call (compile) time, with and without their
   cache.
6. Growth with particles and samples, and the peak memory of a large
   chunked evaluation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from swarmreg.files import atomic_write

ROOT = Path(__file__).resolve().parent.parent

# Targets: (kind, bound).  "time" rows: swarmreg's time / the other's, met when <= bound;
# "speedup": met when >= bound; "budget": measured / budget, met when <= 1.
TARGETS = {
    ("swarm", "iris", "float64"): 0.15, ("swarm", "iris", "float32"): 0.07,
    ("swarm", "30-16-2", "float64"): 0.25, ("swarm", "30-16-2", "float32"): 0.12,
    ("swarm", "iris, 1,000 particles", "float64"): 0.15, ("swarm", "iris, 1,000 particles", "float32"): 0.07,
    ("kernel", "iris", "float64"): 1.5, ("kernel", "iris", "float32"): 1.5,
    ("backprop", "synthetic"): 0.3, ("backprop", "iris"): 0.3,
}
SWEEP_SPEEDUP = 1.8
MEMORY_BUDGET = 300 * 2**20


# --------------------------------------------------------------------- helpers
def median(xs) -> float:
    return float(statistics.median(xs))


def per_call(fn, calls: int, reps: int) -> list[float]:
    """Seconds per call of ``fn()``: ``reps`` timings of ``calls`` calls each."""
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        out.append((time.perf_counter() - t) / calls)
    return out


@contextlib.contextmanager
def environment(pinned: bool):
    """The default environment, or BLAS pinned to one thread for every contender."""
    if not pinned:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def machine() -> dict:
    """CPU model, cores, Python, numpy, the BLAS numpy uses, and swarmreg's backend."""
    from swarmreg import backend

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "platform": platform.platform(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
            "thread variables": ", ".join(f"{k}={v}" for k, v in os.environ.items()
                                          if k.endswith("_NUM_THREADS") or k == "SWARMREG_THREADS") or "(none)",
            "swarmreg backend": backend.resolve()}
    try:
        from threadpoolctl import threadpool_info
        blas = [d for d in threadpool_info() if d.get("user_api") == "blas"]
        info["blas"] = "; ".join(f"{d.get('internal_api')} {d.get('version')} ({d.get('architecture')}, "
                                 f"{d.get('num_threads')} threads by default)" for d in blas) or "unknown"
    except ImportError:
        info["blas"] = "unknown (no threadpoolctl)"
    import importlib.metadata as md
    for pkg in ("swarmreg", "scipy", "numba", "pyswarms", "scikit-learn"):
        with contextlib.suppress(md.PackageNotFoundError):
            info[pkg] = md.version(pkg)
    return info


# ------------------------------------------------------- 1. the swarm against PySwarms
def example_objective(X: np.ndarray, y: np.ndarray, sizes, tuned: bool = False):
    """The per-particle objective of PySwarms' "train a neural network" example, for a d-h-k network.

    Source: pyswarms.readthedocs.io, examples/usecases/train_neural_network (4-20-3 there).
    For each particle in turn: unroll W1 (d, h), b1, W2 (h, k), b2 from the flat
    position, z1 = X·W1 + b1, tanh, z2 = a1·W2 + b2, softmax probabilities exp(z2) /
    Σ exp(z2) (unshifted, as there), and the mean of −log p(true class), picked with
    ``probs[range(n), y]``.  ``tuned=True`` picks with a precomputed index array instead.
    """
    d, h, k = sizes
    n = X.shape[0]
    rows = np.arange(n) if tuned else None
    a, b, c = d * h, d * h + h, d * h + h + h * k

    def loss(params):
        W1 = params[0:a].reshape((d, h))
        b1 = params[a:b].reshape((h,))
        W2 = params[b:c].reshape((h, k))
        b2 = params[c:c + k].reshape((k,))
        a1 = np.tanh(X.dot(W1) + b1)
        scores = np.exp(a1.dot(W2) + b2)
        probs = scores / np.sum(scores, axis=1, keepdims=True)
        picked = probs[rows, y] if tuned else probs[range(n), y]
        return np.sum(-np.log(picked)) / n

    def objective(positions):
        return np.array([loss(positions[i]) for i in range(positions.shape[0])])

    return objective


def shape_data(name: str):
    """(X, y, sizes, particles) of a benchmark shape."""
    from sklearn.datasets import load_iris

    if name.startswith("iris"):
        X, y = load_iris(return_X_y=True)
        return X, y, (4, 20, 3), (1000 if "1,000" in name else 100)
    rng = np.random.default_rng(0)   # 30-16-2: a breast-cancer-sized problem, synthetic
    X = rng.standard_normal((300, 30))
    y = (X @ rng.standard_normal(30) + 0.5 * rng.standard_normal(300) > 0).astype(int)
    return X, y, (30, 16, 2), 100


def swarm_vs_pyswarms(cfg, shape: str, pinned: bool) -> dict:
    """Time per iteration of swarmreg (float64, float32) and PySwarms on one shape; final losses."""
    import pyswarms as ps
    from scipy.stats import mannwhitneyu

    from swarmreg import MLP, RegularizedError
    from swarmreg.swarm import SwarmTrainer

    X, y, sizes, P = shape_data(shape)
    dims = sizes[0] * sizes[1] + sizes[1] + sizes[1] * sizes[2] + sizes[2]
    model = MLP(sizes, hidden="tanh", output="softmax")
    judge = RegularizedError(model, X, y)  # float64 mean NLL: the loss every contender is scored on
    ours = {"float64": judge, "float32": RegularizedError(model, X, y, dtype=np.float32)}
    iters = cfg.iterations[shape]
    # the same algorithm as PySwarms': the plain global best, one evaluation per iteration, unbounded
    trainer = SwarmTrainer(particles=P, iterations=iters, inertia=0.9, c1=0.5, c2=0.3, gcpso=False,
                           bounds=None, init_range=(0.0, 1.0))
    others = {"pyswarms (example)": example_objective(X, y, sizes),
              "pyswarms (tuned pick)": example_objective(X, y, sizes, tuned=True)}
    seconds = {name: [] for name in (*others, *ours)}
    final = {name: [] for name in seconds}

    def run_pyswarms(name, seed):
        np.random.seed(seed)  # PySwarms draws from numpy's global generator
        opt = ps.single.GlobalBestPSO(n_particles=P, dimensions=dims, options={"c1": 0.5, "c2": 0.3, "w": 0.9})
        t = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the example's unshifted exp
            _, pos = opt.optimize(others[name], iters=iters, verbose=False)
        seconds[name].append((time.perf_counter() - t) / iters)
        final[name].append(judge(pos))

    def run_swarmreg(name, seed):
        t = time.perf_counter()
        res = trainer.fit(ours[name], seed=seed)
        seconds[name].append((time.perf_counter() - t) / iters)
        final[name].append(judge(res.theta))

    with environment(pinned):
        SwarmTrainer(particles=P, iterations=2).fit(ours["float32"], seed=0)  # warm: compiled code loaded
        for seed in range(cfg.seeds[shape]):
            order = [(run_pyswarms, n) for n in others] + [(run_swarmreg, n) for n in ours]
            for run, name in (order if seed % 2 == 0 else order[::-1]):
                run(name, seed)
    base = median(seconds["pyswarms (example)"])
    out = {"shape": shape, "sizes": sizes, "particles": P, "iterations": iters, "seeds": cfg.seeds[shape],
           "pinned": pinned, "seconds": seconds, "final": final,
           "per_iteration": {k: median(v) for k, v in seconds.items()},
           "final_median": {k: median(v) for k, v in final.items()},
           "ratio": {k: median(v) / base for k, v in seconds.items()}, "mannwhitney": {}}
    if cfg.seeds[shape] >= 5:  # with fewer pairs the test could not reject anything
        for k in ours:
            out["mannwhitney"][k] = float(mannwhitneyu(final[k], final["pyswarms (example)"],
                                                       alternative="two-sided").pvalue)
    return out


# ------------------------------------------- 2. the iteration against the evaluation's floor
def kernel_limit(cfg, shape: str) -> dict:
    """Per iteration: the fused evaluation kernel alone (its floor), the whole iteration, and the parts."""
    from swarmreg import MLP, RegularizedError, backend
    from swarmreg.swarm import Diversity, GlobalBest, SwarmTrainer, init_swarm, tell

    X, y, sizes, P = shape_data(shape)
    model = MLP(sizes, hidden="tanh", output="softmax")
    out = {"backend": backend.resolve()}
    # every part measured as the fit runs it: BLAS held to swarmreg's thread count (the first layer's
    # matrix product included), so that the floor is not slowed by threads the fit never uses
    with backend.blas_threads():
        for dtype in ("float64", "float32"):
            obj = RegularizedError(model, X, y, dtype=dtype)
            rng = np.random.default_rng(0)
            state = init_swarm(rng, P, obj.n_params, (0.0, 1.0), None, dtype=np.dtype(dtype))
            positions = state.positions
            obj.batch(positions)
            calls, reps = cfg.kernel_calls, 5
            kernel = None
            if out["backend"] == "numba":  # the kernel called directly, its arguments prepared once
                from swarmreg.kernels.forward import HIDDEN_CODES, LOSS_CODES, OUTPUT_CODES, batch_values, pad_columns

                layout = np.array([[l.w_start, l.w_stop, l.b_stop, l.fan_in, l.fan_out] for l in model.layers],
                                  np.int64)
                XT1 = pad_columns(model.inputs_with_ones(obj.X, obj.dtype))
                target = np.zeros((sizes[2], len(y)), obj.dtype)
                target[y, np.arange(len(y))] = 1.0
                args = (positions, positions, XT1, target, layout, HIDDEN_CODES["tanh"], OUTPUT_CODES["softmax"],
                        LOSS_CODES["cross_entropy"], float(len(y)), np.zeros((0, 2), np.int64), 0, 0.0, 1.0)
                kernel = lambda: batch_values(*args)  # noqa: E731
            trainer = SwarmTrainer(particles=P, iterations=cfg.iterations[shape], inertia=0.9, c1=0.5, c2=0.3,
                                   gcpso=False, bounds=None, init_range=(0.0, 1.0))
            # the floor and the whole fit alternate, so that a slow minute of the machine weighs on both
            floors, evaluations, whole = [], [], []
            for seed in range(5):
                floors += per_call(kernel or (lambda: obj.batch(positions)), calls, 1)
                evaluations += per_call(lambda: obj.batch(positions), calls, 1)
                t = time.perf_counter()
                trainer.fit(obj, seed=seed)
                whole.append((time.perf_counter() - t) / cfg.iterations[shape])
            floor, evaluation = median(floors), median(evaluations)
            best = GlobalBest()
            values = obj.batch(positions)
            diversity = Diversity(P, obj.n_params, np.dtype(dtype), compiled=out["backend"] == "numba")
            parts = {"evaluation: the fused kernel" if out["backend"] == "numba" else "evaluation (numpy)": floor,
                     "evaluation: checks and arguments around it": max(0.0, evaluation - floor)}
            from swarmreg.swarm import CompiledMove, compiled_tell, move
            if out["backend"] == "numba":
                mover = CompiledMove(rng, obj.n_params, np.dtype(dtype), None, None, "clip")
                parts["move (compiled, its random numbers drawn inside)"] = median(per_call(
                    lambda: mover(state, best(state), 0.9, 0.5, 0.3), calls, reps))
                record = compiled_tell
            else:
                parts["move (numpy, its random numbers included)"] = median(per_call(
                    lambda: move(state, rng, best(state), 0.9, 0.5, 0.3, None, None), calls, reps))
                record = tell
            parts["personal and global bests"] = median(per_call(
                lambda: (record(state, values), state.personal_best_value.argmin()), calls, reps))
            parts["diversity"] = median(per_call(lambda: diversity(state), calls, reps))
            parts["history row, stop rule, loop"] = max(0.0, median(whole) - sum(parts.values()))
            out[dtype] = {"floor": floor, "iteration": median(whole), "ratio": median(whole) / floor, "parts": parts}
    return out


# --------------------------------------------------- 3. backprop vs scikit-learn
def backprop_vs_sklearn(cfg, pinned: bool) -> dict:
    from sklearn.datasets import load_iris
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from swarmreg import MLP, L2, RegularizedError
    from swarmreg.backprop import BackpropTrainer
    from swarmreg.conventions import from_sklearn_mlp

    rng = np.random.default_rng(0)
    Xs = rng.standard_normal((cfg.synthetic_n, 20))
    ys = (Xs @ rng.standard_normal((20, 3)) + 0.5 * rng.standard_normal((cfg.synthetic_n, 3))).argmax(axis=1)
    Xi, yi = load_iris(return_X_y=True)
    Xi = (Xi - Xi.mean(axis=0)) / Xi.std(axis=0)
    problems = {
        "synthetic": (f"{cfg.synthetic_n} x 20, 20-64-3 tanh, batch 32", Xs, ys, 64, 32, cfg.synthetic_epochs),
        "iris": ("Iris 150 x 4, 4-20-3 tanh, batch 16", Xi, yi, 20, 16, cfg.iris_epochs),
    }
    lr, momentum, alpha = 0.01, 0.9, 1e-4
    out = {}
    for key, (label, X, y, hidden, batch, epochs) in problems.items():
        k = int(y.max()) + 1
        model = MLP((X.shape[1], hidden, k), hidden="tanh", output="softmax")
        lam = from_sklearn_mlp(alpha, batch, "cross_entropy")
        objective = RegularizedError(model, X, y, penalty=L2(lam))
        trainer = BackpropTrainer(lr=lr, epochs=epochs, batch_size=batch, momentum=momentum)
        times = {"swarmreg": [], "scikit-learn": []}
        scores = {"swarmreg": [], "scikit-learn": []}

        def run_sklearn(seed):
            clf = MLPClassifier(hidden_layer_sizes=(hidden,), activation="tanh", solver="sgd", alpha=alpha,
                                batch_size=batch, learning_rate="constant", learning_rate_init=lr,
                                momentum=momentum, nesterovs_momentum=False, max_iter=epochs, tol=0.0,
                                n_iter_no_change=epochs + 1, shuffle=True, random_state=seed)
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, y)
            times["scikit-learn"].append((time.perf_counter() - t) / epochs)
            scores["scikit-learn"].append(float(clf.score(X, y)))

        def run_swarmreg(seed):
            t = time.perf_counter()
            res = trainer.fit(objective, seed=seed)
            times["swarmreg"].append((time.perf_counter() - t) / epochs)
            scores["swarmreg"].append(float(np.mean(model.predict(res.theta, X) == y)))

        with environment(pinned):
            BackpropTrainer(lr=lr, epochs=1, batch_size=batch).fit(objective, seed=0)  # warm
            for seed in range(cfg.backprop_reps):
                for run in ((run_sklearn, run_swarmreg) if seed % 2 == 0 else (run_swarmreg, run_sklearn)):
                    run(seed)
        out[key] = {"label": label, "epochs": epochs, "lam": lam, "lr": lr, "momentum": momentum, "alpha": alpha,
                    "per_epoch": {k: median(v) for k, v in times.items()},
                    "accuracy": {k: median(v) for k, v in scores.items()},
                    "ratio": median(times["swarmreg"]) / median(times["scikit-learn"])}
    return out


# --------------------------------------------------------------- 4. λ sweep
SWEEP_SPEC = """\
name = "bench"
datasets = ["iris"]
seeds = {seeds}
penalty = "l2"
lambdas = {lambdas}

[model]
hidden = [16]
activation = "tanh"

[[trainers]]
name = "swarm"
kind = "swarm"
particles = 40
iterations = {iterations}

[[trainers]]
name = "backprop"
kind = "backprop"
lr = 0.05
epochs = {epochs}
batch_size = 16
momentum = 0.9
"""


def _blas_info(_):
    """threadpoolctl's view of this (worker) process."""
    from threadpoolctl import threadpool_info

    return threadpool_info()


def sweep(cfg, tmp: Path) -> dict:
    from swarmreg.sweep import ProcessExecutor, open_executor, run_sweep

    spec = tmp / "sweep.toml"
    spec.write_text(SWEEP_SPEC.format(**cfg.sweep))
    times = {"1 worker": [], "2 workers": []}
    values, counter = {}, [0]

    def run(mode):
        counter[0] += 1
        out = tmp / f"sweep-{counter[0]}"
        t = time.perf_counter()
        executor = {"1 worker": lambda: ProcessExecutor(1), "2 workers": lambda: open_executor(jobs=2)}[mode]()
        with executor:
            records = run_sweep(spec, out, executor=executor, progress=False)
        times[mode].append(time.perf_counter() - t)
        values[mode] = [(r["id"], r["value"]) for r in records]

    modes = list(times)
    for rep in range(cfg.sweep_reps):
        for mode in (modes if rep % 2 == 0 else modes[::-1]):
            run(mode)
    with open_executor(jobs=2) as pool:
        worker_blas = next(iter(pool.map_unordered(_blas_info, [None])))
    worker_threads = sorted({d.get("num_threads") for d in worker_blas if d.get("user_api") == "blas"})
    med = {k: median(v) for k, v in times.items()}
    return {"runs": len(values["1 worker"]), "seconds": med, "all_seconds": times,
            "speedup": med["1 worker"] / med["2 workers"],
            "identical_records": values["1 worker"] == values["2 workers"], "worker_blas_threads": worker_threads}


# ------------------------------------------------------------ 5. compile time
COMPILE_PROBE = """
import time
t0 = time.perf_counter()
import numpy as np
from swarmreg import MLP, RegularizedError, L2, backend
from swarmreg.backprop import BackpropTrainer
from swarmreg.swarm import SwarmTrainer
t1 = time.perf_counter()
rng = np.random.default_rng(0)
X, y = rng.standard_normal((60, 4)), rng.integers(0, 3, 60)
obj = RegularizedError(MLP((4, 8, 3), output="softmax"), X, y, penalty=L2(0.01))
SwarmTrainer(particles=10, iterations=5).fit(obj, seed=0)
BackpropTrainer(epochs=2, batch_size=8).fit(obj, seed=0)
t2 = time.perf_counter()
SwarmTrainer(particles=10, iterations=5).fit(obj, seed=1)
BackpropTrainer(epochs=2, batch_size=8).fit(obj, seed=1)
t3 = time.perf_counter()
print(backend.resolve(), t1 - t0, t2 - t1, t3 - t2)
"""


def compile_times(tmp: Path) -> dict:
    """First fits (a swarm and a backprop run) in fresh processes: with an empty numba cache,
    then with the cache that first process left."""
    cache = tmp / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    out = {}
    for label in ("cold cache", "warm cache"):
        proc = subprocess.run([sys.executable, "-c", COMPILE_PROBE], capture_output=True, text=True, env=env,
                              check=True)
        name, imports, first, second = proc.stdout.split()
        out[label] = {"backend": name, "import": float(imports), "first fits": float(first),
                      "same fits again": float(second)}
    return out


# ------------------------------------------------------ 6. growth and memory
def synthetic(n: int, d: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal((d, k))).argmax(axis=1)
    return X, y


def growth(cfg) -> dict:
    """Swarm time per iteration against particles (Iris) and samples (synthetic, 4-20-3)."""
    from sklearn.datasets import load_iris

    from swarmreg import MLP, RegularizedError
    from swarmreg.swarm import SwarmTrainer

    model = MLP((4, 20, 3), hidden="tanh", output="softmax")
    Xi, yi = load_iris(return_X_y=True)

    def per_iteration(objective, particles: int) -> float:
        work = particles * objective.n_samples  # aim at ~cfg.growth_budget seconds per fit
        iterations = int(min(2000, max(2, cfg.growth_budget / (work * 2e-8 + 1e-4))))
        trainer = SwarmTrainer(particles=particles, iterations=iterations, gcpso=False, bounds=None,
                               init_range=(0.0, 1.0))
        SwarmTrainer(particles=particles, iterations=1).fit(objective, seed=0)  # warm up buffers and caches
        times = []
        for rep in range(cfg.growth_reps):
            t = time.perf_counter()
            trainer.fit(objective, seed=rep)
            times.append((time.perf_counter() - t) / iterations)
        return median(times)

    out = {"particles": {}, "samples": {}}
    for dt in (np.float64, np.float32):
        name = np.dtype(dt).name
        iris = RegularizedError(model, Xi, yi, dtype=dt)
        out["particles"][name] = [per_iteration(iris, P) for P in cfg.particles_grid]
        sam = []
        for n in cfg.samples_grid:
            X, y = synthetic(n, 4, 3)
            sam.append(per_iteration(RegularizedError(model, X, y, dtype=dt), 100))
        out["samples"][name] = sam
    out["particles_grid"], out["samples_grid"] = list(cfg.particles_grid), list(cfg.samples_grid)
    out["exponents"] = {}
    for axis, grid in (("particles", cfg.particles_grid), ("samples", cfg.samples_grid)):
        for name, ts in out[axis].items():
            x, t = np.log(np.asarray(grid, float)), np.log(np.asarray(ts))
            top = np.asarray(grid) >= grid[len(grid) // 2]
            out["exponents"][f"{axis} {name}"] = {"all": float(np.polyfit(x, t, 1)[0]),
                                                  "upper half": float(np.polyfit(x[top], t[top], 1)[0])}
    return out


def peak_rss() -> int:
    """This process's peak resident set size in bytes (VmHWM; ru_maxrss where /proc is missing)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_probe(particles: int, samples: int, hidden: int) -> dict:
    """Run in a fresh process: the traced peak of one swarm iteration above the data."""
    import tracemalloc

    from swarmreg import MLP, RegularizedError
    from swarmreg.swarm import SwarmTrainer

    X, y = synthetic(samples, 20, 3)
    data = X.nbytes + y.nbytes
    model = MLP((20, hidden, 3), hidden="tanh", output="softmax")
    objective = RegularizedError(model, X, y)
    SwarmTrainer(particles=2, iterations=2, bounds=None).fit(objective, seed=0)  # compiled code loaded, not counted
    rss0 = peak_rss()
    tracemalloc.start()
    t = time.perf_counter()
    SwarmTrainer(particles=particles, iterations=2, bounds=None).fit(objective, seed=0)
    seconds = (time.perf_counter() - t) / 2
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"particles": particles, "samples": samples, "hidden": hidden, "data_bytes": data,
            "traced_peak_bytes": peak, "maxrss_before_bytes": rss0, "maxrss_bytes": peak_rss(),
            "seconds_per_evaluation": seconds}


def memory(cfg) -> dict:
    P, n, h = cfg.memory_shape
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--memory-probe", str(P), str(n), str(h)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------- reporting
def time_rows(res: dict, cfg) -> list[dict]:
    """The time ratios, swarmreg / other (below 1: swarmreg is faster), with their targets."""
    rows = []
    for env in ("default", "pinned"):
        for shape, r in res["swarm"][env].items():
            for dt in ("float64", "float32"):
                target = TARGETS.get(("swarm", shape, dt)) if env == "default" else None
                rows.append({"what": f"swarm iteration, {shape} ({'-'.join(map(str, r['sizes']))}, {r['particles']} "
                                     f"particles), {dt} / PySwarms GlobalBestPSO", "env": env,
                             "ours": r["per_iteration"][dt] * 1e3,
                             "other": r["per_iteration"]["pyswarms (example)"] * 1e3, "unit": "ms/iter",
                             "ratio": r["ratio"][dt], "target": target})
        for key, b in res["backprop"][env].items():
            target = TARGETS.get(("backprop", key)) if env == "default" else None
            rows.append({"what": f"backprop epoch, {b['label']} / scikit-learn MLPClassifier(sgd)", "env": env,
                         "ours": b["per_epoch"]["swarmreg"] * 1e3, "other": b["per_epoch"]["scikit-learn"] * 1e3,
                         "unit": "ms/epoch", "ratio": b["ratio"], "target": target})
    for dt in ("float64", "float32"):
        k = res["kernel"][dt]
        rows.append({"what": f"swarm iteration, iris, {dt} / the fused evaluation kernel alone", "env": "default",
                     "ours": k["iteration"] * 1e3, "other": k["floor"] * 1e3, "unit": "ms/iter",
                     "ratio": k["ratio"], "target": TARGETS[("kernel", "iris", dt)]})
    for row in rows:
        row["met"] = None if row["target"] is None else row["ratio"] <= row["target"]
    return rows


def other_rows(res: dict) -> list[dict]:
    """Speed-ups (higher is better) and budgets (measured / budget, lower is better)."""
    rows = []
    s = res.get("sweep")
    if s is not None:
        rows.append({"what": f"λ sweep ({s['runs']} runs): 1 worker process / 2 worker processes", "kind": "speed-up",
                     "value": s["speedup"], "target": f">= {SWEEP_SPEEDUP}", "met": s["speedup"] >= SWEEP_SPEEDUP})
    mem = res["memory"]
    rows.append({"what": f"peak memory above the data, {mem['particles']} particles x {mem['samples']} samples x "
                         f"{mem['hidden']} hidden / a 300 MB budget", "kind": "budget",
                 "value": mem["traced_peak_bytes"] / MEMORY_BUDGET, "target": "<= 1",
                 "met": mem["traced_peak_bytes"] <= MEMORY_BUDGET})
    return rows


def fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:.3e}"


def text_table(rows, others) -> str:
    width = max(len(r["what"]) for r in rows + others)
    lines = [f"{'time ratio (swarmreg / other)':<{width}} {'env':>8} {'swarmreg':>9} {'other':>9} {'unit':>9} "
             f"{'ratio':>7} {'target':>8}  met"]
    for r in rows:
        target = "" if r["target"] is None else f"<= {r['target']:g}"
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        lines.append(f"{r['what']:<{width}} {r['env']:>8} {fmt(r['ours']):>9} {fmt(r['other']):>9} {r['unit']:>9} "
                     f"{r['ratio']:>7.3f} {target:>8}  {met}")
    lines.append("")
    for r in others:
        lines.append(f"{r['what']:<{width}} {r['kind']:>8} {r['value']:>7.3f} {r['target']:>8}  "
                     f"{'yes' if r['met'] else 'NO'}")
    return "\n".join(lines)


GPU_NOTE = """## What a GPU array backend would take (on paper: no GPU on these machines)

The two kernels that carry a run map onto a GPU array library (CuPy, JAX) without a change of algorithm:

* **The swarm's evaluation** is a batched forward pass: for P particles and n samples the first layer is one
  (P·h, d + 1) @ (d + 1, n) product and each later layer a batched (k, h) @ (h, n) product per particle — the
  numpy code already has this shape (`MLP.stack_logits_T`), the compiled kernel loops over it.  For 10⁵
  particles on Iris (4-20-3, 163 parameters, 150 samples) the positions take 10⁵ × 163 × 4 B = 65 MB in float32,
  the hidden activations 10⁵ × 20 × 150 × 4 B = 1.2 GB at once, so a GPU would evaluate the swarm in chunks of
  about 10⁴ particles (120 MB of activations each) — the chunking `RegularizedError.batch` already does
  against its memory budget.  The loss and the penalty reduce per particle on the device; only the P values
  come back (400 kB).
* **The move** is elementwise over (P, D) with two random numbers per coordinate: the compiled kernel already
  draws them from a counter-based stream (SplitMix64 on counters), which runs on a GPU unchanged (or Philox,
  which CuPy and JAX provide), so the numbers are made where they are used and the same key gives the same
  swarm on any device of one kind.  Positions, velocities and personal bests, 3 × 65 MB, stay on the device
  for the whole fit.
* **The host** keeps what is small and sequential: the argmin of the P personal bests (one reduction, 4 bytes
  back), GCPSO's ρ, the stop rule, the history row and the callback — a few hundred bytes a step.
* **Backprop** on one network is latency-bound at these sizes (a 20-64-3 step is microseconds of work), so a
  GPU helps it only when many runs are batched: the λ grid × seeds of a sweep as one batched network, the
  same way the swarm batches particles.

Nothing in the trainers' interfaces assumes numpy on the host beyond `batch(thetas) -> values` and a flat θ,
so such a backend is one more implementation of `RegularizedError.batch` and of the move, chosen like the
numba one by `swarmreg.backend`.
"""


def markdown(res: dict, rows, others, cfg) -> str:
    m = res["machine"]
    L = ["# swarmreg benchmarks", "",
         f"Written by `python scripts/bench.py{' --quick' if cfg.quick else ''}` on {time.strftime('%Y-%m-%d %H:%M')} "
         f"in {res['seconds']:.0f} s.  Rerun it for your machine's numbers: ratios, not seconds, carry over.  "
         "Every comparison ran in one process, alternating the contenders, each figure the median of the "
         "repeats.  **default**: the environment a user has (no thread variable set; swarmreg holds BLAS to one "
         "thread inside its fits, PySwarms and scikit-learn use OpenBLAS's default); **pinned**: BLAS held to "
         "one thread for every contender.", ""]
    if cfg.quick:
        L += ["**Quick run**: few repeats and small sizes, to check that the script works; the ratios are rough "
              "and no target is judged.", ""]
    L += ["## Machine", "", "| | |", "|---|---|"]
    for k in ("cpu", "cores", "platform", "python", "numpy", "blas", "OPENBLAS_CORETYPE", "thread variables",
              "swarmreg backend", "numba", "scipy", "swarmreg", "pyswarms", "scikit-learn"):
        if k in m:
            L.append(f"| {k} | {m[k]} |")
    L += ["", "## Time ratios (swarmreg / other: below 1, swarmreg is faster)", "",
          "| comparison | environment | swarmreg | other | unit | ratio | target | met |",
          "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        target = "" if r["target"] is None or cfg.quick else f"<= {r['target']:g}"
        met = "" if r["met"] is None or cfg.quick else ("yes" if r["met"] else "**no**")
        L.append(f"| {r['what']} | {r['env']} | {fmt(r['ours'])} | {fmt(r['other'])} | {r['unit']} | "
                 f"{r['ratio']:.3f} | {target} | {met} |")
    L += ["", "## Speed-ups and budgets", "", "| measure | kind | value | target | met |", "|---|---|---|---|---|"]
    for r in others:
        met = "" if cfg.quick else ("yes" if r["met"] else "**no**")
        L.append(f"| {r['what']} | {r['kind']} | {r['value']:.3f} | {'' if cfg.quick else r['target']} | {met} |")
    # 1.
    L += ["", "## 1. The swarm against PySwarms", "",
          "PySwarms' \"train a neural network\" example: tanh hidden layer, softmax output, mean negative "
          "log-likelihood, w = 0.9, c1 = 0.5, c2 = 0.3, unbounded, positions started uniform in [0, 1).  PySwarms "
          "runs `GlobalBestPSO` on the example's per-particle objective; swarmreg runs `SwarmTrainer(gcpso=False)` "
          "(the same plain global best, one evaluation of the swarm per iteration) with `RegularizedError` in "
          f"float64 and float32, on its {m['swarmreg backend']} backend.  The 30-16-2 shape is a synthetic "
          "breast-cancer-sized problem (300 samples, 30 features, 2 classes).  Every final position is scored "
          "with the same float64 mean NLL.", "",
          "| shape | environment | contender | ms / iteration | ratio to PySwarms (example) | median final loss |",
          "|---|---|---|---|---|---|"]
    for env in ("default", "pinned"):
        for shape, r in res["swarm"][env].items():
            for k in r["per_iteration"]:
                L.append(f"| {shape}, {r['iterations']} iterations, {r['seeds']} seeds | {env} | {k} | "
                         f"{r['per_iteration'][k] * 1e3:.3f} | {r['ratio'][k]:.3f} | {r['final_median'][k]:.4g} |")
    iris = res["swarm"]["default"]["iris"]
    if iris["mannwhitney"]:
        L += ["", "Final loss on Iris, swarmreg against PySwarms (example), two-sided Mann-Whitney U over the seeds: "
              + "; ".join(f"{k}: p = {p:.3g}" for k, p in iris["mannwhitney"].items())
              + " (a large p: no evidence that either finds better networks; the medians are in the table)."]
    # 2.
    k = res["kernel"]
    L += ["", "## 2. The swarm iteration against the fused evaluation kernel", "",
          f"The floor of an iteration is one evaluation of the swarm.  On the {k['backend']} backend it is "
          + ("the fused kernel (`swarmreg.kernels.forward.batch_values`, every particle's forward pass, loss and "
             "penalty in one compiled call) called directly with its arguments prepared once; "
             if k["backend"] == "numba" else "numpy's `RegularizedError.batch`; ")
          + "an iteration adds the move, the bests, the diversity and the history row.  The floor and the "
          f"evaluation (in runs of {cfg.kernel_calls} calls each) and a whole fit alternate five times, each figure "
          "a median.  Iris 4-20-3, 100 particles, µs per iteration:", "", "| part | float64 | float32 |", "|---|---|---|"]
    for part in k["float64"]["parts"]:
        L.append(f"| {part} | {k['float64']['parts'][part] * 1e6:.0f} | {k['float32']['parts'][part] * 1e6:.0f} |")
    L.append(f"| **whole iteration** | **{k['float64']['iteration'] * 1e6:.0f}** | "
             f"**{k['float32']['iteration'] * 1e6:.0f}** |")
    L.append(f"| ratio iteration / kernel | {k['float64']['ratio']:.2f} | {k['float32']['ratio']:.2f} |")
    cells = 100 * 20 * 150
    L += ["", f"The kernel costs {k['float64']['floor'] / cells * 1e9:.2f} ns (float64) and "
          f"{k['float32']['floor'] / cells * 1e9:.2f} ns (float32) per hidden activation, tanh included: tanh is "
          "the largest part of it (21 vector operations per value in float64, 14 in float32, one of them a "
          "division)."]
    # 3.
    L += ["", "## 3. Backprop epoch against scikit-learn", "",
          "Same network, minibatch size, learning rate, heavy-ball momentum (`nesterovs_momentum=False`) and "
          "shuffling each epoch; scikit-learn's `alpha` becomes swarmreg's λ = alpha / batch_size "
          "(`swarmreg.conventions.from_sklearn_mlp`).  swarmreg's epoch includes its history row (E, D, R "
          "on all training samples); scikit-learn's does not compute one.", "",
          "| problem | environment | epochs | swarmreg ms/epoch | scikit-learn ms/epoch | ratio | train accuracy "
          "swarmreg / scikit-learn |", "|---|---|---|---|---|---|---|"]
    for env in ("default", "pinned"):
        for b in res["backprop"][env].values():
            L.append(f"| {b['label']}, lr {b['lr']}, momentum {b['momentum']}, alpha {b['alpha']} | {env} | "
                     f"{b['epochs']} | {b['per_epoch']['swarmreg'] * 1e3:.3f} | "
                     f"{b['per_epoch']['scikit-learn'] * 1e3:.3f} | {b['ratio']:.3f} | "
                     f"{b['accuracy']['swarmreg']:.3f} / {b['accuracy']['scikit-learn']:.3f} |")
    # 4.
    sw = res.get("sweep")
    L += ["", "## 4. λ sweep on worker processes", ""]
    if sw is None:
        L += ["Not run in quick mode: a sweep of a few seconds measures starting the pool, not the speed-up."]
    else:
        L += [f"`swarmreg.sweep.run_sweep` on a spec of {sw['runs']} runs (Iris, a swarm and backprop, "
              f"{len(json.loads(cfg.sweep['lambdas']))} λ values, {cfg.sweep['seeds']} seeds), wall time including "
              f"starting the pool.  Each worker holds BLAS to one thread (seen from inside a worker: "
              f"{sw['worker_blas_threads']}).  Records identical with 1 and 2 workers: "
              f"{'yes' if sw['identical_records'] else '**no**'}.", "",
              f"Each mode ran {cfg.sweep_reps} times, the modes alternating; the table gives the median and "
              "every run (this machine's speed moves by several per cent from one minute to the next).", "",
              "| mode | seconds (median) | every run |", "|---|---|---|",
              f"| ProcessExecutor(1) | {sw['seconds']['1 worker']:.2f} | "
              f"{', '.join(f'{t:.1f}' for t in sw['all_seconds']['1 worker'])} |",
              f"| open_executor(jobs=2) | {sw['seconds']['2 workers']:.2f} | "
              f"{', '.join(f'{t:.1f}' for t in sw['all_seconds']['2 workers'])} |",
              f"| speed-up (ratio of the medians) | {sw['speedup']:.2f} | |"]
    # 5.
    ct = res["compile"]
    L += ["", "## 5. Compile time of the kernels", "",
          "A fresh process runs a small swarm fit and a backprop fit (the first fits), then the same again, with "
          "numba's cache first empty, then as the first process left it.  Seconds:", "",
          "| cache | backend | import swarmreg | first fits | the same fits again |", "|---|---|---|---|---|"]
    for label, c in ct.items():
        L.append(f"| {label} | {c['backend']} | {c['import']:.2f} | {c['first fits']:.2f} | "
                 f"{c['same fits again']:.3f} |")
    L += ["", "Compiling happens once per machine and swarmreg version (numba caches it on disk, next to the "
          "package); every later process, a sweep's workers included, loads it in the warm-cache time."]
    # 6.
    gr, mem = res["growth"], res["memory"]
    L += ["", "## 6. Growth and memory", "", "![scaling](benchmarks.png)", "",
          "Swarm time per iteration against the number of particles (Iris, 4-20-3) and of samples (synthetic "
          "4-feature, 3-class data, 100 particles).  Fitted log-log exponents (1 = linear; small sizes carry a "
          "fixed per-iteration cost, so the upper half shows the asymptotic growth):", "",
          "| axis | exponent, whole range | exponent, upper half |", "|---|---|---|"]
    for key, e in gr["exponents"].items():
        L.append(f"| {key} | {e['all']:.2f} | {e['upper half']:.2f} |")
    mb = 2.0**20
    L += ["", f"Peak memory of one swarm fit (2 evaluations, 1 move) with {mem['particles']} particles × "
          f"{mem['samples']} samples × {mem['hidden']} hidden units (20 inputs, 3 classes, float64), in a fresh "
          "process, traced by `tracemalloc` from just after the data was created:", "",
          "| data (X, y) | traced peak above the data | budget | process max RSS after the fit | "
          "seconds per evaluation |", "|---|---|---|---|---|",
          f"| {mem['data_bytes'] / mb:.1f} MB | {mem['traced_peak_bytes'] / mb:.1f} MB | 300 MB | "
          f"{mem['maxrss_bytes'] / mb:.0f} MB | {mem['seconds_per_evaluation']:.2f} |", "", GPU_NOTE]
    return "\n".join(L)


def plot(res: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gr = res["growth"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, axis, xlabel in ((axes[0], "particles", "particles (Iris, 150 samples)"),
                             (axes[1], "samples", "samples (100 particles)")):
        grid = np.asarray(gr[f"{axis}_grid"], float)
        for name, ts in gr[axis].items():
            ts = np.asarray(ts) * 1e3
            e = gr["exponents"][f"{axis} {name}"]
            ax.loglog(grid, ts, "o-", label=f"{name}: exponent {e['all']:.2f} (upper half {e['upper half']:.2f})")
        ref = np.asarray(gr[axis]["float64"]) * 1e3
        ax.loglog(grid, ref[-1] * grid / grid[-1], "k:", lw=1, label="linear")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ms per swarm iteration")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("time per iteration vs particles (4-20-3)")
    axes[1].set_title("time per iteration vs samples (4-20-3)")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


# ------------------------------------------------------------------- main
class Config:
    def __init__(self, quick: bool):
        self.quick = quick
        self.shapes = ("iris", "30-16-2", "iris, 1,000 particles")
        self.iterations = ({"iris": 40, "30-16-2": 20, "iris, 1,000 particles": 5} if quick else
                           {"iris": 1000, "30-16-2": 300, "iris, 1,000 particles": 60})
        self.seeds = ({"iris": 2, "30-16-2": 1, "iris, 1,000 particles": 1} if quick else
                      {"iris": 5, "30-16-2": 5, "iris, 1,000 particles": 5})
        self.kernel_calls = 20 if quick else 300
        self.synthetic_n = 1000 if quick else 5000
        self.synthetic_epochs = 2 if quick else 20
        self.iris_epochs = 5 if quick else 200
        self.backprop_reps = 1 if quick else 5
        self.sweep = {"seeds": 8, "lambdas": "[0.0, 0.0001, 0.001, 0.01, 0.1, 1.0]", "iterations": 3000,
                      "epochs": 1000}
        self.sweep_reps = 5
        self.particles_grid = [10, 30, 100] if quick else [10, 20, 50, 100, 200, 500, 1000]
        self.samples_grid = [100, 1000, 3000] if quick else [100, 300, 1000, 3000, 10000, 30000, 100000]
        self.growth_budget = 0.05 if quick else 0.4
        self.growth_reps = 1 if quick else 3
        self.memory_shape = (100, 10000, 32) if quick else (1000, 100000, 32)


def output_folder(out, quick: bool) -> Path:
    """Where the files go: ``out`` when given, else figures/ for a full run and a new temporary
    folder for a quick one (a quick run never writes over the committed full run)."""
    if out is not None:
        return Path(out).resolve()
    if quick:
        return Path(tempfile.mkdtemp(prefix="swarmreg-bench-quick-"))
    return ROOT / "figures"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: few repeats, small sizes, no targets judged")
    p.add_argument("--out", default=None, help="folder for BENCHMARKS.md and benchmarks.png (default: figures/ for "
                                                "the full run, a new temporary folder for --quick)")
    p.add_argument("--memory-probe", nargs=3, type=int, metavar=("P", "N", "H"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(*args.memory_probe)))
        return 0
    out = output_folder(args.out, args.quick)
    cfg = Config(args.quick)
    start = time.perf_counter()
    res = {"machine": machine(), "swarm": {"default": {}, "pinned": {}}, "backprop": {}}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="swarmreg-bench-") as tmp:
        os.chdir(tmp)  # PySwarms writes report.log into the working directory
        try:
            for env in ("default", "pinned"):
                for shape in cfg.shapes:
                    print(f"1. swarm against PySwarms: {shape}, {env} ...", flush=True)
                    res["swarm"][env][shape] = swarm_vs_pyswarms(cfg, shape, pinned=env == "pinned")
                print(f"3. backprop against scikit-learn, {env} ...", flush=True)
                res["backprop"][env] = backprop_vs_sklearn(cfg, pinned=env == "pinned")
            print("2. the iteration against the fused kernel ...", flush=True)
            res["kernel"] = kernel_limit(cfg, "iris")
            if not cfg.quick:
                print("4. λ sweep on worker processes ...", flush=True)
                res["sweep"] = sweep(cfg, Path(tmp))
            print("5. compile time ...", flush=True)
            res["compile"] = compile_times(Path(tmp))
            print("6. growth and memory ...", flush=True)
            res["growth"] = growth(cfg)
            res["memory"] = memory(cfg)
        finally:
            os.chdir(cwd)
    res["seconds"] = time.perf_counter() - start
    rows, others = time_rows(res, cfg), other_rows(res)
    m = res["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}, BLAS {m['blas']}, "
          f"OPENBLAS_CORETYPE {m['OPENBLAS_CORETYPE']}, swarmreg backend {m['swarmreg backend']}")
    print(text_table(rows, others))
    text = markdown(res, rows, others, cfg)
    atomic_write(out / "BENCHMARKS.md", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    plot(res, out / "benchmarks.png")
    print(f"wrote {out / 'BENCHMARKS.md'} and {out / 'benchmarks.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
