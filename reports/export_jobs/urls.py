from django.urls import path

from reports.export_jobs import views

app_name = "exports"
urlpatterns = [
    path("", views.export_list, name="list"),
    path("new/", views.export_start, name="start"),
    path("<uuid:public_id>/", views.export_detail, name="detail"),
    path("<uuid:public_id>/download/", views.export_download, name="download"),
]
