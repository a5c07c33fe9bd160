from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    """After sign-in, go back to a pending invitation if one brought the person here."""

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        token = request.session.get("pending_invitation")
        if token:
            return reverse("invitation_accept", args=[token])
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        return self.get_login_redirect_url(request)
