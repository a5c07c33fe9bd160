"""Audit the locked packages (uv.lock) for known vulnerabilities: `uv audit` against OSV.

    python scripts/audit_dependencies.py [--uv PATH] [--service-url URL]

Exit status 0 when no locked package has a known vulnerability, 1 when one has (the advisories
are printed). When the advisory database cannot be reached (a machine whose network reaches only
the package indexes), it prints a warning and exits 0: the audit did not run, it did not pass,
and the warning says so. Any other failure of `uv audit` (a lock out of date…) exits 1.
"""

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What uv prints when the request to the advisory service never got an answer.
UNREACHABLE = re.compile(
    r"error sending request|Request failed after|dns error|error resolving|Connect\)|"
    r"connection refused|timed out|operation timed out",
    re.IGNORECASE,
)


def find_uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    bootstrapped = ROOT / ".tools" / "bin" / "uv"
    if bootstrapped.exists():
        return str(bootstrapped)
    raise SystemExit("uv is not installed (make bootstraps it into .tools/bin/uv)")


def audit(uv: str, service_url: str | None) -> int:
    command = [uv, "audit", "--frozen", "--preview-features", "audit-command"]
    if service_url:
        command += ["--service-url", service_url]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    output = (result.stdout + result.stderr).strip()
    if result.returncode == 0:
        print(output or "No known vulnerability in the locked packages.")
        return 0
    if result.returncode == 1:
        print(output)
        print("\nFAILED: a locked package has a known vulnerability (above): upgrade it.")
        return 1
    if UNREACHABLE.search(output):
        print(output)
        print(
            "\nWARNING: the vulnerability database could not be reached, so the locked "
            "packages were NOT audited. Run this again where the network reaches "
            f"{service_url or 'https://api.osv.dev'}."
        )
        return 0
    print(output)
    print(f"\nFAILED: uv audit stopped with exit status {result.returncode}.")
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uv", help="the uv executable (default: from PATH, else .tools/bin/uv)")
    parser.add_argument("--service-url", help="an OSV-compatible service (default: OSV's own)")
    args = parser.parse_args()
    return audit(args.uv or find_uv(), args.service_url)


if __name__ == "__main__":
    sys.exit(main())
