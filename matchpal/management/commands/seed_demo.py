from django.core.management.base import BaseCommand

from matchpal import demo


class Command(BaseCommand):
    help = "Create the demo organization (once) with an admin, providers and students."

    def handle(self, *args: object, **options: object) -> None:
        org = demo.seed_demo()
        if org is None:
            self.stdout.write("The demo organization exists already; nothing changed.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Seeded demo organization “{org.name}”."))
