"""The plan: every row of every center, built in memory in the order the services would have
written them, with ids counted from each table's `next_id`.

`Plan.add_center` runs a center's steps (people, packages, relationships with their sessions
and ledger, retired students, standalone grants); `Plan.finish` then writes the rows whose ids
or values are known only at the end: grants and allocations with their final balances, sessions
numbered by when they were written, and the ledger entries in time order."""

from __future__ import annotations

import operator
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import models

from grants.models import (
    Allocation,
    Grant,
    GrantEntry,
    GrantServiceType,
    Package,
    PackageServiceType,
)
from matchpal.models import Organization, Role
from sessions_app.models import Session
from students.models import Student

from . import grants, packages, people
from .centers import HORIZON_DAYS, Center, admin_email
from .ledger import Ledger
from .relationships import relationships
from .tables import Table, tables


class Plan:
    """Every row of every center, in memory, with ids counted from each table's `next_id`."""

    def __init__(self, *, seed: int, now: datetime, password_hash: str) -> None:
        self.seed = seed
        self.now = now
        self.password_hash = password_hash
        self.tables = tables()
        self.ledger = Ledger()
        # (sort key, row without id, entry session index) for sessions, sorted at the end so
        # ids follow the order they were written in, as in a real center.
        self.sessions: list[tuple[Any, ...]] = []

    def table(self, model: type[models.Model]) -> Table:
        return self.tables[model._meta.db_table]

    def uuid(self, rng: random.Random) -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    def add_center(self, center: Center) -> dict[str, Any]:
        """The steps of one center, in order, from its own random stream."""
        rng = random.Random(f"{self.seed}:{center.slug}")
        started = self.now - timedelta(days=HORIZON_DAYS + 30)
        org = self.table(Organization).add(center.name, center.slug, center.time_zone, started)
        admin = people.login(
            self, org, admin_email(center.slug), "Center Admin", Role.ADMIN, rng, started
        )
        types = packages.service_types(self, org, rng)
        sold = packages.packages(self, org, types, rng, started)
        first_student = len(self.table(Student).rows)
        students = people.students(self, org, center, rng, started)
        providers = people.providers(self, org, center, types, rng, started)
        pairs = relationships(self, org, center, admin, students, providers, types, sold, rng)
        people.retire_students(self, first_student, pairs)
        grants.standalone_grants(self, org, admin, students, sold, rng)
        return {"organization": org, "relationships": len(pairs)}

    # After every center: the rows whose ids or values were known only at the end.

    def finish(self) -> None:
        self._put_grants()
        self._put_allocations()
        self._put_entries(self._sessions_by_time())

    def _put_grants(self) -> None:
        """Each grant with its final balances, and the service types its package covers."""
        covers: dict[int, list[int]] = {}
        for pk, _uuid, _org, *_rest in self.table(Package).rows:
            covers[pk] = [
                st for _, _, package, st in self.table(PackageServiceType).rows if package == pk
            ]
        table, grant_types = self.table(Grant), self.table(GrantServiceType)
        rng = random.Random(f"{self.seed}:grants")
        for g in self.ledger.grants:
            table.put(
                g.pk,
                self.uuid(rng),
                g.organization_id,
                g.student_id,
                g.package_id,
                g.unit,
                g.total,
                g.used,
                g.held,
                g.valid_from,
                g.expires_at,
                g.status,
                g.source,
                g.reference,
                g.valid_from,
                g.created_by,
            )
            for service_type in covers[g.package_id] if g.package_id else ():
                grant_types.add(g.organization_id, g.pk, service_type)

    def _put_allocations(self) -> None:
        table = self.table(Allocation)
        for a in self.ledger.allocations:
            table.put(
                a.pk,
                a.organization_id,
                a.relationship_id,
                a.grant.pk,
                a.held,
                a.consumed,
                a.created_at,
            )

    def _put_entries(self, session_ids: list[int]) -> None:
        """The ledger's entries in time order (ties keep the order they were posted in), each
        naming its session by the id it got."""
        table = self.table(GrantEntry)
        self.ledger.entries.sort(key=operator.itemgetter(0))
        for (
            at,
            org,
            grant,
            allocation,
            kind,
            total,
            used,
            held,
            usable,
            rel,
            session,
            actor,
            reason,
        ) in self.ledger.entries:
            table.add(
                org,
                grant,
                allocation,
                kind,
                total,
                used,
                held,
                usable,
                rel,
                None if session is None else session_ids[session],
                actor,
                reason,
                at,
            )
        self.ledger.entries.clear()

    def _sessions_by_time(self) -> list[int]:
        """Sessions get ids in the order they were written, as in a real center; returns each
        planned session's id by its index."""
        table = self.table(Session)
        ids = [0] * len(self.sessions)
        # Stable: sessions written at the same moment keep the order they were planned in.
        self.sessions.sort(key=operator.itemgetter(0))
        for _created, index, values in self.sessions:
            ids[index] = table.add(*values)
        self.sessions.clear()
        return ids
