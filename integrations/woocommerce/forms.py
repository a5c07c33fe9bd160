from django import forms

from grants.models import Package
from integrations.woocommerce.models import Store
from matchpal.models import Organization
from students.models import Student

STATUS_CHOICES = [("processing", "processing"), ("completed", "completed"), ("on-hold", "on-hold")]


class StoreForm(forms.ModelForm):
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
        help_texts = {
            "consumer_key": "Optional: WooCommerce → Settings → Advanced → REST API (read "
            "access). With keys, Matchpal catches up on missed orders and "
            "settles partial refunds line by line.",
        }


class ResolveForm(forms.Form):
    note = forms.CharField(max_length=500, label="How was it settled?")


class MapProductForm(forms.Form):
    package = forms.ModelChoiceField(queryset=Package.objects.none())

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["package"].queryset = Package.objects.filter(
            organization=organization, is_active=True
        )


class LinkStudentForm(forms.Form):
    student = forms.ModelChoiceField(queryset=Student.objects.none())

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["student"].queryset = Student.objects.filter(organization=organization)
