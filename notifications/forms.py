from django import forms

from notifications.kinds import Kind


class EmailChoicesForm(forms.Form):
    """A checkbox per kind of email: "send me this by email" (the inbox always gets it)."""

    def __init__(self, *args: object, kinds: list[Kind], initial_choices: dict[str, bool]) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        for kind in kinds:
            self.fields[kind.key] = forms.BooleanField(
                label=kind.label, required=False, initial=initial_choices[kind.key]
            )

    def choices(self) -> dict[str, bool]:
        return {key: bool(value) for key, value in self.cleaned_data.items()}
