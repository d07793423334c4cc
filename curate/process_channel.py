"""The pipe between a ``mode="process"`` Framework and its monitoring process.

Messages are pickled tuples in length-prefixed frames (``multiprocessing.connection``) over
two anonymous pipes. The child is ``python -m curate.process_child``, started like
``multiprocessing``'s *spawn* (the parent's ``sys.path``, working directory and main module),
never forked.

A frame, ``("calls", seq, items)``, is pickled once, items and all. ``log()`` queues each call
as :func:`call_fields` builds it, a plain tuple of its eight arguments (first element an
``int``), which is also how it travels: the cheapest thing to build on the request path and
to pickle. Every other item is a tuple whose first element names its kind: ``"late"`` (labels
from ``log_ground_truth``), ``"call"`` (any other :class:`LogCall`), ``"malformed"``,
``"refused"``, ``"flush"`` and ``"close"``.

>>> call = LogCall(5, 2, 7, {"text": ["a", "b"]})
>>> encode_call(call)[:3], decode_call(encode_call(call)) == call
((5, 2, 7), True)
>>> late = LogCall(-1, 1, 7, None, None, [1], ["req-1"], ground_truth_only=True)
>>> encode_call(late)[0], decode_call(encode_call(late)) == late
('late', True)
"""

from __future__ import annotations

import multiprocessing.spawn
import os
import pickle
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from curate.calls import LogCall
from curate.errors import ConfigError
from curate.failures import call_rows

#: Seconds a child has to import everything and build its monitors before it counts as failed.
START_TIMEOUT = 120.0


class ChildDied(Exception):
    """The monitoring process is gone (a broken pipe or the end of its output)."""


def call_fields(*fields: Any) -> tuple:
    """A ``log()`` call as ``mode="process"`` queues and sends it: ``(first_id, n, ts, inputs,
    outputs, gts, identifiers, extra_args)``, the arguments :class:`LogCall` takes, as they are.

    >>> call_fields(0, 1, 7, {"text": ["a"]}, [0.5], None, None, None)[:4]
    (0, 1, 7, {'text': ['a']})
    """
    return fields


def encode_call(call: LogCall) -> tuple:
    """A :class:`LogCall` as a plain tuple: far cheaper to pickle than the dataclass."""
    if call.ground_truth_only:
        return ("late", call.n, call.ts, call.gts, call.identifiers)
    if call.ids is None:
        return (call.first_id, call.n, call.ts, call.inputs, call.outputs, call.gts,
                call.identifiers, call.extra_args)  # fmt: skip
    return ("call", call.first_id, call.n, call.ts, call.inputs, call.outputs, call.gts,
            call.identifiers, call.extra_args, call.ids, call.ground_truth_only)  # fmt: skip


def decode_call(wire: tuple) -> LogCall:
    """The :class:`LogCall` a :func:`call_fields` or :func:`encode_call` tuple stands for."""
    kind = wire[0]
    if type(kind) is int:
        return LogCall(*wire)
    if kind == "late":
        _, n, ts, gts, identifiers = wire
        return LogCall(-1, n, ts, None, None, gts, identifiers, ground_truth_only=True)
    return LogCall(*wire[1:])


class Child:
    """A running monitoring process: send and receive messages, stop it."""

    def __init__(self, process: subprocess.Popen, to_child: Connection, from_child: Connection):
        self.process, self._out, self._in = process, to_child, from_child
        self._send_lock = threading.Lock()

    @classmethod
    def start(cls, config_bytes: bytes) -> Child:
        """Start a child on a pickled config and wait until its monitors are built.

        Raises :class:`~curate.errors.ConfigError` with the child's own message when it cannot
        start (a signal function it cannot import, a store it cannot open).
        """
        down_r, down_w = os.pipe()  # parent -> child
        up_r, up_w = os.pipe()  # child -> parent
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "curate.process_child", str(down_r), str(up_w)],
                pass_fds=(down_r, up_w), env=_child_env(), cwd=os.getcwd(),
            )  # fmt: skip
        finally:
            os.close(down_r)
            os.close(up_w)
        child = cls(process, Connection(down_w, readable=False), Connection(up_r, writable=False))
        child._handshake(config_bytes)
        return child

    def _handshake(self, config_bytes: bytes) -> None:
        try:
            self.send(("start", _preparation_data(), config_bytes))
            if not self._in.poll(START_TIMEOUT):
                raise ChildDied(f"no answer within {START_TIMEOUT:.0f} s")
            answer = self.recv()
        except ChildDied as exc:
            self.stop()
            raise ConfigError(
                f"mode='process': the monitoring process did not start: {exc}"
            ) from None
        if answer[0] != "ready":
            self.stop()
            raise ConfigError(f"mode='process': the monitoring process cannot start: {answer[1]}")

    def send(self, message: tuple) -> None:
        """Send one message (thread-safe); :class:`ChildDied` if the child is gone."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            with self._send_lock:
                self._out.send_bytes(data)
        except (OSError, ValueError, TypeError) as exc:  # EPIPE, or a connection closed
            raise ChildDied(f"cannot write to it: {exc}") from None

    def recv(self) -> tuple:
        """The next message from the child; :class:`ChildDied` at the end of its output."""
        try:
            return pickle.loads(self._in.recv_bytes())
        except (EOFError, OSError, ValueError) as exc:
            code = self.process.poll()
            raise ChildDied(f"its output ended (exit code {code}): {exc!r}") from None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """Close our end of the pipe (the child then writes what it holds and exits) and wait;
        kill it if it does not exit within ``timeout``. Safe to call twice."""
        for conn in (self._out, self._in):
            if not conn.closed:
                conn.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def pickled_config(config: Any) -> bytes:
    """The config as the monitoring process gets it; ConfigError when it cannot be pickled."""
    # What stays in this process (the training trigger, alert sinks, the metrics endpoint) is
    # not sent: an on_retrain lambda is fine.
    config = config.model_copy(update={"on_retrain": None, "alert_sinks": [],
                                       "prometheus_port": None})  # fmt: skip
    try:
        return pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - lambdas, local functions, open handles...
        raise ConfigError(
            f"mode='process' sends the config to the monitoring process, and it cannot be "
            f"pickled: {exc}. Define signal functions at module level (not as "
            "lambdas or nested functions), or use mode='thread'"
        ) from None


def picklable(wire: Any) -> Any:
    """``wire`` if it pickles; a call that does not becomes a malformed call, its ids kept."""
    try:
        pickle.dumps(wire, protocol=pickle.HIGHEST_PROTOCOL)
        return wire
    except Exception as exc:  # noqa: BLE001
        call = decode_call(wire)  # only calls carry the caller's values
        reason = f"cannot be sent to the monitoring process (pickle: {exc})"
        return ("malformed", call.first_id, call.n, call.ts, call.ground_truth_only, reason,
                call_rows(call))  # fmt: skip


def safe_raw(raw: Any) -> Any:
    """``raw`` if it pickles, else its (shortened) repr: a refused call's value, kept as text."""
    try:
        pickle.dumps(raw)
        return raw
    except Exception:  # noqa: BLE001
        return repr(raw)[:2000]


def _preparation_data() -> dict[str, Any]:
    # What multiprocessing's spawn gives its children: sys.path, cwd and the main module, so a
    # signal function defined in the user's script unpickles in the child.
    data = multiprocessing.spawn.get_preparation_data("curate-monitor")
    data.pop("authkey", None)
    data.pop("log_to_stderr", None)
    data.pop("start_method", None)
    return data


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The child finds curate itself (and the user's modules) where the parent did.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env
