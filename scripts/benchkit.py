"""What every benchmark script shares: scratch databases named beside `DATABASE_URL`, the
nearest-rank percentile of the tables, and the machine's name for their headers."""

import platform
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg


def database_url(base: str, name: str) -> str:
    """`base` (a PostgreSQL URL) naming the database `name` instead."""
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def recreate(base_url: str, name: str) -> None:
    """Drop and create the scratch database `name`; only a name containing "bench", so a
    mistyped option never drops real data."""
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop “{name}”: the name must contain “bench”.")
    with psycopg.connect(database_url(base_url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(p / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


FORM_ENCODED = "application/x-www-form-urlencoded"


def post_form(http: Any, url: str, data: dict[str, str], *, multipart: bool = False) -> Any:
    """POST `data` through Django's test client `http` the way a browser submits a form without
    a file input (no `enctype`): URL-encoded. The test client's own default is multipart,
    which no browser sends for these forms and which costs the request a MIME parse;
    `multipart=True` keeps it, to compare with figures taken that way."""
    if multipart:
        return http.post(url, data)
    from urllib.parse import urlencode

    return http.post(url, urlencode(data), content_type=FORM_ENCODED)


def log_form_data(starts_at: Any, tz: Any, minutes: int) -> dict[str, str]:
    """What the provider's "log a session" form posts for a session at `starts_at` lasting
    `minutes`, in the center's time zone `tz` (Django must be set up)."""
    from django.utils import timezone

    local = timezone.localtime(starts_at, tz)
    return {
        "date": f"{local:%Y-%m-%d}",
        "time": f"{local:%H:%M}",
        "duration": str(minutes),
        "kind": "tutoring",
        "mode": "Online",
        "notes": "Benchmark session",
    }
