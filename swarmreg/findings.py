"""The Findings at the top of REPORT.md: the report's first conclusions, one bullet each.

Each finding states what the records show across the figures: the lowest test
error at the validation-chosen λ and how sure it is, what a run costs, who fails
to minimize E (the reference included), how far apart the chosen λ are, what the
conventions do to λ, L1 at the chosen λ, the 2014 swarm findings, and Adam
against AdamW, with the section and figure it is drawn in.  Every number in them
is computed from the records (through :mod:`swarmreg.records` and
:mod:`swarmreg.stats`).  The sentences that both a finding and a figure's text
in :mod:`swarmreg.report` say are public here.
"""

from __future__ import annotations

import math

from . import records as R
from . import stats as S
from .wording import md, num, plural, span

__all__ = ["findings", "CONVENTION_LINE_UP", "median_work", "median_test_loss", "seeds_text", "reference_summary",
           "chosen_runs", "l1_text", "trend", "behaviour_counts", "behaviour_verdict", "decay_forms_text"]

#: Translated λ "line up" when the configurations' crossing points spread over at most this factor.
CONVENTION_LINE_UP = 1.5


def median_work(rows) -> float | None:
    """Median samples through the network (forward + backward passes) of a best-λ row's runs."""
    return R.median([f + b for f, b in zip(rows["forward"], rows["backward"])])


def median_test_loss(row) -> float:
    """A best-λ row's median test loss, +inf without one (it sorts last)."""
    m = R.median(row["test_loss"])
    return math.inf if m is None else m


def seeds_text(family) -> str:
    """How many seeds a family of paired comparisons rests on: "5 seeds" or "3 to 5 seeds"."""
    ns = sorted({c.n for c in family})
    return f"{ns[0]} seeds" if len(ns) == 1 else f"{ns[0]} to {ns[-1]} seeds"


def reference_summary(recs):
    """What the L-BFGS reference itself does not achieve, summed over the data sets.

    Parameters
    ----------
    recs : list of dict
        The records of the L2 figures.

    Returns
    -------
    tuple
        (its runs, those stopped at the iteration limit, "data set: n at λ = x" for each data set with such runs,
        the problems (λ, seed) another trainer also ran, those on which another trainer reached a lower E,
        {trainer: problems it did so on}, the record with the most negative gap or None).
    """
    rows = R.reference_failures(recs)
    runs = sum(row["runs"] for row in rows)
    at_limit = sum(sum(row["limit"].values()) for row in rows)
    where = [f"{md(row['dataset'])}: " + ", ".join(f"{n} at λ = {num(lam)}" for lam, n in row["limit"].items())
             for row in rows if row["limit"]]
    problems = sum(row["problems"] for row in rows)
    beaten = sum(row["beaten_problems"] for row in rows)
    by = {}
    for row in rows:
        for name, n in row["beaten"].items():
            by[name] = by.get(name, 0) + n
    worst = min((row["worst"] for row in rows if row["worst"] is not None), key=lambda g: g["gap"], default=None)
    return runs, at_limit, where, problems, beaten, by, worst


def chosen_runs(drecs, ds: str):
    """Every trainer of one data set's records at the λ validation chooses for it.

    Parameters
    ----------
    drecs : list of dict
        Finished records of data set ``ds``.
    ds : str
        The data set.

    Yields
    ------
    tuple
        (trainer, its validation-chosen λ, its records at that λ), for each trainer with such records.
    """
    for name in R.trainer_names(drecs):
        lam = R.best_lambda(drecs, name, ds)
        at = [r for r in drecs if r["trainer"] == name and r["lam"] == lam]
        if lam is not None and at:
            yield name, lam, at


def l1_text(records) -> list[str]:
    """Per L1 data set: every trainer's validation-chosen λ, its exact and near zeros, and its test loss there."""
    recs = [r for r in R.main_records(records, "l1") if R.finished(r)]
    out = []
    for ds in R.datasets(recs):
        drecs = [r for r in recs if r["dataset"] == ds]
        bits = []
        for name, lam, at in chosen_runs(drecs, ds):
            bits.append(f"{md(name)} λ = {num(lam)}, {num(100 * R.median([r['zero_fraction'] for r in at]))}% of "
                        f"weights exactly 0 ({num(100 * R.median([r['near_zero_fraction'] for r in at]))}% below "
                        f"1e-3), test loss {num(R.median([r['test_loss'] for r in at]))}")
        if bits:
            out.append(f"Under L1 at the validation-chosen λ on {md(ds)}: " + "; ".join(bits) + ".")
    return out


