"""Dependencies that routers declare with ``Annotated``: who is calling, and what they may do.

    @router.get("/audit")
    async def list_audit(principal: Admin) -> ...

where ``Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]``. Failures are domain
errors (``UnauthenticatedError``, ``PermissionDeniedError``), which the problem handler table turns
into 401 (with ``WWW-Authenticate: Bearer``) and 403 responses, like every other error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import Principal, UnauthenticatedError, authenticate
from shared.database.models import Role

__all__ = ["CurrentPrincipal", "require_role"]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Bearer plait_…`")
"""Reads ``Authorization: Bearer <token>``; gives None for a missing or non-Bearer header so
that the refusal is ours (a problem document) rather than FastAPI's own error body."""


async def _current_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of the API key in the ``Authorization`` header.

    Raises:
        UnauthenticatedError: no Bearer credential, or not an active key.
    """
    if credentials is None:
        raise UnauthenticatedError("an API key is required: send 'Authorization: Bearer <key>'")
    return await authenticate(credentials.credentials, at=datetime.now(UTC))


CurrentPrincipal = Annotated[Principal, Depends(_current_principal)]
"""The authenticated caller, of any role."""


def require_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency giving the caller if its role includes ``role``.

    Raises (from the dependency):
        UnauthenticatedError: the caller is not authenticated.
        PermissionDeniedError: the caller's role is lower than ``role``.
    """

    async def principal_with_role(principal: CurrentPrincipal) -> Principal:
        principal.require(role)
        return principal

    return principal_with_role
