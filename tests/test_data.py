"""Tests of swarmreg.data: shipped files, splits, standardization, the CSV reader and the synthetic sets."""

import csv
import dataclasses
import hashlib
import io
import os
import re
import warnings
from collections import Counter
from decimal import Decimal
from importlib import resources

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmreg import data
from swarmreg.data import Dataset, load_csv, load_dataset

REAL = ("iris", "wine", "breast_cancer", "diabetes")
SYNTHETIC = ("sine", "moons", "quadratic")
DATA_DIR = resources.files("swarmreg").joinpath("datasets")

# Published sizes and class counts (UCI data set descriptions).
PUBLISHED = {
    "iris": (150, 4, {"setosa": 50, "versicolor": 50, "virginica": 50}),
    "wine": (178, 13, {"class_0": 59, "class_1": 71, "class_2": 48}),
    "breast_cancer": (569, 30, {"malignant": 212, "benign": 357}),
    "diabetes": (442, 10, None),
}
TARGET = {"iris": "species", "wine": "cultivar", "breast_cancer": "diagnosis", "diabetes": "progression"}


def raw_table(name):
    """Independent reading of a shipped file: (header, X (n, d) raw floats, target strings (n,))."""
    text = DATA_DIR.joinpath(f"{name}.csv").read_text(encoding="utf-8")
    header = text.splitlines()[0].split(",")
    X = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, usecols=range(len(header) - 1))
    target = [line.split(",")[-1] for line in text.splitlines()[1:] if line]
    return header, X, target


def reassembled(ds):
    """All rows of the three parts in original units, target appended (class index or raw target)."""
    X = np.concatenate([ds.unscale_features(ds.X_train), ds.unscale_features(ds.X_val),
                        ds.unscale_features(ds.X_test)])
    parts = (ds.y_train, ds.y_val, ds.y_test)
    y = np.concatenate([ds.unscale_target(p) if ds.task == "regression" else p for p in parts])
    # the raw_* properties are the same mapping
    np.testing.assert_array_equal(np.concatenate([ds.raw_X_train, ds.raw_X_val, ds.raw_X_test]), X)
    np.testing.assert_array_equal(np.concatenate([ds.raw_y_train, ds.raw_y_val, ds.raw_y_test]), y)
    return np.column_stack([X, y])


def same_multiset(a, b, decimals=8):
    """Rows of a and b equal as multisets, up to float round-off of the standardization round trip."""
    assert a.shape == b.shape
    ka, kb = np.round(a, decimals), np.round(b, decimals)
    ia, ib = np.lexsort(ka.T[::-1]), np.lexsort(kb.T[::-1])
    np.testing.assert_allclose(a[ia], b[ib], rtol=1e-12, atol=1e-9)


def write(tmp_path, content, name="data.csv"):
    p = tmp_path / name
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return p


# ----------------------------------------------------------------------------------------------------------
# Shipped files
# ----------------------------------------------------------------------------------------------------------

def test_shipped_files_match_provenance_md5():
    provenance = DATA_DIR.joinpath("PROVENANCE.md").read_text(encoding="utf-8")
    sums = dict(re.findall(r"\|\s*([\w.]+\.csv)\s*\|\s*([0-9a-f]{32})\s*\|", provenance))
    assert sorted(sums) == sorted(f"{n}.csv" for n in REAL)
    for fname, md5 in sums.items():
        assert hashlib.md5(DATA_DIR.joinpath(fname).read_bytes()).hexdigest() == md5, fname
    for word in ("Fisher", "Forina", "Wolberg", "Efron", "CC BY 4.0", "BSD-3-Clause"):
        assert word in provenance


def test_available_lists_real_and_synthetic_names():
    assert data.available() == REAL + SYNTHETIC


def test_describe_rows_agree_with_loaded_sets():
    rows = data.describe()
    assert [r["name"] for r in rows] == list(data.available())
    for r in rows:
        assert list(r) == ["name", "task", "n_samples", "n_features", "n_classes"]
        ds = load_dataset(r["name"])
        assert (r["task"], r["n_samples"], r["n_features"], r["n_classes"]) == (
            ds.task, ds.n_samples, ds.n_features, ds.n_classes)
        if r["name"] in PUBLISHED:
            n, d, counts = PUBLISHED[r["name"]]
            assert (r["n_samples"], r["n_features"], r["n_classes"]) == (n, d, len(counts or ()))


@pytest.mark.parametrize("name", REAL)
def test_real_sets_shapes_names_and_class_counts(name):
    n, d, counts = PUBLISHED[name]
    ds = load_dataset(name)
    header, X, target = raw_table(name)
    assert ds.n_samples == n == X.shape[0] and ds.n_features == d == X.shape[1]
    assert ds.feature_names == tuple(header[:-1]) and header[-1] == TARGET[name]
    assert ds.X_train.dtype == np.float64 and ds.X_train.shape == (ds.n_train, d)
    assert ds.y_train.shape == (ds.n_train,) and ds.y_val.shape == (ds.n_val,) and ds.y_test.shape == (ds.n_test,)
    if counts is None:
        assert ds.task == "regression" and ds.class_names == () and ds.n_outputs == 1
        assert ds.y_train.dtype == np.float64
    else:
        assert ds.task == "classification" and ds.y_train.dtype == np.int64
        # class names: order of first appearance of the target strings in the file
        assert ds.class_names == tuple(dict.fromkeys(target))
        assert ds.n_classes == ds.n_outputs == len(counts)
        y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
        assert {ds.class_names[k]: int(c) for k, c in zip(*np.unique(y, return_counts=True))} == counts


