"""The report end to end (quick), REPORT.md's numbers against the records, and figures and
REPORT.md of any records a sweep accepts."""

import hashlib
import io
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.stats import wilcoxon

from swarmreg import records as R
from swarmreg import report
from swarmreg.sweep import load_results


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    path = report.make_report(out=root / "figures", quick=True, jobs=1, work=root / "work", progress=False)
    return root, path


def test_quick_report_writes_every_figure_and_the_markdown(quick):
    root, path = quick
    for name in (f.file for f in report.FIGURES):
        data = (root / "figures" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    text = path.read_text()
    for name in (f.file for f in report.FIGURES):
        assert f"]({name})" in text
    # no temporary files left behind, and the files are readable like any other
    assert not [p for p in (root / "figures").iterdir() if p.name.startswith(".")]
    umask = os.umask(0)
    os.umask(umask)
    for p in (root / "figures").iterdir():
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask


def _records(root):
    recs = []
    for sub in sorted((root / "work").iterdir()):
        recs += load_results(sub)[0]
    return recs


def test_report_tables_hold_the_records_numbers(quick):
    root, path = quick
    text = path.read_text()
    recs = _records(root)
    main = R.main_records(recs)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    checked = 0
    for ds in {r["dataset"] for r in main}:
        for name in {r["trainer"] for r in main if r["dataset"] == ds}:
            mine = [r for r in main if r["dataset"] == ds and r["trainer"] == name]
            lams = sorted({r["lam"] for r in mine})
            val = [np.median([r["val_loss"] for r in mine if r["lam"] == lam]) for lam in lams]
            lam = lams[int(np.argmin(val))]  # chosen on validation loss, worked out here
            tl = [r["test_loss"] for r in mine if r["lam"] == lam]
            med = np.percentile(tl, 50)
            row = [x for x in rows if x.startswith(f"| {ds} | {name} |") and x.count("|") == 12]
            assert len(row) == 1, (ds, name)
            cells = [c.strip() for c in row[0].strip("|").split("|")]
            assert float(cells[2]) == pytest.approx(lam, rel=1e-2)
            assert float(cells[3].split()[0]) == pytest.approx(med, rel=1e-2)
            trivial = np.median([r["trivial_test_loss"] for r in mine if r["lam"] == lam])
            assert float(cells[4]) == pytest.approx(trivial, rel=1e-2)
            checked += 1
    assert checked >= 4


def test_paired_comparisons_match_scipy_on_the_paired_seeds(quick):
    root, path = quick
    recs = _records(root)
    best = R.best_lambda_rows(recs)
    family = R.comparisons(recs, best)
    assert family
    main = R.main_records(recs)
    ps = []
    for c in family:
        lam_a = next(b["lam"] for b in best if b["dataset"] == c.dataset and b["trainer"] == c.a)
        lam_b = next(b["lam"] for b in best if b["dataset"] == c.dataset and b["trainer"] == c.b)
        assert (c.lam_a, c.lam_b) == (lam_a, lam_b)
        a = {r["seed"]: r["test_loss"] for r in main if r["dataset"] == c.dataset and r["trainer"] == c.a
             and r["lam"] == lam_a}
        b = {r["seed"]: r["test_loss"] for r in main if r["dataset"] == c.dataset and r["trainer"] == c.b
             and r["lam"] == lam_b}
        seeds = sorted(set(a) & set(b))
        assert c.n == len(seeds)
        x, y = np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds])
        assert c.difference == pytest.approx(float(np.median(x - y)))
        d = x - y
        if np.all(d != 0) and len(np.unique(np.abs(d))) == len(d):
            assert c.p == pytest.approx(wilcoxon(x, y, method="exact").pvalue)
        ps.append(c.p)
    # one family, Holm-adjusted: the smallest p times the family's size
    k = len(ps)
    assert min(c.adjusted for c in family) == pytest.approx(min(1.0, k * min(ps)))
    text = path.read_text()
    assert f"family of these {k} comparisons" in text


