"""Generate a large, realistic iCalendar file: deterministic for a seed, valid RFC 5545.

The mix resembles a busy team calendar: timed single events in several zones (each with its VTIMEZONE),
all-day and multi-day events, and weekly or monthly series (COUNT or UNTIL) with EXDATEs and RECURRENCE-ID
overrides (moved, edited and cancelled occurrences). Some events carry attendees, a room, categories, a
reminder and Japanese text; long lines are folded at 75 octets without splitting a UTF-8 character.

``n_events`` counts distinct events (UIDs): a series and its overrides are one event, written as several
VEVENTs that share the UID.

Usage::

    python -m include.sample_data.generate_ics --events 10000 --seed 1 --output /tmp/big.ics
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import zoneinfo
from pathlib import Path

PRODID = "-//calendar-etl//sample generator//EN"
FIRST_DAY = dt.date(2026, 11, 2)  # a Monday; events fall in the following months
SPAN_DAYS = 150

#: Zones used for timed events, with the VTIMEZONE each file carries (RFC 5545 3.6.5).
VTIMEZONES: dict[str, str] = {
    "Asia/Tokyo": """BEGIN:VTIMEZONE
TZID:Asia/Tokyo
BEGIN:STANDARD
TZOFFSETFROM:+0900
TZOFFSETTO:+0900
TZNAME:JST
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE""",
    "America/New_York": """BEGIN:VTIMEZONE
TZID:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE""",
    "Europe/Berlin": """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE""",
    "Europe/London": """BEGIN:VTIMEZONE
TZID:Europe/London
BEGIN:DAYLIGHT
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
TZNAME:BST
DTSTART:19700329T010000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
TZNAME:GMT
DTSTART:19701025T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE""",
    "Australia/Sydney": """BEGIN:VTIMEZONE
