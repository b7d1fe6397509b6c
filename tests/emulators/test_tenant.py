"""Tests for the deterministic demo tenant shared by the API emulators."""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from include.emulators.garoon_zones import GAROON_SUPPORTED_TIMEZONES
from include.emulators.tenant import (
    ADMIN_EMAIL,
    ADMIN_LOGIN,
    DEMO_PASSWORD,
    EMAIL_DOMAIN,
    LINEWORKS_DOMAIN_ID,
    LINEWORKS_ONLY_EMAIL,
    REPEAT_TYPES,
    DemoTenant,
    demo_tenant,
    expected_repeat_dates,
)

ANCHOR = datetime.date(2026, 11, 21)
DAYS = 30
FIRST_DAY = ANCHOR - datetime.timedelta(days=DAYS)
LAST_DAY = ANCHOR + datetime.timedelta(days=DAYS - 1)
SEEDS = (0, 1, 7, 42)
D = datetime.date


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    """Return the tenant for the reference anchor and seed 0."""
    return demo_tenant(ANCHOR, 0)


@pytest.fixture(scope="module", params=SEEDS)
def any_tenant(request: pytest.FixtureRequest) -> DemoTenant:
    """Return tenants for several seeds (properties must hold for all)."""
    return demo_tenant(ANCHOR, request.param)


def _parse(value: str) -> datetime.datetime:
    """Return an aware datetime from an RFC 3339 string."""
    moment = datetime.datetime.fromisoformat(value)
    assert moment.tzinfo is not None, value
    return moment


def _masters(tenant: DemoTenant) -> list[dict[str, Any]]:
    """Return the REPEATING series masters."""
    return [e for e in tenant.garoon_events if e["eventType"] == "REPEATING" and "repeatId" not in e]


def _overrides(tenant: DemoTenant) -> list[dict[str, Any]]:
    """Return the edited-occurrence objects."""
    return [e for e in tenant.garoon_events if "repeatId" in e]


def _one_offs(tenant: DemoTenant) -> list[dict[str, Any]]:
    """Return the non-repeating events."""
    return [e for e in tenant.garoon_events if e["eventType"] != "REPEATING"]


def _local_start(event: dict[str, Any]) -> datetime.datetime:
    """Return the event start in its own zone."""
    return _parse(event["start"]["dateTime"]).astimezone(ZoneInfo(event["start"]["timeZone"]))


def _local_end(event: dict[str, Any]) -> datetime.datetime:
    """Return the event end in its own zone."""
    return _parse(event["end"]["dateTime"]).astimezone(ZoneInfo(event["end"]["timeZone"]))


def _is_timed_single_day(event: dict[str, Any]) -> bool:
    """Return whether the event is a REGULAR timed event within one local day."""
    return (
        event["eventType"] == "REGULAR"
        and not event["isAllDay"]
        and not event["isStartOnly"]
        and _local_start(event).date() == _local_end(event).date()
    )


def _all_date_times(event: dict[str, Any]) -> list[tuple[str, str]]:
    """Return every (dateTime, zone) pair in the event, exclusions included."""
    pairs = [(event[key]["dateTime"], event[key]["timeZone"]) for key in ("start", "end") if key in event]
    info = event.get("repeatInfo")
    if info:
        for exclusion in info["exclusiveDateTimes"]:
            pairs += [(exclusion["start"], info["timeZone"]), (exclusion["end"], info["timeZone"])]
    return pairs


# -- determinism -----------------------------------------------------------------------


def test_same_anchor_and_seed_give_identical_tenant() -> None:
    assert demo_tenant(ANCHOR, 3) == demo_tenant(ANCHOR, 3)


def test_different_seed_gives_different_events_and_user_ids() -> None:
    first, second = demo_tenant(ANCHOR, 0), demo_tenant(ANCHOR, 1)
    assert first.garoon_events != second.garoon_events
    assert [u["userId"] for u in first.lineworks_users] != [u["userId"] for u in second.lineworks_users]


