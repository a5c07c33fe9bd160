from django.apps import AppConfig


class GrantsConfig(AppConfig):
    name = "grants"

    def ready(self) -> None:
        from grants.selectors import with_balances
        from students.selectors import register_list_annotator

        register_list_annotator(with_balances)
