"""Queueing a Celery task from a request while the broker may be down.

The broker is Redis. When it cannot be reached, kombu retries for about 0.7 s and raises its
`OperationalError`; raised from a view, or from a callback run at the commit of the view's
transaction, it would answer 500 after the change was saved. `enqueue` logs it and says the task
was not queued, so the caller can tell the person or mark its row (docs/deploy.md, "When Redis
is down"). With the broker up it is `task.delay`.
"""

import logging
from typing import Any

from celery import Task
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue(task: Task, *args: Any) -> bool:
    """Queue `task` with `args`; False (logged) when the broker cannot be reached."""
    try:
        task.delay(*args)
    except OperationalError as error:
        logger.warning(
            "Task %s%r not queued: the broker cannot be reached (%s).", task.name, args, error
        )
        return False
    return True
