"""Figures of how λ behaves under each trainer, drawn from sweep records.

Every function takes a list of records (the dicts of ``results.jsonl``, see
:func:`swarmreg.experiment.run_one`) and returns a matplotlib ``Figure``; none
of them sees a trainer.  Medians over seeds are drawn as lines with the
interquartile range as a band; λ axes are symlog so that λ = 0 is shown.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import SymmetricalLogLocator

from .data import load_dataset, sine_curve
from .model import MLP

__all__ = [
    "plot_lambda_error", "plot_weight_norm", "plot_objective_gap", "plot_l1_sparsity", "plot_fits",
    "plot_decay_trajectory", "plot_convention_shift", "plot_convergence",
    "main_records", "best_lambda", "summarize", "trainer_names", "REFERENCE_KIND",
]

REFERENCE_KIND = "lbfgs"
_REF_STYLE = {"color": "black", "linestyle": "--"}


# ------------------------------------------------------------------ selection
def _ok(r: dict) -> bool:
    """A record that finished with finite numbers (diverged runs are left out of curves)."""
    return r.get("status") != "diverged" and r.get("value") is not None


def convention_sweeps(records) -> set:
    """Names of the sweeps that study conventions: those with decay-fraction runs."""
    return {r.get("sweep") for r in records if r.get("lam_as") == "weight_decay"}


def main_records(records, penalty: str = "l2") -> list[dict]:
    """Records whose λ is a penalty strength of the given kind, outside the
    convention sweeps (those are drawn by :func:`plot_convention_shift` only)."""
    skip = convention_sweeps(records)
    return [r for r in records if r.get("penalty") == penalty and r.get("lam_as", "penalty") == "penalty"
            and r.get("sweep") not in skip]


def trainer_names(records) -> list[str]:
    """Trainer configuration names in order of first appearance, the reference last."""
    names = list(dict.fromkeys(r["trainer"] for r in records))
    return sorted(names, key=lambda n: any(r["kind"] == REFERENCE_KIND for r in records if r["trainer"] == n))


def _kind(records, name: str) -> str:
    return next(r["kind"] for r in records if r["trainer"] == name)


def summarize(records, key: str, x: str = "lam"):
    """Median and quartiles of ``key`` over seeds, per x value.

    Returns
    -------
    xs, median, q1, q3 : ndarray, each of shape (m,)
        Sorted x values with at least one finite ``key``.
    """
    groups = defaultdict(list)
    for r in records:
        v = r.get(key)
        if _ok(r) and v is not None and math.isfinite(v):
            groups[r[x]].append(v)
    xs = np.array(sorted(groups))
    if not len(xs):
        return xs, xs, xs, xs
    q = np.array([np.percentile(groups[v], [50, 25, 75]) for v in xs])
    return xs, q[:, 0], q[:, 1], q[:, 2]


def best_lambda(records, trainer: str, dataset: str, key: str = "val_loss"):
    """The λ with the smallest median validation error of one trainer on one data set
    (never chosen on test error); None when nothing finished."""
    xs, med, _, _ = summarize([r for r in records if r["trainer"] == trainer and r["dataset"] == dataset], key)
    return None if not len(xs) else float(xs[int(np.argmin(med))])


# ------------------------------------------------------------------ drawing
def _line(ax, xs, med, q1, q3, label, marker="o", **style):
    (line,) = ax.plot(xs, med, marker=marker, markersize=3, label=label, **style)
    ax.fill_between(xs, q1, q3, color=line.get_color(), alpha=0.18, linewidth=0)
    return line


def _style(records, name):
    return dict(_REF_STYLE) if _kind(records, name) == REFERENCE_KIND else {}


def _label(records, name):
    return f"{name} (reference)" if _kind(records, name) == REFERENCE_KIND else name


def _trainer_lines(ax, recs, key: str) -> dict:
    """One median line (with its IQR band) of ``key`` against λ per trainer;
    returns the drawn lines by trainer name."""
    lines = {}
    for name in trainer_names(recs):
        xs, med, q1, q3 = summarize([r for r in recs if r["trainer"] == name], key)
        if len(xs):
            lines[name] = (xs, med, _line(ax, xs, med, q1, q3, _label(recs, name), **_style(recs, name)))
    return lines


def _lam_axis(ax, lams, label="λ"):
    """symlog x axis with a linear part below the smallest positive λ, so λ = 0 shows."""
    pos = [v for v in lams if v > 0]
    linthresh = min(pos) if pos else 1.0
    ax.set_xscale("symlog", linthresh=linthresh, linscale=0.5)
    ax.set_xlim(-0.3 * linthresh, 1.6 * max(pos) if pos else 1.0)  # no empty negative side
    ax.set_xlabel(label)


def _panel_grid(n: int, cols: int = 3):
    """A grid for n per-data-set panels, at most ``cols`` wide; spare axes hidden.
    Returns the figure and the n axes in order."""
    rows, cols = (n + cols - 1) // cols, min(n, cols)
    fig, axes = _grid(rows, cols)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _grid(n_rows, n_cols, width=4.2, height=3.2):
    fig = Figure(figsize=(width * n_cols, height * n_rows), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    return fig, axes


def _empty(message: str) -> Figure:
    fig = Figure(figsize=(6, 2.5))
    ax = fig.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


def _datasets(records):
    return list(dict.fromkeys(r["dataset"] for r in records))


def _loss_name(records) -> str:
    task = records[0].get("task") if records else None
    return "mean data loss D" + (" (cross-entropy)" if task == "classification" else " (MSE)" if task else "")


# ------------------------------------------------------------------ figures
def plot_lambda_error(records) -> Figure:
    """Train, validation and test error against λ, one line per trainer, the
    L-BFGS reference dashed; each trainer's best λ (by validation error) marked."""
    records = main_records(records)
    if not records:
        return _empty("no L2 records")
    datasets = _datasets(records)
    fig, axes = _grid(len(datasets), 3)
    for i, ds in enumerate(datasets):
        recs = [r for r in records if r["dataset"] == ds]
        for j, split in enumerate(("train", "val", "test")):
            ax = axes[i, j]
            for name, (xs, med, line) in _trainer_lines(ax, recs, f"{split}_loss").items():
                best = best_lambda(recs, name, ds)
                if best is not None and best in xs:
                    k = int(np.flatnonzero(xs == best)[0])
                    ax.plot([best], [med[k]], marker="*", markersize=13, color=line.get_color(),
                            markeredgecolor="black", linestyle="none")
            _lam_axis(ax, [r["lam"] for r in recs])
            ax.set_yscale("log")
            ax.set_ylabel(_loss_name(recs))
            ax.set_title(f"{ds}: {'validation' if split == 'val' else split} error")
    axes[0, 0].plot([], [], marker="*", markersize=10, color="gray", linestyle="none",
                    label="best λ (validation)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Error against λ (L2): median over seeds, band = interquartile range")
    return fig


