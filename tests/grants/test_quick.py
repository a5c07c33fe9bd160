import pytest

from grants import services
from grants.reconcile import find_differences
from tests.factories import RelationshipFactory, SessionFactory, make_grant


@pytest.mark.django_db
def test_hold_consume_restore_round_trip() -> None:
    rel = RelationshipFactory()
    g1 = make_grant(student=rel.student, minutes=120)
    services.hold(actor=None, relationship=rel, quantity=90)
    session = SessionFactory(relationship=rel, duration_minutes=60)
    used = services.consume(
        actor=None, relationship=rel, session=session, quantity=60, at=session.starts_at
    )
    assert [(c.grant_id, c.quantity) for c in used] == [(g1.pk, 60)]
    g1.refresh_from_db()
    assert (g1.total, g1.used, g1.held, g1.available) == (120, 60, 30, 30)
    services.restore(actor=None, relationship=rel, session=session, quantity=15)
    g1.refresh_from_db()
    assert (g1.used, g1.held) == (45, 45)
    assert find_differences() == []
