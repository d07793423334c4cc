"""Leases on object storage: one holder at a time across machines, taken by conditional writes.

On object storage there is no ``flock``. A lease is a small Delta table (``_leases/<name>``)
whose commits are put-if-absent: every commit gets a version no other writer can get, so the
log of commits is one order that every reader sees the same way. Taking, renewing and releasing
a lease are appends to that log, and who holds the lease is decided by replaying it in version
order (the table's change data feed gives each row its commit version):

* ``acquire`` by a holder wins when the lease is free, expired at the moment of the commit, or
  already that holder's (so a renewal is an ``acquire`` by the holder, and a replay that starts
  late in the log still decides the same way);
* ``release`` by the holder frees it.

A claim that lost the race is simply a row the replay ignores. A holder that dies stops renewing
and its lease expires after ``ttl`` seconds, so a killed trainer blocks the next run for at most
that long. Expiry compares the writers' clocks: they must agree to well within ``ttl`` (NTP).

>>> import tempfile
>>> root = tempfile.mkdtemp()
>>> first, second = Lease(root, "training", ttl=60), Lease(root, "training", ttl=60)
>>> first.acquire(run_id="run-1"), second.acquire()
(True, False)
>>> second.holder()["run_id"]
'run-1'
>>> first.release(); second.acquire()
True
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Any

import pyarrow as pa

from curate.errors import ConfigError, StoreError

_CDF = {"delta.enableChangeDataFeed": "true"}
_SCHEMA = pa.schema([("holder", pa.string()), ("action", pa.string()), ("ts_ms", pa.int64()),
                     ("ttl_ms", pa.int64()), ("run_id", pa.string()), ("host", pa.string()),
                     ("pid", pa.int64())])  # fmt: skip
#: Versions replayed at first; more are read when the oldest of them is not old enough.
_WINDOW = 256


def _options(uri: str) -> dict[str, str]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    return {"AWS_ALLOW_HTTP": "true"} if endpoint.startswith("http://") else {}


class Lease:
    """The lease called ``name`` in the store at ``root`` (a URI or a local path).

    ``acquire()`` takes it (``False`` while another holder's lease is live), ``renew()`` extends
    it, ``release()`` frees it, ``holder()`` says who has it. ``keep()`` renews it from a thread
    until ``release()``.
    """

    def __init__(
        self, root: str, name: str, *, ttl: float = 60.0, storage_options: dict | None = None
    ) -> None:
        try:
            import deltalake
        except ImportError as exc:
            raise ConfigError("leases need deltalake: pip install 'curate[delta]'") from exc
        if ttl <= 0:
            raise ConfigError(f"a lease's ttl must be positive, not {ttl}")
        self._dl = deltalake
        self.uri = f"{str(root).rstrip('/')}/_leases/{name}"
        self.name = name
        self.ttl = float(ttl)
        self.storage_options = {**_options(self.uri), **(storage_options or {})}
        self.holder_id = uuid.uuid4().hex
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self.lost = False
        #: The run the lease is held for, written with every renewal (readers show it).
        self.run_id: str | None = None

    def __repr__(self) -> str:
        return f"Lease({self.uri!r}, ttl={self.ttl})"

    # -- the log -----------------------------------------------------------------------------
    def _append(self, action: str, run_id: str | None) -> None:
        row = pa.table({"holder": [self.holder_id], "action": [action],
                        "ts_ms": [int(time.time() * 1000)], "ttl_ms": [int(self.ttl * 1000)],
                        "run_id": [run_id], "host": [socket.gethostname()],
                        "pid": [os.getpid()]}, schema=_SCHEMA)  # fmt: skip
        for attempt in range(5):
            try:
                self._dl.write_deltalake(self.uri, row, mode="append", configuration=_CDF,
                                         storage_options=self.storage_options)  # fmt: skip
                return
            except self._dl.exceptions.CommitFailedError as exc:
                # Two first commits at once: the loser appends to the winner's table.
                if attempt == 4:
                    raise StoreError(f"cannot write the lease {self.uri}: {exc}") from exc
            except (OSError, self._dl.exceptions.DeltaError) as exc:
                raise StoreError(f"cannot write the lease {self.uri}: {exc}") from exc

    def _log(self) -> pa.Table:
        """The lease's rows in commit order, from a point where no earlier lease was live.

        A replay must start where the lease was free, or a claim that lost to a holder whose
        rows were not read would seem to win: it starts at the last row written after every
        earlier row's lease had expired, reading further back until it finds one.
        """
        try:
            dt = self._dl.DeltaTable(self.uri, storage_options=self.storage_options)
        except self._dl.exceptions.TableNotFoundError:
            return _SCHEMA.empty_table()
        latest = dt.version()
        start = max(0, latest - _WINDOW)
        while True:
            rows = _in_order(dt.load_cdf(starting_version=start, ending_version=latest))
            if start == 0:
                return rows
            cut = _free_point(rows, self.ttl * 1000)
            if cut is not None:
                return rows.slice(cut)
            start = max(0, start - 4 * (latest - start + 1))

    @staticmethod
    def replay(rows: pa.Table) -> dict[str, Any] | None:
        """Who holds the lease after ``rows`` (in commit order): a dict of the winning
        ``acquire`` (``holder``, ``run_id``, ``host``, ``pid``, ``expires_ms``) or ``None``.

        >>> rows = pa.table({"holder": ["a", "b", "a", "a", "b"],
        ...                  "action": ["acquire", "acquire", "acquire", "release", "acquire"],
        ...                  "ts_ms": [0, 10, 20, 30, 40], "ttl_ms": [50] * 5,
        ...                  "run_id": [None] * 5, "host": ["h"] * 5, "pid": [1] * 5})
        >>> Lease.replay(rows.slice(0, 3))["holder"], Lease.replay(rows)["holder"]
        ('a', 'b')
        """
        state: dict[str, Any] | None = None
        for row in rows.to_pylist():
            live = state is not None and row["ts_ms"] < state["expires_ms"]
            mine = state is not None and state["holder"] == row["holder"]
            if row["action"] == "acquire" and (not live or mine):
                state = {k: row[k] for k in ("holder", "run_id", "host", "pid")}
                state["expires_ms"] = row["ts_ms"] + row["ttl_ms"]
            elif row["action"] == "release" and live and mine:
                state = None
        return state

    # -- what holders and readers do ---------------------------------------------------------
    def holder(self) -> dict[str, Any] | None:
        """The live holder (``holder``, ``run_id``, ``host``, ``pid``, ``expires_ms``), or
        ``None`` when the lease is free or has expired."""
        state = self.replay(self._log())
        if state is None or state["expires_ms"] <= time.time() * 1000:
            return None
        return state

    def held(self) -> bool:
        """True while this object holds the lease."""
        state = self.holder()
        return state is not None and state["holder"] == self.holder_id

    def acquire(self, run_id: str | None = None) -> bool:
        """Try to take the lease (no waiting): ``True`` when this object now holds it."""
        self.run_id = run_id or self.run_id
        current = self.holder()
        if current is not None and current["holder"] != self.holder_id:
            return False
        self._append("acquire", self.run_id)
        return self.held()

    def renew(self, run_id: str | None = None) -> bool:
        """Extend the lease by ``ttl``; ``False`` (and :attr:`lost` set) when it was lost."""
        ok = self.acquire(run_id)
        self.lost = self.lost or not ok
        return ok

    def keep(self) -> None:
        """Renew the lease every ``ttl / 3`` seconds from a daemon thread until :meth:`release`."""
        self._stop = stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.ttl / 3):
                try:
                    if not self.renew():
                        return
                except StoreError:
                    continue  # the store is unreachable now; the next renewal tries again

        self._thread = threading.Thread(target=loop, name=f"curate-lease-{self.name}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and free the lease (nothing happens if it is not ours)."""
        if self._stop is not None:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
        if self.held():
            self._append("release", None)


def _in_order(cdf: Any) -> pa.Table:
    # The change feed's strings are string_view, which Arrow cannot sort or take yet.
    rows = pa.table(cdf.read_all())
    version = rows.column("_commit_version").cast(pa.int64())
    rows = pa.table([rows.column(f.name).cast(f.type) for f in _SCHEMA], schema=_SCHEMA)
    return rows.append_column("_commit_version", version).sort_by("_commit_version")


def _free_point(rows: pa.Table, ttl_ms: float) -> int | None:
    """The last position whose row was written when every earlier lease had expired (those
    before ``rows`` too: they are no newer than its first row, and no longer than ``ttl_ms``
    or the longest ttl seen), or ``None``."""
    ts, ttls = rows.column("ts_ms").to_pylist(), rows.column("ttl_ms").to_pylist()
    if not ts:
        return None
    longest = max([ttl_ms, *ttls])
    expired_by = ts[0] + longest
    best = None
    for i in range(1, len(ts)):
        if ts[i] >= expired_by:
            best = i
        expired_by = max(expired_by, ts[i] + ttls[i])
    return best
