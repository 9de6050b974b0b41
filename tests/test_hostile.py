"""The ``swarmreg`` command under hostile input, signals and failures.

Every check drives the real command in a subprocess and holds it to the
project's promises:

* a user mistake (a bad spec, a bad option, a results file that holds
  something other than records, a results "file" that is a FIFO, a run too
  large for this machine) prints exactly one line on stderr starting with
  ``swarmreg: error:``, exits 2, and never shows a traceback;
* Ctrl-C exits 130 and SIGTERM exits 143, each with one line; no worker
  outlives the sweep, even when its parent is killed with SIGKILL, and a
  shell pipeline after the command ends when the command dies;
* a worker killed mid-sweep does not change the records; a Dask scheduler
  killed mid-sweep, or one that never answers, ends the command in one line;
* a sweep resumed on a folder holds only valid, complete records, each run
  once; an edited spec is not silently mixed into a folder of another;
* a diverged run is recorded as ``"diverged"``, and the report completes,
  writes REPORT.md and keeps its tables intact on every sweep the command
  accepts, whatever the trainer names; a killed report leaves no temporary
  files behind it for long;
* a sweep of a million runs starts at once in little memory; a run that
  cannot fit in memory is refused before it starts.

Each subprocess runs in its own session, is waited for with a timeout (a
hang is a failure) and is killed with its whole process group afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "swarmreg.cli"]

TINY = """\
name = "tiny"
datasets = ["iris"]
seeds = 2
lambdas = [0.0, 0.01]
[model]
hidden = [3]
[[trainers]]
name = "lb"
kind = "lbfgs"
max_iter = 20
"""

# 20 runs of about 2 s each with the compiled kernel (a swarm of 20 particles, 20,000 iterations, on
# iris): the whole sweep takes ~20 s on 2 workers, so a signal sent in its first seconds always lands
# part way, however fast the machine.
SLOW = """\
name = "slow"
datasets = ["iris"]
seeds = 10
lambdas = [0.0, 0.01]
[model]
hidden = [3]
[[trainers]]
name = "pso"
kind = "swarm"
particles = 20
iterations = 20000
"""


# ------------------------------------------------------------------ running the command
@dataclass
class Result:
    status: int
    out: str
    err: str
    seconds: float


class Command:
    """``swarmreg ARGS`` started in its own session, stdout/stderr to files (so orphans
    holding them open never block the wait)."""

    counter = 0

    def __init__(self, cwd: Path, args, shell_suffix: str | None = None, limit_memory: int | None = None):
        Command.counter += 1
        self.args = [str(a) for a in args]
        io = Path(cwd) / f".io-{Command.counter}"
        io.mkdir()
        self.out_path, self.err_path = io / "stdout", io / "stderr"
        argv = [*CLI, *self.args]
        if shell_suffix is not None:  # e.g. "| cat": run through bash
            argv = ["bash", "-c", f"{shlex.join(argv)} {shell_suffix}"]

        def limit():
            # a foreground command: Ctrl-C reaches it whatever this process ignores (a shell
            # started it in the background with SIGINT ignored, which children inherit)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            if limit_memory is not None:
                resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))

        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=limit)
        self.pid = self.sid = self.proc.pid
        self.started = time.monotonic()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> Result:
        """Wait for the command itself to end; a hang fails the test."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"`swarmreg {' '.join(self.args)}` still running after {timeout:g} s; "
                        f"stderr: {tail(self.err_path.read_text(errors='replace'))}")
        return Result(self.proc.returncode, self.out_path.read_text(errors="replace"),
                      self.err_path.read_text(errors="replace"), time.monotonic() - self.started)

    def kill(self) -> None:
        """SIGKILL the whole session (its group, and any member that left the group)."""
        kill_session(self.sid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def swarmreg(cwd: Path, *args, timeout: float = 60, **kw) -> Result:
    """Run ``swarmreg ARGS`` to its end (at most ``timeout`` seconds)."""
    with Command(cwd, args, **kw) as cmd:
        return cmd.wait(timeout)


def tail(text: str, n: int = 6) -> str:
    lines = text.splitlines()
    return " / ".join(lines[-n:]) + (f"  [{len(lines)} lines]" if len(lines) > n else "")


def assert_one_line(res: Result, status: int, prefix: str = "swarmreg: error:") -> str:
    """Exactly one line on stderr, starting with ``prefix``, no traceback, exit ``status``; returns the line."""
    where = f"exit {res.status}, stderr: {tail(res.err)}"
    assert "Traceback" not in res.err, f"a traceback on stderr ({where})"
    assert res.status == status, f"expected exit {status}, got {where}"
    lines = res.err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)} ({where})"
    assert lines[0].startswith(prefix), f"stderr does not start with {prefix!r}: {lines[0]!r}"
    return lines[0]