def plot_weight_norm(records) -> Figure:
    """Σw² of the solution against λ per trainer, with the reference optimum's."""
    records = main_records(records)
    if not records:
        return _empty("no L2 records")
    datasets = _datasets(records)
    fig, axes = _panel_grid(len(datasets))
    for ax, ds in zip(axes, datasets):
        recs = [r for r in records if r["dataset"] == ds]
        _trainer_lines(ax, recs, "weight_sq_norm")
        _lam_axis(ax, [r["lam"] for r in recs])
        ax.set_yscale("log")
        ax.set_ylabel("Σw² of the solution (weights only)")
        ax.set_title(ds)
    axes[0].legend(fontsize=7)
    fig.suptitle("Weight norm against λ (L2)")
    return fig


def objective_gaps(records) -> list[dict]:
    """E reached minus the reference's E on the same data set, λ and seed, per record."""
    ref = {(r["dataset"], r["penalty"], r["lam"], r["seed"]): r["value"]
           for r in records if r["kind"] == REFERENCE_KIND and _ok(r)}
    out = []
    for r in records:
        key = (r["dataset"], r["penalty"], r["lam"], r["seed"])
        if r["kind"] != REFERENCE_KIND and _ok(r) and key in ref:
            out.append({**r, "gap": r["value"] - ref[key]})
    return out


