"""A local emulator of the Cybozu Garoon REST API (schedule and base) and the cybozu.com user API.

Spec: ``shared/reference/garoon-api.md`` (section numbers below refer to it) and the source
document 003 (event create). What the documentation leaves open is a setting in
:class:`GaroonConfig`; the emulators' README lists every such choice.

Paths: ``/g/api/v1/...`` (Garoon REST) and ``/v1/users.json`` (cybozu.com user API), on one site.
"""

from __future__ import annotations

import base64
import calendar
import copy
import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from include.emulators import timeutil
from include.emulators.core import ApiError, EmulatorApp, Request, Response, Route, json_body, route
from include.emulators.garoon_zones import GAROON_SUPPORTED_TIMEZONES
from include.emulators.tenant import DemoTenant

API = "/g/api/v1"
USER_API = "/v1/users.json"

LIMIT_DEFAULT = 100  # Garoon list endpoints (fact sheet 4.1, 5, 6)
LIMIT_MAX = 1000
USER_API_SIZE_MAX = 100  # cybozu.com user API (fact sheet 6)
RANGE_END_CEILING = dt.datetime(2038, 1, 1, tzinfo=dt.UTC)  # [OBS] rangeEnd past ~2037-12-31 -> 00220
WRITABLE_EVENT_TYPES = {"REGULAR", "ALL_DAY"}  # source document 003
VISIBILITY_TYPES = {"PUBLIC", "PRIVATE", "SET_PRIVATE_WATCHERS"}
ATTENDEE_TYPES = {"USER", "ORGANIZATION"}
WATCHER_TYPES = {"USER", "ORGANIZATION", "ROLE"}
TARGET_TYPES = {"user", "organization", "facility"}
ORDER_FIELDS = {"createdAt", "updatedAt", "start"}
WEEKDAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}
NTH_WEEK = {"EVERY_1STWEEK": 1, "EVERY_2NDWEEK": 2, "EVERY_3RDWEEK": 3, "EVERY_4THWEEK": 4}
REPEAT_TYPES = {"EVERY_DAY", "EVERY_WEEKDAY", "EVERY_WEEK", "EVERY_LASTWEEK", "EVERY_MONTH", *NTH_WEEK}
OAUTH_SCOPES = {"read": "g:schedule:read", "write": "g:schedule:write", "base": "g:base:read"}


@dataclass
class GaroonConfig:
    """Behaviour the documentation leaves open, and the knobs tests turn (README: assumptions)."""

    max_concurrent: int = 10  # concurrent requests before 429 GRN_REST_API_00104 (number UNCONFIRMED)
    short_pages: str = "truncate"  # truncate | hidden | off  (pages shorter than limit with hasNext)
    short_page_ratio: float = 0.6  # truncate: a page holds int(limit * ratio) items
    range_mode: str = "overlap"  # overlap | start  (rangeStart/rangeEnd semantics UNCONFIRMED)
    create_status: int = 200  # POST success status (200 vs 201 UNCONFIRMED)
    delete_status: int = 204  # DELETE success status ("no response"; 200 vs 204 UNCONFIRMED)
    cloud: bool = True  # cloud refuses SET_PRIVATE_WATCHERS since 2020-11
    basic_auth: str = ""  # "user:password" puts Basic authentication in front of the whole site
    admin_sees_private: bool = False  # may the administrator list others' private events?
    occurrences_include_repeat_info: bool = True  # list occurrences carry the series' repeatInfo

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes``, rejecting unknown names and wrong types."""
        known = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ApiError(400, "BAD_CONFIG", f"unknown setting {key!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, key)
            if type(value) is not type(current) and not (isinstance(current, float) and isinstance(value, int)):
                raise ApiError(400, "BAD_CONFIG", f"{key} must be like {current!r}, got {value!r}")
            setattr(self, key, value)
        if self.short_pages not in {"truncate", "hidden", "off"}:
            raise ApiError(400, "BAD_CONFIG", "short_pages is truncate, hidden or off")
        if self.range_mode not in {"overlap", "start"}:
            raise ApiError(400, "BAD_CONFIG", "range_mode is overlap or start")


def grn(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, code, message)


def bad(code: str, message: str) -> ApiError:
    """Return a 400 error: almost every Garoon client error is 400 (fact sheet 7)."""
    return ApiError(400, code, message)


class UserApiError(ApiError):
    """An error of the cybozu.com user API: ``{"code", "id", "message"}``."""


class BasicAuthRequired(ApiError):
    """The site's Basic authentication refused the request: an HTML page, not JSON."""


