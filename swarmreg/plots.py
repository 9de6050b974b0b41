"""Figures of how λ behaves under each trainer, drawn from sweep records.

Every function takes a list of records (the dicts of ``results.jsonl``, whose
fields :mod:`swarmreg.records` declares) and returns a matplotlib ``Figure``;
none of them sees a trainer.  They draw what :mod:`swarmreg.records`
summarizes, and compute nothing else but a fitted curve's roughness
(:func:`swarmreg.measures.roughness`).  Medians over seeds are lines with the
interquartile range as a band; λ axes are symlog so that λ = 0 shows.  A
trainer keeps its colour and marker in every panel of a figure, the L-BFGS
reference is black and dashed, and legends stand beside or below the data,
never on it.  Every axis says its unit: a data loss D (and so E = D + R) is a
cross-entropy in nats for classification and a mean squared error of the
standardized target for regression (:mod:`swarmreg.data` standardizes a
regression target with its training mean and standard deviation).

Whatever a sweep accepted draws: names are shown as text (never as
mathtext), any finite λ fits its axis, and magnitudes beyond 1e100 (or below
1e-100) are drawn at that bound, since matplotlib's axes and ticks overflow
beyond a few hundred decades (the tables keep the exact numbers).
"""

from __future__ import annotations

import math
import re
import textwrap

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator

from . import checks
from . import records as R
from .measures import roughness

__all__ = ["plot_lambda_error", "plot_lambda_error_splits", "plot_weight_norm", "plot_objective_gap",
           "plot_l1_sparsity", "plot_fits", "plot_decay_trajectory", "plot_convention_shift", "plot_convergence",
           "plot_swarm_variants", "plot_swarm_behaviour", "plot_adaptive_decay", "text"]

_TRIVIAL_STYLE = {"color": "gray", "linestyle": ":", "linewidth": 1.2}
_REF_STYLE = {"color": "black", "linestyle": "--"}
_DRAW_LIMIT = 1e100
#: Markers and line styles of the trainers, in the order of their first record (the reference: black, dashed, o).
_MARKERS = ("s", "^", "D", "P", "X", "h", "<", ">", "p")
_DASHES = ("-", "-.", (0, (6, 2)), (0, (1, 1.2)), (0, (4, 1.5, 1, 1.5, 1, 1.5)))
#: How far right (in decades of λ) a line is drawn when it would lie exactly on an earlier one.
_DODGE = 0.12
#: The objective gap is linear within ±this (numerically equal), logarithmic beyond.
_GAP_LINTHRESH = 1e-6
#: At most this many labelled ticks on the axes whose ticks are chosen here.
_MAX_TICKS = 6
_SPLIT_WORDS = {"train": "training", "val": "validation", "test": "test"}


# ------------------------------------------------------------------ text and numbers
def text(name) -> str:
    """A name as matplotlib shows it literally: no mathtext ($), not hidden from legends (a leading _),
    no control characters, at most 60 characters."""
    s = checks.printable(name)
    if len(s) > 60:
        s = s[:57] + "..."
    s = s.replace("$", r"\$")
    return " " + s if s.startswith("_") else s


def _lam_text(lam) -> str:
    """λ for a label: three significant digits ("0.00316"), 0 as "0"."""
    return "0" if lam == 0 else f"{lam:.3g}"


def _loss_unit(records) -> str:
    """What the data loss D of these records measures, and in which unit."""
    tasks = {r["task"] for r in records}
    if tasks == {"classification"}:
        return "cross-entropy, nats"
    if tasks == {"regression"}:
        return "MSE, standardized target"
    return "cross-entropy in nats or MSE of the standardized target"


def _loss_label(records, what: str) -> str:
    """An axis label of a loss with its unit: "test loss (cross-entropy, nats)", the unit on a
    line of its own when the label is long."""
    label = f"{what} ({_loss_unit(records)})"
    return label if len(label) <= 36 else f"{what}\n({_loss_unit(records)})"


def _drawable(values) -> np.ndarray:
    """Values as drawn: magnitudes within [1/_DRAW_LIMIT, _DRAW_LIMIT] (or 0), so that an axis, its margins
    and its ticks stay inside what a float can hold."""
    v = np.clip(np.asarray(values, dtype=float), -_DRAW_LIMIT, _DRAW_LIMIT)
    tiny = (v != 0) & (np.abs(v) < 1 / _DRAW_LIMIT)
    v[tiny] = np.copysign(1 / _DRAW_LIMIT, v[tiny])
    return v


def _wrapped(title: str, inches: float) -> str:
    """The title broken into lines that fit ``inches`` of width (about 9 characters an inch)."""
    return textwrap.fill(title, max(30, int(inches * 9)))


