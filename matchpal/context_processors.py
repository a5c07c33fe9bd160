from django.http import HttpRequest


def tenancy(request: HttpRequest) -> dict[str, object]:
    """The current organization and membership, for the base layout's navigation."""
    return {
        "organization": getattr(request, "organization", None),
        "membership": getattr(request, "membership", None),
    }
