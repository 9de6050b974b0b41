"""Benchmark swarmreg against PySwarms and scikit-learn, and against the machine's limit.

    python scripts/bench.py              # the full run (a few minutes)
    python scripts/bench.py --quick      # a reduced run (seconds; used by the tests)
    python scripts/bench.py --out DIR    # where BENCHMARKS.md and benchmarks.png go (default figures/)

Every comparison runs in this one process (the λ sweep also in worker
processes), alternating the contenders and repeating each to quote medians,
so the ratios (swarmreg / other) hold on the machine that printed them:

1. the swarm on PySwarms' Iris example (4-20-3, tanh, softmax, mean negative
   log-likelihood, 100 particles, w=0.9, c1=0.5, c2=0.3) against PySwarms'
   ``GlobalBestPSO`` with that example's per-particle objective: time per
   iteration in float64 and float32, and the final loss over seeds;
2. one swarm iteration against the bare kernel of the same shapes (first layer
   of all particles as one matrix product, tanh, the second layer as a batched
   product, log-sum-exp), with a profile of where the rest goes;
3. a backprop epoch against scikit-learn's ``MLPClassifier(solver="sgd")`` with
   the same network, batch size, momentum and alpha;
4. a λ sweep on 2 worker processes against 1;
5. growth of the swarm's time per iteration with particles and samples (fitted
   log-log exponents) and the peak memory of a large chunked evaluation.

BLAS is pinned to one thread in this process, for every contender alike, and
in the sweep's workers.  PySwarms writes ``report.log`` into the working
directory, so the benchmark runs in a temporary one.
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

# Targets by row key: (kind, bound); "max" means ratio <= bound, "min" ratio >= bound.
TARGETS = {
    "swarm64": ("max", 0.2),
    "swarm32": ("max", 0.1),
    "loss64": ("max", 1.0),
    "loss32": ("max", 1.0),
    "kernel64": ("max", 2.0),
    "kernel32": ("max", 2.0),
    "backprop_synthetic": ("max", 0.7),
    "backprop_iris": ("max", 0.7),
    "sweep": ("min", 1.7),
    "memory": ("max", 1.0),
}


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


def machine() -> dict:
    """CPU model, cores, Python, numpy and the BLAS numpy uses."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "platform": platform.platform(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)")}
    try:
        from threadpoolctl import threadpool_info
        blas = [d for d in threadpool_info() if d.get("user_api") == "blas"]
        info["blas"] = "; ".join(f"{d.get('internal_api')} {d.get('version')} ({d.get('architecture')}, "
                                 f"{d.get('num_threads')} threads by default)" for d in blas) or "unknown"
    except ImportError:
        info["blas"] = "unknown (no threadpoolctl)"
    import importlib.metadata as md
    for pkg in ("swarmreg", "scipy", "pyswarms", "scikit-learn"):
        with contextlib.suppress(md.PackageNotFoundError):
            info[pkg] = md.version(pkg)
    return info


# ------------------------------------------------------- 1. PySwarms' Iris NN
N_INPUTS, N_HIDDEN, N_CLASSES = 4, 20, 3
N_DIMS = N_INPUTS * N_HIDDEN + N_HIDDEN + N_HIDDEN * N_CLASSES + N_CLASSES  # 163


def pyswarms_example_objective(X: np.ndarray, y: np.ndarray, tuned: bool = False):
    """The per-particle objective of PySwarms' "train a neural network" example.

    Source: pyswarms.readthedocs.io, examples/usecases/train_neural_network.
    For each particle in turn: unroll W1 (4, 20), b1, W2 (20, 3), b2 from the
    flat position, z1 = X·W1 + b1, tanh, z2 = a1·W2 + b2, softmax probabilities
    exp(z2) / Σ exp(z2) (unshifted, as there), and the mean of −log p(true
    class), picked with ``probs[range(n), y]``.  ``tuned=True`` picks with a
    precomputed index array instead (the only change).
    """
    n = X.shape[0]
    rows = np.arange(n) if tuned else None

    def loss(params):
        W1 = params[0:80].reshape((N_INPUTS, N_HIDDEN))
        b1 = params[80:100].reshape((N_HIDDEN,))
        W2 = params[100:160].reshape((N_HIDDEN, N_CLASSES))
        b2 = params[160:163].reshape((N_CLASSES,))
        a1 = np.tanh(X.dot(W1) + b1)
        scores = np.exp(a1.dot(W2) + b2)
        probs = scores / np.sum(scores, axis=1, keepdims=True)
        picked = probs[rows, y] if tuned else probs[range(n), y]
        return np.sum(-np.log(picked)) / n

    def objective(positions):
        return np.array([loss(positions[i]) for i in range(positions.shape[0])])

    return objective


