"""Plot functions on small hand-made records: the drawn numbers are the records' numbers."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from swarmreg import MLP, plots
from swarmreg.backprop import BackpropTrainer
from swarmreg import records as R
from swarmreg.data import load_dataset, sine_curve
from swarmreg.measures import roughness


def record(trainer, kind, lam, seed, *, dataset="iris", val=1.0, test=1.0, train=1.0, value=1.0, sq=1.0,
           zero=0.0, near=0.0, penalty="l2", lam_as="penalty", canonical=None, sweep="s", settings=None,
           status="max_iter", history=None, theta=None, task="classification", trivial=None):
    settings = settings or {}
    h = history or {"iteration": [0, 1, 2], "value": [3.0, 2.0, value], "weight_sq_norm": [1.0, sq * 2, sq],
                    "forward_samples": [10, 20, 30], "backward_samples": [0, 10, 20], "seconds": [0.0, 0.1, 0.2]}
    return {
        "id": f"{trainer}-{lam}-{seed}-{dataset}", "spec_hash": None, "sweep": sweep, "dataset": dataset, "task": task,
        "trainer": trainer, "kind": kind, "lam": lam, "lam_as": lam_as,
        "canonical_lam": lam if canonical is None else canonical, "penalty": penalty, "seed": seed,
        "config": {"seed": seed, "test_fraction": 0.25, "validation_fraction": 0.2,
                   "model": {"hidden": [3], "activation": "tanh"}, "trainer": {"settings": settings}},
        "trainer_config": settings,
        "value": value, "data_loss": value, "penalty_value": 0.0, "weight_sq_norm": sq, "zero_fraction": zero,
        "near_zero_fraction": near, "forward_samples": 30, "backward_samples": 20, "iterations": 2,
        "seconds": 0.2, "status": status, "theta": theta or [], "history": h,
        "train_loss": train, "val_loss": val, "test_loss": test, "test_accuracy": 0.9, "test_rmse": None,
        "train_accuracy": 0.9, "val_accuracy": 0.9, "train_rmse": None, "val_rmse": None,
        "trivial_test_loss": trivial,
    }


@pytest.fixture
def l2_records():
    """Two trainers and the reference, λ ∈ {0, 0.01, 1}, three seeds, numbers chosen by hand."""
    recs = []
    for seed in range(3):
        for lam, val, test in ((0.0, 0.5, 0.1), (0.01, 0.2, 0.4), (1.0, 0.9, 0.9)):
            recs.append(record("bp", "backprop", lam, seed, val=val + seed * 0.01, test=test + seed, value=2.0 + lam,
                               sq=10.0 / (1 + lam)))
            recs.append(record("sw", "swarm", lam, seed, val=val * 2, test=test * 2, value=2.5 + lam, sq=20.0))
            recs.append(record("ref", "lbfgs", lam, seed, val=val, test=test, value=1.5 + lam + seed, sq=5.0))
    return recs


def test_summarize_is_median_and_quartiles_over_seeds(l2_records):
    xs, med, q1, q3 = R.summarize([r for r in l2_records if r["trainer"] == "bp"], "test_loss")
    np.testing.assert_array_equal(xs, [0.0, 0.01, 1.0])
    # test losses over seeds at λ = 0: 0.1, 1.1, 2.1
    np.testing.assert_allclose(med, [1.1, 1.4, 1.9])
    np.testing.assert_allclose(q1, [0.6, 0.9, 1.4])
    np.testing.assert_allclose(q3, [1.6, 1.9, 2.4])


def test_diverged_and_missing_values_stay_out_of_the_curves(l2_records):
    recs = [r for r in l2_records if r["trainer"] == "bp"]
    recs.append(record("bp", "backprop", 0.0, 9, test=1e9, status="diverged"))
    recs.append(record("bp", "backprop", 0.0, 10, test=None))
    xs, med, _, _ = R.summarize(recs, "test_loss")
    assert med[0] == pytest.approx(1.1)


def test_best_lambda_uses_validation_never_test(l2_records):
    # validation is lowest at λ = 0.01 while test is lowest at λ = 0
    assert R.best_lambda(l2_records, "bp", "iris") == 0.01
    assert R.best_lambda(l2_records, "bp", "iris", key="test_loss") == 0.0


def legend_labels(fig) -> list:
    """Every label of the figure's legends (its own and its axes')."""
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def legends_clear_of_data(fig) -> bool:
    """No legend box overlaps the data area of a visible axes it is not drawn in."""
    fig.draw_without_rendering()
    boxes = [legend.get_window_extent() for legend in fig.legends]
    boxes += [ax.get_legend().get_window_extent() for ax in fig.axes if ax.get_legend() is not None
              and ax.axison]  # a legend in a spare (axis-less) panel stands in free space
    data = [ax.get_window_extent() for ax in fig.axes if ax.get_visible() and ax.axison]
    return not any(b.overlaps(a) for b in boxes for a in data)


def panels(fig) -> list:
    """The axes that show data (not a hidden spare one, nor one that holds the legend)."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison]


