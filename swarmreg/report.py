"""The report: run the built-in sweeps (or read one) and write the figures and REPORT.md.

Every number in REPORT.md is computed from the records; every file is written
to a temporary name and renamed, so a crash leaves it complete or absent.
"""

from __future__ import annotations

import copy
import math
import os
import platform
from importlib import resources
from pathlib import Path

import numpy as np

from . import plots
from .experiment import RESULTS_FILE, check_out, load_results, parse_spec, process_pool, run_sweep
from .files import atomic_write

__all__ = ["make_report", "default_specs", "quick_spec", "FIGURES", "write_report_md"]

SPEC_FILES = ("report-l2.toml", "report-l1.toml", "report-conventions.toml")

FIGURES = {
    "lambda_error.png": plots.plot_lambda_error,
    "lambda_weight_norm.png": plots.plot_weight_norm,
    "lambda_objective_gap.png": plots.plot_objective_gap,
    "l1_sparsity.png": plots.plot_l1_sparsity,
    "fits.png": plots.plot_fits,
    "decay_trajectory.png": plots.plot_decay_trajectory,
    "convention_shift.png": plots.plot_convention_shift,
    "convergence.png": plots.plot_convergence,
}


def default_specs() -> list[dict]:
    """The report's built-in sweeps (package data under swarmreg/specs)."""
    import tomllib

    folder = resources.files("swarmreg") / "specs"
    return [parse_spec(tomllib.loads((folder / name).read_text("utf-8")), source=name) for name in SPEC_FILES]


def quick_spec(spec: dict) -> dict:
    """A smaller version of a spec for a report in under a minute: two data sets,
    two seeds, every third λ (and the largest), a tenth of the epochs and
    iterations, at most 20 particles."""
    spec = copy.deepcopy(spec)
    spec["name"] += "-quick"
    spec["datasets"] = spec["datasets"][:2]
    spec["seeds"] = spec["seeds"][:2]
    lams = spec["lambdas"]
    spec["lambdas"] = sorted(set(lams[::3] + [lams[-1]]))
    for t in spec["trainers"]:
        s = t["settings"]
        for key, floor in (("epochs", 5), ("iterations", 20), ("max_iter", 50)):
            if key in s:
                s[key] = max(floor, s[key] // 10)
        if "particles" in s:
            s["particles"] = min(s["particles"], 20)
    return spec


def save_figure(fig, path: Path) -> None:
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=110, format="png"))


def _collect(results) -> list[dict]:
    """Records of a sweep folder, or of every sweep folder directly below it."""
    results = Path(results)
    if (results / RESULTS_FILE).exists():
        return load_results(results)[0]
    subs = sorted(p for p in results.glob(f"*/{RESULTS_FILE}"))
    if not subs:
        raise ValueError(f"results {results}: no {RESULTS_FILE} in it or in its subfolders")
    return [r for p in subs for r in load_results(p.parent)[0]]


def make_report(results=None, out="figures", quick: bool = False, jobs: int | None = None,
                work=None, progress: bool = True) -> Path:
    """Write every figure and REPORT.md into ``out``.

    Parameters
    ----------
    results : path, optional
        An existing sweep folder (or a folder of sweep folders) to draw from.
        Without it the built-in sweeps run first (resuming in ``work``).
    out : path
        Folder for ``*.png`` and ``REPORT.md``.
    quick : bool
        Run the small version of the built-in sweeps.
    jobs : int, optional
        Worker processes for the built-in sweeps (default: all cores).
    work : path, optional
        Where the built-in sweeps keep their results (default: runs/report or runs/report-quick).

    Returns
    -------
    Path of REPORT.md.
    """
    out = check_out(out)
    if work is not None:
        check_out(work)
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    if results is not None:
        records = _collect(results)
        sources = [str(results)]
    else:
        specs = default_specs()
        if quick:
            specs = [quick_spec(s) for s in specs]
        work = Path(work) if work is not None else Path("runs") / ("report-quick" if quick else "report")
        records, sources = [], []
        if jobs == 1:
            for spec in specs:
                records += run_sweep(spec, work / spec["name"], progress=progress)
        else:
            with process_pool(jobs) as pool:
                for spec in specs:
                    records += run_sweep(spec, work / spec["name"], executor=pool, progress=progress)
        sources = [str(work / s["name"]) for s in specs]
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES.items():
        save_figure(draw(records), out / name)
    path = out / "REPORT.md"
    text = write_report_md(records, sources)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