class BareKernel:
    """The least work one swarm evaluation of an MLP d-h-k needs, in numpy.

    Weights are laid out in advance for the products (outside the timing) and
    every buffer is allocated once: the first layer of all particles is one
    (P·h, d + 1) @ (d + 1, n) matrix product with the bias in the last column,
    then tanh in place, the second layer one (k, h) @ (h, n) product per
    particle (a batched ``matmul``) plus its bias, and the stable log-sum-exp
    loss summed per particle.
    """

    def __init__(self, thetas: np.ndarray, X: np.ndarray, y: np.ndarray, h: int, dtype):
        P, (n, d) = thetas.shape[0], X.shape
        k = int(y.max()) + 1
        t = thetas.astype(dtype)
        W1 = t[:, :d * h].reshape(P, d, h)
        self.A = np.empty((P, h, d + 1), dtype)
        self.A[:, :, :d] = W1.transpose(0, 2, 1)
        self.A[:, :, d] = t[:, d * h:(d + 1) * h]
        self.A = self.A.reshape(P * h, d + 1)
        off = (d + 1) * h
        self.W2T = np.ascontiguousarray(t[:, off:off + h * k].reshape(P, h, k).transpose(0, 2, 1))
        self.b2 = np.ascontiguousarray(t[:, off + h * k:off + h * k + k].T)[:, :, None]  # (k, P, 1)
        self.XT1 = np.ones((d + 1, n), dtype)
        self.XT1[:d] = X.T
        self.onehot = np.zeros((k, n), dtype)
        self.onehot[y, np.arange(n)] = 1.0
        self.hidden = np.empty((P * h, n), dtype)
        self.z = np.empty((k, P, n), dtype)  # output-major: each z[j] is one contiguous (P, n) block
        self.zmax = np.empty((P, n), dtype)
        self.lse = np.empty((P, n), dtype)
        self.shape = (P, d, h, k, n)

    def first(self):
        np.matmul(self.A, self.XT1, out=self.hidden)

    def activation(self):
        np.tanh(self.hidden, out=self.hidden)

    def second(self):
        P, d, h, k, n = self.shape
        np.matmul(self.W2T, self.hidden.reshape(P, h, n), out=self.z.transpose(1, 0, 2))
        self.z += self.b2

    def loss(self):
        z, zmax, t = self.z, self.zmax, self.onehot
        picked = z[0] @ t[0]
        np.maximum(z[0], z[1], out=zmax)
        for j in range(1, z.shape[0]):
            picked += z[j] @ t[j]
            if j > 1:
                np.maximum(zmax, z[j], out=zmax)
        z -= zmax
        np.exp(z, out=z)
        s = np.add(z[0], z[1], out=self.lse)
        for j in range(2, z.shape[0]):
            s += z[j]
        np.log(s, out=s)
        s += zmax
        return s.sum(axis=1) - picked

    def __call__(self):
        self.first()
        self.activation()
        self.second()
        return self.loss()

    def stages(self, calls: int, reps: int) -> dict:
        """Median seconds per call of each stage, from timings of growing prefixes of
        the kernel (so every stage runs on the values it sees in a real call)."""
        steps = [("first", self.first), ("activation", self.activation), ("second", self.second),
                 ("loss", self.loss)]
        out, before = {}, 0.0
        for i, (name, _) in enumerate(steps):
            prefix = [fn for _, fn in steps[:i + 1]]
            total = median(per_call(lambda: [fn() for fn in prefix], calls, reps))
            out[name] = max(0.0, total - before)
            before = total
        return out


