"""The app boots and serves itself: a role home with real data, and the front-end assets served
by WhiteNoise from static/ (vendored, never a CDN)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.test import Client

from tests.support import Tenant

ROOT = Path(__file__).resolve().parent.parent
VENDORED = {
    # URL path → the file it must serve, and its content type.
    "/static/vendor/bootstrap/bootstrap.min.css": (
        "static/vendor/bootstrap/bootstrap.min.css",
        "text/css",
    ),
    "/static/vendor/bootstrap/bootstrap.bundle.min.js": (
        "static/vendor/bootstrap/bootstrap.bundle.min.js",
        "text/javascript",
    ),
    "/static/vendor/htmx/htmx.min.js": ("static/vendor/htmx/htmx.min.js", "text/javascript"),
    "/static/css/app.css": ("static/css/app.css", "text/css"),
    # Every page's search fields (matchpal/search.py).
    "/static/js/search-select.js": ("static/js/search-select.js", "text/javascript"),
}


@pytest.mark.django_db
def test_admin_home_shows_real_counts(admin_client_a, tenant_a: Tenant) -> None:
    response = admin_client_a.get(f"/o/{tenant_a.organization.slug}/")
    assert response.status_code == 200
    assert response.context["students"]["active"] == 1
    assert response.context["providers"]["active"] == 1


# --- Static assets ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(VENDORED))
def test_whitenoise_serves_the_vendored_assets(path: str) -> None:
    source, content_type = VENDORED[path]

    response = Client().get(path)

    assert response.status_code == 200
    # WhiteNoise answers before any view (the URLconf has no static route at all).
    assert type(response).__module__.startswith("whitenoise")
    assert response["Content-Type"].split(";")[0] == content_type
    assert b"".join(response.streaming_content) == (ROOT / source).read_bytes()


def test_the_base_layout_links_the_vendored_assets(db: None) -> None:
    html = Client().get("/accounts/login/").content.decode()

    for path in VENDORED:
        assert f'"{path}"' in html, path


# --- Nothing is fetched from another site -------------------------------------------------------
#
# The app works offline: a page must never make the browser fetch from a CDN. Templates may not
# name an absolute URL at all, except on the reserved example domains (RFC 2606) that sample text
# uses. Stylesheets and scripts, vendored ones included, may mention URLs (licence comments, the
# SVG namespace, links in error messages) but may not load one: no url(), @import, import(),
# fetch() or source map of an absolute URL, and no well-known CDN host anywhere.

CDN_HOSTS = re.compile(
    r"cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|code\.jquery\.com|"
    r"fonts\.(?:googleapis|gstatic)\.com|ajax\.googleapis\.com|(?:stackpath|maxcdn)\.bootstrapcdn"
    r"\.com|cdn\.tailwindcss\.com|use\.fontawesome\.com|kit\.fontawesome\.com",
    re.IGNORECASE,
)
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//(?P<host>[a-z0-9.-]+\.[a-z]{2,})""", re.IGNORECASE)
RESERVED_HOSTS = re.compile(
    r"(?:^|\.)(?:example\.(?:com|net|org)|[a-z0-9-]+\.(?:example|test|invalid|localhost))$"
)
# What makes a stylesheet or a script load something: url(…), @import "…", import(…) or
# `from "…"`, fetch(…), importScripts(…), a sourceMappingURL comment.
LOADS = re.compile(
    r"""(?:url\(\s*|@import\s+(?:url\()?\s*|\bimport\s*\(\s*|\bfrom\s+|\bfetch\s*\(\s*|"""
    r"""importScripts\s*\(\s*|sourceMappingURL=)["']?\s*(?:https?:)?//""",
    re.IGNORECASE,
)


def external_references(path: Path, text: str) -> list[str]:
    found = [f"{path}: CDN host {m.group(0)}" for m in CDN_HOSTS.finditer(text)]
    if path.suffix in (".css", ".js"):
        found += [f"{path}: loads {text[m.start() : m.end() + 40]!r}" for m in LOADS.finditer(text)]
    else:
        for match in ABSOLUTE_URL.finditer(text):
            # "//" after a scheme-less word (a comment marker, "a//b") is not a URL.
            if match.group(0).startswith("//") and text[max(0, match.start() - 1)] not in "\"'( =":
                continue
            if not RESERVED_HOSTS.search(match["host"].lower()):
                found.append(f"{path}: names {match.group(0)}")
    return found


