"""Names and short reasons are one line: a line break or control character is a field error,
never a name that breaks an email subject or a one-line display (docs/rules.md, "Errors people
can read"). The walk covers forms added later."""

import pytest
from django import forms

from matchpal.fields import ONE_LINE, SingleLineField
from students.forms import StudentForm
from students.models import Student
from tests.matchpal.test_public_ids import project_classes
from tests.support import Tenant, client_for

pytestmark = pytest.mark.sqlite


def one_line_text(name: str, field: forms.Field) -> bool:
    """A name, or a reason or reference typed into a one-line input."""
    if name == "name" or name.endswith("_name"):
        return True
    return name in {"reason", "reference"} and not isinstance(field.widget, forms.Textarea)


def test_every_name_and_one_line_reason_is_a_single_line_field() -> None:
    classes = project_classes(forms.BaseForm)
    assert StudentForm in classes
    checked = []
    for form_class in classes:
        for name, field in form_class.base_fields.items():
            if isinstance(field, forms.CharField) and one_line_text(name, field):
                where = f"{form_class.__module__}.{form_class.__qualname__}.{name}"
                assert isinstance(field, SingleLineField), f"{where} accepts line breaks"
                checked.append(where)
    assert "students.forms.StudentForm.guardian_name" in checked
    assert "grants.forms.AdjustForm.reason" in checked
    assert "matchpal.forms.ServiceTypeForm.name" in checked


@pytest.mark.parametrize("text", ["Ann\nLee", "Ann\r\nLee", "Ann\tLee", "Ann\u2028Lee", "A\x1bB"])
def test_line_breaks_and_control_characters_are_refused(text: str) -> None:
    with pytest.raises(forms.ValidationError) as error:
        SingleLineField().clean(text)
    assert error.value.messages == [ONE_LINE]


def test_surrounding_whitespace_and_newlines_are_stripped() -> None:
    assert SingleLineField().clean("  Ann Lee\n") == "Ann Lee"
    assert SingleLineField().clean("Zoë Ñúñez 李") == "Zoë Ñúñez 李"


@pytest.mark.django_db
def test_a_student_named_across_two_lines_is_a_field_error(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/students/new/"
    response = client.post(url, {"name": "Iris\nBcc: all@example.net", "email": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [ONE_LINE]
    assert "is-invalid" in response.content.decode()
    assert not Student.objects.filter(name__startswith="Iris").exists()
