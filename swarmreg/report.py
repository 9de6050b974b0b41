"""The report: run the built-in sweeps (or read records) and write the figures and REPORT.md.

A figure is one entry of :data:`FIGURES`: its file, its title, the function
of :mod:`swarmreg.plots` that draws it, and the function that states in words
what its records show.  Every number in REPORT.md is computed from the
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
import re
import time
import tomllib
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np

from . import checks, plots
from . import records as R
from . import stats as S
from .files import atomic_write, remove_stale_temporaries
from .sweep import (RESULTS_FILE, Spec, check_out, execute_sweep, expand_runs, load_results, open_executor,
                    parse_spec)
from .sweep.executors import check_jobs

__all__ = ["make_report", "default_specs", "quick_spec", "FIGURES", "FigureEntry", "write_report_md", "md"]

SPEC_FILES = ("report-l2.toml", "report-l1.toml", "report-conventions.toml", "report-swarm.toml",
              "report-adaptive.toml")
REPORT_FILE = "REPORT.md"


# ------------------------------------------------------------------ text
#: Translated λ "line up" when the configurations' crossing points spread over at most this factor.
CONVENTION_LINE_UP = 1.5


def md(name) -> str:
    """A name as literal markdown text, wherever it stands (mid-sentence, at the start of a
    paragraph, in a table cell): what would format, link, render math, break a table or
    start a block (a heading, a list, a quote, a code block) is escaped; HTML is shown as
    text; control characters become spaces."""
    s = checks.printable(name)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = re.sub(r"([\\`*\[\]|~$])", r"\\\1", s)
    # an underscore between two letters or digits never formats; elsewhere it may
    s = re.sub(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])", r"\\_", s)
    # at the start of a line: "# x", "- x", "+ x", "= x", "1. x", "1) x"
    s = re.sub(r"^([#+\-=!])", r"\\\1", s)
    s = re.sub(r"^(\d+)([.)])", r"\1\\\2", s)
    # spaces at either end would indent a code block or break a line: shown as entities
    lead, trail = len(s) - len(s.lstrip(" ")), len(s) - len(s.rstrip(" "))
    if lead == len(s):
        return "&#32;" * len(s)
    return "&#32;" * lead + s[lead:len(s) - trail] + "&#32;" * trail


def _g(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}"


def _med_iqr(values) -> str:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "–"
    q = R.quartiles(v)
    return f"{_g(q[0])} [{_g(q[1])}, {_g(q[2])}]"


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------ sentences
def _sentences_error(records, best_rows) -> list[str]:
    out = []
    for ds in dict.fromkeys(row["dataset"] for row in best_rows):
        rows = [row for row in best_rows if row["dataset"] == ds]
        grid = sorted({r["lam"] for r in rows_records(records, ds)})
        parts = [f"{md(row['trainer'])} at λ = {_g(row['lam'])}"
                 + f" (test loss {_g(R.median(row['test_loss']))}"
                 + (f"; the grid's {'smallest' if row['lam'] == grid[0] else 'largest'} λ"
                    if len(grid) > 1 and row["lam"] in (grid[0], grid[-1]) else "") + ")" for row in rows]
        best = min(rows, key=_median_test_loss)
        out.append(f"On {md(ds)}, validation error is lowest for " + "; ".join(parts) +
                   f". The lowest median test loss at the chosen λ is {md(best['trainer'])}'s.")
        trivial = R.median([r.get("trivial_test_loss") for r in rows_records(records, ds)])
        scored = [row for row in rows if R.median(row["test_loss"]) is not None]
        if trivial is not None and scored:
            worse = [md(row["trainer"]) for row in scored if R.median(row["test_loss"]) >= trivial]
            out.append(f"The trivial predictor (every weight 0, the output bias fitted: class prior or mean) has "
                       f"test loss {_g(trivial)} there; " +
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
                return (f"{_g(R.median([r['train_loss'] for r in at]))}/"
                        f"{_g(R.median([r['val_loss'] for r in at]))}")
            bits.append(f"{md(row['trainer'])} {tv(smallest)} at λ = {_g(smallest)}, {tv(row['lam'])} at its chosen "
                        f"λ = {_g(row['lam'])}")
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
                change = f"×{_g(first / last)} smaller" if last <= first else f"×{_g(last / first)} larger"
                stopped = [lam for lam in (float(xs[0]), float(xs[-1]))
                           if lam in R.failing_lambdas(drecs, gaps, reference, name, ds)]
                bits.append(f"{md(name)} {_g(first)} → {_g(last)} ({change}"
                            + (f"; it fails to minimize E at λ = {' and '.join(_g(x) for x in stopped)}, so this is "
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
            bits.append(f"{md(name)} median gap {_g(R.median(g))} (largest {_g(worst['gap'])} at "
                        f"λ = {_g(worst['lam'])}), below the reference in {sum(x < 0 for x in g)} of {len(g)} runs")
        out.append(f"On {md(ds)}: " + "; ".join(bits) + ".")
    out += _failures(R.main_records(records), gaps)
    out += _reference_text(R.main_records(records))
    on_edge = R.box_edge_fractions(gaps)
    if on_edge:
        middle = float(np.median(on_edge))
        out.append(f"The swarms search inside their bounds while the reference is unbounded: at λ = 0 a median "
                   f"{_g(100 * middle)}% (at most {_g(100 * max(on_edge))}%) of a swarm's parameters sit on the "
                   "edge of the box" + (", so part of their gap at small λ is the box itself." if middle > 0
                                        else "; the box does not limit them there."))
    return out


def _reference_summary(recs):
    """(runs, runs at the iteration limit with where, problems, problems beaten, by whom, worst) of the reference."""
    rows = R.reference_failures(recs)
    runs = sum(row["runs"] for row in rows)
    at_limit = sum(sum(row["limit"].values()) for row in rows)
    where = [f"{md(row['dataset'])}: " + ", ".join(f"{n} at λ = {_g(lam)}" for lam, n in row["limit"].items())
             for row in rows if row["limit"]]
    problems = sum(row["problems"] for row in rows)
    beaten = sum(row["beaten_problems"] for row in rows)
    by = {}
    for row in rows:
        for name, n in row["beaten"].items():
            by[name] = by.get(name, 0) + n
    worst = min((row["worst"] for row in rows if row["worst"] is not None), key=lambda g: g["gap"], default=None)
    return runs, at_limit, where, problems, beaten, by, worst


def _reference_text(recs) -> list[str]:
    """What the reference itself does not achieve: the iteration limit, and problems another trainer beat it on."""
    runs, at_limit, where, problems, beaten, by, worst = _reference_summary(recs)
    if not runs:
        return []
    text = (f"The reference is L-BFGS from one start; it stopped at its iteration limit in {at_limit} of its {runs} "
            "runs" + (f" ({'; '.join(where)})" if where else ""))
    if problems:
        text += (f", and another trainer reached a lower E (by more than {R.BEATEN:g} relative) on {beaten} of the "
                 f"{problems} problems (λ, seed) both ran")
    if beaten:
        text += (" (" + ", ".join(f"{md(name)} on {n}" for name, n in by.items()) + f"; by at most "
                 f"{_g(-worst['gap'])} in E, {md(worst['trainer'])} on {md(worst['dataset'])} at λ = "
                 f"{_g(worst['lam'])}): there the reference is not the optimum it stands for, and gaps below 0 are "
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
                bits.append(f"{md(name)} on {md(ds)} at λ = {', '.join(_g(x) for x in bad)}")
    if not bits:
        return ["Every trainer ends within max(5 %, 0.01) of the reference's E at every λ (median over seeds): "
                "each minimizes the penalized error it is given, so the curves above compare optima."]
    return ["Failing to minimize E (median gap above max(5 %, 0.01) of the reference's E, so the weight norms "
            "and errors there show where the trainer stopped, not what λ does): " + "; ".join(bits) + "."]


def _where(file: str) -> str:
    """A figure's file and its section number in REPORT.md, for a finding to point at."""
    number = next(i for i, entry in enumerate(FIGURES, 1) if entry.file == file)
    return f"§{number}, `{file}`"