# ------------------------------------------------------------------ figures and legends
def _grid(n_rows, n_cols, width=4.2, height=3.2, sharey=False):
    fig = Figure(figsize=(width * n_cols, height * n_rows), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False, sharey=sharey))
    return fig, axes


def _panel_grid(n: int, cols: int = 3):
    """A grid for n per-data-set panels, at most ``cols`` wide.

    Returns
    -------
    fig : Figure
    axes : list of the n axes, in order
    spare : the first unused axes of the grid (hidden; a place for the legend), or None
    """
    rows, cols = (n + cols - 1) // cols, min(n, cols)
    fig, axes = _grid(rows, cols)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n], (flat[n] if len(flat) > n else None)


def _empty(message: str) -> Figure:
    fig = Figure(figsize=(6, 2.5))
    ax = fig.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


def _shared_legend(fig, axes, spare=None, extra=()) -> None:
    """One legend for a figure: every label drawn in ``axes`` once, then the ``extra`` (handle, label)
    pairs.  In ``spare`` (an unused panel) when there is one, else right of a one-panel figure (widened
    to hold it), else below the panels."""
    found = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            found.setdefault(label, handle)
    for handle, label in extra:
        found.setdefault(label, handle)
    if not found:
        return
    handles, labels = list(found.values()), list(found)
    if spare is not None:
        spare.set_visible(True)
        spare.set_axis_off()
        spare.legend(handles, labels, loc="center", fontsize=8, frameon=False)
    elif len(axes) == 1:
        fig.set_figwidth(fig.get_figwidth() + 3.2)
        fig.legend(handles, labels, loc="outside right center", fontsize=8)
    else:
        widths = [0.6 + 0.065 * len(label) for label in labels]  # inches, at font size 8
        columns = len(labels) if sum(widths) <= fig.get_figwidth() else \
            max(1, min(len(labels), 5, int(fig.get_figwidth() / max(widths))))
        fig.legend(handles, labels, loc="outside lower center", ncols=columns, fontsize=8)


def _legend_right(ax) -> None:
    """The axes' own legend, outside it on the right."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=7)


def _legend_below(ax) -> None:
    """The axes' own legend, outside it below its x label."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), borderaxespad=0.0, fontsize=7)


def _proxy(label: str, **style):
    """A legend entry for something drawn without a label of its own."""
    return Line2D([], [], linestyle="none", color="gray", markeredgecolor="black", **style), label


# ------------------------------------------------------------------ trainers' lines
def _styles(records, dashes: bool = False) -> dict:
    """{trainer: line style} for a whole figure, so that a trainer missing from one panel
    changes no other trainer's colour: a colour and a marker each (with ``dashes``, a line
    style each too); the reference black and dashed."""
    out = {}
    for i, name in enumerate(R.trainer_names(records)):
        if R.kind_of(records, name) == R.REFERENCE_KIND:
            out[name] = {**_REF_STYLE, "marker": "o"}
        else:
            out[name] = {"color": f"C{i % 10}", "marker": _MARKERS[i % len(_MARKERS)],
                         "linestyle": _DASHES[i % len(_DASHES)] if dashes else "-"}
    return out


def _label(records, name):
    return text(f"{name} (reference)" if R.kind_of(records, name) == R.REFERENCE_KIND else name)


def _line(ax, xs, med, q1, q3, label, **style):
    style = {"marker": "o", "markersize": 4, **style}
    (line,) = ax.plot(_drawable(xs), _drawable(med), label=label, **style)
    ax.fill_between(_drawable(xs), _drawable(q1), _drawable(q3), color=line.get_color(), alpha=0.18, linewidth=0)
    return line


def _trainer_lines(ax, recs, key: str, styles: dict, dodge: bool = False) -> dict:
    """One median line (with its IQR band) of ``key`` against λ per trainer; with ``dodge``, a
    line equal to lines drawn before it is drawn _DODGE decades further right per such line.

    Returns
    -------
    dict
        {trainer: (xs, median, line)} of the lines drawn; xs are the records' λ (not dodged).
    """
    lines = {}
    for name in R.trainer_names(recs):
        xs, med, q1, q3 = R.summarize([r for r in recs if r["trainer"] == name], key)
        if not len(xs):
            continue
        same = sum(np.array_equal(xs, a) and np.array_equal(med, m) for a, m, _ in lines.values()) if dodge else 0
        line = _line(ax, _drawable(xs) * 10.0 ** (_DODGE * same), med, q1, q3, _label(recs, name), **styles[name])
        lines[name] = (xs, med, line)
    return lines


