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
