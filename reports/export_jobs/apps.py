from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """Report export jobs: a Django app of its own inside the reports package, so its table and
    migrations stay apart from the reports' pages (which only read)."""

    name = "reports.export_jobs"
    label = "exports"
    verbose_name = "Report exports"

    def ready(self) -> None:
        # The built-in sources register themselves on import (registry.export_source); the
        # reports, registered by the reports app (listed before this one), become sources too.
        from reports.export_jobs import sources  # noqa: F401
        from reports.export_jobs.report_sources import register_reports

        register_reports()
