"""Each table the generator fills, as COPY sees it, and the rows planned for it.

A `Table` knows its columns in COPY order (`id`, the ones the plan fills, then every other
column with its constant default), so a column added to a model later is filled by its default
or, lacking one, stops the generator before it writes anything. A column the database fills
(`db_default`, e.g. the membership's copy of the user's email, written by its trigger) is left
out of the COPY."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from allauth.account.models import EmailAddress
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models

from grants.models import (
    Allocation,
    Grant,
    GrantEntry,
    GrantServiceType,
    Package,
    PackageServiceType,
    PackageShopMapping,
)
from matchpal.models import Membership, Organization, ServiceType, User
from providers.models import AvailabilityWindow, Provider, ProviderService
from relationships.models import Relationship, RelationshipStatusChange
from sessions_app.models import Session
from students.models import Student


class Table:
    """A model's table as COPY sees it: `id`, the columns the plan fills (`columns`), then every
    other column with its constant default (or NULL), but those the database fills itself
    (`db_default`). A new NOT NULL column without a constant default stops the generator before
    it writes anything, naming it."""

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.model = model
        self.name = model._meta.db_table
        fields = {str(f.column): f for f in model._meta.concrete_fields}
        unknown = set(columns) - fields.keys()
        if unknown:
            raise ImproperlyConfigured(f"{self.name} has no column {sorted(unknown)}")
        rest = [
            c for c in fields if c not in columns and c != "id" and not fields[c].has_db_default()
        ]
        self.columns = ["id", *columns, *rest]
        self.constants = tuple(self._constant(fields[column]) for column in rest)
        self.rows: list[tuple[Any, ...]] = []
        self.next_id = 1

    def _constant(self, f: models.Field[Any, Any]) -> Any:
        """The value every row gets in a column the plan does not fill: its constant default,
        as the database stores it, or NULL."""
        # A text field without a default defaults to "" (Django's own rule).
        value = None if f.has_default() and callable(f.default) else f.get_default()
        if value is not None or f.null:
            return None if value is None else f.get_db_prep_save(value, connection)
        raise ImproperlyConfigured(
            f"The scale generator gives no value to {self.name}.{f.column}; add it to its "
            "columns in demo/scale/tables.py."
        )

    def add(self, *values: Any) -> int:
        pk = self.reserve()
        self.rows.append((pk, *values))
        return pk

    def reserve(self) -> int:
        """An id for a row added later with `put` (its values depend on rows that need it)."""
        pk = self.next_id
        self.next_id += 1
        return pk

    def put(self, pk: int, *values: Any) -> None:
        self.rows.append((pk, *values))


def tables() -> dict[str, Table]:
    """Every table the generator fills, in foreign-key order (the order of the COPYs)."""
    return {
        t.name: t
        for t in [
            Table(User, ["password", "email", "name", "is_active", "date_joined"]),
            Table(EmailAddress, ["user_id", "email", "verified", "primary"]),
            Table(Organization, ["name", "slug", "time_zone", "created_at"]),
            Table(Membership, ["public_id", "user_id", "organization_id", "role", "created_at"]),
            Table(ServiceType, ["public_id", "organization_id", "name", "client_rate"]),
            Table(
                Student,
                [
                    "public_id",
                    "organization_id",
                    "user_id",
                    "name",
                    "email",
                    "guardian_name",
                    "guardian_email",
                    "status",
                    "created_at",
                    "updated_at",
                ],
            ),
            Table(
                Provider,
                [
                    "public_id",
                    "organization_id",
                    "user_id",
                    "name",
                    "email",
                    "bio",
                    "default_pay_rate",
                    "status",
                    "created_at",
                    "updated_at",
                ],
            ),
            Table(ProviderService, ["organization_id", "provider_id", "service_type_id"]),
            Table(
                AvailabilityWindow,
                [
                    "public_id",
                    "organization_id",
                    "provider_id",
                    "weekday",
                    "start",
                    "end",
                    "mode",
                    "location",
                    "created_at",
                ],
            ),
            Table(
                Package,
                [
                    "public_id",
                    "organization_id",
                    "name",
                    "quantity",
                    "unit",
                    "validity_days",
                    "price",
                    "created_at",
                ],
            ),
            Table(PackageServiceType, ["organization_id", "package_id", "service_type_id"]),
            Table(PackageShopMapping, ["organization_id", "package_id", "kind", "value"]),
            Table(
                Grant,
                [
                    "public_id",
                    "organization_id",
                    "student_id",
                    "package_id",
                    "unit",
                    "total",
                    "used",
                    "held",
                    "valid_from",
                    "expires_at",
                    "status",
                    "source",
                    "reference",
                    "created_at",
                    "created_by_id",
                ],
            ),
            Table(GrantServiceType, ["organization_id", "grant_id", "service_type_id"]),
            Table(
                Relationship,
                [
                    "public_id",
                    "organization_id",
                    "student_id",
                    "provider_id",
                    "service_type_id",
                    "unit",
                    "status",
                    "provider_pay_rate",
                    "client_rate",
                    "proposed_by_id",
                    "respond_by",
                    "paired_at",
                    "ended_at",
                    "created_at",
                ],
            ),
            Table(
                RelationshipStatusChange,
                [
                    "organization_id",
                    "relationship_id",
                    "from_status",
                    "to_status",
                    "actor_id",
                    "reason",
                    "allocation_before",
                    "allocation_after",
                    "created_at",
                ],
            ),
            Table(
                Allocation,
                [
                    "organization_id",
                    "relationship_id",
                    "grant_id",
                    "held",
                    "consumed",
                    "created_at",
                ],
            ),
            Table(Session, list(SESSION_COLUMNS)),
            Table(
                GrantEntry,
                [
                    "organization_id",
                    "grant_id",
                    "allocation_id",
                    "kind",
                    "total_delta",
                    "used_delta",
                    "held_delta",
                    "usable_delta",
                    "relationship_id",
                    "session_id",
                    "actor_id",
                    "reason",
                    "created_at",
                ],
            ),
        ]
    }


SESSION_COLUMNS = (
    "public_id",
    "organization_id",
    "relationship_id",
    "starts_at",
    "duration_minutes",
    "kind",
    "mode",
    "status",
    "notes",
    "rating",
    "cancellation_reason",
    "no_show_party",
    "no_show_explanation",
    "charged_minutes",
    "logged_by_id",
    "logged_at",
    "student_confirmed_at",
    "disputed_at",
    "dispute_reason",
    "dispute_resolved_at",
    "dispute_resolved_by_id",
    "dispute_resolution",
    "provider_pay_rate",
    "client_rate",
    "created_at",
    "provider_id",
    "exclusive",
)