def test_lambda_error_draws_the_test_medians_and_marks_the_best(l2_records):
    for r in l2_records:
        r["trivial_test_loss"] = 1.5
    fig = plots.plot_lambda_error(l2_records)
    assert isinstance(fig, Figure)
    (test_ax,) = panels(fig)  # one data set: one panel, the test loss only
    assert test_ax.get_xscale() == "symlog" and test_ax.get_xlabel() == "λ"
    assert test_ax.get_ylabel() == "test loss (cross-entropy, nats)"
    lines = {l.get_label(): l for l in test_ax.get_lines()}
    np.testing.assert_allclose(lines["bp"].get_ydata(), [1.1, 1.4, 1.9])
    np.testing.assert_allclose(lines["sw"].get_ydata(), [0.2, 0.8, 1.8])
    assert lines["ref (reference)"].get_linestyle() == "--"
    assert lines["bp"].get_marker() != lines["sw"].get_marker()
    np.testing.assert_allclose(lines["trivial predictor (weights 0)"].get_ydata(), [1.5, 1.5])
    # all three choose λ = 0.01 on validation: three stars there, nested so that none hides another
    stars = [l for l in test_ax.get_lines() if l.get_marker() == "*"]
    assert sorted(float(s.get_xdata()[0]) for s in stars) == [0.01, 0.01, 0.01]
    by_size = sorted(stars, key=lambda s: -s.get_markersize())
    assert len({s.get_markersize() for s in stars}) == 3
    assert [s.get_zorder() for s in by_size] == sorted(s.get_zorder() for s in stars)  # the smaller on top
    assert [s.get_color() for s in by_size] == [lines[n].get_color() for n in ("bp", "sw", "ref (reference)")]
    labels = legend_labels(fig)
    assert {"bp", "sw", "ref (reference)", "trivial predictor (weights 0)"} <= set(labels)
    assert any(label.startswith("λ chosen by validation loss") for label in labels)
    assert legends_clear_of_data(fig)


def test_lambda_error_has_one_test_panel_per_data_set_and_the_legend_in_the_spare_one(l2_records):
    recs = [dict(r, dataset=ds, task=task) for ds, task in (("a", "classification"), ("b", "regression"),
                                                           ("c", "classification"), ("d", "regression"))
            for r in l2_records]
    fig = plots.plot_lambda_error(recs)
    shown = panels(fig)
    assert [ax.get_title() for ax in shown] == ["a", "b", "c", "d"] and len(fig.axes) == 6  # 2 rows of 3
    assert shown[1].get_ylabel() == "test loss (MSE, standardized target)"
    assert shown[2].get_ylabel() == "test loss (cross-entropy, nats)"
    spare = fig.axes[4]  # the first unused panel holds the legend; the last stays hidden
    assert spare.get_visible() and not spare.axison and spare.get_legend() is not None
    assert not fig.axes[5].get_visible()
    assert "bp" in [t.get_text() for t in spare.get_legend().get_texts()]


def test_lambda_error_keeps_a_trainers_colour_where_another_is_missing(l2_records):
    recs = [dict(r, dataset="b") for r in l2_records if r["trainer"] != "bp"] + l2_records
    fig = plots.plot_lambda_error(recs)
    colours = [{l.get_label(): l.get_color() for l in ax.get_lines()} for ax in panels(fig)]
    assert "bp" not in colours[0] and colours[0]["sw"] == colours[1]["sw"] != colours[1]["bp"]


