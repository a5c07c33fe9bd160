"""Settings a deployment turns on by variable: Sentry, exports in an S3-compatible bucket, the log
format. Each runs in a fresh Python with the production settings and only those variables.
(`check --deploy` on the documented settings: tests/matchpal/test_deploy_settings.py.)"""

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SENTRY_", "MATCHPAL_EXPORTS_", "LOG_"))
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "matchpal.settings",
            "SECRET_KEY": "settings-test",
            "DEBUG": "false",
            "EMAIL_CONSOLE": "true",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def sentry_server() -> Iterator[list[bytes]]:
    """A stand-in for Sentry's ingestion endpoint on loopback: the envelopes it receives."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.append(str(server.server_address[1]).encode())  # the port, first
    yield received
    server.shutdown()


def test_an_error_goes_to_sentry_when_a_dsn_is_set(sentry_server: list[bytes]) -> None:
    port = sentry_server.pop(0).decode()
    result = run(
        "import sentry_sdk\n"
        "assert sentry_sdk.get_client().is_active()\n"
        "try:\n"
        "    raise RuntimeError('reported to sentry')\n"
        "except RuntimeError:\n"
        "    sentry_sdk.capture_exception()\n"
        "sentry_sdk.flush(timeout=10)\n",
        SENTRY_DSN=f"http://public@127.0.0.1:{port}/1",
        SENTRY_ENVIRONMENT="staging",
    )

    assert result.returncode == 0, result.stderr
    body = b"".join(sentry_server)
    assert b"reported to sentry" in body
    assert b'"environment":"staging"' in body


def test_nothing_goes_to_sentry_without_a_dsn() -> None:
    result = run("import sentry_sdk\nprint(sentry_sdk.get_client().is_active())")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_exports_go_to_the_bucket_a_variable_names() -> None:
    result = run(
        "import json\n"
        "from django.core.files.storage import storages\n"
        "s = storages['exports']\n"
        "print(json.dumps([type(s).__module__ + '.' + type(s).__name__, s.bucket_name,"
        " s.endpoint_url, s.region_name, s.location, s.access_key, s.file_overwrite]))",
        MATCHPAL_EXPORTS_S3_BUCKET="matchpal-exports",
        MATCHPAL_EXPORTS_S3_ENDPOINT_URL="https://s3.example.org",
        MATCHPAL_EXPORTS_S3_REGION="eu-west-1",
        MATCHPAL_EXPORTS_S3_ACCESS_KEY="AKIAEXAMPLE",
        MATCHPAL_EXPORTS_S3_SECRET_KEY="secret",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "storages.backends.s3.S3Storage",
        "matchpal-exports",
        "https://s3.example.org",
        "eu-west-1",
        "exports",
        "AKIAEXAMPLE",
        False,
    ]


def test_exports_stay_in_a_folder_by_default() -> None:
    result = run(
        "from django.core.files.storage import storages\nprint(type(storages['exports']).__name__)"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "FileSystemStorage"


def test_log_lines_are_json_in_production_and_a_bad_format_stops_the_start() -> None:
    logged = run("import logging\nlogging.getLogger('matchpal').warning('hello %s', 'there')")
    assert logged.returncode == 0, logged.stderr
    line = json.loads(logged.stderr.strip().splitlines()[-1])
    assert (line["level"], line["logger"], line["message"]) == (
        "WARNING",
        "matchpal",
        "hello there",
    )

    refused = run("", LOG_FORMAT="xml")
    assert refused.returncode != 0
    assert "LOG_FORMAT must be json or text, not 'xml'." in refused.stderr
