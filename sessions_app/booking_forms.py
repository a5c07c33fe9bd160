"""The booking pages' forms (docs/scheduling.md, "Booking")."""

from typing import Any

from django import forms

from matchpal.fields import BoundedDateField, SingleLineField
from providers.models import MeetingMode
from sessions_app.booking import MAX_SERIES, Series
from sessions_app.slots import Offer


class Repeat:
    ONCE = "once"
    UNTIL = "until"
    TIMES = "times"
    CHOICES = (
        (ONCE, "Once"),
        (UNTIL, "Every week until a date"),
        (TIMES, "Every week, a number of times"),
    )


class BookingForm(forms.Form):
    """The provider (one of those free at the chosen time), the topic and how it repeats."""

    provider = forms.ChoiceField(widget=forms.RadioSelect, label="Provider")
    mode = forms.ChoiceField(
        choices=[("", "As their hours say"), *MeetingMode.choices],
        required=False,
        label="How you meet",
    )
    topic = SingleLineField(max_length=200, required=False, help_text="What you want to work on.")
    repeat = forms.ChoiceField(choices=Repeat.CHOICES, initial=Repeat.ONCE)
    until = BoundedDateField(
        required=False,
        label="Until (weekly)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    count = forms.IntegerField(
        required=False, min_value=2, max_value=MAX_SERIES, label="Number of sessions (weekly)"
    )

    def __init__(self, *args: Any, offers: list[Offer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offers = {str(offer.relationship.public_id): offer for offer in offers}
        provider = self.fields["provider"]
        assert isinstance(provider, forms.ChoiceField)
        provider.choices = [(key, offer.provider.name) for key, offer in self.offers.items()]
        if len(self.offers) == 1:
            provider.initial = next(iter(self.offers))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        repeat = cleaned.get("repeat")
        if repeat == Repeat.UNTIL and not cleaned.get("until"):
            self.add_error("until", "Give the date of the last session.")
        if repeat == Repeat.TIMES and not cleaned.get("count"):
            self.add_error("count", "Give the number of sessions.")
        mode = cleaned.get("mode")
        if mode and cleaned.get("provider") and self.offer.opening_for(mode) is None:
            self.add_error(
                "mode",
                f"{self.offer.provider.name} meets "
                f"{' or '.join(MeetingMode(m).label.lower() for m in self.offer.modes)} then.",
            )
        return cleaned

    @property
    def choosing_mode(self) -> bool:
        """Whether any provider free then meets in more than one way (the field is shown)."""
        return any(len(offer.modes) > 1 for offer in self.offers.values())

    @property
    def offer(self) -> Offer:
        return self.offers[self.cleaned_data["provider"]]

    @property
    def series(self) -> Series | None:
        repeat = self.cleaned_data["repeat"]
        if repeat == Repeat.UNTIL:
            return Series(until=self.cleaned_data["until"])
        if repeat == Repeat.TIMES:
            return Series(count=self.cleaned_data["count"])
        return None


class DeclineForm(forms.Form):
    message = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The student reads it: why, or another time that suits you.",
    )
