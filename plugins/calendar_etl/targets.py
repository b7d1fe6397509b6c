"""The targets: turn canonical rows into write units for LINE WORKS or Garoon, write them, and find them again.

``*_writes`` (pure) give the units the planner compares with the ledger; the ``*Writer`` classes apply one
planned unit through a hook; ``rebuild_*`` read back what this pipeline created when the ledger was lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from calendar_etl import model
from calendar_etl.hooks.errors import NotFoundError
from calendar_etl.isolation import convert_apart
from calendar_etl.transforms import recurrence
from calendar_etl.transforms.garoon import canonical_to_garoon
from calendar_etl.transforms.lineworks import (
    EVENT_ID_PREFIX,
    canonical_to_lineworks,
    event_id_for,
    prepare_for_lineworks,
)

if TYPE_CHECKING:
    from calendar_etl.hooks.garoon import GaroonHook
    from calendar_etl.hooks.lineworks import LineWorksHook
    from calendar_etl.ledger import Ledger

WRITE_COLUMNS = ["sync_key", "owner", "payload", "content_hash", "event_start", "reasons"]
EXPANDED_FOR_GAROON = "series expanded into occurrences (Garoon's REST API cannot create repeating events)"


def _unit_starts(frame: pd.DataFrame) -> pd.Series:
    """Return the earliest start instant per sync key (all-day dates at 00:00 UTC)."""
    days = pd.to_datetime(frame["start_date"].astype(object)).dt.tz_localize("UTC")
    start = frame["start"].where(frame["start"].notna(), days)
    return start.groupby(frame["sync_key"]).min()


def _start_of(keys: pd.Series, starts: pd.Series) -> pd.Series:
    """Return each unit's start (pandas cannot map an empty key Series through an empty datetime Series)."""
    return keys.map(starts) if len(keys) else pd.Series(pd.NaT, index=keys.index, dtype="datetime64[ns, UTC]")


def _hash(payload: Any) -> str | None:
    return hashlib.sha256(payload.encode("utf-8")).hexdigest() if isinstance(payload, str) else None


def _by_unit(frame: pd.DataFrame) -> Callable[[], list[tuple[str, pd.DataFrame]]]:
    """The parts :func:`convert_apart` converts one by one when a whole frame fails: each unit's rows."""
    return lambda: [(str(key), rows) for key, rows in frame.groupby("sync_key", sort=False)]


def _join_writes(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=WRITE_COLUMNS)


def lineworks_writes(
    frame: pd.DataFrame, window: tuple[dt.datetime, dt.datetime] | None, *, need_owner: bool = True
) -> model.Converted:
    """Return LINE WORKS write units (``WRITE_COLUMNS``) for canonical rows, and per-item errors.

    The content hash is the hash of the exact request body, so it covers precisely what LINE WORKS can
    express: a change it cannot show never causes a write. With ``need_owner`` (events go to their organizers'
    calendars), a unit nobody on it can own in LINE WORKS is an error naming it, not a failed write. A unit the
    converters raise on is such an error too (:func:`convert_apart`).
    """
    return convert_apart(lambda f: _lineworks_writes(f, window, need_owner), frame, _by_unit(frame), _join_writes)


def _lineworks_writes(
    frame: pd.DataFrame, window: tuple[dt.datetime, dt.datetime] | None, need_owner: bool
) -> model.Converted:
    prepared = prepare_for_lineworks(frame, window)
    converted = canonical_to_lineworks(prepared.events)
    writes = converted.events
    starts = _unit_starts(prepared.events)
    out = pd.DataFrame(
        {
            "sync_key": writes["sync_key"],
            "owner": writes["owner"],
            "payload": [p if isinstance(p, str) else None for p in writes["payload"]],
            "content_hash": [_hash(p) for p in writes["payload"]],
            "event_start": _start_of(writes["sync_key"], starts),
            "reasons": writes["reasons"],
        },
        columns=WRITE_COLUMNS,
    ).astype({"payload": object})
    # pandas 3 infers a str dtype that turns None into NaN; payload and owner stay objects with None.
    out["payload"] = pd.Series([p if isinstance(p, str) else None for p in writes["payload"]], dtype=object)
    out["owner"] = pd.Series([o if isinstance(o, str) else None for o in out["owner"]], dtype=object)
    errors = pd.concat([prepared.errors, converted.errors], ignore_index=True)
    if need_owner:
        homeless = out["owner"].isna() & out["payload"].notna()
        if homeless.any():
            problem = ("nobody on the event has a LINE WORKS account, so it has no calendar to go to; "
                       "set target_calendar (and calendar_user) to place such events in a shared calendar")  # fmt: skip
            errors = pd.concat(
                [errors, model.errors_frame((k, problem) for k in out.loc[homeless, "sync_key"])], ignore_index=True
            )
            out = out[~homeless].reset_index(drop=True)
    return model.Converted(out, errors)