def test_events_move_with_the_anchor() -> None:
    later = demo_tenant(ANCHOR + datetime.timedelta(days=100), 0)
    starts = [_local_start(e).date() for e in _one_offs(later)]
    assert min(starts) >= FIRST_DAY + datetime.timedelta(days=100)


def test_rejects_an_empty_range() -> None:
    with pytest.raises(ValueError):
        demo_tenant(ANCHOR, 0, days_before=0, days_after=0)


# -- directory ---------------------------------------------------------------------------


def test_counts_are_in_range(any_tenant: DemoTenant) -> None:
    assert 18 <= len(any_tenant.garoon_users) <= 25
    assert 3 <= len(any_tenant.garoon_organizations) <= 4
    assert 4 <= len(any_tenant.garoon_facilities) <= 5
    assert 250 <= len(any_tenant.garoon_events) <= 400
    assert len(any_tenant.lineworks_users) == len(any_tenant.garoon_users) - 3 + 1


def test_administrator_is_the_first_garoon_user(tenant: DemoTenant) -> None:
    admin = tenant.garoon_users[0]
    assert admin["code"] == ADMIN_LOGIN
    assert admin["name"] == "Administrator"
    assert admin["email"] == ADMIN_EMAIL == f"admin@{EMAIL_DOMAIN}"


def test_garoon_users_have_user_api_extras(tenant: DemoTenant) -> None:
    ids = [u["id"] for u in tenant.garoon_users]
    assert ids == [str(n) for n in range(1, len(ids) + 1)]
    assert len({u["code"] for u in tenant.garoon_users}) == len(ids)
    for user in tenant.garoon_users:
        assert user["userApiId"].isdigit() and user["userApiId"] != user["id"]
        assert user["password"] == DEMO_PASSWORD
        assert user["locale"] in ("ja", "en")
        assert user["timezone"] in GAROON_SUPPORTED_TIMEZONES
        if user["code"] != ADMIN_LOGIN:
            assert user["email"] == f"{user['code']}@{EMAIL_DOMAIN}"
    names = {u["name"] for u in tenant.garoon_users}
    assert "佐藤 健" in names and "Emily Clark" in names
    assert {u["timezone"] for u in tenant.garoon_users} >= {"Asia/Tokyo", "America/Los_Angeles", "Europe/London"}


def test_every_non_admin_user_belongs_to_an_existing_organization(tenant: DemoTenant) -> None:
    org_ids = {o["id"] for o in tenant.garoon_organizations}
    for user in tenant.garoon_users[1:]:
        assert user["organizations"], user["code"]
        assert set(user["organizations"]) <= org_ids


def test_organization_tree_is_consistent(tenant: DemoTenant) -> None:
    by_id = {o["id"]: o for o in tenant.garoon_organizations}
    assert {"sales", "dev", "admin-dept"} <= {o["code"] for o in by_id.values()}
    for org in by_id.values():
        for child in org["childOrganizations"]:
            assert by_id[child["id"]]["parentOrganization"] == org["id"]
        if org["parentOrganization"] is not None:
            assert {"id": org["id"]} in by_id[org["parentOrganization"]]["childOrganizations"]


def test_exactly_one_facility_requires_a_purpose(tenant: DemoTenant) -> None:
    assert sum(f["requiresPurpose"] for f in tenant.garoon_facilities) == 1
    user_ids = {u["id"] for u in tenant.garoon_users}
    for facility in tenant.garoon_facilities:
        assert facility["id"].isdigit() and facility["id"] not in user_ids
        assert facility["facilityGroup"] == "1"


