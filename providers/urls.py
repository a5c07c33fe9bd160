from django.urls import path

from providers import views

app_name = "providers"

urlpatterns = [
    path("", views.provider_list, name="list"),
    path("new/", views.provider_create, name="create"),
    path("me/", views.my_profile, name="me"),
    path("<uuid:public_id>/", views.provider_detail, name="detail"),
    path("<uuid:public_id>/edit/", views.provider_edit, name="edit"),
    path("<uuid:public_id>/status/", views.provider_set_status, name="set_status"),
    path("<uuid:public_id>/invite/", views.provider_invite, name="invite"),
    path("<uuid:public_id>/availability/", views.availability, name="availability"),
    path(
        "<uuid:public_id>/availability/hours/new/",
        views.availability_window_add,
        name="availability_window_add",
    ),
    path(
        "<uuid:public_id>/availability/hours/<uuid:window_id>/remove/",
        views.availability_window_remove,
        name="availability_window_remove",
    ),
    path(
        "<uuid:public_id>/availability/exceptions/new/",
        views.availability_exception_add,
        name="availability_exception_add",
    ),
    path(
        "<uuid:public_id>/availability/exceptions/<uuid:exception_id>/remove/",
        views.availability_exception_remove,
        name="availability_exception_remove",
    ),
]
