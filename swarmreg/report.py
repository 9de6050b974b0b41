"""The report: run the built-in sweeps (or read records) and write the figures and REPORT.md.

A figure is one entry of :data:`FIGURES`: its file, its title, the function
of :mod:`swarmreg.plots` that draws it, and the function that states in words
what its records show.  The Findings at the top come from
:mod:`swarmreg.findings`; numbers and names are written by
:mod:`swarmreg.wording`.  Every number in REPORT.md is computed from the
records (through :mod:`swarmreg.records`); every file is written to a
temporary name and renamed, so a crash leaves it complete or absent, and the
temporary files of a report that was killed are removed by the next one.
Names from the records are escaped, so no name can break or inject into the
markdown.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import platform
import time
import tomllib
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np

from . import plots
from . import records as R
from . import stats as S
from .files import atomic_write, remove_stale_temporaries
from .findings import (behaviour_counts, behaviour_verdict, chosen_runs, decay_forms_text, findings, l1_text,
                       median_test_loss, median_work, reference_summary, seeds_text, trend)
from .sweep import (RESULTS_FILE, Spec, check_out, execute_sweep, expand_runs, load_results, open_executor,
                    parse_spec)
from .sweep.executors import check_jobs
from .wording import md, med_iqr, num, table

__all__ = ["make_report", "default_specs", "quick_spec", "FIGURES", "FigureEntry", "write_report_md", "md"]

SPEC_FILES = ("report-l2.toml", "report-l1.toml", "report-conventions.toml", "report-swarm.toml",
              "report-adaptive.toml")
REPORT_FILE = "REPORT.md"


# ------------------------------------------------------------------ sentences
def _sentences_error(records, best_rows) -> list[str]:
    out = []
    for ds in dict.fromkeys(row["dataset"] for row in best_rows):
        rows = [row for row in best_rows if row["dataset"] == ds]
        grid = sorted({r["lam"] for r in rows_records(records, ds)})
        parts = [f"{md(row['trainer'])} at λ = {num(row['lam'])}"
                 + f" (test loss {num(R.median(row['test_loss']))}"
                 + (f"; the grid's {'smallest' if row['lam'] == grid[0] else 'largest'} λ"
                    if len(grid) > 1 and row["lam"] in (grid[0], grid[-1]) else "") + ")" for row in rows]
        best = min(rows, key=median_test_loss)
        out.append(f"On {md(ds)}, validation error is lowest for " + "; ".join(parts) +
                   f". The lowest median test loss at the chosen λ is {md(best['trainer'])}'s.")
        trivial = R.median([r.get("trivial_test_loss") for r in rows_records(records, ds)])
        scored = [row for row in rows if R.median(row["test_loss"]) is not None]
        if trivial is not None and scored:
            worse = [md(row["trainer"]) for row in scored if R.median(row["test_loss"]) >= trivial]
            out.append(f"The trivial predictor (every weight 0, the output bias fitted: class prior or mean) has "
                       f"test loss {num(trivial)} there; " +
                       (f"at the chosen λ {', '.join(worse)} {'does' if len(worse) == 1 else 'do'} no better."
                        if worse else f"{'the trainer beats' if len(scored) == 1 else 'every trainer beats'} it "
                        "at its chosen λ."))
    return out


def _sentences_splits(records, best_rows) -> list[str]:
    """Per data set: each trainer's median training and validation loss at its chosen λ and at the smallest λ."""
    out = []
    for ds in dict.fromkeys(row["dataset"] for row in best_rows):
        drecs = rows_records(records, ds)
        smallest = min(r["lam"] for r in drecs)
        bits = []
        for row in (row for row in best_rows if row["dataset"] == ds):
            mine = [r for r in drecs if r["trainer"] == row["trainer"] and R.finished(r)]

            def tv(lam):
                at = [r for r in mine if r["lam"] == lam]
                return (f"{num(R.median([r['train_loss'] for r in at]))}/"
                        f"{num(R.median([r['val_loss'] for r in at]))}")
            bits.append(f"{md(row['trainer'])} {tv(smallest)} at λ = {num(smallest)}, {tv(row['lam'])} at its chosen "
                        f"λ = {num(row['lam'])}")
        out.append(f"On {md(ds)}, median training/validation loss: " + "; ".join(bits) + ".")
    return out


def rows_records(records, dataset: str) -> list[dict]:
    """The L2 records of one data set (what the error figure draws)."""
    return [r for r in R.main_records(records) if r["dataset"] == dataset]


