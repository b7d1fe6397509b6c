"""Analysis tables from canonical rows: events, attendees and facility bookings, one row per occurrence.

Pure functions on DataFrames (series are expanded inside the window, so a weekly meeting counts every week);
:func:`write_partitioned` writes each table as Parquet and CSV partitioned by ``date=YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from calendar_etl.transforms import recurrence

EVENT_COLUMNS = [
    "date", "source_system", "source_key", "sync_key", "summary", "location", "all_day", "start_utc", "end_utc",
    "start_local", "timezone", "duration_minutes", "organizer_email", "organizer_name", "attendee_count", "facilities",
    "status", "visibility", "category",
]  # fmt: skip
ATTENDEE_COLUMNS = ["date", "source_key", "email", "name", "garoon_code", "partstat", "duration_minutes"]
FACILITY_COLUMNS = ["date", "source_key", "facility", "garoon_code", "start_utc", "end_utc", "duration_minutes"]
EXPANDED_FOR_EXPORT = "series expanded into occurrences for the export"


def occurrences(
    frame: pd.DataFrame, window: tuple[dt.datetime, dt.datetime], day_zone: str = "Asia/Tokyo"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (one row per occurrence inside the window, errors); all-day days are read in ``day_zone``."""
    expanded = recurrence.expand_series(frame, window[0], window[1], EXPANDED_FOR_EXPORT, recurrence.zone_of(day_zone))
    rows = expanded.events
    rows = rows[rows["status"] != "CANCELLED"].reset_index(drop=True)
    return rows, expanded.errors


def tables(rows: pd.DataFrame, default_zone: str = "Asia/Tokyo") -> dict[str, pd.DataFrame]:
    """Return the ``events``, ``attendees`` and ``facilities`` tables of occurrence rows."""
    if rows.empty:
        return {
            "events": pd.DataFrame(columns=EVENT_COLUMNS),
            "attendees": pd.DataFrame(columns=ATTENDEE_COLUMNS),
            "facilities": pd.DataFrame(columns=FACILITY_COLUMNS),
        }
    all_day = rows["all_day"].astype(bool)
    zones = rows["timezone"].astype(object).where(rows["timezone"].notna(), default_zone)
    day_start = pd.to_datetime(rows["start_date"].astype(object))
    local_start = pd.Series(
        [
            s.tz_convert(z).tz_localize(None) if not a else d
            for s, z, a, d in zip(rows["start"], zones, all_day, day_start, strict=True)
        ],
        index=rows.index,
    )
    minutes = ((rows["end"] - rows["start"]).dt.total_seconds() / 60).where(~all_day)
    days = (pd.to_datetime(rows["end_date"].astype(object)) - day_start).dt.days
    events = pd.DataFrame(
        {
            "date": local_start.dt.date.astype(str),
            "source_system": rows["source_system"].astype(str),
            "source_key": rows["source_key"].astype(str),
            "sync_key": rows["sync_key"].astype(str),
            "summary": rows["summary"].astype(str),
            "location": rows["location"].astype(object),
            "all_day": all_day,
            "start_utc": rows["start"],
            "end_utc": rows["end"],
            "start_local": local_start,
            "timezone": zones,
            "duration_minutes": minutes.where(~all_day, days * 24 * 60),
            "organizer_email": [_get(p, "email") for p in rows["organizer"]],
            "organizer_name": [_get(p, "name") for p in rows["organizer"]],
            "attendee_count": rows["attendees"].map(lambda a: 0 if a is None else len(a)),
            "facilities": rows["facilities"].map(
                lambda f: ", ".join(str(x.get("name") or x.get("garoon_code")) for x in f) if f is not None else ""
            ),
            "status": rows["status"].astype(str),
            "visibility": rows["visibility"].astype(str),
            "category": rows["category"].astype(object),
        }
    )
    people, rooms = [], []
    for event, attendees, facilities in zip(
        events.itertuples(index=False), rows["attendees"], rows["facilities"], strict=True
    ):
        for person in attendees if attendees is not None else []:
            people.append({"date": event.date, "source_key": event.source_key, "email": person.get("email"), "name": person.get("name"),
                           "garoon_code": person.get("garoon_code"), "partstat": person.get("partstat"), "duration_minutes": event.duration_minutes})  # fmt: skip
        for room in facilities if facilities is not None else []:
            rooms.append({"date": event.date, "source_key": event.source_key, "facility": room.get("name"), "garoon_code": room.get("garoon_code"),
                          "start_utc": event.start_utc, "end_utc": event.end_utc, "duration_minutes": event.duration_minutes})  # fmt: skip
    return {
        "events": events,
        "attendees": pd.DataFrame(
            people, columns=["date", "source_key", "email", "name", "garoon_code", "partstat", "duration_minutes"]
        ),
        "facilities": pd.DataFrame(
            rooms, columns=["date", "source_key", "facility", "garoon_code", "start_utc", "end_utc", "duration_minutes"]
        ),
    }


def _get(person: Any, key: str) -> Any:
    return person.get(key) if isinstance(person, dict) else None


def write_partitioned(table: pd.DataFrame, folder: Any, name: str) -> list[str]:
    """Write ``table`` as ``<folder>/<name>/date=YYYY-MM-DD/part.parquet`` and ``.csv``; return the files."""
    written = []
    for day, part in table.groupby("date", sort=True):
        target = folder / name / f"date={day}"
        target.mkdir(parents=True, exist_ok=True)
        body = part.drop(columns=["date"])
        with (target / "part.parquet").open("wb") as handle:
            body.to_parquet(handle, index=False)
        with (target / "part.csv").open("w") as handle:
            body.to_csv(handle, index=False)
        written += [str(target / "part.parquet"), str(target / "part.csv")]
    return written
