from django.urls import path

from grants import views

app_name = "grants"

urlpatterns = [
    path("packages/", views.package_list, name="package_list"),
    path("packages/new/", views.package_create, name="package_create"),
    path("packages/<uuid:public_id>/edit/", views.package_edit, name="package_edit"),
    path("packages/<uuid:public_id>/active/", views.package_set_active, name="package_set_active"),
    path("students/<uuid:student_id>/hours/", views.student_hours, name="student_hours"),
    path("students/<uuid:student_id>/hours/add/", views.grant_create, name="grant_create"),
    path("grants/<uuid:public_id>/adjust/", views.grant_adjust, name="grant_adjust"),
    path("grants/<uuid:public_id>/transfer/", views.grant_transfer, name="grant_transfer"),
    path("grants/<uuid:public_id>/refund/", views.grant_refund, name="grant_refund"),
    path("grants/<uuid:public_id>/extend/", views.grant_extend, name="grant_extend"),
    path("holds/<uuid:relationship_id>/release/", views.hold_release, name="hold_release"),
    path("my/hours/", views.my_hours, name="my_hours"),
]