class GaroonApp(EmulatorApp):
    """The Garoon REST + cybozu.com user API emulator."""

    name = "garoon"

    def __init__(self, tenant: DemoTenant, config: GaroonConfig | None = None) -> None:
        super().__init__()
        self.tenant = tenant
        self.config = config or GaroonConfig()
        self._in_flight = 0
        self._flight_lock = threading.Lock()
        self.reset_state({})

    # ------------------------------------------------------------------ state
    def reset_state(self, options: dict[str, Any]) -> None:
        self.users: dict[str, dict[str, Any]] = {u["id"]: dict(u) for u in self.tenant.garoon_users}
        self.by_code = {u["code"]: u for u in self.users.values()}
        self.orgs: dict[str, dict[str, Any]] = {o["id"]: dict(o) for o in self.tenant.garoon_organizations}
        self.facilities: dict[str, dict[str, Any]] = {f["id"]: dict(f) for f in self.tenant.garoon_facilities}
        self.events: dict[str, dict[str, Any]] = {}
        self.overrides: dict[tuple[str, str], dict[str, Any]] = {}
        self.oauth_tokens: dict[str, dict[str, Any]] = {}
        self.next_id = 1001
        self.concurrency_rejected = 0
        if not options.get("empty"):
            self.seed({"events": copy.deepcopy(self.tenant.garoon_events)})

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def update_config(self, changes: dict[str, Any]) -> None:
        self.config.update(changes)

    def snapshot(self) -> dict[str, Any]:
        return {
            "api": "garoon",
            "users": [self._user_ref(u) | {"email": u["email"]} for u in self._sorted_users()],
            "organizations": list(self.orgs.values()),
            "facilities": [self._facility_view(f) for f in self.facilities.values()],
            "events": list(self.events.values()),
            "occurrenceOverrides": list(self.overrides.values()),
            "eventCount": len(self.events),
            "notifications": 0,  # Garoon REST writes send no e-mail; kept for a uniform state shape
            "concurrencyRejected": self.concurrency_rejected,
            "config": asdict(self.config),
        }

    def seed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Store raw schedule objects as given (REPEATING masters, and occurrences with ``repeatId``)."""
        stored = 0
        for index, raw in enumerate(payload.get("events", [])):
            if not isinstance(raw, dict):
                raise ValueError(f"events[{index}] is not an object")
            event = copy.deepcopy(raw)
            if event.get("repeatId"):
                if not event.get("id"):
                    raise ValueError(f"events[{index}]: an occurrence (repeatId) needs the series id")
                self.overrides[(str(event["id"]), str(event["repeatId"]))] = event
            else:
                if event.get("eventType") == "REPEATING":
                    self._check_repeat_info(event.get("repeatInfo"), f"events[{index}].repeatInfo")
                event["id"] = str(event.get("id") or self._new_id())
                event.setdefault("createdAt", timeutil.utc_z(dt.datetime.now(dt.UTC)))
                event.setdefault("updatedAt", event["createdAt"])
                self.events[event["id"]] = event
            if str(event["id"]).isdigit():
                self.next_id = max(self.next_id, int(event["id"]) + 1)
            stored += 1
        return {"seeded": stored}

    def _check_repeat_info(self, info: Any, where: str) -> None:
        if not isinstance(info, dict) or not isinstance(info.get("period"), dict):
            raise ValueError(f"{where} needs type and period")
        timeutil.zone(info.get("timeZone", "Asia/Tokyo"))
        timeutil.parse_date(info["period"].get("start"))
        timeutil.parse_date(info["period"].get("end"))

    def _new_id(self) -> str:
        value = self.next_id
        self.next_id += 1
        return str(value)

    def extra_inspection(self, request: Request, action: str) -> Response | None:
        if action == "oauth-token" and request.method == "POST":
            body = json_body(request, lambda m: ApiError(400, "BAD_REQUEST", m))
            login = str(body.get("login", "Administrator"))
            if login not in self.by_code:
                raise ApiError(400, "BAD_REQUEST", f"no user {login!r}")
            token = secrets.token_urlsafe(32)
            lifetime = float(body.get("expires_in", 3600))
            with self.lock:
                self.oauth_tokens[token] = {
                    "login": login,
                    "scopes": set(str(body.get("scope", " ".join(OAUTH_SCOPES.values()))).split()),
                    "expires_at": time.time() + lifetime,
                }
            return Response(200, {"access_token": token, "token_type": "Bearer", "expires_in": lifetime})
        return None

    # ------------------------------------------------------------------ errors
    def error_body(self, error: ApiError) -> Any:
        if isinstance(error, BasicAuthRequired):
            return b"<html><body><h1>401 Authorization Required</h1></body></html>"
        if isinstance(error, UserApiError):
            return {"code": error.code, "id": secrets.token_hex(10), "message": error.message}
        return {"error": {"errorCode": error.code, "message": error.message, "cause": "", "counterMeasure": ""}}

    def error_headers(self, error: ApiError) -> dict[str, str]:
        if isinstance(error, BasicAuthRequired):
            return {"WWW-Authenticate": 'Basic realm="cybozu.com"', "Content-Type": "text/html"}
        return {"X-Cybozu-Error": error.code}

    def to_response(self, error: ApiError) -> Response:
        if error.code in ("NOT_FOUND", "METHOD_NOT_ALLOWED"):  # core's routing errors, in Garoon's codes (fact sheet 7)
            status, code = (400, "GRN_REST_API_00101") if error.code == "NOT_FOUND" else (405, "GRN_REST_API_00102")
            error = grn(status, code, error.message)
        response = super().to_response(error)
        if isinstance(error, BasicAuthRequired):
            response.content_type = response.headers.pop("Content-Type")
        return response

    def throttle_error(self) -> ApiError:
        return grn(429, "GRN_REST_API_00104", "The number of concurrent requests exceeded the limit.")

    def server_error(self, status: int) -> ApiError:
        return grn(status, "GRN_CMMN_00001", "A temporary error occurred. Please try again later.")

    # ------------------------------------------------------------------ admission and auth
    def admit(self, request: Request) -> Any:
        with self._flight_lock:
            if self._in_flight >= self.config.max_concurrent:
                self.concurrency_rejected += 1
                raise self.throttle_error()
            self._in_flight += 1

        def release() -> None:
            with self._flight_lock:
                self._in_flight -= 1

        return release

    def before_route(self, request: Request, route: Route) -> None:
        user_api = route.template == USER_API
        if self.config.basic_auth:
            expected = "Basic " + base64.b64encode(self.config.basic_auth.encode()).decode()
            if request.header("authorization") != expected:
                raise BasicAuthRequired(401, "BASIC_AUTH", "Basic authentication required")
        request.context["user"] = self._authenticate(request, route, user_api)

    def _authenticate(self, request: Request, route: Route, user_api: bool) -> dict[str, Any]:
        error = UserApiError if user_api else ApiError
        header = request.header("x-cybozu-authorization")
        if header:
            try:
                login, sep, password = base64.b64decode(header, validate=True).decode("utf-8").partition(":")
            except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII input
                login, sep, password = "", "", ""
            user = self.by_code.get(login)
            if not sep or user is None or not secrets.compare_digest(str(user["password"]).encode(), password.encode()):
                raise error(
                    401, "CB_AU01" if user_api else "GRN_REST_API_00001", "Login name or password is incorrect."
                )
            return user
        bearer = request.header("authorization") or ""
        if bearer.startswith("Bearer ") and not self.config.basic_auth:
            token = self.oauth_tokens.get(bearer[7:].strip())
            if token is None:
                raise error(401, "CB_OA01" if user_api else "GRN_REST_API_00005", "The access token is invalid.")
            if token["expires_at"] <= time.time():
                raise error(401, "CB_OA02" if user_api else "GRN_REST_API_00006", "The access token has expired.")
            needed = route.options.get("scope")
            if needed and needed not in token["scopes"]:
                raise error(401, "CB_OA03" if user_api else "GRN_REST_API_00007", f"The scope {needed} is not allowed.")
            return self.by_code[token["login"]]
        raise error(401, "CB_AU01" if user_api else "GRN_REST_API_00003", "Authentication information is missing.")

    # ------------------------------------------------------------------ views and lookups
    def _sorted_users(self) -> list[dict[str, Any]]:
        return sorted(self.users.values(), key=lambda u: int(u["id"]))

    @staticmethod
    def _user_ref(user: dict[str, Any]) -> dict[str, Any]:
        return {"id": user["id"], "code": user["code"], "name": user["name"]}

    @staticmethod
    def _facility_view(facility: dict[str, Any]) -> dict[str, Any]:
        return {k: facility[k] for k in ("id", "name", "code", "notes", "facilityGroup") if k in facility}

    def _is_admin(self, user: dict[str, Any]) -> bool:
        return bool(user["code"] == "Administrator")

    def _involves(self, event: dict[str, Any], user: dict[str, Any]) -> bool:
        """Return True when ``user`` attends (directly or through an organization) or created it."""
        if _as_dict(event.get("creator")).get("id") == user["id"]:
            return True
        for attendee in map(_as_dict, _as_list(event.get("attendees"))):
            if attendee.get("type") == "USER" and attendee.get("id") == user["id"]:
                return True
            if attendee.get("type") == "ORGANIZATION" and attendee.get("id") in user.get("organizations", []):
                return True
        return any(w.get("type") == "USER" and w.get("id") == user["id"] for w in map(_as_dict, _as_list(event.get("watchers"))))

    def _can_view(self, event: dict[str, Any], user: dict[str, Any]) -> bool:
        if event.get("visibilityType", "PUBLIC") == "PUBLIC":
            return True
        return self._involves(event, user) or (self.config.admin_sees_private and self._is_admin(user))

    # ------------------------------------------------------------------ occurrences
    def _occurrences(self, master: dict[str, Any]) -> list[dict[str, Any]]:
        """Return a repeating series as list items: one per occurrence, edits applied, exclusions skipped."""
        info = master.get("repeatInfo") or {}
        tz = timeutil.zone(info.get("timeZone") or master.get("originalStartTimeZone") or "Asia/Tokyo")
        excluded = set()
        for ex in info.get("exclusiveDateTimes", []) or []:
            try:
                excluded.add(timeutil.parse_rfc3339(ex["start"]).astimezone(tz).date())
            except (KeyError, TypeError, ValueError):
                continue
        base = {k: v for k, v in master.items() if k not in ("start", "end", "repeatInfo")}
        if self.config.occurrences_include_repeat_info:
            base["repeatInfo"] = info
        items: dict[str, dict[str, Any]] = {}
        time_start = info.get("time", {}).get("start") or "00:00"
        time_end = info.get("time", {}).get("end") or time_start
        for day in repeat_dates(info):
            if day in excluded:
                continue
            all_day = bool(info.get("isAllDay"))
            start_t = dt.time(0, 0) if all_day else dt.time.fromisoformat(time_start)
            begin = dt.datetime.combine(day, start_t, tz)
            repeat_id = day.strftime("%Y%m%d") + ("0000" if all_day else start_t.strftime("%H%M"))
            occurrence = {**copy.deepcopy(base), "repeatId": repeat_id, "isAllDay": all_day}
            occurrence["isStartOnly"] = bool(info.get("isStartOnly")) and not all_day
            occurrence["start"] = {"dateTime": timeutil.format_rfc3339(begin, tz), "timeZone": tz.key}
            if all_day:
                end = dt.datetime.combine(day, dt.time(23, 59, 59), tz)
            else:
                end_t = dt.time.fromisoformat(time_end)
                end = dt.datetime.combine(day + dt.timedelta(days=end_t < start_t), end_t, tz)
            if not occurrence["isStartOnly"]:
                occurrence["end"] = {"dateTime": timeutil.format_rfc3339(end, tz), "timeZone": tz.key}
            items[repeat_id] = occurrence
        for (event_id, repeat_id), edited in self.overrides.items():
            if event_id == master["id"]:
                items[repeat_id] = {**copy.deepcopy(base), **copy.deepcopy(edited)}
        return [items[k] for k in sorted(items)]

    def _all_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for event in self.events.values():
            if event.get("eventType") == "REPEATING":
                items.extend(self._occurrences(event))
            else:
                items.append(event)
        return items

    # ------------------------------------------------------------------ list endpoints
    def _paging(self, request: Request, *, size_param: str = "limit", maximum: int = LIMIT_MAX) -> tuple[int, int]:
        limit = _int_param(request, size_param, LIMIT_DEFAULT if maximum == LIMIT_MAX else maximum, 1, maximum)
        offset = _int_param(request, "offset", 0, 0, None)
        return limit, offset

    def _page(self, items: list[Any], request: Request, visible: Any = None) -> tuple[list[Any], bool]:
        """Return (page, hasNext) under the configured short-page behaviour (fact sheet 3)."""
        limit, offset = self._paging(request)
        mode = self.config.short_pages
        if mode == "hidden":
            window = items[offset : offset + limit]
            return [x for x in window if visible is None or visible(x)], offset + limit < len(items)
        if visible is not None:
            items = [x for x in items if visible(x)]
        size = max(1, int(limit * self.config.short_page_ratio)) if mode == "truncate" and limit > 1 else limit
        return items[offset : offset + size], offset + size < len(items)

    @route("GET", API + "/schedule/events", "schedule-events-list", scope=OAUTH_SCOPES["read"])
    def list_events(self, request: Request) -> Response:
        caller = request.context["user"]
        start = _rfc3339_param(request, "rangeStart")
        end = _rfc3339_param(request, "rangeEnd")
        if end and end >= RANGE_END_CEILING:
            raise bad("GRN_REST_API_00220", f"rangeEnd {request.arg('rangeEnd')} is not a valid date.")
        if start and end and end <= start:
            raise bad("GRN_REST_API_00203", "rangeEnd must be after rangeStart.")
        target, target_type = request.arg("target"), request.arg("targetType")
        if (target is None) != (target_type is None):
            raise bad("GRN_REST_API_00205", "target and targetType must be specified together.")
        if target_type is not None and target_type not in TARGET_TYPES:
            raise bad("GRN_REST_API_00212", f"targetType must be one of {sorted(TARGET_TYPES)}.")
        if target is not None:
            pool = {"user": self.users, "organization": self.orgs, "facility": self.facilities}[str(target_type)]
            if target not in pool:
                raise bad("GRN_REST_API_00206", f"The {target_type} {target!r} does not exist.")
        order_key, descending = _order(request.arg("orderBy"))
        keyword = (request.arg("keyword") or "").lower()
        requested_fields = [f.strip() for f in (request.arg("fields") or "").split(",") if f.strip()]
        self._paging(request)  # validate limit/offset before doing the work
        with self.lock:
            items = self._all_items()
        chosen = []
        for item in items:
            if not self._in_range(item, start, end):
                continue
            if target is None:
                if not self._involves(item, caller):
                    continue
            elif not self._targets(item, str(target_type), target):
                continue
            if keyword and not any(keyword in str(item.get(k, "")).lower() for k in ("subject", "notes", "eventMenu")):
                continue
            chosen.append(item)
        chosen.sort(key=lambda e: (_order_value(e, order_key), *_id_order(e["id"]), e.get("repeatId", "")), reverse=descending)
        page, has_next = self._page(chosen, request, visible=lambda e: self._can_view(e, caller))
        if requested_fields:
            page = [{k: e[k] for k in requested_fields if k in e} for e in page]
        return Response(200, {"events": page, "hasNext": has_next})

    def _in_range(self, item: dict[str, Any], start: dt.datetime | None, end: dt.datetime | None) -> bool:
        if "start" not in item:
            return False
        try:
            begin = timeutil.parse_rfc3339(item["start"]["dateTime"])
            finish = timeutil.parse_rfc3339(item["end"]["dateTime"]) if item.get("end") else begin
        except (KeyError, TypeError, ValueError):
            return True  # a seeded item whose times cannot be read is served in every range: clients meet it
        if self.config.range_mode == "start" or finish <= begin:
            return (start is None or begin >= start) and (end is None or begin < end)
        return (start is None or finish > start) and (end is None or begin < end)

    def _targets(self, item: dict[str, Any], target_type: str, target: str) -> bool:
        if target_type == "facility":
            return any(f.get("id") == target for f in item.get("facilities", []))
        if target_type == "organization":
            if any(a.get("type") == "ORGANIZATION" and a.get("id") == target for a in item.get("attendees", [])):
                return True
            members = [u for u in self.users.values() if target in u.get("organizations", [])]
            return any(self._involves(item, u) for u in members)
        return self._involves(item, self.users[target])

    @route("GET", API + "/schedule/events/{id}", "schedule-event-get", scope=OAUTH_SCOPES["read"])
    def get_event(self, request: Request) -> Response:
        event = self._event(request)
        return Response(200, event)

    def _event(self, request: Request) -> dict[str, Any]:
        event_id = request.params["id"]
        with self.lock:
            event = self.events.get(event_id)
        if event is None:
            raise grn(404, "GRN_SCHD_13001", f"The appointment (ID: {event_id}) cannot be found.")
        if not self._can_view(event, request.context["user"]):
            raise grn(403, "GRN_SCHD_13002", f"You do not have permission to view the appointment (ID: {event_id}).")
        return event

    @route("POST", API + "/schedule/events", "schedule-event-create", scope=OAUTH_SCOPES["write"])
    def create_event(self, request: Request) -> Response:
        body = self._json(request)
        event_type = body.get("eventType")
        if event_type is None:
            raise bad("GRN_REST_API_00201", "eventType is required.")
        if not isinstance(event_type, str) or event_type not in WRITABLE_EVENT_TYPES:
            raise bad(
                "GRN_REST_API_00212",
                f"eventType {event_type!r} cannot be registered; only REGULAR and ALL_DAY are allowed.",
            )
        with self.lock:
            values = self._validate(body, event_type=str(event_type), exclude_id=None)
            now = timeutil.utc_z(dt.datetime.now(dt.UTC))
            event = {
                "id": self._new_id(),
                "creator": self._user_ref(request.context["user"]),
                "createdAt": now,
                "updatedAt": now,
                "updater": self._user_ref(request.context["user"]),
                "eventType": event_type,
                **values,
            }
            self.events[event["id"]] = event
        return Response(self.config.create_status, event)

    @route("PATCH", API + "/schedule/events/{id}", "schedule-event-update", scope=OAUTH_SCOPES["write"])
    def patch_event(self, request: Request) -> Response:
        with self.lock:
            event = self._event(request)
            if event.get("eventType") == "TEMPORARY":
                raise bad("GRN_SCHD_13044", "A temporary appointment cannot be changed.")
            body = self._json(request)
            if "start" not in body:
                raise bad("GRN_REST_API_00201", "start is required.")
            kind = "ALL_DAY" if event["eventType"] == "ALL_DAY" else "REGULAR"
            merged = {k: v for k, v in body.items() if k != "eventType"}
            for keep in ("subject", "notes", "visibilityType", "companyInfo", "additionalItems", "useAttendanceCheck"):
                if keep not in merged and keep in event:
                    merged[keep] = event[keep]
            if "attendees" not in merged and "facilities" not in merged:
                raise bad("GRN_REST_API_00229", "Specify attendees or facilities.")
            values = self._validate(merged, event_type=kind, exclude_id=event["id"])
            values["eventMenu"] = values.get("eventMenu", "") if "eventMenu" in body else ""
            if "attendees" not in body:  # omitted: kept (only a given list replaces them)
                values["attendees"] = event.get("attendees", [])
            if event["eventType"] == "REPEATING":
                info = event["repeatInfo"]
                tz = timeutil.zone(info.get("timeZone", "Asia/Tokyo"))
                begin = timeutil.parse_rfc3339(values["start"]["dateTime"]).astimezone(tz)
                info["time"] = {"start": begin.strftime("%H:%M")}
                if values.get("end"):
                    info["time"]["end"] = (
                        timeutil.parse_rfc3339(values["end"]["dateTime"]).astimezone(tz).strftime("%H:%M")
                    )
                for drop in ("start", "end", "isAllDay", "isStartOnly"):
                    values.pop(drop, None)
            for key in ("start", "end", "facilities", "facilityUsingPurpose", "watchers"):
                if key not in values:
                    event.pop(key, None)
            event.update(values)
            event["updatedAt"] = timeutil.utc_z(dt.datetime.now(dt.UTC))
            event["updater"] = self._user_ref(request.context["user"])
        return Response(200, event)

    @route("DELETE", API + "/schedule/events/{id}", "schedule-event-delete", scope=OAUTH_SCOPES["write"])
    def delete_event(self, request: Request) -> Response:
        with self.lock:
            event = self._event(request)
            if event.get("eventType") == "TEMPORARY":
                raise bad("GRN_SCHD_13045", "A temporary appointment cannot be deleted.")
            del self.events[event["id"]]  # a repeating id removes every occurrence
            for key in [k for k in self.overrides if k[0] == event["id"]]:
                del self.overrides[key]
        return Response(self.config.delete_status)

    @route("GET", API + "/schedule/facilities", "facilities-list", scope=OAUTH_SCOPES["read"])
    def list_facilities(self, request: Request) -> Response:
        name = (request.arg("name") or "").lower()
        items = [
            self._facility_view(f)
            for f in sorted(self.facilities.values(), key=lambda f: int(f["id"]))
            if name in f["name"].lower()
        ]
        page, has_next = self._page(items, request)
        return Response(200, {"facilities": page, "hasNext": has_next})

    @route("GET", API + "/base/users", "base-users-list", scope=OAUTH_SCOPES["base"])
    def list_users(self, request: Request) -> Response:
        name = (request.arg("name") or "").lower()
        items = [
            self._user_ref(u) for u in self._sorted_users() if name in u["name"].lower() or name in u["code"].lower()
        ]
        page, has_next = self._page(items, request)
        return Response(200, {"users": page, "hasNext": has_next})

    @route("GET", API + "/base/organizations", "base-organizations-list", scope=OAUTH_SCOPES["base"])
    def list_organizations(self, request: Request) -> Response:
        items = sorted(self.orgs.values(), key=lambda o: int(o["id"]))
        page, has_next = self._page(items, request)
        return Response(200, {"organizations": page, "hasNext": has_next})

    @route("GET", API + "/base/organizations/{id}/users", "base-organization-users", scope=OAUTH_SCOPES["base"])
    def organization_users(self, request: Request) -> Response:
        org_id = request.params["id"]
        if org_id not in self.orgs:
            raise bad("GRN_REST_API_00206", f"The organization (ID: {org_id}) does not exist.")
        items = [self._user_ref(u) for u in self._sorted_users() if org_id in u.get("organizations", [])]
        page, has_next = self._page(items, request)
        return Response(200, {"users": page, "hasNext": has_next})

    @route("GET", USER_API, "user-api-users", scope=OAUTH_SCOPES["base"])
    def user_api_users(self, request: Request) -> Response:
        codes = _indexed(request, "codes")
        ids = _indexed(request, "ids")
        if codes and ids:
            raise UserApiError(400, "CB_VA01", "ids and codes cannot be specified together.")
        try:
            size = _int_param(request, "size", USER_API_SIZE_MAX, 1, USER_API_SIZE_MAX)
            offset = _int_param(request, "offset", 0, 0, None)
        except ApiError as exc:
            raise UserApiError(400, "CB_VA01", exc.message) from exc
        users = sorted(self.users.values(), key=lambda u: int(u["userApiId"]))
        if codes:
            users = [u for u in users if u["code"] in codes]
        if ids:
            users = [u for u in users if u["userApiId"] in ids]
        return Response(200, {"users": [_user_api_view(u) for u in users[offset : offset + size]]})

    # ------------------------------------------------------------------ validation
    def _json(self, request: Request) -> dict[str, Any]:
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise grn(415, "GRN_REST_API_00103", "Content-Type must be application/json.")
        body = json_body(request, lambda m: bad("GRN_REST_API_00105", f"The request body is invalid: {m}"))
        if not isinstance(body, dict):
            raise bad("GRN_REST_API_00105", "The request body must be a JSON object.")
        try:  # "\ud800" escapes decode to lone surrogates that no response can encode
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise bad("GRN_REST_API_00105", "The request body contains an invalid Unicode escape.") from exc
        return body

    def _validate(self, body: dict[str, Any], *, event_type: str, exclude_id: str | None) -> dict[str, Any]:
        """Return the stored fields of a create/update body, enforcing source document 003's rules."""
        out: dict[str, Any] = {}
        for name in ("subject", "notes", "eventMenu", "facilityUsingPurpose"):
            if name in body:
                if not isinstance(body[name], str):
                    raise bad("GRN_REST_API_00213", f"{name} must be a string.")
                out[name] = body[name]
        if out.get("eventMenu") == "-----":
            out["eventMenu"] = ""  # the default menu is stored as an empty string
        out.setdefault("eventMenu", "")
        for name in ("isAllDay", "isStartOnly", "useAttendanceCheck"):
            if name in body and not isinstance(body[name], bool):
                raise bad("GRN_REST_API_00213", f"{name} must be a boolean.")
        all_day = bool(body.get("isAllDay")) or event_type == "ALL_DAY"
        start_only = bool(body.get("isStartOnly"))
        if body.get("isAllDay") and start_only:
            raise bad("GRN_REST_API_00223", "isStartOnly and isAllDay cannot both be true.")
        if event_type == "ALL_DAY" and start_only:
            raise bad("GRN_REST_API_00223", "An ALL_DAY event cannot be start-only.")
        facilities = self._facilities(body.get("facilities"))
        start_tz, start = _time_object(body.get("start"), "start")
        end_tz = start_tz
        end = None
        if body.get("end") is not None:
            end_tz, end = _time_object(body["end"], "end")
        elif facilities:
            raise bad("GRN_REST_API_00201", "end is required when facilities are specified.")
        elif event_type == "ALL_DAY":
            raise bad("GRN_REST_API_00201", "end is required for an ALL_DAY event.")
        elif not start_only:
            raise bad("GRN_REST_API_00224", "Specify end, or set isStartOnly to true.")
        if end is not None and end < start:
            raise bad("GRN_REST_API_00203", "end must not be before start.")
        if all_day:
            if facilities:
                raise bad("GRN_SCHD_13207", "A facility cannot be reserved for an all-day appointment.")
            start = dt.datetime.combine(start.astimezone(start_tz).date(), dt.time(), start_tz)
            end = dt.datetime.combine((end or start).astimezone(end_tz).date(), dt.time(23, 59, 59), end_tz)
        out["start"] = {"dateTime": timeutil.format_rfc3339(start, start_tz), "timeZone": start_tz.key}
        if end is not None and not start_only:
            out["end"] = {"dateTime": timeutil.format_rfc3339(end, end_tz), "timeZone": end_tz.key}
        out["isAllDay"] = bool(body.get("isAllDay")) if event_type == "REGULAR" else False
        out["isStartOnly"] = start_only
        out["originalStartTimeZone"] = start_tz.key
        out["originalEndTimeZone"] = end_tz.key
        attendees = self._attendees(body.get("attendees"), "attendees", ATTENDEE_TYPES)
        if not attendees and not facilities:
            raise bad("GRN_REST_API_00229", "Specify at least one of attendees or facilities.")
        out["attendees"] = [
            {**a, "attendanceResponse": {"status": "PENDING", "comment": ""}} if a["type"] == "USER" else a
            for a in attendees
        ]
        if facilities:
            end_time = end or start
            for facility in facilities:
                clash = self._double_booked(facility["id"], start, end_time, exclude_id)
                if clash:
                    raise bad(
                        "GRN_SCHD_13208", f"Facility {facility['name']} is already reserved by appointment {clash}."
                    )
                if self.facilities[facility["id"]].get("requiresPurpose") and not out.get("facilityUsingPurpose"):
                    raise bad(
                        "GRN_REST_API_00201", f"facilityUsingPurpose is required for facility {facility['name']}."
                    )
            out["facilities"] = facilities
        visibility = body.get("visibilityType", "PUBLIC")
        if not isinstance(visibility, str) or visibility not in VISIBILITY_TYPES:
            raise bad("GRN_REST_API_00212", f"visibilityType must be one of {sorted(VISIBILITY_TYPES)}.")
        if visibility == "SET_PRIVATE_WATCHERS":
            if self.config.cloud:
                raise bad("GRN_REST_API_00226", "SET_PRIVATE_WATCHERS is not available on cloud Garoon.")
            out["watchers"] = self._attendees(body.get("watchers"), "watchers", WATCHER_TYPES)
            if not out["watchers"]:
                raise bad("GRN_REST_API_00201", "watchers is required with SET_PRIVATE_WATCHERS.")
        out["visibilityType"] = visibility
        out["useAttendanceCheck"] = bool(body.get("useAttendanceCheck", False))
        if "companyInfo" in body:
            info = body["companyInfo"]
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise bad("GRN_REST_API_00213", "companyInfo must be an object of strings.")
            out["companyInfo"] = info
        if "additionalItems" in body:
            items = body["additionalItems"]
            value = (
                items.get("item", {}).get("value")
                if isinstance(items, dict) and isinstance(items.get("item"), dict)
                else None
            )
            if not isinstance(value, str):
                raise bad("GRN_REST_API_00213", "additionalItems.item.value must be a string.")
            out["additionalItems"] = {"item": {"value": value}}
        out["attachments"] = self._attachments(body.get("attachments"))
        return out

    def _attendees(self, raw: Any, where: str, types: set[str]) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise bad("GRN_REST_API_00213", f"{where} must be an array.")
        out = []
        for i, item in enumerate(raw):
            at = f"{where}[{i}]"
            if not isinstance(item, dict):
                raise bad("GRN_REST_API_00213", f"{at} must be an object.")
            kind = item.get("type")
            if not isinstance(kind, str) or kind not in types:
                raise bad("GRN_REST_API_00212", f"{at}.type must be one of {sorted(types)}.")
            if not isinstance(item.get("id", ""), str) or not isinstance(item.get("code", ""), str):
                raise bad("GRN_REST_API_00213", f"{at}.id and {at}.code must be strings.")
            if not item.get("id") and not item.get("code"):
                raise bad("GRN_REST_API_00201", f"{at} needs id or code.")
            if kind == "USER":
                user = self.users.get(item["id"]) if item.get("id") else self.by_code.get(item["code"])
                if user is None:
                    raise bad(
                        "GRN_REST_API_00206", f"{at}: the user {item.get('id') or item.get('code')!r} does not exist."
                    )
                out.append({**self._user_ref(user), "type": "USER"})
            elif kind == "ORGANIZATION":
                org = (
                    self.orgs.get(item["id"])
                    if item.get("id")
                    else next((o for o in self.orgs.values() if o["code"] == item["code"]), None)
                )
                if org is None:
                    raise bad(
                        "GRN_REST_API_00206",
                        f"{at}: the organization {item.get('id') or item.get('code')!r} does not exist.",
                    )
                out.append({"id": org["id"], "code": org["code"], "name": org["name"], "type": "ORGANIZATION"})
            else:
                out.append({"id": item.get("id", ""), "code": item.get("code", ""), "type": kind})
        return out

    def _facilities(self, raw: Any) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise bad("GRN_REST_API_00213", "facilities must be an array.")
        out = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not (isinstance(item.get("id"), str) or isinstance(item.get("code"), str)):
                raise bad("GRN_REST_API_00201", f"facilities[{i}] needs id or code.")
            if not all(isinstance(item.get(name, ""), str) for name in ("id", "code")):
                raise bad("GRN_REST_API_00213", f"facilities[{i}].id and .code must be strings.")
            facility = (
                self.facilities.get(item["id"])
                if item.get("id")
                else next((f for f in self.facilities.values() if f["code"] == item.get("code")), None)
            )
            if facility is None:
                raise grn(404, "GRN_SCHD_13203", f"facilities[{i}]: the facility does not exist.")
            out.append({"id": facility["id"], "name": facility["name"], "code": facility["code"]})
        return out

    def _attachments(self, raw: Any) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise bad("GRN_REST_API_00213", "attachments must be an array.")
        out = []
        for i, item in enumerate(raw):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("name"), str)
                or not isinstance(item.get("content"), str)
            ):
                raise bad("GRN_REST_API_00201", f"attachments[{i}] needs name and content.")
            try:
                size = len(base64.b64decode(item["content"], validate=True))
            except ValueError as exc:  # binascii.Error, and non-ASCII content
                raise bad("GRN_REST_API_00202", f"attachments[{i}].content is not valid base64.") from exc
            out.append(
                {
                    "id": secrets.token_hex(4),
                    "name": item["name"],
                    "contentType": "application/octet-stream",
                    "size": str(size),
                }
            )
        return out

    def _double_booked(
        self, facility_id: str, start: dt.datetime, end: dt.datetime, exclude_id: str | None
    ) -> str | None:
        for item in self._all_items():
            if item["id"] == exclude_id or "start" not in item:
                continue
            if not any(f.get("id") == facility_id for f in item.get("facilities", [])):
                continue
            begin = timeutil.parse_rfc3339(item["start"]["dateTime"])
            finish = timeutil.parse_rfc3339(item["end"]["dateTime"]) if item.get("end") else begin
            if begin < end and finish > start:
                return str(item["id"])
        return None