# ------------------------------------------------------------------ REPORT.md
def _g(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}"


def _med_iqr(values) -> str:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "–"
    q = np.percentile(v, [50, 25, 75])
    return f"{_g(q[0])} [{_g(q[1])}, {_g(q[2])}]"


def _median(values):
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.median(v)) if v else None


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def best_lambda_rows(records):
    """Per data set and trainer: best λ (validation), test numbers there, gap, cost."""
    recs = plots.main_records(records)
    gaps = {r["id"]: r["gap"] for r in plots.objective_gaps(recs)}
    rows = []
    for ds in dict.fromkeys(r["dataset"] for r in recs):
        drecs = [r for r in recs if r["dataset"] == ds]
        for name in plots.trainer_names(drecs):
            lam = plots.best_lambda(drecs, name, ds)
            at = [r for r in drecs if r["trainer"] == name and r["lam"] == lam]
            if lam is None or not at:
                continue
            task = at[0]["task"]
            score = "test_accuracy" if task == "classification" else "test_rmse"
            rows.append({
                "dataset": ds, "trainer": name, "kind": at[0]["kind"], "lam": lam, "task": task,
                "test_loss": [r["test_loss"] for r in at], "score": [r[score] for r in at],
                "gap": [gaps.get(r["id"]) for r in at], "seconds": [r["seconds"] for r in at],
                "forward": [r["forward_samples"] for r in at], "n": len(at),
                "diverged": sum(r["status"] == "diverged" for r in drecs if r["trainer"] == name),
            })
    return rows


def wilcoxon_rows(records, best_rows):
    """Paired Wilcoxon signed-rank tests (by seed) of test loss, each backprop
    configuration against each swarm configuration at their own best λ."""
    from scipy.stats import wilcoxon

    recs = plots.main_records(records)
    out = []
    for ds in dict.fromkeys(r["dataset"] for r in best_rows):
        rows = [r for r in best_rows if r["dataset"] == ds]
        for a in (r for r in rows if r["kind"] == "backprop"):
            for b in (r for r in rows if r["kind"] == "swarm"):
                pick = {}
                for row in (a, b):
                    pick[row["trainer"]] = {r["seed"]: r["test_loss"] for r in recs if r["dataset"] == ds
                                            and r["trainer"] == row["trainer"] and r["lam"] == row["lam"]
                                            and r["test_loss"] is not None}
                seeds = sorted(set(pick[a["trainer"]]) & set(pick[b["trainer"]]))
                x = np.array([pick[a["trainer"]][s] for s in seeds])
                y = np.array([pick[b["trainer"]][s] for s in seeds])
                d = x - y
                p = stat = None
                if len(seeds) >= 2 and np.any(d != 0):
                    res = wilcoxon(x, y)
                    stat, p = float(res.statistic), float(res.pvalue)
                out.append({"dataset": ds, "a": a["trainer"], "b": b["trainer"], "n": len(seeds),
                            "median_diff": float(np.median(d)) if len(d) else None, "stat": stat, "p": p})
    return out