def test_every_lineworks_email_except_the_lineworks_only_one_is_a_garoon_email(any_tenant: DemoTenant) -> None:
    garoon_emails = {u["email"] for u in any_tenant.garoon_users}
    lineworks_emails = [u["email"] for u in any_tenant.lineworks_users]
    assert len(set(lineworks_emails)) == len(lineworks_emails)
    assert [e for e in lineworks_emails if e not in garoon_emails] == [LINEWORKS_ONLY_EMAIL]


def test_exactly_three_non_admin_garoon_users_are_unmapped(any_tenant: DemoTenant) -> None:
    lineworks_emails = {u["email"] for u in any_tenant.lineworks_users}
    without_account = [u["email"] for u in any_tenant.garoon_users if u["email"] not in lineworks_emails]
    assert sorted(without_account) == sorted(any_tenant.unmapped_emails)
    assert len(any_tenant.unmapped_emails) == 3
    assert ADMIN_EMAIL not in any_tenant.unmapped_emails


def test_lineworks_users_mirror_the_garoon_profile(tenant: DemoTenant) -> None:
    garoon = {u["email"]: u for u in tenant.garoon_users}
    user_ids = [u["userId"] for u in tenant.lineworks_users]
    assert len(set(user_ids)) == len(user_ids)
    for user in tenant.lineworks_users:
        assert user["domainId"] == LINEWORKS_DOMAIN_ID
        assert user["userId"].startswith("user") and len(user["userId"]) == len("user") + 36
        assert user["userExternalKey"] is None
        assert not (user["isPending"] or user["isSuspended"] or user["isDeleted"])
        source = garoon.get(user["email"])
        if source is not None:
            assert user["timeZone"] == source["timezone"]
            assert user["locale"] == {"ja": "ja_JP", "en": "en_US"}[source["locale"]]
            assert user["userName"] == {"lastName": source["surName"], "firstName": source["givenName"]}


# -- events: identity and time stamps ------------------------------------------------------


def test_event_ids_are_unique_digits_from_1001_and_overrides_follow_their_master(any_tenant: DemoTenant) -> None:
    events = any_tenant.garoon_events
    top_level = [e["id"] for e in events if "repeatId" not in e]
    assert top_level == [str(n) for n in range(1001, 1001 + len(top_level))]
    for position, event in enumerate(events):
        if "repeatId" in event:
            previous = events[position - 1]
            assert previous["id"] == event["id"]
            assert previous["eventType"] == event["eventType"] == "REPEATING"


def test_created_and_updated_are_utc_and_before_the_event(any_tenant: DemoTenant) -> None:
    anchor_midnight = datetime.datetime.combine(ANCHOR, datetime.time(0), tzinfo=datetime.UTC)
    for event in any_tenant.garoon_events:
        assert event["createdAt"].endswith("Z") and event["updatedAt"].endswith("Z")
        created, updated = _parse(event["createdAt"]), _parse(event["updatedAt"])
        assert created <= updated <= anchor_midnight
        if "start" in event:
            assert updated <= _parse(event["start"]["dateTime"])
        else:
            first = min(expected_repeat_dates(event["repeatInfo"]))
            assert updated.date() <= first


def test_event_dates_stay_within_the_demo_range(any_tenant: DemoTenant) -> None:
    for event in any_tenant.garoon_events:
        if "start" not in event:
            continue
        assert FIRST_DAY <= _local_start(event).date() <= LAST_DAY
        if "end" in event:
            assert FIRST_DAY <= _local_end(event).date() <= LAST_DAY
            assert _parse(event["start"]["dateTime"]) < _parse(event["end"]["dateTime"])


# -- events: time zones --------------------------------------------------------------------


def test_every_date_time_carries_the_offset_of_its_zone(any_tenant: DemoTenant) -> None:
    for event in any_tenant.garoon_events:
        for value, zone in _all_date_times(event):
            moment = _parse(value)
            assert moment.utcoffset() == moment.astimezone(ZoneInfo(zone)).utcoffset(), (event["id"], value)


