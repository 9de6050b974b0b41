"""Thread discipline: inside a fit and in a sweep's worker, every BLAS the fit can call runs on
SWARMREG_THREADS threads (1 by default), whatever was imported before and whichever library
loads first.  Each check runs in a fresh interpreter, since what a process has loaded decides it."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("threadpoolctl")

# A fit whose callback reads, from inside the fit, the thread count of every BLAS loaded by
# then.  Nothing but the trainer and the objective is imported first, so the compiled
# kernels (numba's matrix products call scipy's BLAS) and L-BFGS load what they need late.
FIT = """
import json, sys
import numpy as np
from threadpoolctl import threadpool_info
from swarmreg.{module} import {trainer}
from swarmreg.objective import RegularizedError
from swarmreg.model import MLP

seen = []

def look(info):
    seen.extend((d["filepath"], d["num_threads"]) for d in threadpool_info() if d["user_api"] == "blas")
    raise StopIteration

rng = np.random.default_rng(0)
X, y = rng.standard_normal((300, 30)), rng.integers(0, 2, 300)
objective = RegularizedError(MLP([30, 16, 2], output="softmax"), X, y)
{trainer}({options}).fit(objective, seed=0, callback=look)
print(json.dumps(seen))
"""

WORKER = """
import json
from swarmreg.sweep import ProcessExecutor

def blas(_):
    from threadpoolctl import threadpool_info
    import numpy as np
    from swarmreg.swarm import SwarmTrainer
    from swarmreg.objective import RegularizedError
    from swarmreg.model import MLP
    rng = np.random.default_rng(0)
    obj = RegularizedError(MLP([30, 16, 2], output="softmax"), rng.standard_normal((300, 30)),
                           rng.integers(0, 2, 300))
    SwarmTrainer(particles=20, iterations=2).fit(obj, seed=0)
    return [(d["filepath"], d["num_threads"]) for d in threadpool_info() if d["user_api"] == "blas"]

if __name__ == "__main__":
    with ProcessExecutor(1) as pool:
        print(json.dumps(next(iter(pool.map_unordered(blas, [None])))))
"""


def _default_env(**extra):
    """This environment without any thread setting (as a user runs swarmreg), plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SWARMREG_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env.update(extra)
    return env


def _run(code, env, tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _blas_files(pairs):
    return {path for path, _ in pairs}


@pytest.mark.parametrize("module, trainer, options", [
    ("swarm", "SwarmTrainer", "particles=20, iterations=3"),
    ("reference", "LBFGSTrainer", "max_iter=5"),
    ("backprop", "BackpropTrainer", "epochs=2, batch_size=32"),
])
@pytest.mark.parametrize("threads", [None, "2"])
def test_every_blas_runs_on_the_set_threads_inside_a_fit(module, trainer, options, threads, tmp_path):
    env = _default_env() if threads is None else _default_env(SWARMREG_THREADS=threads)
    seen = _run(FIT.format(module=module, trainer=trainer, options=options), env, tmp_path)
    assert _blas_files(seen), seen   # (numpy's and scipy's pip wheels each bring an OpenBLAS: both are seen)
    want = 1 if threads is None else min(int(threads), len(os.sched_getaffinity(0)))
    assert {n for _, n in seen} == {want}, seen


def test_a_sweep_worker_runs_every_blas_on_one_thread(tmp_path):
    seen = _run(WORKER, _default_env(), tmp_path)
    assert _blas_files(seen), seen
    assert {n for _, n in seen} == {1}, seen


def _small_objective():
    import numpy as np

    from swarmreg.model import MLP
    from swarmreg.objective import RegularizedError

    rng = np.random.default_rng(0)
    return RegularizedError(MLP([3, 4, 2], output="softmax"), rng.standard_normal((20, 3)), rng.integers(0, 2, 20))


def test_a_fit_reads_the_environment_when_it_starts_and_use_still_overrides_it(monkeypatch):
    from swarmreg import backend
    from swarmreg.swarm import SwarmTrainer

    monkeypatch.delenv("SWARMREG_THREADS", raising=False)
    seen = []

    def look(info):
        monkeypatch.setenv("SWARMREG_THREADS", "3")   # mid-fit: not this fit's setting
        seen.append(backend.threads())
        with backend.use(threads=2):                  # use() wins, inside a fit as outside
            seen.append(backend.threads())
        seen.append(backend.threads())
        if len(seen) >= 6:
            raise StopIteration

    SwarmTrainer(particles=5, iterations=10).fit(_small_objective(), seed=0, callback=look)
    assert seen == [1, 2, 1, 1, 2, 1]
    assert backend.threads() == 3                     # after the fit, the environment again


def test_a_bad_environment_setting_is_refused_by_a_fit_unless_use_holds_that_setting(monkeypatch):
    from swarmreg import backend
    from swarmreg.swarm import SwarmTrainer

    monkeypatch.setenv("SWARMREG_BACKEND", "fortran")
    with pytest.raises(ValueError, match="SWARMREG_BACKEND"):
        SwarmTrainer(particles=5, iterations=2).fit(_small_objective(), seed=0)
    with backend.use("numpy"):                        # a setting use() holds is not read
        assert SwarmTrainer(particles=5, iterations=2).fit(_small_objective(), seed=0).iterations == 1


def test_fits_in_two_threads_keep_their_own_settings(monkeypatch):
    import threading

    from swarmreg import backend
    from swarmreg.swarm import SwarmTrainer

    monkeypatch.setenv("SWARMREG_THREADS", "1")
    started, together, seen, failed = threading.Event(), threading.Barrier(2, timeout=60), {}, []

    def fit(name):
        def look(info):
            seen.setdefault(name, set()).add(backend.threads())
            started.set()
            if info["iteration"] == 1:
                together.wait()                       # both fits are running here
        try:
            SwarmTrainer(particles=5, iterations=4).fit(_small_objective(), seed=0, callback=look)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failed.append(exc)
            raise

    a = threading.Thread(target=fit, args=("a",))
    a.start()
    assert started.wait(timeout=60)                   # "a" has read its settings
    monkeypatch.setenv("SWARMREG_THREADS", "2")       # read by the fit that starts now, not by "a"
    fit("b")
    a.join(timeout=60)
    assert not a.is_alive() and not failed, failed
    assert seen == {"a": {1}, "b": {2}}               # (the BLAS limit itself is process-wide)