def _dodged(lines: dict) -> str:
    """Which lines :func:`_trainer_lines` drew shifted right, and which earlier line each equals
    ("b = a; the later line drawn 0.12 decade right"), or ""."""
    names = list(lines)
    same = [f"{text(b)} = {text(a)}" for j, b in enumerate(names) for a in names[:j]
            if np.array_equal(lines[a][0], lines[b][0]) and np.array_equal(lines[a][1], lines[b][1])]
    return f"{', '.join(same)}; the later line drawn {_DODGE:g} decade right" if same else ""


def _best_stars(ax, recs, dataset: str, lines: dict) -> None:
    """Each trainer's validation-chosen λ as a star on its line; the stars of trainers that chose
    the same λ nest (:func:`_nested_mark`), so none hides another."""
    nest = {}
    for name, (xs, med, line) in lines.items():
        best = R.best_lambda(recs, name, dataset)
        if best is not None and best in xs:
            k = int(np.flatnonzero(xs == best)[0])
            _nested_mark(ax, nest, best, med[k], line.get_color(), "*", 20, label="_best")


def _nested_mark(ax, nest: dict, x: float, y: float, color, marker: str, size: float, **style) -> None:
    """A marker at (x, y), smaller (and edged in white, drawn above) for each one ``nest`` already
    holds at this x, so that marks of several trainers at one λ all show."""
    rank = nest[x] = nest.get(x, -1) + 1
    ax.plot(_drawable([x]), _drawable([y]), marker=marker, markersize=max(4, size * (1 - 0.35 * rank)),
            color=color, markeredgecolor="white" if rank else "black", markeredgewidth=0.8, linestyle="none",
            zorder=4 + rank, **style)


def _floor_log_axis(ax, lines: dict) -> bool:
    """On a log y axis, a lower limit a decade below the 5th percentile of the medians drawn, never below
    1e-6 of the largest, so that a few near-zero losses do not stretch the axis; a median below the
    limit is marked by a ▼ on the bottom edge.  True when some median is."""
    meds = np.concatenate([_drawable(med) for _, med, _ in lines.values()]) if lines else np.array([])
    meds = meds[np.isfinite(meds) & (meds > 0)]
    if ax.get_yscale() != "log" or not meds.size:
        return False
    floor = max(float(np.percentile(meds, 5)) / 10, float(meds.max()) * 1e-6)
    if ax.get_ylim()[0] >= floor:
        return False
    ax.set_ylim(bottom=floor)
    nest = {}
    for _, med, line in lines.values():
        for x in np.asarray(line.get_xdata())[_drawable(med) < floor]:
            _nested_mark(ax, nest, float(x), floor, line.get_color(), "v", 9, clip_on=False, label="_below")
    return bool(nest)


# ------------------------------------------------------------------ axes
def _lam_axis(ax, lams, label="λ"):
    """symlog x axis with a linear part below the smallest positive λ, so λ = 0 shows;
    any finite λ fits (the linear part widens when the λ range exceeds what a float can span).
    Ticks at 0 and at most _MAX_TICKS − 1 decades, or at the λ themselves when they span less
    than two decades."""
    pos = [v for v in lams if v is not None and math.isfinite(v) and v > 0]
    if not pos:
        ax.set_xlim(-0.5, 1.0)
        ax.set_xlabel(label)
        return
    hi = min(max(pos), _DRAW_LIMIT)
    # the symlog transform computes linthresh·exp(…): it spans at most ~300 decades above linthresh
    linthresh = max(min(pos), 1 / _DRAW_LIMIT)
    ax.set_xscale("symlog", linthresh=linthresh, linscale=0.5)
    major, minor = _decades(linthresh, hi, 0.0)
    if len(major) < 3:  # less than two decades: the λ themselves
        pos = sorted(set(_drawable(pos)))
        major = [0.0] + [pos[int(round(k))] for k in np.linspace(0, len(pos) - 1, min(len(pos), _MAX_TICKS - 1))]
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _lam_text(v)))
    ax.xaxis.set_major_locator(FixedLocator(major))
    ax.xaxis.set_minor_locator(FixedLocator(minor))
    ax.set_xlim(-0.3 * linthresh, hi * 1.6 * 10.0 ** (2 * _DODGE))  # no empty negative side; room for a dodge
    ax.set_xlabel(label)