def _sentences_norm(records, best_rows) -> list[str]:
    out = []
    recs = R.main_records(records)
    gaps = R.objective_gaps(recs)
    reference = R.reference_medians(recs)
    for ds in R.datasets(recs):
        drecs = [r for r in recs if r["dataset"] == ds]
        bits = []
        for name in R.trainer_names(drecs):
            xs, med, _, _ = R.summarize([r for r in drecs if r["trainer"] == name], "weight_sq_norm")
            first, last = (float(med[0]), float(med[-1])) if len(xs) >= 2 else (0.0, 0.0)
            if first > 0 and last > 0 and math.isfinite(first / last) and math.isfinite(last / first):
                change = f"×{num(first / last)} smaller" if last <= first else f"×{num(last / first)} larger"
                stopped = [lam for lam in (float(xs[0]), float(xs[-1]))
                           if lam in R.failing_lambdas(drecs, gaps, reference, name, ds)]
                bits.append(f"{md(name)} {num(first)} → {num(last)} ({change}"
                            + (f"; it fails to minimize E at λ = {' and '.join(num(x) for x in stopped)}, so this is "
                               "where it stopped, not what λ does" if stopped else "") + ")")
        if bits:
            out.append(f"On {md(ds)}, median Σw² from the smallest to the largest λ: " + "; ".join(bits) + ".")
    return out


def _sentences_gap(records, best_rows) -> list[str]:
    gaps = R.objective_gaps(R.main_records(records))
    out = []
    for ds in R.datasets(gaps):
        bits = []
        for name in R.trainer_names([r for r in gaps if r["dataset"] == ds]):
            mine = [r for r in gaps if r["dataset"] == ds and r["trainer"] == name]
            g = [r["gap"] for r in mine]
            worst = max(mine, key=lambda r: r["gap"])
            bits.append(f"{md(name)} median gap {num(R.median(g))} (largest {num(worst['gap'])} at "
                        f"λ = {num(worst['lam'])}), below the reference in {sum(x < 0 for x in g)} of {len(g)} runs")
        out.append(f"On {md(ds)}: " + "; ".join(bits) + ".")
    out += _failures(R.main_records(records), gaps)
    out += _reference_text(R.main_records(records))
    on_edge = R.box_edge_fractions(gaps)
    if on_edge:
        middle = float(np.median(on_edge))
        out.append(f"The swarms search inside their bounds while the reference is unbounded: at λ = 0 a median "
                   f"{num(100 * middle)}% (at most {num(100 * max(on_edge))}%) of a swarm's parameters sit on the "
                   "edge of the box" + (", so part of their gap at small λ is the box itself." if middle > 0
                                        else "; the box does not limit them there."))
    return out


def _reference_text(recs) -> list[str]:
    """What the reference itself does not achieve: the iteration limit, and problems another trainer beat it on."""
    runs, at_limit, where, problems, beaten, by, worst = reference_summary(recs)
    if not runs:
        return []
    text = (f"The reference is L-BFGS from one start; it stopped at its iteration limit in {at_limit} of its {runs} "
            "runs" + (f" ({'; '.join(where)})" if where else ""))
    if problems:
        text += (f", and another trainer reached a lower E (by more than {R.BEATEN:g} relative) on {beaten} of the "
                 f"{problems} problems (λ, seed) both ran")
    if beaten:
        text += (" (" + ", ".join(f"{md(name)} on {n}" for name, n in by.items()) + f"; by at most "
                 f"{num(-worst['gap'])} in E, {md(worst['trainer'])} on {md(worst['dataset'])} at λ = "
                 f"{num(worst['lam'])}): there the reference is not the optimum it stands for, and gaps below 0 are "
                 "real")
    return [text + "."]


def _failures(recs, gaps) -> list[str]:
    """Which trainers fail to minimize E, and where: a median gap above max(5 %, 0.01) of the
    reference's E (their Σw² and errors there describe where they stopped, not the optimum)."""
    if not gaps:
        return []
    reference = R.reference_medians(recs)
    bits = []
    for ds in R.datasets(gaps):
        trainers = [n for n in R.trainer_names([r for r in recs if r["dataset"] == ds])
                    if R.kind_of(recs, n) != R.REFERENCE_KIND]
        for name in trainers:
            bad = R.failing_lambdas(recs, gaps, reference, name, ds)
            if bad:
                bits.append(f"{md(name)} on {md(ds)} at λ = {', '.join(num(x) for x in bad)}")
    if not bits:
        return ["Every trainer ends within max(5 %, 0.01) of the reference's E at every λ (median over seeds): "
                "each minimizes the penalized error it is given, so the curves above compare optima."]
    return ["Failing to minimize E (median gap above max(5 %, 0.01) of the reference's E, so the weight norms "
            "and errors there show where the trainer stopped, not what λ does): " + "; ".join(bits) + "."]


