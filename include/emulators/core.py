"""The machinery both emulators share: an HTTP/1.1 server on loopback, routing, fault injection,
the request log and the ``/_emulator/`` inspection API.

An emulator is an :class:`EmulatorApp` subclass that declares routes with :meth:`EmulatorApp.route`
and formats errors the way its API does (:meth:`EmulatorApp.error_body`). Everything here is
stdlib so that the emulators start in well under a second and run without Airflow.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import struct
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_BODY_BYTES = 16 * 1024 * 1024  # emulator's own cap on request bodies (both APIs leave it open)
LOGGED_BODY_BYTES = 64 * 1024  # request bodies are kept in the request log up to this size
REQUEST_LOG_SIZE = 200_000  # ring buffer: oldest entries are dropped beyond this
LOOPBACK = "127.0.0.1"


class ApiError(Exception):
    """An error response in the emulated API's own format (``code``/``message`` are API fields)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


@dataclass
class Request:
    """One parsed HTTP request as the routes see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    seq: int
    params: dict[str, str] = field(default_factory=dict)
    #: per-request values set by ``before_route`` (the caller's identity, extra response headers)
    context: dict[str, Any] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        """Return the first value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """Return a request header by case-insensitive name, or None."""
        return self.headers.get(name.lower())


@dataclass
class Response:
    """What a route returns; ``body`` is JSON-encoded unless it is bytes already."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    def encoded(self) -> bytes:
        """Return the body as bytes."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        try:
            return json.dumps(self.body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate echoed from the input: escape it instead
            return json.dumps(self.body).encode("ascii")


# --------------------------------------------------------------------------------------------
# Fault injection


@dataclass
class FaultConfig:
    """Faults injected into API requests (never into ``/_emulator/``), deterministic under ``seed``.

    Each API request gets a sequence number; the fault drawn for it comes from a RNG seeded with
    (``seed``, its number counted from the request after the faults were set), so the same seed and the same
    requests after setting it give the same faults, whatever the emulator served before.
    """

    seed: int = 0
    latency_ms: float = 0.0  # added to every matching request
    latency_jitter_ms: float = 0.0  # uniform in [-jitter, +jitter] around latency_ms
    error_rate: float = 0.0  # 5xx before the request is processed
    error_statuses: list[int] = field(default_factory=lambda: [500, 502, 503])
    reset_rate: float = 0.0  # TCP reset before the request is processed
    lost_response_rate: float = 0.0  # processed, then the connection is reset (response lost)
    throttle_rate: float = 0.0  # spurious 429 in the API's own format
    storm_every: int = 0  # 429 storms: of every `storm_every` requests ...
    storm_length: int = 0  # ... the first `storm_length` get 429
    storm_status: int = 429  # what a storm answers: 429, or a 5xx for bursts of server errors
    hang_rate: float = 0.0  # hold the connection open, then drop it without a response
    hang_seconds: float = 30.0
    paths: str | None = None  # regex: only requests whose path matches are affected
    methods: list[str] | None = None  # only these methods are affected
    first_seq: int = field(default=0, repr=False)  # set by the emulator: the last request before these faults

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        """Return a config from a JSON object, rejecting unknown keys and wrong types."""
        known = {f.name: f for f in fields(cls) if f.name != "first_seq"}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}; known: {', '.join(known)}")
        config = cls()
        for key, value in data.items():
            default = getattr(config, key)
            if key in {"paths"}:
                if value is not None and not isinstance(value, str):
                    raise ValueError("paths must be a regular expression string or null")
                if value is not None:
                    re.compile(value)
            elif key == "storm_status":
                if value != 429 and not (isinstance(value, int) and 500 <= value <= 599):
                    raise ValueError("storm_status is 429 or a 5xx status")
            elif key in {"methods", "error_statuses"}:
                if value is not None and not (isinstance(value, list) and value):
                    raise ValueError(f"{key} must be a non-empty list or null")
            elif isinstance(default, (int, float)) and not isinstance(default, bool):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"{key} must be a non-negative number")
                if key.endswith("_rate") and value > 1:
                    raise ValueError(f"{key} is a probability between 0 and 1")
            setattr(config, key, value)
        return config

    def matches(self, method: str, path: str) -> bool:
        """Return True when this request is subject to faults."""
        if self.methods and method not in self.methods:
            return False
        return not (self.paths and not re.search(self.paths, path))


