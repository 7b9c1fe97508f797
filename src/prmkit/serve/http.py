"""What both servers share: body limits, bearer auth, JSON parsing, running uvicorn.

Bad input never reaches a handler as an exception it cannot explain: bodies over the
limit get 413 before any parsing, a missing or wrong token 401, invalid UTF-8 or JSON
400, and wrong shapes raise `ApiError` (4xx with a message) from the validators here.
"""

from __future__ import annotations

import contextlib
import gc
import hmac
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

TOKEN_ENV = "PRMKIT_API_KEY"
"""Environment variable holding the bearer token (servers: required token; client: sent)."""

DRAIN_LIMIT = (
    64 * 2**20
)  # an oversized body is read and discarded up to this, then the connection closes


class ApiError(Exception):
    """A client mistake: HTTP `status` (4xx) and a message saying what is wrong."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


ErrorBody = Callable[[int, str], dict]
BodyRoute = Callable[[bytes], Awaitable[bytes]]
"""A POST handler that Guard calls itself: request body in, JSON response body out;
raises ApiError for the client's mistakes."""


def simple_error(status: int, message: str) -> dict:
    return {"error": message}


def _header(scope: dict, name: bytes) -> bytes | None:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return v
    return None


class Guard:
    """ASGI middleware: bearer token check, then the whole body read under a size limit.

    The handler later reads the buffered body as usual. `open_paths` need no token
    (health checks). Oversized bodies are drained (up to DRAIN_LIMIT) before the 413
    so that keep-alive clients see the answer instead of a reset connection.

    `routes` maps paths to `BodyRoute`s that Guard answers itself (POST only; other
    methods get 405), skipping the framework's routing, request and response objects:
    under load that per-request work was a third of the reward server's event-loop CPU
    (py-spy), and the event loop is what limits batching. `on_error` sees every
    ApiError those routes raise (the server counts them).
    """

    def __init__(
        self,
        app,
        max_body_bytes: int,
        token: str | None,
        error_body: ErrorBody,
        open_paths: tuple[str, ...] = ("/health",),
        routes: dict[str, BodyRoute] | None = None,
        on_error: Callable[[ApiError], None] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.token = token
        self.error_body = error_body
        self.open_paths = open_paths
        self.routes = routes or {}
        self.on_error = on_error

    @staticmethod
    async def _send(send, status: int, body: bytes, extra: list | None = None) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
        )
        await send({"type": "http.response.body", "body": body})

    async def _reply(self, send, status: int, message: str, extra: list | None = None) -> None:
        await self._send(send, status, json.dumps(self.error_body(status, message)).encode(), extra)

    async def _drain(self, receive, more: bool) -> bool:
        """Read and drop the rest of the body; False if it went past DRAIN_LIMIT."""
        total = 0
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return False
            total += len(msg.get("body", b""))
            more = msg.get("more_body", False)
            if total > DRAIN_LIMIT:
                return False
        return True

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.token is not None and scope["path"] not in self.open_paths:
            auth = (_header(scope, b"authorization") or b"").decode("latin-1")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                ok = await self._drain(receive, True)
                extra = [(b"www-authenticate", b"Bearer")] + (
                    [] if ok else [(b"connection", b"close")]
                )
                msg = "missing bearer token" if not given else "wrong bearer token"
                return await self._reply(
                    send, 401, msg + " (send Authorization: Bearer TOKEN)", extra
                )
        route = self.routes.get(scope["path"])
        if route is not None and scope["method"] != "POST":
            ok = await self._drain(receive, True)
            extra = [(b"allow", b"POST")] + ([] if ok else [(b"connection", b"close")])
            return await self._reply(send, 405, "method not allowed: use POST", extra)
        if scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        limit = self.max_body_bytes
        too_big = f"request body over the limit of {limit} bytes"
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            ok = await self._drain(receive, True)
            return await self._reply(
                send, 413, too_big, None if ok else [(b"connection", b"close")]
            )
        chunks, size, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":  # client went away
                return None
            chunks.append(msg.get("body", b""))
            size += len(chunks[-1])
            more = msg.get("more_body", False)
            if size > limit:
                ok = await self._drain(receive, more)
                return await self._reply(
                    send, 413, too_big, None if ok else [(b"connection", b"close")]
                )
        body = b"".join(chunks)
        if route is not None:
            try:
                out = await route(body)
            except ApiError as e:
                if self.on_error is not None:
                    self.on_error(e)
                return await self._reply(send, e.status, e.message)
            return await self._send(send, 200, out)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def parse_json(body: bytes) -> Any:
    """The request body as JSON; ApiError(400) for empty, non-UTF-8 or invalid JSON."""
    if not body:
        raise ApiError(400, "empty request body: send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(400, f"request body is not valid UTF-8 (byte {e.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ApiError(400, f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise ApiError(400, "invalid JSON: nested too deeply") from None


def bad(status: int, where: str, what: str) -> ApiError:
    return ApiError(status, f"{where}: {what}" if where else what, where or None)


def get_obj(x: Any, where: str = "body") -> dict:
    if not isinstance(x, dict):
        raise bad(422, where, f"must be a JSON object, got {type_name(x)}")
    return x


def type_name(x: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(x), type(x).__name__)


def get_str(
    d: dict, key: str, where: str = "", required: bool = True, default: str | None = None
) -> str | None:
    name = f"{where}.{key}" if where else key
    if key not in d or d[key] is None:
        if required:
            raise bad(422, name, "is required")
        return default
    if not isinstance(d[key], str):
        raise bad(422, name, f"must be a string, got {type_name(d[key])}")
    return d[key]


def get_str_list(
    d: dict,
    key: str,
    where: str = "",
    max_len: int | None = None,
    required: bool = True,
    allow_empty: bool = False,
) -> list[str] | None:
    name = f"{where}.{key}" if where else key
    v = d.get(key)
    if v is None:
        if required:
            raise bad(422, name, "is required (a list of strings)")
        return None
    if not isinstance(v, list):
        raise bad(422, name, f"must be a list of strings, got {type_name(v)}")
    if not v and not allow_empty:
        raise bad(422, name, "must not be empty")
    if max_len is not None and len(v) > max_len:
        raise bad(413, name, f"has {len(v)} entries, over the limit of {max_len}")
    for i, s in enumerate(v):
        if not isinstance(s, str):
            raise bad(422, f"{name}[{i}]", f"must be a string, got {type_name(s)}")
    return v


def get_number(
    d: dict, key: str, default: float, lo: float, hi: float, where: str = "", integer: bool = False
) -> float:
    name = f"{where}.{key}" if where else key
    v = d.get(key)
    if v is None:
        return default
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok:
        raise bad(
            400, name, f"must be {'an integer' if integer else 'a number'}, got {type_name(v)}"
        )
    if not lo <= v <= hi:
        raise bad(400, name, f"must lie in [{lo}, {hi}], got {v}")
    return v


def resolve_token(token: str | None) -> str | None:
    """The bearer token a server requires: --token, else $PRMKIT_API_KEY, else none."""
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    return token or None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 picks a free port); address errors become ValueError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ValueError(f"cannot resolve host {host!r}: {e}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _quiet_exit_server_class():
    import uvicorn

    class QuietExitServer(uvicorn.Server):
        """uvicorn that shuts down gracefully on SIGINT/SIGTERM and then returns instead of
        re-raising the signal, so the command still prints its summary."""

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            sigs = (signal.SIGINT, signal.SIGTERM)
            old = {s: signal.signal(s, self.handle_exit) for s in sigs}
            try:
                yield
            finally:
                for s, h in old.items():
                    signal.signal(s, h)

    return QuietExitServer


def serve_app(app, host: str, port: int, what: str, access_log: bool = False) -> str:
    """Run `app` with uvicorn until SIGINT/SIGTERM; prints `serving WHAT on URL` to stderr.

    Returns the URL it served on.
    """
    import uvicorn

    QuietExitServer = _quiet_exit_server_class()
    sock = bind(host, port)
    real_port = sock.getsockname()[1]
    url = f"http://{host}:{real_port}"
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.stderr.write(f"note: listening on {host}, reachable beyond this machine\n")
    sys.stderr.write(f"serving {what} on {url}\n")
    sys.stderr.flush()
    config = uvicorn.Config(
        app, log_level="warning", access_log=access_log, timeout_keep_alive=30, lifespan="on"
    )
    gc.collect()
    gc.freeze()  # the model and libraries never become garbage: keep them out of GC passes
    QuietExitServer(config).run(sockets=[sock])
    return url


@dataclass
class ServeOptions:
    """The settings every `prmkit serve ...` command shares (a base of their Configs)."""

    RANGES: ClassVar[dict[str, str]] = {
        "port": "[0, 65535]",
        "max_body_bytes": ">= 1",
        "threads": ">= 0",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""

    model: str
    """the model to serve"""
    host: str = "127.0.0.1"
    """address to listen on (keep loopback unless a token is set)"""
    port: int = 8000
    """port to listen on (0 picks a free one; the address is printed on stderr)"""
    token: str | None = None
    """bearer token clients must send; default: $PRMKIT_API_KEY, else no token needed"""
    max_body_bytes: int = 1_000_000
    """largest request body; larger ones get 413"""
    access_log: bool = False
    """log every request on stderr"""
    threads: int = 0
    """torch intra-op threads (0: torch's default); on a small shared machine 1 is often fastest"""


def run_command_server(
    app, host: str, port: int, what: str, access_log: bool, threads: int
) -> tuple[str, float]:
    """What `prmkit serve ...` does after building its app: set torch's threads (0 keeps
    the default), serve until stopped; (URL, seconds served). Bad addresses: InputError."""
    import time

    from prmkit.data import InputError

    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    t0 = time.time()
    try:
        url = serve_app(app, host, port, what, access_log)
    except ValueError as e:
        raise InputError(str(e)) from None
    return url, round(time.time() - t0, 1)


class ThreadServer:
    """uvicorn in a background thread on a free loopback port (tests, benchmarks, notebooks).

    `with ThreadServer(app) as url: ...` starts it, waits until it answers, stops it.
    """

    def __init__(self, app, host: str = "127.0.0.1") -> None:
        self.app, self.host = app, host

    def __enter__(self) -> str:
        import time

        import uvicorn

        self.sock = bind(self.host, 0)
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        t0 = time.time()
        while not self.server.started:
            if not self.thread.is_alive() or time.time() - t0 > 30:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return f"http://{self.host}:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
