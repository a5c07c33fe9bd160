"""Benchmark every page of every role of a center over HTTP, each beside `/healthz` in the same run.

Signs in as the center's admin, a provider and a student, discovers each role's pages by
following the links of its home (every tenant page a link reaches, once per URL name, plus the
last page of each paged list), warms them up (`--warmup` unmeasured rounds), then requests
every page `--repeat` times in rounds, each page
request followed by one to `/healthz` (page, healthz, page, healthz …), so both see the same
machine at the same moment. Prints a markdown table: p50 and p95 per page and role, the p95 of
the `/healthz` requests interleaved with it, their ratio, the page's size and (when this process
shares the server's database and sessions) its query count, with the load average at start and
end. `--compare-org` runs the same pages of a small center in the same rounds and adds the ratio
large ÷ small per page. Issue 11's bounds: each page's p95 ≤ 15× `/healthz` p95 and ≤ 1.5× the
same page on a small center; a ratio beyond its bound is marked ✗.

Without `--base-url` it starts gunicorn itself, as production runs (2 workers, `DEBUG=false`,
static files collected into a scratch folder), on the database of DATABASE_URL; with it, run
this script with the server's environment (DATABASE_URL, SECRET_KEY …) to get query counts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scale nice -n 5 .venv/bin/python \\
        scripts/bench_pages.py --org scale --password … --compare-org <small slug>

Not a test: nothing here asserts on time. It exits non-zero when a page did not answer 200.
Only GET requests are sent (and the sign-in POST); a GET changes nothing in Matchpal.
"""

import argparse
import http.client
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_webhooks import Client, ensure_loopback  # noqa: E402
from scripts.benchkit import cpu_model, percentile  # noqa: E402

ROLES = ("admin", "provider", "student")
HEALTHZ = "/healthz"
HEALTHZ_BOUND = 15.0  # a page's p95 ÷ the interleaved /healthz p95 (issue 11)
SMALL_BOUND = 1.5  # a page's p95 ÷ the same page's p95 on a small center (issue 11)
MAX_CRAWL = 300  # requests per role while discovering: a bound, not an expectation
# Pages of one object (a URL with an id) read for their links, per URL name: a session is
# requested, scheduled, one of a series, due to log, completed or disputed, each with its links.
OBJECT_INSTANCES = 8
LAST_PAGE = "?page=last"


# --- HTTP with a session ----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer (refused, reset, timed out)
    seconds: float
    body: bytes
    headers: dict[str, str]