def near_zero_train_records():
    """The reference fits the training data to 1e-14 at λ = 0; every other training loss is 0.05 to 1."""
    recs = []
    for seed in range(3):
        for lam, train in ((0.0, 0.1), (1e-4, 0.1), (1e-3, 0.12), (1e-2, 0.2), (1e-1, 0.5), (1.0, 1.0)):
            for name, kind, scale in (("bp", "backprop", 1.0), ("sw", "swarm", 0.9), ("ref", "lbfgs", 0.5)):
                t = 1e-14 if (kind == "lbfgs" and lam == 0) else train * scale
                recs.append(record(name, kind, lam, seed, train=t, val=0.3 + lam, test=0.3 + lam, dataset="sine",
                                   task="regression"))
    return recs


def test_lambda_error_splits_draws_training_and_validation_unstretched():
    fig = plots.plot_lambda_error_splits(near_zero_train_records())
    train_ax, val_ax = panels(fig)
    assert train_ax.get_ylabel() == "training loss\n(MSE, standardized target)"
    assert val_ax.get_ylabel() == "validation loss\n(MSE, standardized target)"
    np.testing.assert_allclose({l.get_label(): l for l in train_ax.get_lines()}["ref (reference)"].get_ydata(),
                               [1e-14, 0.05, 0.06, 0.1, 0.25, 0.5])
    low, high = train_ax.get_ylim()
    assert train_ax.get_yscale() == "log" and low >= 1e-6 * high and low > 1e-3  # not down to 1e-14
    below = [l for l in train_ax.get_lines() if l.get_marker() == "v"]
    assert [(float(l.get_xdata()[0]), float(l.get_ydata()[0])) for l in below] == [(0.0, pytest.approx(low))]
    assert "median below the axis" in legend_labels(fig)
    # the stars mark the validation-chosen λ on the validation panel only
    assert not [l for l in train_ax.get_lines() if l.get_marker() == "*"]
    assert {float(l.get_xdata()[0]) for l in val_ax.get_lines() if l.get_marker() == "*"} == {0.0}


def test_lambda_error_splits_leaves_an_axis_alone_when_nothing_is_near_zero(l2_records):
    fig = plots.plot_lambda_error_splits(l2_records)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert not [l for l in ax.get_lines() if l.get_marker() == "v"]
        assert ax.get_ylim()[0] <= min(float(np.min(l.get_ydata())) for l in ax.get_lines())
    assert "median below the axis" not in legend_labels(fig)


def test_weight_norm_lines(l2_records):
    fig = plots.plot_weight_norm(l2_records)
    lines = {l.get_label(): l for l in fig.axes[0].get_lines()}
    np.testing.assert_allclose(lines["bp"].get_ydata(), [10.0, 10.0 / 1.01, 5.0])
    np.testing.assert_allclose(lines["ref (reference)"].get_ydata(), [5.0, 5.0, 5.0])


def labelled_ticks(axis) -> list:
    low, high = sorted(axis.get_view_interval())
    return [t for t in axis.get_majorticklocs() if low <= t <= high]


