"""GraphQL objects answer from read-model views without a copy: every plain field must exist on its view."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any
from uuid import UUID

import pytest
import strawberry
from strawberry.types.private import is_private

import api.graphql.schema  # noqa: F401  (imports every GraphQL type)
from api.graphql.types import objects
from api.graphql.types.objects import FromView, reads_view
from projections import views


def _subclasses(cls: type[object]) -> list[type]:
    found: list[type] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _plain_fields(graphql_type: type) -> list[str]:
    """Python names of the GraphQL fields that have no resolver (read with getattr)."""
    definition: Any = graphql_type.__strawberry_definition__  # type: ignore[attr-defined]
    return [f.python_name for f in definition.fields if f.base_resolver is None and not is_private(f.type)]


def _attributes(view: type) -> set[str]:
    fields = {f.name for f in dataclasses.fields(view)}
    return fields | {name for name, value in vars(view).items() if isinstance(value, property)}


WRAPPERS = _subclasses(FromView)


def test_the_wrappers_are_found() -> None:
    assert {objects.Claim, objects.Actor, objects.Source, objects.Position} <= set(WRAPPERS)


@pytest.mark.parametrize("wrapper", WRAPPERS, ids=lambda cls: cls.__name__)
def test_each_plain_field_of_a_wrapper_is_an_attribute_of_its_view_or_its_own(wrapper: type[FromView]) -> None:
    hint = typing.get_type_hints(wrapper, include_extras=True)["view"]
    view = typing.get_args(hint)[0]  # Private[V] is Annotated[V, ...]
    own = set(inspect.signature(wrapper.__init__).parameters) - {"self", "view"}
    missing = [name for name in _plain_fields(wrapper) if name not in _attributes(view) | own]
    assert not missing, f"{wrapper.__name__} fields with no attribute on {view.__name__}: {missing}"


@pytest.mark.parametrize(
    ("graphql_type", "view"),
    [(objects.PartialDate, views.StatedDate), (objects.Passage, views.Passage), (objects.Role, views.Role)],
)
def test_nested_views_answer_as_their_types(graphql_type: type, view: type) -> None:
    assert set(_plain_fields(graphql_type)) <= _attributes(view)


def test_a_wrapper_reads_its_view_and_a_missing_attribute_is_an_error_not_a_null() -> None:
    actor = objects.Actor(views.ActorView(UUID(int=1), "k", "N", "PERSON", [], None, []))
    assert (actor.name, actor.key, actor.wikidata) == ("N", "k", None)
    assert isinstance(vars(objects.Actor)["name"], property)  # strawberry's getattr finds it at once

    @reads_view
    @strawberry.type
    class Broken(FromView):
        nickname: str
        view: strawberry.Private[views.TopicView]

        def __init__(self, view: views.TopicView) -> None:
            self.view = view

    with pytest.raises(AttributeError, match="nickname"):
        Broken(views.TopicView(UUID(int=2), "t", "T", "P")).nickname  # noqa: B018
