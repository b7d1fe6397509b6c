"""Deterministic inputs for ``bench/transforms.py``: Garoon list items and an iCalendar file.

Garoon (:func:`garoon_workload`): a tenant of ``n // 80`` users (88 % Asia/Tokyo, the rest Los Angeles,
London, UTC), LINE WORKS accounts for 95 % of them, ``n // 1500`` facilities of which 80 % map to a LINE
WORKS resource, and ``n`` list items over an eight-week listed range: about 75 % REGULAR timed events with
1-6 attendees (an organization now and then, a facility in 35 %, a few long notes and long subjects, a few
multi-day trips), 5 % all-day (ALL_DAY periods and REGULAR ``isAllDay`` days), 3 % start-only, and 17 %
occurrences of weekly and monthly REPEATING series (some with exclusions and one edited occurrence).
Each event is rendered by the emulator tenant's own code (``_EventFactory._render``) and each series is
listed by the Garoon emulator itself (``GaroonApp._occurrences``, then ``_in_range`` for the range), so the
items have exactly the shape ``GET /api/v1/schedule/events`` returns.

iCalendar (:func:`ics_workload`): one VCALENDAR of ``n`` VEVENTs with VTIMEZONE blocks: timed events in
IANA, Windows (``Tokyo Standard Time``) and VTIMEZONE-only zones, UTC and floating times, DURATION
instead of DTEND, all-day events, weekly/monthly RRULE masters with EXDATEs, RECURRENCE-ID overrides
(some cancelled), attendees, rooms, organizers, categories, alarms, and folded long descriptions.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from bench import common  # noqa: F401  (sets the import paths)
from include.emulators.garoon import GaroonApp, repeat_dates
from include.emulators.tenant import (
    _COMPANIES,
    _DAY_SUBJECTS_EN,
    _DAY_SUBJECTS_JA,
    _LONG_NOTES_EN,
    _LONG_NOTES_JA,
    _LONG_SUBJECT_EN,
    _LONG_SUBJECT_JA,
    _MENUS,
    _OUTING_MENU,
    _PERIOD_SUBJECTS_EN,
    _PERIOD_SUBJECTS_JA,
    _SHORT_NOTES,
    _START_ONLY_EN,
    _START_ONLY_JA,
    _SUBJECTS_EN,
    _SUBJECTS_JA,
    _TRIP_MENU,
    LONDON,
    LOS_ANGELES,
    MEETING_DURATIONS,
    OFF_HOURS_STARTS,
    TOKYO,
    UTC_ZONE,
    DemoTenant,
    _day_bounds,
    _Draft,
    _EventFactory,
    _filler,
    _hhmm,
    _local,
    _rfc3339,
)

Json = dict[str, Any]

ANCHOR = dt.date(2026, 11, 16)
#: The range the items were listed for (``rangeStart``/``rangeEnd``), as a DAG's data interval would give it.
LISTED = (dt.datetime(2026, 11, 2, tzinfo=dt.UTC), dt.datetime(2026, 12, 28, tzinfo=dt.UTC))
FIRST_DAY, LAST_DAY = LISTED[0].date(), LISTED[1].date() - dt.timedelta(days=1)

ALL_DAY_SHARE = 0.05
START_ONLY_SHARE = 0.03
OCCURRENCE_SHARE = 0.17  # the rest are REGULAR timed events
EVENTS_PER_USER = 80
EVENTS_PER_FACILITY = 1500
USER_ZONES = (TOKYO,) * 88 + (LOS_ANGELES,) * 5 + (LONDON,) * 5 + (UTC_ZONE,) * 2
LINEWORKS_SHARE = 0.95
FACILITY_MAPPED_SHARE = 0.8
ATTENDEE_COUNTS = (1, 2, 2, 3, 3, 3, 4, 4, 5, 6)
FACILITY_PROBABILITY = 0.35
ORG_ATTENDEE_PROBABILITY = 0.02
EXTRA_UTC_PROBABILITY = 0.03
OFF_HOURS_PROBABILITY = 0.01
TRIP_PROBABILITY = 0.01
PRIVATE_PROBABILITY = 0.05
LONG_NOTES_PROBABILITY = 0.002
LONG_SUBJECT_PROBABILITY = 0.001
WEEKLY_SERIES_SHARE = 0.75  # the rest are monthly (nth weekday, last weekday, day of month, end of month)
SERIES_ALL_DAY_PROBABILITY = 0.05
SERIES_START_ONLY_PROBABILITY = 0.05
SERIES_EXCLUSION_PROBABILITY = 0.3
SERIES_OVERRIDE_PROBABILITY = 0.15
SURNAMES_JA = (
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "松本",
    "井上",
    "木村",
)
GIVEN_JA = ("健", "花子", "翔", "美咲", "大輔", "結衣", "拓也", "さくら", "誠", "愛", "隆", "陽子", "亮", "奈緒")
SURNAMES_EN = ("Clark", "Lee", "Wilson", "Turner", "Brown", "Chen", "Evans", "Scott", "Young", "Hall")
GIVEN_EN = ("Emily", "Daniel", "James", "Sophie", "Olivia", "Michael", "Grace", "Noah", "Liam", "Ava")
MONTHLY_TYPES = ("EVERY_1STWEEK", "EVERY_2NDWEEK", "EVERY_3RDWEEK", "EVERY_4THWEEK", "EVERY_LASTWEEK", "EVERY_MONTH")
SERIES_SUBJECTS = (
    "週次定例",
    "Weekly sync",
    "1on1",
    "月次全体会議",
    "Monthly review",
    "安全衛生委員会",
    "経費精算締切",
)
ORGANIZATIONS = ("本社", "営業部", "開発部", "総務部", "人事部", "経理部", "Marketing", "Support")


# ---------------------------------------------------------------------- Garoon


def garoon_workload(n: int, seed: int = 0) -> Json:
    """Return ``{"listed", "directory", "items"}``: ``n`` Garoon list items and the directory to resolve them."""
    return _GaroonWorkload(n, random.Random(seed)).build()


class _GaroonWorkload:
    def __init__(self, n: int, rng: random.Random) -> None:
        self.n, self.rng = n, rng
        self.users = self._users(max(50, n // EVENTS_PER_USER))
        self.orgs = [
            {"id": str(101 + i), "code": f"org-{i}", "name": name, "parentOrganization": None if i == 0 else "101"}
            for i, name in enumerate(ORGANIZATIONS)
        ]  # Garoon numbers organizations separately from users, so these ids are also user ids
        self.facilities = [
            {"id": str(501 + i), "code": f"room-{i:03d}", "name": f"会議室{i:03d}" if i % 3 else f"Room {i:03d}",
             "notes": "", "facilityGroup": "1", "requiresPurpose": i == 0}
            for i in range(max(5, n // EVENTS_PER_FACILITY))
        ]  # fmt: skip
        self.people = self.users[1:]  # not the administrator
        self.factory = _EventFactory(rng, ANCHOR, 14, 42, self.users, self.orgs, self.facilities)
        self.lineworks_users = [
            {"domainId": 10000001, "userId": f"user{uuid.UUID(int=rng.getrandbits(128))}", "email": u["email"],
             "userName": {"lastName": u["surName"], "firstName": u["givenName"]}}
            for u in self.users if rng.random() < LINEWORKS_SHARE
        ]  # fmt: skip
        self.facility_map = [
            {"garoon_code": f["code"], "resource_id": f"resource-{f['code']}", "name": f["name"]}
            for f in self.facilities
            if rng.random() < FACILITY_MAPPED_SHARE
        ]
        self.app = GaroonApp(DemoTenant(self.users, self.orgs, self.facilities, [], self.lineworks_users, []))
        self.next_id = 1001
        self.weekdays = [d for d in _days(FIRST_DAY, LAST_DAY) if d.weekday() < 5]
        self.all_days = list(_days(FIRST_DAY, LAST_DAY))

    def build(self) -> Json:
        occurrences: list[Json] = []
        target = round(self.n * OCCURRENCE_SHARE)
        while len(occurrences) < target:
            occurrences.extend(self._series())
        all_day = [self._all_day() for _ in range(round(self.n * ALL_DAY_SHARE))]
        start_only = [self._start_only() for _ in range(round(self.n * START_ONLY_SHARE))]
        timed_count = max(0, self.n - len(occurrences) - len(all_day) - len(start_only))
        items = [*(self._timed() for _ in range(timed_count)), *all_day, *start_only, *occurrences]
        items.sort(key=lambda i: (i["updatedAt"], int(i["id"]), i.get("repeatId", "")))  # orderBy updatedAt asc
        return {
            "listed": [LISTED[0].isoformat(), LISTED[1].isoformat()],
            "directory": {
                "garoon_users": [{k: u[k] for k in ("id", "code", "name", "email")} for u in self.users],
                "lineworks_users": self.lineworks_users,
                "garoon_facilities": [{k: f[k] for k in ("id", "code", "name")} for f in self.facilities],
                "facility_map": self.facility_map,
            },
            "items": items[: self.n],
        }

    # -- directory --------------------------------------------------------------------

    def _users(self, count: int) -> list[Json]:
        users = [{"id": "1", "code": "Administrator", "name": "Administrator", "email": "admin@bench.example.com",
                  "surName": "Administrator", "givenName": "", "timezone": TOKYO, "locale": "ja"}]  # fmt: skip
        for n in range(2, count + 1):
            zone = self.rng.choice(USER_ZONES)
            japanese = zone == TOKYO and self.rng.random() < 0.9
            sur, given = (
                (self.rng.choice(SURNAMES_JA), self.rng.choice(GIVEN_JA))
                if japanese
                else (self.rng.choice(SURNAMES_EN), self.rng.choice(GIVEN_EN))
            )
            code = f"user{n:05d}"
            users.append({"id": str(n), "code": code, "name": f"{sur} {given}" if japanese else f"{given} {sur}",
                          "email": f"{code}@bench.example.com", "surName": sur, "givenName": given,
                          "timezone": zone, "locale": "ja" if japanese else "en"})  # fmt: skip
        return users

    # -- one event ----------------------------------------------------------------------

    def _new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def _attendees(self, creator: Json, count: int, with_org: bool = False) -> list[Json]:
        """Return ``count`` USER attendees starting with ``creator`` (+ one organization), in the tenant's shape."""
        chosen = [creator]
        while len(chosen) < count:
            other = self.rng.choice(self.people)
            if all(other is not c for c in chosen):
                chosen.append(other)
        result: list[Json] = [
            {"id": u["id"], "code": u["code"], "name": u["name"], "type": "USER",
             "attendanceResponse": {"status": "ACCEPTED" if u is creator else self.rng.choice(("PENDING", "ACCEPTED")),
                                    "comment": ""}}
            for u in chosen
        ]  # fmt: skip
        if with_org:
            org = self.rng.choice(self.orgs)
            result.append({"id": org["id"], "code": org["code"], "name": org["name"], "type": "ORGANIZATION"})
        return result

    def _render(self, draft: _Draft, first_start: dt.datetime) -> Json:
        created, updated = self.factory._stamps(first_start)
        event = self.factory._render(draft, created, updated)
        event["id"] = self._new_id()
        return event

    def _subject(self, creator: Json, japanese: tuple[str, ...], english: tuple[str, ...]) -> str:
        return self.rng.choice(japanese if creator["locale"] == "ja" else english)

    def _timed(self) -> Json:
        rng = self.rng
        creator = rng.choice(self.people)
        zone = UTC_ZONE if rng.random() < EXTRA_UTC_PROBABILITY else creator["timezone"]
        day = rng.choice(self.weekdays if rng.random() < 0.92 else self.all_days)
        duration = rng.choice(MEETING_DURATIONS)
        if rng.random() < OFF_HOURS_PROBABILITY:
            start_minute = rng.choice(OFF_HOURS_STARTS)
        else:
            start_minute = rng.randrange(9 * 60, 18 * 60 - duration + 1, 15)
        start, end, end_zone = _local(day, start_minute, zone), _local(day, start_minute + duration, zone), zone
        menu = rng.choice(_MENUS)
        if rng.random() < TRIP_PROBABILITY:
            menu = _TRIP_MENU
            end_zone = LOS_ANGELES if rng.random() < 0.2 else zone
            end = _local(day + dt.timedelta(days=rng.randint(1, 2)), rng.choice((12 * 60, 17 * 60 + 45)), end_zone)
        draft = _Draft(
            creator=creator, event_type="REGULAR", subject=self._subject(creator, _SUBJECTS_JA, _SUBJECTS_EN),
            zone=zone, end_zone=end_zone,
            attendees=self._attendees(creator, rng.choice(ATTENDEE_COUNTS), rng.random() < ORG_ATTENDEE_PROBABILITY),
            start=start, end=end, notes=rng.choice(_SHORT_NOTES), menu=menu,
            visibility="PRIVATE" if rng.random() < PRIVATE_PROBABILITY else "PUBLIC",
            company=rng.choice(_COMPANIES) if menu == _OUTING_MENU else None,
        )  # fmt: skip
        if rng.random() < LONG_NOTES_PROBABILITY:
            draft.notes = _filler(rng, rng.choice((_LONG_NOTES_JA, _LONG_NOTES_EN)), 3000, 8000, ("", "\n", " "))
        if rng.random() < LONG_SUBJECT_PROBABILITY:
            draft.subject = _filler(rng, rng.choice((_LONG_SUBJECT_JA, _LONG_SUBJECT_EN)), 150, 300, ("",))
        if rng.random() < FACILITY_PROBABILITY:
            draft.facility = rng.choice(self.facilities)
        return self._render(draft, start)

    def _all_day(self) -> Json:
        rng = self.rng
        creator = rng.choice(self.people)
        zone = creator["timezone"]
        period = rng.random() < 0.5
        first = rng.choice(self.all_days)
        last = first + dt.timedelta(days=rng.randint(1, 4) if period else 0)
        start, end = _day_bounds(first, last, zone)
        pool = (_PERIOD_SUBJECTS_JA, _PERIOD_SUBJECTS_EN) if period else (_DAY_SUBJECTS_JA, _DAY_SUBJECTS_EN)
        draft = _Draft(
            creator=creator, event_type="ALL_DAY" if period else "REGULAR", subject=self._subject(creator, *pool),
            zone=zone, attendees=self._attendees(creator, rng.randint(1, 4)), start=start, end=end, all_day=True,
            notes=rng.choice(_SHORT_NOTES),
        )  # fmt: skip
        return self._render(draft, start)

    def _start_only(self) -> Json:
        rng = self.rng
        creator = rng.choice(self.people)
        zone = creator["timezone"]
        start = _local(rng.choice(self.weekdays), rng.randrange(8 * 60, 19 * 60 + 1, 15), zone)
        draft = _Draft(
            creator=creator, event_type="REGULAR", subject=self._subject(creator, _START_ONLY_JA, _START_ONLY_EN),
            zone=zone, attendees=self._attendees(creator, rng.randint(1, 2)), start=start, start_only=True,
        )  # fmt: skip
        return self._render(draft, start)

    # -- one repeating series, as the emulator lists it ------------------------------

    def _series(self) -> list[Json]:
        rng = self.rng
        creator = rng.choice(self.people)
        zone = creator["timezone"]
        all_day = rng.random() < SERIES_ALL_DAY_PROBABILITY
        start_only = not all_day and rng.random() < SERIES_START_ONLY_PROBABILITY
        start_minute = rng.randrange(9 * 60, 17 * 60 + 1, 30)
        duration = 0 if start_only else rng.choice((30, 60, 60, 90))
        if rng.random() < 0.8:  # running before and after the listed range
            first = FIRST_DAY - dt.timedelta(days=rng.randint(0, 120))
            last = LAST_DAY + dt.timedelta(days=rng.randint(0, 180))
        else:
            first = FIRST_DAY + dt.timedelta(days=rng.randint(0, 14))
            last = LAST_DAY - dt.timedelta(days=rng.randint(0, 14))
        kind = "EVERY_WEEK" if rng.random() < WEEKLY_SERIES_SHARE else rng.choice(MONTHLY_TYPES)
        if all_day:
            time: Json = {"start": "00:00", "end": "23:59"}
        elif start_only:
            time = {"start": _hhmm(start_minute)}
        else:
            time = {"start": _hhmm(start_minute), "end": _hhmm(start_minute + duration)}
        info: Json = {"type": kind, "period": {"start": first.isoformat(), "end": last.isoformat()}, "time": time,
                      "timeZone": zone, "isAllDay": all_day, "isStartOnly": start_only}  # fmt: skip
        if kind == "EVERY_MONTH":
            info["dayOfMonth"] = rng.choice(("5", "10", "15", "20", "25", "31", "EOM"))
        else:
            info["dayOfWeek"] = rng.choice(("MON", "TUE", "WED", "THU", "FRI"))
        info["exclusiveDateTimes"] = []
        visible = [d for d in repeat_dates(info) if FIRST_DAY <= d <= LAST_DAY]

        def occurrence(day: dt.date, shift: int = 0) -> tuple[dt.datetime, dt.datetime | None]:
            if all_day:
                return _day_bounds(day, day, zone)
            begin = _local(day, start_minute + shift, zone)
            return begin, (None if start_only else _local(day, start_minute + shift + duration, zone))

        if visible and len(visible) > 2 and rng.random() < SERIES_EXCLUSION_PROBABILITY:
            day = visible.pop(rng.randrange(len(visible)))
            begin, finish = occurrence(day)
            info["exclusiveDateTimes"].append({"start": _rfc3339(begin), "end": _rfc3339(finish or begin)})
        subject = rng.choice(SERIES_SUBJECTS)
        draft = _Draft(
            creator=creator, event_type="REPEATING", subject=subject, zone=zone,
            attendees=self._attendees(creator, rng.randint(2, 8)), all_day=all_day, start_only=start_only,
            menu="" if all_day or start_only else "会議",
        )  # fmt: skip
        master = self._render(draft, occurrence(first)[0])
        master["repeatInfo"] = info
        seeded = [master]
        if visible and rng.random() < SERIES_OVERRIDE_PROBABILITY:
            day = rng.choice(visible)
            original = occurrence(day)[0]
            shift = 60 if not all_day and rng.random() < 0.5 else 0
            draft.start, draft.end = occurrence(day, shift)
            draft.subject = subject if shift else f"{subject}（この回のみ変更）"
            draft.notes = "この回のみ開始時刻を変更しました。" if shift else ""
            created, updated = self.factory._stamps(original)
            override = self.factory._render(draft, created, updated)
            override.update(id=master["id"], repeatInfo=dict(info),
                            repeatId=original.strftime("%Y%m%d") + ("0000" if all_day else original.strftime("%H%M")))  # fmt: skip
            seeded.append(override)
        self.app.seed({"events": seeded})
        return [item for item in self.app._occurrences(master) if self.app._in_range(item, *LISTED)]


