"""Telling people: `notify()` for every event and reminder, the sending task's steps, the inbox's
read marks and the email preferences (docs/notifications.md).

`notify()` runs inside the transaction of the change it tells. It first inserts the send's key
(kind, object, occasion) — a second call with the same key, from a job run twice or a second beat
process, meets the unique constraint and tells nobody — then writes the in-app notices and one
logged email per address, and queues their sending after the commit, so a rolled-back change
tells nobody either.
"""

import contextvars
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from matchpal.broker import enqueue
from matchpal.errors import PermissionDeniedError
from matchpal.models import Membership, Notification, Organization, Role
from matchpal.notifications import email_subject
from notifications import kinds
from notifications.models import (
    CenterEmailDefault,
    DeliveryStatus,
    Dispatch,
    EmailDelivery,
    EmailPreference,
)

TURNED_OFF = "Turned off in the email preferences."
ERROR_MAX = 2000


# --- Who is told ------------------------------------------------------------------------------


class Person(Protocol):
    """A student or provider record: an address, maybe a login."""

    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def user_id(self) -> int | None: ...


@dataclass(frozen=True)
class Recipient:
    email: str
    user_id: int | None = None
    name: str = ""


def person(record: Person) -> Recipient:
    return Recipient(email=record.email, user_id=record.user_id, name=record.name)


def guardian(record: Person, guardian_email: str) -> Recipient:
    return Recipient(email=guardian_email, name=f"{record.name}'s guardian")


def admins(organization: Organization) -> list[Recipient]:
    """Every admin of the organization (one query)."""
    return [
        Recipient(email=m.user.email, user_id=m.user_id, name=m.user.name)
        for m in Membership.objects.filter(organization=organization, role=Role.ADMIN)
        .select_related("user")
        .order_by("user_id")
    ]


# --- What they are told -----------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A titled list of lines in an email, each linked to its page (a path): the digests'
    figures and relationships."""

    title: str
    lines: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Message:
    """One notice: its subject, the sentence people read (the inbox shows it whole), the facts
    the email lists (who, when, how long, hours left), the page it is about (a path) and, for a
    digest, its sections of linked lines (the email only)."""

    subject: str
    text: str
    link: str = ""
    facts: Sequence[tuple[str, str]] = ()
    action: str = "Open in Matchpal"
    sections: Sequence[Section] = ()


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: str
    mimetype: str


@dataclass
class Audience:
    """Some recipients and what they are told (the provider and the student of one event read
    different words)."""

    recipients: Sequence[Recipient]
    message: Message
    attachments: Sequence[Attachment] = field(default_factory=tuple)


def site_url(path: str) -> str:
    """An absolute link: emails are read far from any request."""
    return f"{settings.MATCHPAL_SITE_URL}{path}" if path.startswith("/") else path


_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("notifications_muted", default=False)


@contextmanager
def muted() -> Iterator[None]:
    """Tell nobody meanwhile: seeding the demo center replays months of events at once."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def is_muted() -> bool:
    """Whether nobody is to be told now (`muted`): a caller that would queue a task to tell
    someone later asks first, since the task runs outside this context."""
    return _muted.get()


