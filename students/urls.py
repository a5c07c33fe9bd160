from django.urls import path

from students import views

app_name = "students"

urlpatterns = [
    path("", views.student_list, name="list"),
    path("new/", views.student_create, name="create"),
    path("me/", views.my_profile, name="me"),
    path("<uuid:public_id>/", views.student_detail, name="detail"),
    path("<uuid:public_id>/edit/", views.student_edit, name="edit"),
    path("<uuid:public_id>/status/", views.student_set_status, name="set_status"),
    path("<uuid:public_id>/invite/", views.student_invite, name="invite"),
    path("<uuid:public_id>/suspension/lift/", views.suspension_lift, name="suspension_lift"),
]
