"""A sweep spec: a TOML file, checked once, as one frozen :class:`Spec`.

A spec describes every (data set, trainer configuration, λ, seed) of a sweep
(see ``swarmreg/specs/example.toml``)::

    name = "example"
    datasets = ["iris"]
    seeds = [0, 1, 2]                 # or a count: seeds = 3 → 0, 1, 2
    penalty = "l2"                    # "l2", "l1", "elastic" (then l1_ratio) or "weight_elimination" (then w0)
    lambdas = [0.0, 1e-3, 1e-2]       # or a [lambda_range] table
    [model]
    hidden = [20]
    activation = "tanh"
    [[trainers]]
    name = "backprop-coupled"
    kind = "backprop"                 # "backprop", "swarm" or "lbfgs"
    lr = 0.1

:func:`parse_spec` checks everything a run could trip over before anything
runs or any file is written — every key, every setting (each trainer is built
once), that each data set splits with the fractions and suits the loss — and
raises one ``ValueError`` naming the key at fault.  Whether the runs fit in
memory depends on where they execute: the sweep checks it, before it starts.  Its steps are the small functions below, one per
part of the spec.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import checks
from ..files import read_regular
from ..data import available, load_dataset
from ..model import HIDDEN_ACTIVATIONS
from ..penalties import PENALTIES
from . import runs
from .meaning import MEANINGS, RENAMED

__all__ = ["Spec", "TrainerSpec", "ModelSpec", "parse_spec", "load_spec", "MAX_GRID", "MAX_DEPTH"]

MAX_GRID = 10_000   # most seeds (as a count) or log-spaced λ values a spec may ask for
MAX_DEPTH = 6       # deepest nesting of tables and arrays a spec needs (trainers → table → bounds is 3)
MAX_NAME = 200      # longest name of a sweep or a trainer configuration
MAX_FOLDS = 100     # most folds of cross-validation (cv) a spec may ask for

TOP_KEYS = {
    "name": "a label for the sweep (str)",
    "datasets": "data set names (list of str)",
    "seeds": "replicate seeds (list of int, or a count)",
    "penalty": '"l2", "l1", "elastic" or "weight_elimination"',
    "l1_ratio": "share of λ on the L1 part for penalty = \"elastic\" (number in [0, 1])",
    "w0": "the scale of penalty = \"weight_elimination\" (number > 0)",
    "lambdas": "the λ grid (list of numbers >= 0)",
    "lambda_range": "a log-spaced λ grid: {start, stop, num, zero}",
    "loss": '"auto", "mse", "cross_entropy" or "binary_cross_entropy"',
    "test_fraction": "share of each data set held out for testing",
    "validation_fraction": "share of the rest used to choose λ",
    "cv": "choose λ by k-fold cross-validation on the training part instead (int >= 2; 0: off)",
    "model": "the network: {hidden, activation}",
    "trainers": "the trainer configurations ([[trainers]] tables)",
}
RANGE_KEYS = {"start": "smallest λ > 0", "stop": "largest λ", "num": "number of log-spaced values",
              "zero": "also include λ = 0 (bool)"}
MODEL_KEYS = {"hidden": "hidden layer widths (list of int)", "activation": "hidden activation (str)"}
TRAINER_META = {"name": "a unique label (str)", "kind": "backprop, swarm, lbfgs or cmaes",
                "lam_as": f"what λ is: {', '.join(repr(m) for m in MEANINGS)} (see swarmreg.sweep.meaning)"}
LOSSES = ("auto", "mse", "cross_entropy", "binary_cross_entropy")
#: Former trainer settings, refused with their new name.
RENAMED_SETTINGS = {"weight_decay": "decay_fraction"}


# ------------------------------------------------------------------ the value
class Settings(dict):
    """A trainer configuration's settings: a dict that cannot change (so a Spec can be hashed,
    copied and sent to another process)."""

    def _frozen(self, *args, **kwargs):
        raise TypeError("a spec's settings cannot change; build another spec (Spec.replace)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _frozen

    def __hash__(self):
        return hash(tuple(sorted(self.items())))

    def __reduce__(self):
        return (Settings, (dict(self),))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


@dataclass(frozen=True)
class ModelSpec:
    """The network of every run: hidden widths and their activation."""

    hidden: tuple
    activation: str

    def to_toml(self) -> dict:
        return {"hidden": list(self.hidden), "activation": self.activation}


@dataclass(frozen=True)
class TrainerSpec:
    """One trainer configuration: its name, kind, what λ means for it, and its settings.

    ``settings`` holds the keys the spec sets (the trainer's defaults fill the
    rest), read-only; lists are tuples and ``"none"`` is None.
    """

    name: str
    kind: str
    lam_as: str
    settings: Settings

    def to_toml(self) -> dict:
        """The TOML-shaped table (settings inline, tuples as lists, None as "none")."""
        return {"name": self.name, "kind": self.kind, "lam_as": self.lam_as,
                **{k: list(v) if isinstance(v, tuple) else ("none" if v is None else v)
                   for k, v in self.settings.items()}}

    def to_json(self) -> dict:
        """The configuration as a run carries it (and its id hashes)."""
        return {"name": self.name, "kind": self.kind, "lam_as": self.lam_as, "settings": dict(self.settings)}


@dataclass(frozen=True)
class Spec:
    """A checked sweep spec (build it with :func:`parse_spec` or :func:`load_spec`).

    Attributes
    ----------
    name : str
    datasets : tuple of str
        Without duplicates, in the spec's order.
    seeds : tuple of int
    penalty : {"l2", "l1", "elastic", "weight_elimination"}
    l1_ratio : float
    w0 : float
        Weight elimination's scale (part of the spec's identity only for that penalty).
    lambdas : tuple of float
        Sorted, without duplicates, -0.0 as 0.0.
    loss : {"auto", "mse", "cross_entropy", "binary_cross_entropy"}
    test_fraction, validation_fraction : float
    cv : int
        0, or k: λ is chosen by k-fold cross-validation on the training part (training and
        validation rows together), and every (data set, trainer, λ, seed) runs once per fold and
        once more on the whole training part (:meth:`swarmreg.data.Dataset.cross_validation`).
    model : ModelSpec
    trainers : tuple of TrainerSpec
    source : str
        Where it came from, for messages (not part of its identity).
    """

    name: str
    datasets: tuple
    seeds: tuple
    penalty: str
    l1_ratio: float
    lambdas: tuple
    loss: str
    test_fraction: float
    validation_fraction: float
    model: ModelSpec
    trainers: tuple
    w0: float = 1.0
    cv: int = 0
    source: str = field(default="spec", compare=False)

    @property
    def n_runs(self) -> int:
        """Runs in the sweep: data sets × trainers × λ values × seeds (× (cv + 1) with cross-validation)."""
        per = self.cv + 1 if self.cv else 1
        return len(self.datasets) * len(self.trainers) * len(self.lambdas) * len(self.seeds) * per

    def to_toml(self) -> dict:
        """The TOML-shaped form: ``parse_spec(s.to_toml()) == s``."""
        shape = {"w0": self.w0} if self.penalty == "weight_elimination" else {}
        if self.cv:
            shape["cv"] = self.cv  # only there: the hashes of every other spec stay as they were
        return {"name": self.name, "datasets": list(self.datasets), "seeds": list(self.seeds),
                "penalty": self.penalty, "l1_ratio": self.l1_ratio, **shape, "lambdas": list(self.lambdas),
                "loss": self.loss, "test_fraction": self.test_fraction,
                "validation_fraction": self.validation_fraction, "model": self.model.to_toml(),
                "trainers": [t.to_toml() for t in self.trainers]}

    @functools.cached_property
    def hash(self) -> str:
        """16 hex digits of the SHA-256 of the canonical form: a results folder is tied to it."""
        text = json.dumps(self.to_toml(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **changes) -> "Spec":
        """A new spec with some top-level keys replaced (TOML-shaped values), checked again."""
        return parse_spec({**self.to_toml(), **changes}, source=self.source)


# ------------------------------------------------------------------ checks
def _fail(msg: str):
    raise ValueError(msg)


def _expect(cond: bool, where: str, key: str, what: str, value) -> None:
    if not cond:
        _fail(f"{where}: {key} must be {what}, got {checks.short(value)}")


def _check_keys(table: dict, valid: dict, where: str) -> None:
    for key in table:
        if key not in valid:
            _fail(f"{where}: unknown key {checks.short(key)}; valid keys: {', '.join(valid)}")


def _is_number(v) -> bool:
    """An int or float that a float can hold (TOML integers are unbounded)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        float(v)
    except OverflowError:
        return False
    return True


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _depth(obj) -> int:
    """How deeply tables and arrays nest in ``obj``, counted without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list, tuple)):
            deepest = max(deepest, d)
            if d > MAX_DEPTH:
                return d
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return deepest


def _name(value, where: str, key: str) -> str:
    _expect(isinstance(value, str) and value != "", where, key, "a non-empty string", value)
    _expect(len(value) <= MAX_NAME, where, key, f"at most {MAX_NAME} characters", value)
    bad = next((c for c in value if not c.isprintable() and c != " "), None)
    if bad is not None:
        _fail(f"{where}: {key} must be printable text, got {checks.short(value)} (holds {bad!r})")
    if not value.strip():
        _fail(f"{where}: {key} must hold a visible character, got {checks.short(value)}")
    return value


# ------------------------------------------------------------------ the steps
def _table(raw, source: str) -> None:
    """The spec is a table of known keys with the required ones, not nested absurdly deep."""
    if not isinstance(raw, dict):
        _fail(f"{source}: a spec must be a table, got {type(raw).__name__}")
    if _depth(raw) > MAX_DEPTH:
        _fail(f"{source}: tables and arrays nest more than {MAX_DEPTH} levels deep (a spec needs 3)")
    _check_keys(raw, TOP_KEYS, source)
    for key in ("datasets", "trainers"):
        if key not in raw:
            _fail(f"{source}: missing key {key!r}")


def _datasets(raw, source: str) -> tuple:
    datasets = raw["datasets"]
    if isinstance(datasets, str):
        datasets = [datasets]
    _expect(isinstance(datasets, list) and datasets and all(isinstance(d, str) for d in datasets),
            source, "datasets", "a non-empty list of names", datasets)
    for d in datasets:
        if d not in available():
            _fail(f"{source}: datasets: unknown data set {checks.short(d)}; valid: {', '.join(available())}")
    return tuple(dict.fromkeys(datasets))


def _seeds(raw, source: str) -> tuple:
    seeds = raw.get("seeds", 3)
    if _is_count(seeds):
        _expect(1 <= seeds <= MAX_GRID, source, "seeds", f"a count in [1, {MAX_GRID}] or a list of int", seeds)
        seeds = list(range(seeds))
    _expect(isinstance(seeds, list) and seeds and all(_is_count(s) and 0 <= s < 2**63 for s in seeds),
            source, "seeds", "a count >= 1 or a non-empty list of int in [0, 2**63)", seeds)
    return tuple(dict.fromkeys(seeds))


def _penalty(raw, source: str) -> tuple[str, float, float]:
    penalty = raw.get("penalty", "l2")
    _expect(penalty in PENALTIES, source, "penalty", "one of " + ", ".join(f'"{k}"' for k in PENALTIES), penalty)
    l1_ratio = raw.get("l1_ratio", 0.5)
    _expect(_is_number(l1_ratio) and 0.0 <= l1_ratio <= 1.0, source, "l1_ratio", "a number in [0, 1]", l1_ratio)
    w0 = raw.get("w0", 1.0)
    _expect(_is_number(w0) and math.isfinite(w0) and w0 > 0, source, "w0", "a finite number > 0", w0)
    if "w0" in raw and penalty != "weight_elimination":
        _fail(f'{source}: w0 is the scale of penalty = "weight_elimination"; this spec has penalty = {penalty!r}')
    return penalty, float(l1_ratio), float(w0)


def _lambdas(raw, source: str) -> tuple:
    if ("lambdas" in raw) == ("lambda_range" in raw):
        _fail(f"{source}: give exactly one of 'lambdas' (a list) and 'lambda_range' (a table)")
    if "lambdas" in raw:
        lams = raw["lambdas"]
        _expect(isinstance(lams, list) and lams and all(_is_number(v) and math.isfinite(v) and v >= 0 for v in lams),
                source, "lambdas", "a non-empty list of finite numbers >= 0", lams)
        lams = [float(v) + 0.0 for v in lams]  # + 0.0: -0.0 becomes 0.0 (one id per λ)
    else:
        rng = raw["lambda_range"]
        _expect(isinstance(rng, dict), source, "lambda_range", "a table", rng)
        _check_keys(rng, RANGE_KEYS, f"{source}: lambda_range")
        for key in ("start", "stop", "num"):
            if key not in rng:
                _fail(f"{source}: lambda_range: missing key {key!r}")
        start, stop, num = rng["start"], rng["stop"], rng["num"]
        _expect(_is_number(start) and 0 < start < math.inf, source, "lambda_range.start", "a number > 0", start)
        _expect(_is_number(stop) and start <= stop < math.inf, source, "lambda_range.stop", "a number >= start", stop)
        _expect(_is_count(num) and 1 <= num <= MAX_GRID, source, "lambda_range.num",
                f"an integer in [1, {MAX_GRID}]", num)
        zero = rng.get("zero", True)
        _expect(isinstance(zero, bool), source, "lambda_range.zero", "a bool", zero)
        grid = np.geomspace(float(start), float(stop), num)
        lams = ([0.0] if zero else []) + [float(v) for v in grid if math.isfinite(v)]
    return tuple(sorted(set(lams)))


def _loss(raw, source: str) -> str:
    loss = raw.get("loss", "auto")
    _expect(loss in LOSSES, source, "loss", "one of " + ", ".join(f'"{x}"' for x in LOSSES), loss)
    return loss


def _cv(raw, source: str) -> int:
    cv = raw.get("cv", 0)
    _expect(_is_count(cv) and (cv == 0 or 2 <= cv <= MAX_FOLDS), source, "cv",
            f"0 (off) or a number of folds from 2 to {MAX_FOLDS}", cv)
    return int(cv)


def _fractions(raw, source: str, cv: int = 0) -> tuple[float, float]:
    test = raw.get("test_fraction", 0.25)
    _expect(_is_number(test) and 0 < test < 1, source, "test_fraction", "a number in (0, 1)", test)
    val = raw.get("validation_fraction", 0.2)
    if _is_number(val) and val == 0 and not cv:
        _fail(f"{source}: validation_fraction must be > 0 in a sweep: the best λ is chosen on the validation "
              "part (never on the test part), so a sweep without one cannot choose it")
    _expect(_is_number(val) and 0 <= val < 1, source, "validation_fraction", "a number in (0, 1)", val)
    return float(test), float(val)


def _model(raw, source: str) -> ModelSpec:
    model = raw.get("model", {})
    _expect(isinstance(model, dict), source, "model", "a table", model)
    _check_keys(model, MODEL_KEYS, f"{source}: model")
    hidden = model.get("hidden", [20])
    _expect(isinstance(hidden, list) and all(_is_count(h) and h >= 1 for h in hidden),
            source, "model.hidden", "a list of widths >= 1", hidden)
    activation = model.get("activation", "tanh")
    _expect(activation in HIDDEN_ACTIVATIONS, source, "model.activation", f"one of {', '.join(HIDDEN_ACTIVATIONS)}",
            activation)
    return ModelSpec(tuple(hidden), activation)


def trainer_params(kind: str) -> dict:
    """The settings of a trainer kind and their defaults (from its signature)."""
    return runs.TRAINER_KINDS[kind].defaults()


def _setting(where: str, key: str, value, default):
    """Type-check one trainer setting against its default; TOML lists become tuples."""
    if isinstance(default, bool):
        _expect(isinstance(value, bool), where, key, "a bool", value)
    elif _is_count(default):
        _expect(_is_count(value), where, key, "an integer", value)
    elif isinstance(default, float):
        _expect(_is_number(value), where, key, "a number", value)
        value = float(value)
    elif isinstance(default, str):
        _expect(isinstance(value, str), where, key, "a string", value)
    elif isinstance(default, tuple) or default is None:
        if isinstance(value, list):
            _expect(all(_is_number(v) for v in value), where, key, "a list of numbers", value)
            value = tuple(float(v) for v in value)
        elif isinstance(value, str) and value == "none":
            value = None
        elif default is None and isinstance(value, (bool, str)):
            pass  # None means "the trainer decides" (gcpso, dtype); the trainer checks the value
        else:
            _expect(_is_number(value) or value is None, where, key, 'a number, a list of numbers or "none"', value)
    return value


def _trainer(t, where: str, penalty: str, lambdas: tuple) -> TrainerSpec:
    """One [[trainers]] table: its kind, name, λ meaning and settings; the trainer is built to check them."""
    kind = t.get("kind")
    if not isinstance(kind, str) or kind not in runs.TRAINER_KINDS:
        _fail(f"{where}: kind must be one of {', '.join(runs.TRAINER_KINDS)}, got {checks.short(kind)}")
    params = trainer_params(kind)
    for old, new in RENAMED_SETTINGS.items():
        if old in t and old not in params and new in params:
            _fail(f"{where}: {old} is now called {new} (the fraction subtracted per step; in PyTorch "
                  f"{old} means the coupled L2 λ)")
    _check_keys(t, {**TRAINER_META, **params}, where)
    name = _name(t.get("name", kind), where, "name")
    lam_as = t.get("lam_as", "penalty")
    if lam_as in RENAMED:
        _fail(f'{where}: lam_as = "{lam_as}" is now called "{RENAMED[lam_as]}"')
    _expect(isinstance(lam_as, str) and lam_as in MEANINGS, where, "lam_as",
            "one of " + ", ".join(f'"{m}"' for m in MEANINGS), lam_as)
    meaning = MEANINGS[lam_as]
    if meaning.kinds is not None and kind not in meaning.kinds:
        _fail(f'{where}: lam_as = "{lam_as}" needs kind = {" or ".join(map(repr, meaning.kinds))}, got {kind!r}')
    if meaning.penalties is not None and penalty not in meaning.penalties:
        _fail(f'{where}: lam_as = "{lam_as}" is a strength of penalty = '
              f'{" or ".join(map(repr, meaning.penalties))}; this spec has penalty = {penalty!r}')
    settings = {k: _setting(where, k, v, params[k]) for k, v in t.items() if k in params}
    for key in meaning.sets:
        if key in settings:
            _fail(f'{where}: {key} is set by λ when lam_as = "{lam_as}"; remove the {key} key')
    # λ enters the settings only through checks a number passes or fails the same way anywhere in
    # [min, max], so the two ends stand for the whole grid
    for lam in sorted({lambdas[0], lambdas[-1]}):
        try:
            runs.TRAINER_KINDS[kind](**settings, **meaning.settings(lam))
        except (ValueError, TypeError, OverflowError) as exc:
            _fail(f"{where}: {exc}")
    return TrainerSpec(name, kind, lam_as, Settings(settings))


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _trainers(raw, source: str, penalty: str, lambdas: tuple) -> tuple:
    trainers = raw["trainers"]
    _expect(isinstance(trainers, list) and trainers and all(isinstance(t, dict) for t in trainers),
            source, "trainers", "a non-empty array of tables ([[trainers]])", trainers)
    out, names = [], set()
    for i, t in enumerate(trainers):
        label = t.get("name", t.get("kind"))
        where = f"{source}: " + (f"trainer {label!r}" if isinstance(label, str) and 0 < len(label) <= MAX_NAME and label.isprintable()
                                 else f"the {_ordinal(i + 1)} [[trainers]] table")
        spec = _trainer(t, where, penalty, lambdas)
        if spec.name in names:
            _fail(f"{where}: name {spec.name!r} is used twice; trainer names must be unique")
        names.add(spec.name)
        out.append(spec)
    return tuple(out)


def _check_data(spec: Spec) -> None:
    """Each data set splits with the spec's fractions and suits its loss."""
    for d in spec.datasets:
        try:
            ds = load_dataset(d, seed=spec.seeds[0], test_fraction=spec.test_fraction,
                              validation_fraction=spec.validation_fraction)
        except ValueError as exc:
            _fail(f"{spec.source}: datasets: {d!r}: {exc}")
        if spec.cv and spec.cv > ds.n_train + ds.n_val:
            _fail(f"{spec.source}: cv = {spec.cv} folds, but data set {d!r} has only "
                  f"{ds.n_train + ds.n_val} rows outside its test part")
        try:
            runs.check_loss(ds, spec.loss)
        except ValueError as exc:
            _fail(f"{spec.source}: loss {spec.loss!r} does not suit data set {d!r}: {exc}")


