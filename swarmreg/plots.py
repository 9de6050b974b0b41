"""Figures of how λ behaves under each trainer, drawn from sweep records.

Every function takes a list of records (the dicts of ``results.jsonl``, whose
fields :mod:`swarmreg.records` declares) and returns a matplotlib ``Figure``;
none of them sees a trainer, and none computes anything the records module
does not: they only draw.  Medians over seeds are lines with the
interquartile range as a band; λ axes are symlog so that λ = 0 shows.

Whatever a sweep accepted draws: names are shown as text (never as
mathtext), any finite λ fits its axis, and magnitudes beyond 1e100 (or below
1e-100) are drawn at that bound, since matplotlib's axes and ticks overflow
beyond a few hundred decades (the tables keep the exact numbers).
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator, SymmetricalLogLocator

from . import checks
from . import records as R

__all__ = ["plot_lambda_error", "plot_weight_norm", "plot_objective_gap", "plot_l1_sparsity", "plot_fits",
           "plot_decay_trajectory", "plot_convention_shift", "plot_convergence", "plot_swarm_variants",
           "plot_swarm_behaviour", "plot_adaptive_decay", "text"]

_TRIVIAL_STYLE = {"color": "gray", "linestyle": ":", "linewidth": 1.2}

_REF_STYLE = {"color": "black", "linestyle": "--"}
_DRAW_LIMIT = 1e100


# ------------------------------------------------------------------ text and numbers
def text(name) -> str:
    """A name as matplotlib shows it literally: no mathtext ($), not hidden from legends (a leading _),
    no control characters, at most 60 characters."""
    s = checks.printable(name)
    if len(s) > 60:
        s = s[:57] + "..."
    s = s.replace("$", r"\$")
    return " " + s if s.startswith("_") else s


def _drawable(values) -> np.ndarray:
    """Values as drawn: magnitudes within [1/_DRAW_LIMIT, _DRAW_LIMIT] (or 0), so that an axis, its margins
    and its ticks stay inside what a float can hold."""
    v = np.clip(np.asarray(values, dtype=float), -_DRAW_LIMIT, _DRAW_LIMIT)
    tiny = (v != 0) & (np.abs(v) < 1 / _DRAW_LIMIT)
    v[tiny] = np.copysign(1 / _DRAW_LIMIT, v[tiny])
    return v


def _sparse_ticks(axis, linthresh: float, top: float, min_step: int = 1) -> None:
    """At most about ten major ticks on a symlog axis (at least ``min_step`` decades apart),
    whatever the decades it spans."""
    decades = max(1.0, math.log10(max(top, linthresh)) - math.log10(linthresh))
    step = max(min_step, math.ceil(decades / 8))
    axis.set_major_locator(SymmetricalLogLocator(linthresh=linthresh, base=10.0 ** step))
    if decades > 12:
        axis.set_minor_locator(NullLocator())


def _line(ax, xs, med, q1, q3, label, marker="o", **style):
    (line,) = ax.plot(_drawable(xs), _drawable(med), marker=marker, markersize=3, label=label, **style)
    ax.fill_between(_drawable(xs), _drawable(q1), _drawable(q3), color=line.get_color(), alpha=0.18, linewidth=0)
    return line


def _style(records, name):
    return dict(_REF_STYLE) if R.kind_of(records, name) == R.REFERENCE_KIND else {}


def _label(records, name):
    return text(f"{name} (reference)" if R.kind_of(records, name) == R.REFERENCE_KIND else name)


def _trainer_lines(ax, recs, key: str) -> dict:
    """One median line (with its IQR band) of ``key`` against λ per trainer;
    returns {trainer name: (xs, median, line)} of the lines drawn."""
    lines = {}
    for name in R.trainer_names(recs):
        xs, med, q1, q3 = R.summarize([r for r in recs if r["trainer"] == name], key)
        if len(xs):
            lines[name] = (xs, med, _line(ax, xs, med, q1, q3, _label(recs, name), **_style(recs, name)))
    return lines


def _lam_axis(ax, lams, label="λ"):
    """symlog x axis with a linear part below the smallest positive λ, so λ = 0 shows;
    any finite λ fits (the linear part widens when the λ range exceeds what a float can span)."""
    pos = [v for v in lams if v is not None and math.isfinite(v) and v > 0]
    if not pos:
        ax.set_xlim(-0.5, 1.0)
        ax.set_xlabel(label)
        return
    hi = min(max(pos), _DRAW_LIMIT)
    # the symlog transform computes linthresh·exp(…): it spans at most ~300 decades above linthresh
    linthresh = max(min(pos), 1 / _DRAW_LIMIT)
    ax.set_xscale("symlog", linthresh=linthresh, linscale=0.5)
    _sparse_ticks(ax.xaxis, linthresh, hi)
    ax.set_xlim(-0.3 * linthresh, hi * 1.6)  # no empty negative side
    ax.set_xlabel(label)


def _y_log(ax, *arrays) -> None:
    """A log y axis when every drawn value is positive, else linear."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays]) if arrays else np.array([])
    values = values[np.isfinite(values)]
    if values.size and np.all(values > 0):
        ax.set_yscale("log")


