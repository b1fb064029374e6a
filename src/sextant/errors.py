"""Typed errors. Each maps to one HTTP status and carries a message that says what to do next."""

from __future__ import annotations


class SextantError(Exception):
    """Base class: `status` is the HTTP status the error maps to."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(SextantError):
    """The project directory or its `sextant.yaml` is missing or invalid."""

    status = 500


class WarehouseError(SextantError):
    """The warehouse could not be opened, migrated or written."""

    status = 500


class AuthError(SextantError):
    """A missing, unknown or revoked key."""

    status = 401


class PayloadTooLarge(SextantError):
    """A request or one of its events is over the configured size limit."""

    status = 413

    def __init__(self, message: str, close_connection: bool = False) -> None:
        super().__init__(message)
        # Set when the body was not read to its end, so the connection cannot carry another request.
        self.close_connection = close_connection


class RateLimited(SextantError):
    """A key sent more requests than its rate limit allows."""

    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(SextantError):
    """The writer cannot take more events right now; the client should retry later."""

    status = 503

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IngestError(SextantError):
    """The request body cannot be read as events at all (as opposed to single bad events)."""

    status = 400


class QueryError(SextantError):
    """An insight or query spec that cannot be answered as given."""

    status = 400