def parse_spec(raw, source: str = "spec") -> Spec:
    """Check a sweep spec (a dict, as read from TOML) and return it as a :class:`Spec`.

    A :class:`Spec` is returned as it is.

    Raises
    ------
    ValueError
        Naming the key at fault (and listing the valid ones), before anything runs.
    """
    if isinstance(raw, Spec):
        return raw
    _table(raw, source)
    penalty, l1_ratio, w0 = _penalty(raw, source)
    lambdas = _lambdas(raw, source)
    cv = _cv(raw, source)
    test_fraction, validation_fraction = _fractions(raw, source, cv)
    name = _name(raw.get("name", "sweep"), source, "name")
    spec = Spec(name=name, datasets=_datasets(raw, source), seeds=_seeds(raw, source), penalty=penalty,
                l1_ratio=l1_ratio, lambdas=lambdas, loss=_loss(raw, source), test_fraction=test_fraction,
                validation_fraction=validation_fraction, model=_model(raw, source),
                trainers=_trainers(raw, source, penalty, lambdas), w0=w0, cv=cv, source=source)
    _check_data(spec)
    return spec


def load_spec(path) -> Spec:
    """Read and check a TOML sweep spec file (see :func:`parse_spec`)."""
    path = Path(path)
    where = f"spec {path}"
    try:
        text = read_regular(path).decode("utf-8-sig")  # a byte-order mark is not part of the TOML
    except FileNotFoundError:
        raise ValueError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{where}: is a folder, not a TOML file") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError:
        raise ValueError(f"{where}: not a regular file") from None
    except OSError as exc:
        raise ValueError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where}: malformed TOML: {exc}") from None
    except RecursionError:
        raise ValueError(f"{where}: tables and arrays nest too deeply to read, more than {MAX_DEPTH} levels "
                         "(a spec needs 3)") from None
    return parse_spec(raw, source=where)