def test_all_zones_are_supported_by_garoon(any_tenant: DemoTenant) -> None:
    zones: set[str] = set()
    for event in any_tenant.garoon_events:
        zones |= {event["originalStartTimeZone"], event["originalEndTimeZone"]}
        zones |= {zone for _, zone in _all_date_times(event)}
        if "repeatInfo" in event:
            zones.add(event["repeatInfo"]["timeZone"])
    assert zones <= GAROON_SUPPORTED_TIMEZONES
    assert zones >= {"Asia/Tokyo", "America/Los_Angeles", "Europe/London", "UTC"}


def test_tokyo_dominates_and_other_zones_appear_several_times(any_tenant: DemoTenant) -> None:
    zones = Counter(e["originalStartTimeZone"] for e in any_tenant.garoon_events)
    assert zones.most_common(1)[0][0] == "Asia/Tokyo"
    for zone in ("America/Los_Angeles", "Europe/London", "UTC"):
        assert zones[zone] >= 3, zone


# -- events: required kinds ------------------------------------------------------------------


def test_regular_meetings_are_quarter_hour_and_include_their_creator(any_tenant: DemoTenant) -> None:
    meetings = [e for e in any_tenant.garoon_events if "start" in e and "end" in e and _is_timed_single_day(e)]
    assert len(meetings) >= 150
    in_office_hours = 0
    for event in meetings:
        start, end = _local_start(event), _local_end(event)
        assert start.minute % 15 == 0 and end.minute % 15 == 0
        assert 30 <= (end - start).total_seconds() / 60 <= 120
        users = [a for a in event["attendees"] if a["type"] == "USER"]
        assert 1 <= len(users) <= 8
        assert event["creator"]["id"] in {a["id"] for a in users}
        in_office_hours += start.hour >= 9 and end <= start.replace(hour=18, minute=0)
    assert in_office_hours >= 0.9 * len(meetings)


def test_both_all_day_forms_are_present(any_tenant: DemoTenant) -> None:
    periods = [e for e in any_tenant.garoon_events if e["eventType"] == "ALL_DAY"]
    days = [e for e in any_tenant.garoon_events if e["eventType"] == "REGULAR" and e["isAllDay"]]
    assert len(periods) >= 3 and len(days) >= 3
    for event in periods:
        start, end = _local_start(event), _local_end(event)
        assert start.time() == datetime.time(0, 0, 0) and end.time() == datetime.time(23, 59, 59)
        assert end.date() > start.date()
    for event in days:
        start, end = _local_start(event), _local_end(event)
        assert (start.time(), end.time()) == (datetime.time(0, 0, 0), datetime.time(23, 59, 59))
        assert start.date() == end.date()


def test_start_only_events_have_no_end(any_tenant: DemoTenant) -> None:
    start_only = [e for e in _one_offs(any_tenant) if e["isStartOnly"]]
    assert len(start_only) >= 3
    assert all("end" not in e and not e["isAllDay"] for e in start_only)
    assert all("end" in e for e in _one_offs(any_tenant) if not e["isStartOnly"])


def test_multi_day_timed_regular_events_exist(any_tenant: DemoTenant) -> None:
    trips = [
        e
        for e in _one_offs(any_tenant)
        if e["eventType"] == "REGULAR"
        and not e["isAllDay"]
        and "end" in e
        and _local_end(e).date() > _local_start(e).date()
    ]
    assert len(trips) >= 3


def test_private_events_exist(any_tenant: DemoTenant) -> None:
    assert sum(e["visibilityType"] == "PRIVATE" for e in any_tenant.garoon_events) >= 3
    assert {e["visibilityType"] for e in any_tenant.garoon_events} == {"PUBLIC", "PRIVATE"}


