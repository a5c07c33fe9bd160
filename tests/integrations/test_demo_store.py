"""The demo store that `make run` seeds takes the sample delivery of docs/woocommerce.md exactly
as the docs post it with curl: the body, secret, URL and headers are read from the docs."""

import re
import shlex
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from demo.seed import DEMO_SLUG, DEMO_STORE_SECRET
from grants.models import Grant, GrantSource
from grants.reconcile import find_differences
from integrations.woocommerce.models import Delivery, Store
from integrations.woocommerce.signature import sign
from students.models import Student

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "woocommerce.md"
# The sample's order is paid at 2026-11-22 10:00 UTC; the demo package is valid 180 days from
# the payment. The clock is set just after it, so the documented 10 h stay available whenever
# the suite runs (the docs' fixed dates would otherwise age out of the validity).
SAMPLE_TIME = datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC)


def sample() -> dict[str, str]:
    """The variables and curl command of the "Try it" shell block, as the shell reads them."""
    text = DOCS.read_text()
    section = text[text.index("## Try it") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "docs/woocommerce.md has no sh block under “Try it”"
    script = block.group(1)
    values: dict[str, str] = {}
    for line in script.splitlines():
        match = re.fullmatch(r"([A-Z]+)=(.*)", line)
        if match and not match.group(2).startswith("$("):
            values[match.group(1)] = shlex.split(match.group(2))[0]
    command = shlex.split(script[script.index("curl ") :].replace("\\\n", " "))
    values["URL"] = next(arg for arg in command if arg.startswith("http"))
    values["HEADERS"] = "\n".join(command[i + 1] for i, arg in enumerate(command) if arg == "-H")
    values["DATA"] = command[command.index("--data-binary") + 1]
    values["SCRIPT"] = script
    return values


def seed() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert out.getvalue() == "Seeded demo organization “Northside Learning Center”.\n"


def post_sample(client: Client, docs: dict[str, str], django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    body = docs["BODY"].encode()
    headers = dict(line.split(": ", 1) for line in docs["HEADERS"].splitlines())
    assert headers.pop("X-WC-Webhook-Signature") == "$SIG"
    assert docs["DATA"] == "$BODY"
    with django_capture_on_commit_callbacks(execute=True):  # the worker, at once
        return client.generic(
            "POST",
            urlsplit(docs["URL"]).path,
            body,
            content_type=headers.pop("Content-Type"),
            headers={**headers, "X-WC-Webhook-Signature": sign(body, docs["SECRET"])},
        )


def test_the_docs_sample_delivery_grants_the_documented_hours(
    django_capture_on_commit_callbacks,
) -> None:
    docs = sample()
    assert docs["SECRET"] == DEMO_STORE_SECRET
    with time_machine.travel(SAMPLE_TIME, tick=False):
        seed()
        store = Store.objects.get(organization__slug=DEMO_SLUG)
        assert urlsplit(docs["URL"]).path == store.delivery_path
        chloe = Student.objects.get(organization__slug=DEMO_SLUG, name="Chloe Dubois")
        before = set(Grant.objects.filter(student=chloe).values_list("pk", flat=True))
        client = Client()

        response = post_sample(client, docs, django_capture_on_commit_callbacks)

        # "The answer is `200 ok`; … the worker grants 10 h to Chloe Dubois"
        assert (response.status_code, response.content) == (200, b"ok")
        [grant] = Grant.objects.filter(student=chloe).exclude(pk__in=before)
        assert (grant.total, grant.unit, grant.source, grant.reference) == (
            600,
            "minutes",
            GrantSource.WOOCOMMERCE,
            "Order #5001",
        )
        assert grant.package.name == "Tutoring 10 hours"
        assert grant.expires_at == datetime(2026, 11, 22, 10, tzinfo=UTC) + timedelta(days=180)
        delivery = Delivery.objects.get(store=store)
        assert (delivery.status, delivery.outcome) == ("processed", "granted 10 h for line 9001")

        # "Post it again: nothing changes."
        again = post_sample(client, docs, django_capture_on_commit_callbacks)

        assert again.status_code == 200
        assert Grant.objects.filter(student=chloe).exclude(pk__in=before).count() == 1
        assert Grant.objects.get(pk=grant.pk).total == 600
        assert find_differences() == []
        out = StringIO()
        call_command("reconcile_grants", organization=DEMO_SLUG, stdout=out)
        assert out.getvalue() == "Balances match the ledger.\n"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_docs_openssl_line_computes_woocommerces_signature() -> None:
    docs = sample()
    [line] = [line for line in docs["SCRIPT"].splitlines() if line.startswith("SIG=")]
    pipeline = line.removeprefix("SIG=$(").removesuffix(")")

    result = subprocess.run(  # the docs' own line, as a reader's shell runs it
        ["bash", "-c", pipeline],
        env={"SECRET": docs["SECRET"], "BODY": docs["BODY"], "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == sign(docs["BODY"].encode(), DEMO_STORE_SECRET)
