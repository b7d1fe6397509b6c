"""Deterministic demo tenant shared by the Garoon and LINE WORKS emulators.

``demo_tenant(anchor, seed)`` builds the same directory (users, organizations,
facilities, LINE WORKS accounts) and the same few hundred raw Garoon schedule
objects for the same ``(anchor, seed)``. Only ``random.Random(seed)`` is used;
the clock is never read. Object shapes follow ``shared/reference/garoon-api.md``
(sections 4.6, 4.7, 6) and ``shared/reference/lineworks-api.md`` (section 5).

Garoon-side details that the reference leaves open and that were decided here:

* ``ALL_DAY`` (period) events carry ``isAllDay: true``.
* A start-only repeating series has ``repeatInfo.time`` with ``start`` only.
* An all-day repeating series has ``repeatInfo.time`` ``00:00``-``23:59``.
* An edited occurrence (override) carries the master's ``repeatInfo`` too; it is
  recognised by its ``repeatId`` and its own ``start``/``end``.
* Ids are assigned in ``createdAt`` order; ``createdAt``/``updatedAt`` are never
  later than the event's first instant nor than the anchor day's 00:00 UTC.
"""

from __future__ import annotations

import calendar
import copy
import datetime
import random
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

Json = dict[str, Any]

ADMIN_LOGIN = "Administrator"
DEMO_PASSWORD = "garoon-demo-password"
LINEWORKS_DOMAIN_ID = 10000001
EMAIL_DOMAIN = "demo.example.com"
ADMIN_EMAIL = f"admin@{EMAIL_DOMAIN}"

TOKYO = "Asia/Tokyo"
LOS_ANGELES = "America/Los_Angeles"
LONDON = "Europe/London"
UTC_ZONE = "UTC"

REPEAT_TYPES: tuple[str, ...] = (
    "EVERY_DAY",
    "EVERY_WEEKDAY",
    "EVERY_WEEK",
    "EVERY_1STWEEK",
    "EVERY_2NDWEEK",
    "EVERY_3RDWEEK",
    "EVERY_4THWEEK",
    "EVERY_LASTWEEK",
    "EVERY_MONTH",
)
WEEKDAY_CODES: tuple[str, ...] = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_NTH_WEEK: dict[str, int] = {
    "EVERY_1STWEEK": 1,
    "EVERY_2NDWEEK": 2,
    "EVERY_3RDWEEK": 3,
    "EVERY_4THWEEK": 4,
}
_WEEK_BASED = frozenset({"EVERY_WEEK", "EVERY_LASTWEEK", *_NTH_WEEK})
END_OF_MONTH = "EOM"

FIRST_EVENT_ID = 1001
FIRST_ORGANIZATION_ID = 101
FIRST_FACILITY_ID = 501
USER_API_ID_OFFSET = 1000
FACILITY_GROUP_ID = "1"

# Garoon logins of the people who deliberately have no LINE WORKS account.
UNMAPPED_CODES: tuple[str, ...] = ("yamada-yoko", "matsumoto-ryo", "sophie-turner")
# The one LINE WORKS account that has no Garoon user.
LINEWORKS_ONLY_EMAIL = f"arai-jun@{EMAIL_DOMAIN}"

# Event generation knobs.
MEETINGS_PER_DAY_MIN = 3.8
MEETINGS_PER_DAY_MAX = 4.6
MIN_MEETINGS = 30
WORKDAY_START_MIN = 9 * 60
WORKDAY_END_MIN = 18 * 60
QUARTER_HOUR = 15
MEETING_DURATIONS: tuple[int, ...] = (30, 30, 45, 60, 60, 60, 90, 120)
OFF_HOURS_STARTS: tuple[int, ...] = (7 * 60 + 30, 19 * 60, 20 * 60 + 15)
ATTENDEE_COUNTS: tuple[int, ...] = (1, 2, 2, 3, 3, 3, 4, 4, 5, 6, 7, 8)
WEEKDAY_PROBABILITY = 0.92
FACILITY_PROBABILITY = 0.35
EXTRA_UTC_PROBABILITY = 0.03
FORCED_LA_MEETINGS = 3
FORCED_LONDON_MEETINGS = 3
FORCED_UTC_MEETINGS = 4
LONG_NOTES_COUNT = 6
LONG_NOTES_MIN = 3000
LONG_NOTES_MAX = 8000
LONG_SUBJECT_COUNT = 5
LONG_SUBJECT_MIN = 150
LONG_SUBJECT_MAX = 300
ORG_ATTENDEE_COUNT = 4
OFF_HOURS_COUNT = 4
PRIVATE_RANGE = (12, 20)
TRIP_RANGE = (4, 6)
PERIOD_RANGE = (6, 8)
ALL_DAY_REGULAR_RANGE = (6, 8)
START_ONLY_RANGE = (8, 12)
SERIES_AROUND_DAYS = (20, 45)
MIN_LEAD_SECONDS = 3600
MAX_LEAD_SECONDS = 40 * 86400


@dataclass(frozen=True)
class DemoTenant:
    """The whole demo tenant: Garoon directory and schedule plus LINE WORKS users."""

    garoon_users: list[Json]
    garoon_organizations: list[Json]
    garoon_facilities: list[Json]
    garoon_events: list[Json]
    lineworks_users: list[Json]
    unmapped_emails: list[str]


@dataclass(frozen=True)
class _Person:
    code: str
    sur: str
    given: str
    japanese: bool
    timezone: str
    orgs: tuple[str, ...]