def _decades(linthresh: float, top: float, depth: float):
    """Decade ticks of a symlog axis from −``depth`` to ``top``, 0 included (no negative side when
    ``depth`` < ``linthresh``).  Returns the major ticks (0 and every step-th decade, the smallest
    step that keeps them at most _MAX_TICKS) and the minor ones (every decade)."""
    first = math.ceil(math.log10(linthresh) - 1e-9)
    up = list(range(first, math.floor(math.log10(max(top, linthresh))) + 1))
    down = list(range(first, math.floor(math.log10(depth)) + 1)) if depth >= linthresh else []

    def ticks(keep):
        return [-(10.0 ** e) for e in reversed(down) if keep(e)] + [0.0] + [10.0 ** e for e in up if keep(e)]

    step = next(k for k in (1, 2, 3, 5, 10, 20, 25, 50, 100, 1000)
                if len(ticks(lambda e: e % k == 0)) <= _MAX_TICKS)
    return ticks(lambda e: e % step == 0), ticks(lambda e: True)


def _gap_axis(ax) -> None:
    """A symlog y axis for objective gaps, linear within ±_GAP_LINTHRESH: its negative side only as
    deep as the most negative value drawn (lines and bands), none when no value is below
    −_GAP_LINTHRESH/10; decade ticks (:func:`_decades`)."""
    lo, hi = ax.dataLim.intervaly
    lo, hi = (min(float(lo), 0.0), max(float(hi), 0.0)) if math.isfinite(lo) and math.isfinite(hi) else (0.0, 0.0)
    t = _GAP_LINTHRESH
    ax.set_yscale("symlog", linthresh=t, linscale=1.0)
    top = 2 * max(hi, t)
    negative = lo < -0.1 * t  # not a rounding error of a band at 0
    bottom = -2 * max(-lo, t) if negative else -0.3 * t
    major, minor = _decades(t, top, -bottom if negative else 0.0)
    ax.yaxis.set_major_locator(FixedLocator(major))
    ax.yaxis.set_minor_locator(FixedLocator(minor))
    ax.set_ylim(bottom, top)


def _y_log(ax, *arrays) -> None:
    """A log y axis when every drawn value is positive (at most about _MAX_TICKS labelled decades),
    else linear."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays]) if arrays else np.array([])
    values = values[np.isfinite(values)]
    if values.size and np.all(values > 0):
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(numticks=_MAX_TICKS + 1))


def _drawn_y(ax) -> list:
    return [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]


# ------------------------------------------------------------------ error against λ
def _error_panel(ax, recs, dataset: str, split: str, styles: dict) -> bool:
    """One data set's median ``split`` loss against λ, a line per trainer; the test and validation
    panels star each trainer's validation-chosen λ, the test panel has the trivial predictor's loss.
    True when a median lies below the axis (:func:`_floor_log_axis`)."""
    lines = _trainer_lines(ax, recs, f"{split}_loss", styles)
    trivial = R.median([r.get("trivial_test_loss") for r in recs]) if split == "test" else None
    if trivial is not None:
        ax.axhline(float(_drawable([trivial])[0]), **_TRIVIAL_STYLE, label="trivial predictor (weights 0)")
    if split != "train":
        _best_stars(ax, recs, dataset, lines)
    _lam_axis(ax, [r["lam"] for r in recs])
    _y_log(ax, *_drawn_y(ax))
    below = _floor_log_axis(ax, lines)
    ax.set_ylabel(_loss_label(recs, f"{_SPLIT_WORDS[split]} loss"))
    ax.set_title(text(dataset) if split == "test" else f"{text(dataset)}: {_SPLIT_WORDS[split]} loss")
    return below


def _error_legend_extra(below: bool) -> list:
    """The legend entries of the stars of :func:`_error_panel` and, when drawn, of its ▼."""
    star = _proxy("λ chosen by validation loss (★, trainer's colour)", marker="*", markersize=11)
    return [star] + ([_proxy("median below the axis", marker="v", markersize=8)] if below else [])


def _by_dataset(records) -> list:
    """[(data set, its records)] in order of first appearance."""
    return [(ds, [r for r in records if r["dataset"] == ds]) for ds in R.datasets(records)]


def plot_lambda_error(records) -> Figure:
    """Test loss against λ under L2, one panel per data set: a line per trainer (median over
    seeds, IQR band; the L-BFGS reference dashed), each trainer's validation-chosen λ starred,
    and the trivial predictor's test loss dotted.  Training and validation losses:
    :func:`plot_lambda_error_splits`."""
    records = R.main_records(records)
    if not records:
        return _empty("no L2 records")
    styles, sets = _styles(records), _by_dataset(records)
    fig, axes, spare = _panel_grid(len(sets))
    below = [_error_panel(ax, recs, ds, "test", styles) for ax, (ds, recs) in zip(axes, sets)]
    _shared_legend(fig, axes, spare, _error_legend_extra(any(below)))
    fig.suptitle("Test loss against λ (L2): median over seeds, band = interquartile range")
    return fig


def plot_lambda_error_splits(records) -> Figure:
    """Training and validation loss against λ under L2 (a row per data set), with each trainer's
    validation-chosen λ starred on the validation panel.  A log axis starts a decade below the
    5th percentile of its medians (never below 1e-6 of the largest): the few near-zero training
    losses of unregularized fits are marked ▼ on its bottom edge instead of stretching it."""
    records = R.main_records(records)
    if not records:
        return _empty("no L2 records")
    styles, sets = _styles(records), _by_dataset(records)
    fig, axes = _grid(len(sets), 2)
    below = [_error_panel(ax, recs, ds, split, styles)
             for row, (ds, recs) in zip(axes, sets) for ax, split in zip(row, ("train", "val"))]
    _shared_legend(fig, axes.ravel(), extra=_error_legend_extra(any(below)))
    fig.suptitle("Training and validation loss against λ (L2): median over seeds, band = interquartile range")
    return fig


# ------------------------------------------------------------------ the solution against λ
def plot_weight_norm(records) -> Figure:
    """Σw² of the solution against λ per trainer, with the reference optimum's."""
    records = R.main_records(records)
    if not records:
        return _empty("no L2 records")
    styles, sets = _styles(records), _by_dataset(records)
    fig, axes, spare = _panel_grid(len(sets))
    for ax, (ds, recs) in zip(axes, sets):
        _trainer_lines(ax, recs, "weight_sq_norm", styles)
        _lam_axis(ax, [r["lam"] for r in recs])
        _y_log(ax, *_drawn_y(ax))
        ax.set_ylabel("Σw² of the solution (weights only)")
        ax.set_title(text(ds))
    _shared_legend(fig, axes, spare)
    fig.suptitle("Weight norm against λ (L2): median over seeds, band = interquartile range")
    return fig


