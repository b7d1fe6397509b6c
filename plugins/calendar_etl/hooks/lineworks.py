"""LineWorksHook: the LINE WORKS API 2.0 calendar and directory endpoints, as a service account.

API reference: https://developers.worksmobile.com/jp/docs/calendar (facts and sources in
``shared/reference/lineworks-api.md``). The connection's host is the API base URL
(``https://www.worksapis.com/v1.0``); its extras hold ``client_id``, ``client_secret``,
``service_account``, ``private_key`` (PEM), ``token_url`` and ``scope``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import quote

import jwt
import requests

from calendar_etl.hooks.base import ApiHook, http_base, iso_with_offset
from calendar_etl.hooks.errors import (
    AuthenticationError,
    CalendarApiError,
    ConflictError,
    NotFoundError,
    TlsVerificationError,
)
from calendar_etl.ratelimit import DEFAULT_SHARE, DEFAULT_SPREAD_S, Budget
from calendar_etl.transforms.lineworks import event_id_for

__all__ = ["LineWorksHook", "event_id_for"]

DEFAULT_TOKEN_URL = "https://auth.worksmobile.com/oauth2/v2.0/token"
DEFAULT_SCOPE = "calendar user.read"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_OPERATION = "token"
JWT_LIFETIME_S = 3600  # exp - iat must not exceed one hour
TOKEN_REFRESH_MARGIN_S = 120  # renew a cached token this long before it expires
RATE_LIMIT_PER_MINUTE = 240  # Standard/Advanced plan; 60 on Free (rate-limits page)
MAX_LIST_DAYS = 31  # event lists cover at most 31 days per call
USERS_PAGE = 100  # GET /users count maximum
PERSONALS_PAGE = 50  # GET /users/{id}/calendar-personals count maximum


class LineWorksHook(ApiHook):
    """Talks to LINE WORKS API 2.0 with a service-account token; the only code that does.

    :param lineworks_conn_id: the Airflow connection (type ``lineworks``).
    """

    conn_name_attr = "lineworks_conn_id"
    default_conn_name = "lineworks_default"
    conn_type = "lineworks"
    hook_name = "LINE WORKS"

    _tokens: ClassVar[dict[tuple[str, str, str], tuple[str, float]]] = {}
    _tokens_lock: ClassVar[threading.Lock] = threading.Lock()
    _refresh_locks: ClassVar[dict[tuple[str, str, str], threading.Lock]] = {}

    def __init__(self, lineworks_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(lineworks_conn_id, **kwargs)
        self._users_by_email: dict[str, str] | None = None
        self._sent = threading.local()  # the token this thread last sent, to tell a stale 401 from a fresh one

    # -- connection ------------------------------------------------------------------------
    @cached_property
    def base_url(self) -> str:
        return http_base(self.connection.host)

    def _extra(self, name: str, default: str | None = None) -> str:
        value = self.extras.get(name, default)
        if not value:
            raise AuthenticationError(f"connection {self.conn_id!r} has no {name!r} in its extras")
        return str(value)

    @cached_property
    def client_id(self) -> str:
        return self._extra("client_id")

    @cached_property
    def _token_key(self) -> tuple[str, str, str]:
        return (self.conn_id, self.client_id, self._extra("token_url", DEFAULT_TOKEN_URL))

    @cached_property
    def _refresh_lock(self) -> threading.Lock:
        """One lock per token key in the process, so concurrent first calls through any instance issue one token."""
        key = self._token_key
        with self._tokens_lock:
            return self._refresh_locks.setdefault(key, threading.Lock())

    # -- auth -------------------------------------------------------------------------------
    def access_token(self) -> str:
        """Return a valid access token, from the per-process cache or freshly issued."""
        with self._tokens_lock:
            cached = self._tokens.get(self._token_key)
        if cached and cached[1] - TOKEN_REFRESH_MARGIN_S > time.time():
            return cached[0]
        with self._refresh_lock:
            with self._tokens_lock:
                cached = self._tokens.get(self._token_key)
            if cached and cached[1] - TOKEN_REFRESH_MARGIN_S > time.time():
                return cached[0]
            token, expires_at = self._issue_token()
            with self._tokens_lock:
                self._tokens[self._token_key] = (token, expires_at)
            return token

    def _issue_token(self) -> tuple[str, float]:
        client_secret = self._extra("client_secret")
        private_key = self._extra("private_key")
        self.mask(client_secret, private_key)
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self._extra("service_account"), "iat": now, "exp": now + JWT_LIFETIME_S}
        try:
            assertion = jwt.encode(claims, private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise AuthenticationError(
                f"connection {self.conn_id!r}: private_key is not a usable RSA key ({type(exc).__name__})"
            ) from None
        form = {
            "grant_type": JWT_GRANT,
            "assertion": assertion,
            "client_id": self.client_id,
            "client_secret": client_secret,
            "scope": str(self.extras.get("scope") or DEFAULT_SCOPE),
        }
        url = self._token_key[2]
        try:  # a reset, timeout, 429 or 5xx of the token endpoint is retried like any other call
            body = self.json("POST", url, operation=TOKEN_OPERATION, data=form, authenticated=False)
        except CalendarApiError as exc:
            if exc.retryable or isinstance(exc, TlsVerificationError):
                raise
            raise AuthenticationError(
                f"token request refused: {exc.message}",
                status=exc.status,
                code=exc.code,
                method=exc.method,
                path=exc.path,
                body=exc.body,
            ) from None
        token = str(body["access_token"])
        self.mask(token, body.get("refresh_token"))
        expires_in = float(body.get("expires_in") or 3600)  # a JSON string in practice
        return token, time.time() + expires_in

    def mask(self, *secrets: str | None) -> None:
        """Register values with Airflow's secret masker so they never reach a log."""
        from airflow.sdk.log import mask_secret

        for secret in secrets:
            if secret:
                mask_secret(secret)

    def _auth_headers(self) -> dict[str, str]:
        self._sent.token = self.access_token()
        return {"Authorization": f"Bearer {self._sent.token}"}

    def _on_unauthorized(self) -> bool:
        # Forget the refused token only: another thread may already have replaced it with a fresh one.
        with self._tokens_lock:
            cached = self._tokens.get(self._token_key)
            if cached and cached[0] == getattr(self._sent, "token", None):
                del self._tokens[self._token_key]
        return True

    def _error_details(self, body: Any) -> tuple[str | None, str]:
        if not isinstance(body, dict):
            return None, str(body)[:500]
        if "error" in body or "returnCode" in body:  # the token endpoint: OAuth style, or its generic error
            return body.get("error") or body.get("returnCode"), str(
                body.get("error_description") or body.get("returnMessage") or ""
            )
        return body.get("code"), str(body.get("description") or body)

    def _reset_after(self, response: requests.Response) -> float | None:
        for name in ("rateLimit-reset", "Retry-After"):
            value = response.headers.get(name)
            if value:
                try:
                    return float(value)
                except ValueError:
                    continue
        return None

    def _budget_for(self, operation: str) -> tuple[str, Budget] | None:
        if operation == TOKEN_OPERATION:
            return None  # the token endpoint is not one of the rate-limited API operations
        limit = int(self.number_extra("rate_limit_per_minute", RATE_LIMIT_PER_MINUTE))
        window = self.number_extra("rate_window_seconds", 60.0)
        share = self.number_extra("budget_share", DEFAULT_SHARE)
        spread = self.number_extra("rate_spread_seconds", DEFAULT_SPREAD_S)  # latency jitter
        return f"lineworks:{self.client_id}:{operation}", Budget.for_limit(limit, window, share, spread)

    def _url(self, path: str) -> str:
        return self.base_url + path

    def test_connection(self) -> tuple[bool, str]:
        """Issue a token and read one user: the cheapest authenticated call."""
        try:
            with self._tokens_lock:
                self._tokens.pop(self._token_key, None)
            users = self.json("GET", self._url("/users"), operation="user-list", params={"count": 1})
        except CalendarApiError as exc:
            return False, f"{exc.code}: {exc.message}" if exc.code else exc.message
        return (
            True,
            f"Connected to LINE WORKS: token issued, directory readable ({len(users.get('users', []))} user on the first page)",
        )

    # -- directory --------------------------------------------------------------------------
    def iter_users(self) -> Iterator[dict[str, Any]]:
        """Yield every user of the tenant (cursor paging, 100 a page)."""

        def page(cursor: str | None) -> tuple[list[Any], str | None]:
            params: dict[str, Any] = {"count": USERS_PAGE}
            if cursor:
                params["cursor"] = cursor
            body = self.json("GET", self._url("/users"), operation="user-list", params=params)
            return body.get("users", []), (body.get("responseMetaData") or {}).get("nextCursor")

        yield from self.paginate(page)

    def resolve_user(self, email: str) -> str | None:
        """Return the userId whose login e-mail is ``email`` (one directory pass, cached), or None."""
        if self._users_by_email is None:
            self._users_by_email = {
                str(u["email"]).lower(): str(u["userId"]) for u in self.iter_users() if u.get("email")
            }
        return self._users_by_email.get(email.lower())

    # -- calendars --------------------------------------------------------------------------
    def iter_calendars(self, user: str) -> Iterator[dict[str, Any]]:
        """Yield the calendars ``user`` can access (calendar-personals, 50 a page)."""

        def page(cursor: str | None) -> tuple[list[Any], str | None]:
            params: dict[str, Any] = {"count": PERSONALS_PAGE}
            if cursor:
                params["cursor"] = cursor
            body = self.json(
                "GET",
                self._url(f"/users/{quote(user, safe='')}/calendar-personals"),
                operation="calendar-personals-list",
                params=params,
            )
            return body.get("calendarPersonals", []), (body.get("responseMetaData") or {}).get("nextCursor")

        yield from self.paginate(page)

    def default_calendar(self, user: str) -> dict[str, Any]:
        """Return ``user``'s default calendar (with its calendarId and calendarEmail)."""
        return dict(
            self.json("GET", self._url(f"/users/{quote(user, safe='')}/calendar"), operation="calendar-default-get")
        )

    def create_calendar(
        self, name: str, members: list[str], *, description: str = "", role: str = "CALENDAR_EVENT_READ_WRITE"
    ) -> dict[str, Any]:
        """Create a shared calendar whose members (userIds or e-mails) get ``role``; return it."""
        body = {
            "calendarName": name,
            "description": description,
            "isPublic": False,
            "members": [{"id": m, "type": "USER", "role": role} for m in members],
        }
        return dict(self.json("POST", self._url("/calendars"), operation="calendar-create", json=body, ok=(200, 201)))

    def delete_calendar(self, calendar_id: str) -> bool:
        """Delete a shared calendar; return False when it was already gone."""
        try:
            self.request(
                "DELETE",
                self._url(f"/calendars/{quote(calendar_id, safe='')}"),
                operation="calendar-delete",
                ok=(200, 204),
            )
        except NotFoundError:
            return False
        return True

    # -- events -----------------------------------------------------------------------------
    def _events_path(self, user: str, calendar: str | None) -> str:
        user_part = quote(user, safe="")
        if calendar in (None, "", "default"):
            return f"/users/{user_part}/calendar/events"
        return f"/users/{user_part}/calendars/{quote(str(calendar), safe='')}/events"

    @staticmethod
    def _operation(calendar: str | None, verb: str) -> str:
        scope = "calendar-default-event" if calendar in (None, "", "default") else "calendar-event"
        return f"{scope}-{verb}"

    def iter_events(
        self, user: str, calendar: str | None, start: dt.datetime, end: dt.datetime
    ) -> Iterator[dict[str, Any]]:
        """Yield each event (series) overlapping [start, end) once, in calls of at most 31 days.

        A series that spans two calls comes back from both; it is yielded the first time only.
        """
        seen: set[str] = set()
        cursor = start
        while cursor < end:
            chunk_end = min(cursor + dt.timedelta(days=MAX_LIST_DAYS), end)
            body = self.json(
                "GET",
                self._url(self._events_path(user, calendar)),
                operation=self._operation(calendar, "list"),
                params={"fromDateTime": iso_with_offset(cursor), "untilDateTime": iso_with_offset(chunk_end)},
            )
            for item in body.get("events", []):
                event_id = item["eventComponents"][0]["eventId"]
                if event_id not in seen:
                    seen.add(event_id)
                    yield item
            cursor = chunk_end

    def get_event(self, user: str, calendar: str | None, event_id: str) -> dict[str, Any]:
        """Return the event (all its components); NotFoundError when there is none."""
        path = f"{self._events_path(user, calendar)}/{quote(event_id, safe='')}"
        return dict(self.json("GET", self._url(path), operation=self._operation(calendar, "get")))

    def create_event(
        self,
        user: str,
        calendar: str | None,
        components: list[dict[str, Any]],
        *,
        source_key: str | None = None,
        send_notification: bool = False,
    ) -> dict[str, Any]:
        """Create an event (a series with its exceptions) and return it as stored.

        With ``source_key`` every component gets the deterministic eventId :func:`event_id_for`, so a
        create whose answer was lost and is sent again finds the first one (409) instead of a twin.
        """
        components = [dict(c) for c in components]
        if source_key is not None:
            for component in components:
                component["eventId"] = event_id_for(source_key)
        body = {"eventComponents": components, "sendNotification": send_notification}
        try:
            return dict(
                self.json(
                    "POST",
                    self._url(self._events_path(user, calendar)),
                    operation=self._operation(calendar, "create"),
                    json=body,
                    ok=(200, 201),
                    retry_writes=bool(components[0].get("eventId")),
                )
            )
        except ConflictError:
            event_id = components[0].get("eventId")
            if not event_id:
                raise
            self.log.info("event %s already exists (an earlier attempt was applied); using it", event_id)
            return self.get_event(user, calendar, str(event_id))

    def update_event(
        self,
        user: str,
        calendar: str | None,
        event_id: str,
        components: list[dict[str, Any]],
        *,
        send_notification: bool = False,
    ) -> dict[str, Any]:
        """Replace the event with ``components`` (PUT is a full replacement: send the whole desired state)."""
        components = [{**c, "eventId": event_id} for c in components]
        path = f"{self._events_path(user, calendar)}/{quote(event_id, safe='')}"
        body = {"eventComponents": components, "sendNotification": send_notification}
        return dict(self.json("PUT", self._url(path), operation=self._operation(calendar, "update"), json=body))

    def delete_event(self, user: str, calendar: str | None, event_id: str, *, send_notification: bool = False) -> bool:
        """Delete the event; return False when it was already gone."""
        path = f"{self._events_path(user, calendar)}/{quote(event_id, safe='')}"
        try:
            self.request(
                "DELETE",
                self._url(path),
                operation=self._operation(calendar, "delete"),
                ok=(200, 204),
                params={"sendNotification": "true" if send_notification else "false"},
            )
        except NotFoundError:
            return False
        return True
