"""Finding a tenant by what an operator types: its id or its name.

Tenant names are not unique (``Tenant.name``); the operator's command line names tenants by
either, so ``ensure_tenant`` resolves an id first and otherwise the oldest tenant of that name,
creating one when there is none.
"""

from __future__ import annotations

from shared.database.models import Tenant

__all__ = ["ensure_tenant"]


async def ensure_tenant(id_or_name: str) -> tuple[Tenant, bool]:
    """The tenant with this id, else the oldest one with this name, else a new one so named.

    Returns:
        The tenant, and whether it was created.
    """
    tenant = await Tenant.get_or_none(id=id_or_name)
    if tenant is None:
        tenant = await Tenant.filter(name=id_or_name).order_by("id").first()
    if tenant is not None:
        return tenant, False
    return await Tenant.create(name=id_or_name), True
