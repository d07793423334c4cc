"""``curate serve``: one store, written by one collector, logged into by many replicas over HTTP.

Replicas run ``Framework(cfg, remote="http://host:port")`` (:mod:`curate.remote`). The
collector runs the checks of *its own* config (``--config``) with the same monitors, pipeline
and writer as a local Framework (:class:`curate.process_child.Monitoring`), and answers:

- ``POST /ids`` ``{"n": N}``: a block of ``N`` row ids reserved in the store, ``{"first": i}``;
- ``POST /log``: a JSON body ``{"writer": w, "seq": s, "calls": [...], "lost": k}``. Each call
  is ``{"first_id", "n", "ts", "inputs", "outputs", "gts", "identifiers", "extra_args",
  "late"}`` (``inputs`` a dict of columns). The answer, ``200 {"written": true}``, comes once
  the rows are **durable** in the store, so a replica counts nothing as sent before it. A
  repeated ``(writer, seq)`` (a retry whose answer was lost) is answered without being
  written twice. ``lost`` rows (dropped by the replica while the collector was down) are
  recorded as logged and dropped;
- ``GET /health``.

With ``prometheus_port`` (``--prometheus-port``) it serves the store's numbers and its queue to
Prometheus (:mod:`curate.prometheus`), as a local Framework's ``prometheus_port`` does.

A body that is not such JSON gets ``400`` with what was wrong, a wrong or missing token
``401`` (``Authorization: Bearer <token>``, the shared secret in ``CURATE_TOKEN``), a body over
``MAX_BODY`` ``413``; none of them changes the store. It binds to 127.0.0.1 unless told
otherwise, and refuses another address without a token.

>>> import tempfile
>>> c = Collector({"retraining_folder": tempfile.mkdtemp()}, port=0)
>>> c.url.startswith("http://127.0.0.1:")
True
>>> c.close()
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from curate.config import Config
from curate.errors import ConfigError
from curate.process_child import Monitoring

log = logging.getLogger("curate")

#: The largest body accepted (bytes).
MAX_BODY = 64 << 20
#: Seconds a request waits for its rows to be written before it is answered 503 (retry).
WRITE_TIMEOUT = 60.0
#: (writer, seq) pairs remembered to answer retries without writing twice.
SEEN = 100_000
_CALL_KEYS = {"first_id", "n", "ts", "inputs", "outputs", "gts", "identifiers", "extra_args",
              "late", "malformed", "rows"}  # fmt: skip


class BadBody(ValueError):
    """A request body that is not what ``POST /log`` takes (answered 400)."""


class Collector:
    """The collector's store, monitors and HTTP server (``close()`` writes everything)."""

    def __init__(self, config: Config | dict[str, Any], *, port: int = 8765,
                 host: str = "127.0.0.1", token: str | None = None,
                 prometheus_port: int | None = None) -> None:  # fmt: skip
        if host not in ("127.0.0.1", "localhost", "::1") and not token:
            raise ConfigError(
                f"curate serve: binding to {host} lets other hosts write to the store; set "
                "CURATE_TOKEN to a shared secret first"
            )
        self.config = Config.load(config)
        self.token = token
        self._lock = threading.Lock()
        self._seq = 0
        self._durable = 0
        self._written = threading.Condition()
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self.monitoring = Monitoring(self.config, self._on_message)
        self.store = self.monitoring.store
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="curate-collector")  # fmt: skip
        self._thread.start()
        self.metrics_server = None
        if prometheus_port is not None:
            from curate.prometheus import serve_metrics

            self.metrics_server = serve_metrics(self, prometheus_port, host)

    def _on_message(self, message: tuple) -> None:
        if message[0] == "written":
            with self._written:
                self._durable = max(self._durable, message[1])
                self._written.notify_all()

    def reserve_ids(self, n: int) -> int:
        """The first of ``n`` ids reserved in the store."""
        return self.store.reserve_ids(n)

    def log(self, body: dict[str, Any]) -> bool:
        """Queue a validated body's calls and wait until they are written; False on timeout."""
        key = (body["writer"], body["seq"])
        with self._lock:
            if key in self._seen:
                return True
            items = [_wire(call) for call in body["calls"]]
            self._seq += 1
            seq = self._seq
            if body.get("lost"):
                self.monitoring.record_lost(seq, body["lost"], f"writer {body['writer']}")
                self._seq += 1
                seq = self._seq
            self.monitoring.handle_frame(seq, items)
            self._seen[key] = None
            while len(self._seen) > SEEN:
                self._seen.popitem(last=False)
        with self._written:
            return self._written.wait_for(lambda: self._durable >= seq, WRITE_TIMEOUT)

    def backlog(self) -> dict[str, int]:
        """Rows received and not yet written (for the Prometheus endpoint)."""
        writer = self.monitoring.writer
        buffered = writer.buffered_rows
        return {"queued": max(0, writer.pending_rows - buffered), "buffered": buffered}

    def close(self) -> None:
        """Stop serving, then write everything and close the monitors."""
        self.server.shutdown()
        self.server.server_close()
        self.monitoring.close(None)
        if self.metrics_server is not None:
            self.metrics_server.close()

    def authorised(self, header: str | None) -> bool:
        """True when no token is set, or ``header`` is ``Bearer <token>``."""
        if not self.token:
            return True
        given = (header or "").removeprefix("Bearer ").encode()
        return hmac.compare_digest(given, self.token.encode())


