"""The warning signs' list pages (`reports.views.warning_list`): each shows the sign's rows of
its own center in its order (sessions newest first, pairings by their last session, oldest
first), a page at a time, read ids first from the signs' summaries
(`matchpal.pagination.paginate_by_ids`)."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, engines
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from matchpal import pagination
from reports import dashboard
from sessions_app.models import PairingActivity, Session, ShortSession
from tests.factories import RelationshipFactory, SessionFactory, StudentFactory
from tests.support import Tenant, client_for

pytestmark = pytest.mark.django_db


def _pairing(  # type: ignore[no-untyped-def]
    tenant: Tenant,
    name: str,
    *days_ago: float,
    minutes: int = 60,
    at: datetime | None = None,
    **kw: object,
):
    now = at or timezone.now()
    relationship = RelationshipFactory(
        organization=tenant.organization,
        student=StudentFactory(organization=tenant.organization, name=name),
        **{"paired_at": now - timedelta(days=90), **kw},
    )
    for days in days_ago:
        SessionFactory(
            relationship=relationship,
            starts_at=now - timedelta(days=days),
            duration_minutes=minutes,
        )
    return relationship


def _cancel(relationship, *days_ago: float) -> None:  # type: ignore[no-untyped-def]
    for days in days_ago:
        SessionFactory(
            relationship=relationship,
            starts_at=timezone.now() - timedelta(days=days),
            status="cancelled",
        )


def _page(tenant: Tenant, sign: str, query: str = ""):  # type: ignore[no-untyped-def]
    url = reverse(f"warning_{sign}", args=[tenant.organization.slug]) + query
    response = client_for(tenant.admin).get(url)
    assert response.status_code == 200
    return response


def _names(response) -> list[str]:  # type: ignore[no-untyped-def]
    """The students of the page's rows, in order."""
    return [row.student for row in response.context["page"].object_list]


