"""Data sets: the shipped real ones, seeded synthetic ones, and a user's CSV, split and standardized.

Every loader returns a :class:`Dataset` with three parts: training (fit the weights), validation (choose λ)
and test (report only). The parts are drawn as follows, with ``round`` meaning "half up" (floor(x + 0.5)):

1. Group the rows: one group per class (classification, which makes the split stratified) or one group
   holding every row (regression).
2. In each group of ``n`` rows, shuffled with the seed's generator: ``round(test_fraction * n)`` rows go to
   test, then ``round(validation_fraction * rest)`` of the ``rest`` go to validation, the others to training.
   A group of at least 2 rows gives test at least one row; when ``validation_fraction > 0`` and at least 2 rows
   remain, validation gets at least one too. Training must keep at least one row of every group, otherwise
   the fractions are rejected.
3. Each part is shuffled once more, so its rows are not ordered by class.

Features, and the target of a regression set, are standardized with the training part's mean and standard
deviation (population, ddof=0) only; a feature that is constant on the training part gets scale 1. The
statistics are kept on the :class:`Dataset` so predictions can be mapped back to original units.

Randomness: the split uses a generator seeded with the first child of ``numpy.random.SeedSequence(seed)``;
a synthetic set's samples are those of ``make_<name>(..., seed=seed)``, i.e. drawn from
``numpy.random.default_rng(seed)``, an independent stream. Same seed, same arrays, bit for bit.

A user's CSV (:func:`load_csv`) gets its task from the target column unless ``task`` is given: all numbers
gives classification (at most ``MAX_CLASSIFICATION_LEVELS`` distinct integers, compared exactly) or
regression, all text gives classification, and a mix of numbers and other cells (such as "NA") is refused.
"""

from __future__ import annotations

import csv
import decimal
import inspect
import io
import math
import numbers
import os
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

__all__ = ["Dataset", "load_dataset", "load_csv", "available", "describe",
           "make_sine", "make_moons", "make_quadratic", "sine_curve", "quadratic_curve",
           "SINE_X_RANGE", "QUADRATIC_X_RANGE", "MAX_CLASSIFICATION_LEVELS"]

TASKS = ("classification", "regression")

# name -> (file, target column, task); the target is the last column of each file.
_REAL = {
    "iris": ("iris.csv", "species", "classification"),
    "wine": ("wine.csv", "cultivar", "classification"),
    "breast_cancer": ("breast_cancer.csv", "diagnosis", "classification"),
    "diabetes": ("diabetes.csv", "progression", "regression"),
}
_SYNTHETIC = ("sine", "moons", "quadratic")

#: Raw input range of the synthetic regression sets (before standardization).
SINE_X_RANGE = (0.0, 1.0)
QUADRATIC_X_RANGE = (-1.0, 1.0)

#: A numeric CSV target is taken as class labels when it has at most this many distinct values, all integers.
MAX_CLASSIFICATION_LEVELS = 20

# Plain ASCII decimal numbers only (no underscores, no non-ASCII digits); nan/inf spelled out are rejected.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)\Z", re.ASCII | re.IGNORECASE)
# An integer written out (no exponent): "123", "-4.", "5.00". Cells in exponent notation read as floats.
_INTEGER = re.compile(r"[+-]?\d+(?:\.0*)?\Z", re.ASCII)


