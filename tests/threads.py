"""Real threads against real PostgreSQL transactions, for the race tests (STYLE: Tests)."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_together(*calls: Callable[[], Any], timeout: float = 60) -> list[tuple[str, Any]]:
    """Run each call in its own thread (so its own connection), all released at once by a
    barrier. Returns, in order, ("ok", result) or ("error", exception) per call; fails if a
    thread is still waiting after `timeout` seconds (a lock that was never freed)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[str, Any]] = [("missing", None)] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", call())
        except Exception as exc:
            outcomes[index] = ("error", exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(i, call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a writer is still waiting: a lock never freed"
    assert all(status != "missing" for status, _ in outcomes)
    return outcomes
