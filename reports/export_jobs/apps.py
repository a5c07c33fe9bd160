from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """Report export jobs: a Django app of its own inside the reports package, so its table and
    migrations stay apart from the reports' pages (which only read)."""

    name = "reports.export_jobs"
    label = "exports"
    verbose_name = "Report exports"

    def ready(self) -> None:
        # The built-in sources register themselves on import (registry.export_source).
        from reports.export_jobs import sources  # noqa: F401