def plot_objective_gap(records) -> Figure:
    """E reached minus the reference optimum's E, against λ: how well each trainer
    minimizes the penalized error it is given."""
    gaps = objective_gaps(main_records(records))
    if not gaps:
        return _empty("no runs with a matching L-BFGS reference")
    datasets = _datasets(gaps)
    fig, axes = _panel_grid(len(datasets))
    for ax, ds in zip(axes, datasets):
        recs = [r for r in gaps if r["dataset"] == ds]
        _trainer_lines(ax, recs, "gap")
        ax.axhline(0.0, **_REF_STYLE, linewidth=1, label="reference (L-BFGS)")
        _lam_axis(ax, [r["lam"] for r in recs])
        # linear within ±1e-6 (numerically equal), then one tick every two decades
        ax.set_yscale("symlog", linthresh=1e-6, linscale=0.5)
        ax.yaxis.set_major_locator(SymmetricalLogLocator(linthresh=1e-6, base=100))
        ax.set_ylabel("E − E(reference)")
        ax.set_title(ds)
    axes[0].legend(fontsize=7)
    fig.suptitle("Objective gap to the L-BFGS reference (below 0: a better local optimum than the reference)")
    return fig


def plot_l1_sparsity(records) -> Figure:
    """Fraction of exactly-zero and of near-zero (|w| < 1e-3) weights against λ under L1."""
    records = main_records(records, "l1")
    if not records:
        return _empty("no L1 records")
    datasets = _datasets(records)
    fig, axes = _grid(len(datasets), 2)
    for i, ds in enumerate(datasets):
        recs = [r for r in records if r["dataset"] == ds]
        for j, (key, title) in enumerate((("zero_fraction", "exactly zero"), ("near_zero_fraction", "|w| < 1e-3"))):
            ax = axes[i, j]
            _trainer_lines(ax, recs, key)
            _lam_axis(ax, [r["lam"] for r in recs], "λ (L1)")
            ax.set_ylim(-0.03, 1.03)
            ax.set_ylabel(f"fraction of weights {title}")
            ax.set_title(f"{ds}: weights {title}")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Sparsity under L1: subgradient vs proximal backprop, swarm, reference")
    return fig


def _fit_problem(record):
    """The data set split and the network of a 1-input regression record."""
    cfg = record["config"]
    ds = load_dataset(record["dataset"], seed=cfg["seed"], test_fraction=cfg["test_fraction"],
                      validation_fraction=cfg["validation_fraction"])
    return ds, MLP((1, *cfg["model"]["hidden"], 1), hidden=cfg["model"]["activation"])


def _fit_curve(record, ds, model, x):
    """The fitted function of the record on raw inputs x (m,), in raw target units."""
    y = model.forward(np.array(record["theta"], dtype=float), ds.scale_features(x[:, None]))[:, 0]
    return ds.unscale_target(y)


def plot_fits(records, dataset: str = "sine") -> Figure:
    """The fitted curve at λ = 0, at the best λ and at a too-large λ, per trainer:
    wiggly to smooth."""
    recs = [r for r in main_records(records) if r["dataset"] == dataset and _ok(r)]
    if not recs:
        return _empty(f"no L2 records on {dataset}")
    seed = min(r["seed"] for r in recs)
    names = trainer_names(recs)
    fig, axes = _grid(1, len(names), width=3.8)
    for j, name in enumerate(names):
        ax = axes[0, j]
        rs = [r for r in recs if r["trainer"] == name and r["seed"] == seed]
        lams = sorted({r["lam"] for r in rs})
        if not lams:
            continue
        best = best_lambda(recs, name, dataset)
        chosen = [(lams[0], "λ = 0" if lams[0] == 0 else f"λ = {lams[0]:g}"),
                  (best, f"best λ = {best:g}" if best is not None else ""), (lams[-1], f"large λ = {lams[-1]:g}")]
        chosen = [(lam, label) for lam, label in chosen if lam is not None]
        ds, model = _fit_problem(rs[0])  # the seed's split, the same for every λ
        grid = np.linspace(ds.raw_X_train.min(), ds.raw_X_train.max(), 300)
        for lam, label in chosen:
            r = next((r for r in rs if r["lam"] == lam), None)
            if r is not None:
                ax.plot(grid, _fit_curve(r, ds, model, grid), label=label)
        if dataset == "sine":
            ax.plot(grid, sine_curve(grid), color="gray", linestyle=":", label="true curve")
        ax.plot(ds.raw_X_train[:, 0], ds.unscale_target(ds.y_train), "ko", markersize=4, label="training data")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(_label(recs, name))
        ax.legend(fontsize=7)
    fig.suptitle(f"Fits on {dataset} (seed {seed}): from wiggly (λ = 0) to smooth to too flat")
    return fig