_PEOPLE: tuple[_Person, ...] = (
    _Person("sato-ken", "佐藤", "健", True, TOKYO, ("sales",)),
    _Person("suzuki-hanako", "鈴木", "花子", True, TOKYO, ("sales",)),
    _Person("takahashi-sho", "高橋", "翔", True, TOKYO, ("dev",)),
    _Person("tanaka-misaki", "田中", "美咲", True, TOKYO, ("dev",)),
    _Person("ito-daisuke", "伊藤", "大輔", True, TOKYO, ("dev", "sales")),
    _Person("watanabe-yui", "渡辺", "結衣", True, TOKYO, ("admin-dept",)),
    _Person("yamamoto-takuya", "山本", "拓也", True, TOKYO, ("sales",)),
    _Person("nakamura-sakura", "中村", "さくら", True, TOKYO, ("dev",)),
    _Person("kobayashi-makoto", "小林", "誠", True, TOKYO, ("admin-dept",)),
    _Person("kato-ai", "加藤", "愛", True, TOKYO, ("sales",)),
    _Person("yoshida-takashi", "吉田", "隆", True, TOKYO, ("dev",)),
    _Person("yamada-yoko", "山田", "陽子", True, TOKYO, ("admin-dept",)),
    _Person("matsumoto-ryo", "松本", "亮", True, TOKYO, ("sales",)),
    _Person("inoue-nao", "井上", "奈緒", True, TOKYO, ("dev",)),
    _Person("emily-clark", "Clark", "Emily", False, LOS_ANGELES, ("sales",)),
    _Person("daniel-lee", "Lee", "Daniel", False, LOS_ANGELES, ("dev",)),
    _Person("james-wilson", "Wilson", "James", False, LONDON, ("sales",)),
    _Person("sophie-turner", "Turner", "Sophie", False, LONDON, ("dev",)),
    _Person("olivia-brown", "Brown", "Olivia", False, TOKYO, ("dev", "admin-dept")),
    _Person("michael-chen", "Chen", "Michael", False, TOKYO, ("sales",)),
)
_LINEWORKS_ONLY = _Person("arai-jun", "新井", "純", True, TOKYO, ())

# (code, name, parent code)
_ORGANIZATIONS: tuple[tuple[str, str, str | None], ...] = (
    ("hq", "本社", None),
    ("sales", "営業部", "hq"),
    ("dev", "開発部", "hq"),
    ("admin-dept", "総務部", "hq"),
)

# (code, name, notes, requiresPurpose)
_FACILITIES: tuple[tuple[str, str, str, bool], ...] = (
    ("room-a", "会議室A", "本社3F 定員8名 モニターあり", False),
    ("room-b", "会議室B", "本社3F 定員4名", False),
    ("large-hall", "Large Hall", "Capacity 80. A usage application with a purpose is required.", True),
    ("projector-1", "Projector 1", "Portable projector (HDMI / USB-C)", False),
    ("reception", "応接室", "本社2F 来客用", False),
)
_LARGE_HALL_CODE = "large-hall"

_MENUS: tuple[str, ...] = ("", "", "", "会議", "会議", "打合せ", "外出", "来客")
_OUTING_MENU = "外出"
_TRIP_MENU = "出張"
_HOLIDAY_MENU = "休み"

