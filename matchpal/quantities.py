"""Hours are integer minutes (or whole sessions); these helpers show them to people."""


def format_minutes(minutes: int) -> str:
    sign = "−" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    if hours and rest:
        return f"{sign}{hours} h {rest} min"
    if hours:
        return f"{sign}{hours} h"
    return f"{sign}{rest} min"


def format_quantity(value: int | None, unit: str = "minutes") -> str:
    if value is None:
        return "—"
    if unit == "sessions":
        return f"{value} session" if abs(value) == 1 else f"{value} sessions"
    return format_minutes(value)
