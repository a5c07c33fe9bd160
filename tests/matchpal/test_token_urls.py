"""A token URL with a NUL byte or other junk is a 404, never a database error."""

import pytest
from django.test import Client

JUNK = ["%00", "a%00b", "%0A", "x%20y", "%C3%A9", "a" * 101]


@pytest.mark.django_db
@pytest.mark.parametrize("junk", JUNK)
@pytest.mark.parametrize("prefix", ["/invitations/", "/hooks/woocommerce/"])
def test_a_token_outside_the_alphabet_is_not_found(prefix: str, junk: str) -> None:
    client = Client()
    assert client.get(f"{prefix}{junk}/").status_code == 404
    assert (
        client.post(f"{prefix}{junk}/", b"{}", content_type="application/json").status_code == 404
    )
    if prefix.startswith("/hooks/"):
        assert (
            client.post(f"{prefix}{junk}", b"{}", content_type="application/json").status_code
            == 404
        )
