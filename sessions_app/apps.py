from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    label = "sessions_app"
    verbose_name = "Sessions"

    def ready(self) -> None:
        # Registers what happens to a relationship's sessions when it ends (see
        # `relationships.services.on_relationship_end`), whoever imports what first.
        from sessions_app import services  # noqa: F401