@dataclass(frozen=True)
class FaultDecision:
    """The fault drawn for one request."""

    latency_s: float = 0.0
    action: str = "none"  # none | error | reset | lost_response | throttle | hang
    status: int = 0


def draw_fault(config: FaultConfig, seq: int, method: str, path: str) -> FaultDecision:
    """Return the fault for request number ``seq`` (pure: same inputs, same decision)."""
    if not config.matches(method, path):
        return FaultDecision()
    seq -= config.first_seq + 1  # the first request after the faults were set is number 0
    rng = random.Random(config.seed * 1_000_003 + seq)
    latency = config.latency_ms + rng.uniform(-config.latency_jitter_ms, config.latency_jitter_ms)
    latency_s = max(latency, 0.0) / 1000.0
    if config.storm_every and config.storm_length and (seq % config.storm_every) < config.storm_length:
        if config.storm_status == 429:
            return FaultDecision(latency_s, "throttle", 429)
        return FaultDecision(latency_s, "error", config.storm_status)
    roll = rng.random()
    for action, rate in (
        ("reset", config.reset_rate),
        ("error", config.error_rate),
        ("throttle", config.throttle_rate),
        ("hang", config.hang_rate),
        ("lost_response", config.lost_response_rate),
    ):
        if roll < rate:
            status = rng.choice(config.error_statuses) if action == "error" else 429 if action == "throttle" else 0
            return FaultDecision(latency_s, action, status)
        roll -= rate
    return FaultDecision(latency_s)


# --------------------------------------------------------------------------------------------
# Request log


