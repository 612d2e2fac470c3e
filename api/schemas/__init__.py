"""Request and response bodies of the HTTP API, one module per area.

Request models forbid unknown fields (a typo is a 422, not a silently ignored field); response
models are built from service results with ``model_validate(obj, from_attributes=True)``.
Families are named ``<Thing>Create`` / ``<Thing>Update`` / ``<Thing>Public``.
"""
