"""Vectorised helpers the converters share: per-item error collection, Arrow columns, JSON text, times as text.

The column-wise helpers take Arrow arrays and numpy masks (``is_true`` turns an Arrow mask into numpy), so a
converter reads as a sequence of whole-column steps; each helper says what it gives back for a null.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from calendar_etl import model

ELLIPSIS = "…"
#: What RFC 8259 requires escaped in a JSON string, besides the other control characters (handled one by one).
JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\b", "\\b"), ("\f", "\\f"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
OTHER_CONTROL_CHARACTERS = r"[\x{00}-\x{07}\x{0b}\x{0e}-\x{1f}]"  # RE2 syntax: the rest of U+0000-U+001F


# ---------------------------------------------------------------------- zones and times, pandas


@functools.cache
def known_zone(name: object) -> bool:
    """Return True when ``name`` is an IANA zone this machine knows."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_strings(instants: pd.Series, zones: pd.Series, fmt: str) -> pd.Series:
    """Return ``instants`` (UTC) formatted with ``fmt`` as wall time in each row's zone (vectorised per zone)."""
    out = pd.Series([None] * len(instants), index=instants.index, dtype=object)
    for zone, index in zones.groupby(zones, sort=False).groups.items():
        out.loc[index] = instants.loc[index].dt.tz_convert(str(zone)).dt.strftime(fmt).to_numpy()
    return out


def rfc3339(instants: pd.Series, zones: pd.Series) -> pd.Series:
    """Return RFC 3339 strings (``2026-11-16T09:00:00+09:00``) of ``instants`` in each row's zone."""
    raw = local_strings(instants, zones, "%Y-%m-%dT%H:%M:%S%z").astype(str)
    return raw.str[:-2] + ":" + raw.str[-2:]


def localize(local: pd.Series, zones: pd.Series) -> pd.Series:
    """Return UTC instants of naive wall times ``local`` in each row's zone (NaT where the time cannot exist).

    A wall time in a DST gap moves forward, one in a fold takes the first (earlier) instant, as RFC 5545 says.
    """
    out = pd.Series(pd.NaT, index=local.index, dtype="datetime64[us, UTC]")
    for zone, index in zones.groupby(zones, sort=False).groups.items():
        part = pd.to_datetime(local.loc[index], errors="coerce").dt.tz_localize(
            str(zone), ambiguous=True, nonexistent="shift_forward"
        )
        out.loc[index] = part.dt.tz_convert("UTC").astype("datetime64[us, UTC]").to_numpy()
    return out


# ---------------------------------------------------------------------- per-item errors


class ErrorCollector:
    """Collects per-item conversion errors (``source_key``, ``problem``) so one bad item never sinks the rest."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, key: str, problem: str) -> None:
        self.items.append((key, problem))

    def frame(self) -> pd.DataFrame:
        return model.errors_frame(self.items)

    def guard(self, key: str, func: Callable[[], Any]) -> Any:
        """Return ``func()``; record the error under ``key`` and return None when it raises a data error."""
        try:
            return func()
        except DATA_ERRORS as exc:
            self.add(key, describe(exc))
            return None


#: What reading one malformed item can raise; anything else is a bug and propagates.
DATA_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError)


def describe(exc: Exception) -> str:
    """Return the problem an exception from reading one item names."""
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


def drop_rows(frame: pd.DataFrame, mask: pd.Series, errors: ErrorCollector, problems: Iterable[str]) -> pd.DataFrame:
    """Return ``frame`` without the rows of ``mask``, each recorded in ``errors`` with its problem."""
    mask = mask.fillna(True).astype(bool)
    if not mask.any():
        return frame
    for key, problem, bad in zip(frame["source_key"].tolist(), problems, mask.tolist(), strict=True):
        if bad:
            errors.add(str(key), problem)
    return frame[~mask].reset_index(drop=True)


def records(frame: pd.DataFrame) -> list[SimpleNamespace]:
    """Return the rows as objects with attribute access and None (not pd.NA) for missing values."""
    return [
        SimpleNamespace(**{k: (None if v is pd.NA or v is pd.NaT else v) for k, v in row.items()})
        for row in frame.to_dict("records")
    ]


def as_date(values: pd.Series) -> pd.Series:
    """Return ``YYYY-MM-DD`` strings as dates (NaT where a string is not a real date)."""
    return pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")


def to_date32(values: pd.Series) -> list[dt.date | None]:
    """Return datetimes as a list of dates (None for NaT), ready for the canonical date columns."""
    return [None if pd.isna(v) else v.date() for v in values]


# ---------------------------------------------------------------------- Arrow columns and JSON text


def strings(values: Sequence[Any]) -> pa.Array:
    """Return a Python list of ``str``/None as an Arrow string array."""
    return pa.array(values, pa.string())


def list_array(offsets: Sequence[int] | np.ndarray, values: pa.Array) -> pa.ListArray:
    """Return the list array whose row ``i`` holds ``values[offsets[i]:offsets[i + 1]]``."""
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def rows_of(lists: pa.ListArray | pa.ChunkedArray) -> np.ndarray:
    """Return, for every value of a list array (flattened), the index of the row it belongs to."""
    return np.asarray(pc.list_parent_indices(lists), dtype=np.int64)


def is_true(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Return a boolean Arrow array as numpy (null counts as False).

    The value bits (and the validity bits, when there are nulls) are unpacked with numpy: several times faster
    than ``fill_null`` and Arrow's own conversion, and the converters call this for nearly every mask.
    """
    if isinstance(mask, pa.ChunkedArray):
        mask = model.one_array(mask)
    validity, values = mask.buffers() if pa.types.is_boolean(mask.type) else (None, None)
    if not len(mask) or values is None:
        return np.asarray(pc.fill_null(mask, False), dtype=bool)
    out = _unpacked(values, mask.offset, len(mask))
    return out & _unpacked(validity, mask.offset, len(mask)) if mask.null_count else out