def _drawn_y(ax) -> list:
    return [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]


def _wrapped(title: str, fig) -> str:
    """The title broken into lines that fit the figure's width (about 9 characters an inch at
    the title's font size)."""
    return textwrap.fill(title, max(30, int(fig.get_figwidth() * 9)))


def _grid(n_rows, n_cols, width=4.2, height=3.2):
    fig = Figure(figsize=(width * n_cols, height * n_rows), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    return fig, axes


def _panel_grid(n: int, cols: int = 3):
    """A grid for n per-data-set panels, at most ``cols`` wide; spare axes hidden.
    Returns the figure and the n axes in order."""
    rows, cols = (n + cols - 1) // cols, min(n, cols)
    fig, axes = _grid(rows, cols)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _empty(message: str) -> Figure:
    fig = Figure(figsize=(6, 2.5))
    ax = fig.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


def _legend(ax) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def _loss_name(records) -> str:
    task = records[0]["task"] if records else None
    return "mean data loss D" + (" (cross-entropy)" if task == "classification" else " (MSE)" if task else "")


# ------------------------------------------------------------------ figures
def plot_lambda_error(records) -> Figure:
    """Train, validation and test error against λ, one line per trainer, the
    L-BFGS reference dashed; each trainer's best λ (by validation error) marked."""
    records = R.main_records(records)
    if not records:
        return _empty("no L2 records")
    datasets = R.datasets(records)
    fig, axes = _grid(len(datasets), 3)
    for i, ds in enumerate(datasets):
        recs = [r for r in records if r["dataset"] == ds]
        for j, split in enumerate(R.SPLITS):
            ax = axes[i, j]
            for name, (xs, med, line) in _trainer_lines(ax, recs, f"{split}_loss").items():
                best = R.best_lambda(recs, name, ds)
                if best is not None and best in xs:
                    k = int(np.flatnonzero(xs == best)[0])
                    ax.plot(_drawable([best]), _drawable([med[k]]), marker="*", markersize=13,
                            color=line.get_color(), markeredgecolor="black", linestyle="none")
            trivial = R.median([r.get("trivial_test_loss") for r in recs])
            if split == "test" and trivial is not None:
                ax.axhline(float(_drawable([trivial])[0]), **_TRIVIAL_STYLE, label="trivial predictor")
            _lam_axis(ax, [r["lam"] for r in recs])
            _y_log(ax, *_drawn_y(ax))
            ax.set_ylabel(_loss_name(recs))
            ax.set_title(text(f"{ds}: {'validation' if split == 'val' else split} error"))
    axes[0, 0].plot([], [], marker="*", markersize=10, color="gray", linestyle="none",
                    label="best λ (validation)")
    axes[0, 0].plot([], [], **_TRIVIAL_STYLE, label="trivial predictor (test)")
    _legend(axes[0, 0])
    fig.suptitle("Error against λ (L2): median over seeds, band = interquartile range")
    return fig


def plot_weight_norm(records) -> Figure:
    """Σw² of the solution against λ per trainer, with the reference optimum's."""
    records = R.main_records(records)
    if not records:
        return _empty("no L2 records")
    datasets = R.datasets(records)
    fig, axes = _panel_grid(len(datasets))
    for ax, ds in zip(axes, datasets):
        recs = [r for r in records if r["dataset"] == ds]
        _trainer_lines(ax, recs, "weight_sq_norm")
        _lam_axis(ax, [r["lam"] for r in recs])
        _y_log(ax, *_drawn_y(ax))
        ax.set_ylabel("Σw² of the solution (weights only)")
        ax.set_title(text(ds))
    _legend(axes[0])
    fig.suptitle("Weight norm against λ (L2)")
    return fig


def _gap_figure(recs, title: str, empty: str) -> Figure:
    """E − E(reference) against λ per trainer, one panel per data set: the reference at 0
    (dashed) and the band a trainer must end in to count as minimizing E (dotted)."""
    gaps = R.objective_gaps(recs)
    if not gaps:
        return _empty(empty)
    reference = R.reference_medians(recs)
    datasets = R.datasets(gaps)
    fig, axes = _panel_grid(len(datasets))
    for ax, ds in zip(axes, datasets):
        mine = [r for r in gaps if r["dataset"] == ds]
        _trainer_lines(ax, mine, "gap")
        ax.axhline(0.0, **_REF_STYLE, linewidth=1, label="reference (L-BFGS)")
        lams = sorted(lam for d, lam in reference if d == ds and reference[d, lam] is not None)
        ax.plot(_drawable(lams), _drawable([R.gap_allowed(reference[ds, lam]) for lam in lams]),
                **_TRIVIAL_STYLE, label="allowed: max(5 %, 0.01) of E(reference)")
        _lam_axis(ax, [r["lam"] for r in mine])
        # linear within ±1e-6 (numerically equal), logarithmic beyond
        ax.set_yscale("symlog", linthresh=1e-6, linscale=0.5)
        top = max((float(np.nanmax(np.abs(y))) for y in _drawn_y(ax) if np.isfinite(y).any()), default=1.0)
        _sparse_ticks(ax.yaxis, 1e-6, top, min_step=2)
        ax.set_ylabel("E − E(reference)")
        ax.set_title(text(ds))
    _legend(axes[0])
    fig.suptitle(_wrapped(title, fig))
    return fig


def plot_objective_gap(records) -> Figure:
    """E reached minus the reference optimum's E, against λ: how well each trainer
    minimizes the penalized error it is given."""
    return _gap_figure(R.main_records(records), "Objective gap to the L-BFGS reference (below 0: a better local "
                       "optimum than the reference)", "no runs with a matching L-BFGS reference")


def plot_l1_sparsity(records) -> Figure:
    """Fraction of exactly-zero and of near-zero (|w| < 1e-3) weights against λ under L1."""
    records = R.main_records(records, "l1")
    if not records:
        return _empty("no L1 records")
    datasets = R.datasets(records)
    fig, axes = _grid(len(datasets), 2)
    for i, ds in enumerate(datasets):
        recs = [r for r in records if r["dataset"] == ds]
        for j, (key, title) in enumerate((("zero_fraction", "exactly zero"), ("near_zero_fraction", "|w| < 1e-3"))):
            ax = axes[i, j]
            _trainer_lines(ax, recs, key)
            _lam_axis(ax, [r["lam"] for r in recs], "λ (L1)")
            ax.set_ylim(-0.03, 1.03)
            ax.set_ylabel(f"fraction of weights {title}")
            ax.set_title(text(f"{ds}: weights {title}"))
    _legend(axes[0, 0])
    fig.suptitle("Sparsity under L1: subgradient vs proximal backprop, swarm, reference")
    return fig


def plot_fits(records, dataset: str = "sine") -> Figure:
    """The fitted curve at the smallest λ, at the best λ and at the largest λ, per trainer
    (:func:`swarmreg.records.fit_curves`)."""
    recs = [r for r in R.main_records(records) if r["dataset"] == dataset and R.finished(r)]
    if not recs:
        return _empty(f"no L2 records on {dataset}")
    seed = min(r["seed"] for r in recs)
    names = R.trainer_names(recs)
    fig, axes = _grid(1, len(names), width=3.8)
    for j, name in enumerate(names):
        ax = axes[0, j]
        panel = R.fit_curves(recs, name, dataset, seed)
        if panel is None:
            ax.set_axis_off()
            continue
        for label, y in panel["curves"]:
            ax.plot(panel["grid"], _drawable(y), label=label)
        if panel["truth"] is not None:
            ax.plot(panel["grid"], panel["truth"], color="gray", linestyle=":", label="true curve")
        ax.plot(panel["x_train"], panel["y_train"], "ko", markersize=4, label="training data")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(_label(recs, name))
        ax.legend(fontsize=7)
    fig.suptitle(text(f"Fits on {dataset} (seed {seed}) at the smallest, the best and the largest λ"))
    return fig


def plot_decay_trajectory(records, dataset: str | None = None) -> Figure:
    """Σw² over training for several λ: backprop's geometric shrink beside the
    swarm's best particle; dotted, what the decay alone would do to backprop's
    starting weights (:func:`swarmreg.records.decay_envelope`)."""
    recs = [r for r in R.main_records(records) if R.finished(r) and r["kind"] != R.REFERENCE_KIND]
    if dataset is None and recs:
        dataset = R.datasets(recs)[0]
    recs = [r for r in recs if r["dataset"] == dataset]
    if not recs:
        return _empty("no L2 records")
    seed = min(r["seed"] for r in recs)
    names = R.trainer_names(recs)
    lams = sorted({r["lam"] for r in recs})
    picks = sorted({lams[int(round(k))] for k in np.linspace(0, len(lams) - 1, min(4, len(lams)))})
    fig, axes = _grid(1, len(names))
    colors = {lam: f"C{i}" for i, lam in enumerate(picks)}
    for j, name in enumerate(names):
        ax = axes[0, j]
        seen = []
        for lam in picks:
            r = next((r for r in recs if r["trainer"] == name and r["lam"] == lam and r["seed"] == seed), None)
            if r is None or "weight_sq_norm" not in r["history"] or "iteration" not in r["history"]:
                continue
            h = r["history"]
            sq = np.array([np.nan if v is None else v for v in h["weight_sq_norm"]], dtype=float)
            drawn = _drawable(sq)
            seen.append(drawn[np.isfinite(drawn) & (drawn > 0)])
            ax.plot(h["iteration"], drawn, color=colors[lam], label=f"λ = {lam:g}")
            envelope = R.decay_envelope(r)
            if envelope is not None and lam > 0 and np.isfinite(sq[0]):
                with np.errstate(over="ignore", invalid="ignore"):
                    alone = _drawable(sq[0] * envelope)
                ax.plot(h["iteration"], alone, color=colors[lam], linestyle=":",
                        linewidth=1, label="decay alone" if lam == picks[-1] else None)
        seen = np.concatenate(seen) if seen else np.array([])
        if seen.size:  # the trajectories set the scale; the decay-alone curves may leave it
            low, high = max(seen.min() / 3, 1 / _DRAW_LIMIT), min(seen.max() * 3, _DRAW_LIMIT)
            if low < high:
                ax.set_ylim(low, high)
            ax.set_yscale("log")
        ax.set_xlabel("epoch" if R.kind_of(recs, name) == "backprop" else "iteration")
        ax.set_ylabel("Σw² (best particle)" if R.kind_of(recs, name) == "swarm" else "Σw²")
        ax.set_title(text(name))
        _legend(ax)
    fig.suptitle(text(f"Weight decay over training on {dataset} (seed {seed})"))
    return fig


def plot_convention_shift(records, dataset: str | None = None) -> Figure:
    """Test error against the raw knob (coupled L2 λ, or the decay fraction d per
    step, at several learning rates), and against the canonical λ
    (:func:`swarmreg.records.convention_records`)."""
    dataset, recs = R.convention_records(records, dataset)
    if not recs:
        return _empty("no decay-fraction (lam_as = decay_fraction) records")
    fig, axes = _grid(1, 2, width=5.5, height=3.8)
    for name in R.trainer_names(recs):
        rs = [r for r in recs if r["trainer"] == name]
        style = {"linestyle": "-" if rs[0]["lam_as"] != R.PENALTY else "--"}
        for ax, x in zip(axes[0], ("lam", "canonical_lam")):
            xs, med, q1, q3 = R.summarize(rs, "test_loss", x=x)
            if len(xs):
                _line(ax, xs, med, q1, q3, text(name), **style)
    _lam_axis(axes[0, 0], [r["lam"] for r in recs], "raw knob: λ (coupled L2) or d (fraction per step)")
    _lam_axis(axes[0, 1], [r["canonical_lam"] for r in recs], "canonical λ (swarmreg.conventions)")
    for ax in axes[0]:
        ax.set_ylabel("test " + _loss_name(recs))
    axes[0, 0].set_title("against the raw knob")
    axes[0, 1].set_title("against the canonical λ")
    _legend(axes[0, 0])
    fig.suptitle(text(f"Coupled L2 and the decay fraction d per step ({dataset})"))
    return fig


def plot_convergence(records, lam: float | None = None, dataset: str | None = None) -> Figure:
    """E against forward samples spent and against seconds, every trainer, at one λ."""
    recs = [r for r in R.main_records(records) if R.finished(r)]
    if dataset is None and recs:
        dataset = R.datasets(recs)[0]
    recs = [r for r in recs if r["dataset"] == dataset]
    if not recs:
        return _empty("no L2 records")
    if lam is None:
        lam = R.middle_lambda(recs)
    recs = [r for r in recs if r["lam"] == lam]
    fig, axes = _grid(1, 2, width=5.5, height=3.8)
    for ax, x, label in ((axes[0, 0], "forward_samples", "forward samples spent (single-sample passes)"),
                         (axes[0, 1], "seconds", "seconds")):
        for name in R.trainer_names(recs):
            curves = [(r["history"].get(x, []), r["history"].get("value", []))
                      for r in recs if r["trainer"] == name]
            res = R.median_curve_on_log_grid(curves)
            if res is not None:
                _line(ax, *res, _label(recs, name), marker=None, **_style(recs, name))
        ax.set_xscale("log")
        _y_log(ax, *_drawn_y(ax))
        ax.set_xlabel(label)
        ax.set_ylabel("E = D + R (training data)")
    _legend(axes[0, 0])
    fig.suptitle(text(f"Convergence per unit of work on {dataset} at λ = {lam:g} (median over seeds)"))
    return fig


def plot_swarm_variants(records) -> Figure:
    """The objective gap against λ of every swarm variant and CMA-ES (the
    records of :func:`swarmreg.records.variant_records`), one panel per data
    set, with the band a trainer must end in to count as minimizing E."""
    return _gap_figure(R.variant_records(records), "Swarm variants and CMA-ES at the same budget: objective gap "
                       "to the L-BFGS optimum", "no gradient-free runs with a matching L-BFGS reference")


def plot_swarm_behaviour(records) -> Figure:
    """What the penalty does to a swarm: its diversity over the iterations at
    several λ, and the hidden units' saturation and the effective number of
    weights against λ for every trainer, on the data set with the largest
    network among the L2 records."""
    recs = [r for r in R.main_records(records) if R.finished(r)]
    swarms = [r for r in recs if r["kind"] == "swarm"]
    if not swarms:
        return _empty("no swarm records")
    ds = max(R.datasets(swarms), key=lambda d: max(len(r["theta"]) for r in swarms if r["dataset"] == d))
    mine = [r for r in recs if r["dataset"] == ds]
    swarm = R.trainer_names([r for r in swarms if r["dataset"] == ds])[0]
    fig, axes = _grid(1, 3, width=4.6, height=3.6)
    ax = axes[0, 0]
    curves = R.diversity_curves(mine, swarm, ds)
    lams = sorted(curves)
    shown = [lams[i] for i in sorted({int(round(k)) for k in np.linspace(0, len(lams) - 1, min(5, len(lams)))})]
    for lam in shown:
        it, div = curves[lam]
        ax.plot(_drawable(it), _drawable(div), label=text(f"λ = {lam:g}"))
    _y_log(ax, *[curves[lam][1] for lam in shown])
    ax.set_xlabel("iteration")
    ax.set_ylabel("diversity: mean distance to the centroid")
    ax.set_title(text(f"{swarm} on {ds}"))
    _legend(ax)
    for ax, key, label in ((axes[0, 1], "saturation", "saturated hidden activations (share)"),
                           (axes[0, 2], "effective_weights", f"weights with |w| > {R.EFFECTIVE_WEIGHT:g}")):
        _trainer_lines(ax, mine, key)
        _lam_axis(ax, [r["lam"] for r in mine])
        ax.set_ylabel(label)
        ax.set_title(text(ds))
    _legend(axes[0, 1])
    fig.suptitle("The swarm under the penalty: diversity, saturation and effective size (median over seeds)")
    return fig


def plot_adaptive_decay(records) -> Figure:
    """SGD, Adam and AdamW under L2 (the records of :func:`swarmreg.records.adaptive_records`):
    per data set, Σw² and the test loss against the nominal λ, and the effective λ of each
    solution (``effective_lam``) against the nominal one with the diagonal where the two agree,
    beside the relative residual that says how far the solution is from any L2 optimum."""
    recs = [r for r in R.adaptive_records(records) if R.finished(r)]
    if not recs:
        return _empty("no backprop L2 records of a sweep with Adam")
    sets = R.datasets(recs)
    fig, axes = _grid(len(sets), 4, width=4.0, height=3.3)
    for row, ds in zip(axes, sets):
        mine = [r for r in recs if r["dataset"] == ds]
        lams = [r["lam"] for r in mine]
        for ax, key, label in ((row[0], "weight_sq_norm", "Σw² of the solution"),
                               (row[1], "test_loss", "test " + _loss_name(mine))):
            _trainer_lines(ax, mine, key)
            _lam_axis(ax, lams, "nominal λ")
            _y_log(ax, *_drawn_y(ax))
            ax.set_ylabel(label)
            ax.set_title(text(ds))
        positive = [r for r in mine if r["lam"] > 0]
        ax, res_ax = row[2], row[3]
        for name in R.trainer_names(positive):
            for target, key in ((ax, "effective_lam"), (res_ax, "effective_lam_residual")):
                xs, med, q1, q3 = R.summarize([r for r in positive if r["trainer"] == name], key)
                if len(xs):
                    _line(target, xs, med, q1, q3, text(name))
        pos = [v for v in lams if v > 0]
        if pos:
            ends = _drawable([min(pos), max(pos)])
            ax.plot(ends, ends, color="gray", linestyle=":", linewidth=1.2, label="effective = nominal")
        for target in (ax, res_ax):
            _lam_axis(target, pos, "nominal λ")
            _y_log(target, *_drawn_y(target))
        ax.set_ylabel("effective λ: −(∇D·w)/(w·w)")
        ax.set_title(text(f"{ds}: the λ the solution means"))
        res_ax.set_ylabel("residual ‖∇D + λ*w‖ / ‖∇D‖")
        res_ax.set_title(text(f"{ds}: stationarity residual"))
        _legend(row[0])
        _legend(ax)
    fig.suptitle("Adaptive decay: L2 in the gradient (SGD, Adam) against decoupled decay (AdamW, SGD with momentum), "
                 "median over seeds")
    return fig
