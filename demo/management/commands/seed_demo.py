from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from demo.seed import seed_demo

# The demo's people are fictional: seeding proposes and logs through the real services, which
# email on commit, so the emails go nowhere while it runs.
QUIET = {"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}


class Command(BaseCommand):
    help = "Create the demo organization (once): admin, providers, students, hours, sessions."

    def handle(self, *args: object, **options: object) -> None:
        with override_settings(MAILERS=QUIET):
            org = seed_demo()
        if org is None:
            self.stdout.write("The demo organization exists already; nothing changed.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Seeded demo organization “{org.name}”."))