def iris_swarm(cfg) -> dict:
    """Section 1 and 2: swarmreg's swarm against PySwarms, and against the bare kernel."""
    import pyswarms as ps
    from scipy.stats import mannwhitneyu
    from sklearn.datasets import load_iris

    from swarmreg import MLP, RegularizedError
    from swarmreg.swarm import SwarmTrainer

    X, y = load_iris(return_X_y=True)
    model = MLP((N_INPUTS, N_HIDDEN, N_CLASSES), hidden="tanh", output="softmax")
    judge = RegularizedError(model, X, y)  # float64 mean NLL: the loss every contender is scored on
    objectives = {"swarmreg float64": judge,
                  "swarmreg float32": RegularizedError(model, X, y, dtype=np.float32)}
    iters = cfg.iris_iterations
    # both evaluate the swarm once per iteration; PySwarms' algorithm is the plain global best
    trainer = SwarmTrainer(particles=100, iterations=iters, inertia=0.9, c1=0.5, c2=0.3, gcpso=False,
                           bounds=None, init_range=(0.0, 1.0))
    others = {"pyswarms (example)": pyswarms_example_objective(X, y),
              "pyswarms (tuned pick)": pyswarms_example_objective(X, y, tuned=True)}
    kernels = {dt: BareKernel(np.random.default_rng(0).uniform(0, 1, (100, N_DIMS)), X, y, N_HIDDEN, dt)
               for dt in (np.float64, np.float32)}
    for dt, kern in kernels.items():  # the kernel computes the same loss as swarmreg
        thetas = np.random.default_rng(0).uniform(0, 1, (100, N_DIMS))
        got = kern() / X.shape[0]
        want = RegularizedError(model, X, y, dtype=dt).batch_data_loss(thetas)
        np.testing.assert_allclose(got, want, rtol=1e-10 if dt == np.float64 else 1e-4)
    seconds = {name: [] for name in (*others, *objectives)}
    kernel_seconds = {dt: [] for dt in kernels}
    final = {name: [] for name in seconds}

    def run_pyswarms(name, seed):
        np.random.seed(seed)  # PySwarms draws from numpy's global generator
        opt = ps.single.GlobalBestPSO(n_particles=100, dimensions=N_DIMS,
                                      options={"c1": 0.5, "c2": 0.3, "w": 0.9})
        t = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the example's unshifted exp
            _, pos = opt.optimize(others[name], iters=iters, verbose=False)
        seconds[name].append((time.perf_counter() - t) / iters)
        final[name].append(judge(pos))

    def run_swarmreg(name, seed):
        t = time.perf_counter()
        res = trainer.fit(objectives[name], seed=seed)
        seconds[name].append((time.perf_counter() - t) / iters)
        final[name].append(judge(res.theta))

    for seed in range(cfg.seeds):
        order = [(run_pyswarms, n) for n in others] + [(run_swarmreg, n) for n in objectives]
        if seed % 2:
            order.reverse()
        for run, name in order:
            run(name, seed)
        for dt, kern in kernels.items():
            kernel_seconds[dt].append(median(per_call(kern, cfg.kernel_calls, 3)))

    base = median(seconds["pyswarms (example)"])
    out = {"iterations": iters, "seeds": cfg.seeds, "seconds": seconds, "final": final,
           "per_iteration": {k: median(v) for k, v in seconds.items()},
           "final_median": {k: median(v) for k, v in final.items()}}
    out["ratio"] = {k: median(v) / base for k, v in seconds.items()}
    out["ratio_tuned"] = {k: median(v) / median(seconds["pyswarms (tuned pick)"]) for k, v in seconds.items()}
    out["mannwhitney"] = {}
    for k in objectives:
        if cfg.seeds >= 2:
            p = mannwhitneyu(final[k], final["pyswarms (example)"], alternative="two-sided").pvalue
            out["mannwhitney"][k] = float(p)
    # 2. the same iteration against the bare kernel, both measured above
    out["kernel"] = {}
    for dt, name in ((np.float64, "swarmreg float64"), (np.float32, "swarmreg float32")):
        kern = median(kernel_seconds[dt])
        out["kernel"][name] = {"kernel": kern, "ratio": out["per_iteration"][name] / kern,
                               "stages": kernels[dt].stages(cfg.kernel_calls, 3)}
    out["profile"] = {name: profile_iteration(obj, trainer, cfg) for name, obj in objectives.items()}
    return out


def profile_iteration(objective, trainer, cfg) -> dict:
    """Median seconds per swarm iteration of each part, measured with the
    trainer's own pieces on a swarm of the benchmark's shape."""
    from swarmreg.swarm import GlobalBest, init_swarm, move, tell

    rng = np.random.default_rng(0)
    P, D = trainer.particles, objective.n_params
    dtype = np.float32 if objective.dtype == np.float32 else np.float64
    state = init_swarm(rng, P, D, trainer.init_range, trainer.bounds, None, dtype)
    best = GlobalBest()
    values = objective.batch(state.positions)
    tell(state, values)
    calls, reps = cfg.kernel_calls, 3
    parts = {}
    parts["evaluation: objective.batch"] = median(per_call(lambda: objective.batch(state.positions), calls, reps))
    parts["update: random numbers r1, r2"] = median(per_call(
        lambda: rng.random(out=state.random, dtype=state.random.dtype), calls, reps))
    whole = median(per_call(lambda: move(state, rng, best(state), trainer.inertia, trainer.c1, trainer.c2,
                                         None, None), calls, reps))
    parts["update: velocity and position arithmetic"] = max(0.0, whole - parts["update: random numbers r1, r2"])
    parts["personal and global bests (tell, argmin)"] = median(per_call(
        lambda: (tell(state, values), state.personal_best_value.argmin()), calls, reps))
    return parts