def test_report_sentences_are_computed_not_written(quick):
    root, path = quick
    text = path.read_text()
    recs = _records(root)
    l1 = R.main_records(recs, "l1")
    top = max(r["lam"] for r in l1)
    prox = [r["zero_fraction"] for r in l1 if r["trainer"] == "backprop-proximal" and r["lam"] == top]
    assert f"backprop-proximal {100 * np.median(prox):.3g}% exactly zero" in text
    n = len(recs)
    assert text.splitlines()[2].startswith(f"{n} runs")


def test_fits_roughness_in_the_report_is_that_of_the_drawn_curves(quick):
    from swarmreg.measures import roughness

    root, path = quick
    text = path.read_text()
    recs = [r for r in R.main_records(_records(root)) if r["dataset"] == "sine" and R.finished(r)]
    assert recs, "the quick report has no sine records"
    seed = min(r["seed"] for r in recs)
    checked = 0
    for name in {r["trainer"] for r in recs}:
        panel = R.fit_curves(recs, name, "sine", seed)
        values = [roughness(panel["grid"], y) for _, y in panel["curves"]]
        # the integral by hand: trapezoid of the squared second differences on the even grid
        x, y = panel["grid"], panel["curves"][0][1]
        h = x[1] - x[0]
        inner = (y[2:] - 2 * y[1:-1] + y[:-2]) / h ** 2
        assert values[0] == pytest.approx(np.trapezoid(inner ** 2, x[1:-1]), rel=0.05, abs=1e-9)
        assert f"{name}: train/test loss" in text
        assert "fitted curve on seed" in text and " → ".join(f"{v:.3g}" for v in values) in text
        checked += 1
    assert checked >= 2


def test_report_from_existing_results_redraws_the_same_tables(quick, tmp_path):
    root, path = quick
    again = report.make_report(results=root / "work", out=tmp_path / "figs", progress=False)
    # all but the line naming the source folders
    assert again.read_text().splitlines()[3:] == path.read_text().splitlines()[3:]
    assert re.match(r"\d+ runs from `", again.read_text().splitlines()[2])


def test_report_rejects_bad_arguments_before_writing(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="out"):
        report.make_report(results=tmp_path, out=f)
    with pytest.raises(ValueError, match="jobs"):
        report.make_report(out=tmp_path / "o", jobs=0)
    with pytest.raises(ValueError, match="results"):
        report.make_report(results=tmp_path / "nothing", out=tmp_path / "o2")
    assert not (tmp_path / "o").exists() and not (tmp_path / "o2").exists()


def test_quick_spec_shrinks_every_dimension():
    for spec in report.default_specs():
        q = report.quick_spec(spec)
        assert len(q.datasets) <= 2 and len(q.seeds) <= 2
        assert len(q.lambdas) < len(spec.lambdas) and max(q.lambdas) == max(spec.lambdas)
        for t, tq in zip(spec.trainers, q.trainers):
            for key in ("epochs", "iterations", "max_iter"):
                if key in t.settings:
                    assert tq.settings[key] < t.settings[key]


def test_transition_lambda_interpolates_on_log_lambda():
    xs, med = [0.0, 0.01, 0.1, 1.0], [1.0, 1.0, 2.0, 4.0]
    # level 3 lies halfway between 2 (λ = 0.1) and 4 (λ = 1): at 10^-0.5 on a log axis
    assert R.transition_lambda(xs, med, 3.0) == pytest.approx(10 ** -0.5)
    assert R.transition_lambda(xs, med, 5.0) is None
    assert R.transition_lambda(xs, med, 0.5) is None          # reached already at λ = 0
    assert R.transition_lambda(xs, med, 1.5) == pytest.approx(10 ** -1.5)


def test_compare_script_prints_one_consistent_row_per_trainer(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "compare.py"
    out = subprocess.run([sys.executable, str(script), "--dataset", "sine", "--seeds", "1", "--lam", "0.01"],
                         capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [r[0] for r in rows] == [t.name for t in report.default_specs()[0].trainers]
    for r in rows:
        e, d, pen = float(r[1]), float(r[2]), float(r[3])
        assert e == pytest.approx(d + pen, rel=1e-3)        # E = D + R, to the printed digits
        assert pen == pytest.approx(0.01 / 2 * float(r[4]), rel=1e-3)  # R = (λ/2)·Σw²
    from swarmreg.result import STATUS_WORDS

    for line in out.splitlines()[2:]:  # the status in words, with how many seeds ended so
        assert re.search(r"  1 (" + "|".join(map(re.escape, STATUS_WORDS.values())) + r")$", line), line
    for argv, culprit in ((["--dataset", "nope"], "nope"), (["--seeds", "0"], "seeds"), (["--lam", "x"], "--lam")):
        bad = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, cwd=tmp_path)
        assert bad.returncode == 2 and culprit in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ any records a sweep accepts: figures and REPORT.md

NAMES = st.one_of(st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20),
                  st.sampled_from(["# pwned", "- x", "1. x", "    code", "> quote", "a|b", "**x**", "<script>",
                                   "bp $\\x$", "_x_", "[a](b)", "`c`"]))
