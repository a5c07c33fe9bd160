from django.apps import AppConfig


class MatchpalConfig(AppConfig):
    name = "matchpal"
    verbose_name = "Matchpal tenancy"