def _sentences_error(records, best_rows) -> list[str]:
    out = []
    for ds in dict.fromkeys(r["dataset"] for r in best_rows):
        rows = [r for r in best_rows if r["dataset"] == ds]
        parts = [f"{r['trainer']} at λ = {_g(r['lam'])} (test loss {_g(_median(r['test_loss']))})" for r in rows]
        best = min(rows, key=lambda r: _median(r["test_loss"]) if _median(r["test_loss"]) is not None else math.inf)
        out.append(f"On {ds}, validation error is lowest for " + "; ".join(parts) +
                   f". The lowest median test loss at the chosen λ is {best['trainer']}'s.")
    return out


def _sentences_norm(records) -> list[str]:
    out = []
    recs = plots.main_records(records)
    for ds in dict.fromkeys(r["dataset"] for r in recs):
        drecs = [r for r in recs if r["dataset"] == ds]
        bits = []
        for name in plots.trainer_names(drecs):
            xs, med, _, _ = plots.summarize([r for r in drecs if r["trainer"] == name], "weight_sq_norm")
            if len(xs) >= 2 and med[-1] > 0:
                bits.append(f"{name} {_g(med[0])} → {_g(med[-1])} (×{_g(med[0] / med[-1])} smaller)")
        if bits:
            out.append(f"On {ds}, median Σw² from the smallest to the largest λ: " + "; ".join(bits) + ".")
    return out


def _sentences_gap(records) -> list[str]:
    gaps = plots.objective_gaps(plots.main_records(records))
    out = []
    for ds in dict.fromkeys(r["dataset"] for r in gaps):
        bits = []
        for name in plots.trainer_names([r for r in gaps if r["dataset"] == ds]):
            g = [r["gap"] for r in gaps if r["dataset"] == ds and r["trainer"] == name]
            worst = max((r for r in gaps if r["dataset"] == ds and r["trainer"] == name), key=lambda r: r["gap"])
            bits.append(f"{name} median gap {_g(_median(g))} (largest {_g(worst['gap'])} at λ = {_g(worst['lam'])}), "
                        f"below the reference in {sum(x < 0 for x in g)} of {len(g)} runs")
        out.append(f"On {ds}: " + "; ".join(bits) + ".")
    on_edge = []
    for r in gaps:
        bounds = (r.get("trainer_config") or {}).get("bounds")
        if r["kind"] == "swarm" and bounds and r["lam"] == 0 and r["theta"]:
            theta = np.array(r["theta"], dtype=float)
            on_edge.append(float(np.mean((theta <= bounds[0]) | (theta >= bounds[1]))))
    if on_edge:
        out.append(f"The swarms search inside their bounds while the reference is unbounded: at λ = 0 a median "
                   f"{_g(100 * float(np.median(on_edge)))}% (at most {_g(100 * max(on_edge))}%) of a swarm's "
                   "parameters sit on the edge of the box, so part of their gap at small λ is the box itself.")
    return out


def _sentences_sparsity(records) -> list[str]:
    recs = plots.main_records(records, "l1")
    out = []
    for ds in dict.fromkeys(r["dataset"] for r in recs):
        drecs = [r for r in recs if r["dataset"] == ds]
        top = max(r["lam"] for r in drecs)
        bits = []
        for name in plots.trainer_names(drecs):
            at = [r for r in drecs if r["trainer"] == name and r["lam"] == top]
            bits.append(f"{name} {_g(100 * (_median([r['zero_fraction'] for r in at]) or 0))}% exactly zero "
                        f"({_g(100 * (_median([r['near_zero_fraction'] for r in at]) or 0))}% below 1e-3)")
        out.append(f"On {ds} at the largest L1 λ = {_g(top)}: " + "; ".join(bits) + ".")
    return out