def test_long_notes_and_subjects_exist_in_both_languages(any_tenant: DemoTenant) -> None:
    long_notes = [e["notes"] for e in any_tenant.garoon_events if len(e["notes"]) >= 3000]
    assert len(long_notes) >= 3
    assert all(len(notes) <= 8000 for notes in long_notes)
    assert any(notes.isascii() for notes in long_notes) and any(not notes.isascii() for notes in long_notes)
    long_subjects = [e["subject"] for e in any_tenant.garoon_events if len(e["subject"]) >= 150]
    assert len(long_subjects) >= 3
    assert all(len(subject) <= 300 for subject in long_subjects)


def test_organization_attendees_appear_sometimes(any_tenant: DemoTenant) -> None:
    org_ids = {o["id"] for o in any_tenant.garoon_organizations}
    with_org = [a for e in any_tenant.garoon_events for a in e["attendees"] if a["type"] == "ORGANIZATION"]
    assert with_org and all(a["id"] in org_ids for a in with_org)


def test_attendance_responses_are_pending_or_accepted(tenant: DemoTenant) -> None:
    for event in tenant.garoon_events:
        for attendee in event["attendees"]:
            if attendee["type"] == "USER":
                assert attendee["attendanceResponse"]["status"] in ("PENDING", "ACCEPTED")
                assert attendee["attendanceResponse"]["comment"] == ""


def test_events_carry_the_fixed_garoon_fields(tenant: DemoTenant) -> None:
    for event in tenant.garoon_events:
        assert event["useAttendanceCheck"] is False
        assert event["attachments"] == [] and event["watchers"] == []
        assert event["additionalItems"] == {"item": {"value": ""}}
        assert event["eventType"] in ("REGULAR", "ALL_DAY", "REPEATING")
        assert set(event["creator"]) == {"id", "code", "name"}
    assert any("companyInfo" in e for e in tenant.garoon_events)


# -- facilities ---------------------------------------------------------------------------------


def test_no_facility_is_double_booked(any_tenant: DemoTenant) -> None:
    bookings: dict[str, list[tuple[datetime.datetime, datetime.datetime]]] = defaultdict(list)
    for event in any_tenant.garoon_events:
        for facility in event["facilities"]:
            bookings[facility["id"]].append((_parse(event["start"]["dateTime"]), _parse(event["end"]["dateTime"])))
    assert bookings
    for intervals in bookings.values():
        intervals.sort()
        for (_, earlier_end), (later_start, _) in pairwise(intervals):
            assert earlier_end <= later_start


def test_facilities_are_only_on_timed_regular_events_with_purpose_when_required(any_tenant: DemoTenant) -> None:
    facilities = {f["id"]: f for f in any_tenant.garoon_facilities}
    for event in any_tenant.garoon_events:
        if not event["facilities"]:
            assert "facilityUsingPurpose" not in event
            continue
        assert _is_timed_single_day(event)
        facility = facilities[event["facilities"][0]["id"]]
        assert event["facilities"] == [{"id": facility["id"], "name": facility["name"], "code": facility["code"]}]
        assert ("facilityUsingPurpose" in event) == facility["requiresPurpose"]
    purpose_facility = next(f for f in facilities.values() if f["requiresPurpose"])
    assert any(e["facilities"] and e["facilities"][0]["id"] == purpose_facility["id"] for e in any_tenant.garoon_events)


# -- repeating series -------------------------------------------------------------------------


def test_every_repeat_type_is_present(any_tenant: DemoTenant) -> None:
    masters = _masters(any_tenant)
    assert {m["repeatInfo"]["type"] for m in masters} == set(REPEAT_TYPES)
    days_of_month = [m["repeatInfo"]["dayOfMonth"] for m in masters if m["repeatInfo"]["type"] == "EVERY_MONTH"]
    assert "EOM" in days_of_month
    assert any(day.isdigit() and 1 <= int(day) <= 31 for day in days_of_month)


