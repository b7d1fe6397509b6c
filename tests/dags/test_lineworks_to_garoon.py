"""lineworks_to_garoon through real Airflow (``dag.test``) against both emulators.

The events are created in LINE WORKS through its REST API, as the emulator's users (user tokens, each in their
own default calendar). Garoon's REST API cannot create repeating events, so every series must arrive as its
occurrences inside the window: each once, the cancelled one absent, the edited one with its new time and title,
all-day dates unchanged, each carrying its marker (``additionalItems.item.value``). What Garoon holds is read
from the emulator's state, not through the product.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from include.emulators.tenant import ADMIN_LOGIN, DEMO_PASSWORD
from tests.dags.conftest import DagHarness

pytestmark = pytest.mark.slow

TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
WINDOW = {"start": "2026-11-16", "end": "2026-12-10"}  # Tokyo days: [2026-11-16 00:00 JST, 2026-12-10 00:00 JST)
WINDOW_UTC = (dt.datetime(2026, 11, 15, 15, tzinfo=dt.UTC), dt.datetime(2026, 12, 9, 15, tzinfo=dt.UTC))
EXPANDED = "series expanded into occurrences"  # the start of the reason the report counts
SATO, TANAKA, CLARK = "sato-ken@demo.example.com", "tanaka-misaki@demo.example.com", "emily-clark@demo.example.com"


# ---------------------------------------------------------------------- LINE WORKS, as its users


def create_as(harness: DagHarness, email: str, *components: dict[str, Any]) -> str:
    """Create an event in ``email``'s default calendar with a user token (as that person would); return its id."""
    base = harness.emulators.lineworks.url
    token = requests.post(f"{base}/_emulator/user-token", json={"email": email}, timeout=30).json()["access_token"]
    response = requests.post(
        f"{base}/v1.0/users/me/calendar/events",
        json={"eventComponents": list(components), "sendNotification": False},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["eventComponents"][0]["eventId"])


def timed(summary: str, start: dt.datetime, minutes: int, **extra: Any) -> dict[str, Any]:
    zone = str(start.tzinfo)
    end = start + dt.timedelta(minutes=minutes)
    return {"summary": summary, "start": {"dateTime": f"{start:%Y-%m-%dT%H:%M:%S}", "timeZone": zone},
            "end": {"dateTime": f"{end:%Y-%m-%dT%H:%M:%S}", "timeZone": zone}, **extra}  # fmt: skip


def all_day(summary: str, first: dt.date, days: int = 1) -> dict[str, Any]:
    return {"summary": summary, "start": {"date": first.isoformat()},
            "end": {"date": (first + dt.timedelta(days=days)).isoformat()}}  # fmt: skip


def attendee(email: str) -> dict[str, Any]:
    return {"email": email, "partstat": "ACCEPTED"}


# ---------------------------------------------------------------------- Garoon, read independently


def garoon_created(harness: DagHarness) -> list[dict[str, Any]]:
    """Every event Garoon holds that carries a LINE WORKS marker (from ``/_emulator/state``, not the product)."""
    events = harness.garoon.state()["events"]
    return [e for e in events if str(marker(e) or "").startswith("lineworks:")]


def marker(event: dict[str, Any]) -> str | None:
    return ((event.get("additionalItems") or {}).get("item") or {}).get("value")


def instant(value: dict[str, str]) -> dt.datetime:
    return dt.datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00")).astimezone(dt.UTC)


def utc(day: dt.datetime) -> dt.datetime:
    return day.astimezone(dt.UTC)


def rid(start: dt.datetime) -> str:
    """The recurrence id the marker of an expanded occurrence ends with: the original start in UTC."""
    return f"{utc(start):%Y%m%dT%H%M%SZ}"


def inside(start: dt.datetime, end: dt.datetime) -> bool:
    return start < WINDOW_UTC[1] and end > WINDOW_UTC[0]


# ---------------------------------------------------------------------- the scenario


