"""What both API hooks share: one pooled HTTP session, the rate budget, retries and typed errors.

A subclass says how to authenticate (:meth:`ApiHook._auth_headers`), how its API reports errors
(:meth:`ApiHook._error_details`) and where its rate information lives (:meth:`ApiHook._reset_after`).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import requests
from airflow.sdk import BaseHook
from requests.adapters import HTTPAdapter

from calendar_etl.hooks.errors import (
    AuthenticationError,
    CalendarApiError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TlsVerificationError,
    TransientError,
    ValidationError,
)
from calendar_etl.ratelimit import Budget, RateBudget, RedisBudgetStore, SqlBudgetStore

if TYPE_CHECKING:
    from airflow.sdk import Connection

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_MAX_RETRY_WAIT_S = 300.0  # total backoff one call may spend before giving up
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
POOL_SIZE = 32

_STATUS_ERRORS: dict[int, type[CalendarApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: ValidationError,
    415: ValidationError,
    422: ValidationError,
}

_budgets: dict[str, RateBudget] = {}
_budgets_lock = threading.Lock()


def shared_budget(url: str | None) -> RateBudget:
    """Return the process-wide :class:`RateBudget` on the store at ``url`` (default: SQLite under AIRFLOW_HOME)."""
    if not url:
        home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
        os.makedirs(home, exist_ok=True)
        url = f"sqlite:///{os.path.join(home, 'calendar_etl_state.db')}"
    with _budgets_lock:
        if url not in _budgets:
            if url.startswith(("redis://", "rediss://")):
                import redis

                _budgets[url] = RateBudget(RedisBudgetStore(redis.Redis.from_url(url)))
            else:
                _budgets[url] = RateBudget(SqlBudgetStore(url))
        return _budgets[url]


class ApiHook(BaseHook):
    """Base of the calendar API hooks (not used directly)."""

    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        timeout: float | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S,
        budget: RateBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name
        if timeout is not None:
            self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_retry_wait_s = max_retry_wait_s
        self._budget = budget
        self._sleep = sleep
        self.calls = 0  # HTTP requests sent, retries included
        self._calls_lock = threading.Lock()

    # -- connection -----------------------------------------------------------------------
    @cached_property
    def connection(self) -> Connection:
        return self.get_connection(self.conn_id)

    @cached_property
    def extras(self) -> dict[str, Any]:
        return dict(self.connection.extra_dejson or {})

    def number_extra(self, name: str, default: float) -> float:
        """Return the connection extra ``name`` as a number (``default`` when it is absent or empty).

        :raises ValueError: naming the connection and the extra when the value is not a number.
        """
        value = self.extras.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"connection {self.conn_id!r}: extra {name!r} must be a number, got {value!r}") from None

    @cached_property
    def timeout(self) -> float:
        """Return the seconds a request may wait to connect or for data: the constructor's, else the extra ``timeout``."""
        return self.number_extra("timeout", DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S

    @cached_property
    def verify(self) -> bool | str:
        """Return how TLS certificates are checked: True (the default bundle), a CA bundle path, or False.

        Passed with every request: a session-wide setting would lose to ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``
        in the environment, which requests prefers to it.
        """
        return _verify_setting(self.extras.get("verify", True))

    @cached_property
    def session(self) -> requests.Session:
        """One pooled session per hook instance; safe to share between threads of a pool."""
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = "calendar-etl (Apache Airflow hook)"
        return session

    @cached_property
    def budget(self) -> RateBudget:
        return self._budget or shared_budget(self.extras.get("rate_budget_url"))

    # -- to be provided by subclasses ---------------------------------------------------------
    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _budget_for(self, operation: str) -> tuple[str, Budget] | None:
        """Return (store key, budget) for an operation, or None when the API has no rate limit."""
        return None

    def _on_unauthorized(self) -> bool:
        """Forget cached credentials after a 401; return True when a retry may succeed."""
        return False

    def _error_details(self, body: Any) -> tuple[str | None, str]:
        """Return (API error code, message) from an error body."""
        return None, str(body)[:500]

    def _reset_after(self, response: requests.Response) -> float | None:
        """Return the seconds until the server's rate window resets, if the response says."""
        retry_after = response.headers.get("Retry-After")
        try:
            return float(retry_after) if retry_after else None
        except ValueError:
            return None

    # -- the request loop ----------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        ok: tuple[int, ...] = (200,),
        retry_writes: bool = True,
        authenticated: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one API call through the budget, retrying what is safe to retry; raise a typed error.

        ``retry_writes=False`` makes a transient failure of this call raise at once, for writes that
        are not idempotent: the caller must find out whether it was applied before trying again.
        ``authenticated=False`` sends no credentials headers (the token request itself).
        """
        path = urlsplit(url).path
        waited = 0.0
        refreshed = False
        for attempt in range(1, self.max_attempts + 1):
            # Credentials first (a token request is not an API operation), then the slot: the call
            # must leave right when its slot comes.
            headers = {**kwargs.pop("headers", {}), **(self._auth_headers() if authenticated else {})}
            error: CalendarApiError
            limit = self._budget_for(operation)
            if limit:
                self.budget.acquire(*limit)
            try:
                with self._calls_lock:
                    self.calls += 1
                response = self.session.request(
                    method, url, headers=headers, timeout=self.timeout, verify=self.verify, **kwargs
                )
            except requests.exceptions.SSLError as exc:
                if "CERTIFICATE_VERIFY_FAILED" not in str(exc):
                    error = TransientError(type(exc).__name__, method=method, path=path)
                else:  # a certificate is refused the same way every time: say so at once instead of retrying
                    raise TlsVerificationError(
                        f"the TLS certificate of {urlsplit(url).netloc} was refused ({_ssl_reason(exc)}); "
                        "give the connection extra 'verify' a CA bundle path that trusts it",
                        method=method,
                        path=path,
                    ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                error = TransientError(type(exc).__name__, method=method, path=path)
            else:
                if response.status_code in ok:
                    return response
                error = self._error(response, method, path)
                if response.status_code == 401 and authenticated and not refreshed and self._on_unauthorized():
                    refreshed = True
                    continue
                if isinstance(error, RateLimitedError) and limit and error.reset_after:
                    self.budget.penalize(limit[0], error.reset_after, limit[1])
            kwargs["headers"] = {k: v for k, v in headers.items() if k.lower() not in _AUTH_HEADER_NAMES}
            # A 429 was refused before it was applied; any other failure of a write may have been applied.
            unsafe = method != "GET" and not retry_writes and not isinstance(error, RateLimitedError)
            if not error.retryable or unsafe or attempt == self.max_attempts:
                raise error
            delay = self._backoff(attempt, error)
            if waited + delay > self.max_retry_wait_s:
                raise error
            self.log.info("%s %s: %s; retry %d in %.1f s", method, path, error.message, attempt, delay)
            self._sleep(delay)
            waited += delay
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, error: CalendarApiError) -> float:
        delay = random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))  # full jitter
        if isinstance(error, RateLimitedError) and error.reset_after is not None:
            delay = max(delay, error.reset_after + random.uniform(0, 0.25))
        return delay

    def _error(self, response: requests.Response, method: str, path: str) -> CalendarApiError:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:2000]
        code, message = self._error_details(body)
        common = {
            "status": response.status_code,
            "code": code,
            "method": method,
            "path": path,
            "request_id": response.headers.get("X-Request-Id") or response.headers.get("X-Cybozu-Request-Id"),
            "body": body,
        }
        if response.status_code == 429:
            return RateLimitedError(message, reset_after=self._reset_after(response), **common)
        if response.status_code >= 500:
            return TransientError(message, **common)
        return _STATUS_ERRORS.get(response.status_code, CalendarApiError)(message, **common)

    def json(self, method: str, url: str, *, operation: str, **kwargs: Any) -> Any:
        """Return the decoded JSON body of a call (None for an empty body)."""
        response = self.request(method, url, operation=operation, **kwargs)
        return response.json() if response.content else None

    def paginate(self, pages: Callable[[Any], tuple[list[Any], Any]], start: Any = None) -> Iterator[Any]:
        """Yield items from ``pages(cursor) -> (items, next cursor or None)`` until the cursor is None."""
        cursor = start
        while True:
            items, cursor = pages(cursor)
            yield from items
            if cursor is None:
                return


_AUTH_HEADER_NAMES = {"authorization", "x-cybozu-authorization"}


def iso_with_offset(instant: dt.datetime) -> str:
    """Return ``YYYY-MM-DDThh:mm:ss+hh:mm`` for API range parameters (both APIs need the offset)."""
    if instant.tzinfo is None:
        raise ValueError(f"{instant!r} has no time zone; API ranges need an offset")
    return instant.replace(microsecond=0).isoformat()


def http_base(host: str | None) -> str:
    """Return a connection host as a URL without a trailing slash (https when no scheme is given)."""
    base = (host or "").rstrip("/")
    return base if base.startswith(("http://", "https://")) else f"https://{base}"


def _ssl_reason(exc: Exception) -> str:
    """Return the certificate problem of an SSLError (``self-signed certificate``...), without the URL chain."""
    text = str(exc)
    marker = "certificate verify failed:"
    return text.split(marker, 1)[1].split(")")[0].strip() if marker in text else "certificate verify failed"


def _verify_setting(value: Any) -> bool | str:
    """Return the requests ``verify`` value: True unless the connection explicitly turns TLS checks off."""
    if isinstance(value, str):
        if value.strip().lower() in {"false", "0", "no", "off"}:
            return False
        if value.strip().lower() in {"true", "1", "yes", "on", ""}:
            return True
        return value  # a CA bundle path
    return bool(value)
