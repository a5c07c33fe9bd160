from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    label = "sessions_app"
    verbose_name = "Sessions"

    def ready(self) -> None:
        # Registers what happens to a relationship's sessions when it ends (see
        # `relationships.services.on_relationship_end`), whoever imports what first.
        from matchpal.tenancy import register_guard
        from notifications.kinds import register, register_check
        from sessions_app import booking_notices, checkin, emails, notices, services  # noqa: F401

        for kind in booking_notices.KINDS:
            register(kind)

        # A reminder is checked again as it leaves: never for a session cancelled, moved or
        # logged since it was planned.
        register_check("session_reminder", notices.reminder_stale)
        # A center requiring check-ins first stops a provider with one overdue (checkin.py).
        register_guard(checkin.overdue_guard)
        # The scheduling part's kinds of notice (docs/scheduling.md).
        emails.register_kinds()
        register_check("session_unlogged", notices.unlogged_stale)
        register_check("confirmation_pending", notices.confirmation_stale)