def _unpacked(bits: pa.Buffer, offset: int, length: int) -> np.ndarray:
    """Return ``length`` bits of an Arrow bitmap (least significant bit first) from bit ``offset``, as booleans."""
    raw = np.frombuffer(bits, np.uint8)
    return np.unpackbits(raw, count=offset + length, bitorder="little")[offset:].view(bool)


def concat_text(*parts: pa.Array | str) -> pa.Array:
    """Return the row-wise concatenation of string arrays and literals (null when any part is null)."""
    return pc.binary_join_element_wise(*parts, "")


def json_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Return each string as the JSON text ``json.dumps(value, ensure_ascii=False)`` gives; nulls stay null."""
    return concat_text('"', json_escaped(values), '"')


def json_escaped(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Return each string escaped for the inside of a JSON string exactly as ``json.dumps(ensure_ascii=False)``
    escapes it (without the quotes); nulls stay null.

    The bytes are scanned once with numpy; only the strings with a quote, a backslash or a control character
    are rewritten (column-wise for the usual escapes, by the ``json`` module for the other control characters).
    """
    values = model.one_array(values) if isinstance(values, pa.ChunkedArray) else values
    found: set[int] = set()
    rows = _rows_with_bytes(values, lambda b: _escape_hits(b, found))
    if not len(rows):
        return values
    chosen = values.take(pa.array(rows))
    text = chosen
    for raw, escaped in JSON_ESCAPES:
        if ord(raw) in found:
            text = pc.replace_substring(text, raw, escaped)
    if found - _USUAL_ESCAPES and (odd := is_true(pc.match_substring_regex(chosen, OTHER_CONTROL_CHARACTERS))).any():
        fixed = [json.dumps(v, ensure_ascii=False)[1:-1] for v in chosen.filter(pa.array(odd)).to_pylist()]
        text = pc.replace_with_mask(text, pa.array(odd), pa.array(fixed, pa.string()))
    mask = np.zeros(len(values), bool)
    mask[rows] = True
    return pc.replace_with_mask(values, pa.array(mask), text)


_USUAL_ESCAPES = {ord(raw) for raw, _ in JSON_ESCAPES}


def _escape_hits(raw: np.ndarray, found: set[int]) -> np.ndarray:
    """Return where ``raw`` holds a byte JSON escapes (below U+0020, a quote or a backslash), adding the bytes
    found to ``found``; three comparisons cost less than looking every byte up in a table."""
    hits = (raw < 0x20) | (raw == 0x22) | (raw == 0x5C)
    found.update(np.flatnonzero(np.bincount(raw[hits], minlength=256)).tolist())
    return hits