def _sentences_fits(records, best_rows) -> list[str]:
    recs = [r for r in plots.main_records(records) if r["dataset"] == "sine"]
    out = []
    for row in (r for r in best_rows if r["dataset"] == "sine"):
        rs = [r for r in recs if r["trainer"] == row["trainer"]]
        lams = sorted({r["lam"] for r in rs})
        at = {lam: [r for r in rs if r["lam"] == lam] for lam in (lams[0], row["lam"], lams[-1])}
        out.append(
            f"{row['trainer']}: train/test loss {_g(_median([r['train_loss'] for r in at[lams[0]]]))}/"
            f"{_g(_median([r['test_loss'] for r in at[lams[0]]]))} at λ = {_g(lams[0])}, "
            f"{_g(_median([r['train_loss'] for r in at[row['lam']]]))}/"
            f"{_g(_median([r['test_loss'] for r in at[row['lam']]]))} at the best λ = {_g(row['lam'])}, "
            f"{_g(_median([r['train_loss'] for r in at[lams[-1]]]))}/"
            f"{_g(_median([r['test_loss'] for r in at[lams[-1]]]))} at λ = {_g(lams[-1])}.")
    return out


def _sentences_decay(records) -> list[str]:
    recs = [r for r in plots.main_records(records) if r["kind"] != plots.REFERENCE_KIND and plots._ok(r)]
    if not recs:
        return []
    ds = next(iter(dict.fromkeys(r["dataset"] for r in recs)))
    top = max(r["lam"] for r in recs if r["dataset"] == ds)
    out = []
    for name in plots.trainer_names([r for r in recs if r["dataset"] == ds]):
        at = [r for r in recs if r["dataset"] == ds and r["trainer"] == name and r["lam"] == top]
        start = _median([r["history"]["weight_sq_norm"][0] for r in at])
        end = _median([r["history"]["weight_sq_norm"][-1] for r in at])
        out.append(f"{name} on {ds} at λ = {_g(top)}: median Σw² {_g(start)} at the start, {_g(end)} at the end.")
    return out


def transition_lambda(xs, med, level):
    """Where a median curve first reaches ``level``: log-linear interpolation
    between the grid points around the crossing (None if it never does, or
    already does at λ = 0)."""
    xs, med = np.asarray(xs, float), np.asarray(med, float)
    above = med >= level
    if not above.any():
        return None
    k = int(np.argmax(above))
    if k == 0:
        return float(xs[0]) if xs[0] > 0 else None
    if xs[k - 1] <= 0:
        return float(xs[k])
    t = (level - med[k - 1]) / (med[k] - med[k - 1])
    return float(np.exp(np.log(xs[k - 1]) + t * (np.log(xs[k]) - np.log(xs[k - 1]))))


def _sentences_conventions(records) -> list[str]:
    sweeps = plots.convention_sweeps(records)
    recs = [r for r in records if r.get("sweep") in sweeps and r["kind"] == "backprop"]
    names = plots.trainer_names(recs)
    curves = {(n, x): plots.summarize([r for r in recs if r["trainer"] == n], "test_loss", x=x)[:2]
              for n in names for x in ("lam", "canonical_lam")}
    curves = {k: v for k, v in curves.items() if len(v[0])}
    if not curves:
        return []
    # a level every curve reaches: halfway from the lowest minimum to the lowest maximum
    low = min(float(m.min()) for _, m in curves.values())
    level = low + 0.5 * (min(float(m.max()) for _, m in curves.values()) - low)
    found = {k: transition_lambda(xs, med, level) for k, (xs, med) in curves.items()}
    out = []
    if names:
        out.append(f"Where the median test loss first reaches {_g(level)} (halfway up from the best) — "
                   "on the raw knob: " + "; ".join(f"{n} {_g(found.get((n, 'lam')))}" for n in names) +
                   "; on the canonical λ: " +
                   "; ".join(f"{n} {_g(found.get((n, 'canonical_lam')))}" for n in names) + ".")
        for x, label in (("lam", "raw knob"), ("canonical_lam", "canonical λ")):
            v = [found[n, x] for n in names if found.get((n, x))]
            if len(v) >= 2:
                out.append(f"Across the {len(v)} configurations these points spread over a factor "
                           f"{_g(max(v) / min(v))} on the {label}.")
    return out


