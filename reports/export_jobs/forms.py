from django import forms
from django.http import QueryDict

from matchpal.fields import BoundedDateField
from matchpal.models import Membership
from reports.export_jobs.models import ExportFormat
from reports.export_jobs.selectors import sources_for

# The form's own fields; every other field a report page posts is one of its filters.
OWN_FIELDS = frozenset({"csrfmiddlewaretoken", "source", "format", "start", "end"})


class ExportStartForm(forms.Form):
    source = forms.ChoiceField(label="Report")
    format = forms.ChoiceField(
        choices=ExportFormat.choices, initial=ExportFormat.XLSX, widget=forms.RadioSelect
    )
    start = BoundedDateField(required=False, label="From")
    end = BoundedDateField(
        required=False, label="To", help_text="Both days included; leave empty for every date."
    )

    def __init__(self, *args: object, membership: Membership, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["source"].choices = [  # type: ignore[attr-defined]
            (source.name, source.label) for source in sources_for(membership)
        ]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        return cleaned


def filters_of(data: QueryDict) -> dict[str, str]:
    """The report's other filters, carried along as they came (the last value of each)."""
    return {key: data.get(key, "") for key in data if key not in OWN_FIELDS}