def _work(rows) -> float | None:
    """Median samples through the network (forward + backward passes) of a best-λ row's runs."""
    return R.median([f + b for f, b in zip(rows["forward"], rows["backward"])])


def _median_test_loss(row) -> float:
    """A best-λ row's median test loss, +inf without one (it sorts last)."""
    m = R.median(row["test_loss"])
    return math.inf if m is None else m


def _plural(n: int, one: str, many: str) -> str:
    """``n`` with the word that agrees with it: "1 pair", "4 pairs"."""
    return f"{n} {one if n == 1 else many}"


def _span(values, digits: int = 3, unit: str = "") -> str:
    """"a–b" of the smallest and largest value, or "a" when they print the same."""
    low, high = _g(min(values), digits), _g(max(values), digits)
    return f"{low}{unit}" if low == high else f"{low}{unit}–{high}{unit}"


def _seeds_text(family) -> str:
    ns = sorted({c.n for c in family})
    return f"{ns[0]} seeds" if len(ns) == 1 else f"{ns[0]} to {ns[-1]} seeds"


def _finding_winners(best_rows, family) -> str:
    """Per data set: the lowest median test loss at the chosen λ, the runner-up, and how sure that is."""
    bits = []
    for ds in dict.fromkeys(row["dataset"] for row in best_rows):
        rows = sorted((row for row in best_rows if row["dataset"] == ds), key=_median_test_loss)
        if not math.isfinite(_median_test_loss(rows[0])):
            continue
        bits.append(f"{md(ds)} {md(rows[0]['trainer'])} {_g(R.median(rows[0]['test_loss']))}"
                    + (f" (next {md(rows[1]['trainer'])} {_g(R.median(rows[1]['test_loss']))})"
                       if len(rows) > 1 and math.isfinite(_median_test_loss(rows[1])) else ""))
    if family:
        passed = [c for c in family if c.significant]
        named = [c for c in passed if c.lower is not None]
        sure = (f"{len(passed)} of the {len(family)} paired differences pass Holm's correction at p <= "
                f"{S.ALPHA:g} over {_seeds_text(family)}")
        if named:
            sure += (" (" + "; ".join(f"{md(c.lower)} below {md(c.b if c.lower == c.a else c.a)} on {md(c.dataset)}"
                                      for c in named) + ")")
        if len(named) < len(passed):
            sure += f"; in {len(passed) - len(named)} the paired and unpaired medians disagree, so no side is named"
        if not passed:
            sure += ", so on these seeds no trainer is shown to generalize better than another"
    else:
        sure = "No two trainers share two seeds to compare"
    return ("Lowest median test loss at each trainer's validation-chosen λ: " + ("; ".join(bits) or "none") +
            f". {sure} (table \"Paired comparisons\", {_where('lambda_error.png')}).")