@pytest.mark.parametrize("name", REAL)
def test_splits_reassemble_to_the_original_rows(name):
    ds = load_dataset(name, seed=3)
    _, X, target = raw_table(name)
    if ds.task == "classification":
        y = np.array([ds.class_names.index(t) for t in target], dtype=float)
    else:
        y = np.array(target, dtype=float)
    same_multiset(reassembled(ds), np.column_stack([X, y]))


def test_load_csv_on_a_shipped_file_equals_load_dataset(tmp_path):
    p = write(tmp_path, DATA_DIR.joinpath("wine.csv").read_bytes(), "wine.csv")
    a, b = load_dataset("wine", seed=5), load_csv(p, "cultivar", seed=5)
    assert a.class_names == b.class_names and a.feature_names == b.feature_names and b.name == "wine"
    for f in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "feature_mean", "feature_scale"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


# ----------------------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "moons"])
@pytest.mark.parametrize("tf, vf", [(0.25, 0.2), (0.3, 0.0), (0.1, 0.5)])
def test_stratified_class_shares_within_one_sample(name, tf, vf):
    ds = load_dataset(name, seed=1, test_fraction=tf, validation_fraction=vf)
    y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    for k in range(ds.n_classes):
        n_k = np.sum(y == k)
        exact = {"test": tf * n_k, "val": vf * (1 - tf) * n_k, "train": (1 - tf) * (1 - vf) * n_k}
        got = {"test": np.sum(ds.y_test == k), "val": np.sum(ds.y_val == k), "train": np.sum(ds.y_train == k)}
        for part in exact:
            assert abs(got[part] - exact[part]) <= 1, (k, part, got, exact)
        assert got["train"] >= 1 and got["test"] >= 1 and (got["val"] >= 1 or vf == 0)


def test_every_part_gets_a_sample_of_a_small_class(tmp_path):
    # class "b" has 3 rows: 0.1·3 rounds to 0 test rows and 0.1·rest to 0 validation rows, yet each part gets one
    rows = [f"{i},a" for i in range(40)] + [f"{i},b" for i in range(40, 43)]
    ds = load_csv(write(tmp_path, "x,y\n" + "\n".join(rows)), "y", test_fraction=0.1, validation_fraction=0.1)
    b = ds.class_names.index("b")
    assert [int(np.sum(p == b)) for p in (ds.y_train, ds.y_val, ds.y_test)] == [1, 1, 1]


def test_parts_have_no_class_ordering_and_no_shared_rows():
    ds = load_dataset("iris", seed=0)
    # after the final shuffle the training labels are not sorted by class
    assert np.any(np.diff(ds.y_train) < 0)
    _, X, target = raw_table("iris")
    original = Counter(tuple(np.round(r, 8)) + (t,) for r, t in zip(X, target))
    parts = [(ds.X_train, ds.y_train), (ds.X_val, ds.y_val), (ds.X_test, ds.y_test)]
    split = Counter(tuple(np.round(r, 8)) + (ds.class_names[k],)
                    for X_, y_ in parts for r, k in zip(ds.unscale_features(X_), y_))
    assert split == original  # every row once, none lost, duplicates kept as often as in the file


def test_validation_fraction_zero_gives_empty_arrays_of_the_right_shape():
    for name in ("iris", "diabetes"):
        ds = load_dataset(name, validation_fraction=0)
        assert ds.X_val.shape == (0, ds.n_features) and ds.y_val.shape == (0,)
        assert ds.y_val.dtype == ds.y_train.dtype and ds.n_val == 0


def test_regression_split_sizes():
    ds = load_dataset("diabetes", test_fraction=0.25, validation_fraction=0.2)
    n_test = int(np.floor(0.25 * 442 + 0.5))
    n_val = int(np.floor(0.2 * (442 - n_test) + 0.5))
    assert (ds.n_test, ds.n_val, ds.n_train) == (n_test, n_val, 442 - n_test - n_val)


def test_same_seed_same_arrays_different_seed_different_split():
    for name in ("breast_cancer", "diabetes", "sine", "moons"):
        a, b, c = load_dataset(name, seed=7), load_dataset(name, seed=7), load_dataset(name, seed=8)
        for f in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "feature_mean", "feature_scale"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), (name, f)
        assert a.target_mean == b.target_mean and a.target_scale == b.target_scale
        assert not np.array_equal(a.unscale_features(a.X_test), c.unscale_features(c.X_test))


