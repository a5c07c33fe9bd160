from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    label = "sessions_app"
    verbose_name = "Sessions"

    def ready(self) -> None:
        # Registers what happens to a relationship's sessions when it ends (see
        # `relationships.services.on_relationship_end`), whoever imports what first.
        from matchpal.tenancy import register_guard
        from sessions_app import checkin, services  # noqa: F401

        # A center requiring check-ins first stops a provider with one overdue (checkin.py).
        register_guard(checkin.overdue_guard)