def assert_ok(res: Result) -> None:
    assert res.status == 0, f"exit {res.status}, stderr: {tail(res.err)}"


# ------------------------------------------------------------------ processes
def _stat(pid: int):
    """(state, ppid, pgrp, session) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None and st[3] == sid and st[0] not in ("Z", "X"):
                out.append(int(name))
    return out


def children(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None and st[1] == pid and st[0] not in ("Z", "X"):
                out.append(int(name))
    return out


def kill_session(sid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, signal.SIGKILL)
    for pid in session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def wait_until(cond, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def wait_for_record(cmd: Command, path: Path, timeout: float = 60) -> None:
    """Until ``path`` holds a whole line (the command must still be running then)."""
    def written():
        with contextlib.suppress(OSError):
            return b"\n" in path.read_bytes()
        return False

    deadline = time.monotonic() + timeout
    while not written():
        if not cmd.alive():
            pytest.fail(f"`swarmreg {' '.join(cmd.args)}` ended (exit {cmd.proc.returncode}) before writing "
                        f"a record: {tail(cmd.err_path.read_text(errors='replace'))}")
        if time.monotonic() > deadline:
            pytest.fail(f"no record in {path} after {timeout:g} s")
        time.sleep(0.05)
    assert cmd.alive(), "the sweep ended before the test could act on it"


def assert_session_gone(sid: int, timeout: float) -> None:
    if not wait_until(lambda: not session_members(sid), timeout, 0.1):
        left = {pid: _cmdline(pid)[:100] for pid in session_members(sid)}
        pytest.fail(f"{timeout:g} s later, processes of the sweep's session are still alive: {left}")


# ------------------------------------------------------------------ files
def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in lines_of(path)]


def unescaped_pipes(line: str) -> int:
    n, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        n += line[i] == "|"
        i += 1
    return n


def check_report(folder: Path, trainers: int) -> str:
    """REPORT.md exists, its best-λ table has a row per trainer (one data set), every table row
    has as many cells as its header, and no raw HTML script is in it."""
    path = folder / "REPORT.md"
    assert path.is_file(), f"no REPORT.md in {folder}: {sorted(p.name for p in folder.iterdir())}"
    text = path.read_text(encoding="utf-8")
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    assert tables, "REPORT.md has no table"
    assert len(tables[0]) - 2 == trainers, f"the best-λ table should have {trainers} rows:\n" + "\n".join(tables[0])
    for table in tables:
        header = unescaped_pipes(table[0])
        for row in table[1:]:
            assert unescaped_pipes(row) == header, f"row with another number of cells than its header:\n" \
                                                   f"{table[0]}\n{row}"
    assert "<script" not in text.lower(), "raw <script> in REPORT.md"
    return text


@pytest.fixture(scope="module")
def tiny_done(tmp_path_factory) -> Path:
    """A finished tiny sweep (4 runs): copy it before editing."""
    base = tmp_path_factory.mktemp("tiny")
    write(base, "tiny.toml", TINY)
    res = swarmreg(base, "sweep", "tiny.toml", "--out", "done", "--jobs", "1", "--quiet")
    assert_ok(res)
    assert len(lines_of(base / "done" / "results.jsonl")) == 4
    return base


def copy_tiny(tiny_done: Path, tmp_path: Path) -> Path:
    """tiny.toml and the finished sweep's folder "done" in tmp_path; returns done/results.jsonl."""
    shutil.copy(tiny_done / "tiny.toml", tmp_path / "tiny.toml")
    shutil.copytree(tiny_done / "done", tmp_path / "done", ignore=shutil.ignore_patterns(".lock"))
    return tmp_path / "done" / "results.jsonl"


