"""No template of the project carries inline code: the Content-Security-Policy
(`SECURE_CSP`, script-src and style-src 'self') would block it in the browser. Scripts and
styles are files under static/; a behaviour is a `data-…` attribute its script looks for.

A `<script>` needs a `src`, except a data block (`type="application/json"`, what `json_script`
writes); no `<style>` element, no `style="…"` attribute, no `on…="…"` handler, no
`javascript:` URL and no `hx-on` (htmx evaluates those as code).
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)

SCRIPT = re.compile(r"<script\b(?P<attributes>[^>]*)>", re.IGNORECASE)
FORBIDDEN = {
    "a <style> element": re.compile(r"<style\b", re.IGNORECASE),
    "a style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "an inline event handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "an hx-on handler": re.compile(r"\s(?:data-)?hx-on", re.IGNORECASE),
}


def project_templates() -> list[Path]:
    folders = [ROOT / "templates", *ROOT.glob("*/templates"), *ROOT.glob("*/*/templates")]
    return sorted(path for folder in folders for path in folder.rglob("*.html"))


COMMENTS = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.DOTALL)


def inline_code(text: str) -> list[str]:
    text = COMMENTS.sub("", text)
    found = []
    for match in SCRIPT.finditer(text):
        attributes = match["attributes"]
        if "src=" not in attributes and "application/json" not in attributes:
            found.append(f"an inline script: {match[0]}")
    for what, pattern in FORBIDDEN.items():
        found += [f"{what}: {line.strip()}" for line in text.splitlines() if pattern.search(line)]
    return found


def test_the_templates_are_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in project_templates()}
    assert "templates/base.html" in names
    assert "matchpal/templates/matchpal/widgets/search_select.html" in names


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<script type="module">import "x"</script>',
        "<style>p { color: red }</style>",
        '<div class="x" style="width: 10%">',
        '<button onclick="go()">',
        "<body onload='go()'>",
        '<a href="javascript:go()">',
        '<form hx-on::after-request="go()">',
    ],
)
def test_inline_code_is_recognised(snippet: str) -> None:
    assert inline_code(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "<script src=\"{% static 'js/app.js' %}\" defer></script>",
        '<script type="application/json" id="data">{"a": 1}</script>',
        '<input data-select-on-focus readonly value="x">',
        '<div hx-get="/x" hx-trigger="every 2s">',
        "{# no <style> here #}",
    ],
)
def test_files_and_data_are_not_inline_code(snippet: str) -> None:
    assert inline_code(snippet) == []


def test_no_template_carries_inline_code() -> None:
    problems = [
        f"{path.relative_to(ROOT)}: {problem}"
        for path in project_templates()
        for problem in inline_code(path.read_text())
    ]
    assert problems == []
