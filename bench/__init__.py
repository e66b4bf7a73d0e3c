"""Performance harnesses: they print figures and write them to JSON; tests never time things."""