def garoon_writes(
    frame: pd.DataFrame,
    window: tuple[dt.datetime, dt.datetime],
    *,
    default_zone: str,
    fallback_attendee: dict[str, str] | None,
) -> model.Converted:
    """Return Garoon write units: series expanded into the window's occurrences, one create body each."""
    return convert_apart(
        lambda f: _garoon_writes(f, window, default_zone, fallback_attendee), frame, _by_unit(frame), _join_writes
    )


def _garoon_writes(
    frame: pd.DataFrame,
    window: tuple[dt.datetime, dt.datetime],
    default_zone: str,
    fallback_attendee: dict[str, str] | None,
) -> model.Converted:
    day_zone = recurrence.zone_of(default_zone)
    expanded = recurrence.expand_series(frame, window[0], window[1], EXPANDED_FOR_GAROON, day_zone)
    converted = canonical_to_garoon(expanded.events, default_zone=default_zone, fallback_attendee=fallback_attendee)
    writes = converted.events
    starts = _unit_starts(expanded.events)
    owners = expanded.events.groupby("sync_key")["organizer"].first()
    out = pd.DataFrame(
        {
            "sync_key": writes["sync_key"],
            "owner": [_owner_code(owners.get(k)) for k in writes["sync_key"]],
            "payload": writes["payload"],
            "content_hash": [_hash(p) for p in writes["payload"]],
            "event_start": _start_of(writes["sync_key"], starts),
            "reasons": writes["reasons"],
        },
        columns=WRITE_COLUMNS,
    )
    cancelled = expanded.events[(expanded.events["status"] == "CANCELLED") & (expanded.events["kind"] == "single")]
    if len(cancelled):
        gone = pd.DataFrame({"sync_key": cancelled["sync_key"], "owner": None, "payload": None, "content_hash": None,
                             "event_start": cancelled["sync_key"].map(starts), "reasons": [["cancelled in the source"]] * len(cancelled)})  # fmt: skip
        out = pd.concat([out, gone], ignore_index=True)
    return model.Converted(out, pd.concat([expanded.errors, converted.errors], ignore_index=True))


def _owner_code(person: Any) -> str | None:
    if isinstance(person, dict):
        return person.get("garoon_code") or person.get("email")
    return None


# ---------------------------------------------------------------------- LINE WORKS


def copies_from_target(frame: pd.DataFrame, target: str, ledger: Ledger) -> pd.Series:
    """Return which source rows are copies this project made of the target's own events.

    With ``garoon_to_lineworks`` and ``lineworks_to_garoon`` both running over the same people, each would copy the
    other's copies back, and every event would multiply. A Garoon event written by this project carries the
    LINE WORKS sync key as its marker; a LINE WORKS event written from Garoon is one whose id the ledger holds as
    the target of a Garoon sync key (the ledger is shared by the pipelines unless they are given different ones).
    """
    if frame.empty:
        return pd.Series(False, index=frame.index)
    if target == "lineworks":
        markers = frame["marker"].astype("string").fillna("")
        return frame["source_system"].eq("garoon") & markers.str.startswith("lineworks:")
    written = {LineWorksWriter.parse_key(key)[2] for key in ledger.target_keys("garoon:")}
    event_ids = frame["sync_key"].astype("string").str.removeprefix("lineworks:")
    return frame["source_system"].eq("lineworks") & event_ids.isin(written)