LAMS = st.lists(st.sampled_from([0.0, 5e-324, 1e-300, 1e-4, 0.1, 1.0, 1e6, 1e300, 1.797e308]), min_size=1,
                max_size=3, unique=True)
VALUES = st.one_of(st.floats(-1e300, 1e300), st.sampled_from([0.0, 1e-320, 1.797e308, -1.797e308]), st.none())
POSITIVE = st.one_of(st.floats(0.0, 1.797e308), st.none())


def _record(name, kind, lam, seed, dataset, value, sq, test, task, sweep_name="s", lam_as="penalty", penalty="l2",
            status="max_iter"):
    theta = [0.1] * 10  # a 1-3-1 network
    history = {"iteration": [0, 1, 2], "value": [value, value, value], "weight_sq_norm": [sq, sq, sq],
               "forward_samples": [0, 10, 20], "seconds": [0.0, 0.1, 0.2]}
    fields = dict(
        id=hashlib.sha256(repr((name, kind, lam, seed, dataset, penalty, lam_as)).encode()).hexdigest()[:16],
        spec_hash=None, sweep=sweep_name,
        dataset=dataset, task=task, trainer=name, kind=kind, lam=lam, lam_as=lam_as, canonical_lam=lam,
        penalty=penalty, seed=seed, cv=0, fold=None, run_seed=seed,
        config={"seed": seed, "test_fraction": 0.25, "validation_fraction": 0.2,
                "model": {"hidden": [3], "activation": "tanh"}, "trainer": {"settings": {}}},
        trainer_config={"backprop": {"lr": 0.1, "optimizer": "adam", "decay": "decoupled"},
                        "swarm": {"bounds": [-10.0, 10.0]}}.get(kind, {}),
        value=value, data_loss=value, penalty_value=0.0,
        weight_sq_norm=sq, zero_fraction=0.5, near_zero_fraction=0.5, effective_weights=3, saturation=0.25,
        final_diversity=0.1 if kind == "swarm" else None, zero_value=1.1, trivial_test_loss=1.1,
        effective_lam=value, effective_lam_residual=sq, forward_samples=20, backend="numpy", backward_samples=20,
        iterations=2, seconds=0.2, status=status, theta=theta, history=history,
        **{f"{s}_loss": test for s in R.SPLITS}, **{f"{s}_accuracy": None for s in R.SPLITS},
        **{f"{s}_rmse": test for s in R.SPLITS})
    return R.new_record(**fields)


@st.composite
def hostile_records(draw):
    names = draw(st.lists(NAMES, min_size=2, max_size=2, unique=True))
    lams = draw(LAMS)
    dataset = draw(st.sampled_from(["sine", "iris", "x|y", "$a$"]))
    recs = []
    for name, kind in zip([*names, "lbfgs"], ["backprop", "swarm", "lbfgs"]):
        for lam in lams:
            for seed in (0, 1):
                recs.append(_record(name, kind, lam, seed, dataset, draw(VALUES), draw(POSITIVE), draw(VALUES),
                                    "regression", status=draw(st.sampled_from(["max_iter", "diverged", "converged"]))))
    for lam in lams:  # an L1 sweep and a convention sweep of the same names
        recs.append(_record(names[0], "backprop", lam, 0, dataset, draw(VALUES), draw(POSITIVE), draw(VALUES),
                            "regression", penalty="l1"))
        recs.append(_record(names[1], "backprop", lam, 0, dataset, draw(VALUES), draw(POSITIVE), draw(VALUES),
                            "regression", sweep_name="conv", lam_as="decay_fraction"))
    return recs


