"""Who is who across systems: Garoon users (id, code) ⇄ e-mail ⇄ LINE WORKS users, and facilities ⇄ resources.

Garoon knows people by id and login code and has no e-mail in its schedule API; the e-mail comes from the
cybozu.com user API joined on ``code`` (``GaroonHook.iter_users`` does the join). LINE WORKS knows people by
e-mail. A CSV mapping (``include/identity/users.csv``: ``garoon_code,email[,lineworks_id]``) overrides or
completes the directories, for people whose addresses differ between the systems. Facilities map through a
CSV (``include/identity/facilities.csv``: ``garoon_code,resource_id[,name]``); LINE WORKS has no API that
lists resources.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from calendar_etl import model
from calendar_etl.transforms.common import is_true, map_unique, strings, truthy

USER_FIELDS = ("garoon_id", "garoon_code", "email", "name", "lineworks_id")
FACILITY_FIELDS = ("garoon_id", "garoon_code", "name", "resource_id")
PERSON_KEYS = ("garoon_id", "garoon_code", "email", "lineworks_id")  # tried in this order
FACILITY_KEYS = ("garoon_id", "garoon_code", "resource_id")  # tried in this order


@dataclass
class Directory:
    """Lookup tables for people and facilities, keyed by every identifier either side uses."""

    users: list[dict[str, Any]] = field(default_factory=list)
    facilities: list[dict[str, Any]] = field(default_factory=list)
    #: Every e-mail LINE WORKS has an account for (empty: no LINE WORKS directory was read, nothing is filtered).
    lineworks_emails: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self._people: dict[tuple[str, str], int] = {}  # (identifier name, value) -> index in users
        for index, user in enumerate(self.users):
            for name in PERSON_KEYS:
                if user.get(name):
                    self._people[(name, _norm(name, user[name]))] = index
        self._rooms: dict[tuple[str, str], int] = {}
        for index, room in enumerate(self.facilities):
            for name in FACILITY_KEYS:
                if room.get(name):
                    self._rooms[(name, str(room[name]))] = index

    def user_index(self, name: str, value: Any) -> int:
        """Return the position in ``users`` of the user whose ``name`` identifier is ``value``; -1 for nobody."""
        if not value:
            return -1
        return self._people.get((name, _norm(name, value)), -1)

    def facility_index(self, name: str, value: Any) -> int:
        """Return the position in ``facilities`` of the facility whose ``name`` identifier is ``value``; -1."""
        if not value:
            return -1
        return self._rooms.get((name, str(value)), -1)

    @classmethod
    def build(
        cls,
        *,
        garoon_users: Iterable[dict[str, Any]] = (),
        lineworks_users: Iterable[dict[str, Any]] = (),
        garoon_facilities: Iterable[dict[str, Any]] = (),
        user_map: Iterable[dict[str, str]] = (),
        facility_map: Iterable[dict[str, str]] = (),
    ) -> Directory:
        """Return the directory joined from the API listings and the CSV mappings (the mappings win).

        :param garoon_users: ``{id, code, name, email}`` (``GaroonHook.iter_users``).
        :param lineworks_users: LINE WORKS user objects (``userId``, ``email``, ``userName``).
        :param garoon_facilities: ``{id, code, name}``.
        :param user_map: rows of ``garoon_code, email[, lineworks_id]``.
        :param facility_map: rows of ``garoon_code, resource_id[, name]``.
        """
        by_email: dict[str, dict[str, Any]] = {}
        by_code: dict[str, dict[str, Any]] = {}
        for user in garoon_users:
            entry = {"garoon_id": _s(user.get("id")), "garoon_code": _s(user.get("code")), "name": user.get("name"),
                     "email": _email(user.get("email")), "lineworks_id": None}  # fmt: skip
            if entry["garoon_code"]:
                by_code[entry["garoon_code"]] = entry
        for row in user_map:
            code, email = _s(row.get("garoon_code")), _email(row.get("email"))
            if code and code in by_code:
                by_code[code]["email"] = email or by_code[code]["email"]
                by_code[code]["lineworks_id"] = _s(row.get("lineworks_id")) or by_code[code]["lineworks_id"]
            elif code or email:
                by_code[code or f"email:{email}"] = {"garoon_id": None, "garoon_code": code, "name": None,
                                                     "email": email, "lineworks_id": _s(row.get("lineworks_id"))}  # fmt: skip
        for entry in by_code.values():
            if entry["email"]:
                by_email[entry["email"]] = entry
        lineworks_emails = set()
        for user in lineworks_users:
            email = _email(user.get("email"))
            if not email:
                continue
            lineworks_emails.add(email)
            name = user.get("userName") or {}
            display = (
                " ".join(x for x in (name.get("lastName"), name.get("firstName")) if x)
                if isinstance(name, dict)
                else None
            )
            entry = by_email.setdefault(
                email, {"garoon_id": None, "garoon_code": None, "name": display, "email": email, "lineworks_id": None}
            )
            entry["lineworks_id"] = entry["lineworks_id"] or _s(user.get("userId"))
        users = list({id(e): e for e in [*by_code.values(), *by_email.values()]}.values())
        rooms: dict[str, dict[str, Any]] = {}
        for facility in garoon_facilities:
            code = _s(facility.get("code"))
            rooms[code or _s(facility.get("id")) or ""] = {"garoon_id": _s(facility.get("id")), "garoon_code": code,
                                                            "name": facility.get("name"), "resource_id": None}  # fmt: skip
        for row in facility_map:
            code = _s(row.get("garoon_code"))
            entry = rooms.setdefault(
                code or "", {"garoon_id": None, "garoon_code": code, "name": row.get("name"), "resource_id": None}
            )
            entry["resource_id"] = _s(row.get("resource_id"))
            entry["name"] = entry["name"] or row.get("name")
        return cls(users, list(rooms.values()), frozenset(lineworks_emails))

    def person(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Return ``raw`` completed from the directory (unknown people come back unchanged).

        Organizations are not people: Garoon numbers them separately, so an organization id must never be
        looked up among user ids.
        """
        if raw.get("type") == "ORGANIZATION":
            return dict(raw)
        for name in PERSON_KEYS:
            index = self.user_index(name, raw.get(name))
            if index >= 0:
                found = self.users[index]
                out = dict(raw)
                for k in USER_FIELDS:
                    out[k] = out.get(k) or found.get(k)
                return out
        return dict(raw)

    def facility(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Return ``raw`` completed from the facility table."""
        for name in FACILITY_KEYS:
            index = self.facility_index(name, raw.get(name))
            if index >= 0:
                found = self.facilities[index]
                return {k: raw.get(k) or found.get(k) for k in FACILITY_FIELDS}
        return dict(raw)


def _s(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _email(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and "@" in value else None


def _norm(name: str, value: Any) -> str:
    return str(value).strip().lower() if name == "email" else str(value)


def read_csv_mapping(source: str | Path | None, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Return the rows of a mapping CSV (a path, or the text itself); ValueError naming a missing column."""
    if source is None:
        return []
    text = (
        Path(source).read_text(encoding="utf-8-sig")
        if isinstance(source, Path) or "\n" not in str(source)
        else str(source)
    )
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"identity mapping {str(source)[:80]!r} lacks column(s) {', '.join(missing)}")
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def resolve(frame: pd.DataFrame, directory: Directory, *, target: str) -> pd.DataFrame:
    """Return ``frame`` with organizer, attendees and facilities completed from ``directory``.

    For ``target`` ``lineworks`` a person counts as mapped with an e-mail LINE WORKS knows; for ``garoon``
    with a Garoon id or code. People the target cannot know keep their name and are never dropped: the
    target's converter writes them into the description or notes and records the reason.

    Column-wise: all people of all rows are looked up at once, each distinct identifier once (the same rules
    as :meth:`Directory.person` and :meth:`Directory.facility`, which do one person or facility).
    """
    if frame.empty:
        return frame
    known = directory.lineworks_emails if target == "lineworks" else frozenset()
    organizer = _column(frame, "organizer")
    attendees = _column(frame, "attendees")
    facilities = _column(frame, "facilities")
    out = frame.copy(deep=False)
    out["organizer"] = _series(_resolve_people(organizer, directory, known), out.index)
    out["attendees"] = _series(
        _with_values(attendees, _resolve_people(attendees.flatten(), directory, known)), out.index
    )
    out["facilities"] = _series(
        _with_values(facilities, _resolve_facilities(facilities.flatten(), directory)), out.index
    )
    return out


