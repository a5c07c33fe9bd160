from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read-all/", views.notices_read_all, name="read_all"),
    path("inbox/<uuid:public_id>/open/", views.notice_open, name="open"),
    path("notifications/preferences/", views.preferences, name="preferences"),
    path("notifications/defaults/", views.center_defaults, name="center_defaults"),
    path("notifications/emails/", views.email_list, name="email_list"),
    path("notifications/emails/<uuid:public_id>/", views.email_detail, name="email_detail"),
]