def notify(
    *,
    organization: Organization,
    kind: str,
    about: str,
    occasion: str = "",
    audiences: Iterable[Audience],
    skip_user_id: int | None = None,
    in_app: bool = True,
) -> bool:
    """Tell each audience its message, in the app (members) and by email (each address once).

    `about` names the object ("session:<public id>"), `occasion` what makes this sending distinct
    among the object's; the key (kind, about, occasion) is claimed first and a key already
    claimed tells nobody (returns False). `skip_user_id` is whoever made the change: they are
    not told of their own act. `in_app=False` sends the email alone (a calendar invite, which
    rides beside the notice of its event), still keyed, logged and retried."""
    kinds.get(kind)  # an unknown kind fails here, not in the sending task
    if _muted.get():
        return False
    try:
        with transaction.atomic():
            dispatch = Dispatch.objects.create(
                organization=organization, kind=kind, object_key=about, occasion=occasion[:80]
            )
    except IntegrityError:
        return False
    plan: list[tuple[Recipient, Audience]] = []
    seen: set[str] = set()
    for audience in audiences:
        for recipient in audience.recipients:
            if skip_user_id is not None and recipient.user_id == skip_user_id:
                continue
            address = recipient.email.strip().lower()
            if not address and recipient.user_id is None:
                continue
            if address in seen and address:
                continue
            seen.add(address)
            plan.append((recipient, audience))
    if not plan:
        return True
    user_ids = sorted({r.user_id for r, _ in plan if r.user_id is not None})
    members = set(
        Membership.objects.filter(organization=organization, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
    noticed: set[int] = set()
    notices = []
    for recipient, audience in plan:
        if not in_app:
            break
        if recipient.user_id in members and recipient.user_id not in noticed:
            assert recipient.user_id is not None
            noticed.add(recipient.user_id)
            notices.append(
                Notification(
                    organization=organization,
                    user_id=recipient.user_id,
                    kind=kind,
                    text=audience.message.text[:500],
                    link=audience.message.link[:300],
                )
            )
    Notification.objects.bulk_create(notices)
    wants = email_wanted(organization=organization, kind=kind, user_ids=sorted(members))
    emails = [
        _render(dispatch, recipient, audience, wanted=wants(recipient.user_id))
        for recipient, audience in plan
        if recipient.email.strip()
    ]
    created = EmailDelivery.objects.bulk_create(emails)
    queued = [e.pk for e in created if e.status == DeliveryStatus.PENDING]
    if queued:
        transaction.on_commit(lambda: _queue(queued))
    return True


def _queue(delivery_ids: list[int]) -> None:
    from notifications.tasks import send_email

    for delivery_id in delivery_ids:
        # The broker down: the notices are in the inbox, the emails stay "Queued" in the
        # delivery log, and the rest would wait for it too.
        if not enqueue(send_email, delivery_id):
            break


def email_wanted(
    *, organization: Organization, kind: str, user_ids: list[int]
) -> Callable[[int | None], bool]:
    """Whether each of these members (or someone without a login: None) gets this kind's email:
    their own choice, else the center's default, else the kind's."""
    default = kinds.get(kind).email
    center = (
        CenterEmailDefault.objects.filter(organization=organization, kind=kind)
        .values_list("email", flat=True)
        .first()
    )
    if center is not None:
        default = center
    own = dict(
        EmailPreference.objects.filter(
            organization=organization, kind=kind, user_id__in=user_ids
        ).values_list("user_id", "email")
    )
    return lambda user_id: own.get(user_id, default) if user_id is not None else default


def _render(
    dispatch: Dispatch, recipient: Recipient, audience: Audience, *, wanted: bool
) -> EmailDelivery:
    organization = dispatch.organization
    message = audience.message
    context = {
        "organization": organization,
        "name": recipient.name,
        "message": message,
        "link": site_url(message.link) if message.link else "",
        "sections": [
            (section.title, [(text, site_url(path)) for text, path in section.lines])
            for section in message.sections
        ],
        "preferences": site_url(reverse("notifications:preferences", args=[organization.slug])),
    }
    return EmailDelivery(
        organization=organization,
        dispatch=dispatch,
        kind=dispatch.kind,
        to=recipient.email.strip(),
        user_id=recipient.user_id,
        subject=email_subject(message.subject),
        text=render_to_string("notifications/email/message.txt", context),
        html=render_to_string("notifications/email/message.html", context),
        attachments=[
            {"filename": a.filename, "content": a.content, "mimetype": a.mimetype}
            for a in audience.attachments
        ],
        status=DeliveryStatus.PENDING if wanted else DeliveryStatus.SKIPPED,
        error="" if wanted else TURNED_OFF,
    )


# --- Sending (the task's steps) ---------------------------------------------------------------


def deliver(*, delivery_id: int) -> str:
    """Send one logged email, once: the row is claimed by a conditional update (a task delivered
    twice finds it claimed), the send re-checked (a reminder whose session was cancelled, moved
    or logged since is not sent), then sent and marked sent. Returns the status it ends in; an
    SMTP error propagates to the task, which records it and retries."""
    claimed = EmailDelivery.objects.filter(
        pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    ).update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1)
    if not claimed:
        return ""
    delivery = EmailDelivery.objects.select_related("organization", "dispatch").get(pk=delivery_id)
    stale = kinds.stale_reason(delivery)
    if stale:
        EmailDelivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.SKIPPED, error=stale
        )
        return DeliveryStatus.SKIPPED
    _address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    email = EmailMultiAlternatives(
        subject=delivery.subject,
        body=delivery.text,
        from_email=formataddr((f"{delivery.organization.name} via Matchpal", _address)),
        to=[delivery.to],
        # For people's mail filters (and the tests): which kind of notice this is.
        headers={"X-Matchpal-Kind": delivery.kind},
    )
    email.attach_alternative(delivery.html, "text/html")
    for attachment in delivery.attachments:
        email.attach(attachment["filename"], attachment["content"], attachment["mimetype"])
    email.send()
    EmailDelivery.objects.filter(pk=delivery_id).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), error=""
    )
    return DeliveryStatus.SENT


