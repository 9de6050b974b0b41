"""The report's Findings: each sentence's numbers recomputed from the records by hand."""

import re
import statistics

import pytest

from swarmreg.findings import findings
from swarmreg.report import write_report_md
from swarmreg import records as R
from swarmreg.sweep import expand_runs, parse_spec, run_one

SPEC = {"name": "f", "datasets": ["iris"], "seeds": [0, 1, 2], "lambdas": [0.0, 1e-2, 1.0],
        "model": {"hidden": [3]},
        "trainers": [{"name": "bp", "kind": "backprop", "epochs": 3, "lr": 0.05},  # far from E's minimum
                     {"name": "ref", "kind": "lbfgs", "max_iter": 300}]}


def test_findings_name_the_best_trainer_and_the_failures():
    spec = parse_spec(SPEC)
    recs = [{**run_one(r), "spec_hash": spec.hash} for r in expand_runs(spec)]
    chosen = {}
    for name in ("bp", "ref"):  # λ by median validation loss, then the median test loss there, by hand
        by_lam = {lam: [r for r in recs if r["trainer"] == name and r["lam"] == lam] for lam in spec.lambdas}
        lam = min(by_lam, key=lambda x: statistics.median(r["val_loss"] for r in by_lam[x]))
        chosen[name] = (lam, statistics.median(r["test_loss"] for r in by_lam[lam]))
    winner = min(chosen, key=lambda n: chosen[n][1])
    other = next(n for n in chosen if n != winner)
    lines = findings(recs, R.best_lambda_rows(recs))
    assert lines[0].startswith("Lowest median test loss at each trainer's validation-chosen λ: "
                               f"iris {winner} {chosen[winner][1]:.3g} (next {other} {chosen[other][1]:.3g})")
    # 3 seeds: one comparison, the exact floor 2/2^3 = 0.25 is above 0.05, nothing can be detected
    assert "0 of the 1 paired differences pass Holm's correction at p <= 0.05 over 3 seeds" in lines[0]
    # three epochs cannot minimize E: backprop is named as failing at the λ it chose; the reference never is
    failing = next(line for line in lines if "to minimize E at the λ they chose" in line)
    assert re.match(r"1 \(trainer, data set\) pair fails to minimize E at the λ they chose \(median E above the "
                    r"reference's by more than max\(5 %, 0.01\) of it\): bp on iris", failing)
    # the cost line: bp's samples are forward + backward passes, counted by hand
    bp_lam = chosen["bp"][0]
    work = statistics.median(r["forward_samples"] + r["backward_samples"] for r in recs
                             if r["trainer"] == "bp" and r["lam"] == bp_lam)
    cost = next(line for line in lines if line.startswith("Cost of one run"))
    assert f"bp {work:.2g} samples" in cost  # one data set: one number, not a range
    assert "## Findings\n\n- Lowest median test loss" in write_report_md(recs)


def test_reference_failures_count_the_iteration_limit_and_the_problems_it_is_beaten_on():
    spec = parse_spec(SPEC)
    recs = [{**run_one(r), "spec_hash": spec.hash} for r in expand_runs(spec)]
    ref = [r for r in recs if r["trainer"] == "ref"]
    limited = {r["id"] for r in ref[:2]}
    recs = [{**r, "status": "max_iter"} if r["id"] in limited else r for r in recs]
    # bp beats the reference on one problem by 1e-3, and ties it (within 1e-6 relative) on another
    target = next(r for r in recs if r["trainer"] == "bp" and r["lam"] == 1.0 and r["seed"] == 1)
    tie = next(r for r in recs if r["trainer"] == "bp" and r["lam"] == 1.0 and r["seed"] == 2)
    ref_value = {(r["lam"], r["seed"]): r["value"] for r in ref}
    recs = [{**r, "value": ref_value[1.0, 1] - 1e-3} if r is target else
            {**r, "value": ref_value[1.0, 2] - 1e-9} if r is tie else r for r in recs]
    (row,) = R.reference_failures(recs)
    assert row["runs"] == 9 and sum(row["limit"].values()) == 2
    assert row["problems"] == 9 and row["beaten"] == {"bp": 1} and row["beaten_problems"] == 1
    assert row["worst"]["gap"] == pytest.approx(-1e-3) and row["worst"]["seed"] == 1
    text = write_report_md(recs)
    assert "stopped at its iteration limit in 2 of its 9 runs" in text
    assert "on 1 of the 9 problems (λ, seed) both ran (bp on 1; by at most 0.001 in E" in text
    # the reference is what the others are judged against: never listed as failing itself
    assert R.failing_lambdas(recs, R.objective_gaps(recs), R.reference_medians(recs), "ref", "iris") == []


def test_a_fraction_trainer_beside_others_keeps_them_in_the_main_figures():
    spec = parse_spec({**SPEC, "trainers": [*SPEC["trainers"], {"name": "frac", "kind": "backprop", "epochs": 3,
                                                                "lam_as": "decay_fraction", "lr": 0.05}],
                       "lambdas": [0.0, 1e-3, 1e-2]})
    recs = [{**run_one(r), "spec_hash": spec.hash} for r in expand_runs(spec)]
    main = R.main_records(recs)
    assert {r["trainer"] for r in main} == {"bp", "ref"}
    dataset, conv = R.convention_records(recs)
    assert dataset == "iris" and "frac" in {r["trainer"] for r in conv}
    text = write_report_md(recs)
    assert "| iris | bp |" in text and "| iris | ref |" in text
