"""A sweep's results folder: ``results.jsonl``, read and checked line by line, appended to under a lock.

Each line is one whole record (a JSON object with the fields of
:data:`swarmreg.records.FIELDS`), fsynced before the next run's record is
written, so a crash leaves at most a partial last line.  Reading is strict:

* a line that is not a valid record in the middle of the file is an error
  naming the file and the line (the file is left as it is);
* a bad LAST line (a crash mid-write) is ignored with a warning, and its run
  is recomputed: the writer cuts it off before appending;
* a record whose id appeared before counts once (the first is kept);
* only a regular file is read (a FIFO or a device named results.jsonl is refused).

Every record of a sweep carries the hash of its spec (``spec_hash``), which
ties the folder to its spec: :class:`ResultsStore` refuses to add the runs of
a different spec to a folder unless asked to ``"add"`` to them or to
``"restart"`` (the old file is then set aside, renamed, never deleted).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import time
import warnings
from collections import Counter
from pathlib import Path

from .. import records as rec_fields
from ..records import FIELDS

__all__ = ["RESULTS_FILE", "ON_CHANGE", "ResultsStore", "read_records", "load_results", "records_table", "Table",
           "check_out"]

RESULTS_FILE = "results.jsonl"
LOCK_FILE = ".lock"
#: What a sweep does with a folder holding records of another spec.
ON_CHANGE = ("refuse", "add", "restart")


def _fail(msg: str):
    raise ValueError(msg)


def _open_regular(path: Path, flags: int, what: str) -> int:
    """An fd of ``path`` opened with ``flags``, refused unless it is a regular file (never blocks on a FIFO)."""
    try:
        fd = os.open(path, flags | os.O_NONBLOCK, 0o666)
    except OSError as exc:
        _fail(f"{what} {path}: cannot open it ({exc.strerror or exc})")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        _fail(f"{what} {path}: not a regular file")
    os.set_blocking(fd, True)
    return fd


def _parse(line: bytes):
    """(record, None) or (None, why it is not one)."""
    if not line.endswith(b"\n"):
        return None, "no line end (cut off)"
    try:
        obj = json.loads(line)
    except RecursionError:
        return None, "nested too deeply"
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    why = rec_fields.problem(obj)
    return (None, why) if why else (obj, None)


def _scan(path: Path, keep: bool):
    """Read a results file line by line.

    Returns
    -------
    records : list of dict
        Every valid record (the first of each id) when ``keep``; else empty.
    ids : set of str
    spec_hashes : Counter
        How many records each spec hash has.
    good : int
        Byte length of the valid part (everything but a bad last line).
    """
    fd = _open_regular(path, os.O_RDONLY, "results")
    records, ids, hashes = [], set(), Counter()
    good, number, bad = 0, 0, None
    with os.fdopen(fd, "rb") as f:
        for line in f:
            number += 1
            if bad is not None:  # a bad line followed by another: the bad one was in the middle
                _fail(f"{path}: line {bad[0]} is not a valid record ({bad[1]}); fix or remove that line")
            obj, why = _parse(line)
            if obj is None:
                bad = (number, why, len(line))
                continue
            good += len(line)
            if obj["id"] in ids:
                continue
            ids.add(obj["id"])
            hashes[obj["spec_hash"]] += 1
            if keep:
                records.append(obj)
    if bad is not None:
        what = "a partial last line" if bad[1].startswith("no line end") else "a bad last line"
        warnings.warn(f"{path}: ignoring {what} (line {bad[0]}, {bad[2]} bytes: {bad[1]}); "
                      "its run is recomputed", stacklevel=3)
    return records, ids, hashes, good


def read_records(path) -> tuple[list[dict], int]:
    """Valid records of a results file (see the module docstring), and the byte length of its valid part."""
    path = Path(path)
    if not path.exists():
        return [], 0
    records, _, _, good = _scan(path, keep=True)
    return records, good


def check_out(out) -> Path:
    """The output folder as a Path, if it is (or can be created as) a writable folder.

    Nothing is created here; ``ValueError`` names the folder and what is wrong.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        _fail(f"out {out}: exists and is not a folder")
    parent = out
    while not parent.exists() and not parent.is_symlink():
        parent = parent.parent
    if not parent.is_dir():
        _fail(f"out {out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        _fail(f"out {out}: cannot write in {parent}")
    return out


class ResultsStore:
    """A results folder held by one sweep: an exclusive lock, the ids already done, and whole-line appends.

    Parameters
    ----------
    folder : path
        Created when missing.
    spec_hash : str or None
        The spec whose runs will be appended; records of other specs in the
        folder are refused unless ``on_change`` says otherwise.
    on_change : {"refuse", "add", "restart"}
        "add": keep the other spec's records and add this one's runs beside
        them; "restart": rename the old ``results.jsonl`` to
        ``results.replaced-<UTC time>.jsonl`` and start an empty one.

    Attributes
    ----------
    done : set of str
        Ids of the valid records in the folder (this spec's and any other's).
    """

    def __init__(self, folder, spec_hash: str | None = None, on_change: str = "refuse"):
        if on_change not in ON_CHANGE:
            _fail(f"on_change must be one of {', '.join(ON_CHANGE)}, got {on_change!r}")
        self.folder = Path(folder)
        self.path = self.folder / RESULTS_FILE
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _fail(f"out {self.folder}: cannot create the folder ({exc.strerror or exc})")
        # "a": a sweep refused below changes nothing; O_NONBLOCK: a FIFO named .lock does not hang
        self._lock = _open_regular(self.folder / LOCK_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "out")
        try:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                _fail(f"out {self.folder}: another sweep is writing to this folder")
            self._open(spec_hash, on_change)
        except BaseException:
            os.close(self._lock)
            raise

    def _open(self, spec_hash, on_change) -> None:
        good, hashes = 0, Counter()
        if self.path.exists() or self.path.is_symlink():
            _, self.done, hashes, good = _scan(self.path, keep=False)
        else:
            self.done = set()
        others = sum(n for h, n in hashes.items() if h != spec_hash)
        if others and on_change == "refuse":
            kinds = len([h for h in hashes if h != spec_hash])
            which = "another spec" if kinds == 1 else f"{kinds} other specs"
            _fail(f"out {self.folder}: holds {others} records of {which} (this spec's hash is {spec_hash}); "
                  "add its runs to them with --add (on_change='add'), "
                  "or set them aside and start over with --restart (on_change='restart')")
        if others and on_change == "restart":
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            aside = self.folder / f"results.replaced-{stamp}.jsonl"
            os.replace(self.path, aside)
            self.done, hashes, good = set(), Counter(), 0
        self.this_spec = hashes.get(spec_hash, 0)
        fd = _open_regular(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "results")
        self._file = os.fdopen(fd, "ab")
        size = os.fstat(fd).st_size
        if size != good:  # cut off a bad last line before appending
            os.ftruncate(fd, good)

    def free_bytes(self) -> int:
        """Free space on the folder's file system."""
        return shutil.disk_usage(self.folder).free

    def append(self, record: dict) -> None:
        """Write one record as a whole line and fsync it."""
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        self._file.write(line.encode())
        self._file.flush()
        os.fsync(self._file.fileno())
        self.done.add(record["id"])

    def close(self) -> None:
        self._file.close()
        os.close(self._lock)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Table:
    """Scalar fields of records as plain columns (a dict of equal-length lists).

    ``table["lam"]`` is a list; :meth:`to_pandas` gives a DataFrame when pandas is installed.
    """

    def __init__(self, columns: dict):
        self.columns = columns

    def __getitem__(self, key):
        return self.columns[key]

    def __contains__(self, key) -> bool:
        return key in self.columns

    def __iter__(self):
        return iter(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def keys(self):
        return self.columns.keys()

    def __repr__(self) -> str:
        return f"Table({len(self)} rows × {len(self.columns)} columns: {', '.join(self.columns)})"

    def to_pandas(self):
        """The table as a ``pandas.DataFrame`` (pandas is not a dependency of swarmreg)."""
        try:
            import pandas as pd
        except ImportError:
            raise ValueError("to_pandas needs pandas: pip install pandas") from None
        return pd.DataFrame(self.columns)


_SCALAR_TYPES = ("id", "id?", "str", "task", "status", "int", "number", "number?", "fraction")
SCALAR_FIELDS = tuple(f.name for f in FIELDS if f.type in _SCALAR_TYPES)


def records_table(records) -> Table:
    """The scalar fields of the records (every declared scalar field), one row per record."""
    return Table({k: [r[k] for r in records] for k in SCALAR_FIELDS})


def load_results(folder):
    """The records of a sweep folder, and a :class:`Table` of their scalar fields.

    Returns
    -------
    records : list of dict
        Each id once, in file order.
    table : Table
    """
    folder = Path(folder)
    path = folder / RESULTS_FILE
    if not path.exists():
        _fail(f"results {folder}: no {RESULTS_FILE} there")
    records, _ = read_records(path)
    return records, records_table(records)