# ---------------------------------------------------------------------- helpers


def repeat_dates(info: dict[str, Any]) -> list[dt.date]:
    """Return the dates a ``repeatInfo`` produces in its period (exclusions not applied)."""
    kind = info.get("type")
    try:
        first = timeutil.parse_date(info["period"]["start"])
        last = timeutil.parse_date(info["period"]["end"])
    except (KeyError, TypeError, ValueError):
        return []
    weekday = WEEKDAYS.get(str(info.get("dayOfWeek", "")).upper())
    out = []
    day = first
    while day <= last:
        if kind == "EVERY_DAY":
            hit = True
        elif kind == "EVERY_WEEKDAY":
            hit = day.weekday() < 5
        elif kind == "EVERY_WEEK":
            hit = day.weekday() == weekday
        elif kind in NTH_WEEK:
            hit = day.weekday() == weekday and (day.day - 1) // 7 + 1 == NTH_WEEK[kind]
        elif kind == "EVERY_LASTWEEK":
            hit = day.weekday() == weekday and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        elif kind == "EVERY_MONTH":
            wanted = str(info.get("dayOfMonth", ""))
            month_end = calendar.monthrange(day.year, day.month)[1]
            hit = day.day == month_end if wanted == "EOM" else wanted.isdigit() and day.day == int(wanted)
        else:
            return []  # an unknown (future) type: only explicitly stored occurrences are listed
        if hit:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.arg(name)
    if raw is None:
        return default
    digits = raw[1:] if raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit()):  # "--5" and "²" would crash int()
        raise bad("GRN_REST_API_00202", f"{name} must be an integer.")
    value = int(raw)
    if value < low:
        raise bad("GRN_REST_API_00210", f"{name} must be {low} or greater.")
    if high is not None and value > high:
        raise bad("GRN_REST_API_00211", f"{name} must be {high} or less.")
    return value


