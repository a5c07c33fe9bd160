"""Path converters. `<token:…>` matches only the alphabet our secret tokens are made of
(`secrets.token_urlsafe` and letters/digits), at most 100 characters, so a NUL byte or other
junk in a token URL is a 404 before any database lookup."""

from django.urls import register_converter


class TokenConverter:
    regex = r"[A-Za-z0-9_-]{1,100}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TokenConverter, "token")