def _gap_figure(recs, title: str, empty: str) -> Figure:
    """E − E(reference) against λ per trainer, one panel per data set: the reference at 0
    (dashed) and the band a trainer must end in to count as minimizing E (dotted)."""
    gaps = R.objective_gaps(recs)
    if not gaps:
        return _empty(empty)
    reference = R.reference_medians(recs)
    styles, sets = _styles(gaps), _by_dataset(gaps)
    fig, axes, spare = _panel_grid(len(sets))
    for ax, (ds, mine) in zip(axes, sets):
        _trainer_lines(ax, mine, "gap", styles)
        ax.axhline(0.0, **_REF_STYLE, linewidth=1, label="reference (L-BFGS): gap 0")
        lams = sorted(lam for d, lam in reference if d == ds and reference[d, lam] is not None)
        ax.plot(_drawable(lams), _drawable([R.gap_allowed(reference[ds, lam]) for lam in lams]),
                **_TRIVIAL_STYLE, label="allowed: max(5 %, 0.01) of E(reference)")
        _lam_axis(ax, [r["lam"] for r in mine])
        _gap_axis(ax)
        ax.set_ylabel(_loss_label(mine, "E − E(reference)"))
        ax.set_title(text(ds))
    _shared_legend(fig, axes, spare)
    fig.suptitle(_wrapped(title, fig.get_figwidth()))
    return fig


def plot_objective_gap(records) -> Figure:
    """E reached minus the reference optimum's E, against λ: how well each trainer
    minimizes the penalized error it is given."""
    return _gap_figure(R.main_records(records), "Objective gap to the L-BFGS reference, median over seeds (below 0: "
                       "a better local optimum than the reference)", "no runs with a matching L-BFGS reference")


def plot_l1_sparsity(records) -> Figure:
    """Fraction of exactly-zero and of near-zero (|w| < 1e-3) weights against λ under L1. Each
    trainer has its own colour, marker and line style; a line equal to an earlier one is drawn
    a little to the right (the panel's title says which)."""
    records = R.main_records(records, "l1")
    if not records:
        return _empty("no L1 records")
    styles, sets = _styles(records, dashes=True), _by_dataset(records)
    fig, axes = _grid(len(sets), 2, width=5.2, height=3.8)
    for row, (ds, recs) in zip(axes, sets):
        for ax, (key, what) in zip(row, (("zero_fraction", "exactly 0"), ("near_zero_fraction", "with |w| < 1e-3"))):
            note = _dodged(_trainer_lines(ax, recs, key, styles, dodge=True))
            _lam_axis(ax, [r["lam"] for r in recs], "λ (L1)")
            ax.set_ylim(-0.03, 1.03)
            ax.set_ylabel(f"fraction of weights {what}")
            ax.set_title(f"{text(ds)}: weights {what}" + (f"\n({note})" if note else ""), fontsize=10)
    _shared_legend(fig, axes.ravel())
    fig.suptitle("Sparsity under L1 (weights only, biases excluded): median over seeds, band = interquartile range")
    return fig


