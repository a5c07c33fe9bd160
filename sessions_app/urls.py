from django.urls import path

from sessions_app import booking_views, schedule_views, views

app_name = "sessions_app"

urlpatterns = [
    path("sessions/", views.session_list, name="list"),
    path("sessions/new/", views.session_new, name="new"),
    path("relationships/<uuid:relationship_id>/log/", views.session_log, name="log"),
    path("sessions/<uuid:public_id>/", views.session_detail, name="detail"),
    path("sessions/<uuid:public_id>/edit/", views.session_edit, name="edit"),
    path("sessions/<uuid:public_id>/complete/", views.session_complete, name="complete"),
    path("sessions/<uuid:public_id>/reschedule/", views.session_reschedule, name="reschedule"),
    path("sessions/<uuid:public_id>/cancel/", views.session_cancel, name="cancel"),
    path("sessions/<uuid:public_id>/no-show/", views.session_no_show, name="no_show"),
    path("sessions/<uuid:public_id>/send-report/", views.session_send_report, name="send_report"),
    path("sessions/<uuid:public_id>/confirm/", views.session_confirm, name="confirm"),
    path("sessions/<uuid:public_id>/dispute/", views.session_dispute, name="dispute"),
    path(
        "sessions/<uuid:public_id>/resolve/", views.session_resolve_dispute, name="resolve_dispute"
    ),
    # Scheduling (docs/scheduling.md)
    path("sessions/<uuid:public_id>/messages/", schedule_views.message_post, name="message_post"),
    path(
        "sessions/<uuid:public_id>/check-in/",
        schedule_views.session_check_in,
        name="check_in",
    ),
    path("check-in/", schedule_views.check_ins, name="check_ins"),
    path("calendar/", schedule_views.week, name="week"),
    path("calendar/feed/", schedule_views.calendar_feed, name="calendar_feed"),
    path("settings/questions/", schedule_views.feedback_questions, name="feedback_questions"),
    path(
        "settings/questions/new/",
        schedule_views.feedback_question_create,
        name="feedback_question_create",
    ),
    path(
        "settings/questions/<uuid:public_id>/",
        schedule_views.feedback_question_edit,
        name="feedback_question_edit",
    ),
    # Booking (docs/scheduling.md)
    path("book/", booking_views.book, name="book"),
    path("book/confirm/", booking_views.book_confirm, name="book_confirm"),
    path("sessions/<uuid:public_id>/accept/", booking_views.session_accept, name="accept"),
    path("sessions/<uuid:public_id>/decline/", booking_views.session_decline, name="decline"),
    path(
        "sessions/<uuid:public_id>/cancel-following/",
        booking_views.session_cancel_following,
        name="cancel_following",
    ),
    path(
        "sessions/<uuid:public_id>/cancel-booking/",
        booking_views.session_cancel_booking,
        name="cancel_booking",
    ),
    path("availability/", booking_views.center_week, name="center_week"),
]