# ------------------------------------------------------------------ 1. divergence
@pytest.mark.slow
def test_divergence_is_recorded_and_reported(tmp_path):
    write(tmp_path, "div.toml", """\
name = "div"
datasets = ["sine", "iris"]
seeds = 1
lambdas = [0.0]
[model]
hidden = [12]
activation = "tanh"
[[trainers]]
name = "bp-huge-lr"
kind = "backprop"
lr = 1e6
epochs = 200
[[trainers]]
name = "lb"
kind = "lbfgs"
max_iter = 30
""")
    assert_ok(swarmreg(tmp_path, "sweep", "div.toml", "--out", "div", "--jobs", "1", "--quiet"))
    recs = records(tmp_path / "div" / "results.jsonl")
    bp = {r["dataset"]: (r["status"], r["value"]) for r in recs if r["kind"] == "backprop"}
    assert set(bp) == {"sine", "iris"}
    problems = [f"backprop at lr = 1e6 on {d}: status {s!r}, E = {v!r}" for d, (s, v) in bp.items()
                if s != "diverged"]
    res = swarmreg(tmp_path, "report", "--results", "div", "--out", "fig", "--quiet")
    if res.status != 0:
        problems.append(f"report: exit {res.status}, stderr: {tail(res.err)}")
    elif not (tmp_path / "fig" / "REPORT.md").is_file():
        problems.append("report: no REPORT.md")
    assert not problems, "; ".join(problems)


# ------------------------------------------------------------------ 2. the report on any accepted sweep
def _sweep_and_report(tmp_path, spec_text: str, trainers: int) -> str:
    write(tmp_path, "s.toml", spec_text)
    assert_ok(swarmreg(tmp_path, "sweep", "s.toml", "--out", "runs", "--jobs", "1", "--quiet"))
    res = swarmreg(tmp_path, "report", "--results", "runs", "--out", "fig", "--quiet")
    assert_ok(res)
    return check_report(tmp_path / "fig", trainers)


@pytest.mark.slow
def test_report_on_largest_lambda(tmp_path):
    _sweep_and_report(tmp_path, """\
name = "huge-lambda"
datasets = ["iris"]
seeds = 2
lambdas = [0.0, 1.797e308]
[model]
hidden = [3]
[[trainers]]
name = "lb"
kind = "lbfgs"
max_iter = 20
[[trainers]]
name = "pso"
kind = "swarm"
particles = 5
iterations = 10
""", trainers=2)


@pytest.mark.slow
def test_report_on_mathtext_trainer_name(tmp_path):
    _sweep_and_report(tmp_path, r"""
name = "mathtext"
datasets = ["iris"]
seeds = 2
lambdas = [0.0, 0.01]
[model]
hidden = [3]
[[trainers]]
name = 'bp $\x$'
kind = "backprop"
epochs = 3
[[trainers]]
name = "lb"
kind = "lbfgs"
max_iter = 20
""", trainers=2)


@pytest.mark.slow
def test_report_on_markdown_and_html_trainer_names(tmp_path):
    _sweep_and_report(tmp_path, """\
name = "names"
datasets = ["iris"]
seeds = 2
lambdas = [0.0, 0.01]
[model]
hidden = [3]
[[trainers]]
name = "a|b"
kind = "backprop"
epochs = 3
[[trainers]]
name = "**x**"
kind = "swarm"
particles = 5
iterations = 10
[[trainers]]
name = "<script>"
kind = "lbfgs"
max_iter = 20
""", trainers=3)


# ------------------------------------------------------------------ 3. signals
def test_sigterm_stops_the_sweep_and_its_workers(tmp_path):
    write(tmp_path, "slow.toml", SLOW)
    with Command(tmp_path, ["sweep", "slow.toml", "--out", "o", "--jobs", "2", "--quiet"]) as cmd:
        wait_for_record(cmd, tmp_path / "o" / "results.jsonl")
        os.kill(cmd.pid, signal.SIGTERM)
        res = cmd.wait(10)
        assert_session_gone(cmd.sid, 10)
        assert_one_line(res, 143, prefix="swarmreg:")