def pure_decay(record):
    """Σw²(epoch) / Σw²(0) of coupled-L2 backprop if the data gradient were zero:
    per step v ← μ·v + λ·w, w ← w − η·v (with μ = 0: w shrinks by (1 − ηλ) per step).

    Returns None for records that are not coupled-L2 backprop.
    """
    settings = record.get("trainer_config") or record["config"]["trainer"]["settings"]
    if record["kind"] != "backprop" or record.get("penalty") != "l2" or record.get("lam_as") != "penalty" \
            or settings.get("decay", "coupled") != "coupled" or settings.get("weight_decay", 0.0):
        return None
    h = record["history"]
    lr, mu, lam = settings.get("lr", 0.1), settings.get("momentum", 0.0), record["lam"]
    epochs = np.asarray(h["iteration"], dtype=int)
    per_epoch = record["backward_samples"] / max(record["iterations"], 1)  # samples seen per epoch
    batch = settings.get("batch_size") or per_epoch
    steps = int(math.ceil(per_epoch / batch)) if per_epoch else 1
    w, v, out = 1.0, 0.0, np.empty(len(epochs))
    done = 0
    for i, e in enumerate(epochs):
        for _ in range(e * steps - done):
            v = mu * v + lam * w
            w -= lr * v
        done = e * steps
        out[i] = w * w
    return out


def plot_decay_trajectory(records, dataset: str | None = None) -> Figure:
    """Σw² over training for several λ: backprop's geometric shrink beside the
    swarm's best particle; dotted, what the decay alone would do to backprop's
    starting weights (:func:`pure_decay`)."""
    recs = [r for r in main_records(records) if _ok(r) and r["kind"] != REFERENCE_KIND]
    if dataset is None and recs:
        dataset = _datasets(recs)[0]
    recs = [r for r in recs if r["dataset"] == dataset]
    if not recs:
        return _empty("no L2 records")
    seed = min(r["seed"] for r in recs)
    names = trainer_names(recs)
    lams = sorted({r["lam"] for r in recs})
    picks = sorted({lams[int(round(k))] for k in np.linspace(0, len(lams) - 1, min(4, len(lams)))})
    fig, axes = _grid(1, len(names))
    colors = {lam: f"C{i}" for i, lam in enumerate(picks)}
    for j, name in enumerate(names):
        ax = axes[0, j]
        seen = []
        for lam in picks:
            r = next((r for r in recs if r["trainer"] == name and r["lam"] == lam and r["seed"] == seed), None)
            if r is None:
                continue
            h = r["history"]
            sq = np.asarray(h["weight_sq_norm"], dtype=float)
            seen.append(sq[np.isfinite(sq) & (sq > 0)])
            ax.plot(h["iteration"], sq, color=colors[lam], label=f"λ = {lam:g}")
            envelope = pure_decay(r)
            if envelope is not None and lam > 0:
                ax.plot(h["iteration"], sq[0] * envelope, color=colors[lam], linestyle=":",
                        linewidth=1, label="decay alone" if lam == picks[-1] else None)
        seen = np.concatenate(seen) if seen else np.array([])
        if seen.size:  # the trajectories set the scale; the decay-alone curves may leave it
            ax.set_ylim(seen.min() / 3, seen.max() * 3)
        ax.set_yscale("log")
        ax.set_xlabel("epoch" if _kind(recs, name) == "backprop" else "iteration")
        ax.set_ylabel("Σw² (best particle)" if _kind(recs, name) == "swarm" else "Σw²")
        ax.set_title(name)
        ax.legend(fontsize=7)
    fig.suptitle(f"Weight decay over training on {dataset} (seed {seed})")
    return fig