def _finding_cost(best_rows) -> str | None:
    """The work and seconds of each trainer per run at its chosen λ, as a range over data sets."""
    names = list(dict.fromkeys(row["trainer"] for row in best_rows))
    bits = []
    for name in names:
        rows = [row for row in best_rows if row["trainer"] == name]
        work = [w for w in (_work(row) for row in rows) if w is not None]
        secs = [x for x in (R.median(row["seconds"]) for row in rows) if x is not None]
        if work and secs:
            bits.append(f"{md(name)} {_span(work, 2)} samples through the network and {_span(secs, 2, ' s')}")
    if not bits:
        return None
    return ("Cost of one run at the chosen λ, over the data sets (forward + backward passes of single samples; wall "
            "seconds on this machine): " + "; ".join(bits) + f" ({_where('convergence.png')}, table \"Best λ\").")


def _finding_failures(records, best_rows) -> str | None:
    if not best_rows:
        return None
    recs = R.main_records(records)
    gaps = R.objective_gaps(recs)
    reference = R.reference_medians(recs)
    failing, trivial = [], []
    for row in best_rows:
        if row["kind"] != R.REFERENCE_KIND and row["lam"] in R.failing_lambdas(recs, gaps, reference,
                                                                               row["trainer"], row["dataset"]):
            failing.append(f"{md(row['trainer'])} on {md(row['dataset'])}")
        t, m = R.median(row["trivial_test_loss"]), R.median(row["test_loss"])
        if t is not None and m is not None and m >= t:
            trivial.append(f"{md(row['trainer'])} on {md(row['dataset'])}")
    if not gaps:
        text = "Whether the trainers minimize E is not judged: these records have no L-BFGS reference on their problems"
    else:
        text = (f"{_plural(len(failing), '(trainer, data set) pair fails', '(trainer, data set) pairs fail')} to "
                f"minimize E at the λ they chose (median E above the reference's by more than max("
                f"{100 * R.GAP_SHARE:g} %, {R.GAP_FLOOR:g}) of it)"
                + (f": {', '.join(failing)} — their errors there are those of where they stopped, not of the optimum"
                   if failing else ""))
    text += (f"; {len(trivial)} do no better than the trivial predictor: {', '.join(trivial)}" if trivial else
             "; every trainer beats the trivial predictor at its chosen λ")
    runs, at_limit, _, problems, beaten, _, _ = _reference_summary(recs)
    if runs and problems:
        text += (f". The reference itself stops at its iteration limit in {at_limit} of {runs} runs and is beaten "
                 f"by another trainer on {beaten} of {problems} problems")
    return text + f" ({_where('lambda_objective_gap.png')})."