def seed_scenario(harness: DagHarness) -> dict[str, Any]:
    """Create the scenario's events in LINE WORKS; return what Garoon must hold afterwards, keyed by marker."""
    expected: dict[str, dict[str, Any]] = {}
    outside: list[str] = []

    # A weekly series (Mondays 10:00 JST, 8 times from 11-02) with an EXDATE (11-23) and an edited exception
    # (11-30 moved to 14:00 for 90 minutes, new title); an attendee from another calendar.
    weekly_days = [dt.datetime(2026, 11, 2, 10, tzinfo=TOKYO) + dt.timedelta(weeks=k) for k in range(8)]
    cancelled, edited = weekly_days[3], weekly_days[4]
    new_start = edited.replace(hour=14)
    weekly = create_as(
        harness, SATO,
        timed("週次定例（営業部）", weekly_days[0], 60, attendees=[attendee(TANAKA)],
              recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=8", f"EXDATE;TZID=Asia/Tokyo:{cancelled:%Y%m%dT%H%M%S}"]),
        timed("週次定例（営業部）: 時間変更", new_start, 90, attendees=[attendee(TANAKA)],
              recurringEventId=f"TZID=Asia/Tokyo:{edited:%Y%m%dT%H%M%S}"),
    )  # fmt: skip
    for start in weekly_days:
        key = f"lineworks:{weekly}:{rid(start)}"
        if start == cancelled:
            continue
        begin, minutes, title = (
            (new_start, 90, "週次定例（営業部）: 時間変更") if start == edited else (start, 60, "週次定例（営業部）")
        )
        if inside(utc(begin), utc(begin + dt.timedelta(minutes=minutes))):
            expected[key] = {"subject": title, "start": utc(begin), "end": utc(begin + dt.timedelta(minutes=minutes))}
        else:
            outside.append(key)

    # A daily series in Los Angeles (17:00 PST = 01:00 UTC the next day) running through the whole window.
    daily_first = dt.datetime(2026, 11, 10, 17, tzinfo=LOS_ANGELES)
    daily = create_as(harness, CLARK, timed("Daily stand-up (US team)", daily_first, 30,
                                            recurrence=["RRULE:FREQ=DAILY;UNTIL=20261212T000000Z"]))  # fmt: skip
    day = daily_first
    while utc(day) <= dt.datetime(2026, 12, 12, tzinfo=dt.UTC):
        key = f"lineworks:{daily}:{rid(day)}"
        if inside(utc(day), utc(day + dt.timedelta(minutes=30))):
            expected[key] = {"subject": "Daily stand-up (US team)", "start": utc(day),
                             "end": utc(day + dt.timedelta(minutes=30))}  # fmt: skip
        else:
            outside.append(key)
        day = (day.replace(tzinfo=None) + dt.timedelta(days=1)).replace(tzinfo=LOS_ANGELES)

    # Single timed events, one inside the window and one after it.
    meeting = dt.datetime(2026, 11, 18, 13, tzinfo=TOKYO)
    single = create_as(
        harness, SATO, timed("顧客打合せ（株式会社サンプル商事）", meeting, 60, attendees=[attendee(CLARK)])
    )
    expected[f"lineworks:{single}"] = {"subject": "顧客打合せ（株式会社サンプル商事）", "start": utc(meeting),
                                       "end": utc(meeting + dt.timedelta(hours=1))}  # fmt: skip
    later = create_as(harness, SATO, timed("Later meeting", dt.datetime(2026, 12, 15, 13, tzinfo=TOKYO), 60))
    outside.append(f"lineworks:{later}")

    # All-day events: one day, three days (in a Los Angeles user's calendar), and one after the window.
    holiday = create_as(harness, TANAKA, all_day("有給休暇", dt.date(2026, 11, 20)))
    expected[f"lineworks:{holiday}"] = {"subject": "有給休暇", "dates": ("2026-11-20", "2026-11-20")}
    trip = create_as(harness, CLARK, all_day("Offsite in Kyoto", dt.date(2026, 11, 26), days=3))
    expected[f"lineworks:{trip}"] = {"subject": "Offsite in Kyoto", "dates": ("2026-11-26", "2026-11-28")}
    winter = create_as(harness, TANAKA, all_day("年末休暇", dt.date(2026, 12, 28), days=3))
    outside.append(f"lineworks:{winter}")
    return {"expected": expected, "outside": outside, "weekly": weekly, "daily": daily,
            "cancelled": f"lineworks:{weekly}:{rid(cancelled)}", "edited": f"lineworks:{weekly}:{rid(edited)}"}  # fmt: skip


def assert_lands(created: list[dict[str, Any]], expected: dict[str, dict[str, Any]]) -> None:
    """Garoon holds exactly the expected events, once each, at their times (or on their dates)."""
    counts = collections.Counter(marker(e) for e in created)
    twice = sorted(k for k, n in counts.items() if n > 1)
    assert not twice, f"written more than once: {twice}"
    unexpected = [f"{e['subject']!r} {e['start']['dateTime']}..{e.get('end', {}).get('dateTime')} ({marker(e)})"
                  for e in created if marker(e) not in expected]  # fmt: skip
    assert sorted(counts) == sorted(expected), f"missing {sorted(set(expected) - set(counts))}; unexpected {unexpected}"
    for event in created:
        want = expected[str(marker(event))]
        assert event["subject"] == want["subject"], marker(event)
        if "dates" in want:
            assert event["eventType"] == "ALL_DAY", marker(event)
            assert (event["start"]["dateTime"][:10], event["end"]["dateTime"][:10]) == want["dates"], marker(event)
        else:
            assert event["eventType"] == "REGULAR", marker(event)
            assert (instant(event["start"]), instant(event["end"])) == (want["start"], want["end"]), marker(event)


# ---------------------------------------------------------------------- tests


def test_series_land_as_their_occurrences_inside_the_window(dags: DagHarness) -> None:
    scenario = seed_scenario(dags)
    expected = scenario["expected"]
    before = dags.garoon.next_seq()
    run = dags.run("lineworks_to_garoon", WINDOW)
    assert run.state == "success"
    created = garoon_created(dags)
    assert_lands(created, expected)
    markers = {marker(e) for e in created}
    assert scenario["cancelled"] not in markers, "the cancelled occurrence was written"
    assert not markers & set(scenario["outside"]), f"written outside the window: {markers & set(scenario['outside'])}"
    edited = next(e for e in created if marker(e) == scenario["edited"])
    assert instant(edited["start"]).astimezone(TOKYO).hour == 14 and edited["subject"].endswith("時間変更")
    weekly = [e for e in created if str(marker(e)).startswith(f"lineworks:{scenario['weekly']}:")]
    assert len(weekly) == 3  # 11-16, 11-30 (edited), 12-07; 11-23 cancelled
    assert all("tanaka-misaki" in {a["code"] for a in e["attendees"]} for e in weekly), "the attendee was lost"

    report = dags.report(run)
    occurrences = sum(1 for k in expected if k.count(":") == 2)
    assert occurrences == 3 + 24
    reasons = {k: n for k, n in report["degradations"].items() if k.startswith(EXPANDED)}
    assert reasons, f"the report does not record the expansion: {report['degradations']}"
    assert sum(reasons.values()) == occurrences
    assert report["totals"]["created"] == len(expected) == len(created)
    assert report["totals"]["failed"] == 0 and report["not_convertible"] == []
    assert len([r for r in dags.garoon_writes(since=before - 1) if r["method"] == "POST"]) == len(expected)


def test_second_run_makes_no_garoon_write_calls(dags: DagHarness) -> None:
    scenario = seed_scenario(dags)
    assert dags.run("lineworks_to_garoon", WINDOW).state == "success"
    before = dags.garoon.next_seq()
    second = dags.run("lineworks_to_garoon", WINDOW)
    assert second.state == "success"
    assert dags.garoon_writes(since=before - 1) == []
    totals = dags.report(second)["totals"]
    assert totals["created"] == totals["updated"] == totals["deleted"] == 0
    assert totals["skipped"] == len(scenario["expected"])
    assert_lands(garoon_created(dags), scenario["expected"])


def test_occurrences_moved_across_the_window_edges_follow_their_new_dates(dags: DagHarness) -> None:
    """An occurrence moved into the window is written at its new time; one moved out of it is not written.

    Weekly on Tuesdays 09:00 JST from 11-03, 7 times: 11-10 (before the window) moved to 11-17 18:00 (inside);
    12-08 (inside) moved to 12-11 (after the window).
    """
    first = dt.datetime(2026, 11, 3, 9, tzinfo=TOKYO)
    days = [first + dt.timedelta(weeks=k) for k in range(7)]  # 11-03 .. 12-15
    moved_in, moved_in_to = days[1], dt.datetime(2026, 11, 17, 18, tzinfo=TOKYO)
    moved_out, moved_out_to = days[5], dt.datetime(2026, 12, 11, 9, tzinfo=TOKYO)
    event = create_as(
        dags, TANAKA,
        timed("Design review", first, 60, recurrence=["RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=7"]),
        timed("Design review (moved in)", moved_in_to, 60, recurringEventId=f"TZID=Asia/Tokyo:{moved_in:%Y%m%dT%H%M%S}"),
        timed("Design review (moved out)", moved_out_to, 60, recurringEventId=f"TZID=Asia/Tokyo:{moved_out:%Y%m%dT%H%M%S}"),
    )  # fmt: skip
    expected = {
        f"lineworks:{event}:{rid(moved_in)}": {"subject": "Design review (moved in)", "start": utc(moved_in_to),
                                               "end": utc(moved_in_to + dt.timedelta(hours=1))},
    }  # fmt: skip
    for start in days[2:5]:  # 11-17, 11-24, 12-01 (12-08 moved out, 12-15 after the window)
        expected[f"lineworks:{event}:{rid(start)}"] = {"subject": "Design review", "start": utc(start),
                                                      "end": utc(start + dt.timedelta(hours=1))}  # fmt: skip
    run = dags.run("lineworks_to_garoon", WINDOW)
    assert run.state == "success"
    assert_lands(garoon_created(dags), expected)


def test_all_day_events_at_the_window_edges(dags: DagHarness) -> None:
    """The window is whole days in Asia/Tokyo; all-day events are dates, whichever calendar holds them.

    A Los Angeles user's all-day events on the day before the window and the day after it stay out (in UTC their
    calendar's midnights overlap the window's ends); the window's first and last days are in.
    """
    expected = {}
    for email, day in ((CLARK, dt.date(2026, 11, 16)), (CLARK, dt.date(2026, 12, 9)), (SATO, dt.date(2026, 12, 9))):
        event = create_as(dags, email, all_day(f"In {day} ({email.split('@')[0]})", day))
        expected[f"lineworks:{event}"] = {"subject": f"In {day} ({email.split('@')[0]})", "dates": (str(day), str(day))}
    for email, day in ((CLARK, dt.date(2026, 11, 15)), (CLARK, dt.date(2026, 12, 10)), (SATO, dt.date(2026, 11, 15))):
        create_as(dags, email, all_day(f"Out {day} ({email.split('@')[0]})", day))
    run = dags.run("lineworks_to_garoon", WINDOW)
    assert run.state == "success"
    assert_lands(garoon_created(dags), expected)


def test_all_day_series_at_the_window_edges(dags: DagHarness) -> None:
    """A daily all-day series from 11-12 to 12-12 lands as the window's days only: 11-16 .. 12-09."""
    series = create_as(dags, SATO, {**all_day("出張（大阪支社）", dt.date(2026, 11, 12)),
                                    "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20261212"]})  # fmt: skip
    expected = {}
    day = dt.date(2026, 11, 16)
    while day < dt.date(2026, 12, 10):
        expected[f"lineworks:{series}:{day:%Y%m%d}"] = {"subject": "出張（大阪支社）", "dates": (str(day), str(day))}
        day += dt.timedelta(days=1)
    run = dags.run("lineworks_to_garoon", WINDOW)
    assert run.state == "success"
    assert_lands(garoon_created(dags), expected)


