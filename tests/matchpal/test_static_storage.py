"""The static files' storage with DEBUG off (matchpal/static_storage.py): WhiteNoise's
compressed manifest, each URL worked out once per process. The URLs are WhiteNoise's, a new
`collectstatic` gives the new ones, and a name missing from the manifest stays an error."""

from pathlib import Path

import pytest
from django.conf import LazySettings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.template import engines
from whitenoise.storage import CompressedManifestStaticFilesStorage

from matchpal.static_storage import StaticFilesStorage


@pytest.fixture
def collected(tmp_path: Path, settings: LazySettings) -> Path:
    source = tmp_path / "source"
    (source / "css").mkdir(parents=True)
    (source / "css" / "site.css").write_text("body { color: black; }\n")
    (source / "js").mkdir()
    (source / "js" / "app.js").write_text("console.log('one');\n")
    settings.DEBUG = False
    settings.STATICFILES_DIRS = [source]
    settings.STATIC_ROOT = tmp_path / "root"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "matchpal.static_storage.StaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    return source


def test_the_urls_are_whitenoises_and_kept(collected: Path, settings: LazySettings) -> None:
    ours = StaticFilesStorage()
    theirs = CompressedManifestStaticFilesStorage()
    for name in ("css/site.css", "js/app.js"):
        assert ours.url(name) == theirs.url(name)
        assert ours.url(name) is ours.url(name)  # the kept string, not worked out again
        assert ours.url(name) != f"/static/{name}"  # the hashed name
    assert ours.url("css/site.css", force=True) == theirs.url("css/site.css", force=True)


def test_the_static_tag_writes_the_hashed_url(collected: Path) -> None:
    template = engines["django"].from_string("{% load static %}{% static 'js/app.js' %}")
    assert template.render() == CompressedManifestStaticFilesStorage().url("js/app.js")
    assert isinstance(staticfiles_storage._wrapped, StaticFilesStorage)  # type: ignore[attr-defined]


def test_a_new_collectstatic_gives_the_new_urls(collected: Path) -> None:
    before = staticfiles_storage.url("js/app.js")
    (collected / "js" / "app.js").write_text("console.log('two');\n")
    call_command("collectstatic", interactive=False, verbosity=0)
    after = staticfiles_storage.url("js/app.js")
    assert after != before
    assert after == CompressedManifestStaticFilesStorage().url("js/app.js")


def test_a_name_missing_from_the_manifest_stays_an_error(collected: Path) -> None:
    ours = StaticFilesStorage()
    for _ in range(2):
        with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
            ours.url("css/nowhere.css")


def test_with_debug_on_the_plain_name_is_not_mixed_with_the_hashed_one(
    collected: Path, settings: LazySettings
) -> None:
    ours = StaticFilesStorage()
    hashed = ours.url("css/site.css")
    settings.DEBUG = True
    assert ours.url("css/site.css") == "/static/css/site.css"
    settings.DEBUG = False
    assert ours.url("css/site.css") == hashed != "/static/css/site.css"