def _sentences_variants(records, best_rows) -> list[str]:
    recs = R.variant_records(records)
    gaps = R.objective_gaps(recs)
    if not gaps:
        return []
    reference = R.reference_medians(recs)
    out = []
    for ds in R.datasets(gaps):
        bits = []
        for name in R.trainer_names([r for r in gaps if r["dataset"] == ds]):
            mine = [r for r in gaps if r["dataset"] == ds and r["trainer"] == name]
            n_lams = len(R.judged_lambdas(recs, reference, name, ds))
            bad = R.failing_lambdas(recs, gaps, reference, name, ds)
            worst = max(mine, key=lambda r: r["gap"])
            verdict = (f"minimizes E at all {n_lams} λ" if not bad else
                       f"fails to minimize E at {len(bad)} of {n_lams} λ")
            bits.append(f"{md(name)} {verdict} (median gap {num(R.median([r['gap'] for r in mine]))}, largest "
                        f"{num(worst['gap'])} at λ = {num(worst['lam'])}; "
                        f"{num(R.median([r['seconds'] for r in mine]))} s a run)")
        out.append(f"On {md(ds)}: " + "; ".join(bits) + ".")
    return out


def _sentences_behaviour(records, best_rows) -> list[str]:
    recs = [r for r in R.main_records(records) if R.finished(r)]
    swarms = [r for r in recs if r["kind"] == "swarm"]
    if not swarms:
        return []
    out = []
    for ds in R.datasets(swarms):
        mine = [r for r in recs if r["dataset"] == ds]
        for name in R.trainer_names([r for r in swarms if r["dataset"] == ds]):
            t = trend(mine, name, ("effective_weights", "final_diversity"))
            if t is None:
                continue
            eff, div, lam = t["effective_weights"], t["final_diversity"], t["lam"]
            sat = (trend(mine, name, ("effective_weights", "final_diversity", "saturation")) or {}).get("saturation")
            out.append(f"{md(name)} on {md(ds)} from λ = {num(lam[0])} to {num(lam[1])}: effective weights "
                       f"{num(eff[0])} → {num(eff[1])}, final diversity {num(div[0])} → {num(div[1])}" +
                       (f", saturated activations {num(100 * sat[0])}% → {num(100 * sat[1])}%." if sat else "."))
    smaller, convergent, total = behaviour_counts(records)
    if total:
        out.append(f"Rakitianskaia & Engelbrecht (2014) found that the penalty gives swarms smaller effective "
                   f"networks and more convergent swarms. Here the effective network is smaller at the largest "
                   f"λ than at the smallest in {smaller} of {total} (swarm, data set) pairs and the final diversity "
                   f"lower in {convergent} of {total}: " +
                   behaviour_verdict(smaller, convergent, total))
    return out


def _sentences_sparsity(records, best_rows) -> list[str]:
    recs = [r for r in R.main_records(records, "l1") if R.finished(r)]
    out = []
    for ds in R.datasets(recs):
        drecs = [r for r in recs if r["dataset"] == ds]
        top = max(r["lam"] for r in drecs)
        bits = []
        for name in R.trainer_names(drecs):
            at = [r for r in drecs if r["trainer"] == name and r["lam"] == top]
            if at:
                bits.append(f"{md(name)} {num(100 * (R.median([r['zero_fraction'] for r in at]) or 0))}% exactly zero "
                            f"({num(100 * (R.median([r['near_zero_fraction'] for r in at]) or 0))}% below 1e-3)")
        trivial_at_top = []
        for name in R.trainer_names(drecs):
            at = [r for r in drecs if r["trainer"] == name and r["lam"] == top]
            test, trivial = R.median([r["test_loss"] for r in at]), R.median([r.get("trivial_test_loss") for r in at])
            if test is not None and trivial is not None and test >= trivial * (1 - 1e-3):
                trivial_at_top.append(md(name))
        out.append(f"On {md(ds)} at the largest L1 λ = {num(top)}: " + "; ".join(bits) + "." +
                   (f" There {', '.join(trivial_at_top)} predict{'s' if len(trivial_at_top) == 1 else ''} no better "
                    "than the trivial predictor (median test loss within 0.1 % of its): zeros or not, that network is "
                    "empty in effect, not sparse." if trivial_at_top else ""))
    return out + l1_text(records)