def _finding_lambdas(records, best_rows) -> str | None:
    """How far apart the trainers' chosen λ are, which trainers no penalty helped, and which choices sit on the
    grid's largest λ (the best may lie beyond it)."""
    recs = R.main_records(records)
    agree, factors, mixed, none_helped, edge = 0, [], [], [], []
    compared = 0
    for ds in dict.fromkeys(row["dataset"] for row in best_rows):
        rows = [row for row in best_rows if row["dataset"] == ds]
        grid = sorted({r["lam"] for r in recs if r["dataset"] == ds})
        lams = [row["lam"] for row in rows]
        if len(rows) >= 2:
            compared += 1
            positive = [x for x in lams if x > 0]
            if len(set(lams)) == 1:
                agree += 1
            elif len(positive) == len(lams):
                factors.append(max(positive) / min(positive))
            else:
                mixed.append(md(ds))
        none_helped += [f"{md(row['trainer'])} on {md(ds)}" for row in rows if row["lam"] == 0]
        edge += [f"{md(row['trainer'])} on {md(ds)} (λ = {_g(row['lam'])})" for row in rows
                 if len(grid) > 1 and row["lam"] == grid[-1] and row["lam"] > 0]
    if not compared:
        return None
    text = f"The trainers' validation-chosen λ agree on {agree} of {_plural(compared, 'data set', 'data sets')}"
    if factors:
        text += f"; where they differ, by a factor {_span(factors)}"
    if mixed:
        text += f"; on {', '.join(mixed)} one trainer chooses λ = 0 and another λ > 0"
    if none_helped:
        text += f". No penalty helped on validation for {', '.join(none_helped)} (λ = 0 chosen)"
    text += (f". At the grid's largest λ, so the best may lie beyond it: {', '.join(edge)}" if edge else
             ". No choice sits at the grid's largest λ")
    return text + " (table \"Best λ\")."


def _finding_conventions(records) -> str | None:
    dataset, recs = R.convention_records(records)
    level, found = R.convention_crossings(recs)
    if level is None:
        return None
    names = R.trainer_names(recs)
    raw = [found[n, "lam"] for n in names if found.get((n, "lam")) and found.get((n, "canonical_lam"))]
    canonical = [found[n, "canonical_lam"] for n in names if found.get((n, "lam")) and found.get((n, "canonical_lam"))]
    if len(raw) < 2 or not (math.isfinite(max(raw) / min(raw)) and math.isfinite(max(canonical) / min(canonical))):
        return None
    f_raw, f_canonical = max(raw) / min(raw), max(canonical) / min(canonical)
    text = (f"On {md(dataset)}, {len(raw)} configurations reach the same test loss at raw λ spread over a factor "
            f"{_g(f_raw)}, and at canonical λ over a factor {_g(f_canonical)}: ")
    text += ("the same raw λ means different things in these codes" if f_raw > CONVENTION_LINE_UP else
             "the raw λ already means about the same in these codes")
    text += (f"; translated, they line up within a factor {_g(CONVENTION_LINE_UP)}"
             if f_canonical <= CONVENTION_LINE_UP else
             f"; even translated, they do not line up within a factor {_g(CONVENTION_LINE_UP)}")
    return text + f" ({_where('convention_shift.png')})."