# ----------------------------------------------------------------------------------------------------------
# Standardization
# ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REAL + SYNTHETIC)
def test_standardized_with_training_statistics(name):
    ds = load_dataset(name, seed=2)
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1.0, rtol=1e-12)
    raw_train = ds.unscale_features(ds.X_train)
    np.testing.assert_allclose(ds.feature_mean, raw_train.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ds.feature_scale, raw_train.std(axis=0), rtol=1e-12)
    # the held-out parts are scaled with the same numbers, so they are not exactly centred
    assert np.max(np.abs(ds.X_test.mean(axis=0))) > 1e-6
    if ds.task == "regression":
        assert abs(ds.y_train.mean()) < 1e-12 and abs(ds.y_train.std() - 1.0) < 1e-12
        raw_y = ds.unscale_target(ds.y_train)
        assert np.isclose(ds.target_mean, raw_y.mean(), rtol=1e-12)
        assert np.isclose(ds.target_scale, raw_y.std(), rtol=1e-12)
        assert abs(ds.y_test.mean()) > 1e-6


def test_held_out_values_do_not_change_training_statistics(tmp_path):
    # column "row" identifies each row; the split depends only on class sizes and the seed, so changing the
    # held-out rows' values must leave the training part and its statistics untouched
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    labels = np.repeat(["p", "q", "r"], 20)
    lines = ["row,u,v,y"] + [f"{i},{float(X[i, 0])!r},{float(X[i, 1])!r},{labels[i]}" for i in range(60)]
    a = load_csv(write(tmp_path, "\n".join(lines), "a.csv"), "y", seed=4)
    held_out = set(np.rint(a.unscale_features(np.concatenate([a.X_val, a.X_test]))[:, 0]).astype(int).tolist())
    assert len(held_out) == a.n_val + a.n_test
    X2 = X.copy()
    X2[sorted(held_out)] = X2[sorted(held_out)] * 1000.0 + 50.0
    lines2 = ["row,u,v,y"] + [f"{i},{float(X2[i, 0])!r},{float(X2[i, 1])!r},{labels[i]}" for i in range(60)]
    b = load_csv(write(tmp_path, "\n".join(lines2), "b.csv"), "y", seed=4)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.feature_mean, b.feature_mean)
    np.testing.assert_array_equal(a.feature_scale, b.feature_scale)
    assert np.max(np.abs(b.X_test[:, 1:])) > 100 * np.max(np.abs(a.X_test[:, 1:]))


def test_constant_feature_gets_scale_one(tmp_path):
    rows = "\n".join(f"{i},7.5,{i % 2}" for i in range(20))
    ds = load_csv(write(tmp_path, "a,c,y\n" + rows), "y")
    assert ds.feature_scale[1] == 1.0 and ds.feature_mean[1] == 7.5
    assert np.all(ds.X_train[:, 1] == 0) and np.all(ds.X_test[:, 1] == 0)


def test_huge_finite_values_standardize_without_overflow(tmp_path):
    rows = "\n".join(f"{(-1) ** i * 1.5e307 * (1 + i / 50)!r},{i}" for i in range(40))
    ds = load_csv(write(tmp_path, "a,y\n" + rows), "y", task="regression")
    assert np.all(np.isfinite(ds.X_train)) and np.all(np.isfinite(ds.X_test))
    np.testing.assert_allclose(ds.X_train.std(), 1.0, rtol=1e-9)


def test_target_scaling_round_trip_keeps_shape():
    ds = load_dataset("diabetes")
    y = np.linspace(-2, 2, 6).reshape(3, 2)
    np.testing.assert_allclose(ds.scale_target(ds.unscale_target(y)), y, rtol=1e-14, atol=1e-14)
    assert ds.unscale_target(y).shape == (3, 2)
    np.testing.assert_allclose(ds.unscale_target(y), y * ds.target_scale + ds.target_mean)
    Xr = ds.unscale_features(ds.X_test)
    np.testing.assert_allclose(ds.scale_features(Xr), ds.X_test, atol=1e-12)


def test_dataset_is_frozen_and_read_only():
    ds = load_dataset("iris")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.X_train = None
    for arr in (ds.X_train, ds.y_train, ds.X_test, ds.feature_mean):
        with pytest.raises(ValueError):
            arr[0] = 0
    assert "iris" in repr(ds) and "90/21/39" in repr(ds)


