"""λ chosen by k-fold cross-validation: the folds, the runs of a cv sweep and what the report draws."""

import numpy as np
import pytest

from swarmreg import records as R
from swarmreg.data import load_dataset
from swarmreg.sweep import expand_runs, parse_spec, run_one


def _rows(X, decimals=9):
    return sorted(map(tuple, np.round(X, decimals)))


@pytest.mark.parametrize("name, k", [("iris", 5), ("wine", 3), ("diabetes", 4), ("sine", 2)])
def test_folds_partition_the_training_part_and_are_standardized_on_what_trains(name, k):
    ds = load_dataset(name, seed=3)
    raw_part = np.vstack([ds.unscale_features(ds.X_train), ds.unscale_features(ds.X_val)])
    n = raw_part.shape[0]
    seen, sizes = [], []
    for fold in range(k):
        f = ds.cross_validation(k, fold)
        assert f.n_train + f.n_val == n and f.n_test == ds.n_test
        # the fold's parts, back in original units, are the training part's rows (up to rounding)
        raw_train, raw_val = f.unscale_features(f.X_train), f.unscale_features(f.X_val)
        assert _rows(np.vstack([raw_train, raw_val])) == _rows(raw_part)
        seen += _rows(raw_val)
        sizes.append(f.n_val)
        # standardized with the statistics of the rows that train, and the test rows are the same rows
        np.testing.assert_allclose(f.X_train.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(f.X_train.std(axis=0), 1.0, rtol=1e-12)
        np.testing.assert_allclose(f.unscale_features(f.X_test), ds.unscale_features(ds.X_test), rtol=1e-12,
                                   atol=1e-12)
        if ds.task == "classification":
            counts = np.bincount(f.y_val, minlength=ds.n_classes)
            whole = np.bincount(np.concatenate([ds.y_train, ds.y_val]), minlength=ds.n_classes)
            # stratified: each class's rows are spread over the folds, at most one apart
            assert np.all(np.abs(counts - whole / k) <= 1.0)
        else:
            np.testing.assert_allclose(f.unscale_target(f.y_test), ds.unscale_target(ds.y_test), rtol=1e-12)
    assert _rows(np.array(seen)) == _rows(raw_part)  # every row validates exactly once
    assert max(sizes) - min(sizes) <= 1
    whole = ds.cross_validation(k, None)
    assert whole.n_val == 0 and whole.n_train == n
    again = load_dataset(name, seed=3).cross_validation(k, 1)
    np.testing.assert_array_equal(again.X_val, ds.cross_validation(k, 1).X_val)  # same seed, same folds


@pytest.mark.parametrize("k, fold", [(1, 0), (True, 0), (2.0, 0), (10**6, 0), (3, 3), (3, -1), (3, 1.0)])
def test_bad_folds_are_refused(k, fold):
    with pytest.raises(ValueError, match="cv|fold"):
        load_dataset("iris").cross_validation(k, fold)


SPEC = {"name": "cv", "datasets": ["iris"], "seeds": [0], "lambdas": [1e-3, 0.3], "model": {"hidden": [3]},
        "trainers": [{"name": "ref", "kind": "lbfgs", "max_iter": 200}]}


def test_a_cv_sweep_runs_every_fold_and_the_whole_training_part():
    spec = parse_spec({**SPEC, "cv": 3})
    runs = list(expand_runs(spec))
    assert spec.n_runs == len(runs) == 2 * 4
    assert [r["fold"] for r in runs] == [0, 1, 2, None] * 2
    assert len({r["id"] for r in runs}) == len(runs)
    # a spec without cv keeps its identity: the same hash and ids as before cv existed
    plain = parse_spec(SPEC)
    assert "cv" not in plain.to_toml() and all("fold" not in r for r in expand_runs(plain))
    assert parse_spec({**SPEC, "cv": 0}).hash == plain.hash


def test_lambda_is_chosen_on_the_mean_of_the_folds():
    spec = parse_spec({**SPEC, "cv": 3, "validation_fraction": 0.0})
    recs = [run_one(r) for r in expand_runs(spec)]
    for r in recs:
        r["spec_hash"] = spec.hash
    assert R.fold_runs(recs) == 6
    drawn = R.cross_validated(recs)
    assert len(drawn) == 2 and all(r["fold"] is None for r in drawn)
    by_lam = {r["lam"]: r for r in drawn}
    for lam, r in by_lam.items():
        folds = [f for f in recs if f["lam"] == lam and f["fold"] is not None]
        assert sorted(f["fold"] for f in folds) == [0, 1, 2]
        assert r["val_loss"] == pytest.approx(np.mean([f["val_loss"] for f in folds]), rel=1e-15)
        assert r["val_accuracy"] == pytest.approx(np.mean([f["val_accuracy"] for f in folds]), rel=1e-15)
        whole = next(x for x in recs if x["lam"] == lam and x["fold"] is None)
        assert r["test_loss"] == whole["test_loss"]  # the test number is the whole training part's run
    best = min(by_lam, key=lambda lam: by_lam[lam]["val_loss"])
    assert R.best_lambda(drawn, "ref", "iris") == best
    assert R.cross_validated(drawn) == drawn  # drawn once, drawn the same again
    # a missing fold leaves that λ without a validation number rather than a mean of fewer folds
    missing = R.cross_validated([r for r in recs if not (r["lam"] == 0.3 and r["fold"] == 2)])
    assert next(r for r in missing if r["lam"] == 0.3)["val_loss"] is None


@pytest.mark.parametrize("cv", [1, -1, True, 2.5, "5", 101])
def test_bad_cv_in_a_spec_is_named(cv):
    with pytest.raises(ValueError, match="cv"):
        parse_spec({**SPEC, "cv": cv})


def test_a_spec_without_a_validation_part_needs_cv():
    with pytest.raises(ValueError, match="validation_fraction"):
        parse_spec({**SPEC, "validation_fraction": 0.0})
    with pytest.raises(ValueError, match="cv = 100 folds"):
        parse_spec({**SPEC, "cv": 100, "datasets": ["iris"], "test_fraction": 0.9})


def test_the_report_says_lambda_was_cross_validated():
    from swarmreg.report import write_report_md

    spec = parse_spec({**SPEC, "cv": 2})
    recs = [{**run_one(r), "spec_hash": spec.hash} for r in expand_runs(spec)]
    text = write_report_md(recs)
    assert "by 2-fold cross-validation on the training part" in text
    assert f"{len(recs)} runs" in text and "(4 of the runs are folds" in text
    # the rows are those the folds cut: training and validation together, each fold's validation size
    from swarmreg.data import load_dataset

    d = load_dataset("iris", seed=0)
    n, sizes = d.n_train + d.n_val, sorted({d.cross_validation(2, f).n_val for f in range(2)})
    said = f"{sizes[0]} rows for validation" if len(sizes) == 1 else f"{sizes[0]}–{sizes[1]} rows each"
    assert f"iris {n}/{d.n_test} (classification; 2 folds" in text and said in text
