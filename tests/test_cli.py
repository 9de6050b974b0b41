"""Tests of the ``swarmreg`` command: its subcommands, and one clear line with status 2 for every mistake."""

import json
import re
import tomllib
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

import swarmreg
import swarmreg.sweep
from swarmreg import sweep
from swarmreg.cli import _settings, main
from swarmreg.data import available

TINY = """\
name = "tiny"
datasets = ["sine"]
seeds = [0]
lambdas = [0.0, 1e-2]
[model]
hidden = [3]
[[trainers]]
name = "swarm"
kind = "swarm"
particles = 6
iterations = 5
[[trainers]]
name = "bp"
kind = "backprop"
epochs = 3
"""
TRAIN = ["train", "--dataset", "iris", "--trainer", "swarm", "--penalty", "l2", "--lam", "1e-3", "--seed", "0",
         "--set", "iterations=20"]


REPORT_L2 = tomllib.loads((Path(swarmreg.__file__).parent / "specs" / "report-l2.toml").read_text())


def tree(root):
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None
            for p in Path(root).rglob("*")}


def table(text):
    """The 'name  value' rows of the train summary as a dict of strings."""
    rows = {}
    for line in text.strip().splitlines():
        key, value = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        rows[key] = value
    return rows


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "swarmreg.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


# ------------------------------------------------------------------ working commands
def test_datasets_lists_every_name_with_its_size(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.strip().splitlines()[1:]}
    assert set(rows) == set(available())
    assert rows["iris"][1:] == ["classification", "150", "4", "3"]  # Fisher's iris: 150 × 4, 3 classes
    assert rows["diabetes"][1:] == ["regression", "442", "10", "-"]  # Efron et al. (2004): 442 × 10


