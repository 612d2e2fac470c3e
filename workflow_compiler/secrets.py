"""Secret resolvers for the compiler's own entry points (CLI, tests).

The API resolves from the encrypted store instead; both satisfy ``SecretResolver``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from workflow_compiler.errors import ErrorKind, NodeError

ENV_PREFIX = "PLAIT_SECRET_"


class MappingSecrets:
    """Secrets held in a mapping, e.g. taken from ``PLAIT_SECRET_<NAME>`` variables."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> MappingSecrets:
        """``PLAIT_SECRET_HOOK_TOKEN=…`` becomes ``secrets.HOOK_TOKEN``."""
        return cls(
            {k.removeprefix(ENV_PREFIX): v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
        )

    async def resolve(self, names: Iterable[str]) -> dict[str, str]:
        resolved = {}
        for name in sorted(names):
            if name not in self._values:
                raise NodeError(
                    ErrorKind.CONFIG_ERROR,
                    f"secret '{name}' is not set (set {ENV_PREFIX}{name} for the CLI)",
                )
            resolved[name] = self._values[name]
        return resolved