# ----------------------------------------------------------------------------------------------------------
# Bad arguments
# ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"name": "iriss"}, ["iriss", "iris", "breast_cancer", "moons"]),
    ({"name": "iris", "seed": -1}, ["seed"]),
    ({"name": "iris", "seed": 1.5}, ["seed"]),
    ({"name": "iris", "seed": True}, ["seed"]),
    ({"name": "iris", "test_fraction": 0.0}, ["test_fraction"]),
    ({"name": "iris", "test_fraction": 1.0}, ["test_fraction"]),
    ({"name": "iris", "test_fraction": float("nan")}, ["test_fraction"]),
    ({"name": "iris", "test_fraction": "0.2"}, ["test_fraction"]),
    ({"name": "iris", "validation_fraction": -0.1}, ["validation_fraction"]),
    ({"name": "iris", "validation_fraction": 1.0}, ["validation_fraction"]),
    ({"name": "iris", "test_fraction": 0.99}, ["test_fraction", "no training sample", "setosa"]),
    ({"name": "diabetes", "test_fraction": 0.6, "validation_fraction": 0.999}, ["validation_fraction"]),
    ({"name": "iris", "n_samples": 100}, ["n_samples", "iris"]),
    ({"name": "wine", "noise": 0.1}, ["noise", "wine"]),
    ({"name": "sine", "noise": -0.1}, ["noise"]),
    ({"name": "sine", "noise": float("inf")}, ["noise"]),
    ({"name": "sine", "n_samples": 2}, ["n_samples"]),
    ({"name": "moons", "n_samples": 10.0}, ["n_samples"]),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, words):
    with pytest.raises(ValueError) as e:
        load_dataset(**kwargs)
    for w in words:
        assert w in str(e.value)


def test_unscale_target_rejects_classification():
    with pytest.raises(ValueError, match="unscale_target.*classification"):
        load_dataset("iris").unscale_target([0.0])
    with pytest.raises(ValueError, match="X_raw"):
        load_dataset("iris").scale_features(np.zeros((2, 3)))


# ----------------------------------------------------------------------------------------------------------
# CSV reader: errors
# ----------------------------------------------------------------------------------------------------------

CSV_ERRORS = [
    # (file content, kwargs, words the message must contain besides the file name)
    ("a,b\n1,2\n3,4\n", {"target": "y"}, ["line 1", "'y'", "not found", "a, b"]),
    ("a,b,y\n1,2,0\n3,x,1\n", {}, ["line 3", "column 'b'", "non-numeric", "'x'"]),
    ("a,b,y\n1,2,0\n3,1\n", {}, ["line 3", "expected 3", "got 2"]),
    ("a,b,y\n1,2,0\n3,1,1,5\n", {}, ["line 3", "expected 3", "got 4"]),
    ("", {}, ["empty"]),
    ("\n\r\n  \n", {}, ["empty"]),
    ("a,y\n", {}, ["no data rows", "line 1"]),
    ("a,y\n1,c\n2,c\n3,c\n", {}, ["single class", "'c'", "'y'"]),
    ("a,y\n1,1\n2,1\n", {}, ["single class", "'y'"]),
    ("a,a,y\n1,2,0\n", {}, ["line 1", "duplicate", "'a'"]),
    ("a,,y\n1,2,0\n", {}, ["line 1", "column 2", "empty name"]),
    ("y\n1\n2\n", {}, ["no feature columns"]),
    ("a,y\n1,0\nnan,1\n", {}, ["line 3", "column 'a'", "NaN"]),
    ("a,y\n1,0\n2,1\n-inf,1\n", {}, ["line 4", "column 'a'", "'-inf'"]),
    ("a,y\n1,0\n1e999,1\n", {}, ["line 3", "column 'a'", "infinity"]),
    ("a,y\n1,0\n,1\n", {}, ["line 3", "column 'a'", "empty cell"]),
    ("a,y\n1,0\n2,\n", {}, ["line 3", "column 'y'", "empty cell"]),
    ("a,y\n1,0.5\n2,nan\n", {}, ["line 3", "column 'y'", "NaN"]),
    # a number column with one missing-value marker: not a many-class text target
    ("a,y\n1,0.5\n2,1.5\n3,0.5\n4,NA\n5,1.5\n6,0.5\n", {},
     ["line 5", "column 'y'", "non-numeric value 'NA'", "1 of 6", 'task="classification"']),
    ("a,y\n1,0.5\n2,?\n3,0.5\n4,1.5\n5,null\n6,1.5\n", {}, ["line 3", "column 'y'", "'?'", "2 of 6"]),
    ("a,y\n1,2\n2,0\n3,n/a\n4,2\n5,0\n", {}, ["line 4", "column 'y'", "'n/a'", 'task="classification"']),
    ("a,y\n1,b\n2,a\n3,2\n4,b\n5,a\n6,2\n", {}, ["line 2", "column 'y'", "'b'", "4 of 6"]),
    ("a,y\n1,0\n2,x\n", {"task": "regression"}, ["line 3", "column 'y'", "non-numeric", "regression"]),
    (b"a,y\n1,0\n\xff2,1\n", {}, ["line 3", "UTF-8"]),
    ('a,y\n1,0\n"2"x,1\n', {}, ["line 3", "malformed"]),
    ("a,y\n1,0\n2\x00,1\n", {}, ["line 3", "column 'a'", "non-numeric"]),
    ('a,y\n1,0\n"2" ,1\n', {}, ["line 3", "malformed"]),
    ('a,y\n1,0\n"2,1\n3,1\n', {}, ["line 3", "malformed", "to line 4"]),
    ("a,y\n1,0\n1_000,1\n", {}, ["line 3", "non-numeric", "'1_000'"]),
    ("a,y\n1,0\n2,0\n3,1\n", {"test_fraction": 0.9}, ["test_fraction", "no training sample", "class '0'"]),
    ("a,y\n1,5.5\n", {}, ["too few samples"]),
    ("a,y\n1,0\n2,1e-99999999999999999999\n3,1\n", {"task": "classification"},
     ["line 3", "column 'y'", "'1e-99999999999999999999'", "class label"]),
]