def _days(first: dt.date, last: dt.date) -> Any:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


# ---------------------------------------------------------------------- iCalendar

VTIMEZONES = {
    "Asia/Tokyo": ("+0900", None),
    "Tokyo Standard Time": ("+0900", None),  # Outlook exports Windows names
    "(UTC+09:00) Osaka, Sapporo, Tokyo": ("+0900", None),  # neither IANA nor Windows: only its VTIMEZONE says
    "America/Los_Angeles": ("-0800", ("-0700", "19700308T020000", "3;BYDAY=2SU", "19701101T020000", "11;BYDAY=1SU")),
    "Europe/London": ("+0000", ("+0100", "19700329T010000", "3;BYDAY=-1SU", "19701025T020000", "10;BYDAY=-1SU")),
}
#: (form of DTSTART/DTEND, weight): how timed events name their time.
ICS_TIME_FORMS = (("Asia/Tokyo", 50), ("America/Los_Angeles", 8), ("Europe/London", 8), ("Z", 12),
                  ("Tokyo Standard Time", 10), ("floating", 5), ("(UTC+09:00) Osaka, Sapporo, Tokyo", 2),
                  ("duration", 5))  # fmt: skip
ICS_KINDS = (("timed", 62), ("all_day", 12), ("series", 26))  # a series master brings 0-2 overrides
OVERRIDES_PER_SERIES = (0, 0, 1, 1, 2)
ICS_CANCELLED_OVERRIDE = 0.25


