from collections.abc import Mapping

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    """After sign-in, go back to a pending invitation if one brought the person here."""

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        token = request.session.get("pending_invitation")
        if token:
            return reverse("invitation_accept", args=[token])
        url: str = super().get_login_redirect_url(request)
        return url

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        return self.get_login_redirect_url(request)


# The fields a sign-in names its account in, in order: axes' own credentials and the admin
# login use `username`, allauth authenticates with `email` and posts its form as `login`.
_ACCOUNT_FIELDS = ("username", "email", "login")


def axes_username(request: HttpRequest | None, credentials: dict[str, object] | None) -> str:
    """The account a sign-in attempt is for, as django-axes counts it (AXES_USERNAME_CALLABLE).

    Without this, axes looks for `username` only: allauth's failures would all be counted under
    an empty name, so a few wrong passwords for one person would lock every account out of the
    sign-in page from that address. Lowercased because the login is an email address that is
    unique whatever its case: "Ada@x" and "ada@x" are one account and one counter.
    """
    sources: list[Mapping[str, object]] = [credentials or {}]
    if request is not None:
        sources.append(request.POST)
    for source in sources:
        for field in _ACCOUNT_FIELDS:
            value = source.get(field)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return ""
