"""What a student is told about their hours (docs/notifications.md): hours added (by an admin or
the shop), hours about to expire (14 and 3 days before) and expired. Called inside the ledger's
transactions; `notifications.notify` claims each send once and mails after commit."""

from datetime import datetime, timedelta
from typing import Final

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from grants.models import Grant, GrantSource, GrantStatus
from matchpal.models import Organization
from matchpal.quantities import format_quantity
from notifications.services import Audience, Message, Recipient, guardian, notify, person
from students.models import Student

# A grant's expiry is announced this many days before it.
EXPIRY_WARNINGS: Final = (14, 3)


def _student_side(student: Student) -> list[Recipient]:
    people = [person(student)]
    if student.guardian_email:
        people.append(guardian(student, student.guardian_email))
    return people


def _facts(grant: Grant, org: Organization) -> list[tuple[str, str]]:
    facts = [
        ("Student", grant.student.name),
        ("Hours", format_quantity(grant.total, grant.unit)),
        ("Left on it", format_quantity(grant.total - grant.used, grant.unit)),
    ]
    if grant.expires_at:
        facts.append(("Expires", f"{timezone.localtime(grant.expires_at, org.tz):%b %d, %Y}"))
    if grant.reference:
        facts.append(("Reference", grant.reference))
    return facts


def granted(grant: Grant, *, quantity: int) -> None:
    """Hours added by an admin or bought in the shop (not a transfer between a student's own
    grants)."""
    if grant.source == GrantSource.TRANSFER:
        return
    student = grant.student
    org = student.organization
    amount = format_quantity(quantity, grant.unit)
    how = "bought in the shop" if grant.source == GrantSource.WOOCOMMERCE else "added"
    notify(
        organization=org,
        kind="hours_granted",
        about=f"grant:{grant.public_id}",
        audiences=[
            Audience(
                _student_side(student),
                Message(
                    subject=f"{amount} added to your hours",
                    text=f"{amount} {how} for {student.name} at {org.name}.",
                    link=reverse("grants:my_hours", args=[org.slug]),
                    facts=_facts(grant, org),
                    action="See your hours",
                ),
            )
        ],
    )


def expiring(grant: Grant, *, days: int) -> bool:
    org = grant.student.organization
    when = timezone.localtime(grant.expires_at, org.tz) if grant.expires_at else None
    left = format_quantity(grant.total - grant.used, grant.unit)
    return notify(
        organization=org,
        kind="grant_expiring",
        about=f"grant:{grant.public_id}",
        occasion=f"{days}d",
        audiences=[
            Audience(
                _student_side(grant.student),
                Message(
                    subject=f"{left} of your hours expire on {when:%b %d}",
                    text=(
                        f"{left} of {grant.student.name}'s hours at {org.name} expire on "
                        f"{when:%A %b %d}: book sessions before then, or ask the center about "
                        "an extension."
                    ),
                    link=reverse("grants:my_hours", args=[org.slug]),
                    facts=_facts(grant, org),
                    action="See your hours",
                ),
            )
        ],
    )


def expired(grant: Grant, *, lost: int) -> None:
    org = grant.student.organization
    left = format_quantity(lost, grant.unit)
    notify(
        organization=org,
        kind="grant_expired",
        about=f"grant:{grant.public_id}",
        audiences=[
            Audience(
                _student_side(grant.student),
                Message(
                    subject="Some of your hours expired",
                    text=(
                        f"{left} of {grant.student.name}'s hours at {org.name} expired unused. "
                        "Ask the center if you think this is wrong."
                    ),
                    link=reverse("grants:my_hours", args=[org.slug]),
                    facts=_facts(grant, org),
                    action="See your hours",
                ),
            )
        ],
    )


def warn_expiring(*, now: datetime | None = None) -> int:
    """The daily job: each active grant with hours left that expires within 14 days (then
    within 3) is announced once per warning; a grant first seen inside 3 days gets only that
    one. Returns how many were told. Safe to run twice: the keys are claimed."""
    now = now or timezone.now()
    told = 0
    for days in sorted(EXPIRY_WARNINGS):
        narrower = [d for d in EXPIRY_WARNINGS if d < days]
        start = now + timedelta(days=max(narrower)) if narrower else now
        grants = (
            Grant.objects.filter(
                status=GrantStatus.ACTIVE,
                total__gt=F("used"),
                expires_at__gt=start,
                expires_at__lte=now + timedelta(days=days),
            )
            .select_related("student__organization")
            .order_by("pk")
        )
        for grant in grants:
            with transaction.atomic():
                told += expiring(grant, days=days)
    return told