_SUBJECTS_JA: tuple[str, ...] = (
    "週次進捗会議",
    "予算レビュー",
    "新製品企画会議",
    "採用面接",
    "1on1",
    "顧客打合せ（株式会社サンプル商事）",
    "システム更新の説明会",
    "四半期レビュー",
    "見積もり検討",
    "デザインレビュー",
    "勉強会: Python入門",
    "契約内容の確認",
)
_SUBJECTS_EN: tuple[str, ...] = (
    "Weekly sync",
    "Customer call: Acme Corp",
    "Design review",
    "Budget planning",
    "1:1",
    "Interview: backend engineer",
    "Sprint planning",
    "Quarterly business review",
    "Vendor demo",
    "Architecture discussion",
)
_SHORT_NOTES: tuple[str, ...] = (
    "",
    "",
    "",
    "議題:\n1. 進捗確認\n2. 課題共有\n3. 次回日程",
    "資料は共有フォルダにあります。",
    "Agenda:\n- status\n- risks\n- next steps",
    "Video link: https://meet.example.com/j/1234567890",
    "絵文字テスト 🎉 & <b>タグ</b> \"引用符\" 'quotes' \\ backslash",
    "Bring the signed NDA.\nParking: level B2.",
)
_LONG_NOTES_JA: tuple[str, ...] = (
    "本日の議題は、前回の決定事項の確認、各担当からの進捗報告、ならびに来期に向けた課題の洗い出しです。",
    "営業部からは、主要顧客三社との契約更新交渉が順調に進んでいる旨の報告がありました。",
    "開発部からは、カレンダー連携機能の結合テストで時差に関する不具合が二件見つかったとの報告がありました。",
    "総務部からは、年末年始の休業日程と、会議室の利用ルール変更について説明がありました。",
    "議論の結果、リリース日は一週間延期し、その間に回帰テストを追加で実施することになりました。",
    "次回までの宿題として、各部門は来期の予算案と人員計画を共有フォルダに提出してください。",
    "なお、繰り返し予定の例外日や終日予定の扱いについては、移行前に必ず確認が必要です。",
    "参加できなかったメンバーには本メモを共有のうえ、質問があれば担当者まで連絡してください。",
    "顧客からは、予定の公開範囲と施設予約の承認フローを維持したいという要望がありました。",
    "□ 確認事項：会議室Aのモニター交換、Large Hall の利用申請手順、出張精算の締め日。",
)
_LONG_NOTES_EN: tuple[str, ...] = (
    "Agenda: review of last week's action items, status updates from each team, and open risks.",
    "Sales reported that renewal talks with the three largest accounts are on track for December.",
    "Engineering found two time-zone defects in the calendar integration during end-to-end tests.",
    "Facilities reminded everyone that Large Hall bookings need a usage application with a purpose.",
    "We agreed to postpone the release by one week and use the time for more regression tests.",
    "Action item: every department uploads its draft budget and hiring plan before Friday.",
    "Exceptions in repeating events and all-day periods must be verified before the cut-over.",
    "People who could not attend should read these notes and contact the owner with questions.",
    "Customer feedback: keep private events private and preserve the facility approval workflow.",
    "Open question: how should start-only events be represented in the target calendar?",
)
_LONG_SUBJECT_JA: tuple[str, ...] = (
    "【重要】2027年度上期予算策定に向けた各部門ヒアリング",
    "（営業部・開発部・総務部 合同）",
    "および新カレンダー移行に関する事前説明会",
    "※資料は事前に共有フォルダを確認のこと",
    "／オンライン参加可",
    "／議事録担当：持ち回り",
    "／終了後に懇親会あり（任意参加）",
    "／会場：本社3F 会議室A または Large Hall",
)
_LONG_SUBJECT_EN: tuple[str, ...] = (
    "[Important] Cross-team planning session for the FY2027 first-half budget",
    " (Sales, Engineering and General Affairs)",
    " including a walkthrough of the calendar migration",
    " - please read the pre-read in the shared folder first",
    " / remote participation available",
    " / note-taker rotates",
    " / optional dinner afterwards",
)
_TRIP_SUBJECTS_JA: tuple[str, ...] = ("大阪支社 出張", "福岡 顧客訪問出張", "名古屋 展示会準備出張")
_TRIP_SUBJECTS_EN: tuple[str, ...] = ("Trip to London office", "Customer visits in Seattle")
_CROSS_ZONE_TRIP_SUBJECT = "Business trip to San Francisco (HND → SFO)"
_PERIOD_SUBJECTS_JA: tuple[str, ...] = ("展示会出展（東京ビッグサイト）", "年次休暇", "新人研修", "福岡出張")
_PERIOD_SUBJECTS_EN: tuple[str, ...] = ("Offsite in Kyoto", "Annual leave", "Conference: PyCon")
_DAY_SUBJECTS_JA: tuple[str, ...] = ("在宅勤務", "健康診断", "棚卸し", "有給休暇")
_DAY_SUBJECTS_EN: tuple[str, ...] = ("Remote work", "Company holiday", "Day off")
_START_ONLY_JA: tuple[str, ...] = ("出発（羽田空港）", "見積書提出締切", "来客受付", "郵便物発送")
_START_ONLY_EN: tuple[str, ...] = ("Call back: Acme Corp", "Report deadline", "Pick up badge")
_PURPOSES: tuple[str, ...] = ("全社説明会のため", "顧客向けセミナー", "Town hall meeting")
_COMPANIES: tuple[Json, ...] = (
    {
        "name": "株式会社サンプル商事",
        "zipCode": "100-0005",
        "address": "東京都千代田区丸の内1-1-1",
        "route": "東京駅 - 丸ノ内線 - 大手町駅",
        "routeTime": "5",
        "routeFare": "180",
        "phone": "03-0000-0000",
    },
    {
        "name": "Acme Corp",
        "zipCode": "94105",
        "address": "1 Market St, San Francisco, CA",
        "route": "BART Embarcadero",
        "routeTime": "10",
        "routeFare": "2.5",
        "phone": "+1-415-555-0100",
    },
)


@dataclass(frozen=True)
class _SeriesSpec:
    repeat_type: str
    subject: str
    zone: str
    start_minute: int  # minutes after local midnight; ignored for all-day
    duration: int  # minutes; 0 = start-only
    around: bool  # True: period overlaps the demo range on both sides
    exclusions: int = 0
    all_day: bool = False
    day_of_month: str = ""  # "EOM" or "" (= random numeric day)
    override_subject: str = ""  # non-empty: one occurrence renamed
    override_shift: int = 0  # minutes: one occurrence moved


_SERIES: tuple[_SeriesSpec, ...] = (
    _SeriesSpec("EVERY_DAY", "朝会", TOKYO, 9 * 60, 15, False, 2, override_subject="朝会（全社朝礼と合同）"),
    _SeriesSpec("EVERY_WEEKDAY", "Daily stand-up (US team)", LOS_ANGELES, 9 * 60 + 30, 15, True, 1),
    _SeriesSpec("EVERY_WEEK", "週次定例（営業部）", TOKYO, 10 * 60, 60, False, 2, override_shift=60),
    _SeriesSpec("EVERY_1STWEEK", "月次全体会議", TOKYO, 15 * 60, 60, True),
    _SeriesSpec("EVERY_2NDWEEK", "Monthly security review", UTC_ZONE, 7 * 60, 60, True),
    _SeriesSpec("EVERY_3RDWEEK", "安全衛生委員会", TOKYO, 13 * 60 + 30, 60, True),
    _SeriesSpec("EVERY_4THWEEK", "経営会議", TOKYO, 10 * 60, 120, True, 1),
    _SeriesSpec("EVERY_LASTWEEK", "Monthly retrospective (London)", LONDON, 16 * 60, 60, True, 1),
    _SeriesSpec("EVERY_MONTH", "経費精算締切", TOKYO, 17 * 60, 0, True),
    _SeriesSpec(
        "EVERY_MONTH",
        "月末締め処理",
        TOKYO,
        0,
        0,
        True,
        all_day=True,
        day_of_month=END_OF_MONTH,
        override_subject="月末締め処理（監査対応のため延長）",
    ),
)
_NUMERIC_DAYS_OF_MONTH: tuple[str, ...] = ("5", "10", "15", "20", "25", "31")


