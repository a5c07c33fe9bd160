"""`{% url %}` with its results kept per process: a built-in library of the template engine
(`TEMPLATES[…]["OPTIONS"]["builtins"]`), so it replaces Django's tag in every template.

Every tenant page writes the navigation's links (`base.html` has over thirty `{% url %}`, most
of them `{% url 'name' organization.slug %}`), each one a `reverse()` walking the URL
resolver's patterns, on every request, for the same few answers. This tag reverses a name and
its arguments once and keeps the URL (`_reverse`, a bounded LRU cache), keyed by everything
`reverse` reads besides them: the URL configuration in force, the script prefix, the language
and the current application namespace. Only arguments whose text cannot change are kept
(strings, integers, UUIDs); anything else (a model instance, a lazy string) and a name that
does not reverse go to Django's tag, whose output this one writes exactly
(tests/matchpal/test_url_tag.py).
"""

import uuid
from functools import lru_cache
from typing import Any

from django import template
from django.template.base import Parser, Token
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.translation import get_language

register = template.Library()

# The argument types whose URL text is fixed by their value. Not bool: True is a key equal to 1
# in the cache, though it reverses to "True".
FIXED = (str, int, uuid.UUID)


def _fixed(value: object) -> bool:
    return isinstance(value, FIXED) and not isinstance(value, bool)


@lru_cache(maxsize=4096)
def _reverse(
    view_name: str,
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
    current_app: str | None,
    urlconf: str | None,
    prefix: str,
    language: str | None,
) -> str:
    """`reverse()` of a name and fixed arguments, under the URL configuration and prefix given
    (those in force when called, as the cache key says). A name that does not reverse raises,
    and nothing is kept."""
    return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)


def cached_reverse(view_name: str, args: tuple[Any, ...] = ()) -> str:
    """`reverse(view_name, args=args)` kept per process (arguments strings, integers, UUIDs)."""
    return _reverse(view_name, args, (), None, get_urlconf(), get_script_prefix(), get_language())


class CachedURLNode(URLNode):
    def render(self, context: template.Context) -> str:
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple((k, v.resolve(context)) for k, v in self.kwargs.items())
        view_name = self.view_name.resolve(context)
        if not (
            isinstance(view_name, str)
            and all(_fixed(a) for a in args)
            and all(_fixed(v) for _, v in kwargs)
        ):
            return str(super().render(context))
        try:
            current_app = context.request.current_app  # type: ignore[attr-defined]
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace  # type: ignore[attr-defined]
            except AttributeError:
                current_app = None
        try:
            url = _reverse(
                view_name,
                args,
                kwargs,
                current_app,
                get_urlconf(),
                get_script_prefix(),
                get_language(),
            )
        except NoReverseMatch:  # Django's tag decides: raise, or `as var` gets ""
            return str(super().render(context))
        if self.asvar:
            context[self.asvar] = url
            return ""
        return str(conditional_escape(url)) if context.autoescape else url


@register.tag
def url(parser: Parser, token: Token) -> CachedURLNode:
    """Django's `{% url %}`, parsed by Django's own code, its result kept (see the module)."""
    node = django_url(parser, token)
    return CachedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
