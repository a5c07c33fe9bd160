from decimal import Decimal
from typing import Any, cast

from django import forms
from django.urls import reverse

from grants.forms import MEASURES, IdempotentForm
from grants.models import Grant, GrantStatus, Unit
from matchpal.fields import PublicIdChoiceField, SingleLineField
from matchpal.models import Organization, ServiceType
from matchpal.quantities import to_quantity
from matchpal.search import SearchChoiceField
from providers.models import Provider, ProviderStatus
from students.models import Student, StudentStatus


class ProposeForm(IdempotentForm):
    student = SearchChoiceField(queryset=Student.objects.none(), noun="student")
    provider = SearchChoiceField(queryset=Provider.objects.none(), noun="provider")
    service_type = PublicIdChoiceField(queryset=ServiceType.objects.none())
    amount = forms.IntegerField(min_value=1, max_value=100_000, label="Amount to allocate")
    measure = forms.ChoiceField(
        choices=[*MEASURES, ("sessions", "sessions")],
        initial="hours",
        label="Unit",
        help_text="Sessions are reserved from the student's grants in sessions only.",
    )
    provider_pay_rate = forms.DecimalField(
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=2,
        required=False,
        help_text="Per hour. Blank: the provider's default pay rate.",
    )
    client_rate = forms.DecimalField(
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=2,
        required=False,
        help_text="Per hour. Blank: the service type's client rate.",
    )
    no_charge = forms.BooleanField(
        required=False,
        label="No charge / unpaid: save a rate of 0.00",
        help_text="Needed when either rate comes to 0.00.",
    )
    field_order = [
        "student",
        "provider",
        "service_type",
        "amount",
        "measure",
        "provider_pay_rate",
        "client_rate",
        "no_charge",
        "token",
    ]

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only active people may be paired; their matches say so too (`?active=1`).
        cast(SearchChoiceField, self.fields["student"]).bind(
            queryset=Student.objects.filter(organization=organization, status=StudentStatus.ACTIVE),
            matches_url=_matches_url("students", organization),
        )
        cast(SearchChoiceField, self.fields["provider"]).bind(
            queryset=Provider.objects.filter(
                organization=organization, status=ProviderStatus.ACTIVE
            ),
            matches_url=_matches_url("providers", organization),
        )
        service_type_field = cast(PublicIdChoiceField, self.fields["service_type"])
        service_type_field.queryset = ServiceType.objects.filter(
            organization=organization, is_active=True
        )

    def _check_unit(self, data: dict[str, object]) -> None:
        student, service_type = data.get("student"), data.get("service_type")
        measure = data.get("measure")
        if not (isinstance(student, Student) and isinstance(service_type, ServiceType) and measure):
            return
        units = set(
            Grant.objects.filter(
                student=student,
                status=GrantStatus.ACTIVE,
                grantservicetype__service_type=service_type,
            ).values_list("unit", flat=True)
        )
        # Units never mix: say which unit the student's grants are in rather than a shortfall.
        if measure == "sessions" and Unit.SESSIONS not in units:
            self.add_error(
                "measure",
                f"{student.name} has no grant in sessions for {service_type.name}; "
                "propose in hours or minutes, or grant sessions first.",
            )
        elif measure != "sessions" and units == {Unit.SESSIONS}:
            self.add_error(
                "measure",
                f"{student.name}'s grants for {service_type.name} are in sessions; "
                "propose in sessions.",
            )

    def unit(self) -> str:
        return to_quantity(self.cleaned_data["amount"], self.cleaned_data["measure"])[1]

    def quantity(self) -> int:
        """Minutes for a relationship counted in time; whole sessions for one in sessions."""
        return to_quantity(self.cleaned_data["amount"], self.cleaned_data["measure"])[0]

    def clean(self) -> dict[str, object]:
        """Blank rates take their defaults (the provider's pay rate, the service type's client
        rate); a rate of 0.00 is kept only when the admin ticks "No charge / unpaid"."""
        data = super().clean() or {}
        self._check_unit(data)
        provider, service_type = data.get("provider"), data.get("service_type")
        if data.get("provider_pay_rate") is None and isinstance(provider, Provider):
            data["provider_pay_rate"] = provider.default_pay_rate
        if data.get("client_rate") is None and isinstance(service_type, ServiceType):
            data["client_rate"] = service_type.client_rate
        if not data.get("no_charge"):
            for name in ("provider_pay_rate", "client_rate"):
                if data.get(name) == Decimal(0) and name not in self.errors:
                    self.add_error(
                        name,
                        "This rate comes to 0.00: enter a rate, or tick "
                        '"No charge / unpaid" to save 0.00.',
                    )
        return data

    def rates(self) -> tuple[Decimal, Decimal] | None:
        """The rates that would be saved, once both are known (shown before saving)."""
        data = getattr(self, "cleaned_data", {})
        pay, client = data.get("provider_pay_rate"), data.get("client_rate")
        if isinstance(pay, Decimal) and isinstance(client, Decimal):
            return pay.quantize(Decimal("0.01")), client.quantize(Decimal("0.01"))
        return None

    def default_rates(self) -> dict[str, dict[str, str]]:
        """Each choice's default rate, keyed by the public id posted (for the page's script that
        shows the rates before saving): every service type, and the provider already chosen;
        a provider chosen in the page carries its rate in its match (`data-rate`)."""
        provider = getattr(self, "cleaned_data", {}).get("provider")
        chosen = (
            {str(provider.public_id): str(provider.default_pay_rate)}
            if isinstance(provider, Provider)
            else {}
        )
        return {
            "provider": chosen,
            "service_type": _defaults(self.fields["service_type"], "client_rate"),
        }


def _matches_url(kind: str, organization: Organization) -> str:
    return reverse(f"relationships:search_{kind}", args=[organization.slug]) + "?active=1"


def _defaults(field: forms.Field, attribute: str) -> dict[str, str]:
    assert isinstance(field, forms.ModelChoiceField)
    assert field.queryset is not None
    key = field.to_field_name or "pk"
    return {str(getattr(o, key)): str(getattr(o, attribute)) for o in field.queryset}


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class RatesForm(forms.Form):
    provider_pay_rate = forms.DecimalField(
        min_value=Decimal(0), max_digits=8, decimal_places=2, help_text="Per hour."
    )
    client_rate = forms.DecimalField(
        min_value=Decimal(0), max_digits=8, decimal_places=2, help_text="Per hour."
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class AllocationForm(forms.Form):
    """The new allocation in the relationship's own unit: hours or minutes for one counted in
    time, whole sessions (no unit to choose) for one counted in sessions."""

    amount = forms.IntegerField(min_value=0, max_value=100_000, label="New allocation")
    measure = forms.ChoiceField(choices=MEASURES, initial="hours", label="Unit")
    reason = SingleLineField(max_length=500, required=False)

    def __init__(self, *args: Any, unit: str = Unit.MINUTES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit = unit
        if unit == Unit.SESSIONS:
            del self.fields["measure"]
            self.fields["amount"].label = "New allocation (sessions)"

    def quantity(self) -> int:
        """Minutes for a relationship counted in time; whole sessions for one in sessions."""
        quantity, _ = to_quantity(
            self.cleaned_data["amount"], self.cleaned_data.get("measure"), unit=self.unit
        )
        return quantity
