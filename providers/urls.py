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
]
