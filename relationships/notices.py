"""What a pairing's people are told at each step (docs/notifications.md). Called by the services
inside their transaction; `notifications.notify` claims each send once and mails after commit.

The wording follows the state: a proposal is "proposed" to the student until the provider
accepts; only then are they "paired"."""

from django.urls import reverse
from django.utils import timezone

from matchpal.quantities import format_quantity
from notifications.services import (
    Audience,
    Message,
    Recipient,
    admins,
    guardian,
    notify,
    person,
)
from relationships.models import Relationship
from relationships.selectors import allocated, response_window_days


def _about(relationship: Relationship) -> str:
    return f"relationship:{relationship.public_id}"


def _link(relationship: Relationship) -> str:
    return reverse(
        "relationships:detail", args=[relationship.organization.slug, relationship.public_id]
    )


def _facts(relationship: Relationship, *, held: bool = True) -> list[tuple[str, str]]:
    facts = [
        ("Student", relationship.student.name),
        ("Provider", relationship.provider.name),
        ("Service", relationship.service_type.name),
    ]
    if held:
        amounts = allocated(relationship)
        facts.append(("Reserved", format_quantity(amounts["held"], relationship.unit)))
    return facts


def _student_side(relationship: Relationship) -> list[Recipient]:
    student = relationship.student
    people = [person(student)]
    if student.guardian_email:
        people.append(guardian(student, student.guardian_email))
    return people


def proposed(relationship: Relationship, *, quantity: int) -> None:
    org, student, provider = (
        relationship.organization,
        relationship.student,
        relationship.provider,
    )
    service = relationship.service_type.name
    amount = format_quantity(quantity, relationship.unit)
    respond_by = timezone.localtime(relationship.respond_by, org.tz)
    facts = [
        ("Student", student.name),
        ("Provider", provider.name),
        ("Service", service),
        ("Reserved", amount),
        ("Answer by", f"{respond_by:%A %b %d, %Y}"),
    ]
    notify(
        organization=org,
        kind="proposal_made",
        about=_about(relationship),
        audiences=[
            Audience(
                [person(provider)],
                Message(
                    subject=f"New {service.lower()} proposal: {student.name}",
                    text=(
                        f"{org.name} proposes that you work with {student.name} ({service}, "
                        f"{amount}). Please accept or decline by {respond_by:%b %d}."
                    ),
                    link=_link(relationship),
                    facts=facts,
                    action="Accept or decline",
                ),
            ),
            Audience(
                _student_side(relationship),
                Message(
                    subject=f"{provider.name} is proposed for your {service.lower()}",
                    text=(
                        f"{org.name} has proposed {provider.name} for {student.name}'s "
                        f"{service.lower()}; {amount} are reserved for it. This is a proposal, "
                        f"not yet a pairing: you will hear from us when {provider.name} accepts."
                    ),
                    link=_link(relationship),
                    facts=facts,
                ),
            ),
        ],
    )


def accepted(relationship: Relationship) -> None:
    student, provider = relationship.student, relationship.provider
    service = relationship.service_type.name.lower()
    notify(
        organization=relationship.organization,
        kind="proposal_accepted",
        about=_about(relationship),
        audiences=[
            Audience(
                _student_side(relationship),
                Message(
                    subject=f"You are paired with {provider.name}",
                    text=(
                        f"{provider.name} accepted: {student.name} and {provider.name} are now "
                        f"paired for {service}. Sessions can be scheduled."
                    ),
                    link=_link(relationship),
                    facts=_facts(relationship),
                ),
            ),
            Audience(
                admins(relationship.organization),
                Message(
                    subject=f"{provider.name} accepted {student.name}",
                    text=f"{provider.name} accepted to work with {student.name} ({service}).",
                    link=_link(relationship),
                    facts=_facts(relationship),
                ),
            ),
        ],
    )


def declined(relationship: Relationship, *, reason: str) -> None:
    student, provider = relationship.student, relationship.provider
    because = f": {reason.strip().rstrip('.')}" if reason.strip() else ""
    text = (
        f"{provider.name} declined to work with {student.name}{because}. The reserved hours are "
        "free to book again."
    )
    message = Message(
        subject=f"{provider.name} declined",
        text=text,
        link=_link(relationship),
        facts=_facts(relationship, held=False),
    )
    notify(
        organization=relationship.organization,
        kind="proposal_declined",
        about=_about(relationship),
        audiences=[
            Audience(_student_side(relationship), message),
            Audience(admins(relationship.organization), message),
        ],
    )


def timed_out(relationship: Relationship) -> None:
    # Nobody declined: the student must not read that the provider did, and the provider, who
    # may simply have missed the proposal, learns that it is gone.
    org, student, provider = (
        relationship.organization,
        relationship.student,
        relationship.provider,
    )
    days = response_window_days(relationship)
    facts = _facts(relationship, held=False)
    notify(
        organization=org,
        kind="proposal_timed_out",
        about=_about(relationship),
        audiences=[
            Audience(
                _student_side(relationship),
                Message(
                    subject=f"No answer from {provider.name}",
                    text=(
                        f"{provider.name} did not answer within {days} days; the reserved "
                        "hours are free to book again."
                    ),
                    link=_link(relationship),
                    facts=facts,
                ),
            ),
            Audience(
                [person(provider)],
                Message(
                    subject=f"Proposal declined: {student.name}",
                    text=(
                        f"The proposal to work with {student.name} "
                        f"({relationship.service_type.name.lower()}) was not answered within "
                        f"{days} days, so it was declined automatically. Ask {org.name} if you "
                        "would still like to take it on."
                    ),
                    link=_link(relationship),
                    facts=facts,
                ),
            ),
            Audience(
                admins(org),
                Message(
                    subject=f"Unanswered proposal declined: {student.name} with {provider.name}",
                    text=(
                        f"{provider.name} did not answer the proposal for {student.name} within "
                        f"{days} days; it was declined and the hours released."
                    ),
                    link=_link(relationship),
                    facts=facts,
                ),
            ),
        ],
    )


def cancelled(relationship: Relationship, *, reason: str, actor_id: int) -> None:
    service = relationship.service_type.name.lower()
    message = Message(
        subject="Relationship cancelled",
        text=(
            f"The {service} relationship of {relationship.student.name} with "
            f"{relationship.provider.name} was cancelled: {reason}"
        ),
        link=_link(relationship),
        facts=_facts(relationship, held=False),
    )
    notify(
        organization=relationship.organization,
        kind="relationship_cancelled",
        about=_about(relationship),
        audiences=[
            Audience([*_student_side(relationship), person(relationship.provider)], message)
        ],
        skip_user_id=actor_id,
    )
