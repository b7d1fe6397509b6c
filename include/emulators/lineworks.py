"""A local emulator of the LINE WORKS API 2.0 calendar, directory and OAuth endpoints.

Spec: ``shared/reference/lineworks-api.md`` (section numbers below refer to it) and the source
document 001 (event create). What the documentation leaves open is a setting in
:class:`LineWorksConfig`; the emulators' README lists every such choice.

One server plays both hosts: ``/oauth2/v2.0/token`` (auth.worksmobile.com) and ``/v1.0/...``
(www.worksapis.com).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from dateutil import rrule

from include.emulators import timeutil
from include.emulators.core import (
    ApiError,
    EmulatorApp,
    Request,
    Response,
    Route,
    json_body,
    paginate_by_cursor,
    route,
)
from include.emulators.tenant import LINEWORKS_DOMAIN_ID, DemoTenant

API = "/v1.0"
TOKEN_PATH = "/oauth2/v2.0/token"

# Event schema limits (source document 001; fact sheet 3.5)
SUMMARY_MAX_LEN = 200
DESCRIPTION_MAX_LEN = 5000
LOCATION_MAX_LEN = 100
EVENT_ID_MAX_LEN = 255
ATTENDEES_MAX = 500
RECURRENCE_MAX = 100
REMINDERS_MAX = 100
PRIORITY_MAX = 9
INT32_MAX = 2**31 - 1
# Calendars (fact sheet 3.3)
CALENDAR_NAME_MAX_LEN = 50
CALENDAR_DESCRIPTION_MAX_LEN = 1000
CALENDAR_PERSONALS_MAX_COUNT = 50
USERS_MAX_COUNT = 100
# Auth (fact sheet 1.2, 1.5)
JWT_MAX_LIFETIME_S = 3600
REFRESH_TOKEN_LIFETIME_S = 90 * 86400
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

TRANSPARENCY = {"OPAQUE", "TRANSPARENT"}
VISIBILITY = {"PUBLIC", "PRIVATE"}
PARTSTAT = {"NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE"}
ALARM_METHODS = {"DISPLAY", "EMAIL"}
MEMBER_TYPES = {"USER", "GROUP", "ORGUNIT"}
MEMBER_ROLES = {"CALENDAR_EVENT_READ_WRITE", "EVENT_READ_WRITE", "EVENT_READ", "EVENT_READ_FREE_BUSY"}
WRITE_ROLES = {"CALENDAR_EVENT_READ_WRITE", "EVENT_READ_WRITE"}
RECURRENCE_PREFIXES = ("RRULE:", "EXRULE:", "EXDATE", "RDATE")
CALENDAR_FREQUENCIES = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")  # SECONDLY/MINUTELY refused
DURATION_RE = r"^[-+]?P(\d+W|(?=\d|T\d)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?)$"

READ_SCOPES = ("calendar", "calendar.read")
WRITE_SCOPES = ("calendar",)
USER_SCOPES = ("user", "user.read", "directory", "directory.read")
KNOWN_SCOPES = frozenset(
    {
        *READ_SCOPES,
        *USER_SCOPES,
        "user.email.read",
        "user.profile.read",
        "bot",
        "bot.read",
        "bot.message",
        "orgunit",
        "orgunit.read",
        "group",
        "group.read",
    }
)

DEMO_KEYS = Path(__file__).parent / "demo_keys"
DEMO_CLIENT_ID = "demo-lineworks-client-id"
DEMO_CLIENT_SECRET = "demo-lineworks-client-secret"
DEMO_SERVICE_ACCOUNT = "demo.serviceaccount@demo.example.com"


@dataclass
class LineWorksConfig:
    """Behaviour the documentation leaves open, and the knobs tests turn (README: assumptions)."""

    rate_limit_per_minute: int = 240  # Standard plan; 60 on Free (fact sheet 4)
    time_scale: float = 1.0  # >1 shortens the rate window: a "minute" lasts 60/time_scale s
    rate_window: str = "sliding"  # sliding | fixed (window type is UNCONFIRMED)
    token_lifetime_s: int = 86400  # 3600 or 86400 per app setting (fact sheet 1.5)
    refresh_token_rotation: bool = False
    duplicate_event_id: str = "conflict"  # conflict (409) | replace | return_existing
    max_list_days: int = 31
    accept_offset_datetime: bool = False  # accept "2026-05-11T10:00:00+09:00" without timeZone
    default_time_zone: str = "Asia/Tokyo"

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes``, rejecting unknown names, wrong types and out-of-range values."""
        known = {f.name: f for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ApiError(400, "BAD_CONFIG", f"unknown setting {key!r}; known: {', '.join(known)}")
            current = getattr(self, key)
            if isinstance(current, bool):
                ok = isinstance(value, bool)
            elif isinstance(current, (int, float)):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
            else:
                ok = isinstance(value, str)
            if not ok:
                raise ApiError(400, "BAD_CONFIG", f"{key} must be like {current!r}, got {value!r}")
            setattr(self, key, type(current)(value) if isinstance(current, float) else value)
        if self.rate_window not in {"sliding", "fixed"}:
            raise ApiError(400, "BAD_CONFIG", "rate_window is sliding or fixed")
        if self.duplicate_event_id not in {"conflict", "replace", "return_existing"}:
            raise ApiError(400, "BAD_CONFIG", "duplicate_event_id is conflict, replace or return_existing")


@dataclass
class ClientApp:
    """A Developer Console app: its credentials, service account and granted scopes."""

    client_id: str
    client_secret: str
    service_account: str
    public_key_pem: str
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"calendar", "calendar.read", "user.read"}))


def demo_client_app() -> ClientApp:
    """Return the demo app whose private key ships in ``demo_keys/`` (demo use only)."""
    return ClientApp(
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        DEMO_SERVICE_ACCOUNT,
        (DEMO_KEYS / "lineworks_demo_public.pem").read_text(),
        frozenset({"calendar", "calendar.read", "user", "user.read", "directory.read"}),
    )


class OAuthError(ApiError):
    """A token-endpoint error: OAuth style ``{"error", "error_description"}``, not the API style."""


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER", message)


class RateLimiter:
    """Calls per (tenant, operation) per window; sliding log or fixed windows."""

    def __init__(self) -> None:
        self._calls: dict[tuple[int, str], deque[float]] = {}
        self._lock = threading.Lock()
        self.rejected = 0

    def hit(self, key: tuple[int, str], limit: int, window_s: float, mode: str) -> tuple[bool, dict[str, str]]:
        """Count one call; return (allowed, the four ``rateLimit-*`` headers)."""
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            if mode == "fixed":
                window_start = now - (now % window_s)
                while calls and calls[0] < window_start:
                    calls.popleft()
                reset_in = window_start + window_s - now
            else:
                while calls and calls[0] <= now - window_s:
                    calls.popleft()
                reset_in = (calls[0] + window_s - now) if calls else window_s
            allowed = len(calls) < limit
            if allowed:
                calls.append(now)
            else:
                self.rejected += 1
            used = len(calls)
        reset = f"{reset_in:.3f}" if window_s < 60 else str(max(1, round(reset_in + 0.5)))
        return allowed, {
            "rateLimit-used": str(used),
            "rateLimit-limit": str(limit),
            "rateLimit-remaining": str(max(limit - used, 0)),
            "rateLimit-reset": reset,
        }

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self.rejected = 0