class LineWorksWriter:
    """Applies planned units to LINE WORKS calendars.

    :param calendar: ``None``/``"default"`` for each owner's default calendar, or a calendar id.
    :param calendar_user: the member through whom a calendar id is written (default: the unit's owner).
    :param send_notification: mail the attendees (off: a migration must not mail everybody).
    """

    def __init__(
        self,
        hook: LineWorksHook,
        *,
        calendar: str | None = None,
        calendar_user: str | None = None,
        send_notification: bool = False,
    ) -> None:
        self.hook = hook
        self.calendar = None if calendar in (None, "", "default") else calendar
        self.calendar_user = calendar_user
        self.send_notification = send_notification

    def _where(self, item: dict[str, Any]) -> tuple[str, str | None]:
        user = self.calendar_user if self.calendar and self.calendar_user else item.get("owner")
        if not isinstance(user, str) or not user:
            raise ValueError(
                f"{item['sync_key']}: nobody on the event has a LINE WORKS account and no target calendar user is set"
            )
        return user, self.calendar

    @staticmethod
    def _key(user: str, calendar: str | None, event_id: str) -> str:
        return f"{user}|{calendar or 'default'}|{event_id}"

    @staticmethod
    def parse_key(target_key: str) -> tuple[str, str | None, str]:
        """Return (user, calendar or None for the default one, event id) of a target key this writer made."""
        user, calendar, event_id = target_key.split("|", 2)
        return user, None if calendar == "default" else calendar, event_id

    def create(self, item: dict[str, Any]) -> str:
        user, calendar = self._where(item)
        components = json.loads(item["payload"])["eventComponents"]
        stored = self.hook.create_event(user, calendar, components, send_notification=self.send_notification)
        event_id = components[0]["eventId"]
        if _master(stored) != _master({"eventComponents": components}):
            # 409: the id existed (an earlier run whose ledger is gone): make it hold this content.
            self.hook.update_event(user, calendar, event_id, components, send_notification=self.send_notification)
        return self._key(user, calendar, event_id)

    def update(self, item: dict[str, Any]) -> str:
        if not item.get("target_key"):
            return self.create(item)
        user, calendar, event_id = self.parse_key(item["target_key"])
        components = json.loads(item["payload"])["eventComponents"]
        try:
            self.hook.update_event(user, calendar, event_id, components, send_notification=self.send_notification)
        except NotFoundError:  # deleted in LINE WORKS by a person: put it back
            self.hook.create_event(user, calendar, components, send_notification=self.send_notification)
        return self._key(user, calendar, event_id)

    def delete(self, item: dict[str, Any]) -> str:
        target = item.get("target_key") or self._key(*self._where(item), event_id_for(item["sync_key"]))
        user, calendar, event_id = self.parse_key(target)
        if not event_id.startswith(EVENT_ID_PREFIX):
            raise ValueError(f"{item['sync_key']}: refusing to delete {event_id!r}, which this project did not create")
        self.hook.delete_event(user, calendar, event_id, send_notification=self.send_notification)
        return target

    def resume(self, item: dict[str, Any]) -> str | None:
        if item.get("target_key"):
            return str(item["target_key"])
        if item["action"] == "delete" or not item.get("payload"):
            return None
        user, calendar = self._where(item)
        event_id = event_id_for(item["sync_key"])
        try:
            self.hook.get_event(user, calendar, event_id)
        except NotFoundError:
            return None
        return self._key(user, calendar, event_id)


def _master(event: dict[str, Any]) -> tuple[Any, ...]:
    components = event.get("eventComponents") or [{}]
    master = components[0]
    return (master.get("summary"), json.dumps(master.get("start"), sort_keys=True), len(components))


def rebuild_lineworks(
    hook: LineWorksHook,
    units: pd.DataFrame,
    window: tuple[dt.datetime, dt.datetime],
    *,
    calendar: str | None,
    calendar_user: str | None,
) -> pd.DataFrame:
    """Return ledger rows for the units that already exist in LINE WORKS, found by their deterministic ids.

    One list call per calendar and 31 days (not one call per unit). The content hash is kept only when what
    LINE WORKS holds matches the planned body, so a differing event is updated once and an equal one is not.
    """
    writer = LineWorksWriter(hook, calendar=calendar, calendar_user=calendar_user)
    by_id = {event_id_for(k): unit for k, unit in zip(units["sync_key"], units.itertuples(index=False), strict=True)}
    places = {
        writer._where({"sync_key": u.sync_key, "owner": u.owner})
        for u in units.itertuples(index=False)
        if isinstance(u.owner, str)
    }
    rows = []
    for user, cal in sorted(places, key=str):
        for stored in hook.iter_events(user, cal, window[0] - dt.timedelta(days=1), window[1] + dt.timedelta(days=1)):
            event_id = str(stored["eventComponents"][0].get("eventId"))
            unit = by_id.pop(event_id, None)
            if unit is None:
                continue
            same = unit.payload is not None and same_content(stored, json.loads(unit.payload))
            rows.append({"sync_key": unit.sync_key, "target_key": writer._key(user, cal, event_id), "owner": unit.owner,
                         "content_hash": unit.content_hash if same else None, "event_start": _py(unit.event_start)})  # fmt: skip
    return pd.DataFrame(rows, columns=["sync_key", "target_key", "owner", "content_hash", "event_start"])