def trend(recs, name: str, keys) -> dict | None:
    """How a trainer's medians move from the smallest to the largest λ.

    Parameters
    ----------
    recs : list of dict
        Finished records of one data set.
    name : str
        The trainer.
    keys : sequence of str
        Record fields to follow; only the λ at which every one of them has a value count.

    Returns
    -------
    dict or None
        {key: (median at the smallest λ, median at the largest λ)}, with "lam" the two λ; None with fewer than
        two such λ.
    """
    curves = {k: dict(zip(*R.summarize([r for r in recs if r["trainer"] == name], k)[:2])) for k in keys}
    shared = sorted(set.intersection(*(set(c) for c in curves.values())))
    if len(shared) < 2:
        return None
    lo, hi = shared[0], shared[-1]
    return {"lam": (float(lo), float(hi)), **{k: (float(c[lo]), float(c[hi])) for k, c in curves.items()}}


def behaviour_counts(records) -> tuple[int, int, int]:
    """How often the swarms behave as Rakitianskaia & Engelbrecht (2014) found, over the L2 records.

    Returns
    -------
    tuple of int
        (smaller, convergent, total): of the ``total`` (swarm, data set) pairs, those whose effective network is
        smaller, and those whose final diversity is lower, at the largest λ than at the smallest (medians).
    """
    recs = [r for r in R.main_records(records) if R.finished(r)]
    smaller = convergent = total = 0
    for ds in R.datasets(recs):
        mine = [r for r in recs if r["dataset"] == ds]
        for name in R.trainer_names([r for r in mine if r["kind"] == "swarm"]):
            t = trend(mine, name, ("effective_weights", "final_diversity"))
            if t is not None:
                total += 1
                smaller += t["effective_weights"][1] < t["effective_weights"][0]
                convergent += t["final_diversity"][1] < t["final_diversity"][0]
    return smaller, convergent, total


def behaviour_verdict(smaller: int, convergent: int, total: int) -> str:
    """Whether the two 2014 findings hold in every, some or none of ``total`` cases (two medians each, no test)."""
    def holds(n: int, what: str) -> str:
        return (f"{what} are seen in every pair" if n == total else f"{what} are seen in none"
                if n == 0 else f"{what} are seen in {n} of {total} pairs only")
    return (f"{holds(smaller, 'the smaller networks')}; {holds(convergent, 'the more convergent swarms')} — "
            "two medians per pair compared, not a test.")


def decay_forms_text(rows) -> str | None:
    """Whether the coupled decay forms and AdamW sit on the diagonal (effective λ = nominal λ).

    Parameters
    ----------
    rows : list of dict
        :func:`swarmreg.records.effective_lambda_rows` of the finished records of the adaptive sweep.

    Returns
    -------
    str or None
        The sentence, or None without both a coupled form and AdamW.
    """
    coupled = [x for x in rows if x["decay"] == "coupled"]
    decoupled = [x for x in rows if x["decay"] == "decoupled" and x["optimizer"] == "adam"]
    if not (coupled and decoupled):
        return None
    return (f"The coupled forms (L2 in the gradient, SGD or Adam) are on the diagonal in "
            f"{sum(x['on_diagonal'] for x in coupled)} of {len(coupled)} (trainer, data set) pairs; AdamW "
            f"in {sum(x['on_diagonal'] for x in decoupled)} of {len(decoupled)} (within a "
            f"factor {num(R.ON_DIAGONAL_FACTOR)} of the nominal λ at every λ, median over seeds).")


def _finding_winners(best_rows, family, where) -> str:
    """Per data set: the lowest median test loss at the chosen λ, the runner-up, and how sure that is."""
    bits = []
    for ds in dict.fromkeys(row["dataset"] for row in best_rows):
        rows = sorted((row for row in best_rows if row["dataset"] == ds), key=median_test_loss)
        if not math.isfinite(median_test_loss(rows[0])):
            continue
        bits.append(f"{md(ds)} {md(rows[0]['trainer'])} {num(R.median(rows[0]['test_loss']))}"
                    + (f" (next {md(rows[1]['trainer'])} {num(R.median(rows[1]['test_loss']))})"
                       if len(rows) > 1 and math.isfinite(median_test_loss(rows[1])) else ""))
    if family:
        passed = [c for c in family if c.significant]
        named = [c for c in passed if c.lower is not None]
        sure = (f"{len(passed)} of the {len(family)} paired differences pass Holm's correction at p <= "
                f"{S.ALPHA:g} over {seeds_text(family)}")
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
            f". {sure} (table \"Paired comparisons\", {where('lambda_error.png')}).")


def _finding_cost(best_rows, where) -> str | None:
    """The work and seconds of each trainer per run at its chosen λ, as a range over data sets."""
    names = list(dict.fromkeys(row["trainer"] for row in best_rows))
    bits = []
    for name in names:
        rows = [row for row in best_rows if row["trainer"] == name]
        work = [w for w in (median_work(row) for row in rows) if w is not None]
        secs = [x for x in (R.median(row["seconds"]) for row in rows) if x is not None]
        if work and secs:
            bits.append(f"{md(name)} {span(work, 2)} samples through the network and {span(secs, 2, ' s')}")
    if not bits:
        return None
    return ("Cost of one run at the chosen λ, over the data sets (forward + backward passes of single samples; wall "
            "seconds on this machine): " + "; ".join(bits) + f" ({where('convergence.png')}, table \"Best λ\").")