def test_sigkill_of_the_parent_leaves_no_worker(tmp_path):
    write(tmp_path, "slow.toml", SLOW)
    with Command(tmp_path, ["sweep", "slow.toml", "--out", "o", "--jobs", "2", "--quiet"]) as cmd:
        wait_for_record(cmd, tmp_path / "o" / "results.jsonl")
        assert [p for p in session_members(cmd.sid) if p != cmd.pid], "the sweep has no worker process"
        os.kill(cmd.pid, signal.SIGKILL)
        cmd.wait(10)
        assert_session_gone(cmd.sid, 10)


def test_pipeline_ends_when_the_sweep_is_killed(tmp_path):
    write(tmp_path, "slow.toml", SLOW)
    with Command(tmp_path, ["sweep", "slow.toml", "--out", "o", "--jobs", "2", "--quiet"],
                 shell_suffix="| cat") as shell:
        wait_for_record(shell, tmp_path / "o" / "results.jsonl")
        sweeps = [p for p in session_members(shell.sid)
                  if "swarmreg.cli" in _cmdline(p) and _stat(p) and _stat(p)[1] == shell.pid]
        assert len(sweeps) == 1, f"the swarmreg process of the pipeline: {sweeps}"
        os.kill(sweeps[0], signal.SIGKILL)
        shell.wait(10)  # `| cat` ends only when every holder of the pipe is gone


@pytest.mark.slow
def test_ctrl_c_on_a_dask_sweep(tmp_path):
    pytest.importorskip("distributed")
    write(tmp_path, "slow.toml", SLOW)
    with Command(tmp_path, ["sweep", "slow.toml", "--out", "o", "--dask-workers", "2", "--quiet"]) as cmd:
        wait_for_record(cmd, tmp_path / "o" / "results.jsonl", timeout=90)
        os.killpg(cmd.sid, signal.SIGINT)
        res = cmd.wait(20)
        assert "Traceback" not in res.err, f"a traceback on stderr: {tail(res.err)}"
        assert len(res.err.splitlines()) <= 2, f"stderr after Ctrl-C: {tail(res.err)}"
        assert res.status == 130, f"exit {res.status} after Ctrl-C, stderr: {tail(res.err)}"


def test_ctrl_c_on_a_pooled_sweep(tmp_path):
    write(tmp_path, "slow.toml", SLOW)
    with Command(tmp_path, ["sweep", "slow.toml", "--out", "o", "--jobs", "2", "--quiet"]) as cmd:
        wait_for_record(cmd, tmp_path / "o" / "results.jsonl")
        os.killpg(cmd.sid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole foreground group
        res = cmd.wait(10)
        assert_session_gone(cmd.sid, 10)
    assert_one_line(res, 130, prefix="swarmreg: interrupted")


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.2, 0.3, 1.0, 2.5])
def test_ctrl_c_while_a_sweep_starts(tmp_path, after):
    """Ctrl-C before the first record (while Python, numpy, the pool or the Dask cluster start) is never
    lost and never a traceback."""
    pytest.importorskip("distributed")
    write(tmp_path, "slow.toml", SLOW)
    for where in (["--jobs", "2"], ["--dask-workers", "2"]):
        with Command(tmp_path, ["sweep", "slow.toml", "--out", "o", *where, "--quiet"]) as cmd:
            time.sleep(after)
            os.killpg(cmd.sid, signal.SIGINT)
            res = cmd.wait(30)
            assert_session_gone(cmd.sid, 10)
        assert_one_line(res, 130, prefix="swarmreg: interrupted")