def plot_convention_shift(records, dataset: str | None = None) -> Figure:
    """Test error against the raw knob (coupled L2 λ, or the decoupled fraction d
    per step, at several learning rates), and against the canonical λ where the
    curves line up."""
    # the sweeps that hold decoupled-fraction runs, and their backprop L2 runs
    sweeps = convention_sweeps(records)
    recs = [r for r in records if r.get("sweep") in sweeps and r["kind"] == "backprop" and r.get("penalty") == "l2"]
    if dataset is None and recs:
        dataset = _datasets(recs)[0]
    recs = [r for r in recs if r["dataset"] == dataset]
    if not any(r["lam_as"] == "weight_decay" for r in recs):
        return _empty("no decoupled-fraction (lam_as = weight_decay) records")
    fig, axes = _grid(1, 2, width=5.5, height=3.8)
    for name in trainer_names(recs):
        rs = [r for r in recs if r["trainer"] == name]
        fraction = rs[0]["lam_as"] == "weight_decay"
        style = {"linestyle": "-" if fraction else "--"}
        for ax, x in zip(axes[0], ("lam", "canonical_lam")):
            xs, med, q1, q3 = summarize(rs, "test_loss", x=x)
            if len(xs):
                _line(ax, xs, med, q1, q3, name, **style)
    _lam_axis(axes[0, 0], [r["lam"] for r in recs], "raw knob: λ (coupled L2) or d (fraction per step)")
    _lam_axis(axes[0, 1], [r["canonical_lam"] for r in recs], "canonical λ (swarmreg.conventions)")
    for ax in axes[0]:
        ax.set_ylabel("test " + _loss_name(recs))
    axes[0, 0].set_title("against the raw knob: curves disagree")
    axes[0, 1].set_title("against the canonical λ: curves line up")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"The simplified decay changes the meaning of λ ({dataset})")
    return fig


def _interp_median(curves, grid):
    """Median and quartiles of step curves (x, y) evaluated on a common x grid."""
    ys = []
    for x, y in curves:
        x, y = np.asarray(x, float), np.asarray(y, float)
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        if len(x) == 0:
            continue
        # before its first row a run has no value; after its last it stays where it stopped
        v = np.interp(grid, x, y, left=np.nan, right=y[-1])
        ys.append(v)
    if not ys:
        return None
    ys = np.array(ys)
    with np.errstate(all="ignore"):
        ok = np.isfinite(ys).sum(axis=0) > 0
        q = np.nanpercentile(ys[:, ok], [50, 25, 75], axis=0) if ok.any() else None
    return (grid[ok], *q) if q is not None else None


def plot_convergence(records, lam: float | None = None, dataset: str | None = None) -> Figure:
    """E against forward samples spent and against seconds, every trainer, at one λ."""
    recs = [r for r in main_records(records) if _ok(r)]
    if dataset is None and recs:
        dataset = _datasets(recs)[0]
    recs = [r for r in recs if r["dataset"] == dataset]
    if not recs:
        return _empty("no L2 records")
    if lam is None:
        pos = sorted({r["lam"] for r in recs if r["lam"] > 0})
        lam = pos[len(pos) // 2] if pos else 0.0
    recs = [r for r in recs if r["lam"] == lam]
    fig, axes = _grid(1, 2, width=5.5, height=3.8)
    for ax, x, label in ((axes[0, 0], "forward_samples", "forward samples spent (single-sample passes)"),
                         (axes[0, 1], "seconds", "seconds")):
        for name in trainer_names(recs):
            rs = [r for r in recs if r["trainer"] == name]
            curves = [(r["history"][x], r["history"]["value"]) for r in rs]
            xmax = max((max((v for v in c[0] if v is not None), default=0) for c in curves), default=0)
            xmin = min((min((v for v in c[0] if v is not None and v > 0), default=xmax) for c in curves),
                       default=xmax)
            if not xmax or xmin <= 0:
                continue
            grid = np.geomspace(xmin, xmax, 120)
            res = _interp_median([(np.array(c[0], dtype=float), np.array(c[1], dtype=float)) for c in curves], grid)
            if res is not None:
                _line(ax, *res, _label(recs, name), marker=None, **_style(recs, name))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("E = D + R (training data)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Convergence per unit of work on {dataset} at λ = {lam:g} (median over seeds)")
    return fig