def _rfc3339_param(request: Request, name: str) -> dt.datetime | None:
    raw = request.arg(name)
    if raw is None:
        return None
    try:
        return timeutil.parse_rfc3339(raw)
    except ValueError as exc:
        raise bad("GRN_REST_API_00220", f"{name} {raw!r} is not a valid date (RFC 3339 with an offset).") from exc


def _order(raw: str | None) -> tuple[str, bool]:
    if raw is None:
        return "updatedAt", False
    prop, _, direction = raw.strip().partition(" ")
    if prop not in ORDER_FIELDS or direction.strip() not in ("asc", "desc"):
        raise bad("GRN_REST_API_00202", f"orderBy {raw!r} is not '<createdAt|updatedAt|start> <asc|desc>'.")
    return prop, direction.strip() == "desc"


def _id_order(event_id: Any) -> tuple[int, int, str]:
    """Sort numeric ids as numbers, and anything a seed stored as an id after them."""
    text = str(event_id)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def _as_dict(value: Any) -> dict[str, Any]:
    """Seeded data may hold anything where an object belongs: read it as an empty one."""
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _order_value(item: dict[str, Any], key: str) -> str:
    if key == "start":
        return timeutil.utc_z(timeutil.parse_rfc3339(item["start"]["dateTime"])) if "start" in item else ""
    return str(item.get(key, ""))