def _roughness_text(recs, trainer: str) -> str:
    """The roughness ∫ f''² dx of the drawn fits (the figure's seed), smallest λ → best → largest."""
    from .measures import roughness

    if not recs:
        return ""
    seed = min(r["seed"] for r in recs)
    panel = R.fit_curves(recs, trainer, recs[0]["dataset"], seed)
    if panel is None or len(panel["curves"]) < 2:
        return ""
    try:
        values = [roughness(panel["grid"], y) for _, y in panel["curves"]]
    except ValueError:  # a grid that is one point wide: no curve to measure
        return ""
    if not all(math.isfinite(v) for v in values):
        return ""
    text = (f"; the roughness ∫ f''(x)² dx of its fitted curve on seed {seed} (the figure's) is "
            + " → ".join(num(v) for v in values) + " over these λ")
    if len(values) == 3 and values[0] > 0 and values[1] > 0:
        ratio = values[0] / values[1]
        text += (f": at the chosen λ ×{num(ratio)} smoother than at the smallest" if ratio > 1.1 else
                 f": at the chosen λ ×{num(1 / ratio)} rougher than at the smallest" if ratio < 1 / 1.1 else
                 ": at the chosen λ about as rough as at the smallest (within 10 %)")
    return text


def _sentences_fits(records, best_rows) -> list[str]:
    recs = [r for r in R.main_records(records) if r["dataset"] == "sine" and R.finished(r)]
    out = []
    for row in (b for b in best_rows if b["dataset"] == "sine"):
        rs = [r for r in recs if r["trainer"] == row["trainer"]]
        lams = sorted({r["lam"] for r in rs})
        at = {lam: [r for r in rs if r["lam"] == lam] for lam in (lams[0], row["lam"], lams[-1])}

        def tt(rs):
            return f"{num(R.median([r['train_loss'] for r in rs]))}/{num(R.median([r['test_loss'] for r in rs]))}"

        out.append(f"{md(row['trainer'])}: train/test loss {tt(at[lams[0]])} at λ = {num(lams[0])}, "
                   f"{tt(at[row['lam']])} at the best λ = {num(row['lam'])}, {tt(at[lams[-1]])} at λ = {num(lams[-1])}"
                   + _roughness_text(recs, row["trainer"]) + ".")
    return out


def _sentences_decay(records, best_rows) -> list[str]:
    recs = [r for r in R.main_records(records) if r["kind"] != R.REFERENCE_KIND and R.finished(r)
            and r["history"].get("weight_sq_norm")]
    if not recs:
        return []
    ds = R.datasets(recs)[0]
    top = max(r["lam"] for r in recs if r["dataset"] == ds)
    out = []
    for name in R.trainer_names([r for r in recs if r["dataset"] == ds]):
        at = [r for r in recs if r["dataset"] == ds and r["trainer"] == name and r["lam"] == top]
        if not at:
            continue
        start = R.median([r["history"]["weight_sq_norm"][0] for r in at])
        end = R.median([r["history"]["weight_sq_norm"][-1] for r in at])
        out.append(f"{md(name)} on {md(ds)} at λ = {num(top)}: median Σw² {num(start)} at the start, "
                   f"{num(end)} at the end.")
    return out


def _sentences_conventions(records, best_rows) -> list[str]:
    dataset, recs = R.convention_records(records)  # what the figure draws
    level, found = R.convention_crossings(recs)
    if level is None:
        return []
    names = R.trainer_names(recs)
    out = [f"On {md(dataset)}, where the median test loss first reaches {num(level)} (halfway up from the best) — "
           "on the raw knob: " + "; ".join(f"{md(n)} {num(found.get((n, 'lam')))}" for n in names) +
           "; on the canonical λ: " + "; ".join(f"{md(n)} {num(found.get((n, 'canonical_lam')))}" for n in names) + "."]
    for x, label in (("lam", "raw knob"), ("canonical_lam", "canonical λ")):
        v = [found[n, x] for n in names if found.get((n, x))]
        if len(v) >= 2 and math.isfinite(max(v) / min(v)):
            out.append(f"Across the {len(v)} configurations these points spread over a factor "
                       f"{num(max(v) / min(v))} on the {label}.")
    return out


def _sentences_convergence(records, best_rows) -> list[str]:
    recs = [r for r in R.main_records(records) if R.finished(r)]
    if not recs:
        return []
    ds = R.datasets(recs)[0]
    drecs = [r for r in recs if r["dataset"] == ds]
    lam = R.middle_lambda(drecs)
    at = [r for r in drecs if r["lam"] == lam]
    out = []
    for name in R.trainer_names(at):
        rs = [r for r in at if r["trainer"] == name]
        out.append(f"{md(name)} on {md(ds)} at λ = {num(lam)}: median final E "
                   f"{num(R.median([r['value'] for r in rs]))} after "
                   f"{num(R.median([r['forward_samples'] + r['backward_samples'] for r in rs]))} samples "
                   f"through the network (forward + backward) and {num(R.median([r['seconds'] for r in rs]))} s.")
    return out


