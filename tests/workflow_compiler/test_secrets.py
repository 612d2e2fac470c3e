"""``MappingSecrets``: the CLI's secrets, from ``PLAIT_SECRET_<NAME>`` variables."""

from __future__ import annotations

import pytest

from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.secrets import MappingSecrets


async def test_reads_plait_secret_variables_but_not_the_keys_setting() -> None:
    secrets = MappingSecrets.from_env(
        {"PLAIT_SECRET_HOOK": "h", "PLAIT_SECRET_KEYS": "k", "PLAIT_SECRET_keys": "k", "X": "x"}
    )

    assert await secrets.resolve(["HOOK"]) == {"HOOK": "h"}
    for name in ("KEYS", "keys", "X"):
        with pytest.raises(NodeError) as info:
            await secrets.resolve([name])
        assert info.value.kind is ErrorKind.SECRET_MISSING


async def test_a_missing_secret_names_the_first_missing_variable_and_is_not_retried() -> None:
    with pytest.raises(NodeError) as info:
        await MappingSecrets({"A": "a"}).resolve(["C", "A", "B"])

    assert info.value.kind is ErrorKind.SECRET_MISSING
    assert not info.value.retryable
    assert info.value.message == "secret 'B' is not set (set PLAIT_SECRET_B for the CLI)"
