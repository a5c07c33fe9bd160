from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("<uuid:public_id>/data/", views.student_data, name="student_data"),
    path("<uuid:public_id>/data/export/", views.student_export, name="student_export"),
    path("<uuid:public_id>/data/erase/", views.student_erase, name="student_erase"),
]