def _finding_failures(records, best_rows, where) -> str | None:
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
        text = (f"{plural(len(failing), '(trainer, data set) pair fails', '(trainer, data set) pairs fail')} to "
                f"minimize E at the λ they chose (median E above the reference's by more than max("
                f"{100 * R.GAP_SHARE:g} %, {R.GAP_FLOOR:g}) of it)"
                + (f": {', '.join(failing)} — their errors there are those of where they stopped, not of the optimum"
                   if failing else ""))
    text += (f"; {len(trivial)} do no better than the trivial predictor: {', '.join(trivial)}" if trivial else
             "; every trainer beats the trivial predictor at its chosen λ")
    runs, at_limit, _, problems, beaten, _, _ = reference_summary(recs)
    if runs and problems:
        text += (f". The reference itself stops at its iteration limit in {at_limit} of {runs} runs and is beaten "
                 f"by another trainer on {beaten} of {problems} problems")
    return text + f" ({where('lambda_objective_gap.png')})."


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
        edge += [f"{md(row['trainer'])} on {md(ds)} (λ = {num(row['lam'])})" for row in rows
                 if len(grid) > 1 and row["lam"] == grid[-1] and row["lam"] > 0]
    if not compared:
        return None
    text = f"The trainers' validation-chosen λ agree on {agree} of {plural(compared, 'data set', 'data sets')}"
    if factors:
        text += f"; where they differ, by a factor {span(factors)}"
    if mixed:
        text += f"; on {', '.join(mixed)} one trainer chooses λ = 0 and another λ > 0"
    if none_helped:
        text += f". No penalty helped on validation for {', '.join(none_helped)} (λ = 0 chosen)"
    text += (f". At the grid's largest λ, so the best may lie beyond it: {', '.join(edge)}" if edge else
             ". No choice sits at the grid's largest λ")
    return text + " (table \"Best λ\")."


def _finding_conventions(records, where) -> str | None:
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
            f"{num(f_raw)}, and at canonical λ over a factor {num(f_canonical)}: ")
    text += ("the same raw λ means different things in these codes" if f_raw > CONVENTION_LINE_UP else
             "the raw λ already means about the same in these codes")
    text += (f"; translated, they line up within a factor {num(CONVENTION_LINE_UP)}"
             if f_canonical <= CONVENTION_LINE_UP else
             f"; even translated, they do not line up within a factor {num(CONVENTION_LINE_UP)}")
    return text + f" ({where('convention_shift.png')})."


def _finding_2014(records, where) -> str | None:
    smaller, convergent, total = behaviour_counts(records)
    if not total:
        return None
    return (f"Rakitianskaia & Engelbrecht (2014) found that the penalty gives swarms smaller effective networks and "
            f"more convergent swarms; over {plural(total, '(swarm, data set) pair', '(swarm, data set) pairs')} "
            f"from the smallest to the largest λ, {behaviour_verdict(smaller, convergent, total)[:-1]} "
            f"({where('swarm_behaviour.png')}).")


def _finding_adaptive(records, where) -> str | None:
    rows = R.effective_lambda_rows([r for r in R.adaptive_records(records) if R.finished(r)])
    text = decay_forms_text(rows)
    if text is None:
        return None
    off = not any(x["on_diagonal"] for x in rows if x["decay"] == "decoupled" and x["optimizer"] == "adam")
    return (text.rstrip(".") + ("; so AdamW's λ is not the L2 strength of the same number" if off else "")
            + f" ({where('adaptive_decay.png')}).")


def findings(records, best_rows, sections=None) -> list[str]:
    """The report's first conclusions, each computed from the records, with its numbers and where it is drawn.

    In order: the lowest test error and how sure it is, the cost, who fails to minimize E (the reference
    included), how the chosen λ differ, what the conventions do, L1 at the chosen λ, the 2014 swarm findings
    and Adam against AdamW; a finding whose records are missing is left out.

    Parameters
    ----------
    records : list of dict
        The records, cross-validated (:func:`swarmreg.records.cross_validated`).
    best_rows : list of dict
        :func:`swarmreg.records.best_lambda_rows` of them.
    sections : dict, optional
        {figure file: its section number in REPORT.md}; without it a finding names the figure's file only.

    Returns
    -------
    list of str
        One markdown sentence or more per finding.
    """
    def where(file: str) -> str:
        return f"§{sections[file]}, `{file}`" if sections else f"`{file}`"

    family = R.comparisons(records, best_rows)
    out = [_finding_winners(best_rows, family, where)] if best_rows else []
    l1 = l1_text(records)
    out += [f for f in (_finding_cost(best_rows, where), _finding_failures(records, best_rows, where),
                        _finding_lambdas(records, best_rows), _finding_conventions(records, where),
                        " ".join(l1)[:-1] + f" ({where('l1_sparsity.png')})." if l1 else None,
                        _finding_2014(records, where), _finding_adaptive(records, where)) if f]
    return out