TZID:Australia/Sydney
BEGIN:STANDARD
TZOFFSETFROM:+1100
TZOFFSETTO:+1000
TZNAME:AEST
DTSTART:19700405T030000
RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU
END:STANDARD
BEGIN:DAYLIGHT
TZOFFSETFROM:+1000
TZOFFSETTO:+1100
TZNAME:AEDT
DTSTART:19701004T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=1SU
END:DAYLIGHT
END:VTIMEZONE""",
}
#: Where events are created, weighted like a Tokyo-headquartered company (UTC: times written with ``Z``).
ZONE_WEIGHTS = {"Asia/Tokyo": 6, "America/New_York": 2, "Europe/Berlin": 2, "Europe/London": 1, "Australia/Sydney": 1,
                "UTC": 1}  # fmt: skip
RFC_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

TITLES = (
    "Weekly sync", "Design review", "1:1", "Customer call", "Sprint planning", "Budget review", "Interview",
    "Release retro", "Vendor meeting", "All-hands", "Security training", "Lunch and learn",
    "週次定例", "顧客訪問", "予算会議", "採用面接", "部内勉強会", "プロジェクト進捗確認",
)  # fmt: skip
ALL_DAY_TITLES = ("Business trip", "Vacation", "Offsite", "Conference", "出張", "有給休暇", "展示会", "棚卸し")
ROOMS = ("Room 101", "Room 4F-A", "大会議室", "Main hall", "応接室 2")
PEOPLE = (
    ("Tanaka, Hanako", "hanako.tanaka@example.co.jp"), ("Suzuki Ichiro", "ichiro.suzuki@example.co.jp"),
    ("山田 太郎", "taro.yamada@example.co.jp"), ("John Smith", "john.smith@example.com"),
    ("O'Brien, Pat", "pat.obrien@example.ie"), ("Müller, Jörg", "joerg.mueller@example.de"),
)  # fmt: skip
CATEGORIES = ("Meeting", "Customer", "社内行事", "Travel", "Training")
DESCRIPTIONS = (
    "Agenda:\n1. Status\n2. Risks, blockers and next steps",
    "資料は前日までに共有フォルダへアップロードしてください。",
    "Dial-in: https://meet.example.com/abc-defg-hij; passcode 123456",
)  # fmt: skip


def generate_ics(n_events: int, seed: int = 0, series_share: float = 0.2) -> str:
    """Return an .ics text with ``n_events`` distinct events (UIDs); the same seed gives the same text.

    :param n_events: number of events; a series with its overrides counts once.
    :param seed: random seed.
    :param series_share: fraction of events that repeat (weekly or monthly).
    """
    if n_events < 0:
        raise ValueError("n_events must be >= 0")
    if not 0 <= series_share <= 1:
        raise ValueError("series_share must be between 0 and 1")
    rng = random.Random(seed)
    zones = [z for z, w in ZONE_WEIGHTS.items() for _ in range(w)]
    body: list[str] = []
    for index in range(n_events):
        uid = f"gen-{seed}-{index:06d}@sample.calendar-etl.example"
        stamp = dt.datetime(2026, 10, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
        if rng.random() < series_share:
            body.extend(_series(rng, uid, stamp, rng.choice(zones)))
        else:
            body.extend(_single(rng, uid, stamp, rng.choice(zones)))
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             "X-WR-CALNAME:Generated sample calendar", "X-WR-TIMEZONE:Asia/Tokyo"]  # fmt: skip
    for zone in sorted(VTIMEZONES):
        lines.extend(VTIMEZONES[zone].splitlines())
    lines.extend(body)
    lines.append("END:VCALENDAR")
    return "".join(folded + "\r\n" for line in lines for folded in _fold(line))


# ---------------------------------------------------------------------- events


def _single(rng: random.Random, uid: str, stamp: dt.datetime, zone: str) -> list[str]:
    day = FIRST_DAY + dt.timedelta(days=rng.randrange(SPAN_DAYS))
    lines = ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{_utc(stamp)}"]
    if rng.random() < 0.2:
        days = rng.choice((1, 1, 1, 2, 3, 5))
        lines += [
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + dt.timedelta(days=days):%Y%m%d}",
            f"SUMMARY:{_text(rng.choice(ALL_DAY_TITLES))}",
            "TRANSP:TRANSPARENT",
        ]
    else:
        start = dt.datetime.combine(day, dt.time(rng.randrange(7, 20), rng.choice((0, 15, 30, 45))))
        end = start + dt.timedelta(minutes=rng.choice((15, 30, 45, 60, 90, 120)))
        lines += [_when("DTSTART", start, zone), _when("DTEND", end, zone), f"SUMMARY:{_text(rng.choice(TITLES))}"]
        lines += _details(rng)
    lines.append("END:VEVENT")
    return lines


def _series(rng: random.Random, uid: str, stamp: dt.datetime, zone: str) -> list[str]:
    monthly = rng.random() < 0.3
    all_day = rng.random() < 0.15
    first = FIRST_DAY + dt.timedelta(days=rng.randrange(SPAN_DAYS // 2))
    if monthly and first.day > 28:
        first = first.replace(day=28)
    count = rng.randrange(4, 21)
    days = [_add_months(first, k) if monthly else first + dt.timedelta(weeks=k) for k in range(count)]
    rule = f"FREQ=MONTHLY;BYMONTHDAY={first.day}" if monthly else f"FREQ=WEEKLY;BYDAY={RFC_DAYS[first.weekday()]}"
    at = dt.time(rng.randrange(7, 19), rng.choice((0, 30)))
    length = dt.timedelta(minutes=rng.choice((30, 45, 60, 90)))
    summary = rng.choice(TITLES)

    def local(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, at)

    if rng.random() < 0.5:
        rule += f";COUNT={count}"
    elif all_day:
        rule += f";UNTIL={days[-1]:%Y%m%d}"
    else:  # RFC 5545 3.3.10: with a TZID start, UNTIL is in UTC
        rule += f";UNTIL={_utc(_instant(local(days[-1]), zone))}"
    spare = list(range(1, count))
    rng.shuffle(spare)
    excluded = sorted(spare[: rng.randrange(0, 3)])
    overridden = sorted(spare[len(excluded) : len(excluded) + rng.randrange(0, 3)])

    master = ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{_utc(stamp)}", "SEQUENCE:1"]
    if all_day:
        master += [f"DTSTART;VALUE=DATE:{first:%Y%m%d}", f"DTEND;VALUE=DATE:{first + dt.timedelta(days=1):%Y%m%d}"]
    else:
        master += [_when("DTSTART", local(first), zone), _when("DTEND", local(first) + length, zone)]
    master.append(f"RRULE:{rule}")
    if excluded:
        if all_day:
            master.append("EXDATE;VALUE=DATE:" + ",".join(f"{days[i]:%Y%m%d}" for i in excluded))
        else:
            master.append(_when("EXDATE", [local(days[i]) for i in excluded], zone))
    master += [f"SUMMARY:{_text(summary)}", *_details(rng), "END:VEVENT"]

    out = master
    for i in overridden:
        change = rng.choice(("moved", "edited", "cancelled"))
        lines = ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{_utc(stamp)}", "SEQUENCE:1"]
        if all_day:
            lines.append(f"RECURRENCE-ID;VALUE=DATE:{days[i]:%Y%m%d}")
            new_day = days[i] + dt.timedelta(days=1 if change == "moved" else 0)
            lines += [f"DTSTART;VALUE=DATE:{new_day:%Y%m%d}",
                      f"DTEND;VALUE=DATE:{new_day + dt.timedelta(days=1):%Y%m%d}"]  # fmt: skip
        else:
            lines.append(_when("RECURRENCE-ID", local(days[i]), zone))
            new_start = local(days[i]) + (
                dt.timedelta(hours=rng.choice((1, 2, 24))) if change == "moved" else dt.timedelta()
            )
            lines += [_when("DTSTART", new_start, zone), _when("DTEND", new_start + length, zone)]
        lines.append(f"SUMMARY:{_text(summary + (' (changed agenda)' if change == 'edited' else ''))}")
        if change == "cancelled":
            lines.append("STATUS:CANCELLED")
        lines.append("END:VEVENT")
        out += lines
    return out


def _details(rng: random.Random) -> list[str]:
    lines = []
    if rng.random() < 0.5:
        lines.append(f"LOCATION:{_text(rng.choice(ROOMS))}")
    if rng.random() < 0.3:
        lines.append(f"DESCRIPTION:{_text(rng.choice(DESCRIPTIONS))}")
    if rng.random() < 0.4:
        name, email = rng.choice(PEOPLE)
        lines.append(f'ORGANIZER;CN="{name}":mailto:{email}')
        for name, email in rng.sample(PEOPLE, rng.randrange(1, 4)):
            partstat = rng.choice(("ACCEPTED", "TENTATIVE", "NEEDS-ACTION", "DECLINED"))
            lines.append(f'ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};CN="{name}":mailto:{email}')
        if rng.random() < 0.3:
            room = rng.choice(ROOMS)
            lines.append(f'ATTENDEE;CUTYPE=ROOM;ROLE=NON-PARTICIPANT;CN="{room}":mailto:room@example.co.jp')
    if rng.random() < 0.2:
        lines.append(f"CATEGORIES:{_text(rng.choice(CATEGORIES))}")
    if rng.random() < 0.1:
        lines.append("CLASS:PRIVATE")
    if rng.random() < 0.3:
        minutes = rng.choice((5, 10, 15, 30, 60))
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder", f"TRIGGER:-PT{minutes}M", "END:VALARM"]
    return lines


# ---------------------------------------------------------------------- formatting


def _when(name: str, value: dt.datetime | list[dt.datetime], zone: str) -> str:
    """Return a DTSTART/DTEND/EXDATE/RECURRENCE-ID line for local wall time(s) in ``zone``."""
    values = value if isinstance(value, list) else [value]
    if zone == "UTC":
        return f"{name}:" + ",".join(f"{v:%Y%m%dT%H%M%S}Z" for v in values)
    return f"{name};TZID={zone}:" + ",".join(f"{v:%Y%m%dT%H%M%S}" for v in values)


def _instant(local: dt.datetime, zone: str) -> dt.datetime:
    return local.replace(tzinfo=zoneinfo.ZoneInfo(zone))


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1)


def _text(value: str) -> str:
    """Return ``value`` escaped as an RFC 5545 TEXT value."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """Return ``line`` folded into pieces of at most 75 octets, never inside a UTF-8 character."""
    pieces, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > 75:
            pieces.append(current)
            current, size = " ", 1
        current += char
        size += width
    pieces.append(current)
    return pieces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="distinct events (UIDs) to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--series-share", type=float, default=0.2, help="fraction of events that repeat")
    parser.add_argument("--output", type=Path, default=Path("generated.ics"), help="file to write")
    args = parser.parse_args(argv)
    text = generate_ics(args.events, seed=args.seed, series_share=args.series_share)
    args.output.write_bytes(text.encode("utf-8"))
    print(
        f"wrote {args.output}: {args.events} events, {text.count('BEGIN:VEVENT')} VEVENTs, {len(text.encode())} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