def test_series_masters_have_repeat_info_and_no_start_or_end(any_tenant: DemoTenant) -> None:
    for master in _masters(any_tenant):
        assert "start" not in master and "end" not in master
        info = master["repeatInfo"]
        assert D.fromisoformat(info["period"]["start"]) <= D.fromisoformat(info["period"]["end"])
        assert D.fromisoformat(info["period"]["start"]) <= LAST_DAY
        assert D.fromisoformat(info["period"]["end"]) >= FIRST_DAY
        assert info["timeZone"] == master["originalStartTimeZone"]
        assert (info["isAllDay"], info["isStartOnly"]) == (master["isAllDay"], master["isStartOnly"])
        assert ("dayOfWeek" in info) == (info["type"] not in ("EVERY_DAY", "EVERY_WEEKDAY", "EVERY_MONTH"))
        assert ("dayOfMonth" in info) == (info["type"] == "EVERY_MONTH")
        assert expected_repeat_dates(info), info["type"]
        assert not master["facilities"]


def test_all_day_and_start_only_series_exist(any_tenant: DemoTenant) -> None:
    infos = [m["repeatInfo"] for m in _masters(any_tenant)]
    all_day = [i for i in infos if i["isAllDay"]]
    start_only = [i for i in infos if i["isStartOnly"]]
    assert all_day and start_only
    assert all(i["time"] == {"start": "00:00", "end": "23:59"} for i in all_day)


def test_exclusions_remove_real_occurrences(any_tenant: DemoTenant) -> None:
    with_exclusions = [m for m in _masters(any_tenant) if m["repeatInfo"]["exclusiveDateTimes"]]
    assert len(with_exclusions) >= 3
    for master in with_exclusions:
        info = master["repeatInfo"]
        assert 1 <= len(info["exclusiveDateTimes"]) <= 2
        zone = ZoneInfo(info["timeZone"])
        all_dates = expected_repeat_dates({**info, "exclusiveDateTimes": []})
        remaining = expected_repeat_dates(info)
        for exclusion in info["exclusiveDateTimes"]:
            start = _parse(exclusion["start"]).astimezone(zone)
            end = _parse(exclusion["end"]).astimezone(zone)
            assert start.date() in all_dates and start.date() not in remaining
            assert start.strftime("%H:%M") == info["time"]["start"]
            assert end.strftime("%H:%M") == info["time"]["end"]
        assert len(remaining) == len(all_dates) - len(info["exclusiveDateTimes"])


def test_edited_occurrences_override_a_real_occurrence(any_tenant: DemoTenant) -> None:
    masters = {m["id"]: m for m in _masters(any_tenant)}
    overrides = _overrides(any_tenant)
    assert 2 <= len(overrides) <= 3
    for override in overrides:
        info = masters[override["id"]]["repeatInfo"]
        repeat_id = override["repeatId"]
        assert len(repeat_id) == 12 and repeat_id.isdigit()
        original_day = D(int(repeat_id[:4]), int(repeat_id[4:6]), int(repeat_id[6:8]))
        assert original_day in expected_repeat_dates(info)
        expected_clock = "0000" if info["isAllDay"] else info["time"]["start"].replace(":", "")
        assert repeat_id[8:] == expected_clock
        assert override["start"]["timeZone"] == info["timeZone"]
        master = masters[override["id"]]
        changed_time = _local_start(override).strftime("%H%M") != repeat_id[8:] and not info["isAllDay"]
        assert changed_time or override["subject"] != master["subject"]


# -- expected_repeat_dates oracle ---------------------------------------------------------------


