from django.apps import AppConfig


class MatchpalConfig(AppConfig):
    name = "matchpal"
    verbose_name = "Matchpal tenancy"

    def ready(self) -> None:
        from matchpal.choices import cache_choice_labels  # the models are ready now

        cache_choice_labels()