def _chosen_runs(drecs, ds: str):
    """(trainer, its validation-chosen λ, its finished records there) for every trainer of one data set's records."""
    for name in R.trainer_names(drecs):
        lam = R.best_lambda(drecs, name, ds)
        at = [r for r in drecs if r["trainer"] == name and r["lam"] == lam]
        if lam is not None and at:
            yield name, lam, at


def _l1_text(records) -> list[str]:
    """Per L1 data set: every trainer's validation-chosen λ, its exact and near zeros, and its test loss there."""
    recs = [r for r in R.main_records(records, "l1") if R.finished(r)]
    out = []
    for ds in R.datasets(recs):
        drecs = [r for r in recs if r["dataset"] == ds]
        bits = []
        for name, lam, at in _chosen_runs(drecs, ds):
            bits.append(f"{md(name)} λ = {_g(lam)}, {_g(100 * R.median([r['zero_fraction'] for r in at]))}% of "
                        f"weights exactly 0 ({_g(100 * R.median([r['near_zero_fraction'] for r in at]))}% below "
                        f"1e-3), test loss {_g(R.median([r['test_loss'] for r in at]))}")
        if bits:
            out.append(f"Under L1 at the validation-chosen λ on {md(ds)}: " + "; ".join(bits) + ".")
    return out


def _behaviour_counts(records):
    """(smaller, convergent, total) over the (swarm, data set) pairs of the L2 records: the effective network
    smaller, the final diversity lower, at the largest λ than at the smallest (medians)."""
    recs = [r for r in R.main_records(records) if R.finished(r)]
    smaller = convergent = total = 0
    for ds in R.datasets(recs):
        mine = [r for r in recs if r["dataset"] == ds]
        for name in R.trainer_names([r for r in mine if r["kind"] == "swarm"]):
            t = _trend(mine, name, ("effective_weights", "final_diversity"))
            if t is not None:
                total += 1
                smaller += t["effective_weights"][1] < t["effective_weights"][0]
                convergent += t["final_diversity"][1] < t["final_diversity"][0]
    return smaller, convergent, total


def _finding_2014(records) -> str | None:
    smaller, convergent, total = _behaviour_counts(records)
    if not total:
        return None
    return (f"Rakitianskaia & Engelbrecht (2014) found that the penalty gives swarms smaller effective networks and "
            f"more convergent swarms; over {_plural(total, '(swarm, data set) pair', '(swarm, data set) pairs')} "
            f"from the smallest to the largest λ, {_verdict(smaller, convergent, total)[:-1]} "
            f"({_where('swarm_behaviour.png')}).")


def _finding_adaptive(records, best_rows) -> str | None:
    adaptive = [x for x in _sentences_adaptive(records, best_rows) if x.startswith("The coupled forms")]
    if not adaptive:
        return None
    rows = R.effective_lambda_rows([r for r in R.adaptive_records(records) if R.finished(r)])
    off = not any(x["on_diagonal"] for x in rows if x["decay"] == "decoupled" and x["optimizer"] == "adam")
    return (adaptive[0].rstrip(".") + ("; so AdamW's λ is not the L2 strength of the same number" if off else "")
            + f" ({_where('adaptive_decay.png')}).")


def findings(records, best_rows) -> list[str]:
    """The report's first conclusions, each computed from the records, with its numbers and where it is drawn:
    the lowest test error and how sure it is, the cost, who fails to minimize E (the reference included),
    how the chosen λ differ, what the conventions do, L1 at the chosen λ, the 2014 swarm findings and Adam
    against AdamW."""
    family = R.comparisons(records, best_rows)
    out = [_finding_winners(best_rows, family)] if best_rows else []
    l1 = _l1_text(records)
    out += [f for f in (_finding_cost(best_rows), _finding_failures(records, best_rows),
                        _finding_lambdas(records, best_rows), _finding_conventions(records),
                        " ".join(l1)[:-1] + f" ({_where('l1_sparsity.png')})." if l1 else None,
                        _finding_2014(records), _finding_adaptive(records, best_rows)) if f]
    return out


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
            bits.append(f"{md(name)} {verdict} (median gap {_g(R.median([r['gap'] for r in mine]))}, largest "
                        f"{_g(worst['gap'])} at λ = {_g(worst['lam'])}; "
                        f"{_g(R.median([r['seconds'] for r in mine]))} s a run)")
        out.append(f"On {md(ds)}: " + "; ".join(bits) + ".")
    return out