@pytest.mark.slow
def test_killed_report_leaves_no_temporary_files(tmp_path, tiny_done):
    fig = tmp_path / "fig"
    with Command(tmp_path, ["report", "--quick", "--work", "w", "--out", fig, "--jobs", "1", "--quiet"]) as cmd:
        if not wait_until(lambda: any((tmp_path / "w").glob("*/results.jsonl")) or not cmd.alive(), 90):
            pytest.fail("the quick report wrote no results.jsonl within 90 s")
        if not cmd.alive():
            pytest.fail(f"the quick report ended (exit {cmd.proc.returncode}) before it could be stopped: "
                        f"{tail(cmd.err_path.read_text(errors='replace'))}")
        os.kill(cmd.pid, signal.SIGTERM)
        killed = cmd.wait(10)
    left = sorted(p.name for p in fig.glob(".*.tmp")) if fig.exists() else []
    assert not left, f"temporary files left by the killed report: {left}"
    # temporaries a killed report left are removed by the next one
    fig.mkdir(exist_ok=True)
    stale = [fig / ".REPORT.md.abc123.tmp", fig / ".fits.png.xyz.tmp"]
    for p in stale:
        p.write_bytes(b"partial")
    shutil.copytree(tiny_done / "done", tmp_path / "w2", ignore=shutil.ignore_patterns(".lock"))
    assert_ok(swarmreg(tmp_path, "report", "--results", "w2", "--out", fig, "--quiet"))
    assert (fig / "REPORT.md").is_file()
    assert not list(fig.glob(".*.tmp")), f"temporary files left: {sorted(p.name for p in fig.glob('.*.tmp'))}"
    assert_one_line(killed, 143, prefix="swarmreg:")


# ------------------------------------------------------------------ 4. records that are JSON but not records
def _insert(path: Path, line: bytes, at: int) -> None:
    lines = lines_of(path)
    lines.insert(at, line)
    path.write_bytes(b"".join(lines))


SWEEP_DONE = ["sweep", "tiny.toml", "--out", "done", "--jobs", "1", "--quiet"]
REPORT_DONE = ["report", "--results", "done", "--out", "fig", "--quiet"]


def _refused(tmp_path, line_number: int, commands=(SWEEP_DONE, REPORT_DONE)) -> None:
    """Each command prints one line naming results.jsonl and the line, exits 2, and leaves the file as it is."""
    path = tmp_path / "done" / "results.jsonl"
    before = path.read_bytes()
    for args in commands:
        msg = assert_one_line(swarmreg(tmp_path, *args, timeout=30), 2)
        assert "results.jsonl" in msg, f"the line does not name the file: {msg}"
        assert re.search(rf"\bline {line_number}\b", msg), f"the line does not name line {line_number}: {msg}"
        assert path.read_bytes() == before, f"`swarmreg {args[0]}` changed the results file"


def test_id_only_line_in_the_middle(tmp_path, tiny_done):
    path = copy_tiny(tiny_done, tmp_path)
    rid = records(path)[2]["id"]
    _insert(path, json.dumps({"id": rid}).encode() + b"\n", 1)
    _refused(tmp_path, 2)


def test_id_only_last_line_is_recomputed(tmp_path, tiny_done):
    path = copy_tiny(tiny_done, tmp_path)
    lines = lines_of(path)
    ids = [json.loads(line)["id"] for line in lines]
    lines[-1] = json.dumps({"id": ids[-1]}).encode() + b"\n"  # the last run: only its id
    path.write_bytes(b"".join(lines))
    assert_ok(swarmreg(tmp_path, "sweep", "tiny.toml", "--out", "done", "--jobs", "1", "--quiet"))
    recs = records(path)  # every line parses
    assert all("status" in r and "value" in r for r in recs), [sorted(r) for r in recs if "status" not in r]
    got = [r["id"] for r in recs]
    assert len(got) == len(set(got)), f"an id twice: {got}"
    assert set(got) == set(ids), "the run with only an id was not recomputed"


def test_unhashable_id_in_the_middle(tmp_path, tiny_done):
    path = copy_tiny(tiny_done, tmp_path)
    _insert(path, b'{"id": [1, 2]}\n', 2)
    _refused(tmp_path, 3, commands=(SWEEP_DONE,))


def test_deeply_nested_json_line_in_the_middle(tmp_path, tiny_done):
    path = copy_tiny(tiny_done, tmp_path)
    _insert(path, b"[" * 100_000 + b"]" * 100_000 + b"\n", 1)
    _refused(tmp_path, 2, commands=(SWEEP_DONE,))


