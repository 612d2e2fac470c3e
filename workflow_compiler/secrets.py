"""Secret resolvers for the compiler's own entry points (CLI, tests), and the environment
variables secrets are read from.

The API resolves from the encrypted store instead (``api.services.secrets.TenantSecrets``);
both satisfy ``SecretResolver`` and fail an unknown name with ``secret_missing``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from workflow_compiler.errors import ErrorKind, NodeError

ENV_PREFIX = "PLAIT_SECRET_"

SETTING_NAMES = frozenset({"KEYS"})
"""Names after ``PLAIT_SECRET_`` that are Plait settings, not secrets: ``PLAIT_SECRET_KEYS``
holds the encryption keys (``shared.config.Settings.secret_keys``). Settings are read
case-insensitively, so the names are compared uppercase."""


def env_variable(name: str) -> str:
    """The environment variable holding the secret ``name``: ``PLAIT_SECRET_<NAME>``."""
    return ENV_PREFIX + name


def is_setting_name(name: str) -> bool:
    """Whether ``PLAIT_SECRET_<name>`` is one of Plait's settings, which no workflow may read
    as a secret (it would hand the encryption keys to a node)."""
    return name.upper() in SETTING_NAMES


class MappingSecrets:
    """Secrets held in a mapping, e.g. taken from ``PLAIT_SECRET_<NAME>`` variables."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> MappingSecrets:
        """``PLAIT_SECRET_HOOK_TOKEN=…`` becomes ``secrets.HOOK_TOKEN``; ``PLAIT_SECRET_KEYS``,
        a setting, does not become a secret."""
        values = {
            key.removeprefix(ENV_PREFIX): value
            for key, value in environ.items()
            if key.startswith(ENV_PREFIX)
        }
        return cls({name: value for name, value in values.items() if not is_setting_name(name)})

    async def resolve(self, names: Iterable[str]) -> dict[str, str]:
        """The values of ``names``.

        Raises:
            NodeError: ``secret_missing`` naming the first (sorted) name without a value.
        """
        resolved = {}
        for name in sorted(names):
            if name not in self._values:
                raise NodeError(
                    ErrorKind.SECRET_MISSING,
                    f"secret '{name}' is not set (set {env_variable(name)} for the CLI)",
                )
            resolved[name] = self._values[name]
        return resolved
