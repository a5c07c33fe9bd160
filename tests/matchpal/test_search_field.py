"""The search field that replaces a select of every student or provider (matchpal/search.py):
what it posts, how typed text is resolved without JavaScript, and what it shows again."""

import pytest
from django import forms

from matchpal.search import MATCHES, SearchChoiceField
from students.models import Student
from tests.factories import StudentFactory
from tests.support import Tenant

pytestmark = pytest.mark.django_db


class PickForm(forms.Form):
    student = SearchChoiceField(queryset=Student.objects.none(), noun="student", required=False)

    def __init__(self, *args: object, tenant: Tenant, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["student"]
        assert isinstance(field, SearchChoiceField)
        # The persona's random name stays out of the matches these tests count.
        field.bind(
            queryset=Student.objects.filter(organization=tenant.organization).exclude(
                pk=tenant.student.pk
            ),
            matches_url="/matches/",
        )


def pick(tenant: Tenant, **data: str) -> PickForm:
    form = PickForm(data, tenant=tenant)
    form.is_valid()
    return form


def student(tenant: Tenant, name: str, email: str = "") -> Student:
    return StudentFactory(organization=tenant.organization, name=name, email=email)


def test_a_chosen_public_id_is_the_student(tenant_a: Tenant) -> None:
    ann = student(tenant_a, "Ann Lee")
    form = pick(tenant_a, student=str(ann.public_id), student_search="Ann Lee")
    assert form.cleaned_data["student"] == ann


def test_a_link_with_the_id_alone_is_the_student(tenant_a: Tenant) -> None:
    ann = student(tenant_a, "Ann Lee")
    assert pick(tenant_a, student=str(ann.public_id)).cleaned_data["student"] == ann


def test_another_organizations_id_is_not_a_valid_choice(tenant_a: Tenant, tenant_b: Tenant) -> None:
    form = pick(tenant_a, student=str(tenant_b.student.public_id))
    assert form.errors["student"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]


def test_typed_text_that_names_one_student_is_that_student(tenant_a: Tenant) -> None:
    ann = student(tenant_a, "Ann Lee", "ann@example.net")
    student(tenant_a, "Bob Ray")
    assert pick(tenant_a, student_search="ann").cleaned_data["student"] == ann
    assert pick(tenant_a, student_search="LEE").cleaned_data["student"] == ann  # a later word
    assert pick(tenant_a, student_search="ANN@example.NET").cleaned_data["student"] == ann
    assert pick(tenant_a, student_search=str(ann.public_id)).cleaned_data["student"] == ann


def test_a_whole_name_wins_over_longer_names_that_start_with_it(tenant_a: Tenant) -> None:
    ann = student(tenant_a, "Ann Lee")
    student(tenant_a, "Ann Leeds")
    assert pick(tenant_a, student_search="ann lee").cleaned_data["student"] == ann


def test_text_typed_over_a_chosen_student_is_searched_again(tenant_a: Tenant) -> None:
    ann, bob = student(tenant_a, "Ann Lee"), student(tenant_a, "Bob Ray")
    form = pick(tenant_a, student=str(ann.public_id), student_search="Bob")
    assert form.cleaned_data["student"] == bob


def test_a_cleared_box_chooses_nobody(tenant_a: Tenant) -> None:
    ann = student(tenant_a, "Ann Lee")
    form = pick(tenant_a, student=str(ann.public_id), student_search="  ")
    assert form.cleaned_data["student"] is None


def test_ambiguous_text_lists_the_matches(tenant_a: Tenant) -> None:
    student(tenant_a, "Anne Lee", "anne@example.net")
    student(tenant_a, "Anna Berg")
    form = pick(tenant_a, student_search="ann")
    assert form.errors["student"] == [
        "Several students match “ann”: Anna Berg, Anne Lee (anne@example.net). "
        "Type more of the name, or the email."
    ]


def test_namesakes_are_told_apart_by_email(tenant_a: Tenant) -> None:
    first = student(tenant_a, "Sam Cole", "sam1@example.net")
    student(tenant_a, "Sam Cole", "sam2@example.net")
    form = pick(tenant_a, student_search="Sam Cole")
    assert "Sam Cole (sam1@example.net), Sam Cole (sam2@example.net)" in form.errors["student"][0]
    assert pick(tenant_a, student_search="sam1@example.net").cleaned_data["student"] == first


def test_more_matches_than_shown_say_so(tenant_a: Tenant) -> None:
    for n in range(MATCHES + 2):
        student(tenant_a, f"Zed {n:02}")
    (error,) = pick(tenant_a, student_search="zed").errors["student"]
    assert error.startswith(f"More than {MATCHES} students match “zed”, for example Zed 00, ")
    assert "Zed 09" in error
    assert "Zed 10" not in error


@pytest.mark.parametrize("text", ["nobody", "a\x00b", "x" * 10_000, "line\nbreak"])
def test_text_that_names_nobody_is_a_field_error(tenant_a: Tenant, text: str) -> None:
    student(tenant_a, "Ann Lee")
    (error,) = pick(tenant_a, student_search=text).errors["student"]
    assert error.startswith("No student matches “")


def test_the_field_shows_the_chosen_name_and_keeps_its_id(tenant_a: Tenant) -> None:
    ann = student(tenant_a, "Ann Lee")
    html = str(pick(tenant_a, student_search="ann")["student"])
    assert f'<input type="hidden" name="student" value="{ann.public_id}" data-search-value>' in html
    assert 'name="student_search" value="Ann Lee"' in html
    assert 'hx-get="/matches/"' in html
    assert "<option" not in html


def test_an_unresolved_text_is_shown_again_without_an_id(tenant_a: Tenant) -> None:
    html = str(pick(tenant_a, student_search="nobody")["student"])
    assert '<input type="hidden" name="student" value="" data-search-value>' in html
    assert 'name="student_search" value="nobody"' in html
