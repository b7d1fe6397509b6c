"""Bulkheads around the converters: an item a converter cannot handle costs that item, never the whole run.

Converters report bad items one by one, but a bug or a value out of every range (a lone surrogate, a year
outside what Arrow can hold) may still make one raise for the whole batch. :func:`convert_apart` then converts
the batch again part by part (an event, or a series with its occurrences), reports each part that raises by its
key with the error, and keeps everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

import pandas as pd

from calendar_etl import model

log = logging.getLogger(__name__)

T = TypeVar("T")
NOT_UNICODE = "holds text that is not valid Unicode (a lone UTF-16 surrogate); correct the event at the source"


def convert_apart(
    convert: Callable[[T], model.Converted],
    whole: T,
    parts: Callable[[], Iterable[tuple[str, T]]],
    join: Callable[[list[pd.DataFrame]], pd.DataFrame],
) -> model.Converted:
    """Return ``convert(whole)``; if that raises, the conversion of each of ``parts()`` (key, part) that does not.

    :param join: puts the parts' event frames back together (``model.concat`` for canonical rows).
    """
    try:
        return convert(whole)
    except Exception as exc:
        log.warning("the converter failed on a batch (%s: %s); converting it part by part", type(exc).__name__, exc)
    events: list[pd.DataFrame] = []
    errors: list[tuple[str, str]] = []
    for key, part in parts():
        try:
            converted = convert(part)
        except Exception as exc:
            errors.append((key, problem(exc)))
            continue
        events.append(converted.events)
        errors.extend(converted.errors.itertuples(index=False, name=None))
    return model.Converted(join(events), model.errors_frame(errors))


def problem(exc: Exception) -> str:
    """Return what to tell the user about an event the converter raised on."""
    if isinstance(exc, UnicodeEncodeError):
        return NOT_UNICODE
    return f"the converter could not read this event ({type(exc).__name__}: {exc}); correct it at the source"[:500]
