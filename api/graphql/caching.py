"""Validation caching keyed on the query text.

Strawberry's ``ValidationCache`` keys its LRU cache on the parsed document, and
hashing a graphql-core ``DocumentNode`` walks the whole tree on every request.
The document is a function of the query text (and the parse options, which are
fixed per schema), so this subclass keys on the text: same results, no walk.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import ValidationCache
from strawberry.schema.schema import validate_document

_lock = threading.Lock()
_results: OrderedDict[tuple[Any, ...], list[GraphQLError]] = OrderedDict()


class QueryValidationCache(ValidationCache):
    def __init__(self, maxsize: int = 512) -> None:
        super().__init__(maxsize=maxsize)
        self.maxsize = maxsize

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        key = (id(context.schema), context.query, tuple(context.validation_rules))
        with _lock:
            errors = _results.get(key)
            if errors is not None:
                _results.move_to_end(key)
        if errors is None:
            errors = validate_document(context.schema._schema, context.graphql_document, context.validation_rules)
            with _lock:
                _results[key] = errors
                while len(_results) > self.maxsize:
                    _results.popitem(last=False)
        context.pre_execution_errors = errors
        yield