def ics_workload(n: int, seed: int = 0) -> bytes:
    """Return an .ics file with exactly ``n`` VEVENTs (CRLF line ends, folded at 75 octets)."""
    rng = random.Random(seed)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Bench//Exported Calendar//EN", "CALSCALE:GREGORIAN"]
    for tzid, (standard, daylight) in VTIMEZONES.items():
        lines += _vtimezone(tzid, standard, daylight)
    people = [(f"{rng.choice(GIVEN_EN)} {rng.choice(SURNAMES_EN)}" if i % 3 else
               f"{rng.choice(SURNAMES_JA)} {rng.choice(GIVEN_JA)}", f"person{i:04d}@bench.example.com")
              for i in range(400)]  # fmt: skip
    forms = [f for f, w in ICS_TIME_FORMS for _ in range(w)]
    kinds = [k for k, w in ICS_KINDS for _ in range(w)]
    count = 0
    while count < n:
        kind = rng.choice(kinds)
        uid = f"{uuid.UUID(int=rng.getrandbits(128))}@bench.example.com"
        day = FIRST_DAY + dt.timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
        form = "Asia/Tokyo" if kind == "series" and rng.random() < 0.6 else rng.choice(forms)
        start = dt.datetime.combine(day, dt.time(rng.randrange(8, 19), rng.choice((0, 15, 30, 45))))
        duration = dt.timedelta(minutes=rng.choice(MEETING_DURATIONS))
        body = _ics_common(rng, uid, people)
        if kind == "all_day":
            body += [f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
                     f"DTEND;VALUE=DATE:{day + dt.timedelta(days=rng.choice((1, 1, 1, 2, 3))):%Y%m%d}"]  # fmt: skip
        else:
            body += _ics_times(form, start, duration)
        overrides: list[list[str]] = []
        if kind == "series":
            weekly = rng.random() < WEEKLY_SERIES_SHARE
            byday = rng.choice(("MO", "TU", "WE", "TH", "FR"))
            rule = f"FREQ=WEEKLY;BYDAY={byday}" if weekly else f"FREQ=MONTHLY;BYDAY={rng.choice((1, 2, 3, -1))}{byday}"
            until = f"UNTIL={day + dt.timedelta(days=180):%Y%m%d}T235959" + ("" if form == "floating" else "Z")
            end = rng.choice(("COUNT=20", until, ""))
            body.append("RRULE:" + ";".join(filter(None, (rule, end))))
            start = _first_on(start, byday)
            body = [x for x in body if not x.startswith(("DTSTART", "DTEND", "DURATION"))] + _ics_times(
                form, start, duration
            )
            if weekly and rng.random() < 0.4:
                body.append(_ics_stamp("EXDATE", form, start + dt.timedelta(weeks=rng.randint(1, 6))))
            for k in rng.sample(range(2, 12), rng.choice(OVERRIDES_PER_SERIES)) if weekly else ():
                original = start + dt.timedelta(weeks=k)
                moved = original + dt.timedelta(hours=rng.choice((0, 1, 2)))
                extra = _ics_common(rng, uid, people) + _ics_times(form, moved, duration)
                extra.append(_ics_stamp("RECURRENCE-ID", form, original))
                extra.append("SEQUENCE:1")
                if rng.random() < ICS_CANCELLED_OVERRIDE:
                    extra.append("STATUS:CANCELLED")
                overrides.append(extra)
        for block in (body, *overrides):
            if count < n:
                lines += ["BEGIN:VEVENT", *block, "END:VEVENT"]
                count += 1
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(x) for x in lines) + "\r\n").encode("utf-8")