def _sentences_adaptive(records, best_rows) -> list[str]:
    recs = [r for r in R.adaptive_records(records) if R.finished(r)]
    out = []
    for ds in R.datasets(recs):
        drecs = [r for r in recs if r["dataset"] == ds]
        bits = []
        for row in (x for x in R.effective_lambda_rows(drecs) if x["dataset"] == ds):
            ratios = [x for x in row["ratio"] if x is not None]
            if not ratios:
                continue
            mu = row["momentum"] if isinstance(row["momentum"], (int, float)) else 0.0
            if row["optimizer"] == "sgd" and row["decay"] == "decoupled" and 0 < mu < 1:
                # the fixed point of decoupled decay with momentum: the optimum for λ·(1 − μ)
                near = sum(max(x / (1 - mu), (1 - mu) / x) <= R.ON_DIAGONAL_FACTOR for x in ratios if x > 0)
                bits.append(f"{md(row['trainer'])}'s effective λ is a median {num(R.median(ratios))}× the nominal λ, "
                            f"within a factor {num(R.ON_DIAGONAL_FACTOR)} of λ·(1 − μ) = {num(1 - mu)}·λ at "
                            f"{near} of "
                            f"{len(ratios)} λ > 0 (median residual {num(R.median(row['residual']))}); the fixed "
                            f"point of decoupled decay with momentum μ = {num(mu)} is the optimum for λ·(1 − μ), "
                            "not λ")
                continue
            where = (f"within a factor {num(row['worst_factor'], 4)} of the nominal λ at all {len(row['lams'])} λ > 0"
                     if row["on_diagonal"] else
                     f"{num(min(ratios), 4)}× to {num(max(ratios), 4)}× the nominal λ over {len(row['lams'])} λ > 0, "
                     f"not within the factor {num(R.ON_DIAGONAL_FACTOR)} counted as the nominal λ at every λ")
            bits.append(f"{md(row['trainer'])}'s effective λ is {where} (median residual "
                        f"{num(R.median(row['residual']))})")
        if bits:
            out.append(f"On {md(ds)}: " + "; ".join(bits) + ".")
        chosen = [f"{md(name)} λ = {num(lam)} (test loss {num(R.median([r['test_loss'] for r in at]))}, "
                  f"Σw² {num(R.median([r['weight_sq_norm'] for r in at]))})"
                  for name, lam, at in chosen_runs(drecs, ds)]
        if chosen:
            out.append("Validation error chooses " + "; ".join(chosen) + ".")
    forms = decay_forms_text(R.effective_lambda_rows(recs))
    if forms:
        out.append(forms)
    return out


# ------------------------------------------------------------------ the figures
@dataclass(frozen=True)
class FigureEntry:
    """One figure of the report: its file, its title, how it is drawn and how it is put in words."""

    file: str
    title: str
    draw: Callable          # records -> matplotlib Figure
    sentences: Callable     # (records, best_rows) -> list of str


FIGURES = (
    FigureEntry("lambda_error.png", "Test error against λ", plots.plot_lambda_error, _sentences_error),
    FigureEntry("lambda_error_splits.png", "Training and validation error against λ (supplementary)",
                plots.plot_lambda_error_splits, _sentences_splits),
    FigureEntry("lambda_weight_norm.png", "Weight norm against λ", plots.plot_weight_norm, _sentences_norm),
    FigureEntry("lambda_objective_gap.png", "Objective gap to the reference", plots.plot_objective_gap,
                _sentences_gap),
    FigureEntry("l1_sparsity.png", "Sparsity under L1", plots.plot_l1_sparsity, _sentences_sparsity),
    FigureEntry("fits.png", "Fits on the sine data", plots.plot_fits, _sentences_fits),
    FigureEntry("decay_trajectory.png", "Decay over training", plots.plot_decay_trajectory, _sentences_decay),
    FigureEntry("convention_shift.png", "Conventions: the meaning of λ", plots.plot_convention_shift,
                _sentences_conventions),
    FigureEntry("convergence.png", "Convergence per unit of work", plots.plot_convergence, _sentences_convergence),
    FigureEntry("swarm_variants.png", "Swarm variants and CMA-ES against the optimum", plots.plot_swarm_variants,
                _sentences_variants),
    FigureEntry("swarm_behaviour.png", "The swarm under the penalty", plots.plot_swarm_behaviour,
                _sentences_behaviour),
    FigureEntry("adaptive_decay.png", "Adam, AdamW and the meaning of λ", plots.plot_adaptive_decay,
                _sentences_adaptive),
)