def same_content(stored: Any, wanted: Any) -> bool:
    """Return True when everything in ``wanted`` (a request body) is in ``stored`` (what the API returns)."""
    if isinstance(wanted, dict):
        if not isinstance(stored, dict):
            return False
        if "eventComponents" in wanted:
            mine = {c.get("recurringEventId"): c for c in stored.get("eventComponents") or []}
            return len(mine) == len(wanted["eventComponents"]) and all(
                same_content(mine.get(c.get("recurringEventId")), c) for c in wanted["eventComponents"]
            )
        return all(same_content(stored.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(wanted)
            and all(same_content(s, w) for s, w in zip(stored, wanted, strict=True))
        )
    return bool(stored == wanted)


def _py(value: Any) -> Any:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


# ---------------------------------------------------------------------- Garoon


class GaroonWriter:
    """Applies planned units to Garoon; every event carries its sync key as a marker so it can be found again."""

    def __init__(self, hook: GaroonHook) -> None:
        self.hook = hook

    def create(self, item: dict[str, Any]) -> str:
        body = json.loads(item["payload"])
        stored = self.hook.create_event(body, marker=item["sync_key"], search_target=_target(body))
        return str(stored["id"])

    def update(self, item: dict[str, Any]) -> str:
        if not item.get("target_key"):
            return self.create(item)
        body = json.loads(item["payload"])
        body.pop("eventType", None)  # PATCH keeps the type it was created with
        try:
            self.hook.update_event(str(item["target_key"]), body)
        except NotFoundError:
            return self.create(item)
        return str(item["target_key"])

    def delete(self, item: dict[str, Any]) -> str:
        target = item.get("target_key")
        if not target:
            raise ValueError(f"{item['sync_key']}: no Garoon event id recorded; nothing of ours to delete")
        stored = _get(self.hook, str(target))
        if stored is not None:
            marker = ((stored.get("additionalItems") or {}).get("item") or {}).get("value")
            if marker != item["sync_key"]:
                raise ValueError(
                    f"{item['sync_key']}: Garoon event {target} carries marker {marker!r}, not ours; left alone"
                )
            self.hook.delete_event(str(target))
        return str(target)

    def resume(self, item: dict[str, Any]) -> str | None:
        if item.get("target_key"):
            return str(item["target_key"])
        if not item.get("payload"):
            return None
        body = json.loads(item["payload"])
        start, end = self.hook._window_of(body)
        found = self.hook.find_by_marker(item["sync_key"], start, end, target=_target(body))
        return str(found[0]["id"]) if found else None


def _get(hook: GaroonHook, event_id: str) -> dict[str, Any] | None:
    try:
        return hook.get_event(event_id)
    except NotFoundError:
        return None


def _target(body: dict[str, Any]) -> str | None:
    for attendee in body.get("attendees") or []:
        if attendee.get("type") == "USER" and attendee.get("id"):
            return str(attendee["id"])
    return None


def rebuild_garoon(
    hook: GaroonHook, window: tuple[dt.datetime, dt.datetime], pipeline_keys: Iterable[str], users: Iterable[str]
) -> pd.DataFrame:
    """Return ledger rows for Garoon events in ``window`` whose marker is one of ``pipeline_keys``."""
    wanted = set(pipeline_keys)
    rows: dict[str, dict[str, Any]] = {}
    for user in users:
        for event in hook.iter_events(window[0], window[1], target=user, target_type="user"):
            marker = ((event.get("additionalItems") or {}).get("item") or {}).get("value")
            if marker in wanted and marker not in rows:
                start = pd.Timestamp(event["start"]["dateTime"]).tz_convert("UTC")
                rows[marker] = {"sync_key": marker, "target_key": str(event["id"]), "owner": None, "content_hash": None,
                                "event_start": start.to_pydatetime()}  # fmt: skip
    return pd.DataFrame(list(rows.values()), columns=["sync_key", "target_key", "owner", "content_hash", "event_start"])
