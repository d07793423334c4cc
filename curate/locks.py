"""``flock`` locks on files of the store: taken by writers, probed read-only by readers.

A lock lives exactly as long as the open file description that holds it, so a process that
dies frees its locks, and a descriptor handed to a child process (``pass_fds``) keeps the lock
for as long as the child lives.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` for the ``with`` block (creating the file).

    Yields ``False`` (and holds nothing) when ``blocking=False`` and another process or
    open file holds it.

    >>> import tempfile, pathlib
    >>> with file_lock(pathlib.Path(tempfile.mkdtemp()) / "x.lock") as got:
    ...     got
    True
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def try_lock(path: Path) -> int | None:
    """Open ``path`` and take an exclusive ``flock`` without waiting: the descriptor, or ``None``
    when another open file holds it. The lock lasts until every copy of the descriptor is
    closed, so it can be handed to a child process (``pass_fds``).

    >>> import os, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.lock"
    >>> fd = try_lock(path)
    >>> try_lock(path) is None
    True
    >>> os.close(fd)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def is_locked(path: Path) -> bool:
    """True when some open file (in any process) holds an exclusive ``flock`` on ``path``.

    Read-only: a missing file is simply not locked; nothing is created.

    >>> import os, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.lock"
    >>> is_locked(path), path.exists()
    (False, False)
    >>> fd = try_lock(path)
    >>> is_locked(path)
    True
    >>> os.close(fd)
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
