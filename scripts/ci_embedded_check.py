"""CI check of the embedded path: `make run` on a bare configuration serves the demo admin.

Starts the command (default `make run`) in its own process group, on a free port, with a new,
empty MATCHPAL_VAR_DIR and no DATABASE_URL/REDIS_URL (so SQLite and the file broker); waits for
/healthz; signs in as the demo admin over HTTP and checks the admin dashboard; then sends SIGINT
to the process group and checks that every process of it (web, Celery worker, beat) exited.

    python scripts/ci_embedded_check.py [--timeout 180] [-- make run UV=.tools/bin/uv]

Standard library only, so it runs before or without the project's virtualenv. Exit status 0
when every step passed.
"""

import argparse
import contextlib
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_SLUG = "northside"
DEMO_ADMIN = "admin@northside.example"
DEMO_PASSWORD = "matchpal-demo"
# What each long-running process of `make run` looks like on its command line.
EXPECTED = {
    "web": re.compile(r"manage\.py runserver"),
    "worker": re.compile(r"celery -A matchpal worker"),
    "beat": re.compile(r"celery -A matchpal beat"),
}


class CheckFailed(Exception):
    pass


def log(message: str) -> None:
    print(f"[embedded] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def group_processes(pgid: int) -> dict[int, str]:
    """pid → command line of every live process in process group `pgid`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # Fields after the parenthesised command name: state, ppid, pgrp, …
            state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
            if int(pgrp) != pgid or state == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = cmdline
    return found


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CheckFailed(f"`make run` exited with status {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    raise CheckFailed(f"{url} did not answer within {timeout:.0f}s")


def sign_in_and_check_dashboard(base: str) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_url = f"{base}/accounts/login/"
    with opener.open(login_url, timeout=30) as response:
        page = response.read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not match:
        raise CheckFailed("no CSRF token on the sign-in page")
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": match.group(1),
            "login": DEMO_ADMIN,
            "password": DEMO_PASSWORD,
        }
    ).encode()
    request = urllib.request.Request(login_url, data=form, headers={"Referer": login_url})
    with opener.open(request, timeout=60) as response:
        final_url, body = response.geturl(), response.read().decode()
    expected_url = f"{base}/o/{DEMO_SLUG}/"
    if final_url != expected_url:
        raise CheckFailed(f"signing in led to {final_url}, not {expected_url}")
    for text in ("Active students", "Northside Learning Center"):
        if text not in body:
            raise CheckFailed(f"the admin home does not show {text!r}")
    log(f"signed in as {DEMO_ADMIN}; {final_url} shows the admin dashboard")


def stop(proc: subprocess.Popen[bytes], pgid: int, timeout: float) -> None:
    os.killpg(pgid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None and not group_processes(pgid):
            log(f"SIGINT stopped every process (make exited with status {proc.returncode})")
            return
        time.sleep(0.5)
    left = group_processes(pgid)
    raise CheckFailed(
        f"{len(left)} process(es) still running {timeout:.0f}s after SIGINT: "
        + "; ".join(f"{pid}: {cmd}" for pid, cmd in left.items())
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for the URL")
    parser.add_argument(
        "command",
        nargs="*",
        default=["make", "run"],
        help="what starts the app (after --); default: make run",
    )
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    var_dir = Path(tempfile.mkdtemp(prefix="matchpal-embedded-"))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(PORT=str(port), MATCHPAL_VAR_DIR=str(var_dir))
    log_path = var_dir.parent / f"{var_dir.name}.log"
    log(f"starting `{' '.join(args.command)}` on port {port} with MATCHPAL_VAR_DIR={var_dir}")
    started = time.monotonic()
    with open(log_path, "wb") as output:
        proc = subprocess.Popen(
            args.command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pgid = proc.pid
    ok = False
    try:
        wait_until_up(f"{base}/healthz", proc, args.timeout)
        log(f"{base}/healthz answered after {time.monotonic() - started:.0f}s")
        sign_in_and_check_dashboard(base)
        running = group_processes(pgid).values()
        missing = [
            name
            for name, pattern in EXPECTED.items()
            if not any(pattern.search(cmd) for cmd in running)
        ]
        if missing:
            raise CheckFailed(f"not running: {', '.join(missing)}")
        log("web, worker and beat are running")
        stop(proc, pgid, timeout=40)
        ok = True
    except CheckFailed as error:
        log(f"FAILED: {error}")
    finally:
        if group_processes(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if not ok:
            log(f"output of `{' '.join(args.command)}` (last 60 lines):")
            lines = log_path.read_text(errors="replace").splitlines()
            print("\n".join(lines[-60:]), flush=True)
        shutil.rmtree(var_dir, ignore_errors=True)
        log_path.unlink(missing_ok=True)
    log("passed" if ok else "failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
