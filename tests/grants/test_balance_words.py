"""One vocabulary for balances: Total, Used, Reserved, Free to book, on every page."""

import re
from datetime import timedelta

from django.utils import timezone

from grants import services
from grants.forms import end_of_day
from tests.factories import RelationshipFactory, StudentFactory, make_grant
from tests.support import Tenant, client_for

# What pages said before the words were unified; none of it may come back.
OLD_WORDS = re.compile(
    r"used so far|Available after|available balance| left\b|>\s*(Held|Available|Remaining|"
    r"Allocated)\s*<|\bavailable</|unused hours"
)


def test_the_hours_page_explains_the_words_once_and_shows_each_grants_last_day(
    tenant_a: Tenant,
) -> None:
    org = tenant_a.organization
    last_day = timezone.localdate(timezone=org.tz) + timedelta(days=40)
    make_grant(student=tenant_a.student, minutes=600, expires_at=end_of_day(last_day, org))
    make_grant(student=tenant_a.student, minutes=300)
    relationship = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    services.hold(actor=None, relationship=relationship, quantity=90)

    page = client_for(tenant_a.student_user).get(f"/o/{org.slug}/my/hours/").content.decode()

    assert page.count('data-testid="balance-words"') == 1
    words = re.findall(r'<dt class="col-sm-3">([^<]+)</dt>', page)
    assert words == ["Total", "Used", "Reserved", "Free to book"]
    # Usable through the day chosen (the expiry is the next midnight), soonest first.
    assert re.findall(r'data-testid="grant-expires">([^<]+)<', page) == [
        f"{last_day:%b} {last_day.day}, {last_day.year}",
        "No expiry",
    ]
    assert '<div class="mp-stat" data-testid="available-tutoring">13 h 30 min</div>' in page
    assert 'Total <span data-testid="total-tutoring">15 h</span>' in page
    assert 'Reserved <span data-testid="held-tutoring">1 h 30 min</span>' in page
    assert "<th>Free to book after</th>" not in page  # a right-aligned column header
    assert '<th class="text-end">Free to book after</th>' in page


def test_the_admin_sees_the_same_last_day_the_grant_form_was_given(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    last_day = timezone.localdate(timezone=org.tz) + timedelta(days=10)
    make_grant(student=tenant_a.student, minutes=60, expires_at=end_of_day(last_day, org))

    page = (
        client_for(tenant_a.admin)
        .get(f"/o/{org.slug}/students/{tenant_a.student.public_id}/hours/")
        .content.decode()
    )

    assert f'<td class="text-nowrap">{last_day:%b} {last_day.day}, {last_day.year}</td>' in page


def test_no_page_uses_the_old_balance_words(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    grant = make_grant(student=tenant_a.student, minutes=100)  # under the 2 h threshold
    other = StudentFactory(organization=org)
    make_grant(student=other, minutes=600)
    proposed = RelationshipFactory(
        organization=org, student=other, provider=tenant_a.provider, status="proposed"
    )
    services.hold(actor=None, relationship=proposed, quantity=45)
    paired = RelationshipFactory(
        organization=org, student=tenant_a.student, provider=tenant_a.provider
    )
    services.hold(actor=None, relationship=paired, quantity=30)
    student, admin = client_for(tenant_a.student_user), client_for(tenant_a.admin)
    provider = client_for(tenant_a.provider_user)
    pages = {
        "student home": student.get(f"/o/{org.slug}/"),
        "my hours": student.get(f"/o/{org.slug}/my/hours/"),
        "provider home": provider.get(f"/o/{org.slug}/"),
        "admin home": admin.get(f"/o/{org.slug}/"),
        "student hours": admin.get(f"/o/{org.slug}/students/{tenant_a.student.public_id}/hours/"),
        "adjust": admin.get(f"/o/{org.slug}/grants/{grant.public_id}/adjust/"),
        "relationships": admin.get(f"/o/{org.slug}/relationships/"),
        "relationship": admin.get(f"/o/{org.slug}/relationships/{paired.public_id}/"),
    }

    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.content.decode()
        assert OLD_WORDS.findall(html) == [], name
    assert "1 h 10 min free to book" in pages["admin home"].content.decode()
    provider_home = pages["provider home"].content.decode()
    assert "45 min reserved" in provider_home  # the proposal
    assert "30 min reserved" in provider_home  # the pairing
    assert (
        "Total 1 h 40 min, Used 0 min, Reserved 30 min, <strong>Free to book 1 h 10 min</strong>"
        in pages["adjust"].content.decode()
    )
    for name in ("relationships", "relationship"):
        assert re.search(r">\s*Reserved\s*<", pages[name].content.decode()), name
