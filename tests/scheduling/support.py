"""What the scheduling tests share: a provider's weekly hours and bookings through the
service."""

from datetime import datetime, time

from providers import services as providers
from providers.models import AvailabilityWindow, Provider
from relationships.models import Relationship
from sessions_app import booking
from sessions_app.models import Session
from tests.support import Tenant, member


def hours(
    tenant: Tenant,
    weekday: int,
    start: str,
    end: str,
    *,
    provider: Provider | None = None,
    mode: str = "in_person",
    location: str = "Room 2",
) -> AvailabilityWindow:
    """Weekly hours added by the admin (Thursday is 3)."""
    return providers.availability_window_add(
        membership=member(tenant.admin, tenant.organization),
        provider=provider or tenant.provider,
        weekday=weekday,
        start=time.fromisoformat(start),
        end=time.fromisoformat(end),
        mode=mode,
        location=location,
    )


def book(
    tenant: Tenant,
    relationship: Relationship,
    starts_at: datetime,
    *,
    by: str = "student",
    **kwargs: object,
) -> list[Session]:
    user = {"student": tenant.student_user, "admin": tenant.admin}[by]
    return booking.session_book(
        membership=member(user, tenant.organization),
        relationship=relationship,
        starts_at=starts_at,
        **kwargs,  # type: ignore[arg-type]
    )