def _column(frame: pd.DataFrame, name: str) -> Any:
    return model.arrow_column(frame[name], name)


def _series(values: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(values), index=index)


def _with_values(lists: pa.ListArray, values: pa.Array) -> pa.ListArray:
    """Return ``lists`` with its (flattened) values replaced by ``values``, same lengths and nulls."""
    lengths = np.asarray(pc.fill_null(pc.list_value_length(lists), 0), np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int32())
    return pa.ListArray.from_arrays(offsets, values, mask=pc.is_null(lists) if lists.null_count else None)


def _resolve_people(people: pa.StructArray, directory: Directory, known: frozenset[str]) -> pa.StructArray:
    """Return canonical PERSON structs completed from the directory, as :meth:`Directory.person` does one.

    With ``known`` (LINE WORKS' e-mails), an address LINE WORKS has no account for is dropped: the converter lists
    the person as text instead, and the owner becomes the first attendee who has an account.
    """
    fields = dict(zip(model.PERSON.names, people.flatten(), strict=True))
    present = {name: truthy(fields[name]) for name in USER_FIELDS}  # every key is one of them
    chosen = _first_found(fields, present, PERSON_KEYS, directory.user_index)
    chosen[is_true(pc.equal(fields["type"], "ORGANIZATION"))] = -1  # organizations are not people
    entry = np.where(chosen < 0, len(directory.users), chosen)  # the directory entry, or a last one: nobody
    completed = {name: (chosen >= 0) & ~present[name] for name in USER_FIELDS}
    unknown = np.zeros(len(chosen), bool)
    if known:  # the address each person now has: their own, or the directory's
        emails = [u.get("email") for u in directory.users] + [None]
        from_directory = np.array([_known(email, known) for email in emails], bool)
        ok = from_directory[entry]
        own = np.flatnonzero(present["email"])
        ok[own] = map_unique(fields["email"].take(pa.array(own)), lambda v: _known(v, known)).astype(bool)
        has_email = np.array([bool(_text(email)) for email in emails], bool)[entry] & completed["email"]
        has_email[own] = True
        unknown = has_email & ~ok
    for name in USER_FIELDS:
        dropped = unknown if name in ("email", "lineworks_id") else None
        fields[name] = _patched(fields[name], completed[name], entry, [u.get(name) for u in directory.users], dropped)
    return pa.StructArray.from_arrays(
        [fields[f] for f in model.PERSON.names], fields=list(model.PERSON), mask=pc.is_null(people)
    )


