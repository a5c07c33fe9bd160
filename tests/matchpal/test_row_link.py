"""`{% row_link %}` and `|with_id`: a list's row links reversed once per page give exactly what
`{% url %}` gives for each row (docs/performance.md, "Per-request cost")."""

import uuid

import pytest
from django.template import Context, Template

from matchpal.templatetags.matchpal_tags import row_link, with_id

ROWS = Template(
    "{% load matchpal_tags %}{% row_link 'sessions_app:edit' slug as edit %}"
    "{% for id in ids %}<a href=\"{{ edit|with_id:id }}\">{% url 'sessions_app:edit' slug id %}"
    "</a>{% endfor %}"
)


@pytest.mark.parametrize("slug", ["center", "a-b-c", "x9"])
def test_each_rows_link_is_the_one_url_reverses(slug: str) -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    html = ROWS.render(Context({"slug": slug, "ids": ids}))
    for public_id in ids:
        url = f"/o/{slug}/sessions/{public_id}/edit/"
        assert f'<a href="{url}">{url}</a>' in html


def test_only_a_uuid_fills_the_link() -> None:
    link = row_link("students:detail", "center")
    with pytest.raises(ValueError, match="badly formed"):
        with_id(link, '"><script>')
