"""``curate batch``: curate a large existing source with a config's checks, into a store.

>>> import tempfile, pathlib, pyarrow as pa, pyarrow.parquet as pq
>>> from curate.signals import Signal
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> pq.write_table(pa.table({"text": ["nike shoes", "puma", None]}), folder / "a.parquet")
>>> cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("nike")}],
...        "retraining_folder": str(folder / "store")}
>>> summary = run(cfg, str(folder / "a.parquet"), progress=False)
>>> summary["rows"], summary["edge_cases"], summary["engine"]
(3, 1, 'local')

The steps: plan the fragments (:mod:`curate.scale.sources`), count the rows of those whose
count is not in their metadata, reserve one id block for the whole source, curate every
fragment on the engine (``local``: in this process; ``ray``: one Ray Data task per fragment,
results streamed back in source order), reduce (:mod:`curate.scale.reduce`) and write.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from curate.config import Config
from curate.delta_store import is_uri, open_store
from curate.errors import ConfigError
from curate.scale import sources
from curate.scale.curation import Curator, batch_config
from curate.scale.reduce import Reducer
from curate.store import Store
from curate.tables import alerts_table, metrics_table, now_us

ENGINES = ("local", "ray")
#: Edge-case and quarantine rows buffered before the job writes a segment.
WRITE_ROWS = 100_000


def run(
    config: Config | dict[str, Any],
    source: str,
    engine: str = "local",
    *,
    address: str | None = None,
    store: Any = None,
    fragment_rows: int = sources.FRAGMENT_ROWS,
    progress: bool = True,
) -> dict[str, Any]:
    """Curate every row of ``source`` into the config's store; return the job's summary.

    ``engine="ray"`` runs the fragments on Ray Data: on a cluster at ``address``
    (``"ray://host:10001"``, ``"auto"``), or on a local Ray started for the job. ``store``
    (a path, an ``s3://``/``gs://``/``abfs://`` URI of a Delta store, or a store object)
    overrides ``retraining_folder``, which may be such a URI too.

    >>> run({"checks": []}, "/tmp", engine="spark")
    Traceback (most recent call last):
    curate.errors.ConfigError: engine 'spark' is not one of local, ray
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
    started = time.monotonic()
    cfg, out = _open(config, store)
    mapper = _local_map if engine == "local" else _ray_mapper(address)
    fragments = sources.plan(source, fragment_rows)
    counts = list(mapper(sources.count_rows, fragments))
    fragments = sources.with_offsets(fragments, counts)
    job = curate_into(cfg, out, sum(counts), lambda work: mapper(work, fragments), progress)
    seconds = time.monotonic() - started
    return {
        "engine": engine, "source": source, "store": job["store"], "rows": job["rows"],
        "fragments": len(fragments), **{k: v for k, v in job.items() if k not in ("store", "rows")},
        "seconds": round(seconds, 3),
        "rows_per_s": round(job["rows"] / seconds, 1) if seconds else None,
    }  # fmt: skip


def curate_into(
    cfg: Config,
    out: Any,
    total: int,
    results: Callable[[_Work], Iterable[dict[str, Any]]],
    progress: bool = True,
) -> dict[str, Any]:
    """Reserve ids for ``total`` source rows, reduce what ``results(work)`` yields and write it.

    ``work`` (a :class:`_Work`) curates parts of the source: ``work(fragment)`` reads one,
    ``work.curate(table, first_row)`` takes rows in hand. ``results`` yields their results in
    source order, on whatever engine runs them; the counts of the job's summary come back.

    >>> import tempfile, pyarrow as pa
    >>> from curate.signals import Signal
    >>> cfg = batch_config({"checks": [{"type": "edge_case",
    ...                                 "signal_formulae": Signal.contains("nike")}]})
    >>> rows = pa.table({"text": ["nike", "puma", "nike air"]})
    >>> parts = lambda work: [work.curate(rows.slice(0, 2), 0), work.curate(rows.slice(2), 2)]
    >>> job = curate_into(cfg, Store(tempfile.mkdtemp()), 3, parts, progress=False)
    >>> job["rows"], job["edge_cases"], job["metric_rows"] > 0
    (3, 2, True)
    """
    id_base = out.reserve_ids(max(total, 1))
    start_us = now_us()
    reducer = Reducer(cfg, out, start_us=start_us)
    work = _Work(cfg, id_base, start_us, _schema(out))
    written = _curate(iter(results(work)), reducer, out, total, progress)
    metrics, alerts = reducer.finish()
    if metrics:
        out.write("metrics", metrics_table(metrics, out.writer_id))
    if alerts:
        out.write("alerts", alerts_table(alerts))
    return {
        "store": str(out.root), "rows": total, "edge_cases": written["retraining"],
        "quarantine_entries": written["quarantine"], "metric_rows": len(metrics),
        "alerts": len(alerts), "first_id": id_base, "start_us": start_us,
    }  # fmt: skip


def _open(config: Config | dict[str, Any], store: Any) -> tuple[Config, Any]:
    """The validated config and the store the job writes."""
    if store is None and isinstance(config, dict) and is_uri(config.get("retraining_folder")):
        # An object-storage store is a Delta store (the config's folder must be local).
        config = dict(config)
        store = config.pop("retraining_folder")
    cfg = batch_config(config)
    if isinstance(store, str | os.PathLike):
        store = open_store(store)
    return cfg, store if store is not None else Store(cfg.retraining_folder)


def _curate(
    results: Iterator[dict[str, bytes]], reducer: Reducer, out: Any, total: int, progress: bool
) -> dict[str, int]:
    """Reduce the fragments' results in source order, writing edge cases and quarantine."""
    written = {"retraining": 0, "quarantine": 0}
    buffers: dict[str, list[pa.Table]] = {"retraining": [], "quarantine": []}
    with _Progress(total, progress) as bar:
        for result in results:
            edges, quarantine, partial = _decode(result)
            edges, quarantine = reducer.add(edges, quarantine, partial)
            for name, table in (("retraining", edges), ("quarantine", quarantine)):
                if table.num_rows:
                    buffers[name].append(table)
                if sum(t.num_rows for t in buffers[name]) >= WRITE_ROWS:
                    written[name] += _write(out, name, buffers[name])
            bar.update(partial.rows)
    for name in buffers:
        written[name] += _write(out, name, buffers[name])
    return written


class _Work:
    """What a worker runs on one fragment: read it, curate it in batches, encode the result.

    A plain picklable object, so Ray ships it (config and signals included) to its workers.
    """

    def __init__(self, cfg: Config, id_base: int, start_us: int, schema: pa.Schema | None):
        self.cfg, self.id_base, self.start_us, self.schema = cfg, id_base, start_us, schema

    def __call__(self, fragment: sources.Fragment) -> dict[str, Any]:
        return self.curate(sources.read_fragment(fragment), fragment.first_row)

    def curator(self) -> Curator:
        """A map-step curator for this job (one per task: it builds the checks once)."""
        return Curator(self.cfg, id_base=self.id_base, start_us=self.start_us,
                       retraining_schema=self.schema)  # fmt: skip

    def curate(
        self, table: pa.Table, first_row: int, curator: Curator | None = None
    ) -> dict[str, Any]:
        """The encoded result of source rows ``first_row ...``, curated ``batch_size`` at a time."""
        curator = curator or self.curator()
        step = self.cfg.batch_size
        edges, quarantine, partial = [], [], None
        for offset in range(0, max(table.num_rows, 1), step):
            e, q, p = curator.curate(table.slice(offset, step), first_row + offset)
            edges.append(e)
            quarantine.append(q)
            partial = p if partial is None else partial.merge(p)
        return {
            "edges": _ipc(_concat(edges)),
            "quarantine": _ipc(_concat(quarantine)),
            "partial": partial,
        }


def load_config(spec: str) -> Any:
    """A config from ``file.py`` (its ``config``), ``file.py:NAME`` or a ``.json`` file.

    >>> load_config("config.yaml")
    Traceback (most recent call last):
    curate.errors.ConfigError: --config 'config.yaml': give a .py file (defining config) or a .json file
    """
    path, _, name = spec.partition(":") if not os.path.exists(spec) else (spec, "", "")
    if path.endswith(".json"):
        import json

        return json.loads(Path(path).read_text())
    if not path.endswith(".py"):
        raise ConfigError(f"--config {spec!r}: give a .py file (defining config) or a .json file")
    import runpy

    namespace = runpy.run_path(path)
    try:
        return namespace[name or "config"]
    except KeyError:
        raise ConfigError(f"--config {spec!r}: the file defines no {name or 'config'!r}") from None


def _local_map(fn: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
    return map(fn, items)


def _ray_mapper(address: str | None) -> Callable[[Callable[[Any], Any], list[Any]], Iterator]:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("engine='ray' needs Ray Data: pip install 'curate[ray]'") from exc
    if not ray.is_initialized():
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        # Ray binds every interface for a local cluster unless told otherwise.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": path}})  # fmt: skip

    def mapper(fn: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # results in source order, streamed
        ds = ray.data.from_items([{"i": i} for i in range(len(items))],
                                 override_num_blocks=max(len(items), 1))  # fmt: skip
        # Each task reads its own fragment: only indexes travel, the items ride in the closure.
        # Ray Data carries the result objects itself (as Python-object columns).
        ds = ds.map(lambda row: {"out": fn(items[row["i"]])})
        for row in ds.iter_rows():
            yield row["out"]

    return mapper


def _schema(store: Any) -> pa.Schema | None:
    try:
        return store.schema("retraining") if store.files("retraining") else None
    except (pa.ArrowException, OSError):
        return None


def _write(store: Any, table: str, buffered: list[pa.Table]) -> int:
    if not buffered:
        return 0
    data = _concat(buffered)
    buffered.clear()
    if data.num_rows:
        store.write(table, data)
    return data.num_rows


def _concat(tables: list[pa.Table]) -> pa.Table:
    tables = [t for t in tables if t.num_rows] or tables[:1]
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _decode(result: dict[str, Any]) -> tuple[pa.Table, pa.Table, Any]:
    edges = ipc.open_stream(result["edges"]).read_all()
    quarantine = ipc.open_stream(result["quarantine"]).read_all()
    return edges, quarantine, result["partial"]


class _Progress:
    """A progress bar of rows curated on stderr (tqdm, which transformers brings)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="rows", unit_scale=True, file=sys.stderr,
                            desc="curate batch")  # fmt: skip

    def __enter__(self) -> _Progress:
        return self

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()
