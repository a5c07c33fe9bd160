"""factory-boy factories. Related objects stay inside one organization."""

import factory
from allauth.account.models import EmailAddress

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
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()
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
                organization=self.organization, provider=self,
                service_type=ServiceType.objects.get(organization=self.organization, name=name),
            )
