"""Domain errors of :mod:`app`; they become HTTP responses only in :mod:`app.api.errors`."""

from __future__ import annotations


class AppError(Exception):
    """An error with a stable ``code``, a human ``message`` and an HTTP ``status``."""

    code = "error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(AppError):
    code = "not_found"
    status = 404


class Conflict(AppError):
    code = "conflict"
    status = 409


class InvalidInput(AppError):
    code = "invalid_input"
    status = 422


class NotImplementedYet(AppError):
    code = "not_implemented"
    status = 501


class Unauthorized(AppError):
    code = "unauthorized"
    status = 401


class Forbidden(AppError):
    code = "forbidden"
    status = 403


class CsrfFailed(Forbidden):
    """A state-changing request signed in by the reader's cookie without its CSRF token."""

    code = "csrf_failed"


class RateLimited(AppError):
    """Too many attempts; ``retry_after`` seconds until the next is allowed."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
