"""``/v1/providers``: the tenant's model providers, and a check that one connects.

Operators list and check providers; admins write them. Another tenant's provider answers 404
like a missing one. No answer ever holds a key: a provider names the secret that holds it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from api.deps import Admin, EnvSecretsDep, HttpDep, Operator, RedactorDep, SecretBoxDep
from api.problems import problem_responses
from api.schemas.providers import (
    PROVIDER_NAME_PATTERN,
    ProviderCheckPublic,
    ProviderList,
    ProviderPublic,
    ProviderPut,
)
from api.services import providers as service

__all__ = ["router"]

router = APIRouter(prefix="/providers", tags=["providers"])

ProviderName = Annotated[str, Path(pattern=PROVIDER_NAME_PATTERN)]

_PROBLEMS = {
    401: "No valid API key.",
    403: "The key's role does not allow this.",
    404: "No such provider in the caller's tenant.",
    422: "The request is invalid; `errors` lists every problem.",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(_PROBLEMS, *codes)


@router.get("", responses=_problems(401, 403))
async def list_providers(principal: Operator) -> ProviderList:
    """The tenant's model providers, by name (their settings, never a key)."""
    providers = await service.list_providers(principal)
    return ProviderList(items=[ProviderPublic.model_validate(p) for p in providers])


@router.put(
    "/{name}",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ProviderPublic, "description": "The provider existed and was replaced."},
        **_problems(401, 403, 422),
    },
)
async def put_provider(
    name: ProviderName, body: ProviderPut, principal: Admin, response: Response
) -> ProviderPublic:
    """Create the provider (201) or replace all its settings (200). The secret it names may
    be created later; until then a check answers ``secret_missing`` and runs using it fail."""
    provider, created = await service.put_provider(
        principal,
        name,
        kind=body.kind,
        base_url=body.base_url,
        secret_name=body.secret_name,
        default_model=body.default_model,
        at=datetime.now(UTC),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return ProviderPublic.model_validate(provider)


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=_problems(401, 403, 404, 422)
)
async def delete_provider(name: ProviderName, principal: Admin) -> Response:
    """Delete the provider; the secret holding its key is kept."""
    await service.delete_provider(principal, name, at=datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{name}/check", response_model_exclude_none=True, responses=_problems(401, 403, 404, 422)
)
async def check_provider(
    name: ProviderName,
    principal: Operator,
    box: SecretBoxDep,
    redactor: RedactorDep,
    http: HttpDep,
    env_secrets: EnvSecretsDep,
) -> ProviderCheckPublic:
    """List the provider's models with its key. 200 whether or not it connects (the check
    ran): ``connected`` with the model ids, or the failure's kind and message."""
    check = await service.check_provider(
        principal,
        name,
        box=box,
        redactor=redactor.for_tenant(principal.tenant_id),
        http=http,
        env_secrets=env_secrets,
    )
    return ProviderCheckPublic.model_validate(check)