def _resolve_facilities(rooms: pa.StructArray, directory: Directory) -> pa.StructArray:
    """Return canonical FACILITY structs completed from the facility table, as :meth:`Directory.facility`."""
    fields = dict(zip(model.FACILITY.names, rooms.flatten(), strict=True))
    present = {name: truthy(fields[name]) for name in FACILITY_FIELDS}  # every key is one of them
    chosen = _first_found(fields, present, FACILITY_KEYS, directory.facility_index)
    entry = np.where(chosen < 0, len(directory.facilities), chosen)
    for name in FACILITY_FIELDS:
        completed = (chosen >= 0) & ~present[name]
        fields[name] = _patched(fields[name], completed, entry, [f.get(name) for f in directory.facilities])
    return pa.StructArray.from_arrays(
        [fields[f] for f in model.FACILITY.names], fields=list(model.FACILITY), mask=pc.is_null(rooms)
    )


def _first_found(
    fields: dict[str, pa.Array],
    present: dict[str, np.ndarray],
    keys: tuple[str, ...],
    index: Callable[[str, Any], int],
) -> np.ndarray:
    """Return, per value, the directory position found by the first of ``keys`` the directory knows (-1: none),
    trying the keys ``present`` (set and not empty) in each value.

    Each distinct identifier is looked up once; a key every value has is looked up without picking its rows.
    """
    chosen = np.full(len(fields[keys[0]]), -1, np.int64)
    for name in keys:
        tried = (chosen < 0) & present[name]
        if tried.all():
            chosen = map_unique(fields[name], functools.partial(index, name)).astype(np.int64)
        elif tried.any():
            rows = np.flatnonzero(tried)
            chosen[rows] = map_unique(fields[name].take(pa.array(rows)), functools.partial(index, name))
    return chosen


def _patched(
    values: pa.Array, completed: np.ndarray, entry: np.ndarray, known: list[Any], dropped: np.ndarray | None = None
) -> pa.Array:
    """Return ``values`` with the directory's value (``known[entry]``) where ``completed``, null where ``dropped``.

    One ``take`` from the values followed by the directory's: cheaper than replacing values in place.
    """
    if not completed.any() and (dropped is None or not dropped.any()):
        return values
    pool = pa.concat_arrays([values, strings([_text(v) for v in known] + [None])])
    index = np.arange(len(values))
    index[completed] = len(values) + entry[completed]
    if dropped is not None:
        index[dropped] = len(pool) - 1
    return pool.take(pa.array(index))


def _known(email: Any, known: frozenset[str]) -> bool:
    return bool(email) and str(email).lower() in known


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