# ------------------------------------------------------------------ the specs
def _builtin_raw() -> list[tuple[str, dict]]:
    """(file name, TOML-shaped dict) of every built-in sweep (package data under swarmreg/specs)."""
    folder = resources.files("swarmreg") / "specs"
    return [(name, tomllib.loads((folder / name).read_text("utf-8"))) for name in SPEC_FILES]


def default_specs() -> list[Spec]:
    """The report's built-in sweeps (package data under swarmreg/specs), every trainer included
    (a trainer whose optional extra is missing raises the ValueError that says which)."""
    return [parse_spec(raw, source=name) for name, raw in _builtin_raw()]


def quick_spec(spec: Spec) -> Spec:
    """A smaller version of a spec for a report in under a minute: two data sets,
    two seeds, every third λ (and the largest), a tenth of the epochs,
    iterations and evaluations, at most 20 particles."""
    trainers = []
    for t in spec.trainers:
        raw = t.to_toml()
        for key, floor in (("epochs", 5), ("iterations", 20), ("max_iter", 50), ("evaluations", 200)):
            if key in raw:
                raw[key] = max(floor, raw[key] // 10)
        if "particles" in raw:
            raw["particles"] = min(raw["particles"], 20)
        trainers.append(raw)
    lams = list(spec.lambdas)
    return spec.replace(name=spec.name + "-quick", datasets=list(spec.datasets[:2]), seeds=list(spec.seeds[:2]),
                        lambdas=sorted(set(lams[::3] + [lams[-1]])), trainers=trainers)


# ------------------------------------------------------------------ writing
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


@contextlib.contextmanager
def _holding(folder: Path):
    """An exclusive lock on the output folder itself (no lock file is left behind)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ValueError(f"out {folder}: another report is writing to this folder") from None
        yield
    finally:
        os.close(fd)


def make_report(results=None, out="figures", quick: bool = False, jobs: int | None = None,
                work=None, progress: bool = True, executor=None, on_change: str = "refuse") -> Path:
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
        Worker processes for the built-in sweeps (default: all cores), when no ``executor`` is given.
    work : path, optional
        Where the built-in sweeps keep their results (default: runs/report or runs/report-quick).
    executor : Executor, optional
        Where the built-in sweeps run (see :func:`swarmreg.sweep.open_executor`).
    on_change : {"refuse", "add", "restart"}
        For a work folder that holds records of other specs (see :func:`swarmreg.sweep.run_sweep`).

    Returns
    -------
    Path of REPORT.md.
    """
    started = time.perf_counter()
    resumed = None  # runs found done in the work folders (None: the records were given)
    notes = []
    out = check_out(out)
    if work is not None:
        check_out(work)
    if jobs is not None:
        check_jobs(jobs)
    if results is not None:
        records = _collect(results)
        sources = [str(results)]
    else:
        specs, suffixes, notes = _installed()
        if quick:
            specs = [quick_spec(s) for s in specs]
        folders = [s.name + suffix for s, suffix in zip(specs, suffixes)]
        work = Path(work) if work is not None else Path("runs") / ("report-quick" if quick else "report")
        records, resumed = [], 0
        with (open_executor(jobs) if executor is None else contextlib.nullcontext(executor)) as ex:
            for spec, folder in zip(specs, folders):
                counts = execute_sweep(spec, work / folder, executor=ex, progress=progress, on_change=on_change)
                resumed += counts.done_before
                records += _spec_records(spec, counts.folder)
        sources = [str(work / f) for f in folders]
    out.mkdir(parents=True, exist_ok=True)
    with _holding(out):
        remove_stale_temporaries(out, [f.file for f in FIGURES] + [REPORT_FILE])
        drawn = R.cross_validated(records)
        for entry in FIGURES:
            save_figure(entry.draw(drawn), out / entry.file)
        path = out / REPORT_FILE
        text = write_report_md(records, sources, seconds=time.perf_counter() - started, resumed=resumed,
                               notes=notes)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


#: Trainer kinds that need an optional extra, and the package that extra installs.
EXTRAS = {"cmaes": ("cma", "cma")}


def _installed():
    """The built-in specs without the trainers whose optional extra is not installed, each with
    the suffix of its work folder's name ("" or "-without-EXTRA": a trimmed spec gets a folder of
    its own, so that its records never meet those of the whole spec), and a sentence per trimmed
    spec."""
    import importlib.util

    missing = {kind: extra for kind, (package, extra) in EXTRAS.items() if importlib.util.find_spec(package) is None}
    specs, suffixes, notes = [], [], []
    for name, raw in _builtin_raw():
        trainers = raw.get("trainers", [])
        dropped = [t for t in trainers if t.get("kind") in missing]
        suffix = ""
        if dropped:
            extras = sorted({missing[t["kind"]] for t in dropped})
            raw = {**raw, "trainers": [t for t in trainers if t not in dropped]}
            suffix = f"-without-{'-'.join(extras)}"
            note = (f"{', '.join(t.get('name', t['kind']) for t in dropped)} left out of {raw.get('name', name)}: "
                    f"the optional extra {', '.join(extras)} is not installed "
                    f"(pip install 'swarmreg[{','.join(extras)}]').")
            warnings.warn(note, stacklevel=2)
            notes.append(note)
        specs.append(parse_spec(raw, source=name))
        suffixes.append(suffix)
    return specs, suffixes, notes


def _spec_records(spec: Spec, folder: Path) -> list[dict]:
    """The records of a spec's runs in its results folder, in the spec's run order."""
    by_id = {r["id"]: r for r in load_results(folder)[0]}
    return [by_id[run["id"]] for run in expand_runs(spec)]


def _data_text(records) -> str:
    """The split sizes of each data set the L2 figures draw, and what the losses are measured in."""
    from .data import load_dataset

    bits, folded = [], False
    for ds in R.datasets(R.main_records(records)):
        r = next(r for r in R.main_records(records) if r["dataset"] == ds)
        config = r["config"]
        try:
            d = load_dataset(ds, seed=r["seed"], test_fraction=config["test_fraction"],
                             validation_fraction=config["validation_fraction"])
        except (ValueError, KeyError):  # a data set this installation cannot rebuild
            continue
        if r.get("cv"):  # the folds split training and validation rows together
            n, k, folded = d.n_train + d.n_val, r["cv"], True
            bits.append(f"{md(ds)} {n}/{d.n_test} ({r['task']}; {k} folds of the {n} for validation, "
                        f"{n // k}–{-(-n // k)} rows each)" if n % k else
                        f"{md(ds)} {n}/{d.n_test} ({r['task']}; {k} folds of {n // k} rows for validation)")
            continue
        bits.append(f"{md(ds)} {d.n_train}/{d.n_val}/{d.n_test} ({r['task']})")
    text = ("Losses are the data loss D: mean cross-entropy in nats for classification, mean squared error of the "
            "standardized target for regression (features and regression targets are standardized with the "
            "training part's mean and standard deviation" + ("; a fold's runs with those of the rows they train on"
                                                             if folded else "") +
            "); RMSE is in the target's own units.")
    if bits:
        head = ("Training/validation/test rows (with cv: training/test rows, validation by the folds): "
                if folded else "Training/validation/test rows: ")
        text = head + "; ".join(bits) + ". " + text
    return text


def _comparison_text(records, best_rows) -> list[str]:
    """The paired-comparison table and what it can and cannot show."""
    family = R.comparisons(records, best_rows)
    if not family:
        return ["No two trainers share two or more seeds on a data set: nothing to compare."]
    k = len(family)
    most = max(c.n for c in family)
    first_step = S.ALPHA / k
    need = math.ceil(math.log2(2 * k / S.ALPHA))  # seeds for the exact floor 2/2^n to pass Holm's first step
    if most < need:
        power = (f"these records have at most {most}: no difference here could have been detected, and none is "
                 "claimed.")
    elif 4.0 / 2.0 ** most > first_step:  # the next-smallest exact p, 4/2^n, would not pass
        power = (f"these records have {seeds_text(family)}, so only a difference of one sign on every seed can "
                 "pass.")
    else:
        power = f"these records have {seeds_text(family)}."
    passed = [c for c in family if c.significant]
    named = [c for c in passed if c.lower is not None]
    text = [
        f"Test loss paired by seed (the same data split), each trainer at its own validation-chosen λ; difference = "
        f"first − second (below 0: the first is lower), its median with a 95 % bootstrap interval. Wilcoxon's "
        f"signed-rank test, two-sided: exact over all 2^m sign patterns of the m non-zero differences up to "
        f"{S.EXACT_LIMIT} pairs (the normal approximation beyond); Holm's correction over the family of these "
        f"{k} comparisons keeps the chance of any false claim at most {S.ALPHA:g}. With m pairs no exact p can be "
        f"below 2/2^m ({num(S.p_floor(most))} for {most} pairs), and the smallest of {k} p-values must be at most "
        f"{num(first_step)} to pass Holm's first step, so a difference can only be detected with at least {need} "
        f"seeds; " + power,
        "",
        table(["data set", "first", "second", "λ first / second", "pairs", "median first / second",
                "median difference [95 % CI]", "W+", "p", "p floor", "p (Holm)", "lower"],
               [[md(c.dataset), md(c.a), md(c.b), f"{num(c.lam_a)} / {num(c.lam_b)}", c.n,
                 f"{num(c.median_a)} / {num(c.median_b)}", f"{num(c.difference)} [{num(c.low)}, {num(c.high)}]",
                 num(c.statistic), num(c.p), num(c.floor), num(c.adjusted),
                 md(c.lower) if c.lower is not None else "–"] for c in family]),
        "",
    ]
    if passed:
        text.append(f"{len(passed)} of the {k} differences pass (Holm-adjusted p <= {S.ALPHA:g})"
                    + (": " + "; ".join(f"{md(c.lower)} below {md(c.b if c.lower == c.a else c.a)} on "
                                        f"{md(c.dataset)}" for c in named) if named else "")
                    + (f"; in {len(passed) - len(named)} the paired and the unpaired medians disagree in sign, so "
                       "no side is named" if len(named) < len(passed) else "") + ".")
    else:
        text.append(f"None of the {k} differences passes Holm's correction at p <= {S.ALPHA:g}: on these seeds the "
                    "trainers' test losses at their chosen λ cannot be told apart.")
    return text


def write_report_md(records, sources=(), seconds: float | None = None, resumed: int | None = None,
                    notes=()) -> str:
    """The text of REPORT.md: every figure with sentences computed from the records, and the tables.

    ``seconds`` is the report's wall time; ``resumed`` how many of the runs were found done
    (then the time covers only the rest and the drawing, and the text says so); ``notes``
    are sentences about what the report left out."""
    n_folds, n_all = R.fold_runs(records), len(records)
    records = R.cross_validated(records)
    cv = sorted({r["cv"] for r in records if r.get("cv")})
    best_rows = R.best_lambda_rows(records)
    n_div = sum(r["status"] == "diverged" for r in records)
    versions = {}
    for r in records:
        versions.setdefault(r["sweep"], set()).add(r["spec_hash"])
    mixed = {name: len(h) for name, h in versions.items() if len(h) > 1}
    timing = ""
    if seconds is not None:
        timing = f" The report took {seconds:.0f} s"
        timing += (f" ({resumed} of the runs were done before it started and not timed)." if resumed
                   else " (drawing only: the records were given)." if resumed is None else ".")
    lines = [
        "# swarmreg report",
        "",
        f"{n_all} runs from {', '.join(f'`{md(s)}`' for s in sources) or 'the given records'} "
        f"({n_div} diverged and left out of the curves). Curves are medians over seeds with the interquartile "
        "range as a band; the best λ is chosen on validation error, never on test error"
        + (f" — by {' or '.join(map(str, cv))}-fold cross-validation on the training part where the sweep has "
           f"cv ({n_folds} of the runs are folds: each λ's validation error is the mean over its folds, and "
           "every number drawn is that of the run on the whole training part)" if cv else "") + ". "
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.{timing}",
        "",
    ]
    lines += [_data_text(records), ""]
    if notes:
        lines += [" ".join(md(n) for n in notes), ""]
    top = findings(records, best_rows, {entry.file: i for i, entry in enumerate(FIGURES, 1)})
    if top:
        lines += ["## Findings", "", *[f"- {f}" for f in top], ""]
    if mixed:
        lines += ["Records of different versions of one sweep's spec are drawn together: " +
                  "; ".join(f"{md(name)} holds {n}" for name, n in mixed.items()) + ".", ""]
    for i, entry in enumerate(FIGURES, 1):
        sentences = entry.sentences(records, best_rows)
        lines += [f"## {i}. {entry.title}", "", f"![{entry.title}]({entry.file})", ""]
        lines += [" ".join(sentences) if sentences else "No records for this figure.", ""]
    lines += ["## Best λ per trainer and data set", "",
              "Best λ by median validation loss; test numbers over the seeds at that λ as median [Q1, Q3]; "
              "the trivial predictor's test loss (every weight 0, output bias fitted on the training part: "
              "class prior or mean) on the same splits; the objective gap is E − E(L-BFGS) on the same seed; "
              "cost per run.", ""]
    lines.append(table(
        ["data set", "trainer", "best λ", "test loss", "trivial test loss", "test accuracy / RMSE (target's units)",
         "objective gap", "seconds", "samples (forward + backward)", "runs", "diverged"],
        [[md(b["dataset"]), md(b["trainer"]), num(b["lam"]), med_iqr(b["test_loss"]),
          num(R.median(b["trivial_test_loss"])), med_iqr(b["score"]),
          med_iqr(b["gap"]) if any(g is not None for g in b["gap"]) else "–", med_iqr(b["seconds"]),
          num(median_work(b), 3), b["n"], b["diverged"]] for b in best_rows]))
    lines += ["", "## Paired comparisons at the chosen λ", "", *_comparison_text(records, best_rows)]
    lines.append("")
    return "\n".join(lines)