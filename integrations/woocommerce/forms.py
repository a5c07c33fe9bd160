from typing import Any, cast

from django import forms
from django.conf import settings
from django.urls import reverse

from grants.models import Package
from integrations.woocommerce.models import Store
from matchpal import outbound
from matchpal.constraints import ReadableModelForm
from matchpal.fields import PublicIdChoiceField, SingleLineField
from matchpal.models import Organization
from matchpal.search import SearchChoiceField
from students.models import Student

STATUS_CHOICES = [("processing", "processing"), ("completed", "completed"), ("on-hold", "on-hold")]


class StoreForm(ReadableModelForm):
    paid_statuses = forms.MultipleChoiceField(
        choices=STATUS_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=["processing", "completed"],
        help_text="Orders in these statuses are paid: their hours are granted.",
    )

    class Meta:
        model = Store
        fields = [
            "name",
            "store_url",
            "paid_statuses",
            "create_unknown_customers",
            "consumer_key",
            "consumer_secret",
            "is_active",
        ]
        widgets = {"consumer_secret": forms.PasswordInput(render_value=True)}
        field_classes = {"name": SingleLineField}
        help_texts = {
            "consumer_key": "Optional: WooCommerce → Settings → Advanced → REST API (read "
            "access). With keys, Matchpal catches up on missed orders and "
            "settles partial refunds line by line.",
        }

    def clean_store_url(self) -> str:
        """Only a shop on a public address: Matchpal fetches this URL's REST API every 15
        minutes, so an internal address would make the server fetch its own network. Checked
        again at every request (client.py), as DNS can change."""
        url: str = self.cleaned_data["store_url"]
        # The typed text first: the URL field drops an empty "#" or "?" before we see it.
        typed = str(self.data.get(self.add_prefix("store_url")) or "")
        if "#" in typed:
            raise forms.ValidationError(outbound.URL_FRAGMENT)
        if "?" in typed:
            raise forms.ValidationError(outbound.URL_QUERY)
        try:
            outbound.check_url_to_save(
                url, allow_private=settings.MATCHPAL_SHOP_ALLOW_PRIVATE_ADDRESSES
            )
        except outbound.AddressRefused as refused:
            raise forms.ValidationError(refused.message) from None
        return url


class ResolveForm(forms.Form):
    note = forms.CharField(max_length=500, label="How was it settled?")


class MapProductForm(forms.Form):
    package = PublicIdChoiceField(queryset=Package.objects.none())

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        package_field = cast(PublicIdChoiceField, self.fields["package"])
        package_field.queryset = Package.objects.filter(organization=organization, is_active=True)


class LinkStudentForm(forms.Form):
    student = SearchChoiceField(queryset=Student.objects.none(), noun="student")

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(SearchChoiceField, self.fields["student"]).bind(
            queryset=Student.objects.filter(organization=organization),
            matches_url=reverse("relationships:search_students", args=[organization.slug]),
        )