@pytest.mark.parametrize("content, kwargs, words", CSV_ERRORS)
def test_csv_errors_name_file_line_and_column(tmp_path, content, kwargs, words):
    p = write(tmp_path, content)
    before = sorted(os.listdir(tmp_path)), p.read_bytes()
    with pytest.raises(ValueError) as e:
        load_csv(p, **{"target": "y", **kwargs})
    msg = str(e.value)
    assert str(p) in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    assert (sorted(os.listdir(tmp_path)), p.read_bytes()) == before  # nothing written


@pytest.mark.parametrize("kwargs, words", [
    ({"target": 3}, ["target"]),
    ({"target": "  "}, ["target"]),
    ({"target": "y", "task": "ranking"}, ["task", "ranking"]),
    ({"target": "y", "seed": -2}, ["seed"]),
    ({"target": "y", "test_fraction": 1.5}, ["test_fraction"]),
])
def test_csv_bad_arguments(tmp_path, kwargs, words):
    p = write(tmp_path, "a,y\n1,0\n2,1\n")
    with pytest.raises(ValueError) as e:
        load_csv(p, **kwargs)
    for w in words:
        assert w in str(e.value)


def test_csv_unreadable_paths(tmp_path):
    for p in (tmp_path / "missing.csv", tmp_path):
        with pytest.raises(ValueError, match="cannot read"):
            load_csv(p, "y")
    with pytest.raises(ValueError, match="path"):
        load_csv(12, "y")


# ----------------------------------------------------------------------------------------------------------
# CSV reader: accepted inputs and task inference
# ----------------------------------------------------------------------------------------------------------

def test_csv_accepts_bom_crlf_quotes_spaces_and_blank_lines(tmp_path):
    text = '\ufeff a , "b",label\r\n1, 2.5e0 , "x"\r\n\r\n-3,.5,"y"\r\n4,5.,x\r\n6,7,y\r\n8,9,x\r\n10,11,y\r\n\r\n'
    ds = load_csv(write(tmp_path, text), " label ", seed=0)
    assert ds.feature_names == ("a", "b") and ds.class_names == ("x", "y") and ds.n_samples == 6
    rows = np.array([[1, 2.5, 0], [-3, 0.5, 1], [4, 5, 0], [6, 7, 1], [8, 9, 0], [10, 11, 1]], dtype=float)
    same_multiset(reassembled(ds), rows)


@pytest.mark.parametrize("values, task, expected_task, names", [
    (["2", "0", "-1", "0", "2", "-1"] * 3, None, "classification", ("-1", "0", "2")),
    (["1", "1.0", "3", "3e0"] * 4, None, "classification", ("1", "3")),
    ([str(i) for i in range(21)] * 2, None, "regression", ()),
    ([str(i) for i in range(20)] * 2, None, "classification", tuple(str(i) for i in range(20))),
    (["0.5", "1", "2"] * 4, None, "regression", ()),
    (["b", "a", "2", "b", "a", "2"] * 2, "classification", "classification", ("b", "a", "2")),
    (["0", "1"] * 6, "regression", "regression", ()),
    (["0.5", "1.5"] * 6, "classification", "classification", ("0.5", "1.5")),
])
def test_csv_task_inference(tmp_path, values, task, expected_task, names):
    text = "f,t\n" + "\n".join(f"{i},{v}" for i, v in enumerate(values))
    ds = load_csv(write(tmp_path, text), "t", task=task)
    assert ds.task == expected_task and ds.class_names == names
    if expected_task == "classification":
        y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
        f = np.rint(reassembled(ds)[:, 0]).astype(int)
        numeric = all(re.fullmatch(r"[-+.0-9eE]+", v) for v in values)
        for fi, yi in zip(f, y):  # each row's label is the class its own cell names
            name, cell = ds.class_names[yi], values[fi]
            assert float(name) == float(cell) if numeric else name == cell
    else:
        np.testing.assert_allclose(np.sort(reassembled(ds)[:, 1]), np.sort(np.array(values, dtype=float)), atol=1e-12)


def labels_by_row(ds):
    """{row index: class name} of a CSV whose first feature is the row's index."""
    f = np.rint(reassembled(ds)[:, 0]).astype(int)
    y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    return {int(i): ds.class_names[k] for i, k in zip(f, y)}


def indexed_csv(cells, header="f,t"):
    """A two-column CSV: the row index, then the cell."""
    return header + "\n" + "\n".join(f"{i},{c}" for i, c in enumerate(cells)) + "\n"