# --------------------------------------------------- 3. backprop vs scikit-learn
def backprop_vs_sklearn(cfg) -> dict:
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
        "backprop_synthetic": (f"{cfg.synthetic_n} x 20, 20-64-3 tanh, batch 32", Xs, ys, 64, 32, cfg.synthetic_epochs),
        "backprop_iris": ("Iris 150 x 4, 4-20-3 tanh, batch 16", Xi, yi, 20, 16, cfg.iris_epochs),
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
    times = {"serial": [], "1 worker": [], "2 workers": []}
    values, counter = {}, [0]

    def run(mode):
        counter[0] += 1
        out = tmp / f"sweep-{counter[0]}"
        t = time.perf_counter()
        # serial: open_executor(jobs=1), the runs in this process; "1 worker": one worker process
        executor = {"serial": lambda: open_executor(jobs=1), "1 worker": lambda: ProcessExecutor(1),
                    "2 workers": lambda: open_executor(jobs=2)}[mode]()
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
    return {"runs": len(values["serial"]), "seconds": med, "all_seconds": times,
            "speedup": med["1 worker"] / med["2 workers"], "speedup_vs_serial": med["serial"] / med["2 workers"],
            "identical_records": values["serial"] == values["1 worker"] == values["2 workers"],
            "worker_blas_threads": worker_threads}