def test_each_list_shows_its_rows_in_its_order(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _pairing(tenant_a, "Regular", 35, 28, 21, 14, 7, 1)
    _pairing(tenant_a, "Gap 60", 80, 70, 60)
    _pairing(tenant_a, "Gap 30", 50, 40, 30)
    _pairing(tenant_a, "Irregular 2", 60, 59, 58, 40, 39, 2)
    _pairing(tenant_a, "Irregular 5", 61, 60, 59, 41, 40, 5)
    _pairing(tenant_a, "Idle late", paired_at=timezone.now() - timedelta(days=40))
    _pairing(tenant_a, "Idle early", paired_at=timezone.now() - timedelta(days=80))
    short_old = _pairing(tenant_a, "Short 9", 30, 23, 16)
    SessionFactory(
        relationship=short_old, starts_at=timezone.now() - timedelta(days=9), duration_minutes=10
    )
    short_new = _pairing(tenant_a, "Short 3", 24, 17, 10)
    SessionFactory(
        relationship=short_new, starts_at=timezone.now() - timedelta(days=3), duration_minutes=10
    )
    # Any status of the pairing, as the sign counts: an ended one with its cancellations too.
    _cancel(_pairing(tenant_a, "Cancelling", 25), 1, 2, 3)
    _cancel(_pairing(tenant_a, "Ended cancelling", 40, status="completed"), 4, 5, 6)
    _cancel(_pairing(tenant_a, "Cancelled twice", 10), 1, 2)
    # Another center's rows of every sign.
    _pairing(tenant_b, "B gap", 60)
    _pairing(tenant_b, "B idle")
    _cancel(_pairing(tenant_b, "B cancelling", 20), 1, 2, 3)

    # The ended pairing is not paired: no long gap.
    assert _names(_page(tenant_a, "long_gap")) == ["Gap 60", "Gap 30", "Cancelling"]
    assert _names(_page(tenant_a, "irregular")) == ["Irregular 5", "Irregular 2"]
    assert _names(_page(tenant_a, "idle")) == ["Idle early", "Idle late"]
    assert _names(_page(tenant_a, "short")) == ["Short 3", "Short 9"]
    # Oldest last session first: the ended pairing's (40 days) before the other's (25).
    assert _names(_page(tenant_a, "repeated_cancellations")) == [
        "Ended cancelling",
        "Cancelling",
    ]

    # Each list is its count on the home.
    org = tenant_a.organization
    counts = dashboard.warning_counts(org, dashboard.Thresholds.of(org))
    for sign, n in counts.items():
        assert _page(tenant_a, sign).context["page"].paginator.count == n, sign


def test_a_long_list_pages(tenant_a: Tenant, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MATCHPAL_PAGE_SIZE = 2
    for days in (70, 60, 50, 40, 30):
        _pairing(tenant_a, f"Gap {days}", days)

    first = _page(tenant_a, "long_gap")
    assert _names(first) == ["Gap 70", "Gap 60"]
    assert "Page 1 of 3" in first.content.decode()
    assert _names(_page(tenant_a, "long_gap", "?page=2")) == ["Gap 50", "Gap 40"]
    assert _names(_page(tenant_a, "long_gap", "?page=3")) == ["Gap 30"]
    # Past the end: the last page; not a number (the benchmark's label `?page=last` is only a
    # label: it requests the last page by its number): the first.
    assert _names(_page(tenant_a, "long_gap", "?page=9")) == ["Gap 30"]
    assert _names(_page(tenant_a, "long_gap", "?page=last")) == ["Gap 70", "Gap 60"]


def test_short_sessions_page_newest_first(tenant_a: Tenant, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MATCHPAL_PAGE_SIZE = 2
    pairing = _pairing(tenant_a, "Short", 28, 27, 26)
    for days in (5, 4, 3):
        SessionFactory(
            relationship=pairing,
            starts_at=timezone.now() - timedelta(days=days),
            duration_minutes=10,
        )
    first = _page(tenant_a, "short").context["page"]
    second = _page(tenant_a, "short", "?page=2").context["page"]
    starts = [s.starts_at for s in [*first.object_list, *second.object_list]]
    assert len(starts) == 3
    assert starts == sorted(starts, reverse=True)
    assert first.paginator.count == 3


def test_another_centers_admin_gets_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _pairing(tenant_a, "Gap", 60)
    url = reverse("warning_long_gap", args=[tenant_a.organization.slug])
    assert client_for(tenant_b.admin).get(url).status_code == 404


def _expected(tenant: Tenant, sign: str) -> list[int]:
    """The sign's rows in the order its list has always shown them, worked out here from the
    summaries and the sessions: sessions newest first (then by key, descending); pairings by
    their last session, oldest first and a pairing never met before any (an idle pairing has
    none), then by pairing date, then by key."""
    org = tenant.organization
    limits = dashboard.Thresholds.of(org)
    if sign == "short":
        short = ShortSession.objects.filter(
            organization=org, starts_at__gte=limits.short_since, starts_at__lte=limits.now
        )
        return [s.session_id for s in sorted(short, key=lambda s: (s.starts_at, s.session_id))][
            ::-1
        ]
    activity = PairingActivity.objects.filter(organization=org)
    if sign == "repeated_cancellations":
        cancelled = Counter(
            Session.objects.filter(
                organization=org,
                status="cancelled",
                starts_at__gte=limits.cancellations_since,
                starts_at__lte=limits.now,
            ).values_list("relationship_id", flat=True)
        )
        rows = [a for a in activity if cancelled[a.relationship_id] >= limits.cancellations]
    else:
        paired = [a for a in activity if a.status == "paired"]
        rows = {
            "long_gap": [
                a for a in paired if a.completed > 0 and a.last_session_at < limits.gap_since
            ],
            "irregular": [
                a
                for a in paired
                if a.gap_variation is not None
                and a.gap_variation >= limits.irregular_percent
                and a.last_session_at >= limits.gap_since
            ],
            "idle": [a for a in paired if a.completed == 0 and a.paired_at < limits.gap_since],
        }[sign]
    never = datetime.min.replace(tzinfo=UTC)
    return [
        a.relationship_id
        for a in sorted(
            rows, key=lambda a: (a.last_session_at or never, a.paired_at, a.relationship_id)
        )
    ]


def _keys(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [row.pk for row in response.context["page"].object_list]


def test_every_page_of_every_list_keeps_its_rows_and_order(  # type: ignore[no-untyped-def]
    tenant_a: Tenant, tenant_b: Tenant, settings, monkeypatch
) -> None:
    """Ties in every key of the order (the same last session, the same pairing date), a list
    longer than a page and past a capped count: each page, walked through the view (the
    compiled statements), is the slice of the order worked out in Python, and the same page
    the ORM's `paginate_by_ids` gives."""
    now = timezone.now().replace(microsecond=0)
    paired_at = now - timedelta(days=90)
    for tenant in (tenant_a, tenant_b):
        for i in range(3):
            # The same last session and pairing date: ordered by key.
            _pairing(tenant, f"Gap tie {i}", 80, 70, 60, at=now, paired_at=paired_at)
            _pairing(tenant, f"Gap {i}", 50, at=now, paired_at=paired_at + timedelta(days=i))
            # Irregular, the same sessions: ties again.
            _pairing(tenant, f"Irregular {i}", 60, 59, 58, 40, 39, 2, at=now, paired_at=paired_at)
            _pairing(tenant, f"Idle {i}", at=now, paired_at=paired_at + timedelta(days=i % 2))
            short = _pairing(tenant, f"Short {i}", 30, 23, 16, at=now)
            for days in (9, 3):  # very short sessions at the same moments as the others'
                SessionFactory(
                    relationship=short, starts_at=now - timedelta(days=days), duration_minutes=10
                )
            _cancel(_pairing(tenant, f"Cancelling {i}", 25, at=now, paired_at=paired_at), 1, 2, 3)
            _cancel(_pairing(tenant, f"Never met {i}", at=now, paired_at=paired_at), 4, 5, 6)

    settings.MATCHPAL_PAGE_SIZE = 2
    for cap in (pagination.COUNT_CAP, 3):
        monkeypatch.setattr(pagination, "COUNT_CAP", cap)
        for sign in dashboard.SIGNS:
            expected = _expected(tenant_a, sign)
            assert len(expected) >= 3, sign
            shown: list[int] = []
            for number in range(1, len(expected) // 2 + 2):
                response = _page(tenant_a, sign, f"?page={number}")
                page = response.context["page"]
                if number <= page.paginator.num_pages or page.has_previous():
                    shown += _keys(response)
                org = tenant_a.organization
                listed = dashboard.sign_list(org, sign, dashboard.Thresholds.of(org))
                orm = pagination.paginate_by_ids(
                    response.wsgi_request, ids=listed.ids, rows=listed.rows
                )
                assert _keys(response) == [row.pk for row in orm.object_list], (sign, number)
                assert page.paginator.count == orm.paginator.count == min(len(expected), cap + 1)
                assert page.has_next() == orm.has_next()
            assert shown[: len(expected)] == expected, sign


def test_repeated_cancellations_one_statement_reads_the_compiled_pairs_rows(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Repeated cancellations' page and count in one statement (`_REPEATED_CANCELLATIONS`):
    every column of every slice is what the compiled pair of statements reads, the count too
    (capped), another center's pairings left out; an empty list is a count of 0 and no row."""
    now = timezone.now().replace(microsecond=0)
    paired_at = now - timedelta(days=90)
    org = tenant_a.organization
    limits = dashboard.Thresholds.of(org)
    read = dashboard._repeated_cancellations_read(org, limits)
    assert read(0, 26, 10_001) == (0, [])
    for tenant in (tenant_a, tenant_b):
        for i in range(3):
            _cancel(_pairing(tenant, f"Cancelling {i}", 25, at=now, paired_at=paired_at), 1, 2, 3)
            _cancel(_pairing(tenant, f"Never met {i}", at=now, paired_at=paired_at), 4, 5, 6)
        _cancel(_pairing(tenant, "Twice", 25, at=now, paired_at=paired_at), 1, 2)
    limits = dashboard.Thresholds.of(org)
    read = dashboard._repeated_cancellations_read(org, limits)
    compiled = dashboard._SIGN_LISTS["repeated_cancellations"]
    values = {
        "organization": org.pk,
        "cancellations_since": limits.cancellations_since,
        "now": limits.now,
        "cancellations": limits.cancellations,
    }
    everything = compiled.page.rows(**values, offset=0, limit=100)
    assert [row[0] for row in everything] == _expected(tenant_a, "repeated_cancellations")
    assert len(everything) == 6
    for offset, limit in ((0, 100), (0, 3), (2, 3), (5, 3), (6, 3), (40, 3)):
        count, rows = read(offset, limit, 10_001)
        assert count == 6
        assert rows == compiled.page.rows(**values, offset=offset, limit=limit)
        assert rows == everything[offset : offset + limit]
    assert read(0, 3, 4)[0] == 4


# The loops as they were before the rows were written in Python (`report_tags`).
SHORT_LOOP = """{% load matchpal_tags %}{% row_link 'sessions_app:detail' organization.slug as detail %}
  {% for s in page %}{% with a=s.relationship.activity %}<tr>
    <td class="text-nowrap"><a href="{{ detail|with_id:s.public_id }}">{{ s.starts_at|date:"M j, Y H:i" }}</a></td>
    <td>{{ s.relationship.student.name }}</td><td>{{ s.relationship.provider.name }}</td><td>{{ s.relationship.service_type.name }}</td>
    <td class="text-end">{{ s.duration_minutes|hours }}</td>
    <td class="text-end">{% if a.usual_minutes %}{{ a.usual_minutes|hours }}{% else %}—{% endif %}</td>
  </tr>{% endwith %}
  {% endfor %}"""  # noqa: E501
SHORT_ROWS = """{% load matchpal_tags report_tags %}{% row_link 'sessions_app:detail' organization.slug as detail %}
  {% for s in page %}{% short_session_row s detail %}
  {% endfor %}"""  # noqa: E501
PAIRING_LOOP = """{% load matchpal_tags %}{% row_link 'relationships:detail' organization.slug as detail %}
  {% for r in page %}<tr>
    <td><a href="{{ detail|with_id:r.public_id }}">{{ r.student.name }}</a></td>
    <td>{{ r.provider.name }}</td><td>{{ r.service_type.name }}</td><td>{{ r.get_status_display }}</td>
    <td class="text-nowrap">{{ r.paired_at|date:"M j, Y"|default:"—" }}</td>
    <td class="text-end">{{ r.activity.completed|default:0 }}</td>
    <td class="text-nowrap">{{ r.activity.last_session_at|date:"M j, Y"|default:"never" }}</td>
    <td class="text-end">{% if r.activity.gap_variation is not None %}{{ r.activity.gap_variation }} %{% else %}—{% endif %}</td>
  </tr>
  {% endfor %}"""  # noqa: E501
PAIRING_ROWS = """{% load matchpal_tags report_tags %}{% row_link 'relationships:detail' organization.slug as detail %}
  {% for r in page %}{% sign_pairing_row r detail %}
  {% endfor %}"""  # noqa: E501
# The page's own: every row in one tag, each day and status written once.
PAIRING_PAGE = """{% load matchpal_tags report_tags %}{% row_link 'relationships:detail' organization.slug as detail %}
  {% sign_pairing_rows page detail %}"""  # noqa: E501


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
def test_the_rows_are_the_loops_text(tenant_a: Tenant, zone: str) -> None:
    """Every sign's rows, with names that need escaping, a pairing never met and one never
    paired (no pairing date), in two time zones: the tags write what the loops wrote."""
    now = timezone.now()
    _pairing(tenant_a, 'Gap "A&B" <O\'Neil>', 80, 70, 60)
    _pairing(tenant_a, "Irregular", 60, 59, 58, 40, 39, 2)
    _pairing(tenant_a, "Idle", paired_at=now - timedelta(days=80))
    short = _pairing(tenant_a, "Short <b>", 30, 23, 16)
    SessionFactory(relationship=short, starts_at=now - timedelta(days=3), duration_minutes=10)
    _cancel(_pairing(tenant_a, "Never paired", status="cancelled", paired_at=None), 1, 2, 3)
    org = tenant_a.organization
    limits = dashboard.Thresholds.of(org)
    engine = engines["django"].engine  # type: ignore[attr-defined]
    with timezone.override(zone):
        for sign in dashboard.SIGNS:
            listed = dashboard.sign_list(org, sign, limits)
            models = list(listed.rows.filter(pk__in=listed.ids))
            rows = dashboard.sign_page(RequestFactory().get("/"), org, sign, limits).object_list
            assert [row.pk for row in rows] == [m.pk for m in models] != [], sign
            loop, tags = (
                (SHORT_LOOP, SHORT_ROWS) if sign == "short" else (PAIRING_LOOP, PAIRING_ROWS)
            )
            context = {"organization": org}
            expected = engine.from_string(loop).render(Context({**context, "page": models}))
            assert engine.from_string(tags).render(Context({**context, "page": rows})) == expected
            if sign != "short":
                page = engine.from_string(PAIRING_PAGE).render(Context({**context, "page": rows}))
                assert page == expected, sign


@pytest.mark.parametrize("sign", [s for s in dashboard.SIGNS if s != "short"])
def test_an_empty_pairings_list_says_so(tenant_a: Tenant, sign: str) -> None:
    body = _page(tenant_a, sign).content.decode()
    assert (
        '<tr><td colspan="8" class="text-secondary">No pairings show this sign.</td></tr>' in body
    )
    assert '<td class="text-end">' not in body