def test_csv_integer_labels_above_2_53_stay_distinct(tmp_path):
    # 2**53 and 2**53 + 1 are one float64, but two different labels
    cells = ["1", "9007199254740992", "9007199254740993"] * 4
    ds = load_csv(write(tmp_path, indexed_csv(cells)), "t")
    assert ds.task == "classification" and ds.class_names == ("1", "9007199254740992", "9007199254740993")
    assert labels_by_row(ds) == dict(enumerate(cells))


def test_csv_integer_label_names_are_the_files_integers(tmp_path):
    # 10**30 spelled three ways is one class, named by the exact integer (not the float's 1e30 + 19884624838656)
    cells = ["0", "1000000000000000000000000000000", "1e30", "-0", "1.000E+30", "0.0"] * 3
    ds = load_csv(write(tmp_path, indexed_csv(cells)), "t")
    assert ds.task == "classification" and ds.class_names == ("0", "1000000000000000000000000000000")
    assert labels_by_row(ds) == {i: "0" if float(c) == 0 else ds.class_names[1] for i, c in enumerate(cells)}


@pytest.mark.parametrize("cells, names", [
    (["0.1", "0.10000000000000001", "0.2"] * 4, ("0.1", "0.10000000000000001", "0.2")),  # two values, one float
    (["0.50", ".5", "5e-1", "+1.5", "15E-1", "1.50"] * 2, ("0.5", "1.5")),
    (["2.5e-7", "1e-7", "-3"] * 4, ("-3", "1e-7", "2.5e-7")),
    ([str(2**60 + i) for i in range(25)] * 2, tuple(str(2**60 + i) for i in range(25))),
])
def test_csv_forced_classification_uses_exact_values(tmp_path, cells, names):
    ds = load_csv(write(tmp_path, indexed_csv(cells)), "t", task="classification")
    assert ds.task == "classification" and ds.class_names == names
    exact = {i: names[sorted(set(map(Decimal, cells))).index(Decimal(c))] for i, c in enumerate(cells)}
    assert labels_by_row(ds) == exact


@pytest.mark.parametrize("task", [None, "regression"])
def test_csv_regression_warns_when_an_integer_cell_is_rounded(tmp_path, task):
    # 2**53 + 1 and 10**30 have no float64; 0.1, 2**60 and exponent notation are ordinary floats
    cells = [f"{i}.25" for i in range(25)] + ["0.1", "1152921504606846976", "1e30", "-9007199254740993", "7",
                                              "1000000000000000000000000000000"]
    p = write(tmp_path, indexed_csv(cells))
    with pytest.warns(UserWarning) as record:
        ds = load_csv(p, "t", task=task)
    assert ds.task == "regression"
    assert len(record) == 1, [str(w.message) for w in record]
    msg = str(record[0].message)
    assert "\n" not in msg
    for w in (str(p), "line 30", "column 't'", "'-9007199254740993'", "-9007199254740992.0", "change of +1",
              "2 cells"):
        assert w in msg, (w, msg)


def test_csv_regression_of_exact_values_does_not_warn(tmp_path):
    cells = ["0.1", "2.5", "9007199254740992", "-1152921504606846976", "1e23", "123456789012345678.5"] * 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_csv(write(tmp_path, indexed_csv(cells)), "t", task="regression")
    assert ds.task == "regression"


@pytest.mark.parametrize("cells, names", [
    (["1.5", "NA", "0.5", "1.5", "1.50", "nan"] * 3, ("1.5", "NA", "0.5", "1.50", "nan")),
    (["0", "1", "nan"] * 3, ("0", "1", "nan")),
])
def test_csv_forced_classification_takes_every_cell_of_a_mixed_target_as_a_label(tmp_path, cells, names):
    ds = load_csv(write(tmp_path, indexed_csv(cells)), "t", task="classification")
    assert ds.task == "classification" and ds.class_names == names
    assert labels_by_row(ds) == dict(enumerate(cells))


NOT_NUMBERS = st.one_of(
    st.sampled_from(["NA", "?", "null", "n/a", "N/A", "-", "nan", "-inf", "Infinity", "1,5", "1 000", "0x10", "١",
                     "1e", "e5", "--1", "\"x\""]),
    st.text(max_size=10),
).filter(lambda t: t.strip() and not data._NUMBER.match(t.strip()))


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.floats(-1e9, 1e9, allow_nan=False).map(repr), min_size=2, max_size=30),
       at=st.integers(0, 30), token=NOT_NUMBERS)
def test_one_non_numeric_cell_in_a_numeric_target_is_refused_at_its_line(fuzz_file, values, at, token):
    at = min(at, len(values))
    cells = values[:at] + [token] + values[at:]
    buf = io.StringIO()
    csv.writer(buf).writerows([["f", "t"]] + [[str(i), c] for i, c in enumerate(cells)])
    fuzz_file.write_text(buf.getvalue(), encoding="utf-8")
    with pytest.raises(ValueError) as e:
        load_csv(fuzz_file, "t")
    msg = str(e.value)
    assert "\n" not in msg
    for w in (str(fuzz_file), f"line {at + 2},", "column 't'", data._short(token.strip()), 'task="classification"'):
        assert w in msg, (w, msg)


