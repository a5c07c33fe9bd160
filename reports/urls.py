from django.urls import include, path

from reports import views
from reports.dashboard import SIGNS

# No app_name: the organization's home keeps its project-wide name, `org_home`.
urlpatterns = [
    path("", views.home, name="org_home"),
    path("exports/", include("reports.export_jobs.urls")),
    # One page per warning sign of the admin home: /warnings/long-gap/ is `warning_long_gap`.
    *(
        path(
            f"warnings/{sign.replace('_', '-')}/",
            views.warning_list,
            {"sign": sign},
            name=f"warning_{sign}",
        )
        for sign in SIGNS
    ),
]
