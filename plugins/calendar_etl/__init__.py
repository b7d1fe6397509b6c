"""calendar_etl: Airflow hooks, operators and transforms that move calendar events between
Cybozu Garoon, LINE WORKS and iCalendar files (see README.md and shared design notes)."""

__version__ = "0.1.0"
