"""The admins' digests (docs/notifications.md, "Digests"): every week, the paired relationships
with no session for the center's gap (the dashboard's long-gap and idle signs together); every
day, for the admins who turned it on, what needs attention (the admin home's figures and the
warning signs). Both are read from the selectors the admin home uses and sent through
`notifications.notify`, one key per admin and week or day, so a job run twice or two beat
processes tell each admin once."""

from datetime import datetime
from typing import Any, Final, cast

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from matchpal.models import Membership, Organization, Role
from matchpal.quantities import format_minutes
from notifications.models import Dispatch
from notifications.services import Audience, Message, Recipient, Section, email_wanted, notify
from relationships.models import Relationship
from reports import dashboard
from reports.selectors import needs_attention

IDLE_DIGEST: Final = "idle_digest"
ATTENTION_DIGEST: Final = "attention_digest"
# The local hour from which the day's digest (Monday's, for the weekly one) is due: the hourly
# job sends it at its first run from then on, or later that day (week) if beat was down.
DIGEST_HOUR: Final = 7
# The weekly digest lists at most this many relationships, the longest idle first; the rest are
# on the warning signs' pages it links to.
IDLE_ROWS: Final = 50


def _member_key(membership: Membership) -> str:
    return f"member:{membership.public_id}"


def _untold_admins(organization: Organization, kind: str, occasion: str) -> list[Membership]:
    """The organization's admins not yet sent this occasion's digest (two queries)."""
    told = set(
        Dispatch.objects.filter(
            organization=organization, kind=kind, occasion=occasion
        ).values_list("object_key", flat=True)
    )
    admins = (
        Membership.objects.filter(organization=organization, role=Role.ADMIN)
        .select_related("user", "organization")
        .order_by("user_id")
    )
    return [m for m in admins if _member_key(m) not in told]


def _tell(membership: Membership, kind: str, occasion: str, message: Message) -> bool:
    user = membership.user
    # Each admin's send in its own transaction: a concurrent run claiming the same key waits
    # for this one and then finds it taken.
    with transaction.atomic():
        return notify(
            organization=membership.organization,
            kind=kind,
            about=_member_key(membership),
            occasion=occasion,
            audiences=[
                Audience([Recipient(email=user.email, user_id=user.pk, name=user.name)], message)
            ],
        )


# --- The weekly digest of idle relationships -----------------------------------------------


def idle_relationships(organization: Organization, limits: dashboard.Thresholds) -> QuerySet[Any]:
    """Paired relationships with no completed session since `gap_since`: those whose last one
    is older (the long-gap sign) and those paired before it that never met (the idle sign), the
    longest idle first."""
    dashboard.refresh_signs(organization)
    rows = dashboard.long_gaps(organization, limits).values("relationship")
    never = dashboard.idle(organization, limits).values("relationship")
    return (
        Relationship.objects.filter(organization=organization)
        .filter(Q(pk__in=rows) | Q(pk__in=never))
        .select_related("student", "provider", "service_type", "activity")
        .order_by(F("activity__last_session_at").asc(nulls_first=True), "paired_at", "id")
    )


def _idle_line(organization: Organization, relationship: Relationship) -> tuple[str, str]:
    activity = relationship.activity
    if activity.last_session_at is not None:
        last = timezone.localtime(activity.last_session_at, organization.tz)
        since = f"last session {last:%b %-d, %Y}"
    else:
        assert relationship.paired_at is not None
        paired = timezone.localtime(relationship.paired_at, organization.tz)
        since = f"paired {paired:%b %-d, %Y}, no session yet"
    text = (
        f"{relationship.student.name} with {relationship.provider.name} "
        f"({relationship.service_type.name}): {since}"
    )
    return text, reverse("relationships:detail", args=[organization.slug, relationship.public_id])


def idle_message(organization: Organization) -> Message | None:
    """The weekly digest's message, or None when no relationship is idle."""
    limits = dashboard.Thresholds.of(organization)
    rows = list(idle_relationships(organization, limits)[: IDLE_ROWS + 1])
    if not rows:
        return None
    slug = organization.slug
    counts = dashboard.warning_counts(organization, limits)
    total = counts["long_gap"] + counts["idle"]
    days = organization.warning_gap_days
    lines = [_idle_line(organization, r) for r in rows[:IDLE_ROWS]]
    plural = "s have" if total != 1 else " has"
    sections = [Section(f"No session for {days} days or more", lines)]
    if total > IDLE_ROWS:
        sections.append(
            Section(
                f"And {total - IDLE_ROWS} more",
                [
                    ("Pairings with a long gap", reverse("warning_long_gap", args=[slug])),
                    ("Idle pairings", reverse("warning_idle", args=[slug])),
                ],
            )
        )
    return Message(
        subject=f"Weekly digest: {total} idle pairing{'s' if total != 1 else ''}",
        text=(
            f"{total} paired relationship{plural} had no session at {organization.name} "
            f"for {days} days or more."
        ),
        link=reverse("warning_long_gap" if counts["long_gap"] else "warning_idle", args=[slug]),
        facts=[("Long gaps", str(counts["long_gap"])), ("Never met", str(counts["idle"]))],
        action="See the pairings",
        sections=sections,
    )


