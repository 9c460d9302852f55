"""The HTTP side: a threaded loopback server speaking HTTP/1.1 (keep-alive, chunked SSE).

with SimServer({"steps": {"plan": [{"text": "Plan."}]}}) as sim:
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="test-key")
    ...
    assert len(sim.requests) == 1
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from devloop.promptcache import PromptCache
from devloop.sim.app import Response, SimApp, SimRequest
from devloop.sim.scenario import Scenario, load_scenario, parse_scenario


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like the API
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.app.handle(self.command, self.path, headers, raw)
        try:
            self._write(response)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout test, a Ctrl-C)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.events is None:
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            if response.abort_after is not None:
                self.wfile.write(response.body[: response.abort_after])
                self._abort()
                return
            self.wfile.write(response.body)
            return
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for i, event in enumerate(response.events):
            if response.abort_after is not None and i >= response.abort_after:
                self._abort()
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            if i == 0 and response.generating_s:
                self.server.app.pause(response.generating_s)
        self.wfile.write(b"0\r\n\r\n")

    def _abort(self) -> None:
        """Drop the connection without finishing the body: what a network cut looks like."""
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass  # SimApp logs one line per request when asked to


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SimApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)
        # accept() after select() said "ready" can still find nothing to accept; on a
        # blocking socket it then waits for the next client, and shutdown() waits forever.
        # Non-blocking, that accept() fails at once and serve_forever polls on.
        self.socket.setblocking(False)

    def process_request(self, request, client_address) -> None:
        request.setblocking(True)  # the connection itself: plain blocking reads and writes
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close idle keep-alive connections so their handler threads end now."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SimServer:
    """An Anthropic-compatible API on 127.0.0.1, answering from a scenario.

    ``scenario`` is a Scenario, a dict in the scenario format, a path to a TOML/JSON file, or
    None (no scripted replies: the Models API and count_tokens still work). ``port=0`` picks a
    free port. ``clock`` drives prompt-cache expiry, so tests can step time.
    """

    def __init__(
        self,
        scenario: Scenario | dict | str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if scenario is None:
            scenario = Scenario({}, source="<empty>")
        elif isinstance(scenario, dict):
            scenario = parse_scenario(scenario)
        elif isinstance(scenario, str | Path):
            scenario = load_scenario(scenario)
        self.scenario = scenario
        self._stopping = threading.Event()
        self.app = SimApp(scenario, clock=clock, sleep=self._stopping.wait, log=log)
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- lifecycle

    def start(self) -> SimServer:
        if self._httpd is None:
            self._httpd = _HTTPServer(self._address, self.app)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.02},  # close() waits for one poll: keep tests fast
                name="devloop-sim",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes any reply sleeping on a `delay`
        self._httpd.shutdown()
        self._httpd.drop_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def wait(self) -> None:
        """Block until close() (or Ctrl-C in the caller)."""
        while not self._stopping.wait(0.5):
            pass

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- views

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("SimServer is not running: use `with SimServer(...)` or start().")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    @property
    def requests(self) -> list[SimRequest]:
        """Every request received so far, in arrival order (a snapshot)."""
        return self.app.requests

    def message_requests(self, step: str | None = None) -> list[SimRequest]:
        """The POST /v1/messages requests, optionally only those of one step."""
        return [
            r
            for r in self.requests
            if r.method == "POST" and r.path == "/v1/messages" and (step is None or r.step == step)
        ]

    @property
    def cache(self) -> PromptCache:
        return self.app.cache

    def unused(self) -> dict[str, int]:
        """Scenario replies not consumed yet, per step."""
        return self.app.replies.unused()