def test_objective_gap_subtracts_the_reference_on_the_same_seed(l2_records):
    gaps = R.objective_gaps(l2_records)
    bp0 = [g["gap"] for g in gaps if g["trainer"] == "bp" and g["lam"] == 0.0]
    # bp: 2 + λ; ref: 1.5 + λ + seed → gaps 0.5, -0.5, -1.5
    assert sorted(bp0) == pytest.approx([-1.5, -0.5, 0.5])
    fig = plots.plot_objective_gap(l2_records)
    ax = fig.axes[0]
    lines = {l.get_label(): l for l in ax.get_lines()}
    np.testing.assert_allclose(lines["bp"].get_ydata(), [-0.5, -0.5, -0.5])
    np.testing.assert_allclose(lines["sw"].get_ydata(), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(lines["reference (L-BFGS): gap 0"].get_ydata(), [0.0, 0.0])
    assert "allowed: max(5 %, 0.01) of E(reference)" in lines
    # the negative side reaches the lowest band (bp's first quartile, −1) and no further than twice it
    low, high = ax.get_ylim()
    assert -2.0 <= low <= -1.0
    assert 2 <= len(labelled_ticks(ax.yaxis)) <= 6 and len(labelled_ticks(ax.xaxis)) <= 6
    assert min(labelled_ticks(ax.yaxis)) < 0
    assert ax.get_ylabel().startswith("E − E(reference)") and "cross-entropy, nats" in ax.get_ylabel()


def test_objective_gap_has_no_negative_side_when_no_gap_is_negative(l2_records):
    for r in l2_records:
        if r["kind"] == "lbfgs":
            r["value"] = 1.0  # below every other trainer's E: every gap positive
    fig = plots.plot_objective_gap(l2_records)
    ax = fig.axes[0]
    assert all(np.all(np.asarray(l.get_ydata()) >= 0) for l in ax.get_lines())
    low, high = ax.get_ylim()
    assert ax.get_yscale() == "symlog" and -1e-6 < low < 0 < high
    assert min(labelled_ticks(ax.yaxis)) == 0.0 and len(labelled_ticks(ax.yaxis)) <= 6


def test_objective_gap_ticks_stay_few_over_many_decades(l2_records):
    for r in l2_records:
        if r["trainer"] == "bp":
            r["value"] = 1e40  # a gap of 40 decades
    fig = plots.plot_objective_gap(l2_records)
    ticks = labelled_ticks(fig.axes[0].yaxis)
    assert 3 <= len(ticks) <= 6 and 0.0 in ticks


def test_swarm_variants_legend_stands_beside_the_panel(l2_records):
    fig = plots.plot_swarm_variants(l2_records)
    assert fig.axes[0].get_legend() is None and fig.legends
    assert {"sw", "reference (L-BFGS): gap 0"} <= set(legend_labels(fig))
    assert legends_clear_of_data(fig)


def test_l1_sparsity_draws_zero_and_near_zero_fractions():
    recs = [record(t, k, lam, s, penalty="l1", zero=z * lam, near=min(1.0, n * lam))
            for s in range(2) for lam in (0.0, 0.1, 0.5)
            for t, k, z, n in (("bp-sub", "backprop", 0.0, 0.0), ("bp-prox", "backprop", 1.6, 3.2),
                               ("sw", "swarm", 0.0, 1.0), ("ref", "lbfgs", 2.0, 4.0))]
    fig = plots.plot_l1_sparsity(recs)
    zero_ax, near_ax = fig.axes[:2]
    lines = {l.get_label(): l for l in zero_ax.get_lines()}
    np.testing.assert_allclose(lines["bp-prox"].get_ydata(), [0.0, 0.16, 0.8])
    np.testing.assert_allclose(lines["bp-sub"].get_ydata(), [0.0, 0.0, 0.0])
    near = {l.get_label(): l for l in near_ax.get_lines()}
    np.testing.assert_allclose(near["ref (reference)"].get_ydata(), [0.0, 0.4, 1.0])
    # the swarm's zeros equal the subgradient's: drawn a little to the right, and the title says so
    np.testing.assert_allclose(lines["sw"].get_ydata(), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(lines["bp-sub"].get_xdata(), [0.0, 0.1, 0.5])
    np.testing.assert_allclose(lines["sw"].get_xdata(), np.array([0.0, 0.1, 0.5]) * 10 ** plots._DODGE)
    assert "sw = bp-sub" in zero_ax.get_title() and "sw = bp-sub" not in near_ax.get_title()
    np.testing.assert_allclose(near["sw"].get_xdata(), [0.0, 0.1, 0.5])
    trainers = [lines[n] for n in ("bp-sub", "bp-prox", "sw", "ref (reference)")]
    assert len({l.get_marker() for l in trainers}) == 4
    assert [l.get_linestyle() for l in trainers[:2]] == ["-", "-."]  # the others: dashes of their own
    assert {"bp-sub", "bp-prox", "sw", "ref (reference)"} == set(legend_labels(fig))
    assert zero_ax.get_ylabel() == "fraction of weights exactly 0"


def test_convention_shift_moves_fraction_curves_onto_the_canonical_axis():
    recs = []
    for lr in (0.1, 0.5):
        for d in (0.0, 0.01, 0.1):
            canonical = d / lr
            recs.append(record(f"fraction lr {lr}", "backprop", d, 0, lam_as="decay_fraction", canonical=canonical,
                               test=1.0 + canonical, sweep="conv", dataset="sine", task="regression"))
    for lam in (0.0, 0.1, 1.0):
        recs.append(record("coupled", "backprop", lam, 0, test=1.0 + lam, sweep="conv", dataset="sine",
                           task="regression"))
    recs.append(record("other", "backprop", 0.5, 0, sweep="main"))  # another sweep: not drawn here
    fig = plots.plot_convention_shift(recs)
    raw, canon = fig.axes[:2]
    raw_lines = {l.get_label(): l for l in raw.get_lines()}
    can_lines = {l.get_label(): l for l in canon.get_lines()}
    assert "other" not in raw_lines
    np.testing.assert_allclose(raw_lines["fraction lr 0.5"].get_xdata(), [0.0, 0.01, 0.1])
    np.testing.assert_allclose(can_lines["fraction lr 0.5"].get_xdata(), [0.0, 0.02, 0.2])
    # on the canonical axis every curve is y = 1 + λ
    for line in can_lines.values():
        np.testing.assert_allclose(line.get_ydata(), 1.0 + np.asarray(line.get_xdata()))


def test_decay_envelope_is_the_geometric_shrink_for_plain_sgd():
    r = record("bp", "backprop", 0.2, 0, settings=BackpropTrainer(lr=0.1, batch_size=4).config,
               history={"iteration": [0, 1, 2, 5], "weight_sq_norm": [1, 1, 1, 1], "value": [1, 1, 1, 1],
                        "forward_samples": [0, 1, 2, 3], "seconds": [0, 1, 2, 3]})
    r["backward_samples"], r["iterations"] = 10 * 5, 5  # 10 samples per epoch, batch 4 → 3 steps
    np.testing.assert_allclose(R.decay_envelope(r), (1 - 0.1 * 0.2) ** (2 * 3 * np.array([0, 1, 2, 5])))
    r["kind"] = "swarm"
    assert R.decay_envelope(r) is None


def test_decay_envelope_with_momentum_follows_the_heavy_ball_recurrence():
    r = record("bp", "backprop", 0.5, 0, settings=BackpropTrainer(lr=0.1, momentum=0.9).config,
               history={"iteration": [0, 1, 2], "weight_sq_norm": [1, 1, 1], "value": [1, 1, 1],
                        "forward_samples": [0, 1, 2], "seconds": [0, 1, 2]})
    r["backward_samples"], r["iterations"] = 2 * 7, 2  # full batch: one step per epoch
    # by hand: v1 = 0.5, w1 = 0.95; v2 = 0.9·0.5 + 0.5·0.95 = 0.925, w2 = 0.95 − 0.0925 = 0.8575
    np.testing.assert_allclose(R.decay_envelope(r), [1.0, 0.95**2, 0.8575**2])


def test_decay_trajectory_draws_each_history_with_its_legend_off_the_data():
    recs = [record("bp", "backprop", lam, 0, sq=1 / (1 + lam), settings=BackpropTrainer(lr=0.1).config)
            for lam in (0.0, 10 ** -1.5, 1.0)]
    recs += [record("sw", "swarm", lam, 0, sq=1.0) for lam in (0.0, 10 ** -1.5, 1.0)]
    fig = plots.plot_decay_trajectory(recs)
    solid = [l for l in fig.axes[0].get_lines() if l.get_linestyle() == "-"]
    np.testing.assert_allclose(solid[-1].get_ydata(), [1.0, 1.0, 0.5])
    assert [l.get_label() for l in solid] == ["λ = 0", "λ = 0.0316", "λ = 1"]
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert {"λ = 0", "λ = 0.0316", "λ = 1", "dotted: the decay alone from backprop's start"} <= set(legend_labels(fig))
    assert legends_clear_of_data(fig)
    assert [ax.get_ylabel() for ax in fig.axes] == ["Σw² (weights only)", "Σw² of the best particle\n(weights only)"]


def test_convergence_interpolates_histories_on_a_common_grid():
    h1 = {"iteration": [0, 1, 2], "value": [4.0, 2.0, 1.0], "weight_sq_norm": [1, 1, 1],
          "forward_samples": [10, 100, 1000], "seconds": [0.001, 0.01, 0.1]}
    recs = [record("sw", "swarm", 0.1, s, history=h1) for s in range(3)]
    for r in recs:
        r["backward_samples"] = 0  # a swarm makes no backward pass
    fig = plots.plot_convergence(recs)
    (line,) = [l for l in fig.axes[0].get_lines() if l.get_label() == "sw"]
    x, y = line.get_xdata(), line.get_ydata()
    assert x[0] == pytest.approx(10) and x[-1] == pytest.approx(1000)
    np.testing.assert_allclose(y, np.interp(x, [10, 100, 1000], [4.0, 2.0, 1.0]))
    assert fig.axes[0].get_xscale() == "log"


def test_convergence_counts_backward_passes_as_work():
    h = {"iteration": [0, 1, 2], "value": [4.0, 2.0, 1.0], "weight_sq_norm": [1, 1, 1],
         "forward_samples": [10, 100, 1000], "backward_samples": [0, 100, 1000], "seconds": [0.001, 0.01, 0.1]}
    recs = [record("bp", "backprop", 0.1, s, history=h) for s in range(3)]
    no_column = {k: v for k, v in h.items() if k != "backward_samples"}
    recs.append(record("old", "backprop", 0.1, 0, history=no_column))  # its backward passes are not in its rows
    fig = plots.plot_convergence(recs)
    samples_ax, seconds_ax = fig.axes
    lines = {l.get_label(): l for l in samples_ax.get_lines()}
    assert "old" not in lines
    x, y = lines["bp"].get_xdata(), lines["bp"].get_ydata()
    assert x[0] == pytest.approx(10) and x[-1] == pytest.approx(2000)
    np.testing.assert_allclose(y, np.interp(x, [10, 200, 2000], [4.0, 2.0, 1.0]))
    assert samples_ax.get_xlabel() == "samples through the network: forward + backward passes"
    assert seconds_ax.get_xlabel() == "wall time (seconds)"
    assert samples_ax.get_ylabel() == "E = D + R, training data\n(cross-entropy, nats)"


def test_fits_evaluate_the_stored_network_on_a_grid():
    ds = load_dataset("sine", seed=0)
    model = MLP((1, 3, 1))
    recs = []
    for name, kind in (("bp", "backprop"), ("sw", "swarm")):
        for k, lam in enumerate((0.0, 10 ** -2.5, 1.0)):
            theta = model.init(k + (3 if kind == "swarm" else 0)).tolist()
            recs.append(record(name, kind, lam, 0, dataset="sine", task="regression", theta=theta,
                               val=abs(lam - 10 ** -2.5)))
    fig = plots.plot_fits(recs)
    ax = fig.axes[0]
    curves = [l for l in ax.get_lines() if l.get_label().startswith(("λ", "best", "large"))]
    labels = [c.get_label() for c in curves]
    assert [label.split(";")[0] for label in labels] == ["λ = 0", "best λ = 0.00316", "large λ = 1"]
    x = np.asarray(curves[1].get_xdata())
    expected = ds.unscale_target(model.forward(np.array(recs[1]["theta"]), ds.scale_features(x[:, None]))[:, 0])
    np.testing.assert_allclose(curves[1].get_ydata(), expected, rtol=1e-12)
    # each label carries the curve's roughness ∫f''² dx, to three significant digits
    for curve, label in zip(curves, labels):
        rough = roughness(curve.get_xdata(), curve.get_ydata())
        assert label.split("; ")[1].split(" (")[0] == f"∫f''² dx = {rough:.3g}"
    data = [l for l in ax.get_lines() if l.get_label() == "training data"][0]
    np.testing.assert_allclose(np.sort(data.get_xdata()), np.sort(ds.raw_X_train[:, 0]))
    # one y axis for the row: the training data's span, half of it again above and below
    assert fig.axes[0].get_ylim() == fig.axes[1].get_ylim()
    shown = np.concatenate([ds.unscale_target(ds.y_train), sine_curve(x)])
    half = (shown.max() - shown.min()) / 2
    np.testing.assert_allclose(fig.axes[0].get_ylim(), [shown.min() - half, shown.max() + half])
    assert fig.axes[0].get_ylabel() == "y (target, original units)"
    assert legends_clear_of_data(fig)


@pytest.mark.parametrize("draw", [plots.plot_lambda_error, plots.plot_lambda_error_splits, plots.plot_weight_norm,
                                  plots.plot_objective_gap, plots.plot_l1_sparsity, plots.plot_fits,
                                  plots.plot_decay_trajectory, plots.plot_convention_shift, plots.plot_convergence,
                                  plots.plot_swarm_variants, plots.plot_swarm_behaviour, plots.plot_adaptive_decay])
def test_every_figure_says_so_when_it_has_no_records(draw):
    fig = draw([])
    assert isinstance(fig, Figure)
    assert any("no " in t.get_text() for ax in fig.axes for t in ax.texts)


def test_no_figure_shows_a_nan(l2_records):
    l2_records.append(record("bp", "backprop", 0.01, 7, test=math.nan, value=None, status="diverged"))
    for draw in (plots.plot_lambda_error, plots.plot_lambda_error_splits, plots.plot_weight_norm,
                 plots.plot_objective_gap):
        fig = draw(l2_records)
        for ax in fig.axes:
            for line in ax.get_lines():
                assert np.all(np.isfinite(np.asarray(line.get_ydata(), dtype=float)))