def _sentences_convergence(records) -> list[str]:
    recs = [r for r in plots.main_records(records) if plots._ok(r)]
    if not recs:
        return []
    ds = next(iter(dict.fromkeys(r["dataset"] for r in recs)))
    drecs = [r for r in recs if r["dataset"] == ds]
    pos = sorted({r["lam"] for r in drecs if r["lam"] > 0})
    lam = pos[len(pos) // 2] if pos else 0.0
    at = [r for r in drecs if r["lam"] == lam]
    out = []
    for name in plots.trainer_names(at):
        rs = [r for r in at if r["trainer"] == name]
        out.append(f"{name} on {ds} at λ = {_g(lam)}: median final E {_g(_median([r['value'] for r in rs]))} "
                   f"after {_g(_median([r['forward_samples'] for r in rs]))} forward samples "
                   f"and {_g(_median([r['seconds'] for r in rs]))} s.")
    return out


def write_report_md(records, sources=()) -> str:
    """The text of REPORT.md: every figure with sentences computed from the records, and the tables."""
    best_rows = best_lambda_rows(records)
    n_div = sum(r["status"] == "diverged" for r in records)
    lines = [
        "# swarmreg report",
        "",
        f"{len(records)} runs from {', '.join(f'`{s}`' for s in sources) or 'the given records'} "
        f"({n_div} diverged and left out of the curves). Curves are medians over seeds with the interquartile "
        "range as a band; the best λ is chosen on validation error, never on test error. "
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
    ]
    sections = [
        ("Error against λ", "lambda_error.png", _sentences_error(records, best_rows)),
        ("Weight norm against λ", "lambda_weight_norm.png", _sentences_norm(records)),
        ("Objective gap to the reference", "lambda_objective_gap.png", _sentences_gap(records)),
        ("Sparsity under L1", "l1_sparsity.png", _sentences_sparsity(records)),
        ("Fits on the sine data", "fits.png", _sentences_fits(records, best_rows)),
        ("Decay over training", "decay_trajectory.png", _sentences_decay(records)),
        ("Conventions: the meaning of λ", "convention_shift.png", _sentences_conventions(records)),
        ("Convergence per unit of work", "convergence.png", _sentences_convergence(records)),
    ]
    for i, (title, fig, sentences) in enumerate(sections, 1):
        lines += [f"## {i}. {title}", "", f"![{title}]({fig})", ""]
        lines += [" ".join(sentences) if sentences else "No records for this figure.", ""]
    lines += ["## Best λ per trainer and data set", "",
              "Best λ by median validation loss; test numbers over the seeds at that λ as median [Q1, Q3]; "
              "the objective gap is E − E(L-BFGS) on the same seed; cost per run.", ""]
    lines.append(_table(
        ["data set", "trainer", "best λ", "test loss", "test accuracy / RMSE", "objective gap", "seconds",
         "forward samples", "runs", "diverged"],
        [[r["dataset"], r["trainer"], _g(r["lam"]), _med_iqr(r["test_loss"]), _med_iqr(r["score"]),
          _med_iqr(r["gap"]) if any(g is not None for g in r["gap"]) else "–", _med_iqr(r["seconds"]),
          _g(_median(r["forward"]), 3), r["n"], r["diverged"]] for r in best_rows]))
    lines += ["", "## Backprop against the swarm (paired Wilcoxon signed-rank test)", "",
              "Test loss paired by seed (same data split), each trainer at its own best λ; "
              "difference = backprop − swarm (negative: backprop better).", ""]
    wrows = wilcoxon_rows(records, best_rows)
    lines.append(_table(["data set", "backprop", "swarm", "pairs", "median difference", "W", "p-value"],
                        [[w["dataset"], w["a"], w["b"], w["n"], _g(w["median_diff"]), _g(w["stat"]), _g(w["p"])]
                         for w in wrows]))
    lines.append("")
    return "\n".join(lines)