class Browser(Client):
    """One connection per request (as bench_webhooks), carrying one signed-in user's cookies."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(base_url, timeout)
        self.cookies: dict[str, str] = {}

    def fetch(self, method: str, path: str, body: bytes | None = None) -> Answer:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        start = time.perf_counter()
        try:
            connection.request(method, self.prefix + path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
            seconds = time.perf_counter() - start
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            return Answer(response.status, seconds, content, dict(response.headers))
        except OSError:
            return Answer(0, time.perf_counter() - start, b"", {})
        finally:
            connection.close()

    def sign_in(self, email: str, password: str) -> None:
        """allauth's form, as a browser posts it: the CSRF token of the page, then a 302."""
        page = self.fetch("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        if page.status != 200 or token is None:
            sys.exit(f"The sign-in page answered {page.status} without a CSRF token.")
        form = {"csrfmiddlewaretoken": token[1].decode(), "login": email, "password": password}
        answer = self.fetch("POST", "/accounts/login/", urlencode(form).encode())
        if answer.status != 302 or "/accounts/" in answer.headers.get("Location", "/accounts/"):
            sys.exit(f"Could not sign in as {email} (answer {answer.status}): check the password.")


class Links(HTMLParser):
    """Every `<a href>` of a page, and every `hx-get` (what htmx requests as one types in a
    search field: an answer a person waits for too)."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for url in (attributes.get("href") if tag == "a" else None, attributes.get("hx-get")):
            if url:
                self.hrefs.append(url)


# --- Discovering each role's pages ------------------------------------------------------------


@dataclass
class Page:
    org: str
    role: str
    label: str  # the URL name, with LAST_PAGE for a paged list's last page
    path: str
    browser: Browser = field(repr=False)
    seconds: list[float] = field(default_factory=list)
    healthz: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    size: int = 0
    queries: int | None = None


def url_name(path: str) -> str | None:
    from django.urls import Resolver404, resolve

    try:
        return resolve(urlsplit(path).path).view_name
    except Resolver404:
        return None


def names_an_object(path: str) -> bool:
    """Whether the URL carries an object's id besides the organization's slug."""
    from django.urls import resolve

    return bool(set(resolve(urlsplit(path).path).kwargs) - {"org_slug"})


def page_count(body: bytes) -> int:
    """How many pages a paged list's first page says it has ("Page 1 of N"); 1 if unpaged."""
    total = re.search(rb"Page 1 of (\d+)", body)
    return int(total[1]) if total else 1


def last_page(path: str, body: bytes) -> str | None:
    """The URL of a paged list's last page, from its "Page 1 of N" and its "Next" link (the
    link names the page's query parameter and keeps the others), or None if unpaged."""
    total = re.search(rb"Page 1 of (\d+)", body)
    after = re.search(rb'href="([^"]*)"[^>]*>Next<', body)
    if total is None or after is None or int(total[1]) < 2:
        return None
    next_url = urlsplit(urljoin(path, after[1].decode().replace("&amp;", "&")))
    query = [(k, total[1].decode() if v == "2" else v) for k, v in parse_qsl(next_url.query)]
    return f"{next_url.path}?{urlencode(query)}"


def discover(browser: Browser, org: str, role: str) -> tuple[list[Page], list[str]]:
    """The role's pages: its home, then every tenant page its pages link to, breadth first,
    one URL per URL name (without its query string) to measure. The links of a page of one
    object depend on its state (a scheduled session links to "Log it", a proposal to
    "Decline", a student holding hours to "Release"), so up to OBJECT_INSTANCES of each are
    read for links; of those, the one whose list has the most pages is measured (the first met
    among equals), with its last page: which object a page's first link names moves with the
    clock (the student home's newest sessions), so the first met is sometimes one with a
    single page, and a paged one's last page was then missing from the run. Returns the pages
    and what answered other than 200 on the way."""
    home = f"/o/{org}/"
    queue, seen = [home], {home}
    taken: dict[str | None, int] = {url_name(home): 1}  # URL name → pages of it read or queued
    # URL name → (its pages, the URL measured, its last page's URL): the most paged read yet.
    measured: dict[str, tuple[int, str, str | None]] = {}
    problems: list[str] = []
    while queue and len(seen) - len(queue) <= MAX_CRAWL:
        path = queue.pop(0)
        name = url_name(path) or path
        answer = browser.fetch("GET", path)
        if answer.status != 200:
            problems.append(f"{role} GET {path} ({name}): {answer.status}")
            continue
        count = page_count(answer.body)
        if name not in measured or count > measured[name][0]:
            measured[name] = (count, path, last_page(path, answer.body))
        parser = Links()
        parser.feed(answer.body.decode("utf-8", "replace"))
        for href in parser.hrefs:
            target = urlsplit(urljoin(path, href)).path
            if urlsplit(href).netloc or not target.startswith(home) or target in seen:
                continue
            target_name = url_name(target)
            wanted = OBJECT_INSTANCES if target_name and names_an_object(target) else 1
            if target_name is not None and taken.get(target_name, 0) < wanted:
                taken[target_name] = taken.get(target_name, 0) + 1
                seen.add(target)
                queue.append(target)
    pages: list[Page] = []
    for name, (_, path, deep) in measured.items():  # in the order first met
        pages.append(Page(org, role, name, path, browser))
        if deep is not None:
            pages.append(Page(org, role, name + " " + LAST_PAGE, deep, browser))
    return pages, problems


def tenant_url_names() -> set[str]:
    """Every URL name under /o/<org_slug>/, from the resolver (as tests/isolation.py)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns: Sequence[Any], namespace: str | None, tenant: bool) -> Iterator[str]:
        for pattern in patterns:
            inside = tenant or str(pattern.pattern).startswith("o/")
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace
                qualified = f"{namespace}:{inner}" if namespace and inner else inner or namespace
                yield from walk(pattern.url_patterns, qualified, inside)
            elif isinstance(pattern, URLPattern) and inside and pattern.name:
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name

    return set(walk(get_resolver().url_patterns, None, False))


# --- Logins -----------------------------------------------------------------------------------


def default_login(org: str, role: str) -> str:
    """The member of that role with the most relationships behind their record (the admin: the
    first), so the provider's and the student's pages show as much as any of theirs do."""
    from django.db.models import Count, Q

    from matchpal.models import Membership

    members = Membership.objects.filter(organization__slug=org, role=role)
    if role in ("provider", "student"):
        records = f"user__{role}_records"
        members = members.annotate(
            n=Count(
                f"{records}__relationships", filter=Q(**{f"{records}__organization__slug": org})
            )
        )
    else:
        members = members.annotate(n=Count("pk"))
    member = members.order_by("-n", "pk").select_related("user").first()
    if member is None:
        sys.exit(f"No {role} in the organization “{org}”: pass --login {role}=EMAIL.")
    return member.user.email


def logins_of(org: str, given: list[str]) -> dict[str, str]:
    chosen = dict(item.split("=", 1) for item in given)
    unknown = set(chosen) - set(ROLES)
    if unknown:
        sys.exit(f"--login takes ROLE=EMAIL with ROLE one of {', '.join(ROLES)}.")
    return {role: chosen.get(role) or default_login(org, role) for role in ROLES}


# --- Measuring --------------------------------------------------------------------------------


def count_queries(page: Page, host: str) -> int | None:
    """The page's queries, rendered once in this process with the same session (None when this
    process does not share the server's database and sessions, or the page fails here)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    client = DjangoClient(HTTP_HOST=host)
    client.cookies[settings.SESSION_COOKIE_NAME] = page.browser.cookies.get(
        settings.SESSION_COOKIE_NAME, ""
    )
    try:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page.path)
    except Exception:  # a server error here is reported by the HTTP requests, not this count
        return None
    return len(queries) if response.status_code == 200 else None


