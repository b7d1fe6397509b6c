"""Sample calendar data: a hand-written .ics corpus (``ics/``) and a generator for large .ics files."""
