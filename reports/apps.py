import importlib
import pkgutil

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        # Each module of reports/catalog/ registers its report (reports/framework.py); importing
        # them all here, before the URLs are built, is what makes a new report module appear.
        catalog = importlib.import_module("reports.catalog")
        for module in pkgutil.iter_modules(catalog.__path__):
            importlib.import_module(f"reports.catalog.{module.name}")
