"""One asyncio event loop for a whole command, driven in turns between terminal reads.

A command that runs a workflow alternates between async work (the graph, the database) and
blocking reads from the terminal (a human node's answer). Asking *between* loop turns, not in
a thread inside the loop, lets Ctrl-C at the question interrupt at once instead of waiting on a
thread blocked in ``readline``.

All turns share one loop and one ``contextvars`` context (``asyncio.Runner`` keeps both): the
database connections opened in the first turn are bound to that loop, and Tortoise finds its
initialized state through that context, so later turns see both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from types import TracebackType
from typing import Any, Self, TypeVar

_T = TypeVar("_T")


class CommandLoop:
    """The command's event loop, and the async resources to release when it ends.

    Use as a context manager: on exit, even after Ctrl-C or an error, the resources given to
    ``enter`` are closed in reverse order on the loop that opened them, then the loop closes.
    """

    def __init__(self) -> None:
        self._runner = asyncio.Runner()
        self._exits = AsyncExitStack()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._runner.run(self._exits.aclose())
        finally:
            self._runner.close()

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run one turn of the loop until ``coroutine`` is done; Ctrl-C raises
        ``KeyboardInterrupt`` after the coroutine was cancelled and has unwound."""
        return self._runner.run(coroutine)

    def enter(self, manager: AbstractAsyncContextManager[_T]) -> _T:
        """Enter ``manager`` now and exit it when the command's loop ends."""
        return self.run(self._exits.enter_async_context(manager))
