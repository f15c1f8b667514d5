"""The private strawberry hooks ``api/errors.py`` and ``api/graphql/schema.py`` override.

``CodedErrors._process_errors`` codes every error (instead of MaskErrors' masking of all of
them) and ``RequestPipeline._process_result`` skips MaskErrors' slow runtime-Protocol check.
Both are private to strawberry: these tests fail when a strawberry release renames them or
stops calling them, before the API silently loses its error codes.
"""

from __future__ import annotations

import inspect

from strawberry.extensions import MaskErrors

from api.errors import CodedErrors
from api.graphql.schema import RequestPipeline


def test_mask_errors_still_routes_results_through_the_hooks_we_override() -> None:
    assert callable(getattr(MaskErrors, "_process_errors", None))
    assert callable(getattr(MaskErrors, "_process_result", None))
    source = inspect.getsource(MaskErrors)
    assert "self._process_result(" in inspect.getsource(MaskErrors.on_operation)
    assert "self._process_errors(" in source


def test_our_overrides_are_the_ones_in_use() -> None:
    assert RequestPipeline._process_result is not MaskErrors._process_result
    assert CodedErrors._process_errors is not MaskErrors._process_errors
    assert issubclass(RequestPipeline, CodedErrors) and issubclass(CodedErrors, MaskErrors)


def test_the_execute_hook_of_the_compiled_path_is_still_there() -> None:
    """``LedgerSchema._execute_operation`` swaps graphql-core's ``execute`` for the compiled
    executor (api/graphql/compiled.py), which builds strawberry's resolve info and asks its
    converter for exception handlers: all private to strawberry."""
    from graphql import execute
    from strawberry.schema import schema as strawberry_schema
    from strawberry.schema.schema_converter import GraphQLCoreConverter

    from api.graphql.schema import LedgerSchema, build_schema

    parameters = inspect.signature(strawberry_schema.Schema._execute_operation).parameters
    assert list(parameters)[1:] == [
        "execution_context", "extensions_runner", "middleware_manager", "execute_function", "custom_context_kwargs"
    ]  # fmt: skip
    assert vars(strawberry_schema)["execute"] is execute  # what strawberry passes when incremental delivery is off
    assert "self._execute_operation(" in inspect.getsource(strawberry_schema.Schema.execute)
    assert LedgerSchema._execute_operation is not strawberry_schema.Schema._execute_operation
    fields = strawberry_schema._OperationContextAwareGraphQLResolveInfo._fields
    assert fields[-1] == "operation_extensions" and len(fields) == 15
    assert callable(GraphQLCoreConverter._get_field_exception_handlers)
    assert build_schema().compiled is not None
