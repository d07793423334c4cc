"""A local webhook on 127.0.0.1 whose answers are scripted, for the alert-sink tests.

>>> h = Hook(["500"])
>>> h.url.startswith("http://127.0.0.1:")
True
>>> h.close()
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hook:
    """A local webhook whose answers follow ``script`` ("ok", "500", "hang", "429", "404").

    Once the script is used up every request gets ``then``. Only requests answered 200 count
    as delivered (``posts``); ``attempts`` records every request, with its time.
    """

    def __init__(self, script: list[str] | None = None, then: str = "ok", hang: float = 1.0):
        self.script, self.then, self.hang = list(script or []), then, hang
        self.posts: list[dict] = []
        self.headers: list[dict] = []
        self.attempts: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.handle_error = lambda *a: None  # a client that hung up is the point
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        # A short poll interval: shutdown() at teardown waits for one.
        serve = lambda: self.server.serve_forever(poll_interval=0.05)  # noqa: E731
        threading.Thread(target=serve, daemon=True).start()

    def _next(self) -> str:
        with self.lock:
            answer = self.script.pop(0) if self.script else self.then
            self.attempts.append((time.monotonic(), answer))
            return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answer = hook._next()
                if answer == "hang":  # past the client's timeout; what it answers is never read
                    hook.released.wait(hook.hang)
                    answer = "500"
                if answer == "ok":
                    with hook.lock:
                        hook.posts.append(json.loads(body))
                        hook.headers.append(dict(self.headers))
                    self.send_response(200)
                    self.end_headers()
                    return
                self.send_response(int(answer))
                if answer == "429":
                    self.send_header("Retry-After", "0.3")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    @property
    def times(self) -> list[float]:
        """When each request arrived."""
        return [t for t, _ in self.attempts]

    def recover(self) -> None:
        with self.lock:
            self.script, self.then = [], "ok"

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