def _rows_with_bytes(values: pa.Array, test: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Return the rows of a string array whose UTF-8 bytes include one for which ``test`` holds."""
    if not len(values):
        return np.zeros(0, np.int64)
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset : values.offset + len(values) + 1]
    data = values.buffers()[2]
    if data is None or offsets[-1] == offsets[0]:
        return np.zeros(0, np.int64)
    raw = np.frombuffer(data, np.uint8)[offsets[0] : offsets[-1]]
    hits = np.flatnonzero(test(raw)) + offsets[0]
    rows = np.searchsorted(offsets, hits, side="right") - 1  # ascending, as the hits are
    return rows[np.r_[True, rows[1:] != rows[:-1]]] if len(rows) else rows


def only_where(values: pa.Array, keep: np.ndarray) -> pa.Array:
    """Return ``values`` with null where ``keep`` is False (no copy of the data)."""
    valid = keep & is_true(pc.is_valid(values))
    if valid.all():
        return values
    bits = np.packbits(np.concatenate([np.zeros(values.offset, bool), valid]), bitorder="little")
    return pa.Array.from_buffers(
        values.type, len(values), [pa.py_buffer(bits), *values.buffers()[1:]], offset=values.offset
    )


def join_parts(*parts: pa.Array | str) -> pa.Array:
    """Return the row-wise concatenation of string arrays and literals; a null part counts as empty."""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def literal_where(text: str, mask: np.ndarray) -> pa.Array:
    """Return ``text`` where ``mask`` holds and "" elsewhere (a part for :func:`join_parts` that only some rows
    have), built with numpy rather than a pass of an Arrow kernel."""
    raw = text.encode()
    offsets = np.zeros(len(mask) + 1, np.int32)
    np.cumsum(mask, dtype=np.int32, out=offsets[1:])
    count = int(offsets[-1])
    offsets *= len(raw)
    return pa.StringArray.from_buffers(len(mask), pa.py_buffer(offsets), pa.py_buffer(raw * count))


def lists_of(*columns: pa.Array) -> pa.ListArray:
    """Return, per row, the list of the non-null values of ``columns`` (in column order)."""
    n, k = len(columns[0]), len(columns)
    valid = np.stack([is_true(pc.is_valid(c)) for c in columns], axis=1)
    chosen = np.flatnonzero(valid.ravel())  # row-major positions: row * k + column
    values = pa.concat_arrays([c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns])
    taken = values.take(pa.array((chosen % k) * n + chosen // k))
    return list_array(np.concatenate([[0], np.cumsum(valid.sum(axis=1))]), taken)


def truthy(values: pa.Array) -> np.ndarray:
    """Return where string values are set (not null, not empty): Python's truth of the value."""
    return is_true(pc.not_equal(values, ""))


def map_unique(values: pa.Array, func: Callable[[Any], Any]) -> np.ndarray:
    """Return ``func(value)`` for every value, calling ``func`` once per distinct value (null: ``func(None)``)."""
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary.to_pylist()
    mapped = np.array([func(v) for v in distinct] + [func(None)])
    return mapped[np.asarray(pc.fill_null(encoded.indices, len(distinct)), dtype=np.int64)]


def map_text(values: pa.Array, func: Callable[[Any], str | None]) -> pa.Array:
    """Return ``func(value)`` for every value of a column with few distinct values, calling it once per value."""
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary.to_pylist()
    mapped = pa.array([func(v) for v in distinct] + [func(None)], pa.string())
    return mapped.take(pc.fill_null(encoded.indices, len(distinct)))


def cast_or_null(values: pa.Array, target: pa.DataType) -> pa.Array:
    """Return text cast to ``target`` (a date or timestamp), null where a value is not one.

    Arrow's cast checks each value (30 February, hour 25 and offsets past a day are refused) but fails for the
    whole column on one bad value; then the values are cast one by one.
    """
    try:
        return values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = []
        for value in values.to_pylist():
            try:
                out.append(None if value is None else pa.scalar(value, pa.string()).cast(target).as_py())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                out.append(None)
        return pa.array(out, target)


# ---------------------------------------------------------------------- times as text, column-wise

_FIELD_WIDTHS = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}


def civil(seconds: np.ndarray) -> dict[str, np.ndarray]:
    """Return the calendar fields (``Y m d H M S``) of seconds since 1970-01-01 (proleptic Gregorian)."""
    days, rest = np.divmod(seconds.astype(np.int64), 86400)
    z = days + 719468  # H. Hinnant, "chrono-compatible low-level date algorithms", civil_from_days
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = np.where(mp < 10, mp + 3, mp - 9)
    return {
        "Y": yoe + era * 400 + (month <= 2),
        "m": month,
        "d": doy - (153 * mp + 2) // 5 + 1,
        "H": rest // 3600,
        "M": rest // 60 % 60,
        "S": rest % 60,
    }