def warm_up(pages: list[Page], rounds: int) -> None:
    """Rounds over every page, not measured: each gunicorn worker's database connection
    prepares a page's statements on first use, and PostgreSQL chooses between a prepared
    statement's generic and custom plans after its fifth execution on the connection
    (docs/performance.md, "Statements prepared per connection"). The measured rounds then see
    what a worker that has been serving sees, not its first requests."""
    for done in range(rounds):
        print(f"warm-up round {done + 1} of {rounds}", file=sys.stderr, flush=True)
        for page in pages:
            page.browser.fetch("GET", page.path)


def measure(pages: list[Page], health: Browser, repeat: int) -> None:
    """Rounds over every page, each request followed by one to /healthz; progress on stderr."""
    for done in range(repeat):
        print(f"round {done + 1} of {repeat}, {len(pages)} pages", file=sys.stderr, flush=True)
        for page in pages:
            answer = page.browser.fetch("GET", page.path)
            page.statuses.append(answer.status)
            page.seconds.append(answer.seconds)
            page.size = len(answer.body)
            page.healthz.append(health.fetch("GET", HEALTHZ).seconds)


# --- Serving (without --base-url) -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def production_environment() -> None:
    """What gunicorn and this process share: DEBUG off, one secret key (the session hash is
    signed with it, so the query counts here see the same session), static files collected
    into a scratch folder, cookies allowed over plain HTTP on loopback."""
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("EMAIL_CONSOLE", "true")  # DEBUG off needs a mailer: print
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["MATCHPAL_VAR_DIR"] = tempfile.mkdtemp(prefix="matchpal-bench-pages-")
    os.environ["SECURE_COOKIES"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")


@contextmanager
def gunicorn(workers: int) -> Iterator[str]:
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], check=True, cwd=ROOT)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "matchpal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        probe = Browser(url, timeout=5)
        deadline = time.monotonic() + 60
        while probe.fetch("GET", HEALTHZ).status != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("gunicorn did not start.")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        # The scratch folder production_environment() made for the collected static files.
        shutil.rmtree(os.environ["MATCHPAL_VAR_DIR"], ignore_errors=True)


# --- The report -------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def ratio(value: float, bound: float) -> str:
    return f"{value:.1f}" + (" ✗" if value > bound else "")


def report(
    pages: list[Page], compare: dict[tuple[str, str], Page], load: tuple[float, float]
) -> str:
    """The markdown table, with its header line (machine, load average, command)."""
    everything_healthz = [s for page in pages for s in page.healthz]
    lines = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_model()}, {os.cpu_count()} cores; "
        f"load average {load[0]:.1f} at start and {load[1]:.1f} at end; "
        f"/healthz p50 {ms(percentile(everything_healthz, 50))} ms, "
        f"p95 {ms(percentile(everything_healthz, 95))} ms over {len(everything_healthz)} "
        f"requests; `{shlex.join(['python', *sys.argv])}`.",
        "",
    ]
    head = "| page | role | n | p50 ms | p95 ms | /healthz p95 ms | ÷ /healthz | KiB | queries |"
    rule = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    if compare:
        head += " small p95 ms | ÷ small |"
        rule += "---:|---:|"
    lines += [head, rule]
    within = close = matched = 0
    for page in pages:
        p95, health95 = percentile(page.seconds, 95), percentile(page.healthz, 95)
        within += p95 <= HEALTHZ_BOUND * health95
        queries = "–" if page.queries is None else str(page.queries)
        row = (
            f"| `{page.label}` | {page.role} | {len(page.seconds)} | "
            f"{ms(percentile(page.seconds, 50))} | {ms(p95)} | {ms(health95)} | "
            f"{ratio(p95 / health95, HEALTHZ_BOUND)} | {page.size / 1024:.1f} | {queries} |"
        )
        if compare:
            small = compare.get((page.role, page.label))
            if small is None:
                row += " – | – |"
            else:
                small95 = percentile(small.seconds, 95)
                matched += 1
                close += p95 <= SMALL_BOUND * small95
                row += f" {ms(small95)} | {ratio(p95 / small95, SMALL_BOUND)} |"
        lines.append(row)
    lines += ["", f"{within} of {len(pages)} pages within {HEALTHZ_BOUND:g}× /healthz p95."]
    if compare:
        lines[-1] += (
            f" {close} of the {matched} the small center has too within {SMALL_BOUND:g}× of "
            "it there."
        )
    return "\n".join(lines)


