"""The report's Findings: each sentence's numbers recomputed from the records by hand."""

import re
import statistics

from swarmreg.report import findings, write_report_md
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
    lines = findings(recs, R.best_lambda_rows(recs))
    assert lines[0].startswith(f"On iris, {winner} reaches the lowest median test loss")
    assert f"{chosen[winner][1]:.3g} over 3 seeds" in lines[0]
    # three epochs cannot minimize E: backprop is named as failing at the λ it chose
    assert re.match(r"1 \(trainer, data set\) pairs fail to minimize E at the λ they chose: bp on iris", lines[-1])
    assert "## Findings\n\n- On iris" in write_report_md(recs)