def format_seconds(seconds: np.ndarray, valid: np.ndarray, layout: str) -> pa.Array:
    """Return seconds since the epoch as text laid out like ``layout`` (``%Y %m %d %H %M %S`` and literals).

    Arrow's ``strftime`` and casts to text cost about a microsecond a value; this writes the digits into one
    byte buffer with numpy, a few nanoseconds a value, and only for the valid rows (a null takes no bytes).
    Years must have four digits (0001-9999).
    """
    chosen = None if valid.all() else np.flatnonzero(valid)
    fields = civil(seconds if chosen is None else seconds[chosen])
    tokens = layout_tokens(layout)
    width = sum(_FIELD_WIDTHS[t[1]] if t[0] == "%" else len(t.encode()) for t in tokens)
    text = np.empty((len(seconds) if chosen is None else len(chosen), width), np.uint8)
    at = 0
    for token in tokens:
        if token.startswith("%"):
            value, size = fields[token[1]], _FIELD_WIDTHS[token[1]]
            shown = (value % 10**size).astype(np.uint16)  # the digits written, in a narrow type: faster arithmetic
            for place in range(size):
                text[:, at + place] = shown // 10 ** (size - 1 - place) % 10 + 48
            at += size
        else:
            raw = token.encode()
            text[:, at : at + len(raw)] = np.frombuffer(raw, np.uint8)
            at += len(raw)
    return fixed_width_text(text, None if chosen is None else valid)


def layout_tokens(layout: str) -> list[str]:
    """Return a ``strftime``-like layout as its tokens: ``%Y``-style fields and single literal characters."""
    tokens: list[str] = []
    i = 0
    while i < len(layout):
        size = 2 if layout[i] == "%" else 1
        tokens.append(layout[i : i + size])
        i += size
    return tokens


def laid_out(text: np.ndarray, layout: str, fields: dict[str, tuple[int, int]]) -> np.ndarray:
    """Return fixed-width texts (bytes, one row each) laid out as ``layout``: a ``%Y``-style field copies the bytes
    ``fields[...]`` gives (start, end), any other character is written as it is."""
    parts = []
    for token in layout_tokens(layout):
        if token.startswith("%"):
            low, high = fields[token[1]]
            parts.append(text[:, low:high])
        else:
            parts.append(np.broadcast_to(np.frombuffer(token.encode(), np.uint8), (len(text), len(token.encode()))))
    return np.concatenate(parts, axis=1)