# ------------------------------------------------------ 5. growth and memory
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
        iterations = int(min(2000, max(2, cfg.growth_budget / (work * 4e-8 + 2e-4))))
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
    """This process's peak resident set size in bytes (VmHWM; ru_maxrss where /proc is missing,
    which on Linux may still hold the parent's peak from before exec)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_probe(particles: int, samples: int, hidden: int) -> dict:
    """Run in a fresh process: the traced peak of one swarm iteration above the data."""
    import tracemalloc

    from threadpoolctl import threadpool_limits

    from swarmreg import MLP, RegularizedError
    from swarmreg.swarm import SwarmTrainer

    threadpool_limits(1)
    X, y = synthetic(samples, 20, 3)
    data = X.nbytes + y.nbytes
    rss0 = peak_rss()
    tracemalloc.start()
    model = MLP((20, hidden, 3), hidden="tanh", output="softmax")
    objective = RegularizedError(model, X, y)
    t = time.perf_counter()
    SwarmTrainer(particles=particles, iterations=2, bounds=None).fit(objective, seed=0)
    seconds = (time.perf_counter() - t) / 2
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = peak_rss()
    return {"particles": particles, "samples": samples, "hidden": hidden, "data_bytes": data,
            "traced_peak_bytes": peak, "maxrss_before_bytes": rss0, "maxrss_bytes": rss,
            "seconds_per_evaluation": seconds}


def memory(cfg) -> dict:
    P, n, h = cfg.memory_shape
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--memory-probe", str(P), str(n), str(h)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------- reporting
def ratio_rows(res: dict) -> list[dict]:
    """One row per target: what is compared, both sides, the ratio and the target."""
    rows = []
    iris = res["iris"]
    for key, name in (("swarm64", "swarmreg float64"), ("swarm32", "swarmreg float32")):
        rows.append({"key": key, "what": f"swarm iteration, Iris 4-20-3, 100 particles, {name.split()[1]} "
                                         "/ PySwarms GlobalBestPSO (example objective)",
                     "ours": iris["per_iteration"][name] * 1e3, "other": iris["per_iteration"]["pyswarms (example)"] * 1e3,
                     "unit": "ms/iter", "ratio": iris["ratio"][name]})
    for key, name in (("loss64", "swarmreg float64"), ("loss32", "swarmreg float32")):
        p = iris["mannwhitney"].get(name, float("nan"))
        rows.append({"key": key, "what": f"median final loss over {iris['seeds']} seeds, {name.split()[1]} / PySwarms "
                                         f"(Mann-Whitney p = {p:.2g})",
                     "ours": iris["final_median"][name], "other": iris["final_median"]["pyswarms (example)"],
                     "unit": "NLL", "ratio": iris["final_median"][name] / iris["final_median"]["pyswarms (example)"],
                     "p": p})
    for key, name in (("kernel64", "swarmreg float64"), ("kernel32", "swarmreg float32")):
        k = iris["kernel"][name]
        rows.append({"key": key, "what": f"swarm iteration / bare kernel of the same shapes, {name.split()[1]}",
                     "ours": iris["per_iteration"][name] * 1e3, "other": k["kernel"] * 1e3, "unit": "ms/iter",
                     "ratio": k["ratio"]})
    for key, b in res["backprop"].items():
        rows.append({"key": key, "what": f"backprop epoch / scikit-learn MLPClassifier sgd, {b['label']}",
                     "ours": b["per_epoch"]["swarmreg"] * 1e3, "other": b["per_epoch"]["scikit-learn"] * 1e3,
                     "unit": "ms/epoch", "ratio": b["ratio"]})
    s = res["sweep"]
    rows.append({"key": "sweep", "what": f"λ sweep ({s['runs']} runs), speed-up: serial (1 BLAS thread) / "
                                         "open_executor(jobs=2)",
                 "ours": s["seconds"]["2 workers"], "other": s["seconds"]["serial"], "unit": "s",
                 "ratio": s["speedup_vs_serial"]})
    rows.append({"key": "sweep",
                 "what": f"λ sweep ({s['runs']} runs), speed-up: ProcessExecutor(1) / open_executor(jobs=2)",
                 "ours": s["seconds"]["2 workers"], "other": s["seconds"]["1 worker"], "unit": "s",
                 "ratio": s["speedup"]})
    mem = res["memory"]
    rows.append({"key": "memory", "what": f"peak memory above the data, {mem['particles']} particles x "
                                          f"{mem['samples']} samples x {mem['hidden']} hidden / 300 MB budget",
                 "ours": mem["traced_peak_bytes"] / 2**20, "other": 300.0, "unit": "MB",
                 "ratio": mem["traced_peak_bytes"] / (300 * 2**20)})
    for row in rows:
        kind, bound = TARGETS[row["key"]]
        row["target"] = f"{'<=' if kind == 'max' else '>='} {bound:g}"
        row["met"] = row["ratio"] <= bound if kind == "max" else row["ratio"] >= bound
        if "p" in row:  # "equal or better": lower, or no significant difference
            row["target"] += " or p > 0.05"
            row["met"] = row["met"] or row["p"] > 0.05
    return rows


def fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:.3e}"


def text_table(rows) -> str:
    width = max(len(r["what"]) for r in rows)
    lines = [f"{'comparison':<{width}} {'swarmreg':>10} {'other':>10} {'unit':>9} {'ratio':>7} {'target':>17}  met"]
    for r in rows:
        lines.append(f"{r['what']:<{width}} {fmt(r['ours']):>10} {fmt(r['other']):>10} {r['unit']:>9} "
                     f"{r['ratio']:>7.3f} {r['target']:>17}  {'yes' if r['met'] else 'NO'}")
    return "\n".join(lines)


def markdown(res: dict, rows, cfg) -> str:
    m, iris, bp, sw, gr, mem = (res[k] for k in ("machine", "iris", "backprop", "sweep", "growth", "memory"))
    L = ["# swarmreg benchmarks", "",
         f"Written by `python scripts/bench.py{' --quick' if cfg.quick else ''}` on {time.strftime('%Y-%m-%d %H:%M')}"
         f" in {res['seconds']:.0f} s.  Rerun it to get the ratios of your machine; ratios, not absolute",
         "seconds, are what carries over.  Every comparison ran in one process (the sweep also in its",
         "workers), alternating the contenders, and each figure is the median of the repeats.  BLAS was",
         "pinned to one thread for every contender alike (the sweep workers pin it themselves).", ""]
    if cfg.quick:
        L += ["**Quick run**: few repeats and small sizes, for testing the script; the ratios are rough.", ""]
    L += ["## Machine", "", "| | |", "|---|---|"]
    for k in ("cpu", "cores", "platform", "python", "numpy", "blas", "OPENBLAS_CORETYPE", "scipy", "swarmreg",
              "pyswarms", "scikit-learn"):
        if k in m:
            L.append(f"| {k} | {m[k]} |")
    L += ["", "## Ratios (swarmreg / other)", "",
          "| comparison | swarmreg | other | unit | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        L.append(f"| {r['what']} | {fmt(r['ours'])} | {fmt(r['other'])} | {r['unit']} | {r['ratio']:.3f} | "
                 f"{r['target']} | {'yes' if r['met'] else '**no**'} |")
    # 1.
    L += ["", "## 1. Swarm on PySwarms' Iris example", "",
          f"4-20-3 network, tanh hidden, softmax output, mean negative log-likelihood on the 150 raw Iris samples; "
          f"100 particles, w = 0.9, c1 = 0.5, c2 = 0.3, unbounded, initial positions uniform in [0, 1); "
          f"{iris['iterations']} evaluations of the swarm per run (PySwarms `iters={iris['iterations']}`, "
          f"`SwarmTrainer(iterations={iris['iterations']}, gcpso=False)`: PySwarms' plain global best), "
          f"{iris['seeds']} seeds.  PySwarms runs `GlobalBestPSO` on the example's per-particle objective "
          "(one numpy forward pass per particle, softmax by unshifted `exp`, true class picked with "
          "`probs[range(n), y]`); the \"tuned pick\" row changes only that pick to a precomputed index array.  "
          "Every final position is scored with the same float64 mean NLL.", "",
          "| contender | ms / iteration | ratio to PySwarms (example) | ratio to PySwarms (tuned) | "
          "median final loss | final losses |", "|---|---|---|---|---|---|"]
    for k in iris["per_iteration"]:
        L.append(f"| {k} | {iris['per_iteration'][k] * 1e3:.3f} | {iris['ratio'][k]:.3f} | "
                 f"{iris['ratio_tuned'][k]:.3f} | {iris['final_median'][k]:.5f} | "
                 f"{', '.join(f'{v:.4f}' for v in iris['final'][k])} |")
    if iris["mannwhitney"]:
        L += ["", "Final loss, swarmreg against PySwarms (example), two-sided Mann-Whitney U over the seeds: " +
              "; ".join(f"{k}: p = {p:.3g}" for k, p in iris["mannwhitney"].items()) +
              " (a large p: no evidence that either finds better networks; the medians are in the table)."]
    # 2.
    L += ["", "## 2. Swarm iteration against the bare kernel", "",
          "The bare kernel is the least numpy work of one evaluation of the same shapes, with the weights "
          "already laid out for the products: the first layer of all 100 particles as one (2000, 5) @ (5, 150) "
          "matrix product (bias in the last column), tanh in place, the second layer as a batched (3, 20) @ "
          "(20, 150) product per particle plus its bias, and the stable log-sum-exp loss.  A swarm iteration "
          "also unrolls the positions into that layout, checks its input, moves the swarm (two uniform "
          "random numbers per coordinate), updates the personal and global bests and records a history row "
          "(best value, mean personal best, swarm diversity).", "",
          "| per iteration, µs | " + " | ".join(iris["kernel"]) + " |", "|---|" + "---|" * len(iris["kernel"])]
    stage_names = {"first": "kernel: first layer (one matrix product)", "activation": "kernel: tanh",
                   "second": "kernel: second layer (batched product + bias)", "loss": "kernel: log-sum-exp loss"}
    for st, label in stage_names.items():
        L.append(f"| {label} | " + " | ".join(f"{v['stages'][st] * 1e6:.0f}" for v in iris["kernel"].values()) + " |")
    L.append("| **bare kernel, whole** | " + " | ".join(f"**{v['kernel'] * 1e6:.0f}**" for v in iris["kernel"].values())
             + " |")
    prof = iris["profile"]
    cols = list(iris["kernel"])

    def row(label, values):
        L.append(f"| {label} | " + " | ".join(values) + " |")

    row("swarm: evaluation beyond the bare kernel (unrolling, checks, chunk loop)",
        [f"{max(0.0, prof[k]['evaluation: objective.batch'] - iris['kernel'][k]['kernel']) * 1e6:.0f}" for k in cols])
    for part in ("update: random numbers r1, r2", "update: velocity and position arithmetic",
                 "personal and global bests (tell, argmin)"):
        row(f"swarm: {part}", [f"{prof[k][part] * 1e6:.0f}" for k in cols])
    row("swarm: history row (diversity, best's R and Σw²), stop rule, loop",
        [f"{max(0.0, iris['per_iteration'][k] - sum(prof[k].values())) * 1e6:.0f}" for k in cols])
    row("**swarm iteration, whole**", [f"**{iris['per_iteration'][k] * 1e6:.0f}**" for k in cols])
    row("ratio swarm / kernel", [f"{iris['kernel'][k]['ratio']:.2f}" for k in cols])
    k64, k32 = iris["kernel"]["swarmreg float64"], iris["kernel"]["swarmreg float32"]
    cells = 100 * N_HIDDEN * 150  # tanh values per evaluation
    rng64 = prof["swarmreg float64"]["update: random numbers r1, r2"]
    L += ["", "Where the time goes.  The bare kernel is "
          f"{k64['kernel'] / iris['per_iteration']['swarmreg float64']:.0%} of a float64 iteration and "
          f"{k32['kernel'] / iris['per_iteration']['swarmreg float32']:.0%} of a float32 one.  Inside it, tanh "
          f"costs {k64['stages']['activation'] / cells * 1e9:.2f} ns per value in float64 and "
          f"{k32['stages']['activation'] / cells * 1e9:.2f} ns in float32 (numpy's vectorized tanh; nothing "
          "cheaper computes it to float64 precision), the first layer is one product with only 5 terms per "
          "output, and the second layer is 100 small products, "
          f"{k64['stages']['second'] / 100 * 1e6:.2f} µs each in float64, whose speed depends on the kernels "
          "OpenBLAS selects for the CPU (`OPENBLAS_CORETYPE`, in the machine table).  Beyond the kernel, "
          "`objective.batch` unrolls the positions into the stacked first-layer matrix and checks its input; "
          "the swarm's update is dominated by drawing the 2·P·D = 32,600 uniform numbers "
          f"({rng64 / 32600 * 1e9:.1f} ns each in float64 from numpy's default generator), the rest of it is "
          "a few in-place passes over the (P, D) arrays; the bests, the history row (which needs the "
          "swarm's diversity, a pass over all positions) and the loop are the remainder."]
    # 3.
    L += ["", "## 3. Backprop epoch against scikit-learn", "",
          "Same network, minibatch size, learning rate, heavy-ball momentum (`nesterovs_momentum=False`) and "
          "shuffling each epoch; scikit-learn's `alpha` becomes swarmreg's λ = alpha / batch_size "
          "(`swarmreg.conventions.from_sklearn_mlp`).  swarmreg's epoch includes its history row (E, D, R "
          "on all training samples); scikit-learn's does not compute one.", "",
          "| problem | epochs | swarmreg ms/epoch | scikit-learn ms/epoch | ratio | train accuracy swarmreg | "
          "train accuracy scikit-learn |", "|---|---|---|---|---|---|---|"]
    for b in bp.values():
        L.append(f"| {b['label']}, lr {b['lr']}, momentum {b['momentum']}, alpha {b['alpha']} (λ {b['lam']:.3g}) | "
                 f"{b['epochs']} | {b['per_epoch']['swarmreg'] * 1e3:.3f} | {b['per_epoch']['scikit-learn'] * 1e3:.3f} | "
                 f"{b['ratio']:.3f} | {b['accuracy']['swarmreg']:.3f} | {b['accuracy']['scikit-learn']:.3f} |")
    # 4.
    L += ["", "## 4. λ sweep on worker processes", "",
          f"`swarmreg.sweep.run_sweep` on a spec of {sw['runs']} runs (Iris, two trainers, "
          f"{len(json.loads(cfg.sweep['lambdas']))} λ values, {cfg.sweep['seeds']} seed(s)), wall time including "
          "starting the pool.  The serial run pins BLAS to one thread, as the workers do (threads per worker "
          f"seen from inside a worker: {sw['worker_blas_threads']}).  Records identical in all three modes: "
          f"{'yes' if sw['identical_records'] else '**no**'}.", "",
          "| mode | seconds | speed-up of 2 workers |", "|---|---|---|",
          f"| serial, in process | {sw['seconds']['serial']:.2f} | {sw['speedup_vs_serial']:.2f} |",
          f"| ProcessExecutor(1), one worker process | {sw['seconds']['1 worker']:.2f} | {sw['speedup']:.2f} |",
          f"| open_executor(jobs=2), two worker processes | {sw['seconds']['2 workers']:.2f} | |"]
    # 5.
    L += ["", "## 5. Growth and memory", "", "![scaling](benchmarks.png)", "",
          "Swarm time per iteration (whole iteration, history included) against the number of particles "
          "(Iris, 4-20-3) and against the number of samples (synthetic 4-feature, 3-class data, 4-20-3, "
          "100 particles).  Fitted log-log exponents (1 = linear; small sizes carry a fixed per-iteration "
          "cost, so the upper half of each range shows the asymptotic growth):", "",
          "| axis | exponent, whole range | exponent, upper half |", "|---|---|---|"]
    for k, e in gr["exponents"].items():
        L.append(f"| {k} | {e['all']:.2f} | {e['upper half']:.2f} |")
    mb = 2.0**20
    L += ["", f"Peak memory of one swarm fit (2 evaluations, 1 move) with {mem['particles']} particles × "
          f"{mem['samples']} samples × {mem['hidden']} hidden units (20 inputs, 3 classes, float64), in a fresh "
          "process: numpy allocations traced by `tracemalloc` from just after the data was created.", "",
          "| data (X, y) | traced peak above the data | target | process max RSS: after the data, after the fit "
          "(interpreter and libraries included) | seconds per evaluation |",
          "|---|---|---|---|---|",
          f"| {mem['data_bytes'] / mb:.1f} MB | {mem['traced_peak_bytes'] / mb:.1f} MB | <= 300 MB "
          f"({'met' if mem['traced_peak_bytes'] <= 300 * mb else '**not met**'}) | "
          f"{mem['maxrss_before_bytes'] / mb:.0f} MB, {mem['maxrss_bytes'] / mb:.0f} MB | "
          f"{mem['seconds_per_evaluation']:.2f} |", ""]
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
        self.seeds = 2 if quick else 5
        self.iris_iterations = 40 if quick else 1000
        self.kernel_calls = 20 if quick else 300
        self.synthetic_n = 1000 if quick else 5000
        self.synthetic_epochs = 2 if quick else 20
        self.iris_epochs = 5 if quick else 200
        self.backprop_reps = 1 if quick else 5
        self.sweep = ({"seeds": 1, "lambdas": "[0.0, 0.01]", "iterations": 20, "epochs": 5} if quick else
                      {"seeds": 2, "lambdas": "[0.0, 0.0001, 0.001, 0.01, 0.1, 1.0]", "iterations": 3000,
                       "epochs": 1000})
        self.sweep_reps = 1 if quick else 3
        self.particles_grid = [10, 30, 100] if quick else [10, 20, 50, 100, 200, 500, 1000]
        self.samples_grid = [100, 1000, 3000] if quick else [100, 300, 1000, 3000, 10000, 30000, 100000]
        self.growth_budget = 0.05 if quick else 0.4
        self.growth_reps = 1 if quick else 3
        self.memory_shape = (100, 10000, 32) if quick else (1000, 100000, 32)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a reduced run: few repeats, small sizes")
    p.add_argument("--out", default=str(ROOT / "figures"), help="folder for BENCHMARKS.md and benchmarks.png")
    p.add_argument("--memory-probe", nargs=3, type=int, metavar=("P", "N", "H"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(*args.memory_probe)))
        return 0
    out = Path(args.out).resolve()
    cfg = Config(args.quick)
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    res = {"machine": machine()}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="swarmreg-bench-") as tmp:
        os.chdir(tmp)  # PySwarms writes report.log into the working directory
        try:
            with threadpool_limits(1):
                print("1-2. swarm on PySwarms' Iris example ...", flush=True)
                res["iris"] = iris_swarm(cfg)
                print("3. backprop against scikit-learn ...", flush=True)
                res["backprop"] = backprop_vs_sklearn(cfg)
                print("4. λ sweep on worker processes ...", flush=True)
                res["sweep"] = sweep(cfg, Path(tmp))
                print("5. growth and memory ...", flush=True)
                res["growth"] = growth(cfg)
                res["memory"] = memory(cfg)
        finally:
            os.chdir(cwd)
    res["seconds"] = time.perf_counter() - start
    rows = ratio_rows(res)
    m = res["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}, BLAS {m['blas']}, "
          f"OPENBLAS_CORETYPE {m['OPENBLAS_CORETYPE']}")
    print(text_table(rows))
    mem = res["memory"]
    print(f"memory: {mem['particles']} particles x {mem['samples']} samples x {mem['hidden']} hidden: traced peak "
          f"{mem['traced_peak_bytes'] / 2**20:.1f} MB above the data (target <= 300 MB)")
    print("growth exponents: " + ", ".join(f"{k} {v['all']:.2f} (upper half {v['upper half']:.2f})"
                                           for k, v in res["growth"]["exponents"].items()))
    text = markdown(res, rows, cfg)
    atomic_write(out / "BENCHMARKS.md", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    plot(res, out / "benchmarks.png")
    print(f"wrote {out / 'BENCHMARKS.md'} and {out / 'benchmarks.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
