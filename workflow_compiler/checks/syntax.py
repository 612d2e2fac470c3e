"""Parse a template or condition the way the runtime compiles it, and list what it reads.

Jinja2 only notices an unknown filter or test, or a tag that loads other templates, when it
compiles or renders; compiling costs about a millisecond per field, too much for checks that
run on every save, so this module walks the parse tree for those instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import nodes as jn

from workflow_compiler.expressions import (
    ENV,
    ExpressionSyntaxError,
    Reference,
    references,
    single_expression,
)

_FOR_TAG = re.compile(r"\{%[-+]?\s*for\s")
_LOADING_TAGS = (jn.Include, jn.Import, jn.FromImport, jn.Extends)


@dataclass(frozen=True, slots=True)
class ParsedSource:
    """What the checks need to know about one template or condition."""

    references: tuple[Reference, ...]
    """Free names it reads, with their constant paths."""
    defines_loop: bool
    """It has a ``{% for %}`` block, inside which Jinja2 defines ``loop``."""


@lru_cache(maxsize=4096)
def parse_source(source: str, *, condition: bool) -> ParsedSource:
    """Parse one field; cached, since a spec is checked again on every save and compile.

    A template that is exactly ``{{ expr }}`` is parsed as the bare expression, as
    ``compile_value`` does, so whatever passes here also compiles at run time.

    Raises:
        ExpressionSyntaxError: it does not parse, uses an unknown filter or test, loads
            another template, or nests too deeply for the parser.
    """
    expression = source if condition else single_expression(source)
    text = source if expression is None else expression
    try:
        refs = references(text, condition=expression is not None)
        if "|" in text or "is" in text or "{%" in text:
            _check_names(ENV.parse(f"{{{{ {text} }}}}" if expression is not None else text))
    except RecursionError as exc:
        raise ExpressionSyntaxError("the expression nests too deeply") from exc
    return ParsedSource(tuple(refs), expression is None and bool(_FOR_TAG.search(text)))


def _check_names(tree: jn.Template) -> None:
    for node in tree.find_all((jn.Filter, jn.Test, *_LOADING_TAGS)):
        if isinstance(node, jn.Filter) and node.name not in ENV.filters:
            raise ExpressionSyntaxError(f"unknown filter '{node.name}'")
        if isinstance(node, jn.Test) and node.name not in ENV.tests:
            raise ExpressionSyntaxError(f"unknown test '{node.name}'")
        if isinstance(node, _LOADING_TAGS):
            raise ExpressionSyntaxError("a template cannot include, import or extend another")