def parse_log_body(raw: bytes) -> dict[str, Any]:
    """The body of ``POST /log``, validated; :class:`BadBody` says what is wrong.

    >>> parse_log_body(b'{"writer": "w", "seq": 1, "calls": [{"first_id": 0, "n": 1, '
    ...                b'"ts": 5, "inputs": {"text": ["a"]}}]}')["calls"][0]["n"]
    1
    >>> parse_log_body(b'{"writer": "w", "seq": 1, "calls": [{"n": 1}]}')
    Traceback (most recent call last):
    ...
    curate.collector.BadBody: calls[0]: first_id must be an integer
    """
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadBody("the body must be a JSON object")
    if not isinstance(body.get("writer"), str) or not _is_int(body.get("seq")):
        raise BadBody("writer (a string) and seq (an integer) are required")
    if not isinstance(body.get("calls"), list):
        raise BadBody("calls must be a list")
    if not _is_int(body.get("lost", 0)) or body.get("lost", 0) < 0:
        raise BadBody("lost must be a non-negative integer")
    for i, call in enumerate(body["calls"]):
        _check_call(call, f"calls[{i}]")
    return body


def _check_call(call: Any, where: str) -> None:
    if not isinstance(call, dict):
        raise BadBody(f"{where}: a call must be a JSON object")
    unknown = set(call) - _CALL_KEYS
    if unknown:
        raise BadBody(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("first_id", "n", "ts"):
        if not _is_int(call.get(key)):
            raise BadBody(f"{where}: {key} must be an integer")
    if call["n"] <= 0:
        raise BadBody(f"{where}: n must be positive")
    if "malformed" in call:
        if not isinstance(call["malformed"], str) or not isinstance(call.get("rows"), list):
            raise BadBody(f"{where}: a malformed call needs a reason and its rows as text")
    elif not call.get("late") and not isinstance(call.get("inputs"), dict):
        raise BadBody(f"{where}: inputs must be an object of columns")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _wire(call: dict[str, Any]) -> tuple:
    # The process channel's tuples (curate.process_channel.encode_call, and malformed calls).
    if "malformed" in call:
        rows = [str(r) for r in call["rows"]][: call["n"]]
        rows += [""] * (call["n"] - len(rows))
        return (
            "malformed",
            call["first_id"],
            call["n"],
            call["ts"],
            False,
            call["malformed"],
            rows,
        )
    return ("call", call["first_id"], call["n"], call["ts"], call.get("inputs"),
            call.get("outputs"), call.get("gts"), call.get("identifiers"),
            call.get("extra_args"), None, bool(call.get("late")))  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    collector: Collector
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # requests are not news
        pass

    def _answer(self, code: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._answer(200, {"ok": True, "store": str(self.collector.store.root)})
        else:
            self._answer(404, {"error": f"no such path {self.path}"})

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._answer(411, {"error": "Content-Length is required"})
        if length > MAX_BODY:
            self.close_connection = True
            return self._answer(413, {"error": f"body over {MAX_BODY} bytes"})
        raw = self.rfile.read(length)
        if not self.collector.authorised(self.headers.get("Authorization")):
            return self._answer(401, {"error": "a wrong or missing token"})
        try:
            self._route(raw)
        except BadBody as exc:
            self._answer(400, {"error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - the server must answer
            log.exception("curate serve: %s failed: %s", self.path, exc)
            self._answer(500, {"error": str(exc)})

    def _route(self, raw: bytes) -> None:
        if self.path == "/log":
            if self.collector.log(parse_log_body(raw)):
                return self._answer(200, {"written": True})
            return self._answer(503, {"error": "not written in time; retry"})
        if self.path == "/ids":
            try:
                n = int(json.loads(raw)["n"])
            except (ValueError, KeyError, TypeError) as exc:
                raise BadBody(f"ids: give {{'n': <count>}} ({exc})") from None
            if not 0 < n <= 1 << 24:
                raise BadBody("ids: n must be from 1 to 16777216")
            return self._answer(200, {"first": self.collector.reserve_ids(n)})
        self._answer(404, {"error": f"no such path {self.path}"})


def _handler(collector: Collector) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"collector": collector})


def serve_command(args: Any) -> int:
    """``curate serve``: run a collector until Ctrl-C or a signal, then write everything."""
    import os
    import signal
    import sys

    from curate.scale.job import load_config

    config = dict(load_config(args.config)) if args.config else {}
    config["retraining_folder"] = args.store
    collector = Collector(config, port=args.port, host=args.host,
                          token=os.environ.get("CURATE_TOKEN"),
                          prometheus_port=args.prometheus_port)  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"curate serve: {collector.store.root} on {collector.url}", file=sys.stderr, flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        collector.close()
    return 0


def add_subcommand(sub: Any) -> None:
    """Add ``curate serve`` to the ``curate`` command line."""
    serve = sub.add_parser("serve", help="a collector: many replicas log over HTTP into one store")
    serve.add_argument("--store", required=True, help="the store: a folder or an s3://... URI")
    serve.add_argument("--config", help="the checks: config.py (defining config) or .json")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (127.0.0.1; another needs CURATE_TOKEN)",
    )
    serve.add_argument(
        "--prometheus-port",
        type=int,
        help="also serve Prometheus metrics (rows, queue, drift...) on this port",
    )
    serve.set_defaults(func=serve_command)