def _trend(recs, name: str, keys) -> dict | None:
    """{key: (median at the smallest λ, median at the largest λ)} of a trainer, over the λ at which
    every key has a value, with "lam" the two λ; None with fewer than two such λ."""
    curves = {k: dict(zip(*R.summarize([r for r in recs if r["trainer"] == name], k)[:2])) for k in keys}
    shared = sorted(set.intersection(*(set(c) for c in curves.values())))
    if len(shared) < 2:
        return None
    lo, hi = shared[0], shared[-1]
    return {"lam": (float(lo), float(hi)), **{k: (float(c[lo]), float(c[hi])) for k, c in curves.items()}}


def _sentences_behaviour(records, best_rows) -> list[str]:
    recs = [r for r in R.main_records(records) if R.finished(r)]
    swarms = [r for r in recs if r["kind"] == "swarm"]
    if not swarms:
        return []
    out = []
    for ds in R.datasets(swarms):
        mine = [r for r in recs if r["dataset"] == ds]
        for name in R.trainer_names([r for r in swarms if r["dataset"] == ds]):
            t = _trend(mine, name, ("effective_weights", "final_diversity"))
            if t is None:
                continue
            eff, div, lam = t["effective_weights"], t["final_diversity"], t["lam"]
            sat = (_trend(mine, name, ("effective_weights", "final_diversity", "saturation")) or {}).get("saturation")
            out.append(f"{md(name)} on {md(ds)} from λ = {_g(lam[0])} to {_g(lam[1])}: effective weights "
                       f"{_g(eff[0])} → {_g(eff[1])}, final diversity {_g(div[0])} → {_g(div[1])}" +
                       (f", saturated activations {_g(100 * sat[0])}% → {_g(100 * sat[1])}%." if sat else "."))
    smaller, convergent, total = _behaviour_counts(records)
    if total:
        out.append(f"Rakitianskaia & Engelbrecht (2014) found that the penalty gives swarms smaller effective "
                   f"networks and more convergent swarms. Here the effective network is smaller at the largest "
                   f"λ than at the smallest in {smaller} of {total} (swarm, data set) pairs and the final diversity "
                   f"lower in {convergent} of {total}: " +
                   _verdict(smaller, convergent, total))
    return out