def demo_tenant(
    anchor: datetime.date,
    seed: int = 0,
    *,
    days_before: int = 30,
    days_after: int = 30,
) -> DemoTenant:
    """Return the demo tenant for ``anchor``; identical for identical arguments.

    Event dates lie in ``[anchor - days_before, anchor + days_after)``; repeating
    series may start before or end after that window.
    """
    if days_before < 0 or days_after < 0 or days_before + days_after < 1:
        raise ValueError("days_before and days_after must be >= 0 and span at least one day")
    if isinstance(anchor, datetime.datetime):
        anchor = anchor.date()
    rng = random.Random(seed)
    organizations = _build_organizations()
    org_ids = {org["code"]: org["id"] for org in organizations}
    users = _build_garoon_users(org_ids)
    facilities = _build_facilities()
    lineworks_users = _build_lineworks_users(rng, users)
    unmapped = [user["email"] for user in users if user["code"] in UNMAPPED_CODES]
    factory = _EventFactory(rng, anchor, days_before, days_after, users, organizations, facilities)
    return DemoTenant(
        garoon_users=users,
        garoon_organizations=organizations,
        garoon_facilities=facilities,
        garoon_events=factory.build(),
        lineworks_users=lineworks_users,
        unmapped_emails=unmapped,
    )


def expected_repeat_dates(repeat_info: dict[str, Any]) -> list[datetime.date]:
    """Return the occurrence dates of ``repeat_info``, with exclusiveDateTimes removed.

    Plain reference implementation used as a test oracle; unknown types give [].
    """
    kind = repeat_info.get("type")
    if kind not in REPEAT_TYPES:
        return []
    first = datetime.date.fromisoformat(repeat_info["period"]["start"])
    last = datetime.date.fromisoformat(repeat_info["period"]["end"])
    zone = ZoneInfo(repeat_info.get("timeZone") or TOKYO)
    excluded: set[datetime.date] = set()
    for exclusion in repeat_info.get("exclusiveDateTimes") or []:
        moment = datetime.datetime.fromisoformat(exclusion["start"])
        excluded.add(moment.astimezone(zone).date())
    dates: list[datetime.date] = []
    day = first
    while day <= last:
        if _repeat_matches(str(kind), day, repeat_info) and day not in excluded:
            dates.append(day)
        day += datetime.timedelta(days=1)
    return dates


def _repeat_matches(kind: str, day: datetime.date, repeat_info: dict[str, Any]) -> bool:
    """Return whether ``day`` is an occurrence of a ``kind`` series (exclusions ignored)."""
    month_length = calendar.monthrange(day.year, day.month)[1]
    if kind == "EVERY_DAY":
        return True
    if kind == "EVERY_WEEKDAY":
        return day.weekday() < 5
    if kind == "EVERY_MONTH":
        day_of_month = str(repeat_info.get("dayOfMonth", ""))
        if day_of_month == END_OF_MONTH:
            return day.day == month_length
        return day_of_month.isdigit() and day.day == int(day_of_month)
    if day.weekday() != WEEKDAY_CODES.index(repeat_info.get("dayOfWeek", "MON")):
        return False
    if kind == "EVERY_WEEK":
        return True
    if kind == "EVERY_LASTWEEK":
        return day.day + 7 > month_length
    return (day.day - 1) // 7 + 1 == _NTH_WEEK[kind]


def _build_organizations() -> list[Json]:
    """Return the Garoon organizations, parents before children."""
    ids = {code: str(FIRST_ORGANIZATION_ID + n) for n, (code, _, _) in enumerate(_ORGANIZATIONS)}
    return [
        {
            "id": ids[code],
            "code": code,
            "name": name,
            "parentOrganization": ids[parent] if parent else None,
            "childOrganizations": [{"id": ids[c]} for c, _, p in _ORGANIZATIONS if p == code],
        }
        for code, name, parent in _ORGANIZATIONS
    ]


def _build_garoon_users(org_ids: dict[str, str]) -> list[Json]:
    """Return the Garoon users (administrator first) with User-API extras."""
    admin: Json = {
        "id": "1",
        "code": ADMIN_LOGIN,
        "name": "Administrator",
        "email": ADMIN_EMAIL,
        "password": DEMO_PASSWORD,
        "userApiId": str(USER_API_ID_OFFSET + 1),
        "surName": "Administrator",
        "givenName": "",
        "timezone": TOKYO,
        "locale": "ja",
        "organizations": [],
    }
    users = [admin]
    for n, person in enumerate(_PEOPLE, start=2):
        users.append(
            {
                "id": str(n),
                "code": person.code,
                "name": _display_name(person),
                "email": f"{person.code}@{EMAIL_DOMAIN}",
                "password": DEMO_PASSWORD,
                "userApiId": str(USER_API_ID_OFFSET + n),
                "surName": person.sur,
                "givenName": person.given,
                "timezone": person.timezone,
                "locale": "ja" if person.japanese else "en",
                "organizations": [org_ids[code] for code in person.orgs],
            }
        )
    return users


def _display_name(person: _Person) -> str:
    """Return the name as Garoon shows it ("佐藤 健" / "Emily Clark")."""
    return f"{person.sur} {person.given}" if person.japanese else f"{person.given} {person.sur}"


def _build_facilities() -> list[Json]:
    """Return the Garoon facilities (exactly one requires a usage purpose)."""
    return [
        {
            "id": str(FIRST_FACILITY_ID + n),
            "code": code,
            "name": name,
            "notes": notes,
            "facilityGroup": FACILITY_GROUP_ID,
            "requiresPurpose": requires_purpose,
        }
        for n, (code, name, notes, requires_purpose) in enumerate(_FACILITIES)
    ]