def fixed_texts(values: pa.Array, pattern: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Return (the rows whose text is like ``pattern``, their bytes as a rows × width array); in ``pattern``,
    ``9`` stands for any ASCII digit and any other byte for itself."""
    width = len(pattern)
    lengths = np.asarray(pc.fill_null(pc.binary_length(values), -1), np.int64)
    rows = np.flatnonzero(lengths == width)
    if not len(rows):
        return rows, np.zeros((0, width), np.uint8)
    _, offsets, data = values.buffers()
    offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    starts = np.frombuffer(offsets, offset_type)[values.offset + rows]
    text = np.frombuffer(data, np.uint8)[starts[:, None] + np.arange(width)]
    template = np.frombuffer(pattern, np.uint8)
    digit = template == ord("9")
    like = np.where(digit, (text >= ord("0")) & (text <= ord("9")), text == template).all(axis=1)
    return rows[like], text[like]


def fixed_width_text(chars: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Return each row of a rows × width array of UTF-8 bytes as a string.

    With ``valid``, the result has one row per entry of ``valid``: the rows of ``chars`` in turn where it is True,
    null (taking no bytes) where it is False.
    """
    rows, width = chars.shape
    data = pa.py_buffer(np.ascontiguousarray(chars))
    if valid is None:
        return pa.StringArray.from_buffers(
            rows, pa.py_buffer(np.arange(0, rows * width + 1, width, dtype=np.int32)), data
        )
    offsets = np.zeros(len(valid) + 1, np.int32)
    np.cumsum(valid, dtype=np.int32, out=offsets[1:])
    offsets *= width
    bits = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.StringArray.from_buffers(len(valid), pa.py_buffer(offsets), data, bits, len(valid) - rows)


def combine_codes(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Return one integer per row, equal exactly when the rows' integers are equal in every column: 0, 1, 2...
    in the order the combinations first appear."""
    out = np.zeros(len(columns[0]) if columns else 0, np.int64)
    size = 1  # out < size
    for codes in columns:
        low = codes.min(initial=0)
        width = int(codes.max(initial=0)) - int(low) + 1
        if size * width >= 2**62:  # the next product could overflow: number the combinations so far
            out = pd.factorize(out)[0].astype(np.int64)
            size = int(out.max(initial=0)) + 1
        out = out * width + (codes - low)
        size *= width
    return pd.factorize(out)[0].astype(np.int64)


def first_of_each(codes: np.ndarray) -> np.ndarray:
    """Return the position of the first row of each code, for codes numbered in order of first appearance (as
    :func:`combine_codes` and ``pd.factorize`` number them)."""
    if not len(codes):
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]])


def seconds_of(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return (seconds since the epoch as int64, validity) of a timestamp or date32 array (floor to seconds)."""
    if pa.types.is_date32(values.type):
        raw = np.asarray(pc.fill_null(values.cast(pa.int32()), 0), dtype=np.int64) * 86400
    else:
        unit = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[values.type.unit]
        raw = np.floor_divide(np.asarray(pc.fill_null(values.cast(pa.int64()), 0), dtype=np.int64), unit)
    return raw, is_true(pc.is_valid(values))


#: Where Arrow's time-zone conversions agree with ``zoneinfo``: its database reader does not apply the rule a
#: zone file gives for the years after its last listed transition (2037), so other instants go through zoneinfo.
ARROW_ZONE_RANGE = (-2_145_916_800, 2_114_380_800)  # 1902-01-01 to 2037-01-01, seconds since the epoch


def wall_seconds(instants: pa.Array, zones: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return (local wall-clock seconds since the epoch, validity) of UTC instants in each row's IANA zone.

    Arrow converts each zone's rows at once; an instant outside ``ARROW_ZONE_RANGE`` or a zone Arrow's database
    lacks is done with ``zoneinfo`` (the same answer as ``datetime.astimezone(ZoneInfo(zone))``).
    """
    seconds, valid = seconds_of(instants)
    encoded = pc.dictionary_encode(zones)
    codes = np.asarray(pc.fill_null(encoded.indices, -1), dtype=np.int64)
    valid = valid & (codes >= 0)
    out = seconds.copy()
    inside = (seconds >= ARROW_ZONE_RANGE[0]) & (seconds < ARROW_ZONE_RANGE[1])
    for code, zone in enumerate(encoded.dictionary.to_pylist()):
        rows = np.flatnonzero(valid & (codes == code))
        if not len(rows):
            continue
        fast = rows[inside[rows]]
        slow = rows[~inside[rows]]
        try:
            chosen = pa.array(seconds[fast], pa.timestamp("s", tz="UTC"))
            local = pc.local_timestamp(chosen.cast(pa.timestamp("s", tz=zone)))
            out[fast] = np.asarray(local.cast(pa.int64()), dtype=np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError):
            slow = rows
        if len(slow):
            tz = zoneinfo.ZoneInfo(zone)
            out[slow] = [_wall(int(v), tz) for v in seconds[slow]]
    return out, valid


def _wall(seconds: int, tz: dt.tzinfo) -> int:
    moment = EPOCH + dt.timedelta(seconds=seconds)
    return seconds + int(moment.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# ---------------------------------------------------------------------- per group


def first_per_group(group: np.ndarray, count: int, chosen: np.ndarray | None = None) -> np.ndarray:
    """Return, per group ``0..count-1``, the first position whose ``group`` it is (``len(group)`` for none);
    with ``chosen``, among the chosen positions only."""
    out = np.full(count, len(group), np.int64)
    rows = np.arange(len(group)) if chosen is None else np.flatnonzero(chosen)
    groups, first = np.unique(group[rows], return_index=True)
    out[groups] = rows[first]
    return out


def last_per_group(group: np.ndarray, count: int, chosen: np.ndarray | None = None) -> np.ndarray:
    """Return, per group, the last position whose ``group`` it is (-1 for none); with ``chosen``, among those."""
    out = np.full(count, -1, np.int64)
    rows = (np.arange(len(group)) if chosen is None else np.flatnonzero(chosen))[::-1]
    groups, first = np.unique(group[rows], return_index=True)
    out[groups] = rows[first]
    return out


def extreme_per_group(group: np.ndarray, count: int, values: np.ndarray, largest: bool) -> np.ndarray:
    """Return, per group, the smallest (or largest) of its ``values`` (0 for a group without values)."""
    out = np.zeros(count, values.dtype)
    order = np.lexsort((-values if largest else values, group))
    groups, first = np.unique(group[order], return_index=True)
    out[groups] = values[order[first]]
    return out