# --- Main -------------------------------------------------------------------------------------


@dataclass
class Run:
    pages: list[Page]
    compared: list[Page]
    problems: list[str]
    unreached: list[str]
    table: str


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base-url", help="a running server (default: start gunicorn here)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (no --base-url)")
    parser.add_argument("--org", default="northside", help="the center's slug")
    parser.add_argument(
        "--login",
        action="append",
        default=[],
        metavar="ROLE=EMAIL",
        help="who signs in for a role (default: the member of that role with most relationships)",
    )
    parser.add_argument("--password", default=None, help="their password (default: the demo's)")
    parser.add_argument("--repeat", type=int, default=30, help="requests per page (K)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=12,
        help="unmeasured rounds first (default 12: each of 2 workers past a prepared "
        "statement's fifth execution)",
    )
    parser.add_argument("--only", default=None, help="a regex: only pages whose name or path match")
    parser.add_argument("--compare-org", default=None, help="a small center's slug, same pages")
    parser.add_argument("--compare-login", action="append", default=[], metavar="ROLE=EMAIL")
    parser.add_argument("--compare-password", default=None, help="default: --password")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 10_000:
        parser.error("--repeat must be 1..10000.")
    return args


def setup_django(serving: bool) -> None:
    if serving:
        production_environment()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "matchpal.settings")
    import django

    django.setup()


def run(args: argparse.Namespace, base_url: str) -> Run:
    """Sign in, discover, measure; the pages in the order of the table."""
    from demo.seed import DEMO_PASSWORD

    ensure_loopback(urlsplit(base_url).hostname or "")
    load_start = os.getloadavg()[0]
    password = args.password or DEMO_PASSWORD
    centers = [(args.org, logins_of(args.org, args.login), password)]
    if args.compare_org:
        logins = logins_of(args.compare_org, args.compare_login)
        centers.append((args.compare_org, logins, args.compare_password or password))

    found: dict[str, list[Page]] = {}
    problems: list[str] = []
    for org, logins, secret in centers:
        for role in ROLES:
            browser = Browser(base_url, timeout=120)
            browser.sign_in(logins[role], secret)
            pages, trouble = discover(browser, org, role)
            found.setdefault(org, []).extend(pages)
            problems += [f"{org}: {line}" for line in trouble]
    only = re.compile(args.only) if args.only else None
    chosen = {
        org: [p for p in pages if only is None or only.search(p.label) or only.search(p.path)]
        for org, pages in found.items()
    }
    pages, compared = chosen[args.org], chosen.get(args.compare_org or "", [])
    if not pages:
        sys.exit(f"No page of {args.org} matches --only {args.only!r}.")
    reached = {p.label for p in found[args.org]}
    unreached = sorted(tenant_url_names() - reached)

    host = urlsplit(base_url).hostname or "127.0.0.1"
    for page in pages:
        page.queries = count_queries(page, host)
    warm_up(pages + compared, args.warmup)
    measure(pages + compared, Browser(base_url, timeout=120), args.repeat)
    problems += [
        f"{page.org}: {page.role} GET {page.path} ({page.label}): {status}"
        for page in pages + compared
        for status in sorted(set(page.statuses) - {200})
    ]
    table = report(
        pages,
        {(p.role, p.label): p for p in compared},
        (load_start, os.getloadavg()[0]),
    )
    return Run(pages, compared, problems, unreached, table)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    setup_django(serving=args.base_url is None)
    with gunicorn(args.workers) if args.base_url is None else _given(args.base_url) as base_url:
        result = run(args, base_url)
    print(f"\n### Page benchmark — {args.org}\n")
    print(result.table)
    if result.unreached:
        print(
            "\nTenant URL names no link of the three roles reached (actions answer POST only; "
            "others need an object in a state this center lacks): "
            + ", ".join(f"`{name}`" for name in result.unreached)
            + "."
        )
    if result.problems:
        print("\nNot answered 200:\n" + "\n".join(f"- {line}" for line in result.problems))
    return 1 if result.problems else 0


@contextmanager
def _given(base_url: str) -> Iterator[str]:
    yield base_url.rstrip("/")


if __name__ == "__main__":
    sys.exit(main())
