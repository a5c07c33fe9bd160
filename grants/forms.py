"""Forms for the ledger's admin actions. Forms that spend or move hours carry an idempotency
token (a hidden field made on GET) so a double click applies once."""

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone

from grants.models import (
    GRANT_MAX_TOTAL,
    SHOP_KEY_MAX_LENGTH,
    VALIDITY_DAYS_MAX,
    Grant,
    GrantStatus,
    Package,
    PackageShopMapping,
    ShopKey,
    Unit,
    grant_too_large,
)
from matchpal.constraints import ReadableModelForm
from matchpal.fields import (
    BoundedDateField,
    PublicIdChoiceField,
    PublicIdMultipleChoiceField,
    SingleLineField,
)
from matchpal.models import Organization, ServiceType
from matchpal.quantities import to_amount, to_quantity

MEASURES = [("hours", "hours"), ("minutes", "minutes")]


class IdempotentForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex)

    def idempotency_key(self, action: str) -> str:
        return f"form:{action}:{self.cleaned_data['token']}"

    def clean_token(self) -> str:
        token = self.cleaned_data["token"]
        try:
            return uuid.UUID(token).hex
        except ValueError:
            raise forms.ValidationError(
                "The form expired; reload the page and try again."
            ) from None


class QuantityMixin(forms.Form):
    """An amount in hours or minutes (minute grants), or in sessions (session grants)."""

    amount = forms.IntegerField(min_value=1, max_value=100_000)
    measure = forms.ChoiceField(choices=MEASURES, initial="hours", required=False, label="Unit")
    grant_unit: str = Unit.MINUTES

    def set_unit(self, unit: str) -> None:
        self.grant_unit = unit
        if unit == Unit.SESSIONS:
            self.fields["measure"].widget = forms.HiddenInput()
            self.fields["amount"].label = "Sessions"

    def quantity(self) -> int:
        quantity, _ = to_quantity(
            self.cleaned_data["amount"],
            self.cleaned_data.get("measure"),
            unit=self.grant_unit,
        )
        return quantity


