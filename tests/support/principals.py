"""Principals for service tests: a key of a tenant with a role, without a stored key."""

from __future__ import annotations

from api.services import Principal
from shared.database.models import Role, Tenant


def principal(tenant: Tenant, role: Role = Role.ADMIN) -> Principal:
    """The principal of a key of ``role`` in ``tenant`` (its id names the role)."""
    return Principal(tenant_id=tenant.id, role=role, key_id=f"key_{role}")
