from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.scale import Options, ScaleError, generate, summary


class Command(BaseCommand):
    help = (
        "Fill an empty database with a generated large center (students, providers, a ledger, "
        "years of sessions) and small tenants beside it, for measuring scale."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = Options()
        parser.add_argument("--students", type=int, default=defaults.students)
        parser.add_argument("--providers", type=int, default=defaults.providers)
        parser.add_argument("--sessions", type=int, default=defaults.sessions)
        parser.add_argument("--tenants", type=int, default=defaults.tenants)
        parser.add_argument("--seed", type=int, default=defaults.seed)

    def handle(self, *args: object, **options: object) -> None:
        values = {k: options[k] for k in ("students", "providers", "sessions", "tenants", "seed")}
        if any(not isinstance(v, int) or v < 0 for v in values.values()):
            raise CommandError("Every count must be a whole number, zero or more.")
        chosen = Options(**values)  # type: ignore[arg-type]
        if chosen.students < 1 or chosen.providers < 1:
            raise CommandError("The large center needs at least one student and one provider.")
        try:
            report = generate(chosen, write=self._progress)
        except ScaleError as error:
            raise CommandError(str(error)) from error
        for line in summary(report):
            self.stdout.write(line)

    def _progress(self, line: str) -> None:
        """Each step as it ends, at once even when the output is a file (a long run's log)."""
        self.stdout.write(line)
        self.stdout.flush()