SPELLINGS = ("{}", "{}.0", "{}e0", "{}0e-1", "{}.000E+0")


@settings(max_examples=60, deadline=None)
@given(values=st.sets(st.one_of(st.integers(-50, 50), st.integers(2**53 - 3, 2**53 + 3),
                                st.integers(-10**300, 10**300)), min_size=2, max_size=30),
       draw=st.data())
def test_distinct_integer_labels_give_exactly_those_classes_ascending(fuzz_file, values, draw):
    values = sorted(values)
    rows = [v for v in values for _ in range(2)]
    rows = draw.draw(st.permutations(rows))
    cells = [draw.draw(st.sampled_from(SPELLINGS)).format(v) for v in rows]
    fuzz_file.write_text(indexed_csv(cells))
    # up to MAX_CLASSIFICATION_LEVELS the task is inferred; beyond, it is forced
    task = None if len(values) <= data.MAX_CLASSIFICATION_LEVELS else "classification"
    ds = load_csv(fuzz_file, "t", task=task)
    assert ds.task == "classification" and ds.class_names == tuple(str(v) for v in values)
    assert labels_by_row(ds) == {i: str(v) for i, v in enumerate(rows)}


LABEL_NUMBERS = st.one_of(st.integers(-50, 50).map(str), st.integers(-10**30, 10**30).map(str),
                          st.decimals(-1000, 1000, allow_nan=False, allow_infinity=False, places=3).map(str))


@settings(max_examples=60, deadline=None)
@given(values=st.sets(LABEL_NUMBERS, min_size=2, max_size=25), task=st.sampled_from(["classification", "regression"]),
       draw=st.data())
def test_a_given_task_is_the_task_of_any_number_target(fuzz_file, values, task, draw):
    rows = draw.draw(st.permutations([v for v in sorted(values) for _ in range(2)]))
    fuzz_file.write_text(indexed_csv(rows))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # huge integers in a regression target
        ds = load_csv(fuzz_file, "t", task=task)
    assert ds.task == task
    if task == "classification":
        exact = sorted(set(map(Decimal, rows)))
        assert ds.n_classes == len(exact)
        assert [Decimal(n) for n in ds.class_names] == exact
    else:
        assert ds.class_names == () and ds.y_train.dtype == np.float64


# ----------------------------------------------------------------------------------------------------------
# CSV reader: fuzzing
# ----------------------------------------------------------------------------------------------------------

def check_any_input(path, content, target="y", task=None):
    """Any file gives a consistent Dataset or a ValueError naming the file; nothing else."""
    path.write_bytes(content)
    try:
        ds = load_csv(path, target, task=task)
    except ValueError as e:
        assert str(path) in str(e) or "target" in str(e)
        return None
    assert isinstance(ds, Dataset)
    for X, y in ((ds.X_train, ds.y_train), (ds.X_val, ds.y_val), (ds.X_test, ds.y_test)):
        assert X.shape == (len(y), ds.n_features) and np.all(np.isfinite(X))
        if ds.task == "regression":
            assert np.all(np.isfinite(y))
        else:
            assert y.dtype == np.int64 and np.all((0 <= y) & (y < ds.n_classes))
    assert ds.n_train >= 1 and ds.n_test >= 1
    return ds


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CELLS = st.one_of(
    st.sampled_from(["", " ", "0", "1", "-2.5", "1e308", "-1e308", "1e-320", "nan", "inf", "a", "b",
                     "\"q\"", "\"", "1,2", "0x10", "1_0", "١", " 3 ", "1e999", "y"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-3, 3).map(str),
    st.text(max_size=5),
)


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "fuzz.csv"


@FUZZ
@given(content=st.binary(max_size=300))
def test_fuzz_random_bytes(fuzz_file, content):
    check_any_input(fuzz_file, content)


@FUZZ
@given(text=st.text(alphabet="0123456789.,-+eE \n\r\"'aby\tni\x00", max_size=200), header=st.booleans())
def test_fuzz_csvish_text(fuzz_file, text, header):
    check_any_input(fuzz_file, (("a,b,y\n" if header else "") + text).encode("utf-8"))


NUMBERS = st.one_of(st.integers(-5, 5).map(str), st.floats(-1e6, 1e6).map(repr),
                    st.floats(allow_nan=False, allow_infinity=False).map(repr))
TARGETS = st.one_of(st.sampled_from(["0", "1", "2", "a", "b", "1.5", "-3"]), NUMBERS)


@FUZZ
@given(width=st.integers(2, 4), n_rows=st.integers(0, 25), task=st.sampled_from([None, "classification",
                                                                                   "regression"]),
       encoding=st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "latin-1"]), draw=st.data())
