"""The private calendar feeds: outside `/o/<slug>/`, no sign-in; the token is the key."""

from django.urls import path

from sessions_app import schedule_views

app_name = "calendar"

urlpatterns = [
    path("<token:token>.ics", schedule_views.calendar_feed_ics, name="feed"),
]
