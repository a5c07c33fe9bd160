"""The ledger's pages: happy paths, clear errors, double submits, pinned query counts."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from grants import services, views
from grants.models import EntryKind, Grant, GrantEntry, Package, PackageShopMapping
from grants.reconcile import find_differences
from matchpal.models import ServiceType
from tests.factories import RelationshipFactory, StudentFactory, make_grant
from tests.support import Tenant, client_for

pytestmark = pytest.mark.django_db


def hours_url(t: Tenant, student=None) -> str:
    student = student or t.student
    return f"/o/{t.organization.slug}/students/{student.public_id}/hours/"


def token_of(response) -> str:
    return response.context["form"]["token"].value()


def test_admin_adds_custom_hours_once_despite_a_double_click(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    url = hours_url(tenant_a) + "add/"
    tutoring = ServiceType.objects.get(organization=tenant_a.organization, name="Tutoring")
    data = {
        "token": token_of(client.get(url)),
        "amount": "3",
        "unit": "hours",
        "service_types": [tutoring.public_id],
        "reference": "Invoice 17",
    }
    first = client.post(url, data)
    second = client.post(url, data)
    assert first.status_code == second.status_code == 302
    grant = Grant.objects.get(student=tenant_a.student)
    assert (grant.total, grant.unit, grant.reference) == (180, "minutes", "Invoice 17")
    assert list(grant.entries.values_list("kind", "total_delta")) == [(EntryKind.CREDIT, 180)]
    page = client.get(hours_url(tenant_a))
    assert "This was already applied; nothing changed." in page.content.decode()


def test_adding_hours_from_a_package_uses_its_validity(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    package = services.package_save(
        actor=tenant_a.admin,
        organization=tenant_a.organization,
        name="Ten hours",
        quantity=600,
        unit="minutes",
        validity_days=90,
        price="450.00",
        service_types=list(ServiceType.objects.filter(organization=tenant_a.organization)),
    )
    url = hours_url(tenant_a) + "add/"
    response = client.post(
        url,
        {
            "token": token_of(client.get(url)),
            "package": package.public_id,
            "count": "2",
            "reference": "Order 9",
        },
    )
    assert response.status_code == 302
    grant = Grant.objects.get(student=tenant_a.student)
    assert grant.total == 1200
    assert grant.expires_at - grant.valid_from == timedelta(days=90)
    assert set(grant.service_types.values_list("name", flat=True)) == {"Tutoring", "Advising"}


def test_add_hours_form_errors_rerender_and_save_nothing(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    url = hours_url(tenant_a) + "add/"
    response = client.post(url, {"token": token_of(client.get(url)), "amount": "", "unit": "hours"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["amount"] == ["Enter a quantity, or choose a package."]
    assert form.errors["service_types"] == ["Choose the service types these hours cover."]
    assert not Grant.objects.exists()


def test_adjust_down_below_used_and_held_is_refused_with_the_rule(tenant_a: Tenant) -> None:
    grant = make_grant(student=tenant_a.student, minutes=120)
    relationship = RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )
    services.hold(actor=None, relationship=relationship, quantity=90)
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/grants/{grant.public_id}/adjust/"
    response = client.post(
        url,
        {
            "token": token_of(client.get(url)),
            "direction": "down",
            "amount": "1",
            "measure": "hours",
            "reason": "Typo",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This grant has 0 min used and 1 h 30 min reserved, so its total cannot go below "
        "1 h 30 min. Release reserved hours first."
    ]
    grant.refresh_from_db()
    assert grant.total == 120


def test_transfer_refund_extend_and_release_through_the_pages(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    tutoring = make_grant(
        student=tenant_a.student, minutes=600, expires_at=timezone.now() + timedelta(days=30)
    )
    advising = make_grant(student=tenant_a.student, minutes=60, service_types=("Advising",))
    relationship = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    services.hold(actor=None, relationship=relationship, quantity=120)
    client = client_for(tenant_a.admin)

    url = f"/o/{org.slug}/grants/{tutoring.public_id}/transfer/"
    assert (
        client.post(
            url,
            {
                "token": token_of(client.get(url)),
                "amount": "2",
                "measure": "hours",
                "to_grant": advising.public_id,
                "reason": "Switching to advising",
            },
        ).status_code
        == 302
    )
    url = f"/o/{org.slug}/grants/{tutoring.public_id}/refund/"
    assert (
        client.post(
            url,
            {
                "token": token_of(client.get(url)),
                "amount": "30",
                "measure": "minutes",
                "reference": "R-1",
                "reason": "Moved away",
            },
        ).status_code
        == 302
    )
    url = f"/o/{org.slug}/grants/{tutoring.public_id}/extend/"
    new_day = (timezone.now() + timedelta(days=60)).date()
    assert (
        client.post(
            url, {"token": token_of(client.get(url)), "expires_on": new_day, "reason": "Illness"}
        ).status_code
        == 302
    )
    url = f"/o/{org.slug}/holds/{relationship.public_id}/release/"
    assert (
        client.post(
            url,
            {
                "token": token_of(client.get(url)),
                "amount": "45",
                "measure": "minutes",
                "reason": "Fewer sessions",
            },
        ).status_code
        == 302
    )

    tutoring.refresh_from_db()
    advising.refresh_from_db()
    assert (tutoring.total, tutoring.held, tutoring.available) == (450, 75, 375)
    assert timezone.localtime(tutoring.expires_at, org.tz).date() == new_day + timedelta(days=1)
    assert advising.total == 180
    assert find_differences() == []
    page = client.get(hours_url(tenant_a)).content.decode()
    # The wording exactly; the service type is a badge beside it.
    provider = escape(tenant_a.provider.name)
    assert (
        f'<span class="fw-semibold" data-testid="hold">Reserved for {provider}: 1 h 15 min</span>'
        ' <span class="badge text-bg-light">Tutoring</span>'
    ) in page


def test_refund_more_than_available_rerenders_with_the_amount_left(tenant_a: Tenant) -> None:
    grant = make_grant(student=tenant_a.student, minutes=60)
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/grants/{grant.public_id}/refund/"
    response = client.post(
        url,
        {"token": token_of(client.get(url)), "amount": "2", "measure": "hours", "reason": "Refund"},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Only 1 h of this grant are free to book; release reserved hours first to refund more."
    ]


def test_package_create_with_shop_mapping_and_duplicate_key_error(tenant_a: Tenant) -> None:
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/packages/new/"
    tutoring = ServiceType.objects.get(organization=tenant_a.organization, name="Tutoring")
    data = {
        "name": "Ten hours",
        "amount": "10",
        "measure": "hours",
        "service_types": [tutoring.public_id],
        "validity_days": "180",
        "price": "450.00",
        "product_ids": "101, 102",
        "variation_ids": "",
        "skus": "TUT-10",
    }
    assert client.post(url, data).status_code == 302
    package = Package.objects.get(organization=tenant_a.organization)
    assert (package.quantity, package.unit) == (600, "minutes")
    assert sorted(PackageShopMapping.objects.values_list("kind", "value")) == [
        ("product", "101"),
        ("product", "102"),
        ("sku", "TUT-10"),
    ]
    response = client.post(url, {**data, "name": "Other", "product_ids": "102"})
    assert response.status_code == 200
    assert response.context["form"].errors["product_ids"] == [
        "Product id 102 already sells “Ten hours”."
    ]
    response = client.post(url, {**data, "name": "Bad", "product_ids": "abc"})
    assert response.context["form"].errors["product_ids"] == [
        "Shop ids are positive whole numbers; “abc” is not."
    ]


def test_package_deactivate_and_reactivate(tenant_a: Tenant) -> None:
    package = services.package_save(
        actor=tenant_a.admin,
        organization=tenant_a.organization,
        name="P",
        quantity=60,
        unit="minutes",
        validity_days=None,
        price=0,
        service_types=list(ServiceType.objects.filter(organization=tenant_a.organization)),
    )
    client = client_for(tenant_a.admin)
    url = f"/o/{tenant_a.organization.slug}/packages/{package.public_id}/active/"
    client.post(url, {"active": "0", "confirm": "yes"})
    package.refresh_from_db()
    assert package.is_active is False
    client.post(url, {"active": "1"})
    package.refresh_from_db()
    assert package.is_active is True


def test_student_sees_balances_holds_and_running_history(tenant_a: Tenant) -> None:
    make_grant(student=tenant_a.student, minutes=300)
    relationship = RelationshipFactory(
        organization=tenant_a.organization, student=tenant_a.student, provider=tenant_a.provider
    )
    services.hold(actor=None, relationship=relationship, quantity=90)
    client = client_for(tenant_a.student_user)
    for url in (f"/o/{tenant_a.organization.slug}/", f"/o/{tenant_a.organization.slug}/my/hours/"):
        page = client.get(url).content.decode()
        assert '<div class="mp-stat" data-testid="available-tutoring">3 h 30 min</div>' in page
        assert 'Total <span data-testid="total-tutoring">5 h</span>' in page
        assert 'Used <span data-testid="used-tutoring">0 min</span>' in page
        assert 'Reserved <span data-testid="held-tutoring">1 h 30 min</span>' in page
        assert (
            f'data-testid="hold">Reserved for {escape(tenant_a.provider.name)}: 1 h 30 min<' in page
        )
    history = client.get(f"/o/{tenant_a.organization.slug}/my/hours/").context["history"]
    assert [(e.kind, e.running) for e in history] == [("hold", 210), ("credit", 300)]


def test_low_balance_students_are_flagged_on_the_admin_home(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    make_grant(student=tenant_a.student, minutes=60)  # below the 120-minute default
    rich = StudentFactory(organization=org)
    make_grant(student=rich, minutes=600)
    StudentFactory(organization=org)  # no hours at all: not flagged
    home = client_for(tenant_a.admin).get(f"/o/{org.slug}/")
    assert [(s.name, s.free_minutes) for s in home.context["low_balance"]] == [
        (tenant_a.student.name, 60)
    ]


def _fill_history(t: Tenant, rows: int) -> None:
    grant = make_grant(student=t.student, minutes=10_000)
    for n in range(rows):
        services.grant_adjust(actor=t.admin, grant=grant, delta=1, reason=f"r{n}")


@pytest.mark.parametrize("rows", [3, 30])
def test_hours_pages_run_a_fixed_number_of_queries(
    tenant_a: Tenant, rows: int, django_assert_num_queries
) -> None:
    _fill_history(tenant_a, rows)
    admin, student = client_for(tenant_a.admin), client_for(tenant_a.student_user)
    # The same at 3 and 30 ledger entries: balances come from the columns, history pages.
    # The grants and their service types, the holds, the history's count and its page go in
    # one round trip (3, was 6, and 7 before that), on any page of the history.
    with django_assert_num_queries(3):
        assert admin.get(hours_url(tenant_a)).status_code == 200
    with django_assert_num_queries(3):
        assert student.get(f"/o/{tenant_a.organization.slug}/my/hours/").status_code == 200
    if rows > 25:
        with django_assert_num_queries(3):
            assert admin.get(hours_url(tenant_a) + "?page=2").status_code == 200
    with django_assert_num_queries(2):
        assert admin.get(f"/o/{tenant_a.organization.slug}/packages/").status_code == 200
    assert GrantEntry.objects.count() == rows + 1


def test_a_revoked_grant_offers_no_actions(tenant_a: Tenant) -> None:
    """Revoked means refunded in full: no Adjust/Transfer/Refund/Extend buttons, and each action
    page refuses with a message instead of a form, so nothing changes even on a direct POST."""
    client = client_for(tenant_a.admin)
    revoked = make_grant(student=tenant_a.student, minutes=120)
    services.grant_refund(actor=tenant_a.admin, grant=revoked, quantity=120, reason="Cancelled")
    live = make_grant(student=tenant_a.student, minutes=60)
    base = f"/o/{tenant_a.organization.slug}/grants/"

    page = client.get(hours_url(tenant_a)).content.decode()
    assert f"{base}{live.public_id}/adjust/" in page
    for action in ("adjust", "transfer", "refund", "extend"):
        assert f"{base}{revoked.public_id}/{action}/" not in page

    entries = GrantEntry.objects.count()
    for action in ("adjust", "transfer", "refund", "extend"):
        url = f"{base}{revoked.public_id}/{action}/"
        for response in (
            client.get(url, follow=True),
            client.post(url, {"quantity": "1", "delta": "1", "reason": "x"}, follow=True),
        ):
            assert response.redirect_chain[-1][0] == hours_url(tenant_a)
            assert [str(m) for m in response.context["messages"]] == [views.REVOKED_NO_ACTIONS]
    assert GrantEntry.objects.count() == entries
    revoked.refresh_from_db()
    assert revoked.status == "revoked"


def test_releasing_a_hold_in_sessions_asks_for_sessions_without_a_unit(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    grant = make_grant(
        student=tenant_a.student,
        minutes=5,
        unit="sessions",
        valid_from=timezone.now() - timedelta(days=1),
    )
    relationship = RelationshipFactory(
        organization=org,
        student=tenant_a.student,
        provider=tenant_a.provider,
        unit="sessions",
        service_type=ServiceType.objects.get(organization=org, name="Tutoring"),
    )
    services.hold(actor=tenant_a.admin, relationship=relationship, quantity=3)
    client = client_for(tenant_a.admin)
    url = f"/o/{org.slug}/holds/{relationship.public_id}/release/"
    page = client.get(url)
    form = page.context["form"]
    assert form.fields["measure"].widget.is_hidden
    assert form.fields["amount"].label == "Sessions"
    assert "hours" not in form.fields["amount"].help_text
    response = client.post(url, {"token": token_of(page), "amount": "1", "reason": "Fewer"})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert (grant.total, grant.held) == (5, 2)
    assert find_differences() == []
