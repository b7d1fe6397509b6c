"""The time-zone names Garoon accepts: one list, kept with the product (``calendar_etl.garoon_zones``)."""

from calendar_etl.garoon_zones import GAROON_SUPPORTED_TIMEZONES

__all__ = ["GAROON_SUPPORTED_TIMEZONES"]