# ------------------------------------------------------------------ fits
def _fit_window(panel) -> tuple[float, float]:
    """The y range of a fits figure: the training targets and the true curve, half their span again
    above and below (a wilder fit leaves it; its roughness tells how wild)."""
    ys = np.concatenate([np.ravel(panel["y_train"]), np.ravel([] if panel["truth"] is None else panel["truth"])])
    ys = _drawable(ys[np.isfinite(ys)])
    lo, hi = (float(ys.min()), float(ys.max())) if ys.size else (-1.0, 1.0)
    margin = (hi - lo) / 2 if hi > lo else 1.0
    return lo - margin, hi + margin


def _fit_label(label: str, grid, y, window) -> str:
    """A label of :func:`swarmreg.records.fit_curves` with its λ to three significant digits, the
    curve's roughness ∫ f''(x)² dx (:func:`swarmreg.measures.roughness`), and whether it leaves
    the y ``window``."""
    label = re.sub(r"λ = (\S+)", lambda m: "λ = " + _lam_text(float(m.group(1))), label)
    try:
        with np.errstate(all="ignore"):  # a wild network's curve: its roughness may overflow to inf
            rough = roughness(grid, y)
        label += f"; ∫f''² dx = {rough:.3g}" if math.isfinite(rough) else "; ∫f''² dx > 1e308"
    except ValueError:  # a grid of one point: no roughness
        pass
    return label + (" (leaves the axes)" if np.min(y) < window[0] or np.max(y) > window[1] else "")


def plot_fits(records, dataset: str = "sine") -> Figure:
    """The fitted curve at the smallest λ, at the best λ and at the largest λ, per trainer
    (:func:`swarmreg.records.fit_curves`), on one y axis shared by the panels (the span of the
    training data, half of it again above and below); each curve's roughness ∫ f''(x)² dx in its
    legend."""
    recs = [r for r in R.main_records(records) if r["dataset"] == dataset and R.finished(r)]
    if not recs:
        return _empty(f"no L2 records on {dataset}")
    seed = min(r["seed"] for r in recs)
    names = R.trainer_names(recs)
    fig, axes = _grid(1, len(names), width=3.8, height=3.9, sharey=True)
    for ax, name in zip(axes[0], names):
        panel = R.fit_curves(recs, name, dataset, seed)
        if panel is None:
            ax.set_axis_off()
            continue
        window = _fit_window(panel)
        for label, y in panel["curves"]:
            ax.plot(panel["grid"], _drawable(y), label=_fit_label(label, panel["grid"], y, window))
        if panel["truth"] is not None:
            ax.plot(panel["grid"], panel["truth"], color="gray", linestyle=":", label="true curve")
        ax.plot(panel["x_train"], panel["y_train"], "ko", markersize=4, label="training data")
        ax.set_ylim(*window)  # the same for every trainer: one seed's split
        ax.set_xlabel("x (input, original units)")
        ax.set_title(_label(recs, name))
        _legend_below(ax)
    axes[0, 0].set_ylabel("y (target, original units)")
    fig.suptitle(f"Fits on {text(dataset)} (seed {seed}) at the smallest, the validation-chosen and the largest λ")
    return fig


# ------------------------------------------------------------------ over training
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
    fig, axes = _grid(1, len(names), height=3.6)
    colors = {lam: f"C{i}" for i, lam in enumerate(picks)}
    for ax, name in zip(axes[0], names):
        seen = []
        for lam in picks:
            r = next((r for r in recs if r["trainer"] == name and r["lam"] == lam and r["seed"] == seed), None)
            if r is None or "weight_sq_norm" not in r["history"] or "iteration" not in r["history"]:
                continue
            h = r["history"]
            sq = np.array([np.nan if v is None else v for v in h["weight_sq_norm"]], dtype=float)
            drawn = _drawable(sq)
            seen.append(drawn[np.isfinite(drawn) & (drawn > 0)])
            ax.plot(h["iteration"], drawn, color=colors[lam], label=f"λ = {_lam_text(lam)}")
            envelope = R.decay_envelope(r)
            if envelope is not None and lam > 0 and np.isfinite(sq[0]):
                with np.errstate(over="ignore", invalid="ignore"):
                    alone = _drawable(sq[0] * envelope)
                ax.plot(h["iteration"], alone, color=colors[lam], linestyle=":", linewidth=1, label="_alone")
        seen = np.concatenate(seen) if seen else np.array([])
        if seen.size:  # the trajectories set the scale; the decay-alone curves may leave it
            low, high = max(seen.min() / 3, 1 / _DRAW_LIMIT), min(seen.max() * 3, _DRAW_LIMIT)
            if low < high:
                ax.set_ylim(low, high)
            ax.set_yscale("log")
        ax.set_xlabel("epoch" if R.kind_of(recs, name) == "backprop" else "iteration")
        ax.set_ylabel("Σw² of the best particle\n(weights only)" if R.kind_of(recs, name) == "swarm"
                      else "Σw² (weights only)")
        ax.set_title(text(name))
    drawn = any(line.get_label() == "_alone" for ax in axes.ravel() for line in ax.get_lines())
    alone = [(Line2D([], [], color="gray", linestyle=":"), "dotted: the decay alone from backprop's start")]
    _shared_legend(fig, axes.ravel(), extra=alone if drawn else ())
    fig.suptitle(f"Weight decay over training on {text(dataset)} (seed {seed})")
    return fig