def _pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def check_report_of(recs):
    for entry in report.FIGURES:
        fig = entry.draw(recs)
        fig.savefig(io.BytesIO(), dpi=20, format="png")  # ticks and text are laid out here
    text = report.write_report_md(recs, ["a|b", "**c**"])
    assert "<script>" not in text
    section = ""
    for line in text.splitlines():  # only the report's own headings (and its findings' list) start a block
        if line.startswith("## "):
            section = line
        if section == "## Findings" and line.startswith("- "):
            line = line[2:]  # a finding: its own text must not start another block
            # every finding opens with the report's own words, never a user's name
            assert line.startswith(("Lowest ", "Cost ", "The ", "Under L1", "Rakitianskaia ", "Whether ", "On ",
                                    *"0123456789")), line
        if not line.startswith(("#", "|", "![")):
            assert not re.match(r"( {4}| {0,3}([#>+*\-=]|\d+[.)])( |$))", line), line
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("|---"):
            header = lines[k - 1]
            for row in lines[k + 1:]:
                if not row.startswith("|"):
                    break
                assert _pipes(row) == _pipes(header), (header, row)
    assert not re.search(r"\b(nan|inf)\b", text, re.IGNORECASE)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@example(recs=[_record(n, k, lam, s, "sine", 1.0, 1.0, 1.0, "regression")
               for n, k in (("bp $\\x$", "backprop"), ("a|b <script>", "swarm"), ("lbfgs", "lbfgs"))
               for lam in (0.0, 1.797e308) for s in (0, 1)])
@given(recs=hostile_records())
def test_any_accepted_records_draw_every_figure_and_a_well_formed_report(recs):
    check_report_of(recs)


def test_markdown_escaping_keeps_names_literal():
    assert report.md("a|b") == r"a\|b"
    assert report.md("**x**") == r"\*\*x\*\*"
    assert report.md("<script>") == "&lt;script&gt;"
    assert report.md("$x$") == r"\$x\$"
    assert report.md("breast_cancer") == "breast_cancer"  # an underscore inside a word never formats
    assert report.md("_x_") == r"\_x\_"
    assert report.md("line\nbreak") == "line break"
    assert report.md("# pwned") == r"\# pwned"
    assert report.md("- x") == r"\- x" and report.md("+ x") == r"\+ x"
    assert report.md("1. x") == r"1\. x" and report.md("12) x") == r"12\) x"
    assert report.md("    code") == "&#32;" * 4 + "code"
    assert report.md("x  ") == "x&#32;&#32;"
    assert report.md("backprop-proximal") == "backprop-proximal"  # a plain name stays as it is


def test_failure_sentences_claim_nothing_without_a_reference():
    from swarmreg import report
    from swarmreg.findings import behaviour_verdict
    recs = [_record("swarm", "swarm", lam, s, "sine", 1.0, 1.0, 1.0, "regression") for lam in (0.0, 1.0)
            for s in range(2)]
    assert report._failures(recs, R.objective_gaps(recs)) == []
    assert behaviour_verdict(0, 3, 3) == ("the smaller networks are seen in none; the more convergent swarms are "
                                          "seen in every pair — two medians per pair compared, not a test.")
    assert "seen in 1 of 3 pairs only" in behaviour_verdict(1, 0, 3)
    # without a reference the findings judge nothing rather than report 0 failures
    text = report.write_report_md(recs)
    assert "Whether the trainers minimize E is not judged" in text and "fails to minimize" not in text


def test_the_report_leaves_out_a_trainer_whose_extra_is_missing_and_says_so(monkeypatch):
    import importlib.util

    from swarmreg import report
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cma" else real(name, *a))
    with pytest.warns(UserWarning, match=r"CMA-ES left out of report-swarm: the optional extra cma"):
        specs, suffixes, notes = report._installed()
    kinds = {t.kind for s in specs for t in s.trainers}
    assert "cmaes" not in kinds and "swarm" in kinds
    assert suffixes == ["", "", "", "-without-cma", ""] and specs[3].name == "report-swarm"
    text = report.write_report_md([], notes=notes)
    assert "CMA-ES left out of report-swarm" in text
