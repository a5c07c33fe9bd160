from django.core.management.base import BaseCommand, CommandError, CommandParser

from matchpal.models import Organization
from reports import rollups


class Command(BaseCommand):
    help = (
        "Recompute the Sessions report's roll-ups from the sessions (one organization or all). "
        "Session writes wait until it is done; reports go on."
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
        rollups.rebuild(organization_id=organization_id)
        self.stdout.write(self.style.SUCCESS("The roll-ups are rebuilt from the sessions."))
