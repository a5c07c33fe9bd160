"""The center's no-show rule: "X student no-shows in Y days suspends booking"
(docs/scheduling.md, "No-show rules").

Asked by `services.session_no_show` when the student was absent, on locked rows: the student's
row is locked first (after the relationship and the session, before any grant: the order of
every session write), so two no-shows of one student marked at once count one after the other.
The count is the student's no-shows whose session started within the last Y days, after the
last lift of a suspension, this one included. At X − 1 the student is warned by email; at X
booking is suspended (`students.services.booking_suspend`), the student is told and every admin
gets a notice with a link to lift it.
"""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from notifications.services import Audience, Message, admins, notify, person
from relationships.models import Relationship
from sessions_app.models import NoShowParty, Session, SessionStatus
from students import selectors as students
from students.services import booking_suspend


def student_no_shows(*, session: Session, relationship: Relationship) -> int:
    """The student's no-shows the rule counts, this session's included."""
    org = relationship.organization
    student = relationship.student
    since = timezone.now() - timedelta(days=org.no_show_suspension_days)
    lifted = students.last_lift(student)
    if lifted is not None and lifted > since:
        since = lifted
    others = (
        Session.objects.filter(
            organization_id=org.pk,
            relationship__student_id=student.pk,
            status=SessionStatus.NO_SHOW,
            no_show_party=NoShowParty.STUDENT,
            starts_at__gte=since,
        )
        .exclude(pk=session.pk)
        .count()
    )
    return others + (1 if session.starts_at >= since else 0)


def apply_rule(*, session: Session, relationship: Relationship) -> None:
    """After the student's no-show on `session` (not yet saved as one): warn or suspend."""
    org = relationship.organization
    limit = org.no_show_suspension_count
    if not limit:
        return
    students.lock_student(pk=relationship.student_id)
    count = student_no_shows(session=session, relationship=relationship)
    student = relationship.student
    window = f"{org.no_show_suspension_days} days"
    link = reverse("students:detail", args=[org.slug, student.public_id])
    if count >= limit:
        suspension = booking_suspend(student=student, no_shows=count)
        if suspension is None:
            return  # already suspended: nothing new to say
        notify(
            organization=org,
            kind="booking_suspended",
            about=f"student:{student.public_id}",
            occasion=f"suspended:{suspension.pk}",
            audiences=[
                Audience(
                    [person(student)],
                    Message(
                        subject="Booking suspended after repeated no-shows",
                        text=(
                            f"{student.name} missed {count} sessions within {window} without "
                            f"coming, so booking new sessions at {org.name} is suspended. "
                            "Sessions already booked stay. Contact the center to lift it."
                        ),
                    ),
                ),
                Audience(
                    admins(org),
                    Message(
                        subject=f"{student.name}'s booking is suspended",
                        text=(
                            f"{student.name}'s booking is suspended: {count} no-shows within "
                            f"{window}. Lift it on the student's page."
                        ),
                        link=link,
                    ),
                ),
            ],
        )
    elif count == limit - 1:
        notify(
            organization=org,
            kind="no_show_warning",
            about=f"student:{student.public_id}",
            occasion=f"warned:{session.public_id}",
            audiences=[
                Audience(
                    [person(student)],
                    Message(
                        subject="A missed session: booking could be suspended",
                        text=(
                            f"{student.name} did not come to a session with "
                            f"{relationship.provider.name}. That is {count} missed within "
                            f"{window}; at {limit}, booking new sessions at {org.name} is "
                            "suspended until the center lifts it."
                        ),
                    ),
                )
            ],
        )
