"""Errors of authentication and permission. Page requests turn them into a sign-in redirect or an HTML page;
API requests get JSON with the status."""

from __future__ import annotations

from sextant.errors import AuthError, SextantError


class SignInRequired(AuthError):
    """No session and no key: pages redirect to the sign-in page, the API answers 401."""


class PermissionDenied(SextantError):
    """Signed in, but the role or the folder's grants do not allow the action."""

    status = 403


class CsrfError(SextantError):
    """A form or htmx request without the session's CSRF token."""

    status = 403


class AccountError(SextantError):
    """A user, group or folder change that cannot be made as asked (duplicate email, unknown id, ...)."""

    status = 400


class NotFound(SextantError):
    status = 404
