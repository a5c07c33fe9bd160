"""The Payroll report's page and CSV export (docs/reports.md, "Payroll"): the figures of
`reports.payroll` for the range and filters, a provider's own only, without the client amount
unless the center shows it, never to a student, never another center's."""

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client

from tests.reports.test_payroll_figures import History
from tests.support import Tenant, client_for, set_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

JUNE = "range=custom&date_from=2025-06-01&date_to=2025-06-30"


def url(tenant: Tenant, query: str = JUNE, csv_export: bool = False) -> str:
    suffix = "csv/" if csv_export else ""
    return f"/o/{tenant.organization.slug}/reports/payroll/{suffix}?{query}"


@pytest.fixture
def history(tenant_a: Tenant) -> History:
    return History(tenant_a)


def csv_lines(client: Client, path: str) -> list[list[str]]:
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.reader(io.StringIO(body)))


def table(lines: list[list[str]], title: str) -> list[list[str]]:
    """The lines of the CSV's table `title`: its header first, up to the blank line after it."""
    start = lines.index([title]) + 1
    end = lines.index([], start)
    return lines[start:end]


@pytest.mark.sqlite
def test_the_admin_sees_every_providers_figures(
    tenant_a: Tenant, history: History, admin_client_a: Client
) -> None:
    response = admin_client_a.get(url(tenant_a, JUNE + "&period=week"))
    assert response.status_code == 200
    figures = response.context["figures"]
    assert (figures["earnings"], figures["client_total"], figures["minutes_paid"]) == (
        Decimal("250.00"),
        Decimal("342.50"),
        375,
    )
    page = response.content.decode()
    assert 'data-testid="earnings">250.00<' in page
    assert 'data-testid="client-total">342.50<' in page
    names = {t.name for t in response.context["tables"]}
    assert names == {"providers", "periods", "provider_periods"}
    providers = next(t for t in response.context["tables"] if t.name == "providers")
    assert sorted(row["earnings"] for row in providers.shown) == [
        Decimal("90.00"),
        Decimal("160.00"),
    ]


@pytest.mark.sqlite
def test_the_csv_has_the_pages_figures(
    tenant_a: Tenant, history: History, admin_client_a: Client
) -> None:
    lines = csv_lines(admin_client_a, url(tenant_a, JUNE + "&period=week", csv_export=True))
    providers = table(lines, "Per provider")
    header, *rows, total = providers
    assert header[0] == "Provider"
    earnings, client = header.index("Earnings"), header.index("Client amount")
    assert sorted(row[earnings] for row in rows) == ["160.00", "90.00"]
    assert (total[0], total[earnings], total[client]) == ("Total", "250.00", "342.50")
    weeks = table(lines, "Per week")
    # From the week of May 26 (June 1 is a Sunday) to the week of June 30, then the total.
    assert [line[weeks[0].index("Earnings")] for line in weeks[1:]] == [
        "0.00",
        "130.00",
        "120.00",
        "0.00",
        "0.00",
        "0.00",
        "250.00",
    ]


def test_a_provider_sees_their_own_without_the_client_amount(
    tenant_a: Tenant, history: History, provider_client_a: Client
) -> None:
    response = provider_client_a.get(url(tenant_a))
    assert response.status_code == 200
    assert response.context["figures"]["earnings"] == Decimal("160.00")
    assert "client_total" not in response.context["figures"]
    page = response.content.decode()
    assert "Client amount" not in page
    assert history.other_rel.provider.name not in page
    # No provider to choose: the field is not offered.
    assert "provider" not in response.context["form"].fields
    lines = csv_lines(provider_client_a, url(tenant_a, csv_export=True))
    assert not any("Client amount" in cell for line in lines for cell in line)
    assert not any(history.other_rel.provider.name in line for line in lines)
    set_policy(tenant_a.organization, providers_see_client_amount=True)
    shown = provider_client_a.get(url(tenant_a))
    assert shown.context["figures"]["client_total"] == Decimal("207.50")


@pytest.mark.sqlite
def test_pending_sessions_are_listed_when_confirmation_is_required(
    tenant_a: Tenant, history: History, admin_client_a: Client
) -> None:
    set_policy(tenant_a.organization, require_student_confirmation=True)
    response = admin_client_a.get(url(tenant_a))
    pending = next(t for t in response.context["tables"] if t.name == "pending")
    # Nobody confirmed anything: every completed session waits, oldest first.
    assert [(row["minutes"], row["earnings_pending"]) for row in pending.shown] == [
        (60, Decimal("40.00")),
        (45, Decimal("30.00")),
        (30, Decimal("30.00")),
        (120, Decimal("60.00")),
    ]
    assert 'data-testid="pending">160.00<' in response.content.decode()


def test_students_get_no_payroll(tenant_a: Tenant, student_client_a: Client) -> None:
    assert student_client_a.get(url(tenant_a)).status_code == 403
    assert student_client_a.get(url(tenant_a, csv_export=True)).status_code == 403


def test_another_center_sees_none_of_it(
    tenant_a: Tenant, tenant_b: Tenant, history: History, admin_client_b: Client
) -> None:
    assert admin_client_b.get(url(tenant_a)).status_code == 404
    response = admin_client_b.get(url(tenant_b))
    assert response.context["figures"]["sessions"] == 0
    # Naming A's provider in B's filters finds nobody.
    foreign = admin_client_b.get(url(tenant_b, JUNE + f"&provider={tenant_a.provider.public_id}"))
    assert foreign.status_code == 200
    assert "provider" in foreign.context["form"].errors


def test_a_malformed_provider_is_a_form_error(tenant_a: Tenant, admin_client_a: Client) -> None:
    response = admin_client_a.get(url(tenant_a, JUNE + "&provider=not-a-uuid"))
    assert response.status_code == 200
    assert "provider" in response.context["form"].errors


def test_anonymous_visitors_sign_in_first(tenant_a: Tenant) -> None:
    response = client_for(None).get(url(tenant_a))
    assert response.status_code == 302