def _info(kind: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    """Return a minimal timed repeatInfo in Asia/Tokyo."""
    return {
        "type": kind,
        "period": {"start": start, "end": end},
        "time": {"start": "09:00", "end": "10:00"},
        "timeZone": "Asia/Tokyo",
        "isAllDay": False,
        "isStartOnly": False,
        "exclusiveDateTimes": [],
        **extra,
    }


def test_end_of_month_in_february_2027_is_the_28th() -> None:
    info = _info("EVERY_MONTH", "2027-01-15", "2027-04-10", dayOfMonth="EOM")
    assert expected_repeat_dates(info) == [D(2027, 1, 31), D(2027, 2, 28), D(2027, 3, 31)]


def test_end_of_month_in_leap_february_is_the_29th() -> None:
    info = _info("EVERY_MONTH", "2028-02-01", "2028-02-29", dayOfMonth="EOM")
    assert expected_repeat_dates(info) == [D(2028, 2, 29)]


def test_numeric_day_of_month_skips_months_without_that_day() -> None:
    info = _info("EVERY_MONTH", "2027-01-01", "2027-04-30", dayOfMonth="31")
    assert expected_repeat_dates(info) == [D(2027, 1, 31), D(2027, 3, 31)]


def test_last_week_is_the_last_such_weekday_of_the_month() -> None:
    info = _info("EVERY_LASTWEEK", "2026-11-01", "2027-01-31", dayOfWeek="FRI")
    assert expected_repeat_dates(info) == [D(2026, 11, 27), D(2026, 12, 25), D(2027, 1, 29)]
    info = _info("EVERY_LASTWEEK", "2026-11-01", "2026-11-30", dayOfWeek="MON")
    assert expected_repeat_dates(info) == [D(2026, 11, 30)]


def test_nth_week_counts_days_one_to_seven_as_the_first_week() -> None:
    second = _info("EVERY_2NDWEEK", "2026-11-01", "2026-12-31", dayOfWeek="WED")
    assert expected_repeat_dates(second) == [D(2026, 11, 11), D(2026, 12, 9)]
    first = _info("EVERY_1STWEEK", "2026-11-01", "2027-01-31", dayOfWeek="FRI")
    assert expected_repeat_dates(first) == [D(2026, 11, 6), D(2026, 12, 4), D(2027, 1, 1)]
    fourth = _info("EVERY_4THWEEK", "2026-12-01", "2026-12-31", dayOfWeek="WED")
    assert expected_repeat_dates(fourth) == [D(2026, 12, 23)]
    third = _info("EVERY_3RDWEEK", "2026-11-01", "2026-11-30", dayOfWeek="SUN")
    assert expected_repeat_dates(third) == [D(2026, 11, 15)]


def test_weekly_daily_and_weekday_series() -> None:
    assert expected_repeat_dates(_info("EVERY_WEEK", "2026-11-01", "2026-11-30", dayOfWeek="MON")) == [
        D(2026, 11, 2),
        D(2026, 11, 9),
        D(2026, 11, 16),
        D(2026, 11, 23),
        D(2026, 11, 30),
    ]
    assert expected_repeat_dates(_info("EVERY_WEEKDAY", "2026-11-14", "2026-11-22")) == [
        D(2026, 11, day) for day in range(16, 21)
    ]
    assert expected_repeat_dates(_info("EVERY_DAY", "2026-12-30", "2027-01-02")) == [
        D(2026, 12, 30),
        D(2026, 12, 31),
        D(2027, 1, 1),
        D(2027, 1, 2),
    ]


def test_exclusions_are_matched_by_their_date_in_the_series_zone() -> None:
    info = _info(
        "EVERY_DAY",
        "2026-11-20",
        "2026-11-23",
        exclusiveDateTimes=[
            {"start": "2026-11-21T09:00:00+09:00", "end": "2026-11-21T10:00:00+09:00"},
            # 16:00 UTC on the 21st is 01:00 on the 22nd in Tokyo.
            {"start": "2026-11-21T16:00:00Z", "end": "2026-11-21T17:00:00Z"},
        ],
    )
    assert expected_repeat_dates(info) == [D(2026, 11, 20), D(2026, 11, 23)]


def test_unknown_repeat_type_gives_no_dates() -> None:
    assert expected_repeat_dates(_info("EVERY_2_WEEKS", "2026-11-01", "2026-11-30", dayOfWeek="MON")) == []