# ----------------------------------------------------------------------------------------------------------
# The Dataset
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A data set split into training, validation and test parts, standardized with training statistics.

    Attributes
    ----------
    name : str
        The data set's name (a shipped or synthetic name, or the CSV file's stem).
    task : str
        "classification" or "regression".
    X_train, X_val, X_test : ndarray of float64, shape (n_train, n_features), (n_val, n_features), (n_test, n_features)
        Standardized features (read-only). ``X_val`` has zero rows when ``validation_fraction`` was 0.
    y_train, y_val, y_test : ndarray, shape (n_train,), (n_val,), (n_test,)
        int64 class labels in 0..n_classes-1 (classification) or the standardized float64 target (regression).
    feature_names : tuple of str, length n_features
    class_names : tuple of str, length n_classes
        ``class_names[k]`` is the label of class ``k``; empty for regression.
    feature_mean, feature_scale : ndarray of float64, shape (n_features,)
        Training-part mean and standard deviation of the raw features (scale 1 for a constant feature):
        ``X = (X_raw - feature_mean) / feature_scale``.
    target_mean, target_scale : float
        The same for a regression target (0 and 1 for classification): ``y = (y_raw - target_mean) / target_scale``.
    seed : int
    test_fraction, validation_fraction : float
        The arguments the split was made with.
    source : str
        Where the rows came from (a shipped file, a synthetic generator with its settings, or a CSV path).
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple
    class_names: tuple
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    target_mean: float = 0.0
    target_scale: float = 1.0
    seed: int = 0
    test_fraction: float = 0.25
    validation_fraction: float = 0.2
    source: str = field(default="")

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.class_names)

    @property
    def n_outputs(self) -> int:
        """Network outputs this set needs: one per class (softmax cross-entropy), or 1 for regression."""
        return self.n_classes if self.task == "classification" else 1

    @property
    def n_train(self) -> int:
        return self.X_train.shape[0]

    @property
    def n_val(self) -> int:
        return self.X_val.shape[0]

    @property
    def n_test(self) -> int:
        return self.X_test.shape[0]

    @property
    def n_samples(self) -> int:
        """Rows in all three parts together."""
        return self.n_train + self.n_val + self.n_test

    @property
    def raw_X_train(self) -> np.ndarray:
        """Training features in original units, shape (n_train, n_features)."""
        return self.unscale_features(self.X_train)

    @property
    def raw_X_val(self) -> np.ndarray:
        """Validation features in original units, shape (n_val, n_features)."""
        return self.unscale_features(self.X_val)

    @property
    def raw_X_test(self) -> np.ndarray:
        """Test features in original units, shape (n_test, n_features)."""
        return self.unscale_features(self.X_test)

    def _raw_y(self, y) -> np.ndarray:
        return self.unscale_target(y) if self.task == "regression" else y

    @property
    def raw_y_train(self) -> np.ndarray:
        """Training targets in original units (class labels unchanged), shape (n_train,)."""
        return self._raw_y(self.y_train)

    @property
    def raw_y_val(self) -> np.ndarray:
        """Validation targets in original units (class labels unchanged), shape (n_val,)."""
        return self._raw_y(self.y_val)

    @property
    def raw_y_test(self) -> np.ndarray:
        """Test targets in original units (class labels unchanged), shape (n_test,)."""
        return self._raw_y(self.y_test)

    def _features(self, X, name: str) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 0 or X.shape[-1] != self.n_features:
            raise ValueError(f"{name} must have shape (..., {self.n_features}) for data set {self.name!r}, "
                             f"got shape {X.shape}")
        return X

    def scale_features(self, X_raw) -> np.ndarray:
        """Standardize raw features with the training statistics.

        Parameters
        ----------
        X_raw : array_like, shape (..., n_features)

        Returns
        -------
        ndarray, shape (..., n_features)
        """
        return (self._features(X_raw, "X_raw") - self.feature_mean) / self.feature_scale

    def cross_validation(self, k: int, fold: int | None) -> "Dataset":
        """The training and validation parts together (the *training part*), cut into k folds.

        Folds are stratified like the split (module docstring): each class's rows, shuffled with a
        generator seeded by the second child of ``SeedSequence(seed)`` (the split's stream is the
        first), are dealt to the folds in turn, continuing from class to class, so fold sizes differ
        by at most one.

        Parameters
        ----------
        k : int
            Folds, 2 <= k <= rows of the training part.
        fold : int or None
            0..k − 1: that fold validates, the other k − 1 train.  None: every row of the training
            part trains and nothing validates (the refit after λ is chosen).

        Returns
        -------
        Dataset
            Its parts standardized again with the statistics of the rows that train (the rows
            themselves are the original ones up to rounding); the test rows are unchanged.
        """
        n = self.n_train + self.n_val
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= n:
            raise ValueError(f"cv must be an integer from 2 to the {n} rows of the training part, got {k!r}")
        if fold is not None and (isinstance(fold, bool) or not isinstance(fold, (int, np.integer))
                                 or not 0 <= fold < k):
            raise ValueError(f"fold must be None or an integer in [0, {k}), got {fold!r}")
        X = np.vstack([self.unscale_features(self.X_train), self.unscale_features(self.X_val)])
        y = np.concatenate([self.y_train, self.y_val])
        if self.task == "classification":
            groups = [np.flatnonzero(y == c) for c in range(self.n_classes)]
        else:
            y = self.unscale_target(y)
            groups = [np.arange(n)]
        rng = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(2)[1])
        fold_of, dealt = np.empty(n, np.int64), 0
        for g in groups:
            order = rng.permutation(g)
            fold_of[order] = (dealt + np.arange(order.size)) % k
            dealt += order.size
        val = fold_of == fold if fold is not None else np.zeros(n, bool)
        train = ~val
        names = self.feature_names
        fmean, fscale, fmag = _standardize_stats(X[train], names, "feature")
        X_test = self.unscale_features(self.X_test)
        Xs = [_scaled(part, fmean, fscale, fmag, names, "feature") for part in (X[train], X[val], X_test)]
        tmean, tscale = 0.0, 1.0
        if self.task == "regression":
            m, sc, mag = _standardize_stats(y[train, None], ("target",), "regression")
            tmean, tscale = float(m[0]), float(sc[0])
            y_test = self.unscale_target(self.y_test)
            ys = [_scaled(part[:, None], m, sc, mag, ("target",), "regression")[:, 0]
                  for part in (y[train], y[val], y_test)]
        else:
            ys = [y[train], y[val], self.y_test.copy()]
        for a in (*Xs, *ys, fmean, fscale):
            a.setflags(write=False)
        return Dataset(name=self.name, task=self.task, X_train=Xs[0], y_train=ys[0], X_val=Xs[1], y_val=ys[1],
                       X_test=Xs[2], y_test=ys[2], feature_names=names, class_names=self.class_names,
                       feature_mean=fmean, feature_scale=fscale, target_mean=tmean, target_scale=tscale,
                       seed=self.seed, test_fraction=self.test_fraction,
                       validation_fraction=float(val.sum()) / n, source=self.source)

    def unscale_features(self, X) -> np.ndarray:
        """Map standardized features back to original units: ``X * feature_scale + feature_mean``.

        Parameters
        ----------
        X : array_like, shape (..., n_features)

        Returns
        -------
        ndarray, shape (..., n_features)
        """
        return self._features(X, "X") * self.feature_scale + self.feature_mean

    def _check_regression(self, method: str):
        if self.task != "regression":
            raise ValueError(f"{method} applies to regression data sets; {self.name!r} is {self.task}")

    def scale_target(self, y_raw) -> np.ndarray:
        """Standardize a regression target in original units: ``(y_raw - target_mean) / target_scale``.

        Parameters
        ----------
        y_raw : array_like, any shape

        Returns
        -------
        ndarray, same shape as ``y_raw``
        """
        self._check_regression("scale_target")
        return (np.asarray(y_raw, dtype=np.float64) - self.target_mean) / self.target_scale

    def unscale_target(self, y) -> np.ndarray:
        """Map standardized regression targets or predictions back to original units.

        Parameters
        ----------
        y : array_like, any shape (e.g. (n,) or a network's (n, 1) output)

        Returns
        -------
        ndarray, same shape as ``y``: ``y * target_scale + target_mean``
        """
        self._check_regression("unscale_target")
        return np.asarray(y, dtype=np.float64) * self.target_scale + self.target_mean

    def __repr__(self) -> str:
        kind = f"{self.n_classes} classes" if self.task == "classification" else "regression"
        return (f"Dataset({self.name!r}, {kind}, {self.n_features} features, "
                f"train/val/test = {self.n_train}/{self.n_val}/{self.n_test}, seed={self.seed})")


