from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from grants import balances
from matchpal.models import Organization
from reports import dashboard_version
from reports import rollups as report_rollups
from sessions_app import rollups as home_rollups


class Command(BaseCommand):
    help = (
        "Recompute every summary the triggers keep from the sessions and the ledger: the admin "
        "home's (pairings' activity, short sessions, the center's hours per service type), the "
        "students' charged totals (the student home's running total) and, "
        "on PostgreSQL, the reports' roll-ups. With --check, compare them instead and exit 1 "
        "on a difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", metavar="SLUG", help="Only this organization.")
        parser.add_argument("--check", action="store_true", help="Compare; change nothing.")

    def handle(self, *args: object, **options: object) -> None:
        organization_id = None
        if options["organization"]:
            org = Organization.objects.filter(slug=options["organization"]).first()
            if org is None:
                raise CommandError(f"No organization with the slug “{options['organization']}”.")
            organization_id = org.pk
        if not options["check"]:
            # One transaction: session writers wait until every summary is rebuilt.
            with transaction.atomic():
                home_rollups.rebuild(organization_id=organization_id)
                balances.rebuild_center(organization_id=organization_id)
                if report_rollups.available():
                    report_rollups.rebuild(organization_id=organization_id)
                # The admin home and the reports kept in the cache read these summaries: a
                # rebuild that corrected one shows on the next view.
                dashboard_version.bump(organization_id)
            self.stdout.write(self.style.SUCCESS("Summaries rebuilt."))
            return
        found = [str(d) for d in home_rollups.differences(organization_id=organization_id)]
        sides = {True: "kept but not computed", False: "computed but not kept"}
        found += [
            f"{balances.CENTER_TABLE}: {sides[kept]}: {row}"
            for kept, row in balances.center_differences(organization_id=organization_id)
        ]
        if report_rollups.available():
            found += map(str, report_rollups.find_differences(organization_id=organization_id))
        for line in found:
            self.stdout.write(line)
        if found:
            raise CommandError(f"{len(found)} difference(s) in the summaries.", returncode=1)
        self.stdout.write(self.style.SUCCESS("The summaries match the sessions and the ledger."))
