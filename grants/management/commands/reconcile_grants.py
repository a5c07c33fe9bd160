from django.core.management.base import BaseCommand, CommandError, CommandParser

from grants.reconcile import find_differences, find_session_differences
from matchpal.models import Organization


class Command(BaseCommand):
    help = (
        "Recompute every grant, allocation, student summary and session's charged minutes from "
        "the ledger and print each difference; exit status 1 if there is one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", metavar="SLUG", help="Only this organization.")

    def handle(self, *args: object, **options: object) -> None:
        organization_id = None
        if options["organization"]:
            org = Organization.objects.filter(slug=options["organization"]).first()
            if org is None:
                raise CommandError(f"No organization with the slug “{options['organization']}”.")
            organization_id = org.pk
        differences = find_differences(organization_id=organization_id)
        differences += find_session_differences(organization_id=organization_id)
        for difference in differences:
            self.stdout.write(str(difference))
        if differences:
            raise CommandError(
                f"{len(differences)} difference(s) between balances and ledger.", returncode=1
            )
        self.stdout.write(self.style.SUCCESS("Balances match the ledger."))
