"""Writing a file so that a crash leaves it complete or absent."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "read_regular", "remove_stale_temporaries"]


def atomic_write(path, write) -> None:
    """Create ``path`` through ``write(tmp_path)`` on a temporary file in the same
    folder, fsync it, give it the usual permissions (0o666 less the umask) and
    rename it into place; on any error the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates the file private
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_regular(path) -> bytes:
    """The bytes of ``path`` if it is a regular file (a FIFO or a device would block or never end).

    Raises FileNotFoundError, IsADirectoryError, or ValueError for anything else
    that is not a regular file.
    """
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: opening a FIFO does not wait for a writer
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            raise ValueError(f"{path}: not a regular file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def remove_stale_temporaries(folder, names) -> list[Path]:
    """Remove the temporary files :func:`atomic_write` left in ``folder`` for ``names``
    when a process writing them was killed; returns what was removed.

    Call it only while no other process writes those names there (hold the folder's lock).
    """
    import glob

    removed = []
    for name in names:
        for p in Path(folder).glob(f".{glob.escape(name)}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p)
    return removed
