"""`scripts/audit_dependencies.py` runs the real `uv audit` over the real uv.lock, here against
an OSV-compatible service on loopback (the machine reaches no other): a known vulnerability in a
locked package fails it; none passes; an unreachable service warns and passes."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "audit_dependencies.py"
ADVISORY = {
    "id": "GHSA-mtch-0000-0001",
    "summary": "Test advisory against the locked Django",
    "modified": "2026-01-01T00:00:00Z",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "django"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}],
        }
    ],
}


def uv_executable() -> str:
    """`UV` (which `uv run`, and so `make test`, sets to itself), uv on PATH, or make's own."""
    bootstrapped = ROOT / ".tools" / "bin" / "uv"
    found = (
        os.environ.get("UV")
        or shutil.which("uv")
        or (str(bootstrapped) if bootstrapped.exists() else None)
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("uv is not installed; .ci/run should have bootstrapped it")
        pytest.skip("uv is not installed")
    return found


class Advisories(BaseHTTPRequestHandler):
    """OSV's batch query and advisory lookup; `vulnerable` names the affected packages."""

    vulnerable: frozenset[str] = frozenset()

    def _answer(self, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        queries = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["queries"]
        self._answer(
            {
                "results": [
                    {"vulns": [{"id": ADVISORY["id"], "modified": ADVISORY["modified"]}]}
                    if query["package"]["name"] in self.vulnerable
                    else {}
                    for query in queries
                ]
            }
        )

    def do_GET(self) -> None:
        self._answer(ADVISORY)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def osv() -> Iterator[tuple[str, type[Advisories]]]:
    handler = type("Handler", (Advisories,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def run_audit(service_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--uv", uv_executable(), "--service-url", service_url],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_known_vulnerability_in_a_locked_package_fails(
    osv: tuple[str, type[Advisories]],
) -> None:
    url, handler = osv
    handler.vulnerable = frozenset({"django"})

    result = run_audit(url)

    assert result.returncode == 1, result.stdout
    assert "GHSA-mtch-0000-0001: Test advisory against the locked Django" in result.stdout
    assert "FAILED: a locked package has a known vulnerability" in result.stdout


def test_no_known_vulnerability_passes(osv: tuple[str, type[Advisories]]) -> None:
    url, _ = osv

    result = run_audit(url)

    assert result.returncode == 0, result.stdout
    assert "Found no known vulnerabilities" in result.stdout or "No known" in result.stdout


def test_an_unreachable_advisory_database_warns_and_passes() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    result = run_audit(f"http://127.0.0.1:{port}")

    assert result.returncode == 0, result.stdout
    assert "WARNING: the vulnerability database could not be reached" in result.stdout
    assert "NOT audited" in result.stdout
