from django.core.management.base import BaseCommand, CommandError, CommandParser

from matchpal.models import Organization
from reports import rollups


class Command(BaseCommand):
    help = (
        "Compare the Sessions report's roll-ups with the sessions and print each difference; "
        "exit status 1 if there is one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", metavar="SLUG", help="Only this organization.")

    def handle(self, *args: object, **options: object) -> None:
        if not rollups.available():
            raise CommandError("The roll-ups are kept on PostgreSQL only; reports read sessions.")
        organization_id = None
        if options["organization"]:
            org = Organization.objects.filter(slug=options["organization"]).first()
            if org is None:
                raise CommandError(f"No organization with the slug “{options['organization']}”.")
            organization_id = org.pk
        differences = rollups.find_differences(organization_id=organization_id)
        for difference in differences:
            self.stdout.write(str(difference))
        if differences:
            raise CommandError(
                f"{len(differences)} difference(s) between the roll-ups and the sessions.",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS("The roll-ups match the sessions."))