def _vtimezone(tzid: str, standard: str, daylight: tuple[str, str, str, str, str] | None) -> list[str]:
    out = ["BEGIN:VTIMEZONE", f"TZID:{tzid}"]
    if daylight is None:
        return [*out, "BEGIN:STANDARD", "DTSTART:19700101T000000", f"TZOFFSETFROM:{standard}",
                f"TZOFFSETTO:{standard}", "END:STANDARD", "END:VTIMEZONE"]  # fmt: skip
    summer, summer_start, summer_rule, winter_start, winter_rule = daylight
    return [*out, "BEGIN:DAYLIGHT", f"DTSTART:{summer_start}", f"TZOFFSETFROM:{standard}", f"TZOFFSETTO:{summer}",
            f"RRULE:FREQ=YEARLY;BYMONTH={summer_rule}", "END:DAYLIGHT", "BEGIN:STANDARD", f"DTSTART:{winter_start}",
            f"TZOFFSETFROM:{summer}", f"TZOFFSETTO:{standard}", f"RRULE:FREQ=YEARLY;BYMONTH={winter_rule}",
            "END:STANDARD", "END:VTIMEZONE"]  # fmt: skip


def _first_on(start: dt.datetime, byday: str) -> dt.datetime:
    wanted = ("MO", "TU", "WE", "TH", "FR", "SA", "SU").index(byday)
    return start + dt.timedelta(days=(wanted - start.weekday()) % 7)


