from django.urls import include, path

from reports import views

# No app_name: the organization's home keeps its project-wide name, `org_home`.
urlpatterns = [
    path("", views.home, name="org_home"),
    path("exports/", include("reports.export_jobs.urls")),
]