def test_datasets_console_script():
    exe = Path(sys.executable).with_name("swarmreg")
    cmd = [str(exe)] if exe.exists() else ["swarmreg"]
    proc = subprocess.run([*cmd, "datasets"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert {line.split()[0] for line in proc.stdout.strip().splitlines()[1:]} == set(available())


def test_train_prints_a_summary_table():
    proc = cli(*TRAIN)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    rows = table(proc.stdout)
    assert rows["trainer"] == "swarm" and rows["dataset"] == "iris (classification)"
    assert rows["status"] == "finished (its iteration budget used up)"
    assert rows["penalty"] == "l2 λ=0.001"
    assert rows["iterations"] == "19"  # 20 evaluations of the swarm: the initial one and 19 moves
    E, D, R = (float(rows[k]) for k in ("E = D + R", "D (train)", "R"))
    assert E == pytest.approx(D + R, rel=1e-5)  # printed with 6 significant digits
    assert R == pytest.approx(0.5 * 1e-3 * float(rows["Σw²"]), rel=1e-5)  # R = λ/2 Σw²
    assert float(rows["train loss"]) == D
    for split in ("train", "val", "test"):
        assert 0.0 <= float(rows[f"{split} accuracy"]) <= 1.0


def test_train_matches_the_same_run_in_a_sweep(capsys):
    assert main([*TRAIN[:-1], "iterations=20", "--hidden", "3"]) == 0
    rows = table(capsys.readouterr().out)
    report_swarm = next(t for t in REPORT_L2["trainers"] if t["kind"] == "swarm")  # what train starts from
    spec = sweep.parse_spec({"datasets": ["iris"], "seeds": [0], "lambdas": [1e-3], "model": {"hidden": [3]},
                             "trainers": [{**report_swarm, "iterations": 20}]})
    (run,) = sweep.expand_runs(spec)
    rec = sweep.run_one(run)
    assert rows["E = D + R"] == f"{rec['value']:.6g}"
    assert rows["test accuracy"] == f"{rec['test_accuracy']:.6g}"


def test_train_starts_from_the_reports_settings_and_describes_the_problem(capsys):
    assert main(["train", "--dataset", "iris", "--trainer", "backprop", "--set", "epochs=3"]) == 0
    rows = table(capsys.readouterr().out)
    bp = next(t for t in REPORT_L2["trainers"] if t["kind"] == "backprop")
    want = {k: v for k, v in bp.items() if k not in ("name", "kind")} | {"epochs": 3}
    assert rows["settings"] == ", ".join(f"{k}={v}" for k, v in want.items())
    hidden = REPORT_L2["model"]["hidden"]
    n_params = 4 * hidden[0] + hidden[0] + hidden[0] * 3 + 3
    assert rows["network"] == f"4-{hidden[0]}-3, tanh hidden, softmax output, {n_params} parameters"
    assert rows["loss"] == "cross_entropy"
    counts = [int(n) for n in re.findall(r"(\d+) (?:train|validation|test)", rows["split"])]
    assert len(counts) == 3 and sum(counts) == 150  # every one of iris's 150 samples, once
    assert rows["iterations"] == "3" and rows["status"].startswith("finished")


def test_bare_command_prints_usage_and_version_prints_it(capsys):
    assert main([]) == 0
    assert capsys.readouterr().out.startswith("usage: swarmreg")
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"swarmreg {swarmreg.__version__}"


@pytest.mark.parametrize("args, culprit, suggestion", [
    (["swep"], "command 'swep'", "'sweep'"),
    (["train", "--dataset", "iriss", "--trainer", "swarm"], "data set 'iriss'", "'iris'"),
    (["train", "--dataset", "iris", "--trainer", "swarn"], "trainer 'swarn'", "'swarm'"),
    (["train", "--dataset", "iris", "--trainer", "swarm", "--activation", "tahn"], "activation 'tahn'", "'tanh'"),
    (["train", "--dataset", "iris", "--trainer", "qqqq"], "trainer 'qqqq'", None),
])
def test_a_mistyped_choice_is_named_with_the_closest_valid_one(capsys, args, culprit, suggestion):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and culprit in err
    assert (f"did you mean {suggestion}?" in err) if suggestion else ("did you mean" not in err)


def test_train_help_lists_every_trainers_set_keys(capsys):
    from swarmreg.sweep.runs import TRAINER_KINDS
    import inspect

    with pytest.raises(SystemExit):
        main(["train", "-h"])
    out = capsys.readouterr().out
    listing = " ".join(out.split("--set keys of each trainer")[1].split())
    for kind, cls in TRAINER_KINDS.items():
        assert f"{kind}:" in listing
        for name in list(inspect.signature(cls.__init__).parameters)[1:]:
            assert f"{name}=" in listing, (kind, name)
    # The values listed are those train starts from: the report's, where it sets them.
    spec = tomllib.loads((resources.files("swarmreg") / "specs" / "report-l2.toml").read_text())
    for t in spec["trainers"]:
        row = listing.split(f"{t['kind']}:")[1]
        for key in set(t) - {"name", "kind"}:
            assert re.match(rf"(.*[ ,])?{key}={t[key]}(,| |$)", row), (t["kind"], key)


def test_train_regression_shows_rmse(capsys):
    assert main(["train", "--dataset", "sine", "--trainer", "lbfgs", "--set", "max_iter=5", "--hidden", "2"]) == 0
    rows = table(capsys.readouterr().out)
    assert rows["penalty"] == "l2 λ=0" and float(rows["R"]) == 0.0
    assert float(rows["test RMSE"]) > 0 and "test accuracy" not in rows


def test_set_values_are_read_as_toml():
    assert _settings(["lr=0.05", "epochs=7", "bounds=[-5, 5]", "topology=ring", "shuffle=false",
                      "decay = \"decoupled\"", "v_max=none", " momentum = 0.9 "]) == {
        "lr": 0.05, "epochs": 7, "bounds": [-5, 5], "topology": "ring", "shuffle": False,
        "decay": "decoupled", "v_max": "none", "momentum": 0.9}
    assert _settings(None) == {}
    assert _settings(["init_range=[-0.5,0.5]"]) == {"init_range": [-0.5, 0.5]}


def test_train_with_list_and_string_settings(capsys):
    args = ["train", "--dataset", "sine", "--trainer", "swarm", "--hidden", "2", "--set", "iterations=4",
            "--set", "particles=5", "--set", "topology=ring", "--set", "bounds=[-3, 3]", "--set", "v_max=0.5"]
    assert main(args) == 0
    assert table(capsys.readouterr().out)["iterations"] == "3"  # 4 evaluations of the swarm, 3 moves


def test_sweep_command_writes_and_resumes(tmp_path, capsys):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == f"4 runs in {out}/{sweep.RESULTS_FILE}"
    records, _ = sweep.load_results(out)
    assert sorted(r["id"] for r in records) == sorted(r["id"] for r in sweep.expand_runs(
        sweep.load_spec(spec)))
    before = tree(tmp_path)
    assert main(["sweep", str(spec), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    assert tree(tmp_path) == before  # all done: nothing rewritten


def test_sweep_command_on_a_local_dask_cluster(tmp_path, capsys):
    pytest.importorskip("distributed")
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "serial"), "--jobs", "1", "--quiet"]) == 0
    assert main(["sweep", str(spec), "--out", str(tmp_path / "dask"), "--dask-workers", "1", "--quiet"]) == 0
    capsys.readouterr()

    def untimed(folder):
        recs = sweep.load_results(folder)[0]
        for r in recs:
            r.pop("seconds")
            r["history"].pop("seconds")
        return sorted(json.dumps(r, sort_keys=True) for r in recs)

    assert untimed(tmp_path / "dask") == untimed(tmp_path / "serial")


# ------------------------------------------------------------------ mistakes: status 2, one line, nothing written
def _prepare(tmp_path):
    (tmp_path / "good.toml").write_text(TINY)
    (tmp_path / "malformed.toml").write_text(TINY.replace("[model]", "[model"))
    (tmp_path / "unknown.toml").write_text("epochs = 3\n" + TINY)
    (tmp_path / "a_file").write_text("not a folder")


def _bad_cases(tmp_path):
    """(label, argv, words the error line must hold); the files are made by _prepare."""
    good = tmp_path / "good.toml"
    out = str(tmp_path / "out")
    sweep = ["sweep", str(good), "--out", out]
    return [
        ("unknown subcommand", ["frobnicate"], "unknown command 'frobnicate'"),
        ("unknown option", ["datasets", "--all"], "unrecognized arguments: --all"),
        ("train without a data set", ["train", "--trainer", "swarm"], "--dataset"),
        ("train without a trainer", ["train", "--dataset", "iris"], "--trainer"),
        ("unknown trainer", ["train", "--dataset", "iris", "--trainer", "adam"], "--trainer"),
        ("unknown penalty", [*TRAIN, "--penalty", "l3"], "--penalty"),
        ("lam not a number", [*TRAIN[:8], "abc"], "--lam"),
        ("negative lam", [*TRAIN[:8], "-1e-3"], "--lam"),
        ("nan lam", [*TRAIN[:8], "nan"], "--lam"),
        ("infinite lam", [*TRAIN[:8], "inf"], "--lam"),
        ("negative seed", [*TRAIN, "--seed", "-1"], "--seed"),
        ("seed not an integer", [*TRAIN, "--seed", "1.5"], "--seed"),
        ("hidden not an integer", [*TRAIN, "--hidden", "wide"], "--hidden"),
        ("hidden width 0", [*TRAIN, "--hidden", "0"], "hidden"),
        ("unknown activation", [*TRAIN, "--activation", "swish"], "activation"),
        ("unknown data set", ["train", "--dataset", "nosuch", "--trainer", "swarm"], "unknown data set 'nosuch'"),
        ("data set path", ["train", "--dataset", "../../x", "--trainer", "swarm"], "unknown data set '../../x'"),
        ("bad --set key", [*TRAIN, "--set", "speed=3"], "'speed'"),
        ("bad --set value type", [*TRAIN, "--set", "particles=many"], "particles"),
        ("bad --set value", [*TRAIN, "--set", "particles=1"], "particles"),
        ("--set without =", [*TRAIN, "--set", "particles"], "KEY=VALUE"),
        ("--set kind", [*TRAIN, "--set", "kind=lbfgs"], "--set kind"),
        ("missing spec file", ["sweep", str(tmp_path / "nope.toml"), "--out", out], "no such file"),
        ("spec is a folder", ["sweep", str(tmp_path), "--out", out], "is a folder"),
        ("malformed spec", ["sweep", str(tmp_path / "malformed.toml"), "--out", out], "malformed TOML"),
        ("unknown spec key", ["sweep", str(tmp_path / "unknown.toml"), "--out", out], "unknown key 'epochs'"),
        ("sweep without --out", ["sweep", str(good)], "--out"),
        ("jobs 0", [*sweep, "--jobs", "0"], "--jobs"),
        ("jobs negative", [*sweep, "--jobs", "-2"], "--jobs"),
        ("jobs not an integer", [*sweep, "--jobs", "two"], "--jobs"),
        ("dask workers 0", [*sweep, "--dask-workers", "0"], "--dask-workers"),
        ("jobs and dask", [*sweep, "--jobs", "1", "--dask-workers", "2"], "not allowed with"),
        ("bad scheduler address", [*sweep, "--scheduler", "nosuch://x"], "--scheduler nosuch://x"),
        ("out is a file", ["sweep", str(good), "--out", str(tmp_path / "a_file"), "--jobs", "1"], "not a folder"),
        ("out under a file", ["sweep", str(good), "--out", str(tmp_path / "a_file" / "out"), "--jobs", "1"],
         "not a folder"),
        ("report results missing", ["report", "--results", str(tmp_path / "nothing")], "no results.jsonl"),
        ("report out under a file", ["report", "--quick", "--out", str(tmp_path / "a_file" / "fig")],
         "not a folder"),
        ("report jobs 0", ["report", "--quick", "--jobs", "0", "--out", out], "jobs"),
        ("empty out", ["sweep", str(good), "--out", ""], "out must name a folder"),
        ("report of results with sweep options", ["report", "--results", str(tmp_path), "--jobs", "2"],
         "--jobs: these choose how the report runs its own sweeps"),
        ("connect timeout without a scheduler", [*sweep, "--connect-timeout", "1"], "only with --scheduler"),
    ]


BAD_LABELS = [c[0] for c in _bad_cases(Path("/nonexistent"))]


@pytest.mark.parametrize("label", BAD_LABELS)
def test_mistakes_exit_2_with_one_line(tmp_path, capsys, monkeypatch, fake_executor, label):
    monkeypatch.chdir(tmp_path)  # a default output folder would land here
    _prepare(tmp_path)
    (case,) = [c for c in _bad_cases(tmp_path) if c[0] == label]
    _, args, words = case
    real_open = swarmreg.sweep.open_executor

    def checked_open(**kw):  # the real checks of the options, then an executor that refuses to run
        real_open(**kw).close()
        return fake_executor(lambda run: pytest.fail("a run started"))

    monkeypatch.setattr(swarmreg.sweep, "open_executor", checked_open)
    before = tree(tmp_path)
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.err.endswith("\n"), captured.err
    assert lines[0].startswith("swarmreg")
    assert "Traceback" not in captured.err
    assert words in lines[0], lines[0]
    assert tree(tmp_path) == before


@pytest.mark.parametrize("args, words", [
    (["frobnicate"], "unknown command"),
    (["sweep", "{tmp}/malformed.toml", "--out", "{tmp}/out"], "malformed TOML"),
    (["train", "--dataset", "iris", "--trainer", "swarm", "--lam", "-1"], "--lam"),
])
def test_mistakes_in_a_real_process(tmp_path, args, words):
    (tmp_path / "malformed.toml").write_text("name = \n")
    before = tree(tmp_path)
    proc = cli(*(a.format(tmp=tmp_path) for a in args))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree(tmp_path) == before


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "sweep" in capsys.readouterr().out


def test_train_says_what_lambda_is_when_it_is_a_decay_fraction(capsys):
    assert main(["train", "--dataset", "sine", "--trainer", "backprop", "--hidden", "2", "--lam", "0.05",
                 "--set", "lam_as=decay_fraction", "--set", "epochs=3", "--set", "lr=0.1"]) == 0
    rows = table(capsys.readouterr().out)
    # d = 0.05 per step at η = 0.1, μ = 0: the fixed point of L2 with λ = d(1 − μ)/η = 0.5
    assert rows["λ"] == "0.05 as decay_fraction (no penalty; canonical l2 λ=0.5)"
    assert "penalty" not in rows and float(rows["R"]) == 0.0


@pytest.mark.parametrize("args, committed", [(["--quick"], False), ([], True)])
def test_report_keeps_the_committed_figures_unless_asked(tmp_path, monkeypatch, capsys, args, committed):
    import swarmreg.report

    seen = {}

    def fake(out, **kw):  # what the command asks for, without running the sweeps
        seen["out"] = Path(out)
        return Path(out) / "REPORT.md"

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(swarmreg.report, "make_report", fake)
    assert main(["report", *args, "--quiet", "--jobs", "1"]) == 0
    if committed:
        assert seen["out"] == Path("figures")
    else:  # a new, empty temporary folder outside the working directory
        assert seen["out"].is_dir() and not any(seen["out"].iterdir())
        assert tmp_path not in seen["out"].parents
    assert f"wrote {seen['out'] / 'REPORT.md'}" in capsys.readouterr().out


def test_train_shows_a_progress_bar_on_a_terminal_after_a_second(monkeypatch):
    import io
    import time

    from swarmreg import cli as cli_module

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for seconds, shown in ((0.0, False), (1.1, True)):
        term = Terminal()
        monkeypatch.setattr(sys, "stderr", term)
        with cli_module._progress_bar("swarm", {"iterations": 7}) as tick:
            time.sleep(seconds)
            for _ in range(7):
                tick({})
        assert ("swarm:" in term.getvalue() and "/7 " in term.getvalue()) == shown