def plot_convention_shift(records, dataset: str | None = None) -> Figure:
    """Test error against the raw knob (coupled L2 λ, or the decay fraction d per
    step, at several learning rates), and against the canonical λ
    (:func:`swarmreg.records.convention_records`)."""
    dataset, recs = R.convention_records(records, dataset)
    if not recs:
        return _empty("no decay-fraction (lam_as = decay_fraction) records")
    fig, axes = _grid(1, 2, width=5.5, height=3.8)
    for i, name in enumerate(R.trainer_names(recs)):
        rs = [r for r in recs if r["trainer"] == name]
        style = {"color": f"C{i % 10}", "marker": _MARKERS[i % len(_MARKERS)],
                 "linestyle": "-" if rs[0]["lam_as"] != R.PENALTY else "--"}
        for ax, x in zip(axes[0], ("lam", "canonical_lam")):
            xs, med, q1, q3 = R.summarize(rs, "test_loss", x=x)
            if len(xs):
                _line(ax, xs, med, q1, q3, text(name), **style)
    _lam_axis(axes[0, 0], [r["lam"] for r in recs], "raw knob: λ (coupled L2) or d (fraction per step)")
    _lam_axis(axes[0, 1], [r["canonical_lam"] for r in recs], "canonical λ (swarmreg.conventions)")
    for ax in axes[0]:
        ax.set_ylabel(_loss_label(recs, "test loss"))
    axes[0, 0].set_title("against the raw knob")
    axes[0, 1].set_title("against the canonical λ")
    _shared_legend(fig, axes.ravel())
    fig.suptitle(f"Coupled L2 and the decay fraction d per step ({text(dataset)}): median over seeds, "
                 "band = interquartile range")
    return fig


def _samples(r):
    """Samples through the network at each row of a record's history: forward plus backward
    passes (a swarm or CMA-ES makes none backward); None when the history cannot say."""
    h = r["history"]
    forward, backward = h.get("forward_samples"), h.get("backward_samples")
    if forward is None or (backward is None and r["backward_samples"]):
        return None
    backward = [0] * len(forward) if backward is None else backward
    return [None if f is None or b is None else f + b for f, b in zip(forward, backward)]


def _seconds(r):
    return r["history"].get("seconds")


def plot_convergence(records, lam: float | None = None, dataset: str | None = None) -> Figure:
    """E against the samples put through the network (forward + backward passes: the work of
    a gradient step counted in full) and against seconds, every trainer, at one λ."""
    recs = [r for r in R.main_records(records) if R.finished(r)]
    if dataset is None and recs:
        dataset = R.datasets(recs)[0]
    recs = [r for r in recs if r["dataset"] == dataset]
    if not recs:
        return _empty("no L2 records")
    if lam is None:
        lam = R.middle_lambda(recs)
    recs = [r for r in recs if r["lam"] == lam]
    styles = _styles(recs)
    fig, axes = _grid(1, 2, width=5.5, height=3.8)
    for ax, at, label in ((axes[0, 0], _samples, "samples through the network: forward + backward passes"),
                          (axes[0, 1], _seconds, "wall time (seconds)")):
        for name in R.trainer_names(recs):
            curves = [(x, r["history"].get("value", [])) for r in recs if r["trainer"] == name
                      and (x := at(r)) is not None]
            res = R.median_curve_on_log_grid(curves)
            if res is not None:
                _line(ax, *res, _label(recs, name), **{**styles[name], "marker": None})
        ax.set_xscale("log")
        _y_log(ax, *_drawn_y(ax))
        ax.set_xlabel(label)
        ax.set_ylabel(_loss_label(recs, "E = D + R, training data"))
    _shared_legend(fig, axes.ravel())
    fig.suptitle(f"Convergence per unit of work on {text(dataset)} at λ = {_lam_text(lam)}: median over seeds, "
                 "band = interquartile range")
    return fig


