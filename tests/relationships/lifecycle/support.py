"""Helpers shared by the relationship lifecycle tests."""

from grants.models import EntryKind
from matchpal.models import Organization
from relationships.models import Relationship, RelationshipStatusChange

HOLD, RELEASE, CONSUME = EntryKind.HOLD, EntryKind.RELEASE, EntryKind.CONSUME


def history(relationship: Relationship) -> list[tuple[str, str, object, str]]:
    return [
        (c.from_status, c.to_status, c.actor, c.reason)
        for c in RelationshipStatusChange.objects.filter(relationship=relationship)
    ]


def url(org: Organization, rest: str = "") -> str:
    return f"/o/{org.slug}/relationships/{rest}"
