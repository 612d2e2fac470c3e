"""``/v1/secrets``: the tenant's secrets, written by admins and listed by operators.

No answer ever holds a value: a PUT answers the secret's name and history, a list the same for
every secret. Another tenant's secret answers 404 like a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from api.deps import Admin, EnvSecretsDep, Operator, SecretBoxDep
from api.problems import problem_responses
from api.schemas.secrets import SecretList, SecretPublic, SecretPut
from api.services import secrets as service

__all__ = ["router"]

router = APIRouter(prefix="/secrets", tags=["secrets"])

SecretName = Annotated[
    str,
    Path(
        pattern=service.SECRET_NAME_PATTERN,
        description="What specs read as `{{ secrets.NAME }}`: letters, digits and `_`, not "
        "starting with a digit, at most 128 characters.",
    ),
]

_PROBLEMS = {
    401: "No valid API key.",
    403: "The key's role does not allow this.",
    404: "No such secret in the caller's tenant.",
    422: "The request is invalid; `errors` (or `detail`) names the field.",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(_PROBLEMS, *codes)


@router.get("", responses=_problems(401, 403))
async def list_secrets(principal: Operator) -> SecretList:
    """The tenant's secrets, by name: provider, description, when written and last used.
    Never a value."""
    secrets = await service.list_secrets(principal)
    return SecretList(items=[SecretPublic.model_validate(s) for s in secrets])


@router.put(
    "/{name}",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": SecretPublic, "description": "The secret existed; its value was replaced."},
        **_problems(401, 403, 422),
    },
)
async def put_secret(
    name: SecretName,
    body: SecretPut,
    principal: Admin,
    box: SecretBoxDep,
    env_secrets: EnvSecretsDep,
    response: Response,
) -> SecretPublic:
    """Create the secret (201) or replace its value (200). The value is encrypted before it is
    stored and is never shown again."""
    secret, created = await service.put_secret(
        principal,
        name,
        value=body.value,
        description=body.description,
        box=box,
        at=datetime.now(UTC),
        env_secrets=env_secrets,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return SecretPublic.model_validate(secret)


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=_problems(401, 403, 404, 422)
)
async def delete_secret(name: SecretName, principal: Admin) -> Response:
    """Delete the secret; nodes and providers that read it fail with `secret_missing` from
    then on."""
    await service.delete_secret(principal, name, at=datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
