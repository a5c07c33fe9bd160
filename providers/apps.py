from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"

    def ready(self) -> None:
        from matchpal.services import register_invitation_handler
        from providers.services import provider_link_invited_user

        register_invitation_handler(provider_link_invited_user)
