"""The root of Plait's exception tree.

    PlaitError                      every error Plait raises on purpose
    ├── NotFoundError               no such resource (or another tenant's): 404
    ├── ConflictError               the request contradicts the current state: 409
    ├── PermissionDeniedError       the caller's role does not allow it: 403
    ├── workflow_compiler.SpecInvalidError     a spec failed its static checks
    ├── workflow_compiler.InputsInvalidError   run inputs do not match the spec's input schema
    └── workflow_compiler.NodeError       one node failed; carries its kind and retry decision

Each error has a stable ``code``. The API turns the code into an RFC 7807 problem whose
``type`` links to the docs page for that code; the CLI prints ``message`` on one line.
A pause for human input is control flow, not an error, and lives outside this tree.
"""

from __future__ import annotations


class PlaitError(Exception):
    """Base class of every error Plait raises on purpose."""

    code: str = "plait_error"
    """Stable, machine-readable identifier of this kind of failure."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(PlaitError):
    """The thing asked for does not exist, or belongs to another tenant.

    Another tenant's row is reported exactly like a missing one, so that ids cannot be probed.
    """

    code = "not_found"


class ConflictError(PlaitError):
    """The request contradicts the current state: a stale revision, a duplicate name."""

    code = "conflict"


class PermissionDeniedError(PlaitError):
    """The caller is known but its role does not allow this operation."""

    code = "forbidden"