def _build_lineworks_users(rng: random.Random, garoon_users: list[Json]) -> list[Json]:
    """Return LINE WORKS users: mapped Garoon users plus one LINE WORKS-only user."""
    result = []
    for user in garoon_users:
        if user["code"] in UNMAPPED_CODES:
            continue
        result.append(
            _lineworks_user(
                rng,
                email=user["email"],
                last_name=user["surName"],
                first_name=user["givenName"],
                japanese=user["locale"] == "ja",
                zone=user["timezone"],
            )
        )
    only = _LINEWORKS_ONLY
    result.append(
        _lineworks_user(
            rng,
            email=LINEWORKS_ONLY_EMAIL,
            last_name=only.sur,
            first_name=only.given,
            japanese=only.japanese,
            zone=only.timezone,
        )
    )
    return result


def _lineworks_user(
    rng: random.Random, *, email: str, last_name: str, first_name: str, japanese: bool, zone: str
) -> Json:
    """Return one LINE WORKS User object with a seed-derived userId."""
    return {
        "domainId": LINEWORKS_DOMAIN_ID,
        "userId": f"user{uuid.UUID(int=rng.getrandbits(128))}",
        "userExternalKey": None,
        "email": email,
        "userName": {"lastName": last_name, "firstName": first_name},
        "isAdministrator": False,
        "isPending": False,
        "isSuspended": False,
        "isDeleted": False,
        "locale": "ja_JP" if japanese else "en_US",
        "timeZone": zone,
    }


def _rfc3339(moment: datetime.datetime) -> str:
    """Return ``moment`` as RFC 3339 with its own offset (``+09:00``)."""
    return moment.isoformat(timespec="seconds")


def _utc_stamp(moment: datetime.datetime) -> str:
    """Return ``moment`` as a Garoon ``createdAt`` string (UTC, ``Z``)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(day: datetime.date, minutes: int, zone: str, seconds: int = 0) -> datetime.datetime:
    """Return the aware local datetime ``minutes`` after midnight of ``day`` in ``zone``."""
    clock = datetime.time(minutes // 60, minutes % 60, seconds)
    return datetime.datetime.combine(day, clock, tzinfo=ZoneInfo(zone))


def _day_bounds(first: datetime.date, last: datetime.date, zone: str) -> tuple[datetime.datetime, datetime.datetime]:
    """Return 00:00:00 of ``first`` and 23:59:59 of ``last`` in ``zone``."""
    return _local(first, 0, zone), _local(last, 23 * 60 + 59, zone, seconds=59)


def _hhmm(minutes: int) -> str:
    """Return ``minutes`` after midnight as "HH:MM"."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _filler(rng: random.Random, pieces: tuple[str, ...], min_len: int, max_len: int, seps: tuple[str, ...]) -> str:
    """Return text of ``min_len``..``max_len`` characters built from ``pieces``."""
    target = rng.randint(min_len, max_len)
    parts: list[str] = []
    length = 0
    while length < target:
        part = rng.choice(pieces) + rng.choice(seps)
        parts.append(part)
        length += len(part)
    return "".join(parts)[:max_len]


@dataclass
class _Draft:
    """Everything needed to render one schedule object."""

    creator: Json
    event_type: str
    subject: str
    zone: str
    attendees: list[Json]
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None
    end_zone: str = ""
    notes: str = ""
    menu: str = ""
    visibility: str = "PUBLIC"
    all_day: bool = False
    start_only: bool = False
    company: Json | None = None
    facility: Json | None = None
    purpose: str = ""