# ----------------------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------------------


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _check_seed(seed) -> int:
    if not isinstance(seed, (numbers.Integral, np.integer)) or isinstance(seed, (bool, np.bool_)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_fractions(test_fraction, validation_fraction) -> tuple[float, float]:
    if not _is_real(test_fraction) or not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    if not _is_real(validation_fraction) or not 0.0 <= float(validation_fraction) < 1.0:
        raise ValueError(f"validation_fraction must be a number in [0, 1), got {validation_fraction!r}")
    return float(test_fraction), float(validation_fraction)


def _check_task(task) -> None:
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be None, 'classification' or 'regression', got {task!r}")


def _check_n_samples(n_samples, minimum: int) -> int:
    if (not isinstance(n_samples, (numbers.Integral, np.integer)) or isinstance(n_samples, (bool, np.bool_))
            or not minimum <= n_samples <= 10_000_000):
        raise ValueError(f"n_samples must be an integer in [{minimum}, 10000000], got {n_samples!r}")
    return int(n_samples)


def _check_noise(noise) -> float:
    if not _is_real(noise) or not math.isfinite(float(noise)) or float(noise) < 0.0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def _short(text: str, limit: int = 40) -> str:
    """repr of a possibly huge cell or name, cut to ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


# ----------------------------------------------------------------------------------------------------------
# Splitting and standardizing
# ----------------------------------------------------------------------------------------------------------


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _split_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])


def _split(groups, group_names, n_rows, seed, test_fraction, validation_fraction):
    """Stratified split of row indices; see the module docstring for the rule.

    Parameters
    ----------
    groups : list of ndarray of int
        Row indices of each group (class), in file order.
    group_names : list of str
        For error messages ("class 'setosa'", or "the data").

    Returns
    -------
    train, val, test : ndarray of int
    """
    rng = _split_rng(seed)
    parts = ([], [], [])
    for idx, gname in zip(groups, group_names):
        n = len(idx)
        n_test = _round_half_up(test_fraction * n)
        if n_test == 0 and n >= 2:
            n_test = 1
        rest = n - n_test
        n_val = _round_half_up(validation_fraction * rest)
        if validation_fraction > 0 and n_val == 0 and rest >= 2:
            n_val = 1
        if rest - n_val < 1:
            raise ValueError(f"test_fraction={test_fraction} and validation_fraction={validation_fraction} leave "
                             f"no training sample for {gname} ({n} samples: {n_test} test, {n_val} validation)")
        perm = rng.permutation(idx)
        parts[2].append(perm[:n_test])
        parts[1].append(perm[n_test:n_test + n_val])
        parts[0].append(perm[n_test + n_val:])
    train, val, test = (rng.permutation(np.concatenate(p)) if p else np.zeros(0, np.intp) for p in parts)
    if len(test) == 0:
        raise ValueError(f"too few samples ({n_rows}) for a non-empty test part with test_fraction={test_fraction}; "
                         "need at least 2 samples in a group (class)")
    return train, val, test


def _standardize_stats(values: np.ndarray, names, what: str):
    """Training mean and scale per column (scale 1 for a constant column).

    Parameters
    ----------
    values : ndarray, shape (n, d)

    Returns
    -------
    mean, scale, magnitude : ndarray, shape (d,)
        ``magnitude`` = max |value| (1 for an all-zero column): the statistics are computed on
        ``values / magnitude`` so that huge finite values cannot overflow.
    """
    magnitude = np.abs(values).max(axis=0)
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    z = values / magnitude
    constant = np.all(values == values[0], axis=0)
    mean = np.where(constant, values[0], magnitude * z.mean(axis=0))
    scale = np.where(constant, 1.0, magnitude * z.std(axis=0))
    bad = ~(scale > 0)
    if bad.any():
        j = int(np.argmax(bad))
        raise ValueError(f"{what} {_short(names[j])}: values too close together to standardize "
                         f"(training standard deviation {scale[j]!r})")
    return mean, scale, magnitude


def _scaled(values, mean, scale, magnitude, names, what: str) -> np.ndarray:
    """``(values - mean) / scale``, computed in units of ``magnitude``; values shape (n, d)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = (values / magnitude - mean / magnitude) / (scale / magnitude)
    bad = ~np.isfinite(out)
    if bad.any():
        j = int(np.nonzero(bad)[1][0])
        raise ValueError(f"{what} {_short(names[j])}: a value overflows after standardization "
                         f"with the training mean {mean[j]!r} and scale {scale[j]!r}")
    out.setflags(write=False)
    return out


def _build(name, task, X, y, feature_names, class_names, seed, test_fraction, validation_fraction,
           source) -> Dataset:
    """Split rows (X (n, d) float64, y (n,) int labels or float target) and standardize with training stats."""
    n = X.shape[0]
    if task == "classification":
        groups = [np.flatnonzero(y == k) for k in range(len(class_names))]
        gnames = [f"class {_short(c)}" for c in class_names]
    else:
        groups, gnames = [np.arange(n)], ["the data"]
    train, val, test = _split(groups, gnames, n, seed, test_fraction, validation_fraction)

    fmean, fscale, fmag = _standardize_stats(X[train], feature_names, "feature")
    Xs = [_scaled(X[i], fmean, fscale, fmag, feature_names, "feature") for i in (train, val, test)]
    tmean, tscale = 0.0, 1.0
    if task == "regression":
        m, s, mag = _standardize_stats(y[train, None], ("target",), "regression")
        tmean, tscale = float(m[0]), float(s[0])
        ys = [_scaled(y[i, None], m, s, mag, ("target",), "regression")[:, 0] for i in (train, val, test)]
    else:
        ys = [y[i] for i in (train, val, test)]
    for a in (*ys, fmean, fscale):
        a.setflags(write=False)
    return Dataset(name=name, task=task, X_train=Xs[0], y_train=ys[0], X_val=Xs[1], y_val=ys[1],
                   X_test=Xs[2], y_test=ys[2], feature_names=tuple(feature_names),
                   class_names=tuple(class_names), feature_mean=fmean, feature_scale=fscale,
                   target_mean=tmean, target_scale=tscale, seed=seed, test_fraction=test_fraction,
                   validation_fraction=validation_fraction, source=source)


# ----------------------------------------------------------------------------------------------------------
# CSV reading
# ----------------------------------------------------------------------------------------------------------


def _parse_number(cell: str, where: str, line: int, column: str) -> float:
    """One finite float from a cell, or ValueError naming file, line and column."""
    s = cell.strip()
    at = f"{where}: line {line}, column {_short(column)}"
    if not s:
        raise ValueError(f"{at}: empty cell (every cell needs a value)")
    if _NUMBER.match(s):
        v = float(s)
        if not math.isfinite(v):
            raise ValueError(f"{at}: value {_short(s)} overflows to infinity")
        return v
    if _NONFINITE.match(s):
        raise ValueError(f"{at}: NaN/inf value {_short(s)} is not allowed")
    raise ValueError(f"{at}: non-numeric value {_short(s)}")


def _exact_level(cell: str):
    """Exact value of a number cell and its class name; spellings of one number ("1", "1.0", "1e0") agree.

    ``cell`` matches ``_NUMBER`` and its float is finite (so an integer has at most 309 digits).

    Returns
    -------
    value : decimal.Decimal or None
        The cell's value, exactly (a float64 merges integers above 2**53); None for a nonzero value too
        small for ``decimal`` (an exponent beyond -10**18), which is then not integral.
    name : str or None
        An integer written out in full ("1e30" gives "1" and 30 zeros); any other value without trailing
        zeros, in ``decimal``'s notation with a lower-case "e" ("0.50" gives "0.5", "1e-7" stays "1e-7").
    integral : bool
    """
    try:
        value = decimal.Decimal(cell)
    except decimal.InvalidOperation:
        # exponent out of decimal's range; the float is finite, so this is 0 or a nonzero speck below 1e-323
        if not re.search(r"[1-9]", re.split(r"[eE]", cell)[0]):
            return decimal.Decimal(0), "0", True
        return None, None, False
    sign, digits, exponent = value.as_tuple()
    text = "".join(map(str, digits)).lstrip("0")
    if not text:
        return value, "0", True  # "-0" and "0.00" are 0
    stripped = text.rstrip("0")
    exponent += len(text) - len(stripped)
    minus = "-" if sign else ""
    if exponent >= 0:
        # the caller has rejected cells whose float overflows, so this is at most 309 digits
        return value, minus + stripped + "0" * exponent, True
    name = str(decimal.Decimal((sign, tuple(map(int, stripped)), exponent))).replace("E", "e")
    return value, name, False


def _read_table(data: bytes, where: str, target: str):
    """Parse CSV bytes with a header row.

    Returns
    -------
    feature_names : list of str
    X : ndarray of float64, shape (n, n_features)
    target_cells : list of str, length n
        The target column's cells, stripped.
    lines : list of int, length n
        The line each row starts on (for messages).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"{where}: line {line}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True)
    rows, lines, header, header_line = [], [], None, 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            upto = f" (record runs to line {reader.line_num})" if reader.line_num > start else ""
            raise ValueError(f"{where}: line {start}: malformed CSV{upto}: {e}") from None
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if header is None:
            header, header_line = [c.strip() for c in row], start
        else:
            rows.append(row)
            lines.append(start)
    if header is None:
        raise ValueError(f"{where}: the file is empty (expected a header line, then data rows)")
    for j, c in enumerate(header):
        if not c:
            raise ValueError(f"{where}: line {header_line}: column {j + 1} of the header has an empty name")
    seen = set()
    for c in header:
        if c in seen:
            raise ValueError(f"{where}: line {header_line}: duplicate column name {_short(c)}")
        seen.add(c)
    if target not in seen:
        cols = ", ".join(_short(c)[1:-1] for c in header[:50]) + (", ..." if len(header) > 50 else "")
        raise ValueError(f"{where}: line {header_line}: target column {_short(target)} not found; "
                         f"the columns are: {cols}")
    if len(header) < 2:
        raise ValueError(f"{where}: line {header_line}: no feature columns besides the target {_short(target)}")
    if not rows:
        raise ValueError(f"{where}: no data rows after the header (line {header_line})")
    t = header.index(target)
    feature_names = [c for j, c in enumerate(header) if j != t]
    X = np.empty((len(rows), len(header) - 1))
    target_cells = []
    for i, (row, line) in enumerate(zip(rows, lines)):
        if len(row) != len(header):
            raise ValueError(f"{where}: line {line}: ragged row: expected {len(header)} fields "
                             f"(as in the header), got {len(row)}")
        k = 0
        for j, cell in enumerate(row):
            if j == t:
                s = cell.strip()
                if not s:
                    raise ValueError(f"{where}: line {line}, column {_short(target)}: empty cell "
                                     "(every cell needs a value)")
                target_cells.append(s)
            else:
                X[i, k] = _parse_number(cell, where, line, header[j])
                k += 1
    return feature_names, X, target_cells, lines


def _warn_rounded(cells, exact, values, lines, where, target) -> None:
    """One UserWarning for a regression target whose integer cells a float64 cannot hold (|v| > 2**53).

    Parameters
    ----------
    cells, lines : the target's stripped cells and their lines
    exact : list of (value, name, integral) from :func:`_exact_level`
    values : ndarray of float64, the cells as floats
    """
    rounded = [i for i, (cell, (value, _, integral)) in enumerate(zip(cells, exact))
               if integral and _INTEGER.match(cell) and abs(value) > 2**53
               and decimal.Decimal(float(values[i])) != value]
    if not rounded:
        return
    i, n = rounded[0], len(rounded)
    f = float(values[i])
    others = "it is the only such cell" if n == 1 else f"{n} cells of the column are rounded like this"
    # stacklevel: the caller of load_csv
    warnings.warn(f"{where}: line {lines[i]}, column {_short(target)}: integer {_short(cells[i])} has no exact "
                  f"float64 and becomes {f!r} (a change of {int(f) - int(exact[i][0]):+d}) in the regression "
                  f"target; {others}", UserWarning, stacklevel=4)


def _target_values(cells, lines, where, target, task):
    """Turn target cells into (task, y, class_names); the rule is in :func:`load_csv`'s docstring.

    Parameters
    ----------
    cells : list of str
        The target's cells, stripped and non-empty.
    lines : list of int
        The line of each cell (for messages).
    where, target : str
        The file and the target column (for messages).
    task : {None, "classification", "regression"}

    Returns
    -------
    task : str
    y : ndarray
        int64 class indices (classification) or the float64 target (regression), shape (n,).
    class_names : tuple of str
        Empty for regression.
    """
    is_number = [bool(_NUMBER.match(c)) for c in cells]
    numeric = all(is_number)
    if task == "regression" and not numeric:
        texts = [i for i, c in enumerate(cells) if not (is_number[i] or _NONFINITE.match(c))]
        if texts:
            i = texts[0]
            raise ValueError(f"{where}: line {lines[i]}, column {_short(target)}: non-numeric value "
                             f"{_short(cells[i])} in a regression target")
        numeric = True  # numbers and NaN/inf spellings: _parse_number names the first NaN/inf
    elif task is None and not numeric and any(is_number):
        # most likely a missing-value marker ("NA", "?") in a number column: neither task is safe to guess
        i = is_number.index(False)
        kind = "NaN/inf value" if _NONFINITE.match(cells[i]) else "non-numeric value"
        raise ValueError(f"{where}: line {lines[i]}, column {_short(target)}: {kind} {_short(cells[i])} in a "
                         f"target whose other cells include numbers ({len(cells) - sum(is_number)} of "
                         f"{len(cells)} cells are not numbers); fix those cells, or pass "
                         'task="classification" to treat every value as a label')
    if numeric:
        values = np.array([_parse_number(c, where, ln, target) for c, ln in zip(cells, lines)])
        # levels from the cell text, not the floats: 2**53 and 2**53 + 1 are one float but two labels
        exact = [_exact_level(c) for c in cells]
        levels = {value: (name, integral) for value, name, integral in exact}
        if task is None:
            integral = all(i for _, i in levels.values())
            task = "classification" if integral and len(levels) <= MAX_CLASSIFICATION_LEVELS else "regression"
        if task == "regression":
            _warn_rounded(cells, exact, values, lines, where, target)
            return task, values, ()
        if None in levels:
            i = next(i for i, (value, _, _) in enumerate(exact) if value is None)
            raise ValueError(f"{where}: line {lines[i]}, column {_short(target)}: value {_short(cells[i])} has an "
                             "exponent too large to compare exactly as a class label")
        order = sorted(levels)
        index = {value: k for k, value in enumerate(order)}
        y = np.array([index[value] for value, _, _ in exact])
        names = tuple(levels[value][0] for value in order)
    else:
        task = "classification"
        index = {}
        y = np.array([index.setdefault(c, len(index)) for c in cells])
        names = tuple(index)
    if len(names) < 2:
        raise ValueError(f"{where}: column {_short(target)}: a single class {_short(names[0])}; "
                         "classification needs at least 2 classes")
    return task, y.astype(np.int64).reshape(-1), names


def load_csv(path, target: str, task: str | None = None, seed: int = 0, test_fraction: float = 0.25,
             validation_fraction: float = 0.2) -> Dataset:
    """Read a user's CSV file and split and standardize it like the shipped data sets.

    The file is UTF-8 (a byte-order mark is allowed), comma-separated with double quotes (spaces after a
    comma are skipped, spaces around a value are stripped), with a header row of distinct, non-empty
    column names. Blank lines are skipped. Every feature cell must be a finite
    ASCII decimal number (such as ``-1.5e3``); NaN, inf and empty cells are rejected. The ``target`` column
    may hold numbers or text; a target cell is a *number* when it is such an ASCII decimal number (NaN and
    inf spellings are not).

    Task inference (``task=None``):

    * every target cell a number: classification when every value is an integer and there are at most 20
      distinct values (``MAX_CLASSIFICATION_LEVELS``), regression otherwise. Values are compared exactly,
      from the cell text: "1", "1.0" and "1e0" are one value, 9007199254740992 and 9007199254740993 two;
    * no target cell a number (such as "setosa"): classification;
    * some cells numbers and some not (such as "NA" or "?" in a number column): refused, naming the first
      cell that is not a number. Fix the cells, or pass ``task="classification"``.

    ``task`` given forces the task. ``task="classification"``: a target of numbers has one class per exact
    value; any other target has one class per distinct cell text ("1", "1.0" and "NA" are then three
    classes). ``task="regression"``: every target cell must be a number, read as a float64.

    Classes: text labels are numbered by first appearance in the file and named as written. Number
    labels are numbered by ascending exact value; an integer is named by its digits written out ("1e3" is
    "1000", "-0" is "0"), any other number without trailing zeros ("0.50" is "0.5", and below 1e-6 in
    magnitude in exponent notation: "1e-7", "2.5e-7").

    Parameters
    ----------
    path : str or os.PathLike
    target : str
        The target column's name (as in the header, surrounding spaces removed).
    task : {None, "classification", "regression"}
    seed, test_fraction, validation_fraction
        As in :func:`load_dataset`.

    Returns
    -------
    Dataset
        Named after the file's stem; ``feature_names`` are the other columns in file order.

    Warns
    -----
    UserWarning
        Regression only, at most once per call: integer cells written out (no exponent, such as
        9007199254740993) that a float64 cannot hold exactly. The message names the file, the line, column
        and value of the first one, the float it becomes, and how many cells are rounded.

    Raises
    ------
    ValueError
        For a bad argument, or a file that cannot be read or is not a valid table: the one-line message names
        the file, and the line, column and value where there is one (missing target column with the list of
        columns, non-numeric or non-finite or empty cell, a number that overflows a float64, a target mixing
        numbers and other cells with ``task=None``, a class label whose exponent is too large to compare
        exactly, ragged row, empty file or header only, a single class, duplicate names, bytes that are
        not UTF-8, malformed quoting).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not isinstance(target, str) or not target.strip():
        raise ValueError(f"target must be a non-empty column name, got {target!r}")
    _check_task(task)
    seed = _check_seed(seed)
    test_fraction, validation_fraction = _check_fractions(test_fraction, validation_fraction)
    where = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (OSError, ValueError) as e:
        raise ValueError(f"{where}: cannot read the file ({getattr(e, 'strerror', None) or e})") from None
    feature_names, X, cells, lines = _read_table(data, where, target.strip())
    task, y, class_names = _target_values(cells, lines, where, target.strip(), task)
    name = os.path.splitext(os.path.basename(where))[0] or "csv"
    try:
        return _build(name, task, X, y, feature_names, class_names, seed, test_fraction,
                      validation_fraction, source=where)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


# ----------------------------------------------------------------------------------------------------------
# Synthetic generators
# ----------------------------------------------------------------------------------------------------------


def sine_curve(x) -> np.ndarray:
    """The true curve of the "sine" set: sin(2πx).

    Parameters
    ----------
    x : array_like, any shape (raw units; the samples lie in ``SINE_X_RANGE`` = [0, 1])

    Returns
    -------
    ndarray, same shape as ``x``
    """
    return np.sin(2.0 * np.pi * np.asarray(x, dtype=np.float64))


def quadratic_curve(x) -> np.ndarray:
    """The true curve of the "quadratic" set: 2x² + 1.

    Parameters
    ----------
    x : array_like, any shape (raw units; the samples lie in ``QUADRATIC_X_RANGE`` = [-1, 1])

    Returns
    -------
    ndarray, same shape as ``x``
    """
    x = np.asarray(x, dtype=np.float64)
    return 2.0 * x * x + 1.0


def make_sine(n_samples: int = 40, noise: float = 0.25, seed=0):
    """A few noisy samples of a sine, the classic set a flexible network overfits with a wiggly curve.

    x ~ Uniform[0, 1), y = sin(2πx) + ε with ε ~ Normal(0, noise²), all from ``default_rng(seed)``.

    Parameters
    ----------
    n_samples : int, at least 3
    noise : float, >= 0
        Standard deviation of the Gaussian noise on y.
    seed : int or numpy.random.Generator

    Returns
    -------
    X : ndarray, shape (n_samples, 1)
        The raw x.
    y : ndarray, shape (n_samples,)
    """
    n = _check_n_samples(n_samples, 3)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(*SINE_X_RANGE, size=n)
    return x[:, None], sine_curve(x) + noise * rng.standard_normal(n)


def make_quadratic(n_samples: int = 100, noise: float = 0.1, seed=0):
    """Noisy samples of y = 2x² + 1.

    x ~ Uniform[-1, 1), y = 2x² + 1 + ε with ε ~ Normal(0, noise²), all from ``default_rng(seed)``.

    Parameters
    ----------
    n_samples : int, at least 3
    noise : float, >= 0
        Standard deviation of the Gaussian noise on y.
    seed : int or numpy.random.Generator

    Returns
    -------
    X : ndarray, shape (n_samples, 1)
    y : ndarray, shape (n_samples,)
    """
    n = _check_n_samples(n_samples, 3)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(*QUADRATIC_X_RANGE, size=n)
    return x[:, None], quadratic_curve(x) + noise * rng.standard_normal(n)


def make_moons(n_samples: int = 200, noise: float = 0.2, seed=0):
    """Two interleaving half circles in 2-D, one class each.

    Class 0 ("upper"): (cos t, sin t); class 1 ("lower"): (1 − cos t, 0.5 − sin t); t ~ Uniform[0, π)
    drawn per point, then Normal(0, noise²) added to both coordinates. Class 0 gets ``n_samples // 2``
    points (the first rows), class 1 the rest.

    Parameters
    ----------
    n_samples : int, at least 6
    noise : float, >= 0
    seed : int or numpy.random.Generator

    Returns
    -------
    X : ndarray, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,)
    """
    n = _check_n_samples(n_samples, 6)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t = rng.uniform(0.0, np.pi, size=n)
    X = np.empty((n, 2))
    X[:n0, 0], X[:n0, 1] = np.cos(t[:n0]), np.sin(t[:n0])
    X[n0:, 0], X[n0:, 1] = 1.0 - np.cos(t[n0:]), 0.5 - np.sin(t[n0:])
    X += noise * rng.standard_normal((n, 2))
    y = np.zeros(n, dtype=np.int64)
    y[n0:] = 1
    return X, y


_MAKERS = {"sine": make_sine, "moons": make_moons, "quadratic": make_quadratic}


# ----------------------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------------------


def available() -> tuple:
    """Names accepted by :func:`load_dataset`: the shipped real sets, then the synthetic ones."""
    return tuple(_REAL) + _SYNTHETIC


@lru_cache(maxsize=None)
def _real_table(name: str):
    fname, target, task = _REAL[name]
    data = resources.files("swarmreg").joinpath("datasets").joinpath(fname).read_bytes()
    feature_names, X, cells, lines = _read_table(data, fname, target)
    task, y, class_names = _target_values(cells, lines, fname, target, task)
    X.setflags(write=False)
    y.setflags(write=False)
    return tuple(feature_names), X, y, class_names, task


def load_dataset(name: str, seed: int = 0, test_fraction: float = 0.25, validation_fraction: float = 0.2,
                 n_samples: int | None = None, noise: float | None = None) -> Dataset:
    """Load a shipped or synthetic data set, split it and standardize it with training statistics.

    Real sets (shipped, see ``swarmreg/datasets/PROVENANCE.md``): "iris" (150 × 4, 3 classes), "wine"
    (178 × 13, 3 classes), "breast_cancer" (569 × 30, classes "malignant", "benign"), "diabetes" (442 × 10,
    regression). Class names come from the target strings in order of first appearance in the file.

    Synthetic sets, drawn from the seed: "sine" (:func:`make_sine`, default 40 samples, noise 0.25),
    "moons" (:func:`make_moons`, 200 samples, noise 0.2, classes "upper", "lower"), "quadratic"
    (:func:`make_quadratic`, 100 samples, noise 0.1).

    Parameters
    ----------
    name : str
        One of :func:`available`.
    seed : int, >= 0
        Seeds the split, and the samples of a synthetic set.
    test_fraction : float in (0, 1)
        Share of every class (or of all rows, for regression) put in the test part.
    validation_fraction : float in [0, 1)
        Share of the remaining rows put in the validation part; 0 gives empty validation arrays.
    n_samples, noise : optional
        Settings of a synthetic generator (None: its default); rejected for the real sets.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid ones) or a bad argument (named in the message).
    """
    if name not in available():
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(available())}")
    seed = _check_seed(seed)
    test_fraction, validation_fraction = _check_fractions(test_fraction, validation_fraction)
    if name in _REAL:
        for opt, value in (("n_samples", n_samples), ("noise", noise)):
            if value is not None:
                raise ValueError(f"{opt} applies only to the synthetic data sets ({', '.join(_SYNTHETIC)}), "
                                 f"not to {name!r}")
        feature_names, X, y, class_names, task = _real_table(name)
        source = f"{_REAL[name][0]} (shipped)"
    else:
        options = {k: v for k, v in (("n_samples", n_samples), ("noise", noise)) if v is not None}
        X, y = _MAKERS[name](seed=seed, **options)
        if name == "moons":
            task, feature_names, class_names = "classification", ("x1", "x2"), ("upper", "lower")
        else:
            task, feature_names, class_names = "regression", ("x",), ()
        defaults = {k: p.default for k, p in inspect.signature(_MAKERS[name]).parameters.items() if k != "seed"}
        settings = ", ".join(f"{k}={v!r}" for k, v in {**defaults, **options}.items())
        source = f"synthetic {name}({settings})"
    return _build(name, task, X, y, feature_names, class_names, seed, test_fraction, validation_fraction,
                  source)


def describe() -> tuple:
    """One row per available data set, for listings.

    Returns
    -------
    tuple of dict
        Keys "name", "task", "n_samples", "n_features", "n_classes" (0 for regression). Synthetic sets
        are described with their default settings.
    """
    rows = []
    for name in available():
        ds = load_dataset(name)
        rows.append({"name": name, "task": ds.task, "n_samples": ds.n_samples, "n_features": ds.n_features,
                     "n_classes": ds.n_classes})
    return tuple(rows)
