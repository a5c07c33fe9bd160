"""Which database constraint an IntegrityError broke, read the same on PostgreSQL and SQLite.

PostgreSQL names the constraint (psycopg's `diag.constraint_name`). SQLite names it only for
CHECK constraints and expression indexes; for a unique constraint on plain columns it lists the
columns ("UNIQUE constraint failed: relationships_relationship.student_id, …"), so the constraint
is recognised by its table and columns, read from the models' `Meta.constraints`. Services
compare the returned name with the constraint they guard and raise their own DomainError, so no
constraint name or database text ever reaches a person.

Model forms validate the constraints of the fields they edit before saving; `ReadableModelForm`
shows a broken one as the message of MESSAGES on its field (Django's own message would be
'Constraint "name" is violated').
"""

import re
from functools import cache

from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, router

_NAMED = re.compile(
    r"(?:UNIQUE|CHECK) constraint failed: (?:index '(?P<index>\w+)'|(?P<check>\w+)$)"
)
_COLUMNS = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w.]+(?:, [\w.]+)*)$")


# Constraint name → (field the message belongs to, message). Every CheckConstraint of a model
# edited through a model form is here (tests/matchpal/test_constraints.py checks it).
MESSAGES: dict[str, tuple[str | None, str]] = {
    "org_duration_step_positive": ("duration_step_minutes", "The step is at least 1 minute."),
    "org_session_bounds_ordered": (
        "max_session_minutes",
        "The maximum is at least the minimum, which is at least 1 minute.",
    ),
    "org_response_days_positive": ("proposal_response_days", "Give at least 1 day."),
    "org_suspension_count_positive": (
        "no_show_suspension_count",
        "Suspend after at least 1 no-show, or leave it blank.",
    ),
    "org_suspension_days_positive": ("no_show_suspension_days", "Give at least 1 day."),
    "org_student_recap_valid": ("student_recap", "Choose a setting from the list."),
    "org_booking_slots_positive": (
        "booking_slot_minutes",
        "Booked sessions last, and start every, at least 5 minutes.",
    ),
    "org_booking_horizon_positive": ("booking_horizon_days", "Give at least 1 day."),
    "org_session_reminder_hours_range": (
        "session_reminder_hours",
        "Remind between 2 and 168 hours (a week) before; the 1-hour reminder comes anyway.",
    ),
    "student_status_valid": ("status", "Choose a status from the list."),
    "provider_status_valid": ("status", "Choose a status from the list."),
    "provider_pay_rate_not_negative": ("default_pay_rate", "The pay rate cannot be negative."),
    "package_quantity_positive": ("amount", "The quantity is at least 1."),
    "package_price_not_negative": ("price", "The price cannot be negative."),
    "package_unit_valid": ("measure", "Choose a unit from the list."),
}
# Said when a constraint has no entry: never its name.
FALLBACK = (None, "This combination of values is not allowed.")


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint `exc` reports, or None when the database does not say."""
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    text = str(exc).strip()
    if match := _COLUMNS.match(text):
        qualified = [part.rsplit(".", 1) for part in match["columns"].split(", ")]
        tables = {table for table, _ in qualified}
        if len(tables) == 1:
            return _unique_by_columns().get((tables.pop(), frozenset(c for _, c in qualified)))
        return None
    if match := _NAMED.match(text):
        return match["index"] or match["check"]
    return None


@cache
def _unique_by_columns() -> dict[tuple[str, frozenset[str]], str]:
    """(table, columns) → name of every field-based UniqueConstraint of every model."""
    found: dict[tuple[str, frozenset[str]], str] = {}
    for model in apps.get_models():
        opts = model._meta
        for constraint in opts.constraints:
            if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
                columns = frozenset(
                    str(opts.get_field(f).column)  # type: ignore[union-attr]
                    for f in constraint.fields
                )
                found[(opts.db_table, columns)] = constraint.name
    return found


class ReadableModelForm(forms.ModelForm):  # type: ignore[type-arg]
    """A model form whose constraint checks read as MESSAGES, each on its field."""

    def validate_constraints(self) -> None:
        exclude = self._get_validation_exclusions()  # type: ignore[attr-defined]
        using = router.db_for_write(type(self.instance), instance=self.instance)
        for model, constraints in self.instance.get_constraints():
            for constraint in constraints:
                try:
                    constraint.validate(model, self.instance, exclude=exclude, using=using)
                except ValidationError:
                    field, message = MESSAGES.get(constraint.name, FALLBACK)
                    self.add_error(field if field in self.fields else None, message)