class RequestLog:
    """A bounded, thread-safe record of every API request: what came in and what went out."""

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def select(
        self, *, since: int = 0, method: str | None = None, path: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Return entries with ``seq > since``, optionally filtered by method and path regex."""
        with self._lock:
            entries = list(self._entries)
        pattern = re.compile(path) if path else None
        out = [
            e
            for e in entries
            if e["seq"] > since
            and (method is None or e["method"] == method)
            and (pattern is None or pattern.search(e["path"]))
        ]
        return out[-limit:] if limit else out


# --------------------------------------------------------------------------------------------
# Routing


@dataclass
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Callable[..., Response]
    operation: str
    options: dict[str, Any]


def compile_template(template: str) -> re.Pattern[str]:
    """Return a regex for a path template such as ``/users/{userId}/calendar/events``."""
    parts = re.split(r"(\{[A-Za-z_]+\})", template)
    pattern = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{pattern}$")


def route(method: str, template: str, operation: str | None = None, **options: Any) -> Callable[..., Any]:
    """Mark an :class:`EmulatorApp` method as the handler of ``method template``."""

    def mark(func: Callable[..., Response]) -> Callable[..., Response]:
        func._emulator_route = (method, template, operation or func.__name__, options)  # type: ignore[attr-defined]
        return func

    return mark


# --------------------------------------------------------------------------------------------
# The application base class


class EmulatorApp:
    """Base of an emulated API: routing, faults, request log and the inspection endpoints.

    Subclasses implement :meth:`error_body`, :meth:`reset_state`, :meth:`snapshot`, :meth:`seed`
    and routes marked with :func:`route`. All state lives on the instance and is guarded by
    ``self.lock``; the HTTP server calls :meth:`dispatch` from one thread per connection.
    """

    name = "emulator"
    #: path prefixes this API serves (a request outside them is 404 in the API's format)
    prefixes: tuple[str, ...] = ("/",)

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults = FaultConfig()
        self.log = RequestLog()
        self._seq = 0
        self._seq_lock = threading.Lock()
        self.routes: list[Route] = []
        for attr in dir(type(self)):
            func = getattr(type(self), attr)
            marker = getattr(func, "_emulator_route", None)
            if marker:
                method, template, operation, options = marker
                self.routes.append(
                    Route(method, template, compile_template(template), getattr(self, attr), operation, options)
                )

    # -- to be provided by subclasses -------------------------------------------------------
    def error_body(self, error: ApiError) -> Any:
        raise NotImplementedError

    def error_headers(self, error: ApiError) -> dict[str, str]:
        return {}

    def reset_state(self, options: dict[str, Any]) -> None:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError

    def seed(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def config_dict(self) -> dict[str, Any]:
        return {}

    def update_config(self, changes: dict[str, Any]) -> None:
        raise ApiError(400, "BAD_CONFIG", "this emulator has no settings")

    def before_route(self, request: Request, route: Route) -> None:
        """Hook run before a matched route (auth, scopes, rate limits); raises ApiError to refuse."""
        return None

    def admit(self, request: Request) -> Callable[[], None] | None:
        """Gate a request before anything else (concurrency limits); return a release callback."""
        return None

    def throttle_error(self) -> ApiError:
        return ApiError(429, "TOO_MANY_REQUESTS", "injected rate limit")

    def server_error(self, status: int) -> ApiError:
        return ApiError(status, "INTERNAL_SERVER_ERROR", "injected server error")

    def extra_inspection(self, request: Request, action: str) -> Response | None:
        """Serve emulator-specific ``/_emulator/<action>`` endpoints; None when unknown."""
        return None

    # -- dispatch ----------------------------------------------------------------------------
    def next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def to_response(self, error: ApiError) -> Response:
        headers = {**self.error_headers(error), **error.headers}
        return Response(error.status, self.error_body(error), headers)

    def handle_api(self, request: Request) -> Response:
        """Route an API request and turn errors into API-format responses."""
        allowed: list[str] = []
        for candidate in self.routes:
            match = candidate.regex.match(request.path)
            if not match:
                continue
            if candidate.method != request.method:
                allowed.append(candidate.method)
                continue
            request.params = {k: unquote(v) for k, v in match.groupdict().items()}
            try:
                self.before_route(request, candidate)
                response = candidate.handler(request)
            except ApiError as error:
                response = self.to_response(error)
            except Exception as exc:  # a bug in the emulator: answer 500 (tests treat any 500 as a failure)
                traceback.print_exc()
                response = self.to_response(ApiError(500, "EMULATOR_BUG", f"{type(exc).__name__}: {exc}"))
            response.headers.update(request.context.get("response_headers", {}))
            return response
        if allowed:
            return self.to_response(ApiError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not supported here"))
        return self.to_response(ApiError(404, "NOT_FOUND", f"no such resource: {request.path}"))

    def handle_inspection(self, request: Request) -> Response:
        action = request.path[len("/_emulator/") :].strip("/")
        try:
            if action == "state" and request.method == "GET":
                with self.lock:
                    return Response(200, self.snapshot())
            if action == "requests" and request.method == "GET":
                since = int(request.arg("since") or 0)
                limit = int(request.arg("limit") or 0) or None
                entries = self.log.select(
                    since=since, method=request.arg("method"), path=request.arg("path"), limit=limit
                )
                return Response(200, {"requests": entries, "lastSeq": self._seq})
            if action == "reset" and request.method == "POST":
                options = json.loads(request.body or b"{}")
                with self.lock:
                    self.reset_state(options)
                    self.faults = FaultConfig()
                    self.log.clear()
                return Response(200, {"reset": True})
            if action == "faults":
                if request.method == "POST":
                    faults = FaultConfig.from_dict(json.loads(request.body or b"{}"))
                    with self._seq_lock:
                        faults.first_seq = self._seq
                    self.faults = faults
                return Response(200, asdict(self.faults))
            if action == "seed" and request.method == "POST":
                payload = json.loads(request.body or b"{}")
                if not isinstance(payload, dict) or not isinstance(payload.get("events", []), list):
                    raise ValueError('seed takes {"events": [raw API objects]}')
                with self.lock:
                    return Response(200, self.seed(payload))
            if action == "config":
                if request.method == "POST":
                    changes = json.loads(request.body or b"{}")
                    if not isinstance(changes, dict):
                        raise ValueError("config takes a JSON object")
                    with self.lock:
                        self.update_config(changes)
                return Response(200, self.config_dict())
            extra = self.extra_inspection(request, action)
            if extra is not None:
                return extra
        except ApiError as error:
            return Response(error.status, {"error": error.code, "message": error.message})
        except (ValueError, TypeError, RecursionError, re.error) as error:  # JSONDecodeError is a ValueError
            return Response(400, {"error": "BAD_REQUEST", "message": str(error)})
        return Response(404, {"error": "NOT_FOUND", "message": f"no inspection endpoint {request.method} {action}"})


# --------------------------------------------------------------------------------------------
# HTTP server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer

    def setup(self) -> None:
        super().setup()
        # Without this, a keep-alive client waits out the peer's delayed ACK (~40 ms) per request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is the record; stderr stays quiet

    def _reset_connection(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.connection.close()
        self.close_connection = True

    def _send(self, response: Response) -> None:
        """Write status line, headers and body in one ``write`` (no Nagle/delayed-ACK stalls)."""
        payload = response.encoded() if self.command != "HEAD" else b""
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        head = [f"{self.protocol_version} {response.status} {phrase}", f"Date: {self.date_time_string()}"]
        if payload or response.status not in (204, 304):
            head.append(f"Content-Type: {response.content_type}")
        head.append(f"Content-Length: {len(payload)}")
        head.extend(f"{name}: {value}" for name, value in response.headers.items())
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace") + payload)

    def _dispatch(self) -> None:
        app = self.server.app
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(app.to_response(ApiError(413, "PAYLOAD_TOO_LARGE", f"body over {MAX_BODY_BYTES} bytes")))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = split.path
        if path.startswith("/_emulator/"):
            request = Request(self.command, path, parse_qs(split.query, keep_blank_values=True), headers, body, 0)
            self._send(app.handle_inspection(request))
            return
        seq = app.next_seq()
        request = Request(self.command, path, parse_qs(split.query, keep_blank_values=True), headers, body, seq)
        started = time.time()
        entry: dict[str, Any] = {
            "seq": seq,
            "time": started,
            "method": self.command,
            "path": path,
            "rawQuery": split.query,
            "query": request.query,
            "headers": dict(self.headers.items()),
            "body": body[:LOGGED_BODY_BYTES].decode("utf-8", "replace"),
            "bodyTruncated": len(body) > LOGGED_BODY_BYTES,
        }
        try:
            release = app.admit(request)
        except ApiError as error:
            refused = app.to_response(error)
            entry.update(status=refused.status, fault=None, duration=0.0, responseBody=refused.encoded().decode())
            app.log.add(entry)
            self._send(refused)
            return
        try:
            self._serve(app, request, entry, started)
        finally:
            if release:
                release()

    def _serve(self, app: EmulatorApp, request: Request, entry: dict[str, Any], started: float) -> None:
        decision = draw_fault(app.faults, request.seq, request.method, request.path)
        if decision.latency_s:
            time.sleep(decision.latency_s)
        if decision.action in ("reset", "hang"):
            hang = app.faults.hang_seconds if decision.action == "hang" else 0.0
            entry.update(status=None, fault=decision.action, duration=time.time() - started + hang)
            app.log.add(entry)
            time.sleep(hang)
            self._reset_connection()
            return
        if decision.action == "error":
            response = app.to_response(app.server_error(decision.status))
        elif decision.action == "throttle":
            response = app.to_response(app.throttle_error())
        else:
            response = app.handle_api(request)
        entry.update(
            status=response.status,
            fault=decision.action if decision.action != "none" else None,
            duration=time.time() - started,
            responseBody=response.encoded()[:LOGGED_BODY_BYTES].decode("utf-8", "replace"),
        )
        app.log.add(entry)
        if decision.action == "lost_response":
            self._reset_connection()
            return
        self._send(response)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, ValueError, OSError):
            self.close_connection = True

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().finish()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class EmulatorServer(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server bound to loopback that serves one :class:`EmulatorApp`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, app: EmulatorApp, port: int = 0, host: str = LOOPBACK) -> None:
        if host not in {LOOPBACK, "localhost", "::1"}:
            raise ValueError("the emulators bind to loopback only")
        super().__init__((host, port), _Handler)
        self.app = app
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that goes away mid-request is normal under fault injection

    def start(self) -> EmulatorServer:
        """Serve in a daemon thread and return self."""
        self._thread = threading.Thread(target=self.serve_forever, name=f"{self.app.name}-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def paginate_by_cursor(items: list[Any], count: int, cursor: str | None) -> tuple[list[Any], str | None]:
    """Return one page and the next opaque cursor (None at the end) for cursor-paged lists."""
    start = 0
    if cursor:
        try:
            start = int(bytes.fromhex(cursor).decode("ascii").removeprefix("offset:"))
        except ValueError as exc:
            raise ApiError(400, "INVALID_PARAMETER", f"cursor {cursor!r} is not a cursor this server issued") from exc
    page = items[start : start + count]
    following = start + count
    return page, (f"offset:{following}".encode().hex() if following < len(items) else None)


def json_body(request: Request, error: Callable[[str], ApiError]) -> Any:
    """Return the decoded JSON body, or raise ``error(message)`` for a body that is not JSON."""
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(f"request body is not valid JSON: {exc}") from exc


def first_of(values: Iterable[str | None]) -> str | None:
    """Return the first non-empty value."""
    return next((v for v in values if v), None)