# ------------------------------------------------------------------ swarms and adaptive steps
def plot_swarm_variants(records) -> Figure:
    """The objective gap against λ of every swarm variant and CMA-ES (the
    records of :func:`swarmreg.records.variant_records`), one panel per data
    set, with the band a trainer must end in to count as minimizing E."""
    return _gap_figure(R.variant_records(records), "Swarm variants and CMA-ES at the same budget: objective gap "
                       "to the L-BFGS optimum, median over seeds", "no gradient-free runs with a matching L-BFGS "
                       "reference")


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
    styles = _styles(mine)
    fig, axes = _grid(1, 3, width=5.0, height=3.6)
    ax = axes[0, 0]
    curves = R.diversity_curves(mine, swarm, ds)
    lams = sorted(curves)
    shown = [lams[i] for i in sorted({int(round(k)) for k in np.linspace(0, len(lams) - 1, min(5, len(lams)))})]
    for lam in shown:
        it, div = curves[lam]
        ax.plot(_drawable(it), _drawable(div), label=f"λ = {_lam_text(lam)}")
    _y_log(ax, *[curves[lam][1] for lam in shown])
    ax.set_xlabel("iteration")
    ax.set_ylabel("diversity: mean Euclidean distance\nof the particles to their centroid")
    ax.set_title(text(f"{swarm} on {ds}"))
    _legend_right(ax)
    for ax, key, label in ((axes[0, 1], "saturation", "saturated hidden activations (fraction)"),
                           (axes[0, 2], "effective_weights", f"weights with |w| > {R.EFFECTIVE_WEIGHT:g} (count)")):
        _trainer_lines(ax, mine, key, styles)
        _lam_axis(ax, [r["lam"] for r in mine])
        ax.set_ylabel(label)
        ax.set_title(text(ds))
    _legend_right(axes[0, 2])
    fig.suptitle("The swarm under the penalty: diversity, saturation and effective size (median over seeds, "
                 "band = interquartile range)")
    return fig


def plot_adaptive_decay(records) -> Figure:
    """SGD, Adam and AdamW under L2 (the records of :func:`swarmreg.records.adaptive_records`):
    per data set, Σw² and the test loss against the nominal λ, and the effective λ of each
    solution (``effective_lam``) against the nominal one with the diagonal where the two agree,
    beside the relative residual that says how far the solution is from any L2 optimum."""
    recs = [r for r in R.adaptive_records(records) if R.finished(r)]
    if not recs:
        return _empty("no backprop L2 records of a sweep with Adam")
    styles, sets = _styles(recs), _by_dataset(recs)
    fig, axes = _grid(len(sets), 4, width=4.0, height=3.3)
    for row, (ds, mine) in zip(axes, sets):
        lams = [r["lam"] for r in mine]
        for ax, key, label in ((row[0], "weight_sq_norm", "Σw² of the solution (weights only)"),
                               (row[1], "test_loss", _loss_label(mine, "test loss"))):
            _trainer_lines(ax, mine, key, styles)
            _lam_axis(ax, lams, "nominal λ")
            _y_log(ax, *_drawn_y(ax))
            ax.set_ylabel(label)
            ax.set_title(text(ds))
        positive = [r for r in mine if r["lam"] > 0]
        ax, res_ax = row[2], row[3]
        for key, target in (("effective_lam", ax), ("effective_lam_residual", res_ax)):
            _trainer_lines(target, positive, key, styles)
        pos = [v for v in lams if v > 0]
        if pos:
            ends = _drawable([min(pos), max(pos)])
            ax.plot(ends, ends, color="gray", linestyle=":", linewidth=1.2, label="effective = nominal")
        for target in (ax, res_ax):
            _lam_axis(target, pos, "nominal λ")
            _y_log(target, *_drawn_y(target))
        ax.set_ylabel("effective λ: −(∇D·w)/(w·w)")
        ax.set_title(f"{text(ds)}: the λ the solution means")
        res_ax.set_ylabel("relative residual ‖∇D + λ*w‖ / ‖∇D‖")
        res_ax.set_title(f"{text(ds)}: stationarity residual")
    _shared_legend(fig, axes.ravel())
    fig.suptitle("Adaptive decay: L2 in the gradient (SGD, Adam) against decoupled decay (AdamW, SGD with momentum), "
                 "median over seeds, band = interquartile range")
    return fig
