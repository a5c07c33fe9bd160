"""Every date a person types is between 1 Jan 2000 and 31 Dec of ten years ahead (docs/rules.md,
"Errors people can read"): a year 1 or 9999 is a field error in forms and filters and a
DomainError in the services, never a 500 nor a row that breaks the pages afterwards."""

from datetime import date, datetime, timedelta

import django_filters
import pytest
from django import forms
from django.utils import timezone

from grants import services as ledger
from grants.models import Grant
from grants.services import LedgerError
from matchpal.bounds import check_date, out_of_range
from matchpal.errors import DomainError
from matchpal.fields import BoundedDateField, BoundedDateFilter, BoundedDateTimeField
from matchpal.models import ServiceType
from sessions_app import services as sessions
from sessions_app.filters import SessionFilter
from sessions_app.forms import LogSessionForm
from sessions_app.models import Session
from sessions_app.services import SessionRuleError
from tests.factories import make_grant
from tests.matchpal.test_public_ids import project_classes
from tests.support import Tenant, client_for, member, paired, past_grant

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

MESSAGE = f"Enter a date between 1 Jan 2000 and 31 Dec {date.today().year + 10}."


def test_the_message_names_the_whole_range() -> None:
    assert out_of_range() == MESSAGE
    check_date(date(2000, 1, 1))
    check_date(date(date.today().year + 10, 12, 31))
    for outside in (date(1999, 12, 31), date(date.today().year + 11, 1, 1), date(9999, 12, 31)):
        with pytest.raises(DomainError, match=MESSAGE):
            check_date(outside, field="when")


def test_every_date_field_of_every_form_is_bounded() -> None:
    classes = project_classes(forms.BaseForm)
    assert LogSessionForm in classes
    dated = []
    for form_class in classes:
        for name, field in form_class.base_fields.items():
            where = f"{form_class.__module__}.{form_class.__qualname__}.{name}"
            if isinstance(field, forms.SplitDateTimeField):
                raise AssertionError(f"{where}: use a BoundedDateField and a TimeField")
            if isinstance(field, forms.DateTimeField):
                assert isinstance(field, BoundedDateTimeField), f"{where} is not bounded"
                dated.append(where)
            elif isinstance(field, forms.DateField):
                assert isinstance(field, BoundedDateField), f"{where} is not bounded"
                dated.append(where)
    assert "sessions_app.forms.LogSessionForm.date" in dated
    assert "grants.forms.ExtendForm.expires_on" in dated


def test_every_date_filter_is_bounded() -> None:
    classes = project_classes(django_filters.FilterSet)
    assert SessionFilter in classes
    dated = []
    for filterset in classes:
        for name, f in filterset.base_filters.items():
            where = f"{filterset.__module__}.{filterset.__qualname__}.{name}"
            if issubclass(f.field_class, forms.DateField | forms.DateTimeField) or isinstance(
                f, django_filters.DateFromToRangeFilter | django_filters.DateTimeFromToRangeFilter
            ):
                assert isinstance(f, BoundedDateFilter), f"{where} is not bounded"
                assert issubclass(f.field_class, BoundedDateField)
                dated.append(where)
    assert "sessions_app.filters.SessionFilter.date_from" in dated


def test_a_bounded_date_field_shows_its_range_to_the_browser() -> None:
    html = str(forms.Form.__class__("F", (forms.Form,), {"day": BoundedDateField()})()["day"])
    assert 'type="date"' in html
    assert 'min="2000-01-01"' in html
    assert f'max="{date.today().year + 10}-12-31"' in html


def test_adding_hours_that_expire_in_9999_is_a_field_error(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/students/{tenant_a.student.public_id}/hours/add/"
    tutoring = ServiceType.objects.get(organization=tenant_a.organization, name="Tutoring")
    token = client.get(url).context["form"]["token"].value()
    for day in ("9999-12-31", "0001-01-01"):
        response = client.post(
            url,
            {
                "token": token,
                "amount": "3",
                "unit": "hours",
                "service_types": [tutoring.public_id],
                "expires_on": day,
            },
        )
        assert response.status_code == 200
        assert response.context["form"].errors["expires_on"] == [MESSAGE]
        assert "is-invalid" in response.content.decode()
    assert not Grant.objects.exists()


def test_extending_to_9999_is_a_field_error(tenant_a: Tenant) -> None:
    grant = make_grant(student=tenant_a.student, minutes=120)
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/grants/{grant.public_id}/extend/"
    token = client.get(url).context["form"]["token"].value()
    response = client.post(url, {"token": token, "expires_on": "9999-12-31", "reason": "Late"})
    assert response.status_code == 200
    assert response.context["form"].errors["expires_on"] == [MESSAGE]
    grant.refresh_from_db()
    assert grant.expires_at is None or grant.expires_at.year < 9999


def test_the_ledger_refuses_dates_out_of_range(tenant_a: Tenant) -> None:
    tutoring = list(ServiceType.objects.filter(organization=tenant_a.organization))
    far = datetime(9999, 12, 31, tzinfo=timezone.UTC)
    with pytest.raises(LedgerError, match=MESSAGE) as error:
        ledger.grant_create(
            actor=tenant_a.admin,
            student=tenant_a.student,
            quantity=60,
            unit="minutes",
            service_types=tutoring,
            expires_at=far,
        )
    assert error.value.field == "expires_on"
    with pytest.raises(LedgerError, match=MESSAGE):
        ledger.grant_create(
            actor=tenant_a.admin,
            student=tenant_a.student,
            quantity=60,
            unit="minutes",
            service_types=tutoring,
            valid_from=datetime(1, 1, 1, tzinfo=timezone.UTC),
        )
    assert not Grant.objects.exists()
    grant = make_grant(
        student=tenant_a.student, minutes=120, expires_at=timezone.now() + timedelta(days=9)
    )
    with pytest.raises(LedgerError, match=MESSAGE):
        ledger.grant_extend(actor=tenant_a.admin, grant=grant, expires_at=far, reason="Late")


def test_sessions_refuse_dates_out_of_range(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    for starts_at in (
        datetime(1, 1, 1, 10, tzinfo=timezone.UTC),
        datetime(9999, 12, 30, tzinfo=timezone.UTC),
    ):
        for scheduled in (False, True):
            with pytest.raises(SessionRuleError, match=MESSAGE) as error:
                sessions.session_log(
                    membership=member(tenant_a.admin),
                    relationship=rel,
                    starts_at=starts_at,
                    duration=60,
                    scheduled=scheduled,
                )
            assert error.value.field == "date"
    assert not Session.objects.exists()


def test_a_log_form_dated_9999_is_a_field_error(tenant_a: Tenant) -> None:
    past_grant(tenant_a.student, 900)
    rel = paired(tenant_a, quantity=600)
    client = client_for(tenant_a.provider_user)
    url = f"/o/{tenant_a.organization.slug}/relationships/{rel.public_id}/log/"
    response = client.post(
        url, {"date": "9999-12-31", "time": "10:00", "duration": "60", "kind": "tutoring"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["date"] == [MESSAGE]
    assert not Session.objects.exists()


@pytest.mark.parametrize("path", ["sessions/", "relationships/"])
def test_list_filters_out_of_range_are_errors_not_500s(tenant_a: Tenant, path: str) -> None:
    client = client_for(tenant_a.admin)
    base = f"/o/{tenant_a.organization.slug}/{path}"
    field = "date_from" if path == "sessions/" else "created_after"
    response = client.get(base, {field: "9999-12-31"})
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
