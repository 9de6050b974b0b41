"""Plot functions on small hand-made records: the drawn numbers are the records' numbers."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from swarmreg import MLP, plots
from swarmreg.backprop import BackpropTrainer
from swarmreg import records as R
from swarmreg.data import load_dataset


def record(trainer, kind, lam, seed, *, dataset="iris", val=1.0, test=1.0, train=1.0, value=1.0, sq=1.0,
           zero=0.0, near=0.0, penalty="l2", lam_as="penalty", canonical=None, sweep="s", settings=None,
           status="max_iter", history=None, theta=None, task="classification"):
    settings = settings or {}
    h = history or {"iteration": [0, 1, 2], "value": [3.0, 2.0, value], "weight_sq_norm": [1.0, sq * 2, sq],
                    "forward_samples": [10, 20, 30], "seconds": [0.0, 0.1, 0.2]}
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


def test_lambda_error_draws_the_medians_and_marks_the_best(l2_records):
    fig = plots.plot_lambda_error(l2_records)
    assert isinstance(fig, Figure)
    test_ax = fig.axes[2]
    assert test_ax.get_xscale() == "symlog" and test_ax.get_xlabel() == "λ"
    lines = {l.get_label(): l for l in test_ax.get_lines()}
    np.testing.assert_allclose(lines["bp"].get_ydata(), [1.1, 1.4, 1.9])
    np.testing.assert_allclose(lines["sw"].get_ydata(), [0.2, 0.8, 1.8])
    assert lines["ref (reference)"].get_linestyle() == "--"
    stars = [l for l in test_ax.get_lines() if l.get_marker() == "*"]
    assert sorted(float(s.get_xdata()[0]) for s in stars) == [0.01, 0.01, 0.01]
    assert all(ax.get_ylabel() for ax in fig.axes) and all(ax.get_xlabel() for ax in fig.axes)


def test_weight_norm_lines(l2_records):
    fig = plots.plot_weight_norm(l2_records)
    lines = {l.get_label(): l for l in fig.axes[0].get_lines()}
    np.testing.assert_allclose(lines["bp"].get_ydata(), [10.0, 10.0 / 1.01, 5.0])
    np.testing.assert_allclose(lines["ref (reference)"].get_ydata(), [5.0, 5.0, 5.0])


def test_objective_gap_subtracts_the_reference_on_the_same_seed(l2_records):
    gaps = R.objective_gaps(l2_records)
    bp0 = [g["gap"] for g in gaps if g["trainer"] == "bp" and g["lam"] == 0.0]
    # bp: 2 + λ; ref: 1.5 + λ + seed → gaps 0.5, -0.5, -1.5
    assert sorted(bp0) == pytest.approx([-1.5, -0.5, 0.5])
    fig = plots.plot_objective_gap(l2_records)
    lines = {l.get_label(): l for l in fig.axes[0].get_lines()}
    np.testing.assert_allclose(lines["bp"].get_ydata(), [-0.5, -0.5, -0.5])
    np.testing.assert_allclose(lines["sw"].get_ydata(), [0.0, 0.0, 0.0])


def test_l1_sparsity_draws_zero_and_near_zero_fractions():
    recs = [record(t, k, lam, s, penalty="l1", zero=z * lam, near=min(1.0, 2 * z * lam))
            for s in range(2) for lam in (0.0, 0.1, 0.5)
            for t, k, z in (("bp-sub", "backprop", 0.0), ("bp-prox", "backprop", 1.6), ("ref", "lbfgs", 2.0))]
    fig = plots.plot_l1_sparsity(recs)
    zero_ax, near_ax = fig.axes[:2]
    lines = {l.get_label(): l for l in zero_ax.get_lines()}
    np.testing.assert_allclose(lines["bp-prox"].get_ydata(), [0.0, 0.16, 0.8])
    np.testing.assert_allclose(lines["bp-sub"].get_ydata(), [0.0, 0.0, 0.0])
    near = {l.get_label(): l for l in near_ax.get_lines()}
    np.testing.assert_allclose(near["ref (reference)"].get_ydata(), [0.0, 0.4, 1.0])


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


def test_decay_trajectory_draws_each_history():
    recs = [record("bp", "backprop", lam, 0, sq=1 / (1 + lam), settings=BackpropTrainer(lr=0.1).config)
            for lam in (0.0, 0.1, 1.0)]
    fig = plots.plot_decay_trajectory(recs)
    solid = [l for l in fig.axes[0].get_lines() if l.get_linestyle() == "-"]
    np.testing.assert_allclose(solid[-1].get_ydata(), [1.0, 1.0, 0.5])


def test_convergence_interpolates_histories_on_a_common_grid():
    h1 = {"iteration": [0, 1, 2], "value": [4.0, 2.0, 1.0], "weight_sq_norm": [1, 1, 1],
          "forward_samples": [10, 100, 1000], "seconds": [0.001, 0.01, 0.1]}
    recs = [record("bp", "backprop", 0.1, s, history=h1) for s in range(3)]
    fig = plots.plot_convergence(recs)
    (line,) = [l for l in fig.axes[0].get_lines() if l.get_label() == "bp"]
    x, y = line.get_xdata(), line.get_ydata()
    assert x[0] == pytest.approx(10) and x[-1] == pytest.approx(1000)
    np.testing.assert_allclose(y, np.interp(x, [10, 100, 1000], [4.0, 2.0, 1.0]))
    assert fig.axes[0].get_xscale() == "log"


def test_fits_evaluate_the_stored_network_on_a_grid():
    ds = load_dataset("sine", seed=0)
    model = MLP((1, 3, 1))
    recs = []
    for lam in (0.0, 0.1, 1.0):
        theta = model.init(int(lam * 10)).tolist()
        recs.append(record("bp", "backprop", lam, 0, dataset="sine", task="regression", theta=theta,
                           val=abs(lam - 0.1)))
    fig = plots.plot_fits(recs)
    ax = fig.axes[0]
    curves = [l for l in ax.get_lines() if l.get_label().startswith(("λ", "best", "large"))]
    assert [c.get_label() for c in curves] == ["λ = 0", "best λ = 0.1", "large λ = 1"]
    x = np.asarray(curves[1].get_xdata())
    expected = ds.unscale_target(model.forward(np.array(recs[1]["theta"]), ds.scale_features(x[:, None]))[:, 0])
    np.testing.assert_allclose(curves[1].get_ydata(), expected, rtol=1e-12)
    data = [l for l in ax.get_lines() if l.get_label() == "training data"][0]
    np.testing.assert_allclose(np.sort(data.get_xdata()), np.sort(ds.raw_X_train[:, 0]))


@pytest.mark.parametrize("draw", [plots.plot_lambda_error, plots.plot_weight_norm, plots.plot_objective_gap,
                                  plots.plot_l1_sparsity, plots.plot_fits, plots.plot_decay_trajectory,
                                  plots.plot_convention_shift, plots.plot_convergence])
def test_every_figure_says_so_when_it_has_no_records(draw):
    fig = draw([])
    assert isinstance(fig, Figure)
    assert any("no " in t.get_text() for ax in fig.axes for t in ax.texts)


def test_no_figure_shows_a_nan(l2_records):
    l2_records.append(record("bp", "backprop", 0.01, 7, test=math.nan, value=None, status="diverged"))
    for draw in (plots.plot_lambda_error, plots.plot_weight_norm, plots.plot_objective_gap):
        fig = draw(l2_records)
        for ax in fig.axes:
            for line in ax.get_lines():
                assert np.all(np.isfinite(np.asarray(line.get_ydata(), dtype=float)))
