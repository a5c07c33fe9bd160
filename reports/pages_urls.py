"""`/o/<slug>/reports/…`: the index, then a page and a CSV export per registered report (built
from the registry, so a new report module needs no line here), and the raw sessions export."""

from django.urls import URLPattern, path

from reports import pages as views
from reports.framework import REPORTS

app_name = "reports"

urlpatterns: list[URLPattern] = [
    path("", views.report_index, name="index"),
    path("sessions/rows.csv", views.session_rows_csv, name="session_rows_csv"),
]
for _report in REPORTS.values():
    urlpatterns += [
        path(f"{_report.name}/", views.report_page(_report), name=_report.name),
        path(f"{_report.name}/csv/", views.report_csv(_report), name=f"{_report.name}_csv"),
    ]
