"""factory-boy factories. Related objects stay inside one organization."""

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from matchpal.models import Membership, Organization, Role, ServiceType, User
from providers.models import Provider, ProviderService
from students.models import Student

PASSWORD = "correct-horse-battery"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Center {n}")
    slug = factory.Sequence(lambda n: f"center-{n}")
    time_zone = "America/New_York"

    @factory.post_generation
    def service_types(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            for name in ("Tutoring", "Advising"):
                ServiceType.objects.create(organization=self, name=name)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Faker("name")
    # Hashed before the insert: one INSERT a user, not an INSERT and then an UPDATE (most tests
    # make several users through `make_tenant`).
    password = factory.LazyFunction(lambda: make_password(PASSWORD))

    @factory.post_generation
    def verified_email(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            EmailAddress.objects.create(user=self, email=self.email, primary=True, verified=True)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.ADMIN


class StudentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Student

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"student{n}@example.net")
    guardian_name = factory.Faker("name")
    guardian_email = factory.Sequence(lambda n: f"guardian{n}@example.net")


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"provider{n}@example.org")
    default_pay_rate = "35.00"

    @factory.post_generation
    def services(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if not create:
            return
        for name in extracted if extracted is not None else ["Tutoring"]:
            ProviderService.objects.create(
                organization=self.organization,
                provider=self,
                service_type=ServiceType.objects.get(organization=self.organization, name=name),
            )


# --- Ledger ------------------------------------------------------------------------------


class RelationshipFactory(factory.django.DjangoModelFactory):
    """A relationship of a student and a provider of the same organization."""

    class Meta:
        model = "relationships.Relationship"

    organization = factory.SubFactory(OrganizationFactory)
    student = factory.SubFactory(
        StudentFactory, organization=factory.SelfAttribute("..organization")
    )
    provider = factory.SubFactory(
        ProviderFactory, organization=factory.SelfAttribute("..organization")
    )
    service_type = factory.LazyAttribute(
        lambda o: ServiceType.objects.get(organization=o.organization, name="Tutoring")
    )
    unit = "minutes"
    status = "paired"


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "sessions_app.Session"

    relationship = factory.SubFactory(RelationshipFactory)
    organization = factory.SelfAttribute("relationship.organization")
    calendar_provider = factory.SelfAttribute("relationship.provider")
    starts_at = factory.LazyFunction(timezone.now)
    duration_minutes = 60
    status = "completed"


def make_grant(
    *,
    student,
    minutes: int = 600,
    service_types=("Tutoring",),
    unit: str = "minutes",
    expires_at=None,
    valid_from=None,
    actor=None,
    reference: str = "Test grant",
    price=None,
):
    """A grant made the only way grants are made: through the ledger service."""
    from grants import services

    types = list(
        ServiceType.objects.filter(organization=student.organization, name__in=service_types)
    )
    return services.grant_create(
        actor=actor,
        student=student,
        quantity=minutes,
        unit=unit,
        service_types=types,
        expires_at=expires_at,
        valid_from=valid_from,
        reference=reference,
        price=price,
    )