def _verdict(smaller: int, convergent: int, total: int) -> str:
    """Whether the two 2014 findings hold in every, some or none of ``total`` cases (two medians each, no test)."""
    def holds(n: int, what: str) -> str:
        return (f"{what} are seen in every pair" if n == total else f"{what} are seen in none"
                if n == 0 else f"{what} are seen in {n} of {total} pairs only")
    return (f"{holds(smaller, 'the smaller networks')}; {holds(convergent, 'the more convergent swarms')} — "
            "two medians per pair compared, not a test.")


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
                bits.append(f"{md(name)} {_g(100 * (R.median([r['zero_fraction'] for r in at]) or 0))}% exactly zero "
                            f"({_g(100 * (R.median([r['near_zero_fraction'] for r in at]) or 0))}% below 1e-3)")
        trivial_at_top = []
        for name in R.trainer_names(drecs):
            at = [r for r in drecs if r["trainer"] == name and r["lam"] == top]
            test, trivial = R.median([r["test_loss"] for r in at]), R.median([r.get("trivial_test_loss") for r in at])
            if test is not None and trivial is not None and test >= trivial * (1 - 1e-3):
                trivial_at_top.append(md(name))
        out.append(f"On {md(ds)} at the largest L1 λ = {_g(top)}: " + "; ".join(bits) + "." +
                   (f" There {', '.join(trivial_at_top)} predict{'s' if len(trivial_at_top) == 1 else ''} no better "
                    "than the trivial predictor (median test loss within 0.1 % of its): zeros or not, that network is "
                    "empty in effect, not sparse." if trivial_at_top else ""))
    return out + _l1_text(records)


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
            + " → ".join(_g(v) for v in values) + " over these λ")
    if len(values) == 3 and values[0] > 0 and values[1] > 0:
        ratio = values[0] / values[1]
        text += (f": at the chosen λ ×{_g(ratio)} smoother than at the smallest" if ratio > 1.1 else
                 f": at the chosen λ ×{_g(1 / ratio)} rougher than at the smallest" if ratio < 1 / 1.1 else
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
            return f"{_g(R.median([r['train_loss'] for r in rs]))}/{_g(R.median([r['test_loss'] for r in rs]))}"

        out.append(f"{md(row['trainer'])}: train/test loss {tt(at[lams[0]])} at λ = {_g(lams[0])}, "
                   f"{tt(at[row['lam']])} at the best λ = {_g(row['lam'])}, {tt(at[lams[-1]])} at λ = {_g(lams[-1])}"
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
        out.append(f"{md(name)} on {md(ds)} at λ = {_g(top)}: median Σw² {_g(start)} at the start, "
                   f"{_g(end)} at the end.")
    return out


def _sentences_conventions(records, best_rows) -> list[str]:
    dataset, recs = R.convention_records(records)  # what the figure draws
    level, found = R.convention_crossings(recs)
    if level is None:
        return []
    names = R.trainer_names(recs)
    out = [f"On {md(dataset)}, where the median test loss first reaches {_g(level)} (halfway up from the best) — "
           "on the raw knob: " + "; ".join(f"{md(n)} {_g(found.get((n, 'lam')))}" for n in names) +
           "; on the canonical λ: " + "; ".join(f"{md(n)} {_g(found.get((n, 'canonical_lam')))}" for n in names) + "."]
    for x, label in (("lam", "raw knob"), ("canonical_lam", "canonical λ")):
        v = [found[n, x] for n in names if found.get((n, x))]
        if len(v) >= 2 and math.isfinite(max(v) / min(v)):
            out.append(f"Across the {len(v)} configurations these points spread over a factor "
                       f"{_g(max(v) / min(v))} on the {label}.")
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
        out.append(f"{md(name)} on {md(ds)} at λ = {_g(lam)}: median final E {_g(R.median([r['value'] for r in rs]))} "
                   f"after {_g(R.median([r['forward_samples'] + r['backward_samples'] for r in rs]))} samples "
                   f"through the network (forward + backward) and {_g(R.median([r['seconds'] for r in rs]))} s.")
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
                bits.append(f"{md(row['trainer'])}'s effective λ is a median {_g(R.median(ratios))}× the nominal λ, "
                            f"within a factor {_g(R.ON_DIAGONAL_FACTOR)} of λ·(1 − μ) = {_g(1 - mu)}·λ at "
                            f"{near} of "
                            f"{len(ratios)} λ > 0 (median residual {_g(R.median(row['residual']))}); the fixed "
                            f"point of decoupled decay with momentum μ = {_g(mu)} is the optimum for λ·(1 − μ), "
                            "not λ")
                continue
            where = (f"within a factor {_g(row['worst_factor'], 4)} of the nominal λ at all {len(row['lams'])} λ > 0"
                     if row["on_diagonal"] else
                     f"{_g(min(ratios), 4)}× to {_g(max(ratios), 4)}× the nominal λ over {len(row['lams'])} λ > 0, "
                     f"not within the factor {_g(R.ON_DIAGONAL_FACTOR)} counted as the nominal λ at every λ")
            bits.append(f"{md(row['trainer'])}'s effective λ is {where} (median residual "
                        f"{_g(R.median(row['residual']))})")
        if bits:
            out.append(f"On {md(ds)}: " + "; ".join(bits) + ".")
        chosen = [f"{md(name)} λ = {_g(lam)} (test loss {_g(R.median([r['test_loss'] for r in at]))}, "
                  f"Σw² {_g(R.median([r['weight_sq_norm'] for r in at]))})"
                  for name, lam, at in _chosen_runs(drecs, ds)]
        if chosen:
            out.append("Validation error chooses " + "; ".join(chosen) + ".")
    rows = R.effective_lambda_rows(recs)
    coupled = [x for x in rows if x["decay"] == "coupled"]
    decoupled = [x for x in rows if x["decay"] == "decoupled" and x["optimizer"] == "adam"]
    if coupled and decoupled:
        out.append(f"The coupled forms (L2 in the gradient, SGD or Adam) are on the diagonal in "
                   f"{sum(x['on_diagonal'] for x in coupled)} of {len(coupled)} (trainer, data set) pairs; AdamW "
                   f"in {sum(x['on_diagonal'] for x in decoupled)} of {len(decoupled)} (within a "
                   f"factor {_g(R.ON_DIAGONAL_FACTOR)} of the nominal λ at every λ, median over seeds).")
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

    bits = []
    for ds in R.datasets(R.main_records(records)):
        r = next(r for r in R.main_records(records) if r["dataset"] == ds)
        config = r["config"]
        try:
            d = load_dataset(ds, seed=r["seed"], test_fraction=config["test_fraction"],
                             validation_fraction=config["validation_fraction"])
        except (ValueError, KeyError):  # a data set this installation cannot rebuild
            continue
        if r.get("cv"):  # the folds split training and validation rows together
            n, k = d.n_train + d.n_val, r["cv"]
            bits.append(f"{md(ds)} {n}/{d.n_test} ({r['task']}; {k} folds of the {n} for validation, "
                        f"{n // k}–{-(-n // k)} rows each)" if n % k else
                        f"{md(ds)} {n}/{d.n_test} ({r['task']}; {k} folds of {n // k} rows for validation)")
            continue
        bits.append(f"{md(ds)} {d.n_train}/{d.n_val}/{d.n_test} ({r['task']})")
    text = ("Losses are the data loss D: mean cross-entropy in nats for classification, mean squared error of the "
            "standardized target for regression (features and regression targets are standardized with the "
            "training part's mean and standard deviation); RMSE is in the target's own units.")
    if bits:
        head = ("Training/validation/test rows (with cv: training/test rows, validation by the folds): "
                if any("folds" in b for b in bits) else "Training/validation/test rows: ")
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
        power = (f"these records have {_seeds_text(family)}, so only a difference of one sign on every seed can "
                 "pass.")
    else:
        power = f"these records have {_seeds_text(family)}."
    passed = [c for c in family if c.significant]
    named = [c for c in passed if c.lower is not None]
    text = [
        f"Test loss paired by seed (the same data split), each trainer at its own validation-chosen λ; difference = "
        f"first − second (below 0: the first is lower), its median with a 95 % bootstrap interval. Wilcoxon's "
        f"signed-rank test, two-sided: exact over all 2^m sign patterns of the m non-zero differences up to "
        f"{S.EXACT_LIMIT} pairs (the normal approximation beyond); Holm's correction over the family of these "
        f"{k} comparisons keeps the chance of any false claim at most {S.ALPHA:g}. With m pairs no exact p can be "
        f"below 2/2^m ({_g(S.p_floor(most))} for {most} pairs), and the smallest of {k} p-values must be at most "
        f"{_g(first_step)} to pass Holm's first step, so a difference can only be detected with at least {need} "
        f"seeds; " + power,
        "",
        _table(["data set", "first", "second", "λ first / second", "pairs", "median first / second",
                "median difference [95 % CI]", "W+", "p", "p floor", "p (Holm)", "lower"],
               [[md(c.dataset), md(c.a), md(c.b), f"{_g(c.lam_a)} / {_g(c.lam_b)}", c.n,
                 f"{_g(c.median_a)} / {_g(c.median_b)}", f"{_g(c.difference)} [{_g(c.low)}, {_g(c.high)}]",
                 _g(c.statistic), _g(c.p), _g(c.floor), _g(c.adjusted),
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
    top = findings(records, best_rows)
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
    lines.append(_table(
        ["data set", "trainer", "best λ", "test loss", "trivial test loss", "test accuracy / RMSE (target's units)",
         "objective gap", "seconds", "samples (forward + backward)", "runs", "diverged"],
        [[md(b["dataset"]), md(b["trainer"]), _g(b["lam"]), _med_iqr(b["test_loss"]),
          _g(R.median(b["trivial_test_loss"])), _med_iqr(b["score"]),
          _med_iqr(b["gap"]) if any(g is not None for g in b["gap"]) else "–", _med_iqr(b["seconds"]),
          _g(_work(b), 3), b["n"], b["diverged"]] for b in best_rows]))
    lines += ["", "## Paired comparisons at the chosen λ", "", *_comparison_text(records, best_rows)]
    lines.append("")
    return "\n".join(lines)