def _week_occasion(local: datetime) -> str | None:
    """The ISO week, once its Monday's digest hour has come."""
    if local.weekday() == 0 and local.hour < DIGEST_HOUR:
        return None
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def send_idle_digests(organization: Organization, *, now: datetime) -> int:
    occasion = _week_occasion(timezone.localtime(now, organization.tz))
    if occasion is None:
        return 0
    admins = _untold_admins(organization, IDLE_DIGEST, occasion)
    if not admins:
        return 0
    message = idle_message(organization)
    if message is None:
        return 0
    return sum(_tell(m, IDLE_DIGEST, occasion, message) for m in admins)


# --- The daily digest of what needs attention (opt-in) -------------------------------------


def attention_message(membership: Membership) -> Message | None:
    """The daily digest's message: the admin home's "Needs attention" figures and the warning
    signs that are not zero, each linked; None when all are zero."""
    organization = membership.organization
    slug = organization.slug
    attention = needs_attention(organization=organization, membership=membership)
    signs = dashboard.warning_counts(organization, dashboard.Thresholds.of(organization))
    figures = [
        (
            "Proposals awaiting an answer",
            cast(int, attention["proposal_count"]),
            reverse("relationships:list", args=[slug]) + "?status=proposed",
        ),
        (
            "Sessions past their start, not logged",
            cast(int, attention["to_log"]),
            reverse("sessions_app:list", args=[slug]) + "?status=scheduled",
        ),
        (
            "Disputed sessions",
            cast(int, attention["disputed_count"]),
            reverse("org_home", args=[slug]),
        ),
        (
            "Open shop order errors",
            cast(int, attention["open_order_errors"]),
            reverse("woocommerce:error_list", args=[slug]),
        ),
    ]
    warnings = [
        (dashboard.SIGN_TITLES[sign], signs[sign], reverse(f"warning_{sign}", args=[slug]))
        for sign in dashboard.SIGNS
    ]
    sections = [
        Section(title, [(f"{label}: {n}", link) for label, n, link in rows if n])
        for title, rows in (("Needs attention", figures), ("Warning signs", warnings))
    ]
    proposals = attention["proposals"]
    disputed = attention["disputed"]
    assert isinstance(proposals, list)
    assert isinstance(disputed, list)
    if proposals:
        sections.append(
            Section(
                "Oldest unanswered proposals",
                [
                    (
                        f"{r.student.name} with {r.provider.name}, answer by "
                        f"{timezone.localtime(r.respond_by, organization.tz):%b %-d}",
                        reverse("relationships:detail", args=[slug, r.public_id]),
                    )
                    for r in proposals
                ],
            )
        )
    if disputed:
        sections.append(
            Section(
                "Disputed sessions",
                [
                    (
                        f"{s.relationship.student.name} with {s.relationship.provider.name}, "
                        f"{timezone.localtime(s.starts_at, organization.tz):%b %-d} "
                        f"({format_minutes(s.duration_minutes)})",
                        reverse("sessions_app:detail", args=[slug, s.public_id]),
                    )
                    for s in disputed
                ],
            )
        )
    sections = [s for s in sections if s.lines]
    if not sections:
        return None
    items = sum(n for _, n, _ in figures) + sum(n for _, n, _ in warnings)
    return Message(
        subject=f"Daily digest: {items} thing{'s' if items != 1 else ''} to look at",
        text=f"What needs attention at {organization.name} today.",
        link=reverse("org_home", args=[slug]),
        action="Open the admin home",
        sections=sections,
    )


def _day_occasion(local: datetime) -> str | None:
    return local.date().isoformat() if local.hour >= DIGEST_HOUR else None


def send_attention_digests(organization: Organization, *, now: datetime) -> int:
    """To each admin who turned the digest on (their email preference, else the center's
    default; off unless chosen), once a day."""
    occasion = _day_occasion(timezone.localtime(now, organization.tz))
    if occasion is None:
        return 0
    admins = _untold_admins(organization, ATTENTION_DIGEST, occasion)
    if not admins:
        return 0
    wanted = email_wanted(
        organization=organization,
        kind=ATTENTION_DIGEST,
        user_ids=[m.user_id for m in admins],
    )
    admins = [m for m in admins if wanted(m.user_id)]
    if not admins:
        return 0
    # An admin sees the whole center: the figures are the same for each.
    message = attention_message(admins[0])
    if message is None:
        return 0
    return sum(_tell(m, ATTENTION_DIGEST, occasion, message) for m in admins)


def send_admin_digests(*, now: datetime | None = None) -> int:
    """The hourly job: each organization's digests that are due. Returns how many admins were
    told. Safe to run twice or to overlap: every send's key is claimed."""
    now = now or timezone.now()
    told = 0
    for organization in Organization.objects.order_by("pk"):
        told += send_idle_digests(organization, now=now)
        told += send_attention_digests(organization, now=now)
    return told