def test_fuzz_structured_tables(fuzz_file, width, n_rows, task, encoding, draw):
    # mostly well-formed rows of numbers with a label, some with a wrong width or an odd cell
    rows = []
    for _ in range(n_rows):
        kind = draw.draw(st.integers(0, 29))
        if kind == 0:
            rows.append(draw.draw(st.lists(CELLS, max_size=5)))
        else:
            cells = draw.draw(st.lists(CELLS if kind == 1 else NUMBERS, min_size=width - 1, max_size=width - 1))
            rows.append(cells + [draw.draw(TARGETS)])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["f%d" % j for j in range(width - 1)] + ["y"])
    w.writerows(rows)
    try:
        content = buf.getvalue().encode(encoding)
    except UnicodeEncodeError:
        content = buf.getvalue().encode("utf-8", "surrogatepass")
    check_any_input(fuzz_file, content, task=task)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-1e300, 1e300), min_size=6, max_size=30),
       labels=st.lists(st.sampled_from(["a", "b"]), min_size=6, max_size=30))
def test_fuzz_valid_tables_round_trip(fuzz_file, values, labels):
    n = min(len(values), len(labels))
    text = "x,y\n" + "\n".join(f"{values[i]!r},{labels[i]}" for i in range(n))
    ds = check_any_input(fuzz_file, text.encode())
    if ds is not None:
        raw = np.array(values[:n])
        got = np.sort(ds.unscale_features(np.concatenate([ds.X_train, ds.X_val, ds.X_test]))[:, 0])
        np.testing.assert_allclose(got, np.sort(raw), rtol=1e-9, atol=1e-9 * np.max(np.abs(raw)))


# ----------------------------------------------------------------------------------------------------------
# Synthetic sets
# ----------------------------------------------------------------------------------------------------------

def test_true_curves_closed_forms():
    np.testing.assert_allclose(data.sine_curve([0.0, 0.25, 0.5, 0.75]), [0, 1, 0, -1], atol=1e-15)
    np.testing.assert_allclose(data.quadratic_curve([-1.0, 0.0, 0.5, 1.0]), [3.0, 1.0, 1.5, 3.0])


@pytest.mark.parametrize("make, curve, xrange, noise", [
    (data.make_sine, data.sine_curve, data.SINE_X_RANGE, 0.2),
    (data.make_quadratic, data.quadratic_curve, data.QUADRATIC_X_RANGE, 0.1),
])
def test_synthetic_regression_residuals_are_the_noise(make, curve, xrange, noise):
    X, y = make(n_samples=20000, noise=noise, seed=11)
    assert X.shape == (20000, 1) and y.shape == (20000,)
    assert xrange[0] <= X.min() and X.max() <= xrange[1]
    r = y - curve(X[:, 0])
    # sample std of 20000 Gaussian draws is within 3% of sigma with overwhelming probability
    assert abs(r.std() / noise - 1) < 0.03 and abs(r.mean()) < 4 * noise / np.sqrt(20000)
    X0, y0 = make(n_samples=50, noise=0.0, seed=11)
    np.testing.assert_array_equal(y0, curve(X0[:, 0]))


def test_moons_lie_on_their_half_circles():
    X, y = data.make_moons(n_samples=101, noise=0.0, seed=5)
    assert X.shape == (101, 2) and np.sum(y == 0) == 50 and np.sum(y == 1) == 51
    up, low = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(up[:, 0], up[:, 1]), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.hypot(low[:, 0] - 1.0, low[:, 1] - 0.5), 1.0, rtol=1e-12)
    assert np.all(up[:, 1] >= 0) and np.all(low[:, 1] <= 0.5)
    Xn, _ = data.make_moons(n_samples=2000, noise=0.2, seed=5)
    Xc, _ = data.make_moons(n_samples=2000, noise=0.0, seed=5)
    # same t draws come first, so the difference is the added Gaussian noise
    assert abs((Xn - Xc).std() / 0.2 - 1) < 0.05


@pytest.mark.parametrize("name, make, options", [
    ("sine", data.make_sine, {}),
    ("quadratic", data.make_quadratic, {"n_samples": 40, "noise": 0.3}),
    ("moons", data.make_moons, {"n_samples": 60}),
])
def test_synthetic_sets_split_the_generator_rows(name, make, options):
    ds = load_dataset(name, seed=9, **options)
    X, y = make(seed=9, **options)
    same_multiset(reassembled(ds), np.column_stack([X, y]))
    other = load_dataset(name, seed=10, **options)
    assert not np.allclose(np.sort(reassembled(other)[:, 0]), np.sort(X[:, 0]))


def test_sine_defaults_are_few_samples_and_plots_can_map_a_grid():
    ds = load_dataset("sine")
    assert (ds.n_samples, ds.n_features, ds.task) == (40, 1, "regression") and ds.n_train == 24
    grid = np.linspace(*data.SINE_X_RANGE, 201)[:, None]
    Z = ds.scale_features(grid)
    np.testing.assert_allclose(ds.unscale_features(Z), grid, atol=1e-14)
    # a "prediction" equal to the standardized true curve maps back to sin(2πx)
    pred = ds.scale_target(data.sine_curve(grid[:, 0]))
    np.testing.assert_allclose(ds.unscale_target(pred), np.sin(2 * np.pi * grid[:, 0]), atol=1e-12)
