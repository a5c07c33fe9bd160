"""`make run`: the whole app on one machine — migrate, seed once, web + Celery worker + beat.

With nothing configured it runs on SQLite under var/ and Kombu's filesystem broker; with
DATABASE_URL / REDIS_URL set it uses PostgreSQL and Redis. Ctrl-C stops everything it started.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def preparation(manage: list[str], *, debug: bool) -> list[list[str]]:
    """What runs before the servers start: migrate, seed once, and with DEBUG off collect the
    static files, since WhiteNoise then serves only STATIC_ROOT and the hashed-manifest storage
    fails every page (a 500 naming the missing manifest entry) until collectstatic has run."""
    commands = [[*manage, "migrate", "--noinput", "-v", "0"], [*manage, "seed_demo"]]
    if not debug:
        commands.append([*manage, "collectstatic", "--noinput", "-v", "0"])
    return commands


def main() -> int:
    port = os.environ.get("PORT", "8000")
    env = {
        **os.environ,
        "DEBUG": os.environ.get("DEBUG", "true"),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "matchpal.settings",
    }
    # `make run` prints emails unless an SMTP server is given, with DEBUG off too (where the
    # settings require that choice to be made explicitly).
    if not env.get("EMAIL_HOST"):
        env.setdefault("EMAIL_CONSOLE", "true")
    # The banner reads the demo logins from demo.seed, which imports models: set Django up
    # in this process too, with the children's environment (DEBUG on unless set, so no
    # SECRET_KEY is needed), before anything starts, so a failure here orphans no child.
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    from demo.seed import DEMO_ADMIN, DEMO_PASSWORD, PROVIDERS, STUDENTS

    manage = [PY, str(ROOT / "manage.py")]
    for command in preparation(manage, debug=settings.DEBUG):
        subprocess.run(command, env=env, check=True, cwd=ROOT)

    commands = {
        "web": [*manage, "runserver", f"0.0.0.0:{port}", "--noreload"],
        "worker": [
            PY,
            "-m",
            "celery",
            "-A",
            "matchpal",
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
        ],
        "beat": [PY, "-m", "celery", "-A", "matchpal", "beat", "--loglevel=INFO"],
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, cmd in commands.items():
        procs[name] = subprocess.Popen(cmd, env=env, cwd=ROOT)

    student = next(s for s in STUDENTS if s[4])
    print(
        f"""
  Matchpal is running: http://localhost:{port}/

  Demo logins (password for all: {DEMO_PASSWORD})
    admin     {DEMO_ADMIN}
    provider  {PROVIDERS[0][1]}
    student   {student[1]}

  Emails are printed here. Ctrl-C stops the web server, the worker and beat.
""",
        flush=True,
    )

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(
                    f"{name} exited with status {proc.returncode}; stopping the rest.",
                    file=sys.stderr,
                )
                stopping, code = True, proc.returncode or 1
                break
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 10
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    return code


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")
    sys.exit(main())
