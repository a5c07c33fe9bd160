"""`scripts/profile_request.py`'s steps each answer as a browser would expect: the form page a
200, the log form a redirect to the new session, the service a logged session. No figure is
asserted: times are the script's output, not a test's."""

import pytest

from scripts import bench_logging, profile_request
from sessions_app.models import Session

pytestmark = pytest.mark.django_db


def test_every_step_runs_and_the_logs_are_written() -> None:
    slug, clients = bench_logging.build(1)
    steps = profile_request.steps(slug, clients[0].user_id, clients[0].relationships["spread"])
    assert set(steps) == {"healthz", "students_create", "log_form", "log_service"}
    for i, step in enumerate(steps.values()):
        step(i)
    assert Session.objects.filter(organization__slug=slug).count() == 2
    wall, cpu = profile_request.timed(steps["healthz"], 3)
    assert len(wall) == len(cpu) == 3
