"""Hours are integer minutes (or whole sessions). Forms take an amount and a measure (hours,
minutes or sessions); `to_quantity` turns them into what is stored, `to_amount` back, and
`format_quantity` shows a stored quantity to people."""

MINUTES = "minutes"
SESSIONS = "sessions"


def to_quantity(amount: int, measure: str | None, *, unit: str | None = None) -> tuple[int, str]:
    """`(quantity, unit)` for `amount` typed in `measure`: "hours" (also when blank), "minutes"
    or "sessions". `unit` is the unit of what the amount is for when that is fixed already (a
    grant, hold or relationship): one counted in sessions takes whole sessions, whatever the
    measure says."""
    if unit == SESSIONS or measure == SESSIONS:
        return amount, SESSIONS
    if measure == MINUTES:
        return amount, MINUTES
    return amount * 60, MINUTES


def to_amount(quantity: int, unit: str) -> tuple[int, str]:
    """`(amount, measure)` to show a stored quantity in a form: whole hours when it is, minutes
    otherwise, sessions for a quantity in sessions."""
    if unit == SESSIONS:
        return quantity, SESSIONS
    if quantity % 60 == 0:
        return quantity // 60, "hours"
    return quantity, MINUTES


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
