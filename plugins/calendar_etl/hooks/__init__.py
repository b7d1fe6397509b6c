"""The only code that talks to the calendar APIs."""