def _time_object(value: Any, where: str) -> tuple[Any, dt.datetime]:
    if not isinstance(value, dict):
        raise bad("GRN_REST_API_00201", f"{where} is required: an object with dateTime and timeZone.")
    if "dateTime" not in value or "timeZone" not in value:
        raise bad("GRN_REST_API_00201", f"{where}.dateTime and {where}.timeZone are required.")
    zone_name = value["timeZone"]
    if not isinstance(zone_name, str) or zone_name not in GAROON_SUPPORTED_TIMEZONES:
        raise bad("GRN_REST_API_00221", f"{where}.timeZone {zone_name!r} is not a supported time zone.")
    try:
        instant = timeutil.parse_rfc3339(value["dateTime"])
    except ValueError as exc:
        raise bad(
            "GRN_REST_API_00220", f"{where}.dateTime {value['dateTime']!r} is not a valid RFC 3339 date-time."
        ) from exc
    return timeutil.zone(zone_name), instant


def _indexed(request: Request, name: str) -> list[str]:
    """Return values of ``name[0]``, ``name[1]``... (the user API's array parameters)."""
    values = []
    for key, items in request.query.items():
        if key == name or (key.startswith(name + "[") and key.endswith("]")):
            values.extend(items)
    return values


def _user_api_view(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user["userApiId"],
        "code": user["code"],
        "ctime": "2020-04-01T00:00:00Z",
        "mtime": "2024-04-01T00:00:00Z",
        "valid": True,
        "name": user["name"],
        "surName": user.get("surName", ""),
        "givenName": user.get("givenName", ""),
        "timezone": user.get("timezone", "Asia/Tokyo"),
        "locale": user.get("locale", "ja"),
        "email": user["email"],
        "employeeNumber": "",
    }