def _front_end_files() -> list[Path]:
    templates = [p for p in (ROOT / "templates").rglob("*") if p.suffix in (".html", ".txt")]
    assets = [p for p in (ROOT / "static").rglob("*") if p.suffix in (".css", ".js")]
    return sorted(templates + assets)


def test_no_template_or_static_file_loads_anything_from_another_site() -> None:
    files = _front_end_files()
    assert any(p.name == "base.html" for p in files)
    assert any(p.name == "bootstrap.min.css" for p in files)

    found = [
        problem
        for path in files
        for problem in external_references(path.relative_to(ROOT), path.read_text())
    ]

    assert found == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("base.html", '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap.css">'),
        ("base.html", '<script src="//unpkg.com/htmx.org"></script>'),
        ("page.html", '<img src="http://images.example-cdn.io/logo.png">'),
        ("page.html", '<a href="https://getbootstrap.com/">docs</a>'),
        ("app.css", "@import url('https://fonts.googleapis.com/css2?family=Inter');"),
        ("app.css", 'body { background: url("//assets.othersite.net/bg.png"); }'),
        ("app.js", 'import("https://esm.sh/lodash")'),
        ("app.js", "fetch('https://api.othersite.net/x')"),
        ("app.js", "//# sourceMappingURL=https://maps.othersite.net/app.js.map"),
    ],
)
def test_the_scan_finds_external_references(name: str, text: str) -> None:
    assert external_references(Path(name), text) != []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("email.txt", "Open {{ accept_url }} to join."),
        ("form.html", '<input placeholder="https://shop.example.com/">'),
        (
            "app.css",
            'a { background: url("data:image/svg+xml,'
            "<svg xmlns='http://www.w3.org/2000/svg'>\") }",
        ),
        ("app.js", "/*! Licensed MIT (https://github.com/twbs/bootstrap/blob/main/LICENSE) */"),
        ("app.js", "//# sourceMappingURL=bootstrap.bundle.min.js.map"),
        ("page.html", "{# a // comment #}"),
    ],
)
def test_the_scan_lets_through_what_loads_nothing(name: str, text: str) -> None:
    assert external_references(Path(name), text) == []


# --- The production path: DEBUG off, hashed static files -----------------------------------------

PROBE = """
import re, sys
import django
django.setup()
from django.test import Client
client = Client(raise_request_exception=False)
page = client.get("/accounts/login/")
print(page.status_code)
for path in re.findall(r'"(/static/[^"]+)"', page.content.decode()):
    asset = client.get(path)
    print(path, asset.status_code, asset.get("Cache-Control", ""))
"""


def _production(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run with the settings of a deployment (DEBUG off, WhiteNoise's manifest storage) on an
    empty var/ of its own, so nothing of the work tree or the test settings leaks in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "MATCHPAL_", "DATABASE_", "REDIS_", "DEBUG"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "matchpal.settings",
        "DEBUG": "false",
        "SECRET_KEY": "production-path-test",
        "MATCHPAL_VAR_DIR": str(var_dir),
        "ALLOWED_HOSTS": "testserver",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_with_debug_off_pages_need_collectstatic_then_serve_hashed_assets(tmp_path: Path) -> None:
    before = _production(tmp_path, "-c", PROBE)
    # Without collectstatic the manifest storage fails every page that links an asset.
    assert before.stdout.splitlines()[0] == "500", before.stderr[-2000:]
    assert "Missing staticfiles manifest entry" in before.stderr

    collected = _production(tmp_path, "manage.py", "collectstatic", "--noinput", "-v", "0")
    assert collected.returncode == 0, collected.stderr
    after = _production(tmp_path, "-c", PROBE).stdout.splitlines()

    assert after[0] == "200"
    assets = [line.split(" ", 2) for line in after[1:]]
    assert len(assets) == len(VENDORED)
    for path, status, cache in assets:
        # Content-hashed names, served by WhiteNoise with a far-future cache lifetime.
        assert re.fullmatch(r"/static/[\w/.-]+\.[0-9a-f]{12}\.(?:css|js)", path), path
        assert (status, cache) == ("200", "max-age=315360000, public, immutable"), path


def _run_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("matchpal_run_script", ROOT / "scripts/run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("debug", "collects"), [(True, False), (False, True)])
def test_make_run_collects_static_files_when_debug_is_off(debug: bool, collects: bool) -> None:
    commands = _run_script().preparation(["manage.py"], debug=debug)

    assert commands[:2] == [
        ["manage.py", "migrate", "--noinput", "-v", "0"],
        ["manage.py", "seed_demo"],
    ]
    assert (["manage.py", "collectstatic", "--noinput", "-v", "0"] in commands) is collects
