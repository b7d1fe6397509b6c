"""Typed errors of the calendar APIs: each keeps the status, the API's error code and message,
the request (method and path, never headers or credentials) and the response body."""

from __future__ import annotations

from typing import Any


class CalendarApiError(Exception):
    """An API call failed; ``status`` is None when no HTTP response came back."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        self.request_id = request_id
        self.body = body
        where = f"{method} {path}" if method else "request"
        status_text = f"HTTP {status}" if status is not None else "no response"
        code_text = f" {code}" if code else ""
        super().__init__(f"{where} failed: {status_text}{code_text}: {message}")


class AuthenticationError(CalendarApiError):
    """Credentials were refused (bad password, key, client secret, or an expired token)."""


class PermissionDeniedError(CalendarApiError):
    """Authenticated, but not allowed (missing scope, not a calendar member, private event)."""


class NotFoundError(CalendarApiError):
    """The user, calendar or event does not exist."""


class ConflictError(CalendarApiError):
    """The resource already exists (a LINE WORKS create with an existing client eventId)."""


class ValidationError(CalendarApiError):
    """The API rejected the request as invalid; retrying the same request cannot help."""


class RateLimitedError(CalendarApiError):
    """HTTP 429; ``reset_after`` is the seconds until the server's window resets, when it said so."""

    retryable = True

    def __init__(self, message: str, *, reset_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reset_after = reset_after


class TlsVerificationError(CalendarApiError):
    """The server's TLS certificate was refused; retrying cannot help. Fix the certificate, give the connection
    extra ``verify`` the path of a CA bundle that trusts it, or (test servers only) set ``verify`` to false."""


class TransientError(CalendarApiError):
    """A 5xx, a reset connection or a timeout: the request may or may not have been applied."""

    retryable = True