def _uuid_for(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "lineworks-emulator:" + ":".join(parts)))


class LineWorksApp(EmulatorApp):
    """The LINE WORKS API 2.0 emulator (calendar, users, OAuth token endpoint)."""

    name = "lineworks"

    def __init__(
        self,
        tenant: DemoTenant,
        config: LineWorksConfig | None = None,
        apps: list[ClientApp] | None = None,
    ) -> None:
        super().__init__()
        self.tenant = tenant
        self.config = config or LineWorksConfig()
        self.apps = {a.client_id: a for a in (apps or [demo_client_app()])}
        self.limiter = RateLimiter()
        self.reset_state({})

    # ------------------------------------------------------------------ state
    def reset_state(self, options: dict[str, Any]) -> None:
        self.users: dict[str, dict[str, Any]] = {u["userId"]: dict(u) for u in self.tenant.lineworks_users}
        self.by_email = {u["email"].lower(): uid for uid, u in self.users.items()}
        self.calendars: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, dict[str, Any]]] = {}  # calendarId -> eventId -> item
        for uid, user in self.users.items():
            cal_id = "calendar-" + _uuid_for("default", uid)
            self.calendars[cal_id] = {
                "calendarId": cal_id,
                "calendarName": f"{user['userName']['lastName']} {user['userName']['firstName']}".strip(),
                "description": "",
                "isPublic": False,
                "members": [{"id": uid, "type": "USER", "role": "CALENDAR_EVENT_READ_WRITE"}],
                "calendarEmail": f"{cal_id}@calendar.demo.example.com",
                "type": "INDIVIDUAL",
                "ownerUserId": uid,
            }
            user["defaultCalendarId"] = cal_id
            self.events[cal_id] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.tokens_issued = 0
        self.notifications = 0
        self.notification_log: list[dict[str, Any]] = []
        self.limiter.clear()

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def update_config(self, changes: dict[str, Any]) -> None:
        self.config.update(changes)

    def snapshot(self) -> dict[str, Any]:
        events = [{"calendarId": cal_id, **item} for cal_id, items in self.events.items() for item in items.values()]
        return {
            "api": "lineworks",
            "domainId": LINEWORKS_DOMAIN_ID,
            "users": list(self.users.values()),
            "calendars": [self._calendar_view(c) for c in self.calendars.values()],
            "events": events,
            "eventCount": len(events),
            "notifications": self.notifications,
            "notificationLog": self.notification_log,
            "tokensIssued": self.tokens_issued,
            "rateLimited": self.limiter.rejected,
            "config": asdict(self.config),
        }

    def seed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Store raw ``{"eventComponents", "organizerCalendarId"}`` objects as they are given."""
        stored = 0
        for index, item in enumerate(payload.get("events", [])):
            if not isinstance(item, dict):
                raise ValueError(f"events[{index}] is not an object")
            cal_id = item.get("organizerCalendarId") or item.get("calendarId")
            if not cal_id and item.get("userId"):
                cal_id = self._user(str(item["userId"]))["defaultCalendarId"]
            if cal_id not in self.calendars:
                raise ValueError(f"events[{index}]: unknown calendar {cal_id!r}")
            components = self._validate_components(item, path_event_id=None)
            event_id = components[0]["eventId"]
            self.events[cal_id][event_id] = self._stored_item(cal_id, components, created=None)
            stored += 1
        return {"seeded": stored}

    def extra_inspection(self, request: Request, action: str) -> Response | None:
        if action == "expire-tokens" and request.method == "POST":
            with self.lock:
                for token in self.access_tokens.values():
                    token["expires_at"] = 0.0
            return Response(200, {"expired": len(self.access_tokens)})
        if action == "user-token" and request.method == "POST":
            body = json_body(request, lambda m: ApiError(400, "BAD_REQUEST", m))
            user = self._user(str(body.get("userId") or body.get("email")))
            scopes = frozenset(str(body.get("scope", "calendar user.read")).split())
            token = self._issue(DEMO_CLIENT_ID, scopes, kind="user", user_id=user["userId"])
            return Response(200, token)
        return None

    # ------------------------------------------------------------------ errors
    def error_body(self, error: ApiError) -> Any:
        if isinstance(error, OAuthError):
            return {"error": error.code, "error_description": error.message}
        return {"code": error.code, "description": error.message}

    def throttle_error(self) -> ApiError:
        return ApiError(429, "TOO_MANY_REQUESTS", "API rate limit exceeded")

    def server_error(self, status: int) -> ApiError:
        return ApiError(status, "INTERNAL_SERVER_ERROR", "Temporary server error")

    # ------------------------------------------------------------------ auth and limits
    def before_route(self, request: Request, route: Route) -> None:
        if not route.template.startswith(API):
            return
        header = request.header("authorization") or ""
        if not header.startswith("Bearer ") or not header[7:]:
            raise ApiError(401, "UNAUTHORIZED", "Authorization header with a Bearer token is required")
        with self.lock:
            token = self.access_tokens.get(header[7:])
        if token is None:
            raise ApiError(401, "UNAUTHORIZED", "Invalid access token")
        if token["expires_at"] <= time.time():
            raise ApiError(401, "UNAUTHORIZED", "Access token has expired")
        needed: tuple[str, ...] = route.options.get("scopes", ())
        if needed and not set(needed) & token["scopes"]:
            raise ApiError(403, "FORBIDDEN", f"Insufficient scope: one of {', '.join(needed)} is required")
        request.context["token"] = token
        window_s = 60.0 / self.config.time_scale
        allowed, headers = self.limiter.hit(
            (LINEWORKS_DOMAIN_ID, route.operation),
            self.config.rate_limit_per_minute,
            window_s,
            self.config.rate_window,
        )
        request.context["response_headers"] = headers
        if not allowed:
            raise ApiError(429, "TOO_MANY_REQUESTS", "API rate limit exceeded")
        return None

    def _issue(self, client_id: str, scopes: frozenset[str], *, kind: str, user_id: str | None) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with self.lock:
            self.access_tokens[access] = {
                "client_id": client_id,
                "scopes": scopes,
                "expires_at": now + self.config.token_lifetime_s,
                "kind": kind,
                "user_id": user_id,
            }
            self.refresh_tokens[refresh] = {
                "client_id": client_id,
                "scopes": scopes,
                "expires_at": now + REFRESH_TOKEN_LIFETIME_S,
                "kind": kind,
                "user_id": user_id,
            }
            self.tokens_issued += 1
        return {
            "access_token": access,
            "refresh_token": refresh,
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
            "expires_in": str(self.config.token_lifetime_s),  # a JSON string (fact sheet 1.4)
        }

    @route("POST", TOKEN_PATH, "token")
    def token(self, request: Request) -> Response:
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        try:
            form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8"), strict_parsing=False).items()}
        except UnicodeDecodeError as exc:
            raise OAuthError(400, "invalid_request", "body is not UTF-8 form data") from exc
        for name in ("grant_type", "client_id", "client_secret"):
            if not form.get(name):
                raise OAuthError(400, "invalid_request", f"{name} is required")
        app = self.apps.get(form["client_id"])
        if app is None or not secrets.compare_digest(app.client_secret.encode(), form["client_secret"].encode()):
            raise OAuthError(401, "invalid_client", "Client authentication failed")
        grant = form["grant_type"]
        if grant == JWT_GRANT:
            self._check_assertion(app, form.get("assertion"))
            scopes = frozenset((form.get("scope") or "").split())
            if not scopes:
                raise OAuthError(400, "invalid_scope", "scope is required")
            if not scopes <= KNOWN_SCOPES or not scopes <= app.scopes:
                raise OAuthError(400, "invalid_scope", "Request scope is not valid.")
            return Response(200, self._issue(app.client_id, scopes, kind="service", user_id=None))
        if grant == "refresh_token":
            with self.lock:
                stored = self.refresh_tokens.get(form.get("refresh_token") or "")
                if stored is None or stored["client_id"] != app.client_id or stored["expires_at"] <= time.time():
                    raise OAuthError(400, "invalid_grant", "Invalid or expired refresh token")
                if self.config.refresh_token_rotation:
                    self.refresh_tokens.pop(form["refresh_token"], None)
            body = self._issue(app.client_id, stored["scopes"], kind=stored["kind"], user_id=stored["user_id"])
            if not self.config.refresh_token_rotation:
                with self.lock:
                    self.refresh_tokens.pop(body["refresh_token"], None)
                body["refresh_token"] = form["refresh_token"]
            return Response(200, body)
        raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _check_assertion(self, app: ClientApp, assertion: str | None) -> None:
        """Verify the RS256 service-account JWT (fact sheet 1.2); raise invalid_grant when wrong."""
        if not assertion:
            raise OAuthError(400, "invalid_request", "assertion is required")
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            raise OAuthError(400, "invalid_grant", f"assertion is not a JWT: {exc}") from exc
        if header.get("alg") != "RS256":
            raise OAuthError(400, "invalid_grant", "assertion must be signed with RS256")
        if any("=" in part for part in assertion.split(".")):
            raise OAuthError(400, "invalid_grant", "assertion segments must be unpadded base64url")
        try:
            claims = jwt.decode(
                assertion,
                app.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iss", "sub", "iat", "exp"], "verify_aud": False},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise OAuthError(400, "invalid_grant", f"assertion rejected: {exc}") from exc
        if not all(isinstance(claims[c], int) and not isinstance(claims[c], bool) for c in ("iat", "exp")):
            raise OAuthError(400, "invalid_grant", "iat and exp must be numbers (UNIX seconds)")
        if claims["iss"] != app.client_id:
            raise OAuthError(400, "invalid_grant", "iss must be the Client ID")
        if claims["sub"] != app.service_account:
            raise OAuthError(400, "invalid_grant", "sub must be the app's service account")
        if claims["exp"] - claims["iat"] > JWT_MAX_LIFETIME_S:
            raise OAuthError(400, "invalid_grant", f"exp - iat must be at most {JWT_MAX_LIFETIME_S} seconds")

    # ------------------------------------------------------------------ lookups
    def _user(self, key: str) -> dict[str, Any]:
        with self.lock:
            if key in self.users:
                return self.users[key]
            if key.startswith("externalKey:"):
                external = key.removeprefix("externalKey:")
                for user in self.users.values():
                    if user.get("userExternalKey") and user["userExternalKey"] == external:
                        return user
            elif key.lower() in self.by_email:
                return self.users[self.by_email[key.lower()]]
        raise ApiError(404, "NOT_FOUND", f"User not found: {key}")

    def _path_user(self, request: Request) -> dict[str, Any]:
        key = request.params["userId"]
        if key == "me":
            token = request.context["token"]
            if token["kind"] == "service":
                raise ApiError(403, "FORBIDDEN", "'me' cannot be used as userId with a service account token")
            return self._user(token["user_id"])
        return self._user(key)

    def _calendar(self, cal_id: str) -> dict[str, Any]:
        calendar = self.calendars.get(cal_id)
        if calendar is None:
            raise ApiError(404, "NOT_FOUND", f"Calendar not found: {cal_id}")
        return calendar

    def _role(self, calendar: dict[str, Any], user: dict[str, Any]) -> str | None:
        for member in calendar["members"]:
            if member["type"] == "USER" and member["id"] in (user["userId"], user["email"]):
                return str(member["role"])
        return None

    def _user_calendar(self, request: Request, *, write: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return (user, calendar) for an events path, enforcing the user's access to it."""
        user = self._path_user(request)
        cal_id = request.params.get("calendarId") or user["defaultCalendarId"]
        calendar = self._calendar(cal_id)
        role = self._role(calendar, user)
        if role is None:
            raise ApiError(403, "FORBIDDEN", f"User {user['userId']} has no access to calendar {cal_id}")
        if write and role not in WRITE_ROLES:
            raise ApiError(403, "FORBIDDEN", f"User {user['userId']} may not write to calendar {cal_id}")
        return user, calendar

    def _calendar_view(self, calendar: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in calendar.items() if k != "ownerUserId"}

    def _calendar_zone(self, calendar: dict[str, Any]) -> str:
        owner = self.users.get(calendar.get("ownerUserId") or "")
        return str((owner or {}).get("timeZone") or self.config.default_time_zone)

    # ------------------------------------------------------------------ users
    @route("GET", API + "/users", "user-list", scopes=USER_SCOPES)
    def list_users(self, request: Request) -> Response:
        count = _count(request, USERS_MAX_COUNT, USERS_MAX_COUNT)
        with self.lock:
            users = sorted(self.users.values(), key=lambda u: u["userId"])
        page, cursor = paginate_by_cursor(users, count, request.arg("cursor"))
        return Response(200, {"users": [_public_user(u) for u in page], "responseMetaData": {"nextCursor": cursor}})

    @route("GET", API + "/users/{userId}", "user-get", scopes=USER_SCOPES)
    def get_user(self, request: Request) -> Response:
        return Response(200, _public_user(self._path_user(request)))

    # ------------------------------------------------------------------ calendars
    @route("POST", API + "/calendars", "calendar-create", scopes=WRITE_SCOPES)
    def create_calendar(self, request: Request) -> Response:
        body = self._object_body(request)
        values = self._validate_calendar(body, partial=False)
        cal_id = "calendar-" + str(uuid.uuid4())
        calendar = {
            "calendarId": cal_id,
            "calendarName": values["calendarName"],
            "description": values.get("description", ""),
            "isPublic": values.get("isPublic", False),
            "members": values.get("members", []),
            "calendarEmail": f"{cal_id}@calendar.demo.example.com",
            "type": "GROUP",
            "ownerUserId": None,
        }
        with self.lock:
            self.calendars[cal_id] = calendar
            self.events[cal_id] = {}
        return Response(201, self._calendar_view(calendar))

    @route("GET", API + "/calendars/{calendarId}", "calendar-get", scopes=READ_SCOPES)
    def get_calendar(self, request: Request) -> Response:
        return Response(200, self._calendar_view(self._calendar(request.params["calendarId"])))

    @route("PATCH", API + "/calendars/{calendarId}", "calendar-update", scopes=WRITE_SCOPES)
    def patch_calendar(self, request: Request) -> Response:
        calendar = self._calendar(request.params["calendarId"])
        values = self._validate_calendar(self._object_body(request), partial=True)
        with self.lock:
            calendar.update(values)
        return Response(200, self._calendar_view(calendar))

    @route("DELETE", API + "/calendars/{calendarId}", "calendar-delete", scopes=WRITE_SCOPES)
    def delete_calendar(self, request: Request) -> Response:
        calendar = self._calendar(request.params["calendarId"])
        if calendar["type"] == "INDIVIDUAL":
            raise ApiError(403, "FORBIDDEN", "A user's default calendar cannot be deleted")
        with self.lock:
            self.calendars.pop(calendar["calendarId"], None)
            self.events.pop(calendar["calendarId"], None)
        return Response(204)

    @route("GET", API + "/users/{userId}/calendar", "calendar-default-get", scopes=READ_SCOPES)
    def get_default_calendar(self, request: Request) -> Response:
        user = self._path_user(request)
        return Response(200, self._calendar_view(self.calendars[user["defaultCalendarId"]]))

    @route("GET", API + "/users/{userId}/calendar-personals", "calendar-personals-list", scopes=READ_SCOPES)
    def list_personals(self, request: Request) -> Response:
        user = self._path_user(request)
        count = _count(request, CALENDAR_PERSONALS_MAX_COUNT, CALENDAR_PERSONALS_MAX_COUNT)
        page, cursor = paginate_by_cursor(self._personals(user), count, request.arg("cursor"))
        return Response(200, {"calendarPersonals": page, "responseMetaData": {"nextCursor": cursor}})

    @route("GET", API + "/users/{userId}/calendar-personals/{calendarId}", "calendar-personals-get", scopes=READ_SCOPES)
    def get_personal(self, request: Request) -> Response:
        user = self._path_user(request)
        for personal in self._personals(user):
            if personal["calendarId"] == request.params["calendarId"]:
                return Response(200, personal)
        raise ApiError(404, "NOT_FOUND", f"Calendar not found: {request.params['calendarId']}")

    def _personals(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        with self.lock:
            mine = [c for c in self.calendars.values() if self._role(c, user)]
        mine.sort(key=lambda c: (c["calendarId"] != user["defaultCalendarId"], c["calendarName"], c["calendarId"]))
        return [
            {
                "calendarId": c["calendarId"],
                "calendarName": c["calendarName"],
                "isShowOnLNBList": True,
                "displayOrder": order,
                "resourceLocation": 0,
            }
            for order, c in enumerate(mine)
        ]

    def _validate_calendar(self, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "calendarName" in body or not partial:
            name = body.get("calendarName")
            if not isinstance(name, str) or not name.strip():
                raise invalid("calendarName is required and must be a non-empty string")
            if len(name) > CALENDAR_NAME_MAX_LEN:
                raise invalid(f"calendarName: length {len(name)} exceeds maxLength {CALENDAR_NAME_MAX_LEN}")
            values["calendarName"] = name
        if "description" in body:
            text = body["description"]
            if not isinstance(text, str) or len(text) > CALENDAR_DESCRIPTION_MAX_LEN:
                raise invalid(f"description must be a string of at most {CALENDAR_DESCRIPTION_MAX_LEN} characters")
            values["description"] = text
        if "isPublic" in body:
            if not isinstance(body["isPublic"], bool):
                raise invalid("isPublic must be a boolean")
            values["isPublic"] = body["isPublic"]
        if "members" in body:
            members = body["members"]
            if not isinstance(members, list):
                raise invalid("members must be an array")
            seen: set[tuple[str, str]] = set()
            resolved = []
            for i, member in enumerate(members):
                where = f"members[{i}]"
                if not isinstance(member, dict):
                    raise invalid(f"{where} must be an object")
                if not _is_in(member.get("type"), MEMBER_TYPES):
                    raise invalid(f"{where}.type must be one of {sorted(MEMBER_TYPES)}")
                if not _is_in(member.get("role"), MEMBER_ROLES):
                    raise invalid(f"{where}.role must be one of {sorted(MEMBER_ROLES)}")
                if not isinstance(member.get("id"), str) or not member["id"]:
                    raise invalid(f"{where}.id is required")
                member_id = member["id"]
                if member["type"] == "USER":
                    try:
                        member_id = self._user(member_id)["userId"]
                    except ApiError as exc:
                        raise invalid(f"{where}.id: no such user {member['id']!r}") from exc
                if (member["type"], member_id) in seen:
                    raise invalid(f"{where}: members must be unique")
                seen.add((member["type"], member_id))
                resolved.append({"id": member_id, "type": member["type"], "role": member["role"]})
            values["members"] = resolved
        return values

    # ------------------------------------------------------------------ events
    def _object_body(self, request: Request) -> dict[str, Any]:
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
        body = json_body(request, invalid)
        if not isinstance(body, dict):
            raise invalid("request body must be a JSON object")
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise invalid("request body contains a lone UTF-16 surrogate (not valid Unicode text)") from exc
        return body

    @route("GET", API + "/users/{userId}/calendars/{calendarId}/events", "calendar-event-list", scopes=READ_SCOPES)
    def list_events(self, request: Request) -> Response:
        return self._list(request)

    @route("GET", API + "/users/{userId}/calendar/events", "calendar-default-event-list", scopes=READ_SCOPES)
    def list_default_events(self, request: Request) -> Response:
        return self._list(request)

    @route("POST", API + "/users/{userId}/calendars/{calendarId}/events", "calendar-event-create", scopes=WRITE_SCOPES)
    def create_event(self, request: Request) -> Response:
        return self._create(request)

    @route("POST", API + "/users/{userId}/calendar/events", "calendar-default-event-create", scopes=WRITE_SCOPES)
    def create_default_event(self, request: Request) -> Response:
        return self._create(request)

    @route(
        "GET",
        API + "/users/{userId}/calendars/{calendarId}/events/{eventId}",
        "calendar-event-get",
        scopes=READ_SCOPES,
    )
    def get_event(self, request: Request) -> Response:
        return self._get(request)

    @route("GET", API + "/users/{userId}/calendar/events/{eventId}", "calendar-default-event-get", scopes=READ_SCOPES)
    def get_default_event(self, request: Request) -> Response:
        return self._get(request)

    @route(
        "PUT",
        API + "/users/{userId}/calendars/{calendarId}/events/{eventId}",
        "calendar-event-update",
        scopes=WRITE_SCOPES,
    )
    def put_event(self, request: Request) -> Response:
        return self._put(request)

    @route(
        "PUT", API + "/users/{userId}/calendar/events/{eventId}", "calendar-default-event-update", scopes=WRITE_SCOPES
    )
    def put_default_event(self, request: Request) -> Response:
        return self._put(request)

    @route(
        "DELETE",
        API + "/users/{userId}/calendars/{calendarId}/events/{eventId}",
        "calendar-event-delete",
        scopes=WRITE_SCOPES,
    )
    def delete_event(self, request: Request) -> Response:
        return self._delete(request)

    @route(
        "DELETE",
        API + "/users/{userId}/calendar/events/{eventId}",
        "calendar-default-event-delete",
        scopes=WRITE_SCOPES,
    )
    def delete_default_event(self, request: Request) -> Response:
        return self._delete(request)

    def _list(self, request: Request) -> Response:
        _, calendar = self._user_calendar(request, write=False)
        bounds = []
        for name in ("fromDateTime", "untilDateTime"):
            raw = request.arg(name)
            if raw is None:
                raise invalid(f"{name} is required")
            try:
                bounds.append(timeutil.parse_rfc3339(raw))
            except ValueError as exc:
                hint = " ('+' in an offset must be sent as %2B)" if " " in raw else ""
                raise invalid(f"{name}={raw!r} is not YYYY-MM-DDThh:mm:ssTZD{hint}") from exc
        start, until = bounds
        if until <= start:
            raise invalid("untilDateTime must be after fromDateTime")
        if until - start > dt.timedelta(days=self.config.max_list_days):
            raise invalid(
                f"The period between fromDateTime and untilDateTime must be {self.config.max_list_days} days or less"
            )
        zone = timeutil.zone(self._calendar_zone(calendar))
        with self.lock:
            items = list(self.events.get(calendar["calendarId"], {}).values())
        found = [item for item in items if _item_overlaps(item, start, until, zone)]
        found.sort(key=lambda item: _sort_key(item["eventComponents"][0], zone))
        return Response(200, {"events": found})

    def _get(self, request: Request) -> Response:
        _, calendar = self._user_calendar(request, write=False)
        with self.lock:
            item = self.events[calendar["calendarId"]].get(request.params["eventId"])
        if item is None:
            raise ApiError(404, "NOT_FOUND", f"Event not found: {request.params['eventId']}")
        return Response(200, item)

    def _create(self, request: Request) -> Response:
        _, calendar = self._user_calendar(request, write=True)
        body = self._object_body(request)
        send = _send_notification(body.get("sendNotification", True))
        components = self._validate_components(body, path_event_id=None)
        event_id = components[0]["eventId"]
        cal_id = calendar["calendarId"]
        with self.lock:
            existing = self.events[cal_id].get(event_id)
            if existing is not None:
                policy = self.config.duplicate_event_id
                if policy == "conflict":
                    raise ApiError(409, "CONFLICT", f"eventId {event_id!r} already exists in calendar {cal_id}")
                if policy == "return_existing":
                    return Response(201, existing)
            item = self._stored_item(cal_id, components, created=existing)
            self.events[cal_id][event_id] = item
            self._notify(send, "create", cal_id, item)
        return Response(201, item)

    def _put(self, request: Request) -> Response:
        _, calendar = self._user_calendar(request, write=True)
        body = self._object_body(request)
        send = _send_notification(body.get("sendNotification", True))
        cal_id, event_id = calendar["calendarId"], request.params["eventId"]
        components = self._validate_components(body, path_event_id=event_id)
        with self.lock:
            existing = self.events[cal_id].get(event_id)
            if existing is None:
                raise ApiError(404, "NOT_FOUND", f"Event not found: {event_id}")
            item = self._stored_item(cal_id, components, created=existing)
            self.events[cal_id][event_id] = item
            self._notify(send, "update", cal_id, item)
        return Response(200, item)

    def _delete(self, request: Request) -> Response:
        _, calendar = self._user_calendar(request, write=True)
        raw = request.arg("sendNotification")
        if raw not in (None, "", "true", "false"):
            raise invalid(f"sendNotification must be true or false, got {raw!r}")
        send = raw != "false"  # default true; an empty value counts as true (allowEmptyValue)
        cal_id, event_id = calendar["calendarId"], request.params["eventId"]
        with self.lock:
            item = self.events[cal_id].pop(event_id, None)
            if item is None:
                raise ApiError(404, "NOT_FOUND", f"Event not found: {event_id}")
            self._notify(send, "delete", cal_id, item)
        return Response(204)

    def _notify(self, send: bool, action: str, cal_id: str, item: dict[str, Any]) -> None:
        if not send:
            return
        organizers = {str(c.get("organizer", {}).get("email", "")).lower() for c in item["eventComponents"]}
        recipients = sorted(
            {
                str(a["email"]).lower()
                for c in item["eventComponents"]
                for a in c.get("attendees", [])
                if a.get("email") and not a.get("isResource")
            }
            - organizers
        )
        self.notifications += len(recipients)
        self.notification_log.append(
            {"action": action, "calendarId": cal_id, "eventId": item["eventComponents"][0]["eventId"], "to": recipients}
        )

    def _stored_item(
        self, cal_id: str, components: list[dict[str, Any]], *, created: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Return the stored form of a series: defaults and read-only fields filled in."""
        calendar = self.calendars[cal_id]
        zone_name = self._calendar_zone(calendar)
        now_local = dt.datetime.now(timeutil.zone(zone_name)).strftime("%Y-%m-%dT%H:%M:%S")
        created_time = (created["eventComponents"][0].get("createdTime") if created else None) or {
            "dateTime": now_local,
            "timeZone": zone_name,
        }
        owner = self.users.get(calendar.get("ownerUserId") or "")
        organizer_default = (
            {"email": owner["email"], "displayName": self.calendars[cal_id]["calendarName"]}
            if owner
            else {"email": calendar["calendarEmail"], "displayName": calendar["calendarName"]}
        )
        stored = []
        for component in components:
            full = {
                "eventId": component["eventId"],
                "createdTime": created_time,
                "updatedTime": {"dateTime": now_local, "timeZone": zone_name},
                "transparency": "OPAQUE",
                "visibility": "PUBLIC",
                "sequence": 0,
                "priority": 0,
                "organizer": organizer_default,
                **component,
            }
            full["viewUrl"] = f"https://calendar.worksmobile.com/permanentLink.nhn?eventId={component['eventId']}"
            for attendee in full.get("attendees", []):
                attendee.setdefault("partstat", "NEEDS-ACTION")
                attendee.setdefault("isOptional", False)
                attendee.setdefault("isResource", False)
                if attendee["isResource"]:
                    attendee.setdefault(
                        "resourceValue", f"https://calendar.worksmobile.com/resources/resource/{attendee['id']}"
                    )
            stored.append(full)
        return {"eventComponents": stored, "organizerCalendarId": cal_id}

    # ------------------------------------------------------------------ validation
    def _validate_components(self, body: dict[str, Any], *, path_event_id: str | None) -> list[dict[str, Any]]:
        """Return normalised components or raise 400 naming the first bad field (source doc 001)."""
        components = body.get("eventComponents")
        if not isinstance(components, list) or not components:
            raise invalid("eventComponents is required and must be a non-empty array")
        for i, component in enumerate(components):
            if isinstance(component, dict) and "eventId" in component:
                value = component["eventId"]
                if not isinstance(value, str) or not 1 <= len(value) <= EVENT_ID_MAX_LEN:
                    raise invalid(
                        f"eventComponents[{i}].eventId must be a string of 1 to {EVENT_ID_MAX_LEN} characters"
                    )
        ids = {c["eventId"] for c in components if isinstance(c, dict) and "eventId" in c}
        if len(ids) > 1:
            raise invalid("all eventComponents must have the same eventId")
        if path_event_id is not None:
            if any(not isinstance(c, dict) or "eventId" not in c for c in components):
                raise invalid("eventComponents[].eventId is required on update")
            if ids != {path_event_id}:
                raise invalid(f"eventComponents[].eventId must be the path's eventId {path_event_id!r}")
        event_id = next(iter(ids)) if ids else "event-" + str(uuid.uuid4())
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= EVENT_ID_MAX_LEN:
            raise invalid(f"eventId must be a string of 1 to {EVENT_ID_MAX_LEN} characters")
        out = [self._validate_component(c, f"eventComponents[{i}]", event_id) for i, c in enumerate(components)]
        masters = [c for c in out if "recurringEventId" not in c]
        if len(masters) != 1:
            raise invalid("exactly one component without recurringEventId (the event itself) is required")
        if len(out) > 1 and not masters[0].get("recurrence"):
            raise invalid("exception components (recurringEventId) need a recurring event (recurrence)")
        exception_ids = [c["recurringEventId"] for c in out if "recurringEventId" in c]
        if len(exception_ids) != len(set(exception_ids)):
            raise invalid("two exception components have the same recurringEventId")
        if masters[0].get("recurrence"):
            self._check_recurrence(masters[0], "eventComponents[0].recurrence")
        return out

    def _validate_component(self, component: Any, where: str, event_id: str) -> dict[str, Any]:
        if not isinstance(component, dict):
            raise invalid(f"{where} must be an object")
        out: dict[str, Any] = {"eventId": event_id}
        summary = component.get("summary")
        if not isinstance(summary, str):
            raise invalid(f"{where}.summary is required and must be a string")
        for name, limit in (
            ("summary", SUMMARY_MAX_LEN),
            ("description", DESCRIPTION_MAX_LEN),
            ("location", LOCATION_MAX_LEN),
        ):
            if name in component:
                value = component[name]
                if not isinstance(value, str):
                    raise invalid(f"{where}.{name} must be a string")
                if len(value) > limit:
                    raise invalid(f"{where}.{name}: length {len(value)} exceeds maxLength {limit}")
                out[name] = value
        for name in ("categoryId", "recurringEventId"):
            if name in component:
                if not isinstance(component[name], str) or not component[name]:
                    raise invalid(f"{where}.{name} must be a non-empty string")
                out[name] = component[name]
        if "recurringEventId" in out:
            _parse_recurrence_id(out["recurringEventId"], where)
        for name, allowed in (("transparency", TRANSPARENCY), ("visibility", VISIBILITY)):
            if name in component:
                if not _is_in(component[name], allowed):
                    raise invalid(f"{where}.{name} must be one of {sorted(allowed)}")
                out[name] = component[name]
        for name, low, high in (("sequence", 0, INT32_MAX), ("priority", 0, PRIORITY_MAX)):
            if name in component:
                value = component[name]
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                    raise invalid(f"{where}.{name} must be an integer from {low} to {high}")
                out[name] = value
        for name, keys in (
            ("map", ("type", "geo")),
            ("mapUrl", ("mapUrl", "imageId")),
            ("videoMeeting", ("url", "resourceId")),
        ):
            if name in component:
                value = component[name]
                if not isinstance(value, dict) or not all(isinstance(value.get(k, ""), str) for k in keys):
                    raise invalid(f"{where}.{name} must be an object of strings ({', '.join(keys)})")
                out[name] = {k: value[k] for k in keys if k in value}
        if "organizer" in component:
            organizer = component["organizer"]
            if not isinstance(organizer, dict) or not _is_email(organizer.get("email")):
                raise invalid(f"{where}.organizer.email is required and must be an e-mail address")
            if not isinstance(organizer.get("displayName", ""), str):
                raise invalid(f"{where}.organizer.displayName must be a string")
            out["organizer"] = {k: organizer[k] for k in ("email", "displayName") if k in organizer}
        if "start" not in component:
            raise invalid(f"{where}.start is required")
        out["start"] = self._validate_time(component["start"], f"{where}.start")
        if "end" in component and component["end"] is not None:
            out["end"] = self._validate_time(component["end"], f"{where}.end")
            if ("date" in out["start"]) != ("date" in out["end"]):
                raise invalid(f"{where}: start and end must both be dates (all-day) or both date-times")
            first, last = _instant(out["start"]), _instant(out["end"])
            if last < first or ("date" in out["start"] and last == first):
                raise invalid(f"{where}.end must be after start (all-day end dates are exclusive)")
        else:
            out["end"] = (
                {"date": (timeutil.parse_date(out["start"]["date"]) + dt.timedelta(days=1)).isoformat()}
                if "date" in out["start"]
                else dict(out["start"])
            )
        if "recurrence" in component:
            lines = component["recurrence"]
            if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
                raise invalid(f"{where}.recurrence must be an array of strings")
            if len(lines) > RECURRENCE_MAX:
                raise invalid(f"{where}.recurrence: {len(lines)} items exceed maxItems {RECURRENCE_MAX}")
            if lines:
                # A component with recurrence is the series master. Source document 001's own request
                # example sends recurringEventId on its only component, next to recurrence; the
                # official example must be accepted, so the master's recurringEventId is validated
                # above and then ignored (not stored) instead of making the component an exception.
                out.pop("recurringEventId", None)
            for j, line in enumerate(lines):
                if not line.upper().startswith(RECURRENCE_PREFIXES):
                    raise invalid(
                        f"{where}.recurrence[{j}] {line[:80]!r} is not an RRULE, EXRULE, EXDATE or RDATE line"
                    )
            if lines:
                out["recurrence"] = list(lines)
        if "attendees" in component:
            out["attendees"] = _validate_attendees(component["attendees"], where)
        if "reminders" in component:
            out["reminders"] = self._validate_reminders(component["reminders"], where)
        return out

    def _validate_time(self, value: Any, where: str) -> dict[str, str]:
        if not isinstance(value, dict):
            raise invalid(f"{where} must be an object")
        if "date" in value and "dateTime" in value:
            raise invalid(f"{where} has both date and dateTime")
        try:
            if "date" in value:
                timeutil.parse_date(value["date"])
                return {"date": value["date"]}
            if "dateTime" not in value:
                raise invalid(f"{where} needs date or dateTime")
            raw = value["dateTime"]
            if self.config.accept_offset_datetime and isinstance(raw, str) and "timeZone" not in value:
                instant = timeutil.parse_rfc3339(raw)
                return {"dateTime": instant.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": _offset_zone(instant)}
            timeutil.parse_local(raw)
            if "timeZone" not in value:
                raise invalid(f"{where}.timeZone is required with dateTime")
            timeutil.zone(value["timeZone"])
        except ValueError as exc:
            raise invalid(f"{where}: {exc}") from exc
        return {"dateTime": raw, "timeZone": value["timeZone"]}

    def _validate_reminders(self, reminders: Any, where: str) -> list[dict[str, Any]]:
        if not isinstance(reminders, list):
            raise invalid(f"{where}.reminders must be an array")
        if len(reminders) > REMINDERS_MAX:
            raise invalid(f"{where}.reminders: {len(reminders)} items exceed maxItems {REMINDERS_MAX}")
        out = []
        for i, alarm in enumerate(reminders):
            at = f"{where}.reminders[{i}]"
            if not isinstance(alarm, dict) or not _is_in(alarm.get("method"), ALARM_METHODS):
                raise invalid(f"{at}.method is required: one of {sorted(ALARM_METHODS)}")
            item: dict[str, Any] = {"method": alarm["method"]}
            if "trigger" in alarm:
                if not isinstance(alarm["trigger"], str) or not re.match(DURATION_RE, alarm["trigger"]):
                    raise invalid(f"{at}.trigger must be an RFC 5545 duration such as -PT15M")
                item["trigger"] = alarm["trigger"]
            if "triggerDateTime" in alarm:
                item["triggerDateTime"] = self._validate_time(alarm["triggerDateTime"], f"{at}.triggerDateTime")
                if "date" in item["triggerDateTime"]:
                    raise invalid(f"{at}.triggerDateTime needs dateTime and timeZone")
            if "trigger" not in item and "triggerDateTime" not in item:
                raise invalid(f"{at} needs trigger or triggerDateTime")
            out.append(item)
        return out

    def _check_recurrence(self, master: dict[str, Any], where: str) -> None:
        try:
            _rruleset(master)
        except (ValueError, TypeError, OverflowError) as exc:
            raise invalid(f"{where}: {exc}") from exc


# ---------------------------------------------------------------------- helpers


def _is_in(value: Any, allowed: set[str]) -> bool:
    """Return True when ``value`` is one of the allowed strings (False for lists, dicts and other types)."""
    return isinstance(value, str) and value in allowed


def _count(request: Request, default: int, maximum: int) -> int:
    raw = request.arg("count")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise invalid(f"count must be an integer from 1 to {maximum}")
    return int(raw)


def _send_notification(value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid("sendNotification must be a boolean")
    return value


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and 3 <= len(value) <= 254 and value.count("@") == 1 and " " not in value


def _public_user(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k != "defaultCalendarId"}


def _validate_attendees(attendees: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(attendees, list):
        raise invalid(f"{where}.attendees must be an array")
    if len(attendees) > ATTENDEES_MAX:
        raise invalid(f"{where}.attendees: {len(attendees)} items exceed maxItems {ATTENDEES_MAX}")
    out = []
    for i, attendee in enumerate(attendees):
        at = f"{where}.attendees[{i}]"
        if not isinstance(attendee, dict):
            raise invalid(f"{at} must be an object")
        item: dict[str, Any] = {}
        for flag in ("isResource", "isOptional", "isExternalResource"):
            if flag in attendee:
                if not isinstance(attendee[flag], bool):
                    raise invalid(f"{at}.{flag} must be a boolean")
                item[flag] = attendee[flag]
        if item.get("isResource"):
            if not isinstance(attendee.get("id"), str) or not attendee["id"]:
                raise invalid(f"{at}.id (the resource id) is required for a resource")
            item["id"] = attendee["id"]
        elif not _is_email(attendee.get("email")):
            raise invalid(f"{at}.email is required and must be an e-mail address")
        if "email" in attendee:
            if not _is_email(attendee["email"]):
                raise invalid(f"{at}.email must be an e-mail address")
            item["email"] = attendee["email"]
        if "displayName" in attendee:
            if not isinstance(attendee["displayName"], str):
                raise invalid(f"{at}.displayName must be a string")
            item["displayName"] = attendee["displayName"]
        if "partstat" in attendee:
            if not _is_in(attendee["partstat"], PARTSTAT):
                raise invalid(f"{at}.partstat must be one of {sorted(PARTSTAT)}")
            item["partstat"] = attendee["partstat"]
        out.append(item)
    return out


def _offset_zone(instant: dt.datetime) -> str:
    offset = instant.utcoffset() or dt.timedelta()
    hours = int(offset.total_seconds() // 3600)
    if offset.total_seconds() % 3600:
        raise ValueError("an offset that is not whole hours has no Etc/GMT zone; send timeZone")
    return "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


def _parse_recurrence_id(value: str, where: str) -> None:
    """Accept ``TZID=Zone:YYYYMMDDTHHMMSS``, ``YYYYMMDDTHHMMSS[Z]``, ``VALUE=DATE:YYYYMMDD``, ``YYYYMMDD``."""
    spec = value
    if spec.startswith("TZID="):
        zone_name, _, spec = spec[5:].partition(":")
        try:
            timeutil.zone(zone_name)
        except ValueError as exc:
            raise invalid(f"{where}.recurringEventId: {exc}") from exc
    elif spec.startswith("VALUE=DATE:"):
        spec = spec[len("VALUE=DATE:") :]
    for fmt in ("%Y%m%dT%H%M%SZ", "%Y%m%dT%H%M%S", "%Y%m%d"):
        try:
            dt.datetime.strptime(spec, fmt)
            return
        except ValueError:
            continue
    raise invalid(
        f"{where}.recurringEventId {value!r} is not a RECURRENCE-ID value such as TZID=Asia/Tokyo:20211213T140000"
    )


def _instant(value: dict[str, str], zone: dt.tzinfo | None = None) -> dt.datetime:
    """Return the aware start instant of a start/end object (all-day dates at midnight in ``zone``)."""
    if "date" in value:
        day = timeutil.parse_date(value["date"])
        return dt.datetime.combine(day, dt.time(), zone or dt.UTC)
    return timeutil.parse_local(value["dateTime"]).replace(tzinfo=timeutil.zone(value["timeZone"]))


def _normalise_until(rule: str, tz: dt.tzinfo | None) -> str:
    """Return ``rule`` with a floating UNTIL made UTC when the series has a zone (dateutil needs it)."""
    if tz is None:
        return rule
    parts = []
    for part in rule.split(";"):
        key, _, value = part.partition("=")
        if key.upper() == "UNTIL" and not value.endswith("Z"):
            local = (
                dt.datetime.strptime(value, "%Y%m%dT%H%M%S")
                if "T" in value
                else dt.datetime.combine(dt.datetime.strptime(value, "%Y%m%d").date(), dt.time(23, 59, 59))
            )
            value = local.replace(tzinfo=tz).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        parts.append(f"{key}={value}" if key else part)
    return ";".join(parts)


def _check_satisfiable(rule: str, line: str) -> None:
    """Refuse BYMONTH/BYMONTHDAY combinations no date meets (dateutil would search to year 9999 for one)."""
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    if "BYMONTH" not in parts or "BYMONTHDAY" not in parts:
        return
    try:
        months = [int(m) for m in parts["BYMONTH"].split(",")]
        days = [int(d) for d in parts["BYMONTHDAY"].split(",")]
    except ValueError as exc:
        raise ValueError(f"{line!r}: BYMONTH and BYMONTHDAY take numbers") from exc
    lengths = {m: calendar.monthrange(2024, m)[1] for m in range(1, 13)}  # a leap year
    if not any(1 <= m <= 12 and (1 <= d <= lengths[m] or -lengths[m] <= d <= -1) for m in months for d in days):
        raise ValueError(f"{line!r} never produces an occurrence")


def _rruleset(master: dict[str, Any]) -> rrule.rruleset:
    """Return the occurrence set of a recurring master (validates every recurrence line).

    All-day series expand in floating (naive) time; timed series in their zone.
    """
    start = master["start"]
    all_day = "date" in start
    tz = None if all_day else timeutil.zone(start["timeZone"])
    dtstart = (
        dt.datetime.combine(timeutil.parse_date(start["date"]), dt.time())
        if all_day
        else timeutil.parse_local(start["dateTime"]).replace(tzinfo=tz)
    )
    ruleset = rrule.rruleset()
    for line in master.get("recurrence", []):
        name, _, rest = line.partition(":")
        upper = name.upper()
        if upper.startswith(("RRULE", "EXRULE")):
            text = _normalise_until(rest, tz)
            freq = re.search(r"FREQ=([A-Z]+)", text.upper())
            if not freq or freq.group(1) not in CALENDAR_FREQUENCIES:
                raise ValueError(f"{line!r}: FREQ must be one of {', '.join(CALENDAR_FREQUENCIES)}")
            rule = rrule.rrulestr(f"RRULE:{text}", dtstart=dtstart, forceset=False)
            if not isinstance(rule, rrule.rrule):
                raise ValueError(f"{line!r} is not a single rule")
            _check_satisfiable(text, line)
            (ruleset.rrule if upper.startswith("RRULE") else ruleset.exrule)(rule)
            continue
        params = dict(p.split("=", 1) for p in name.split(";")[1:] if "=" in p)
        line_tz = timeutil.zone(params["TZID"]) if "TZID" in params else tz
        for raw in rest.split(","):
            raw = raw.strip()
            if len(raw) == 8:
                when = dt.datetime.combine(dt.datetime.strptime(raw, "%Y%m%d").date(), dtstart.timetz())
            elif raw.endswith("Z"):
                when = dt.datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
            else:
                when = dt.datetime.strptime(raw, "%Y%m%dT%H%M%S").replace(tzinfo=line_tz)
            if all_day:
                when = when.replace(tzinfo=None)
            elif when.tzinfo is None:
                raise ValueError(f"{line!r}: a date-time value needs TZID or Z in a timed series")
            (ruleset.exdate if upper.startswith("EXDATE") else ruleset.rdate)(when)
    return ruleset


def _component_span(component: dict[str, Any], zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    return _instant(component["start"], zone), _instant(component["end"], zone)


def _overlaps(first: dt.datetime, last: dt.datetime, start: dt.datetime, until: dt.datetime) -> bool:
    if last <= first:
        return start <= first < until
    return first < until and last > start


def _item_overlaps(item: dict[str, Any], start: dt.datetime, until: dt.datetime, zone: dt.tzinfo) -> bool:
    """Return True when any occurrence of the series (or any exception) overlaps [start, until).

    All-day events are placed in ``zone`` (the calendar owner's) to compare with the window.
    """
    for component in item["eventComponents"]:
        first, last = _component_span(component, zone)
        if "recurringEventId" in component or not component.get("recurrence"):
            if _overlaps(first, last, start, until):
                return True
            continue
        duration = last - first
        all_day = "date" in component["start"]
        lower = start - duration - dt.timedelta(days=1)
        cursor = lower.astimezone(zone).replace(tzinfo=None) if all_day else lower
        for occurrence in _rruleset(component).xafter(cursor):
            begin = occurrence.replace(tzinfo=zone) if all_day else occurrence
            if begin >= until:
                break
            if _overlaps(begin, begin + duration, start, until):
                return True
    return False


def _sort_key(component: dict[str, Any], zone: dt.tzinfo) -> tuple[dt.datetime, str]:
    return _instant(component["start"], zone), component["eventId"]