def _ics_stamp(name: str, form: str, when: dt.datetime) -> str:
    if form == "duration":  # those events start in Asia/Tokyo (see _ics_times)
        form = "Asia/Tokyo"
    if form == "Z":
        return f"{name}:{when:%Y%m%dT%H%M%S}Z"
    if form == "floating":
        return f"{name}:{when:%Y%m%dT%H%M%S}"
    tzid = f'"{form}"' if any(c in form for c in ":;,") else form  # RFC 5545 3.2: such values are quoted
    return f"{name};TZID={tzid}:{when:%Y%m%dT%H%M%S}"


def _ics_times(form: str, start: dt.datetime, duration: dt.timedelta) -> list[str]:
    if form == "duration":
        return [_ics_stamp("DTSTART", "Asia/Tokyo", start), f"DURATION:PT{int(duration.total_seconds() // 60)}M"]
    return [_ics_stamp("DTSTART", form, start), _ics_stamp("DTEND", form, start + duration)]


def _ics_common(rng: random.Random, uid: str, people: list[tuple[str, str]]) -> list[str]:
    stamp = dt.datetime(2026, 10, 1) + dt.timedelta(seconds=rng.randrange(30 * 86400))
    notes = rng.choice(_SHORT_NOTES)
    if rng.random() < 0.02:
        notes = _filler(rng, rng.choice((_LONG_NOTES_JA, _LONG_NOTES_EN)), 500, 3000, (" ", "\n"))
    out = [f"UID:{uid}", f"DTSTAMP:{stamp:%Y%m%dT%H%M%S}Z", f"CREATED:{stamp:%Y%m%dT%H%M%S}Z",
           f"LAST-MODIFIED:{stamp:%Y%m%dT%H%M%S}Z",
           f"SUMMARY:{_escape(rng.choice(_SUBJECTS_JA + _SUBJECTS_EN))}"]  # fmt: skip
    if notes:
        out.append(f"DESCRIPTION:{_escape(notes)}")
    if rng.random() < 0.3:
        out.append(f"LOCATION:{_escape(rng.choice(('会議室A', 'Room 4F-2', 'Zoom', '本社3F, 会議室B')))}")
    chosen = rng.sample(people, rng.choice(ATTENDEE_COUNTS))
    out.append(f"ORGANIZER;CN={chosen[0][0]}:mailto:{chosen[0][1]}")
    for name, email in chosen:
        partstat = rng.choice(("ACCEPTED", "NEEDS-ACTION", "TENTATIVE", "DECLINED"))
        role = "OPT-PARTICIPANT" if rng.random() < 0.1 else "REQ-PARTICIPANT"
        out.append(f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE={role};PARTSTAT={partstat};RSVP=TRUE;CN={name}:mailto:{email}")
    if rng.random() < FACILITY_PROBABILITY:
        out.append("ATTENDEE;CUTYPE=ROOM;ROLE=NON-PARTICIPANT;CN=会議室A:mailto:room-a@bench.example.com")
    if rng.random() < 0.4:
        out.append(f"CATEGORIES:{rng.choice(('会議', 'Meeting', '外出', 'Customer'))}")
    if rng.random() < 0.05:
        out.append("CLASS:PRIVATE")
    if rng.random() < 0.05:
        out.append("TRANSP:TRANSPARENT")
    out.append(f"STATUS:{rng.choice(('CONFIRMED', 'CONFIRMED', 'CONFIRMED', 'TENTATIVE'))}")
    if rng.random() < 0.3:
        out += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder",
                f"TRIGGER:-PT{rng.choice((5, 10, 15, 30))}M", "END:VALARM"]  # fmt: skip
    return out


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Return ``line`` folded at 75 octets without splitting a UTF-8 character (RFC 5545 3.1)."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts, current, size, limit = [], [], 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, 74  # continuation lines start with a space
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)
