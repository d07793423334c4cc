"""Row ids for ``log()``: blocks reserved from the store, so the request path does no I/O.

Ids are unique across processes and restarts: each writer reserves a block of ``ID_BLOCK``
consecutive ids from the store (hi/lo allocation under a lock) and hands them out in memory.
The writer thread keeps a spare block reserved ahead of time, so moving to a new block is
normally no I/O at all.

>>> import tempfile
>>> from curate.store import Store
>>> ids = IdBlocks(Store(tempfile.mkdtemp()))
>>> ids.take(3), ids.take(2)
(0, 3)
"""

from __future__ import annotations

import logging
import secrets
import threading

from curate.store import ID_BLOCK, Store

log = logging.getLogger("curate")


class IdBlocks:
    """Hands out consecutive row ids from reserved blocks; thread-safe.

    With ``strict=False`` a store that cannot reserve a block (full or read-only disk) never
    fails the caller: a random block of negative ids is used, unique with overwhelming
    probability and never overlapping the reserved (non-negative) ones.
    """

    def __init__(self, store: Store, *, strict: bool = False) -> None:
        self.store = store
        self.strict = strict
        self.lock = threading.Lock()
        self.next = self.end = 0
        self.spare: tuple[int, int] | None = None
        #: Rows given ids so far; the writer subtracts what it processed to know what is queued.
        self.taken = 0

    def take(self, n: int) -> int:
        """Reserve ``n`` consecutive ids and return the first."""
        with self.lock:
            if self.next + n > self.end:
                self._next_block(n)
            first = self.next
            self.next += n
            self.taken += n
        return first

    def _next_block(self, n: int) -> None:
        """Move to a new block of at least ``n`` ids (the caller holds ``lock``)."""
        size = max(ID_BLOCK, n)
        spare, self.spare = self.spare, None
        if spare is not None and spare[1] - spare[0] >= n:
            self.next, self.end = spare
            return
        try:
            self.next = self.store.reserve_ids(size)
        except OSError as exc:
            if self.strict:
                raise
            log.error(
                "curate: cannot reserve row ids in %s (%s); using a random block",
                self.store.root,
                exc,
            )
            self.next = -(1 << 62) + secrets.randbelow(1 << 40) * (1 << 21)
        self.end = self.next + size

    def reserve_spare(self) -> None:
        """Reserve the next block ahead of time (called off the request path)."""
        if self.spare is not None:
            return
        try:
            start = self.store.reserve_ids(ID_BLOCK)
        except OSError as exc:
            log.error("curate: cannot reserve row ids in %s: %s", self.store.root, exc)
            return
        with self.lock:
            self.spare = (start, start + ID_BLOCK)