def test_duplicated_record_counts_once(tmp_path, tiny_done):
    path = copy_tiny(tiny_done, tmp_path)
    _insert(path, lines_of(path)[0], 2)
    assert_ok(swarmreg(tmp_path, "report", "--results", "done", "--out", "fig", "--quiet"))
    text = (tmp_path / "fig" / "REPORT.md").read_text(encoding="utf-8")
    first = next(p for p in text.split("\n\n") if p.strip() and not p.startswith("#"))
    m = re.search(r"(\d+) runs", first)
    assert m, f"no run count in the first paragraph: {first!r}"
    assert int(m.group(1)) == 4, f"4 distinct runs, the report says: {m.group(0)}"


def test_fifo_as_results_file(tmp_path, tiny_done):
    shutil.copy(tiny_done / "tiny.toml", tmp_path / "tiny.toml")
    (tmp_path / "o").mkdir()
    os.mkfifo(tmp_path / "o" / "results.jsonl")
    for args in (["sweep", "tiny.toml", "--out", "o", "--jobs", "1", "--quiet"],
                 ["report", "--results", "o", "--out", "fig", "--quiet"]):
        msg = assert_one_line(swarmreg(tmp_path, *args, timeout=10), 2)
        assert "results.jsonl" in msg, msg


# ------------------------------------------------------------------ 5. an edited spec on the same folder
def test_edited_spec_on_the_same_folder(tmp_path):
    text = """\
name = "edit"
datasets = ["iris"]
seeds = 3
lambdas = [0.0]
[model]
hidden = [3]
[[trainers]]
name = "bp"
kind = "backprop"
epochs = 3
"""
    spec = write(tmp_path, "e.toml", text)
    sweep = ["sweep", "e.toml", "--out", "o", "--jobs", "1", "--quiet"]
    path = tmp_path / "o" / "results.jsonl"
    assert_ok(swarmreg(tmp_path, *sweep))
    first = path.read_bytes()
    old_ids = {r["id"] for r in records(path)}
    assert len(old_ids) == 3
    spec.write_text(text.replace("epochs = 3", "epochs = 2"), encoding="utf-8")

    msg = assert_one_line(swarmreg(tmp_path, *sweep), 2)
    assert "--add" in msg and "--restart" in msg, msg
    assert path.read_bytes() == first, "a refused sweep changed the results file"

    assert_ok(swarmreg(tmp_path, *sweep, "--add"))
    ids = [r["id"] for r in records(path)]
    new_ids = set(ids) - old_ids
    assert len(ids) == 6 and old_ids <= set(ids) and len(new_ids) == 3, f"after --add: {len(ids)} records"

    assert_ok(swarmreg(tmp_path, *sweep, "--restart"))
    aside = list((tmp_path / "o").glob("results.replaced-*.jsonl"))
    assert len(aside) == 1, sorted(p.name for p in (tmp_path / "o").iterdir())
    ids = [r["id"] for r in records(path)]
    assert sorted(ids) == sorted(new_ids), "after --restart results.jsonl should hold exactly the new spec's runs"


# ------------------------------------------------------------------ 6. sizes
def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def test_million_run_sweep_starts_at_once_in_little_memory(tmp_path):
    """Its first record comes, and it keeps appending, while the process stays under 500 MB resident
    (0.1 listed every run first: 1 GB before the first one)."""
    lams = ", ".join(repr(i * 1e-4) for i in range(1001))
    write(tmp_path, "big.toml", f"""\
name = "big"
datasets = ["sine"]
seeds = 1000
lambdas = [{lams}]
[model]
hidden = [1]
[[trainers]]
name = "lb"
kind = "lbfgs"
max_iter = 1
""")
    path = tmp_path / "o" / "results.jsonl"
    with Command(tmp_path, ["sweep", "big.toml", "--out", "o", "--jobs", "1", "--quiet"]) as cmd:
        peak, first_at = 0.0, None
        while True:
            now = time.monotonic() - cmd.started
            rss = _rss_mb(cmd.pid)
            if rss is not None:
                peak = max(peak, rss)
            assert peak < 500, f"resident memory {peak:.0f} MB after {now:.1f} s"
            if not cmd.alive():
                res = cmd.wait(1)
                if res.status == 2 and "on disk" in res.err:
                    pytest.skip(f"not enough disk for the sweep's records here: {res.err.strip()}")
                pytest.fail(f"the sweep ended (exit {res.status}): {tail(res.err)}")
            if first_at is None:
                with contextlib.suppress(OSError):
                    if b"\n" in path.read_bytes()[:1 << 20]:
                        first_at = now
                assert now < 120, "no record at all within 120 s: the runs are not expanded one at a time"
            elif now > first_at + 2:  # memory watched for a while as records accumulate
                break
            time.sleep(0.1)


