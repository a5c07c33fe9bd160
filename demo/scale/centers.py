"""What is generated: the options of a run, the centers they make, and the logins' addresses.

The large center is `SCALE_SLUG`; the small tenants beside it exist so that every page is
measured with other organizations' rows in the same tables, as in production."""

from __future__ import annotations

from dataclasses import dataclass

SCALE_SLUG = "scale"
SCALE_PASSWORD = "matchpal-scale"
HORIZON_DAYS = 3 * 365
# Sessions per relationship on average; a relationship meets every few days to two weeks.
SESSIONS_PER_RELATIONSHIP = 40
SMALL_CENTER = {"students": 6, "providers": 2, "sessions": 40}


class ScaleError(Exception):
    """The database is not one the generator may fill."""


@dataclass(frozen=True)
class Options:
    students: int = 30
    providers: int = 5
    sessions: int = 500
    tenants: int = 2
    seed: int = 1


@dataclass(frozen=True)
class Center:
    slug: str
    name: str
    students: int
    providers: int
    sessions: int
    time_zone: str


def centers(options: Options) -> list[Center]:
    """The large center, then the small tenants beside it."""
    large = Center(
        SCALE_SLUG,
        "Scale Learning Center",
        options.students,
        options.providers,
        options.sessions,
        "America/New_York",
    )
    small = [
        Center(f"tenant-{n:02}", f"Tenant Center {n:02}", time_zone="Europe/London", **SMALL_CENTER)
        for n in range(1, options.tenants + 1)
    ]
    return [large, *small]


def admin_email(slug: str) -> str:
    return f"admin@{slug}.example"


def provider_email(slug: str, n: int) -> str:
    return f"provider{n}@{slug}.example"


def student_email(slug: str, n: int) -> str:
    return f"student{n}@{slug}.example"
