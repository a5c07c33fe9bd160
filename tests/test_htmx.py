"""htmx updates the admin lists and the provider home in place; the same URLs without htmx
answer with the whole page as before."""

import pytest
from django.test import Client

from relationships.models import Relationship, RelationshipStatus
from tests.support import Tenant, past_grant, propose

HTMX = {"HX-Request": "true"}
HTMX_TARGET_RESULTS = {**HTMX, "HX-Target": "results"}


def is_whole_page(html: str) -> bool:
    return html.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.parametrize(
    "path", ["students/", "providers/", "relationships/", "sessions/"], ids=str.rstrip
)
def test_a_list_filtered_or_paged_by_htmx_gets_only_its_results(
    tenant_a: Tenant, admin_client_a: Client, path: str
) -> None:
    url = f"/o/{tenant_a.organization.slug}/{path}?page=1"
    whole = admin_client_a.get(url).content.decode()
    assert is_whole_page(whole)
    assert '<div id="results" hx-target="#results" hx-swap="outerHTML">' in whole

    response = admin_client_a.get(url, headers=HTMX_TARGET_RESULTS)
    assert response.status_code == 200
    html = response.content.decode()
    assert not is_whole_page(html)
    assert html.startswith('<div id="results"')
    assert 'role="search"' in html  # the filter, with any errors, comes along
    assert '<div id="messages" hx-swap-oob="true">' in html
    assert "HX-Request" in response["Vary"]


def test_restoring_history_and_other_targets_get_the_whole_page(
    tenant_a: Tenant, admin_client_a: Client
) -> None:
    url = f"/o/{tenant_a.organization.slug}/students/"
    restore = {**HTMX_TARGET_RESULTS, "HX-History-Restore-Request": "true"}
    assert is_whole_page(admin_client_a.get(url, headers=restore).content.decode())
    other = {**HTMX, "HX-Target": "elsewhere"}
    assert is_whole_page(admin_client_a.get(url, headers=other).content.decode())


def test_the_provider_accepts_from_home_by_htmx_and_sees_the_home_lists_again(
    tenant_a: Tenant, provider_client_a: Client
) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    home = provider_client_a.get(f"/o/{org.slug}/").content.decode()
    accept = f"/o/{org.slug}/relationships/{rel.public_id}/accept/"
    assert f'hx-post="{accept}" hx-target="#work"' in home
    assert f'action="{accept}"' in home  # without htmx the form posts as before

    work = {**HTMX, "HX-Target": "work"}
    response = provider_client_a.post(accept, headers=work)
    assert response.status_code == 302
    assert response["Location"] == f"/o/{org.slug}/"
    rel.refresh_from_db()
    assert rel.status == RelationshipStatus.PAIRED

    # htmx follows the redirect with the same headers: the home's lists, and the message.
    html = provider_client_a.get(response["Location"], headers=work).content.decode()
    assert html.startswith('<div id="work">')
    assert "Proposals awaiting your answer" not in html
    assert tenant_a.student.name in html  # now under "My students"
    assert "You accepted the proposal." in html

    # Refused (already accepted): the error comes back the same way.
    response = provider_client_a.post(accept, headers=work, follow=True)
    html = response.content.decode()
    assert html.startswith('<div id="work">')
    assert "This relationship is paired; it cannot become paired." in html
    assert Relationship.objects.get(pk=rel.pk).status == RelationshipStatus.PAIRED


def test_the_provider_declines_from_home_by_htmx_and_the_proposal_leaves_the_list(
    tenant_a: Tenant, provider_client_a: Client
) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    home = provider_client_a.get(f"/o/{org.slug}/").content.decode()
    decline = f"/o/{org.slug}/relationships/{rel.public_id}/decline/"
    assert f'hx-post="{decline}" hx-target="#work"' in home
    assert f'href="{decline}"' in home  # without htmx: the decline page, with a reason

    work = {**HTMX, "HX-Target": "work"}
    response = provider_client_a.post(decline, headers=work)
    assert response.status_code == 302
    assert response["Location"] == f"/o/{org.slug}/"
    rel.refresh_from_db()
    assert rel.status == RelationshipStatus.DECLINED
    assert rel.allocations.get().held == 0  # the reserved hours went back

    html = provider_client_a.get(response["Location"], headers=work).content.decode()
    assert html.startswith('<div id="work">')
    assert "Proposals awaiting your answer" not in html
    assert "The proposal was declined." in html

    # Refused (already declined): the error comes back in place too, not the decline page.
    html = provider_client_a.post(decline, headers=work, follow=True).content.decode()
    assert html.startswith('<div id="work">')
    assert "This relationship is declined" in html


def test_the_decline_page_without_htmx_still_takes_a_reason(
    tenant_a: Tenant, provider_client_a: Client
) -> None:
    org = tenant_a.organization
    past_grant(tenant_a.student, 600)
    rel = propose(tenant_a, quantity=60)
    decline = f"/o/{org.slug}/relationships/{rel.public_id}/decline/"
    assert 'name="reason"' in provider_client_a.get(decline).content.decode()

    response = provider_client_a.post(decline, {"reason": "Fully booked this term"})
    assert response.status_code == 302
    assert response["Location"] == rel.get_absolute_url()
    rel.refresh_from_db()
    assert rel.status == RelationshipStatus.DECLINED
    assert rel.status_changes.last().reason == "Fully booked this term"
