"""A sweep's results folder: ``results.jsonl``, read and checked line by line, appended to under a lock.

Each line is one whole record (a JSON object with the fields of
:data:`swarmreg.records.FIELDS`), fsynced before the next run's record is
written, so a crash leaves at most a partial last line.  Reading is strict:

* a line that is not a valid record in the middle of the file is an error
  naming the file and the line (the file is left as it is); a line of
  whitespace only is skipped;
* a bad LAST line (a crash mid-write) is ignored with a warning, and its run
  is recomputed: the writer cuts it off before appending;
* a record whose id appeared before counts once (the first is kept);
* only a regular file is read (a FIFO or a device named results.jsonl is refused).

Every record of a sweep carries the hash of its spec (``spec_hash``), which
ties the folder to its spec: :class:`ResultsStore` refuses to add the runs of
a different spec to a folder unless asked to ``"add"`` to them or to
``"restart"`` (the old file is then set aside, renamed, never deleted).
Records written before spec hashes existed read as records of no spec.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import shutil
import stat
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .. import records as rec_fields
from ..records import FIELDS

__all__ = ["RESULTS_FILE", "ON_CHANGE", "ResultsStore", "Scan", "scan", "check_change", "free_bytes", "read_records",
           "load_results", "records_table", "Table", "check_out"]

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
    """(record, None) or (None, why it is not one); a record's optional fields are filled in."""
    if not line.endswith(b"\n"):
        return None, "no line end (cut off)"
    try:
        obj = json.loads(line)
    except RecursionError:
        return None, "nested too deeply"
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    why = rec_fields.problem(obj)
    return (None, why) if why else (rec_fields.with_defaults(obj), None)


@dataclass
class Scan:
    """What a results file holds.

    Attributes
    ----------
    records : list of dict
        Every valid record, the first of each id (only when asked to keep them).
    ids : dict of str to set
        The ids of the valid records, by the spec hash they carry (None: no spec).
    good : int
        Byte length of the valid part (everything but a bad last line).
    bad_last : str or None
        What is wrong with a bad last line, if there is one.
    """

    records: list = field(default_factory=list)
    ids: dict = field(default_factory=dict)
    good: int = 0
    bad_last: str | None = None

    @property
    def done(self) -> set:
        """Every id in the file."""
        return set().union(*self.ids.values()) if self.ids else set()

    def others(self, spec_hash) -> int:
        """How many records carry another spec's hash."""
        return sum(len(v) for h, v in self.ids.items() if h != spec_hash)


def scan(path, keep: bool = False) -> Scan:
    """Read a results file line by line, checking every line (see the module docstring).

    Lines holding only whitespace are skipped; a bad line followed by another
    is an error naming the file and the line; a bad last line is reported in
    ``bad_last`` (the caller says what becomes of it).  A missing file is empty.
    """
    path = Path(path)
    out = Scan()
    if not (path.exists() or path.is_symlink()):
        return out
    fd = _open_regular(path, os.O_RDONLY, "results")
    seen = set()
    number, bad = 0, None
    with os.fdopen(fd, "rb") as f:
        for line in f:
            number += 1
            if bad is not None:  # a bad line followed by another: the bad one was in the middle
                _fail(f"{path}: line {bad[0]} is not a valid record ({bad[1]}); fix or remove that line")
            if not line.strip():
                if line.endswith(b"\n"):
                    out.good += len(line)
                continue
            obj, why = _parse(line)
            if obj is None:
                bad = (number, why, len(line))
                continue
            out.good += len(line)
            if obj["id"] in seen:
                continue
            seen.add(obj["id"])
            out.ids.setdefault(obj["spec_hash"], set()).add(obj["id"])
            if keep:
                out.records.append(obj)
    if bad is not None:
        kind = "partial" if bad[1].startswith("no line end") else "bad"
        out.bad_last = f"a {kind} last line (line {bad[0]}, {bad[2]} bytes: {bad[1]})"
    return out


def read_records(path) -> tuple[list[dict], int]:
    """Valid records of a results file (see the module docstring), and the byte length of its valid part.
    A bad last line is left out with a warning."""
    out = scan(path, keep=True)
    if out.bad_last:
        warnings.warn(f"{path}: ignoring {out.bad_last}", stacklevel=2)
    return out.records, out.good


def check_change(folder, found: Scan, spec_hash, on_change: str) -> None:
    """Refuse to add a spec's runs to a folder holding records of another spec, unless asked."""
    if on_change not in ON_CHANGE:
        _fail(f"on_change must be one of {', '.join(ON_CHANGE)}, got {on_change!r}")
    others = found.others(spec_hash)
    if others and on_change == "refuse":
        kinds = len([h for h in found.ids if h != spec_hash])
        which = "another spec" if kinds == 1 else f"{kinds} other specs"
        _fail(f"out {folder}: holds {others} record{'s' if others != 1 else ''} of {which} (this spec's hash is "
              f"{spec_hash}); add its runs to them with --add (on_change='add'), "
              "or set them aside and start over with --restart (on_change='restart')")


def _set_aside(path: Path) -> Path:
    """Rename ``path`` to a results.replaced-<UTC time>[-n].jsonl that does not exist yet."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in itertools.count():
        aside = path.with_name(f"results.replaced-{stamp}{f'-{n}' if n else ''}.jsonl")
        try:  # reserve the name: never replace an earlier one
            os.close(os.open(aside, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        os.replace(path, aside)
        return aside


def check_out(out) -> Path:
    """The output folder as a Path, if it is (or can be created as) a writable folder.

    Nothing is created here; ``ValueError`` names the folder and what is wrong.
    """
    if isinstance(out, str) and not out.strip():
        _fail(f"out must name a folder, got {out!r}")
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
        "add": keep the records there and add this spec's runs beside them;
        "restart": rename an existing ``results.jsonl`` to
        ``results.replaced-<UTC time>.jsonl`` (never over an earlier one) and
        start an empty one.

    Attributes
    ----------
    done : set of str
        Ids of the valid records in the folder (this spec's and any other's).
    this_spec : set of str
        Ids of the records that carry this spec's hash.
    """

    def __init__(self, folder, spec_hash: str | None = None, on_change: str = "refuse"):
        self.folder = Path(folder)
        self.path = self.folder / RESULTS_FILE
        check_change(self.folder, scan(self.path), spec_hash, on_change)  # before anything is made or changed
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _fail(f"out {self.folder}: cannot create the folder ({exc.strerror or exc})")
        # O_NONBLOCK: a FIFO named .lock does not hang; O_APPEND: a lock file is never written to
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
        found = scan(self.path)  # again, now that no other sweep can write
        check_change(self.folder, found, spec_hash, on_change)
        if on_change == "restart" and self.path.exists() and (found.done or found.bad_last):
            _set_aside(self.path)
            found = Scan()
        elif found.bad_last:
            warnings.warn(f"{self.path}: ignoring {found.bad_last}; its run is recomputed", stacklevel=4)
        self.done = found.done
        self.this_spec = set(found.ids.get(spec_hash, ()))
        fd = _open_regular(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "results")
        self._file = os.fdopen(fd, "ab")
        if os.fstat(fd).st_size != found.good:  # cut off a bad last line before appending
            os.ftruncate(fd, found.good)

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


def free_bytes(folder) -> int:
    """Free space on the file system that holds (or will hold) ``folder``."""
    folder = Path(folder)
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


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
