"""``GET /v1/catalog/*``: the node types, tools and model providers a spec may use.

Any authenticated caller (viewer and up) may read them: an editor needs them to write a spec.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentPrincipal, ProvidersDep, ToolsDep
from api.problems import Problem
from api.schemas.catalog import (
    ModelProviderList,
    ModelProviderPublic,
    NodeTypeList,
    NodeTypePublic,
    ToolList,
    ToolPublic,
)
from api.services import list_model_providers, list_node_types, list_tools

__all__ = ["router"]

router = APIRouter(
    prefix="/catalog",
    tags=["catalog"],
    responses={401: {"model": Problem, "description": "No valid API key was sent."}},
)


@router.get("/node-types")
async def get_node_types(_principal: CurrentPrincipal) -> NodeTypeList:
    """List every node type of spec v1 with its JSON Schema and a one-line description."""
    return NodeTypeList(items=[NodeTypePublic.model_validate(info) for info in list_node_types()])


@router.get("/tools")
async def get_tools(_principal: CurrentPrincipal, tools: ToolsDep) -> ToolList:
    """List every registered tool with its argument and result schemas."""
    return ToolList(items=[ToolPublic.model_validate(info) for info in list_tools(tools)])


@router.get("/models")
async def get_models(principal: CurrentPrincipal, providers: ProvidersDep) -> ModelProviderList:
    """List the model providers an ``llm`` node may name: the tenant's own and the server's
    environment ones, with whether each can be called and which is the default (never a key)."""
    infos = await list_model_providers(principal.tenant_id, environment=providers)
    return ModelProviderList(items=[ModelProviderPublic.model_validate(info) for info in infos])