def delivery_failed(*, delivery_id: int, error: str, final: bool) -> None:
    """The send raised: kept for the log, retried later unless it was the last attempt."""
    EmailDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING,
        error=error[:ERROR_MAX],
    )


# --- The inbox --------------------------------------------------------------------------------


def notice_open(*, membership: Membership, notice: Notification) -> str:
    """Mark the notice read (if it was not); where it leads."""
    Notification.objects.filter(
        pk=notice.pk, organization_id=membership.organization_id, user_id=membership.user_id
    ).filter(read_at__isnull=True).update(read_at=timezone.now())
    return notice.link


def notices_read_all(*, membership: Membership) -> int:
    return Notification.objects.filter(
        organization_id=membership.organization_id,
        user_id=membership.user_id,
        read_at__isnull=True,
    ).update(read_at=timezone.now())


# --- Preferences ------------------------------------------------------------------------------


def preferences_save(*, membership: Membership, choices: dict[str, bool]) -> None:
    """A member's email choices, one per kind of their role."""
    offered = {kind.key for kind in kinds.for_role(membership.role)}
    with transaction.atomic():
        for kind, email in sorted(choices.items()):
            if kind not in offered:
                continue
            EmailPreference.objects.update_or_create(
                organization_id=membership.organization_id,
                user_id=membership.user_id,
                kind=kind,
                defaults={"email": email},
            )


def center_defaults_save(*, membership: Membership, choices: dict[str, bool]) -> None:
    """The center's default for each kind of email (admins); members' own choices stay."""
    if not membership.is_admin:
        raise PermissionDeniedError("Only an admin sets the center's defaults.")
    organization = membership.organization
    with transaction.atomic():
        for kind, email in sorted(choices.items()):
            if kind not in kinds.KINDS:
                continue
            CenterEmailDefault.objects.update_or_create(
                organization=organization, kind=kind, defaults={"email": email}
            )


def person_forget(*, organization: Organization, user_id: int | None, addresses: list[str]) -> int:
    """A student's erasure (privacy.services.student_erase): the center's emails to the person
    (by login, or by one of their addresses, the guardian's included) and their email
    preferences are deleted. The dispatch keys stay, so nothing is sent twice. Returns how many
    emails were deleted."""
    query = Q(user_id=user_id) if user_id is not None else Q(pk__in=[])
    for address in filter(None, addresses):
        query |= Q(to__iexact=address)
    with transaction.atomic():
        deleted, _ = EmailDelivery.objects.filter(query, organization=organization).delete()
        if user_id is not None:
            EmailPreference.objects.filter(organization=organization, user_id=user_id).delete()
    return deleted
