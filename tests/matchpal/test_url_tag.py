"""`{% url %}` with its results kept per process (`matchpal.templatetags.urls`) writes what
Django's tag writes, under the URL configuration and prefix in force (docs/performance.md,
"The lists within 15x /healthz")."""

import uuid

import pytest
from django.template import Context, Engine, Template
from django.urls import NoReverseMatch, clear_script_prefix, set_script_prefix

from matchpal.templatetags import urls

TEXT = (
    "{% url 'org_home' slug %}|{% url 'students:detail' slug id %}|"
    "{% url 'students:detail' org_slug=slug public_id=id %}|{% url name slug as link %}{{ link }}|"
    "{% url 'nothing:here' as missing %}[{{ missing }}]"
)


def both(context: dict[str, object]) -> tuple[str, str]:
    """The text rendered by the project's engine and by a plain one with Django's own tag."""
    ours = Template(TEXT).render(Context(context))
    django = Engine(builtins=[]).from_string(TEXT).render(Context(context))
    return ours, django


@pytest.mark.parametrize("slug", ["center", "a-b", "x9"])
def test_the_kept_urls_are_djangos(slug: str) -> None:
    context = {"slug": slug, "id": uuid.uuid4(), "name": "members"}
    for _ in range(2):  # the second time from the cache
        ours, django = both(context)
        assert ours == django
    assert f"/o/{slug}/" in ours


def test_a_script_prefix_is_part_of_the_key() -> None:
    context = {"slug": "center", "id": uuid.uuid4(), "name": "members"}
    plain, _ = both(context)
    set_script_prefix("/mounted/")
    try:
        ours, django = both(context)
    finally:
        clear_script_prefix()
        set_script_prefix("/")
    assert ours == django
    assert ours != plain
    assert "/mounted/o/center/" in ours


def test_other_arguments_and_unknown_names_go_to_djangos_tag() -> None:
    # A bool is equal to 1 as a cache key but reverses to "True"; a lazy or model argument is
    # not kept either.
    assert not urls._fixed(True)
    assert not urls._fixed(1.5)
    assert urls._fixed("a")
    assert urls._fixed(3)
    assert urls._fixed(uuid.uuid4())
    with pytest.raises(NoReverseMatch):
        Template("{% url 'nothing:here' %}").render(Context({}))


def test_the_tag_escapes_as_djangos() -> None:
    text = "{% url 'org_home' slug %}"
    context = {"slug": "a&b"}
    with pytest.raises(NoReverseMatch):
        Template(text).render(Context(context))
    with pytest.raises(NoReverseMatch):
        Engine(builtins=[]).from_string(text).render(Context(context))