def _refused_for_memory(tmp_path, hidden: int, particles: int) -> None:
    write(tmp_path, "m.toml", f"""\
name = "mem"
datasets = ["iris"]
seeds = 1
lambdas = [0.0]
[model]
hidden = [{hidden}]
[[trainers]]
name = "pso"
kind = "swarm"
particles = {particles}
iterations = 2
""")
    # address space held to 4 GB: a run that is not refused fails here instead of filling the machine
    res = swarmreg(tmp_path, "sweep", "m.toml", "--out", "o", "--jobs", "1", "--quiet", timeout=10,
                   limit_memory=4 << 30)
    msg = assert_one_line(res, 2)
    assert re.search(r"\d(\.\d+)?\s*GB", msg), f"no memory estimate in GB: {msg}"


def test_wide_network_swarm_is_refused(tmp_path):
    _refused_for_memory(tmp_path, hidden=100_000, particles=1000)


def test_billion_particles_are_refused(tmp_path):
    _refused_for_memory(tmp_path, hidden=3, particles=1_000_000_000)


# ------------------------------------------------------------------ 7. specs
def test_deeply_nested_spec_array(tmp_path):
    write(tmp_path, "deep.toml", f"""\
name = "deep"
datasets = ["iris"]
lambdas = {"[" * 500}0.0{"]" * 500}
[[trainers]]
kind = "lbfgs"
""")
    assert_one_line(swarmreg(tmp_path, "sweep", "deep.toml", "--out", "o", "--jobs", "1", "--quiet", timeout=30), 2)
    assert not (tmp_path / "o" / "results.jsonl").exists()


# ------------------------------------------------------------------ 8. executors
def _without_seconds(recs: list[dict]) -> dict:
    out = {}
    for r in recs:
        r = dict(r)
        r.pop("seconds", None)
        r["history"] = {k: v for k, v in r["history"].items() if k != "seconds"}
        out[r["id"]] = r
    return out


@pytest.mark.slow
def test_killed_pool_worker_does_not_change_the_records(tmp_path):
    write(tmp_path, "w.toml", """\
name = "worker-killed"
datasets = ["iris"]
seeds = 4
lambdas = [0.0, 0.01]
[model]
hidden = [3]
[[trainers]]
name = "pso"
kind = "swarm"
particles = 20
iterations = 300
""")
    with Command(tmp_path, ["sweep", "w.toml", "--out", "par", "--jobs", "2", "--quiet"]) as cmd:
        wait_for_record(cmd, tmp_path / "par" / "results.jsonl")
        workers = [p for p in children(cmd.pid) if "spawn_main" in _cmdline(p)]
        assert workers, f"no worker process: {[_cmdline(p) for p in children(cmd.pid)]}"
        os.kill(workers[0], signal.SIGKILL)
        res = cmd.wait(60)
    assert_ok(res)
    assert_ok(swarmreg(tmp_path, "sweep", "w.toml", "--out", "ser", "--jobs", "1", "--quiet"))
    par = _without_seconds(records(tmp_path / "par" / "results.jsonl"))
    ser = _without_seconds(records(tmp_path / "ser" / "results.jsonl"))
    assert len(ser) == 8 and sorted(par) == sorted(ser), "the two sweeps hold different runs"
    differ = [rid for rid in ser if par[rid] != ser[rid]]
    assert not differ, f"{len(differ)} records differ between --jobs 2 (a worker killed) and --jobs 1"


@pytest.mark.slow
def test_unreachable_scheduler(tmp_path, tiny_done):
    pytest.importorskip("distributed")
    shutil.copy(tiny_done / "tiny.toml", tmp_path / "tiny.toml")
    for extra in ([], ["--connect-timeout", "1"]):
        res = swarmreg(tmp_path, "sweep", "tiny.toml", "--out", "o", "--scheduler", "tcp://127.0.0.1:1", *extra,
                       "--quiet", timeout=10)
        msg = assert_one_line(res, 2)
        assert "tcp://127.0.0.1:1" in msg, msg
    assert not (tmp_path / "o" / "results.jsonl").exists()