def test_organizer_finds_the_event_in_their_own_garoon_schedule(dags: DagHarness) -> None:
    """An organizer who invited someone still has the meeting in their own Garoon schedule.

    LINE WORKS lists the organizer apart from the attendees; Garoon shows a user the events they attend (or
    created; here the connection's user creates them). Listing the organizer's schedule must find the meeting.
    """
    meeting = dt.datetime(2026, 11, 18, 13, tzinfo=TOKYO)
    event = create_as(dags, SATO, timed("顧客打合せ", meeting, 60, attendees=[attendee(TANAKA)]))
    assert dags.run("lineworks_to_garoon", WINDOW).state == "success"
    base = dags.emulators.garoon.url
    auth = {"X-Cybozu-Authorization": base64.b64encode(f"{ADMIN_LOGIN}:{DEMO_PASSWORD}".encode()).decode()}
    users = requests.get(f"{base}/g/api/v1/base/users", params={"limit": 1000}, headers=auth, timeout=30).json()
    ids = {u["code"]: u["id"] for u in users["users"]}
    for code in ("sato-ken", "tanaka-misaki"):
        listed = requests.get(
            f"{base}/g/api/v1/schedule/events",
            params={"rangeStart": "2026-11-18T00:00:00Z", "rangeEnd": "2026-11-19T00:00:00Z", "target": ids[code],
                    "targetType": "user", "limit": 1000},
            headers=auth, timeout=30,
        ).json()["events"]  # fmt: skip
        assert f"lineworks:{event}" in {marker(e) for e in listed}, f"not in {code}'s Garoon schedule"