class _EventFactory:
    """Builds the raw Garoon schedule objects of the demo tenant."""

    def __init__(
        self,
        rng: random.Random,
        anchor: datetime.date,
        days_before: int,
        days_after: int,
        users: list[Json],
        organizations: list[Json],
        facilities: list[Json],
    ) -> None:
        self.rng = rng
        self.first_day = anchor - datetime.timedelta(days=days_before)
        self.span = days_before + days_after
        self.last_day = self.first_day + datetime.timedelta(days=self.span - 1)
        self.now = datetime.datetime.combine(anchor, datetime.time(0), tzinfo=datetime.UTC)
        self.people = [user for user in users if user["code"] != ADMIN_LOGIN]
        self.departments = [org for org in organizations if org["parentOrganization"] is not None]
        self.facilities = facilities
        self.bookings: dict[str, list[tuple[datetime.datetime, datetime.datetime]]] = {
            facility["id"]: [] for facility in facilities
        }
        self.groups: list[tuple[datetime.datetime, list[Json]]] = []

    def build(self) -> list[Json]:
        """Return all schedule objects, ids assigned in createdAt order."""
        self._add_meetings()
        self._add_trips()
        self._add_periods()
        self._add_all_day_regulars()
        self._add_start_only()
        for spec in _SERIES:
            self._add_series(spec)
        self.groups.sort(key=lambda group: group[0])
        events: list[Json] = []
        for n, (_, group) in enumerate(self.groups):
            for event in group:
                event["id"] = str(FIRST_EVENT_ID + n)
                events.append(event)
        return events

    # -- random helpers -------------------------------------------------------------

    def _count(self, bounds: tuple[int, int]) -> int:
        """Return a count drawn from the inclusive ``bounds``."""
        return self.rng.randint(*bounds)

    def _pick_day(self, length: int = 1, weekday_probability: float = WEEKDAY_PROBABILITY) -> datetime.date:
        """Return a first day so that ``length`` days fit the range, usually a weekday."""
        latest = max(0, self.span - length)
        want_weekday = self.rng.random() < weekday_probability
        day = self.first_day + datetime.timedelta(days=self.rng.randint(0, latest))
        for _ in range(10):
            if not want_weekday or day.weekday() < 5:
                break
            day = self.first_day + datetime.timedelta(days=self.rng.randint(0, latest))
        return day

    def _person_in(self, zone: str) -> Json:
        """Return a random person whose home zone is ``zone`` (anyone if none)."""
        candidates = [user for user in self.people if user["timezone"] == zone]
        return self.rng.choice(candidates or self.people)

    def _attendees(self, creator: Json, count: int, with_org: bool = False) -> list[Json]:
        """Return ``count`` USER attendees starting with ``creator`` (+ one org)."""
        others = [user for user in self.people if user["id"] != creator["id"]]
        chosen = [creator, *self.rng.sample(others, min(count, len(others) + 1) - 1)]
        result: list[Json] = [
            {
                "id": user["id"],
                "code": user["code"],
                "name": user["name"],
                "type": "USER",
                "attendanceResponse": {
                    "status": "ACCEPTED" if user is creator else self.rng.choice(("PENDING", "ACCEPTED")),
                    "comment": "",
                },
            }
            for user in chosen
        ]
        if with_org:
            org = self.rng.choice(self.departments)
            result.append({"id": org["id"], "code": org["code"], "name": org["name"], "type": "ORGANIZATION"})
        return result

    def _subject(self, creator: Json, japanese: tuple[str, ...], english: tuple[str, ...]) -> str:
        """Return a subject in the creator's language."""
        return self.rng.choice(japanese if creator["locale"] == "ja" else english)

    def _stamps(self, not_after: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
        """Return (createdAt, updatedAt), both before ``not_after`` and the anchor."""
        limit = min(not_after, self.now)
        created = limit - datetime.timedelta(seconds=self.rng.randint(MIN_LEAD_SECONDS, MAX_LEAD_SECONDS))
        return created, self._between(created, limit)

    def _between(self, earliest: datetime.datetime, limit: datetime.datetime) -> datetime.datetime:
        """Return a whole-second instant in ``[earliest, limit)`` (``earliest`` if empty)."""
        room = int((limit - earliest).total_seconds()) - 1
        return earliest + datetime.timedelta(seconds=self.rng.randint(0, room)) if room > 0 else earliest

    def _try_book(self, start: datetime.datetime, end: datetime.datetime, prefer_hall: bool) -> Json | None:
        """Return a facility free over [start, end) and record the booking, or None."""
        order = list(self.facilities)
        self.rng.shuffle(order)
        if prefer_hall:
            order.sort(key=lambda facility: facility["code"] != _LARGE_HALL_CODE)
        for facility in order:
            taken = self.bookings[facility["id"]]
            if all(not (start < other_end and other_start < end) for other_start, other_end in taken):
                taken.append((start, end))
                return facility
        return None

    # -- rendering ------------------------------------------------------------------

    def _render(self, draft: _Draft, created: datetime.datetime, updated: datetime.datetime) -> Json:
        """Return the schedule object for ``draft`` (id filled in later)."""
        creator = {key: draft.creator[key] for key in ("id", "code", "name")}
        event: Json = {
            "id": "",
            "creator": creator,
            "createdAt": _utc_stamp(created),
            "updater": dict(creator),
            "updatedAt": _utc_stamp(updated),
            "eventType": draft.event_type,
            "eventMenu": draft.menu,
            "subject": draft.subject,
            "notes": draft.notes,
            "visibilityType": draft.visibility,
            "useAttendanceCheck": False,
        }
        if draft.company is not None:
            event["companyInfo"] = dict(draft.company)
        event["attachments"] = []
        end_zone = draft.end_zone or draft.zone
        if draft.start is not None:
            event["start"] = {"dateTime": _rfc3339(draft.start), "timeZone": draft.zone}
        if draft.end is not None:
            event["end"] = {"dateTime": _rfc3339(draft.end), "timeZone": end_zone}
        event["isAllDay"] = draft.all_day
        event["isStartOnly"] = draft.start_only
        event["originalStartTimeZone"] = draft.zone
        event["originalEndTimeZone"] = end_zone
        event["attendees"] = draft.attendees
        event["watchers"] = []
        event["facilities"] = []
        if draft.facility is not None:
            event["facilities"] = [{key: draft.facility[key] for key in ("id", "name", "code")}]
            if draft.facility["requiresPurpose"]:
                event["facilityUsingPurpose"] = draft.purpose or self.rng.choice(_PURPOSES)
        event["additionalItems"] = {"item": {"value": ""}}
        return event

    def _emit(self, draft: _Draft) -> None:
        """Render a one-off event and queue it."""
        assert draft.start is not None
        created, updated = self._stamps(draft.start)
        self.groups.append((created, [self._render(draft, created, updated)]))

    # -- one-off events -------------------------------------------------------------

    def _add_meetings(self) -> None:
        """Queue the REGULAR timed single-day meetings (some with facilities)."""
        per_day = self.rng.uniform(MEETINGS_PER_DAY_MIN, MEETINGS_PER_DAY_MAX)
        count = max(MIN_MEETINGS, round(self.span * per_day))
        indices = range(count)
        forced_zones: dict[int, str] = {}
        forced = self.rng.sample(indices, FORCED_LA_MEETINGS + FORCED_LONDON_MEETINGS + FORCED_UTC_MEETINGS)
        for position, index in enumerate(forced):
            if position < FORCED_LA_MEETINGS:
                forced_zones[index] = LOS_ANGELES
            elif position < FORCED_LA_MEETINGS + FORCED_LONDON_MEETINGS:
                forced_zones[index] = LONDON
            else:
                forced_zones[index] = UTC_ZONE
        private = set(self.rng.sample(indices, self._count(PRIVATE_RANGE)))
        # index -> True for Japanese text; languages alternate so both always appear.
        long_notes = {i: n % 2 == 0 for n, i in enumerate(self.rng.sample(indices, LONG_NOTES_COUNT))}
        long_subjects = {i: n % 2 == 1 for n, i in enumerate(self.rng.sample(indices, LONG_SUBJECT_COUNT))}
        with_org = set(self.rng.sample(indices, ORG_ATTENDEE_COUNT))
        off_hours = set(self.rng.sample(indices, OFF_HOURS_COUNT))
        hall_pending = True
        for index in indices:
            zone = forced_zones.get(index, "")
            if zone in (LOS_ANGELES, LONDON):
                creator = self._person_in(zone)
            else:
                creator = self.rng.choice(self.people)
                if not zone:
                    zone = UTC_ZONE if self.rng.random() < EXTRA_UTC_PROBABILITY else creator["timezone"]
            duration = self.rng.choice(MEETING_DURATIONS)
            if index in off_hours:
                start_minute = self.rng.choice(OFF_HOURS_STARTS)
            else:
                start_minute = self.rng.randrange(WORKDAY_START_MIN, WORKDAY_END_MIN - duration + 1, QUARTER_HOUR)
            day = self._pick_day()
            start = _local(day, start_minute, zone)
            end = _local(day, start_minute + duration, zone)
            menu = self.rng.choice(_MENUS)
            draft = _Draft(
                creator=creator,
                event_type="REGULAR",
                subject=self._subject(creator, _SUBJECTS_JA, _SUBJECTS_EN),
                zone=zone,
                attendees=self._attendees(creator, self.rng.choice(ATTENDEE_COUNTS), index in with_org),
                start=start,
                end=end,
                notes=self.rng.choice(_SHORT_NOTES),
                menu=menu,
                visibility="PRIVATE" if index in private else "PUBLIC",
                company=self.rng.choice(_COMPANIES) if menu == _OUTING_MENU else None,
            )
            if index in long_notes:
                pool, seps = (
                    (_LONG_NOTES_JA, ("", "", "\n", "\n\n"))
                    if long_notes[index]
                    else (_LONG_NOTES_EN, (" ", " ", "\n", "\n\n"))
                )
                draft.notes = _filler(self.rng, pool, LONG_NOTES_MIN, LONG_NOTES_MAX, seps)
            if index in long_subjects:
                pool = _LONG_SUBJECT_JA if long_subjects[index] else _LONG_SUBJECT_EN
                draft.subject = _filler(self.rng, pool, LONG_SUBJECT_MIN, LONG_SUBJECT_MAX, ("",))
            if hall_pending or self.rng.random() < FACILITY_PROBABILITY:
                draft.facility = self._try_book(start, end, prefer_hall=hall_pending)
                hall_pending = hall_pending and draft.facility is None
            self._emit(draft)

    def _add_trips(self) -> None:
        """Queue multi-day timed REGULAR events (one ends in another zone)."""
        for index in range(self._count(TRIP_RANGE)):
            length = min(self.rng.randint(2, 3), self.span)
            first = self._pick_day(length)
            last = first + datetime.timedelta(days=length - 1)
            if index == 0:
                creator = self._person_in(TOKYO)
                zone, end_zone, subject = TOKYO, LOS_ANGELES, _CROSS_ZONE_TRIP_SUBJECT
            else:
                creator = self.rng.choice(self.people)
                zone = end_zone = creator["timezone"]
                subject = self._subject(creator, _TRIP_SUBJECTS_JA, _TRIP_SUBJECTS_EN)
            start = _local(first, self.rng.choice((9 * 60, 13 * 60 + 30, 14 * 60)), zone)
            end = _local(last, self.rng.choice((12 * 60, 17 * 60 + 45)), end_zone)
            self._emit(
                _Draft(
                    creator=creator,
                    event_type="REGULAR",
                    subject=subject,
                    zone=zone,
                    end_zone=end_zone,
                    attendees=self._attendees(creator, self.rng.randint(1, 3)),
                    start=start,
                    end=end,
                    menu=_TRIP_MENU,
                    notes=self.rng.choice(_SHORT_NOTES),
                )
            )

    def _add_periods(self) -> None:
        """Queue ALL_DAY (period) events of several days."""
        for index in range(self._count(PERIOD_RANGE)):
            creator = self._person_in(LONDON) if index == 0 else self.rng.choice(self.people)
            zone = creator["timezone"]
            length = min(self.rng.randint(2, 5), self.span)
            first = self._pick_day(length, weekday_probability=0.0)
            start, end = _day_bounds(first, first + datetime.timedelta(days=length - 1), zone)
            subject = self._subject(creator, _PERIOD_SUBJECTS_JA, _PERIOD_SUBJECTS_EN)
            notes = self.rng.choice(_SHORT_NOTES)
            if index == 1:
                pool = _LONG_NOTES_JA if creator["locale"] == "ja" else _LONG_NOTES_EN
                notes = _filler(self.rng, pool, LONG_NOTES_MIN, LONG_NOTES_MAX, ("\n",))
            self._emit(
                _Draft(
                    creator=creator,
                    event_type="ALL_DAY",
                    subject=subject,
                    zone=zone,
                    attendees=self._attendees(creator, self.rng.randint(1, 4)),
                    start=start,
                    end=end,
                    all_day=True,
                    notes=notes,
                    menu=_HOLIDAY_MENU if "休暇" in subject or "leave" in subject else "",
                )
            )

    def _add_all_day_regulars(self) -> None:
        """Queue REGULAR events flagged isAllDay (one day, 00:00:00-23:59:59)."""
        for index in range(self._count(ALL_DAY_REGULAR_RANGE)):
            creator = self._person_in(LOS_ANGELES) if index == 0 else self.rng.choice(self.people)
            zone = creator["timezone"]
            day = self._pick_day()
            start, end = _day_bounds(day, day, zone)
            self._emit(
                _Draft(
                    creator=creator,
                    event_type="REGULAR",
                    subject=self._subject(creator, _DAY_SUBJECTS_JA, _DAY_SUBJECTS_EN),
                    zone=zone,
                    attendees=self._attendees(creator, 1),
                    start=start,
                    end=end,
                    all_day=True,
                    visibility="PRIVATE" if index == 1 else "PUBLIC",
                )
            )

    def _add_start_only(self) -> None:
        """Queue REGULAR start-only events (no ``end``)."""
        for index in range(self._count(START_ONLY_RANGE)):
            creator = self.rng.choice(self.people)
            zone = UTC_ZONE if index == 0 else creator["timezone"]
            start_minute = self.rng.randrange(8 * 60, 19 * 60 + 1, QUARTER_HOUR)
            self._emit(
                _Draft(
                    creator=creator,
                    event_type="REGULAR",
                    subject=self._subject(creator, _START_ONLY_JA, _START_ONLY_EN),
                    zone=zone,
                    attendees=self._attendees(creator, self.rng.randint(1, 2)),
                    start=_local(self._pick_day(), start_minute, zone),
                    start_only=True,
                    visibility="PRIVATE" if index == 1 else "PUBLIC",
                )
            )

    # -- repeating series -----------------------------------------------------------

    def _series_period(self, spec: _SeriesSpec) -> tuple[datetime.date, datetime.date]:
        """Return the series period: inside the demo range, or around it."""
        if spec.around:
            before = self.rng.randint(*SERIES_AROUND_DAYS)
            after = self.rng.randint(*SERIES_AROUND_DAYS)
            return (
                self.first_day - datetime.timedelta(days=before),
                self.last_day + datetime.timedelta(days=after),
            )
        slack = max(0, self.span // 6)
        first = self.first_day + datetime.timedelta(days=self.rng.randint(0, slack))
        last = self.last_day - datetime.timedelta(days=self.rng.randint(0, slack))
        return (first, last) if first <= last else (self.first_day, self.last_day)

    def _occurrence(
        self, spec: _SeriesSpec, day: datetime.date, shift: int = 0
    ) -> tuple[datetime.datetime, datetime.datetime | None]:
        """Return the (start, end) of the series occurrence on ``day``."""
        if spec.all_day:
            return _day_bounds(day, day, spec.zone)
        start = _local(day, spec.start_minute + shift, spec.zone)
        if spec.duration == 0:
            return start, None
        return start, _local(day, spec.start_minute + shift + spec.duration, spec.zone)

    def _repeat_info(self, spec: _SeriesSpec, first: datetime.date, last: datetime.date) -> Json:
        """Return the repeatInfo of ``spec`` without exclusions."""
        if spec.all_day:
            time: Json = {"start": "00:00", "end": "23:59"}
        elif spec.duration == 0:
            time = {"start": _hhmm(spec.start_minute)}
        else:
            time = {"start": _hhmm(spec.start_minute), "end": _hhmm(spec.start_minute + spec.duration)}
        info: Json = {
            "type": spec.repeat_type,
            "period": {"start": first.isoformat(), "end": last.isoformat()},
            "time": time,
            "timeZone": spec.zone,
            "isAllDay": spec.all_day,
            "isStartOnly": spec.duration == 0 and not spec.all_day,
        }
        if spec.repeat_type in _WEEK_BASED:
            info["dayOfWeek"] = self.rng.choice(WEEKDAY_CODES[:5])
        if spec.repeat_type == "EVERY_MONTH":
            info["dayOfMonth"] = spec.day_of_month or self.rng.choice(_NUMERIC_DAYS_OF_MONTH)
        info["exclusiveDateTimes"] = []
        return info

    def _add_series(self, spec: _SeriesSpec) -> None:
        """Queue one REPEATING master, followed by its edited occurrence if any."""
        creator = self._person_in(spec.zone) if spec.zone != UTC_ZONE else self.rng.choice(self.people)
        first, last = self._series_period(spec)
        info = self._repeat_info(spec, first, last)
        dates = expected_repeat_dates(info)
        visible = [day for day in dates if self.first_day <= day <= self.last_day]
        wants_override = bool(spec.override_subject or spec.override_shift)
        excluded_count = max(0, min(spec.exclusions, len(visible) - int(wants_override)))
        excluded = sorted(self.rng.sample(visible, excluded_count))
        for day in excluded:
            start, end = self._occurrence(spec, day)
            info["exclusiveDateTimes"].append({"start": _rfc3339(start), "end": _rfc3339(end or start)})
        draft = _Draft(
            creator=creator,
            event_type="REPEATING",
            subject=spec.subject,
            zone=spec.zone,
            attendees=self._attendees(creator, self.rng.randint(3, 8)),
            all_day=spec.all_day,
            start_only=bool(info["isStartOnly"]),
            menu="" if spec.all_day or spec.duration == 0 else "会議",
        )
        first_start = self._occurrence(spec, dates[0] if dates else first)[0]
        created, updated = self._stamps(first_start)
        master = self._render(draft, created, updated)
        master["repeatInfo"] = info
        group = [master]
        remaining = [day for day in visible if day not in excluded]
        if wants_override and remaining:
            day = self.rng.choice(remaining)
            original_start = self._occurrence(spec, day)[0]
            draft.start, draft.end = self._occurrence(spec, day, spec.override_shift)
            draft.subject = spec.override_subject or spec.subject
            if spec.override_shift:
                draft.notes = "この回のみ開始時刻を変更しました。"
            override = copy.deepcopy(
                self._render(draft, created, self._between(created, min(original_start, self.now)))
            )
            override["repeatInfo"] = copy.deepcopy(info)
            override["repeatId"] = original_start.strftime("%Y%m%d") + (
                "0000" if spec.all_day else original_start.strftime("%H%M")
            )
            group.append(override)
        self.groups.append((created, group))
