"""A generated large center for measuring scale (issue 11): `manage.py generate_scale_data`.

Unlike `demo/seed.py`, which builds a small center through the services, this writes rows
directly with PostgreSQL's COPY: a million sessions through the services would take hours. The
rows are built in Python by replaying what the services would have done — each grant's ledger
entries are posted to an in-memory copy of the grant (`ledger.Ledger.post`, the mirror of
`grants.services.posting.Posting.add`), so every balance column is the sum of its entries by
construction — and then copied in foreign-key order inside one transaction. Every CHECK,
unique, foreign-key and composite tenant key stays on and checks each row; one trigger is
switched off for the load and its rule checked once afterwards (`load.load`, and
docs/performance.md, "Generating a large center").

Deterministic: the same seed and options build the same rows, with times counted back from
the start of the current hour (or `now=`). Runs only on a database without organizations.

The modules, in the order a run uses them:

- `centers`: the options, the centers they make, the logins' addresses;
- `catalog`: the fixed names, notes, packages, services and weights centers are drawn from;
- `tables`: each table as COPY sees it, holding its planned rows;
- `plan`: the `Plan` of every row, a center's steps in order, and the rows known only at the end;
- `people`, `packages`, `relationships`, `sessions`, `grants`: those steps;
- `timeline`: when relationships and sessions happen, and what became of each session;
- `ledger`: the grants, allocations and entries replayed in memory;
- `load`: the COPY loader, in slices, with the trigger handling;
- `checks`: the checks before and after the load;
- `run`: `generate`, its timed steps and report, and the summary the command prints.
"""

from .centers import (
    SCALE_PASSWORD,
    SCALE_SLUG,
    Center,
    Options,
    ScaleError,
    admin_email,
    centers,
    provider_email,
    student_email,
)
from .plan import Plan
from .run import Report, generate, summary

__all__ = [
    "SCALE_PASSWORD",
    "SCALE_SLUG",
    "Center",
    "Options",
    "Plan",
    "Report",
    "ScaleError",
    "admin_email",
    "centers",
    "generate",
    "provider_email",
    "student_email",
    "summary",
]
