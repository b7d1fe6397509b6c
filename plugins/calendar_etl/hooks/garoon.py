"""GaroonHook: the Cybozu Garoon REST schedule and base endpoints, and the cybozu.com user API.

API reference: https://cybozu.dev/ja/garoon/docs/rest-api/ (facts and sources in
``shared/reference/garoon-api.md``). The connection's host is the site base, the part before
``/g/api/v1`` (``https://SUBDOMAIN.cybozu.com``). Authentication (extra ``auth``):
``password`` (default: login/password as ``X-Cybozu-Authorization``) or ``oauth`` (the password
field holds a bearer token); extras ``basic_login``/``basic_password`` add the site's Basic
authentication in front (password mode only).
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import requests

from calendar_etl.hooks.base import ApiHook, http_base, iso_with_offset
from calendar_etl.hooks.errors import AuthenticationError, CalendarApiError, NotFoundError, TransientError

PAGE_LIMIT = 1000  # schedule/events and base lists accept limit 1..1000
USER_API_PAGE = 100  # /v1/users.json size maximum
DEFAULT_MAX_CONCURRENT = 4  # client-side cap: Garoon answers 429 GRN_REST_API_00104 past its own limit


class GaroonHook(ApiHook):
    """Talks to Garoon REST and the cybozu.com user API; the only code that does.

    :param garoon_conn_id: the Airflow connection (type ``garoon``).
    """

    conn_name_attr = "garoon_conn_id"
    default_conn_name = "garoon_default"
    conn_type = "garoon"
    hook_name = "Cybozu Garoon"

    def __init__(self, garoon_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(garoon_conn_id, **kwargs)
        self._slots: threading.BoundedSemaphore | None = None

    @cached_property
    def site_url(self) -> str:
        return http_base(self.connection.host).removesuffix("/g/api/v1").removesuffix("/g")

    def _api(self, path: str) -> str:
        return f"{self.site_url}/g/api/v1{path}"

    @cached_property
    def _static_auth_headers(self) -> dict[str, str]:
        from airflow.sdk.log import mask_secret

        conn = self.connection
        mode = str(self.extras.get("auth") or "password").lower()
        headers: dict[str, str] = {}
        if not conn.password:
            raise AuthenticationError(f"connection {self.conn_id!r} has no password (or token)")
        mask_secret(conn.password)
        if mode == "oauth":
            if self.extras.get("basic_login"):
                raise AuthenticationError("OAuth and Basic authentication both need the Authorization header")
            headers["Authorization"] = f"Bearer {conn.password}"
        elif mode == "password":
            if not conn.login:
                raise AuthenticationError(f"connection {self.conn_id!r} has no login")
            value = base64.b64encode(f"{conn.login}:{conn.password}".encode()).decode()
            mask_secret(value)
            headers["X-Cybozu-Authorization"] = value
        else:
            raise AuthenticationError(f"connection {self.conn_id!r}: auth must be 'password' or 'oauth', not {mode!r}")
        basic_login, basic_password = self.extras.get("basic_login"), self.extras.get("basic_password")
        if basic_login:
            mask_secret(str(basic_password or ""))
            value = base64.b64encode(f"{basic_login}:{basic_password or ''}".encode()).decode()
            mask_secret(value)
            headers["Authorization"] = f"Basic {value}"
        return headers

    def _auth_headers(self) -> dict[str, str]:
        return self._static_auth_headers

    def _error_details(self, body: Any) -> tuple[str | None, str]:
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return body["error"].get("errorCode"), str(body["error"].get("message") or "")
        if isinstance(body, dict) and "code" in body:  # cybozu.com user API
            return body.get("code"), str(body.get("message") or "")
        return None, str(body)[:300]

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send a call, holding one of the connection's concurrency slots (extra ``max_concurrent``)."""
        if self._slots is None:
            slots = int(self.number_extra("max_concurrent", DEFAULT_MAX_CONCURRENT))
            if slots < 1:
                raise ValueError(f"connection {self.conn_id!r}: extra 'max_concurrent' must be at least 1, got {slots}")
            self._slots = threading.BoundedSemaphore(slots)
        with self._slots:
            return super().request(method, url, **kwargs)

    def test_connection(self) -> tuple[bool, str]:
        """Read one user: the cheapest authenticated call."""
        try:
            body = self.json("GET", self._api("/base/users"), operation="base-users", params={"limit": 1})
        except CalendarApiError as exc:
            return False, f"{exc.code}: {exc.message}" if exc.code else exc.message
        return True, f"Connected to Garoon: {len(body.get('users', []))} user on the first page"

    # -- paging -----------------------------------------------------------------------------
    def _offset_pages(self, path: str, key: str, operation: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Yield items of a ``limit``/``offset``/``hasNext`` list until hasNext is false.

        Pages may hold fewer than ``limit`` items while more exist, so the offset advances by what
        came back (by ``limit`` after an empty page) and a short page never ends the loop.
        """
        offset = 0
        while True:
            body = self.json(
                "GET", self._api(path), operation=operation, params={**params, "limit": PAGE_LIMIT, "offset": offset}
            )
            items = body.get(key, [])
            yield from items
            if not body.get("hasNext"):
                return
            offset += len(items) or PAGE_LIMIT

    # -- schedule ---------------------------------------------------------------------------
    def iter_events(
        self,
        start: dt.datetime,
        end: dt.datetime,
        target: str | None = None,
        target_type: str | None = None,
        **params: Any,
    ) -> Iterator[dict[str, Any]]:
        """Yield each event or occurrence in [start, end) once, keyed by (``id``, ``repeatId``).

        Repeating events come back one item per occurrence (same ``id``, distinct ``repeatId``).
        """
        if (target is None) != (target_type is None):
            raise ValueError("target and target_type go together")
        query = {
            "rangeStart": iso_with_offset(start),
            "rangeEnd": iso_with_offset(end),
            "orderBy": "createdAt asc",
            **params,
        }
        if target is not None:
            query.update(target=target, targetType=target_type)
        seen: set[tuple[str, str | None]] = set()
        for event in self._offset_pages("/schedule/events", "events", "schedule-events-list", query):
            key = (str(event["id"]), event.get("repeatId"))
            if key not in seen:
                seen.add(key)
                yield event

    def get_event(self, event_id: str) -> dict[str, Any]:
        """Return the event; for a repeating id, the series master (``repeatInfo``, no start/end)."""
        return dict(self.json("GET", self._api(f"/schedule/events/{event_id}"), operation="schedule-event-get"))

    def create_event(self, body: dict[str, Any], *, marker: str, search_target: str | None = None) -> dict[str, Any]:
        """Create a REGULAR or ALL_DAY event carrying ``marker`` in ``additionalItems.item.value``.

        A create is not idempotent in Garoon. When an attempt fails in a way that may have been
        applied (reset, timeout, 5xx), the event is looked up by its marker before trying again,
        so a lost answer never produces a twin.
        """
        payload = {**body, "additionalItems": {"item": {"value": marker}}}
        for attempt in range(1, self.max_attempts + 1):
            try:
                return dict(
                    self.json(
                        "POST",
                        self._api("/schedule/events"),
                        operation="schedule-event-create",
                        json=payload,
                        ok=(200, 201),
                        retry_writes=False,
                    )
                )
            except TransientError as exc:
                found = self.find_by_marker(marker, *self._window_of(payload), target=search_target)
                if found:
                    self.log.info(
                        "create of %s was applied despite %s; using event %s", marker, exc.message, found[0]["id"]
                    )
                    return found[0]
                if attempt == self.max_attempts:
                    raise
                self._sleep(self._backoff(attempt, exc))
        raise AssertionError("unreachable")

    @staticmethod
    def _window_of(body: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
        start = dt.datetime.fromisoformat(body["start"]["dateTime"].replace("Z", "+00:00"))
        end_raw = (body.get("end") or body["start"])["dateTime"]
        end = dt.datetime.fromisoformat(end_raw.replace("Z", "+00:00"))
        return start - dt.timedelta(days=1), max(end, start) + dt.timedelta(days=1)

    def find_by_marker(
        self, marker: str, start: dt.datetime, end: dt.datetime, *, target: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the events in [start, end) this project created for ``marker`` (usually zero or one)."""
        events = self.iter_events(start, end, target, "user" if target else None)
        return [e for e in events if ((e.get("additionalItems") or {}).get("item") or {}).get("value") == marker]

    def update_event(self, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH the event with the full desired state (``start`` and the whole attendee list included)."""
        return dict(
            self.json("PATCH", self._api(f"/schedule/events/{event_id}"), operation="schedule-event-update", json=body)
        )

    def delete_event(self, event_id: str) -> bool:
        """Delete the event (every occurrence, for a repeating id); False when it was already gone."""
        try:
            self.request(
                "DELETE", self._api(f"/schedule/events/{event_id}"), operation="schedule-event-delete", ok=(200, 204)
            )
        except NotFoundError:
            return False
        return True

    # -- directory --------------------------------------------------------------------------
    def iter_users(self) -> Iterator[dict[str, Any]]:
        """Yield Garoon users ``{id, code, name, email}``: e-mails joined from the cybozu.com user API on ``code``."""
        users = list(self._offset_pages("/base/users", "users", "base-users", {}))
        emails: dict[str, str] = {}
        for i in range(0, len(users), USER_API_PAGE):
            codes = [u["code"] for u in users[i : i + USER_API_PAGE]]
            params = {f"codes[{n}]": code for n, code in enumerate(codes)} | {"size": USER_API_PAGE}
            body = self.json("GET", f"{self.site_url}/v1/users.json", operation="user-api-users", params=params)
            emails.update({u["code"]: u.get("email") or "" for u in body.get("users", [])})
        for user in users:
            yield {**user, "email": emails.get(user["code"]) or None}

    def iter_facilities(self) -> Iterator[dict[str, Any]]:
        """Yield every facility ``{id, name, code, notes, facilityGroup}``."""
        yield from self._offset_pages("/schedule/facilities", "facilities", "facilities", {})