@pytest.mark.slow
def test_connect_timeout_bounds_a_silent_scheduler(tmp_path, tiny_done):
    """A listener that accepts the connection and never answers: --connect-timeout 1 still bounds the wait."""
    pytest.importorskip("distributed")
    shutil.copy(tiny_done / "tiny.toml", tmp_path / "tiny.toml")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = "tcp://127.0.0.1:%d" % silent.getsockname()[1]
        res = swarmreg(tmp_path, "sweep", "tiny.toml", "--out", "o", "--scheduler", address,
                       "--connect-timeout", "1", "--quiet", timeout=10)
    msg = assert_one_line(res, 2)
    assert address in msg, msg


@contextlib.contextmanager
def dask_scheduler_and_worker(tmp_path):
    """A Dask scheduler and one single-threaded worker, each a process of its own session; yields
    (scheduler process, address)."""
    log = tmp_path / "scheduler.log"
    with open(log, "w") as err:
        sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=err,
                                 start_new_session=True)
    worker = None
    try:
        address = None
        if not wait_until(lambda: re.search(r"Scheduler at:\s+(tcp://\S+)", log.read_text()), 60):
            pytest.fail(f"no Dask scheduler: {tail(log.read_text())}")
        address = re.search(r"Scheduler at:\s+(tcp://\S+)", log.read_text()).group(1)
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                   "--nworkers", "1", "--no-dashboard"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        yield sched, address
    finally:
        for proc in (worker, sched):
            if proc is not None:
                kill_session(proc.pid)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)


@pytest.mark.slow
def test_a_dask_scheduler_killed_mid_sweep_gives_one_line(tmp_path):
    pytest.importorskip("distributed")
    write(tmp_path, "slow.toml", SLOW)
    with dask_scheduler_and_worker(tmp_path) as (sched, address):
        with Command(tmp_path, ["sweep", "slow.toml", "--out", "o", "--scheduler", address, "--quiet"]) as cmd:
            wait_for_record(cmd, tmp_path / "o" / "results.jsonl", timeout=90)
            os.killpg(sched.pid, signal.SIGKILL)
            res = cmd.wait(30)
    msg = assert_one_line(res, 1)
    assert address in msg and "resume" in msg, msg
    assert all(line.endswith(b"\n") for line in lines_of(tmp_path / "o" / "results.jsonl"))


@pytest.mark.slow
def test_a_service_that_is_not_dask_and_odd_addresses_give_one_line(tmp_path, tiny_done):
    pytest.importorskip("distributed")
    import threading

    shutil.copy(tiny_done / "tiny.toml", tmp_path / "tiny.toml")
    with socket.socket() as http:
        http.bind(("127.0.0.1", 0))
        http.listen(8)

        def answer():  # an HTTP server's reply to whatever arrives
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = http.accept()
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        threading.Thread(target=answer, daemon=True).start()
        addresses = ["tcp://127.0.0.1:%d" % http.getsockname()[1], "foo", "tcp://", "inproc://x"]
        for address in addresses:
            res = swarmreg(tmp_path, "sweep", "tiny.toml", "--out", "o", "--scheduler", address, "--quiet",
                           timeout=10)
            assert address in assert_one_line(res, 2)
    res = swarmreg(tmp_path, "sweep", "tiny.toml", "--out", "o", "--scheduler", addresses[0], "--connect-timeout",
                   "1e10", "--quiet", timeout=10)
    assert "--connect-timeout" in assert_one_line(res, 2)
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ 10. validation_fraction = 0
def test_zero_validation_fraction_is_refused(tmp_path):
    write(tmp_path, "v.toml", TINY.replace('[model]', 'validation_fraction = 0\n[model]'))
    msg = assert_one_line(swarmreg(tmp_path, "sweep", "v.toml", "--out", "o", "--jobs", "1", "--quiet"), 2)
    assert "validation_fraction" in msg, msg
    assert re.search(r"λ|lambda", msg) and re.search(r"chos|select|pick", msg), f"the line does not say why: {msg}"
    assert not (tmp_path / "o" / "results.jsonl").exists()