def end_of_day(day: date, organization: Organization) -> datetime:
    """An expiry date means "usable through that day" in the organization's time zone."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=organization.tz)


class GrantCreateForm(IdempotentForm, QuantityMixin):
    package = PublicIdChoiceField(
        queryset=Package.objects.none(),
        required=False,
        empty_label="Custom quantity",
        help_text="Choose a package, or enter a custom quantity.",
    )
    count = forms.IntegerField(
        min_value=1, max_value=100, initial=1, required=False, label="Number of packages"
    )
    amount = forms.IntegerField(min_value=1, max_value=100_000, required=False)
    unit = forms.ChoiceField(
        choices=[("hours", "hours"), ("minutes", "minutes"), ("sessions", "sessions")],
        initial="hours",
        required=False,
        label="Unit",
    )
    service_types = PublicIdMultipleChoiceField(
        queryset=ServiceType.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    expires_on = BoundedDateField(
        required=False,
        help_text="Blank: the package's validity, or never.",
    )
    reference = SingleLineField(
        max_length=200, required=False, help_text="Order number, invoice or note."
    )
    price = forms.DecimalField(
        min_value=Decimal(0),
        max_value=Decimal("9999999999.99"),
        max_digits=12,
        decimal_places=2,
        required=False,
        label="Price paid",
        help_text=(
            "What the student paid, for the Financial report. Blank: the package's price × the "
            "number of packages, or no price for a custom quantity."
        ),
    )

    field_order = [
        "package",
        "count",
        "amount",
        "unit",
        "service_types",
        "expires_on",
        "reference",
        "price",
        "token",
    ]

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["measure"]
        self.organization = organization
        package_field = cast(PublicIdChoiceField, self.fields["package"])
        package_field.queryset = Package.objects.filter(organization=organization, is_active=True)
        service_types_field = cast(PublicIdMultipleChoiceField, self.fields["service_types"])
        service_types_field.queryset = ServiceType.objects.filter(
            organization=organization, is_active=True
        )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("package") is None:
            if not data.get("amount") and "amount" not in self.errors:
                self.add_error("amount", "Enter a quantity, or choose a package.")
            if not data.get("service_types"):
                self.add_error("service_types", "Choose the service types these hours cover.")
            if data.get("amount"):
                quantity, unit = self.custom_quantity()
                if quantity > GRANT_MAX_TOTAL[unit]:
                    self.add_error("amount", grant_too_large(unit))
        else:
            package = data["package"]
            if package.quantity * (data.get("count") or 1) > GRANT_MAX_TOTAL[package.unit]:
                self.add_error("count", grant_too_large(package.unit))
        expires_on = data.get("expires_on")
        if expires_on and end_of_day(expires_on, self.organization) <= timezone.now():
            self.add_error("expires_on", "The expiry must be in the future.")
        return data

    def custom_quantity(self) -> tuple[int, str]:
        return to_quantity(self.cleaned_data["amount"], self.cleaned_data.get("unit"))

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return end_of_day(day, self.organization) if day else None


class AdjustForm(IdempotentForm, QuantityMixin):
    direction = forms.ChoiceField(
        choices=[("up", "Add"), ("down", "Remove")], widget=forms.RadioSelect, initial="up"
    )
    reason = SingleLineField(max_length=500)
    field_order = ["direction", "amount", "measure", "reason", "token"]

    def delta(self) -> int:
        sign = 1 if self.cleaned_data["direction"] == "up" else -1
        return sign * self.quantity()


class GrantChoiceField(PublicIdChoiceField):
    def label_from_instance(self, obj: Grant) -> str:
        return (
            f"{', '.join(st.name for st in obj.service_types.all())} — "
            f"{obj.reference or obj.get_source_display()}"
        )


class TransferForm(IdempotentForm, QuantityMixin):
    to_grant = GrantChoiceField(
        queryset=Grant.objects.none(),
        required=False,
        empty_label="A new grant for the service types below",
        label="Move to",
    )
    to_service_types = PublicIdMultipleChoiceField(
        queryset=ServiceType.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Service types of the new grant",
    )
    reason = SingleLineField(max_length=500)
    field_order = ["amount", "measure", "to_grant", "to_service_types", "reason", "token"]

    def __init__(self, *args: Any, grant: Grant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.set_unit(grant.unit)
        to_grant_field = cast(GrantChoiceField, self.fields["to_grant"])
        to_grant_field.queryset = (
            Grant.objects.filter(
                organization_id=grant.organization_id,
                student_id=grant.student_id,
                unit=grant.unit,
                status=GrantStatus.ACTIVE,
            )
            .exclude(pk=grant.pk)
            .prefetch_related("service_types")
        )
        to_service_types_field = cast(PublicIdMultipleChoiceField, self.fields["to_service_types"])
        to_service_types_field.queryset = ServiceType.objects.filter(
            organization_id=grant.organization_id, is_active=True
        )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("to_grant") is None and not data.get("to_service_types"):
            self.add_error(
                "to_service_types",
                "Choose a grant to move the hours to, or the service types of a new one.",
            )
        return data


class RefundForm(IdempotentForm, QuantityMixin):
    reference = SingleLineField(
        max_length=200, required=False, help_text="Refund number or note from the payment system."
    )
    reason = SingleLineField(max_length=500)
    field_order = ["amount", "measure", "reference", "reason", "token"]


class ExtendForm(IdempotentForm):
    expires_on = BoundedDateField(required=False, label="Usable through")
    no_expiry = forms.BooleanField(required=False, label="Never expires")
    reason = SingleLineField(max_length=500)

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if (
            not data.get("no_expiry")
            and not data.get("expires_on")
            and "expires_on" not in self.errors
        ):
            self.add_error("expires_on", "Choose the new last day, or tick “Never expires”.")
        return data

    def expires_at(self) -> datetime | None:
        if self.cleaned_data.get("no_expiry"):
            return None
        return end_of_day(self.cleaned_data["expires_on"], self.organization)


class ReleaseForm(IdempotentForm):
    amount = forms.IntegerField(
        min_value=1,
        max_value=100_000,
        required=False,
        help_text="Blank: release all the reserved hours.",
    )
    measure = forms.ChoiceField(choices=MEASURES, initial="hours", required=False, label="Unit")
    reason = SingleLineField(max_length=500)

    def __init__(self, *args: Any, unit: str = Unit.MINUTES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if unit == Unit.SESSIONS:
            # A hold in sessions is released in whole sessions: there is no unit to choose.
            self.fields["measure"].widget = forms.HiddenInput()
            self.fields["amount"].label = "Sessions"
            self.fields["amount"].help_text = "Blank: release all the reserved sessions."

    def quantity(self, unit: str) -> int | None:
        amount: int | None = self.cleaned_data.get("amount")
        if amount is None:
            return None
        quantity, _ = to_quantity(amount, self.cleaned_data.get("measure"), unit=unit)
        return quantity


def _split_keys(raw: str) -> list[str]:
    keys = sorted({part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()})
    long = [key for key in keys if len(key) > SHOP_KEY_MAX_LENGTH]
    if long:
        raise forms.ValidationError(
            f"A shop id or SKU has at most {SHOP_KEY_MAX_LENGTH} characters; "
            f"“{long[0][:20]}…” has {len(long[0])}."
        )
    return keys


class PackageForm(ReadableModelForm):
    amount = forms.IntegerField(min_value=1, max_value=100_000, label="Quantity")
    measure = forms.ChoiceField(
        choices=[("hours", "hours"), ("minutes", "minutes"), ("sessions", "sessions")], label="Unit"
    )
    service_types = PublicIdMultipleChoiceField(
        queryset=ServiceType.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    product_ids = forms.CharField(
        required=False,
        label="Shop product ids",
        help_text="Comma-separated WooCommerce product ids.",
    )
    variation_ids = forms.CharField(required=False, label="Shop variation ids")
    skus = forms.CharField(required=False, label="Shop SKUs")

    class Meta:
        model = Package
        fields = ["name", "service_types", "validity_days", "price"]
        field_classes = {"name": SingleLineField}

    field_order = [
        "name",
        "amount",
        "measure",
        "service_types",
        "validity_days",
        "price",
        "product_ids",
        "variation_ids",
        "skus",
    ]

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        validity = cast(forms.IntegerField, self.fields["validity_days"])
        validity.min_value, validity.max_value = 1, VALIDITY_DAYS_MAX
        validity.validators += [MinValueValidator(1), MaxValueValidator(VALIDITY_DAYS_MAX)]
        validity.widget.attrs.update(min=1, max=VALIDITY_DAYS_MAX)
        service_types_field = cast(PublicIdMultipleChoiceField, self.fields["service_types"])
        service_types_field.queryset = ServiceType.objects.filter(
            organization=organization, is_active=True
        )
        package = self.instance
        if package.pk:
            amount, measure = to_amount(package.quantity, package.unit)
            self.initial.update(amount=amount, measure=measure)
            keys: dict[str, list[str]] = {k: [] for k in ShopKey.values}
            for mapping in package.shop_mappings.all():
                keys[mapping.kind].append(mapping.value)
            self.initial.update(
                product_ids=", ".join(keys[ShopKey.PRODUCT]),
                variation_ids=", ".join(keys[ShopKey.VARIATION]),
                skus=", ".join(keys[ShopKey.SKU]),
            )

    def _clean_ids(self, name: str) -> list[str]:
        values = _split_keys(self.cleaned_data.get(name, ""))
        bad = [v for v in values if not v.isdigit() or v == "0"]
        if bad:
            raise forms.ValidationError(f"Shop ids are positive whole numbers; “{bad[0]}” is not.")
        return values

    def clean_product_ids(self) -> list[str]:
        return self._clean_ids("product_ids")

    def clean_variation_ids(self) -> list[str]:
        return self._clean_ids("variation_ids")

    def clean_skus(self) -> list[str]:
        return _split_keys(self.cleaned_data.get("skus", ""))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("amount") and data.get("measure"):
            quantity, unit = self.quantity_and_unit()
            if quantity > GRANT_MAX_TOTAL[unit]:
                self.add_error("amount", grant_too_large(unit))
        others = PackageShopMapping.objects.filter(organization=self.organization).select_related(
            "package"
        )
        if self.instance.pk:
            others = others.exclude(package=self.instance)
        taken = {(m.kind, m.value): m.package.name for m in others}
        for field, kind in (
            ("product_ids", ShopKey.PRODUCT),
            ("variation_ids", ShopKey.VARIATION),
            ("skus", ShopKey.SKU),
        ):
            for value in data.get(field) or []:
                if (kind, value) in taken:
                    self.add_error(
                        field,
                        f"{ShopKey(kind).label} {value} already sells “{taken[(kind, value)]}”.",
                    )
        return data

    def quantity_and_unit(self) -> tuple[int, str]:
        return to_quantity(self.cleaned_data["amount"], self.cleaned_data["measure"])

    def shop_keys(self) -> list[tuple[str, str]]:
        return (
            [(ShopKey.PRODUCT, v) for v in self.cleaned_data["product_ids"]]
            + [(ShopKey.VARIATION, v) for v in self.cleaned_data["variation_ids"]]
            + [(ShopKey.SKU, v) for v in self.cleaned_data["skus"]]
        )
