"""Secret values and sensitive fields kept out of what Plait stores, sends and logs.

A ``Redactor`` is the process's memory of the secret values in use: the secret resolver and the
model providers ``remember`` every value they decrypt, and everything that leaves the process or
reaches storage passes through the same instance (on ``app.state.redactor``; never a module
global, so tests and embedded uses get their own). Two kinds of redaction::

    value masking       every remembered value, wherever it occurs in a string (dict keys
                        too), becomes ``***``; the longest value first, so a secret that
                        contains another is masked whole
    key-name redaction  the value under a key whose normalized name (lowercase, ``-`` as
                        ``_``) is a sensitive name, or ends with ``_`` + one (``x_api_key``,
                        ``github_token``), becomes ``***`` whatever it is

Where it applies is the caller's choice, written down in docs/security.md: run events, step
input/output and run outputs get both kinds (``value``); error messages, problem details and log
records are text and get value masking (``text``). Checkpoints get value masking only (the
runner masks what a node read): key-name redaction there would break a later node that reads
``nodes.login.output.token``.

Every non-empty value is remembered, however short: a short one masks more text than it should,
but an unmasked one leaks. Values are never forgotten while the process runs; a rotated secret
stays masked, which costs nothing.

Logs: ``LogRedaction`` is a ``logging.Filter`` that masks a record in place. ``install`` applies it
at record creation (``logging.setLogRecordFactory``) rather than on loggers or handlers: a
logger's filters do not see records propagated from its children, and handlers are added after
start-up (uvicorn's ``dictConfig``, pytest's ``caplog``), so only the factory sees every record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from shared.config import Settings

__all__ = [
    "DEFAULT_KEY_NAMES",
    "MASK",
    "LogRedaction",
    "Redactor",
    "mask",
    "mask_value",
    "normalize_key",
    "redactor_for",
]

MASK = "***"

DEFAULT_KEY_NAMES: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "api_key",
        "apikey",
        "authorization",
        "proxy_authorization",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "cookie",
        "set_cookie",
        "private_key",
    }
)
"""Key names whose values are hidden, after ``normalize_key``; settings add to these."""


def normalize_key(name: str) -> str:
    """``name`` as compared with the sensitive key names: lowercase, ``-`` read as ``_``."""
    return name.lower().replace("-", "_")


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``, longest first."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def mask_value(
    value: Any, secrets: Sequence[str], *, is_sensitive: Callable[[str], bool] | None = None
) -> Any:
    """``value`` with every secret masked in every string inside it (keys included), copying
    only containers; what a node outputs is stored and sent on, so it must not hold one.

    Args:
        value: A JSON-like value (tuples come back as lists).
        secrets: The values to mask.
        is_sensitive: When given, a dict entry whose key it accepts gets ``***`` as its value.
    """
    if isinstance(value, str):
        return mask(value, secrets)
    if isinstance(value, list | tuple):
        return [mask_value(item, secrets, is_sensitive=is_sensitive) for item in value]
    if isinstance(value, Mapping):
        return {
            mask_value(k, secrets): MASK
            if is_sensitive is not None and isinstance(k, str) and is_sensitive(k)
            else mask_value(v, secrets, is_sensitive=is_sensitive)
            for k, v in value.items()
        }
    return value


class _Values:
    """The remembered values of a process, by tenant (None: the process's own, e.g. the
    environment's API keys, which every tenant's data may contain)."""

    def __init__(self) -> None:
        self.by_tenant: dict[str | None, set[str]] = {}
        self.ordered: dict[tuple[bool, str | None], tuple[str, ...]] = {}
        """Longest first, per view (``(every tenant?, tenant)``), rebuilt when values change."""
        self.lock = threading.Lock()


class Redactor:
    """The secret values in use, and the key names whose values are hidden.

    One root per process (``redactor_for``): its ``text``/``value`` mask every value any
    tenant uses (for logs, which mix tenants). ``for_tenant`` gives the view that run data and
    answers of one tenant go through: it masks that tenant's values and the process's own
    (tenant None), never another tenant's — otherwise a tenant could test guesses of another's
    secrets by echoing them and watching them come back masked, and a short secret of one
    tenant would mangle every other tenant's data.
    """

    def __init__(self, *, key_names: Iterable[str] = DEFAULT_KEY_NAMES) -> None:
        self._key_names = frozenset(normalize_key(name) for name in key_names if name.strip())
        self._values = _Values()
        self._every_tenant = True
        self._tenant: str | None = None

    def for_tenant(self, tenant_id: str | None) -> Redactor:
        """The view of one tenant (None: the process's own values only); what it remembers
        is that tenant's."""
        view = Redactor.__new__(Redactor)
        view._key_names = self._key_names
        view._values = self._values
        view._every_tenant = False
        view._tenant = tenant_id
        return view

    def remember(self, values: Iterable[str]) -> None:
        """Mask ``values`` from now on: secret values in use by this view's tenant (the
        process's own, for the root)."""
        new = {value for value in values if value}
        store = self._values
        with store.lock:
            known = store.by_tenant.setdefault(self._tenant, set())
            if new <= known:
                return
            known |= new
            store.ordered = {}  # views rebuild their tuple on next use

    def text(self, text: str) -> str:
        """``text`` with every value this view masks replaced by ``***``."""
        return mask(text, self._ordered())

    def value(self, value: Any) -> Any:
        """A copy of the JSON value ``value``: masked values replaced in every string (dict
        keys too), and the value under a sensitive key name replaced by ``***``."""
        return mask_value(value, self._ordered(), is_sensitive=self.is_sensitive)

    def values(self) -> tuple[str, ...]:
        """The values this view masks, longest first."""
        return self._ordered()

    def _ordered(self) -> tuple[str, ...]:
        store = self._values
        key = (self._every_tenant, self._tenant)
        ordered = store.ordered.get(key)
        if ordered is None:
            with store.lock:
                if self._every_tenant:
                    chosen: set[str] = set().union(*store.by_tenant.values())
                else:
                    chosen = store.by_tenant.get(None, set()) | store.by_tenant.get(
                        self._tenant, set()
                    )
                ordered = tuple(sorted(chosen, key=len, reverse=True))
                store.ordered[key] = ordered
        return ordered

    def is_sensitive(self, key: str) -> bool:
        """Whether the value under ``key`` is hidden: its normalized name is a sensitive name,
        or ends with ``_`` and one (``x_api_key``, ``github_token``)."""
        name = normalize_key(key)
        return name in self._key_names or any(
            name.endswith("_" + sensitive) for sensitive in self._key_names
        )


def redactor_for(settings: Settings) -> Redactor:
    """The process's redactor: the built-in key names and those of ``PLAIT_REDACT_KEYS``."""
    return Redactor(key_names=DEFAULT_KEY_NAMES | set(settings.redact_keys))


class LogRedaction(logging.Filter):
    """Masks remembered secret values in a log record: its message, its arguments, its
    exception and stack text. Never drops a record."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        text = self._redactor.text
        record.msg = text(record.msg if isinstance(record.msg, str) else str(record.msg))
        if isinstance(record.args, Mapping):
            record.args = {key: self._arg(arg) for key, arg in record.args.items()}
        elif record.args:
            # Arguments are masked one by one rather than merged into ``msg``: formatters such
            # as uvicorn's access log unpack ``record.args`` themselves.
            record.args = tuple(self._arg(arg) for arg in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = text(record.exc_text)
        if record.stack_info:
            record.stack_info = text(record.stack_info)
        return True

    def _arg(self, arg: object) -> object:
        """``arg`` itself when its text holds no secret (so ``%d`` still formats it), else its
        masked text."""
        if arg is None or isinstance(arg, int | float):
            return arg
        shown = arg if isinstance(arg, str) else str(arg)
        masked = self._redactor.text(shown)
        return arg if masked == shown else masked

    def install(self) -> Callable[[], None]:
        """Apply this filter to every log record the process creates from now on.

        Returns:
            A function that stops it (and restores the record factory that was in place
            before, when no other was installed since).
        """
        previous = logging.getLogRecordFactory()
        active = True

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if active:
                self.filter(record)
            return record

        def uninstall() -> None:
            # Another factory may have wrapped this one since: it keeps calling this one,
            # which then only passes records through.
            nonlocal active
            active = False
            if logging.getLogRecordFactory() is factory:
                logging.setLogRecordFactory(previous)

        logging.setLogRecordFactory(factory)
        return uninstall
