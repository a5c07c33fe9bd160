"""The one exception family that services raise. Its message is fit to show a person."""


class DomainError(Exception):
    """A rule of the domain refused the action; `str(error)` explains it to the user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class PermissionDeniedError(DomainError):
    """The acting user's role may not do this."""


class ConflictError(DomainError):
    """The object's state does not allow the action (already done, last admin, …)."""
